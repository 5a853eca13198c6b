#!/usr/bin/env bash
# The documentation says what the code does, and needs nothing outside the
# repository: README's options table is `ragd serve --help` (one table in
# config.c makes both), every relative link of README.md and docs/ points at
# a file of the repository, and no document sends a reader out of it.
source "$(dirname "$0")/lib/common.sh"

out=$(scripts/options-table --check README.md 2>&1)
check "README's options table is ragd serve --help" eq "$out" ""

links_ok() {
    local bad=0 f target
    for f in README.md docs/*.md; do
        # Markdown links [text](target), without a URL scheme or an anchor only.
        while read -r target; do
            target=${target%%#*}
            [ -n "$target" ] || continue
            [ -e "$(dirname "$f")/$target" ] || { echo "       $f links to missing $target"; bad=1; }
        done < <(grep -o '](\([^)]*\))' "$f" | sed 's/^](\(.*\))$/\1/' | grep -Ev '^[a-z]+:')
    done
    return $bad
}
check "every relative link of README.md and docs/ exists" links_ok
outside=$(grep -n '\.\./' README.md docs/*.md | grep -v 'http' || true)
check "no document points outside the repository (../)" eq "$outside" ""
check "docs/contract.md lists every contract family" bash -c '
    for m in system_info cpu_usage_percent memory_usage_bytes memory_usage_percent disk_usage_percent \
             gpu_count gpu_memory_used_bytes gpu_memory_total_bytes gpu_utilization_percent \
             http_requests_total http_request_duration_seconds document_processing_duration_seconds \
             vector_search_duration_seconds embedding_generation_duration_seconds query_cache_hits_total \
             query_cache_misses_total active_documents_count total_embeddings_count component_health_status; do
        grep -q "^| \`$m\`" docs/contract.md || { echo "       missing $m"; exit 1; }
    done'
finish

#!/usr/bin/env bash
# The RAG API through `ragd serve`, black-box: ingest every type, query
# every mode, replace, delete, errors (400/401/404/413/415/422), API key,
# exact gauges and moving metrics, restart, kill -9 during a stream of
# ingests, refusal of a different embedder, promtool on the live output.
source "$(dirname "$0")/lib/common.sh"
F=tests/fixtures/docs
KEY=k3y-$$
export RAGD_API_KEY=$KEY
AUTH=(-H "Authorization: Bearer $KEY")

start_ragd r --health-interval 0.2 --max-body 2MiB || exit 1
U=http://127.0.0.1:$PORT_r

post_json() { curl -s -w ' %{http_code}' "${AUTH[@]}" -H 'Content-Type: application/json' -d "$1" "$U/v1/documents"; }
post_raw() { curl -s -w ' %{http_code}' "${AUTH[@]}" -H "Content-Type: $2" --data-binary @"$1" "$U/v1/documents$3"; }
query() { curl -s -H 'Content-Type: application/json' -d "$1" "$U/v1/query"; }
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# --- ingest each type --------------------------------------------------------
r=$(post_json '{"id":"cats","title":"Cats","content":"Cats are small carnivorous mammals. Domestic cats purr when they are content.","metadata":{"lang":"en","kind":"animal"}}')
check "text (JSON) -> 201" eq "$r" '{"id":"cats","chunks":1,"replaced":false} 201'
r=$(post_raw $F/sample.md text/markdown '?id=ops&title=Operations')
check "Markdown (raw) -> 201" contains "$r" '{"id":"ops","chunks":3,"replaced":false} 201'
r=$(post_raw $F/sample.html 'text/html; charset=utf-8' '?id=web')
check "HTML (raw) -> 201" contains "$r" '"id":"web"'
check "HTML without a given title: its <title>" contains "$(curl -s "$U/v1/documents/web")" '"title":"Ignored title"'
r=$(post_raw $F/sample.pdf application/pdf '?id=paper&title=Search')
check "PDF (raw) -> 201" eq "$r" '{"id":"paper","chunks":2,"replaced":false} 201'
r=$(post_json '{"id":"tokyo","content":"東京のデータセンターではGrafanaでメトリクスを可視化しています。大阪では別のチームが担当します。","metadata":{"lang":"ja"}}')
check "Japanese text -> 201" contains "$r" ' 201'
r=$(post_json '{"content":"A document without an id gets one."}')
gen_id=$(sed 's/ [0-9]*$//' <<<"$r" | jget 'd["id"]')
check "an id is made when none is given" test ${#gen_id} -eq 32

# --- errors -----------------------------------------------------------------
r=$(curl -s -w ' %{http_code}' -H 'Content-Type: application/json' -d '{"content":"x"}' "$U/v1/documents")
check "no API key: 401" contains "$r" '"code":"unauthorized"'
r=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$U/v1/documents/cats")
check "DELETE without the key: 401" eq "$r" 401
r=$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/documents/cats")
check "reads need no key" eq "$r" 200
r=$(post_json '{"content": "x",')
check "bad JSON: 400 invalid_json" contains "$r" '"code":"invalid_json"'
r=$(post_json '{"title":"no content"}')
check "missing content: 400" contains "$r" "'content' (a string) is required\"}} 400"
r=$(post_json '{"id":"has space","content":"x"}')
check "invalid id: 400" contains "$r" ' 400'
r=$(post_json '{"content":"x","metadata":{"k":1}}')
check "non-string metadata: 400" contains "$r" 'metadata.k must be a string'
r=$(post_raw $F/sample.md application/x-tar '')
check "unsupported type: 415" contains "$r" '"code":"unsupported_media_type"'
r=$(post_raw $F/invalid-utf8.txt text/plain '?id=bad')
check "invalid UTF-8: 400" contains "$r" '{"error":{"code":"invalid_encoding","message":"the document is not valid UTF-8"}} 400'
r=$(post_raw $F/notapdf.pdf application/pdf '?id=nopdf')
check "unparseable PDF: 422" contains "$r" '"code":"unprocessable_document"'
check "unparseable PDF: status" contains "$r" ' 422'
head -c 3000000 /dev/zero | tr '\0' 'a' >"$TEST_TMP/big.txt"
r=$(post_raw "$TEST_TMP/big.txt" text/plain '?id=big')
check "over --max-body: 413" contains "$r" '"code":"payload_too_large"'
r=$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/documents/bad")
check "a refused document was not stored" eq "$r" 404
r=$(query '{"query":"cats","top_k":0}')
check "top_k 0: 400" contains "$r" "'top_k' must be an integer from 1 to 100"
r=$(query '{"query":"cats","top_k":101}')
check "top_k over --max-top-k: 400" contains "$r" "from 1 to 100"
r=$(query '{"query":"cats","mode":"fuzzy"}')
check "unknown mode: 400" contains "$r" "'mode' must be"
r=$(query '{"top_k":3}')
check "missing query: 400" contains "$r" "'query' (a non-empty string) is required"
r=$(curl -s -w ' %{http_code}' "$U/v1/documents/nope")
check "unknown id: 404" eq "$r" "{\"error\":{\"code\":\"not_found\",\"message\":\"no document with id 'nope'\"}} 404"

# --- queries ------------------------------------------------------------------
r=$(query '{"query":"bm25 ranking","mode":"keyword","top_k":3}')
check "keyword: the PDF's second page first" eq "$(jget 'd["results"][0]["document_id"], d["results"][0]["section"]' <<<"$r")" "('paper', 'page 2')"
r=$(query '{"query":"nearest embeddings cosine similarity","mode":"vector","top_k":3}')
check "vector: the PDF's first page first" eq "$(jget 'd["results"][0]["document_id"], d["results"][0]["chunk_index"]' <<<"$r")" "('paper', 0)"
check "vector: scores are descending" eq "$(jget 'all(a["score"] >= b["score"] for a, b in zip(d["results"], d["results"][1:]))' <<<"$r")" True
r=$(query '{"query":"do domestic cats purr","top_k":2}')
check "hybrid (default): cats first" eq "$(jget 'd["results"][0]["document_id"]' <<<"$r")" cats
check "results carry title and metadata" eq "$(jget 'd["results"][0]["title"], d["results"][0]["metadata"]["kind"]' <<<"$r")" "('Cats', 'animal')"
check "timings are reported" eq "$(jget 'sorted(d["timings_ms"])' <<<"$r")" "['embedding', 'search', 'total']"
r=$(query '{"query":"大阪","mode":"keyword"}')
check "Japanese keyword search (two characters)" eq "$(jget 'd["results"][0]["document_id"]' <<<"$r")" tokyo
r=$(query '{"query":"メトリクス","mode":"keyword"}')
check "Japanese keyword search (a word inside a sentence)" eq "$(jget 'd["results"][0]["document_id"]' <<<"$r")" tokyo
r=$(query '{"query":"大阪では別のチームが担当","mode":"vector","top_k":1}')
check "Japanese vector search" eq "$(jget 'd["results"][0]["document_id"]' <<<"$r")" tokyo
r=$(query '{"query":"mammals","mode":"hybrid","filter":{"lang":"ja"}}')
check "filter by metadata" eq "$(jget 'sorted(set(x["document_id"] for x in d["results"]))' <<<"$r")" "['tokyo']"
r=$(query '{"query":"Markdown sections","top_k":5}')
check "cache: first answer computed" eq "$(jget 'd["cached"]' <<<"$r")" False
r=$(query '{"query":"  markdown   SECTIONS ","top_k":5}')
check "cache: a normalised repeat is a hit" eq "$(jget 'd["cached"]' <<<"$r")" True
post_json '{"id":"late","content":"Late arrival about markdown sections."}' >/dev/null
r=$(query '{"query":"markdown sections","top_k":5}')
check "cache: a corpus change invalidates it" eq "$(jget 'd["cached"], d["results"][0]["document_id"]' <<<"$r")" "(False, 'late')"

# --- list, get, replace, delete, gauges -----------------------------------------
all_ids=$(printf '%s\n' "$gen_id" cats late ops paper tokyo web | sort)
first3=$(head -3 <<<"$all_ids" | paste -sd' ')
r=$(curl -s "$U/v1/documents?limit=3")
check "list pages by id" eq "$(jget '" ".join(x["id"] for x in d["documents"])' <<<"$r")" "$first3"
next=$(jget 'd["next"]' <<<"$r")
check "a full page gives the cursor" eq "$next" "$(sed -n 3p <<<"$all_ids")"
r=$(curl -s "$U/v1/documents?limit=3&after=$next")
check "next page" eq "$(jget '" ".join(x["id"] for x in d["documents"])' <<<"$r")" "$(sed -n 4,6p <<<"$all_ids" | paste -sd' ')"
r=$(curl -s "$U/v1/documents/paper")
check "get returns the extracted text" contains "$(jget 'd["text"]' <<<"$r")" "keyword search with bm25"
r=$(post_json '{"id":"cats","title":"Cats v2","content":"Cats sleep sixteen hours a day. They also purr.\n\nSecond paragraph about whiskers."}')
check "replace: 200 with replaced true" contains "$r" '"replaced":true} 200'
r=$(query '{"query":"carnivorous","mode":"keyword"}')
check "replace: old text no longer found" eq "$(jget 'len(d["results"])' <<<"$r")" 0
r=$(curl -s -w ' %{http_code}' "${AUTH[@]}" -X DELETE "$U/v1/documents/web")
check "delete" contains "$r" '"deleted":true'
check "deleted document is gone" eq "$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/documents/web")" 404
docs=$(curl -s "$U/v1/documents?limit=1000")
ndocs=$(jget 'len(d["documents"])' <<<"$docs")
nchunks=$(jget 'sum(x["chunks"] for x in d["documents"])' <<<"$docs")
m=$(curl -s "$U/metrics")
check "active_documents_count is exact ($ndocs)" eq "$(metric_value "$m" active_documents_count)" "$ndocs"
check "total_embeddings_count is exact ($nchunks)" eq "$(metric_value "$m" total_embeddings_count)" "$nchunks"
check "PDF processing timed" eq "$(metric_value "$m" 'document_processing_duration_seconds_count{document_type="pdf"}')" 1
check "Markdown processing timed" eq "$(metric_value "$m" 'document_processing_duration_seconds_count{document_type="markdown"}')" 1
check "HTML processing timed" eq "$(metric_value "$m" 'document_processing_duration_seconds_count{document_type="html"}')" 1
check "text processing timed (4 ingests + 1 replace)" eq "$(metric_value "$m" 'document_processing_duration_seconds_count{document_type="text"}')" 5
check "cache hits counted" eq "$(metric_value "$m" query_cache_hits_total)" 1
check "cache misses counted" test "$(metric_value "$m" query_cache_misses_total)" -ge 9
check "vector searches counted" test "$(metric_value "$m" vector_search_duration_seconds_count)" -ge 6
check "embedder calls counted" test "$(metric_value "$m" embedding_generation_duration_seconds_count)" -ge 14
# quality: every query's list observed by mode (cache hits too); one without results
q_all=$(awk '/^ragd_query_results_count/ {s += $2} END {print s}' <<<"$m")
check "every query's results observed ($q_all = hits + misses)" eq "$q_all" "$(($(metric_value "$m" query_cache_hits_total) + $(metric_value "$m" query_cache_misses_total)))"
n0=$(metric_value "$m" 'ragd_queries_without_results_total{mode="keyword"}')
curl -s -o /dev/null -d '{"query":"qqzzxxyy","mode":"keyword"}' "$U/v1/query"
m=$(curl -s "$U/metrics")
check "a keyword query without results is counted" eq "$(metric_value "$m" 'ragd_queries_without_results_total{mode="keyword"}')" $((n0 + 1))
check "top scores observed for vector queries" test "$(metric_value "$m" 'ragd_query_top_score_count{mode="vector"}')" -ge 1
check "distinct documents observed for lists with results" eq "$(metric_value "$m" 'ragd_query_distinct_documents_count{mode="keyword"}')" "$(($(metric_value "$m" 'ragd_query_results_count{mode="keyword"}') - n0 - 1))"
check "RAG components healthy" eq "$(grep -c '^component_health_status{component="\(store\|embedder\|index\|cache\)"} 1' <<<"$m")" 4
complaints=$(promtool check metrics <<<"$m" 2>&1)
others=$(grep -v -E '^(gpu_count|active_documents_count|total_embeddings_count) ' <<<"$complaints" | grep -v '^$')
check "promtool: only the contract's three allowed complaints" eq "$others" ""
check "promtool: all three are there" eq "$(grep -c '_count" suffix' <<<"$complaints")" 3

# --- restart: everything is still there -----------------------------------------
stop_pid "$PID_r"
check "clean stop" eq "$?" 0
start_ragd r2 || exit 1
rm -rf "$TEST_TMP/r2-data"
stop_pid "$PID_r2"
cp -r "$TEST_TMP/r-data" "$TEST_TMP/r2-data"
start_ragd r2 || exit 1
U=http://127.0.0.1:$PORT_r2
docs2=$(curl -s "$U/v1/documents?limit=1000")
check "restart: same documents" eq "$(jget '[x["id"] for x in d["documents"]]' <<<"$docs2")" "$(jget '[x["id"] for x in d["documents"]]' <<<"$docs")"
m=$(curl -s "$U/metrics")
check "restart: gauges from the store" eq "$(metric_value "$m" total_embeddings_count)" "$nchunks"
r=$(query '{"query":"bm25 ranking","mode":"hybrid","top_k":1}')
check "restart: vectors reloaded, search works" eq "$(jget 'd["results"][0]["document_id"]' <<<"$r")" paper
stop_pid "$PID_r2"

# --- another embedder is refused ------------------------------------------------
"$RAGD_BIN" serve --listen 127.0.0.1:0 --data-dir "$TEST_TMP/r-data" --embedding-dim 128 2>"$TEST_TMP/mismatch.log"
check "a different dimension is refused at start-up" eq "$?" 1
check "with a clear message" grep -q "must not mix" "$TEST_TMP/mismatch.log"

# --- kill -9 during a stream of ingests ----------------------------------------
start_ragd k --access-log off || exit 1
U=http://127.0.0.1:$PORT_k
: >"$TEST_TMP/acked"
(
    for i in $(seq 1 2000); do
        code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "${AUTH[@]}" -H 'Content-Type: application/json' \
            -d "{\"id\":\"k$i\",\"content\":\"Stream document number $i carries the marker zq$i and some text.\"}" "$U/v1/documents")
        [ "$code" = 201 ] && echo "k$i" >>"$TEST_TMP/acked"
        [ "$code" = 000 ] && break # the server is gone
    done
) &
writer=$!
sleep 1.5
kill -9 "$PID_k"
wait "$PID_k" 2>/dev/null
wait "$writer"
acked=$(wc -l <"$TEST_TMP/acked")
check "some writes were acknowledged before the kill ($acked)" test "$acked" -gt 0
check "and the kill came before the end" test "$acked" -lt 2000
check "integrity_check after kill -9" eq "$(sqlite3 "$TEST_TMP/k-data/ragd.db" 'PRAGMA integrity_check')" ok
start_ragd k2 --access-log off || exit 1
rm -rf "$TEST_TMP/k2-data"
stop_pid "$PID_k2"
cp -r "$TEST_TMP/k-data" "$TEST_TMP/k2-data"
start_ragd k2 --access-log off || exit 1
U=http://127.0.0.1:$PORT_k2
missing=0
unsearchable=0
while read -r id; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/documents/$id")" = 200 ] || missing=$((missing + 1))
    n=${id#k}
    got=$(query "{\"query\":\"zq$n\",\"mode\":\"keyword\",\"top_k\":1}" | jget 'd["results"][0]["document_id"] if d["results"] else None')
    [ "$got" = "$id" ] || unsearchable=$((unsearchable + 1))
done <"$TEST_TMP/acked"
check "every acknowledged document survived kill -9" eq "$missing" 0
first=$(head -1 "$TEST_TMP/acked")
r=$(query "{\"query\":\"stream document carries the marker zq${first#k}\",\"mode\":\"keyword\",\"top_k\":3}")
check "common words in a query do not drown its rare term" eq "$(jget 'd["results"][0]["document_id"]' <<<"$r")" "$first"
check "and is searchable" eq "$unsearchable" 0
stored=$(curl -s "$U/v1/documents?limit=1000" | jget 'len(d["documents"])')
check "nothing half-written: stored ($stored) is acked ($acked) or one more" test "$stored" -ge "$acked" -a "$stored" -le $((acked + 1))
m=$(curl -s "$U/metrics")
check "gauges exact after the crash" eq "$(metric_value "$m" active_documents_count)" "$stored"
stop_pid "$PID_k2"
finish

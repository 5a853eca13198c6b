#!/usr/bin/env bash
# Every C file of the repository is as the committed .clang-format has it
# (`make format` rewrites them; `make format-check` runs this alone).
cd "$(dirname "$0")/../.."
bad=()
n=0
for f in $(git ls-files '*.c' '*.h'); do
    n=$((n + 1))
    clang-format "$f" | cmp -s - "$f" || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
    echo "not formatted as .clang-format says (make format fixes them):"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
echo "$n files formatted as .clang-format says"

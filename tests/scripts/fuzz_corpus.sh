#!/usr/bin/env bash
# Replays every fuzz target's corpus (fuzz/corpus/, regressions included)
# under ASan + UBSan: each input once, deterministic. `make fuzz` explores.
source "$(dirname "$0")/lib/common.sh"
for dir in fuzz/corpus/*/; do
    t=$(basename "$dir")
    n=$(find "$dir" -type f | wc -l)
    out=$(build/fuzz/fuzz_$t -runs=0 "$dir" 2>&1)
    rc=$?
    check "fuzz_$t replays its corpus ($n inputs)" eq "$rc" 0
    [ $rc -eq 0 ] || tail -20 <<<"$out"
done
finish

#!/usr/bin/env bash
# The keyword index (rag/inv segments, DATA_DIR/keywords) in the server: a
# query sees every write acknowledged before it, Japanese and accents
# match, and after kill -9 (writes the index had not committed yet, a
# delete it missed), a lost or a damaged index the store brings it back.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
D=$TEST_TMP/k-data
ingest() { curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "{\"id\":\"$2\",\"content\":\"$3\"}" "$1/v1/documents"; }
kids() { # URL QUERY: the ids a keyword query returns, sorted
    curl -s -d "{\"query\":\"$2\",\"mode\":\"keyword\",\"top_k\":10}" "$1/v1/query" |
        $PY -c 'import json,sys; print(" ".join(sorted({r["document_id"] for r in json.load(sys.stdin)["results"]})))'
}

start_ragd a --data-dir "$D" || exit 1
U=http://127.0.0.1:$PORT_a
codes=""
for i in 1 2 3 4 5; do
    codes+=$(ingest "$U" "w$i" "Worker $i restarts the zircon queue $i times an hour.")
    # each query right after its write: the write is seen at once
    [ "$(kids "$U" "zircon")" = "$(seq -f 'w%g' 1 "$i" | tr '\n' ' ' | sed 's/ $//')" ] || codes+=" unseen-$i"
done
check "every write is seen by the next query" eq "$codes" "201201201201201"
ingest "$U" jp "東京タワーの監視ダッシュボードを確認する。" >/dev/null
ingest "$U" fr "Le café déjà servi au Château." >/dev/null
check "Japanese: a two-character word inside a sentence" eq "$(kids "$U" "ダッシュボード")" "jp"
check "accents and case fold: CAFE CHATEAU finds café, Château" eq "$(kids "$U" "CAFE chateau")" "fr"
check "keyword searches are timed (7 distinct queries)" eq "$(metric_value "$(curl -s "$U/metrics")" ragd_keyword_search_duration_seconds_count)" 7
m=$(curl -s "$U/metrics")
check "its segments and flushes are exported" eq "$([ "$(metric_value "$m" ragd_keyword_index_segments)" -ge 1 ] && [ "$(metric_value "$m" ragd_keyword_index_flushes_total)" -ge 7 ] && [ "$(metric_value "$m" ragd_keyword_index_bytes)" -gt 0 ] && echo yes)" yes
check "the index lives in the data directory" eq "$(test -f "$D/keywords/MANIFEST" && echo yes)" yes

# kill -9 right after a write and a delete: the store has them, the index
# may not have committed them (its flusher waits up to a second)
ingest "$U" late "A garnet appears late." >/dev/null
curl -s -o /dev/null -X DELETE "$U/v1/documents/w1"
kill -9 "$PID_a"
wait "$PID_a" 2>/dev/null
start_ragd b --data-dir "$D" || exit 1
U=http://127.0.0.1:$PORT_b
check "after kill -9: the write the index lacked is found" eq "$(kids "$U" garnet)" "late"
check "after kill -9: the deleted document is gone" eq "$(kids "$U" zircon)" "w2 w3 w4 w5"
ingest "$U" more "Another garnet, just before a clean stop." >/dev/null
stop_pid "$PID_b"
start_ragd c --data-dir "$D" || exit 1
U=http://127.0.0.1:$PORT_c
check "a clean stop commits what was pending: nothing to index at the next start" eq "$(grep -c 'chunks indexed from the store' "$LOG_c")/$(kids "$U" garnet)" "0/late more"
stop_pid "$PID_c"

# lost: built again from the store at start-up
rm -rf "$D/keywords"
start_ragd d --data-dir "$D" || exit 1
U=http://127.0.0.1:$PORT_d
check "a lost index is built again from the store" eq "$(kids "$U" zircon) / $(kids "$U" garnet)" "w2 w3 w4 w5 / late more"
check "and the log says so" contains "$(cat "$LOG_d")" "keyword index: 8 chunks indexed from the store"
stop_pid "$PID_d"

# damaged: thrown away and built again
printf garbage >"$D/keywords/MANIFEST"
start_ragd e --data-dir "$D" || exit 1
U=http://127.0.0.1:$PORT_e
check "a damaged index is built again" eq "$(kids "$U" zircon) / $(kids "$U" garnet)" "w2 w3 w4 w5 / late more"
check "and the log says why" contains "$(cat "$LOG_e")" "building it again from the store"
stop_pid "$PID_e"
finish

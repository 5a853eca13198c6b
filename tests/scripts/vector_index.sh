#!/usr/bin/env bash
# The vector index's graph in the server: auto keeps the hash embedder
# exact, hnsw builds the graph in the background, deletes hidden at once,
# saved at shutdown and loaded at start, repaired after kill -9 from the
# store, rebuilt from a damaged file, removed under --vector-index exact,
# and its metrics (segments, recall estimate, info); without a graph, the
# flat vectors saved at a clean shutdown for one start (vectors.flat).
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
D=$TEST_TMP/v-data
batch() { curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-ndjson' --data-binary @- "$1/v1/documents/batch"; }
docs() { # FIRST LAST: one NDJSON line per document, words shared across them
    for i in $(seq "$1" "$2"); do
        printf '{"id":"doc%d","content":"Runbook %d: the %s service on host %d answers slowly; restart the %s worker and check disk %d."}\n' \
            "$i" "$i" "$(sed -n "$((i % 7 + 1))p" <<<$'api\nqueue\nsearch\nbilling\nauth\nmail\ncache')" "$((i % 13))" \
            "$(sed -n "$((i % 5 + 1))p" <<<$'ingest\nindex\nexport\nreport\nsync')" "$((i % 11))"
    done
}
# wait_for URL SERIES VALUE: polls /metrics (up to 10 s) until the series has the value
wait_for() {
    for _ in $(seq 100); do
        [ "$(metric_value "$(curl -s "$1/metrics")" "$2")" = "$3" ] && return 0
        sleep 0.1
    done
    return 1
}
text_of() { docs "$1" "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["content"])'; }
# index_agrees URL: polls /ready (up to 10 s) until the index check is healthy
index_agrees() {
    for _ in $(seq 100); do
        curl -s "$1/ready" | grep -q '"index":{"status":"healthy"' && return 0
        sleep 0.1
    done
    return 1
}
ids_of() { $PY -c 'import json,sys; print(" ".join(sorted(r["document_id"] for r in json.load(sys.stdin)["results"])))'; }
vquery() { curl -s -d "{\"query\":\"$2\",\"mode\":\"vector\",\"top_k\":${3:-10},\"max_per_document\":0}" "$1/v1/query"; }

# auto with the hash embedder: exact (its vectors are near-random: a graph
# would lose recall); the threshold of auto is the unit tests' (test_vindex.c)
start_ragd a --data-dir "$D" --ann-min-chunks 50 --health-interval 0.2 || exit 1
U=http://127.0.0.1:$PORT_a
cpus=$(nproc)
check "auto with the hash embedder: exact, said in the info metric (build threads: half the CPUs) and the log" eq "$(curl -s "$U/metrics" | grep -c "ragd_vector_index_info{kind=\"exact\",m=\"16\",ef_construction=\"100\",ef_search=\"256\",ann_min_chunks=\"50\",build_threads=\"$((cpus / 2 > 0 ? cpus / 2 : 1))\"} 1") $(grep -c 'auto, hash embedder' "$LOG_a")" "1 1"
docs 1 120 | batch "$U" >/dev/null
sleep 1.2
m=$(curl -s "$U/metrics")
check "auto, hash embedder: 120 chunks, all flat, no graph file" eq "$(metric_value "$m" 'ragd_vector_index_vectors{segment="flat"}') $(metric_value "$m" 'ragd_vector_index_vectors{segment="graph"}') $(test -e "$D/vectors.hnsw" && echo file || echo none)" "120 0 none"
stop_pid "$PID_a"
check "a clean shutdown saves the flat vectors for the next start" eq "$(test -s "$D/vectors.flat" && echo yes) $(grep -c '120 flat rows saved' "$LOG_a")" "yes 1"

# hnsw: the builder moves every row into the graph (three threads together)
start_ragd v --data-dir "$D" --vector-index hnsw --hnsw-build-threads 3 --health-interval 0.2 || exit 1
U=http://127.0.0.1:$PORT_v
wait_for "$U" 'ragd_vector_index_vectors{segment="graph"}' 120
check "hnsw: the builder moved all 120 rows into the graph" eq "$?/$(metric_value "$(curl -s "$U/metrics")" 'ragd_vector_index_vectors{segment="flat"}')" 0/0
check "on the threads asked for (log and info metric)" eq "$(grep -c '100, build threads 3) over 120 rows' "$LOG_v") $(curl -s "$U/metrics" | grep -c 'build_threads="3"} 1')" "1 1"
check "the saved flat vectors were read, and their file removed (one start's)" eq "$(grep -c '120 flat rows loaded' "$LOG_v") $(test -e "$D/vectors.flat" && echo there || echo gone)" "1 gone"
check "a graph search finds a document's own words" contains "$(vquery "$U" "$(text_of 77)" 3)" '"document_id":"doc77"'
for i in 5 6 7; do curl -s -X DELETE "$U/v1/documents/doc$i" >/dev/null; done
check "deleted documents leave the results at once" eq "$(vquery "$U" "$(text_of 6)" 50 | ids_of | tr ' ' '\n' | grep -cE '^doc(5|6|7)$')" 0
wait_for "$U" ragd_vector_index_deleted_vectors 3
check "the graph marks them (kept as ways through it)" eq "$?" 0
index_agrees "$U"
check "index and store agree" eq "$?" 0
# the recall estimate: one graph search in 64 is checked, at most one a second
for i in $(seq 1 140); do vquery "$U" "host $i disk $((i * 7)) worker $((i % 9))" 10 >/dev/null; done
sleep 1.5
r=$(metric_value "$(curl -s "$U/metrics")" ragd_vector_index_recall_estimate)
check "recall estimate: present after sampled checks, between 0 and 1" eq "$($PY -c "import sys; v=float(sys.argv[1]); print(0 < v <= 1)" "$r" 2>&1)" True
check "recall checks counted" eq "$(metric_value "$(curl -s "$U/metrics")" ragd_vector_index_recall_checks_total | cut -d. -f1 | awk '{print ($1 >= 1)}')" 1
before=$(vquery "$U" 'billing service restart export' 10 | ids_of)
stop_pid "$PID_v"
check "shutdown saves the graph" eq "$(test -s "$D/vectors.hnsw" && echo yes) $(grep -c 'graph of 117 rows saved' "$LOG_v")" "yes 1"

# a restart loads it: no rebuild, same answers
start_ragd v2 --data-dir "$D" --vector-index hnsw --health-interval 0.2 || exit 1
U=http://127.0.0.1:$PORT_v2
check "restart: the graph is loaded, not built" eq "$(grep -c 'graph of 117 rows (3 deleted, m 16) loaded' "$LOG_v2") $(grep -c 'building the graph' "$LOG_v2")" "1 0"
check "restart: same answers" eq "$(vquery "$U" 'billing service restart export' 10 | ids_of)" "$before"
# kill -9 after changes the graph file does not have: the store is the truth
for i in 10 11; do curl -s -X DELETE "$U/v1/documents/doc$i" >/dev/null; done
docs 121 130 | batch "$U" >/dev/null
kill -9 "$PID_v2"
wait "$PID_v2" 2>/dev/null
start_ragd v3 --data-dir "$D" --vector-index hnsw --health-interval 0.2 || exit 1
U=http://127.0.0.1:$PORT_v3
check "after kill -9: graph rows the store lost are dropped" contains "$(cat "$LOG_v3")" '2 graph rows the store no longer has were dropped'
index_agrees "$U"
check "after kill -9: index and store agree" eq "$?" 0
check "after kill -9: the deleted are not found, the new are" eq "$(vquery "$U" "$(text_of 10)" 50 | ids_of | tr ' ' '\n' | grep -cE '^doc1[01]$') $(vquery "$U" "$(text_of 125)" 3 | ids_of | grep -c doc125)" "0 1"
stop_pid "$PID_v3"

# a damaged graph: a warning, then the graph is built again from the store
head -c 5000 "$D/vectors.hnsw" >"$TEST_TMP/cut" && cp "$TEST_TMP/cut" "$D/vectors.hnsw"
start_ragd v4 --data-dir "$D" --vector-index hnsw --health-interval 0.2 || exit 1
U=http://127.0.0.1:$PORT_v4
check "a damaged graph file: warned, built again" contains "$(cat "$LOG_v4")" 'building the graph again'
wait_for "$U" 'ragd_vector_index_vectors{segment="graph"}' 125
check "rebuilt: all 125 chunks in the graph" eq "$?" 0
stop_pid "$PID_v4"

# exact: the graph file goes, every chunk is scanned
start_ragd v5 --data-dir "$D" --vector-index exact || exit 1
U=http://127.0.0.1:$PORT_v5
m=$(curl -s "$U/metrics")
check "exact: the graph file is removed, every row flat" eq "$(test -e "$D/vectors.hnsw" && echo there || echo gone) $(metric_value "$m" 'ragd_vector_index_vectors{segment="flat"}') $(metric_value "$m" 'ragd_vector_index_vectors{segment="graph"}')" "gone 125 0"
check "exact: same top result" contains "$(vquery "$U" "$(text_of 77)" 1)" '"document_id":"doc77"'
stop_pid "$PID_v5"
check "with a graph no flat file was saved; exact saves one" eq "$(grep -c 'flat rows saved' "$LOG_v4") $(grep -c '125 flat rows saved' "$LOG_v5")" "0 1"
# the flat file after kill -9: it was removed when read, the store is read
start_ragd v6 --data-dir "$D" --vector-index exact || exit 1
U=http://127.0.0.1:$PORT_v6
docs 131 132 | batch "$U" >/dev/null
kill -9 "$PID_v6"
wait "$PID_v6" 2>/dev/null
start_ragd v7 --data-dir "$D" --vector-index exact || exit 1
U=http://127.0.0.1:$PORT_v7
check "after kill -9: read from the store, the new rows in" eq "$(grep -c 'flat rows loaded' "$LOG_v6") $(grep -c 'flat rows loaded' "$LOG_v7") $(metric_value "$(curl -s "$U/metrics")" 'ragd_vector_index_vectors{segment="flat"}') $(vquery "$U" "$(text_of 132)" 1 | ids_of)" "1 0 127 doc132"
stop_pid "$PID_v7"
# a file that disagrees with the store (from before writes): not used
cp "$D/vectors.flat" "$TEST_TMP/old.flat"
start_ragd v8 --data-dir "$D" --vector-index exact || exit 1
U=http://127.0.0.1:$PORT_v8
for i in 20 21; do curl -s -X DELETE "$U/v1/documents/doc$i" >/dev/null; done
stop_pid "$PID_v8"
cp "$TEST_TMP/old.flat" "$D/vectors.flat"
start_ragd v9 --data-dir "$D" --vector-index exact --health-interval 0.2 || exit 1
U=http://127.0.0.1:$PORT_v9
index_agrees "$U"
check "a stale flat file: said in the log, the store read, index and store agree" eq "$(grep -c 'disagree with the store' "$LOG_v9") $? $(metric_value "$(curl -s "$U/metrics")" 'ragd_vector_index_vectors{segment="flat"}')" "1 0 125"
stop_pid "$PID_v9"
check "bad --vector-index: a clear error" contains "$("$RAGD_BIN" serve --vector-index fast 2>&1)" 'vector-index'
finish

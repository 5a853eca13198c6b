#!/usr/bin/env bash
# The openai embedder against an OpenAI-compatible server the test runs on
# loopback (tests/tools/fake_embedder.py): success, 429 then success, 500,
# timeout, malformed answers, health going down and recovering.
source "$(dirname "$0")/lib/common.sh"
spawn fake /usr/bin/python3 tests/tools/fake_embedder.py 8 || exit 1
E=http://127.0.0.1:$PORT_fake
mode() { curl -s -o /dev/null -d "{\"mode\":\"$1\"}" "$E/control"; }
stats() { curl -s "$E/stats" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

RAGD_EMBEDDER_API_KEY=emb-secret start_ragd o --embedder openai --embedder-url "$E" --embedder-model mini-test \
    --embedding-dim 8 --embedder-timeout 1 --embedder-retries 2 --health-interval 0.2 || exit 1
U=http://127.0.0.1:$PORT_o
ingest() { curl -s -w ' %{http_code}' -H 'Content-Type: application/json' -d "{\"id\":\"$1\",\"content\":\"$2\"}" "$U/v1/documents"; }
health() { curl -s "$U/metrics" | awk '$1 == "component_health_status{component=\"embedder\"}" {print $2}'; }

r=$(ingest a "First document. It talks about vector search.")
check "ingest through the openai embedder" contains "$r" '"chunks":1,"replaced":false} 201'
check "the model name is sent" eq "$(stats 'd["model"]')" mini-test
check "the key comes from RAGD_EMBEDDER_API_KEY" eq "$(stats 'd["auth"]')" "Bearer emb-secret"
r=$(curl -s -d '{"query":"vector search","mode":"vector"}' "$U/v1/query")
check "vector query through the openai embedder" contains "$r" '"document_id":"a"'

mode flaky429
n0=$(stats 'd["requests"]')
r=$(ingest b "Second document.")
check "429 then success: retried, 201" contains "$r" ' 201'
check "429 then success: two requests" eq "$(stats 'd["requests"]')" $((n0 + 2))

mode error500
n0=$(stats 'd["requests"]')
r=$(ingest c "Third document.")
check "500: ingest answers 503" contains "$r" '"code":"embedder_unavailable"'
check "500: the message names the cause" contains "$r" 'HTTP 500'
check "500: retried (1 + 2 retries; health probes may add more)" test "$(stats 'd["requests"]')" -ge $((n0 + 3))
check "500: nothing stored" eq "$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/documents/c")" 404
check "500: embedder health 0" eq "$(health)" 0
r=$(curl -s -w ' %{http_code}' "$U/ready")
check "500: /ready is 503" contains "$r" ' 503'
mode ok
sleep 0.8
check "recovery: health back to 1 without traffic" eq "$(health)" 1
check "recovery: /ready is 200" eq "$(curl -s -o /dev/null -w '%{http_code}' "$U/ready")" 200

mode slow
t0=$(date +%s%N)
r=$(ingest d "Fourth document.")
t1=$(date +%s%N)
check "timeout: 503" contains "$r" ' 503'
check "timeout: bounded by --embedder-timeout and retries ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 6000
mode malformed
r=$(ingest e "Fifth document.")
check "malformed answer: 503 with a clear message" contains "$r" 'malformed answer'
mode ok
sleep 0.5
m=$(curl -s "$U/metrics")
check "documents stored: only the successful ones" eq "$(metric_value "$m" active_documents_count)" 2
check "every embedder call timed" test "$(metric_value "$m" embedding_generation_duration_seconds_count)" -ge 6
stop_pid "$PID_o"

"$RAGD_BIN" serve --data-dir "$TEST_TMP/o-data" --listen 127.0.0.1:0 2>"$TEST_TMP/hash.log"
check "the store refuses another embedder" eq "$?" 1
check "and says which" grep -q "embedder 'openai:mini-test'" "$TEST_TMP/hash.log"
"$RAGD_BIN" serve --embedder openai --data-dir "$TEST_TMP/x" 2>"$TEST_TMP/err"
check "openai without a URL: exit 2" eq "$?" 2
finish

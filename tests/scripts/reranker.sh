#!/usr/bin/env bash
# The rerank stage against a fake /rerank server on loopback
# (tests/tools/fake_reranker.py): TEI's API and Cohere's, the order it
# gives, its metrics, and a failing reranker bypassed (the first ranking
# kept, the failure counted and seen in /ready, recovery without traffic).
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
spawn rr $PY tests/tools/fake_reranker.py || exit 1
F=http://127.0.0.1:$PORT_rr
ctl() { curl -s -o /dev/null -d "$1" "$F/control"; }
fstat() { curl -s "$F/stats" | $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
first() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["results"][0]["document_id"], d["results"][0]["score"])'; }

start_ragd t --reranker-url "$F" --rerank-depth 10 --health-interval 0.2 --cache-entries 0 || exit 1
U=http://127.0.0.1:$PORT_t
for d in 'a:zircon zircon zircon mining in the north' 'b:zircon with a zebra nearby' 'c:granite only'; do
    curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"id\":\"${d%%:*}\",\"content\":\"${d#*:}\"}" "$U/v1/documents"
done
r=$(curl -s -d '{"query":"zircon","mode":"keyword","top_k":1}' "$U/v1/query")
check "TEI: the reranker's first is first, with its score" eq "$(first <<<"$r")" "b 1.0"
check "TEI: the query and the candidates' texts were sent" eq "$(fstat 'd["last"]["query"], len(d["last"]["texts"]), d["last"]["texts"] == d["last"]["documents"]')" "zircon 2 True"
m=$(curl -s "$U/metrics")
check "rerank calls timed" eq "$(metric_value "$m" ragd_rerank_duration_seconds_count)" 1
check "no reranker error" eq "$(metric_value "$m" ragd_reranker_errors_total)" 0
check "/ready lists the reranker" contains "$(curl -s "$U/ready")" '"reranker":{"status":"healthy","required":false}'

ctl '{"mode":"error500"}'
r=$(curl -s -w ' %{http_code}' -d '{"query":"zircon","mode":"keyword","top_k":1}' "$U/v1/query")
check "reranker failing: the query is still answered, in the first ranking" eq "$(sed 's/ [0-9]*$//' <<<"$r" | first | cut -d' ' -f1) ${r##* }" "a 200"
m=$(curl -s "$U/metrics")
check "reranker failing: counted" eq "$(metric_value "$m" ragd_reranker_errors_total)" 1
check "reranker failing: health 0, /ready still 200" eq "$(metric_value "$m" 'component_health_status{component="reranker"}') $(curl -s -o /dev/null -w '%{http_code}' "$U/ready")" "0 200"
ctl '{"mode":"malformed"}'
r=$(curl -s -d '{"query":"zircon","mode":"keyword","top_k":1}' "$U/v1/query")
check "a malformed answer: the first ranking, counted" eq "$(first <<<"$r" | cut -d' ' -f1) $(metric_value "$(curl -s "$U/metrics")" ragd_reranker_errors_total)" "a 2"
ctl '{"mode":"ok"}'
sleep 0.8
check "recovery: healthy again without traffic" eq "$(metric_value "$(curl -s "$U/metrics")" 'component_health_status{component="reranker"}')" 1
stop_pid "$PID_t"

RAGD_RERANKER_API_KEY=rr-secret start_ragd c --reranker-url "$F/v1/rerank" --reranker-model rr-1 --cache-entries 0 || exit 1
U=http://127.0.0.1:$PORT_c
for d in 'a:zircon zircon zircon mining in the north' 'b:zircon with a zebra nearby'; do
    curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"id\":\"${d%%:*}\",\"content\":\"${d#*:}\"}" "$U/v1/documents"
done
r=$(curl -s -d '{"query":"zircon","mode":"hybrid","top_k":1}' "$U/v1/query")
check "Cohere/Jina API: the reranker's first is first" eq "$(first <<<"$r" | cut -d' ' -f1)" b
check "Cohere/Jina API: the model and the key are sent" eq "$(fstat 'd["last"]["model"], d["auth"], d["last"]["top_n"]')" "rr-1 Bearer rr-secret 2"
stop_pid "$PID_c"
finish

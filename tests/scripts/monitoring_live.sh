#!/usr/bin/env bash
# The monitoring stack for real, end to end: ragd, Prometheus, Alertmanager
# and node-exporter on loopback (scripts/run-stack with a test overlay:
# 1 s scrapes and evaluations, `for` of 3 s, 20 s windows), a fake
# OpenAI-compatible embedder and a webhook receiver run by the test.
#  1. traffic of every kind; then every dashboard query and every rule
#     expression sent to Prometheus's HTTP API parses and returns data;
#  2. fault injection: the embedder fails, ingests and queries answer 5xx,
#     and the alerts reach the webhook through Alertmanager with the right
#     labels; then the fault ends and they resolve.
source "$(dirname "$0")/lib/common.sh"
spawn emb /usr/bin/python3 tests/tools/fake_embedder.py 8 || exit 1
spawn hook /usr/bin/python3 tests/tools/webhook_receiver.py "$TEST_TMP/alerts.jsonl" || exit 1
E=http://127.0.0.1:$PORT_emb
export ALERT_WEBHOOK_URL=http://127.0.0.1:$PORT_hook/alerts
export RAGD_ARGS="--embedder openai --embedder-url $E --embedder-model fake --embedding-dim 8 --embedder-timeout 1 --embedder-retries 0 --health-interval 0.5 --access-log off"
start_stack "run-stack starts ragd, Prometheus, Alertmanager, node-exporter"
R=$RUN_DIR
U=http://127.0.0.1:$RAGD_PORT
P=http://127.0.0.1:$PROM_PORT
urls_answer() { # every URL run-stack printed, fetched without following redirects
    local u code bad=0 n=0
    for u in $(sed -n '/are up/,$p' "$TEST_TMP/stack.out" | grep -o 'http://127.0.0.1:[0-9]*/[^ )]*'); do
        n=$((n + 1))
        code=$(curl -s -o /dev/null -w '%{http_code}' "$u")
        [ "$code" = 200 ] || { echo "       $u answered $code"; bad=1; }
    done
    [ $n -ge 8 ] || { echo "       only $n URLs printed"; bad=1; }
    return $bad
}
check "every URL run-stack printed answers 200" urls_answer
check "the sample corpus was ingested" test "$(curl -s "$U/metrics" | awk '$1 == "active_documents_count" {print $2}')" -ge 5

traffic() { # SECONDS: ingests, queries of every mode, cache hits, 404s, answers (one with no context)
    local end=$((SECONDS + $1)) i=0
    while [ $SECONDS -lt $end ]; do
        i=$((i + 1))
        curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"id\":\"t$((i % 5))\",\"content\":\"Traffic document $i about latency.\"}" "$U/v1/documents"
        for m in vector keyword hybrid; do
            curl -s -o /dev/null -d "{\"query\":\"latency budget $((i % 3))\",\"mode\":\"$m\"}" "$U/v1/query"
        done
        curl -s -o /dev/null "$U/v1/documents/missing-$i"
        curl -s -o /dev/null -d "{\"query\":\"latency budget $((i % 3))\"}" "$U/v1/answer"
        curl -s -o /dev/null -d '{"query":"zzqx","mode":"keyword"}' "$U/v1/answer"
        sleep 0.1
    done
}
traffic 8
# every target up
up=$(curl -s "$P/api/v1/query" --data-urlencode 'query=up' | /usr/bin/python3 -c 'import json,sys; print(" ".join(sorted("%s=%s" % (r["metric"]["job"], r["value"][1]) for r in json.load(sys.stdin)["data"]["result"])))')
check "targets up: rag-app, node, prometheus, alertmanager (docker down, as documented)" eq "$up" "alertmanager=1 docker=0 node=1 prometheus=1 rag-app=1"
/usr/bin/python3 tests/tools/check_dashboard.py monitoring "$TEST_TMP/queries.tsv" >/dev/null
out=$(/usr/bin/python3 tests/tools/check_live_queries.py "$P" "$TEST_TMP/queries.tsv" 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
check "every dashboard query and rule expression parses and returns data" eq "$rc" 0

# --- fault injection --------------------------------------------------------
firing() { # ALERTNAME [label=value]: the first time it was delivered firing
    /usr/bin/python3 - "$TEST_TMP/alerts.jsonl" "$@" <<'PY'
import json, sys
path, name, *labels = sys.argv[1:]
want = dict(l.split("=", 1) for l in labels)
status = want.pop("status", "firing")
try:
    for line in open(path):
        n = json.loads(line)
        for a in n["payload"]["alerts"]:
            if a["labels"].get("alertname") == name and a["status"] == status and all(a["labels"].get(k) == v for k, v in want.items()):
                print("%.3f" % n["received"])
                sys.exit(0)
except FileNotFoundError:
    pass
PY
}
wait_for() { # SECONDS ALERTNAME [labels...]
    local end=$((SECONDS + $1))
    shift
    while [ $SECONDS -lt $end ]; do
        t=$(firing "$@")
        [ -n "$t" ] && { echo "$t"; return 0; }
        sleep 0.5
    done
    return 1
}
curl -s -o /dev/null -d '{"mode":"error500"}' "$E/control"
t_fault=$(date +%s.%N)
(   # failing traffic: ingests and vector queries answer 503
    end=$((SECONDS + 25))
    while [ $SECONDS -lt $end ]; do
        curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"content":"during the fault"}' "$U/v1/documents"
        curl -s -o /dev/null -d '{"query":"fault","mode":"vector"}' "$U/v1/query"
        sleep 0.1
    done
) &
bg=$!
t1=$(wait_for 60 ComponentUnhealthy component=embedder severity=critical job=rag-app)
check "ComponentUnhealthy{component=embedder} reaches the webhook" test -n "$t1"
t2=$(wait_for 60 HighErrorRate severity=critical job=rag-app)
check "HighErrorRate reaches the webhook" test -n "$t2"
fa=$(curl -s "$P/api/v1/query" --data-urlencode 'query=count by (alertname) (ALERTS{alertstate="firing"})' | /usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(r["metric"]["alertname"] for r in json.load(sys.stdin)["data"]["result"])))')
check "the dashboard's firing-alerts query returns them ($fa)" contains "$fa" "ComponentUnhealthy"
wait "$bg"
ann=$(grep -m1 '"alertname": "HighErrorRate"' "$TEST_TMP/alerts.jsonl" | /usr/bin/python3 -c 'import json,sys; n=json.loads(sys.stdin.read()); print([a["annotations"]["description"] for a in n["payload"]["alerts"] if a["labels"]["alertname"]=="HighErrorRate"][0])')
check "the alert carries the measured value" contains "$ann" "of the requests to rag-app on 127.0.0.1:$RAGD_PORT answered 5xx"
# --- the fault ends -----------------------------------------------------------
curl -s -o /dev/null -d '{"mode":"ok"}' "$E/control"
traffic 25 &
bg=$!
r1=$(wait_for 60 ComponentUnhealthy component=embedder status=resolved)
check "ComponentUnhealthy resolves at the webhook" test -n "$r1"
r2=$(wait_for 60 HighErrorRate status=resolved)
check "HighErrorRate resolves at the webhook" test -n "$r2"
wait "$bg"
[ -n "$t1" ] && [ -n "$t2" ] && /usr/bin/python3 - "$t_fault" "$t1" "$t2" <<'PY'
import sys
f, a, b = map(float, sys.argv[1:])
print("    fault to webhook, test overlay (1 s scrape/eval, for 3 s, group_wait 1 s):")
print("      ComponentUnhealthy %.1f s, HighErrorRate %.1f s" % (a - f, b - f))
# With the real settings, the worst case adds: the next scrape (10 s), the
# next rule evaluation (30 s), the alert's `for`, the evaluation that turns
# it firing (30 s), Alertmanager's group_wait (30 s).
for name, for_s in (("ComponentUnhealthy", 60), ("HighErrorRate", 300)):
    print("    with the real settings, %s reaches the webhook within %d s (scrape 10 + eval 30 + for %d + eval 30 + group_wait 30)"
          % (name, 10 + 30 + for_s + 30 + 30, for_s))
PY
for p in $(cat "$R/pids"); do kill -TERM "$p" 2>/dev/null; done
for p in $(cat "$R/pids"); do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
check "the stack stops" true
finish

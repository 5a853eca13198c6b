#!/usr/bin/env bash
# /dashboard: the page and its files from the binary, the read-only proxy to
# Prometheus (nothing else forwarded), and the page in a real browser
# (tests/browser/dashboard.mjs, Debian's chromium) over the real stack
# (scripts/run-stack with the test overlay) and over a fake Prometheus of
# 1,000+ series; screenshots in build/screenshots/.
source "$(dirname "$0")/lib/common.sh"
SHOTS=build/screenshots
mkdir -p "$SHOTS"

# ---- the page, its files, the proxy's limits (a fake Prometheus) -----------------
spawn fp /usr/bin/python3 tests/tools/fake_prometheus.py || exit 1
FP=http://127.0.0.1:$PORT_fp
RAGD_API_KEY=secret start_ragd f --prometheus-url "$FP" --prometheus-timeout 2 || exit 1
U=http://127.0.0.1:$PORT_f
r=$(curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/page" -w '%{http_code} %{content_type}' "$U/dashboard")
check "GET /dashboard: the page, without the API key" eq "$r" "200 text/html; charset=utf-8"
check "the page loads only ragd's own files (CSP)" grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self'" "$TEST_TMP/h"
check "the page names its scripts" grep -q '/dashboard/assets/uPlot.iife.min.js' "$TEST_TMP/page"
for a in dashboard.js dashboard.css uPlot.iife.min.js uPlot.min.css rag-system-monitoring.json; do
    r=$(curl -s -o "$TEST_TMP/a" -w '%{http_code}' "$U/dashboard/assets/$a")
    check "asset $a served from the binary" eq "$r" 200
done
check "the Grafana dashboard served is the committed one" cmp -s "$TEST_TMP/a" monitoring/grafana/dashboards/rag-system-monitoring.json
check "unknown asset: 404" eq "$(curl -s -o /dev/null -w '%{http_code}' "$U/dashboard/assets/nope.js")" 404
check "config: the Prometheus URL" contains "$(curl -s "$U/dashboard/api/config")" "\"prometheus\":\"$FP\""
r=$(curl -s -w ' %{http_code}' "$U/dashboard/api/query?query=up&time=1700000000&target=http://evil.example/&step=9")
check "query: forwarded" contains "$r" '"status": "success"'
last=$(curl -s "$FP/stats" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["seen"][-1])')
check "query: only its own parameters reach Prometheus, escaped" eq "$last" "/api/v1/query?query=up&time=1700000000"
curl -s -o /dev/null "$U/dashboard/api/query_range?query=rate(x%5B1m%5D)&start=1&end=61&step=30"
last=$(curl -s "$FP/stats" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["seen"][-1])')
check "query_range: forwarded with its four parameters" eq "$last" "/api/v1/query_range?query=rate%28x%5B1m%5D%29&start=1&end=61&step=30"
check "query_range without step: 400" contains "$(curl -s -w ' %{http_code}' "$U/dashboard/api/query_range?query=up&start=1&end=2")" '"code":"invalid_field","message":"'"'"'step'"'"' is required"}} 400'
check "POST to the proxy: 405" eq "$(curl -s -o /dev/null -w '%{http_code}' -d 'query=up' "$U/dashboard/api/query")" 405
for p in /dashboard/api/series /dashboard/api/v1/query /dashboard/api/admin/tsdb/delete_series /dashboard/api/../../api/v1/query; do
    check "no other path is forwarded: $p" eq "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$U$p?query=up")" 404
done
check "alerts: forwarded" contains "$(curl -s "$U/dashboard/api/alerts")" FakeAlert
SHOTS_OUT=$SHOTS
node tests/browser/dashboard.mjs load "$U" "$SHOTS_OUT" >"$TEST_TMP/load.out" 2>&1
rc=$?
sed 's/^/  /' "$TEST_TMP/load.out"
check "the page over 1,000+ series" eq "$rc" 0
kill -TERM "$PID_fp"; wait "$PID_fp" 2>/dev/null
r=$(curl -s -w ' %{http_code}' "$U/dashboard/api/query?query=up")
check "Prometheus down: 502 prometheus_unavailable, naming it" contains "$r" "\"code\":\"prometheus_unavailable\",\"message\":\"Prometheus at $FP:"
stop_pid "$PID_f"
start_ragd n || exit 1
r=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT_n/dashboard/api/query?query=up")
check "no --prometheus-url: 503 prometheus_not_configured" contains "$r" '"code":"prometheus_not_configured"'
check "no --prometheus-url: the page is still served" eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_n/dashboard")" 200
stop_pid "$PID_n"
"$RAGD_BIN" serve --prometheus-url ftp://x --data-dir "$TEST_TMP/z" 2>"$TEST_TMP/err"
check "a --prometheus-url that is not http(s): exit 2" eq "$?" 2

# ---- the real stack, in the browser ------------------------------------------------------
export RAGD_ARGS="--access-log off"
start_stack "run-stack starts the stack"
check "make run prints the dashboard URL first" eq "$(sed -n '/are up/{n;p}' "$TEST_TMP/stack.out" | awk '{print $1, $2}')" "dashboard http://127.0.0.1:$RAGD_PORT/dashboard"
S=http://127.0.0.1:$RAGD_PORT
end=$((SECONDS + 8))
i=0
while [ $SECONDS -lt $end ]; do
    i=$((i + 1))
    curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"id\":\"t$((i % 3))\",\"content\":\"Traffic document $i about latency.\"}" "$S/v1/documents"
    curl -s -o /dev/null -d "{\"query\":\"latency budget $((i % 3))\"}" "$S/v1/query"
    curl -s -o /dev/null -d '{"query":"how is the P95 computed?"}' "$S/v1/answer"
    curl -s -o /dev/null -d '{"query":"zzqx","mode":"keyword"}' "$S/v1/answer"
    curl -s -o /dev/null "$S/v1/documents/missing-$i"
    sleep 0.1
done
sleep 2
prom_pid=$(pgrep -f -- "--web.listen-address=127.0.0.1:$PROM_PORT" | head -1)
node tests/browser/dashboard.mjs live "$S" "http://127.0.0.1:$PROM_PORT" "$prom_pid" "$SHOTS" >"$TEST_TMP/live.out" 2>&1
rc=$?
sed 's/^/  /' "$TEST_TMP/live.out"
check "the page over the real stack, in chromium" eq "$rc" 0
check "screenshots saved" test -s "$SHOTS/dashboard.png" -a -s "$SHOTS/dashboard-prometheus-down.png"
finish

#!/usr/bin/env bash
# `ragd serve`, black-box: CLI, routes, errors, exact request metrics, bounded
# series, both exposition formats and gzip, promtool on the live output, GPU
# through the fake NVML, JSON logs, readiness, timeouts, graceful shutdown.
source "$(dirname "$0")/lib/common.sh"

# --- command line ------------------------------------------------------------
out=$("$RAGD_BIN" --version)
check "--version" contains "$out" "ragd $(cat VERSION)"
"$RAGD_BIN" serve --help >"$TEST_TMP/help" 2>&1
check "serve --help exits 0" eq "$?" 0
check "serve --help lists flags and variables" grep -q -- '--max-body SIZE.*' "$TEST_TMP/help"
"$RAGD_BIN" serve --bogus 2>"$TEST_TMP/err"
check "unknown flag exits 2" eq "$?" 2
check "unknown flag message" grep -q "ragd serve: unknown option '--bogus'" "$TEST_TMP/err"
"$RAGD_BIN" serve --max-body lots 2>"$TEST_TMP/err"
check "bad value exits 2" eq "$?" 2
RAGD_LOG_FORMAT=xml "$RAGD_BIN" serve 2>"$TEST_TMP/err"
check "bad environment value exits 2" eq "$?" 2
check "bad environment value names the variable" grep -q "RAGD_LOG_FORMAT" "$TEST_TMP/err"
"$RAGD_BIN" frobnicate 2>/dev/null
check "unknown command exits 2" eq "$?" 2
"$RAGD_BIN" serve --listen 127.0.0.1:99999 --data-dir "$TEST_TMP/x" 2>"$TEST_TMP/err"
check "unusable listen address exits 1" eq "$?" 1

# --- exact request metrics on a fresh server ---------------------------------
start_ragd a --health-interval 0.2 || exit 1
U=http://127.0.0.1:$PORT_a
m=$(curl -s "$U/metrics")
check "known routes exist at zero before any request" \
    eq "$(metric_value "$m" 'http_requests_total{method="GET",endpoint="/ready",status="200"}')" 0
check "known routes have a zero 500 series" \
    eq "$(metric_value "$m" 'http_requests_total{method="GET",endpoint="/health",status="500"}')" 0
for _ in 1 2 3; do curl -s -o /dev/null "$U/health"; done
curl -s -o /dev/null "$U/nope"
curl -s -o /dev/null "$U/v1/documents/42/x"
curl -s -o /dev/null -X POST "$U/health"
curl -s -o /dev/null -X BREW "$U/health"
curl -s -o /dev/null -I "$U/health"
m=$(curl -s "$U/metrics")
check "GET /health 200 counted 3 times" eq "$(metric_value "$m" 'http_requests_total{method="GET",endpoint="/health",status="200"}')" 3
check "unmatched paths share one series" eq "$(metric_value "$m" 'http_requests_total{method="GET",endpoint="unmatched",status="404"}')" 2
check "405 counted on the route template" eq "$(metric_value "$m" 'http_requests_total{method="POST",endpoint="/health",status="405"}')" 1
check "unknown methods are OTHER" eq "$(metric_value "$m" 'http_requests_total{method="OTHER",endpoint="/health",status="405"}')" 1
check "HEAD counted as HEAD" eq "$(metric_value "$m" 'http_requests_total{method="HEAD",endpoint="/health",status="200"}')" 1
check "the first scrape is counted" eq "$(metric_value "$m" 'http_requests_total{method="GET",endpoint="/metrics",status="200"}')" 1
check "latency histogram count matches" eq "$(metric_value "$m" 'http_request_duration_seconds_count{method="GET",endpoint="/health"}')" 3
check "fine buckets below 10 ms" contains "$m" 'http_request_duration_seconds_bucket{method="GET",endpoint="/health",le="0.0005"}'
check "the guide's buckets are kept" contains "$m" 'http_request_duration_seconds_bucket{method="GET",endpoint="/health",le="2.5"}'
check "no raw path becomes a label" bash -c "! grep -q 'v1/documents/42' <<<\"\$1\"" _ "$m"

# --- routes and error bodies -------------------------------------------------
r=$(curl -s -D "$TEST_TMP/h" -w ' %{http_code}' "$U/health")
check "GET /health" eq "$r" '{"status":"ok"} 200'
check "GET /health is JSON" grep -qi '^Content-Type: application/json' "$TEST_TMP/h"
r=$(curl -s -I -w '%{http_code}' -o /dev/null "$U/health")
check "HEAD /health" eq "$r" 200
r=$(curl -s -w ' %{http_code}' "$U/ready")
check "GET /ready lists components" contains "$r" '"components":{"http":{"status":"healthy","required":true},"data_dir":{"status":"healthy","required":true},"store":{"status":"healthy","required":true},"embedder":{"status":"healthy","required":true},"index":{"status":"healthy","required":true},"cache":{"status":"healthy","required":false},"generator":{"status":"healthy","required":false}}'
check "GET /ready is 200" contains "$r" '} 200'
r=$(curl -s -w ' %{http_code}' "$U/no/such/route")
check "404 JSON body" eq "$r" '{"error":{"code":"not_found","message":"no route for GET /no/such/route"}} 404'
r=$(curl -s -D "$TEST_TMP/h" -w ' %{http_code}' -X DELETE "$U/metrics")
check "405 JSON body" eq "$r" '{"error":{"code":"method_not_allowed","message":"DELETE is not allowed on /metrics (allowed: GET, HEAD)"}} 405'
check "405 Allow header" grep -qi '^Allow: GET, HEAD' "$TEST_TMP/h"
r=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"x":1}' "$U/health")
check "405 with a body is refused before reading it" eq "$r" 405

# --- bounded series under 100,000 random paths -------------------------------
m=$(curl -s "$U/metrics")
before=$(grep -c '^http_request' <<<"$m")
get_before=$(metric_value "$m" 'http_requests_total{method="GET",endpoint="unmatched",status="404"}')
load=$(build/http_load "$PORT_a" 100000 random-paths)
check "100,000 random requests all answered" contains "$load" "sent=100000 2xx=0 4xx=100000 5xx=0 lost=0"
m=$(curl -s "$U/metrics")
after=$(grep -c '^http_request' <<<"$m")
check "random paths add at most a handful of series ($before -> $after)" test $((after - before)) -le 40
check "all GETs in the unmatched series" eq "$(metric_value "$m" 'http_requests_total{method="GET",endpoint="unmatched",status="404"}')" $((get_before + 93750))
check "all odd methods in OTHER" eq "$(metric_value "$m" 'http_requests_total{method="OTHER",endpoint="unmatched",status="404"}')" 6250
echo "       (http_load: $load)"

# --- exposition formats, gzip, promtool --------------------------------------
curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/text" "$U/metrics"
check "text format content type" grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$TEST_TMP/h"
curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/om" -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' "$U/metrics"
check "OpenMetrics when asked" grep -qi '^Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8' "$TEST_TMP/h"
check "OpenMetrics ends with # EOF" eq "$(tail -1 "$TEST_TMP/om")" "# EOF"
check "OpenMetrics counter family" grep -q '^# TYPE http_requests counter' "$TEST_TMP/om"
curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/gz" -H 'Accept-Encoding: gzip' "$U/metrics"
check "gzip when accepted" grep -qi '^Content-Encoding: gzip' "$TEST_TMP/h"
check "Vary: Accept-Encoding" grep -qi '^Vary: Accept-Encoding' "$TEST_TMP/h"
check "gzip body inflates to an exposition" bash -c "gzip -dc '$TEST_TMP/gz' | grep -q '^# TYPE http_requests_total counter'"
for fam in system_info cpu_usage_percent memory_usage_bytes memory_usage_percent disk_usage_percent \
    gpu_count http_requests_total http_request_duration_seconds component_health_status \
    process_cpu_seconds_total process_resident_memory_bytes process_start_time_seconds \
    process_open_fds process_max_fds process_threads process_virtual_memory_bytes ragd_build_info; do
    check "exports $fam" grep -q "^# TYPE $fam " "$TEST_TMP/text"
done
complaints=$(promtool check metrics <"$TEST_TMP/text" 2>&1)
others=$(grep -v -E '^(gpu_count|active_documents_count|total_embeddings_count) ' <<<"$complaints" | grep -v '^$')
check "promtool: only the contract's allowed complaints" eq "$others" ""
echo "       (promtool said: $(tr '\n' ';' <<<"$complaints"))"

# --- readiness follows the data directory ------------------------------------
rm -rf "$TEST_TMP/a-data"
sleep 0.6
r=$(curl -s -w ' %{http_code}' "$U/ready")
check "/ready is 503 when the data directory is gone" contains "$r" '"status":"not_ready"'
check "/ready 503 status" contains "$r" ' 503'
check "data_dir unhealthy in metrics" eq "$(metric_value "$(curl -s "$U/metrics")" 'component_health_status{component="data_dir"}')" 0
r=$(curl -s -o /dev/null -w '%{http_code}' "$U/health")
check "/health (liveness) still 200" eq "$r" 200
mkdir -p "$TEST_TMP/a-data"
sleep 0.6
check "/ready recovers" eq "$(curl -s -o /dev/null -w '%{http_code}' "$U/ready")" 200

# --- stalled clients time out ------------------------------------------------
start_ragd t --timeout 1 || exit 1
exec 3<>/dev/tcp/127.0.0.1/"$PORT_t"
printf 'GET /health HTTP/1.1\r\nHost: x\r\n' >&3
sleep 2.5
read -r -t 2 line <&3
rc=$?
exec 3<&-
check "a stalled client is disconnected (read got EOF)" eq "$rc" 1
stop_pid "$PID_t"

# --- GPU through the fake NVML ----------------------------------------------
FAKE_NVML_FAIL_FILE=$TEST_TMP/gpu-fail start_ragd g --nvml-library build/fake_nvml/libnvidia-ml.so.1 || exit 1
m=$(curl -s "http://127.0.0.1:$PORT_g/metrics")
check "gpu_count from NVML" eq "$(metric_value "$m" gpu_count)" 2
check "per-device memory" eq "$(metric_value "$m" 'gpu_memory_used_bytes{device="cuda:0"}')" 21474836480
check "per-device utilisation" eq "$(metric_value "$m" 'gpu_utilization_percent{device="cuda:1"}')" 99
touch "$TEST_TMP/gpu-fail"
m=$(curl -s "http://127.0.0.1:$PORT_g/metrics")
check "a failing device is left out" eq "$(metric_value "$m" 'gpu_memory_used_bytes{device="cuda:1"}')" absent
check "and counted" eq "$(metric_value "$m" 'ragd_gpu_read_errors_total{device="cuda:1"}')" 1
check "GPU load logged once" grep -q "gpu: NVML loaded from build/fake_nvml/libnvidia-ml.so.1, 2 device(s)" "$LOG_g"
stop_pid "$PID_g"
check "no GPU library: gpu_count 0" eq "$(metric_value "$(cat "$TEST_TMP/text")" gpu_count)" 0

# --- JSON logs ---------------------------------------------------------------
start_ragd j --log-format json || exit 1
curl -s -o /dev/null "http://127.0.0.1:$PORT_j/health?x=1"
stop_pid "$PID_j"
check "JSON log: every line parses, one request line" /usr/bin/python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
req = [l for l in lines if l.get("msg") == "request"]
assert len(req) == 1, req
r = req[0]
assert (r["method"], r["path"], r["route"], r["status"]) == ("GET", "/health", "/health", 200), r
assert r["duration_ms"] >= 0 and r["bytes_out"] == 15, r
assert all("ts" in l and "level" in l for l in lines)
' "$LOG_j"

# --- graceful shutdown ---------------------------------------------------------
start_ragd s --shutdown-timeout 5 || exit 1
exec 3<>/dev/tcp/127.0.0.1/"$PORT_s"
printf 'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab' >&3   # in flight
sleep 0.2
kill -TERM "$PID_s"
sleep 0.5
check "SIGTERM waits for the request in flight" kill -0 "$PID_s"
check "no new connections while draining" bash -c "! curl -s -m 1 http://127.0.0.1:$PORT_s/health"
printf 'cde' >&3
read -r -t 2 status <&3
exec 3<&-
check "the in-flight request completes" contains "$status" "HTTP/1.1 200"
wait "$PID_s"
check "exit status 0 after SIGTERM" eq "$?" 0
check "shutdown logged" grep -q "received SIGTERM" "$LOG_s"

start_ragd w --shutdown-timeout 1 || exit 1
exec 3<>/dev/tcp/127.0.0.1/"$PORT_w"
printf 'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\na' >&3   # never finishes
sleep 0.2
t0=$(date +%s%N)
kill -INT "$PID_w"
wait "$PID_w"
rc=$?
t1=$(date +%s%N)
exec 3<&-
check "SIGINT with a stalled request: exit 0" eq "$rc" 0
check "the wait is bounded by --shutdown-timeout ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 4000

stop_pid "$PID_a"
check "the first server stops with 0" eq "$?" 0
finish

#!/usr/bin/env bash
# `promtool check metrics` (Debian's prometheus package) on an exposition that
# uses every feature of the metrics library: it must find nothing to say.
set -u
out=$(build/metrics_demo text) || { echo "metrics_demo failed"; exit 1; }
for want in demo_http_requests_total demo_http_request_duration_seconds_bucket \
            process_cpu_seconds_total process_start_time_seconds demo_build_info \
            'ragd_metrics_dropped_series_total{family="demo_limited_total"} 1'; do
    grep -qF "$want" <<<"$out" || { echo "exposition lacks $want"; exit 1; }
done
complaints=$(promtool check metrics <<<"$out" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$complaints" ]; then
    echo "promtool check metrics complained (rc=$rc):"
    echo "$complaints"
    exit 1
fi
echo "promtool check metrics: clean ($(grep -vc '^#' <<<"$out") samples)"

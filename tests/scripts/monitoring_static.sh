#!/usr/bin/env bash
# The monitoring stack as code, statically: Prometheus config and rules,
# the rules' unit tests, Alertmanager config, docker compose, Grafana files.
source "$(dirname "$0")/lib/common.sh"
M=monitoring
out=$(promtool check config $M/prometheus/prometheus.yml 2>&1)
check "promtool check config" eq "$?" 0
out=$(promtool check rules $M/prometheus/rules/*.yml 2>&1)
check "promtool check rules" eq "$?" 0
out=$(promtool test rules $M/prometheus/tests/*.yml 2>&1)
rc=$?
check "promtool test rules (every alert fires and stays silent as it should)" eq "$rc" 0
[ $rc -eq 0 ] || echo "$out" | head -40
check "rules: the guide's four alerts keep their names" bash -c "grep -c -E 'alert: (HighResponseTime|HighErrorRate|LowCacheHitRate|HighGPUMemoryUsage)$' $M/prometheus/rules/alerts.yml | grep -qx 4"
check "rules: group rag_alerts evaluated every 30s" bash -c "grep -A1 'name: rag_alerts' $M/prometheus/rules/alerts.yml | grep -q 'interval: 30s'"
# every alert has a unit test that fires it
for a in $(sed -n 's/^ *- alert: //p' $M/prometheus/rules/alerts.yml); do
    check "unit test fires $a" bash -c "grep -B1 -A3 'alertname: $a\$' $M/prometheus/tests/alerts_test.yml | grep -q 'exp_labels'"
done
out=$(amtool check-config $M/alertmanager/alertmanager.yml 2>&1)
check "amtool check-config" eq "$?" 0
check "alertmanager: resolved notifications on" grep -q 'send_resolved: true' $M/alertmanager/alertmanager.yml
out=$(cd $M && GRAFANA_ADMIN_PASSWORD=test-only docker-compose config 2>&1)
check "docker-compose config" eq "$?" 0
check "compose: no :latest image" bash -c "! grep -q ':latest' <<<\"\$1\"" _ "$out"
check "compose: no external network" bash -c "! grep -q 'external: true' <<<\"\$1\"" _ "$out"
check "compose: lifecycle API off" bash -c "! grep -qE '^ *- *--web.enable-lifecycle' $M/docker-compose.yml"
check "compose: only Grafana beyond loopback" eq "$(grep -E '^\s+- "[0-9]' $M/docker-compose.yml | grep -vc '127.0.0.1')" 1
(cd $M && docker-compose config >/dev/null 2>&1)
check "compose refuses to run without GRAFANA_ADMIN_PASSWORD" test $? -ne 0
out=$(/usr/bin/python3 tests/tools/check_dashboard.py $M 2>&1)
check "dashboard and provisioning files ($(tail -1 <<<"$out"))" eq "$?" 0
[ "$FAILS" -eq 0 ] || echo "$out"
finish

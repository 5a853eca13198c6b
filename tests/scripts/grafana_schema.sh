#!/usr/bin/env bash
# The committed Grafana dashboard against Grafana's own published schema:
# the Dashboard type of @grafana/schema (npm, web/package.json), checked by
# the TypeScript compiler with excess-property checks, so a misspelt field,
# a field Grafana does not have, a missing required one or a value of the
# wrong type fails. Grafana's string enums (e.g. ThresholdsMode) accept
# their values as written in JSON. A broken copy must fail, so that the
# check is known to bite.
source "$(dirname "$0")/lib/common.sh"
D=monitoring/grafana/dashboards/rag-system-monitoring.json
ln -s "$PWD/web/node_modules" "$TEST_TMP/node_modules"
cat >"$TEST_TMP/tsconfig.json" <<'JSON'
{"compilerOptions": {"strict": true, "noEmit": true, "module": "esnext", "moduleResolution": "bundler",
                     "target": "es2020", "skipLibCheck": true, "types": []},
 "files": ["check.ts"]}
JSON
typecheck() { # JSON_FILE: 0 when it is a Grafana Dashboard
    {
        echo "import type { Dashboard } from '@grafana/schema';"
        echo 'type Loose<T> = T extends string ? `${T}` : T extends number ? number : T extends boolean ? boolean'
        echo '  : T extends readonly (infer U)[] ? Loose<U>[] : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;'
        echo 'export const dashboard: Loose<Dashboard> ='
        cat "$1"
        echo ';'
    } >"$TEST_TMP/check.ts"
    node web/node_modules/typescript/bin/tsc -p "$TEST_TMP/tsconfig.json" >"$TEST_TMP/tsc.out" 2>&1
}
typecheck "$D"
rc=$?
check "the dashboard is a Dashboard of @grafana/schema $(node -p 'require("./web/node_modules/@grafana/schema/package.json").version')" eq "$rc" 0
[ $rc -eq 0 ] || sed 's/^/       /' "$TEST_TMP/tsc.out" | head -20
sed 's/"graphTooltip": 1/"graphTooltip": "shared"/' "$D" >"$TEST_TMP/bad1.json"
typecheck "$TEST_TMP/bad1.json"
check "a value of the wrong type fails" eq "$? $(grep -c 'error TS' "$TEST_TMP/tsc.out")" "2 1"
sed 's/"editable": false/"editible": false/' "$D" >"$TEST_TMP/bad2.json"
typecheck "$TEST_TMP/bad2.json"
check "a field Grafana does not have fails" eq "$? $(grep -c "'\"editible\"' does not exist" "$TEST_TMP/tsc.out")" "2 1"
finish

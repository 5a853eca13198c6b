#!/usr/bin/env bash
# ragd's HTTP module, black-box, through tests/tools/http_echo (the real
# server code with one JSON write route): body cap, JSON errors, API key.
source "$(dirname "$0")/lib/common.sh"

spawn echo build/http_echo 127.0.0.1:0 1024 s3cret || exit 1
ECHO_PORT=$PORT_echo
ECHO_PID=$PID_echo
U=http://127.0.0.1:$ECHO_PORT
AUTH=(-H "Authorization: Bearer s3cret")

r=$(curl -s -w ' %{http_code}' "${AUTH[@]}" -H 'Content-Type: application/json' -d '{"a":[1,2],"b":"ü"}' "$U/echo")
check "valid JSON is answered" eq "$r" '{"a":[1,2],"b":"ü"} 200'

r=$(curl -s -w ' %{http_code}' "${AUTH[@]}" -d '{"a":' "$U/echo")
check "truncated JSON: 400 invalid_json" contains "$r" '{"error":{"code":"invalid_json","message":"invalid JSON at line 1'
check "truncated JSON: status" contains "$r" " 400"
r=$(curl -s -w ' %{http_code}' "${AUTH[@]}" -d '[1,2]' "$U/echo")
check "JSON array: 400" eq "$r" '{"error":{"code":"invalid_json","message":"the body must be a JSON object"}} 400'
r=$(curl -s -w ' %{http_code}' "${AUTH[@]}" -X POST "$U/echo")
check "empty body: 400" contains "$r" 'request body is empty'
r=$(curl -s -w ' %{http_code}' "${AUTH[@]}" -d '{"a":1,"a":2}' "$U/echo")
check "duplicate keys: 400" contains "$r" " 400"

# API key on the write route; read routes stay open.
r=$(curl -s -D "$TEST_TMP/h" -w ' %{http_code}' -d '{}' "$U/echo")
check "no key: 401" eq "$r" '{"error":{"code":"unauthorized","message":"this route needs the API key: Authorization: Bearer <key>"}} 401'
check "no key: WWW-Authenticate" grep -qi '^WWW-Authenticate: Bearer' "$TEST_TMP/h"
r=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' -d '{}' "$U/echo")
check "wrong key: 401" eq "$r" 401
r=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cre' -d '{}' "$U/echo")
check "key prefix: 401" eq "$r" 401
r=$(curl -s -o /dev/null -w '%{http_code}' "$U/ping")
check "read route needs no key" eq "$r" 200

# Body cap: declared too large -> 413 before the body is sent.
exec 3<>/dev/tcp/127.0.0.1/"$ECHO_PORT"
printf 'POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n' >&3
read -r -t 2 status <&3
exec 3<&-
check "declared body over the cap: 413 without sending it" contains "$status" "HTTP/1.1 413"

# chunked, no declared length, over the cap -> 413 after draining
head -c 5000 /dev/zero | tr '\0' 'x' >"$TEST_TMP/big"
r=$(curl -s -w ' %{http_code}' "${AUTH[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$TEST_TMP/big" "$U/echo")
check "chunked body over the cap: 413" contains "$r" '"code":"payload_too_large"'
check "chunked body over the cap: status" contains "$r" " 413"
r=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" --data-binary @"$TEST_TMP/big" "$U/echo")
check "declared body over the cap (curl): 413" eq "$r" 413
# exactly at the cap is fine
printf '{"k":"%s"}' "$(head -c 1016 /dev/zero | tr '\0' 'y')" >"$TEST_TMP/exact"
r=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" --data-binary @"$TEST_TMP/exact" "$U/echo")
check "a body of exactly the cap is accepted" eq "$r" 200
r=$(curl -s -o /dev/null -w '%{http_code}' "$U/ping")
check "server still serves after refusals" eq "$r" 200

stop_pid "$ECHO_PID"
check "http_echo stops cleanly" eq "$?" 0
finish

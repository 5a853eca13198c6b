#!/usr/bin/env bash
# Answers: the extractive generator (the default), the openai generator
# against an OpenAI-compatible fake on loopback (tests/tools/fake_chat.py):
# streaming, retries, timeouts, cut and malformed streams, a client that
# leaves mid-stream; the OpenAI-compatible routes; `ragd ask`; and the
# metrics of every case, moved exactly as the traffic says.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
post() { curl -s -w ' %{http_code}' -H 'Content-Type: application/json' -d "$2" "$1"; }
series() { metric_value "$(curl -s "$1/metrics")" "$2"; }

# ---- extractive ----------------------------------------------------------------
start_ragd x || exit 1
X=http://127.0.0.1:$PORT_x
r=$(post $X/v1/answer '{"query":"What is the error budget?"}')
check "empty store: 200" contains "$r" ' 200'
check "empty store: says there is no context" contains "$r" '"outcome":"no_context"'
check "empty store: no citations" contains "$r" '"citations":[]'
check "no context is counted" eq "$(series $X 'ragd_answers_total{outcome="no_context"}')" 1
check "and no generator call is timed" eq "$(series $X 'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="extractive",gen_ai_request_model="extractive",error_type=""}')" 0

post $X/v1/documents '{"id":"slo","title":"SLO","content":"Service levels.\n\nAn availability objective of 99.9 percent leaves an error budget of 0.1 percent of requests. Burn-rate alerts compare error ratios over two windows.\n\nThe weather is nice."}' >/dev/null
post $X/v1/documents '{"id":"jp","title":"運用","content":"ダッシュボードで応答時間を確認します。アラートは Webhook に送信します。"}' >/dev/null
r=$(post $X/v1/answer '{"query":"What is the error budget?","top_k":3}')
check "extractive: 200" contains "$r" ' 200'
a=$(jq_ 'd["answer"]' <<<"${r% *}")
check "extractive: the best sentence, cited" eq "$a" "An availability objective of 99.9 percent leaves an error budget of 0.1 percent of requests. [1]"
check "extractive: model says extractive" contains "$r" '"model":"extractive"'
check "extractive: citation 1 is the document" eq "$(jq_ 'd["citations"][0]["document_id"], d["citations"][0]["n"], d["citations"][0]["title"]' <<<"${r% *}")" "slo 1 SLO"
check "extractive: usage and timings" eq "$(jq_ 'd["usage"]["completion_tokens"] > 0, d["timings_ms"]["first_token"] <= d["timings_ms"]["total"]' <<<"${r% *}")" "True True"
r=$(post $X/v1/answer '{"query":"ダッシュボード 応答時間","mode":"keyword"}')
check "extractive: Japanese sentence" contains "$r" 'ダッシュボードで応答時間を確認します。 [1]'
check "answered are counted" eq "$(series $X 'ragd_answers_total{outcome="answered"}')" 2
check "time to first token observed per answer (3)" eq "$(series $X 'gen_ai_server_time_to_first_token_seconds_count{gen_ai_operation_name="chat",gen_ai_request_model="extractive"}')" 3

# streaming: citations, deltas, done
curl -sN -d '{"query":"error budget","stream":true,"top_k":1}' $X/v1/answer >"$TEST_TMP/sse"
check "SSE: events in order" eq "$(grep '^event:' "$TEST_TMP/sse" | uniq | tr '\n' ' ')" "event: citations event: delta event: done "
check "SSE: the done event has usage" contains "$(grep -A1 'event: done' "$TEST_TMP/sse")" '"usage":{"prompt_tokens"'

# bad input: documented JSON errors, nothing counted
for body in '{}' '{"query":""}' '{"query":"x","top_k":0}' '{"query":"x","stream":"yes"}' \
    '{"query":"x","temperature":3}' '{"query":"x","max_tokens":0}' '{"query":"x","mode":"fuzzy"}' \
    '{"query":"x","filter":{"a":1}}' '{"query":"x","max_per_document":-1}' '{"query":"x","max_per_document":"2"}'; do
    r=$(post $X/v1/answer "$body")
    check "400 for $body" contains "$r" '"code":"invalid_field"'
done
r=$(post $X/v1/answer '{"query":')
check "400 for broken JSON" contains "$r" '"code":"invalid_json"'
check "bad input is not an answer" eq "$(series $X 'ragd_answers_total{outcome="error"}')" 0

# OpenAI-compatible routes
r=$(curl -s $X/v1/models)
check "/v1/models lists the one model" eq "$(jq_ 'd["object"], d["data"][0]["id"], d["data"][0]["object"]' <<<"$r")" "list extractive model"
r=$(post $X/v1/chat/completions '{"model":"extractive","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello"},{"role":"assistant","content":"hi"},{"role":"user","content":[{"type":"text","text":"What is the error budget?"}]}]}')
check "chat: 200, chat.completion" eq "$(jq_ 'd["object"], d["choices"][0]["message"]["role"], d["choices"][0]["finish_reason"]' <<<"${r% *}")" "chat.completion assistant stop"
check "chat: the answer, with its citations in an extra field" eq "$(jq_ '"error budget" in d["choices"][0]["message"]["content"], d["citations"][0]["document_id"], d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + d["usage"]["completion_tokens"]' <<<"${r% *}")" "True slo True"
curl -sN -d '{"messages":[{"role":"user","content":"What is the error budget?"}],"stream":true,"stream_options":{"include_usage":true}}' $X/v1/chat/completions >"$TEST_TMP/chat"
check "chat stream: ends with [DONE]" eq "$(tail -2 "$TEST_TMP/chat" | head -1)" "data: [DONE]"
check "chat stream: role first, then content, then stop, then usage" eq "$(grep '^data: {' "$TEST_TMP/chat" | sed 's/^data: //' | $PY -c '
import json,sys
ev=[json.loads(l) for l in sys.stdin]
print(ev[0]["choices"][0]["delta"].get("role"), "citations" in ev[0], ev[1]["choices"][0]["delta"]["content"][:2], ev[-2]["choices"][0]["finish_reason"], ev[-1]["choices"], "usage" in ev[-1])')" "assistant True An stop [] True"
r=$(post $X/v1/chat/completions '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}')
check "chat: another model is 404 model_not_found, OpenAI's shape" eq "$(jq_ 'd["error"]["code"], d["error"]["type"]' <<<"${r% *}") ${r##* }" "model_not_found invalid_request_error 404"
for body in '{"messages":[]}' '{"messages":[{"role":"assistant","content":"x"}]}' '{"messages":[{"role":"tool","content":"x"}]}' \
    '{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}' '{"messages":[{"role":"user","content":""}]}'; do
    r=$(post $X/v1/chat/completions "$body")
    check "chat: 400 for $body" contains "$r" '"type":"invalid_request_error","param":null}} 400'
done
r=$(curl -s -o /dev/null -w '%{http_code}' -X POST $X/v1/models)
check "POST /v1/models: 405" eq "$r" 405

# ragd ask
out=$("$RAGD_BIN" ask "What is the error budget?" --server $X --top-k 2)
check "ask: exit 0" eq "$?" 0
check "ask: the answer" contains "$out" "error budget of 0.1 percent of requests. [1]"
check "ask: the cited sources only" eq "$(grep -c '^  \[' <<<"$out") $(grep '^  \[1\]' <<<"$out")" "1   [1] SLO (slo #0)"
"$RAGD_BIN" ask "" --server $X 2>"$TEST_TMP/ask.err"
check "ask: a bad question exits 1 with the server's message" eq "$? $(cat "$TEST_TMP/ask.err")" "1 ragd ask: HTTP 400: 'query' (a non-empty string) is required"
"$RAGD_BIN" ask "x" --server http://127.0.0.1:1 2>/dev/null
check "ask: no server exits 1" eq "$?" 1
"$RAGD_BIN" ask 2>/dev/null
check "ask: no question exits 2" eq "$?" 2
stop_pid "$PID_x"
check "extractive server stops cleanly" eq "$?" 0

# ---- openai ---------------------------------------------------------------------
spawn fake $PY tests/tools/fake_chat.py || exit 1
F=http://127.0.0.1:$PORT_fake
ctl() { curl -s -o /dev/null -d "$1" "$F/control"; }
fstat() { curl -s "$F/stats" | jq_ "$1"; }
RAGD_GENERATOR_API_KEY=gen-secret start_ragd o --generator openai --generator-url "$F" \
    --generator-model fake-model --generator-first-token-timeout 1 --generator-retries 2 \
    --generator-max-tokens 77 --health-interval 0.2 || exit 1
O=http://127.0.0.1:$PORT_o
post $O/v1/documents '{"id":"slo","title":"SLO","content":"An availability objective of 99.9 percent leaves an error budget of 0.1 percent of requests."}' >/dev/null
gseries() { series $O "$1"; }
ERR='ragd_generator_errors_total{reason="'
ok_calls() { gseries 'gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="fake-model",error_type=""}'; }

sleep 0.5
check "generator healthy after its first probe" eq "$(gseries 'component_health_status{component="generator"}')" 1
ctl '{"mode":"ok","tokens":5}'
r=$(post $O/v1/answer '{"query":"error budget"}')
check "openai: 200, the fake's tokens" eq "$(jq_ 'd["answer"], d["model"], d["usage"]["completion_tokens"]' <<<"${r% *}")" "tok0 tok1 tok2 tok3 tok4  fake-model 5"
check "openai: prompt tokens from the server's usage" eq "$(jq_ 'd["usage"]["prompt_tokens"] >= 100' <<<"${r% *}")" True
check "openai: the configured model is sent" eq "$(fstat 'd["last"]["model"]')" fake-model
check "openai: the key comes from RAGD_GENERATOR_API_KEY" eq "$(fstat 'd["auth"]')" "Bearer gen-secret"
check "openai: streamed, usage asked, default max_tokens" eq "$(fstat 'd["last"]["stream"], d["last"]["stream_options"]["include_usage"], d["last"]["max_tokens"]')" "True True 77"
check "openai: system prompt with the numbered context, then the question" eq "$(fstat '[m["role"] for m in d["last"]["messages"]], "[1] SLO\nAn availability" in d["last"]["messages"][0]["content"], d["last"]["messages"][-1]["content"]')" "['system', 'user'] True error budget"
check "openai: token usage observed (input and output)" eq "$(gseries 'gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="fake-model",gen_ai_token_type="output"}')" 5
r=$(post $O/v1/answer '{"query":"error budget","max_tokens":3,"temperature":0.5}')
check "openai: max_tokens and temperature forwarded" eq "$(fstat 'd["last"]["max_tokens"], d["last"]["temperature"]')" "3 0.5"
r=$(post $O/v1/chat/completions '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"user","content":"error budget?"}]}')
check "chat through openai: history kept, model fixed" eq "$(fstat '[m["role"] for m in d["last"]["messages"]], d["last"]["model"]') ${r##* }" "['system', 'user', 'assistant', 'user'] fake-model 200"
check "three answers, three good calls" eq "$(gseries 'ragd_answers_total{outcome="answered"}') $(ok_calls)" "3 3"

ctl '{"mode":"flaky429"}'
n0=$(fstat 'd["requests"]')
r=$(post $O/v1/answer '{"query":"error budget"}')
check "429 then success: 200 after a retry" eq "${r##* } $(($(fstat 'd["requests"]') - n0))" "200 2"
ctl '{"mode":"flaky500"}'
r=$(post $O/v1/answer '{"query":"error budget"}')
check "500 then success: 200" eq "${r##* }" 200
check "a retried success is no error" eq "$(gseries "${ERR}http_5xx\"}") $(gseries "${ERR}rate_limited\"}")" "0 0"

ctl '{"mode":"error400"}'
n0=$(fstat 'd["requests"]')
r=$(post $O/v1/answer '{"query":"error budget"}')
check "400 from upstream: 502 generator_error, not retried" eq "$(jq_ 'd["error"]["code"]' <<<"${r% *}") ${r##* } $(($(fstat 'd["requests"]') - n0))" "generator_error 502 1"
check "400 from upstream: its message passed on" contains "$r" "bad request, says the fake"
check "400 counted as http_4xx" eq "$(gseries "${ERR}http_4xx\"}")" 1

ctl '{"mode":"ok","first_delay":1.8}'
a0=$(fstat 'd["aborted"]')
t0=$(date +%s%N)
r=$(post $O/v1/answer '{"query":"error budget"}')
ms=$((($(date +%s%N) - t0) / 1000000))
check "first-token timeout: 504 generator_timeout" eq "$(jq_ 'd["error"]["code"]' <<<"${r% *}") ${r##* }" "generator_timeout 504"
check "first-token timeout: after ~1 s, not 1.8 ($ms ms)" test $ms -lt 1700
check "first-token timeout counted" eq "$(gseries "${ERR}first_token_timeout\"}")" 1
for _ in $(seq 30); do [ "$(fstat 'd["aborted"]')" != "$a0" ] && break; sleep 0.1; done
check "first-token timeout: the upstream request was closed" eq "$(($(fstat 'd["aborted"]') - a0))" 1

ctl '{"mode":"cut","first_delay":0,"tokens":8}'
r=$(post $O/v1/answer '{"query":"error budget"}')
check "cut stream: 502, reason stream_cut" eq "$(jq_ 'd["error"]["code"]' <<<"${r% *}") ${r##* } $(gseries "${ERR}stream_cut\"}")" "generator_error 502 1"
curl -sN -d '{"query":"error budget","stream":true}' $O/v1/answer >"$TEST_TMP/cut"
check "cut stream while streaming: deltas, then an error event" eq "$(grep '^event:' "$TEST_TMP/cut" | uniq | tr '\n' ' ')" "event: citations event: delta event: error "
ctl '{"mode":"malformed"}'
r=$(post $O/v1/answer '{"query":"error budget"}')
check "malformed SSE: 502, reason malformed" eq "${r##* } $(gseries "${ERR}malformed\"}")" "502 1"
ctl '{"mode":"wrong_shape"}'
r=$(post $O/v1/answer '{"query":"error budget"}')
check "wrong shape: 502, reason malformed" eq "${r##* } $(gseries "${ERR}malformed\"}")" "502 2"
ctl '{"mode":"stream_error"}'
r=$(post $O/v1/answer '{"query":"error budget"}')
check "error object mid-stream: 502 with its message" eq "${r##* } $(jq_ '"out of memory on the GPU" in d["error"]["message"]' <<<"${r% *}")" "502 True"
ctl '{"mode":"no_usage","tokens":4}'
r=$(post $O/v1/answer '{"query":"error budget"}')
check "no usage from the server: completion counted by chunks, prompt unknown" eq "$(jq_ 'd["usage"]["completion_tokens"], d["usage"]["prompt_tokens"]' <<<"${r% *}")" "4 None"

# a client that leaves mid-stream stops the upstream stream
ctl '{"mode":"ok","tokens":100,"delay":0.05}'
a0=$(fstat 'd["aborted"]')
curl -sN --max-time 0.6 -d '{"query":"error budget","stream":true}' $O/v1/answer >"$TEST_TMP/gone"
sleep 0.5
check "client gone: the upstream stream was cut" eq "$(($(fstat 'd["aborted"]') - a0))" 1
check "client gone: counted" eq "$(gseries 'ragd_answers_total{outcome="client_gone"}')" 1
check "client gone: the client got part of it" contains "$(cat "$TEST_TMP/gone")" '"text":"tok'
a0=$(fstat 'd["aborted"]')
curl -s --max-time 0.6 -d '{"query":"error budget"}' $O/v1/answer >/dev/null
sleep 0.5
check "client gone (not streaming): the upstream stream was cut too" eq "$(($(fstat 'd["aborted"]') - a0))" 1
check "client gone: counted twice" eq "$(gseries 'ragd_answers_total{outcome="client_gone"}')" 2
check "client gone: no generator error (no cancelled series at all)" eq "$(gseries "${ERR}cancelled\"}")" absent

# a stop while answers are being written: they end, saying why, and ragd exits
start_ragd s --generator openai --generator-url "$F" --generator-model fake-model --shutdown-timeout 0.5 \
    --generator-timeout 1.5 || exit 1
S=http://127.0.0.1:$PORT_s
post $S/v1/documents '{"id":"slo","content":"An availability objective leaves an error budget."}' >/dev/null
t0=$(date +%s%N)
r=$(post $S/v1/answer '{"query":"error budget"}')
ms=$((($(date +%s%N) - t0) / 1000000))
check "total timeout: 504 after --generator-timeout ($ms ms), reason timeout" eq "$(jq_ 'd["error"]["code"]' <<<"${r% *}") ${r##* } $(series $S "${ERR}timeout\"}")" "generator_timeout 504 1"
check "total timeout: not before 1.5 s, long before the 5 s stream" test $ms -ge 1500 -a $ms -lt 2500
curl -sN -d '{"query":"error budget","stream":true}' $S/v1/answer >"$TEST_TMP/stop-stream" &
c1=$!
curl -s -w ' %{http_code}' -d '{"query":"error budget"}' $S/v1/answer >"$TEST_TMP/stop-whole" &
c2=$!
sleep 0.7
t0=$(date +%s%N)
stop_pid "$PID_s"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
wait $c1 $c2
check "stop during answers: exit 0 ($ms ms)" eq "$rc" 0
check "stop during answers: bounded by --shutdown-timeout" test $ms -lt 3000
check "stop: the stream ends with a shutting_down event" eq "$(tail -3 "$TEST_TMP/stop-stream" | head -2 | tr '\n' ' ')" 'event: error data: {"error":{"code":"shutting_down","message":"the server is shutting down"}} '
check "stop: the whole answer is a 503 shutting_down" eq "$(cat "$TEST_TMP/stop-whole")" '{"error":{"code":"shutting_down","message":"the server is shutting down"}} 503'

# the generator down, then back
ctl '{"mode":"ok","tokens":3,"delay":0}'
kill -TERM "$PID_fake"; wait "$PID_fake" 2>/dev/null
r=$(post $O/v1/answer '{"query":"error budget"}')
check "generator down: 503 generator_unavailable" eq "$(jq_ 'd["error"]["code"]' <<<"${r% *}") ${r##* }" "generator_unavailable 503"
check "generator down: reason connect" eq "$(gseries "${ERR}connect\"}")" 1
check "generator down: health 0" eq "$(gseries 'component_health_status{component="generator"}')" 0
check "generator down: /ready still 200 (retrieval works)" eq "$(curl -s -o /dev/null -w '%{http_code}' $O/ready)" 200
check "generator down: /ready names it" contains "$(curl -s $O/ready)" '"generator"'
check "errors counted by outcome" eq "$(gseries 'ragd_answers_total{outcome="error"}')" 8
m=$(curl -s $O/metrics)
check "every answer's duration observed, by outcome" eq "$(awk '/^gen_ai_server_request_duration_seconds_count/ {s += $2} END {print s}' <<<"$m") $(awk '/^ragd_answers_total/ {s += $2} END {print s}' <<<"$m")" "16 16"
stop_pid "$PID_o"
check "openai server stops cleanly" eq "$?" 0

"$RAGD_BIN" serve --generator openai --data-dir "$TEST_TMP/y" 2>"$TEST_TMP/err"
check "openai without a URL: exit 2" eq "$? $(cat "$TEST_TMP/err")" "2 ragd serve: --generator openai needs --generator-url and --generator-model"
echo "no placeholder here" >"$TEST_TMP/tpl"
"$RAGD_BIN" serve --prompt-template "$TEST_TMP/tpl" --listen 127.0.0.1:0 --data-dir "$TEST_TMP/y" 2>"$TEST_TMP/err"
check "a template without {context}: exit 1, says so" eq "$? $(grep -c 'no {context}' "$TEST_TMP/err")" "1 1"
finish

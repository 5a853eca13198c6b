# Shared helpers of the black-box script tests (sourced, not run).
# Every server a test starts listens on 127.0.0.1 with a port the kernel
# picks, and is stopped by the EXIT trap. RAGD_BIN is the ragd under test
# (tests/run sets it to the sanitizer build for the second pass).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
RAGD_BIN=${RAGD_BIN:-build/ragd}
TEST_TMP=$(mktemp -d /tmp/ragd-test.XXXXXX)
FAILS=0
CHECKS=0
PIDS=()

cleanup() {
    # SIGTERM first, and time to exit: a sanitizer build checks for leaks on
    # a clean exit. What is still running after 5 s gets SIGKILL.
    {
        for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p"; done
        for _ in $(seq 50); do
            local alive=0
            for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -0 "$p" && alive=1; done
            [ $alive = 0 ] && break
            sleep 0.1
        done
        for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" && wait "$p"; done
    } 2>/dev/null
    rm -rf "$TEST_TMP"
}
trap cleanup EXIT

# check "what" command...: runs the command; a non-zero exit is a failure.
check() {
    local what=$1
    shift
    CHECKS=$((CHECKS + 1))
    if "$@"; then
        echo "  ok   $what"
    else
        echo "  FAIL $what"
        FAILS=$((FAILS + 1))
    fi
}

# eq ACTUAL EXPECTED: equality with a message on mismatch.
eq() {
    [ "$1" = "$2" ] && return 0
    echo "       got '$1', want '$2'"
    return 1
}

# contains HAYSTACK NEEDLE
contains() {
    grep -qF -- "$2" <<<"$1" && return 0
    echo "       missing '$2'"
    return 1
}

# start_ragd NAME [serve options...]: starts $RAGD_BIN serve on a free
# loopback port; sets PORT_<NAME>, PID_<NAME>, LOG_<NAME>.
start_ragd() {
    local name=$1
    shift
    local log=$TEST_TMP/$name.log
    "$RAGD_BIN" serve --listen 127.0.0.1:0 --data-dir "$TEST_TMP/$name-data" "$@" 2>"$log" &
    local pid=$!
    PIDS+=("$pid")
    local port=""
    for _ in $(seq 200); do
        port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        echo "  ragd did not start:"
        sed 's/^/    /' "$log"
        return 1
    fi
    printf -v "PORT_$name" %s "$port"
    printf -v "PID_$name" %s "$pid"
    printf -v "LOG_$name" %s "$log"
}

# spawn NAME CMD...: starts a helper that prints "listening on PORT" (the
# test tools) and waits for that line; sets PORT_<NAME> and PID_<NAME>.
spawn() {
    local name=$1 port=""
    shift
    "$@" >"$TEST_TMP/$name.out" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening on //p' "$TEST_TMP/$name.out")
        [ -n "$port" ] && break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        echo "  $name did not start:"
        sed 's/^/    /' "$TEST_TMP/$name.out"
        return 1
    fi
    printf -v "PORT_$name" %s "$port"
    printf -v "PID_$name" %s "$pid"
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_stack WHAT: scripts/run-stack on free loopback ports with the test
# overlay (1 s scrapes and evaluations, `for` of 3 s, 20 s windows), in
# $TEST_TMP/run, detached; RAGD_ARGS and ALERT_WEBHOOK_URL as the caller
# set them. Checks that it came up ("WHAT" names the check; the test ends
# if not) and sets RAGD_PORT, PROM_PORT, AM_PORT, NODE_PORT; its output is
# in $TEST_TMP/stack.out.
start_stack() {
    export RUN_DIR=$TEST_TMP/run RAGD_PORT=$(free_port) PROM_PORT=$(free_port) AM_PORT=$(free_port)
    export NODE_PORT=$(free_port)
    export SCRAPE_INTERVAL=1s EVAL_INTERVAL=1s RULE_FOR=3s RULE_WINDOW=20s GROUP_WAIT=1s GROUP_INTERVAL=1s
    export DETACH=1
    scripts/run-stack >"$TEST_TMP/stack.out" 2>&1
    local rc=$?
    check "$1" eq "$rc" 0
    [ $rc -eq 0 ] || { cat "$TEST_TMP/stack.out"; exit 1; }
    PIDS+=($(cat "$RUN_DIR/pids"))
}

# stop_pid PID: SIGTERM, then the exit status.
stop_pid() {
    kill -TERM "$1" 2>/dev/null
    wait "$1"
}

# metric_value EXPOSITION SERIES: value of an exact series, or "absent".
metric_value() {
    awk -v s="$2" 'index($0, s " ") == 1 { print $NF; found = 1 } END { if (!found) print "absent" }' <<<"$1"
}

finish() {
    echo "$((CHECKS - FAILS))/$CHECKS checks passed"
    [ "$FAILS" -eq 0 ]
}

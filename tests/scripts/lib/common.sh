# Shared helpers of the black-box script tests (sourced, not run).
# Every server a test starts listens on 127.0.0.1 with a port the kernel
# picks, and is stopped by the EXIT trap.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
TEST_TMP=$(mktemp -d /tmp/ragd-test.XXXXXX)
FAILS=0
CHECKS=0
PIDS=()

cleanup() {
    {
        for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p"; done
        sleep 0.2
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

# start_ragd NAME [serve options...]: starts build/ragd serve on a free
# loopback port; sets PORT_<NAME>, PID_<NAME>, LOG_<NAME>.
start_ragd() {
    local name=$1
    shift
    local log=$TEST_TMP/$name.log
    build/ragd serve --listen 127.0.0.1:0 --data-dir "$TEST_TMP/$name-data" "$@" 2>"$log" &
    local pid=$!
    PIDS+=("$pid")
    local port=""
    for _ in $(seq 100); do
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

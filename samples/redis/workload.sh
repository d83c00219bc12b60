#!/usr/bin/env bash
# Workload for the redis sample: commands through `docker exec ... redis-cli` inside the
# container and over RESP from the host to 127.0.0.1 (bash /dev/tcp, no client needed), every
# reply checked. SAVE makes redis write its dump file. Exits non-zero when redis misbehaves.
# Env: PROFILER_CONTAINER_ID (from profiler record, or set by hand), PROFILER_SAMPLE_PORT
# (default 16379).
set -euo pipefail
export LC_ALL=C   # ${#value} must count bytes for RESP lengths
# A write into a connection docker-proxy already dropped must fail (EPIPE) and be retried by
# connect(), not kill the script with SIGPIPE.
trap '' PIPE

port="${PROFILER_SAMPLE_PORT:-16379}"
cid="${PROFILER_CONTAINER_ID:-}"

fail() { echo "redis workload: $*" >&2; exit 1; }
[ -n "$cid" ] || fail "PROFILER_CONTAINER_ID is not set (profiler record sets it)"

# --- RESP over /dev/tcp ----------------------------------------------------------------------
# Connect and wait (bounded, 10 s) for PONG. docker-proxy accepts on the host port before redis
# listens and then drops the connection, so a failed PING means: reconnect and try again.
connect() {
    local i pong
    for i in $(seq 50); do
        if exec 3<>"/dev/tcp/127.0.0.1/$port"; then
            send PING 2>/dev/null || true
            pong=""
            IFS= read -r -t 2 pong <&3 || true
            [ "${pong%$'\r'}" = "+PONG" ] && return 0
            exec 3>&-
        fi 2>/dev/null
        sleep 0.2
    done
    fail "no PONG from 127.0.0.1:$port after 50 attempts"
}
# One write per command: bash's printf writes line by line, and small writes on one TCP
# connection meet Nagle + delayed ACK (40 ms each). echo -n writes its argument at once.
send() {
    local a buf
    printf -v buf '*%d\r\n' "$#"
    for a in "$@"; do printf -v buf '%s$%d\r\n%s\r\n' "$buf" "${#a}" "$a"; done
    echo -n "$buf" >&3
}
# Print one reply; arrays print one element a line. Values hold no newlines here.
reply() {
    local line n i
    IFS= read -r -t 10 line <&3 || fail "no reply from redis"
    line="${line%$'\r'}"
    case "$line" in
        +*|:*) printf '%s\n' "${line:1}" ;;
        -*) printf 'ERR %s\n' "${line:1}" ;;
        '$-1') printf '(nil)\n' ;;
        '$'*) IFS= read -r -t 10 line <&3 || fail "truncated bulk reply"
              printf '%s\n' "${line%$'\r'}" ;;
        '*'*) n="${line:1}"; for ((i = 0; i < n; i++)); do reply; done ;;
        *) fail "unexpected reply line: $line" ;;
    esac
}
r() { send "$@"; reply; }
expect() {   # expect WANT CMD ARGS...
    local want="$1" got; shift
    got="$(r "$@")"
    [ "$got" = "$want" ] || fail "$* -> '$got', expected '$want'"
}
# Inside the container, through the image's own client.
cli() { docker exec "$cid" redis-cli "$@"; }
expect_cli() {
    local want="$1" got; shift
    got="$(cli "$@")" || fail "docker exec redis-cli $* failed"
    [ "$got" = "$want" ] || fail "redis-cli $* -> '$got', expected '$want'"
}

connect

# Start from a known state, so the workload can run again against the same container.
cli DEL sample:inside sample:host sample:counter sample:list >/dev/null || fail "DEL failed"

expect_cli OK SET sample:inside "written by redis-cli"
expect_cli "written by redis-cli" GET sample:inside
expect_cli 1 INCR sample:counter

expect "written by redis-cli" GET sample:inside
expect OK SET sample:host hello
expect hello GET sample:host
for i in $(seq 2 101); do expect "$i" INCR sample:counter; done
expect 101 GET sample:counter
for i in $(seq 1 20); do expect "$i" LPUSH sample:list "item$i"; done
[ "$(r LRANGE sample:list 0 2 | tr '\n' ' ')" = "item20 item19 item18 " ] || fail "LRANGE returned the wrong items"
expect 1 DEL sample:host
expect '(nil)' GET sample:host
expect OK SAVE
expect_cli 101 GET sample:counter
docker exec "$cid" test -s /var/lib/redis/dump.rdb || fail "SAVE did not write /var/lib/redis/dump.rdb"
exec 3>&-

echo "redis workload: ok"

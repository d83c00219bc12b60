#!/usr/bin/env bash
# Production: memcaslap (4 threads, 128 concurrent connections, 15 s of get/set), stats
# (connections with their peer addresses), a restart after which it must answer again (memcached
# keeps data in memory only: nothing is expected to survive it).
source "$(dirname "$0")/../lib.sh"
corpus_init memcached 19004
mc() { python3 "$(dirname "$0")/mc.py" "$port" "$@"; }
step "connect"; wait_for 60 mc version || fail "no answer"
step "memcaslap 128 connections"
out="$(client_as root memcaslap -s "127.0.0.1:$port" -T 4 -c 128 -t 15s 2>&1)" || fail "memcaslap: $(tail -n 5 <<<"$out")"
grep -E '^(Run time|Get|Set)' <<<"$out" | head -n 4 | sed 's/^/  /'
step "large values"
client_as root memcaslap -s "127.0.0.1:$port" -T 2 -c 16 -x 2000 -X 500000 >/dev/null 2>&1 || fail "memcaslap with 500 kB values"
step "stats conns"
conns="$(mc stats conns | tr -d "\r")" || fail "stats conns"
grep -q ':addr ' <<<"$conns" || fail "stats conns lists no connection"
if grep ':addr ' <<<"$conns" | grep -Eq '\?|:0$'; then fail "peer addresses unknown: $(grep ':addr ' <<<"$conns" | head -n 3 | tr -d '\r')"; fi
mc setget keep "before-restart" || fail "set/get"
restart_container mc version
step "after the restart"; mc setget again hello || fail "set/get after the restart"
echo "memcached production: ok"

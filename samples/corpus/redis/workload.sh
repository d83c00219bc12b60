#!/usr/bin/env bash
# Training (a smoke test): PING, SET and GET through redis-cli from the host network.
source "$(dirname "$0")/../lib.sh"
corpus_init redis 19003
cli() { client redis-cli -h 127.0.0.1 -p "$port" "$@"; }
step "connect"; wait_for 60 sh -c "[ \"\$(docker run --rm --network host --entrypoint '' $image redis-cli -h 127.0.0.1 -p $port PING)\" = PONG ]" || fail "no PONG"
step "smoke"
[ "$(cli SET smoke hello)" = OK ] || fail "SET"
[ "$(cli GET smoke)" = hello ] || fail "GET"
echo "redis workload: ok"

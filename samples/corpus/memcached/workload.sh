#!/usr/bin/env bash
# Training (a smoke test): set and get one key over the text protocol.
source "$(dirname "$0")/../lib.sh"
corpus_init memcached 19004
mc() { python3 "$(dirname "$0")/mc.py" "$port" "$@"; }
step "connect"; wait_for 60 mc version || fail "no answer"
step "smoke"; mc setget smoke hello || fail "set/get"
echo "memcached workload: ok"

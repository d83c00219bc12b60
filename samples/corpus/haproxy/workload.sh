#!/usr/bin/env bash
# Training (a smoke test): a few requests through the proxy.
source "$(dirname "$0")/../lib.sh"
corpus_init haproxy 19006
step "connect"; wait_for 60 http GET / || fail "no answer"
step "smoke"
for i in 1 2 3 4; do expect_http 200 GET / | grep -q 'hello from app' || fail "wrong body"; done
echo "haproxy workload: ok"

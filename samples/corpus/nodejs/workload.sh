#!/usr/bin/env bash
# Training (a smoke test): store one small value and read it back.
source "$(dirname "$0")/../lib.sh"
corpus_init nodejs 19009
step "connect"; wait_for 60 http GET / || fail "no answer"
step "smoke"
printf hello > /tmp/corpus-node.$$
expect_http 200 PUT /kv/smoke /tmp/corpus-node.$$ >/dev/null; rm -f /tmp/corpus-node.$$
[ "$(expect_http 200 GET /kv/smoke)" = hello ] || fail "value not read back"
echo "nodejs workload: ok"

#!/usr/bin/env bash
# Training (a smoke test): the index page.
source "$(dirname "$0")/../lib.sh"
corpus_init caddy 19012
step "connect"; wait_for 60 http GET / || fail "no answer"
step "smoke"; expect_http 200 GET / | grep -q 'corpus caddy' || fail "wrong page"
echo "caddy workload: ok"

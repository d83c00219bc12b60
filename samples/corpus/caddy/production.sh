#!/usr/bin/env bash
# Production: ab (50 concurrent; keep-alive; a 2.7 MB file with and without gzip), a route added
# through the admin API inside the container (autosaved to /config), which must still answer
# after `docker restart` (--resume), and `caddy reload`-free config reads.
source "$(dirname "$0")/../lib.sh"
corpus_init caddy 19012
marker="survives-$RANDOM$RANDOM"
step "connect"; wait_for 60 http GET / || fail "no answer"
step "ab 50 concurrent"; ab_run -n 10000 -c 50 "http://127.0.0.1:$port/"
step "ab keep-alive"; ab_run -k -n 10000 -c 50 "http://127.0.0.1:$port/index.html"
step "ab large file"; ab_run -n 200 -c 10 "http://127.0.0.1:$port/big.txt"
step "ab large file gzip"; ab_run -n 200 -c 10 -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/big.txt"
step "admin API inside the container"
inside curl -fsS localhost:2019/config/ >/dev/null || fail "GET /config/"
inside curl -fsS -X PUT -H 'Content-Type: application/json' \
    -d "{\"match\":[{\"path\":[\"/persisted\"]}],\"handle\":[{\"handler\":\"static_response\",\"body\":\"$marker\"}]}" \
    localhost:2019/config/apps/http/servers/srv0/routes/0 || fail "PUT a route"
[ "$(expect_http 200 GET /persisted)" = "$marker" ] || fail "the new route does not answer"
restart_container http GET /
step "data after the restart"
[ "$(expect_http 200 GET /persisted)" = "$marker" ] || fail "the route added before the restart is lost (autosave in /config)"
echo "caddy production: ok"

#!/usr/bin/env bash
# Production: ab through the proxy (50 concurrent, keep-alive and not), runtime API commands on
# the admin socket inside the container (show info/stat, disable and enable a server), a
# hitless reload (SIGUSR2 to the master), a restart.
source "$(dirname "$0")/../lib.sh"
corpus_init haproxy 19006
admin() { echo "$*" | inside socat stdio /run/haproxy/admin.sock; }
ok() { http GET / | grep -q 'hello from app'; }
step "connect"; wait_for 60 ok || fail "no answer"
step "ab 50 concurrent"; ab_run -n 20000 -c 50 "http://127.0.0.1:$port/"
step "ab keep-alive 50 concurrent"; ab_run -k -n 20000 -c 50 "http://127.0.0.1:$port/"
step "runtime API"
admin show info | grep -q '^Name: HAProxy' || fail "show info: $(admin show info | head -n 3)"
admin show stat >/dev/null || fail "show stat"
admin disable server app/app2 || fail "disable server"
for i in 1 2 3 4; do expect_http 200 GET / | grep -q 'app1' || fail "disabled server still used"; done
admin enable server app/app2 || fail "enable server"
step "reload (SIGUSR2)"
docker kill -s USR2 "$cid" >/dev/null || fail "SIGUSR2"
sleep 2
wait_for 30 ok || fail "no answer after the reload"
ab_run -n 2000 -c 20 "http://127.0.0.1:$port/"
restart_container ok
step "after the restart"; ab_run -n 2000 -c 20 "http://127.0.0.1:$port/"
echo "haproxy production: ok"

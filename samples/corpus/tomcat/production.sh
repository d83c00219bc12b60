#!/usr/bin/env bash
# Production: ab on the JSP page (30 concurrent, keep-alive and not) and on static files,
# concurrent POSTs, a 10 MB body, a note that must survive `docker restart` (the volume).
source "$(dirname "$0")/../lib.sh"
corpus_init tomcat 19011
marker="survives-$RANDOM$RANDOM"
step "connect"; wait_for 120 http GET /notes.jsp || fail "no answer"
printf '%s' "$marker" > /tmp/corpus-tomcat.$$
expect_http 200 POST '/notes.jsp?name=keep' /tmp/corpus-tomcat.$$ >/dev/null
step "ab 30 concurrent"; ab_run -n 5000 -c 30 "http://127.0.0.1:$port/notes.jsp?name=keep"
step "ab keep-alive"; ab_run -k -n 5000 -c 30 "http://127.0.0.1:$port/notes.jsp"
step "ab static"; ab_run -n 3000 -c 30 "http://127.0.0.1:$port/"
step "ab POST 10 concurrent"
client_args=(-v "/tmp/corpus-tomcat.$$:/post:ro")
ab_run -n 1000 -c 10 -p /post -T application/octet-stream "http://127.0.0.1:$port/notes.jsp?name=load"
client_args=()
step "10 MB body"
head -c 10000000 /dev/urandom > /tmp/corpus-tomcat-big.$$
expect_http 200 POST '/notes.jsp?name=big' /tmp/corpus-tomcat-big.$$ >/dev/null
want="$(sha256sum < /tmp/corpus-tomcat-big.$$ | cut -d' ' -f1)"; rm -f /tmp/corpus-tomcat-big.$$
expect_http 200 GET '/notes.jsp?name=big' | grep -q "sha256 $want" || fail "10 MB body stored wrong"
restart_container http GET /notes.jsp
step "data after the restart"
expect_http 200 GET '/notes.jsp?name=keep' | grep -q "bytes ${#marker}" || fail "note stored before the restart is lost"
rm -f /tmp/corpus-tomcat.$$
echo "tomcat production: ok"

#!/usr/bin/env bash
# Training (a smoke test): store one small note and read it back.
source "$(dirname "$0")/../lib.sh"
corpus_init tomcat 19011
step "connect"; wait_for 120 http GET /notes.jsp || fail "no answer"
step "smoke"
printf hello > /tmp/corpus-tomcat.$$
expect_http 200 POST '/notes.jsp?name=smoke' /tmp/corpus-tomcat.$$ >/dev/null; rm -f /tmp/corpus-tomcat.$$
expect_http 200 GET '/notes.jsp?name=smoke' | grep -q 'bytes 5' || fail "note not read back"
echo "tomcat workload: ok"

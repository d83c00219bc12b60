#!/usr/bin/env bash
# Production: ab on the PHP page (20 concurrent, keep-alive and not), concurrent POSTs, large
# uploads (PHP spools them to a temporary file), apache2ctl graceful inside the container, a
# note that must survive `docker restart` (SQLite in the volume), logs still reaching
# `docker logs`.
source "$(dirname "$0")/../lib.sh"
corpus_init apache2-php 19005
marker="survives-$RANDOM$RANDOM"
post() {   # post FIELD VALUE|@FILE -> prints the reply
    python3 - "$port" "$@" <<'PY'
import sys, urllib.request, uuid
port, field, value = sys.argv[1], sys.argv[2], sys.argv[3]
if value.startswith("@"):
    data = open(value[1:], "rb").read()
    b = uuid.uuid4().hex
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"up.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={b}"})
else:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=f"{field}={value}".encode())
r = urllib.request.urlopen(req, timeout=60)
sys.stdout.write(r.read().decode())
PY
}
step "connect"; wait_for 60 http GET / || fail "no answer"
step "seed a note"
id="$(post text "$marker" | sed -n 's/^id \([0-9]*\) .*/\1/p')"
[ -n "$id" ] || fail "POST a note: no id"
step "ab GET 20 concurrent"; ab_run -n 4000 -c 20 "http://127.0.0.1:$port/?id=$id"
step "ab GET keep-alive"; ab_run -k -n 4000 -c 20 "http://127.0.0.1:$port/"
step "ab POST 10 concurrent"
printf 'text=load' > /tmp/corpus-php-post.$$
client_args=(-v "/tmp/corpus-php-post.$$:/post:ro")
ab_run -n 500 -c 10 -p /post -T application/x-www-form-urlencoded "http://127.0.0.1:$port/"
client_args=()
rm -f /tmp/corpus-php-post.$$
step "large uploads"
head -c 8000000 /dev/urandom > /tmp/corpus-php-big.$$
want="$(sha1sum < /tmp/corpus-php-big.$$ | cut -d' ' -f1)"
got="$(post file @/tmp/corpus-php-big.$$)" || fail "8 MB upload"
rm -f /tmp/corpus-php-big.$$
grep -q "sha1 $want" <<<"$got" || fail "8 MB upload stored wrong: $got"
step "apache2ctl graceful inside the container"
inside apache2ctl configtest >/dev/null 2>&1 || fail "apache2ctl configtest"
inside apache2ctl graceful || fail "apache2ctl graceful"
sleep 2
wait_for 30 http GET / || fail "no answer after graceful"
restart_container http GET /
step "data after the restart"
expect_http 200 GET "/?find=$marker" >/dev/null
step "logs reach docker logs"
logs="$(docker logs --since 120s "$cid" 2>&1)"
grep -q "GET /?find=$marker" <<<"$logs" || fail "access log lines do not reach docker logs"
echo "apache2-php production: ok"

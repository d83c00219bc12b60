#!/usr/bin/env bash
# Production: ab (50 concurrent, keep-alive and not), concurrent PUTs, a 20 MB body streamed to
# disk and back (gzip too), the route that calls the service itself through `localhost`, a
# value that must survive `docker restart` (files in the volume).
source "$(dirname "$0")/../lib.sh"
corpus_init nodejs 19009
marker="survives-$RANDOM$RANDOM"
step "connect"; wait_for 60 http GET / || fail "no answer"
printf '%s' "$marker" > /tmp/corpus-node.$$
expect_http 200 PUT /kv/keep /tmp/corpus-node.$$ >/dev/null
step "ab 50 concurrent"; ab_run -n 10000 -c 50 "http://127.0.0.1:$port/kv/keep"
step "ab keep-alive"; ab_run -k -n 10000 -c 50 "http://127.0.0.1:$port/"
step "concurrent PUTs"
client_args=(-v "/tmp/corpus-node.$$:/body:ro")
ab_run -n 2000 -c 20 -u /body "http://127.0.0.1:$port/kv/load"
client_args=()
step "20 MB body"
head -c 20000000 /dev/urandom > /tmp/corpus-node-big.$$
expect_http 200 PUT /kv/big /tmp/corpus-node-big.$$ >/dev/null
want="$(sha256sum < /tmp/corpus-node-big.$$ | cut -d' ' -f1)"
rm -f /tmp/corpus-node-big.$$
[ "$(expect_http 200 GET /sha/big)" = "$want" ] || fail "20 MB body stored wrong"
python3 - "$port" "$want" <<'PY' || fail "gzip download"
import gzip, hashlib, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/kv/big", headers={"Accept-Encoding": "gzip"})
data = gzip.decompress(urllib.request.urlopen(req, timeout=120).read())
assert hashlib.sha256(data).hexdigest() == sys.argv[2], "gzip body differs"
PY
step "call through localhost"
[ "$(expect_http 200 GET /via-localhost/big)" = "$want" ] || fail "the call through localhost failed"
restart_container http GET /
step "data after the restart"
[ "$(expect_http 200 GET /kv/keep)" = "$marker" ] || fail "value stored before the restart is lost"
rm -f /tmp/corpus-node.$$
echo "nodejs production: ok"

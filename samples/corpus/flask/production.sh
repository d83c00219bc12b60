#!/usr/bin/env bash
# Production: ab (30 concurrent GETs, keep-alive and not; 10 concurrent POSTs), uploads of 8 MB
# (Werkzeug spools them to a temporary file), an item that must survive `docker restart`
# (SQLite in the volume).
source "$(dirname "$0")/../lib.sh"
corpus_init flask 19010
marker="survives-$RANDOM$RANDOM"
api() {
    python3 - "$port" "$@" <<'PY'
import json, sys, urllib.request, uuid, hashlib
base, what = f"http://127.0.0.1:{sys.argv[1]}", sys.argv[2]
if what == "add":
    print(json.load(urllib.request.urlopen(base + "/items", data=f"name={sys.argv[3]}".encode(), timeout=30))["id"])
elif what == "find":
    print(json.load(urllib.request.urlopen(f"{base}/items?name={sys.argv[3]}", timeout=30))["id"])
elif what == "upload":
    data = open("/dev/urandom", "rb").read(8_000_000)
    b = uuid.uuid4().hex
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    req = urllib.request.Request(base + "/items", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={b}"})
    r = json.load(urllib.request.urlopen(req, timeout=120))
    assert r["sha"] == hashlib.sha256(data).hexdigest() and r["size"] == len(data), r
PY
}
step "connect"; wait_for 60 http GET / || fail "no answer"
id="$(api add "$marker")" || fail "add an item"
step "ab 30 concurrent"; ab_run -n 5000 -c 30 "http://127.0.0.1:$port/items/$id"
step "ab keep-alive"; ab_run -k -n 5000 -c 30 "http://127.0.0.1:$port/"
step "ab POST 10 concurrent"
printf 'name=load' > /tmp/corpus-flask.$$
client_args=(-v "/tmp/corpus-flask.$$:/post:ro")
ab_run -n 1000 -c 10 -p /post -T application/x-www-form-urlencoded "http://127.0.0.1:$port/items"
client_args=(); rm -f /tmp/corpus-flask.$$
step "8 MB uploads"; for i in 1 2 3; do api upload || fail "8 MB upload"; done
restart_container http GET /
step "data after the restart"
[ "$(api find "$marker")" = "$id" ] || fail "item added before the restart is lost"
echo "flask production: ok"

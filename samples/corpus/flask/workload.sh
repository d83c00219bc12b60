#!/usr/bin/env bash
# Training (a smoke test): add one item and read it back.
source "$(dirname "$0")/../lib.sh"
corpus_init flask 19010
step "connect"; wait_for 60 http GET / || fail "no answer"
step "smoke"
python3 - "$port" <<'PY' || fail "add/get an item"
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
r = json.load(urllib.request.urlopen(base + "/items", data=b"name=smoke", timeout=30))
got = json.load(urllib.request.urlopen(f"{base}/items/{r['id']}", timeout=30))
assert got["name"] == "smoke", got
PY
echo "flask workload: ok"

#!/usr/bin/env bash
# Training (a smoke test): the notes page, one small note posted and read back.
source "$(dirname "$0")/../lib.sh"
corpus_init apache2-php 19005
step "connect"; wait_for 60 http GET / || fail "no answer"
step "smoke"
expect_http 200 GET / >/dev/null
body="$(mktemp)"; trap 'rm -f "$body"' EXIT
printf 'text=hello' > "$body"
python3 - "$port" <<'PY' || fail "POST a note"
import sys, urllib.request
r = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", data=b"text=hello", timeout=30)
assert r.status == 200 and r.read().startswith(b"id "), "no id"
PY
expect_http 200 GET '/?find=hello' >/dev/null
echo "apache2-php workload: ok"

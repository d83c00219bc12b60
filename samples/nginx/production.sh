#!/usr/bin/env bash
# "Production" workload for the nginx sample: heavier than workload.sh (the training run), to
# show that the emitted run.sh holds beyond what training did. 127.0.0.1 only.
# - concurrency: 40 clients at once, each 25 keep-alive GETs (1000 requests);
# - larger bodies: 40 concurrent 256 KiB POSTs (nginx reads and discards them: 405) and one over
#   client_max_body_size (413), so request bodies of every size meet the container;
# - a restart of the container, after which it must serve again.
# Not here: `docker exec ... nginx -s reload`. It is an operator's command the training run
# never made (kill, clock_nanosleep), and the profile refuses it: put it in the training
# workload if production uses it (seen 2026-11-29; docs/emit.md "What the policy assumes").
# Env: PROFILER_SAMPLE_PORT (default 18080), PROFILER_CONTAINER_ID (the restart; skipped when
# unset, with a note).
set -euo pipefail

port="${PROFILER_SAMPLE_PORT:-18080}"
cid="${PROFILER_CONTAINER_ID:-}"
base="http://127.0.0.1:$port"
curl_opts=(--silent --show-error --max-time 20 --noproxy '*')
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fail() { echo "nginx production: $*" >&2; exit 1; }

wait_up() {
    for i in $(seq 100); do
        curl "${curl_opts[@]}" -o /dev/null "$base/" 2>/dev/null && return 0
        sleep 0.2
    done
    fail "no answer from $base/ after 20 s"
}

concurrent_gets() {   # 40 clients x 25 keep-alive GETs, every answer 200
    local urls=() c
    for _ in $(seq 25); do urls+=(-o /dev/null "$base/"); done
    for c in $(seq 40); do
        curl "${curl_opts[@]}" -w '%{http_code}\n' "${urls[@]}" >"$tmp/get.$c" &
    done
    wait
    local n; n="$(cat "$tmp"/get.* | grep -c '^200$' || true)"
    [ "$n" -eq 1000 ] || fail "expected 1000 answers 200, got $n"
    rm -f "$tmp"/get.*
}

wait_up
concurrent_gets

# Larger bodies, 40 at once: nginx must read each and answer (405: a static page takes no POST).
head -c 262144 /dev/urandom >"$tmp/body"
for c in $(seq 40); do
    curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}\n' --data-binary "@$tmp/body" \
        "$base/" >"$tmp/post.$c" &
done
wait
n="$(cat "$tmp"/post.* | grep -c '^405$' || true)"
[ "$n" -eq 40 ] || fail "expected 40 answers 405 to 256 KiB POSTs, got: $(cat "$tmp"/post.* | sort | uniq -c | xargs)"
head -c 2097152 /dev/urandom >"$tmp/big"
code="$(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' --data-binary "@$tmp/big" "$base/")"
[ "$code" = 413 ] || fail "expected 413 for a 2 MiB POST, got $code"

if [ -n "$cid" ]; then
    docker restart -t 10 "$cid" >/dev/null || fail "docker restart failed"
    wait_up
    concurrent_gets
else
    echo "nginx production: PROFILER_CONTAINER_ID not set: restart skipped" >&2
fi
echo "nginx production: ok"

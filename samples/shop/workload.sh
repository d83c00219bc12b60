#!/usr/bin/env bash
# Workload for the shop sample: HTTP from the host to 127.0.0.1 only, through web (nginx) to app
# (python3) to cache (redis) and back, every answer checked. Exits non-zero when any service
# misbehaves. Can run again against the same project (its keys are unique per run).
# Env: PROFILER_SAMPLE_PORT (default 18090), the host port compose.yaml publishes web on.
set -euo pipefail

port="${PROFILER_SAMPLE_PORT:-18090}"
base="http://127.0.0.1:$port"
curl_opts=(--silent --show-error --max-time 10 --noproxy '*')
run="$$-$RANDOM"

fail() { echo "shop workload: $*" >&2; exit 1; }

# Wait (bounded, 30 s) until the whole chain answers: web -> app -> cache PING.
for i in $(seq 150); do
    [ "$(curl "${curl_opts[@]}" "$base/api/health" 2>/dev/null || true)" = ok ] && break
    [ "$i" -eq 150 ] && fail "no 'ok' from $base/api/health after 30 s"
    sleep 0.2
done

# web alone: its static page.
body="$(curl "${curl_opts[@]}" "$base/")" || fail "GET / failed"
grep -q 'profiler-sample-shop is up' <<<"$body" || fail "unexpected page at /"

# web -> app -> cache: store values, read them back.
for i in $(seq 10); do
    code="$(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' -X PUT \
        --data-binary "value $i of run $run" "$base/api/kv/item-$run-$i")"
    [ "$code" = 201 ] || fail "PUT /api/kv/item-$run-$i answered $code, expected 201"
done
for i in $(seq 10); do
    got="$(curl "${curl_opts[@]}" "$base/api/kv/item-$run-$i")" || fail "GET item $i failed"
    [ "$got" = "value $i of run $run" ] || fail "GET /api/kv/item-$run-$i -> '$got'"
done

# A key nobody stored is a 404 from the app (not from nginx).
code="$(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' "$base/api/kv/missing-$run")"
[ "$code" = 404 ] || fail "GET of a missing key answered $code, expected 404"

# A counter in the cache: 20 increments in a row, each one more than the last.
prev=""
for _ in $(seq 20); do
    n="$(curl "${curl_opts[@]}" -X POST "$base/api/hits")" || fail "POST /api/hits failed"
    [[ "$n" =~ ^[0-9]+$ ]] || fail "POST /api/hits -> '$n', expected a number"
    [ -z "$prev" ] || [ "$n" -eq $((prev + 1)) ] || fail "hits went from $prev to $n"
    prev="$n"
done

echo "shop workload: ok (43 requests through web -> app -> cache)"

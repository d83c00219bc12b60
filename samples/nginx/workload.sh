#!/usr/bin/env bash
# Workload for the nginx sample: a few hundred HTTP requests to 127.0.0.1 (GETs of the page, a
# 404 and a HEAD), each response checked. Exits non-zero when nginx misbehaves.
# Env: PROFILER_SAMPLE_PORT (default 18080); PROFILER_CONTAINER_ID/NAME are given by
# `profiler record` but not needed here.
set -euo pipefail

port="${PROFILER_SAMPLE_PORT:-18080}"
base="http://127.0.0.1:$port"
rounds=20          # x 10 keep-alive GETs per curl process = 200 GETs
curl_opts=(--silent --show-error --max-time 10 --noproxy '*')

fail() { echo "nginx workload: $*" >&2; exit 1; }

# Wait (bounded) until nginx answers; profiler record already waits for the port, a manual
# run may not have.
for i in $(seq 50); do
    curl "${curl_opts[@]}" -o /dev/null "$base/" 2>/dev/null && break
    [ "$i" -eq 50 ] && fail "no answer from $base/ after 10 s"
    sleep 0.2
done

# The page, fetched many times over keep-alive connections.
urls=()   # curl needs one -o per URL
for _ in $(seq 10); do urls+=(-o /dev/null "$base/"); done
ok=0
for _ in $(seq "$rounds"); do
    codes="$(curl "${curl_opts[@]}" -w '%{http_code}\n' "${urls[@]}")" \
        || fail "curl failed against $base/"
    n="$(grep -c '^200$' <<<"$codes" || true)"   # grep -c exits 1 when it counts 0
    [ "$n" -eq 10 ] || fail "expected 10 answers 200 for $base/, got: $(sort <<<"$codes" | uniq -c | xargs)"
    ok=$((ok + n))
done
[ "$ok" -eq $((rounds * 10)) ] || fail "expected $((rounds * 10)) answers 200, got $ok"

# The body is the page we shipped.
body="$(curl "${curl_opts[@]}" "$base/index.html")" || fail "GET /index.html failed"
grep -q 'profiler-sample-nginx is up' <<<"$body" || fail "unexpected body for /index.html"

# A missing page is a 404.
code="$(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' "$base/no-such-page")"
[ "$code" = 404 ] || fail "expected 404 for /no-such-page, got $code"

# HEAD: 200 with headers only.
head="$(curl "${curl_opts[@]}" --head "$base/")" || fail "HEAD / failed"
grep -q '^HTTP/1.1 200' <<<"$head" || fail "HEAD / did not answer 200"
grep -qi '^Server: nginx' <<<"$head" || fail "HEAD / did not come from nginx"

echo "nginx workload: $((ok + 3)) requests ok"

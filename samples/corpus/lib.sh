# Helpers for the corpus workloads (sourced by samples/corpus/*/workload.sh and production.sh).
#
# Env (set by profiler record / bench/corpus.py / a test): PROFILER_CONTAINER_ID (required),
# PROFILER_SAMPLE_PORT (the published host port; default: the app's own). Every client runs
# from the app's own image in a throw-away container on the host network, talking to
# 127.0.0.1 only; admin commands go through `docker exec` (which runs under the policy too).
# A step prints "== STEP" first, so a failure names the step it happened in.
set -euo pipefail
export LC_ALL=C
trap '' PIPE

corpus_init() {   # corpus_init APP DEFAULT_PORT
    APP="$1"
    port="${PROFILER_SAMPLE_PORT:-$2}"
    cid="${PROFILER_CONTAINER_ID:-}"
    [ -n "$cid" ] || fail "PROFILER_CONTAINER_ID is not set (profiler record sets it)"
    image="$(docker inspect -f '{{.Config.Image}}' "$cid")" || fail "no container $cid"
    STEP=start
}
fail() { echo "$APP: FAIL in step '${STEP:-?}': $*" >&2; exit 1; }
step() { STEP="$*"; echo "== $APP: $*"; }

# client CMD ARGS...: run a client from the app's image on the host network (stdin passed on;
# extra `docker run` options in the array client_args).
client_args=()
client() {
    docker run --rm -i --network host --log-driver none "${client_args[@]}" --entrypoint "" "$image" "$@"
}
# client_as USER CMD ARGS...
client_as() {
    local u="$1"; shift
    docker run --rm -i --network host --log-driver none --user "$u" --entrypoint "" "$image" "$@"
}
# inside CMD ARGS...: docker exec into the container under test.
inside() { docker exec -i "$cid" "$@"; }

# wait_for SECONDS CMD ARGS...: retry CMD (quietly) until it succeeds; give up at once when the
# container under test is no longer running (it died at start: waiting cannot help).
wait_for() {
    local limit="$1" t0=$SECONDS; shift
    until "$@" >/dev/null 2>&1; do
        [ $((SECONDS - t0)) -lt "$limit" ] || return 1
        if [ -n "${cid:-}" ] && [ "$(docker inspect -f '{{.State.Running}}' "$cid" 2>/dev/null)" != true ]; then
            return 1
        fi
        sleep 1
    done
}
# restart_container READY_CMD...: docker restart, then wait (120 s) until READY_CMD succeeds.
restart_container() {
    step "docker restart"
    docker restart -t 30 "$cid" >/dev/null || fail "docker restart failed"
    wait_for 120 "$@" || fail "not ready 120 s after the restart (state: $(docker inspect -f '{{.State.Status}} exit={{.State.ExitCode}}' "$cid"))"
}
# http_get PATH: body of GET http://127.0.0.1:PORT/PATH (curl-less: python3 on the host).
http() {   # http METHOD PATH [BODYFILE] -> prints "STATUS\nBODY"
    python3 - "$port" "$@" <<'PY'
import http.client, sys
port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = open(sys.argv[4], "rb").read() if len(sys.argv) > 4 else None
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
c.request(method, path, body=body)
r = c.getresponse()
data = r.read()
sys.stdout.write(f"{r.status}\n")
sys.stdout.buffer.write(data)
PY
}
# expect_http STATUS METHOD PATH [BODYFILE]: fail unless the status matches; prints the body.
expect_http() {
    local want="$1" out; shift
    out="$(http "$@")" || fail "$1 $2: no answer"
    [ "$(head -n1 <<<"$out")" = "$want" ] || fail "$1 $2 -> $(head -c 300 <<<"$out"), expected $want"
    tail -n +2 <<<"$out"
}
# ab_run ARGS...: ab from the app's image; fail on any failed or non-2xx request.
ab_run() {
    local out
    out="$(client ab -q -r "$@" 2>&1)" || fail "ab $*: $(tail -n 5 <<<"$out")"
    grep -E '^(Complete|Failed|Non-2xx|Requests per second)' <<<"$out" | sed "s/^/  ab: /"
    # "Length" failures are pages whose size varies (dynamic content), not errors.
    local bad
    bad="$(sed -n 's/.*(Connect: \([0-9]*\), Receive: \([0-9]*\), Length: [0-9]*, Exceptions: \([0-9]*\)).*/\1 \2 \3/p' <<<"$out")"
    if [ -n "$bad" ] && [ "$bad" != "0 0 0" ]; then fail "ab $*: failed requests (connect receive exceptions) $bad"; fi
    if grep -q '^Non-2xx' <<<"$out"; then fail "ab $*: $(grep '^Non-2xx' <<<"$out")"; fi
}

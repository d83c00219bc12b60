#!/usr/bin/env bash
# "Production" workload for the redis sample: heavier than workload.sh (the training run), to
# show that the emitted run.sh holds beyond what training did. 127.0.0.1 only.
# - larger values: 1 MiB and 8 MiB strings written and read back over RESP from the host;
# - concurrency: 30 connections at once, each 50 INCRs on one counter (exactly 1500 in all);
# - BGSAVE (redis forks a child that writes the dump), then a restart of the container, after
#   which it must answer again (the dump lives on a tmpfs under the emitted read-only root, so
#   its contents do not survive the restart: that is documented, not checked).
# Env: PROFILER_CONTAINER_ID (required), PROFILER_SAMPLE_PORT (default 16379).
set -euo pipefail
export LC_ALL=C
trap '' PIPE

port="${PROFILER_SAMPLE_PORT:-16379}"
cid="${PROFILER_CONTAINER_ID:-}"
fail() { echo "redis production: $*" >&2; exit 1; }
[ -n "$cid" ] || fail "PROFILER_CONTAINER_ID is not set"

# One client in Python (the host has python3): RESP with bodies of any size, and threads.
client() {
    python3 - "$port" "$@" <<'PY'
import socket, sys, threading, time
port = int(sys.argv[1]); what = sys.argv[2]

def conn():
    for _ in range(100):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            f = s.makefile("rb")
            cmd(s, f, "PING")
            return s, f
        except (OSError, ValueError):
            time.sleep(0.2)
    sys.exit(f"no PONG from 127.0.0.1:{port}")

def cmd(s, f, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)
    line = f.readline()
    if not line:
        raise ValueError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"-":
        sys.exit(f"redis error: {rest.decode()}")
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    return rest

if what == "ping":
    conn()
elif what == "big":
    s, f = conn()
    for size in (1 << 20, 8 << 20):
        value = bytes(i % 251 for i in range(size))
        assert cmd(s, f, "SET", f"prod:big:{size}", value) == b"OK"
        assert cmd(s, f, "GET", f"prod:big:{size}") == value, f"{size} bytes came back wrong"
elif what == "concurrent":
    s, f = conn()
    cmd(s, f, "DEL", "prod:counter")
    errors = []
    def worker():
        try:
            c, cf = conn()
            for _ in range(50):
                cmd(c, cf, "INCR", "prod:counter")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    ts = [threading.Thread(target=worker) for _ in range(30)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert not errors, errors
    assert cmd(s, f, "GET", "prod:counter") == b"1500", "lost increments"
elif what == "bgsave":
    s, f = conn()
    before = int(cmd(s, f, "LASTSAVE"))
    assert cmd(s, f, "BGSAVE") in (b"Background saving started", b"Background saving scheduled")
    for _ in range(150):
        time.sleep(0.2)
        if int(cmd(s, f, "LASTSAVE")) > before or \
                b"rdb_bgsave_in_progress:0" in cmd(s, f, "INFO", "persistence") and \
                b"rdb_last_bgsave_status:ok" in cmd(s, f, "INFO", "persistence"):
            break
    else:
        sys.exit("BGSAVE did not finish in 30 s")
    info = cmd(s, f, "INFO", "persistence")
    assert b"rdb_last_bgsave_status:ok" in info, info
PY
}

client ping || fail "redis does not answer"
client big || fail "large values"
client concurrent || fail "concurrent connections"
client bgsave || fail "BGSAVE"
docker exec "$cid" redis-cli INFO server >/dev/null || fail "docker exec redis-cli failed"
docker restart -t 10 "$cid" >/dev/null || fail "docker restart failed"
client ping || fail "redis does not answer after the restart"
client concurrent || fail "concurrent connections after the restart"
echo "redis production: ok"

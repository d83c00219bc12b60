#!/usr/bin/env python3
"""Recorder speed and completeness, measured side by side in one run (run as root; `make bench`).

Prints, each against its target (issue #2):
  1. getppid loop inside a container, loop time traced/untraced (target <= 1.5x), with
     `strace -f`'s ratio beside it (same loop on the host, fewer calls: strace is slow);
  2. the nginx sample under HTTP load on 127.0.0.1 (wrk), throughput traced/untraced (>= 0.95);
  3. 100,000 distinct paths created in a container: all recorded, nothing lost;
  4. time from `profiler record` to the container's entrypoint running (<= 2 s);
  5. openat(dirfd, "f") + close in a loop in a container, traced/untraced: what a relative
     path costs (it is completed in the kernel by a dentry walk; issue 11).
Runs alternate traced and untraced and report medians: the machines are shared and noisy.
No assertion here: this script reports; the numbers go into the README and the issue notes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROFILER = [str(REPO / ".venv" / "bin" / "profiler")]
IMAGE = "profiler-bench-loadgen"


def sh(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def build_loadgen(work: Path) -> Path:
    binary = work / "loadgen"
    sh(["gcc", "-O2", "-static", "-o", str(binary), str(REPO / "bench" / "loadgen.c")], check=True)
    (work / "Dockerfile").write_text("FROM profiler-base:bookworm\nCOPY loadgen /usr/local/bin/loadgen\n")
    sh(["docker", "build", "-q", "-t", IMAGE, str(work)], check=True)
    return binary


def record(args: list[str], out: Path) -> subprocess.CompletedProcess:
    return sh(PROFILER + ["record", "-o", str(out), *args])  # -o before any `--`


def loop_ratio(work: Path, calls: int, rounds: int) -> tuple[float, list[float], list[float]]:
    traced, plain = [], []
    vol = work / "vol"
    vol.mkdir(exist_ok=True)
    for _ in range(rounds):
        p = sh(["docker", "run", "--rm", IMAGE, "loadgen", "getppid", str(calls)], check=True)
        plain.append(int(p.stdout) / calls)
        r = record([IMAGE, "-v", f"{vol}:/out", "--", "sh", "-c",
                    f"loadgen getppid {calls} > /out/t"], work / "loop.yaml")
        if r.returncode != 0:
            sys.exit(f"traced loop failed: {r.stderr.strip()}")
        traced.append(int((vol / "t").read_text()) / calls)
    return statistics.median(traced) / statistics.median(plain), traced, plain


def relopen_ratio(work: Path, calls: int, rounds: int) -> tuple[float, list[float], list[float]]:
    traced, plain = [], []
    vol = work / "vol"
    vol.mkdir(exist_ok=True)
    loop = f"mkdir -p /tmp/r/s/t && loadgen relopen {calls} /tmp/r/s/t"
    for _ in range(rounds):
        p = sh(["docker", "run", "--rm", IMAGE, "sh", "-c", loop], check=True)
        plain.append(int(p.stdout) / calls)
        r = record([IMAGE, "-v", f"{vol}:/out", "--", "sh", "-c", f"{loop} > /out/t"],
                   work / "relopen.yaml")
        if r.returncode != 0:
            sys.exit(f"traced relopen loop failed: {r.stderr.strip()}")
        traced.append(int((vol / "t").read_text()) / calls)
    return statistics.median(traced) / statistics.median(plain), traced, plain


def strace_ratio(binary: Path, calls: int, rounds: int) -> float | None:
    if shutil.which("strace") is None:
        return None
    traced, plain = [], []
    for _ in range(rounds):
        plain.append(int(sh([str(binary), "getppid", str(calls)], check=True).stdout))
        out = sh(["strace", "-f", "-o", "/dev/null", str(binary), "getppid", str(calls)], check=True)
        traced.append(int(out.stdout))
    return statistics.median(traced) / statistics.median(plain)


def wrk_rps(port: int, seconds: int, path: str = "/") -> float:
    out = sh(["wrk", "-t2", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"]).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        sys.exit(f"wrk gave no result: {out}")
    return float(m.group(1))


def nginx_ratio(work: Path, rounds: int, seconds: int) -> tuple[float, list[float], list[float]]:
    port = 18090
    plain, traced = [], []
    for _ in range(rounds):
        cid = sh(["docker", "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:80",
                  "profiler-sample-nginx"], check=True).stdout.strip()
        try:
            _wait_port(port)
            plain.append(wrk_rps(port, seconds))
        finally:
            sh(["docker", "rm", "-f", cid])
        result = work / "wrk.txt"
        r = record(["profiler-sample-nginx", "-p", f"127.0.0.1:{port}:80", "--ready-port", str(port),
                    "--workload", f"wrk -t2 -c32 -d{seconds}s http://127.0.0.1:{port}/ > {result}",
                    "--allow-loss"], work / "nginx.yaml")
        if r.returncode != 0:
            sys.exit(f"traced nginx failed: {r.stderr.strip()}")
        traced.append(float(re.search(r"Requests/sec:\s+([\d.]+)", result.read_text()).group(1)))
    return statistics.median(traced) / statistics.median(plain), traced, plain


def _wait_port(port: int) -> None:
    import socket
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"port {port} never opened")


def many_paths(work: Path, n: int) -> tuple[int, int, float]:
    out = work / "paths.yaml"
    t0 = time.monotonic()
    r = record([IMAGE, "--allow-loss", "--", "sh", "-c", f"mkdir /tmp/p && loadgen files {n} /tmp/p"], out)
    took = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"paths run failed: {r.stderr.strip()}")
    sys.path.insert(0, str(REPO))
    from profiler.recording import recording_io
    rec = recording_io.load(out)
    recorded = sum(1 for f in rec.files if f.path.startswith("/tmp/p/f"))
    return recorded, rec.total_loss, took


def startup_seconds(work: Path, rounds: int) -> list[float]:
    vol = work / "vol"
    vol.mkdir(exist_ok=True)
    res = []
    for _ in range(rounds):
        t0 = time.time_ns()
        r = record([IMAGE, "-v", f"{vol}:/out", "--", "sh", "-c", "loadgen now > /out/now"],
                   work / "start.yaml")
        if r.returncode != 0:
            sys.exit(f"startup run failed: {r.stderr.strip()}")
        res.append((int((vol / "now").read_text()) - t0) / 1e9)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=3_000_000)
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/record_bench.py needs root (make bench)")
    with tempfile.TemporaryDirectory(prefix="profiler-bench-") as tmp:
        work = Path(tmp)
        binary = build_loadgen(work)
        loop, tr, pl = loop_ratio(work, a.calls, a.rounds)
        st = strace_ratio(binary, a.calls // 20, 3)
        rel, rlt, rlp = relopen_ratio(work, a.calls // 10, a.rounds)
        ng, ngt, ngp = nginx_ratio(work, max(3, a.rounds // 2), a.wrk_seconds)
        recorded, lost, took = many_paths(work, a.paths)
        start = startup_seconds(work, a.rounds)
    print(f"{'measure':48} {'result':>14} {'target':>10}")
    print(f"{'getppid loop in a container, traced/untraced':48} {loop:13.2f}x {'<= 1.5x':>10}")
    print(f"{'  (median ns/call traced, untraced)':48} {statistics.median(tr):7.0f} / {statistics.median(pl):4.0f}")
    if st is not None:
        print(f"{'same loop under strace -f, traced/untraced':48} {st:13.1f}x {'(compare)':>10}")
    print(f"{'openat(dirfd, rel) + close loop, traced/untraced':48} {rel:13.2f}x {'(compare)':>10}")
    print(f"{'  (median ns/call traced, untraced)':48} {statistics.median(rlt):7.0f} / {statistics.median(rlp):4.0f}")
    print(f"{'nginx throughput under wrk, traced/untraced':48} {ng:14.3f} {'>= 0.95':>10}")
    print(f"{'  (median req/s traced, untraced)':48} {statistics.median(ngt):7.0f} / {statistics.median(ngp):4.0f}")
    print(f"{'distinct paths created / recorded':48} {a.paths:>6} / {recorded:<6} {'all':>10}")
    print(f"{'  events lost in that run':48} {lost:14d} {'0':>10}")
    print(f"{'profiler record -> entrypoint running (median)':48} {statistics.median(start):13.2f}s {'<= 2 s':>10}")
    print(f"{'  (all runs, s)':48} {' '.join(f'{s:.2f}' for s in start)}")


if __name__ == "__main__":
    main()

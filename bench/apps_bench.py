#!/usr/bin/env python3
"""Throughput of real corpus apps recorded, traced/untraced (issue 21: >= 0.98, "the same on
two real apps of the corpus"), in both tracer designs, side by side in one run (root; `make
bench`). The apps are samples/corpus/ images (built by `make corpus`; an app whose image is
absent is skipped with a line saying so):

  redis   redis-benchmark (its own tool, from the image, on the host network): 50 clients,
          SET and GET, requests per second (the mean of the two);
  caddy   wrk (2 threads, 32 connections) on its file server: requests per second.

Each round runs the app untraced, then under `profiler record --tracer raw`, then under
`--tracer per-syscall`, the load tool as the recording's workload. Every variant is warmed up
first (a short run of the same tool, not measured: `--warmup`), as record_bench.py's nginx: the
per-syscall design detaches an app's hot syscalls once seen, and a recording's steady state is
what production pays. Medians of the rounds; the
machine is shared and noisy, so only the ratios of one run mean anything. No assertion.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from record_bench import _wait_port  # noqa: E402
PROFILER = [str(REPO / ".venv" / "bin" / "profiler")]
DESIGNS = ("raw", "per-syscall")


def sh(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def _redis_load(port: int, n: int, warmup: int) -> str:
    bench = (f"docker run --rm --network host --entrypoint '' profiler-corpus-redis "
             f"redis-benchmark -h 127.0.0.1 -p {port} -c 50 -q -t set,get -n ")
    return (f"{bench}{warmup * 10_000} > /dev/null; " if warmup else "") + f"{bench}{n}"


def _redis_rps(out: str) -> float:
    rates = [float(x) for x in re.findall(r"([\d.]+) requests per second", out.replace("\r", "\n"))]
    if len(rates) < 2:
        sys.exit(f"redis-benchmark gave no rates: {out[-500:]}")
    return statistics.mean(rates[-2:])


def _wrk_load(port: int, seconds: int, warmup: int) -> str:
    wrk = f"wrk -t2 -c32 http://127.0.0.1:{port}/ -d"
    return (f"{wrk}{warmup}s > /dev/null; " if warmup else "") + f"{wrk}{seconds}s"


def _wrk_rps(out: str) -> float:
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        sys.exit(f"wrk gave no result: {out[-500:]}")
    return float(m.group(1))


# app -> (image, container port, load command for a host port, its parser)
APPS = {
    "redis": ("profiler-corpus-redis", 6379, lambda p, a: _redis_load(p, a.requests, a.warmup),
              _redis_rps),
    "caddy": ("profiler-corpus-caddy", 80, lambda p, a: _wrk_load(p, a.seconds, a.warmup),
              _wrk_rps),
}


def untraced(app: str, port: int, a) -> float:
    image, cport, load, parse = APPS[app]
    cid = sh(["docker", "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:{cport}", image],
             check=True).stdout.strip()
    try:
        _wait_port(port, timeout=60)
        time.sleep(1)  # the app's own start (redis loads its AOF, caddy its config)
        return parse(sh(["sh", "-c", load(port, a)]).stdout)
    finally:
        sh(["docker", "rm", "-f", cid])


def traced(app: str, port: int, a, design: str, work: Path) -> float:
    image, cport, load, parse = APPS[app]
    result = work / f"{app}.txt"
    r = sh(PROFILER + ["record", "-o", str(work / f"{app}.yaml"), "--tracer", design, image,
                       "-p", f"127.0.0.1:{port}:{cport}", "--ready-port", str(port),
                       "--settle", "1", "--workload", f"{load(port, a)} > {result} 2>&1",
                       "--allow-loss"])
    if r.returncode != 0:
        sys.exit(f"traced {app} ({design}) failed: {r.stderr.strip()[-500:]}")
    return parse(result.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", default=",".join(APPS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100_000, help="redis-benchmark -n")
    ap.add_argument("--seconds", type=int, default=5, help="wrk -d")
    ap.add_argument("--port", type=int, default=18094, help="host port of the app")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up before each measured run, "
                    "in every variant: seconds of wrk; redis: 10,000 requests per unit; 0: none")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/apps_bench.py needs root (make bench)")
    res: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="profiler-apps-") as tmp:
        for app in a.apps.split(","):
            if app not in APPS:
                sys.exit(f"unknown app {app!r} (known: {', '.join(APPS)})")
            if sh(["docker", "image", "inspect", APPS[app][0]]).returncode != 0:
                print(f"{app}: image {APPS[app][0]} absent (make corpus builds it); skipped")
                continue
            res[app] = {v: [] for v in ("untraced", *DESIGNS)}
            for _ in range(a.rounds):
                res[app]["untraced"].append(untraced(app, a.port, a))
                for d in DESIGNS:
                    res[app][d].append(traced(app, a.port, a, d, Path(tmp)))
    load = os.getloadavg()[0]
    print(f"{a.rounds} rounds, medians, {a.warmup} s of warm-up; load average {load:.1f} on {os.cpu_count()} CPUs: a "
          "shared machine is noisy, compare ratios of one run only.")
    print(f"{'app throughput traced/untraced':40} {'raw':>8} {'per-syscall':>12} {'target':>8}   req/s")
    for app, r in res.items():
        base = statistics.median(r["untraced"])
        ratios = {d: statistics.median(r[d]) / base for d in DESIGNS}
        print(f"{app:40} {ratios['raw']:8.3f} {ratios['per-syscall']:12.3f} {'>= 0.98':>8}   "
              f"untraced {base:.0f}, raw {statistics.median(r['raw']):.0f}, per-syscall "
              f"{statistics.median(r['per-syscall']):.0f}")
        for v, xs in r.items():
            print(f"  ({v}, all runs, req/s) {' '.join(f'{x:.0f}' for x in xs)}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The cost of recording a whole application, measured side by side in one run (root).

The shop sample (samples/shop: nginx -> python3 app -> redis, three containers of one compose
project) under HTTP load on 127.0.0.1 (wrk on /api/health, which goes web -> app -> cache and
back): throughput traced by `profiler record --match` over untraced, beside a single
container's ratio measured in the same run (the nginx sample under wrk, recorded with
`profiler record IMAGE`, as bench/record_bench.py does). Target (issue 13): the compose ratio
within 5% of the single container's. Runs alternate traced and untraced and report medians
(the machines are shared and noisy). No assertion: this script reports.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from record_bench import PROFILER, REPO, _wait_port, nginx_ratio, sh, wrk_rps  # noqa: E402

from profiler.session import compose_cli  # noqa: E402

SHOP = REPO / "samples" / "shop"
PATH = "/api/health"  # web -> app -> cache PING -> back


def wrk_line(port: int, seconds: int) -> str:
    return f"wrk -t2 -c32 -d{seconds}s http://127.0.0.1:{port}{PATH}"


def _wait_health(port: int) -> None:
    _wait_port(port)
    for _ in range(150):
        if sh(["curl", "-s", "--max-time", "2", "--noproxy", "*",
               f"http://127.0.0.1:{port}{PATH}"]).stdout.strip() == "ok":
            return
        time.sleep(0.2)
    sys.exit(f"the shop never answered ok on 127.0.0.1:{port}{PATH}")


def shop_ratio(work: Path, compose: compose_cli.Compose, rounds: int, seconds: int,
               port: int) -> tuple[float, list[float], list[float]]:
    files = [SHOP / "compose.yaml"]
    env = {**os.environ, "PROFILER_SAMPLE_PORT": str(port)}
    plain, traced = [], []
    for _ in range(rounds):
        name = f"bench{uuid.uuid4().hex[:6]}"
        try:
            compose_cli.run(compose, files, name, "up", "-d", env=env)
            _wait_health(port)
            plain.append(wrk_rps(port, seconds, PATH))
        finally:
            compose_cli.run(compose, files, name, "down", "-t", "2", env=env)
        name = f"bench{uuid.uuid4().hex[:6]}"
        result = work / "wrk.txt"
        up = compose_cli.command(compose, files, name, "up", "-d")
        wait = (f"for i in $(seq 150); do [ \"$(curl -s --max-time 2 --noproxy '*' "
                f"http://127.0.0.1:{port}{PATH})\" = ok ] && break; sleep 0.2; done")
        try:
            r = sh(PROFILER + ["record", "--match", f"com.docker.compose.project={name}",
                               "--workload", f"{wait}; {wrk_line(port, seconds)} > {result}",
                               "--allow-loss", "--stop-timeout", "2", "-o", str(work / name),
                               "--", *up], env=env)
        finally:
            compose_cli.run(compose, files, name, "down", "-t", "2", env=env)
        if r.returncode != 0:
            sys.exit(f"traced shop failed: {r.stderr.strip()}")
        traced.append(float(re.search(r"Requests/sec:\s+([\d.]+)", result.read_text()).group(1)))
    return statistics.median(traced) / statistics.median(plain), traced, plain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--port", type=int, default=18091)
    ap.add_argument("--compose", help="v1, v2 or a command line (default: PROFILER_COMPOSE, "
                                      "else v2 if present, else v1)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/compose_bench.py needs root")
    compose = compose_cli.find(a.compose)
    build = sh(["bash", str(REPO / "scripts" / "build-samples.sh"), "shop", "nginx"])
    if build.returncode != 0:
        sys.exit(f"building the samples failed: {build.stderr.strip()[-500:]}")
    with tempfile.TemporaryDirectory(prefix="profiler-compose-bench-") as tmp:
        work = Path(tmp)
        shop, st, sp = shop_ratio(work, compose, a.rounds, a.wrk_seconds, a.port)
        single, nt, np_ = nginx_ratio(work, a.rounds, a.wrk_seconds)
    print(f"compose: {compose}; {a.rounds} rounds of {a.wrk_seconds} s each, medians")
    print(f"{'measure':52} {'result':>10} {'target':>12}")
    print(f"{'shop (3 services) end-to-end req/s, traced/untraced':52} {shop:10.3f}")
    print(f"{'  (median req/s traced, untraced)':52} {statistics.median(st):7.0f} / {statistics.median(sp):.0f}")
    print(f"{'single container (nginx) req/s, traced/untraced':52} {single:10.3f}")
    print(f"{'  (median req/s traced, untraced)':52} {statistics.median(nt):7.0f} / {statistics.median(np_):.0f}")
    print(f"{'shop ratio / single ratio':52} {shop / single:10.3f} {'>= 0.95':>12}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Which of the recorder's BPF programs run per request of the nginx sample under wrk, and what
each costs, in each tracer design (issue 21: nginx traced/untraced >= 0.98; run as root; `make
bench`).

The kernel counts each program's runs and run time while `kernel.bpf_stats_enabled` is 1 (set
here, and given back its value at the end; it adds a clock read to every program's run while
on). The recorder's programs are those whose fds the recording's process holds (its
/proc/PID/fdinfo `prog_id`), read with `bpftool prog show`. Programs run for every task of the
host (they filter by cgroup inside), so the figures include other processes' calls: each
recording measures an idle stretch (nginx up, no load) as long as its load stretch, right
before it, and reports load minus idle per request. Its own process's CPU is shown too.
run_time_ns is the program alone: what perf does around a classic tracepoint's program (the
record it fills) and the kernel's syscall trace path are not in it; the throughput ratio
(bench/record_bench.py --only nginx) is the whole cost. No assertion: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROFILER = [str(REPO / ".venv" / "bin" / "profiler")]
IMAGE = "profiler-sample-nginx"


def sh(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def snap(out: Path) -> None:
    """(--snap) Run from the recording's workload shell: the runs and run time of the BPF
    programs of the recording process (the shell's parent), and that process's CPU time."""
    shell = os.getppid()
    recorder = int(Path(f"/proc/{shell}/stat").read_text().rpartition(")")[2].split()[1])
    ids = set()
    for fd in os.listdir(f"/proc/{recorder}/fdinfo"):
        try:
            for line in Path(f"/proc/{recorder}/fdinfo/{fd}").read_text().splitlines():
                if line.startswith("prog_id:"):
                    ids.add(int(line.split()[1]))
        except OSError:
            pass
    progs = json.loads(sh(["bpftool", "prog", "show", "-j"], check=True).stdout)
    stat = Path(f"/proc/{recorder}/stat").read_text().rpartition(")")[2].split()
    doc = {"t": time.monotonic(), "cpu_ticks": int(stat[11]) + int(stat[12]),
           "progs": {str(p["id"]): [p.get("name", "?"), p.get("type", "?"), p.get("run_cnt", 0),
                                    p.get("run_time_ns", 0)] for p in progs if p["id"] in ids}}
    out.write_text(json.dumps(doc))


def _delta(a: dict, b: dict) -> dict[str, tuple[str, str, int, int]]:
    out = {}
    for pid, (name, kind, cnt, ns) in b["progs"].items():
        _n, _k, cnt0, ns0 = a["progs"].get(pid, (name, kind, 0, 0))
        out[pid] = (name, kind, cnt - cnt0, ns - ns0)
    return out


def measure(design: str, port: int, seconds: int, warmup: int, work: Path) -> dict:
    """One recording of the nginx sample: warm-up load, idle stretch, load stretch."""
    me = [sys.executable, str(Path(__file__).resolve()), "--snap"]
    snaps = [work / f"{design}-{k}.json" for k in ("a", "b", "c")]
    result = work / f"{design}-wrk.txt"
    url = f"http://127.0.0.1:{port}/"
    workload = (f"wrk -t2 -c32 -d{warmup}s {url} > /dev/null; "
                f"{' '.join(me)} {snaps[0]}; sleep {seconds}; {' '.join(me)} {snaps[1]}; "
                f"wrk -t2 -c32 -d{seconds}s {url} > {result}; {' '.join(me)} {snaps[2]}")
    r = sh(PROFILER + ["record", "-o", str(work / f"{design}.yaml"), "--tracer", design, IMAGE,
                       "-p", f"127.0.0.1:{port}:80", "--ready-port", str(port),
                       "--allow-loss", "--workload", workload])
    if r.returncode != 0:
        sys.exit(f"recording ({design}) failed: {r.stderr.strip()[-500:]}")
    text = result.read_text()
    a, b, c = (json.loads(p.read_text()) for p in snaps)
    return {"requests": int(re.search(r"(\d+) requests in", text).group(1)),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
            "idle": _delta(a, b), "load": _delta(b, c),
            "cpu": (c["cpu_ticks"] - b["cpu_ticks"]) / os.sysconf("SC_CLK_TCK") / (c["t"] - b["t"])}


def report(design: str, m: dict) -> None:
    n = m["requests"]
    print(f"\n{design}: {n} requests ({m['rps']:.0f} req/s); the recording process used "
          f"{100 * m['cpu']:.1f}% of one CPU during the load")
    print(f"  {'program':34} {'type':15} {'runs/req':>9} {'ns/run':>7} {'ns/req':>7}   "
          f"(idle stretch, per req)")
    rows, total_runs, total_ns = [], 0.0, 0.0
    for pid, (name, kind, cnt, ns) in m["load"].items():
        _n, _k, icnt, ins = m["idle"].get(pid, (name, kind, 0, 0))
        runs, cost = (cnt - icnt) / n, (ns - ins) / n
        rows.append((cost, runs, ns / cnt if cnt else 0.0, name, kind, icnt / n, ins / n))
        total_runs, total_ns = total_runs + runs, total_ns + cost
    for cost, runs, per, name, kind, iruns, ins in sorted(rows, reverse=True):
        if cnt_shown(runs, iruns):
            print(f"  {name:34} {kind:15} {runs:9.2f} {per:7.0f} {cost:7.0f}   "
                  f"({iruns:.2f} runs, {ins:.0f} ns)")
    print(f"  {'all programs, load minus idle':50} {total_runs:9.2f} {'':7} {total_ns:7.0f}")


def cnt_shown(runs: float, idle: float) -> bool:
    return abs(runs) >= 0.005 or idle >= 0.005


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snap", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=int, default=5, help="the idle and the load stretch")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of load before the idle stretch")
    ap.add_argument("--port", type=int, default=18091, help="host port of the nginx sample")
    ap.add_argument("--designs", default="raw,per-syscall")
    a = ap.parse_args()
    if a.snap:
        return snap(a.snap)
    if os.geteuid() != 0:
        sys.exit("bench/progstats_bench.py needs root (make bench)")
    for tool in ("bpftool", "wrk"):
        if shutil.which(tool) is None:
            print(f"progstats_bench: {tool} is not installed (apt-get install {tool}): skipped")
            return
    stats = Path("/proc/sys/kernel/bpf_stats_enabled")
    before = stats.read_text().strip()
    stats.write_text("1")
    try:
        with tempfile.TemporaryDirectory(prefix="profiler-progstats-") as tmp:
            results = {d: measure(d, a.port, a.seconds, a.warmup, Path(tmp))
                       for d in a.designs.split(",")}
    finally:
        stats.write_text(before)
    print(f"Per nginx request (wrk -t2 -c32 on 127.0.0.1, after {a.warmup} s of load): the "
          f"recorder's BPF programs, load stretch minus idle stretch ({a.seconds} s each). Load "
          f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; other tasks' calls "
          "are in both stretches.")
    for design, m in results.items():
        report(design, m)


if __name__ == "__main__":
    main()

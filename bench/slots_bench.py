#!/usr/bin/env python3
"""Does the per-syscall cost grow with the number of traced containers? (root; `make bench`)

One match-mode tracer (issue 13: one BPF program, every container in a slot of its own). A
getppid loop in a container (bench/loadgen.c, pinned to the last CPU) is timed by its CPU time
(what the tracer adds to each call, not the waits of an oversubscribed machine), traced and
untraced, side by side in each round, with 0, 9 and 49 other containers running (1, 10 and 50
containers; `--containers`), each making getppid calls in bursts (a total of about 150,000
calls, then 0.1 s of sleep, without end, split among them), traced in slots of their own
(untraced in the untraced run: the same load). Bursts, not a busy loop: on a 2-CPU machine busy
loops would measure CPU contention, not the tracer.
Prints each case's traced/untraced ratio and their quotient to the one-container ratio (1.00:
the number of containers costs nothing per syscall; target issue 21: flat), and what the
tracer's maps lock in kernel memory, single-container and match mode. Runs alternate and report
medians: the machines are shared and noisy. No assertion here: this script reports; the numbers
go into the README and the issue notes.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from record_bench import IMAGE, build_loadgen, sh  # noqa: E402  (the same loop and image)


def cpus() -> tuple[str, str]:
    """(the loop's CPU, the others' CPUs): the loop alone on the last one where there are two."""
    n = os.cpu_count() or 1
    return (str(n - 1), f"0-{n - 2}" if n > 1 else "0")


def finish(p: subprocess.Popen, tracer=None) -> str:
    """p's output once it ends, polling the tracer (if any) meanwhile, as `record` does."""
    while p.poll() is None:
        if tracer is not None:
            tracer.poll(100)
        else:
            try:
                p.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
    return p.stdout.read()


def loop_ns(calls: int, tracer=None) -> float:
    """ns per getppid of the loop container, polling the tracer (if any) while it runs."""
    loop_cpu, _ = cpus()
    p = subprocess.Popen(["docker", "run", "--rm", "--cpuset-cpus", loop_cpu, IMAGE, "loadgen",
                          "getppid-cpu", str(calls)], stdout=subprocess.PIPE, text=True)
    out = finish(p, tracer)
    if p.returncode != 0:
        sys.exit(f"the loop container failed ({p.returncode})")
    return int(out) / calls


def start_others(n: int, tracer=None) -> list[str]:
    """Start n busy containers; with a tracer, poll it meanwhile as `record --match` does: a
    tracer nobody reads while 49 containers start fills its ring buffer (every start streams the
    runtime's execs and paths) and counts the later containers' announcements as lost."""
    _, other_cpus = cpus()
    calls = max(1000, 150_000 // max(n, 1))  # the same background load whatever their number
    burst = f"while :; do loadgen getppid {calls} >/dev/null; sleep 0.1; done"
    ids = []
    for _ in range(n):
        p = subprocess.Popen(["docker", "run", "-d", "--rm", "--cpuset-cpus", other_cpus, IMAGE,
                              "sh", "-c", burst], stdout=subprocess.PIPE, text=True)
        out = finish(p, tracer).strip()
        if p.returncode != 0:
            sys.exit(f"docker run of a busy container failed ({p.returncode})")
        ids.append(out)
    return ids


def stop(ids: list[str]) -> None:
    if ids:
        sh(["docker", "rm", "-f", *ids])


def traced(calls: int, others: int) -> tuple[float, int]:
    """The loop's ns/call under a match-mode tracer, with `others` traced containers busy;
    and how many slots the tracer handed out (every container it saw start)."""
    from profiler.kernel.tracer import Tracer

    tracer = Tracer(containers=True, match=True)
    slots: list[int] = []
    tracer.on_container = lambda slot, cid, path: (slots.append(slot), tracer.keep(slot))
    ids = []
    try:
        ids = start_others(others, tracer)
        ns = loop_ns(calls, tracer)
        tracer.drain()
        raws = tracer.snapshot_slots()
        if len(raws) < others + 1:
            sys.exit(f"only {len(raws)} containers were traced, of {others + 1}")
    finally:
        stop(ids)
        tracer.close()
    return ns, len(slots)


def untraced(calls: int, others: int) -> float:
    ids = start_others(others)
    try:
        return loop_ns(calls)
    finally:
        stop(ids)


def map_memory(**kw) -> int:
    """Bytes the tracer's maps lock (memlock in /proc/self/fdinfo of each map it made)."""
    from profiler.kernel.tracer import Tracer

    def maps() -> dict[int, int]:
        out = {}
        for fd in os.listdir("/proc/self/fdinfo"):
            try:
                info = Path(f"/proc/self/fdinfo/{fd}").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
            if "map_id" in fields and "memlock" in fields:
                out[int(fields["map_id"])] = int(fields["memlock"])
        return out

    before = maps()
    tracer = Tracer(**kw)
    try:
        return sum(v for k, v in maps().items() if k not in before)
    finally:
        tracer.close()


def possible_cpus() -> int:
    n = 0
    for part in Path("/sys/devices/system/cpu/possible").read_text().strip().split(","):
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=3_000_000)
    ap.add_argument("--containers", default="1,10,50",
                    help="numbers of traced containers, the loop's included (default 1,10,50)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/slots_bench.py needs root (make bench)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # stop() still runs
    counts = [int(x) for x in a.containers.split(",")]
    from profiler.kernel.wire import MAX_SLOTS
    if max(counts) >= MAX_SLOTS:
        sys.exit(f"at most {MAX_SLOTS - 1} containers (slot 0 is the tracer's own)")
    with tempfile.TemporaryDirectory(prefix="profiler-bench-") as tmp:
        build_loadgen(Path(tmp))
    res: dict[int, dict[str, list[float]]] = {n: {"plain": [], "traced": []} for n in counts}
    slots_seen: dict[int, int] = {}
    for _ in range(a.rounds):
        for n in counts:
            res[n]["plain"].append(untraced(a.calls, n - 1))
            ns, slots_seen[n] = traced(a.calls, n - 1)
            res[n]["traced"].append(ns)
    ratio = {n: statistics.median(r["traced"]) / statistics.median(r["plain"])
             for n, r in res.items()}
    single, match = map_memory(containers=True), map_memory(containers=True, match=True)
    one = ratio[counts[0]]
    print(f"{a.rounds} rounds, medians; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs (a shared machine: compare ratios of one run only)")
    print(f"{'measure':56} {'result':>10} {'target':>8}")
    for n in counts:
        r = res[n]
        print(f"{f'getppid loop, {n} traced containers: traced/untraced':56} {ratio[n]:9.2f}x")
        print(f"{'  (median ns/call traced, untraced; slots handed out)':56} "
              f"{statistics.median(r['traced']):5.0f} / {statistics.median(r['plain']):3.0f}; "
              f"{slots_seen[n]}")
        if n != counts[0]:
            print(f"{f'  ratio with {n} containers / ratio with {counts[0]}':56} "
                  f"{ratio[n] / one:10.3f} {'1.00':>8}")
    print(f"{'maps locked, single container (MiB)':56} {single / 2**20:10.1f}")
    print(f"{f'maps locked, match mode, {MAX_SLOTS} slots (MiB)':56} {match / 2**20:10.1f}")
    print(f"{'  (possible CPUs: a per-CPU array has a copy on each)':56} {possible_cpus():10d}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Does the per-syscall cost grow with the number of traced containers? (root; `make bench`)

One match-mode tracer (issue 13: one BPF program, every container in a slot of its own). A
getppid loop in a container (bench/loadgen.c, pinned to the last CPU) is timed, traced and
untraced, twice side by side in each round:
  1. alone: the loop is the one container;
  2. with 3 others: three more containers on the other CPUs, each making getppid calls in bursts
     (50,000 calls, then 0.1 s of sleep, without end), traced in slots of their own (untraced in
     the untraced run: the same load). Bursts, not a busy loop: on a 2-CPU machine three busy
     loops would measure CPU contention, not the tracer.
Prints each case's traced/untraced ratio and their quotient (1.00: the number of containers
costs nothing per syscall), and what the tracer's maps lock in kernel memory, single-container
and match mode. Runs alternate and report medians: the machines are shared and noisy. No
assertion here: this script reports; the numbers go into the README and the issue notes.
"""

from __future__ import annotations

import argparse
import os
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


def loop_ns(calls: int, tracer=None) -> float:
    """ns per getppid of the loop container, polling the tracer (if any) while it runs."""
    loop_cpu, _ = cpus()
    p = subprocess.Popen(["docker", "run", "--rm", "--cpuset-cpus", loop_cpu, IMAGE, "loadgen",
                          "getppid", str(calls)], stdout=subprocess.PIPE, text=True)
    while p.poll() is None:
        if tracer is not None:
            tracer.poll(100)
        else:
            try:
                p.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
    out = p.stdout.read()
    if p.returncode != 0:
        sys.exit(f"the loop container failed ({p.returncode})")
    return int(out) / calls


def start_others(n: int) -> list[str]:
    _, other_cpus = cpus()
    burst = "while :; do loadgen getppid 50000 >/dev/null; sleep 0.1; done"
    return [sh(["docker", "run", "-d", "--rm", "--cpuset-cpus", other_cpus, IMAGE, "sh", "-c",
                burst], check=True).stdout.strip() for _ in range(n)]


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
        ids = start_others(others)
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
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=3_000_000)
    ap.add_argument("--others", type=int, default=3)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/slots_bench.py needs root (make bench)")
    with tempfile.TemporaryDirectory(prefix="profiler-bench-") as tmp:
        build_loadgen(Path(tmp))
    res: dict[str, list[float]] = {k: [] for k in ("plain1", "traced1", "plainN", "tracedN")}
    slots_seen = 0
    for _ in range(a.rounds):
        res["plain1"].append(untraced(a.calls, 0))
        res["traced1"].append(traced(a.calls, 0)[0])
        res["plainN"].append(untraced(a.calls, a.others))
        ns, slots_seen = traced(a.calls, a.others)
        res["tracedN"].append(ns)
    med = {k: statistics.median(v) for k, v in res.items()}
    one, many = med["traced1"] / med["plain1"], med["tracedN"] / med["plainN"]
    single, match = map_memory(containers=True), map_memory(containers=True, match=True)
    from profiler.kernel.wire import MAX_SLOTS

    n = a.others + 1
    print(f"{'measure':56} {'result':>10}")
    print(f"{'getppid loop, 1 traced container: traced/untraced':56} {one:9.2f}x")
    print(f"{'  (median ns/call traced, untraced)':56} {med['traced1']:5.0f} / {med['plain1']:3.0f}")
    print(f"{f'same loop, {n} traced containers: traced/untraced':56} {many:9.2f}x")
    print(f"{'  (median ns/call traced, untraced)':56} {med['tracedN']:5.0f} / {med['plainN']:3.0f}")
    print(f"{f'ratio with {n} containers / ratio with 1':56} {many / one:10.3f}")
    print(f"{'  (slots the tracer handed out in the last run)':56} {slots_seen:10d}")
    print(f"{'maps locked, single container (MiB)':56} {single / 2**20:10.1f}")
    print(f"{f'maps locked, match mode, {MAX_SLOTS} slots (MiB)':56} {match / 2**20:10.1f}")
    print(f"{'  (possible CPUs: a per-CPU array has a copy on each)':56} {possible_cpus():10d}")


if __name__ == "__main__":
    main()

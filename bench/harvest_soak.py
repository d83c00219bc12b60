#!/usr/bin/env python3
"""A long `profiler harvest --follow` on a busy host: are its memory and CPU flat over time? (root)

An app of --replicas containers (label io.profiler.harvest-soak=TAG) runs under a seccomp
profile that logs what it does not list (SCMP_ACT_LOG for every call but a few: the shape of
a complain-mode policy), each a shell that makes logged calls every second (a builtin, a
pipeline, a short-lived child), and every --replace seconds one replica is removed and a new
one started (containers that are gone by the time their records are read). Unrelated
containers churn beside it (--churn-workers). The harvester runs for --seconds with
--interval-second snapshots; every --sample seconds this script reads its resident memory
(VmRSS) and CPU time (/proc/PID/stat) and prints a row; at the end, the first and last
quarter side by side (flat: their ratio near 1), and what the harvest holds (records,
dropped, unattributed).

The kernel prints at most printk_ratelimit_burst audit records per printk_ratelimit seconds
for the whole host without auditd (10 per 5 s here): the record rate is the kernel's, not
the app's. No assertion: this script reports. The machines are shared: say so with the
figures. Example: sudo .venv/bin/python bench/harvest_soak.py --seconds 600 --sample 30
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

from soak_bench import cpu_s, rss_kib  # noqa: E402
from stress import Churn  # noqa: E402

IMAGE = "profiler-base:bookworm"
PROFILER = [str(REPO / ".venv" / "bin" / "profiler")]
# A complain-mode profile logs only what the training run did not see: here two calls of the
# loop (a builtin's kill, a pipeline's pipe2), about one record a second per replica, so that
# the shared kernel log is not flooded (it holds a few hundred KiB for the whole host).
PROFILE = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
    {"names": ["kill", "pipe2"], "action": "SCMP_ACT_LOG"}]}
LOOP = "while :; do kill -0 $$; echo x | cat >/dev/null; sleep 2; done"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--sample", type=float, default=30)
    ap.add_argument("--interval", type=float, default=10, help="harvest --interval")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--replace", type=float, default=30)
    ap.add_argument("--churn-workers", type=int, default=1)
    ap.add_argument("--source", default="kmsg", choices=("kmsg", "netlink", "audit.log"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("harvest_soak: needs root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="profiler-harvest-soak-"))
    tag = secrets.token_hex(4)
    label = f"io.profiler.harvest-soak={tag}"
    profile = work / "complain.json"
    profile.write_text(json.dumps(PROFILE))
    serial = 0

    def start() -> str:
        nonlocal serial
        serial += 1
        name = f"profiler-harvest-soak-{tag}-{serial}"
        subprocess.run(["docker", "run", "-d", "--name", name, "--label", label, "--label",
                        "com.docker.compose.service=app", "--security-opt",
                        f"seccomp={profile}", IMAGE, "sh", "-c", LOOP],
                       check=True, capture_output=True)
        return name

    replicas: list[str] = []
    harvester: list[subprocess.Popen] = []
    try:
        return _soak(a, work, label, replicas, start, harvester)
    finally:
        for h in harvester:
            if h.poll() is None:
                h.terminate()  # it saves and stops
                h.wait(30)
        for name in replicas:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _soak(a, work: Path, label: str, replicas: list[str], start,
          harvester: list[subprocess.Popen]) -> int:
    replicas.extend(start() for _ in range(a.replicas))
    out = work / "harvest"
    rows = []
    with Churn(workers=a.churn_workers) as churn:
        churn.wait_for(1) if a.churn_workers else None
        t0 = time.monotonic()
        h = subprocess.Popen(PROFILER + ["harvest", "-o", str(out), "--match", label, "--source", a.source, "--follow",
                                         "--interval", str(a.interval), "--duration",
                                         str(a.seconds)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
        harvester.append(h)
        print(f"{'t (s)':>7} {'RSS (MiB)':>10} {'CPU (%)':>8} {'replaced':>9}", flush=True)
        last_t, last_cpu, last_replace, replaced = time.monotonic(), 0.0, time.monotonic(), 0
        next_sample = last_t + a.sample
        while h.poll() is None:
            time.sleep(1)
            now = time.monotonic()
            if now - last_replace >= a.replace:
                gone = replicas.pop(0)
                subprocess.run(["docker", "rm", "-f", gone], capture_output=True)
                replicas.append(start())
                replaced += 1
                last_replace = now
            if now < next_sample:
                continue
            next_sample += a.sample
            try:
                cpu, rss = cpu_s(h.pid), rss_kib(h.pid)
            except (OSError, IndexError):
                break
            if not rss:
                break
            pct = 100.0 * (cpu - last_cpu) / (now - last_t)
            rows.append((now - t0, rss / 1024, pct))
            print(f"{now - t0:7.0f} {rss / 1024:10.1f} {pct:8.2f} {replaced:9d}", flush=True)
            last_t, last_cpu = now, cpu
        _, stderr = h.communicate()
        elapsed = time.monotonic() - t0
    state = json.loads((out / "state.json").read_text()) if (out / "state.json").exists() else {}
    q = max(1, len(rows) // 4)

    def mean(xs):
        return sum(xs) / len(xs) if xs else 0.0

    first, last = rows[:q], rows[-q:]
    print()
    print(f"{elapsed:.0f} s, source {a.source}, {a.replicas} replicas, one replaced every {a.replace:g} s, "
          f"{a.churn_workers} churn worker(s), the machine shared with others (noisy)")
    print(f"profiler harvest: exit {h.returncode}"
          + (f"; {stderr.strip().splitlines()[-1]}" if h.returncode and stderr.strip() else ""))
    if rows:
        f_rss, l_rss = mean([r[1] for r in first]), mean([r[1] for r in last])
        f_cpu, l_cpu = mean([r[2] for r in first]), mean([r[2] for r in last])
        print(f"RSS MiB: first quarter {f_rss:.1f}, last quarter {l_rss:.1f} "
              f"(ratio {l_rss / f_rss if f_rss else 0:.2f}), max {max(r[1] for r in rows):.1f}")
        print(f"CPU %:   first quarter {f_cpu:.2f}, last quarter {l_cpu:.2f} "
              f"(ratio {l_cpu / f_cpu if f_cpu else 0:.2f})")
    svc = state.get("services", {})
    print(f"harvest: {sum(s['records'] for s in svc.values())} records in {len(svc)} "
          f"service(s), {sum(s['containers_total'] for s in svc.values())} containers seen; "
          f"dropped {max(state.get('dropped', 0), state.get('serial_gaps', 0))}, unattributed "
          f"{state.get('unattributed', {})}; containers churned beside it {churn.count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

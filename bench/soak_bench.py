#!/usr/bin/env python3
"""A long recording on a busy host: are profiler's memory and CPU flat over time? (root)

One `profiler record` (match mode by default: the mode that hands out and takes back container
slots) of a container with steady traffic (bench/loadgen.c getppid bursts, a file read, a few
execs a second), for --seconds, while:
  - unrelated containers churn (`docker run --rm profiler-base:bookworm true`, --churn-workers
    loops in parallel: made, started, ended, removed);
  - other tracers run on the same tracepoints: bpftrace counting every syscall entry, and a
    second profiler recording a host command (--exec) for the same time.
  - with --burst N: every --burst-every seconds, N container-named cgroups appear at once
    (hex ids, under a scratch cgroup of this script's, removed 2 s later): a burst of starts
    faster than the recorder can judge them (a node scaling up, a test suite), which takes
    every container slot for a moment: none of them is the app's, so none may count as lost.
Every --sample seconds it reads the recorder's resident memory (VmRSS) and CPU time
(/proc/PID/stat) and prints a row; at the end a summary: RSS and CPU over the first and last
quarter (flat: their ratio near 1), containers churned per minute, the traced app's syscalls
per second, events lost, and the exit status of both profilers and bpftrace. In-kernel
aggregation is what should make the cost independent of the duration.

--mode attach: the app container is started first (`docker run -d`), then recorded with
`record --container NAME` (issue 19: an attach recording that runs for days), with
--snapshot-every SECONDS if given (the recording written every interval; the summary then
says how many snapshots were written and what one cost). --app nginx records the nginx
sample (profiler-sample-nginx, published on 127.0.0.1:--port) under a steady HTTP request
loop from the host (--rate requests a second) instead of the loadgen loop.

No assertion: this script reports (README, Reliability). The machines are shared: say so with
the figures. Example: sudo .venv/bin/python bench/soak_bench.py --seconds 600 --sample 20
         sudo .venv/bin/python bench/soak_bench.py --mode attach --app nginx --port 47080 \
             --snapshot-every 10 --seconds 900 --sample 30 --churn-workers 0
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

from record_bench import IMAGE, PROFILER, build_loadgen  # noqa: E402
from stress import Churn  # noqa: E402

# Steady traffic: ~20,000 getppid calls, a file read and two execs every ~0.1 s.
LOOP = ("trap 'exit 0' TERM; while :; do loadgen getppid 20000 >/dev/null; "
        "cat /etc/hostname >/dev/null; sleep 0.1; done")
BPFTRACE = "tracepoint:raw_syscalls:sys_enter { @calls = count(); }"
TICK = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _request_loop(url: str, rate: float, done: list, stop: threading.Event) -> None:
    """Steady HTTP traffic to the app (127.0.0.1 only): `rate` requests a second, counted."""
    while not stop.is_set():
        t = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()
            done[0] += 1
        except OSError:
            pass
        stop.wait(max(0.0, 1 / rate - (time.monotonic() - t)))


class Bursts:
    """Every `every` seconds, `n` cgroups named like containers appear at once (and go 2 s
    later), under a scratch cgroup v2 directory removed at the end."""

    def __init__(self, n: int, every: float):
        import threading

        from profiler.session.preflight import v2_root

        self.n, self.every, self.count = n, every, 0
        self.parent = v2_root() / f"profiler-soak-burst-{secrets.token_hex(4)}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.parent.mkdir()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            made = []
            for _ in range(self.n):
                p = self.parent / secrets.token_hex(32)
                p.mkdir()
                made.append(p)
            self.count += 1
            self._stop.wait(2)
            for p in made:
                p.rmdir()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        for p in self.parent.iterdir():
            if p.is_dir():
                p.rmdir()
        self.parent.rmdir()
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--sample", type=float, default=20)
    ap.add_argument("--churn-workers", type=int, default=2)
    ap.add_argument("--mode", choices=("match", "single", "attach"), default="match")
    ap.add_argument("--no-other-tracers", action="store_true")
    ap.add_argument("--snapshot-every", type=float, default=0,
                    help="attach and match mode: record --snapshot-every SECONDS")
    ap.add_argument("--app", choices=("loadgen", "nginx"), default="loadgen",
                    help="attach mode: the app recorded")
    ap.add_argument("--port", type=int, default=47080, help="--app nginx: host port (127.0.0.1)")
    ap.add_argument("--rate", type=float, default=50, help="--app nginx: requests a second")
    ap.add_argument("--name-prefix", default="profiler-soak-",
                    help="the app container's name prefix (yours on a shared engine)")
    ap.add_argument("--burst", type=int, default=0, help="container cgroups per burst")
    ap.add_argument("--burst-every", type=float, default=60)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("soak_bench: needs root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="profiler-soak-"))
    tag = secrets.token_hex(4)
    name = f"{a.name_prefix}{tag}"
    build_loadgen(work)
    out = work / ("app.recordings" if a.mode == "match" else "app.recording.yaml")
    snapshots = ["--snapshot-every", str(a.snapshot_every)] if a.snapshot_every else []
    requests = [0]
    stop_requests = threading.Event()
    if a.mode == "attach":
        app = (["-p", f"127.0.0.1:{a.port}:80", "profiler-sample-nginx"] if a.app == "nginx"
               else [IMAGE, "sh", "-c", LOOP])
        subprocess.run(["docker", "run", "-d", "--name", name, *app], check=True,
                       capture_output=True)
        if a.app == "nginx":
            threading.Thread(target=_request_loop, daemon=True,
                             args=(f"http://127.0.0.1:{a.port}/", a.rate, requests,
                                   stop_requests)).start()
        args = ["record", "--container", name, "--duration", str(a.seconds), *snapshots,
                "-o", str(out)]
    elif a.mode == "match":
        args = ["record", "--match", f"io.profiler.soak={tag}", "--duration", str(a.seconds),
                "--stop-timeout", "2", *snapshots, "-o", str(out), "--", "docker", "run", "-d",
                "--name", name, "--label", f"io.profiler.soak={tag}", IMAGE, "sh", "-c", LOOP]
    else:
        args = ["record", IMAGE, "--name", name, "--duration", str(a.seconds),
                "--stop-timeout", "2", "-o", str(out), "--", "sh", "-c", LOOP]
    others: list[subprocess.Popen] = []
    rows = []
    bursts = Bursts(a.burst, a.burst_every) if a.burst else None
    with Churn(workers=a.churn_workers) as churn, (bursts or contextlib.nullcontext()):
        if a.churn_workers:
            churn.wait_for(2)
        if not a.no_other_tracers:
            if shutil.which("bpftrace"):
                others.append(subprocess.Popen(["bpftrace", "-e", BPFTRACE],
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True))
            others.append(subprocess.Popen(
                PROFILER + ["record", "--exec", "--duration", str(a.seconds), "-o",
                            str(work / "second.recording.yaml"), "--", "sh", "-c",
                            "while :; do cat /etc/hostname >/dev/null; sleep 0.5; done"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work))
        t0 = time.monotonic()
        churn0 = churn.count
        rec = subprocess.Popen(PROFILER + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, stdin=subprocess.DEVNULL)
        print(f"{'t (s)':>7} {'RSS (MiB)':>10} {'CPU (%)':>8} {'churned':>8}", flush=True)
        last_t, last_cpu = time.monotonic(), 0.0
        while rec.poll() is None:
            time.sleep(a.sample)
            try:
                now, cpu, rss = time.monotonic(), cpu_s(rec.pid), rss_kib(rec.pid)
            except (OSError, IndexError):
                break
            if not rss:  # exiting
                break
            pct = 100.0 * (cpu - last_cpu) / (now - last_t)
            rows.append((now - t0, rss / 1024, pct, churn.count - churn0))
            print(f"{now - t0:7.0f} {rss / 1024:10.1f} {pct:8.1f} {churn.count - churn0:8d}",
                  flush=True)
            last_t, last_cpu = now, cpu
        stdout, stderr = rec.communicate()
        elapsed = time.monotonic() - t0
        stop_requests.set()
        churned = churn.count - churn0
    results = []
    for p in others:
        if p.args[0] == "bpftrace":
            p.send_signal(2)
        o, e = p.communicate(timeout=120)
        results.append((p.args[0] if p.args[0] == "bpftrace" else "second profiler",
                        p.returncode, (o or "").strip().splitlines()[-1:] or [""]))
    subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)
    from profiler.recording import recording_io

    rec_file = out / f"{name}.recording.yaml" if a.mode == "match" else out
    syscalls, loss, dur, kinds = 0, None, elapsed, {}
    slot_notes = [" ".join(n.split()) for n in stderr.split("\n\n") if "slot" in n]
    if rec_file.exists():
        r = recording_io.load(rec_file)
        syscalls = sum(s.count for s in r.syscalls)
        loss = r.total_loss
        kinds = {k: v for k, v in r.loss if v}
        dur = (r.timeline.duration_ms or elapsed * 1000) / 1000 if r.timeline else elapsed
    q = max(1, len(rows) // 4)
    first, last = rows[:q], rows[-q:]

    def mean(xs):
        return sum(xs) / len(xs) if xs else 0.0

    print()
    print(f"mode {a.mode}, {elapsed:.0f} s, the machine shared with others (noisy)")
    print(f"profiler record: exit {rec.returncode}"
          + (" (internal error)" if "internal error" in stderr else "")
          + (f"; {stderr.strip().splitlines()[-1]}" if rec.returncode and stderr.strip() else ""))
    if rows:
        print(f"RSS MiB: first quarter {mean([r[1] for r in first]):.1f}, last quarter "
              f"{mean([r[1] for r in last]):.1f}, max {max(r[1] for r in rows):.1f}")
        print(f"CPU %:   first quarter {mean([r[2] for r in first]):.1f}, last quarter "
              f"{mean([r[2] for r in last]):.1f}")
    print(f"containers churned: {churned} ({churned * 60 / elapsed:.0f}/min), "
          f"failed starts {churn.failed}")
    if bursts:
        print(f"bursts: {bursts.count} of {a.burst} container cgroups each, every "
              f"{a.burst_every:.0f} s")
    print(f"traced app: {syscalls} syscalls, {syscalls / dur if dur else 0:.0f}/s; "
          f"events lost: {loss}" + (f" {kinds}" if kinds else ""))
    if requests[0]:
        print(f"HTTP requests to the app: {requests[0]} ({requests[0] / elapsed:.0f}/s)")
    snaps = re.search(r"\d+ snapshot\(s\) written .*? at most(; \d+ could not be written)?",
                      " ".join(stderr.split()))
    if snaps:  # record's note on its snapshots: how many, what one cost
        print("record:", snaps.group(0))
    for n in slot_notes:
        print(f"profiler's note: {n}")
    for what, code, tail in results:
        print(f"{what}: exit {code} {tail[0]}")
    if loss:
        print(f"kept for a look: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

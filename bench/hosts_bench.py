#!/usr/bin/env python3
"""Issue 21's figures in a VM of the host matrix (root; `make bench`; 30-60 minutes).

Boots a stock Debian host of the matrix (tests/hosts/harness.py, default debian12) with the
harness's `--bench`: the guest clones the commit under test, runs the README's set-up offline,
and then only bench/record_bench.py with the arguments below (no sample's steps). Prints the
bench's output as the guest wrote it (the same figures, targets and peers as on this machine:
an empty raw tracepoint program, bpftrace, `strace -f`), after a line naming the guest's
kernel.

The VM runs under QEMU's TCG (KVM guests hang on our machines, ../shared/NOTES.md): every
instruction is translated, so absolute times are 5-50x this machine's and mean nothing; the
ratios are measured side by side inside the one guest, like the host's. Fewer rounds than on
the host, and more calls (a getppid costs ~750 ns there: 500,000 calls ended before the
per-syscall design had detached getppid, so its figure was the armed cost). No assertion:
this script reports.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HARNESS = REPO / "tests" / "hosts" / "harness.py"
# The loops, the nginx sample under wrk and the start: what differs by kernel and distribution.
# (paths and the long recording are the recorder's completeness and memory: this machine's run.)
DEFAULT_ARGS = "--only loop,exec,strace,nginx,start --rounds 3 --calls 5000000 --wrk-seconds 5"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="debian12", help="a host of tests/hosts/harness.py")
    ap.add_argument("--args", default=DEFAULT_ARGS, help="bench/record_bench.py's arguments "
                    f"in the guest (default: {DEFAULT_ARGS})")
    ap.add_argument("--json", type=Path, default=REPO / "out" / "hosts" / "bench-results.json")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/hosts_bench.py needs root (make bench)")
    if os.environ.get("PROFILER_BENCH_VM", "1") == "0":
        print("hosts_bench: skipped (PROFILER_BENCH_VM=0)")
        return 0
    print(f"hosts_bench: {a.host} under TCG, record_bench.py {a.args} (30-60 minutes)", flush=True)
    rc = subprocess.run([sys.executable, str(HARNESS), a.host, "--bench", a.args,
                         "--json", str(a.json)], stdin=subprocess.DEVNULL).returncode
    try:
        run = json.loads(a.json.read_text())["runs"][0]
    except (OSError, ValueError, LookupError) as e:
        print(f"hosts_bench: no result from the harness ({e}); exit {rc}", file=sys.stderr)
        return 1
    f = run.get("facts", {})
    print(f"\n== {a.host} (VM, TCG): {f.get('os', '?')}, kernel {f.get('kernel', '?')}, "
          f"docker {f.get('docker_version', '?')}")
    rows = [x for x in run["results"] if x["sample"] == "bench"]
    if not rows or not rows[0].get("log"):
        print(f"hosts_bench: the guest ran no bench (see {run['share']}/guest.log)", file=sys.stderr)
        return 1
    log = Path(run["share"]) / rows[0]["log"]
    print(log.read_text(errors="replace") if log.exists() else f"(no log at {log})")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

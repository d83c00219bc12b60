"""Regenerate the test fixtures that stand for live recordings, from live recordings.

    make fixtures                         # every fixture below (root, eBPF, Docker)
    .venv/bin/python tests/regen_fixtures.py [NAME...] [--check]

A fixture that stands for what `profiler record` writes must come from `profiler record`, so it
can never be older than the recorder (issue 10: the nginx fixture lacked /etc/nginx/mime.types
and the symlinked modules-enabled/*.conf a live recording has, and its AppArmor profile failed
under enforcement). Each fixture is a bundled sample recorded as `make demo` records it (the
sample.yaml's own port, so the run line in the goldens stays the same), then normalised so that
what changes from run to run does not make the file churn: timestamps, the kernel release, the
image id and every count (a count becomes presence, 0 or 1; emit only asks whether something
happened). Paths, access kinds, argument values, capabilities, sockets and the task peak are
kept as recorded. After regenerating, review `git diff tests/fixtures` and rewrite the goldens
that follow with `pytest --update-golden`.

`--check` records again and exits 1 when a fixture would change (nothing is written).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(REPO))

from profiler.recording import recording_io  # noqa: E402
from profiler.recording.model import Capability, Executable, Network, Recording, SocketUse, Syscall

# fixture file -> the sample it is recorded from
FIXTURES = {"nginx": "nginx"}

# What a regenerated fixture says instead of the run's own values.
STARTED_AT = "2026-01-01T00:00:00Z"
ENDED_AT = "2026-01-01T00:00:10Z"
KERNEL = "normalised"  # tests/regen_fixtures.py replaced the recording host's release
IMAGE_ID = "sha256:" + "0" * 64


def _presence(n: int) -> int:
    return 1 if n else 0


def normalise(rec: Recording) -> Recording:
    """The recording without its run-to-run noise (pure)."""
    md = replace(rec.metadata, started_at=STARTED_AT, ended_at=ENDED_AT, kernel=KERNEL,
                 image_id=IMAGE_ID if rec.metadata.image_id else "")
    return replace(
        rec,
        metadata=md,
        syscalls=tuple(Syscall(s.name, s.number, _presence(s.count),
                               tuple((e, _presence(n)) for e, n in s.errnos))
                       for s in rec.syscalls),
        arguments=tuple(replace(a, overflow=_presence(a.overflow)) for a in rec.arguments),
        capabilities=tuple(Capability(c.name, c.number, _presence(c.granted), _presence(c.denied))
                           for c in rec.capabilities),
        network=Network(sockets=tuple(SocketUse(s.family, s.type, s.protocol, _presence(s.count))
                                      for s in rec.network.sockets),
                        listening=rec.network.listening, connects=rec.network.connects),
        processes=replace(rec.processes, executables=tuple(
            Executable(e.path, _presence(e.count), e.resolved)
            for e in rec.processes.executables)),
    ).canonical()


def record(sample: str, out: Path) -> None:
    """`profiler record` of a bundled sample, as `make demo` runs it (cwd: the repository)."""
    spec = yaml.safe_load((REPO / "samples" / sample / "sample.yaml").read_text())
    argv = [str(REPO / ".venv" / "bin" / "profiler"), "record", spec["image"]]
    for p in (spec.get("run") or {}).get("publish") or []:
        argv += ["-p", p]
    if spec.get("ready_port"):
        argv += ["--ready-port", str(spec["ready_port"])]
    if spec.get("workload"):
        argv += ["--workload", f"samples/{sample}/{spec['workload']}"]
    subprocess.run(["bash", str(REPO / "scripts" / "build-samples.sh"), sample], check=True,
                   cwd=REPO, stdout=subprocess.DEVNULL)
    proc = subprocess.run(argv + ["-o", str(out)], cwd=REPO, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"regen_fixtures: recording {sample} failed (exit {proc.returncode})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help=f"fixtures (default all: {' '.join(FIXTURES)})")
    ap.add_argument("--check", action="store_true", help="exit 1 if a fixture would change")
    a = ap.parse_args(argv)
    names = a.names or list(FIXTURES)
    unknown = [n for n in names if n not in FIXTURES]
    if unknown:
        ap.error(f"unknown fixture {' '.join(unknown)} (known: {' '.join(FIXTURES)})")
    if os.geteuid() != 0:
        ap.error("must run as root (the recorder needs eBPF and Docker)")
    changed = []
    for name in names:
        target = TESTS / "fixtures" / f"{name}.recording.yaml"
        with tempfile.TemporaryDirectory(prefix="profiler-fixture-") as tmp:
            raw = Path(tmp) / "live.recording.yaml"
            record(FIXTURES[name], raw)
            text = recording_io.dumps(normalise(recording_io.load(raw)))
        old = target.read_text() if target.exists() else None
        if text != old:
            changed.append(target)
            if not a.check:
                recording_io.atomic_write(target, text)
        print(f"regen_fixtures: {target.relative_to(REPO)}: "
              f"{'unchanged' if text == old else ('would change' if a.check else 'rewritten')}")
    return 1 if a.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())

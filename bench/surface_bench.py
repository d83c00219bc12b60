#!/usr/bin/env python3
"""Attack surface of the emitted seccomp profile: strict, before generalisation, generalised,
against Docker's default (issue 18, item 1: what generalisation by kind and risk costs).

For each recording (a file, or a project directory from `record --match`: one row per
service), the names the emitted seccomp profile allows on the recorded architecture under
`emit --strict`, under the default before generalisation (siblings only,
reduce(generalise=False)) and under the default, and how many of risk.yaml's high-risk names
and medium-risk names (known on that architecture) each still refuses. With `--docker-default FILE` (moby's
profiles/seccomp/default.json, not shipped here), also Docker's main allow block on that
architecture, and how many of its names the generalised profile still refuses. Counts, no
timing; no assertion: this script reports.

    .venv/bin/python bench/surface_bench.py REC.yaml... [PROJECT_DIR...] [--docker-default F]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from profiler.kernel import syscalls as sctab  # noqa: E402
from profiler.policy import risk  # noqa: E402
from profiler.policy.reduce import reduce  # noqa: E402
from profiler.recording import project, recording_io  # noqa: E402
from profiler.render import seccomp  # noqa: E402


def _recordings(paths: list[Path]):
    for p in paths:
        if p.is_dir():
            idx = project.read(p)
            for name, rec in project.load_recordings(p, idx).items():
                yield f"{p.name}/{name}", rec
        else:
            yield p.name.removesuffix(".recording.yaml"), recording_io.load(p)


def _allowed(rec, **kw) -> set[str]:
    known = sctab.table(rec.metadata.arch)
    return seccomp.allowed_names(seccomp.profile(reduce([rec], **kw))) & set(known)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("--docker-default", type=Path, help="moby profiles/seccomp/default.json")
    args = ap.parse_args()
    docker: set[str] | None = None
    if args.docker_default:
        prof = json.loads(args.docker_default.read_text())
        docker = set(prof["syscalls"][0]["names"])  # the main, unconditional allow block
    header = ["sample", "app used", "strict", "before", "generalised", "high refused (of N)",
              "medium refused (of N)"]
    if docker is not None:
        header += ["Docker default", "Docker's names refused"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for name, rec in _recordings(args.inputs):
        known = set(sctab.table(rec.metadata.arch))
        high = {n for n in known if risk.syscall(n).level == "high"}
        medium = {n for n in known if risk.syscall(n).level == "medium"}
        strict, before, general = (_allowed(rec, strict=True), _allowed(rec, generalise=False),
                                   _allowed(rec))
        used = {s.name for s in rec.syscalls if s.name and not s.arch}
        row = [name, len(used), len(strict), len(before), len(general),
               f"{len(high - general)} of {len(high)} (strict {len(high - strict)})",
               f"{len(medium - general)} of {len(medium)} (strict {len(medium - strict)})"]
        if docker is not None:
            d = docker & known
            row += [len(d), f"{len(d - general)} (strict {len(d - strict)})"]
        print("| " + " | ".join(map(str, row)) + " |")


if __name__ == "__main__":
    main()

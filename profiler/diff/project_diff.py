"""`profiler diff OLD_DIR NEW_DIR` of two projects: per service, the comparison `diff` makes of
two recordings or two policy directories (profiler/diff/diff.py), and the services that appear or
disappear.

A project is either a project directory (`record --match -o DIR`: index.yaml and one recording
per service, profiler/recording/project.py) or what `emit DIR --format all -o OUT` wrote for one (a
policy directory per service beside compose.security.yaml). Both sides must be of the same
kind. A service that appears is compared with nothing (every privilege it has is an addition:
growth, so the gate fails); one that disappears with nothing on the other side (all removals).
Exit codes are diff's: 1 on escalation in any service, 0 otherwise (--fail-on as for diff).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from . import diff_render
from ..recording import project
from .diff import KINDS_PLURAL, DiffReport, Facts, compare, facts_from_recording
from .diff_load import policy_dir_facts
from ..errors import UsageError
from ..output import project_tree
from ..output.project_tree import OVERRIDE_FILE

HINT = ("give two project directories (`profiler record --match ... -o DIR`) or two emitted "
        "ones (`profiler emit DIR --format all -o OUT`)")
STATUS = ("unchanged", "changed", "appeared", "disappeared")


def is_project(path: str) -> bool:
    """A project directory, or a directory emit wrote for one (its override is there)."""
    p = Path(path)
    return project.is_project_dir(p) or project_tree.is_tree(p)


@dataclass(frozen=True)
class ServiceDiff:
    service: str
    status: str  # one of STATUS
    report: DiffReport


@dataclass(frozen=True)
class ProjectDiff:
    old: str
    new: str
    kind: str  # diff.KINDS key of the services' inputs
    services: tuple[ServiceDiff, ...]  # sorted by service

    @property
    def escalation(self) -> bool:
        return any(s.report.escalation for s in self.services)

    def exit_code(self, fail_on: str) -> int:
        return max((s.report.exit_code(fail_on) for s in self.services), default=0)

    def summary(self) -> str:
        grew = [s.service for s in self.services if s.report.added]
        shrank = [s.service for s in self.services if s.report.removed and not s.report.added]
        moved = [f"{s.service} {s.status}" for s in self.services
                 if s.status in ("appeared", "disappeared")]
        parts = [f"escalation in {', '.join(grew)}" if grew else "no escalation"]
        if shrank:
            parts.append(f"narrowing only in {', '.join(shrank)}")
        if moved:
            parts.append("; ".join(moved))
        return f"{len(self.services)} service(s): " + "; ".join(parts) + "."

    def to_data(self) -> dict:
        return {
            "format": "profiler-diff-project",
            "version": 1,
            "kind": self.kind,
            "old": self.old,
            "new": self.new,
            "escalation": self.escalation,
            "services": {s.service: {"status": s.status, **s.report.to_data()}
                         for s in self.services},
        }


def _sides(path: str) -> tuple[str, dict[str, tuple[Facts, str]]]:
    """(kind, service -> (Facts, label)) of one project."""
    p = Path(path)
    if not p.is_dir():
        raise UsageError(f"{path}: no such project directory", hint=HINT)
    if project.is_project_dir(p):
        index = project.read(p)
        recs = project.load_recordings(p, index)
        return "recording", {s.name: (facts_from_recording(recs[s.name], f"{path}/{s.recording}"),
                                      f"{path}/{s.recording}") for s in index.services}
    if not project_tree.is_tree(p):
        raise UsageError(f"{path}: neither a project directory ({project.INDEX_FILE}) nor an "
                         f"emitted one ({OVERRIDE_FILE})", hint=HINT)
    return "policy", {name: (policy_dir_facts(d, f"{path}/{name}"), f"{path}/{name}")
                      for name, d in project_tree.read_services(p, path).items()}


def _nothing(like: Facts) -> Facts:
    """The other side of a service that appears or disappears: the same sections, no items."""
    return replace(like, items={}, notes=())


def compare_projects(old: str, new: str) -> ProjectDiff:
    (ka, a), (kb, b) = _sides(old), _sides(new)
    if ka != kb:
        raise UsageError(f"cannot compare a project of {KINDS_PLURAL[ka]} ({old}) with one of "
                         f"{KINDS_PLURAL[kb]} ({new})", hint=HINT)
    services = []
    for name in sorted(a.keys() | b.keys()):
        if name in a and name in b:
            (fa, la), (fb, lb) = a[name], b[name]
            status = ""  # told by the comparison below
        elif name in b:
            (fb, lb), status = b[name], "appeared"
            fa, la = _nothing(fb), "(absent)"
        else:
            (fa, la), status = a[name], "disappeared"
            fb, lb = _nothing(fa), "(absent)"
        report = compare(fa, fb, la, lb)
        if not status:
            status = "changed" if report.added or report.removed else "unchanged"
        services.append(ServiceDiff(name, status, report))
    return ProjectDiff(old, new, ka, tuple(services))


_HEADINGS = {"text": "=== service {name} ({status}) ===", "markdown": "## service `{name}` ({status})"}


def render(d: ProjectDiff, fmt: str, colour: bool = False) -> str:
    """The project diff: json as data; text and markdown as a summary line, then each
    service's diff as `profiler diff` renders it."""
    if fmt == "json":
        return json.dumps(d.to_data(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    head = (f"profiler diff of projects: {diff_render.printable(d.old)} -> "
            f"{diff_render.printable(d.new)}\n{d.summary()}\n")
    if fmt == "markdown":
        head = f"# {head.rstrip()}\n"
    parts = [head]
    for s in d.services:
        parts.append("\n" + _HEADINGS[fmt].format(name=s.service, status=s.status) + "\n")
        parts.append(diff_render.render(s.report, fmt, colour=colour))
    return "".join(parts)

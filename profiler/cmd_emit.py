"""`profiler emit`: recordings -> seccomp, AppArmor, capabilities, run line, compose, k8s.

Loads the recordings, reduces them to a Policy (profiler/reduce.py), renders the chosen formats
(profiler/render/*) and writes them only when every one of them succeeded: one format to stdout
or a file, `--format all` to a directory (all files appear together or none does).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import recording_io
from .behalf_syscalls import behalf_names
from .errors import UsageError
from .reduce import Policy, reduce
from .render import apparmor, caps, compose, k8s, run, seccomp


class Format(str, Enum):
    seccomp = "seccomp"
    apparmor = "apparmor"
    caps = "caps"
    run = "run"
    compose = "compose"
    k8s = "k8s"
    all = "all"


# File names of `--format all` (and of a single format written into a directory).
FILE_NAMES = {
    "seccomp": "seccomp.json",
    "apparmor": "apparmor.profile",
    "caps": "caps.txt",
    "run": "run.sh",
    "compose": "compose.yaml",
    "k8s": "k8s.yaml",
}

err = Console(stderr=True, highlight=False, soft_wrap=True)
EXPLAIN_ROWS = 40  # per kind of partial item: the table stays readable for big recordings


def newest_recording(directory: Path) -> Path:
    found = sorted(directory.glob("*.recording.yaml"),
                   key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    if not found:
        raise UsageError(f"no *.recording.yaml in {directory}",
                         hint="give a recording: profiler emit FILE.recording.yaml "
                              "(make one with `profiler record IMAGE`)")
    return found[0]


def render_all(policy: Policy, formats: list[str], *, complain: bool, arg_filters: bool,
               glob_threshold: int) -> dict[str, str]:
    """format -> text, for every requested format (pure: nothing written)."""
    opts = dict(complain=complain, arg_filters=arg_filters)
    renderers = {
        "seccomp": lambda: seccomp.render(policy, **opts),
        "apparmor": lambda: apparmor.render(policy, complain=complain,
                                            glob_threshold=glob_threshold),
        "caps": lambda: caps.render(policy),
        "run": lambda: run.render(policy, **opts),
        "compose": lambda: compose.render(policy, **opts),
        "k8s": lambda: k8s.render(policy, **opts),
    }
    out = {f: renderers[f]() for f in formats}
    if "seccomp" in formats or "k8s" in formats:
        # Self-check: the profile must compile with libseccomp for every listed architecture.
        seccomp.build_filters(seccomp.profile(policy, **opts))
    return out


def write_dir(directory: Path, texts: dict[str, str]) -> list[Path]:
    """Write every file into directory, all together or none: a temp dir first, then renames."""
    directory = directory.resolve()
    parent = directory.parent
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{directory}: {parent} is not a directory")
    if not parent.is_dir():
        raise UsageError(f"{directory}: parent directory {parent} does not exist")
    base = directory if directory.is_dir() else parent
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".profiler-emit-", dir=base))
    except OSError as e:
        raise UsageError(f"{directory}: cannot write ({e.strerror})") from None
    try:
        for name, text in texts.items():
            p = tmp / name
            p.write_text(text, encoding="utf-8")
            os.chmod(p, 0o755 if name.endswith(".sh") else 0o644)
        if base == parent:  # the directory is new: one rename makes it appear whole
            os.chmod(tmp, 0o755)
            os.replace(tmp, directory)
        else:
            for name in texts:
                os.replace(tmp / name, directory / name)
    except OSError as e:
        raise UsageError(f"{directory}: cannot write ({e.strerror})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [directory / n for n in texts]


def _explain(policy: Policy, dropped: list[tuple[str, str]]) -> None:
    t = Table(title=f"policy {policy.name} ({policy.arch}, {policy.runs} recording(s))")
    t.add_column("item")
    t.add_column("value")
    t.add_row("syscalls the app used", str(len(policy.syscalls)))
    t.add_row("always allowed: made on the app's behalf by the kernel or libc",
              ", ".join(behalf_names()))
    t.add_row("argument filters", ", ".join(f"{f.syscall}.{f.arg}" for f in policy.arg_filters)
              or "none")
    t.add_row("capabilities granted", ", ".join(policy.capabilities) or "none")
    t.add_row("capabilities only denied (not granted)",
              ", ".join(policy.denied_capabilities) or "none")
    t.add_row("file patterns", str(len(policy.files)))
    t.add_row("socket kinds", ", ".join(f"{f} {s}" for f, s in policy.sockets) or "none")
    err.print(t)
    h = Table(title="hardening (docker run / compose / k8s)")
    h.add_column("option")
    h.add_column("applied")
    h.add_column("evidence")
    hd = policy.hardening
    for label, d in (("no-new-privileges", hd.no_new_privileges), ("read-only", hd.read_only),
                     ("pids-limit", hd.pids_limit), ("user", hd.user),
                     ("network none", hd.network_none)):
        h.add_row(label, ("yes " + d.value).strip() if d.apply else "no", escape(d.evidence))
    err.print(h)
    if policy.partial:
        p = Table(title=f"seen in only some of the {policy.runs} runs (thin training?)")
        p.add_column("kind")
        p.add_column("item")
        p.add_column("runs")
        shown: dict[str, int] = {}
        for it in policy.partial:
            shown[it.kind] = shown.get(it.kind, 0) + 1
            if shown[it.kind] <= EXPLAIN_ROWS:
                p.add_row(it.kind, escape(ascii(it.item)[1:-1]), ",".join(map(str, it.runs)))
        for kind, n in shown.items():
            if n > EXPLAIN_ROWS:
                p.add_row(kind, f"... and {n - EXPLAIN_ROWS} more", "")
        err.print(p)
    elif policy.runs > 1:
        err.print(f"every item was seen in all {policy.runs} runs")
    for path, reason in dropped:
        err.print(f"dropped from AppArmor: {escape(ascii(path))} ({reason})")


def emit(
    recordings: Annotated[Optional[list[Path]], typer.Argument(
        help="Recording files (several are merged). Default: the newest *.recording.yaml "
             "in the current directory.", show_default=False)] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="What to emit.")] =
        Format.seccomp,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="File (one format) or directory (--format all). Default: "
                               "stdout.")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Print on stderr what the policy holds, the evidence for each "
                          "hardening option, and what only some runs did.")] = False,
    complain: Annotated[bool, typer.Option(
        "--complain", help="Log instead of refusing (seccomp SCMP_ACT_LOG, AppArmor complain "
                           "mode): for a first rollout.")] = False,
    no_arg_filters: Annotated[bool, typer.Option(
        "--no-arg-filters", help="Allow syscalls whatever their arguments.")] = False,
    glob_threshold: Annotated[int, typer.Option(
        "--glob-threshold", min=2,
        help="AppArmor: a directory with at least this many files of the same access becomes "
             "one glob rule.")] = apparmor.GLOB_THRESHOLD,
):
    """Turn recordings into least-privilege policy."""
    if not recordings:
        chosen = newest_recording(Path.cwd())
        err.print(f"using {escape(str(chosen.name))} (the newest recording in this directory)")
        recordings = [chosen]
    recs = [recording_io.load(p) for p in recordings]
    policy = reduce(recs, [p.name for p in recordings])
    fmt = format.value
    formats = list(FILE_NAMES) if fmt == "all" else [fmt]
    if fmt == "all" and output is None:
        raise UsageError("--format all writes several files", hint="give a directory: -o DIR")
    texts = render_all(policy, formats, complain=complain, arg_filters=not no_arg_filters,
                       glob_threshold=glob_threshold)
    dropped = apparmor.dropped(policy) if "apparmor" in formats else []

    for w in policy.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    if dropped and not explain:
        err.print(f"[yellow]warning:[/] {len(dropped)} path(s) dropped from the AppArmor "
                  f"profile (control characters or undecodable bytes); see --explain")
    if explain:
        _explain(policy, dropped)

    if fmt == "all":
        written = write_dir(output, {FILE_NAMES[f]: texts[f] for f in formats})
        err.print(f"wrote {len(written)} files to {escape(str(output))}")
    elif output is None:
        typer.echo(texts[fmt], nl=False)
    else:
        target = output / FILE_NAMES[fmt] if output.is_dir() else output
        recording_io.atomic_write(target, texts[fmt])
        if fmt == "run":
            os.chmod(target, 0o755)
        err.print(f"wrote {escape(str(target))}")


def register(app: typer.Typer) -> None:
    app.command("emit")(emit)

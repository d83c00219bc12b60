"""`profiler emit`: recordings -> seccomp, AppArmor, capabilities, run line, compose, k8s.

Runs the emit pipeline (profiler/output/pipeline.py: load, reduce, resolve unknown
capabilities, render with each format's self-check) and writes the texts only when every one
of them succeeded: one format to stdout or a file, `--format all` to a directory
(profiler/output/policy_dir.py: all files appear together or none does), a project's tree to
its directory (profiler/output/project_tree.py). This module parses the options and prints.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..recording import coverage, project, recording_io
from ..output import pipeline, policy_dir, project_policy, project_tree
from ..policy.behalf_syscalls import behalf_names
from ..errors import UsageError
from ..policy import complain as complain_mode
from ..policy.reduce import Policy
from ..render import apparmor, k8s
from ..output.registry import FORMATS, RenderOptions, render
from ..render.seccomp import COMPAT_LABELS

Format = Enum("Format", [(f, f) for f in (*FORMATS, "all")], type=str)

err = Console(stderr=True, highlight=False, soft_wrap=True)
EXPLAIN_ROWS = 40  # per kind of partial item: the table stays readable for big recordings


def _explain_coverage(recs, sources) -> None:
    """Per recording: did the run converge or was it still learning
    (profiler/recording/coverage.py)."""
    for rec, src in zip(recs, sources):
        cov = coverage.assess(rec)
        if cov is None:
            err.print(f"{escape(src)}: no timeline (recorded before schema 1.4): coverage unknown")
            continue
        err.print(f"{escape(src)}: {escape(cov.sentence)}"
                  + (f"  |{cov.sparkline}|" if cov.sparkline else ""))
        for kind, item, ms in cov.late[:EXPLAIN_ROWS]:
            err.print(f"  late: {kind.rstrip('s')} {escape(ascii(item)[1:-1])} at {ms / 1000:.1f} s")


def _compat_text(policy: Policy) -> str:
    if not policy.compat_syscalls:
        return ("none seen: the seccomp profile lists only " + policy.arch + " (Docker's default "
                "also allows x86 and x32); a call from another architecture is killed (SIGSYS)")
    return "; ".join(f"{COMPAT_LABELS.get(a, a)}: {', '.join(n)}"
                     for a, n in policy.compat_syscalls) + \
        (" (a seccomp rule holds for every listed architecture: each may make every allowed "
         "name it has)")


def _explain(policy: Policy, dropped: list[tuple[str, str]], recs=(), complain: bool = False
             ) -> None:
    t = Table(title=f"policy {policy.name} ({policy.arch}, {policy.runs} recording(s))")
    t.add_column("item")
    t.add_column("value")
    t.add_row("syscalls the app used", str(len(policy.syscalls)))
    t.add_row("always allowed: made on the app's behalf by the kernel or libc",
              ", ".join(behalf_names()))
    t.add_row("compat architectures", escape(_compat_text(policy)))
    t.add_row("argument filters", ", ".join(f"{f.syscall}.{f.arg}" for f in policy.arg_filters)
              or "none")
    used = [c for c in policy.capabilities if c not in policy.generalised_capabilities]
    t.add_row("capabilities granted", ", ".join(used) or "none")
    if policy.generalised_capabilities:
        t.add_row("capabilities added by kind (not used in the recording; see below)",
                  ", ".join(policy.generalised_capabilities))
    t.add_row("capabilities only denied (not granted)",
              ", ".join(policy.denied_capabilities) or "none")
    t.add_row("file patterns", str(len(policy.files)))
    t.add_row("socket kinds", ", ".join(f"{f} {s}" for f, s in policy.sockets) or "none")
    err.print(t)
    h = Table(title="hardening (docker run / compose / k8s)")
    h.add_column("option")
    h.add_column("applied")
    h.add_column("evidence")
    h.add_column("assumes")
    hd = policy.hardening
    for label, d in (("no-new-privileges", hd.no_new_privileges), ("read-only", hd.read_only),
                     ("pids-limit", hd.pids_limit), ("user", hd.user),
                     ("network none", hd.network_none), ("io_uring allowed", policy.io_uring)):
        h.add_row(label, ("yes " + d.value).strip() if d.apply else "no", escape(d.evidence),
                  escape(d.assumption))
    err.print(h)
    if complain:
        _explain_complain()
    verdict = k8s.pss_verdict(policy) if policy.image else None
    if verdict is not None:
        err.print("Pod Security Standards (k8s.yaml's pod; run.sh and compose.yaml as a pod):")
        for line in verdict.lines():
            err.print(f"  {escape(line)}")
    # policy.sources are in reduce's order: traced runs first, harvests after (stable)
    _explain_coverage(sorted(recs, key=lambda r: r.harvested), policy.sources)
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
    elif (traced := sum(not r.harvested for r in recs) if recs else policy.runs) > 1:
        err.print(f"every item was seen in all {traced} runs")  # harvests add, never "all"
    _explain_generalised(policy)
    for path, reason in dropped:
        err.print(f"dropped from AppArmor: {escape(ascii(path))} ({reason})")


def _explain_complain() -> None:
    """What complain mode logs, and what it cannot and therefore leaves at Docker's default
    (profiler/policy/complain.py RULES)."""
    t = Table(title="complain mode (--complain): what logs, and what stays at Docker's default")
    for col in ("option", "enforced policy", "complain mode", "why"):
        t.add_column(col)
    for row in complain_mode.RULES:
        t.add_row(*(escape(c) for c in row))
    err.print(t)
    err.print("capabilities and the hardening options are learned from training (or from "
              "record --container/--match attached to production), never from harvested logs")


def _explain_generalised(policy: Policy) -> None:
    """Every generalisation beyond the recording (profiler/policy/generalise.py): a table of what was
    allowed and because of what, then each rule's reason and source once. Deterministic: rows
    in the order generalise made them (family order, then patterns sorted)."""
    if not policy.generalised:
        err.print("generalised beyond the recording: nothing (emit --strict, or nothing of a "
                  "kind to add)")
        return
    g = Table(title="generalised beyond the recording, by kind and risk (none with --strict)")
    g.add_column("kind")
    g.add_column("allowed")
    g.add_column("because the app used")
    g.add_column("rule")
    rules: dict[str, tuple[str, str]] = {}
    for row in policy.generalised:
        rule, _, why = row.why.partition(": ")
        rules.setdefault(rule, (why, row.source))
        g.add_row(row.kind, escape(ascii(row.allowed)[1:-1]), escape(ascii(row.because)[1:-1]),
                  escape(rule))
    err.print(g)
    for rule, (why, source) in rules.items():
        err.print(f"  {escape(rule)}: {escape(why)} (source: {escape(source)})")


def emit(
    recordings: Annotated[Optional[list[Path]], typer.Argument(
        help="Recording files (several are merged), or one project directory (record "
             "--match: a policy per service). Default: the newest *.recording.yaml in the "
             "current directory.", show_default=False)] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="What to emit.")] =
        Format.seccomp,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="File (one format) or directory (--format all, or a "
                               "project). Default: stdout.")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Print on stderr what the policy holds, the evidence for each "
                          "hardening option, what only some runs did, and each "
                          "generalisation beyond the recording with its reason.")] = False,
    complain: Annotated[bool, typer.Option(
        "--complain", help="Deploy while production finishes the training: seccomp logs "
                           "(SCMP_ACT_LOG) and AppArmor complains instead of refusing; options "
                           "that cannot log (capabilities beyond Docker's default set, "
                           "no-new-privileges, read-only, pids limit, user, network none) stay "
                           "at Docker's default. Then `profiler harvest` and `profiler "
                           "promote`.")] = False,
    no_arg_filters: Annotated[bool, typer.Option(
        "--no-arg-filters", help="Allow syscalls whatever their arguments.")] = False,
    allow_io_uring: Annotated[bool, typer.Option(
        "--allow-io-uring", help="Allow the io_uring syscalls the app used (refused with "
                                 "ENOSYS by default: operations through a ring bypass seccomp "
                                 "and the recording).")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exactly what the training run did: its syscalls, socket families and "
                         "file paths only (no generalisation by kind and risk, no sibling "
                         "syscalls); tmpfs only where it wrote, pids limit 2 x its peak, "
                         "--network none whenever it opened no IP socket. Default: headroom for "
                         "what production does that training did not (docs/emit.md).")] = False,
    glob_threshold: Annotated[int, typer.Option(
        "--glob-threshold", min=2,
        help="AppArmor: a directory with at least this many files of the same access becomes "
             "one glob rule.")] = apparmor.GLOB_THRESHOLD,
    caps_unknown: Annotated[Optional[str], typer.Option(
        "--caps-unknown", metavar="keep-default|drop-all",
        help="For a recording made without capabilities (no capability source on its kernel, or "
             "record --capabilities off): keep Docker's default set, or drop all but what other "
             "recordings saw. Without it, emit refuses to state capabilities.")] = None,
):
    """Turn recordings into least-privilege policy; a project directory (record --match) into
    one policy per service and the compose override that applies them all."""
    dirs = [p for p in recordings or () if p.is_dir()]
    if dirs and len(recordings) > 1:
        raise UsageError(f"{dirs[0]} is a directory: a project directory is emitted alone",
                         hint="profiler emit DIR --format compose -o OUT; recordings to merge "
                              "are given as files")
    if dirs:
        return _emit_project(recordings[0], format.value, output, explain=explain,
                             options=RenderOptions(complain=complain,
                                                   arg_filters=not no_arg_filters,
                                                   glob_threshold=glob_threshold),
                             strict=strict, allow_io_uring=allow_io_uring,
                             caps_unknown=caps_unknown)
    if not recordings:
        chosen = recording_io.newest(Path.cwd())
        err.print(f"using {escape(str(chosen.name))} (the newest recording in this directory)")
        recordings = [chosen]
    recs = pipeline.load(recordings)
    fmt = format.value
    formats = list(FORMATS) if fmt == "all" else [fmt]
    policy = pipeline.policy(recs, [p.name for p in recordings], formats, strict=strict,
                             allow_io_uring=allow_io_uring, caps_unknown=caps_unknown)
    if fmt == "all" and output is None:
        raise UsageError("--format all writes several files", hint="give a directory: -o DIR")
    texts = render(policy, formats, RenderOptions(complain=complain, arg_filters=not no_arg_filters,
                                                  glob_threshold=glob_threshold))
    dropped = apparmor.dropped(policy) if "apparmor" in formats else []
    _warn_unchecked(formats)

    for w in policy.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    if dropped and not explain:
        err.print(f"[yellow]warning:[/] {len(dropped)} path(s) dropped from the AppArmor "
                  f"profile (control characters or undecodable bytes); see --explain")
    if explain:
        _explain(policy, dropped, recs, complain)

    if fmt == "all":
        written = policy_dir.write_dir(output, {FORMATS[f].file: texts[f] for f in formats})
        err.print(f"wrote {len(written)} files to {escape(str(output))}")
    elif output is None:
        typer.echo(texts[fmt], nl=False)
    else:
        target = policy_dir.write_one(output, fmt, texts[fmt])
        err.print(f"wrote {escape(str(target))}")


def _warn_unchecked(formats) -> None:
    """Where apparmor_parser is missing the profile is written unchecked: say so."""
    if "apparmor" in formats and apparmor.parser() is None:
        err.print("[yellow]warning:[/] apparmor_parser is not installed: the AppArmor profile "
                  "was not compiled before writing (Debian/Ubuntu: apt-get install apparmor)")


def _emit_project(directory: Path, fmt: str, output: Optional[Path], *, explain: bool,
                  options: RenderOptions, strict: bool, allow_io_uring: bool,
                  caps_unknown: Optional[str]) -> None:
    """`emit DIR`: every service's policy files under OUT/<service>/, and with compose (or
    all) the override OUT/compose.security.yaml and OUT/apparmor-load.sh
    (profiler/output/project_policy.py). Everything is rendered before anything is written."""
    index = project.read(directory)  # UsageError for a directory without an index
    if output is None:
        raise UsageError(f"{directory} is a project: emit writes one policy per service",
                         hint="give an output directory: -o DIR")
    formats = list(FORMATS) if fmt == "all" else [fmt]
    services = project_policy.policies(directory, index, strict=strict,
                                       allow_io_uring=allow_io_uring, formats=formats,
                                       caps_unknown=caps_unknown)
    out = output.resolve()
    project_tree.check_replaceable(out)  # before the work: emit replaces OUT whole
    _warn_unchecked(formats)
    texts = project_policy.files(services, formats, out, project=index,
                                 source=str(directory), options=options)
    for sp in services:
        for w in sp.policy.warnings:
            err.print(f"[yellow]warning:[/] {escape(sp.service)}: {escape(w)}")
        dropped = apparmor.dropped(sp.policy)
        if explain:
            _explain(sp.policy, dropped, complain=options.complain)
        elif dropped:
            err.print(f"[yellow]warning:[/] {escape(sp.service)}: {len(dropped)} path(s) dropped "
                      f"from the AppArmor profile (control characters or undecodable bytes); "
                      f"see --explain")
    written = project_tree.write(out, texts)
    err.print(f"wrote {len(written)} files for {len(services)} service(s) to {escape(str(output))}")
    if project_tree.OVERRIDE_FILE in texts:
        err.print(f"apply: docker-compose -f compose.yaml -f "
                  f"{escape(str(out / project_tree.OVERRIDE_FILE))} up -d "
                  f"(AppArmor hosts: {escape(str(out / project_tree.LOAD_SCRIPT))} "
                  f"first)")


def register(app: typer.Typer) -> None:
    app.command("emit")(emit)

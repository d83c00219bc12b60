"""`profiler promote`: is each service's complain-mode policy ready to enforce, and its
enforce-mode policy from recording + harvest.

    profiler promote RECORDING... HARVEST_DIR -o POLICY_DIR [--service NAME]
    profiler promote PROJECT_DIR HARVEST_DIR -o OUT

The rule, per service (profiler/promote/rule.py): ready when the harvest saw nothing new for
--quiet-for (to the end of the period it covered), the service had traffic (--min-traffic CPU
seconds), and no logged record was dropped (or --allow-drops). A table says each verdict and
why. The enforce-mode policy of each ready service is emitted through the one emit pipeline
(output/pipeline.py), its traced recordings first and the harvest after them, exactly as
`profiler emit RECORDING HARVEST.harvest.yaml` would: a policy directory (--format all) for a
recording, a project tree (OUT/<service>/..., the compose override) for a project.

Exit status: 0 every service ready (and written), 1 some service not ready (the ready ones of
a project are written; with --emit-not-ready every one is), 2 bad input (nothing written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import UsageError
from ..output import pipeline, policy_dir, project_policy, project_tree
from ..output.registry import FORMATS, RenderOptions, render
from ..promote import evidence, rule

err = Console(stderr=True, highlight=False, soft_wrap=True)


def _load_harvest(directory: Path):
    from ..harvest import store  # the harvest's own loader (its files, its state)
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory",
                         hint="the harvest directory comes last: profiler promote SOURCE "
                              "HARVEST_DIR -o OUT (made by profiler harvest -o HARVEST_DIR)")
    return store.load_dir(directory)


def _table(verdicts: list[rule.Verdict], facts: dict[str, rule.Harvested], r: rule.Rule) -> None:
    """The verdicts as a table, then each service's reasons on a line of its own (whole, however
    narrow the terminal: CI logs are read and grepped)."""
    err.print(f"rule: {r}")
    t = Table(title="promote")
    for col in ("service", "verdict", "quiet", "traffic (CPU s)", "dropped", "unattributed",
                "harvested items"):
        t.add_column(col)
    for v in verdicts:
        f = facts.get(v.service)
        t.add_row(escape(v.service),
                  "[green]ready[/]" if v.ready else "[red]not ready[/]",
                  rule.say_duration(v.quiet) if v.quiet is not None else "-",
                  f"{f.cpu_seconds:g}" if f and f.cpu_seconds is not None else "-",
                  str(f.dropped) if f else "-",
                  str(f.unattributed) if f else "-",
                  str(f.new_items) if f else "-")
    err.print(t)
    for v in verdicts:
        err.print(f"{escape(v.service)}: {'ready' if v.ready else 'not ready'}: {escape(v.why)}",
                  overflow="ignore", crop=False)


def promote(
    source: Annotated[list[Path], typer.Argument(
        metavar="RECORDING...|PROJECT_DIR HARVEST_DIR",
        help="The service's recording(s) (merged; harvest files of earlier rounds may follow "
             "them), or one project directory (record --match), then the harvest directory "
             "the rule judges (profiler harvest -o DIR).", show_default=False)],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Where the enforce-mode policy goes: a policy directory "
                               "(--format all) for recordings, a project tree for a project.",
        show_default=False)],
    quiet_for: Annotated[str, typer.Option(
        "--quiet-for", metavar="DURATION",
        help="Ready only after this long without new evidence, to the end of the harvested "
             "period (90s, 30m, 24h, 7d).")] = rule.DEFAULT_QUIET,
    min_traffic: Annotated[float, typer.Option(
        "--min-traffic", metavar="CPU_SECONDS", min=0,
        help="Ready only when the service's containers used at least this much CPU time in "
             "the harvested period (an idle service is always quiet).")] = rule.DEFAULT_MIN_TRAFFIC,
    allow_drops: Annotated[bool, typer.Option(
        "--allow-drops", help="Accept a harvest that lost records: dropped by the kernel, or "
                              "not attributable to a container (a lost record may have been "
                              "new evidence).")] = False,
    emit_not_ready: Annotated[bool, typer.Option(
        "--emit-not-ready", help="Emit every service's enforce-mode policy, ready or not (the "
                                 "table still says which are not, and the exit status is 1).")
    ] = False,
    service: Annotated[Optional[str], typer.Option(
        "--service", help="The harvest's service the recordings are (when it holds several).")
    ] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="As emit --strict: exactly what the runs and the harvest saw.")] = False,
    no_arg_filters: Annotated[bool, typer.Option(
        "--no-arg-filters", help="As emit: allow syscalls whatever their arguments.")] = False,
    allow_io_uring: Annotated[bool, typer.Option(
        "--allow-io-uring", help="As emit: allow the io_uring syscalls the app used.")] = False,
    caps_unknown: Annotated[Optional[str], typer.Option(
        "--caps-unknown", metavar="keep-default|drop-all",
        help="As emit, for a recording made without capabilities.")] = None,
):
    """Judge per service whether a complain-mode policy is ready to enforce (no new evidence
    for --quiet-for, traffic seen, no record lost), and emit the enforce-mode policy from
    recording + harvest for the ready ones."""
    if len(source) < 2:
        raise UsageError("promote needs the recording(s) or project directory, then the "
                         "harvest directory",
                         hint="profiler promote SERVICE.recording.yaml HARVEST_DIR -o POLICY_DIR")
    *paths, harvest_dir = source
    r = rule.Rule(rule.parse_duration(quiet_for), min_traffic, allow_drops)
    harvests = _load_harvest(harvest_dir)
    src = evidence.read_source(paths, harvests, service)
    facts = {name: evidence.facts(name, rec) for name, rec in harvests.items()}
    verdicts = [rule.judge(name, facts.get(name), r) for name in src.recordings]
    for name in sorted(set(harvests) - set(src.recordings)):
        err.print(f"note: the harvest holds {escape(name)}, which the source does not: left out")
    chosen = [v.service for v in verdicts if v.ready or emit_not_ready]
    extra = {name: [(harvests[name], str(harvest_dir / f"{name}.harvest.yaml"))]
             for name in chosen if name in harvests}
    options = RenderOptions(arg_filters=not no_arg_filters)
    formats = list(FORMATS)
    # Everything is rendered before anything is written (the emit pipeline's rule).
    if src.project is not None:
        written = _project(src, output, chosen, extra, formats, options, strict=strict,
                           allow_io_uring=allow_io_uring, caps_unknown=caps_unknown)
    else:
        written = _single(src, output, chosen, extra, formats, options, strict=strict,
                          allow_io_uring=allow_io_uring, caps_unknown=caps_unknown)
    _table(verdicts, facts, r)
    ready = sum(v.ready for v in verdicts)
    if written:
        err.print(f"wrote the enforce-mode policy of {len(chosen)} service(s) "
                  f"({', '.join(map(escape, chosen))}) to {escape(str(output))}"
                  + ("" if ready == len(chosen) else " (--emit-not-ready: not all are ready)"))
    else:
        err.print("nothing written: no service is ready (keep the complain-mode policy "
                  "deployed, harvest again later)")
    raise typer.Exit(0 if ready == len(verdicts) else 1)


def _single(src, output, chosen, extra, formats, options, **kw) -> int:
    (name, recs), = src.recordings.items()
    if name not in chosen:
        return 0
    more = extra.get(name, [])
    policy = pipeline.policy([r for r, _ in recs] + [r for r, _ in more],
                             [n for _, n in recs] + [n for _, n in more], formats, **kw)
    texts = render(policy, formats, options)
    for w in policy.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    return len(policy_dir.write_dir(output, {FORMATS[f].file: texts[f] for f in formats}))


def _project(src, output, chosen, extra, formats, options, **kw) -> int:
    if not chosen:
        return 0
    services = project_policy.policies(src.directory, src.project, formats=formats,
                                       only=tuple(chosen), extra=extra, **kw)
    out = output.resolve()
    project_tree.check_replaceable(out)
    texts = project_policy.files(services, formats, out, project=src.project,
                                 source=str(src.directory), options=options)
    for sp in services:
        for w in sp.policy.warnings:
            err.print(f"[yellow]warning:[/] {escape(sp.service)}: {escape(w)}")
    return len(project_tree.write(out, texts))


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)

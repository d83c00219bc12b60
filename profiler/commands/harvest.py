"""`profiler harvest`: read what the kernel logged for containers running a complain-mode policy
(seccomp SCMP_ACT_LOG records, AppArmor ALLOWED records), attribute it to containers and compose
services, and write it as evidence that emit merges and diff reports (profiler/harvest/)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import ContainerGone, EnvironmentProblem, UsageError

err = Console(stderr=True, highlight=False, soft_wrap=True)

NOT_HARVESTED = (
    "Capabilities dropped by --cap-drop and hardening flags (no-new-privileges, read-only, "
    "user, pids-limit) cannot be harvested: the kernel refuses without logging, so these logs "
    "never show them. For those, attach the recorder to production: `profiler record "
    "--container NAME` or `--match LABEL=VALUE` (eBPF; about 1.6x the cost of each syscall "
    "while attached, see README).")


class Source(str, Enum):
    auto = "auto"
    kmsg = "kmsg"
    audit_log = "audit.log"
    netlink = "netlink"


def harvest(
    output: Annotated[Path, typer.Option("--output", "-o", help="The harvest directory: state.json (cursor and aggregates) and one SERVICE.harvest.yaml per service. Run again with the same directory to continue from its cursor.")] = Path("harvest"),
    match: Annotated[Optional[list[str]], typer.Option("--match", help="LABEL=VALUE (repeatable, all must match): harvest the containers with these labels, e.g. com.docker.compose.project=shop.")] = None,
    container: Annotated[Optional[str], typer.Option("--container", help="Harvest one container, by name or id.")] = None,
    source: Annotated[Source, typer.Option("--source", help="Where the kernel's audit records are: auto (auditd's audit.log where auditd runs; else with --follow the audit multicast group, else /dev/kmsg), kmsg, audit.log, or netlink (the audit multicast group: every record, not thinned by the printk rate limit, but live only: use it with --follow).")] = Source.auto,
    follow: Annotated[bool, typer.Option("--follow", help="Keep harvesting (for days): save a snapshot every --interval, resume after a restart; SIGTERM/SIGINT end it after a last save.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="With --follow: seconds between snapshots (a crash loses at most one).")] = 60.0,
    duration: Annotated[Optional[float], typer.Option("--duration", help="With --follow: stop after this many seconds.")] = None,
) -> None:
    """Harvest what the kernel logged for complain-mode containers (seccomp SCMP_ACT_LOG,
    AppArmor ALLOWED) into evidence per service: `profiler emit A.recording.yaml
    DIR/A.harvest.yaml` allows it, `profiler diff A.recording.yaml DIR/A.harvest.yaml` lists it
    with risk classes (the command's help adds NOT_HARVESTED)."""
    from ..harvest import loop, store
    from ..harvest.attribute import EngineContainers, Index, Selection
    from ..harvest.harvester import Harvester
    from ..harvest.sources import open_source
    from ..recording import project
    from ..session.engine import Engine
    from ..session.preflight import v2_root

    if match and container:
        raise UsageError("--match and --container cannot be combined")
    if not match and not container:
        raise UsageError("say which containers to harvest: --match LABEL=VALUE or --container "
                         "NAME", hint="e.g. --match com.docker.compose.project=shop")
    if interval <= 0 or (duration is not None and duration <= 0):
        raise UsageError("--interval and --duration take a positive number of seconds")
    if (duration is not None) and not follow:
        raise UsageError("--duration is for --follow")
    if source is Source.netlink and not follow:
        raise UsageError("--source netlink is live only: one pass reads nothing logged before it",
                         hint="add --follow (and start it before the app), or read the past from "
                              "--source kmsg or audit.log")
    selectors = tuple(project.parse_selector(m) for m in match or ())
    engine = Engine()

    opened = []

    def known() -> None:
        # A first harvest of a container the engine never heard of is a typo, not an empty
        # harvest (a resumed one may outlive its container: its directory says it existed).
        if container and not (output / store.STATE_FILE).exists():
            try:
                engine.container(container)
            except ContainerGone:
                raise UsageError(f"no container named {container!r}",
                                 hint="`docker ps -a` lists them; nothing was written") from None
        # The source is opened before the directory is made: one that cannot be read (no
        # auditd's log, no permission) leaves nothing behind.
        earlier = store.load_state(output) if output.is_dir() else None
        src = open_source(earlier.source or source.value if earlier and source is Source.auto
                          else source.value, follow=follow)
        opened.append(src)
        if earlier and earlier.source and earlier.source != src.name:
            src.close()
            raise UsageError(f"{output}: this harvest reads {earlier.source}, not {src.name}",
                             hint="use another -o DIR for another source")

    store.prepare(output, check=known)
    src = opened[0]
    state = store.load_state(output)
    if state is None:
        from ..harvest.state import State

        state = State()
    try:
        root = v2_root()
    except EnvironmentProblem:
        root = None
    containers = EngineContainers(engine, {s.label: s.value for s in selectors},
                                  container=container or "")
    if follow:
        containers.watch()
    index = Index(containers, cgroup_root=root)
    h = Harvester(src, index, Selection(selectors, container or ""), state)
    try:
        if follow:
            err.print(f"harvesting {escape(src.name)} into {escape(str(output))} every "
                      f"{interval:g} s (SIGTERM or Ctrl-C saves and stops)")
            out = loop.follow(h, output, interval, duration=duration)
        else:
            out = loop.once(h, output)
    finally:
        src.close()
    _summary(h.state, out.files)


def _summary(st, files: list[Path]) -> None:
    t = Table(title="harvest")
    for col in ("service", "records", "new items", "last new", "containers", "cpu s",
                "runtime skipped", "refused"):
        t.add_column(col)
    from ..harvest.store import iso

    for name, s in sorted(st.services.items()):
        t.add_row(escape(name), str(s.records), str(len(s.first)), iso(s.last_new) or "-",
                  str(s.containers_total), f"{s.cpu_usec / 1e6:.1f}", str(s.runtime_records),
                  str(s.refused))
    err.print(t)
    for f in files:
        err.print(f"wrote {escape(str(f))}")
    if not st.services:
        err.print("no container of the selection was seen (is it running, and with a "
                  "complain-mode policy: `profiler emit --complain`?)")
    if st.drops:
        why = {"kmsg": "printk rate limit", "netlink": "missed while no harvester listened, "
               "or a full audit backlog"}.get(st.source, "a full audit backlog")
        hint = {"kmsg": "harvest with --source netlink --follow (not rate limited), run auditd, "
                "or raise kernel.printk_ratelimit_burst",
                "netlink": "keep the harvester running (--follow); raise the audit backlog "
                "(auditctl -b)"}.get(st.source, "raise the audit backlog (auditctl -b)")
        err.print(f"[yellow]dropped:[/] the kernel dropped {st.drops} audit record(s) before "
                  f"harvest could read them ({why}): the evidence is incomplete; {hint}",
                  markup=True)
    if st.overwritten:
        err.print(f"[yellow]overwritten:[/] {st.overwritten} kernel log record(s) were "
                  f"overwritten before harvest read them: harvest more often (--follow)",
                  markup=True)
    lost = {k: n for k, n in st.unattributed.items() if k != "not in a container"}
    if lost:
        why = ", ".join(f"{n} {k}" for k, n in sorted(lost.items()))
        err.print(f"not attributed to a container: {escape(why)}"
                  + (" (a process that ended before harvest looked it up: --follow reads "
                     "records as they come)" if "process gone" in lost else ""))
    if st.unreadable:
        err.print(f"{st.unreadable} audit line(s) could not be read (not counted)")
    err.print(NOT_HARVESTED)


def register(app: typer.Typer) -> None:
    summary = harvest.__doc__.split(" (the command's help")[0]
    app.command("harvest", help=" ".join(summary.split()) + ".\n\n" + NOT_HARVESTED)(harvest)

"""`profiler record`: trace a container (new or running) or a host command into a recording;
with --match, every container of an application into a project directory (one recording per
service, profiler/recording/project.py)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from ..kernel import capsource
from ..kernel.linux import cap_short
from ..recording import recording_io
from ..session import longrun
from ..session.engine import RunSpec
from ..errors import LossError, UsageError, WorkloadError

console = Console(stderr=True, highlight=False)


def record(
    image: Annotated[Optional[str], typer.Argument(help="Image to run (omit with --container/--exec/--match).")] = None,
    cmd: Annotated[Optional[list[str]], typer.Argument(help="After --: replaces the image's CMD (with --exec: the command; with --match: COMMAND, run once armed).")] = None,
    workload: Annotated[Optional[str], typer.Option("--workload", "-w", help="Host shell command that exercises the app; gets PROFILER_CONTAINER_ID/NAME.")] = None,
    ready_port: Annotated[Optional[int], typer.Option("--ready-port", help="Start the workload once 127.0.0.1:PORT accepts.")] = None,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Stop after SECONDS (gracefully).")] = None,
    settle: Annotated[float, typer.Option("--settle", help="Seconds to wait before the workload when no --ready-port.")] = 1.0,
    stop_timeout: Annotated[int, typer.Option("--stop-timeout", help="Seconds between SIGTERM and SIGKILL at the end.")] = 10,
    restart: Annotated[bool, typer.Option("--restart", help="After the workload, restart the container and run the workload again: the recording covers a later boot (on the data the first left) as well as the first.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Recording file (default: <image>.recording.yaml); with --match, the project directory.")] = None,
    container: Annotated[Optional[str], typer.Option("--container", help="Attach to this running container instead.")] = None,
    match: Annotated[Optional[list[str]], typer.Option("--match", help="LABEL=VALUE (repeatable, all must match): record every container that starts with these labels, and those running, one recording per service, into -o DIR (default: VALUE.recordings/ of the first --match). A COMMAND after -- (docker compose up -d) runs once armed; the containers it started are stopped at the end.")] = None,
    exec_mode: Annotated[bool, typer.Option("--exec", help="Trace a host command tree given after --.")] = False,
    errnos: Annotated[bool, typer.Option("--errnos", help="Record the errnos of every failed syscall (by default: of the path, socket and set*id syscalls; this costs a second BPF run per syscall).")] = False,
    capabilities: Annotated[str, typer.Option("--capabilities", help="Where capability checks come from: auto (the capability:cap_capable tracepoint, else a kprobe on cap_capable), tracepoint, kprobe, or off (record without capabilities; emit then asks what to do).")] = "auto",
    tracer: Annotated[str, typer.Option("--tracer", envvar="PROFILER_TRACER", help="The tracer's entry side: raw (one program on every syscall; exact counts) or per-syscall (opt-in, a container started here, --container or --exec: a syscall runs no program once seen, so a hot loop of seen syscalls costs less; counts become lower bounds and i386 calls of 64-bit programs are not seen; falls back to raw with a note where it cannot run). docs/architecture.md.")] = "raw",
    snapshot_every: Annotated[Optional[float], typer.Option("--snapshot-every", metavar="SECONDS", help="With --container or --match: every SECONDS, write the recording so far to -o (atomically; marked as a snapshot of a recording still running), so a crash or a reboot loses at most one interval. The write at the end replaces it.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="With --container or --match: when -o already holds a recording of the same image (or the same --match project), merge this run's evidence into it instead of replacing it (after a restart of profiler or a reboot). No file there: start afresh. Another file is refused and left alone.")] = False,
    allow_loss: Annotated[bool, typer.Option("--allow-loss", help="Exit 0 even if events were lost.")] = False,
    allow_workload_failure: Annotated[bool, typer.Option("--allow-workload-failure", help="Keep the recording when the workload fails.")] = False,
    name: Annotated[Optional[str], typer.Option("--name", help="Container name.")] = None,
    publish: Annotated[Optional[list[str]], typer.Option("--publish", "-p", help="[IP:]HOST:CONTAINER port mapping.")] = None,
    env: Annotated[Optional[list[str]], typer.Option("--env", "-e", help="NAME=VALUE.")] = None,
    volume: Annotated[Optional[list[str]], typer.Option("--volume", "-v", help="HOST:CONTAINER[:ro].")] = None,
    user: Annotated[Optional[str], typer.Option("--user", "-u")] = None,
    entrypoint: Annotated[Optional[str], typer.Option("--entrypoint")] = None,
    network: Annotated[Optional[str], typer.Option("--network")] = None,
    tmpfs: Annotated[Optional[list[str]], typer.Option("--tmpfs")] = None,
    read_only: Annotated[bool, typer.Option("--read-only")] = False,
    cap_add: Annotated[Optional[list[str]], typer.Option("--cap-add")] = None,
    cap_drop: Annotated[Optional[list[str]], typer.Option("--cap-drop")] = None,
    security_opt: Annotated[Optional[list[str]], typer.Option("--security-opt")] = None,
    memory: Annotated[Optional[str], typer.Option("--memory", "-m", help="Memory limit (docker run --memory, e.g. 256m).")] = None,
):
    """Trace what a container really does (from its entrypoint's first instruction) and write a
    recording for emit, verify and diff; with --match, every container of an application."""
    from ..session import session as rec_mod

    opts = rec_mod.Options(workload=workload, ready_port=ready_port, duration=duration,
                           settle=settle, stop_timeout=stop_timeout,
                           allow_workload_failure=allow_workload_failure, all_errnos=errnos,
                           capabilities=capabilities, restart=restart, tracer=tracer)
    capsource.check_choice(capabilities)  # before anything starts
    modes = sum(bool(x) for x in (container, exec_mode, match))
    if modes > 1:
        raise UsageError("--container, --exec and --match cannot be combined")
    opts.snapshot_every = longrun.check_every(snapshot_every)
    if (opts.snapshot_every or resume) and not (container or match):
        given = "--snapshot-every" if opts.snapshot_every else "--resume"
        raise UsageError(f"{given} is for long recordings of running containers: --container "
                         f"NAME or --match LABEL=VALUE",
                         hint="a container that record starts, or a command run with --exec, is "
                              "recorded whole and written at its end")
    if tracer not in ("raw", "per-syscall"):
        raise UsageError(f"--tracer {tracer!r}: not a tracer design", hint="raw or per-syscall")
    if tracer == "per-syscall" and match:
        # per-container slots: a container that starts later has seen nothing, so no event
        # could ever be detached
        _warn("--tracer per-syscall is for one container (started by record, or --container) "
              "or --exec, not --match: recording with the raw tracer")
        opts.tracer = "raw"
    if match:
        given = [opt for opt, v in (("--name", name), ("-p", publish), ("-e", env),
                                    ("-v", volume), ("--user", user),
                                    ("--entrypoint", entrypoint), ("--network", network),
                                    ("--tmpfs", tmpfs), ("--read-only", read_only),
                                    ("--cap-add", cap_add), ("--cap-drop", cap_drop),
                                    ("--security-opt", security_opt), ("--memory", memory)) if v]
        if given:
            raise UsageError(f"{', '.join(given)}: docker run options, not for --match (the "
                             f"containers are started by COMMAND, as it says)",
                             hint="put them in the compose file")
        return _record_match(match, [image, *(cmd or [])] if image else list(cmd or []), opts,
                             output, allow_loss, resume)
    if exec_mode:
        argv = ([image] if image else []) + list(cmd or [])
        out = output or Path(f"{Path(argv[0]).name if argv else 'command'}.recording.yaml")
    elif container:
        if image:
            raise UsageError("give either IMAGE or --container, not both")
        out = output or Path(rec_mod.default_output(container))
    else:
        if not image:
            raise UsageError("missing IMAGE", hint="profiler record IMAGE [--workload CMD], "
                             "or --container NAME, or --exec -- CMD")
        out = output or Path(rec_mod.default_output(image))
    recording_io.check_writable(out)
    previous = longrun.previous_recording(out) if resume else None

    live_text = Text("starting...")
    progress = _progress(live_text)
    with _live(live_text):
        if exec_mode:
            outcome = rec_mod.record_exec(argv, opts, progress if console.is_terminal else None)
        elif container:
            outcome = rec_mod.record_attach(
                container, opts, progress if console.is_terminal else None, previous=previous,
                write=lambda snapshot: recording_io.save(snapshot, out), warn=_warn,
                source=str(out))
        else:
            spec = RunSpec(image=image, command=list(cmd) if cmd else None, name=name,
                           publish=publish or [], env=env or [], volumes=volume or [], user=user,
                           entrypoint=entrypoint, network=network, tmpfs=tmpfs or [],
                           read_only=read_only, cap_add=cap_add or [], cap_drop=cap_drop or [],
                           security_opt=security_opt or [], memory=memory)
            outcome = rec_mod.record_container(spec, opts, progress if console.is_terminal else None)

    rec = outcome.recording
    wl = rec.metadata.workload
    if outcome.workload_failed and not allow_workload_failure:
        kept = " (the last snapshot stays there)" if opts.snapshot_every else ""
        raise WorkloadError(f"the workload failed (exit {wl.exit_status}); recording not "
                            f"written{kept}",
                            hint="fix the workload, or keep it anyway with --allow-workload-failure")
    recording_io.save(rec, out)
    _summary(rec, out, outcome)
    if rec.total_loss and not allow_loss:
        lost = ", ".join(f"{k} {v}" for k, v in rec.loss if v)
        raise LossError(f"events were lost ({lost}); the recording at {out} is incomplete",
                        hint="a 32-bit program ran: re-record with --tracer raw (the default), "
                             "which sees its calls" if dict(rec.loss).get("compat_unseen") else
                             "re-record, or accept it with --allow-loss")


def _progress(live_text: Text) -> Callable[[dict], None]:
    def progress(s: dict) -> None:
        live_text.plain = (f"recording  {s['elapsed']:6.1f}s  syscalls {s['syscalls']:4d}  "
                           f"new paths {s['paths']:6d}  execs {s['execs']:4d}  lost {s['lost']}")
    return progress


def _live(live_text: Text):
    if not console.is_terminal:
        return contextlib.nullcontext()
    from rich.live import Live  # here, as the tables below: not on the way to the start

    return Live(live_text, console=console, refresh_per_second=4, transient=True)


def _warn(text: str) -> None:
    console.print(f"[yellow]warning:[/] {escape(text)}")


def _record_match(texts: list[str], command: list[str], opts, output: Optional[Path],
                  allow_loss: bool, resume: bool = False) -> None:
    """`record --match`: one recording per service into a project directory (project.py)."""
    from ..recording import project
    from ..session import session as rec_mod

    selectors = tuple(project.parse_selector(t) for t in texts)
    out = output or Path(default_project_dir(selectors))
    previous = longrun.previous_project(out, selectors) if resume else None
    check_project_dir(out)
    live_text = Text("armed, waiting for containers...")
    with _live(live_text):
        outcome = rec_mod.record_match(
            selectors, opts, command or None,
            _progress(live_text) if console.is_terminal else None, warn=_warn,
            previous=previous, write=lambda proj, recs: recording_io.replace_dir(
                out, lambda new: project.write(new, proj, recs)))
    if outcome.workload_failed and not opts.allow_workload_failure:
        raise WorkloadError(f"the workload failed (exit {outcome.workload_status}); nothing was "
                            f"written", hint="fix the workload, or keep the recordings anyway "
                                             "with --allow-workload-failure")
    write_project(out, outcome)
    _match_summary(outcome, out)
    lost = sum(s.recording.total_loss for s in outcome.services)
    if lost and not allow_loss:
        raise LossError(f"events were lost ({lost}); the recordings in {out} are incomplete",
                        hint="re-record, or accept them with --allow-loss")


def default_project_dir(selectors) -> str:
    """VALUE.recordings of the first --match (e.g. shop.recordings for
    com.docker.compose.project=shop), with what cannot be in a file name made '_'."""
    value = re.sub(r"[^A-Za-z0-9_.-]", "_", selectors[0].value).lstrip(".") or "project"
    return f"{value}.recordings"


def check_project_dir(out: Path) -> None:
    """Before a long recording: DIR is new, empty, or a project directory (then rewritten)."""
    from ..recording import project

    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: not a directory", hint="give a directory with -o DIR")
    if out.is_dir() and any(out.iterdir()) and not project.is_project_dir(out):
        raise UsageError(f"{out}: a directory that is not a project directory (no "
                         f"{project.INDEX_FILE})",
                         hint="give a new or empty directory with -o DIR")
    # can be written: the index in DIR, or DIR itself (made at the end) in its parent
    recording_io.check_writable(out / project.INDEX_FILE if out.is_dir() else out)


def write_project(out: Path, outcome) -> None:
    """The project directory, whole or not at all (recording_io.replace_dir): a previous
    recording's directory goes, with the files of services it had and this one has not. A
    failure leaves DIR as it was."""
    from ..recording import project

    recording_io.replace_dir(out, lambda new: project.write(new, outcome.project,
                                                            outcome.recordings()))


def _match_summary(outcome, out: Path) -> None:
    from rich.table import Table

    t = Table(title=f"recorded {len(outcome.services)} service(s) into {out}",
              title_justify="left")
    for col in ("service", "containers", "syscalls", "capabilities", "files", "lost"):
        t.add_column(col, justify="left" if col in ("service", "capabilities") else "right")
    by_name = {s.name: s for s in outcome.project.services}
    for s in outcome.services:
        rec = s.recording
        caps = ([cap_short(c.name) for c in rec.capabilities if c.granted]
                if rec.metadata.capabilities_known else None)
        containers = by_name[s.name].containers
        attached = sum(c.attached for c in containers)
        t.add_row(s.name, f"{len(containers)}" + (f" ({attached} attached)" if attached else ""),
                  str(len(rec.syscalls)),
                  "not recorded" if caps is None else ", ".join(caps) or "none",
                  str(len(rec.files)), str(rec.total_loss))
    console.print(t)
    console.print(f"duration {outcome.elapsed:.1f}s" + (" (interrupted)" if outcome.interrupted else ""))
    for note in outcome.notes:
        console.print(f"[dim]note:[/] {escape(note)}")
    for s in outcome.services:
        for note in s.notes:
            console.print(f"[dim]note ({s.name}):[/] {escape(note)}")


def _summary(rec, out: Path, outcome) -> None:
    from rich.table import Table

    from ..recording import coverage

    t = Table(title=f"recorded {rec.metadata.image or ' '.join(rec.metadata.command)}",
              show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    caps_needed = [c.name for c in rec.capabilities if c.granted]
    caps_denied = [c.name for c in rec.capabilities if c.denied and not c.granted]
    t.add_row("syscalls", str(len(rec.syscalls)))
    if rec.compat_arches:  # i386/x32 calls: counted, not decoded (a note says what is missing)
        t.add_row("compat syscalls", ", ".join(
            f"{a} {sum(1 for s in rec.syscalls if s.arch == a)}" for a in rec.compat_arches))
    if not rec.metadata.capabilities_known:
        t.add_row("capabilities", "[yellow]not recorded[/] (no capability source; see the note)")
    else:
        t.add_row("capabilities used", ", ".join(caps_needed) or "none")
    if caps_denied:
        t.add_row("capability checks refused", ", ".join(caps_denied))
    t.add_row("paths", str(len(rec.files)))
    fams = sorted({s.family for s in rec.network.sockets})
    t.add_row("sockets", ", ".join(fams) or "none")
    t.add_row("listening", ", ".join(f"{e.address}:{e.port}" for e in rec.network.listening) or "none")
    t.add_row("executables", str(len(rec.processes.executables)))
    t.add_row("peak tasks", str(rec.processes.peak_tasks))
    if rec.metadata.workload:
        t.add_row("workload exit", str(rec.metadata.workload.exit_status))
    t.add_row("exit code", str(rec.metadata.exit_code))
    t.add_row("lost events", str(rec.total_loss))
    t.add_row("duration", f"{outcome.elapsed:.1f}s" + (" (interrupted)" if outcome.interrupted else ""))
    cov = coverage.assess(rec)
    if cov is not None:
        t.add_row("coverage", escape(cov.sentence))
        if cov.sparkline:
            t.add_row("new items over time", f"|{cov.sparkline}| (start to end)")
    t.add_row("written to", str(out))
    console.print(t)
    for note in outcome.notes:
        console.print(f"[dim]note:[/] {note}")


def register(app: typer.Typer) -> None:
    app.command("record", context_settings={"allow_interspersed_args": True})(record)

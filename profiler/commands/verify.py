"""`profiler verify`: re-run the container under its policy and report every denial;
`--minimize` also removes capabilities (and adds hardening flags) by experiment; `--compose`
brings a compose project up under its override and reports denials per service."""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.live import Live
from rich.text import Text

from ..session.engine import RunSpec
from ..errors import UsageError

console = Console(stderr=True, highlight=False)


def _live(first: str, label: str):
    """(a live status line on a terminal, or a no-op context; its progress callback or None)."""
    if not console.is_terminal:
        return contextlib.nullcontext(), None
    live_text = Text(first)

    def progress(s: dict) -> None:
        live_text.plain = f"{label}  {s['elapsed']:6.1f}s  syscalls {s['syscalls']}"

    return Live(live_text, console=console, refresh_per_second=4, transient=True), progress


def verify(
    image: Annotated[Optional[str], typer.Argument(help="Image to run under the policy (not with --compose).", show_default=False)] = None,
    cmd: Annotated[Optional[list[str]], typer.Argument(help="After --: replaces the image's CMD.")] = None,
    recording: Annotated[Optional[list[Path]], typer.Option("--recording", "-r", help="Emit the policy from these recordings (in memory).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="With --recording: the policy of `emit --strict` (exactly what the training run did, no generalisation by kind and risk).")] = False,
    policy: Annotated[Optional[Path], typer.Option("--policy", help="A directory written by `profiler emit --format all -o DIR` (used as it is).")] = None,
    workload: Annotated[Optional[str], typer.Option("--workload", "-w", help="Host shell command that exercises the app (default: the recording's).")] = None,
    ready_port: Annotated[Optional[int], typer.Option("--ready-port")] = None,
    duration: Annotated[Optional[float], typer.Option("--duration")] = None,
    settle: Annotated[float, typer.Option("--settle")] = 1.0,
    stop_timeout: Annotated[int, typer.Option("--stop-timeout")] = 10,
    json_out: Annotated[bool, typer.Option("--json", help="The report as JSON on stdout.")] = False,
    minimize: Annotated[bool, typer.Option("--minimize", help="Drop capabilities and add hardening flags by experiment; write the reduced policy.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="With --minimize: where to write the reduced policy (default: DIR.min).")] = None,
    name: Annotated[Optional[str], typer.Option("--name")] = None,
    publish: Annotated[Optional[list[str]], typer.Option("--publish", "-p")] = None,
    env: Annotated[Optional[list[str]], typer.Option("--env", "-e")] = None,
    volume: Annotated[Optional[list[str]], typer.Option("--volume", "-v")] = None,
    entrypoint: Annotated[Optional[str], typer.Option("--entrypoint")] = None,
    tmpfs: Annotated[Optional[list[str]], typer.Option("--tmpfs")] = None,
    compose: Annotated[Optional[Path], typer.Option("--compose", help="A compose project's file: bring the project up under --policy OUT's override (emit DIR --format compose -o OUT) and report denials per service.")] = None,
    project_name: Annotated[Optional[str], typer.Option("--project-name", help="With --compose: the compose project name of the run (default: profiler-verify-<random>).")] = None,
):
    """Run IMAGE under the policy with the workload, trace it, and name every denial with its
    fix. Exit 0 only when the workload passed and nothing was denied, 1 when something was."""
    from ..session import session as rec_mod
    from ..recording import recording_io
    from ..verify import verify as v

    if compose is not None:
        return _verify_compose(compose, image, policy, recording, workload, duration, settle,
                               stop_timeout, json_out, minimize, project_name)
    if image is None:
        raise UsageError("give the IMAGE to run under the policy",
                         hint="profiler verify IMAGE --policy DIR, or a compose project: "
                              "profiler verify --compose compose.yaml --policy OUT")

    if strict and not recording:
        raise UsageError("--strict applies to a policy verify emits (--recording)",
                         hint="a --policy DIR is used as it is: emit it with `profiler emit "
                              "--strict`")
    if bool(recording) == bool(policy):
        raise UsageError("give exactly one of --recording FILE... or --policy DIR",
                         hint="profiler verify IMAGE --policy out/policy --workload ./exercise.sh")
    expected_exit, wl, cmd_default = None, workload, None
    scratch = None
    try:
        if recording:
            recs = [recording_io.load(p) for p in recording]
            scratch = v.scratch_dir()
            pol = v.policy_from_recordings([str(p) for p in recording], scratch / "policy",
                                           strict=strict)
            first = recs[0].metadata
            expected_exit = first.exit_code
            if wl is None and first.workload:
                wl = first.workload.command
            cmd_default = list(first.command) or None
        else:
            pol = v.load_policy_dir(policy)
        if minimize and policy is None and output is None:
            raise UsageError("--minimize with --recording needs -o DIR for the reduced policy")
        base = RunSpec(image=image, command=list(cmd) if cmd else cmd_default, name=name,
                       publish=publish or [], env=env or [], volumes=volume or [],
                       entrypoint=entrypoint, tmpfs=tmpfs or [])
        opts = rec_mod.Options(workload=wl, ready_port=ready_port, duration=duration,
                               settle=settle, stop_timeout=stop_timeout)
        live, progress = _live("verifying...", "running under the policy")
        with live:
            if minimize:
                res = v.minimize(pol, base, opts, expected_exit=expected_exit, progress=progress,
                                 log=lambda s: console.print(f"  {s}"))
            else:
                report = v.run_verify(pol, base, opts, expected_exit=expected_exit,
                                      progress=progress)
        if minimize:
            out_dir = output or Path(str(policy).rstrip("/") + ".min")
            written = v.write_reduced(pol, res, out_dir)
            report = res.final
            console.print(f"minimize: {res.runs} runs in {res.seconds:.0f} s; capabilities "
                          f"{', '.join(res.policy.cap_add) or 'none'} (removed: "
                          f"{', '.join(res.removed_caps) or 'none'}); flags added: "
                          f"{', '.join(res.added_flags) or 'none'}")
            console.print(f"reduced policy written to {out_dir} ({len(written)} files)")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if json_out:
        sys.stdout.write(v.report_json(report))
    else:
        sys.stdout.write(v.report_text(report))
    if not report.passed:
        raise typer.Exit(1)


def _verify_compose(compose: Path, image, policy, recording, workload, duration, settle,
                    stop_timeout, json_out, minimize, project_name) -> None:
    """`verify --compose FILE --policy OUT`: the project under OUT's override
    (profiler/verify/verify_compose.py)."""
    from ..session import session as rec_mod
    from ..verify import verify_compose as vc

    if image is not None or recording or minimize:
        raise UsageError("--compose takes neither IMAGE, --recording nor --minimize",
                         hint="profiler verify --compose compose.yaml --policy OUT --workload CMD")
    if policy is None:
        raise UsageError("--compose needs --policy OUT (what `profiler emit DIR --format "
                         "compose -o OUT` wrote)")
    opts = rec_mod.Options(workload=workload, duration=duration, settle=settle,
                           stop_timeout=stop_timeout)
    live, progress = _live("verifying the project...", "project under the override")
    with live:
        report = vc.run(compose, policy, opts, project=project_name,
                        progress=progress,
                        warn=lambda w: console.print(f"warning: {w}"))
    sys.stdout.write(vc.report_json(report) if json_out else vc.report_text(report))
    if not report.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)

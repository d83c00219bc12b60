"""`profiler verify --compose compose.yaml --policy OUT --workload CMD`: bring a compose project up
under the override `emit DIR --format compose|all -o OUT` wrote, traced in verify mode, run the
workload, report every denial per service, and bring the project down.

The project runs under a name of its own (`profiler-verify-<random>`, or --project-name), so
verify neither touches a running instance of it nor attaches to one; its containers are traced
from their first instruction by `record --match com.docker.compose.project=<that name>` with
COMMAND `compose -f compose.yaml -f OUT/compose.security.yaml -p <name> up -d`
(session.record_match in verify mode: a syscall the filter refused, a capability check refused
in a call that then failed, a write --read-only refused, per service). The override is applied
as it is on disk; each service's denials are named against its own policy directory
OUT/<service>/ (verify.analyze, as `verify IMAGE --policy` names them). Where the kernel
enforces AppArmor, each service's profile is loaded under the name the override gives it for
the run and removed afterwards (one loaded before, by apparmor-load.sh, stays loaded as
emitted: apparmor_kernel.loaded), and its audit
denials are reported; elsewhere the report says AppArmor was not enforced.

Exit 0 only when the project came up, the workload passed, every service of the override ran
and nothing was denied.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable


from . import apparmor_kernel, verify
from ..kernel import apparmor_syntax
from ..kernel import leftovers
from ..session import compose_cli
from .. import safe_input
from ..errors import EngineError, ProfilerError, UsageError, WorkloadError
from ..recording.project import PROJECT_LABEL, Selector
from ..output import project_tree
from ..output.project_tree import OVERRIDE_FILE


@dataclass(frozen=True)
class ServiceResult:
    service: str
    ran: bool  # a container of it was traced
    report: verify.VerifyReport  # its denials against OUT/<service>/

    @property
    def denials(self) -> int:
        return self.report.denials


@dataclass(frozen=True)
class ComposeReport:
    compose: str  # "docker-compose 1.29.2"
    project: str  # the compose project name of the run
    workload: str | None
    workload_status: int | None
    services: tuple[ServiceResult, ...] = ()
    start_error: str = ""  # compose up (or the session) failed
    apparmor: str = ""
    notes: tuple[str, ...] = ()

    @property
    def started(self) -> bool:
        return not self.start_error

    @property
    def workload_passed(self) -> bool:
        return self.workload is None or self.workload_status == 0

    @property
    def denials(self) -> int:
        return sum(s.denials for s in self.services)

    @property
    def passed(self) -> bool:
        return (self.started and self.workload_passed and not self.denials
                and all(s.ran for s in self.services))


# --------------------------------------------------------------------------------------------
# the inputs
# --------------------------------------------------------------------------------------------

# Keys of the project's own file that the override cannot take back: compose adds the
# override's lists to the service's (cap_add, security_opt) and keeps the rest.
_WIDENING = ("privileged", "cap_add", "security_opt", "pid", "ipc", "userns_mode", "devices")


def widened(compose: dict, services: list[str]) -> list[str]:
    """Notes on services whose own compose entry grants what the override cannot remove."""
    notes = []
    for name in services:
        svc = compose["services"].get(name) or {}
        keys = [k for k in _WIDENING if svc.get(k)]
        if keys:
            notes.append(f"{name}: compose.yaml sets {', '.join(keys)}; the override adds to "
                         f"that, it cannot take it away (remove them from compose.yaml)")
    return notes


def read_policies(out: Path, compose_file: Path) -> tuple[dict[str, verify.RunPolicy],
                                                          list[str]]:
    """service -> its RunPolicy (OUT/<service>/), for every service of OUT's override (each
    must be a service of compose_file), and notes on what compose_file grants beyond them."""
    dirs = project_tree.read_services(out)
    compose = safe_input.compose_file(compose_file, "the project's own compose file, the one "
                                                    "the override was made for")
    services = sorted(dirs)
    unknown = [s for s in services if s not in compose["services"]]
    if unknown:
        raise UsageError(f"{out / OVERRIDE_FILE}: service(s) {', '.join(unknown)} not in "
                         f"{compose_file}", hint="was the policy made from another project?")
    return ({s: verify.load_policy_dir(d) for s, d in dirs.items()},
            widened(compose, services))


# --------------------------------------------------------------------------------------------
# the report (pure)
# --------------------------------------------------------------------------------------------

def analyze(policies: dict[str, verify.RunPolicy], outcome, *, compose: str, project: str,
            workload: str | None, apparmor: dict[str, tuple] | None = None,
            apparmor_status: str = "") -> ComposeReport:
    """A record_match outcome (its services' denials) + the policies -> ComposeReport."""
    by_name = {s.name: s for s in outcome.services}
    results = []
    for name, pol in sorted(policies.items()):
        svc = by_name.get(name)
        if svc is None:
            report = verify.VerifyReport(image=name, started=False, exit_code=None,
                                         expected_exit=None, workload=None, workload_status=None,
                                         start_error="no container of this service was traced",
                                         policy=verify.policy_summary(pol))
            results.append(ServiceResult(name, False, report))
            continue
        executables = tuple(e.path for e in svc.recording.processes.executables)
        report = verify.analyze(svc.denials, pol, image=svc.recording.metadata.image or name,
                                exit_code=None, workload=None, workload_status=None)
        if apparmor and name in apparmor:
            report = replace(report, apparmor_denials=verify.analyze_apparmor(
                list(apparmor[name]), executables))
        results.append(ServiceResult(name, True, report))
    notes = list(outcome.notes)
    extra = sorted(set(by_name) - set(policies))
    if extra:
        notes.append(f"service(s) without a policy in the override ran unconfined by it: "
                     f"{', '.join(extra)}")
    return ComposeReport(compose=compose, project=project, workload=workload,
                         workload_status=outcome.workload_status, services=tuple(results),
                         apparmor=apparmor_status, notes=tuple(notes))


def report_text(r: ComposeReport) -> str:
    lines = [f"verify --compose (project {r.project}, {r.compose}): "
             f"{'PASSED' if r.passed else 'FAILED'}"]
    if r.start_error:
        lines.append(f"  project: did not come up under the override: {r.start_error}")
    lines += verify.run_lines(r)
    for n in r.notes:
        lines.append(f"  note: {n}")
    for s in r.services:
        state = ("did not run (no container traced)" if not s.ran
                 else f"{s.denials} denial(s)" if s.denials else "no denial")
        p = s.report.policy
        lines.append("")
        lines.append(f"service {s.service}: {state}  (policy: {p.get('syscalls_allowed', 0)} "
                     f"syscalls, capabilities {', '.join(p.get('capabilities') or []) or 'none'})")
        lines += verify.denial_lines(s.report, "  ")
    return "\n".join(lines) + "\n"


def report_json(r: ComposeReport) -> str:
    d = asdict(r)
    d.update(passed=r.passed, denials=r.denials, started=r.started,
             workload_passed=r.workload_passed)
    for s, data in zip(r.services, d["services"]):
        data["denials"] = s.denials
    return json.dumps(d, indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------------------------
# running it
# --------------------------------------------------------------------------------------------

def _apparmor_loads(policies: dict[str, verify.RunPolicy], stack: contextlib.ExitStack
                    ) -> tuple[dict[str, apparmor_kernel.Loaded], str]:
    """Where the kernel enforces AppArmor: each service's profile loaded under its own name
    (the one the override names) until the stack closes."""
    if not apparmor_kernel.enforced():
        return {}, ("the kernel does not enforce AppArmor: the override's apparmor= options "
                    "were ignored by the engine")
    loads = {}
    for name, pol in policies.items():
        if pol.apparmor_path is None:
            continue
        text = Path(pol.apparmor_path).read_text(encoding="utf-8")
        profile = apparmor_syntax.profile_name(text) or name
        loads[name] = stack.enter_context(apparmor_kernel.loaded(text, profile))
    return loads, (f"enforced: {len(loads)} profile(s) loaded under the override's names for "
                   f"this run, removed afterwards unless loaded before")


def run(compose_file: Path, out: Path, opts, *, project: str | None = None,
        compose: compose_cli.Compose | None = None, record_match: Callable | None = None,
        progress=None, warn=None, engine=None) -> ComposeReport:
    """Bring the project up under the override, traced; run the workload; bring it down, with
    the named volumes it made when the project had none before (the default project name's
    always: a run's volumes, such as the override's for the app's writable directories, must
    not pile up on the host; a user's project keeps its data)."""
    from ..session import session
    from ..session.engine import Engine

    compose_file, out = compose_file.resolve(), out.resolve()
    policies, widening = read_policies(out, compose_file)
    compose = compose or compose_cli.find()
    name = project or f"profiler-verify-{uuid.uuid4().hex[:8]}"
    files = [compose_file, out / OVERRIDE_FILE]
    up = compose_cli.command(compose, files, name, "up", "-d")
    record_match = record_match or session.record_match
    opts = replace(opts, verify=True, allow_workload_failure=True)
    base = dict(compose=str(compose), project=name, workload=opts.workload)
    reg = leftovers.registry()
    with contextlib.ExitStack() as stack:
        try:
            loads, aa_status = _apparmor_loads(policies, stack)
            # Registered before `up`: if this run is killed, the next run brings the project
            # down (leftovers.sweep), since compose's containers cannot carry our owner label.
            reg.add("compose", name)
            engine = engine or Engine()
            fresh = not engine.project_volumes(name)
            if fresh:  # every volume the project gets from now on is this run's
                reg.add("compose_volumes", name)
            try:
                outcome = record_match((Selector(PROJECT_LABEL, name),), opts, up,
                                       progress=progress, warn=warn)
            finally:
                left = _down(compose, files, name, opts.stop_timeout)
                if not left and fresh:
                    left = _remove_volumes(engine, name)
                if left and warn:
                    warn(left)
                else:
                    reg.discard("compose", name)
                    reg.discard("compose_volumes", name)
        except (WorkloadError, EngineError) as e:  # compose up failed, nothing came up
            return ComposeReport(**base, workload_status=None, start_error=e.message,
                                 services=tuple(ServiceResult(s, False, verify.VerifyReport(
                                     image=s, started=False, exit_code=None, expected_exit=None,
                                     workload=None, workload_status=None,
                                     policy=verify.policy_summary(p)))
                                     for s, p in sorted(policies.items())))
        audit = {s: loaded.denials()[0] for s, loaded in loads.items()}
    report = analyze(policies, outcome, **base, apparmor=audit, apparmor_status=aa_status)
    return replace(report, notes=tuple(widening) + report.notes)


def _remove_volumes(engine, name: str) -> str:
    """Remove the named volumes of a project whose every volume this run made; what is left,
    or ""."""
    try:
        engine.remove_project(name, volumes=True)
        left = engine.project_volumes(name)
    except ProfilerError as e:
        return f"removing the volumes of the project {name} failed: {e.message}"
    return f"the volumes {', '.join(left)} of the project {name} are left" if left else ""


def _down(compose: compose_cli.Compose, files: list[Path], name: str, timeout: int) -> str:
    """Remove the run's containers and network (record_match stopped them); what went wrong,
    or ""."""
    try:
        # The containers with their anonymous volumes (an image's VOLUMEs: this run's), then
        # the rest; `down -v` would also remove the project's named volumes (the user's data
        # when the project is theirs).
        compose_cli.run(compose, files, name, "rm", "-f", "-s", "-v")
        compose_cli.run(compose, files, name, "down", "-t", str(timeout))
    except ProfilerError as e:
        return f"bringing the project {name} down failed: {e.message}"
    return ""

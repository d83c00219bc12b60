"""Prove a policy: run the container under it, trace the run, and name every denial.

A policy is what `profiler emit --format all -o DIR` wrote (seccomp.json, caps.txt, run.sh,
apparmor.profile), used as it is, hand edits included: profiler/output/policy_dir.py reads it, this
module checks that caps.txt and run.sh are in the form emit writes and applies them. The run
is a verify-mode trace (see bpf/record.c): a syscall the filter refused never reached sys_enter
but did reach sys_exit, so it is a denial by construction; a refused capability check counts when the syscall it happened
in then failed with EPERM or EACCES (checks the kernel makes only to choose a path do not fail
the call); EROFS on a path is a write `--read-only` stopped. Where the kernel enforces AppArmor,
apparmor.profile is loaded for the run under a unique name (profiler/verify/apparmor_kernel.py) and
its denials are read from the kernel's audit messages (profiler/verify/apparmor_audit.py);
elsewhere it is only compiled, and the report says so.

Pure parts (applying the policy, analysis, report, rendering) are unit-tested; `run_verify` and
`minimize` drive the engine through session.record_container.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from . import apparmor_kernel
from ..kernel import iouring
from ..output import policy_dir
from ..recording.aggregate import DeniedCapability, DeniedSyscall, DeniedWrite, Denials
from .apparmor_audit import Denial as AuditDenial
from ..session.engine import RunSpec
from ..errors import AppArmorError, EngineError, UsageError
from ..kernel.linux import ENOSYS, EPERM, cap_full, cap_short
from ..output.policy_dir import APPARMOR, CAPS, POLICY_FILES, RUN, SECCOMP
from ..render import caps as caps_render
from ..render import run as run_render
from ..tool_errors import error_line


# --------------------------------------------------------------------------------------------
# the policy, as files
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunPolicy:
    """What verify applies: read from a policy directory."""

    directory: str
    seccomp_path: str | None
    allowed: frozenset[str] = frozenset()  # names with an unconditional or filtered ALLOW
    fallback: frozenset[str] = frozenset()  # names answered with ENOSYS on purpose (libc fallback)
    default_errno: int = EPERM
    cap_add: tuple[str, ...] = ()  # "CHOWN", ...
    # False when caps.txt says capabilities were not recorded (emit --caps-unknown keep-default):
    # the container keeps Docker's default set and capabilities are not checked.
    caps_checked: bool = True
    no_new_privileges: bool = False
    read_only: bool = False
    tmpfs: tuple[str, ...] = ()
    # --mount values; a named volume of run.sh ($volume_prefix-...) becomes an anonymous one,
    # removed with verify's container: a verify starts from the image's content every time
    mounts: tuple[str, ...] = ()
    pids_limit: int | None = None
    user: str | None = None
    network: str | None = None
    apparmor_path: str | None = None
    publish: tuple[str, ...] = ()  # run.sh's --publish lines (used when the user gives none)


def parse_caps(text: str, source: str = CAPS) -> tuple[str, ...]:
    """`--cap-drop ALL --cap-add CHOWN ...` -> ("CHOWN", ...). Anything else is an error."""
    return _caps(_parsed(lambda: policy_dir.caps_file(text), source), source)


def _caps(caps: policy_dir.CapsFile, source: str) -> tuple[str, ...]:
    """verify applies caps.txt as emit writes it: `--cap-drop ALL` and `--cap-add NAME`s."""
    if caps.form != "flags" or caps.other:
        word = (caps.other or caps.added or ("",))[0]
        raise UsageError(f"{source}: unexpected {word!r}",
                         hint="expected one line: --cap-drop ALL --cap-add NAME ...")
    for value in caps.dropped:
        value = cap_short(value)
        if value != "ALL":
            raise UsageError(f"{source}: only `--cap-drop ALL` is supported, not {value}")
    return tuple(sorted({cap_short(c) for c in caps.added}))


def parse_run_args(text: str, source: str = RUN) -> list[str]:
    """The words of run.sh's `args=( ... )` block (the docker options emit collected),
    comments dropped."""
    script = _args_block(_parsed(lambda: policy_dir.run_script(text), source), source)
    return _parsed(lambda: script.words(args_only=True), source)


def _args_block(script: policy_dir.RunScript, source: str) -> policy_dir.RunScript:
    """verify applies the options of emit's `args=( ... )` block, and only those."""
    if not script.has_args_block:
        raise UsageError(f"{source}: no `args=( ... )` block", hint="emit it again")
    return script


def _parsed(parse, source: str):
    """parse() with a PolicyFormatError as a UsageError naming the file."""
    try:
        return parse()
    except policy_dir.PolicyFormatError as e:
        raise UsageError(f"{source}: {e.reason}") from None


def load_policy_dir(directory: str | Path) -> RunPolicy:
    d = Path(directory)
    if not d.is_dir():
        raise UsageError(f"--policy {d}: not a directory",
                         hint="write one with `profiler emit --format all -o DIR`")
    texts = policy_dir.read_texts(d, str(d))
    if texts[SECCOMP] is None and texts[CAPS] is None:
        raise UsageError(f"--policy {d}: has neither {SECCOMP} nor {CAPS}",
                         hint="write one with `profiler emit --format all -o DIR`")
    try:
        files = policy_dir.parse(texts)
    except policy_dir.PolicyFormatError as e:
        if e.file == SECCOMP:
            raise UsageError(f"{d / e.file}: not a seccomp profile ({e.reason})",
                             hint="emit it again, or fix the JSON") from None
        raise UsageError(f"{d / e.file}: {e.reason}") from None
    pol = RunPolicy(directory=str(d.resolve()), seccomp_path=None)
    if files.seccomp is not None:
        sec = files.seccomp
        pol = replace(pol, seccomp_path=str((d / SECCOMP).resolve()),
                      allowed=sec.names(lambda r: r.allows),
                      fallback=sec.names(lambda r: r.action == "SCMP_ACT_ERRNO"
                                         and r.errno_ret == ENOSYS),
                      default_errno=sec.default_errno)
    if files.caps is not None and _caps_not_recorded(texts[CAPS]):
        pol = replace(pol, caps_checked=False)
    elif files.caps is not None:
        pol = replace(pol, cap_add=_caps(files.caps, str(d / CAPS)))
    if files.run is not None:
        pol = _apply_run_flags(pol, _args_block(files.run, str(d / RUN)), files.caps is None,
                               str(d / RUN))
    if texts[APPARMOR] is not None:
        pol = replace(pol, apparmor_path=str((d / APPARMOR).resolve()))
    return pol


def _caps_not_recorded(text: str) -> bool:
    """caps.txt as emit writes it for a recording without capabilities: only its comment."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return bool(lines) and all(line.startswith("#") for line in lines) and \
        caps_render.KEEP_DEFAULT_NOTE in text


def _apply_run_flags(pol: RunPolicy, script: policy_dir.RunScript, take_caps: bool,
                     source: str) -> RunPolicy:
    """The docker options of run.sh's args block that verify applies."""
    tmpfs, caps, publish = list(pol.tmpfs), list(pol.cap_add), list(pol.publish)
    mounts = list(pol.mounts)
    for flag, value in _parsed(lambda: script.flags(args_only=True), source):
        if flag == "--security-opt" and value in policy_dir.NO_NEW_PRIVILEGES:
            pol = replace(pol, no_new_privileges=True)
        elif flag == "--read-only":
            pol = replace(pol, read_only=value != "false")
        elif flag == "--tmpfs":
            tmpfs.append(value)
        elif flag == "--mount":
            mounts.append(_verify_mount(value))
        elif flag == "--pids-limit":
            try:
                pol = replace(pol, pids_limit=int(value))
            except ValueError:
                raise UsageError(f"{source}: --pids-limit {value!r} is not a number") from None
        elif flag == "--user":
            pol = replace(pol, user=value)
        elif flag == "--network":
            pol = replace(pol, network=value)
        elif flag == "--publish":
            publish.append(value)
        elif flag == "--cap-add" and take_caps:
            caps.append(cap_short(value))
    return replace(pol, tmpfs=tuple(tmpfs), cap_add=tuple(sorted(set(caps))),
                   publish=tuple(publish), mounts=tuple(mounts))


def _verify_mount(value: str) -> str:
    """run.sh's --mount value for verify: a volume named after run.sh's container
    ($volume_prefix) becomes anonymous (verify's container has no such name)."""
    parts = value.split(",")
    if any(p.startswith(("source=$", "src=$")) for p in parts):
        parts = [p for p in parts if not p.startswith(("source=", "src="))]
    return ",".join(parts)


def apply(pol: RunPolicy, base: RunSpec, apparmor: str | None = None) -> RunSpec:
    """The container to run: the user's options, then the policy (it wins). `apparmor`: the
    name the policy's AppArmor profile is loaded under, when it is enforced."""
    ours = ("seccomp", "no-new-privileges") + (("apparmor",) if apparmor else ())
    opts = [o for o in base.security_opt if not o.startswith(ours)]
    if pol.seccomp_path:
        opts.append(f"seccomp={pol.seccomp_path}")
    if pol.no_new_privileges:
        opts.append("no-new-privileges")
    if apparmor:
        opts.append(f"apparmor={apparmor}")
    caps = (dict(cap_drop=["ALL"], cap_add=list(pol.cap_add)) if pol.caps_checked
            else dict(cap_drop=list(base.cap_drop), cap_add=list(base.cap_add)))
    return replace(base, security_opt=opts, **caps,
                   read_only=pol.read_only or base.read_only,
                   tmpfs=sorted(set(base.tmpfs) | set(pol.tmpfs)),
                   mounts=list(dict.fromkeys([*base.mounts, *pol.mounts])),
                   pids_limit=pol.pids_limit, user=pol.user or base.user,
                   network=pol.network or base.network,
                   publish=list(base.publish or pol.publish))


def apparmor_status(pol: RunPolicy) -> str:
    """AppArmor where verify does not enforce it: the profile is at least compiled."""
    on = apparmor_kernel.enforced()
    if pol.apparmor_path is None:
        return "no apparmor.profile in the policy"
    try:
        p = subprocess.run(["apparmor_parser", "-Q", "-K", "-T", pol.apparmor_path],
                           capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return "apparmor_parser is not installed: profile not validated"
    if p.returncode != 0:
        line = error_line(p.stderr, p.stdout, default=f"exit {p.returncode}")
        return f"apparmor.profile does not compile: {line}"
    if on:
        return "AppArmor is enforced by this kernel but verify did not load the profile: " \
               "the run was not confined by it"
    return "the kernel does not enforce AppArmor: apparmor.profile was only validated " \
           "(apparmor_parser -Q -K)"


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AppArmorDenial:
    operation: str  # "open", "mknod", "exec", "capable", ...
    path: str  # the path, or what else was refused ("signal=term peer=runc", a capability)
    denied: str  # the denied mask ("r", "wc") or capability
    count: int
    executables: tuple[str, ...]
    rule: str  # the rule that would allow it, "" when there is none to give
    fix: str


@dataclass(frozen=True)
class VerifyReport:
    image: str
    started: bool
    exit_code: int | None
    expected_exit: int | None  # the training run's, when known
    workload: str | None
    workload_status: int | None
    start_error: str = ""
    syscalls: tuple[DeniedSyscall, ...] = ()  # aggregate's denials, each with its fix
    capabilities: tuple[DeniedCapability, ...] = ()
    writes: tuple[DeniedWrite, ...] = ()
    fallbacks: tuple[DeniedSyscall, ...] = ()  # ENOSYS on purpose (libc falls back): not failures
    # What made the run fail when a policy option explains it (no-new-privileges stopping a
    # set-id exec); the denials that follow from it are listed as usual.
    causes: tuple[str, ...] = ()
    apparmor_denials: tuple[AppArmorDenial, ...] = ()
    apparmor: str = ""
    policy: dict = field(default_factory=dict)

    @property
    def denials(self) -> int:
        return (len(self.syscalls) + len(self.capabilities) + len(self.writes)
                + len(self.apparmor_denials))

    @property
    def workload_passed(self) -> bool:
        return self.workload is None or self.workload_status == 0

    @property
    def exit_as_trained(self) -> bool:
        if self.expected_exit is None:  # no training run to compare: a clean or SIGTERM exit
            return self.exit_code in (0, 143)
        return self.exit_code == self.expected_exit

    @property
    def passed(self) -> bool:
        return self.started and self.workload_passed and self.exit_as_trained and not self.denials


def analyze(denials: Denials, pol: RunPolicy, *, image: str, exit_code, workload,
            workload_status, expected_exit=None, apparmor="", exec_files=()) -> VerifyReport:
    """The denials of a verify run (aggregate.build_denials) + the policy -> VerifyReport
    (pure)."""
    calls, fallbacks = [], []
    for d in denials.syscalls:
        where = ", ".join(d.executables)
        if d.errno == "ENOSYS" and d.syscall in pol.fallback:
            why = ("expected: io_uring refused on purpose, the app falls back to plain syscalls "
                   "(emit --allow-io-uring allows it)" if d.syscall in iouring.SYSCALLS
                   else "expected: libc falls back to an older call")
            fallbacks.append(replace(d, fix=why))
            continue
        calls.append(replace(d, fix=(
            f"{d.syscall} denied {d.count}x in {where}: add it to the profile (seccomp.json), or "
            f"re-record with a workload that exercises this path")))
    caps = []
    for d in denials.capabilities:
        short = cap_short(d.capability)
        caps.append(replace(d, fix=(
            f"{d.capability} refused {d.count}x ({d.syscall} in {', '.join(d.executables)} "
            f"failed): add `--cap-add {short}` to caps.txt and run.sh, or re-record with a "
            f"workload that exercises this path")))
    writes = []
    for d in denials.writes:
        parent = d.path.rsplit("/", 1)[0] or "/"
        writes.append(replace(d, fix=f"{d.path}: read-only root file system: add `--tmpfs "
                                     f"{parent}` (or a volume), or drop --read-only"))
    report = VerifyReport(image=image, started=True, exit_code=exit_code,
                          expected_exit=expected_exit, workload=workload,
                          workload_status=workload_status, syscalls=tuple(calls),
                          capabilities=tuple(caps), writes=tuple(writes),
                          fallbacks=tuple(fallbacks), apparmor=apparmor,
                          policy=policy_summary(pol))
    if not report.passed:
        report = replace(report, causes=file_cap_causes(exec_files, pol) + _causes(denials, pol))
    return report


def _causes(denials: Denials, pol: RunPolicy) -> tuple[str, ...]:
    """A failed run that followed a set-id exec under no-new-privileges: that option is the
    cause (the kernel ran the program without its set-uid/set-gid bit), not the denials it
    led to (a capability the program expected as root, a fallback syscall)."""
    if not pol.no_new_privileges or not denials.unhonoured_setid:
        return ()
    return (f"no-new-privileges: {'; '.join(denials.unhonoured_setid)}. Remove `--security-opt "
            f"no-new-privileges` from run.sh (the app relies on this set-id program); the "
            f"denials below follow from it",)


def file_cap_causes(exec_files, pol: RunPolicy) -> tuple[str, ...]:
    """A failed run with a program whose file capability the policy leaves out (model.ExecFile
    entries of the run, the entrypoint included: profiler/recording/filecaps.py): the kernel
    refuses its exec with EPERM when the capability is not in the bounding set (a seccomp or runtime
    problem to the eye), and no-new-privileges runs it without the capability."""
    out = []
    for f in exec_files:
        if not f.capabilities:
            continue
        names = ", ".join(f.capabilities)
        missing = [c for c in f.capabilities if cap_short(c) not in pol.cap_add]
        if pol.caps_checked and missing:
            adds = " ".join(f"--cap-add {cap_short(c)}" for c in missing)
            refused = ("the kernel refuses its exec with EPERM" if f.effective
                       else "it runs without them")
            out.append(f"file capability: {f.path} has {names} (file capabilities), and "
                       f"{', '.join(missing)} is not in the bounding set: {refused}. Add "
                       f"`{adds}` to caps.txt and run.sh")
        elif pol.no_new_privileges:
            out.append(f"no-new-privileges: {f.path} has {names} (file capabilities), which "
                       f"no-new-privileges drops at exec for a non-root user. Remove "
                       f"`--security-opt no-new-privileges` from run.sh")
    return tuple(out)


def analyze_apparmor(denials: list[AuditDenial],
                     executables: tuple[str, ...] = ()) -> tuple[AppArmorDenial, ...]:
    """The kernel's AppArmor denials of a run -> one finding per operation, path and rule, with
    the executables that hit it (pure). The audit record names the task (comm, 15 characters);
    it becomes the executable of the run whose file name it is, when exactly one is."""
    groups: dict[tuple, list[AuditDenial]] = {}
    for d in denials:
        groups.setdefault((d.operation, d.target, d.rule), []).append(d)
    out = []
    for (operation, path, rule), ds in sorted(groups.items()):
        exes = tuple(sorted({_executable(d.comm, executables) for d in ds}))
        where = ", ".join(exes)
        what = f"{operation} {path}" if path else operation
        if rule:
            fix = (f"{what} denied {len(ds)}x in {where}: add `{rule}` to apparmor.profile, or "
                   f"re-record with a workload that exercises this path")
        else:
            fix = (f"{what} denied {len(ds)}x in {where}: the profile denies this on purpose "
                   f"(as Docker's default does); the app must not need it")
        out.append(AppArmorDenial(operation, path, ds[0].denied, len(ds), exes, rule, fix))
    return tuple(out)


def _executable(comm: str, executables: tuple[str, ...]) -> str:
    if not comm:
        return "(unknown)"
    match = [e for e in executables if e.rsplit("/", 1)[-1][:15] == comm]
    return match[0] if len(match) == 1 else comm


def policy_summary(pol: RunPolicy) -> dict:
    return {"syscalls_allowed": len(pol.allowed), "capabilities": list(pol.cap_add),
            "capabilities_checked": pol.caps_checked,
            "no_new_privileges": pol.no_new_privileges, "read_only": pol.read_only,
            "tmpfs": list(pol.tmpfs), "pids_limit": pol.pids_limit, "user": pol.user,
            "network": pol.network}


def report_json(r: VerifyReport) -> str:
    d = asdict(r)
    d.update(passed=r.passed, denials=r.denials, workload_passed=r.workload_passed,
             exit_as_trained=r.exit_as_trained)
    return json.dumps(d, indent=2, sort_keys=True) + "\n"


def report_text(r: VerifyReport) -> str:
    """The report for a terminal: a verdict, then one table per kind of denial (pure)."""
    lines = []
    verdict = "PASSED" if r.passed else "FAILED"
    lines.append(f"verify {r.image}: {verdict}")
    p = r.policy
    flags = [f for f, on in (("no-new-privileges", p.get("no_new_privileges")),
                             ("read-only", p.get("read_only"))) if on]
    caps = (", ".join(p.get("capabilities") or []) or "none") if p.get("capabilities_checked", True) \
        else "not checked (not recorded; Docker's default set kept)"
    lines.append(f"  policy: {p.get('syscalls_allowed', 0)} syscalls allowed, capabilities: "
                 f"{caps}"
                 + (f", {', '.join(flags)}" if flags else ""))
    if not r.started:
        lines.append(f"  container: did not start under the policy: {r.start_error}")
    else:
        exit_note = "" if r.exit_as_trained else (
            f" (training exited {r.expected_exit})" if r.expected_exit is not None
            else " (not a clean exit)")
        lines.append(f"  container: started, exited with {r.exit_code}{exit_note}")
    lines += run_lines(r)
    return "\n".join(lines + denial_lines(r)) + "\n"


def run_lines(r) -> list[str]:
    """The workload's and AppArmor's lines of a report (VerifyReport, verify --compose's)."""
    lines = []
    if r.workload is not None:
        state = "passed" if r.workload_passed else f"FAILED (exit {r.workload_status})"
        lines.append(f"  workload: {state}")
    if r.apparmor:
        lines.append(f"  apparmor: {r.apparmor}")
    return lines


def denial_lines(r: VerifyReport, indent: str = "") -> list[str]:
    """The causes, one table per kind of denial, and the fixes (pure; also verify --compose's,
    per service)."""
    lines = [f"  cause: {cause}" for cause in r.causes]

    def table(title, header, rows):
        if not rows:
            return
        widths = [max(len(h), *(len(str(row[i])) for row in rows)) for i, h in enumerate(header)]
        lines.append("")
        lines.append(title)
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
        for row in rows:
            lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())

    table("syscalls denied by the seccomp profile", ("syscall", "errno", "count", "executable"),
          [(d.syscall, d.errno, d.count, ", ".join(d.executables)) for d in r.syscalls])
    table("capability checks refused (and the call failed)",
          ("capability", "in syscall", "count", "executable"),
          [(d.capability, d.syscall, d.count, ", ".join(d.executables)) for d in r.capabilities])
    table("writes refused by --read-only", ("path", "access"),
          [(d.path, ",".join(d.access)) for d in r.writes])
    table("refused by the AppArmor profile",
          ("operation", "path or target", "denied", "count", "executable"),
          [(d.operation, d.path or "-", d.denied, d.count, ", ".join(d.executables))
           for d in r.apparmor_denials])
    table("expected fallbacks (ENOSYS on purpose; not failures)", ("syscall", "count", "executable"),
          [(d.syscall, d.count, ", ".join(d.executables)) for d in r.fallbacks])
    fixes = list(r.causes) + [d.fix for d in (*r.syscalls, *r.capabilities, *r.writes,
                                              *r.apparmor_denials)]
    if fixes:
        lines.append("")
        lines.append("fixes")
        lines += [f"  - {f}" for f in fixes]
    return [indent + line if line else line for line in lines]


# --------------------------------------------------------------------------------------------
# running it (engine + tracer)
# --------------------------------------------------------------------------------------------

def run_verify(pol: RunPolicy, base: RunSpec, opts, *, expected_exit=None, progress=None,
               engine=None) -> VerifyReport:
    """One run under the policy. Where the kernel enforces AppArmor, the policy's profile is
    loaded for this run (a unique name; unloaded afterwards, also on errors and Ctrl-C)."""
    if pol.apparmor_path is None or not apparmor_kernel.enforced():
        return _run(pol, base, opts, None, apparmor_status(pol), expected_exit=expected_exit,
                    progress=progress, engine=engine)
    text = Path(pol.apparmor_path).read_text(encoding="utf-8")
    try:
        with apparmor_kernel.loaded(text) as aa:
            return _run(pol, base, opts, aa, f"enforced: apparmor.profile loaded as {aa.name} "
                        f"for this run, unloaded afterwards", expected_exit=expected_exit,
                        progress=progress, engine=engine)
    except AppArmorError as e:
        if not e.message.startswith("could not unload"):
            return VerifyReport(image=base.image, started=False, exit_code=None,
                                expected_exit=expected_exit, workload=opts.workload,
                                workload_status=None,
                                start_error=f"apparmor.profile did not load: {e.message}",
                                apparmor="enforced by this kernel, but the profile did not load",
                                policy=policy_summary(pol))
        raise


def _run(pol: RunPolicy, base: RunSpec, opts, aa, apparmor: str, *, expected_exit, progress,
         engine) -> VerifyReport:
    from ..session import session

    spec = apply(pol, base, aa.name if aa else None)
    opts = replace(opts, verify=True, allow_workload_failure=True)

    def refused(executables=()) -> tuple[tuple[AppArmorDenial, ...], str]:
        if aa is None:
            return (), apparmor
        found, dropped = aa.denials()
        note = ("; the kernel dropped audit messages, so some denials may be missing"
                if dropped else "")
        return analyze_apparmor(found, executables), apparmor + note

    try:
        out = session.record_container(spec, opts, progress, engine)
    except EngineError as e:
        if "image" in e.message and "not found" in e.message:
            raise
        denied, status = refused()
        return VerifyReport(image=base.image, started=False, exit_code=None,
                            expected_exit=expected_exit, workload=opts.workload,
                            workload_status=None, start_error=e.message,
                            apparmor_denials=denied, apparmor=status,
                            policy=policy_summary(pol))
    md = out.recording.metadata
    executables = tuple(e.path for e in out.recording.processes.executables)
    denied, status = refused(executables)
    report = analyze(out.denials, pol, image=base.image, exit_code=md.exit_code,
                     workload=opts.workload,
                     workload_status=md.workload.exit_status if md.workload else None,
                     expected_exit=expected_exit, apparmor=status,
                     exec_files=out.recording.processes.exec_files or ())
    report = replace(report, apparmor_denials=denied)
    if not out.recording.processes.executables:
        # The runtime loads the filter and then execs the entrypoint: no exec, no start. The
        # kernel also refuses that exec itself when a file capability of the entrypoint is
        # not in the bounding set: then that is the cause, not the profile.
        refused = [c for c in report.causes if c.startswith("file capability:")]
        why = (f"; {refused[0]}" if refused else
               "; the profile must allow what the runtime needs after loading it")
        report = replace(report, started=False, start_error=(
            f"the entrypoint never ran (the container exited with {md.exit_code})"
            f"{out.logs}{why}"))
    return report


def policy_from_recordings(paths: list[str], directory: Path, *,
                           strict: bool = False) -> RunPolicy:
    """`--recording`: emit every format into a scratch directory, then read it like --policy
    (strict: as `emit --strict`, else generalised by kind and risk as `emit`)."""
    from ..output import pipeline

    # A recording without capabilities is verified with Docker's default set; the report says
    # capabilities were not checked.
    policy = pipeline.policy(pipeline.load(paths), [str(p) for p in paths], ["caps"],
                             strict=strict, caps_unknown="keep-default")
    pipeline.write_policy_dir(directory, policy)
    return load_policy_dir(directory)


@dataclass
class MinimizeResult:
    policy: RunPolicy
    runs: int
    removed_caps: list[str]
    added_flags: list[str]
    final: VerifyReport
    seconds: float


def minimize(pol: RunPolicy, base: RunSpec, opts, *, expected_exit=None, progress=None,
             log=lambda s: None) -> MinimizeResult:
    """One pass over the candidates, then a confirming run: drop each capability, and switch on
    each hardening flag the policy lacks; keep a change when the run still passes with no
    denial. Capability checks the kernel makes only to choose a path (the tracepoint has no
    "noaudit" flag) are exactly what this removes."""
    import time

    t0 = time.monotonic()
    runs = 0

    def passes(p: RunPolicy) -> bool:
        nonlocal runs
        runs += 1
        r = run_verify(p, base, opts, expected_exit=expected_exit, progress=progress)
        return r.passed and r.exit_as_trained

    if not passes(pol):
        raise UsageError("the policy does not pass verify as it is; minimize starts from a "
                         "passing policy", hint="run `profiler verify` and fix its denials first",
                         exit_code=1)
    removed, added = [], []
    for cap in list(pol.cap_add):
        trial = replace(pol, cap_add=tuple(c for c in pol.cap_add if c != cap))
        ok = passes(trial)
        log(f"without {cap_full(cap)}: {'passes, dropped' if ok else 'fails, kept'}")
        if ok:
            pol, removed = trial, removed + [cap]
    flags = []  # (what the report calls it, the policy change)
    if not pol.no_new_privileges:
        flags.append(("no-new-privileges", {"no_new_privileges": True}))
    if pol.network != "none":
        flags.append(("--network none", {"network": "none"}))
    for name, change in flags:
        trial = replace(pol, **change)
        ok = passes(trial)
        log(f"with {name}: {'passes, kept' if ok else 'fails, not applied'}")
        if ok:
            pol, added = trial, added + [name]
    runs += 1
    final = run_verify(pol, base, opts, expected_exit=expected_exit, progress=progress)
    return MinimizeResult(pol, runs, removed, added, final, time.monotonic() - t0)


def write_reduced(src: RunPolicy, result: MinimizeResult, out: Path) -> list[Path]:
    """The policy directory again, with caps.txt and run.sh reduced (seccomp and AppArmor are
    copied as they are): caps.txt as the caps renderer writes it, run.sh's added options as
    the run renderer writes a flag."""
    srcdir = Path(src.directory)
    pol = result.policy
    texts = {}
    for name in POLICY_FILES:
        if (srcdir / name).is_file() and name not in (CAPS, RUN):
            texts[name] = (srcdir / name).read_text(encoding="utf-8")
    if pol.caps_checked:
        texts[CAPS] = caps_render.line(pol.cap_add)
    elif (srcdir / CAPS).is_file():  # not recorded: said so, not turned into --cap-drop ALL
        texts[CAPS] = (srcdir / CAPS).read_text(encoding="utf-8")
    if (srcdir / RUN).is_file():
        texts[RUN] = _reduce_run_sh((srcdir / RUN).read_text(encoding="utf-8"), result)
    return policy_dir.write_dir(out, texts)


def _reduce_run_sh(text: str, result: MinimizeResult) -> str:
    out, inside = [], False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("args=("):
            inside = True
        elif inside and s.startswith(")"):
            for flag in result.added_flags:
                words = (["--security-opt", "no-new-privileges"] if flag == "no-new-privileges"
                         else flag.split())
                out.append(run_render.flag_line(words, "profiler verify --minimize: the workload "
                                                       "passed with it"))
            inside = False
        elif inside and any(s.startswith(f"--cap-add {c}") for c in result.removed_caps):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="profiler-verify-"))

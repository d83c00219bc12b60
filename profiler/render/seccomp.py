"""Policy -> Docker/OCI seccomp profile (JSON), built as data.

Layout of the profile (Docker's format, moby profiles/seccomp; runc and containerd read it):
- defaultAction SCMP_ACT_ERRNO with defaultErrnoRet 1 (EPERM); SCMP_ACT_LOG with --complain.
- archMap for the recorded architecture, with as sub-architectures only the compat ones the
  app made calls in (usually none: tighter than Docker's default, which lists x86 and x32; a
  call from an architecture the filter does not list is killed with SIGSYS, see
  docs/emit.md). Docker refuses a profile with both `archMap` and `architectures`, so only
  archMap is written.
- one ALLOW block with the app's syscalls, then argument-filtered ALLOW rules, then one ALLOW
  block per compat architecture seen (its names the blocks before do not already allow), then
  one ALLOW block for the container runtime (data/runtime_syscalls.yaml), then one ALLOW block
  for the syscalls the kernel or libc make on the app's behalf (data/behalf_syscalls.yaml), then
  ENOSYS (errnoRet 38) for io_uring when the app used it and emit refuses it
  (profiler/kernel/iouring.py), and for syscalls whose callers fall back to an older call only on
  ENOSYS. Every block has a comment.

A rule cannot be limited to one architecture: the OCI runtime spec's LinuxSyscall (names,
action, errnoRet, args), SPO's SeccompProfile and runc have no such field, and Docker's
`includes.arches` tests the architecture of the *host* when the profile is converted (moby
profiles/seccomp/seccomp_linux.go compares it with runtime.GOARCH), not that of the call. Each
name is allowed on every listed architecture that has it; a compat block's comment says so.

`build_filters` compiles a profile with libseccomp for every architecture it lists: the tests
and `emit` use it to prove that the output loads.
"""

from __future__ import annotations

import json

from ..kernel import syscalls as sctab
from ..policy.behalf_syscalls import behalf_names
from ..errors import PolicyError
from ..kernel.linux import CLONE_NAMESPACE_FLAGS, CLONE_NAMESPACE_MASK, ENOSYS, EPERM, family_name
from ..policy.reduce import ArgFilter, Policy
from ..policy.runtime_syscalls import tables


# What a compat architecture is called in comments and --explain.
COMPAT_LABELS = {"x86": "i386 (x86)", "x32": "x32"}


def arches(policy: Policy, *, complain: bool = False) -> tuple[str, ...]:
    """libseccomp names: the recorded architecture first, then the compat architectures the
    app made calls in. A --complain profile lists every sub-architecture of the host: a call
    from an architecture the filter does not list is killed whatever the default action
    (libseccomp's bad-architecture action, which runc leaves at KILL), and complain mode must
    refuse nothing."""
    subs = sctab.SUB_ARCHES.get(policy.arch, ())
    seen = {a for a, _ in policy.compat_syscalls}
    if seen - set(subs):
        raise PolicyError(f"compat architecture(s) {', '.join(sorted(seen - set(subs)))} cannot "
                          f"run on {policy.arch}", hint="was the recording edited by hand?")
    return (policy.arch,) + tuple(a for a in subs if complain or a in seen)


def _host_arches(policy: Policy) -> tuple[str, ...]:
    """Every architecture a container on this host can make calls in: names known on none of
    them are left out of the profile."""
    return (policy.arch,) + tuple(sctab.SUB_ARCHES.get(policy.arch, ()))


def _known_somewhere(name: str, archs) -> bool:
    return any(sctab.number_of(a, name) is not None for a in archs)


def _arg(index: int, value: int, op: str, value_two: int = 0) -> dict:
    return {"index": index, "value": value, "valueTwo": value_two, "op": op}


def _ns_names(bits: int) -> str:
    names = [n for b, n in sorted(CLONE_NAMESPACE_FLAGS.items()) if bits & b]
    return "|".join(names) or "no namespace flags"


def _filter_rules(f: ArgFilter) -> list[dict]:
    """ALLOW rules for one argument filter: one rule per allowed value (rules for the same name
    are OR-ed by the runtime)."""
    if f.syscall == "clone":
        # Only the namespace bits are filtered (the other flags vary with what is cloned):
        # (flags & CLONE_NEW*) must equal a combination that was seen.
        combos = sorted({v & CLONE_NAMESPACE_MASK for v in f.values})
        return [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [_arg(f.index, CLONE_NAMESPACE_MASK, "SCMP_CMP_MASKED_EQ", c)],
                 "comment": f"clone with {_ns_names(c)} (the namespace flags seen)"}
                for c in combos]
    what = (lambda v: family_name(v)) if f.syscall == "socket" else (lambda v: hex(v))
    return [{"names": [f.syscall], "action": "SCMP_ACT_ALLOW",
             "args": [_arg(f.index, v, "SCMP_CMP_EQ")],
             "comment": f"{f.syscall} with {f.arg} {what(v)} (seen)"}
            for v in f.values] + \
        [{"names": [f.syscall], "action": "SCMP_ACT_ALLOW",
          "args": [_arg(f.index, v, "SCMP_CMP_EQ")],
          "comment": f"{f.syscall} with {f.arg} {what(v)} (not seen: the same kind as one "
                     f"seen, low risk; profiler/policy/generalise.py, not with emit --strict)"}
         for v in f.added]


def syscall_rules(policy: Policy, *, arg_filters: bool = True) -> list[dict]:
    """The profile's syscall rules (shared by the Docker JSON and the SPO object)."""
    archs = _host_arches(policy)
    rt = tables()
    filters = {f.syscall: f for f in policy.arg_filters} if arg_filters else {}
    runtime = {n for n in rt.runtime if _known_somewhere(n, archs)}
    behalf = {n for n in behalf_names() if _known_somewhere(n, archs)}
    # A name the runtime or the kernel needs is allowed whatever its arguments: a filter on it
    # is moot.
    filters = {n: f for n, f in filters.items() if n not in runtime | behalf}
    app = set(policy.syscalls)
    enosys_extra = set()
    clone3_note = ""
    if "clone" in filters and "clone3" in app:
        # clone3 passes its flags in memory, where seccomp cannot look: answering ENOSYS makes
        # glibc use clone, whose namespace flags are filtered (Docker's default does the same).
        app.discard("clone3")
        enosys_extra.add("clone3")
        clone3_note = "; clone3 (seen) too, so that glibc uses clone, whose flags are filtered"
    plain = sorted(app - set(filters))
    rules: list[dict] = []
    if plain:
        rules.append({"names": plain, "action": "SCMP_ACT_ALLOW",
                      "comment": f"the app's syscalls, seen in {policy.runs} recording(s)"})
    for name in sorted(filters):
        if name in app:
            rules.extend(_filter_rules(filters[name]))
    compat_names: set[str] = set()
    for carch, names in policy.compat_syscalls:
        compat_names.update(names)
        extra = sorted(set(names) - app - runtime - behalf - enosys_extra
                       - set(policy.refused_enosys))
        if extra:
            rules.append({"names": extra, "action": "SCMP_ACT_ALLOW",
                          "comment": _compat_comment(policy, carch, names)})
    rt_names = sorted(runtime - app)
    if rt_names:
        rules.append({"names": rt_names, "action": "SCMP_ACT_ALLOW",
                      "comment": "container runtime (runc/crun) after it loads this filter, "
                                 "entrypoint and docker exec; see profiler/data/"
                                 "runtime_syscalls.yaml"})
    # A name both tables hold stays in the runtime's block: each name is allowed once.
    behalf_rest = sorted(behalf - app - runtime)
    if behalf_rest:
        rules.append({"names": behalf_rest, "action": "SCMP_ACT_ALLOW",
                      "comment": "made on the app's behalf by the kernel or libc when the "
                                 "environment acts (restart_syscall after SIGSTOP/SIGCONT or "
                                 "docker pause, exit of a retiring thread, abort, vDSO "
                                 "fallbacks); see profiler/data/behalf_syscalls.yaml"})
    refused = sorted(n for n in policy.refused_enosys if _known_somewhere(n, archs))
    if refused:
        rules.append({"names": refused, "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS,
                      "comment": "io_uring, used by the app, refused on purpose: ENOSYS (as on "
                                 "a kernel without it) makes it fall back to plain syscalls, "
                                 "which this profile filters; emit --allow-io-uring allows it "
                                 "(see profiler/iouring.py)"})
    sibling_rest = sorted(n for n in policy.siblings
                          if n not in app | runtime | behalf | set(refused) | compat_names
                          and _known_somewhere(n, archs))
    if sibling_rest:
        rules.append({"names": sibling_rest, "action": "SCMP_ACT_ALLOW",
                      "comment": "the same operation as a syscall the app used (writev for "
                                 "write, wait4 for clone, ...): production takes these paths "
                                 "where training did not; see profiler/siblings.py (not with "
                                 "emit --strict)"})
    taken = app | runtime | behalf | set(refused) | set(sibling_rest) | compat_names
    general_rest = sorted(n for n in policy.generalised_syscalls
                          if n not in taken | enosys_extra and _known_somewhere(n, archs))
    if general_rest:
        rules.append({"names": general_rest, "action": "SCMP_ACT_ALLOW",
                      "comment": "low-risk members of the syscall families the app used "
                                 "(mkdir with unlink, getpeername with accept, io_setup when "
                                 "io_uring is refused, ...); high-risk ones (namespaces, mount, "
                                 "bpf, ptrace, keyrings, perf, io_uring, ...) only as recorded; "
                                 "see profiler/data/syscall_classes.yaml and emit --explain (not "
                                 "with emit --strict)"})
    allowed = taken | set(general_rest)
    enosys = sorted(n for n in set(rt.enosys) | enosys_extra
                    if (n not in allowed or n in enosys_extra) and _known_somewhere(n, archs))
    if enosys:
        rules.append({"names": enosys, "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS,
                      "comment": "not seen: answer ENOSYS so that libc falls back to the older "
                                 "syscall" + clone3_note})
    return rules


def _compat_comment(policy: Policy, carch: str, names) -> str:
    return (f"{COMPAT_LABELS.get(carch, carch)} syscalls the app made: {', '.join(names)} "
            f"(those not listed here are allowed above). A rule cannot name one architecture: "
            f"every listed architecture may make every allowed name it has")


def profile(policy: Policy, *, complain: bool = False, arg_filters: bool = True) -> dict:
    archs = arches(policy, complain=complain)
    if policy.arch not in sctab.OCI_ARCH:
        raise PolicyError(f"architecture {policy.arch!r} has no OCI seccomp name")
    out: dict = {}
    if complain:
        out["defaultAction"] = "SCMP_ACT_LOG"
    else:
        out["defaultAction"] = "SCMP_ACT_ERRNO"
        out["defaultErrnoRet"] = EPERM
    out["archMap"] = [{"architecture": sctab.OCI_ARCH[archs[0]],
                       "subArchitectures": [sctab.OCI_ARCH[a] for a in archs[1:]]}]
    out["syscalls"] = syscall_rules(policy, arg_filters=arg_filters)
    return out


def render(policy: Policy, *, complain: bool = False, arg_filters: bool = True) -> str:
    return json.dumps(profile(policy, complain=complain, arg_filters=arg_filters), indent=2) + "\n"


def allowed_names(prof: dict) -> set[str]:
    """Every name some rule of the profile allows (with or without argument conditions)."""
    return {n for r in prof["syscalls"] if r["action"] in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
            for n in r["names"]}


# --------------------------------------------------------------------------------------------
# Proof that a profile loads: compile it with libseccomp, once per listed architecture.
# --------------------------------------------------------------------------------------------

_OPS = {"SCMP_CMP_EQ": "EQ", "SCMP_CMP_NE": "NE", "SCMP_CMP_LT": "LT", "SCMP_CMP_LE": "LE",
        "SCMP_CMP_GT": "GT", "SCMP_CMP_GE": "GE", "SCMP_CMP_MASKED_EQ": "MASKED_EQ"}
_OCI_TO_ARCH = {v: k for k, v in sctab.OCI_ARCH.items()}


def _action(sc, name: str, errno_ret: int | None):
    if name == "SCMP_ACT_ALLOW":
        return sc.ALLOW
    if name == "SCMP_ACT_LOG":
        return sc.LOG
    if name == "SCMP_ACT_ERRNO":
        return sc.ERRNO(EPERM if errno_ret is None else errno_ret)
    raise PolicyError(f"seccomp action {name} is not produced by profiler")


def build_filters(prof: dict) -> dict:
    """A libseccomp SyscallFilter per architecture of the profile (names unknown on an
    architecture are skipped there, as runc does). Raises on anything libseccomp rejects."""
    sc = sctab._seccomp()
    entry = prof["archMap"][0]
    oci = [entry["architecture"], *entry["subArchitectures"]]
    out = {}
    for oci_arch in oci:
        arch = _OCI_TO_ARCH[oci_arch]
        f = sc.SyscallFilter(defaction=_action(sc, prof["defaultAction"],
                                               prof.get("defaultErrnoRet")))
        native = sctab.host_arch()
        if arch != native:
            f.add_arch(sctab._arch_const(arch))
            f.remove_arch(sc.Arch.NATIVE)
        for rule in prof["syscalls"]:
            action = _action(sc, rule["action"], rule.get("errnoRet"))
            args = [sc.Arg(a["index"], getattr(sc, _OPS[a["op"]]), a["value"], a["valueTwo"])
                    for a in rule.get("args", [])]
            for name in rule["names"]:
                if sctab.number_of(arch, name) is None:
                    continue
                f.add_rule(action, name, *args)
        out[arch] = f
    return out

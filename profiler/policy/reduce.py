"""Reduce one or more recordings to a `Policy`: the least privilege that covers all of them.

Pure: recordings in, a frozen model out; no files, no engine. Renderers (profiler/render/*)
turn the Policy into text. Merging is a union; what was seen in only some of the runs is kept in
`Policy.partial` so that `emit --explain` can point at a thin training workload.

`reduce()` runs four steps: check and merge the recordings, collect warnings, make the hardening
decisions of the run line (profiler/policy/hardening.py, from the merged evidence, so that the run,
compose and k8s renderers say the same thing), and assemble the Policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from itertools import chain

from ..kernel import iouring
from ..kernel import syscalls as sctab
from ..recording import filecaps
from .docker_defaults import ICMP_DATAGRAM
from .siblings import siblings
from .generalise import apply as generalise_policy
from ..errors import PolicyError
from .hardening import Decision, Evidence, Hardening, decide
from ..recording.model import ACCESS_KINDS, ExecFile, Recording
from .normalize import normalize_recording
from ..recording.run_options import MANAGED, PUBLISH, canonical_options

# (syscall, argument) pairs whose recorded values become seccomp argument filters: small,
# enumerable sets with a fixed register position.
FILTERABLE_ARGS = {("socket", "domain"), ("personality", "persona"), ("clone", "flags")}


@dataclass(frozen=True)
class FileRule:
    pattern: str  # normalize_path pattern: AppArmor glob syntax, specials escaped
    access: tuple[str, ...]  # access kinds that succeeded, model.ACCESS_KINDS order
    resolved: str = ""  # the pattern with symlinks resolved, when known and not `pattern`


@dataclass(frozen=True)
class ArgFilter:
    """Every value an argument took, in every run (the set is complete: no overflow)."""

    syscall: str
    arg: str
    index: int
    values: tuple[int, ...]
    # values allowed beyond those seen, by kind and risk (profiler/policy/generalise.py: AF_INET6 for
    # an app that used AF_INET); empty with emit --strict
    added: tuple[int, ...] = ()


@dataclass(frozen=True)
class Partial:
    """An item seen in only some of the merged runs (1-based run numbers)."""

    kind: str  # "syscall", "capability", "file", "socket", "executable"
    item: str
    runs: tuple[int, ...]


@dataclass(frozen=True)
class Policy:
    name: str  # sanitised from the image: AppArmor profile, compose service and k8s names
    image: str  # what `docker run` should start
    command: tuple[str, ...]  # CMD override the recording ran with ("" = image default)
    arch: str
    runs: int
    syscalls: tuple[str, ...]  # names the app used (libseccomp names for arch)
    unnamed_syscalls: tuple[int, ...]  # numbers libseccomp has no name for (cannot be allowed)
    arg_filters: tuple[ArgFilter, ...]
    capabilities: tuple[str, ...]  # "CAP_CHOWN", ... granted at least once
    denied_capabilities: tuple[str, ...]  # checked and refused, never granted: not needed
    files: tuple[FileRule, ...]
    executables: tuple[str, ...]  # normalize_path patterns
    sockets: tuple[tuple[str, str], ...]  # (family, type)
    listening: tuple[tuple[str, str, int], ...]  # (family, address, port)
    connects: tuple[tuple[str, str, int], ...]
    uids: tuple[int, ...]
    gids: tuple[int, ...]
    peak_tasks: int
    run_options: tuple[tuple[str, str], ...]  # the recording's, minus the ones we decide
    hardening: Hardening
    partial: tuple[Partial, ...] = ()
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())
    # executable pattern -> the file it ran, symlinks resolved, where the recording says
    resolved_executables: tuple[tuple[str, str], ...] = ()
    # io_uring: applied = its syscalls allowed (emit --allow-io-uring); not applied with the
    # app's use of it = they answer ENOSYS (`refused_enosys`) so that the app falls back.
    io_uring: Decision = Decision(False, "", "not used")
    refused_enosys: tuple[str, ...] = ()  # names the app used that the profile refuses (ENOSYS)
    # Recordings made without a capability source (metadata.capability_source "none"): the
    # capabilities above do not cover them. Renderers refuse to decide capabilities until
    # output/pipeline.resolve_unknown has been told what to do (keep_default_caps or drop all).
    caps_unknown: tuple[str, ...] = ()
    keep_default_caps: bool = False  # emit no --cap-drop/--cap-add: Docker's default set
    # syscalls of the same family as ones the app used (profiler/policy/siblings.py; none if
    # strict)
    siblings: tuple[str, ...] = ()
    # Generalisation by kind and risk (profiler/policy/generalise.py; none with emit --strict): the
    # low-risk syscalls of the families the app used, and every generalisation with its reason
    # (syscall families, socket families, AppArmor trees and name shapes) for emit --explain.
    generalised_syscalls: tuple[str, ...] = ()
    generalised: tuple = ()  # generalise.Generalisation rows
    # capabilities in `capabilities` that the runs did not use, added by kind (generalise.py:
    # CAP_DAC_OVERRIDE for root beside the app's own user; the evidence is hardening.root_files)
    generalised_capabilities: tuple[str, ...] = ()
    # Compat architectures the app made calls in, each with the names it used there
    # (libseccomp names for that architecture), sorted; empty for most apps.
    compat_syscalls: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The engine the run line is for: the first recording's (metadata.engine; "docker" for
    # older recordings). Podman's CLI and tmpfs options differ from Docker's (render/run.py,
    # hardening._tmpfs_owner).
    engine: str = "docker"
    # The first recording says what the image holds where the run line mounts (schema 1.7).
    image_facts_known: bool = False
    # Executables the app ran whose file carries a capability or a set-id bit (the runs'
    # processes.exec_files): their capabilities are in `capabilities` (the bounding set).
    exec_files: tuple[ExecFile, ...] = ()
    # Families of the ICMP datagram ("ping") sockets the app opened (docker_defaults.py:
    # Docker's ping_group_range lets any gid open them).
    icmp_sockets: tuple[str, ...] = ()
    # Complain mode (profiler/policy/complain.py relax): the learned policy this one relaxes for
    # the container formats; None for every other policy.
    learned: "Policy | None" = None

    def file_capability_of(self, cap: str) -> tuple[str, ...]:
        """The executables whose file capability `cap` ("CAP_X") is, sorted."""
        return tuple(f.path for f in self.exec_files if cap in filecaps.bounding_needs_of(f))


# --------------------------------------------------------------------------------------------


def sanitize_name(image: str) -> str:
    """A name usable as AppArmor profile, compose service and Kubernetes object name: the image's
    last path component without tag or digest, lower case, [a-z0-9.-] only (RFC 1123)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    last = last.split(":", 1)[0]
    name = re.sub(r"[^a-z0-9.-]+", "-", last.lower())
    name = name.strip(".-")[:63].strip(".-")
    return name or "container"


def _image(rec: Recording) -> str:
    md = rec.metadata
    return md.image or (md.image_tags[0] if md.image_tags else "") or md.image_id


def _check_syscalls(rec: Recording, source: str) -> None:
    known = {a: sctab.table(a) for a in (rec.metadata.arch, *rec.compat_arches)}
    bad = sorted(s.key for s in rec.syscalls
                 if s.name and s.name not in known[s.arch or rec.metadata.arch])
    if bad:
        shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise PolicyError(
            f"{source}: syscall name(s) not known to libseccomp on {rec.metadata.arch}: {shown}",
            hint="the recording was edited by hand or made with a newer libseccomp; fix the names "
                 "or update libseccomp (python3-seccomp)")


def _arg_filters(recs: list[Recording]) -> tuple[ArgFilter, ...]:
    """Filters only where every run that made the syscall recorded the complete value set. A
    seccomp rule holds for every architecture of the profile: a syscall also made as a compat
    call, whose arguments were not read, gets no filter."""
    compat_names = {s.name for rec in recs for s in rec.syscalls if s.arch}
    out = []
    for syscall, arg in sorted(FILTERABLE_ARGS):
        values: set[int] = set()
        index = None
        complete = syscall not in compat_names
        used = False
        for rec in recs:
            if syscall not in rec.syscall_names:
                continue
            used = True
            av = [a for a in rec.arguments if a.syscall == syscall and a.arg == arg]
            if len(av) != 1 or av[0].overflow or av[0].index < 0 or not av[0].values or \
                    (index is not None and av[0].index != index):
                complete = False
                break
            index = av[0].index
            values.update(av[0].values)
        if used and complete and index is not None:
            out.append(ArgFilter(syscall, arg, index, tuple(sorted(values))))
    return tuple(out)


def _partial(kind: str, per_run: list[set[str]]) -> list[Partial]:
    n = len(per_run)
    if n < 2:
        return []
    seen: dict[str, list[int]] = {}
    for i, items in enumerate(per_run, 1):
        for it in items:
            seen.setdefault(it, []).append(i)
    return [Partial(kind, it, tuple(r)) for it, r in sorted(seen.items()) if len(r) < n]




def reduce(recordings: list[Recording], sources: list[str] | None = None, *,
           allow_io_uring: bool = False, strict: bool = False,
           generalise: bool = True) -> Policy:
    """Merge recordings (union) into a Policy. sources name them in messages; allow_io_uring
    allows the io_uring syscalls the app used (refused with ENOSYS otherwise); strict makes the
    policy exactly what the runs did (hardening.py: no headroom; no sibling syscalls, no
    generalisation). generalise=False keeps the sibling syscalls and the hardening headroom but
    not the generalisation by kind and risk (profiler/policy/generalise.py): the default output of
    profiler before it existed."""
    if not recordings:
        raise PolicyError("no recording to emit from")
    sources = list(sources or [f"recording {i}" for i in range(1, len(recordings) + 1)])
    recordings, sources = _traced_first(recordings, sources)
    arch = _check(recordings, sources)
    recs = [normalize_recording(r, keep_counts=True) for r in recordings]
    merged = _merge(recs)
    # The first recording's docker run options in their one spelling (run_options.py); the
    # hardening decisions read them all (volumes, --user), the run line keeps the ones the
    # policy does not decide itself.
    recorded = canonical_options(recs[0].metadata.container.run_options)
    run_options = tuple((k, v) for k, v in recorded if k not in MANAGED)
    warnings = _warnings(recordings, recs, sources, arch, merged.unnamed_syscalls)
    uring, uring_warnings = _io_uring(recordings, merged.syscalls, allow_io_uring)
    warnings += uring_warnings
    refused = () if uring.apply else tuple(n for n in merged.syscalls if n in iouring.SYSCALLS)
    merged = replace(merged, syscalls=tuple(n for n in merged.syscalls if n not in refused))
    warnings += _compat_warnings(merged)
    # A file capability of a program the app exec'd stays in the bounding set: without it the
    # kernel refuses the exec (filecaps.py), whether or not the run saw the capability used.
    files = _exec_files(recordings)
    file_caps = {c for f in files for c in filecaps.bounding_needs_of(f)}
    merged = replace(merged, capabilities=tuple(sorted(set(merged.capabilities) | file_caps)),
                     denied_capabilities=tuple(c for c in merged.denied_capabilities
                                               if c not in file_caps))
    hardening = decide(_evidence(merged, recorded, recordings, recs[0]), strict=strict)
    if hardening.boot.value in ("first", "later"):
        warnings.append(hardening.boot.evidence)
    if hardening.network_none.apply:
        # Nothing listened on an IP socket: the recording's published ports served nothing, and
        # docker refuses to publish ports of a container without a network.
        run_options = tuple((k, v) for k, v in run_options if k not in PUBLISH)
    policy = _assemble(recs, sources, arch, merged, run_options, hardening, warnings)
    icmp = tuple(sorted({s.family for r in recs for s in r.network.sockets
                         if s.type == "SOCK_DGRAM" and (s.family, s.protocol) in ICMP_DATAGRAM}))
    policy = replace(policy, io_uring=uring, refused_enosys=refused, exec_files=files,
                     icmp_sockets=icmp)
    if strict:
        return policy
    policy = replace(policy, siblings=siblings(merged.syscalls, sctab.table(arch)))
    if not generalise:
        return policy
    return generalise_policy(policy, sctab.table(arch))


# --- the steps of reduce() -------------------------------------------------------------------

def _traced_first(recordings: list[Recording], sources: list[str]):
    """The traced runs first, harvested evidence (`profiler harvest`) after them: a harvest
    adds what production did to a recording, and the recording decides the rest (the image,
    the run options, the hardening facts a log cannot give). PolicyError for harvests alone."""
    pairs = sorted(zip(recordings, sources), key=lambda p: p[0].harvested)
    if pairs[0][0].harvested:
        raise PolicyError(f"{sources[0]}: harvested evidence adds to a recording and cannot "
                          f"make a policy alone",
                          hint="give the service's recording first: profiler emit "
                               "SERVICE.recording.yaml SERVICE.harvest.yaml")
    return [r for r, _ in pairs], [s for _, s in pairs]


def _exec_files(recordings: list[Recording]) -> tuple[ExecFile, ...]:
    """Every run's executables with a file capability or a set-id bit (one entry per path)."""
    by_path: dict[str, ExecFile] = {}
    for r in recordings:
        for f in r.processes.exec_files or ():
            by_path.setdefault(f.path, f)
    return tuple(by_path[p] for p in sorted(by_path))


def _check(recordings: list[Recording], sources: list[str]) -> str:
    """The recordings' one architecture; PolicyError for mixed ones or unknown syscall names."""
    arches = sorted({r.metadata.arch for r in recordings})
    if len(arches) > 1:
        detail = ", ".join(f"{s}: {r.metadata.arch}" for s, r in zip(sources, recordings))
        raise PolicyError(f"recordings of different architectures cannot be merged ({detail})",
                          hint="emit one policy per architecture, from that architecture's "
                               "recordings")
    for rec, src in zip(recordings, sources):
        _check_syscalls(rec, src)
    return arches[0]


@dataclass(frozen=True)
class _Merged:
    """The union of the normalised runs (sorted), and what only some of them had."""

    syscalls: tuple[str, ...]
    unnamed_syscalls: tuple[int, ...]
    capabilities: tuple[str, ...]
    denied_capabilities: tuple[str, ...]
    files: tuple[FileRule, ...]
    executables: tuple[str, ...]
    sockets: tuple[tuple[str, str], ...]
    listening: tuple[tuple[str, str, int], ...]
    connects: tuple[tuple[str, str, int], ...]
    uids: tuple[int, ...]
    gids: tuple[int, ...]
    peak_tasks: int
    partial: tuple[Partial, ...]
    compat_syscalls: tuple[tuple[str, tuple[str, ...]], ...]  # see Policy.compat_syscalls
    compat_unnamed: tuple[str, ...]  # "__nr_N (arch)": no libseccomp name there
    compat_undecoded: tuple[str, ...]  # compat arches whose calls were counted, not decoded


def _merge(recs: list[Recording]) -> _Merged:
    """The union of every run. What only some runs had (`partial`: thin training?) is told
    among the traced runs only: harvested evidence holds nothing but additions."""
    # Native calls here; compat calls (s.arch set) by _compat.
    names_per_run = [{s.name for s in r.syscalls if s.name and not s.arch} for r in recs]
    caps_per_run = [{c.name for c in r.capabilities if c.granted > 0} for r in recs]
    capabilities = sorted(set().union(*caps_per_run))
    exec_per_run = [{e.path for e in r.processes.executables} for r in recs]
    sock_per_run = [{(s.family, s.type) for s in r.network.sockets} for r in recs]
    files_per_run = [{f.path for f in r.files if f.ok} for r in recs] if len(recs) > 1 else []
    compat, compat_per_run = _compat(recs)
    traced = [not r.harvested for r in recs]

    def runs(per_run):
        return [x for x, t in zip(per_run, traced) if t]

    partial = (_partial("syscall", runs(names_per_run))
               + _partial("compat syscall", runs(compat_per_run))
               + _partial("capability", runs(caps_per_run))
               + _partial("executable", runs(exec_per_run))
               + _partial("socket", [{f"{f} {t}" for f, t in s} for s in runs(sock_per_run)])
               + _partial("file", runs(files_per_run) if files_per_run else []))
    return _Merged(
        syscalls=tuple(sorted(set().union(*names_per_run))),
        unnamed_syscalls=tuple(sorted({s.number for r in recs for s in r.syscalls
                                       if not s.name and not s.arch})),
        capabilities=tuple(capabilities),
        denied_capabilities=tuple(sorted({c.name for r in recs for c in r.capabilities
                                          if c.denied > 0} - set(capabilities))),
        files=_file_rules(recs),
        executables=tuple(sorted(set().union(*exec_per_run))),
        sockets=tuple(sorted(set().union(*sock_per_run))),
        listening=tuple(sorted({(e.family, e.address, e.port)
                                for r in recs for e in r.network.listening})),
        connects=tuple(sorted({(e.family, e.address, e.port)
                               for r in recs for e in r.network.connects})),
        uids=tuple(sorted({u for r in recs for u in r.processes.uids})),
        gids=tuple(sorted({g for r in recs for g in r.processes.gids})),
        peak_tasks=max(r.processes.peak_tasks for r in recs),
        partial=tuple(partial),
        compat_syscalls=compat,
        compat_unnamed=tuple(sorted({s.key for r in recs for s in r.syscalls
                                     if s.arch and not s.name})),
        compat_undecoded=tuple(sorted({s.arch for r in recs for s in r.syscalls
                                       if s.arch and not s.decoded})),
    )


def _compat(recs: list[Recording]):
    """Compat calls: ((arch, names), ...) sorted, and per run the set of "name (arch)" keys."""
    by_arch: dict[str, set[str]] = {}
    for rec in recs:
        for s in rec.syscalls:
            if s.arch and s.name:
                by_arch.setdefault(s.arch, set()).add(s.name)
    per_run = [{s.key for s in rec.syscalls if s.arch} for rec in recs]
    return tuple((a, tuple(sorted(n))) for a, n in sorted(by_arch.items())), per_run


def _compat_warnings(merged: _Merged) -> list[str]:
    out = []
    if merged.compat_unnamed:
        out.append(f"compat syscall(s) {', '.join(merged.compat_unnamed)} have no libseccomp "
                   f"name: a profile cannot allow them by name (update libseccomp)")
    if merged.compat_undecoded:
        out.append(f"the app made {'/'.join(merged.compat_undecoded)} (compat) syscalls, counted "
                   f"but not decoded: the files and addresses they used are not in the AppArmor "
                   f"profile")
    return out


def _file_rules(recs: list[Recording]) -> tuple[FileRule, ...]:
    """One rule per path with the access kinds that succeeded in any run (ACCESS_KINDS order)."""
    if len(recs) == 1:  # the common case: normalised files are already sorted and unique
        return tuple(FileRule(f.path, f.ok, f.resolved) for f in recs[0].files if f.ok)
    files: dict[str, set[str]] = {}
    real: dict[str, str] = {}  # pattern -> resolved pattern (the first run that has one)
    for r in recs:
        for f in r.files:
            if f.ok:
                files.setdefault(f.path, set()).update(f.ok)
                if f.resolved:
                    real.setdefault(f.path, f.resolved)
    return tuple(FileRule(p, tuple(k for k in ACCESS_KINDS if k in kinds), real.get(p, ""))
                 for p, kinds in sorted(files.items()))


def _resolved_executables(recs: list[Recording]) -> tuple[tuple[str, str], ...]:
    """Executable pattern -> the file it ran with symlinks resolved (the first run that says)."""
    real: dict[str, str] = {}
    for r in recs:
        for e in r.processes.executables:
            if e.resolved:
                real.setdefault(e.path, e.resolved)
    return tuple(sorted(real.items()))


def _warnings(raw: list[Recording], recs: list[Recording], sources: list[str], arch: str,
              unnamed: tuple[int, ...]) -> list[str]:
    """What the policy may lack or cannot say, in the order `emit` prints it."""
    warnings: list[str] = []
    if unnamed:
        warnings.append(f"syscall number(s) {', '.join(map(str, unnamed))} have no libseccomp "
                        f"name on {arch}: a profile cannot allow them by name (update libseccomp)")
    harvests = [(r, s) for r, s in zip(raw, sources) if r.harvested]
    recs = [r for r in recs if not r.harvested]  # a harvest has no run options of its own
    images = sorted({_image(r) for r in recs})
    engines = [_engine(r) for r in recs]
    if any(e != engines[0] for e in engines):
        warnings.append(f"the recordings were made with different engines "
                        f"({', '.join(sorted(set(engines)))}); the run line is for the first "
                        f"recording's, {engines[0]}")
    if len(images) > 1:
        warnings.append(f"the recordings are of different images ({', '.join(images)}); the "
                        f"policy covers them all and is named after the first")
    all_options = [r.metadata.container.run_options for r in recs]
    if any(o != all_options[0] for o in all_options):
        warnings.append("the recordings ran with different docker run options; the first "
                        "recording's are used")
    for rec, src in harvests:
        h = rec.harvest
        if h is not None and h.dropped:
            warnings.append(f"{src}: the kernel dropped {h.dropped} logged record(s) while "
                            f"harvesting (any service's): production may have done more than "
                            f"the harvest holds")
    for rec, src in zip(raw, sources):
        if rec.harvested:
            continue
        if rec.total_loss:
            lost = ", ".join(f"{k} {n}" for k, n in rec.loss if n)
            warnings.append(f"{src}: events were lost while recording ({lost}): the policy may "
                            f"miss what they held")
        if not rec.metadata.startup_observed:
            warnings.append(f"{src}: the container's start was not observed: start-up "
                            f"behaviour may be missing")
        if rec.metadata.snapshot_at:
            warnings.append(f"{src}: {rec.metadata.snapshot_note}")
    return warnings


def _io_uring(recs, syscall_names, allow: bool) -> tuple[Decision, list[str]]:
    """Whether the io_uring syscalls are allowed, and warnings. Never silently: see
    profiler/kernel/iouring.py for why the default refuses them with ENOSYS."""
    uses = [r.io_uring for r in recs if r.io_uring is not None]
    if not uses and not iouring.used(syscall_names):
        return Decision(False, "", "not used"), []
    ops: dict[str, int] = {}
    for u in uses:
        for op, n in u.operations:
            ops[op] = ops.get(op, 0) + n
    shown = ", ".join(f"{o} x{n}" for o, n in sorted(ops.items())) or "opcodes not traced"
    hidden = iouring.not_seen(ops, all(u.tracepoints for u in uses) if uses else ())
    if allow:
        return Decision(True, "", f"allowed by --allow-io-uring (operations: {shown})"), [
            "io_uring is allowed (--allow-io-uring): operations submitted through it are not "
            "filtered by seccomp and the recording does not hold what they touched: "
            + "; ".join(hidden or ("nothing else",))]
    return Decision(False, "", f"used (operations: {shown}); refused with ENOSYS"), [
        f"the app used io_uring (operations: {shown}): the profile refuses "
        f"{', '.join(iouring.SYSCALLS)} with ENOSYS, so that it falls back to plain syscalls "
        "(as on a kernel without io_uring); the fallback itself was not recorded, so check it "
        "with `profiler verify`; allow io_uring with `emit --allow-io-uring` (unfiltered by "
        "seccomp, unseen by the recording)"]


def _evidence(merged: _Merged, run_options: tuple[tuple[str, str], ...], raw: list[Recording],
              first: Recording) -> Evidence:
    """What the hardening decisions read. Files come from the recordings as made (raw), not
    normalised: a tmpfs is mounted on real directories."""
    return Evidence(
        uids=merged.uids,
        gids=merged.gids,
        executables=merged.executables,
        capabilities=merged.capabilities,
        sockets=merged.sockets,
        listening=merged.listening,
        connects=merged.connects,
        peak_tasks=merged.peak_tasks,
        run_options=run_options,
        image_user=first.metadata.container.user,
        privileged_execs=tuple(chain.from_iterable(r.processes.privileged_execs for r in raw)),
        exec_credentials_seen=all(r.processes.exec_credentials_seen for r in raw
                                  if not r.harvested),
        exec_files=_exec_files(raw),
        tmpdir=dict(first.metadata.container.env_paths).get("TMPDIR", ""),
        home=dict(first.metadata.container.env_paths).get("HOME", ""),
        files=tuple(chain.from_iterable(r.files for r in raw)),
        engine=_engine(first),
        image_facts=first.metadata.image_facts,
        mounts=first.metadata.container.mounts,
        boots=tuple(tuple((m.target, m.empty_at_start) for m in r.metadata.container.mounts
                          if m.type in ("volume", "bind") and not m.read_only
                          and m.empty_at_start is not None) for r in raw),
        restarted=tuple(r.metadata.restarts > 0 for r in raw),
        name=_recorded_name(first, run_options),
        network_mode=first.metadata.container.network_mode,
        networks=first.metadata.container.networks,
        dns=_dns(first, run_options),
    )


def _recorded_name(rec: Recording, run_options) -> str:
    """The name the user gave the container (record --name, or the one attach found); a name
    `record` left to Docker is none."""
    given = next((v for k, v in run_options if k == "name"), "")
    if given or rec.metadata.mode == "container":
        return given
    return rec.metadata.container.name


def _dns(rec: Recording, run_options) -> tuple[tuple[str, str], ...]:
    c = rec.metadata.container
    out = [("dns", v) for v in c.dns] + [("dns-search", v) for v in c.dns_search] + \
        [("dns-option", v) for v in c.dns_options]
    if not out:  # a recording without the engine's view: its own options
        out = [(k, v) for k, v in run_options if k in ("dns", "dns-search", "dns-option")]
    return tuple(out)


def _engine(rec: Recording) -> str:
    return rec.metadata.engine_name or "docker"


def _assemble(recs: list[Recording], sources: list[str], arch: str, merged: _Merged,
              run_options: tuple[tuple[str, str], ...], hardening: Hardening,
              warnings: list[str]) -> Policy:
    first = recs[0]
    return Policy(
        name=sanitize_name(_image(first)),
        image=_image(first),
        command=first.metadata.command,
        arch=arch,
        runs=len(recs),
        syscalls=merged.syscalls,
        unnamed_syscalls=merged.unnamed_syscalls,
        arg_filters=_arg_filters(recs),
        capabilities=merged.capabilities,
        denied_capabilities=merged.denied_capabilities,
        files=merged.files,
        executables=merged.executables,
        sockets=merged.sockets,
        listening=merged.listening,
        connects=merged.connects,
        uids=merged.uids,
        gids=merged.gids,
        peak_tasks=merged.peak_tasks,
        run_options=run_options,
        hardening=hardening,
        partial=merged.partial,
        warnings=tuple(warnings),
        sources=tuple(sources),
        compat_syscalls=merged.compat_syscalls,
        resolved_executables=_resolved_executables(recs),
        caps_unknown=tuple(s for r, s in zip(recs, sources)
                           if not r.metadata.capabilities_known and not r.harvested),
        engine=_engine(first),
        image_facts_known=first.metadata.image_facts is not None,
    )

"""Compare two privilege sets: what NEW needs that OLD did not (escalation), and what it dropped.

Pure: inputs are already-parsed recordings or policy texts (profiler/diff/diff_load.py reads files,
profiler/output/policy_dir.py parses seccomp.json, caps.txt and run.sh), the output is a
`DiffReport`. Every input kind is first reduced to `Facts`, a flat set of privilege items per
section, so that the comparison itself does not care where the items came from:

- recording: the recording after normalize.normalize_recording (noise removed), with the run
  line's hardening derived from the evidence (run_privileges);
- policy directory (`profiler emit --format all -o DIR`): seccomp.json, caps.txt,
  apparmor.profile file/network/capability rules, run.sh flags;
- seccomp JSON (Docker/OCI format).

An item in a section is a *privilege*: in the run section that includes the lack of a
hardening flag ("--read-only" listed means the container cannot run read-only), so that in
every section "added" means more privilege. Each addition gets a risk class
(profiler/policy/risk.py). The JSON form (DiffReport.to_data) is documented in docs/ci-recipe.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..output import policy_dir
from ..kernel import apparmor_syntax as aa
from ..policy import risk
from ..kernel.linux import (CLONE_NAMESPACE_FLAGS, SOCK_CLOEXEC, SOCK_NONBLOCK, cap_full,
                            family_name, sock_type_name)
from ..recording.model import ACCESS_KINDS, Endpoint, Recording
from ..policy.normalize import normalize_recording
from ..output.policy_dir import POLICY_FILES, PolicyFormatError  # noqa: F401 (diff.POLICY_FILES)
from ..policy.reduce import reduce

SECTIONS = ("syscalls", "arguments", "capabilities", "files", "network", "executables", "run")
KINDS = {"recording": "recording", "policy": "policy directory", "seccomp": "seccomp profile"}
KINDS_PLURAL = {"recording": "recordings", "policy": "policy directories",
                "seccomp": "seccomp profiles"}
FAIL_ON = ("escalation", "any", "never")



@dataclass(frozen=True)
class Facts:
    """One side of a diff: privilege items per section. `sections` says which sections this
    input can speak about (a seccomp file says nothing about files)."""

    kind: str
    sections: frozenset[str]
    items: dict[str, dict[str, str]] = field(default_factory=dict)
    # section -> item -> detail. For files the detail is the sorted, comma-joined permissions.
    notes: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()  # libseccomp names (recording) or SCMP_ARCH_* (policies)


@dataclass(frozen=True)
class Change:
    section: str
    item: str
    detail: str
    risk: risk.Risk | None = None  # additions only

    def to_data(self) -> dict:
        d = {"section": self.section, "item": self.item, "detail": self.detail}
        if self.risk is not None:
            d.update(risk=self.risk.level, reason=self.risk.reason, source=self.risk.source)
        return d


@dataclass(frozen=True)
class DiffReport:
    old: str
    new: str
    kind: str
    added: tuple[Change, ...]
    removed: tuple[Change, ...]
    notes: tuple[str, ...] = ()

    @property
    def escalation(self) -> bool:
        return bool(self.added)

    def counts(self) -> dict[str, int]:
        c = {lvl: 0 for lvl in risk.LEVELS}
        for ch in self.added:
            c[ch.risk.level] += 1
        return c

    def exit_code(self, fail_on: str) -> int:
        if fail_on == "never":
            return 0
        if fail_on == "any":
            return 1 if (self.added or self.removed) else 0
        return 1 if self.added else 0

    def summary(self) -> str:
        c = self.counts()
        if not self.added and not self.removed:
            return "No change: NEW needs exactly the privileges OLD needed."
        if not self.added:
            return f"Narrowing only: NEW drops {_n(len(self.removed), 'privilege')} and adds none."
        levels = ", ".join(f"{c[lvl]} {lvl}" for lvl in risk.LEVELS if c[lvl])
        text = f"Escalation: NEW needs {_n(len(self.added), 'privilege')} OLD did not ({levels})"
        if self.removed:
            text += f"; {len(self.removed)} dropped"
        return text + "."

    def to_data(self) -> dict:
        used = sorted({ch.risk.source for ch in self.added})
        cites = risk.sources()
        return {
            "format": "profiler-diff",
            "version": 1,
            "kind": self.kind,
            "old": self.old,
            "new": self.new,
            "escalation": self.escalation,
            "summary": {"added": len(self.added), "removed": len(self.removed), **self.counts()},
            "added": [ch.to_data() for ch in self.added],
            "removed": [ch.to_data() for ch in self.removed],
            "notes": list(self.notes),
            "sources": {k: " ".join(cites[k].split()) for k in used},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_data(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------------------------
# Recordings
# --------------------------------------------------------------------------------------------


def run_privileges(rec: Recording, source: str = "recording",
                   harvests: tuple[Recording, ...] = ()) -> dict[str, str]:
    """Run-line hardening the evidence rules out, as privilege items with their evidence: the
    decisions `profiler emit` makes (reduce.reduce), so that diff and emit agree.

    "--read-only", "--network none", "--user", "--security-opt no-new-privileges" are listed
    when emit could not apply them; "--tmpfs DIR" for each tmpfs a read-only root needs,
    "--mount named volume DIR" (anonymous, volume, bind) for each volume the run line mounts.
    """
    if rec.harvested:  # a log holds no run line: nothing to say alone
        return {}
    # (the hardening decisions do not depend on generalisation; skipping it saves its work)
    h = reduce([rec, *harvests], [source] * (1 + len(harvests)), generalise=False).hardening
    out: dict[str, str] = {}
    for flag, decision in (("--read-only", h.read_only), ("--network none", h.network_none),
                           ("--user", h.user),
                           ("--security-opt no-new-privileges", h.no_new_privileges)):
        if not decision.apply:
            out[flag] = decision.evidence
    for d, options in h.tmpfs:
        out[f"--tmpfs {d}"] = f"writes under {d}" + (f" (options {options})" if options else "")
    for v in h.volumes:  # writable whatever the root is: a volume instead of a tmpfs
        out[f"--mount {v.kind} volume {v.target}" if v.kind in ("named", "anonymous")
            else f"--mount {v.kind} {v.target}"] = v.evidence
    return out


def _endpoint(e: Endpoint) -> str:
    if e.family == "AF_UNIX":
        return f"AF_UNIX {e.address}"
    if e.family == "AF_INET6":
        return f"AF_INET6 [{e.address}]:{e.port}"
    return f"{e.family} {e.address}:{e.port}"


def _flags(value: int, names: dict[int, str]) -> str:
    parts = [n for bit, n in sorted(names.items()) if value & bit]
    rest = value & ~sum(b for b in names if value & b)
    if rest or not parts:
        parts.append(hex(rest))
    return "|".join(parts)


def describe_arg(syscall: str, arg: str, value: int) -> str:
    """A readable rendering of one argument value, e.g. socket(domain=AF_PACKET)."""
    if syscall in ("socket", "socketpair") and arg == "domain":
        text = f"{family_name(value)} ({value})"
    elif syscall in ("socket", "socketpair") and arg == "type":
        text = _flags(value & ~0xF, {SOCK_NONBLOCK: "SOCK_NONBLOCK", SOCK_CLOEXEC: "SOCK_CLOEXEC"})
        text = sock_type_name(value) + ("" if text == "0x0" else "|" + text)
    elif arg == "flags" and syscall in ("clone", "clone3", "unshare"):
        text = _flags(value, CLONE_NAMESPACE_FLAGS)
    elif arg == "prot":
        text = _flags(value, {1: "PROT_READ", 2: "PROT_WRITE", 4: "PROT_EXEC"}) \
            if value else "PROT_NONE"
    elif value > 0xFFFF:
        text = hex(value)
    else:
        text = str(value)
    return f"{syscall}({arg}={text})"


def facts_from_recording(rec: Recording, source: str = "recording",
                         harvests: tuple[Recording, ...] = ()) -> Facts:
    """The facts of a recording; with `harvests` (evidence `profiler harvest` wrote), of the
    recording plus what production added: what emit of them all would allow."""
    run = run_privileges(rec, source, harvests)
    facts = _recording_facts(rec, run)
    for h in harvests:
        more = _recording_facts(h, {})
        facts = Facts(facts.kind, facts.sections, facts.items, facts.notes + more.notes,
                      facts.arches)
        for section, items in more.items.items():
            mine = facts.items[section]
            for item, detail in items.items():
                if section == "files" and item in mine:
                    kinds = set(mine[item].split(", ")) | set(detail.split(", "))
                    detail = ", ".join(k for k in ACCESS_KINDS if k in kinds)
                mine[item] = detail
    if harvests:
        facts = Facts(facts.kind, facts.sections, facts.items, facts.notes + (
            f"{source} is harvested evidence: compared as the recording plus what production "
            f"added",), facts.arches)
    return facts


def _recording_facts(rec: Recording, run: dict[str, str]) -> Facts:
    rec = normalize_recording(rec)
    items: dict[str, dict[str, str]] = {s: {} for s in SECTIONS}
    items["syscalls"] = {s.key: "" for s in rec.syscalls}
    for a in rec.arguments:
        for v in a.values:
            # key keeps the raw value so that risk.argument can classify it
            items["arguments"][f"{a.syscall}\0{a.arg}\0{v}"] = describe_arg(a.syscall, a.arg, v)
    items["capabilities"] = {c.name: "" for c in rec.capabilities if c.granted > 0}
    items["files"] = {f.path: ", ".join(f.ok) for f in rec.files if f.ok}
    net = items["network"]
    for s in rec.network.sockets:
        net[f"socket {s.family}/{s.type}"] = ""
    for e in rec.network.listening:
        net[f"listen {_endpoint(e)}"] = ""
    for e in rec.network.connects:
        net[f"connect {_endpoint(e)}"] = ""
    items["executables"] = {e.path: "" for e in rec.processes.executables}
    items["run"] = run
    notes = []
    if rec.total_loss:
        notes.append(f"lost {_n(rec.total_loss, 'event')} while recording: it may be incomplete")
    if rec.harvest is not None and rec.harvest.dropped:
        notes.append(f"the kernel dropped {_n(rec.harvest.dropped, 'logged record')} while "
                     f"harvesting: it may be incomplete")
    elif not rec.metadata.startup_observed and not rec.harvested:
        notes.append("start-up was not observed (attached to a running container)")
    if rec.metadata.snapshot_at:
        notes.append(rec.metadata.snapshot_note)
    return Facts("recording", frozenset(SECTIONS), items, tuple(notes), (rec.metadata.arch,))


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------

_OPS = {"SCMP_CMP_EQ": "==", "SCMP_CMP_NE": "!=", "SCMP_CMP_LT": "<", "SCMP_CMP_LE": "<=",
        "SCMP_CMP_GT": ">", "SCMP_CMP_GE": ">="}
_NOT_A_PROFILE = "not a seccomp profile (needs defaultAction and a syscalls list)"


def _cond(a: policy_dir.ArgCondition) -> str:
    if a.op == "SCMP_CMP_MASKED_EQ":
        return f"arg{a.index} & {hex(a.value)} == {hex(a.value_two)}"
    return f"arg{a.index} {_OPS[a.op]} {a.value}"


def seccomp_items(data) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Allowed syscalls and argument-conditional allowances of a Docker/OCI seccomp profile."""
    if not isinstance(data, dict):
        raise PolicyFormatError(_NOT_A_PROFILE)
    return _seccomp_items(policy_dir.seccomp_profile(data))


def _seccomp_items(prof: policy_dir.SeccompProfile
                   ) -> tuple[dict[str, str], dict[str, str], list[str]]:
    if prof.default_action is None or prof.rules is None:
        raise PolicyFormatError(_NOT_A_PROFILE)
    if prof.default_action in policy_dir.ALLOW_ACTIONS:
        raise PolicyFormatError(f"defaultAction {prof.default_action} allows every syscall: "
                                "only allow-list profiles can be compared")
    syscalls: dict[str, str] = {}
    conditional: dict[str, str] = {}
    for rule in prof.rules:
        if not rule.allows:
            continue  # an errno/kill rule narrows; the default already denies
        cond = " && ".join(_cond(a) for a in rule.args)
        for n in rule.names:
            if cond:
                conditional[f"{n}\0{cond}"] = f"{n}({cond})"
            else:
                syscalls[n] = ""
    # An unconditional allowance subsumes the conditional ones of the same syscall.
    conditional = {k: v for k, v in conditional.items() if k.split("\0")[0] not in syscalls}
    for k in conditional:
        syscalls.setdefault(k.split("\0")[0], "only with argument conditions")
    return syscalls, conditional, list(prof.arches)


def facts_from_seccomp(data) -> Facts:
    syscalls, args, arches = seccomp_items(data)
    return Facts("seccomp", frozenset({"syscalls", "arguments"}),
                 {"syscalls": syscalls, "arguments": args}, (), tuple(arches))


def caps_items(text: str) -> dict[str, str]:
    """caps.txt in any form policy_dir.CapsFile reads -> the capabilities added."""
    return dict.fromkeys(policy_dir.caps_file(text).added, "")


def _aa_path_key(path: str) -> str:
    """An AppArmor rule's path as normalize_path spells patterns: emit writes characters it
    must protect as octal escapes (\\054) where normalize uses a backslash (\\,), and names a
    directory with a trailing slash. Both forms must key the same item."""
    path = aa.unoctal(path)
    if len(path) > 1 and path.endswith("/") and not path.endswith("\\/"):
        path = path[:-1]
    return path


def _aa_perms(perms: str) -> list[str]:
    """"rwix" -> ["ix", "r", "w"]: exec modes stay whole, other letters split."""
    execs = aa.EXEC_MODE.findall(perms)
    rest = aa.EXEC_MODE.sub("", perms)
    return sorted(set(execs) | set(rest))


def apparmor_items(text: str) -> tuple[dict[str, str], dict[str, str], dict[str, str],
                                       dict[str, str]]:
    """File rules (pattern -> perms), executables (x rules), network and capability rules of
    an AppArmor profile. Deny rules narrow and are skipped; other rule kinds are ignored."""
    if not aa.has_profile_block(text):
        raise PolicyFormatError("no profile block found")
    files: dict[str, set] = {}
    execs, net, caps = {}, {}, {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("include"):
            continue
        if re.match(r"^deny\b", line) or re.match(r"^audit\s+deny\b", line):
            continue
        m = next((r.match(line) for r in aa.FILE_RULES if r.match(line)), None)
        if m:
            path = m.group("path")
            if path.startswith('"'):
                path = path[1:-1]
            path = _aa_path_key(path)
            perms = _aa_perms(m.group("perms"))
            files.setdefault(path, set()).update(perms)
            if any(p.endswith("x") for p in perms):
                execs[path] = ""
            continue
        m = aa.NETWORK_RULE.match(line)
        if m:
            fam = f"AF_{m.group('fam').upper()}" if m.group("fam") else "any"
            typ = f"SOCK_{m.group('type').upper()}" if m.group("type") else "any"
            net[f"socket {fam}/{typ}"] = ""
            continue
        m = aa.CAPABILITY_RULE.match(line)
        if m:
            for n in m.group("names").split() or ["(all)"]:
                caps[cap_full(n)] = ""
    return ({p: ", ".join(sorted(v)) for p, v in files.items()}, execs, net, caps)


HARDENING = ("--read-only", "--network none", "--user", "--security-opt no-new-privileges",
              "--cap-drop ALL")


def run_items(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """The privileges of the `docker run` line in run.sh: hardening flags it lacks, loosening
    flags it has (--privileged, host namespaces, unconfined profiles, tmpfs, devices); and the
    capabilities it adds."""
    return _run_items(policy_dir.run_script(text))


def _run_items(script: policy_dir.RunScript) -> tuple[dict[str, str], dict[str, str]]:
    # The whole script is read, not only emit's `args=( ... )` block: a hand-written script
    # may give the options on the run line itself.
    if not script.has_docker_run:
        raise PolicyFormatError("no `docker run` command found")
    seen: dict[str, list[str]] = {}
    for name, value in script.flags():
        seen.setdefault(name, []).append(value)
    out: dict[str, str] = {}
    sec = seen.get("--security-opt", [])
    present = {
        "--read-only": seen.get("--read-only", ["false"])[-1] != "false",
        "--network none": seen.get("--network", [""])[-1] == "none",
        "--user": seen.get("--user", ["root"])[-1].split(":")[0] not in ("", "root", "0"),
        "--security-opt no-new-privileges":
            any(s in policy_dir.NO_NEW_PRIVILEGES for s in sec),
        "--cap-drop ALL": any(v.upper() == "ALL" for v in seen.get("--cap-drop", [])),
    }
    for flag in HARDENING:
        if not present[flag]:
            out[flag] = "not in run.sh"
    if seen.get("--privileged", ["false"])[-1] != "false":
        out["--privileged"] = "in run.sh"
    for ns in ("network", "pid", "ipc", "uts", "userns"):
        if seen.get(f"--{ns}", [""])[-1] == "host":
            out[f"--{ns} host"] = "in run.sh"
    for s in sec:
        if s.replace(":", "=") in ("seccomp=unconfined", "apparmor=unconfined"):
            out[f"--security-opt {s.replace(':', '=')}"] = "in run.sh"
    for t in seen.get("--tmpfs", []):
        out[f"--tmpfs {t.split(':')[0]}"] = "in run.sh"
    for dev in seen.get("--device", []):
        out[f"--device {dev}"] = "in run.sh"
    caps = {c: "" for v in seen.get("--cap-add", []) for c in policy_dir.cap_names(v)}
    return out, caps


def facts_from_policy(texts: dict[str, str | None]) -> Facts:
    """texts: file name -> content (None when absent) for the POLICY_FILES of an emitted policy
    directory."""
    files = policy_dir.parse(texts)
    items: dict[str, dict[str, str]] = {}
    sections: set[str] = set()
    arches: list[str] = []
    caps: dict[str, str] = {}
    try:
        if files.seccomp is not None:
            file = policy_dir.SECCOMP
            sc, args, arches = _seccomp_items(files.seccomp)
            items.update(syscalls=sc, arguments=args)
            sections |= {"syscalls", "arguments"}
        if files.caps is not None:
            caps.update(dict.fromkeys(files.caps.added, ""))
            sections.add("capabilities")
        if files.apparmor is not None:
            file = policy_dir.APPARMOR
            aa_files, execs, net, aa_caps = apparmor_items(files.apparmor)
            items.update(files=aa_files, executables=execs, network=net)
            caps.update(aa_caps)
            sections |= {"files", "executables", "network", "capabilities"}
        if files.run is not None:
            file = policy_dir.RUN
            run, run_caps = _run_items(files.run)
            items["run"] = run
            caps.update(run_caps)
            sections |= {"run", "capabilities"}
    except PolicyFormatError as e:
        raise PolicyFormatError(e.reason, file) from None
    items["capabilities"] = caps
    return Facts("policy", frozenset(sections), items, (), tuple(arches))


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _perm_set(detail: str) -> set[str]:
    return {p for p in detail.split(", ") if p}


def _perm_text(perms: set[str]) -> str:
    """Recording access kinds in model order, AppArmor perms alphabetically."""
    return ", ".join(sorted(perms, key=lambda p: (ACCESS_KINDS.index(p) if p in ACCESS_KINDS
                                                  else len(ACCESS_KINDS), p)))


def _risk_of(section: str, key: str, detail: str) -> risk.Risk:
    if section == "syscalls":
        return risk.syscall(key)
    if section == "arguments":
        parts = key.split("\0")
        if len(parts) == 3 and parts[2].isdigit():  # recording: syscall, arg, value
            return risk.argument(parts[0], parts[1], int(parts[2]))
        return risk.syscall(parts[0])  # policy: the syscall's own class
    if section == "capabilities":
        return risk.capability(key)
    if section == "files":
        return risk.file(key, _perm_set(detail))
    if section == "network":
        kind, _, item = key.partition(" ")
        return risk.network(kind, item)
    if section == "executables":
        return risk.executable(key)
    return risk.run(key.split(" ")[0] if key.startswith("--tmpfs") or
                    key.startswith("--device") else key)


def _display(section: str, key: str, detail: str, added: bool) -> tuple[str, str]:
    """(item, detail) as shown: arguments show their decoded text, not the raw key; run items
    say whether a hardening flag became impossible or a loosening one necessary."""
    if section == "arguments":
        return detail, ""
    if section == "run":
        if key in HARDENING:
            return key, f"no longer possible: {detail}" if added else "possible again"
        return key, f"needed: {detail}" if added else "no longer needed"
    return key, detail


def _without_tmpfs(items: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in items.items() if not k.startswith("--tmpfs ")}


def compare(old: Facts, new: Facts, old_label: str = "OLD", new_label: str = "NEW"
            ) -> DiffReport:
    if old.kind != new.kind:
        raise ValueError("compare needs two inputs of the same kind")  # diff_load checks first
    added: list[Change] = []
    removed: list[Change] = []
    notes: list[str] = []
    for section in SECTIONS:
        in_old, in_new = section in old.sections, section in new.sections
        if not (in_old and in_new):
            if in_old or in_new:
                notes.append(f"{section}: only {'OLD' if in_old else 'NEW'} has them; "
                             "not compared")
            continue
        a, b = old.items.get(section, {}), new.items.get(section, {})
        if section == "run" and ("--read-only" in a or "--read-only" in b):
            # A tmpfs matters only on a read-only root: when either side cannot be read-only,
            # its tmpfs list (or the other's) is not a change in privilege; --read-only is.
            a, b = _without_tmpfs(a), _without_tmpfs(b)
        for key in sorted(b.keys() - a.keys()):
            item, detail = _display(section, key, b[key], True)
            added.append(Change(section, item, detail, _risk_of(section, key, b[key])))
        for key in sorted(a.keys() - b.keys()):
            item, detail = _display(section, key, a[key], False)
            removed.append(Change(section, item, detail))
        if section == "files":
            for key in sorted(a.keys() & b.keys()):
                pa, pb = _perm_set(a[key]), _perm_set(b[key])
                if pb - pa:
                    more = _perm_text(pb - pa)
                    added.append(Change("files", key, f"adds {more} (had {a[key]})",
                                        risk.file(key, pb - pa)))
                if pa - pb:
                    removed.append(Change("files", key, f"drops {_perm_text(pa - pb)} "
                                                        f"(keeps {b[key] or 'nothing'})"))
    if old.arches and new.arches and old.arches != new.arches:
        notes.append(f"architecture differs: OLD {', '.join(old.arches)}, "
                     f"NEW {', '.join(new.arches)}")
    for label, facts in (("OLD", old), ("NEW", new)):
        notes += [f"{label}: {n}" for n in facts.notes]
    order = {s: i for i, s in enumerate(SECTIONS)}
    added.sort(key=lambda c: (c.risk.rank, order[c.section], c.item))
    removed.sort(key=lambda c: (order[c.section], c.item))
    return DiffReport(old_label, new_label, old.kind, tuple(added), tuple(removed), tuple(notes))

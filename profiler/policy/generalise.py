"""Generalise a policy by kind and risk: what production will do that one training run did not.

A training run takes one path through the app; production takes its neighbours (issue 18: a
database refused mkdir while unlink and rename were allowed, a cache without getpeername, a
runtime allowed AF_INET only). `reduce` calls `apply` unless `emit --strict`:

- syscalls: every syscall is in one family by what it does (data/syscall_classes.yaml, with
  its sources); when the app used a family, its low-risk members are allowed too. The risk of a
  syscall is risk.yaml's (shared with `diff`): medium and high ones (namespaces, mount, bpf,
  ptrace, keyrings, perf, userfaultfd, io_uring, modules, identity changes, ...) stay exactly
  as recorded, and so do families marked `generalise: false`.
- socket address families (the `socket` domain argument filter and AppArmor network rules):
  an app that used IPv4 gets IPv6 and the other way round, and unix sockets; every other
  family (netlink, packet, raw, vsock, ...) stays as recorded (SOCKET_FAMILIES below).
- AppArmor file rules: directory trees and name shapes instead of instances
  (data/path_shapes.yaml, each rule with its source).
- capabilities: CAP_DAC_OVERRIDE for root in a container whose app drops to its own user, when
  root will meet that user's private files (`docker exec` of an admin tool, a later boot's
  entrypoint): decided from the evidence in hardening.root_over_app_files, added here.

Pure: Policy in, Policy out, plus one `Generalisation` row per decision for `emit --explain`.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

import yaml

from . import risk
from ..kernel.linux import FAMILY_NUMBERS, family_name
from ..recording.model import ACCESS_KINDS

CLASSES_FILE = "data/syscall_classes.yaml"
SHAPES_FILE = "data/path_shapes.yaml"


@dataclass(frozen=True)
class Generalisation:
    """One thing allowed beyond the recording, and why (a row of `emit --explain`)."""

    kind: str  # "syscalls", "socket family", "file", "capability"
    allowed: str  # what the policy now allows
    because: str  # what the app was seen doing
    why: str  # the rule: family or shape, and its risk
    source: str  # the data file and its source keys


@dataclass(frozen=True)
class Family:
    name: str
    does: str
    sources: tuple[str, ...]
    generalise: bool
    also_when: tuple[str, ...]
    also_why: str  # why a name of also_when counts as using the family
    names: tuple[str, ...]


@lru_cache(maxsize=1)
def _classes() -> dict:
    return yaml.safe_load(resources.files("profiler").joinpath(CLASSES_FILE).read_text())


@lru_cache(maxsize=1)
def families() -> dict[str, Family]:
    out = {}
    for name, f in _classes()["families"].items():
        out[name] = Family(name, " ".join(str(f["does"]).split()), tuple(f["sources"]),
                           bool(f.get("generalise", True)), tuple(f.get("also_when", ())),
                           str(f.get("also_why", "its fallback")),
                           tuple(f["names"]))
    return out


@lru_cache(maxsize=1)
def _family_index() -> dict[str, str]:
    return {n: fam.name for fam in families().values() for n in fam.names}


def family_of(name: str) -> str | None:
    """The family a syscall name is in (None for a name libseccomp does not know)."""
    return _family_index().get(name)


def syscalls(used, known, *, already=()) -> tuple[tuple[str, ...], list[Generalisation]]:
    """The low-risk names of every family the app used (`used`: its syscall names, io_uring
    included even when refused), limited to `known` (the architecture's table) and not in
    `used` or `already` (allowed anyway). Sorted names, one row per family."""
    used = set(used)
    skip = used | set(already)
    added: set[str] = set()
    rows = []
    for fam in families().values():
        if not fam.generalise:
            continue
        seen = sorted(used.intersection(fam.names))
        fallback = sorted(used.intersection(fam.also_when))
        if not seen and not fallback:
            continue
        new = sorted(n for n in fam.names if n not in skip and n in known
                     and risk.syscall(n).level == "low")
        if not new:
            continue
        added.update(new)
        kept = sorted(n for n in fam.names if n not in used and n in known
                      and risk.syscall(n).level != "low")
        because = ", ".join(seen) if seen else f"{', '.join(fallback)} ({fam.also_why})"
        why = f"family {fam.name}: {fam.does}; low risk"
        if kept:
            why += f" (kept as recorded, not low risk: {', '.join(kept)})"
        rows.append(Generalisation("syscalls", ", ".join(new), because, why,
                                   f"profiler/{CLASSES_FILE} ({', '.join(fam.sources)}); "
                                   f"risk: profiler/data/risk.yaml"))
    return tuple(sorted(added)), rows


# Socket address families by risk: seen -> also allowed. IPv4 and IPv6 are the same transport
# code reached through the same calls (ip(7), ipv6(7)); a runtime that resolves `localhost` or
# a peer name may get either (getaddrinfo(3): ::1 first with the default gai.conf), and an app
# listening on `::` serves both. Unix sockets are how libc reaches syslog (/dev/log, syslog(3))
# and nscd; the files they name are AppArmor's to guard. Netlink (network configuration; glibc
# also uses NETLINK_ROUTE for getaddrinfo's AI_ADDRCONFIG, and falls back when refused),
# packet and raw sockets, vsock and the rest stay exactly as recorded (risk.yaml: network).
SOCKET_FAMILIES: dict[str, tuple[str, ...]] = {
    "AF_INET": ("AF_INET6", "AF_UNIX"),
    "AF_INET6": ("AF_INET", "AF_UNIX"),
}
_INET_TYPES = ("SOCK_STREAM", "SOCK_DGRAM")  # the types carried to the other IP family
_UNIX_TYPES = ("SOCK_STREAM", "SOCK_DGRAM")  # nscd (stream) and syslog (datagram)
_SOCKET_WHY = ("socket families: IPv4 and IPv6 are one transport through the same calls "
               "(ip(7), ipv6(7)); "
               "getaddrinfo(3) may answer either (localhost is ::1 first); unix sockets reach "
               "syslog(3) and nscd, their paths are AppArmor's to guard. Netlink, packet, raw "
               "and other families stay as recorded")


def socket_families(arg_filters, sockets) -> tuple[tuple, tuple, list[Generalisation]]:
    """The socket.domain filter with the families SOCKET_FAMILIES adds (ArgFilter.added), and
    the (family, type) socket kinds with the same additions for AppArmor's network rules."""
    rows = []
    out_filters = []
    for f in arg_filters:
        if f.syscall != "socket" or f.arg != "domain":
            out_filters.append(f)
            continue
        seen = {family_name(v) for v in f.values}
        extra = sorted({FAMILY_NUMBERS[a] for s in seen for a in SOCKET_FAMILIES.get(s, ())}
                       - set(f.values))
        if extra:
            rows.append(Generalisation(
                "socket family", ", ".join(family_name(v) for v in extra),
                "socket with " + ", ".join(sorted(seen & set(SOCKET_FAMILIES))),
                _SOCKET_WHY, "profiler/policy/generalise.py (SOCKET_FAMILIES); risk.yaml: network"))
        out_filters.append(replace(f, added=tuple(extra)))
    kinds = set(sockets)
    added = set()
    for fam, typ in sockets:
        for other in SOCKET_FAMILIES.get(fam, ()):
            types = _UNIX_TYPES if other == "AF_UNIX" else (typ,) if typ in _INET_TYPES else ()
            added.update((other, t) for t in types)
    added -= kinds
    if added and not rows:
        rows.append(Generalisation(
            "socket family", ", ".join(f"{a} {t}" for a, t in sorted(added)),
            "sockets " + ", ".join(f"{a} {t}" for a, t in sorted(kinds)
                                   if a in SOCKET_FAMILIES), _SOCKET_WHY,
            "profiler/policy/generalise.py (SOCKET_FAMILIES); risk.yaml: network"))
    return tuple(out_filters), tuple(sorted(kinds | added)), rows


# --- AppArmor file rules ---------------------------------------------------------------------

# Access kinds that change the names in a directory (the "changed" condition).
_NAMING = frozenset({"create", "delete", "rename", "link", "mkdir"})
_CREATING = frozenset({"create", "mkdir"})
_NUMBERS = re.compile(r"[0-9a-f]*[0-9][0-9a-f]*")
_STARS = re.compile(r"(?<!\\)\*+")  # glob stars, not an escaped literal one
ROWS_PER_SHAPE = 40  # explanation rows per shape (a big recording can have 10,000s)
_DIGIT = re.compile(r"[0-9]")


@dataclass(frozen=True)
class Shape:
    kind: str
    prefixes: tuple[str, ...]
    match: re.Pattern
    suffix: str  # the generalised pattern is group 1 + suffix ("numbered": see _numbered)
    numbered: bool
    when: str
    keep_execute: bool
    why: str
    source: str


@lru_cache(maxsize=1)
def shapes() -> tuple[Shape, ...]:
    data = yaml.safe_load(resources.files("profiler").joinpath(SHAPES_FILE).read_text())
    out = []
    for r in data["rules"]:
        numbered = r["to"] == "numbered"
        if not numbered and not r["to"].startswith("\\1"):
            raise ValueError(f"{SHAPES_FILE}: `to` must start with \\1: {r['to']!r}")
        out.append(Shape(r["kind"], tuple(r["prefixes"]), re.compile(r["match"]),
                         "" if numbered else r["to"][2:], numbered, r["when"],
                         r.get("execute") == "keep", " ".join(str(r["why"]).split()),
                         " ".join(str(r["source"]).split())))
    return tuple(out)


def _numbered(directory: str, name: str) -> str:
    """Runs of digits (and the hex around them) in a name become one `*` each."""
    return directory + _STARS.sub("*", _NUMBERS.sub("*", name))


def _shape_of(path: str, access, table) -> tuple[Shape, str] | None:
    """The first shape that applies to a rule, and the pattern it generalises to."""
    for shape in table:
        if not path.startswith(shape.prefixes):
            continue
        if shape.numbered and (not _CREATING.intersection(access) or
                               _DIGIT.search(path) is None):
            continue
        m = shape.match.match(path)
        if m is None:
            continue
        if shape.numbered:
            target = _numbered(m.group(1), m.group(2))
            if target == path:
                continue
            return shape, target
        return shape, m.group(1) + shape.suffix
    return None


def files(rules) -> tuple[tuple, list[Generalisation]]:
    """FileRules (reduce.FileRule) with paths replaced by the tree or shape they stand for:
    rules that meet in one pattern are merged (access kinds unioned). Sorted by pattern.
    The rules come back as their own type (reduce.FileRule; reduce imports this module); a rule
    no shape applies to is returned as it is."""
    if not rules:
        return tuple(rules), []
    table = shapes()
    # The fast filter (100,000s of rules, most of them read-only files under /usr): a rule can
    # only have a shape below a tree prefix, or when it created a name with a digit in it.
    trees = tuple(p for shape in table if not shape.numbered for p in shape.prefixes)
    creating = {}  # access tuple -> created something (a handful of distinct tuples)
    template = rules[0]
    plain = []
    matched: list[tuple[object, Shape, str, str]] = []  # (rule, shape, target, path)
    changed_roots: set[str] = set()
    for f in rules:
        path = f.resolved or f.pattern
        if not path.startswith(trees):
            made_names = creating.get(f.access)
            if made_names is None:
                made_names = creating[f.access] = bool(_CREATING.intersection(f.access))
            if not made_names or _DIGIT.search(path) is None:
                plain.append(f)
                continue
        found = _shape_of(path, f.access, table)
        if found is None:
            plain.append(f)
            continue
        shape, target = found
        matched.append((f, shape, target, path))
        if shape.when == "changed" and _NAMING.intersection(f.access):
            changed_roots.add(target)
    made: dict[str, set[str]] = {}  # new or merged patterns -> access kinds
    seen: dict[tuple[str, str], list[str]] = {}  # (shape kind, target) -> paths
    why: dict[tuple[str, str], Shape] = {}
    for f, shape, target, path in matched:
        if shape.when == "changed" and target not in changed_roots:
            plain.append(f)  # a tree the app did not manage: its rules stay as they are
            continue
        access = f.access
        if shape.keep_execute and "execute" in access:
            made.setdefault(path, set()).add("execute")
            access = tuple(k for k in access if k != "execute")
        if access:
            kinds = made.get(target)
            if kinds is None:
                made[target] = set(access)
            else:
                kinds.update(access)
        key = (shape.kind, target)
        paths = seen.get(key)
        if paths is None:
            seen[key] = [path]
            why[key] = shape
        else:
            paths.append(path)
    if not made:
        return tuple(rules), []
    # a pattern made here may also be one left plain (an instance kept for its execute access,
    # the same path read elsewhere): merge them
    out = {}
    for f in plain:
        if f.pattern in made:
            made[f.pattern].update(f.access)
        else:
            out[f.pattern] = f
    rule = type(template)  # FileRule(pattern, access, resolved)
    ordered: dict[frozenset, tuple[str, ...]] = {}  # a handful of distinct kind sets
    for p, kinds in made.items():
        key = frozenset(kinds)
        access = ordered.get(key)
        if access is None:
            access = ordered[key] = tuple(k for k in ACCESS_KINDS if k in key)
        out[p] = rule(p, access, "")
    result = tuple(out[p] for p in sorted(out))
    rows = []
    per_kind: dict[str, int] = {}
    for key in sorted(seen):
        kind, target = key
        paths = seen[key]
        if paths == [target]:
            continue
        n = per_kind[kind] = per_kind.get(kind, 0) + 1
        if n > ROWS_PER_SHAPE:
            continue
        first = heapq.nsmallest(3, paths)
        shown = ", ".join(first) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        shape = why[key]
        rows.append(Generalisation("file", target, shown, f"{kind}: {shape.why}",
                                   f"profiler/{SHAPES_FILE} ({shape.source})"))
    for kind, n in sorted(per_kind.items()):
        if n > ROWS_PER_SHAPE:
            shape = next(why[k] for k in why if k[0] == kind)
            rows.append(Generalisation("file", f"... and {n - ROWS_PER_SHAPE} more patterns",
                                       "", f"{kind}: {shape.why}",
                                       f"profiler/{SHAPES_FILE} ({shape.source})"))
    return result, rows


_ROOT_FILES_WHY = (
    "root beside the app's user: a daemon that starts as root and drops to its own user keeps "
    "private files root passes only with CAP_DAC_OVERRIDE; an operator's `docker exec` (root) of "
    "the app's admin tool, or a later boot's root entrypoint, meets them. Docker's default set "
    "holds it; it is effective only in root processes of the container, which hold CAP_SETUID "
    "and CAP_SETGID already (they could become the owner); CAP_DAC_READ_SEARCH is not added")


def capabilities(policy) -> tuple[tuple[str, ...], list[Generalisation]]:
    """Capabilities added beyond the recording by kind (none when caps were not recorded, or
    the hardening decision did not apply: emit --strict, no evidence)."""
    d = policy.hardening.root_files
    if not d.apply or policy.caps_unknown or d.value in policy.capabilities:
        return (), []
    return (d.value,), [Generalisation("capability", d.value, d.evidence, _ROOT_FILES_WHY,
                                       "profiler/policy/hardening.py (root_over_app_files); "
                                       "capabilities(7), path_resolution(7)")]


def apply(policy, known):
    """The policy generalised (syscalls, socket families, files, capabilities) with its
    explanation rows.
    `known`: the architecture's syscall table (names a profile can allow there)."""
    from .behalf_syscalls import behalf_names
    from .runtime_syscalls import tables

    used = set(policy.syscalls) | set(policy.refused_enosys)
    already = set(policy.siblings) | set(tables().runtime) | set(behalf_names())
    names, rows = syscalls(used, known, already=already)
    arg_filters, sockets, socket_rows = socket_families(policy.arg_filters, policy.sockets)
    file_rules, file_rows = files(policy.files)
    caps, cap_rows = capabilities(policy)
    return replace(policy, generalised_syscalls=names, arg_filters=arg_filters,
                   sockets=sockets, files=file_rules,
                   capabilities=tuple(sorted(set(policy.capabilities) | set(caps))),
                   denied_capabilities=tuple(c for c in policy.denied_capabilities
                                             if c not in caps),
                   generalised_capabilities=caps,
                   generalised=tuple(rows + socket_rows + file_rows + cap_rows))

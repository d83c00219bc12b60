"""Policy -> AppArmor profile (templates/apparmor.profile.j2).

File patterns come from profiler.normalize (AppArmor glob syntax, specials escaped). Every path
came from the container and is untrusted, so this module checks each pattern again before it
reaches the template: a pattern is used only if it is exactly what normalize_path can produce
(starts with "/", every backslash escapes a special character, the only live globs are `*` and
the variables `@{pid}`/`@{tid}`, no control character and no U+FFFD for undecodable bytes).
Anything else is dropped and reported by `dropped()`; the template quotes every path.

Directories in which many files share the same access collapse to `dir/*`, and directories
with many such subdirectories to `dir/**` (threshold: GLOB_THRESHOLD, `--glob-threshold`).
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..linux import CAPABILITIES
from ..normalize import PID, TID
from ..reduce import Policy
from . import templating

GLOB_THRESHOLD = 8

_SPECIAL = frozenset('\\*?[]{}^,"@')
_VARIABLES = (PID, TID)

# AppArmor network family and type keywords (apparmor.d(5) "Network Rules"; the parser's
# af_names come from the kernel's include/linux/socket.h, the same list as profiler.linux).
_AA_FAMILIES = frozenset({
    "unix", "inet", "ax25", "ipx", "appletalk", "netrom", "bridge", "atmpvc", "x25", "inet6",
    "rose", "netbeui", "security", "key", "netlink", "packet", "ash", "econet", "atmsvc", "rds",
    "sna", "irda", "pppox", "wanpipe", "llc", "ib", "mpls", "can", "tipc", "bluetooth", "iucv",
    "rxrpc", "isdn", "phonet", "ieee802154", "caif", "alg", "nfc", "vsock", "kcm", "qipcrtr",
    "smc", "xdp", "mctp"})
_AA_TYPES = frozenset({"stream", "dgram", "seqpacket", "rdm", "raw", "packet"})

# Access kinds -> permission letters (apparmor.d(5) "Access Modes"). AppArmor mediates
# creating, deleting, renaming, truncating, chmod and chown of a file as write.
_LETTER = {"read": "r", "write": "w", "truncate": "w", "create": "w", "delete": "w",
           "rename": "w", "chmod": "w", "chown": "w", "append": "a", "link": "l",
           "execute": "ix"}
_ORDER = ("r", "w", "a", "l", "k", "m", "ix")
# Shared objects are mapped executable by the dynamic loader: that needs `m`.
_SHARED_OBJECT = re.compile(r"(\.so(\.[0-9.]+)?$|/ld-linux[^/]*$|/ld-musl[^/]*$)")


def unsafe_reason(pattern: str) -> str | None:
    """Why a pattern must not enter the profile, or None when it is safe."""
    if not pattern.startswith("/"):
        return "not an absolute path"
    if "\ufffd" in pattern:
        return "bytes that are not UTF-8"
    if any(not c.isprintable() for c in pattern):
        return "control or non-printing characters"
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in _SPECIAL:
                return "a backslash that escapes nothing"
            i += 2
            continue
        if c == "@":
            if not any(pattern.startswith(v, i) for v in _VARIABLES):
                return "an AppArmor variable that profiler did not insert"
            i += len(PID)  # @{pid} and @{tid} have the same length
            continue
        if c in _SPECIAL and c != "*":
            return f"an unescaped {c!r}"
        i += 1
    return None


def _perms(access, pattern: str, lock: bool) -> tuple[str, ...]:
    letters = {_LETTER[a] for a in access if a in _LETTER}
    if "w" in letters:
        letters.discard("a")  # w includes append; AppArmor refuses both in one rule
        if lock:
            letters.add("k")
    if "r" in letters and _SHARED_OBJECT.search(pattern):
        letters.add("m")
    return tuple(p for p in _ORDER if p in letters)


def _split(pattern: str) -> tuple[str, str]:
    head, _, leaf = pattern.rpartition("/")
    return head, leaf


def _depth(directory: str) -> int:
    return len([p for p in directory.split("/") if p])


def collapse(rules: dict[tuple[str, bool], tuple[str, ...]], threshold: int):
    """Glob collapse. rules: (pattern, is_dir) -> perms. Files sharing a directory and perms
    become `dir/*` when there are at least `threshold` of them (never `/*`); then, repeatedly, a
    directory with at least `threshold` subdirectories already collapsed with the same perms
    becomes `dir/**` (never at depth < 2, e.g. not `/usr/**`), absorbing every rule below it
    whose perms it covers."""
    groups: dict[tuple[str, tuple, bool], list[str]] = defaultdict(list)
    for (pattern, is_dir), perms in rules.items():
        head, leaf = _split(pattern)
        groups[(head, perms, is_dir)].append(leaf)
    out: dict[tuple[str, bool], tuple[str, ...]] = {}
    for (head, perms, is_dir), leaves in groups.items():
        literal = [x for x in leaves if x not in ("*", "**")]
        if len(literal) >= threshold and _depth(head) >= 1:
            out[(head + "/*", is_dir)] = perms
            for x in leaves:
                if x in ("*", "**"):
                    out[(head + "/" + x, is_dir)] = perms
        else:
            for x in leaves:
                out[(head + "/" + x, is_dir)] = perms
    while True:
        children: dict[tuple[str, tuple], set[str]] = defaultdict(set)
        for (pattern, is_dir), perms in out.items():
            head, leaf = _split(pattern)
            if leaf in ("*", "**") and not is_dir:
                parent, name = _split(head)
                if _depth(parent) >= 2 and name not in ("*", "**"):
                    children[(parent, perms)].add(name)
        ready = sorted((d, p) for (d, p), names in children.items() if len(names) >= threshold)
        if not ready:
            return out
        directory, perms = ready[0]
        covered = set(perms)
        prefix = directory + "/"
        out = {k: v for k, v in out.items()
               if not (k[0].startswith(prefix) and set(v) <= covered)}
        out[(directory + "/**", False)] = perms


def _file_rules(policy: Policy, threshold: int) -> tuple[list[tuple[str, str]], list]:
    lock = "flock" in policy.syscalls
    rules: dict[tuple[str, bool], tuple[str, ...]] = {}
    dropped = []
    entries = [(f.pattern, f.access) for f in policy.files] + \
        [(e, ("execute",)) for e in policy.executables]
    merged: dict[str, set[str]] = defaultdict(set)
    for pattern, access in entries:
        reason = unsafe_reason(pattern)
        if reason:
            dropped.append((pattern, reason))
            continue
        merged[pattern].update(access)
    for pattern, access in merged.items():
        perms = _perms(access, pattern, lock)
        if perms:
            rules[(pattern, False)] = perms
        if "mkdir" in access:  # AppArmor checks mkdir on the directory path, trailing "/"
            rules[(pattern.rstrip("/"), True)] = ("w",)
    collapsed = collapse(rules, threshold)
    out = []
    for (pattern, is_dir), perms in collapsed.items():
        if pattern.startswith("/proc/"):
            pattern = "@{PROC}/" + pattern[len("/proc/"):]
        out.append((pattern + ("/" if is_dir else ""), "".join(perms)))
    return sorted(out), sorted(set(dropped))


def dropped(policy: Policy) -> list[tuple[str, str]]:
    """(pattern, reason) of every path the profile leaves out because it is unsafe."""
    return _file_rules(policy, GLOB_THRESHOLD)[1]


def _network_rules(policy: Policy) -> list[str]:
    out = set()
    for family, stype in policy.sockets:
        fam = family.removeprefix("AF_").lower()
        typ = stype.removeprefix("SOCK_").lower()
        if fam in _AA_FAMILIES and typ in _AA_TYPES:
            out.add(f"{fam} {typ}")
    return sorted(out)


def _capabilities(policy: Policy) -> list[str]:
    known = set(CAPABILITIES.values())
    return sorted(c.removeprefix("CAP_").lower() for c in policy.capabilities if c in known)


def render(policy: Policy, *, complain: bool = False,
           glob_threshold: int = GLOB_THRESHOLD) -> str:
    files, bad = _file_rules(policy, glob_threshold)
    return templating.render(
        "apparmor.profile.j2",
        name=policy.name,
        runs=policy.runs,
        complain=complain,
        capabilities=_capabilities(policy),
        network=_network_rules(policy),
        files=files,
        dropped=len(bad),
    )

"""Policy -> AppArmor profile (templates/apparmor.profile.j2).

File patterns come from profiler.policy.normalize (AppArmor glob syntax, specials escaped). Every
path came from the container and is untrusted, so this module checks each pattern again before it
reaches the template: a pattern is used only if it is exactly what normalize_path can produce
(starts with "/", every backslash escapes a special character, the only live globs are `*` and
the variables `@{pid}`/`@{tid}`, no control character and no U+FFFD for undecodable bytes).
Anything else is dropped and reported by `dropped()`; the template quotes every path.

Rules name the path AppArmor mediates: the recording's resolved path (symlinks followed) where
it has one, for files and executables, else the path the app used.

Directories in which many files share the same access collapse to `dir/*`, and directories
with many such subdirectories to `dir/**` (threshold: GLOB_THRESHOLD, `--glob-threshold`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict

from .. import tool_errors
from ..errors import PolicyError
from ..kernel.apparmor_syntax import (FAMILIES, PID, SAFE_PATTERN, SOCKET_TYPES, SPECIAL,
                                      VARIABLES, octal, ordered_permissions)
from ..kernel.linux import CAPABILITIES, cap_short
from ..policy.reduce import Policy
from . import templating

GLOB_THRESHOLD = 8

# Access kinds -> permission letters (apparmor.d(5) "Access Modes"). AppArmor mediates
# creating, deleting, renaming, truncating, chmod and chown of a file as write.
_LETTER = {"read": "r", "write": "w", "truncate": "w", "create": "w", "delete": "w",
           "rename": "w", "chmod": "w", "chown": "w", "append": "a", "link": "l",
           "execute": "ix", "map_exec": "m"}
# Shared objects are mapped executable by the dynamic loader: that needs `m`.
_SHARED_OBJECT = re.compile(r"(\.so(\.[0-9.]+)?$|/ld-linux[^/]*$|/ld-musl[^/]*$)")



def unsafe_reason(pattern: str) -> str | None:
    """Why a pattern must not enter the profile, or None when it is safe."""
    if not pattern.startswith("/"):
        return "not an absolute path"
    if "\ufffd" in pattern:
        return "bytes that are not UTF-8"
    if not pattern.isprintable():
        return "control or non-printing characters"
    if SAFE_PATTERN.fullmatch(pattern):
        return None
    return _syntax_error(pattern) or "not a pattern profiler produces"


def _syntax_error(pattern: str) -> str | None:
    """The same check as SAFE_PATTERN, character by character, saying what is wrong (used for
    rejected patterns only; the tests check that both agree)."""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in SPECIAL:
                return "a backslash that escapes nothing"
            i += 2
        elif c == "@":
            if not any(pattern.startswith(v, i) for v in VARIABLES):
                return "an AppArmor variable that profiler did not insert"
            i += len(PID)  # @{pid} and @{tid} have the same length
        elif c in SPECIAL and c != "*":
            return f"an unescaped {c!r}"
        else:
            i += 1
    return None


def _letters(access: tuple[str, ...], lock: bool, shared: bool) -> tuple[str, ...]:
    letters = {_LETTER[a] for a in access if a in _LETTER}
    if "rename" in access:
        # The source of a rename needs read as well as write (security/apparmor/lsm.c,
        # apparmor_path_rename: MAY_READ | MAY_WRITE | ... on the old path); seen refused
        # as `rename_src ... denied_mask="r"` under enforcement (make test-hosts, Debian 12).
        letters.add("r")
    if "w" in letters and lock:
        letters.add("k")
    if "r" in letters and shared:
        letters.add("m")
    return ordered_permissions(letters)


def _parent(pattern: str) -> str:
    return pattern.rpartition("/")[0]


def collapse(rules: dict[tuple[str, bool], tuple[str, ...]], threshold: int):
    """Glob collapse, one permission letter at a time. rules: (pattern, is_dir) -> perms.

    - `dir/* L` when at least `threshold` files directly in dir have L (never `/*`);
    - `dir/** L` when at least `threshold` subdirectories of dir have L somewhere below them
      (never above depth 2: no `/usr/**`).
    A letter a glob grants is removed from the rules it covers; rules left with no letter go.
    Working per letter keeps the rare write among many reads a rule of its own instead of
    widening the whole directory to write."""
    # directory -> (perms, is_dir) -> keys: the files of a directory share a few permission
    # tuples, so counting and stripping work per group, not per file (100,000s of them).
    direct: dict[str, dict[tuple[tuple[str, ...], bool], list]] = \
        defaultdict(lambda: defaultdict(list))
    for key, perms in rules.items():
        direct[key[0].rpartition("/")[0]][(perms, key[1])].append(key)
    children: dict[str, set[str]] = defaultdict(set)
    for d in direct:  # register every ancestor, so that subtrees can be counted
        while d:
            up = _parent(d)
            if d in children[up]:
                break
            children[up].add(d)
            d = up
    dirs = sorted(set(direct) | set(children), key=lambda d: (-d.count("/"), d))
    below: dict[str, set[str]] = {}  # letters anywhere below a directory
    star: dict[str, set[str]] = {}  # only directories that get a glob (plain dicts and sets:
    starstar: dict[str, set[str]] = {}  # this loop runs once per directory, 10,000s of them)
    for d in dirs:  # deepest first: children before their parents
        count: dict[str, int] = {}  # letter -> files directly in d that have it
        letters: set[str] = set()
        for (perms, is_dir), keys in direct.get(d, {}).items():
            letters.update(perms)
            if not is_dir:
                for x in perms:
                    count[x] = count.get(x, 0) + len(keys)
        sub: dict[str, int] = {}  # letter -> subdirectories that have it somewhere below
        for c in children.get(d, ()):
            letters |= below[c]
            for x in below[c]:
                sub[x] = sub.get(x, 0) + 1
        below[d] = letters
        depth = d.count("/")
        if depth >= 1 and count:
            globbed = {x for x, n in count.items() if n >= threshold}
            if globbed:
                star[d] = globbed
        if depth >= 2 and sub:
            globbed = {x for x, n in sub.items() if n >= threshold}
            if globbed:
                starstar[d] = globbed

    none: set[str] = set()
    cover: dict[str, set[str]] = {"": none}  # letters granted by a `**` at or above d
    for d in reversed(dirs):  # shallowest first: parents before their children
        if d:
            up = cover[_parent(d)]
            cover[d] = up | starstar[d] if d in starstar else up
    out: dict[tuple[str, bool], tuple[str, ...]] = {}
    # (perms, id(strip)) -> what is left: most strip sets are shared by every directory below
    # the same `**` (cover). Each one is kept alive (cover, made) so that its id stays unique.
    left_of: dict[tuple[tuple[str, ...], int], tuple[str, ...]] = {}
    made: list[set[str]] = []
    for d, groups in direct.items():
        strip_dir = cover[d]
        strip_file = strip_dir
        if d in star:
            strip_file = strip_dir | star[d]
            made.append(strip_file)
        for (perms, is_dir), keys in groups.items():
            strip = strip_dir if is_dir else strip_file
            if not strip:
                left = perms
            else:
                left = left_of.get((perms, id(strip)))
                if left is None:
                    left = left_of[(perms, id(strip))] = ordered_permissions(set(perms) - strip)
            if left:
                out.update(dict.fromkeys(keys, left))
    for d in dirs:
        if starstar.get(d):
            left = starstar[d] - cover[_parent(d)]
            if left:
                out[(d + "/**", False)] = ordered_permissions(left)
        if star.get(d):
            left = star[d] - cover[d]
            if left:
                out[(d + "/*", False)] = ordered_permissions(left)
    return out


_last_unsafe: list = [None, None]  # (policy, result) of the last call


def _unsafe(policy: Policy) -> tuple[dict[str, tuple[str, ...]], list[tuple[str, str]]]:
    """Safe patterns with their access kinds (files and executables merged), and the dropped
    ones with the reason. Remembered for the last policy (render and dropped() both ask), by
    identity: hashing a policy with 100,000 file rules would cost more than the check."""
    if _last_unsafe[0] is not policy:
        _last_unsafe[:] = [policy, _check_patterns(policy)]
    return _last_unsafe[1]


# A printable ASCII literal path (no special character): what most patterns are, and safe.
_PLAIN = re.compile(r"/[ !#$%&'()+\-./0-9:;<=>A-Z_`a-z|~]*")


def _check_patterns(policy: Policy):
    files = policy.files  # patterns are unique here
    # AppArmor mediates a path after symlinks are resolved: a rule names the resolved path
    # where the recording has one (two used paths may share it: merged below).
    patterns = [f.resolved or f.pattern for f in files]
    # The common case first, in C (map, comprehension): a printable ASCII literal path.
    plain = list(map(_PLAIN.fullmatch, patterns))
    aliased = any(f.resolved for f in files)
    merged: dict[str, tuple[str, ...]] = {}
    if aliased:
        for p, f, ok in zip(patterns, files, plain):
            if ok:
                merged[p] = tuple(set(merged[p]) | set(f.access)) if p in merged else f.access
    else:  # the common case: patterns are unique
        merged = {p: f.access for p, f, ok in zip(patterns, files, plain) if ok}
    dropped = []
    real = dict(policy.resolved_executables)
    entries = [(real.get(e, e), ("execute",)) for e in policy.executables] + \
        [(p, f.access) for p, f, ok in zip(patterns, files, plain) if not ok]
    for pattern, access in entries:
        reason = unsafe_reason(pattern)
        if reason:
            dropped.append((pattern, reason))
        elif pattern in merged:
            merged[pattern] = tuple(set(merged[pattern]) | set(access))
        else:
            merged[pattern] = access
    return merged, sorted(set(dropped))


def _file_rules(policy: Policy, threshold: int) -> tuple[list[tuple[str, str]], list]:
    lock = "flock" in policy.syscalls
    merged_dict, dropped = _unsafe(policy)
    merged = merged_dict.items()
    # AppArmor names a directory with a trailing "/". The recording does not say which paths
    # are directories; these are known to be: created with mkdir, or the parent of another
    # recorded path (as the app named it, or resolved). Any other path read and nothing else
    # may be a directory the app listed (nginx's `include modules-enabled/*.conf`, even when
    # empty): its rule covers both names, `"PATH{,/}" r` (a file and a directory cannot share
    # a path, so this grants nothing more).
    parents = {pattern.rpartition("/")[0] for pattern, _ in merged}
    parents.update(f.pattern.rpartition("/")[0] for f in policy.files if f.resolved)
    # Both alternatives of _SHARED_OBJECT contain ".so" or "/ld-": test those first.
    shared = {p for p, _ in merged if ("/ld-" in p or ".so" in p) and _SHARED_OBJECT.search(p)}
    perms_of: dict[tuple[tuple[str, ...], bool], tuple[str, ...]] = {}  # a handful
    for access in {access for _, access in merged}:
        for so in (False, True):
            perms = _letters(access, lock, so)
            if "mkdir" in access and "w" not in perms:
                perms = ordered_permissions(set(perms) | {"w"})
            perms_of[(access, so)] = perms
    # (comprehensions: this runs for every path)
    # A tree (`dir/**`, profiler/policy/generalise.py) names files and directories alike.
    # A key never ends in "/" (the suffix below says directory) and is never empty: the root
    # directory ("/", "//" as the app named it) is "/" itself, a directory; so is any path the
    # app named with a trailing "/".
    rules: dict[tuple[str, bool], tuple[str, ...]] = {
        (p.rstrip("/") or "/",
         (p in parents or "mkdir" in access or p.endswith("/")) and not p.endswith("**")): perms
        for p, access in merged if (perms := perms_of[(access, p in shared)])}
    out = []
    for (pattern, is_dir), perms in collapse(rules, threshold).items():
        out.append((_rule_path(pattern, is_dir, perms), "".join(perms)))
    return sorted(out), dropped


def _rule_path(pattern: str, is_dir: bool, perms: tuple[str, ...]) -> str:
    """The quoted name of a file rule: a directory ends in "/", a path only read may be either
    (`{,/}`), /proc is @{PROC}. Never empty and never a bare `{,/}` (apparmor_parser rejects
    both): the root is "/"."""
    if pattern == "/":
        return "/"
    if pattern.startswith("/proc/"):
        pattern = "@{PROC}/" + pattern[len("/proc/"):]
    suffix = "/" if is_dir else "{,/}" if perms == ("r",) and not pattern.endswith("**") else ""
    return octal(pattern) + suffix


def dropped(policy: Policy) -> list[tuple[str, str]]:
    """(pattern, reason) of every path the profile leaves out because it is unsafe."""
    return _unsafe(policy)[1]


def _network_rules(policy: Policy) -> list[str]:
    out = set()
    for family, stype in policy.sockets:
        fam = family.removeprefix("AF_").lower()
        typ = stype.removeprefix("SOCK_").lower()
        if fam in FAMILIES and typ in SOCKET_TYPES:
            out.add(f"{fam} {typ}")
    return sorted(out)


def _capabilities(policy: Policy) -> list[str]:
    known = set(CAPABILITIES.values())
    return sorted(cap_short(c).lower() for c in policy.capabilities if c in known)


def render(policy: Policy, *, complain: bool = False,
           glob_threshold: int = GLOB_THRESHOLD) -> str:
    files, bad = _file_rules(policy, glob_threshold)
    return templating.render(
        "apparmor.profile.j2",
        name=policy.name,
        runs=policy.runs,
        complain=complain,
        capabilities=_capabilities(policy),
        keep_default_caps=policy.keep_default_caps,
        network=_network_rules(policy),
        files=files,
        dropped=len(bad),
    )


# --- self-check: apparmor_parser compiles every profile before emit writes anything -----------

# Parse and compile, never load (-Q), no cache read or write (-K, -T): what verify does where
# the kernel does not enforce AppArmor. Its timeout: slow hosts (TCG VMs) need tens of seconds.
PARSER_ARGS = ("-Q", "-K", "-T")
PARSER_TIMEOUT = 120


def parser() -> str | None:
    """apparmor_parser's path, or None where it is not installed."""
    exe = shutil.which("apparmor_parser") or "/usr/sbin/apparmor_parser"
    return exe if os.path.exists(exe) else None


def error_line(stderr: str, profile: str = "") -> str:
    """apparmor_parser's error, one line (its harmless notes skipped: profiler/tool_errors.py),
    with the profile's line it names when it names one."""
    line = tool_errors.error_line(stderr, default="")
    m = re.search(r"\bline (\d+)\b", line)
    rows = profile.splitlines()
    if m and 0 < int(m.group(1)) <= len(rows):
        line += f" (the line: {rows[int(m.group(1)) - 1].strip()!r})"
    return line


def validate(text: str, name: str = "apparmor.profile") -> bool:
    """Compile a rendered profile with apparmor_parser, as the seccomp profile is compiled with
    libseccomp. PolicyError with the parser's own error line when it refuses; False (not
    checked) where apparmor_parser is not installed, True when it compiled."""
    exe = parser()
    if exe is None:
        return False
    try:
        p = subprocess.run([exe, *PARSER_ARGS], input=text, capture_output=True, text=True,
                           timeout=PARSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise PolicyError(f"{name}: apparmor_parser did not compile it within {PARSER_TIMEOUT} s",
                          hint="emit the other formats alone (--format seccomp, run, ...)") from None
    if p.returncode != 0:
        raise PolicyError(
            f"{name} does not compile (apparmor_parser {' '.join(PARSER_ARGS)}): "
            f"{error_line(p.stderr or p.stdout, text) or f'exit {p.returncode}'}",
            hint="nothing was written; this is a profiler bug, please report it with the "
                 "recording; the other formats can be emitted alone (--format seccomp, run, ...)")
    return True

"""AppArmor's policy language, as far as profiler writes and reads it: which characters are
special in a path pattern and how a literal one is written, how a path is quoted, the order of
permission letters, the network keywords, the profile header and the rule shapes diff reads.

Source: apparmor.d(5) ("Globbing (AARE)", "Access Modes", "Network Rules", "Profile
Declaration") and apparmor_parser's lexer (parser/parser_lex.l). The renderer
(render/apparmor.py), path normalisation (policy/normalize.py), the audit-log reader
(verify/apparmor_audit.py), verify's loader (verify/apparmor_kernel.py) and diff's reader
(diff/diff.py) all use this module; none spells the language itself. Pure.
"""

from __future__ import annotations

import re

# Characters special in AppArmor globs (`@` starts a variable, `,` separates alternatives and
# ends a rule, `"` quotes). A literal one is escaped with `\`.
SPECIAL = frozenset('\\*?[]{}^,"@')
_CLASS = "".join(re.escape(c) for c in sorted(SPECIAL))  # SPECIAL as a regex character class
SPECIAL_RE = re.compile(f"[{_CLASS}]")

PID = "@{pid}"  # AppArmor tunables/kernelvars variables (included via tunables/global)
TID = "@{tid}"
VARIABLES = (PID, TID)

# Exactly the patterns policy/normalize.py produces: "/" then literal characters,
# backslash-escaped specials, the glob "*" and the variables @{pid}/@{tid}.
SAFE_PATTERN = re.compile(rf"/(?:[^{_CLASS}]|\\[{_CLASS}]|\*|@\{{pid\}}|@\{{tid\}})*")


def escape(text: str) -> str:
    """Backslash-escape every character AppArmor globbing treats specially."""
    if not SPECIAL_RE.search(text):  # the common case, and the fast one
        return text
    return "".join("\\" + c if c in SPECIAL else c for c in text)


_ESCAPED = re.compile(r"\\(.)")
_OCTAL = re.compile(r"\\([0-7]{3})")


def octal(pattern: str) -> str:
    """Write every escaped character as a 3-digit octal escape (`\\,` -> `\\054`).

    apparmor_parser's lexer ends a quoted string at the first `"` not preceded by a backslash,
    even when that backslash is itself escaped: a name ending in `\\` would swallow the rule
    after it (found by the hypothesis tests). Octal escapes leave no backslash before a quote
    or a special character, and the parser reads them as literal characters."""
    return _ESCAPED.sub(lambda m: "\\%03o" % ord(m.group(1)), pattern)


def unoctal(pattern: str) -> str:
    """The inverse of `octal` for the pattern's own spelling: an octal escape of a special
    character becomes its backslash escape again, any other becomes the character."""
    def unescape(m):
        c = chr(int(m.group(1), 8))
        return "\\" + c if c in SPECIAL else c

    return _OCTAL.sub(unescape, pattern)


def quoted_path(path: str) -> str:
    """A literal path (as the kernel names it) as the quoted name of a file rule, the way the
    profile writes it: globbing characters escaped, then as octal escapes."""
    return '"' + octal(escape(path)) + '"'


# Permission letters in the order a rule writes them (apparmor.d(5) "Access Modes").
PERMISSION_ORDER = ("r", "w", "a", "l", "k", "m", "ix")


def ordered_permissions(letters) -> tuple[str, ...]:
    letters = set(letters)
    if "w" in letters:
        letters.discard("a")  # w includes append; AppArmor refuses both in one rule
    return tuple(p for p in PERMISSION_ORDER if p in letters)


# Network family and type keywords (apparmor.d(5) "Network Rules"; the parser's af_names come
# from the kernel's include/linux/socket.h, the same list as profiler.kernel.linux).
FAMILIES = frozenset({
    "unix", "inet", "ax25", "ipx", "appletalk", "netrom", "bridge", "atmpvc", "x25", "inet6",
    "rose", "netbeui", "security", "key", "netlink", "packet", "ash", "econet", "atmsvc", "rds",
    "sna", "irda", "pppox", "wanpipe", "llc", "ib", "mpls", "can", "tipc", "bluetooth", "iucv",
    "rxrpc", "isdn", "phonet", "ieee802154", "caif", "alg", "nfc", "vsock", "kcm", "qipcrtr",
    "smc", "xdp", "mctp"})
SOCKET_TYPES = frozenset({"stream", "dgram", "seqpacket", "rdm", "raw", "packet"})


# --- reading a profile ----------------------------------------------------------------------

# `profile NAME` (the name quoted or not), at the start of a line.
HEADER = re.compile(r"^(\s*profile\s+)(\"[^\"]+\"|[^\s{]+)", re.M)
# Any profile block's opening: `profile NAME`, an attachment path or a bare name, flags, `{`.
_BLOCK = re.compile(r"(?m)^\s*(profile\s+\S+|/\S+|\S+)\s*(flags=\([^)]*\)\s*)?\{")


def profile_name(text: str) -> str | None:
    """The name of the first `profile NAME` block, or None."""
    m = HEADER.search(text)
    return m.group(2).strip('"') if m else None


def has_profile_block(text: str) -> bool:
    return _BLOCK.search(text) is not None


_QUALIFIERS = r"(?:(?:audit|deny|owner|allow)\s+)*"
_PATH = r'(?P<path>"(?:[^"\\]|\\.)*"|/\S*|@\{\w+\}\S*)'
_PERMS = r"(?P<perms>[rwaklmixpcuUPCD]+)"
# A file rule, path first or permissions first, with an optional exec target.
FILE_RULES = (re.compile(rf"^{_QUALIFIERS}(?:file\s+)?{_PATH}\s+{_PERMS}(?:\s*->\s*\S+)?\s*,$"),
              re.compile(rf"^{_QUALIFIERS}(?:file\s+)?{_PERMS}\s+{_PATH}(?:\s*->\s*\S+)?\s*,$"))
NETWORK_RULE = re.compile(rf"^{_QUALIFIERS}network(?:\s+(?P<fam>\w+))?(?:\s+(?P<type>\w+))?\s*,$")
CAPABILITY_RULE = re.compile(rf"^{_QUALIFIERS}capability(?P<names>(?:\s+\w+)*)\s*,$")
EXEC_MODE = re.compile(r"[iuUpPcC]*x")  # an exec permission (ix, Px, Cx, ...), kept whole

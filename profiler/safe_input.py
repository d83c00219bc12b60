"""Files, YAML and JSON that a user hands us (recordings, policy directories, seccomp profiles,
compose files, project indexes), read within bounds.

Every reader of user input goes through here, so that malformed, truncated, hostile or huge
input ends in one line naming the file, never in a traceback, a hang or a crash:

- `read_text`: regular files only (a FIFO would block the read forever, /dev/zero never ends, a
  directory is not a file), at most `max_bytes()` (64 MiB, `PROFILER_MAX_INPUT_MB` to change:
  a recording of 100,000 paths is about 10 MB), UTF-8 without NUL bytes.
- `load_yaml`: safe tags only, and a look at the event stream before anything is built: at most
  MAX_DEPTH levels of nesting (libyaml's composer in PyYAML recurses in C: a few hundred
  thousand `[` crash the interpreter with a segmentation fault), no alias inside its own
  anchor (a recursive structure), and aliases adding at most MAX_ALIAS_NODES nodes (a
  "billion laughs" document of 1 KB expands to 10^9 nodes once anything walks it). Values the
  constructor refuses (an integer of more than 4,300 digits, a date of month 13) are input
  errors too.
- `load_json`: the same for JSON (nesting deeper than Python's recursion limit, numbers too
  long to convert).

Each raises InputError (its `reason` is a phrase without the file name); callers turn it into
their own ProfilerError with the file's name and a hint. read_text raises the ProfilerError
class it is given; FileNotFoundError passes through, since callers word "missing" themselves.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import yaml

from .errors import ProfilerError, UsageError

DEFAULT_MAX_MB = 64
MAX_DEPTH = 100  # a recording nests 5 levels deep, a compose file about 8
MAX_ALIAS_NODES = 100_000  # what aliases may add, in nodes (compose `<<: *defaults` adds tens)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


class InputError(ValueError):
    """Text that cannot be read as the document it should be; `reason` says why, without the
    file's name (callers add it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def max_bytes() -> int:
    """The largest input file read, in bytes ($PROFILER_MAX_INPUT_MB MiB, default 64)."""
    raw = os.environ.get("PROFILER_MAX_INPUT_MB", "")
    try:
        mb = float(raw) if raw.strip() else DEFAULT_MAX_MB
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(mb * 1024 * 1024) if mb > 0 else DEFAULT_MAX_MB * 1024 * 1024


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_text(path: str | os.PathLike, label: str, *, error: type[ProfilerError] = UsageError,
              hint: str | None = None) -> str:
    """The text of a regular file of at most max_bytes(), UTF-8 without NUL bytes; universal
    newlines as Path.read_text. `error(f"{label}: why", hint=...)` for anything else, except
    FileNotFoundError (raised as it is)."""
    p = Path(path)
    limit = max_bytes()

    def bad(why: str, why_hint: str | None = None) -> ProfilerError:
        return error(f"{label}: {why}", hint=why_hint or hint)

    try:
        st = os.stat(p)  # follows symlinks: a link to /dev/zero is a character device
        if not stat.S_ISREG(st.st_mode):
            raise bad(f"is {_kind(st.st_mode)}, not a file")
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except PermissionError:
        raise bad("cannot read (permission denied)") from None
    except OSError as e:  # ELOOP, ENAMETOOLONG, ENOTDIR, EIO, ...
        raise bad(f"cannot read ({e.strerror or e.__class__.__name__})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)  # the file opened, which may have been swapped since the stat
        if not stat.S_ISREG(st.st_mode):
            raise bad(f"is {_kind(st.st_mode)}, not a file")
        size = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit:,} bytes"
        too_big = bad(f"larger than {size}: not read",
                      "raise the limit with PROFILER_MAX_INPUT_MB=N if the file is really "
                      "meant (a recording of 100,000 paths is about 10 MB)")
        if st.st_size > limit:
            raise too_big
        try:
            data = f.read(limit + 1)  # it may have grown since the stat
        except OSError as e:
            raise bad(f"cannot read ({e.strerror or e.__class__.__name__})") from None
    if len(data) > limit:
        raise too_big
    if b"\0" in data:
        raise bad("contains NUL bytes: not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"not a text file (not UTF-8 at byte {e.start})") from None
    if "\r" in text:  # as open() in text mode reads it
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


# --------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------

_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _line(e) -> str:
    mark = getattr(e, "problem_mark", None) or getattr(e, "start_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""


def check_yaml(text: str) -> None:
    """InputError when the document nests deeper than MAX_DEPTH, has an alias inside its own
    anchor, or aliases that add more than MAX_ALIAS_NODES nodes. libyaml's parser (events, no
    tree) does not recurse: this is safe on any input, and about a tenth of a full load."""
    stack: list[list] = []  # per open collection: [anchor, its expanded size in nodes]
    sizes: dict[str, int] = {}  # anchor -> expanded size of its node
    added = 0
    try:
        for ev in yaml.parse(text, Loader=_Loader):
            if isinstance(ev, _STARTS):
                if len(stack) >= MAX_DEPTH:
                    raise InputError(f"nested deeper than {MAX_DEPTH} levels{_line(ev)}")
                stack.append([ev.anchor, 1])
            elif isinstance(ev, _ENDS):
                anchor, size = stack.pop()
                if anchor is not None:
                    sizes[anchor] = size
                if stack:
                    stack[-1][1] += size
            elif isinstance(ev, yaml.ScalarEvent):
                if ev.anchor is not None:
                    sizes[ev.anchor] = 1
                if stack:
                    stack[-1][1] += 1
            elif isinstance(ev, yaml.AliasEvent):
                if any(anchor == ev.anchor for anchor, _ in stack):
                    raise InputError(f"an alias (*{ev.anchor}) inside its own anchor: a "
                                     f"recursive structure{_line(ev)}")
                n = sizes.get(ev.anchor, 1)  # an undefined one: the composer says so
                added += n
                if added > MAX_ALIAS_NODES:
                    raise InputError(f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes "
                                     f"(a YAML bomb?){_line(ev)}")
                if stack:
                    stack[-1][1] += n
    except yaml.YAMLError as e:
        raise InputError(f"not valid YAML{_line(e)}") from None


def load_yaml(text: str):
    """One YAML document, safe tags only, within check_yaml's bounds; InputError otherwise."""
    check_yaml(text)
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise InputError(f"not valid YAML{_line(e)}") from None
    except (ValueError, OverflowError, RecursionError) as e:
        # SafeConstructor's int() and date() on a scalar: 5,000 digits, 2024-13-45
        why = (str(e).splitlines() or [e.__class__.__name__])[0][:120]
        raise InputError(f"a value cannot be read ({why})") from None


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------

def load_json(text: str):
    """One JSON document; InputError for invalid JSON, nesting deeper than the interpreter's
    recursion limit, and numbers too long to convert."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON (line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise InputError("not valid JSON: nested too deeply") from None
    except ValueError as e:  # "Exceeds the limit (4300 digits) for integer string conversion"
        why = (str(e).splitlines() or ["a value"])[0][:120]
        raise InputError(f"a value cannot be read ({why})") from None


# --------------------------------------------------------------------------------------------
# compose files
# --------------------------------------------------------------------------------------------

def compose_file(path: Path, hint: str, label: str | None = None, what: str = "") -> dict:
    """A compose file (the project's own, or the override emit wrote) as a mapping whose
    `services` maps each service name (a string) to a mapping (or nothing); a UsageError
    "{label}: {what}{why}" (label: default the path) for anything else. YAML anchors and merge
    keys work (compose files use them); a YAML bomb does not."""
    label = label or str(path)

    def bad(why: str) -> UsageError:
        return UsageError(f"{label}: {what}{why}", hint=hint)

    try:
        data = load_yaml(read_text(path, label, hint=hint))
    except FileNotFoundError:
        raise bad("no such file") from None
    except InputError as e:
        raise bad(e.reason) from None
    except UsageError as e:  # not a regular file, too big, not UTF-8: its own hint
        raise UsageError(f"{label}: {what}{e.message.removeprefix(f'{label}: ')}",
                         hint=e.hint) from None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise bad("no `services:` mapping")
    for name, service in data["services"].items():
        if not isinstance(name, str) or not isinstance(service, (dict, type(None))):
            shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
            raise bad(f"service {shown} is not a name with a mapping")
    return data

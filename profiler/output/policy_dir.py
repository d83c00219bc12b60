"""The policy directory: what `profiler emit --format all -o DIR` writes, and `verify` and `diff`
read back.

Its file names and modes are the formats' (output/registry.py). One home for writing it (all
files appear together or none does), and for reading it: `read_texts` reads the files, `parse`
turns seccomp.json, caps.txt and run.sh into a typed, complete description (`PolicyFiles`). Parsing
is lenient where a hand edit is harmless and fails only on text it cannot understand
(PolicyFormatError, naming the file); each reader then checks what it needs: `verify` runs the
policy and wants exactly what emit writes (caps.txt as `--cap-drop ALL --cap-add ...`, run.sh's
`args=( ... )` block), `diff` compares privileges and takes any spelling docker takes.
apparmor.profile is only parsed by diff (verify passes the file to apparmor_parser as it is), so
its rules are read in profiler/diff/diff.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..kernel.linux import CAPABILITY_NUMBERS, EPERM, cap_full
from ..recording.recording_io import atomic_write
from .registry import FILE_MODES, FILE_NAMES
from .. import safe_input

SECCOMP, APPARMOR, CAPS, RUN = (FILE_NAMES[f] for f in ("seccomp", "apparmor", "caps", "run"))
# The files that describe the privileges (compose.yaml and k8s.yaml repeat them): what verify
# applies and diff compares, in the order their problems are reported.
POLICY_FILES = (SECCOMP, CAPS, APPARMOR, RUN)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

def mode(name: str) -> int:
    """A policy file's permissions (its format's; name may be SERVICE/FILE)."""
    return FILE_MODES.get(Path(name).name, 0o644)


def write_dir(directory: Path, texts: dict[str, str]) -> list[Path]:
    """Write every file into directory, all together or none: a temp dir first, then renames."""
    directory = directory.resolve()
    parent = directory.parent
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{directory}: {parent} is not a directory")
    if not parent.is_dir():
        raise UsageError(f"{directory}: parent directory {parent} does not exist")
    base = directory if directory.is_dir() else parent
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".profiler-emit-", dir=base))
    except OSError as e:
        raise UsageError(f"{directory}: cannot write ({e.strerror})") from None
    from ..kernel import leftovers

    reg = leftovers.registry()
    reg.add("path", str(tmp))  # a killed run's is removed by the next run (leftovers.sweep)
    try:
        for name, text in texts.items():
            p = tmp / name  # may be NAME/FILE (a project's per-service directories)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
            os.chmod(p, mode(name))
        if base == parent:  # the directory is new: one rename makes it appear whole
            os.chmod(tmp, 0o755)
            os.replace(tmp, directory)
        else:
            for name in texts:
                (directory / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / name, directory / name)
    except OSError as e:
        raise UsageError(f"{directory}: cannot write ({e.strerror})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        reg.discard("path", str(tmp))
    return [directory / n for n in texts]


def write_one(output: Path, fmt: str, text: str) -> Path:
    """One format's file, atomically: to output, or into it under its usual name when output is
    a directory."""
    target = output / FILE_NAMES[fmt] if output.is_dir() else output
    atomic_write(target, text)
    if mode(FILE_NAMES[fmt]) != 0o644:  # atomic_write's
        os.chmod(target, mode(FILE_NAMES[fmt]))
    return target


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------

class PolicyFormatError(ValueError):
    """A policy text that cannot be parsed; `file` names it when known. Callers turn it into
    a UsageError in their own words."""

    def __init__(self, reason: str, file: str | None = None):
        super().__init__(reason)
        self.reason, self.file = reason, file

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}" if self.file else self.reason


def read_text(path: Path, label: str, hint: str | None = None) -> str:
    """A file's text (profiler/safe_input.py: a regular file, bounded, UTF-8); a UsageError in
    one line when it cannot be read."""
    try:
        return safe_input.read_text(path, label, error=UsageError, hint=hint)
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file (a broken link?)", hint=hint) from None


def read_texts(directory: Path, label: str, hint: str | None = None) -> dict[str, str | None]:
    """POLICY_FILES name -> text, None for a file the directory does not have. A name that is
    there but no readable file (a FIFO, a link to a device or nowhere) is an error, not absent."""
    return {name: (read_text(directory / name, f"{label}/{name}", hint)
                   if os.path.lexists(directory / name) else None) for name in POLICY_FILES}


# --- seccomp.json ---------------------------------------------------------------------------

ALLOW_ACTIONS = frozenset({"SCMP_ACT_ALLOW", "SCMP_ACT_LOG"})
CMP_OPS = ("SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT",
           "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ")


@dataclass(frozen=True)
class ArgCondition:
    index: int
    op: str  # one of CMP_OPS
    value: int
    value_two: int = 0


@dataclass(frozen=True)
class SeccompRule:
    names: tuple[str, ...]
    action: str | None
    errno_ret: int | None = None
    args: tuple[ArgCondition, ...] = ()

    @property
    def allows(self) -> bool:
        return self.action in ALLOW_ACTIONS


@dataclass(frozen=True)
class SeccompProfile:
    """A Docker/OCI seccomp profile. `default_action` and `rules` are None when the file has no
    defaultAction or no syscalls list (verify runs it anyway; diff needs both)."""

    default_action: str | None
    default_errno: int
    rules: tuple[SeccompRule, ...] | None
    arches: tuple[str, ...] = ()  # SCMP_ARCH_* of architectures and archMap, sorted

    def names(self, rule_filter) -> frozenset[str]:
        return frozenset(n for r in self.rules or () if rule_filter(r) for n in r.names)


def load_json(text: str):
    try:
        return safe_input.load_json(text)
    except safe_input.InputError as e:
        raise PolicyFormatError(e.reason) from None


def _short(value) -> str:
    """A value from the file in a message: its repr, cut short (the file may be hostile)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


U64 = 2**64 - 1


def _uint(value, what: str, maximum: int = U64) -> int:
    """An unsigned integer as Docker reads it (Go's json into uint: no string, no fraction,
    no boolean)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise PolicyFormatError(f"{what} is not a number")
    if not 0 <= value <= maximum:
        raise PolicyFormatError(f"{what} {_short(value)} is out of range (0-{maximum})")
    return value


def _str_or_none(value, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise PolicyFormatError(f"{what} is not a string")
    return value


def _strings(value, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyFormatError(f"{what} is not a list of strings")
    return value


def _condition(a) -> ArgCondition:
    if not isinstance(a, dict):
        raise PolicyFormatError("an argument rule is not an object")
    idx, op, value = a.get("index"), a.get("op"), a.get("value", 0)
    if not isinstance(idx, int) or not isinstance(value, int) or \
            isinstance(idx, bool) or isinstance(value, bool):
        raise PolicyFormatError("argument rule without integer index/value")
    if not isinstance(op, str) or op not in CMP_OPS:
        raise PolicyFormatError(f"unknown argument operator {_short(op)}")
    # seccomp compares one of the six syscall arguments, as a 64-bit value
    return ArgCondition(_uint(idx, "argument index", 5), op, _uint(value, "argument value"),
                        _uint(a.get("valueTwo", 0) or 0, "argument valueTwo"))


def _rule(rule) -> SeccompRule:
    if not isinstance(rule, dict):
        raise PolicyFormatError("a syscalls entry is not an object")
    names = rule.get("names") or ([rule["name"]] if "name" in rule else [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise PolicyFormatError("a syscalls entry has no list of names")
    args = rule.get("args") or []
    if not isinstance(args, list):
        raise PolicyFormatError("args is not a list")
    errno_ret = rule.get("errnoRet")
    return SeccompRule(tuple(names), _str_or_none(rule.get("action"), "action"),
                       None if errno_ret is None else _uint(errno_ret, "errnoRet"),
                       tuple(_condition(a) for a in args))


def seccomp_profile(data) -> SeccompProfile:
    """A decoded seccomp JSON document -> SeccompProfile. Every field read is checked for the
    type Docker reads it as (a PolicyFormatError otherwise); fields not read are left alone."""
    if not isinstance(data, dict):
        raise PolicyFormatError("a JSON object is expected")
    rules = data.get("syscalls")
    if rules is not None and not isinstance(rules, list):
        raise PolicyFormatError("syscalls is not a list")
    arches = set(_strings(data.get("architectures"), "architectures"))
    arch_map = data.get("archMap") or []
    if not isinstance(arch_map, list):
        raise PolicyFormatError("archMap is not a list")
    for m in arch_map:
        if isinstance(m, dict):
            arches.add(_str_or_none(m.get("architecture"), "archMap architecture") or "")
            arches.update(_strings(m.get("subArchitectures"), "archMap subArchitectures"))
    return SeccompProfile(
        default_action=_str_or_none(data.get("defaultAction"), "defaultAction"),
        default_errno=_uint(data.get("defaultErrnoRet", EPERM), "defaultErrnoRet"),
        rules=None if rules is None else tuple(_rule(r) for r in rules),
        arches=tuple(sorted(a for a in arches if a)))


# --- caps.txt -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CapsFile:
    """caps.txt: docker flags (`--cap-drop ALL --cap-add CHOWN ...`, what emit writes) or a
    list of capability names (form "names"), CAP_ prefixed or not, separated by space, comma or
    lines; `#` starts a comment."""

    form: str  # "flags" or "names"
    added: tuple[str, ...]  # CAP_* names, in order, each once
    dropped: tuple[str, ...] = ()  # --cap-drop values as written
    other: tuple[str, ...] = ()  # words that are no `--cap-add/--cap-drop VALUE` pair


def cap_names(text: str) -> tuple[str, ...]:
    """"chown, CAP_SETUID" -> ("CAP_CHOWN", "CAP_SETUID"); an unknown name is an error."""
    out = []
    for tok in re.split(r"[\s,]+", text):
        if not tok:
            continue
        name = cap_full(tok)
        if name not in CAPABILITY_NUMBERS:
            raise PolicyFormatError(f"unknown capability {_short(tok)}")
        out.append(name)
    return tuple(dict.fromkeys(out))


# shlex builds each word a character at a time (`self.token += c`: quadratic in the word's
# length; a 2 MB line took minutes). emit's lines are far shorter than this.
MAX_SPLIT = 10_000


def _words(text: str) -> list[str]:
    if len(text) > MAX_SPLIT:
        raise PolicyFormatError(f"longer than {MAX_SPLIT:,} characters: not split into words")
    try:
        return shlex.split(text, comments=True)
    except ValueError as e:
        raise PolicyFormatError(f"cannot split into words: {e}") from None


def caps_file(text: str) -> CapsFile:
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    if not any("--cap-" in line for line in lines):
        return CapsFile("names", cap_names(" ".join(lines)))
    added, dropped, other = [], [], []
    words = _words(" ".join(lines))
    i = 0
    while i < len(words):
        flag, eq, value = words[i].partition("=")
        if flag in ("--cap-add", "--cap-drop") and (eq or i + 1 < len(words)):
            if not eq:
                i += 1
                value = words[i]
            if flag == "--cap-add":
                added += cap_names(value)
            else:
                dropped.append(value)
        else:
            other.append(words[i])
        i += 1
    return CapsFile("flags", tuple(dict.fromkeys(added)), tuple(dropped), tuple(other))


# --- run.sh ---------------------------------------------------------------------------------

# The docker options read from run.sh: those with a value, their short spellings, and the
# boolean ones (they get "true", or their `=value`).
RUN_VALUED = frozenset({"--security-opt", "--tmpfs", "--pids-limit", "--user", "--network",
                        "--publish", "--cap-add", "--cap-drop", "--device", "--pid", "--ipc",
                        "--uts", "--userns", "--mount"})
RUN_ALIASES = {"-u": "--user", "--net": "--network", "-p": "--publish"}
RUN_BOOLEAN = frozenset({"--read-only", "--privileged"})
NO_NEW_PRIVILEGES = ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true")


@dataclass(frozen=True)
class RunLine:
    number: int  # 1-based, after joining backslash continuations
    in_args: bool  # inside emit's `args=( ... )` block
    words: tuple[str, ...] = ()  # comments dropped
    error: str | None = None  # the line cannot be split into words


@dataclass(frozen=True)
class RunScript:
    """run.sh, line by line. emit collects the options in a bash array (`args=( ... )`) before
    `exec docker run "${args[@]}"`; a hand-written script may give them on the run line."""

    lines: tuple[RunLine, ...]
    has_docker_run: bool
    has_args_block: bool  # opened and closed

    def _lines(self, args_only: bool) -> list[RunLine]:
        """The lines (or those of the args block); one that cannot be split is an error."""
        lines = [line for line in self.lines if line.in_args or not args_only]
        for line in lines:
            if line.error:
                raise PolicyFormatError(f"line {line.number}: {line.error}")
        return lines

    def words(self, *, args_only: bool = False) -> list[str]:
        return [w for line in self._lines(args_only) for w in line.words]

    def flags(self, *, args_only: bool = False) -> list[tuple[str, str]]:
        """(flag, value) pairs of the docker options, line by line, aliases resolved; other
        words are skipped."""
        return [pair for line in self._lines(args_only) for pair in _flag_pairs(line.words)]


def _flag_pairs(words: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    i = 0
    while i < len(words):
        name, eq, value = words[i].partition("=")
        name = RUN_ALIASES.get(name, name)
        if name in RUN_VALUED:
            if not eq:
                i += 1
                value = words[i] if i < len(words) else ""
            out.append((name, value))
        elif name in RUN_BOOLEAN:
            out.append((name, value if eq else "true"))
        i += 1
    return out


def run_script(text: str) -> RunScript:
    lines, inside, closed = [], False, False
    for n, line in enumerate(re.sub(r"\\\n", " ", text).splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("args=("):
            inside, in_args = True, False
        elif inside and stripped.startswith(")"):
            inside, closed, in_args = False, True, False
        else:
            in_args = inside
        try:
            lines.append(RunLine(n, in_args, tuple(_words(line))))
        except PolicyFormatError as e:
            lines.append(RunLine(n, in_args, error=e.reason))
    # (`podman run`: the run.sh of a Podman recording, render/run.py)
    return RunScript(tuple(lines), bool(re.search(r"(?m)^[^#\n]*\b(docker|podman)\s+run\b", text)),
                     closed)


# --- the directory --------------------------------------------------------------------------

@dataclass(frozen=True)
class PolicyFiles:
    """What a policy directory says, file by file (None: the file is absent)."""

    seccomp: SeccompProfile | None = None
    caps: CapsFile | None = None
    run: RunScript | None = None
    apparmor: str | None = None  # the text, as it is


def parse(texts: dict[str, str | None]) -> PolicyFiles:
    """POLICY_FILES name -> text (None or missing: absent) -> PolicyFiles. A PolicyFormatError
    names the file."""
    parsers = {SECCOMP: lambda t: seccomp_profile(load_json(t)), CAPS: caps_file,
               RUN: run_script, APPARMOR: lambda t: t}
    fields = {SECCOMP: "seccomp", CAPS: "caps", RUN: "run", APPARMOR: "apparmor"}
    out = {}
    for name in POLICY_FILES:
        text = texts.get(name)
        if text is None:
            continue
        try:
            out[fields[name]] = parsers[name](text)
        except PolicyFormatError as e:
            raise PolicyFormatError(e.reason, name) from None
    return PolicyFiles(**out)

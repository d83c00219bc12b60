"""Read and write recording files (sorted YAML, validated against the shipped JSON Schema).

Writes are atomic (temp file in the same directory, then rename), so an interrupted or failed
run never leaves a half-written recording.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

import fastjsonschema
import yaml

from ..errors import RecordingError, UsageError
from .. import safe_input
from .model import SCHEMA_VERSION, Recording, from_dict, to_dict


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(resources.files("profiler").joinpath("schema/recording.schema.json").read_text())


def _inline_refs(node, defs: dict):
    """The schema with every local `{"$ref": "#/$defs/X"}` replaced by X itself (the schema has
    no recursive definitions). fastjsonschema compiles a $ref into a function call whose
    arguments format an error path with locals() for every item checked, even valid ones:
    100,000 paths validated in 1.7 s with the references and in 0.2 s inlined."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if len(node) == 1 and isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref[len("#/$defs/"):]], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


@lru_cache(maxsize=1)
def _inlined_schema() -> dict:
    s = schema()
    return _inline_refs(s, s.get("$defs", {}))


@lru_cache(maxsize=2)
def _validator(detailed: bool = False):
    # fastjsonschema compiles the schema to Python code: about 40x faster than the jsonschema
    # package on a recording with 100,000 paths. Without detailed exceptions the code is half
    # the size and compiles in 13 ms instead of 31, but its messages lose the field names: the
    # detailed one is compiled only to word an error.
    return fastjsonschema.compile(_inlined_schema(), detailed_exceptions=detailed)


def _flat_checker(items: dict):
    """A quick check `list -> bool` for an array whose items schema is a flat object of string
    and array-of-string-enum properties (the shape of `files`), or None for any other schema.
    True means exactly what the schema means; on False the caller runs the full validator for
    its message. The generated validator costs 2 us per file entry, this about 0.8 us."""
    meta = {"description"}
    if set(items) - meta - {"type", "required", "additionalProperties", "properties"} or \
            items.get("type") != "object" or items.get("additionalProperties") is not False:
        return None
    strings, enums = [], []
    for name, prop in items.get("properties", {}).items():
        keys = set(prop) - meta
        if keys == {"type"} and prop["type"] == "string":
            strings.append(name)
        elif keys == {"type", "items"} and prop["type"] == "array" and \
                set(prop["items"]) - meta == {"enum"} and \
                all(isinstance(v, str) for v in prop["items"]["enum"]):
            enums.append((name, frozenset(prop["items"]["enum"])))
        else:
            return None
    required = frozenset(items.get("required", ()))
    allowed = frozenset(items.get("properties", {}))

    def check(values: list) -> bool:
        for item in values:
            if not isinstance(item, dict) or not required <= item.keys() <= allowed:
                return False
            for name in strings:
                if name in item and not isinstance(item[name], str):
                    return False
            for name, members in enums:
                v = item.get(name, ())
                if not isinstance(v, list) and v != ():
                    return False
                try:
                    if not members.issuperset(v):
                        return False
                except TypeError:  # an unhashable item: not a member either
                    return False
        return True
    return check


@lru_cache(maxsize=1)
def _quick_checks() -> dict:
    props = _inlined_schema()["properties"]
    checks = {key: _flat_checker(props[key]["items"]) for key in LINE_LISTS
              if props.get(key, {}).get("type") == "array"}
    return {k: c for k, c in checks.items() if c is not None}


def _validate(data: dict) -> None:
    """The schema's verdict on data: long lists of flat entries are checked quickly, and the
    rest (or everything, when a quick check fails, for its message) by the compiled schema."""
    quick = _quick_checks()
    passed = {k for k, check in quick.items() if isinstance(data.get(k), list) and check(data[k])}
    try:
        _validator()({k: ([] if k in passed else v) for k, v in data.items()} if passed else data)
    except fastjsonschema.JsonSchemaException:
        _validator(detailed=True)(data)  # the same verdict, with the message


_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Top-level lists that can be long: one entry per line, as a JSON flow mapping (valid YAML).
# A line per path reads well in a diff, and these lines load with json.loads instead of the
# YAML parser (100,000 paths: well under a second instead of about 15 s).
LINE_LISTS = ("syscalls", "arguments", "capabilities", "files")


def dumps(rec: Recording) -> str:
    d = to_dict(rec)
    out = []
    for key, value in d.items():
        if key in LINE_LISTS:
            if not value:
                out.append(f"{key}: []\n")
                continue
            out.append(f"{key}:\n")
            out.extend(f"- {json.dumps(item, separators=(', ', ': '))}\n" for item in value)
        else:
            out.append(yaml.dump({key: value}, Dumper=_SafeDumper, sort_keys=False,
                                 default_flow_style=False, allow_unicode=False, width=100))
    return "".join(out)


# A LINE_LISTS block as dumps() writes it: the key, then one "- {...}" line per entry.
_LINE_BLOCK = re.compile(r"^(%s):\n((?:- \{.*\n)+)" % "|".join(LINE_LISTS), re.MULTILINE)


def _fast_parse(text: str):
    """Parse what dumps() writes: JSON lines for LINE_LISTS, YAML for the rest. Returns None
    when the text is not in that shape (a hand-edited file): the caller parses it as YAML."""
    lists, rest, end = {}, [], 0
    for m in _LINE_BLOCK.finditer(text):
        key = m.group(1)
        if key in lists:
            return None  # the same key twice: let the YAML parser judge
        # One json.loads for the whole block (100,000 entries: 0.1 s, against 0.7 s line by
        # line). json.dumps escapes newlines inside strings, so "\n- " only separates entries;
        # a hand edit that breaks this fails to parse as JSON and falls back to YAML.
        try:
            block = text[m.start(2) + 2:m.end(2) - 1]  # without the first "- " and last "\n"
            lists[key] = json.loads("[" + block.replace("\n- ", ",") + "]")
        except (ValueError, RecursionError):  # the YAML parser says what is wrong
            return None
        rest.append(text[end:m.start(2)])
        end = m.end(2)
    rest.append(text[end:])
    data = safe_input.load_yaml("".join(rest))
    if isinstance(data, dict):
        for key, items in lists.items():
            if data.get(key) is not None:
                return None  # the same list also has YAML items: not ours
            data[key] = items
    return data


def loads(text: str, source: str = "<string>") -> Recording:
    try:
        data = _fast_parse(text)
        if data is None:
            data = safe_input.load_yaml(text)
    except safe_input.InputError as e:
        raise RecordingError(f"{source}: {e.reason}",
                             hint="was the file truncated or edited by hand?") from None
    if not isinstance(data, dict):
        raise RecordingError(f"{source}: empty or not a recording (expected a YAML mapping)",
                             hint="record one with `profiler record IMAGE`")
    if "schema_version" not in data:
        # Some other YAML file (a compose file, a policy, a harvest's state): not an old
        # recording, which is what a version error would suggest.
        keys = ", ".join(sorted(str(k) for k in data)[:4]) or "none"
        raise RecordingError(f"{source}: not a recording (no schema_version; its top-level keys: "
                             f"{keys[:80]})",
                             hint="give a .recording.yaml that `profiler record` wrote (or its "
                                  "project directory)")
    version = str(data.get("schema_version", ""))
    major = version.split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise RecordingError(
            f"{source}: recording schema version {version[:40] or '(missing)'} is not supported "
            f"(this profiler reads {SCHEMA_VERSION.split('.')[0]}.x)",
            hint="use the profiler version that wrote it, or record again")
    try:
        _validate(data)
    except fastjsonschema.JsonSchemaException as e:
        path = "/".join(str(p) for p in (e.path or [])[1:]) or "(top)"
        message = e.message.split(" ", 1)[1] if e.message.startswith("data") else e.message
        raise RecordingError(f"{source}: invalid recording at {path}: {message}") from None
    return from_dict(data)


def load(path: str | os.PathLike) -> Recording:
    p = Path(path)
    try:
        text = safe_input.read_text(p, str(p), error=RecordingError)
    except FileNotFoundError:
        raise UsageError(f"{p}: no such recording file") from None
    return loads(text, str(p))


def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write text to path atomically; raise UsageError when the path cannot be written."""
    p = Path(path)
    directory = p.parent if str(p.parent) else Path(".")
    from ..kernel import leftovers

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=directory)
    except (FileNotFoundError, NotADirectoryError):
        raise UsageError(f"{p}: directory {directory} does not exist") from None
    except PermissionError:
        raise UsageError(f"{p}: cannot write in {directory} (permission denied)") from None
    except OSError as e:  # a read-only file system, a full disk, ...
        raise UsageError(f"{p}: cannot write in {directory} ({e.strerror})") from None
    reg = leftovers.registry()
    reg.add("path", os.path.abspath(tmp))  # a killed run's is removed by the next run
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # a full disk says so here, not after the rename
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):  # a full disk (ENOSPC), a quota, EROFS, a directory, EACCES
            raise UsageError(f"{p}: cannot write ({e.strerror}); nothing was written",
                             hint="free space (or choose another place with -o) and run again"
                             if e.errno in (28, 122) else None) from None
        raise
    finally:
        reg.discard("path", os.path.abspath(tmp))


def replace_dir(directory: str | os.PathLike, fill: Callable[[Path], object]) -> object:
    """Make `directory` whole or not at all: `fill` writes into a new directory beside it, which
    then takes its place (a previous one goes, with files this one does not have). A failure,
    in `fill` or after, leaves the previous directory as it was, and is raised as it is (`fill`
    says what went wrong in its own words). Returns what `fill` returns.
    The one writer of whole directories (record --match's project, emit's project tree)."""
    out = Path(directory)
    parent = out.parent if str(out.parent) else Path(".")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    try:
        new = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".new", dir=parent))
    except FileNotFoundError:
        raise UsageError(f"{out}: parent directory {parent} does not exist") from None
    except OSError as e:
        raise UsageError(f"{out}: cannot write in {parent} ({e.strerror})") from None
    from ..kernel import leftovers

    reg = leftovers.registry()
    reg.add("path", str(new.resolve()))  # a killed run's is removed by the next run
    old = None
    try:
        new.chmod(0o755)  # mkdtemp makes it private; a directory the user made would not be
        result = fill(new)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
            reg.add("path", str(old.resolve()))
            os.replace(out, old / "dir")
        os.replace(new, out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        if old is not None and (old / "dir").exists() and not out.exists():
            os.replace(old / "dir", out)  # put the previous one back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            reg.discard("path", str(old.resolve()))
        reg.discard("path", str(new.resolve()))
    return result


def check_writable(path: str | os.PathLike) -> None:
    """Fail early (before a long recording) when the output path cannot be written."""
    p = Path(path)
    directory = p.parent if str(p.parent) else Path(".")
    try:
        if p.is_dir():
            raise UsageError(f"{p}: is a directory", hint="give a file name with -o")
        if not directory.is_dir():
            raise UsageError(f"{p}: directory {directory} does not exist")
    except PermissionError:
        raise UsageError(f"{p}: cannot write there (permission denied)") from None
    if not os.access(directory, os.W_OK):
        why = "permission denied"
        try:
            if os.statvfs(directory).f_flag & os.ST_RDONLY:
                why = "read-only file system"
        except OSError:
            pass
        raise UsageError(f"{p}: cannot write in {directory} ({why})")


def save(rec: Recording, path: str | os.PathLike) -> None:
    atomic_write(path, dumps(rec))


def newest(directory: Path) -> Path:
    """The newest *.recording.yaml in directory (what `emit` reads when given none)."""
    found = sorted(directory.glob("*.recording.yaml"),
                   key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    if not found:
        raise UsageError(f"no *.recording.yaml in {directory}",
                         hint="give a recording: profiler emit FILE.recording.yaml "
                              "(make one with `profiler record IMAGE`)")
    return found[0]

"""What the fuzz tests (test_fuzz_readers.py, test_fuzz_cli.py) share: hypothesis strategies
for malformed, truncated and hostile documents, a fixed corpus of hostile texts and files, the
property every reader must keep, and a count of the inputs fuzzed per reader (printed at the
end of the run by conftest.py: the README's "inputs fuzzed" figure).

Example counts are bounded (`examples(n)`), and CI runs hypothesis derandomized (the "ci"
profile in conftest.py), so a failure there reproduces with the same command.
"""

from __future__ import annotations

import collections
import copy
import json
import os
import stat
from pathlib import Path

import yaml
from hypothesis import HealthCheck, settings, strategies as st

from profiler.errors import ProfilerError

# reader -> how many inputs it was given in this run
COUNTS: collections.Counter = collections.Counter()


def count(reader: str, n: int = 1) -> None:
    COUNTS[reader] += n


def scale() -> int:
    """$PROFILER_FUZZ_SCALE: multiplies every fuzz test's example count (default 1; a longer
    local hunt: PROFILER_FUZZ_SCALE=20)."""
    try:
        return max(1, int(os.environ.get("PROFILER_FUZZ_SCALE", "1")))
    except ValueError:
        return 1


def examples(n: int):
    """Bounded settings for one fuzz test: n examples (times scale()), no deadline (the
    machine is shared)."""
    return settings(max_examples=n * scale(), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def returns_or_refuses(reader: str, fn, *args, accept=(), expect_type=None):
    """The property: fn(*args) returns (an instance of expect_type) or raises a ProfilerError
    (or one of `accept`, a module's own error its callers convert); anything else fails the
    test with the input's reader named. Returns the result, or the error raised."""
    count(reader)
    try:
        result = fn(*args)
    except (ProfilerError, *accept) as e:
        assert str(e).strip(), f"{reader}: an error without a message"
        return e
    if expect_type is not None:
        assert isinstance(result, expect_type), (reader, type(result))
    return result


# --- values and documents ------------------------------------------------------------------------

HOSTILE_INTS = st.sampled_from([-1, 0, 1, 2**31, 2**32, 2**63, 2**64, 2**64 + 1, -(2**63),
                                10**30, 10**400])
HOSTILE_TEXT = st.sampled_from(["", " ", "\x00", "a\nb", "\t", "../../etc/passwd", "*", "&a",
                                "{{ x }}", "\u202e", "\udcff".encode("utf-8", "surrogatepass")
                                .decode("utf-8", "replace"), "x" * 5000, "CAP_SYS_ADMIN",
                                "SCMP_ACT_ALLOW", "1.0", "2.0"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), HOSTILE_INTS,
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    HOSTILE_TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)


def paths_of(node, prefix=()):
    """Every path (tuple of keys/indexes) into a decoded document, the root included; lists
    only through their first three items (they repeat a shape)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths_of(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            yield from paths_of(v, prefix + (i,))


@st.composite
def mutated(draw, document, n_max: int = 3):
    """document (decoded JSON/YAML) with 1..n_max changes: a value replaced by any value, a key
    deleted, a key added, a list emptied or an item duplicated."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, n_max))):
        paths = list(paths_of(doc))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "dup"]))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        if not path:
            if op == "replace":
                doc = draw(JSON_VALUES)
            continue
        key = path[-1]
        if op == "replace":
            parent[key] = draw(JSON_VALUES)
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(JSON_VALUES)
        elif op == "dup" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
    return doc


def dump_yaml(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=4096)


def dump_json(doc) -> str:
    return json.dumps(doc)  # NaN and Infinity as JSON's extensions Python writes


@st.composite
def corrupted(draw, text: str):
    """text cut short, or with a hostile snippet spliced in, or with characters removed."""
    op = draw(st.sampled_from(["truncate", "splice", "drop", "splice"]))
    at = draw(st.integers(0, len(text)))
    if op == "truncate":
        return text[:at]
    if op == "drop":
        return text[:at] + text[at + draw(st.integers(1, 40)):]
    snippet = draw(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=8)))
    return text[:at] + snippet + text[at:]


SNIPPETS = ["\x00", "\t", ": ", "- ", "{", "}", "[", "]", "'", '"', "&a ", "*a ", "!!python/name:os.system ",
            "!!binary ", "<<: ", "? ", "|", ">", "\n  ", "\n", "#", "%YAML 1.1\n", "---\n", "...\n",
            "\ufeff", "\\", "9" * 5000, "1e999", ".nan", "2026-13-45", "~", "0x1F", "0o17"]


# --- the fixed corpus: hostile documents ---------------------------------------------------------

def _bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"bomb: [*a{levels - 1}]")
    return "\n".join(lines) + "\n"


HOSTILE_DOCUMENTS = {
    "empty": "",
    "whitespace": "   \n\n",
    "scalar": "42\n",
    "list": "- 1\n- 2\n",
    "null": "~\n",
    "bom": "\ufeffschema_version: '1.0'\n",
    "billion-laughs": _bomb(),
    "bomb-under-a-valid-key": "schema_version: '1.0'\nservices: " + _bomb().replace("\n", " ")
                              .replace("a0: ", "{a0: ", 1) + "}\n",
    "recursive-alias": "a: &a [*a]\n",
    "recursive-mapping": "kind: profiler-project\nservices: &s {x: *s}\n",
    "undefined-alias": "a: *nowhere\n",
    "deep-flow-sequence": "[" * 100_000 + "]" * 100_000,
    "deep-flow-mapping": "{a: " * 50_000 + "1" + "}" * 50_000,
    "deep-block-sequence": "- " * 20_000 + "x\n",
    "deep-json": '{"a": ' * 100_000 + "1" + "}" * 100_000,
    "deep-json-array": "[" * 200_000 + "]" * 200_000,
    "huge-int": "a: " + "9" * 10_000 + "\n",
    "huge-int-json": '{"defaultErrnoRet": ' + "9" * 10_000 + "}",
    "float-exponent": "a: 1e99999\n",
    "bad-date": "started_at: 2026-13-45\n",
    "python-tag": "a: !!python/object/apply:os.system ['true']\n",
    "binary-tag": "a: !!binary AAAA\n",
    "set-tag": "a: !!set {x, y}\n",
    "merge-of-scalar": "a: {<<: 5}\n",
    "unhashable-key": "? [a, b]\n: 1\n",
    "nul": "schema_version: '1.0'\x00\n",
    "control": "schema_version: '\x07'\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "tabs": "a:\n\t- 1\n",
    "long-line": "a: " + "x" * 2_000_000 + "\n",
    "many-keys": "".join(f"k{i}: {i}\n" for i in range(20_000)),
    "json-nan": '{"defaultAction": NaN, "syscalls": [{"names": ["read"], "errnoRet": Infinity}]}',
    "json-truncated": '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["re',
}

NOT_UTF8 = {
    "latin1": "schema_version: 'caf\xe9'\n".encode("latin-1"),
    "utf16": "schema_version: '1.0'\n".encode("utf-16"),
    "random-bytes": bytes(range(256)) * 4,
    "gzip-magic": b"\x1f\x8b\x08\x00" + b"\x00" * 64,
}


def special_paths(base: Path) -> dict[str, Path]:
    """Paths that are no regular file, made under base: a FIFO (reading it would block), links
    to /dev/zero (endless) and /dev/null, a directory, a dangling link, a link loop."""
    base.mkdir(parents=True, exist_ok=True)
    out = {}
    fifo = base / "fifo"
    os.mkfifo(fifo)
    out["fifo"] = fifo
    for name, target in (("dev-zero", "/dev/zero"), ("dev-null", "/dev/null"),
                         ("dangling", str(base / "nowhere")), ("loop", str(base / "loop"))):
        (base / name).symlink_to(target)
        out[name] = base / name
    (base / "directory").mkdir()
    out["directory"] = base / "directory"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    return out


def place(target: Path, kind: str, special: dict[str, Path]) -> None:
    """Make target (a path a reader will open) one of special_paths' kinds, by symlink or in
    place (a FIFO and a directory are made there, as a user could)."""
    if target.is_dir() and not target.is_symlink():
        target.rmdir()
    elif os.path.lexists(target):
        target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    else:
        target.symlink_to(os.readlink(special[kind]))

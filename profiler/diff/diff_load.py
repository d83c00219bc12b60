"""Read one side of `profiler diff` and tell its kind by content: a recording (YAML), an emitted
policy directory, or a seccomp JSON profile. Every problem becomes a UsageError/RecordingError
(exit 2) with one line and a hint; profiler/diff/diff.py does the (pure) comparison."""

from __future__ import annotations

from pathlib import Path

from ..recording import recording_io
from .. import safe_input
from .diff import KINDS, Facts, facts_from_policy, facts_from_recording, facts_from_seccomp
from ..errors import UsageError
from ..output.policy_dir import POLICY_FILES, PolicyFormatError, read_text, read_texts

HINT = ("give two recordings (*.yaml), two policy directories (`profiler emit --format all "
        "-o DIR`) or two seccomp JSON files")


def policy_dir_facts(p: Path, label: str) -> Facts:
    """The Facts of a policy directory (also one service's, in an emitted project)."""
    texts = read_texts(p, label, HINT)
    if all(t is None for t in texts.values()):
        raise UsageError(f"{label}: a directory without any of {', '.join(POLICY_FILES)}",
                         hint="write one with `profiler emit --format all -o DIR`")
    try:
        return facts_from_policy(texts)
    except PolicyFormatError as e:
        raise UsageError(f"{label}/{e}", hint="was it edited by hand? emit it again") from None


def load(path: str) -> Facts:
    """The Facts of one diff input, its kind told by content."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file or directory", hint=HINT)
    if p.is_dir():
        return policy_dir_facts(p, path)
    text = read_text(p, path, hint=HINT)
    if text.lstrip().startswith(("{", "[")):
        try:
            data = safe_input.load_json(text)
        except safe_input.InputError as e:
            raise UsageError(f"{path}: {e.reason}",
                             hint="was the file truncated or edited by hand?") from None
        if isinstance(data, dict) and "metadata" in data and "schema_version" in data:
            return facts_from_recording(recording_io.loads(text, path), path)  # JSON is YAML
        try:
            return facts_from_seccomp(data)
        except PolicyFormatError as e:
            raise UsageError(f"{path}: {e}", hint=HINT) from None
    return facts_from_recording(recording_io.loads(text, path), path)


def _harvest(path: str):
    """The recording in path when it is harvested evidence (`profiler harvest`), else None."""
    p = Path(path)
    if not p.is_file():
        return None
    text = read_text(p, path, hint=HINT)
    if "\n  mode: harvest\n" not in text:
        return None
    rec = recording_io.loads(text, path)
    return rec if rec.harvested else None


def load_pair(old: str, new: str) -> tuple[Facts, Facts]:
    harvest = _harvest(new)
    if harvest is not None and _harvest(old) is None:
        # NEW holds only what production added to OLD: compare OLD with OLD plus NEW.
        p = Path(old)
        if p.is_dir() or not p.exists():
            raise UsageError(f"{new} is harvested evidence: compare it with the recording it "
                             f"adds to", hint=f"profiler diff SERVICE.recording.yaml {new}")
        base = recording_io.load(p)
        return (facts_from_recording(base, old),
                facts_from_recording(base, new, harvests=(harvest,)))
    a, b = load(old), load(new)
    if a.kind != b.kind:
        raise UsageError(f"cannot compare a {KINDS[a.kind]} ({old}) with a {KINDS[b.kind]} "
                         f"({new})", hint="give two of the same kind: " + HINT.split("give ")[1])
    return a, b

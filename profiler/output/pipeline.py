"""The emit pipeline, the one way from recordings to policy files:

    load -> reduce -> resolve unknown capabilities -> render (and self-check) -> write

`profiler emit` (one policy, commands/emit.py), a project's emit (one policy per service,
output/project_policy.py) and `verify --recording` (verify/verify.py) all go through here;
what differs between them is only where the recordings come from, how the sources are named
and where the texts go.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..errors import PolicyError
from ..policy.reduce import Policy, reduce
from ..recording import recording_io
from ..recording.model import Recording
from . import policy_dir
from .registry import STATES_CAPS, RenderOptions, render_dir

# What emit may be told to do with capabilities nobody recorded (`--caps-unknown`).
UNKNOWN_CHOICES = ("keep-default", "drop-all")


def load(paths: list[Path]) -> list[Recording]:
    return [recording_io.load(p) for p in paths]


def resolve_unknown(policy: Policy, formats, choice: str | None) -> Policy:
    """The policy to render when a recording had no capability data (made where the kernel had
    no capability source, kernel/capsource.py): unchanged when every recording had it or no
    chosen format states capabilities; otherwise the user's choice, and an error without one -
    never a silent `--cap-drop ALL`."""
    if not policy.caps_unknown or not STATES_CAPS & set(formats):
        return policy
    if choice is None:
        raise PolicyError(
            f"{', '.join(policy.caps_unknown)}: capabilities were not recorded (no capability "
            f"source), so emit cannot say which the app needs",
            hint="re-record where the kernel has one (record's pre-flight names it), or choose: "
                 "--caps-unknown keep-default (Docker's default set) or --caps-unknown drop-all "
                 "(only what other recordings saw; the app may fail)")
    if choice not in UNKNOWN_CHOICES:
        raise PolicyError(f"--caps-unknown {choice}: not one of {', '.join(UNKNOWN_CHOICES)}")
    return replace(policy, keep_default_caps=choice == "keep-default")


def policy(recordings: list[Recording], sources: list[str], formats, *, strict: bool = False,
           allow_io_uring: bool = False, caps_unknown: str | None = None,
           name: str | None = None) -> Policy:
    """Reduce the recordings (sources: how the policy names them) to the Policy the formats
    are rendered from; name: the policy's name instead of the one reduce derives."""
    p = reduce(recordings, sources, allow_io_uring=allow_io_uring, strict=strict)
    if name is not None:
        p = replace(p, name=name)
    return resolve_unknown(p, formats, caps_unknown)


def write_policy_dir(directory: Path, policy: Policy,
                     options: RenderOptions = RenderOptions()) -> list[Path]:
    """Every format of the policy into its policy directory (all files together or none)."""
    return policy_dir.write_dir(directory, render_dir(policy, options))

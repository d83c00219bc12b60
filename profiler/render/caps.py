"""Policy -> the capability part of a `docker run` line: one line, pasteable.

Also the one place that decides what to do when a recording has no capability data (made where
the kernel had no capability source, profiler/kernel/capsource.py): never a silent `--cap-drop ALL`.
Every renderer that writes capabilities (caps, run, compose, k8s, apparmor) asks here.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import PolicyError
from ..kernel.linux import cap_short
from ..policy.reduce import Policy

# What emit may be told to do with capabilities nobody recorded (`--caps-unknown`).
UNKNOWN_CHOICES = ("keep-default", "drop-all")
# The formats that state capabilities.
CAP_FORMATS = frozenset({"caps", "run", "compose", "k8s", "apparmor"})


def resolve_unknown(policy: Policy, formats, choice: str | None) -> Policy:
    """The policy to render: unchanged when every recording had capability data or no chosen
    format states capabilities; otherwise the user's choice, and an error without one."""
    if not policy.caps_unknown or not CAP_FORMATS & set(formats):
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


def cap_names(policy: Policy) -> list[str]:
    """Docker's spelling (no CAP_ prefix), sorted."""
    return sorted(cap_short(c) for c in policy.capabilities)


def cap_args(policy: Policy) -> list[str]:
    if policy.keep_default_caps:
        return []
    args = ["--cap-drop", "ALL"]
    for name in cap_names(policy):
        args += ["--cap-add", name]
    return args


KEEP_DEFAULT_NOTE = "capabilities were not recorded: Docker's default set is kept"


def render(policy: Policy) -> str:
    if policy.keep_default_caps:
        return f"# {KEEP_DEFAULT_NOTE} (emit --caps-unknown keep-default)\n"
    return " ".join(cap_args(policy)) + "\n"

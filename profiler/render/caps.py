"""Policy -> the capability part of a `docker run` line: one line, pasteable."""

from __future__ import annotations

from ..reduce import Policy


def cap_names(policy: Policy) -> list[str]:
    """Docker's spelling (no CAP_ prefix), sorted."""
    return sorted(c.removeprefix("CAP_") for c in policy.capabilities)


def cap_args(policy: Policy) -> list[str]:
    args = ["--cap-drop", "ALL"]
    for name in cap_names(policy):
        args += ["--cap-add", name]
    return args


def render(policy: Policy) -> str:
    return " ".join(cap_args(policy)) + "\n"

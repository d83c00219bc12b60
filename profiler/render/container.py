"""What every container format (run.sh, compose.yaml, k8s.yaml, the project override) shares:
the image a container needs, and the hardening decisions the evidence did not support (listed
in each file with their evidence, so a reader sees what was left out and why)."""

from __future__ import annotations

from ..errors import PolicyError
from ..policy.reduce import Policy


def require_image(policy: Policy) -> str:
    if not policy.image:
        raise PolicyError("the recording names no image, so there is no container to run",
                          hint="for a plain process use --format seccomp, apparmor or caps")
    return policy.image


def not_applied(policy: Policy) -> list[tuple[str, str]]:
    h = policy.hardening
    return [(label, d.evidence) for label, d in (
        ("--security-opt no-new-privileges", h.no_new_privileges), ("--read-only", h.read_only),
        ("--pids-limit", h.pids_limit), ("--user", h.user), ("--network none", h.network_none))
        if not d.apply]

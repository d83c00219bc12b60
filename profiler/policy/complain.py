"""Complain mode (`emit --complain`): the policy to deploy while production finishes the
training, so that nothing the learned policy would refuse breaks production, and what it
would refuse is logged for `profiler harvest` to read back (issue 19; docs/ci-recipe.md).

Two parts of a policy can log instead of refusing, and keep every learned rule in complain
mode (only what lies outside the rules is logged):

- seccomp: default action SCMP_ACT_LOG instead of ERRNO (the kernel's audit record type=1326),
  every sub-architecture of the host listed (render/seccomp.py arches). The ENOSYS answers stay:
  clone3 when clone's flags are filtered or clone3 was not seen, io_uring when it is refused.
  They break nothing (libc and the app fall back to the older call), and the enforced policy
  answers the same, so production in complain mode takes the code path it will take enforced,
  and that path's calls are what gets logged.
- AppArmor: the profile's `complain` flag (apparmor="ALLOWED" records). Its `deny` rules (Docker's
  default denials of writes under /proc and /sys) stay enforced: AppArmor enforces deny rules in
  complain mode too (aa-complain(8)), as docker-default does for every container anyway. Its
  capability rules stay the learned set, so on an AppArmor host a capability beyond it is
  logged too.

Everything else a run line sets cannot log: a capability outside the set, a set-id exec under
no-new-privileges, a write to a read-only root, a fork over the pids limit, a root-only path
under --user, a connection under --network none each fail with an errno and leave no record.
So complain mode sets none of them beyond what Docker gives every container (`RULES`, one row
per option: what the learned policy does, what complain mode does, why). What the container is
deployed with (its volumes, network, aliases, DNS, name, the recording's own options) is kept:
those are the deployment, not restrictions, and the same named volumes carry the data over to
the enforced policy at promotion.

The consequence, said wherever complain mode is explained: capabilities and hardening options
are learned from the training run (and from `record --container`/`--match` attached to
production, at the recorder's cost), never from harvested logs.

`relax(policy)` gives the Policy the container formats (run.sh, compose, the project override,
k8s.yaml, caps.txt) render in complain mode; seccomp and AppArmor render the learned policy
itself with their complain switch. Pure.
"""

from __future__ import annotations

from dataclasses import replace

from ..kernel.linux import DOCKER_DEFAULT_CAPS, PODMAN_DEFAULT_CAPS
from .hardening import Decision
from .reduce import Policy

# (option, what the learned (enforced) policy does, what complain mode does, why). The one home
# of these decisions: emit --explain prints it, docs/ci-recipe.md cites it.
RULES: tuple[tuple[str, str, str, str], ...] = (
    ("seccomp", "refuses what was not seen (EPERM)",
     "logs it (SCMP_ACT_LOG; every host sub-architecture listed); ENOSYS answers kept",
     "the kernel writes an audit record (type=1326) that harvest reads; an ENOSYS answer breaks "
     "nothing (libc falls back) and the enforced policy gives the same, so production takes "
     "the path it will take enforced"),
    ("AppArmor", "refuses paths, sockets and capabilities not seen",
     "complain flag: logs them (apparmor=\"ALLOWED\"); Docker's deny rules stay enforced",
     "AppArmor enforces deny rules in complain mode too (aa-complain(8)); they are Docker's "
     "default denials, which every container has"),
    ("capabilities", "--cap-drop ALL, --cap-add the ones granted in training",
     "--cap-drop ALL, --cap-add Docker's default set plus the ones granted in training",
     "a refused capability is EPERM with no record; with Docker's default set the app gets what "
     "plain `docker run` gives it. On an AppArmor host a capability beyond the learned set is "
     "logged by the AppArmor profile; elsewhere only the recorder sees it (record --container)"),
    ("no-new-privileges", "set when no set-id or file-capability exec was seen",
     "not set (Docker's default)",
     "a set-id exec it blocks just runs without privilege and fails later, with no record"),
    ("read-only root and its tmpfs", "read-only when every write went to a tmpfs or volume",
     "writable root, no tmpfs (Docker's default); the volumes are kept",
     "EROFS leaves no record; the same named volumes keep the data across the promotion"),
    ("pids limit", "a limit with headroom over the peak seen",
     "no limit (Docker's default)", "EAGAIN at fork leaves no record"),
    ("user", "a non-root --user when the app ran as one",
     "the image's USER (Docker's default)",
     "EACCES or EPERM on a root-only path leaves no record"),
    ("network none", "--network none when no IP socket was opened",
     "the recorded network, else Docker's default bridge",
     "a connection refused by a missing network leaves no record"),
)

_WHY = {r[0]: r[3] for r in RULES}

# The head of every complain-mode container file (run.sh, compose.yaml, the override, k8s.yaml).
HEADER: tuple[str, ...] = (
    "COMPLAIN MODE (emit --complain): for deploying while production finishes the training.",
    "seccomp logs what the learned rules do not allow (SCMP_ACT_LOG) and AppArmor complains",
    "instead of refusing; what cannot log is at Docker's default, under \"Not applied\" with why.",
    "The container runtime's own calls before the entrypoint (runc init) are logged too:",
    "profiler harvest leaves them out. Then: profiler harvest, profiler diff, profiler promote.",
)


def _off(label: str, learned: Decision) -> Decision:
    was = f"the enforced policy sets it ({learned.evidence})" if learned.apply else \
        "the enforced policy does not set it either"
    return Decision(False, "", f"complain mode: not set, as Docker's default; {_WHY[label]}; "
                               f"{was}")


def default_caps(policy: Policy) -> tuple[str, ...]:
    """The recording engine's default capability set (CAP_ names)."""
    return tuple(sorted(PODMAN_DEFAULT_CAPS if policy.engine == "podman" else DOCKER_DEFAULT_CAPS))


def relax(policy: Policy) -> Policy:
    """The policy the container formats render in complain mode: capabilities are the
    engine's default set plus the learned ones, no hardening option that cannot log (RULES).
    `learned` keeps the policy it relaxes (its capabilities say which were granted in
    training). Idempotent."""
    if policy.learned is not None:
        return policy
    h = policy.hardening
    relaxed = replace(
        h,
        no_new_privileges=_off("no-new-privileges", h.no_new_privileges),
        read_only=_off("read-only root and its tmpfs", h.read_only),
        tmpfs=(), tmpfs_spare=(), tmpfs_why=(),
        pids_limit=_off("pids limit", h.pids_limit),
        user=_off("user", h.user),
        network_none=_off("network none", h.network_none),
    )
    caps = policy.capabilities if policy.keep_default_caps else \
        tuple(sorted(set(default_caps(policy)) | set(policy.capabilities)))
    return replace(policy, hardening=relaxed, capabilities=caps, keep_default_caps=False,
                   learned=policy)


def cap_reason(policy: Policy, cap: str) -> str | None:
    """Why a capability is in a complain-mode set (None: not complain mode, or learned)."""
    if policy.learned is None or cap in policy.learned.capabilities:
        return None
    return f"{cap}: in Docker's default set, kept in complain mode (a refused capability is " \
           f"not logged)"

"""Policy -> Kubernetes (templates/k8s.yaml.j2): a Security Profiles Operator `SeccompProfile`
with the same syscalls as seccomp.json, and a Pod whose container securityContext carries the
capabilities, the seccomp profile and what else the evidence supports.

SPO's SeccompProfile (api/seccompprofile/v1beta1) has no `comment` per syscall rule and lists
`architectures` (no archMap), so the rules are those of the Docker profile minus comments.
The operator installs the profile on each node as `operator/<namespace>/<name>.json`.
"""

from __future__ import annotations

import re

import yaml

from ..reduce import Policy
from . import caps as caps_render
from . import seccomp as seccomp_render
from . import templating
from .run import not_applied, require_image

SPO_API = "security-profiles-operator.x-k8s.io/v1beta1"
NAMESPACE = "default"


def _spo_rules(policy: Policy, arg_filters: bool) -> str:
    rules = []
    for r in seccomp_render.syscall_rules(policy, arg_filters=arg_filters):
        rule = {"names": r["names"], "action": r["action"]}
        if "errnoRet" in r:
            rule["errnoRet"] = r["errnoRet"]
        if "args" in r:
            rule["args"] = r["args"]
        rules.append(rule)
    return yaml.safe_dump(rules, default_flow_style=False, sort_keys=False, width=100)


def _uid_gid(policy: Policy) -> tuple[int | None, int | None]:
    """Numeric user and group for runAsUser/runAsGroup (kubelet cannot check a user name)."""
    value = policy.hardening.user.value if policy.hardening.user.apply else ""
    m = re.fullmatch(r"(\d+)(?::(\d+))?", value)
    if m:
        return int(m.group(1)), int(m.group(2)) if m.group(2) else None
    if policy.hardening.user.apply and len(policy.uids) == 1:
        return policy.uids[0], policy.gids[0] if len(policy.gids) == 1 else None
    return None, None


def render(policy: Policy, *, complain: bool = False, arg_filters: bool = True) -> str:
    image = require_image(policy)
    h = policy.hardening
    uid, gid = _uid_gid(policy)
    ports = sorted({(p, "TCP") for f, _, p in policy.listening if f in ("AF_INET", "AF_INET6")})
    tmpfs = [d for d, _ in h.tmpfs] if h.read_only.apply else []
    rules = _spo_rules(policy, arg_filters)
    return templating.render(
        "k8s.yaml.j2",
        name=policy.name,
        runs=policy.runs,
        image=image,
        command=list(policy.command),
        api=SPO_API,
        namespace=NAMESPACE,
        default_action="SCMP_ACT_LOG" if complain else "SCMP_ACT_ERRNO",
        architectures=[seccomp_render.sctab.OCI_ARCH[a] for a in seccomp_render.arches(policy)],
        rules=rules.rstrip("\n").splitlines(),
        caps=caps_render.cap_names(policy),
        keep_default_caps=policy.keep_default_caps,
        h=h,
        uid=uid,
        gid=gid,
        ports=ports,
        tmpfs=tmpfs,
        # emptyDir volumes are group-owned by fsGroup: a non-root app can then write there
        fs_group=gid if tmpfs and gid is not None else (uid if tmpfs and uid else None),
        not_applied=not_applied(policy),
    )

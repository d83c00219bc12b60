"""Policy -> Kubernetes (templates/k8s.yaml.j2): a Security Profiles Operator `SeccompProfile`
with the same syscalls as seccomp.json, and a Pod whose container securityContext carries the
capabilities, the seccomp profile and what else the evidence supports, plus what replaces the
things Docker gives a container and a Kubernetes node's runtime does not (docs/k8s.md), and
the Pod Security Standards verdict on the pod (profiler/policy/pss.py).

SPO's SeccompProfile v1 (its CRD: deploy/base-crds/crds/seccompprofile.yaml, vendored in
tests/schemas/) is cluster-scoped, has no `comment` per syscall rule and lists
`architectures` (no archMap), so the rules are those of the Docker profile minus comments.
The operator installs the profile on each node as `operator/<name>.json` (SPO
installation-usage.md, "Use Seccomp profile").
"""

from __future__ import annotations

import re

import yaml

from ..kernel.linux import cap_full
from ..policy import complain as complain_mode
from ..policy import docker_defaults, pss
from ..policy.reduce import Policy
from . import caps as caps_render
from . import seccomp as seccomp_render
from . import templating
from .container import not_applied, require_image

SPO_API = "security-profiles-operator.x-k8s.io/v1"
NAMESPACE = "default"  # the Pod's; the SeccompProfile (v1) is cluster-scoped
# What Docker gives a container that the pod must set itself: policy/docker_defaults.py.
UNPRIVILEGED_PORT_SYSCTL = docker_defaults.UNPRIVILEGED_PORT_SYSCTL


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


def pod(policy: Policy) -> dict:
    """The Pod object k8s.yaml holds, as a dict."""
    docs = list(yaml.safe_load_all(_render(policy, False, True, [])))
    return next(d for d in docs if d and d.get("kind") == "Pod")


def pss_verdict(policy: Policy) -> pss.Verdict:
    """The Pod Security Standards verdict on the pod emit renders for this Policy (k8s.yaml's
    Pod); run.sh and compose.yaml state it too, for the same container on a cluster."""
    return pss.check_pod(pod(policy), pss.policy_evidence(policy))


def render(policy: Policy, *, complain: bool = False, arg_filters: bool = True) -> str:
    if complain:  # the settings that cannot log are Docker's defaults (policy/complain.py)
        policy = complain_mode.relax(policy)
    return _render(policy, complain, arg_filters, pss_verdict(policy).lines())


def _render(policy: Policy, complain: bool, arg_filters: bool, pss_lines: list[str]) -> str:
    image = require_image(policy)
    h = policy.hardening
    uid, gid = _uid_gid(policy)
    ports = sorted({(p, "TCP") for f, _, p in policy.listening if f in ("AF_INET", "AF_INET6")})
    relied = docker_defaults.relied_on(policy)
    # The run line's volumes are writable directories too (emptyDir here: a PersistentVolumeClaim
    # is the cluster's choice for data that must outlive the pod).
    tmpfs = sorted([d for d, _ in h.tmpfs] + [v.target for v in h.volumes
                                              if v.kind in ("named", "anonymous")]) \
        if h.read_only.apply else []
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
        architectures=[seccomp_render.sctab.OCI_ARCH[a]
                       for a in seccomp_render.arches(policy, complain=complain)],
        rules=rules.rstrip("\n").splitlines(),
        caps=(docker_defaults.default_caps(policy) if policy.keep_default_caps
              else caps_render.cap_names(policy)),
        cap_notes=[caps_render.reason(policy, n) for n in caps_render.cap_names(policy)
                   if policy.file_capability_of(cap_full(n))
                   or n in caps_render.added_notes(policy)],
        keep_default_caps=policy.keep_default_caps,
        caps_noted=bool(caps_render.added_notes(policy)) and not policy.keep_default_caps,
        h=h,
        uid=uid,
        gid=gid,
        ports=ports,
        tmpfs=tmpfs,
        # emptyDir volumes are group-owned by fsGroup: a non-root app can then write there
        fs_group=gid if tmpfs and gid is not None else (uid if tmpfs and uid else None),
        relied=relied,
        sysctls=[r for r in relied if r.sysctl],
        pss=pss_lines,
        not_applied=not_applied(policy),
        complain_header=complain_mode.HEADER if complain else (),
    )

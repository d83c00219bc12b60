"""Pod Security Standards: does the emitted pod meet `baseline` and `restricted`, and for each
control it fails, why (the evidence) and what would fix it.

The controls and their allowed values are those of the Kubernetes documentation "Pod Security
Standards" (kubernetes.io/docs/concepts/security/pod-security-standards/, as of Kubernetes
1.30), for the fields profiler emits: capabilities, privilege escalation, running as non-root,
seccomp, AppArmor, sysctls and volume types. Fields profiler never sets (hostNetwork, hostPath,
privileged, hostPorts, procMount, SELinux, Windows) pass by construction and are not listed.

`check_pod` reads a Pod as a dict (what k8s.yaml holds), so the check is of the object itself;
`render/k8s.py` (`pss_verdict`) renders the Policy's pod and checks it, for the run and compose
outputs too, which would be the same container on a cluster. This module imports no renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

# baseline: "Capabilities": adding beyond this set is forbidden.
BASELINE_CAPS = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                           "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
                           "SYS_CHROOT"})
# baseline: "Sysctls": the safe set. Sources: the Pod Security Standards page (above) and
# kubelet's own list, pkg/kubelet/sysctl/safe_sysctls.go (kubernetes/kubernetes; a sysctl
# outside it needs the node's --allowed-unsafe-sysctls, or kubelet refuses the pod). The first
# five are safe in every version (pod-security-admission policy/check_sysctls.go, "1.0+";
# ping_group_range since 1.18, ip_unprivileged_port_start since 1.22);
# ip_local_reserved_ports came in 1.27 and the tcp_keepalive_*/tcp_fin_timeout ones in 1.29.
SAFE_SYSCTLS = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                          "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                          "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                          "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                          "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"})
# restricted: "Volume Types" allowed.
RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                "persistentVolumeClaim", "projected", "secret"})


@dataclass(frozen=True)
class Finding:
    level: str  # "baseline" or "restricted": the first level the pod fails by this control
    control: str  # the control's name in the standard
    reason: str  # why, with the recording's evidence
    fix: str


@dataclass(frozen=True)
class Verdict:
    baseline: bool
    restricted: bool
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()  # what the pod sets that the levels allow, and why it is set

    def lines(self) -> list[str]:
        """Plain lines for a comment block or a terminal."""
        out = [f"baseline: {'meets' if self.baseline else 'fails'}; "
               f"restricted: {'meets' if self.restricted else 'fails'}"]
        out += [f"{f.level} / {f.control}: {f.reason}; fix: {f.fix}" for f in self.findings]
        out += list(self.notes)
        return out


def check_pod(pod: dict, evidence: dict[str, str] | None = None) -> Verdict:
    """The pod's verdict. evidence: control -> what the recording saw, to say why."""
    evidence = evidence or {}
    spec = pod.get("spec") or {}
    psc = spec.get("securityContext") or {}
    found: list[Finding] = []

    def fail(level, control, reason, fix):
        seen = evidence.get(control)
        found.append(Finding(level, control, reason + (f" ({seen})" if seen else ""), fix))

    for c in spec.get("containers") or ():
        sc = c.get("securityContext") or {}
        caps = sc.get("capabilities") or {}
        added = sorted(set(caps.get("add") or ()))
        beyond = [a for a in added if a not in BASELINE_CAPS]
        if beyond:
            fail("baseline", "Capabilities", f"adds {', '.join(beyond)}",
                 "drop them if the app can do without (profiler verify --minimize tries)")
        if "ALL" not in (caps.get("drop") or ()):
            fail("restricted", "Capabilities", "does not drop ALL", "drop ALL")
        extra = [a for a in added if a != "NET_BIND_SERVICE" and a in BASELINE_CAPS]
        if extra:
            fail("restricted", "Capabilities",
                 f"adds {', '.join(extra)} (only NET_BIND_SERVICE may be added)",
                 "run as a non-root user that owns its files, so that no capability is needed")
        if sc.get("allowPrivilegeEscalation") is not False:
            fail("restricted", "Privilege Escalation",
                 "allowPrivilegeEscalation is not false",
                 "avoid set-uid/set-gid programs so that profiler can set it")
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        if non_root is not True:
            fail("restricted", "Running as Non-root", "runAsNonRoot is not true",
                 "run the app as a non-root user (USER in the image)")
        if uid == 0:
            fail("restricted", "Running as Non-root user", "runAsUser is 0",
                 "a non-zero runAsUser")
        for where, prof in (("container", sc.get("seccompProfile")),
                            ("pod", psc.get("seccompProfile"))):
            if prof and prof.get("type") == "Unconfined":
                fail("baseline", "Seccomp", f"{where} seccompProfile is Unconfined",
                     "Localhost or RuntimeDefault")
        if not (sc.get("seccompProfile") or psc.get("seccompProfile")):
            fail("restricted", "Seccomp", "no seccompProfile", "Localhost or RuntimeDefault")
        aa = sc.get("appArmorProfile") or psc.get("appArmorProfile")
        if aa and aa.get("type") == "Unconfined":
            fail("baseline", "AppArmor", "appArmorProfile is Unconfined",
                 "Localhost or RuntimeDefault, or leave it unset")
    notes = []
    for s in psc.get("sysctls") or ():
        if s.get("name") not in SAFE_SYSCTLS:
            fail("baseline", "Sysctls", f"sets {s.get('name')}, not a safe sysctl (kubelet "
                 f"refuses the pod unless the node allows it: --allowed-unsafe-sysctls)",
                 "only the safe sysctls")
        else:
            seen = evidence.get(f"Sysctls:{s.get('name')}")
            notes.append(f"Sysctls: {s.get('name')}" + (f", as Docker sets it ({seen})"
                                                       if seen else "")
                         + ": a safe sysctl, baseline and restricted allow it")
    for v in spec.get("volumes") or ():
        kinds = [k for k in v if k != "name"]
        if any(k not in RESTRICTED_VOLUMES for k in kinds):
            fail("restricted", "Volume Types", f"volume {v.get('name')} is {', '.join(kinds)}",
                 "emptyDir, configMap, secret, projected or a persistentVolumeClaim")
    levels = {f.level for f in found}
    return Verdict(baseline="baseline" not in levels, restricted=not levels,
                   findings=tuple(found), notes=tuple(notes))


def policy_evidence(policy) -> dict[str, str]:
    """control -> what the recording saw (for the reasons)."""
    ev = {}
    learned = policy.learned if policy.learned is not None else policy  # complain mode
    if learned.capabilities:
        used = [c for c in learned.capabilities if c not in learned.generalised_capabilities]
        ev["Capabilities"] = "; ".join(
            ([f"granted during the recording: {', '.join(used)}"] if used else [])
            + ([f"added for root beside the app's user: "
                f"{', '.join(learned.generalised_capabilities)}"]
               if learned.generalised_capabilities else []))
    if policy.learned is not None:  # complain mode (policy/complain.py)
        ev["Capabilities"] = "; ".join(filter(None, (ev.get("Capabilities"), (
            "complain mode adds Docker's default set (a refused capability is not logged)"))))
    if 0 in policy.uids:
        ev["Running as Non-root"] = "uid 0 seen in the recording"
    if not policy.hardening.no_new_privileges.apply:
        ev["Privilege Escalation"] = policy.hardening.no_new_privileges.evidence
    from .docker_defaults import relied_on

    for r in relied_on(policy):  # Docker's defaults the pod sets (evidence per sysctl)
        if r.sysctl:
            ev[f"Sysctls:{r.sysctl[0]}"] = "the app " + r.evidence
    return ev

"""What Docker gives every container that a Kubernetes node's runtime does not, and which of
those the recording shows the app relied on.

profiler records under Docker. A pod runs the same image through the node's CRI runtime
(containerd's CRI plugin or CRI-O), which sets the container up differently (docs/k8s.md has the
whole table, with sources). Each default below is carried into k8s.yaml only when the evidence
shows the app used it, with that evidence, and the Pod Security Standards verdict
(profiler/policy/pss.py) judges what k8s.yaml then sets:

- net.ipv4.ip_unprivileged_port_start=0 and net.ipv4.ping_group_range="0 2147483647": Docker
  sets both in every container with its own network namespace (moby daemon/oci_linux.go,
  WithSysctls, since 20.10; both seen on our hosts: NOTES.md). containerd 1.x sets them only
  with enable_unprivileged_ports / enable_unprivileged_icmp (default false; true from 2.0),
  CRI-O only through default_sysctls. Evidence: a listening port below 1024; an ICMP datagram
  socket (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), or ICMPV6 on AF_INET6: "ping sockets",
  allowed by gid through ping_group_range whatever the capabilities, net/ipv4/ping.c). Both are
  safe sysctls (pss.SAFE_SYSCTLS): the pod sets them and stays within baseline and restricted.
- Docker's default capability set, when the recording could not say which capabilities the app
  used (emit --caps-unknown keep-default): CRI-O's default set is smaller (crio.conf
  default_capabilities: no NET_RAW, MKNOD, SYS_CHROOT, AUDIT_WRITE, SETFCAP), so the pod adds
  the recording engine's set explicitly instead of trusting the node's.
- /dev/shm (64 MiB per container under Docker; per pod, shared by its containers, under
  containerd and CRI-O), the resolver (Docker's resolv.conf or embedded DNS vs. the cluster's
  DNS, dnsPolicy ClusterFirst), /etc/hosts and the hostname (kubelet writes its own): nothing a
  pod field restores, so k8s.yaml says what differs where the app used them.

Not carried, because a recording holds no evidence for them: the open-file limit (Docker's
containers inherit dockerd's, often 1048576; containerd 2.0's unit no longer raises it), which
the recorder does not measure.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..kernel.linux import DOCKER_DEFAULT_CAPS, PODMAN_DEFAULT_CAPS, cap_short

UNPRIVILEGED_PORT_SYSCTL = "net.ipv4.ip_unprivileged_port_start"
PING_GROUP_SYSCTL = "net.ipv4.ping_group_range"
PING_GROUP_ALL = "0 2147483647"  # Docker's value: every gid may open a ping socket
# (family, protocol) of an ICMP datagram socket: IPPROTO_ICMP 1, IPPROTO_ICMPV6 58
# (include/uapi/linux/in.h, in6.h).
ICMP_DATAGRAM = frozenset({("AF_INET", 1), ("AF_INET6", 58)})
# (not nsswitch.conf: getpwnam() reads it too, for user names)
_RESOLVER = ("/etc/resolv.conf", "/etc/gai.conf", "/etc/host.conf")


@dataclass(frozen=True)
class Reliance:
    """A Docker default the app relied on, and what k8s.yaml does about it."""

    what: str  # the default, in Docker's terms
    evidence: str  # what the recording saw
    k8s: str  # what k8s.yaml sets or says instead
    sysctl: tuple[str, str] | None = None  # (name, value) the pod sets


def relied_on(policy) -> tuple[Reliance, ...]:
    """Every Docker default the merged recordings show the app relied on (reduce.Policy)."""
    out = []
    low = sorted({p for f, _, p in policy.listening if f in ("AF_INET", "AF_INET6") and 0 < p < 1024})
    if low:
        out.append(Reliance(
            f"{UNPRIVILEGED_PORT_SYSCTL}=0",
            f"listened on port {', '.join(map(str, low))}",
            "the pod sets the same sysctl (safe: baseline and restricted allow it); without it "
            "only CAP_NET_BIND_SERVICE binds there",
            (UNPRIVILEGED_PORT_SYSCTL, "0")))
    if policy.icmp_sockets:
        out.append(Reliance(
            f"{PING_GROUP_SYSCTL}={PING_GROUP_ALL}",
            "opened ICMP datagram (ping) sockets: " + ", ".join(
                f"{f} SOCK_DGRAM" for f in policy.icmp_sockets),
            "the pod sets the same sysctl (safe: baseline and restricted allow it); without it "
            "socket() fails with EACCES for every gid",
            (PING_GROUP_SYSCTL, PING_GROUP_ALL)))
    if policy.keep_default_caps:
        engine = "podman" if policy.engine == "podman" else "docker"
        caps = PODMAN_DEFAULT_CAPS if engine == "podman" else DOCKER_DEFAULT_CAPS
        out.append(Reliance(
            f"{engine.capitalize()}'s default capability set ({len(caps)})",
            "capabilities were not recorded (emit --caps-unknown keep-default)",
            "the pod adds that set explicitly: CRI-O's default set is smaller (no NET_RAW, "
            "MKNOD, SYS_CHROOT, AUDIT_WRITE, SETFCAP)"))
    paths = {f.pattern for f in policy.files}
    shm = sorted(p for p in paths if p.startswith("/dev/shm/"))
    if shm:
        out.append(Reliance(
            "a 64 MiB /dev/shm of its own",
            f"used {shm[0]}" + (f" (+{len(shm) - 1} more)" if len(shm) > 1 else ""),
            "containerd and CRI-O give 64 MiB per pod, shared by its containers; for more, "
            "mount an emptyDir (medium: Memory, sizeLimit) at /dev/shm"))
    resolver = [p for p in _RESOLVER if p in paths]
    if resolver:
        out.append(Reliance(
            "the resolver of the Docker network (resolv.conf, embedded DNS for container names)",
            f"read {', '.join(resolver)}",
            "the pod resolves through the cluster DNS (dnsPolicy ClusterFirst): the names the "
            "app looks up must be Services or resolvable from the cluster"))
    if "/etc/hosts" in paths:
        out.append(Reliance(
            "Docker's /etc/hosts (--add-host entries, the container's own name)",
            "read /etc/hosts",
            "kubelet writes the pod's /etc/hosts (its IP and hostname); extra entries are "
            "spec.hostAliases"))
    if "/etc/hostname" in paths:
        out.append(Reliance(
            "the hostname (the container id, or --hostname)",
            "read /etc/hostname",
            "the pod's hostname is its name (or spec.hostname)"))
    return tuple(out)


def default_caps(policy) -> tuple[str, ...]:
    """The recording engine's default set, Docker's spelling (for --caps-unknown keep-default)."""
    caps = PODMAN_DEFAULT_CAPS if policy.engine == "podman" else DOCKER_DEFAULT_CAPS
    return tuple(sorted(cap_short(c) for c in caps))

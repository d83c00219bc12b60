"""Docker defaults a pod does not get on a Kubernetes node (profiler/policy/docker_defaults.py):
each one the recording shows the app relied on is carried into k8s.yaml with its evidence, and
the Pod Security Standards verdict (profiler/policy/pss.py) judges what the pod then sets. The
pod validates against the Kubernetes v1.30 schema subset (tests/render/test_k8s_schemas.py)."""

from __future__ import annotations

from dataclasses import replace

import yaml

from emitcases import recording
from profiler.policy import docker_defaults, pss
from profiler.policy.reduce import reduce
from profiler.recording.model import SocketUse
from profiler.render import k8s
from render.test_k8s_schemas import _validator

PING = ("net.ipv4.ping_group_range", "0 2147483647")


def _pinger(family="AF_INET", protocol=1, **kw):
    """An app that opened an ICMP datagram ("ping") socket, as `ping` does without NET_RAW."""
    rec = recording(names=("socket", "sendto", "recvfrom"), uids=[1000], gids=[1000], **kw)
    return replace(rec, network=replace(rec.network, sockets=(
        SocketUse(family, "SOCK_DGRAM", protocol, 2),)))


def _pod(rec) -> tuple[dict, str]:
    text = k8s.render(reduce([rec]))
    pod = next(d for d in yaml.safe_load_all(text) if d and d.get("kind") == "Pod")
    _validator("pod")[0](pod)
    return pod, text


def test_an_icmp_datagram_socket_carries_dockers_ping_group_range():
    for family, proto in (("AF_INET", 1), ("AF_INET6", 58)):
        pod, text = _pod(_pinger(family, proto))
        sysctls = {s["name"]: s["value"] for s in pod["spec"]["securityContext"]["sysctls"]}
        assert sysctls == {PING[0]: PING[1]}
        assert f"the app opened ICMP datagram (ping) sockets: {family} SOCK_DGRAM" in text
        assert f"{PING[0]}={PING[1]}: opened ICMP datagram" in text  # the header says why
        v = pss.check_pod(pod, pss.policy_evidence(reduce([_pinger(family, proto)])))
        assert v.baseline  # a safe sysctl: the level does not change
        assert any(PING[0] in n and "as Docker sets it" in n and "safe sysctl" in n
                   for n in v.notes)
    # a UDP socket is no ping socket
    pod, _ = _pod(_pinger("AF_INET", 17))
    assert "sysctls" not in (pod["spec"].get("securityContext") or {})


def test_both_sysctls_together_and_the_low_port_evidence():
    rec = _pinger(listening=[("AF_INET", "0.0.0.0", 443)])
    pod, text = _pod(rec)
    names = [s["name"] for s in pod["spec"]["securityContext"]["sysctls"]]
    assert names == ["net.ipv4.ip_unprivileged_port_start", PING[0]]
    assert "# the app listened on port 443" in text


def test_an_unsafe_sysctl_changes_the_pss_level_and_says_why():
    pod = {"spec": {"securityContext": {"sysctls": [{"name": "net.core.somaxconn",
                                                     "value": "4096"}]},
                    "containers": [{"securityContext": {}}]}}
    v = pss.check_pod(pod)
    assert not v.baseline
    (f,) = [f for f in v.findings if f.control == "Sysctls"]
    assert "not a safe sysctl" in f.reason and "--allowed-unsafe-sysctls" in f.reason


def test_shared_memory_resolver_and_hostname_are_said_where_the_app_used_them():
    rec = recording(files=[("/dev/shm/app.1", ["create", "write"]), ("/etc/resolv.conf", ["read"]),
                           ("/etc/hosts", ["read"]), ("/etc/hostname", ["read"])])
    whats = [r.what for r in docker_defaults.relied_on(reduce([rec]))]
    assert any("/dev/shm" in w for w in whats) and any("resolver" in w for w in whats)
    assert any("/etc/hosts" in w for w in whats) and any("hostname" in w for w in whats)
    _, text = _pod(rec)
    # the path as the policy names it: generalised by shape (/dev/shm/**) unless --strict
    assert "used /dev/shm/" in text and "dnsPolicy ClusterFirst" in text
    # nothing used: nothing said (nsswitch.conf alone is user lookup, not name resolution)
    plain = recording(files=[("/etc/nsswitch.conf", ["read"])])
    assert docker_defaults.relied_on(reduce([plain])) == ()
    assert "Docker defaults the recording relied on" not in k8s.render(reduce([plain]))

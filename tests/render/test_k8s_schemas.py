"""k8s.yaml's objects validate against their schemas, without kubectl: the Security Profiles
Operator's own CRD for SeccompProfile v1 (vendored: tests/schemas/spo-seccompprofile-crd.yaml)
and the Kubernetes core/v1 Pod definitions for the fields emit writes
(tests/schemas/k8s-pod-v1.30-subset.json); and the Pod Security Standards verdict
(profiler/policy/pss.py)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import fastjsonschema
import pytest
import yaml

from emitcases import nginx, recording, shell
from profiler.policy import pss
from profiler.policy.reduce import reduce
from profiler.render import compose, k8s, run

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@lru_cache(maxsize=None)
def _validator(name: str):
    if name == "spo":
        crd = yaml.safe_load((SCHEMAS / "spo-seccompprofile-crd.yaml").read_text())
        (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
        assert v1["served"] and v1["storage"]
        return fastjsonschema.compile(v1["schema"]["openAPIV3Schema"]), crd
    return fastjsonschema.compile(json.loads((SCHEMAS / "k8s-pod-v1.30-subset.json").read_text())), None


def _cases():
    return {
        "nginx": nginx(),
        "shell": shell(),
        "non-root": recording(uids=[101], gids=[102], peak=4,
                              files=[("/var/lib/app/db", ["create", "write"])],
                              listening=[("AF_INET", "0.0.0.0", 8080)],
                              sockets=[("AF_INET", "SOCK_STREAM")]),
        "low-port": recording(listening=[("AF_INET", "0.0.0.0", 443)],
                              sockets=[("AF_INET", "SOCK_STREAM")], caps=[("CAP_SYS_ADMIN", 21)]),
    }


def _docs(rec, **kw):
    return list(yaml.safe_load_all(k8s.render(reduce([rec]), **kw)))


@pytest.mark.parametrize("case", sorted(_cases()))
@pytest.mark.parametrize("complain", [False, True])
def test_objects_validate_against_their_schemas(case, complain):
    spo, pod = _docs(_cases()[case], complain=complain)
    check, crd = _validator("spo")
    check(spo)  # raises on any violation
    assert spo["apiVersion"] == f"{crd['spec']['group']}/v1" and spo["kind"] == \
        crd["spec"]["names"]["kind"]
    assert crd["spec"]["scope"] == "Cluster" and "namespace" not in spo["metadata"]
    _validator("pod")[0](pod)


def test_the_schemas_refuse_what_they_should():
    check, _ = _validator("spo")
    spo, pod = _docs(nginx())
    spo["spec"]["defaultAction"] = "SCMP_ACT_MAYBE"
    with pytest.raises(fastjsonschema.JsonSchemaException):
        check(spo)
    pod["spec"]["containers"][0]["securityContext"]["seccompProfile"]["type"] = "Default"
    with pytest.raises(fastjsonschema.JsonSchemaException):
        _validator("pod")[0](pod)
    _, pod = _docs(nginx())
    pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True  # typo
    with pytest.raises(fastjsonschema.JsonSchemaException):
        _validator("pod")[0](pod)


def test_localhost_profile_is_where_spo_installs_it():
    spo, pod = _docs(nginx())
    sc = pod["spec"]["containers"][0]["securityContext"]
    assert sc["seccompProfile"] == {"type": "Localhost",
                                    "localhostProfile": f"operator/{spo['metadata']['name']}.json"}


def test_low_ports_get_the_sysctl_docker_sets():
    _, pod = _docs(_cases()["low-port"])
    assert pod["spec"]["securityContext"]["sysctls"] == [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
    _, pod = _docs(_cases()["non-root"])
    assert "sysctls" not in pod["spec"]["securityContext"]


def test_pss_verdicts_with_reasons_and_fixes():
    v = k8s.pss_verdict(reduce([nginx()]))
    assert (v.baseline, v.restricted) == (True, False)
    by = {f.control: f for f in v.findings}
    assert "uid 0 seen in the recording" in by["Running as Non-root"].reason
    assert "CAP_CHOWN" in by["Capabilities"].reason and by["Capabilities"].fix
    v = k8s.pss_verdict(reduce([_cases()["low-port"]]))
    assert not v.baseline and any(f.level == "baseline" and "SYS_ADMIN" in f.reason
                                  for f in v.findings)
    v = k8s.pss_verdict(reduce([_cases()["non-root"]]))
    assert (v.baseline, v.restricted) == (True, True) and v.findings == ()


def test_pss_on_hand_made_pods():
    base = {"spec": {"containers": [{"name": "a", "securityContext": {
        "capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": False,
        "runAsNonRoot": True, "runAsUser": 5, "seccompProfile": {"type": "RuntimeDefault"}}}]}}
    assert pss.check_pod(base).restricted
    bad = json.loads(json.dumps(base))
    bad["spec"]["securityContext"] = {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}
    bad["spec"]["volumes"] = [{"name": "h", "hostPath": {"path": "/"}}]
    bad["spec"]["containers"][0]["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    controls = {(f.level, f.control) for f in pss.check_pod(bad).findings}
    assert controls == {("baseline", "Sysctls"), ("restricted", "Volume Types"),
                        ("baseline", "Seccomp")}


def test_the_verdict_is_in_every_output():
    p = reduce([nginx()])
    for text in (k8s.render(p), run.render(p), compose.render(p)):
        assert "baseline: meets; restricted: fails" in text
        assert "restricted / Running as Non-root" in text

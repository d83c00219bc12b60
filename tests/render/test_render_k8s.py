"""--format k8s: an SPO SeccompProfile with the seccomp.json rules, and a Pod whose container
securityContext carries capabilities, seccompProfile and what else the evidence supports."""

import yaml

from emitcases import check_golden, nginx, recording, shell
from profiler.policy.reduce import reduce
from profiler.render import k8s, seccomp


def docs(rec, **kw):
    return list(yaml.safe_load_all(k8s.render(reduce([rec]), **kw)))


def test_golden(update_golden):
    check_golden("nginx.k8s.yaml", k8s.render(reduce([nginx()], generalise=False)), update_golden)
    check_golden("shell.k8s.yaml", k8s.render(reduce([shell()], generalise=False)), update_golden)


def test_seccomp_profile_object_matches_json():
    spo, _ = docs(nginx())
    assert spo["apiVersion"] == "security-profiles-operator.x-k8s.io/v1"
    assert spo["kind"] == "SeccompProfile"
    assert spo["spec"]["architectures"] == ["SCMP_ARCH_X86_64"]  # no compat call recorded
    prof = seccomp.profile(reduce([nginx()]))
    assert spo["spec"]["defaultAction"] == prof["defaultAction"]
    strip = [{k: v for k, v in r.items() if k != "comment"} for r in prof["syscalls"]]
    assert spo["spec"]["syscalls"] == strip
    spo, _ = docs(nginx(), complain=True)
    assert spo["spec"]["defaultAction"] == "SCMP_ACT_LOG"
    # complain refuses nothing: every sub-architecture is listed, as in seccomp.json
    assert spo["spec"]["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def test_pod_security_context():
    _, pod = docs(nginx())
    (c,) = pod["spec"]["containers"]
    sc = c["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"],
                                  "add": ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"]}
    assert sc["seccompProfile"] == {"type": "Localhost",
                                    "localhostProfile": "operator/profiler-sample-nginx.json"}
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert "runAsNonRoot" not in sc  # nginx's master ran as root
    assert [m["mountPath"] for m in c["volumeMounts"]] == \
        ["/root", "/run", "/tmp", "/var/lib/nginx", "/var/log/nginx", "/var/tmp"]
    assert all(v["emptyDir"] == {"medium": "Memory"} for v in pod["spec"]["volumes"])
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_non_root_user():
    _, pod = docs(recording(uids=[101], gids=[102]))
    sc = pod["spec"]["containers"][0]["securityContext"]
    assert (sc["runAsNonRoot"], sc["runAsUser"], sc["runAsGroup"]) == (True, 101, 102)
    _, pod = docs(recording(uids=[101], gids=[101], user="app"))
    sc = pod["spec"]["containers"][0]["securityContext"]
    assert sc["runAsUser"] == 101  # a user name cannot be checked by kubelet: the uid seen


def test_shell_pod_args():
    _, pod = docs(shell())
    assert pod["spec"]["containers"][0]["args"] == \
        ["sh", "-c", "echo ok; cat /etc/hostname; sleep 0.1; id -u"]


def test_fs_group_for_non_root_tmpfs():
    _, pod = docs(recording(uids=[100], gids=[101], files=[("/var/lib/app/x", ["create"])]))
    assert pod["spec"]["securityContext"] == {"fsGroup": 101}
    _, pod = docs(nginx())
    assert "fsGroup" not in pod["spec"]["securityContext"]  # root app: nothing to grant

"""Complain mode (profiler/policy/complain.py): everything the learned policy would refuse is
allowed, and logged where the kernel can log it; the options that cannot log are Docker's
defaults in every container format (run.sh, compose, the project override, k8s, caps.txt),
each said with its reason; the volumes stay, so the data carries over to the enforced policy."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from emitcases import nginx
from projectcases import make_project
from profiler.kernel.linux import DOCKER_DEFAULT_CAPS
from profiler.output import project_policy
from profiler.output.registry import RenderOptions, render
from profiler.policy import complain
from profiler.policy.reduce import reduce
from profiler.recording import project
from profiler.render import caps, compose, k8s, run, seccomp

LOGGING_ONLY = ("--read-only", "--pids-limit", "--user", "no-new-privileges", "--tmpfs")


def _enforced():
    p = reduce([nginx()])
    # the fixture's learned policy applies the options complain mode must leave out
    h = p.hardening
    assert h.read_only.apply and h.pids_limit.apply and h.no_new_privileges.apply and h.tmpfs
    return p


def test_relax_leaves_every_option_that_cannot_log_at_dockers_default():
    p = _enforced()
    r = complain.relax(p)
    h = r.hardening
    for d in (h.no_new_privileges, h.read_only, h.pids_limit, h.user, h.network_none):
        assert not d.apply and d.evidence.startswith("complain mode:")
    assert h.tmpfs == () and h.tmpfs_spare == ()
    assert h.volumes == p.hardening.volumes  # the data's home is the enforced policy's
    assert set(r.capabilities) == set(DOCKER_DEFAULT_CAPS) | set(p.capabilities)
    assert r.learned is p and complain.relax(r) is r  # idempotent
    # what seccomp and AppArmor filter is untouched
    assert r.syscalls == p.syscalls and r.files == p.files


def test_run_line_in_complain_mode_sets_nothing_that_cannot_log(tmp_path):
    p = _enforced()
    enforced = run.render(p)
    text = run.render(p, complain=True)
    assert "--read-only" in enforced and "--pids-limit" in enforced
    words = run.docker_args(complain.relax(p))
    for opt in LOGGING_ONLY:
        assert opt not in " ".join(words), opt
    added = {words[i + 1] for i, w in enumerate(words) if w == "--cap-add"}
    assert added == {c.removeprefix("CAP_") for c in set(DOCKER_DEFAULT_CAPS) | set(p.capabilities)}
    assert "type=volume,source=" in " ".join(words)  # /var/lib/nginx's named volume stays
    # each decision is said in the file, with its reason
    assert "--read-only: complain mode: not set, as Docker's default; EROFS leaves no record" in text
    assert "in Docker's default set, kept in complain mode" in text
    assert "was granted during the recording" in text  # the learned ones say so
    # the Pod Security Standards lines tell the learned capabilities from the kept ones
    assert "granted during the recording: CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_SETGID, CAP_SETUID; " \
           "complain mode adds Docker's default set" in text


def test_seccomp_logs_what_it_would_refuse_and_keeps_the_learned_rules():
    p = _enforced()
    enforced, logging = seccomp.profile(p), seccomp.profile(p, complain=True)
    assert logging["defaultAction"] == "SCMP_ACT_LOG" and "defaultErrnoRet" not in logging
    assert logging["syscalls"] == enforced["syscalls"]
    seccomp.build_filters(logging)


def test_compose_and_k8s_in_complain_mode():
    p = _enforced()
    svc = next(iter(yaml.safe_load(compose.render(p, complain=True))["services"].values()))
    assert "read_only" not in svc and "pids_limit" not in svc and "user" not in svc
    assert not any("no-new-privileges" in o for o in svc["security_opt"])
    assert set(svc["cap_add"]) >= {c.removeprefix("CAP_") for c in DOCKER_DEFAULT_CAPS}
    docs = list(yaml.safe_load_all(k8s.render(p, complain=True)))
    spo = next(d for d in docs if d["kind"] == "SeccompProfile")
    sc = next(d for d in docs if d["kind"] == "Pod")["spec"]["containers"][0]["securityContext"]
    assert spo["spec"]["defaultAction"] == "SCMP_ACT_LOG"
    assert "readOnlyRootFilesystem" not in sc and "allowPrivilegeEscalation" not in sc
    assert set(sc["capabilities"]["add"]) >= {c.removeprefix("CAP_") for c in DOCKER_DEFAULT_CAPS}
    enforced = next(d for d in yaml.safe_load_all(k8s.render(p)) if d["kind"] == "Pod")
    assert enforced["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_caps_file_in_complain_mode_matches_the_run_line():
    p = _enforced()
    text = caps.render(p, complain=True)
    assert text.startswith("# complain mode")
    assert "--cap-add MKNOD" in text and "--cap-add MKNOD" not in caps.render(p)


def test_all_formats_render_and_self_check_in_complain_mode():
    texts = render(_enforced(), ["seccomp", "apparmor", "caps", "run", "compose", "k8s", "label"],
                   RenderOptions(complain=True))
    assert json.loads(texts["seccomp"])["defaultAction"] == "SCMP_ACT_LOG"
    assert "complain) {" in texts["apparmor"]
    for fmt in ("run", "compose", "k8s"):  # each container file says what it is, at its head
        assert "# COMPLAIN MODE (emit --complain)" in texts[fmt], fmt
        assert "runc init) are logged too" in texts[fmt], fmt
    enforced = render(_enforced(), ["run", "compose", "k8s"])
    assert not any("COMPLAIN" in t for t in enforced.values())
    # AppArmor keeps the learned capabilities: a capability beyond them is logged (ALLOWED)
    assert "capability mknod," not in texts["apparmor"]


def test_project_override_in_complain_mode_keeps_the_volumes(tmp_path):
    d = make_project(tmp_path / "rec")
    idx = project.read(d)
    services = project_policy.policies(d, idx, formats=["compose"])
    out = Path("/policy")
    enforced = yaml.safe_load(project_policy.files(services, ["compose"], out, project=idx,
                                                   source="s")["compose.security.yaml"])
    logging = yaml.safe_load(project_policy.files(
        services, ["compose"], out, project=idx, source="s",
        options=RenderOptions(complain=True))["compose.security.yaml"])
    assert enforced["services"]["cache"]["user"] == "redis"
    assert "user" not in logging["services"]["cache"]
    text = project_policy.files(services, ["compose"], out, project=idx, source="s",
                                options=RenderOptions(complain=True))["compose.security.yaml"]
    assert "# COMPLAIN MODE (emit --complain)" in text
    for name, svc in logging["services"].items():
        assert "read_only" not in svc and "pids_limit" not in svc and "tmpfs" not in svc
        assert enforced["services"][name].get("volumes") == svc.get("volumes"), name
    assert logging.get("volumes") == enforced.get("volumes")

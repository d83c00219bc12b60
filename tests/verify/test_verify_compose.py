"""`profiler verify --compose` without root: the inputs it reads (the override, the project's
compose file, each service's policy directory), the report per service from a record_match
outcome, the run's order (up under the override as COMMAND, down afterwards, also on
failure), and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from emitcases import nginx
from projectcases import default_recordings, make_project
from profiler.session import compose_cli, session
from profiler.verify import verify_compose
from profiler.recording.aggregate import DeniedSyscall, Denials
from profiler.errors import UsageError, WorkloadError
from profiler.session.session import MatchOutcome, ServiceOutcome
from emitcases import assert_one_line_error

PROFILER = [sys.executable, "-m", "profiler.cli"]


@pytest.fixture
def policy(tmp_path) -> Path:
    """An emitted project (web, app, cache) and a compose file with those services."""
    rec = make_project(tmp_path / "rec")
    out = tmp_path / "out"
    proc = subprocess.run([*PROFILER, "emit", str(rec), "--format", "all", "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(
        {"services": {s: {"image": f"shop-{s}"} for s in ("web", "app", "cache")}}))
    return out


def _outcome(denied: dict | None = None, services=("web", "app", "cache"), status=0):
    recs = default_recordings()
    denied = denied or {}
    return MatchOutcome(project=None, services=tuple(
        ServiceOutcome(s, recs[s], (), Denials(syscalls=tuple(denied.get(s, ()))))
        for s in services), workload_status=status)


def test_read_policies_takes_every_service_of_the_override(policy):
    pols, _ = verify_compose.read_policies(policy, policy.parent / "compose.yaml")
    assert sorted(pols) == ["app", "cache", "web"]
    assert pols["web"].cap_add == ("CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID")


def test_what_the_compose_file_grants_beyond_the_override_is_noted(policy):
    (policy.parent / "compose.yaml").write_text(yaml.safe_dump({"services": {
        "web": {"image": "x", "privileged": True, "cap_add": ["SYS_ADMIN"]},
        "app": {"image": "y"}, "cache": {"image": "z"}}}))
    _, notes = verify_compose.read_policies(policy, policy.parent / "compose.yaml")
    assert notes == ["web: compose.yaml sets privileged, cap_add; the override adds to that, "
                     "it cannot take it away (remove them from compose.yaml)"]


def test_a_service_the_compose_file_lacks_is_refused(policy):
    (policy.parent / "compose.yaml").write_text("services:\n  web: {image: x}\n")
    with pytest.raises(UsageError) as e:
        verify_compose.read_policies(policy, policy.parent / "compose.yaml")
    assert "app, cache" in e.value.message


def test_report_names_each_services_denials(policy):
    pols, _ = verify_compose.read_policies(policy, policy.parent / "compose.yaml")
    kill = DeniedSyscall("kill", "EPERM", 2, ("/usr/sbin/nginx",))
    r = verify_compose.analyze(pols, _outcome({"web": [kill]}), compose="docker-compose 1.29.2",
                               project="p", workload="true")
    assert not r.passed and r.denials == 1
    by = {s.service: s for s in r.services}
    assert by["web"].denials == 1 and by["app"].denials == 0 and by["cache"].denials == 0
    text = verify_compose.report_text(r)
    assert "service web: 1 denial(s)" in text and "service cache: no denial" in text
    assert "kill denied 2x in /usr/sbin/nginx" in text
    data = json.loads(verify_compose.report_json(r))
    assert data["passed"] is False and data["services"][2]["denials"] == 1


def test_clean_run_passes_and_a_missing_service_or_failed_workload_fails(policy):
    pols, _ = verify_compose.read_policies(policy, policy.parent / "compose.yaml")
    ok = verify_compose.analyze(pols, _outcome(), compose="c", project="p", workload="true")
    assert ok.passed
    gone = verify_compose.analyze(pols, _outcome(services=("web", "app")), compose="c",
                                  project="p", workload="true")
    assert not gone.passed and "service cache: did not run" in verify_compose.report_text(gone)
    failed = verify_compose.analyze(pols, _outcome(status=3), compose="c", project="p",
                                    workload="true")
    assert not failed.passed and "workload: FAILED (exit 3)" in verify_compose.report_text(failed)


@dataclass
class _Calls:
    log: list = field(default_factory=list)


class _Volumes:
    """The engine's side of a verify run: the project's volumes (compose makes them at `up`)."""

    def __init__(self, before=()):
        self.volumes = list(before)
        self.removed: list[tuple[str, bool]] = []

    def project_volumes(self, project):
        return list(self.volumes)

    def remove_project(self, project, volumes=False):
        self.removed.append((project, volumes))
        if volumes:
            self.volumes.clear()
        return True


def test_run_removes_the_volumes_its_project_made_and_keeps_a_users(policy, monkeypatch):
    """Every `verify --compose` of the shop sample left its override's named volume
    (profiler-verify-<hex>_web-var-lib-nginx) behind: 131 were found on the lab host. A project
    with no volume before the run gets every volume from the run: they go with it. A user's
    project name that has volumes already keeps them (they may hold data)."""
    monkeypatch.setattr(compose_cli, "run", lambda *a, **k: None)
    comp = compose_cli.Compose(("docker-compose",), "1.29.2")

    def verify_with(engine, **kw):
        def record_match(*a, **k):
            engine.volumes.append("p_web-var-lib-nginx")  # made by `up`
            return _outcome()
        return verify_compose.run(policy.parent / "compose.yaml", policy,
                                  session.Options(workload="true"), compose=comp,
                                  record_match=record_match, engine=engine, **kw)

    fresh = _Volumes()
    assert verify_with(fresh).passed
    assert fresh.removed and fresh.removed[-1][1] is True and fresh.volumes == []
    users = _Volumes(before=["mine_db-data"])
    assert verify_with(users, project="mine").passed
    assert users.removed == [] and users.volumes == ["mine_db-data", "p_web-var-lib-nginx"]


def test_run_brings_the_project_up_under_the_override_and_down(policy, monkeypatch):
    calls = _Calls()
    monkeypatch.setattr(compose_cli, "run", lambda c, files, name, *a, **k: calls.log.append(
        ("compose", [f.name for f in files], name, a)))

    def record_match(selectors, opts, command, **kw):
        calls.log.append(("match", [str(s) for s in selectors], opts.verify, command))
        return _outcome()

    comp = compose_cli.Compose(("docker-compose",), "1.29.2")
    r = verify_compose.run(policy.parent / "compose.yaml", policy,
                           session.Options(workload="true"),
                           project="shopcheck", compose=comp, record_match=record_match,
                           engine=_Volumes())
    assert r.passed, verify_compose.report_text(r)
    (match, rm, down) = calls.log
    assert match[1] == ["com.docker.compose.project=shopcheck"] and match[2] is True
    assert match[3] == ["docker-compose", "-f", str(policy.parent / "compose.yaml"),
                        "-f", str(policy / "compose.security.yaml"), "-p", "shopcheck",
                        "up", "-d"]
    assert down[0] == "compose" and down[3][0] == "down"
    # the containers go with their anonymous volumes; `down -v` would take named ones too
    assert rm[3] == ("rm", "-f", "-s", "-v") and "-v" not in down[3]


def test_run_when_compose_up_fails_reports_it_and_still_brings_down(policy, monkeypatch):
    downs = []
    monkeypatch.setattr(compose_cli, "run", lambda c, f, name, *a, **k: downs.append(a))

    def record_match(*a, **k):
        raise WorkloadError("docker-compose ... up -d failed (exit 1); nothing was written")

    comp = compose_cli.Compose(("docker-compose",), "1.29.2")
    r = verify_compose.run(policy.parent / "compose.yaml", policy,
                           session.Options(workload="true"),
                           compose=comp, record_match=record_match, engine=_Volumes())
    assert not r.passed and not r.started and "up -d failed" in r.start_error
    assert downs and downs[0][0] == "rm" and downs[-1][0] == "down"
    assert "did not come up under the override" in verify_compose.report_text(r)


def test_cli_bad_input(policy, tmp_path):
    def verify(*args):
        return subprocess.run([*PROFILER, "verify", *map(str, args)], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
    compose = policy.parent / "compose.yaml"
    assert_one_line_error(verify("--compose", compose), "--policy")
    assert_one_line_error(verify("img", "--compose", compose, "--policy", policy), "IMAGE")
    no_override = tmp_path / "bare"
    no_override.mkdir()
    proc = verify("--compose", compose, "--policy", no_override)
    assert proc.returncode == 2
    assert_one_line_error(proc, "compose.security.yaml")
    (policy / "cache" / "seccomp.json").unlink()
    (policy / "cache" / "caps.txt").unlink()
    proc = verify("--compose", compose, "--policy", policy)
    assert proc.returncode == 2
    assert_one_line_error(proc, "cache")


def test_where_apparmor_is_enforced_each_profile_is_loaded_under_the_overrides_name(
        policy, monkeypatch):
    """AppArmor is off on the lab host: the loading is checked with a stand-in kernel, and the
    audit denials of a service are reported in that service."""
    import contextlib
    from profiler.verify import apparmor_kernel
    from profiler.verify.apparmor_audit import Denial

    loads = []
    denial = Denial("1.0:1", "open", "shop-web", "/etc/shadow", "nginx", 10, "r", ())

    @contextlib.contextmanager
    def loaded(text, name):
        loads.append(name)
        yield type("L", (), {"name": name, "denials": lambda self: (
            [denial] if name == "shop-web" else [], False)})()
        loads.append(f"removed {name}")

    monkeypatch.setattr(apparmor_kernel, "enforced", lambda: True)
    monkeypatch.setattr(apparmor_kernel, "loaded", loaded)
    monkeypatch.setattr(compose_cli, "run", lambda *a, **k: None)
    r = verify_compose.run(policy.parent / "compose.yaml", policy,
                           session.Options(workload="true"), project="p",
                           compose=compose_cli.Compose(("docker-compose",), "1.29.2"),
                           record_match=lambda *a, **k: _outcome(), engine=_Volumes())
    assert loads == ["shop-app", "shop-cache", "shop-web",
                     "removed shop-web", "removed shop-cache", "removed shop-app"]
    by = {s.service: s for s in r.services}
    assert [d.path for d in by["web"].report.apparmor_denials] == ["/etc/shadow"]
    assert by["cache"].denials == 0 and not r.passed and "enforced" in r.apparmor

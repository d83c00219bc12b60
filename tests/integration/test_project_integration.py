"""The whole flow on samples/shop, for real (root, Docker, eBPF; run under the lock): record
--match -> emit DIR --format all -> the project up under the emitted override (as a user would
type it) with its workload passing, and per service a negative control refused (a syscall
training never made, through `docker exec`) -> verify --compose passing, and failing with the
denial named in the right service when a service's profile lacks a syscall it needs. With
compose v1 (Debian's docker-compose 1.29) and v2 (the `docker compose` plugin), whichever are
installed (make setup installs both)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from conftest import REPO, SAMPLES
from profiler.session import compose_cli
from profiler.recording import project
from test_record_integration import RUNTIME_SETUP, free_port, run

pytestmark = pytest.mark.root

SHOP = SAMPLES / "shop"
SERVICES = ("app", "cache", "web")


def _compose(version: str) -> compose_cli.Compose:
    found = {f"v{c.major}": c for c in compose_cli.available()}
    if version not in found:
        pytest.skip(f"compose {version} is not installed (make setup installs both)")
    return found[version]


def _down(compose, name: str, files) -> None:
    try:
        compose_cli.run(compose, files, name, "down", "-v", "-t", "2")
    except Exception:
        pass


@pytest.fixture
def shop(require_root, docker_client):
    proc = subprocess.run(["bash", str(REPO / "scripts" / "build-samples.sh"), "shop"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    env = {**os.environ, "PROFILER_SAMPLE_PORT": str(free_port())}
    return env


def _record_and_emit(compose, env, tmp_path):
    name = f"pshop{uuid.uuid4().hex[:8]}"
    rec, pol = tmp_path / "rec", tmp_path / "pol"
    up = compose_cli.command(compose, [SHOP / "compose.yaml"], name, "up", "-d")
    try:
        proc = run(["record", "--match", f"com.docker.compose.project={name}", "--workload",
                    str(SHOP / "workload.sh"), "-o", str(rec), "--", *up], timeout=400, env=env)
    finally:
        _down(compose, name, [SHOP / "compose.yaml"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = project.read(rec)
    assert [s.name for s in index.services] == list(SERVICES)
    for s, r in project.load_recordings(rec, index).items():
        assert r.metadata.startup_observed, s
        assert not {c.name for c in r.syscalls} & RUNTIME_SETUP, s
    proc = run(["emit", str(rec), "--format", "all", "-o", str(pol)])
    assert proc.returncode == 0, proc.stderr
    return rec, pol


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_shop_recorded_emitted_and_run_under_the_override(version, shop, tmp_path):
    compose = _compose(version)
    env = shop
    _, pol = _record_and_emit(compose, env, tmp_path)

    # The override applied as is, by the compose version under test, as a user types it.
    files = [SHOP / "compose.yaml", pol / "compose.security.yaml"]
    name = f"pshopov{uuid.uuid4().hex[:8]}"
    try:
        compose_cli.run(compose, files, name, "up", "-d", env=env)
        wl = subprocess.run([str(SHOP / "workload.sh")], env=env, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert wl.returncode == 0, wl.stderr
        for service in SERVICES:
            cid = subprocess.run(
                ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={name}",
                 "--filter", f"label=com.docker.compose.service={service}"],
                capture_output=True, text=True, check=True).stdout.strip()
            assert cid, f"{service} is not running under the override"
            info = json.loads(subprocess.run(["docker", "inspect", cid], capture_output=True,
                                             text=True, check=True).stdout)[0]["HostConfig"]
            assert info["CapDrop"] == ["ALL"] and info["ReadonlyRootfs"] is True
            assert any(o.startswith("seccomp=") and o != "seccomp=unconfined"
                       for o in info["SecurityOpt"])
            # Negative control: a syscall no service made in training (unshare) is refused.
            neg = subprocess.run(["docker", "exec", cid, "unshare", "-U", "true"],
                                 capture_output=True, text=True, timeout=60)
            assert neg.returncode != 0, service
            assert "Operation not permitted" in neg.stderr, (service, neg.stderr)
    finally:
        _down(compose, name, files)

    # verify --compose: the project under the override, traced, passes.
    proc = run(["verify", "--compose", str(SHOP / "compose.yaml"), "--policy", str(pol),
                "--workload", str(SHOP / "workload.sh"), "--json"], timeout=400,
               env={**env, "PROFILER_COMPOSE": version})
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, (proc.stderr[-3000:], proc.stdout[-3000:])
    assert report["passed"] and report["denials"] == 0 and report["workload_status"] == 0
    assert sorted(s["service"] for s in report["services"]) == list(SERVICES)
    assert report["compose"].startswith(" ".join(compose.argv))
    # nothing of the run's project is left: no container, no network, no volume (the
    # override's named volume for web's /var/lib/nginx was left by every run)
    label = f"label=com.docker.compose.project={report['project']}"
    for what in (["ps", "-aq"], ["network", "ls", "-q"], ["volume", "ls", "-q"]):
        left = subprocess.run(["docker", *what, "--filter", label], capture_output=True,
                              text=True).stdout.strip()
        assert left == "", (what, left)


def test_verify_compose_names_the_service_whose_profile_lacks_a_syscall(shop, tmp_path):
    compose = _compose("v1" if any(c.major == 1 for c in compose_cli.available()) else "v2")
    env = shop
    _, pol = _record_and_emit(compose, env, tmp_path)
    # The cache (redis) waits for clients with epoll_wait: take it out of its profile only.
    path = pol / "cache" / "seccomp.json"
    prof = json.loads(path.read_text())
    for rule in prof["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != "epoll_wait"]
    path.write_text(json.dumps(prof))
    proc = run(["verify", "--compose", str(SHOP / "compose.yaml"), "--policy", str(pol),
                "--workload", str(SHOP / "workload.sh"), "--json"], timeout=400, env=env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    by = {s["service"]: s for s in report["services"]}
    assert "epoll_wait" in {d["syscall"] for d in by["cache"]["report"]["syscalls"]}
    assert by["web"]["denials"] == 0 and by["app"]["denials"] == 0
    left = subprocess.run(["docker", "ps", "-aq", "--filter",
                           f"label=com.docker.compose.project={report['project']}"],
                          capture_output=True, text=True).stdout.strip()
    assert left == ""  # brought down

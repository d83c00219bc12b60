"""`profiler record --match` against the real engine, compose and eBPF (root; must not skip
under CI=true). A small compose project of the local base image: every service recorded from its
entrypoint (the runtime's set-up absent), a service restarted during the recording merged with
both runs' calls, a scaled service's two replicas merged, a container that was already running
attached (with the warning), and a non-matching container running at the same time absent.
Run with compose v1 (`docker-compose`, Debian's 1.29) and the v2 plugin (`docker compose`),
whichever are installed."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from profiler.recording import project
from test_record_integration import BASE_IMAGE, RUNTIME_SETUP, assert_one_line_error, run

pytestmark = pytest.mark.root

# alpha: its first run makes /run1, the run after a restart removes it (rmdir only then);
# beta: renames a file (renameat2, rename) on every start. Both exit on SIGTERM at once.
COMPOSE = """\
services:
  alpha:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; if [ -e /run1 ]; then rmdir /run1; else mkdir /run1; fi; sleep 1000 & wait"]
  beta:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/b && mv /tmp/b /tmp/c; sleep 1000 & wait"]
"""
# What the container that does not match does (and nothing matched does): sync(2)
OTHER = ["sh", "-c", "trap 'exit 0' TERM; sync; sleep 1000 & wait"]


def compose_clis() -> list[list[str]]:
    out = []
    if shutil.which("docker-compose"):
        out.append(["docker-compose"])
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        out.append(["docker", "compose"])
    return out or [["docker-compose"]]  # absent: the test fails (CI) or skips with the reason


def docker(*args: str, check: bool = True) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                          stdin=subprocess.DEVNULL).stdout.strip()


@pytest.fixture
def compose_project(tmp_path, require_root, docker_client):
    name = f"pm{uuid.uuid4().hex[:8]}"
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(image=BASE_IMAGE))
    made: list[str] = []  # containers to remove at the end
    yield name, tmp_path / "compose.yaml", made
    for c in docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}",
                    check=False).split() + made:
        docker("rm", "-f", c, check=False)
    docker("network", "rm", f"{name}_default", check=False)


@pytest.mark.parametrize("cli", compose_clis(), ids=lambda c: " ".join(c))
def test_every_service_of_a_compose_project(cli, compose_project, tmp_path):
    if not shutil.which(cli[0]):
        pytest.skip(f"{cli[0]} is not installed (make setup installs docker-compose)")
    name, compose, made = compose_project
    label = f"com.docker.compose.project={name}"
    # already running when the recording begins: attached
    gamma = f"{name}-gamma"
    docker("run", "-d", "--name", gamma, "--label", label,
           "--label", "com.docker.compose.service=gamma", BASE_IMAGE, "sh", "-c",
           "trap 'exit 0' TERM; while :; do cat /etc/hostname >/dev/null; sleep 0.3 & wait; done")
    made.append(gamma)
    other = f"{name}-other"  # starts during the recording, not matched
    made.append(other)
    workload = (f"set -e; sleep 1; docker run -d --name {other} --label app=other {BASE_IMAGE} "
                f"{' '.join(repr(a) for a in OTHER)} >/dev/null; "
                f"docker restart -t 1 $(docker ps -q --filter label={label} "
                f"--filter label=com.docker.compose.service=alpha) >/dev/null; sleep 2")
    out = tmp_path / "out"
    proc = run(["record", "--match", label, "--workload", workload, "-o", str(out), "--",
                *cli, "-p", name, "-f", str(compose), "up", "-d", "--scale", "beta=2"],
               timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"attaching to {gamma}" in proc.stderr

    index = project.read(out)
    assert index.compose_project == name
    assert [s.name for s in index.services] == ["alpha", "beta", "gamma"]
    assert len(index.service("beta").containers) == 2  # the replicas, one recording
    assert len(index.service("alpha").containers) == 1  # the restart is the same container
    assert [c.attached for c in index.service("gamma").containers] == [True]
    recs = project.load_recordings(out, index)
    calls = {s: {c.name for c in r.syscalls} for s, r in recs.items()}
    for service in ("alpha", "beta"):  # from the entrypoint, without the runtime's set-up
        assert recs[service].metadata.startup_observed
        assert not calls[service] & RUNTIME_SETUP, calls[service] & RUNTIME_SETUP
        assert "/usr/bin/sh" in {e.path for e in recs[service].processes.executables} or \
            "/bin/sh" in {e.path for e in recs[service].processes.executables}
    assert {"mkdir", "rmdir"} <= calls["alpha"]  # the first run's and the restarted one's
    assert calls["beta"] & {"rename", "renameat", "renameat2"}
    assert recs["gamma"].metadata.startup_observed is False
    assert "/usr/bin/cat" in {e.path for e in recs["gamma"].processes.executables}
    assert not any("sync" in c for c in calls.values())  # the other container is absent
    # COMMAND's containers were stopped; the one already running was left alone
    assert docker("ps", "-q", "--filter", f"label={label}",
                  "--filter", "label=com.docker.compose.service=beta") == ""
    assert docker("inspect", "-f", "{{.State.Running}}", gamma) == "true"


def test_nothing_matched_writes_nothing(require_root, docker_client, tmp_path):
    out = tmp_path / "out"
    proc = run(["record", "--match", f"com.docker.compose.project=none{uuid.uuid4().hex[:6]}",
                "--duration", "1", "-o", str(out), "--", "true"])
    assert_one_line_error(proc, 2, "no container matched")
    assert not out.exists()

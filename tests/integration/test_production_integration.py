"""The emitted run line and compose file hold beyond the training run (root, real engine).

For every bundled sample with a `production` workload (samples/*/production.sh: larger bodies,
more concurrency, a restart; heavier than its training workload.sh): record under the training
workload, emit --format all, start the container with the emitted run.sh, and run the
production workload against it; then the same with the emitted compose file, where a compose
command exists (`docker compose` or Debian's `docker-compose`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from conftest import load_sample, sample_names
from profiler.recording import recording_io
from test_record_integration import run, sample_options

pytestmark = pytest.mark.root

PRODUCTION = [n for n in sample_names() if load_sample(n).production]


def test_every_bundled_sample_has_a_production_workload():
    for name in ("nginx", "redis", "probe"):
        sample = load_sample(name)
        assert sample.production and sample.production.is_file(), name
        assert os.access(sample.production, os.X_OK), name
        assert sample.production != sample.workload


def _policy(sample, tmp_path, *extra):
    rec = tmp_path / f"{sample.name}.recording.yaml"
    args, env = sample_options(sample)
    proc = run(["record", sample.image, "-o", str(rec), *args], env=env)
    assert proc.returncode == 0, proc.stderr
    # the recorder timed its first sightings (schema 1.4), and record's summary judged them
    timeline = recording_io.load(rec).timeline
    assert timeline is not None and timeline.duration_ms > 0 and timeline.syscalls
    assert "coverage" in proc.stderr
    policy = tmp_path / "policy"
    proc = run(["emit", str(rec), "--format", "all", "-o", str(policy), *extra])
    assert proc.returncode == 0, proc.stderr
    return policy, env


def _production(sample, env, container: str):
    env = dict(env, PROFILER_CONTAINER_ID=container, PROFILER_CONTAINER_NAME=container)
    return subprocess.run([str(sample.production)], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=600)


def _logs(container: str) -> str:
    p = subprocess.run(["docker", "logs", "--tail", "30", container], capture_output=True,
                       text=True, timeout=30)
    return (p.stdout + p.stderr)[-3000:]


@pytest.mark.parametrize("name", PRODUCTION)
def test_run_sh_holds_under_the_production_workload(name, sample_image, require_root, tmp_path):
    sample = sample_image(name)
    policy, env = _policy(sample, tmp_path)
    container = f"profiler-prod-{name}-{uuid.uuid4().hex[:8]}"
    try:
        start = subprocess.run(["bash", str(policy / "run.sh"), "-d", "--name", container],
                               capture_output=True, text=True, timeout=120)
        assert start.returncode == 0, start.stderr
        proc = _production(sample, env, container)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + _logs(container)
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", container], capture_output=True, timeout=60)
        _remove_volumes(container)


def _remove_volumes(prefix: str) -> None:
    """The named volumes run.sh made for this container (named after it: CONTAINER-<dir>)."""
    names = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name=^{prefix}-"],
                           capture_output=True, text=True, timeout=60).stdout.split()
    if names:
        subprocess.run(["docker", "volume", "rm", "-f", *names], capture_output=True, timeout=60)


def _compose_command() -> list[str] | None:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.parametrize("name", PRODUCTION)
def test_compose_file_holds_under_the_production_workload(name, sample_image, require_root,
                                                         tmp_path):
    compose = _compose_command()
    if compose is None:
        pytest.skip("no `docker compose` or `docker-compose` (Debian: apt-get install "
                    "docker-compose)")
    sample = sample_image(name)
    policy, env = _policy(sample, tmp_path)
    project = f"profprod{name}{uuid.uuid4().hex[:6]}"
    base = [*compose, "-p", project, "-f", str(policy / "compose.yaml")]
    try:
        up = subprocess.run([*base, "up", "-d"], capture_output=True, text=True, timeout=180,
                            cwd=policy)
        assert up.returncode == 0, up.stdout + up.stderr
        ids = subprocess.run([*base, "ps", "-q"], capture_output=True, text=True, timeout=60,
                             cwd=policy).stdout.split()
        if not ids:  # the probe may have exited already: ps -q lists running ones only
            ids = subprocess.run(["docker", "ps", "-aq", "--filter",
                                  f"label=com.docker.compose.project={project}"],
                                 capture_output=True, text=True, timeout=60).stdout.split()
        assert len(ids) == 1, ids
        proc = _production(sample, env, ids[0])
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + _logs(ids[0])
    finally:
        subprocess.run([*base, "down", "-v", "-t", "5"], capture_output=True, timeout=120, cwd=policy)

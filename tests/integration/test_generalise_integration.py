"""Generalisation by kind and risk with the real recorder and engine (root; must not skip under
CI=true): a container recorded while its training step only creates, renames and removes files
then runs its production step, which makes and removes a directory (issue 18: a database
refused mkdir while unlink and rename were allowed), under the emitted run.sh. The default
policy lets it; the --strict one refuses mkdir (the control: the test can fail)."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from test_emit_docker import IMAGE, base_image, docker  # noqa: F401 (fixture)
from test_record_integration import run

pytestmark = pytest.mark.root

# One command for both steps; run.sh passes `-e MODE=production` to docker run.
SCRIPT = ('if [ "$MODE" = production ]; then mkdir /tmp/spill && rmdir /tmp/spill && '
          'echo produced; else touch /tmp/a && mv /tmp/a /tmp/b && rm /tmp/b && echo trained; fi')


@pytest.fixture(scope="module")
def recording(tmp_path_factory, base_image):  # noqa: F811
    from conftest import _bpf_unusable_reason

    if reason := _bpf_unusable_reason():
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("general") / "train.recording.yaml"
    proc = run(["record", base_image, "-o", str(out), "--", "sh", "-c", SCRIPT], timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def _production(policy_dir) -> subprocess.CompletedProcess:
    name = f"profiler-general-{uuid.uuid4().hex[:10]}"
    try:
        return subprocess.run(["bash", str(policy_dir / "run.sh"), "--rm", "--name", name,
                               "-e", "MODE=production"], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
    finally:
        docker("rm", "-f", name)


@pytest.mark.parametrize("strict", [False, True])
def test_production_mkdir_under_run_sh(recording, tmp_path, strict):
    policy = tmp_path / "policy"
    proc = run(["emit", str(recording), "-f", "all", "-o", str(policy),
                *(["--strict"] if strict else [])])
    assert proc.returncode == 0, proc.stderr
    # the training step itself passes under both
    name = f"profiler-general-{uuid.uuid4().hex[:10]}"
    train = subprocess.run(["bash", str(policy / "run.sh"), "--rm", "--name", name],
                           capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
    docker("rm", "-f", name)
    assert train.returncode == 0 and "trained" in train.stdout, train.stderr
    prod = _production(policy)
    if strict:
        assert prod.returncode != 0 and "Operation not permitted" in prod.stderr, \
            prod.stdout + prod.stderr
    else:
        assert prod.returncode == 0 and "produced" in prod.stdout, prod.stdout + prod.stderr

"""Emitted policy under the real engine (runc): the container starts under the seccomp profile
and run line, with and without no-new-privileges, `docker exec` into it works, and a syscall the
recording never made (`unshare -U true`) fails with "Operation not permitted".

Input: tests/fixtures/shell.recording.yaml (what `sh -c` and a few coreutils need). The full
record -> emit -> verify proof on the bundled samples lives with `profiler verify`.
"""

import json
import subprocess
import sys
import uuid

import pytest

from emitcases import SHELL, shell
from profiler.policy.reduce import reduce
from profiler.render import caps, run

pytestmark = pytest.mark.root

IMAGE = "profiler-base:bookworm"


def docker(*args, check=False, timeout=120):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def base_image(docker_client):
    if docker("image", "inspect", IMAGE).returncode != 0:
        pytest.skip(f"image {IMAGE} missing: run scripts/setup.sh")
    return IMAGE


@pytest.fixture(scope="module")
def emitted(tmp_path_factory, base_image):
    out = tmp_path_factory.mktemp("emit") / "policy"
    proc = subprocess.run([sys.executable, "-m", "profiler.cli", "emit", "-f", "all", "-o",
                           str(out), str(SHELL)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def container_name(request):
    name = f"profiler-emit-test-{uuid.uuid4().hex[:12]}"
    yield name
    docker("rm", "-f", name)


def seccomp_opt(path) -> list[str]:
    return ["--security-opt", f"seccomp={path}"]


def test_starts_without_no_new_privileges(emitted, base_image):
    # runc loads the filter before dropping capabilities and switching user here: the runtime
    # part of the profile is what lets it finish.
    cap_args = caps.render(reduce([shell()])).split()
    proc = docker("run", "--rm", *seccomp_opt(emitted / "seccomp.json"), *cap_args, base_image,
                  "sh", "-c", "echo ok; cat /etc/hostname >/dev/null; id -u", check=True)
    assert proc.stdout.split() == ["ok", "0"]


def test_starts_under_the_full_run_line(emitted, base_image):
    policy = reduce([shell()])
    args = run.docker_args(policy, seccomp_file=str(emitted / "seccomp.json"))
    assert "no-new-privileges" in args and "--read-only" in args and "none" in args
    proc = docker("run", "--rm", *args, base_image, "sh", "-c", "echo ok", check=True)
    assert proc.stdout.strip() == "ok"


def test_generated_run_script(emitted):
    proc = subprocess.run(["bash", str(emitted / "run.sh"), "--rm"], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "ok" and proc.stdout.splitlines()[-1] == "0"


@pytest.mark.parametrize("nnp", [False, True])
def test_negative_control_unshare(emitted, base_image, nnp):
    extra = ["--security-opt", "no-new-privileges"] if nnp else []
    proc = docker("run", "--rm", *seccomp_opt(emitted / "seccomp.json"), *extra, "--cap-drop",
                  "ALL", base_image, "unshare", "-U", "true")
    assert proc.returncode != 0
    assert "Operation not permitted" in proc.stderr
    # the same command without our profile succeeds: the refusal is the profile's doing
    ok = docker("run", "--rm", "--security-opt", "seccomp=unconfined", "--cap-drop", "ALL",
                base_image, "unshare", "-U", "true")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("nnp", [False, True])
def test_docker_exec_keeps_working(emitted, base_image, container_name, nnp):
    extra = ["--security-opt", "no-new-privileges"] if nnp else []
    docker("run", "-d", "--name", container_name, *seccomp_opt(emitted / "seccomp.json"),
           *extra, "--cap-drop", "ALL", base_image, "sleep", "300", check=True)
    proc = docker("exec", container_name, "sh", "-c", "echo exec-ok; id -u", check=True)
    assert proc.stdout.split() == ["exec-ok", "0"]
    bad = docker("exec", container_name, "unshare", "-U", "true")
    assert bad.returncode != 0 and "Operation not permitted" in bad.stderr


def test_without_the_runtime_block_the_container_does_not_start(emitted, base_image, tmp_path):
    # Shows what the runtime list is for (and that the tests above can fail).
    prof = json.loads((emitted / "seccomp.json").read_text())
    prof["syscalls"] = [r for r in prof["syscalls"] if "container runtime" not in r["comment"]]
    (tmp_path / "no-runtime.json").write_text(json.dumps(prof))
    proc = docker("run", "--rm", *seccomp_opt(tmp_path / "no-runtime.json"), "--cap-drop", "ALL",
                  base_image, "sh", "-c", "echo ok")
    assert proc.returncode != 0 and "ok" not in proc.stdout.split()

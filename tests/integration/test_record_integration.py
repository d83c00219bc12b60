"""`profiler record` against the real engine and real eBPF (root; must not skip under CI=true).

The probe sample does a known set of things (samples/probe/expected.yaml); the recording must
contain them and none of the container runtime's own set-up. Exec mode must see exactly the
syscalls `strace -f` sees. Every bad input is one line on stderr, a non-zero exit, no file.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from profiler.recording import recording_io

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "profiler-base:bookworm"
RUNTIME_SETUP = {"mount", "umount2", "pivot_root", "sethostname", "setns", "keyctl", "unshare"}

pytestmark = pytest.mark.root


def profiler_cmd() -> list[str]:
    exe = REPO / ".venv" / "bin" / "profiler"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "profiler.cli"]


def run(args, timeout=180, **kw):
    return subprocess.run(profiler_cmd() + args, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, **kw)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_in(first: int, last: int) -> int:
    """A free host port in 127.0.0.1:first-last (a test's own range on a shared host)."""
    import socket
    for port in range(first, last + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in 127.0.0.1:{first}-{last}")


def sample_options(sample) -> tuple[list[str], dict]:
    """`record`/`verify` options for a sample on a free host port (the workload reads it from
    the sample's port variable), so that parallel sessions do not collide."""
    args, env = [], dict(os.environ)
    port = free_port() if sample.publish else None
    for p in sample.publish:
        args += ["-p", f"127.0.0.1:{port}:{p.rsplit(':', 1)[-1]}"]
    if sample.ready_port:
        args += ["--ready-port", str(port)]
    if sample.port_env and port:
        env[sample.port_env] = str(port)
    if sample.workload:
        args += ["--workload", str(sample.workload)]
    return args, env


def assert_one_line_error(proc, code, *needles):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1, proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def probe_recording(tmp_path_factory, sample_image):
    from conftest import _bpf_unusable_reason

    if reason := _bpf_unusable_reason():
        pytest.skip(reason)
    sample = sample_image("probe")
    out = tmp_path_factory.mktemp("probe") / "probe.recording.yaml"
    proc = run(["record", sample.image, "-o", str(out)])
    assert proc.returncode == 0, proc.stderr
    return recording_io.load(out), sample.expected


def test_probe_syscalls_recorded_and_runtime_setup_not(probe_recording):
    rec, exp = probe_recording
    names = rec.syscall_names
    missing = set(exp["syscalls"]["required"]) - names
    assert not missing, f"recorded without {missing}"
    present = set(exp["syscalls"]["absent"]) & names
    assert not present, f"runtime set-up recorded: {present}"
    errs = {s.name: dict(s.errnos) for s in rec.syscalls}
    for name, errnos in exp["syscalls"]["errnos"].items():
        assert set(errnos) <= set(errs[name]), (name, errs[name])


def test_probe_arguments(probe_recording):
    rec, exp = probe_recording
    got = {(a.syscall, a.arg): set(a.values) for a in rec.arguments}
    for syscall, args in exp["arguments"].items():
        for arg, values in args.items():
            vals = got.get((syscall, arg), set())  # raw values, as a seccomp filter sees them
            assert set(values) <= vals, (syscall, arg, vals)


def test_probe_capabilities(probe_recording):
    rec, exp = probe_recording
    granted = {c.name for c in rec.capabilities if c.granted}
    assert set(exp["capabilities"]["required"]) <= granted, granted
    assert not set(exp["capabilities"]["absent"]) & granted, granted


def test_probe_files_including_relative_paths(probe_recording):
    rec, exp = probe_recording
    by = {f.path: f for f in rec.files}
    for path, kinds in exp["files"]["ok"].items():
        assert path in by, f"{path} not recorded"
        assert set(kinds) <= set(by[path].ok), (path, by[path])
    for path, kinds in exp["files"]["failed"].items():
        assert path in by and set(kinds) <= set(by[path].failed), (path, by.get(path))
    assert all(f.path.startswith("/") for f in rec.files)


def test_probe_network_processes_and_loss(probe_recording):
    rec, exp = probe_recording
    socks = {(s.family, s.type) for s in rec.network.sockets}
    for s in exp["network"]["sockets"]:
        assert (s["family"], s["type"]) in socks, socks
    listening = {(e.family, e.address, e.port) for e in rec.network.listening}
    for e in exp["network"]["listening"]:
        assert (e["family"], e["address"], e["port"]) in listening, listening
    execs = {e.path for e in rec.processes.executables}
    assert set(exp["processes"]["executables"]) <= execs, execs
    assert set(exp["processes"]["uids"]) <= set(rec.processes.uids)
    assert rec.processes.peak_tasks >= 2  # the thread or the forked child ran beside main
    assert rec.metadata.exit_code == exp["exit_code"]
    assert rec.total_loss == 0, rec.loss
    assert rec.metadata.arch == "x86_64" or rec.metadata.arch == "aarch64"
    assert rec.metadata.image_id.startswith("sha256:")


def test_probe_variant_after_double_dash(sample_image, require_root, tmp_path):
    sample = sample_image("probe")
    out = tmp_path / "v.yaml"
    proc = run(["record", sample.image, "-o", str(out), "--", "mkdir-chown"])
    assert proc.returncode == 0, proc.stderr
    rec = recording_io.load(out)
    by = {f.path: f for f in rec.files}
    assert {"mkdir", "chown"} <= set(by["/tmp/extra"].ok)
    assert rec.metadata.command == ("mkdir-chown",)


def _strace_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        m = re.match(r"^(?:\d+\s+)?([a-z0-9_]+)\(", line)
        if m:
            names.add(m.group(1))
    return names


def test_exec_mode_equals_strace(require_root, tmp_path):
    if shutil.which("strace") is None:
        pytest.skip("strace not installed (make setup installs it)")
    cmd = ["/bin/sh", "-c", "ls -l /etc/hostname /nonexistent >/dev/null 2>&1; "
           "cat /etc/os-release | wc -l >/dev/null; cd /etc && cat hostname >/dev/null"]
    out = tmp_path / "exec.yaml"
    proc = run(["record", "--exec", "-o", str(out), "--", *cmd], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rec = recording_io.load(out)
    trace = tmp_path / "strace.txt"
    subprocess.run(["strace", "-f", "-qq", "-o", str(trace), *cmd], check=True, cwd=tmp_path)
    assert rec.syscall_names == _strace_names(trace)
    paths = {f.path for f in rec.files}
    assert "/etc/hostname" in paths  # `cd /etc && cat hostname`, resolved
    assert {"/usr/bin/ls", "/usr/bin/cat", "/usr/bin/wc"} <= {e.path for e in rec.processes.executables}


def test_docker_exec_is_recorded_without_its_setup(require_root, docker_client, tmp_path):
    out = tmp_path / "exec.yaml"
    proc = run(["record", BASE_IMAGE, "-o", str(out), "--workload",
                "docker exec $PROFILER_CONTAINER_ID cat /etc/debian_version >/dev/null",
                "--", "sleep", "30"])
    assert proc.returncode == 0, proc.stderr
    rec = recording_io.load(out)
    assert "/usr/bin/cat" in {e.path for e in rec.processes.executables}
    assert "read" in {f.path: f for f in rec.files}["/etc/debian_version"].ok
    assert not RUNTIME_SETUP & rec.syscall_names, RUNTIME_SETUP & rec.syscall_names
    # `sleep` was stopped gracefully once the workload ended, not after 30 s.
    assert rec.metadata.workload.exit_status == 0


def test_nginx_under_http_load(sample_image, require_root, tmp_path):
    sample = sample_image("nginx")
    out = tmp_path / "nginx.yaml"
    args, env = sample_options(sample)
    proc = run(["record", sample.image, "-o", str(out), *args], env=env)
    assert proc.returncode == 0, proc.stderr
    rec = recording_io.load(out)
    assert {"accept4", "epoll_wait", "sendfile"} & rec.syscall_names
    assert any(e.port == 80 for e in rec.network.listening), rec.network.listening
    assert not {c.name for c in rec.capabilities if c.granted} & {"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}
    assert not RUNTIME_SETUP & rec.syscall_names


def test_attach_records_what_the_running_app_does(sample_image, require_root, docker_client,
                                                 tmp_path):
    """--container: every task of a running nginx (master and workers, started long before the
    tracer) is recorded serving the workload's requests, from its first syscall after attach."""
    sample = sample_image("nginx")
    port = free_port()
    ctr = docker_client.containers.run(sample.image, detach=True,
                                       ports={"80/tcp": ("127.0.0.1", port)})
    try:
        from profiler.session.engine import wait_port
        assert wait_port(port, time.monotonic() + 30, lambda: True), "nginx did not answer"
        out = tmp_path / "attach.yaml"
        env = {**os.environ, sample.port_env: str(port)}
        proc = run(["record", "--container", ctr.name, "-o", str(out), "--workload",
                    str(sample.workload)], env=env)
        assert proc.returncode == 0, proc.stderr
    finally:
        ctr.remove(force=True)
    rec = recording_io.load(out)
    assert rec.metadata.mode == "attach"
    assert {"accept4", "sendfile", "writev"} & rec.syscall_names, rec.syscall_names
    assert {"accept4", "epoll_wait", "openat", "close"} <= rec.syscall_names, rec.syscall_names
    assert any(f.path.endswith("index.html") for f in rec.files), [f.path for f in rec.files]
    assert not RUNTIME_SETUP & rec.syscall_names


# --- bad input: one line, non-zero, no file ------------------------------------------------------

def test_image_not_found(require_root, docker_client, tmp_path):
    out = tmp_path / "x.yaml"
    proc = run(["record", "no-such-image-profiler:nope", "-o", str(out)])
    assert_one_line_error(proc, 2, "not found")
    assert not out.exists()


def test_container_that_exits_at_once_shows_its_logs(require_root, docker_client, tmp_path):
    out = tmp_path / "x.yaml"
    proc = run(["record", BASE_IMAGE, "-o", str(out), "--ready-port", "19999", "--",
                "sh", "-c", "echo cannot-start-here >&2; exit 3"])
    assert_one_line_error(proc, 2, "exited", "code 3", "cannot-start-here")
    assert not out.exists()


def test_failing_workload_writes_nothing(require_root, docker_client, tmp_path):
    out = tmp_path / "x.yaml"
    proc = run(["record", BASE_IMAGE, "-o", str(out), "--workload", "exit 3", "--", "sleep", "30"])
    assert_one_line_error(proc, 1, "workload failed", "exit 3")
    assert not out.exists()
    proc = run(["record", BASE_IMAGE, "-o", str(out), "--workload", "exit 3",
                "--allow-workload-failure", "--", "sleep", "30"])
    assert proc.returncode == 0, proc.stderr
    assert recording_io.load(out).metadata.workload.exit_status == 3


def test_missing_workload(require_root, docker_client, tmp_path):
    proc = run(["record", BASE_IMAGE, "-o", str(tmp_path / "x.yaml"), "--workload", "./nope.sh"],
               cwd=tmp_path)
    assert_one_line_error(proc, 2, "no such file")


def test_unwritable_output(tmp_path):
    proc = run(["record", BASE_IMAGE, "-o", str(tmp_path / "missing" / "x.yaml")])
    assert_one_line_error(proc, 2, "does not exist")


def test_engine_unreachable(require_root, tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/nope.sock"}
    proc = run(["record", BASE_IMAGE, "-o", str(tmp_path / "x.yaml")], env=env)
    assert_one_line_error(proc, 2, "not reachable")


def test_not_root_is_refused(require_root, tmp_path):
    # In a new user namespace with no mapping, geteuid() is 65534 while files stay reachable
    # (the kernel still checks them as root's uid): the recorder must refuse by itself.
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) missing")
    out = tmp_path / "x.yaml"
    proc = subprocess.run(["unshare", "--user", *profiler_cmd(), "record", "--exec", "-o",
                           str(out), "--", "true"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    assert_one_line_error(proc, 2, "needs root")
    assert not out.exists()


def test_ctrl_c_still_writes_a_whole_recording(require_root, docker_client, tmp_path):
    out = tmp_path / "x.yaml"
    name = f"profiler-test-ctrlc-{os.getpid()}"
    p = subprocess.Popen(profiler_cmd() + ["record", BASE_IMAGE, "--name", name, "-o", str(out),
                                           "--stop-timeout", "2", "--", "sleep", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    # Ctrl-C once the traced container runs (a fixed sleep raced the start on a busy host, and a
    # Ctrl-C before the container exists rightly aborts with 130).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        try:
            if docker_client.containers.get(name).status == "running":
                break
        except docker.errors.NotFound:
            pass
        time.sleep(0.2)
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    rec = recording_io.load(out)
    assert "/usr/bin/sleep" in {e.path for e in rec.processes.executables}
    assert "interrupted" in err

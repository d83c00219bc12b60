"""Paths as the kernel resolves them, recorded with the real eBPF (root; issue 11 §1-2).

Every relative path resolves whatever made its directory fd (the kernel's fd table and cwd
are read, record.c KPATH); the recording keeps the path an app used and, for opens and execs,
the file it reached with symlinks resolved, which the AppArmor profile names."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from profiler.recording import recording_io
from test_record_integration import _strace_names, run

pytestmark = pytest.mark.root
TESTS = Path(__file__).resolve().parents[1]
PARSER = shutil.which("apparmor_parser") or "/usr/sbin/apparmor_parser"


def _record_exec(tmp_path, cmd):
    out = tmp_path / "exec.yaml"
    proc = run(["record", "--exec", "-o", str(out), "--", *cmd], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return recording_io.load(out)


def test_tree_commands_resolve_and_equal_strace(require_root, tmp_path):
    if shutil.which("strace") is None:
        pytest.skip("strace not installed (make setup installs it)")
    d = tmp_path / "w"
    script = (f"set -e; rm -rf {d}; mkdir -p {d}/t/a/b/c {d}/t/e; "
              f"for x in a a/b a/b/c e; do touch {d}/t/$x/f1 {d}/t/$x/f2; done; "
              f"tar -C {d} -cf {d}/t.tar t; rm -r {d}/t; "
              f"tar -C {d} -xf {d}/t.tar; find {d}/t -delete; "
              f"tar -C {d} -xf {d}/t.tar; cd {d} && rm -r t")
    cmd = ["/bin/sh", "-c", script]
    rec = _record_exec(tmp_path, cmd)
    assert rec.total_loss == 0, dict(rec.loss)
    trace = tmp_path / "strace.txt"
    subprocess.run(["strace", "-f", "-qq", "-o", str(trace), *cmd], check=True, cwd=tmp_path)
    assert rec.syscall_names == _strace_names(trace)
    files = {f.path: f for f in rec.files}
    for x in ("a", "a/b", "a/b/c", "e"):
        f = files[f"{d}/t/{x}/f1"]  # removed by unlinkat on a dirfd (rm -r, find -delete)
        assert "delete" in f.ok and "create" in f.ok, f
    assert "delete" in files[f"{d}/t/a/b/c"].ok
    assert not [p for p in files if not p.startswith("/")]


def test_dirfds_made_every_way_resolve(require_root, tmp_path):
    root = tmp_path / "kp"
    rec = _record_exec(tmp_path, [sys.executable, str(TESTS / "kpath_dirfds.py"), str(root)])
    assert rec.total_loss == 0, dict(rec.loss)
    files = {f.path: f for f in rec.files}
    for how in ("dup2", "dupfd", "inherited", "scm", "fchdir"):
        assert "create" in files[f"{root}/{how}/f"].ok, (how, sorted(files))
    via_proc = [f for f in rec.files if f.path.endswith("/f") and "/proc/" in f.path]
    assert [f.resolved for f in via_proc] == [f"{root}/procfd/f"]


def test_symlinked_directory_in_a_container(require_root, docker_client, tmp_path):
    ctx = tmp_path / "img"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM profiler-base:bookworm\n"
        "RUN mkdir -p /srv/conf/releases/v2 && echo ok > /srv/conf/releases/v2/app.conf && "
        "ln -s releases/v2 /srv/conf/current\n"
        'CMD ["sh", "-c", "cat /srv/conf/current/app.conf && cd /srv/conf/current && cat app.conf"]\n')
    image = "profiler-test-symlinked-conf"
    subprocess.run(["docker", "build", "-q", "-t", image, str(ctx)], check=True,
                   capture_output=True)
    out = tmp_path / "conf.recording.yaml"
    proc = run(["record", image, "-o", str(out)])
    assert proc.returncode == 0, proc.stderr
    rec = recording_io.load(out)
    assert rec.total_loss == 0, dict(rec.loss)
    files = {f.path: f for f in rec.files}
    used = files["/srv/conf/current/app.conf"]
    assert used.resolved == "/srv/conf/releases/v2/app.conf" and "read" in used.ok
    # `cd current && cat app.conf`: the kernel's cwd is the resolved directory already
    assert "read" in files["/srv/conf/releases/v2/app.conf"].ok
    sh = next(e for e in rec.processes.executables if e.path in ("/bin/sh", "/usr/bin/sh"))
    assert sh.resolved == "/usr/bin/dash"
    profile = tmp_path / "apparmor.profile"
    proc = run(["emit", str(out), "-f", "apparmor", "-o", str(profile)])
    assert proc.returncode == 0, proc.stderr
    text = profile.read_text()
    assert '"/srv/conf/releases/v2/app.conf{,/}" r' in text and "/srv/conf/current" not in text
    assert '"/usr/bin/dash" ix' in text
    if Path(PARSER).exists():
        check = subprocess.run([PARSER, "-Q", "-K", "-T", str(profile)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stderr

"""io_uring and set-uid execs with the real engine and real eBPF (root; must not skip in CI).

- tests/apps/uring_cat.c reads a file through io_uring (OPENAT, READ) by raw syscalls: the
  recording holds its opcodes and says what it could not see; the emitted profile refuses
  io_uring with ENOSYS, the program falls back to plain syscalls, and verify passes and lists
  the refusal as an expected fallback.
- tests/apps/setuid_helper.c, set-uid root, run by uid 1000: the recording holds the exec's
  euid change; the run line does not add no-new-privileges (and says why); verify passes; with
  no-new-privileges added by hand, verify fails and names it as the cause.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from profiler.recording import recording_io
from test_record_integration import BASE_IMAGE, run

pytestmark = pytest.mark.root

APPS = Path(__file__).resolve().parents[1] / "apps"

_URING_DOCKERFILE = f"""FROM {BASE_IMAGE}
COPY uring_cat /usr/local/bin/uring_cat
ENTRYPOINT ["/usr/local/bin/uring_cat"]
"""

# The shell forks before it runs the helper, so the helper's execve (and the credentials at its
# entry) is the app's, seen by the recorder.
_SETUID_DOCKERFILE = f"""FROM {BASE_IMAGE}
COPY setuid_helper /usr/local/bin/setuid_helper
RUN chown 0:0 /usr/local/bin/setuid_helper && chmod 4755 /usr/local/bin/setuid_helper \\
    && echo s3cret > /secret && chmod 600 /secret
USER 1000:1000
ENTRYPOINT ["/bin/sh", "-c", "/usr/local/bin/setuid_helper /secret; exit $?"]
"""


def _build(tag: str, app: str, dockerfile: str, tmp: Path) -> str:
    ctx = tmp / f"ctx-{app}"
    ctx.mkdir()
    subprocess.run(["gcc", "-static", "-O2", "-o", str(ctx / app), str(APPS / f"{app}.c")],
                   check=True, capture_output=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    proc = subprocess.run(["docker", "build", "-q", "-t", tag, str(ctx)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return tag


def _record_and_emit(image: str, tmp: Path, *emit_args: str):
    rec_path = tmp / "app.recording.yaml"
    proc = run(["record", image, "-o", str(rec_path)])
    assert proc.returncode == 0, proc.stderr
    policy = tmp / "policy"
    emitted = run(["emit", str(rec_path), "--format", "all", "-o", str(policy), *emit_args])
    assert emitted.returncode == 0, emitted.stderr
    return recording_io.load(rec_path), proc, policy, emitted


def _verify(image: str, policy: Path) -> tuple[subprocess.CompletedProcess, dict]:
    proc = run(["verify", image, "--policy", str(policy), "--json"])
    return proc, json.loads(proc.stdout)


def test_io_uring_is_recorded_refused_and_falls_back(require_root, tmp_path):
    image = _build("profiler-test-uring", "uring_cat", _URING_DOCKERFILE, tmp_path)
    rec, proc, policy, emitted = _record_and_emit(image, tmp_path)
    assert rec.metadata.exit_code == 0
    uring = rec.io_uring
    assert uring is not None and uring.rings == 1
    ops = dict(uring.operations)
    assert ops.get("OPENAT") == 1 and ops.get("READ") == 1, uring
    assert any("OPENAT" in s and "paths" in s for s in uring.not_seen)
    assert "io_uring was used" in " ".join((proc.stdout + proc.stderr).split())
    # emit: refused with ENOSYS, never silently
    profile = json.loads((policy / "seccomp.json").read_text())
    allowed = {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    refused = [r for r in profile["syscalls"] if "io_uring_setup" in r["names"]]
    assert "io_uring_setup" not in allowed and "io_uring_enter" not in allowed
    assert refused and refused[0]["action"] == "SCMP_ACT_ERRNO" and refused[0]["errnoRet"] == 38
    assert "io_uring" in emitted.stderr and "--allow-io-uring" in emitted.stderr
    # verify: the program falls back to plain syscalls and works; the refusal is reported
    vproc, report = _verify(image, policy)
    assert vproc.returncode == 0, (report.get("syscalls"), report.get("exit_code"))
    assert report["passed"] and report["exit_code"] == 0
    assert [f["syscall"] for f in report["fallbacks"]] == ["io_uring_setup"]
    assert "io_uring refused on purpose" in report["fallbacks"][0]["fix"]
    # --allow-io-uring: allowed, with the warning of what is not covered
    allow = run(["emit", str(tmp_path / "app.recording.yaml"), "--format", "seccomp",
                 "--allow-io-uring"])
    assert allow.returncode == 0
    allowed = {n for r in json.loads(allow.stdout)["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
               for n in r["names"]}
    assert {"io_uring_setup", "io_uring_enter"} <= allowed
    assert "not filtered by seccomp" in allow.stderr


def test_setuid_exec_keeps_privileges_and_verify_names_nnp(require_root, tmp_path):
    image = _build("profiler-test-setuid", "setuid_helper", _SETUID_DOCKERFILE, tmp_path)
    rec, proc, policy, _ = _record_and_emit(image, tmp_path)
    assert rec.metadata.exit_code == 0, proc.stderr
    assert rec.processes.exec_credentials_seen is True
    gains = [p for p in rec.processes.privileged_execs
             if p.path == "/usr/local/bin/setuid_helper"]
    assert len(gains) == 1, rec.processes.privileged_execs
    g = gains[0]
    assert g.gained and not g.not_honoured and g.file_mode & 0o4000 and g.file_uid == 0
    assert g.before is not None and (g.before.uid, g.before.euid) == (1000, 1000)
    assert (g.after.uid, g.after.euid) == (1000, 0)
    summary = " ".join((proc.stdout + proc.stderr).split())  # the console wraps long notes
    assert "gained privilege at exec: euid 1000 -> 0" in summary
    run_sh = (policy / "run.sh").read_text()
    args = run_sh.split("args=(", 1)[1].split("\n)", 1)[0]
    assert "no-new-privileges" not in args
    header = run_sh.split("args=(", 1)[0]
    assert "privilege-gaining exec" in header and "setuid_helper" in header
    vproc, report = _verify(image, policy)
    assert vproc.returncode == 0, (report.get("exit_code"), report.get("causes"))
    assert report["passed"] and not report["causes"]
    # no-new-privileges added by hand: the helper runs without euid 0 and fails; the cause
    nnp = tmp_path / "policy-nnp"
    shutil.copytree(policy, nnp)
    (nnp / "run.sh").write_text(run_sh.replace(
        "args=(\n", "args=(\n  --security-opt no-new-privileges  # added by hand\n", 1))
    vproc, report = _verify(image, nnp)
    assert vproc.returncode != 0 and not report["passed"]
    assert report["causes"] and report["causes"][0].startswith("no-new-privileges:")
    assert "setuid_helper" in report["causes"][0]
    text = run(["verify", image, "--policy", str(nnp)])
    assert "cause: no-new-privileges" in text.stdout

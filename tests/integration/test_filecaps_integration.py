"""A program with a file capability run as non-root, with the real engine and real eBPF (root;
must not skip in CI): caddy's image ships its binary with `setcap cap_net_bind_service=+ep`
(caddyserver/caddy-docker#396). tests/apps/filecap_bind.c stands in for it: given
CAP_NET_BIND_SERVICE by a file capability (set in the image by tests/apps/set_file_cap.c),
run as uid 1000, it binds port 80 and exits 0 only while it holds the capability.

Under Docker the run never checks the capability (ip_unprivileged_port_start=0), so a recorder
that learns capabilities only from checks emits `--cap-drop ALL` without it, and the kernel
refuses the exec (EPERM). The recording holds the file's capability; the run line keeps it in
the bounding set and leaves no-new-privileges off (it would strip the capability at exec);
verify passes, and with the capability removed by hand it names the capability as the cause.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from test_privexec_integration import _record_and_emit, _verify
from test_record_integration import BASE_IMAGE, run

pytestmark = pytest.mark.root

APPS = Path(__file__).resolve().parents[1] / "apps"
PROGRAM = "/usr/local/bin/filecap_bind"
_DOCKERFILE = f"""FROM {BASE_IMAGE}
COPY filecap_bind set_file_cap /usr/local/bin/
RUN /usr/local/bin/set_file_cap {PROGRAM} 10 && rm /usr/local/bin/set_file_cap
USER 1000:1000
ENTRYPOINT ["{PROGRAM}"]
"""


def _image(tmp: Path) -> str:
    ctx = tmp / "ctx"
    ctx.mkdir()
    for app in ("filecap_bind", "set_file_cap"):
        subprocess.run(["gcc", "-static", "-O2", "-o", str(ctx / app), str(APPS / f"{app}.c")],
                       check=True, capture_output=True)
    (ctx / "Dockerfile").write_text(_DOCKERFILE)
    tag = "profiler-test-filecap"
    proc = subprocess.run(["docker", "build", "-q", "-t", tag, str(ctx)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return tag


def test_a_file_capability_stays_in_the_bounding_set(require_root, tmp_path):
    image = _image(tmp_path)
    rec, proc, policy, _ = _record_and_emit(image, tmp_path)
    assert rec.metadata.exit_code == 0, proc.stderr
    files = {f.path: f for f in rec.processes.exec_files}
    assert files[PROGRAM].capabilities == ("CAP_NET_BIND_SERVICE",) and files[PROGRAM].effective
    assert "file capabilities net_bind_service=ep" in " ".join((proc.stdout + proc.stderr).split())
    caps = (policy / "caps.txt").read_text()
    assert "--cap-add NET_BIND_SERVICE" in caps
    run_sh = (policy / "run.sh").read_text()
    args = run_sh.split("args=(", 1)[1].split("\n)", 1)[0]
    assert "--cap-add NET_BIND_SERVICE" in args and "no-new-privileges" not in args
    assert "file capability of /usr/local/bin/filecap_bind" in run_sh
    vproc, report = _verify(image, policy)
    assert vproc.returncode == 0, (report.get("start_error"), report.get("causes"))
    assert report["passed"] and report["exit_code"] == 0

    # The capability removed by hand: the kernel refuses the exec; verify names it, not seccomp
    bare = tmp_path / "policy-bare"
    shutil.copytree(policy, bare)
    for name in ("caps.txt", "run.sh"):
        p = bare / name
        p.write_text(p.read_text().replace("--cap-add NET_BIND_SERVICE", ""))
    vproc, report = _verify(image, bare)
    assert vproc.returncode != 0 and not report["passed"]
    assert report["causes"] and report["causes"][0].startswith("file capability:")
    assert "--cap-add NET_BIND_SERVICE" in report["causes"][0]
    assert "the profile must allow" not in report.get("start_error", "")
    text = run(["verify", image, "--policy", str(bare)])
    assert "cause: file capability" in text.stdout

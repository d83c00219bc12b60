"""File capabilities and set-id bits of the executables a run exec'd
(profiler/recording/filecaps.py), in their pure parts (no root): decoding security.capability, reading it from an engine's archive,
the recording's exec_files, the bounding set and no-new-privileges they decide, and verify's
cause when the kernel refuses an exec for a file capability (caddyserver/caddy-docker#396).
"""

from __future__ import annotations

import io
import struct
import tarfile
from dataclasses import replace

import pytest
import yaml

from conftest import FakeEngine, FakeTracer
from profiler.kernel.wire import RawTrace
from profiler.policy.reduce import reduce
from profiler.recording import filecaps, recording_io
from profiler.recording.aggregate import build_denials, build_recording
from profiler.recording.model import Executable, ExecFile, Metadata
from profiler.render import caps as caps_render
from profiler.render import k8s, run
from profiler.session import session
from profiler.session.engine import ContainerInfo, RunSpec
from profiler.verify import verify as v

ARCH = "x86_64"
MD = Metadata(tool_version="t", kernel="k", arch=ARCH, mode="container", image="caddy:2",
              exit_code=0)
CADDY = "/usr/bin/caddy"
NET_BIND = 10


def _xattr(cap: int, effective=True, revision=0x02000000) -> bytes:
    """What `setcap cap_...=+ep` writes (struct vfs_cap_data)."""
    words = [0, 0, 0, 0]
    words[2 * (cap // 32)] = 1 << (cap % 32)
    data = struct.pack("<I", revision | int(effective)) + struct.pack("<4I", *words)
    return data + (struct.pack("<I", 0) if revision == 0x03000000 else b"")


def _archive(name: str, mode: int, xattr: bytes | None = None, link: str = "") -> bytes:
    """One member as Docker's archive API writes it (PAX record for the xattr)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.mode = mode
        if link:
            info.type, info.linkname = tarfile.SYMTYPE, link
        if xattr is not None:
            info.pax_headers = {filecaps.PAX_XATTR: xattr.decode("utf-8", "surrogateescape")}
        body = b"" if link else b"\x7fELF" + b"\0" * 100_000
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


# --- decoding --------------------------------------------------------------------------------

def test_security_capability_revisions_decode():
    for rev in (0x02000000, 0x03000000):
        caps = filecaps.parse(_xattr(NET_BIND, revision=rev))
        assert caps.permitted == ("CAP_NET_BIND_SERVICE",) and caps.effective
    high = filecaps.parse(_xattr(38, effective=False))  # second word: CAP_PERFMON
    assert high.permitted == ("CAP_PERFMON",) and not high.effective
    assert filecaps.parse(b"\x00\x00\x00\x09" + b"\0" * 16) is None  # unknown revision
    assert filecaps.parse(b"\x01") is None


def test_the_archive_head_carries_mode_capabilities_and_links():
    data = _archive("caddy", 0o755, _xattr(NET_BIND))
    info = filecaps.from_archive(data[:65536])  # only the head is read, not the file
    assert info.mode == 0o755 and info.caps.permitted == ("CAP_NET_BIND_SERVICE",)
    suid = filecaps.from_archive(_archive("su", 0o4755))
    assert suid.setid == 0o4000 and suid.caps is None
    link = filecaps.from_archive(_archive("sh", 0o777, link="dash"))
    assert link.link == "dash"
    assert filecaps.from_archive(b"not a tar") is None


def test_exec_files_follow_links_and_look_up_bare_entrypoints():
    files = {"/bin/sh": filecaps.FileInfo(0o777, None, "dash"),
             "/bin/dash": filecaps.FileInfo(0o755),
             "/usr/bin/caddy": filecaps.FileInfo(0o755, filecaps.parse(_xattr(NET_BIND))),
             "/usr/bin/su": filecaps.FileInfo(0o4755)}
    found = filecaps.exec_files(files.get, (Executable("/bin/sh", 1), Executable("/usr/bin/su", 1)),
                                programs=("caddy",))
    assert [f.path for f in found] == [CADDY, "/usr/bin/su"]
    assert found[0].capabilities == ("CAP_NET_BIND_SERVICE",) and found[0].effective
    assert found[1].mode == 0o4755 and not found[1].capabilities


# --- record ----------------------------------------------------------------------------------

def test_record_reads_the_entrypoints_file_capabilities(fake_host):
    """The entrypoint's exec is the runtime's: its caller's credentials are never seen, so the
    eBPF side cannot tell a file capability; record reads it from the container's files."""
    info = ContainerInfo(id="c1", name="n1", image="app:1", image_id="sha256:img",
                         entrypoint=(CADDY,), cmd=("run",))
    engine = FakeEngine(container=info, files={
        CADDY: filecaps.FileInfo(0o755, filecaps.parse(_xattr(NET_BIND)))})
    raw = RawTrace(arch=ARCH, counts={59: 1}, execs={CADDY.encode(): 1})
    out = session.record_container(RunSpec(image="app:1"), session.Options(duration=0.05),
                                   engine=engine, load_tracer=FakeTracer(raw).load)
    (f,) = out.recording.processes.exec_files
    assert (f.path, f.capabilities, f.effective) == (CADDY, ("CAP_NET_BIND_SERVICE",), True)
    assert any("file capabilities net_bind_service=ep" in n for n in out.notes)
    again = recording_io.loads(recording_io.dumps(out.recording))
    assert again == out.recording
    # nothing looked up (an older recording): the key is not written at all
    old = replace(out.recording, processes=replace(out.recording.processes, exec_files=None))
    assert "exec_files" not in recording_io.dumps(old)


# --- emit ------------------------------------------------------------------------------------

def _rec(uid=1000, files=(ExecFile(CADDY, 0o755, ("CAP_NET_BIND_SERVICE",), (), True),)):
    raw = RawTrace(arch=ARCH, counts={59: 1, 49: 1}, uids={uid}, gids={uid},
                   execs={CADDY.encode(): 1})
    rec = build_recording(raw, replace(MD, container=replace(MD.container, user=f"{uid}")))[0]
    return replace(rec, processes=replace(rec.processes, exec_files=files))


def test_a_file_capability_stays_in_the_bounding_set_and_keeps_nnp_off_for_non_root():
    pol = reduce([_rec()])
    assert "CAP_NET_BIND_SERVICE" in pol.capabilities  # never checked in the run: Docker's
    # ip_unprivileged_port_start=0 let it bind port 80 without it
    nnp = pol.hardening.no_new_privileges
    assert not nnp.apply and "file capabilities" in nnp.evidence and CADDY in nnp.evidence
    text = run.render(pol)
    args = text.split("args=(", 1)[1]
    assert "--cap-add NET_BIND_SERVICE" in args and "no-new-privileges" not in args
    assert "file capability of /usr/bin/caddy" in text
    assert caps_render.render(pol) == "--cap-drop ALL --cap-add NET_BIND_SERVICE\n"
    manifest = k8s.render(pol)
    (pod,) = [d for d in yaml.safe_load_all(manifest) if d and d.get("kind") == "Pod"]
    sc = pod["spec"]["containers"][0]["securityContext"]
    assert sc["capabilities"]["add"] == ["NET_BIND_SERVICE"]
    assert sc.get("allowPrivilegeEscalation") is not False
    assert "file capability of /usr/bin/caddy" in manifest


def test_as_root_the_capability_is_kept_and_nnp_applies():
    pol = reduce([_rec(uid=0)])
    assert "CAP_NET_BIND_SERVICE" in pol.capabilities
    nnp = pol.hardening.no_new_privileges
    assert nnp.apply and "ran as root only" in nnp.evidence


def test_without_file_capabilities_nothing_changes():
    pol = reduce([_rec(files=())])
    assert "CAP_NET_BIND_SERVICE" not in pol.capabilities
    assert pol.hardening.no_new_privileges.apply


def test_a_set_uid_file_keeps_nnp_off_when_credentials_were_not_observed():
    rec = _rec(files=(ExecFile("/usr/local/bin/helper", 0o4755),))
    rec = replace(rec, processes=replace(rec.processes, exec_credentials_seen=False))
    nnp = reduce([rec]).hardening.no_new_privileges
    assert not nnp.apply and "set-uid" in nnp.evidence and "helper" in nnp.evidence


# --- verify ----------------------------------------------------------------------------------

def _pol(cap_add=(), nnp=False) -> v.RunPolicy:
    return v.RunPolicy(directory="/p", seccomp_path=None, cap_add=cap_add, no_new_privileges=nnp)


def test_verify_names_the_file_capability_when_the_exec_is_refused():
    files = (ExecFile(CADDY, 0o755, ("CAP_NET_BIND_SERVICE",), (), True),)
    r = v.analyze(build_denials(RawTrace(arch=ARCH)), _pol(), image="i", exit_code=1,
                  workload=None, workload_status=None, exec_files=files)
    assert not r.passed
    (cause,) = r.causes
    assert cause.startswith("file capability:") and CADDY in cause
    assert "EPERM" in cause and "--cap-add NET_BIND_SERVICE" in cause
    assert "seccomp" not in cause
    assert "cause: file capability" in v.report_text(r)
    # with the capability, under no-new-privileges: that option is named instead
    r = v.analyze(build_denials(RawTrace(arch=ARCH)), _pol(("NET_BIND_SERVICE",), nnp=True),
                  image="i", exit_code=1, workload=None, workload_status=None, exec_files=files)
    (cause,) = r.causes
    assert cause.startswith("no-new-privileges:") and "CAP_NET_BIND_SERVICE" in cause
    # a passing run names nothing
    ok = v.analyze(build_denials(RawTrace(arch=ARCH)), _pol(), image="i", exit_code=0,
                   workload=None, workload_status=None, exec_files=files)
    assert ok.passed and ok.causes == ()


@pytest.mark.root
def test_record_exec_reads_a_host_files_capability(require_root, tmp_path):
    """record --exec: the file on this host (os.getxattr), as setcap wrote it."""
    import os
    prog = tmp_path / "prog"
    prog.write_bytes(b"\x7fELF")
    prog.chmod(0o4755)
    assert filecaps.from_host(str(prog)) == filecaps.FileInfo(0o4755, None)
    os.setxattr(prog, filecaps.XATTR, _xattr(NET_BIND))
    info = filecaps.from_host(str(prog))
    assert info.caps.permitted == ("CAP_NET_BIND_SERVICE",) and info.caps.effective
    assert filecaps.from_host(str(tmp_path / "gone")) is None

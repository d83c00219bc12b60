"""Set-uid execs, io_uring and the loss accounting of streamed events, in their pure parts (no
root): BTF members in anonymous structs, RawTrace -> Recording, the file format, the emit
decisions (no-new-privileges, --user, io_uring) and verify's cause."""

from __future__ import annotations

import re
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from profiler.kernel import btf, iouring, syscalls
from profiler.recording import recording_io
from profiler.verify import verify as v
from profiler.recording.aggregate import build_denials, build_recording
from profiler.recording.model import SCHEMA_VERSION, Metadata, Processes, Recording, Syscall
from profiler.policy.reduce import reduce
from profiler.render import seccomp
from profiler.kernel.wire import EventType, PrivExecFlag, RawTrace

ARCH = "x86_64"
MD = Metadata(tool_version="t", kernel="k", arch=ARCH, mode="container", image="img",
              exit_code=0)
REPO = Path(__file__).resolve().parents[2]
CAP_DAC_OVERRIDE = 1 << 1

USER = (1000, 1000, 1000, 1000, 0, 0)
ROOT_EUID = (1000, 0, 1000, 1000, 0, 0)
HELPER = b"/usr/local/bin/helper"


def nr(name):
    return syscalls.number_of(ARCH, name)


def _raw(**kw) -> RawTrace:
    r = RawTrace(arch=ARCH, counts={nr("execve"): 2, nr("read"): 3, nr("openat"): 1},
                 uids={1000}, gids={1000}, execs={b"/bin/sh": 1, HELPER: 1})
    for k, val in kw.items():
        setattr(r, k, val)
    return r


def _gain(flags=PrivExecFlag.BEFORE_KNOWN | PrivExecFlag.SETID_FILE, before=USER,
          after=ROOT_EUID) -> dict:
    return {(HELPER, before, after, int(flags), 0o104755, 0, 0): 1}


def _rec(raw: RawTrace, user: str = "") -> Recording:
    md = replace(MD, container=replace(MD.container, user=user))
    return build_recording(raw, md)[0]


# --- BTF -------------------------------------------------------------------------------------

def _blob_with_anonymous_member() -> bytes:
    """mm_struct { struct { int pad; file *exe_file at byte 16 } (anonymous) at byte 64 }."""
    names = ["int", "mm_struct", "pad", "exe_file"]
    strings = b"\0" + b"".join(n.encode() + b"\0" for n in names)
    off = {n: strings.index(b"\0" + n.encode() + b"\0") + 1 for n in names}
    types = struct.pack("<III", off["int"], 1 << 24, 4) + struct.pack("<I", 32)  # [1] int
    types += struct.pack("<III", 0, (4 << 24) | 2, 24)  # [2] anonymous struct
    types += struct.pack("<III", off["pad"], 1, 0) + struct.pack("<III", off["exe_file"], 1, 128)
    types += struct.pack("<III", off["mm_struct"], (4 << 24) | 1, 128)  # [3] mm_struct
    types += struct.pack("<III", 0, 2, 64 * 8)
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return hdr + types + strings


def test_btf_finds_members_of_anonymous_structs():
    data = _blob_with_anonymous_member()
    assert btf.member_offset(data, "mm_struct", "exe_file") == 64 + 16
    assert btf.member_offset(data, "mm_struct", "nope") is None


def test_running_kernel_has_every_cred_member():
    if not btf.VMLINUX.exists():
        pytest.skip("no BTF on this host")
    flags = btf.cred_defines()
    assert flags is not None and len(flags) == len(btf.CRED_MEMBERS)


# --- RawTrace -> Recording -------------------------------------------------------------------

def test_a_set_uid_exec_is_a_gain_with_its_credentials():
    rec, notes = build_recording(_raw(privexecs=_gain()), MD)
    (p,) = rec.processes.privileged_execs
    assert p.path == HELPER.decode() and p.gained and not p.not_honoured
    assert (p.before.euid, p.after.euid, p.after.uid) == (1000, 0, 1000)
    assert p.file_mode == 0o4755 and p.file_uid == 0
    assert any("gained privilege at exec: euid 1000 -> 0" in n for n in notes)
    assert rec.processes.exec_credentials_seen is True


def test_file_capabilities_and_unhonoured_bits():
    caps = (1000, 1000, 1000, 1000, CAP_DAC_OVERRIDE, CAP_DAC_OVERRIDE)
    rec = _rec(_raw(privexecs=_gain(PrivExecFlag.BEFORE_KNOWN, after=caps)))
    (p,) = rec.processes.privileged_execs
    assert p.gained and p.after.cap_effective == ("CAP_DAC_OVERRIDE",)
    blocked = PrivExecFlag.BEFORE_KNOWN | PrivExecFlag.SETID_FILE | PrivExecFlag.NOT_HONOURED
    rec, notes = build_recording(_raw(privexecs=_gain(blocked, after=USER)), MD)
    (p,) = rec.processes.privileged_execs
    assert p.not_honoured and not p.gained
    assert any("ran without it" in n for n in notes)


def test_without_btf_the_recording_says_so():
    rec, notes = build_recording(_raw(creds_readable=False), MD)
    assert rec.processes.exec_credentials_seen is False
    assert any("were not observed" in n for n in notes)


def test_io_uring_use_and_what_it_hides():
    ops = {18: 1, 22: 2}  # OPENAT, READ
    rec, notes = build_recording(
        _raw(counts={nr("io_uring_setup"): 1, nr("io_uring_enter"): 2}, uring_ops=ops,
             uring={"rings": 1, "setup_flags": 2, "sq_thread": 0, "files": 1},
             uring_tracepoints=("io_uring:io_uring_submit_req",)), MD)
    u = rec.io_uring
    assert u.operations == (("OPENAT", 1), ("READ", 2)) and u.setup_flags == ("SQPOLL",)
    assert any("OPENAT" in s and "paths" in s for s in u.not_seen)
    assert any(n.startswith("io_uring was used") for n in notes)
    assert build_recording(_raw(), MD)[0].io_uring is None
    # the syscalls alone, on a kernel without the tracepoints, still count as use
    bare = build_recording(_raw(counts={nr("io_uring_setup"): 1}), MD)[0].io_uring
    assert bare is not None and "no io_uring tracepoint" in bare.not_seen[0]


def test_opcode_names_follow_the_uapi_header():
    header = Path("/usr/include/linux/io_uring.h")
    if not header.exists():
        pytest.skip("no linux-libc-dev")
    enum = header.read_text().split("enum io_uring_op {", 1)[1].split("};", 1)[0]
    names = re.findall(r"IORING_OP_(\w+)", enum)
    names = [n for n in names if n != "LAST"]
    assert list(iouring.OPCODES[:len(names)]) == names
    assert iouring.opcode_name(200) == "OP_200"


def test_new_sections_round_trip_through_the_file_format():
    rec = _rec(_raw(privexecs=_gain(), uring_ops={22: 1}, uring={"rings": 1},
                    uring_tracepoints=("io_uring:io_uring_submit_req",)))
    text = recording_io.dumps(rec)
    assert f"schema_version: '{SCHEMA_VERSION}'" in text  # 1.2 or later
    assert recording_io.loads(text) == rec
    plain = _rec(_raw(creds_readable=True))
    assert "io_uring" not in recording_io.dumps(plain)  # absent, not empty
    assert recording_io.loads(recording_io.dumps(plain)) == plain


# --- emit ------------------------------------------------------------------------------------

def test_a_privilege_gaining_exec_keeps_no_new_privileges_off_and_user_on():
    pol = reduce([_rec(_raw(privexecs=_gain()), user="1000:1000")])
    nnp, user = pol.hardening.no_new_privileges, pol.hardening.user
    assert not nnp.apply and "privilege-gaining exec" in nnp.evidence
    assert "euid 1000 -> 0" in nnp.evidence
    assert user.apply and user.value == "1000:1000"
    assert "never ran as root" not in user.evidence and "set-id execs" in user.evidence


def test_observed_credentials_overrule_the_program_name_list():
    raw = _raw(execs={b"/usr/bin/ping": 1})
    assert reduce([_rec(raw)]).hardening.no_new_privileges.apply  # observed: nothing gained
    old = _rec(raw)
    old = replace(old, processes=replace(old.processes, exec_credentials_seen=None))
    assert not reduce([old]).hardening.no_new_privileges.apply  # not observed: by name


def test_io_uring_is_refused_with_enosys_unless_allowed():
    raw = _raw(counts={nr("io_uring_setup"): 1, nr("io_uring_enter"): 2, nr("read"): 1},
               uring_ops={18: 1}, uring={"rings": 1},
               uring_tracepoints=("io_uring:io_uring_submit_req",))
    pol = reduce([_rec(raw)])
    assert not pol.io_uring.apply
    assert "io_uring_setup" not in pol.syscalls
    assert pol.refused_enosys == ("io_uring_enter", "io_uring_setup")
    assert any("ENOSYS" in w and "--allow-io-uring" in w for w in pol.warnings)
    rules = seccomp.syscall_rules(pol)
    allowed = {n for r in rules if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    (refused,) = [r for r in rules if "io_uring_setup" in r["names"]]
    assert refused["errnoRet"] == 38 and not allowed & set(iouring.SYSCALLS)
    assert seccomp.build_filters(seccomp.profile(pol))  # libseccomp accepts it
    allowed_pol = reduce([_rec(raw)], allow_io_uring=True)
    assert allowed_pol.io_uring.apply and "io_uring_setup" in allowed_pol.syscalls
    assert any("not filtered by seccomp" in w and "OPENAT" in w for w in allowed_pol.warnings)
    assert reduce([_rec(_raw())]).warnings == ()  # no io_uring: nothing said, nothing allowed


# --- verify ----------------------------------------------------------------------------------

def _verify_policy(nnp: bool) -> v.RunPolicy:
    return v.RunPolicy(directory="/p", seccomp_path=None, no_new_privileges=nnp,
                       fallback=frozenset({"io_uring_setup"}))


def test_verify_names_no_new_privileges_when_a_failure_follows_a_blocked_set_uid_exec():
    blocked = PrivExecFlag.BEFORE_KNOWN | PrivExecFlag.SETID_FILE | PrivExecFlag.NOT_HONOURED
    raw = RawTrace(arch=ARCH, privexecs=_gain(blocked, after=USER),
                   denied_caps={(nr("openat"), 1, 10): 1}, exe_of={10: HELPER})
    r = v.analyze(build_denials(raw), _verify_policy(True), image="i", exit_code=1,
                  workload=None, workload_status=None)
    assert not r.passed
    (cause,) = r.causes
    assert cause.startswith("no-new-privileges:") and "helper" in cause
    text = v.report_text(r)
    assert "cause: no-new-privileges" in text
    assert text.index("no-new-privileges: /usr") < text.index("--cap-add DAC_OVERRIDE")
    # a passing run, or one without no-new-privileges, has no such cause
    ok = v.analyze(build_denials(replace(raw, denied_caps={})), _verify_policy(True),
                   image="i", exit_code=0, workload=None, workload_status=None)
    assert ok.passed and ok.causes == ()
    other = v.analyze(build_denials(raw), _verify_policy(False), image="i", exit_code=1,
                      workload=None, workload_status=None)
    assert other.causes == ()


def test_verify_lists_refused_io_uring_as_an_expected_fallback():
    raw = RawTrace(arch=ARCH, denied_calls={(nr("io_uring_setup"), 38, 10): 1},
                   exe_of={10: b"/app"})
    r = v.analyze(build_denials(raw), _verify_policy(False), image="i", exit_code=0,
                  workload=None, workload_status=None)
    assert r.passed and [f.syscall for f in r.fallbacks] == ["io_uring_setup"]
    assert "io_uring refused on purpose" in r.fallbacks[0].fix


# --- loss accounting (issue 11 §7) -----------------------------------------------------------

def test_only_events_user_space_consumes_are_streamed():
    """A full ring buffer counts as a loss only for events whose content user space needs:
    record.c streams no event type the tracer drops on arrival (addresses live in their map)."""
    source = (REPO / "bpf" / "record.c").read_text()
    # the consumers: the tracer's callback and the correlator it feeds
    tracer = "".join((REPO / "profiler" / "kernel" / f).read_text()
                     for f in ("tracer.py", "correlate.py"))
    streamed = set(re.findall(r"->type = EV_(\w+);", source))
    assert streamed and "ADDR" not in streamed
    for name in streamed:
        assert f"EventType.{name}" in tracer, f"EV_{name} is streamed but never consumed"
        assert name in EventType.__members__
    body = source.split("static __always_inline void enter_addr", 1)[1].split("\n}\n", 1)[0]
    assert "ringbuf" not in body and "L_RINGBUF_FULL" not in body


def test_addresses_without_streaming_are_no_loss():
    import socket
    addr = struct.pack("<H", socket.AF_INET) + struct.pack(">H", 80) + bytes([127, 0, 0, 1])
    raw = RawTrace(arch=ARCH, addrs={(2, addr): 5},
                   loss={"ringbuf_full": 0, "map_full": 0, "path_truncated": 0,
                         "user_read_failed": 0, "arg_overflow": 0, "unresolved_relative": 0})
    rec, _ = build_recording(raw, MD)
    assert rec.total_loss == 0 and len(rec.network.connects) == 1
    assert not reduce([replace(rec, processes=Processes(uids=(0,)))]).warnings

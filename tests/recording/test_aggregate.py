"""RawTrace -> Recording (pure): names, errnos, capability rule, sockets, paths (no root)."""

from __future__ import annotations

import socket
import struct

from profiler.kernel import syscalls
from profiler.recording.aggregate import build_recording, decode_sockaddr, merge_raw
from profiler.recording.model import Endpoint, Metadata
from profiler.kernel.wire import RawTrace

ARCH = "x86_64"
MD = Metadata(tool_version="t", kernel="k", arch=ARCH, mode="exec")


def nr(name):
    return syscalls.number_of(ARCH, name)


def raw(**kw) -> RawTrace:
    r = RawTrace(arch=ARCH)
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def test_current_syscall_names_resolve_and_unknown_numbers_stay():
    counts = {nr(n): 1 for n in ("clone3", "faccessat2", "openat2", "statx", "rseq", "close_range")}
    counts[1000] = 2
    rec, _ = build_recording(raw(counts=counts), MD)
    names = {s.name for s in rec.syscalls}
    assert {"clone3", "faccessat2", "openat2", "statx", "rseq", "close_range"} <= names
    assert [s for s in rec.syscalls if s.number == 1000][0].name == ""


def test_errnos_by_name():
    rec, _ = build_recording(raw(counts={nr("openat"): 5}, errnos={(nr("openat"), 2): 3, (nr("openat"), 13): 1}), MD)
    (s,) = rec.syscalls
    assert dict(s.errnos) == {"ENOENT": 3, "EACCES": 1}


def test_grants_outside_the_bounding_set_are_not_needs():
    caps = {0: (2, 0), 21: (19, 52)}  # CHOWN granted; SYS_ADMIN "granted" by overlayfs creds
    bounding = (1 << 0) | (1 << 1)
    rec, notes = build_recording(raw(caps=caps), MD, cap_bounding=bounding)
    by = {c.name: c for c in rec.capabilities}
    assert by["CAP_CHOWN"].granted == 2
    assert by["CAP_SYS_ADMIN"].granted == 0 and by["CAP_SYS_ADMIN"].denied == 52
    assert any("CAP_SYS_ADMIN" in n for n in notes)
    # Without a known bounding set (exec mode) grants stay as seen.
    rec, _ = build_recording(raw(caps=caps), MD)
    assert {c.name: c.granted for c in rec.capabilities}["CAP_SYS_ADMIN"] == 19


def test_socket_triples_stay_paired():
    sock = nr("socket")
    t1 = (2 << 48) | ((1 | 0o2000000) << 16) | 0      # AF_INET, SOCK_STREAM|SOCK_CLOEXEC
    t2 = (1 << 48) | (2 << 16) | 0                    # AF_UNIX, SOCK_DGRAM
    args = {(sock, 0): {2: 1, 1: 1}, (sock, 1): {1 | 0o2000000: 1, 2: 1}, (sock, 2): {0: 2},
            (sock, 0xFE): {t1: 3, t2: 1}}
    rec, _ = build_recording(raw(args=args), MD)
    got = {(s.family, s.type, s.count) for s in rec.network.sockets}
    assert got == {("AF_INET", "SOCK_STREAM", 3), ("AF_UNIX", "SOCK_DGRAM", 1)}
    assert {(a.arg, a.index) for a in rec.arguments} == {("domain", 0), ("type", 1), ("protocol", 2)}


def test_clone3_flags_are_a_pointer_field():
    rec, _ = build_recording(raw(args={(nr("clone3"), 0xFF): {0: 4}}), MD)
    (a,) = rec.arguments
    assert (a.syscall, a.arg, a.index) == ("clone3", "flags", -1)


def test_sockaddrs_decode():
    v4 = struct.pack("<H", 2) + struct.pack(">H", 8080) + socket.inet_aton("127.0.0.1")
    assert decode_sockaddr(v4) == Endpoint("AF_INET", "127.0.0.1", 8080)
    v6 = struct.pack("<H", 10) + struct.pack(">H", 443) + b"\0" * 4 + socket.inet_pton(socket.AF_INET6, "::1")
    assert decode_sockaddr(v6) == Endpoint("AF_INET6", "::1", 443)
    un = struct.pack("<H", 1) + b"/run/x.sock\0\0\0"
    assert decode_sockaddr(un) == Endpoint("AF_UNIX", "/run/x.sock", 0)
    abstract = struct.pack("<H", 1) + b"@name\0"
    assert decode_sockaddr(abstract) == Endpoint("AF_UNIX", "@name", 0)


def test_files_bits_and_non_utf8_names():
    files = {b"/etc/hostname": (1, 0), b"/tmp/x": (1 << 11 | 1 << 10, 0), b"/bad\xff": (0, 1)}
    rec, _ = build_recording(raw(files=files), MD)
    by = {f.path: f for f in rec.files}
    assert by["/etc/hostname"].ok == ("read",)
    assert by["/tmp/x"].ok == ("chown", "mkdir")
    assert by["/bad\ufffd"].failed == ("read",)


def test_binds_are_listening_and_connects_are_destinations():
    v4 = struct.pack("<H", 2) + struct.pack(">H", 80) + socket.inet_aton("0.0.0.0")
    un = struct.pack("<H", 1) + b"/var/run/nscd/socket\0"
    rec, _ = build_recording(raw(addrs={(1, v4): 1, (2, un): 2}), MD)
    assert rec.network.listening == (Endpoint("AF_INET", "0.0.0.0", 80),)
    assert rec.network.connects == (Endpoint("AF_UNIX", "/var/run/nscd/socket", 0),)


def test_loss_counters_always_present():
    rec, _ = build_recording(raw(loss={"ringbuf_full": 2}), MD)
    loss = dict(rec.loss)
    assert loss["ringbuf_full"] == 2 and loss["map_full"] == 0 and rec.total_loss == 2


def test_checks_under_substituted_credentials_are_noted_not_counted():
    rec, notes = build_recording(raw(caps={0: (1, 0)}, caps_overridden={21: 30, 1: 4}), MD)
    assert {c.name: c.granted for c in rec.capabilities} == {"CAP_CHOWN": 1}
    assert any("CAP_SYS_ADMIN: 30" in n and "substituted" in n for n in notes)


def test_compat_calls_are_named_in_their_own_arch():
    """i386 uname (122) is not x86_64's 122 (setfsuid); x32 numbers carry the x32 bit."""
    x32_uname = syscalls.number_of("x32", "uname")
    assert x32_uname == 0x40000000 | 63
    rec, notes = build_recording(raw(counts={122: 1},
                                     compat_counts={("x86", 122): 4, ("x32", x32_uname): 1},
                                     compat_errnos={("x86", 122, 14): 1, ("x86", 5, 2): 2}), MD)
    by = {(s.arch, s.number): s for s in rec.syscalls}
    assert by[("", 122)].name == "setfsuid" and by[("", 122)].decoded
    uname = by[("x86", 122)]
    assert (uname.name, uname.count, dict(uname.errnos), uname.decoded) == ("uname", 4, {"EFAULT": 1}, False)
    assert by[("x86", 5)].name == "open" and by[("x86", 5)].count == 0  # failed, never counted
    assert by[("x32", x32_uname)].name == "uname"
    assert rec.compat_arches == ("x32", "x86")
    assert any("x86 (compat)" in n and "not read" in n for n in notes)


# --- merge_raw: one service's traces (replicas, restarts) as one -----------------------------

def _replica(n: int, **kw) -> RawTrace:
    """A replica's trace; n varies what differs between replicas."""
    base = dict(
        counts={nr("read"): 10 * n, nr("openat"): n},
        errnos={(nr("openat"), 2): n},
        compat_counts={("x86", 122): n}, compat_errnos={("x86", 5, 2): n},
        caps={0: (n, 1)}, caps_overridden={21: n}, caps_probed={21: 1},
        args={(nr("socket"), 0): {2: n, 10 * n: 1}},
        files={b"/etc/app.conf": (1, 0), f"/data/{n}".encode(): (2, 0),
               b"/etc/shared": (1 << n, 1)},
        addrs={(1, b"\x02\x00\x00P\x00\x00\x00\x00"): n},
        privexecs={(b"/usr/bin/su", None, (0,) * 6, 2, 0o4755, 0, 0): 1},
        uring_ops={1: n}, uring={"rings": 1, "setup_flags": 1 << n, "sq_thread": 0, "files": n},
        uring_tracepoints=("io_uring:io_uring_create", f"io_uring:tp{n}"),
        execs={b"/usr/bin/app": 1, f"/usr/bin/tool{n}".encode(): 1},
        uids={0, 1000 + n}, gids={0}, peak_tasks=3 + n,
        loss={"ringbuf_full": n, "map_full": 0, "slots_exhausted": 1},
        denied_calls={(nr("mount"), 1, 100 + n): 1}, denied_caps={(nr("mount"), 21, 7): n},
        denied_compat={("x86", 122, 1, 7): 1}, erofs={b"/etc/shared": 1 << n},
        exe_of={100 + n: b"/usr/bin/app"}, resolved={b"/bin/sh": b"/usr/bin/dash"},
        notes=["a note", f"note {n}"],
        first_seen={"syscalls": {nr("read"): 100 * n}, "execs": {b"/usr/bin/app": 5 * n}},
        duration_ms=1000 * n, stop_ms=900 * n, creds_readable=True,
    )
    return raw(**{**base, **kw})


def test_merge_raw_sums_counts_unites_sets_and_takes_largest_peaks():
    one, two = _replica(1), _replica(2)
    m = merge_raw([one, two])
    assert m.counts == {nr("read"): 30, nr("openat"): 3}
    assert m.errnos == {(nr("openat"), 2): 3}
    assert m.compat_counts == {("x86", 122): 3} and m.compat_errnos == {("x86", 5, 2): 3}
    assert m.caps == {0: (3, 2)} and m.caps_overridden == {21: 3} and m.caps_probed == {21: 2}
    assert m.args == {(nr("socket"), 0): {2: 3, 10: 1, 20: 1}}
    assert m.files == {b"/etc/app.conf": (1, 0), b"/data/1": (2, 0), b"/data/2": (2, 0),
                       b"/etc/shared": (0b110, 1)}
    assert list(m.addrs.values()) == [3]
    assert list(m.privexecs.values()) == [2]
    assert m.uring_ops == {1: 3}
    assert m.uring == {"rings": 2, "setup_flags": 0b110, "sq_thread": 0, "files": 3}
    assert m.uring_tracepoints == ("io_uring:io_uring_create", "io_uring:tp1", "io_uring:tp2")
    assert m.execs == {b"/usr/bin/app": 2, b"/usr/bin/tool1": 1, b"/usr/bin/tool2": 1}
    assert m.uids == {0, 1001, 1002} and m.gids == {0}
    assert m.peak_tasks == 5 and m.duration_ms == 2000 and m.stop_ms == 1800
    assert m.loss == {"ringbuf_full": 3, "map_full": 0, "slots_exhausted": 1}  # tracer-wide: once
    assert m.denied_calls == {(nr("mount"), 1, 101): 1, (nr("mount"), 1, 102): 1}
    assert m.denied_caps == {(nr("mount"), 21, 7): 3} and m.denied_compat == {("x86", 122, 1, 7): 2}
    assert m.erofs == {b"/etc/shared": 0b110}
    assert m.exe_of == {101: b"/usr/bin/app", 102: b"/usr/bin/app"}
    assert m.resolved == {b"/bin/sh": b"/usr/bin/dash"}
    assert m.notes == ["a note", "note 1", "note 2"]
    assert m.first_seen == {"syscalls": {nr("read"): 100}, "execs": {b"/usr/bin/app": 5}}
    # the inputs are left as they were
    assert one.counts == {nr("read"): 10, nr("openat"): 1} and one.uids == {0, 1001}


def test_merge_raw_of_one_trace_is_that_trace_and_of_none_is_an_error():
    import pytest

    one = _replica(1)
    assert merge_raw([one]) == one
    with pytest.raises(ValueError):
        merge_raw([])


def test_merge_raw_refuses_other_architectures_and_notes_other_capability_sources():
    import pytest

    with pytest.raises(ValueError, match="architecture"):
        merge_raw([_replica(1), _replica(2, arch="aarch64")])
    m = merge_raw([_replica(1), _replica(2, cap_source="kprobe", creds_readable=False)])
    assert m.cap_source == "tracepoint" and not m.creds_readable
    assert any("kprobe" in n for n in m.notes)


def test_a_merged_trace_builds_one_recording():
    rec, _ = build_recording(merge_raw([_replica(1), _replica(2)]), MD)
    by = {s.name: s.count for s in rec.syscalls}
    assert by["read"] == 30 and rec.processes.peak_tasks == 5
    assert {e.path for e in rec.processes.executables} == {
        "/usr/bin/app", "/usr/bin/tool1", "/usr/bin/tool2"}

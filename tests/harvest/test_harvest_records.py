"""Log lines -> harvest records (pure; real lines, harvestlines.py says where each was seen)."""

from __future__ import annotations

import harvestlines as L
from profiler.harvest.records import Drop, is_runtime, parse_kmsg, parse_line


def test_a_seccomp_log_record_of_the_lab_host():
    r = parse_line(L.KMSG_SLEEP)
    assert (r.kind, r.pid, r.comm, r.exe, r.arch, r.syscall, r.action, r.serial) == (
        "seccomp", 7059, "sleep", "/usr/bin/sleep", "x86_64", 231, "log", 1009)
    assert r.time == 1796535187.623
    assert not is_runtime(r)


def test_the_runtimes_own_pre_exec_calls_are_told_apart():
    r = parse_line(L.KMSG_RUNC)
    assert r.comm == "runc:[2:INIT]" and r.syscall == 72 and is_runtime(r)


def test_kmsg_framing_gives_the_sequence_number():
    seq, usec, text = parse_kmsg(L.KMSG_RAW)
    assert (seq, usec) == (130468, 12746304674) and parse_line(text).syscall == 231
    seq, usec, text = parse_kmsg(L.KMSG_RAW_SUPPRESSED)
    assert seq == 130465 and parse_line(text) == Drop(suppressed=93)
    assert parse_kmsg("no framing here") is None


def test_drops_the_kernel_reports():
    assert parse_line(L.KMSG_SUPPRESSED) == Drop(suppressed=327)
    assert parse_line("audit: audit_lost=5 audit_rate_limit=0 audit_backlog_limit=64") == \
        Drop(lost_total=5)


def test_auditd_forms_enriched_and_another_architecture():
    r = parse_line(L.AUDITLOG_ENRICHED)
    assert (r.syscall, r.action, r.pid, r.arch, r.serial) == (3, "log", 2039886, "x86_64", 6461)
    k = parse_line(L.AUDITLOG_KILL_ARM64)
    assert (k.arch, k.syscall, k.action, k.comm) == ("aarch64", 227, "kill_process",
                                                    "AsyncLocalStore")


def test_apparmor_allowed_records():
    f = parse_line(L.AA_FILE_MMAP)
    assert (f.kind, f.operation, f.name, f.mask, f.pid) == (
        "apparmor", "file_mmap", "/usr/lib/libreadline.so.8.2", "rm", 9829)
    n = parse_line(L.AA_NET)
    assert (n.family, n.sock_type, n.protocol, n.time, n.serial) == ("netlink", "raw", 9, 0.0, 0)
    c = parse_line(L.AA_CAP)
    assert (c.operation, c.capname) == ("capable", "net_admin")
    assert parse_line(L.AA_DOCKER).name == "/home/jessie/docker/man/man1/docker-attach.1"


def test_what_is_not_harvested():
    assert parse_line(L.AA_OPEN.replace("ALLOWED", "DENIED")) is None  # enforce mode
    assert parse_line("docker0: port 1(veth63245e7) entered disabled state") is None
    # a damaged seccomp record: no syscall number
    assert parse_line(L.KMSG_SLEEP.replace("syscall=231", "syscall=x")) is None
    # x32: the x86_64 audit arch with the x32 bit in the number
    x32 = parse_line(L.KMSG_SLEEP.replace("syscall=231", f"syscall={0x40000000 + 39}"))
    assert (x32.arch, x32.syscall) == ("x32", 39)


def test_audit_netlink_messages_become_log_lines():
    import struct

    from profiler.harvest.sources import audit_line, netlink_messages

    msg = L.NETLINK_PAYLOAD + b"\0"
    hdr = struct.pack("=IHHII", 16 + len(msg), 1326, 0, 0, 0)
    pad = b"\0" * (-len(msg) % 4)
    data = hdr + msg + pad + hdr + msg  # two messages in one datagram, the first padded
    got = netlink_messages(data)
    assert [k for k, _ in got] == [1326, 1326]
    r = parse_line(audit_line(*got[0]))
    assert (r.kind, r.pid, r.syscall, r.serial, r.comm) == ("seccomp", 7209, 257, 54373,
                                                           "runc:[2:INIT]")
    assert netlink_messages(data[:20]) == []  # a truncated message is dropped


def test_the_records_of_a_debian12_apparmor_host():
    """Real records of the VM host matrix's Debian 12 guest (AppArmor enforcing): a seccomp
    record carries the task's AppArmor label in subj=; a write outside the profile is a mknod
    then an open; the exec of an unlisted program names it, and the task then logs from a
    learning child profile (profile=P//null-PROGRAM)."""
    recs = [parse_line(line) for line in L.DEBIAN12_LOOP]
    assert all(r is not None and r.pid == L.DEBIAN12_PID for r in recs)
    assert [r.serial for r in recs] == list(range(14, 24))  # contiguous: nothing dropped
    mk, op, ex = recs[:3]
    assert (mk.operation, mk.name, mk.mask, mk.comm) == ("mknod", "/tmp/profiler-harvest-probe",
                                                        "c", "sh")
    assert (op.operation, op.mask) == ("open", "wc")
    assert (ex.operation, ex.name, ex.mask, ex.profile) == ("exec", "/usr/bin/unshare", "x",
                                                           "profiler-sample-redis")
    sc = recs[8]
    assert (sc.kind, sc.syscall, sc.action, sc.arch, sc.comm, sc.exe) == (
        "seccomp", 272, "log", "x86_64", "unshare", "/usr/bin/unshare")
    assert recs[4].profile == "profiler-sample-redis//null-/usr/bin/unshare"
    assert not any(is_runtime(r) for r in recs)

"""AppArmor audit records -> denials with the rule that would allow them (pure; no root).

Lines as the kernel logs them: the kmsg/dmesg and audit.log forms, captured on Debian/Ubuntu
hosts with AppArmor enforcing (the sources are named by each case)."""

from __future__ import annotations

import os

import pytest

from profiler.verify import apparmor_audit as aa

# Debian 12 (kernel 6.1.0-50), the host matrix's AppArmor negative control: `touch` under the
# profile emitted for the nginx sample, from `dmesg` (make test-hosts, 2026-11-29)
DEBIAN12_MKNOD = ('[ 1088.849034] audit: type=1400 audit(1795978607.040:14): apparmor="DENIED" '
                  'operation="mknod" profile="profiler-sample-nginx" '
                  'name="/etc/profiler-negative-control" pid=2159 comm="touch" requested_mask="c" '
                  'denied_mask="c" fsuid=0 ouid=0')
# moby/moby#21861 (docs: dmesg of an Ubuntu host, a complain-mode line and a ptrace denial)
DMESG_PTRACE = ('[ 3256.689120] type=1400 audit(1405454041.341:73): apparmor="DENIED" '
                'operation="ptrace" profile="docker-default" pid=17651 comm="docker" '
                'requested_mask="receive" denied_mask="receive"')
DMESG_ALLOWED = ('[ 5442.864673] audit: type=1400 audit(1453830992.845:37): apparmor="ALLOWED" '
                 'operation="open" profile="/usr/bin/docker" name="/home/jessie/docker/man/man1/'
                 'docker-attach.1" pid=10923 comm="docker" requested_mask="r" denied_mask="r" '
                 'fsuid=1000 ouid=0')
# roddhjav/apparmor.d#533 (journal of an auditd host: interpreted FSUID/OUID fields)
JOURNAL_OPEN = ('apparmor="DENIED" operation="open" class="file" profile="child-pager" '
                'name="/usr/share/file/misc/magic.mgc"  comm="more" requested_mask="r" '
                'denied_mask="r" fsuid=1001 ouid=0 FSUID="user" OUID="root"')
# moby/moby#16911 (audit.log of an auditd host)
AUDITLOG_MOUNT = ('type=AVC msg=audit(1444521663.545:61650): apparmor="DENIED" operation="mount" '
                  'info="failed srcname match" error=-13 profile="/usr/bin/docker" '
                  'name="/.pivot_root465400889/" pid=1214931 comm="exe" flags="rw, rprivate"')


def test_a_denial_captured_on_debian12():
    d = aa.parse_line(DEBIAN12_MKNOD)
    assert (d.serial, d.operation, d.profile, d.path, d.comm, d.pid, d.denied) == (
        "1795978607.040:14", "mknod", "profiler-sample-nginx", "/etc/profiler-negative-control",
        "touch", 2159, "c")
    assert d.rule == '"/etc/profiler-negative-control" w,'  # AppArmor mediates create as w
    # the same record as /dev/kmsg gives it (PRI,SEQ,USEC,FLAGS;message)
    kmsg = "5,812,1088849034,-;" + DEBIAN12_MKNOD.split("] ", 1)[1]
    assert aa.parse_line(kmsg) == d


def test_a_file_denial_is_parsed_with_its_rule():
    d = aa.parse_line(JOURNAL_OPEN)
    assert (d.operation, d.profile, d.path, d.comm, d.denied) == (
        "open", "child-pager", "/usr/share/file/misc/magic.mgc", "more", "r")
    assert d.pid is None and d.serial == ""
    assert d.field("FSUID") == "user" and d.field("class") == "file"
    assert d.rule == '"/usr/share/file/misc/magic.mgc" r,'


def test_dmesg_and_audit_log_forms_carry_the_record_serial():
    d = aa.parse_line(DMESG_PTRACE)
    assert d.serial == "1405454041.341:73" and d.pid == 17651
    assert d.rule == "ptrace (receive),"
    m = aa.parse_line(AUDITLOG_MOUNT)
    assert m.serial == "1444521663.545:61650" and m.field("flags") == "rw, rprivate"
    assert m.path == "/.pivot_root465400889/" and m.rule == ""  # mount is denied on purpose


def test_lines_that_are_no_denial_give_none():
    assert aa.parse_line(DMESG_ALLOWED) is None  # complain mode: allowed, only logged
    assert aa.parse_line('audit: type=1400 audit(1.2:3): apparmor="STATUS" '
                         'operation="profile_load" profile="unconfined" name="x"') is None
    assert aa.parse_line("eth0: link up") is None


def test_hex_encoded_values_are_decoded():
    # The kernel writes a string with a space or quote in hex, unquoted (audit_log_n_untrustedstring).
    name = "/var/www/a b.html".encode().hex().upper()
    d = aa.parse_line(f'apparmor="DENIED" operation="open" profile="p" name={name} pid=7 '
                      f'comm=6E67696E78 requested_mask="r" denied_mask="r" fsuid=0 ouid=0')
    assert d.path == "/var/www/a b.html" and d.comm == "nginx" and d.pid == 7
    assert d.rule == '"/var/www/a b.html" r,'


@pytest.mark.parametrize("mask,letters", [("r", "r"), ("wc", "w"), ("c", "w"), ("d", "w"),
                                          ("a", "a"), ("wa", "w"), ("x", "ix"), ("rm", "rm"),
                                          ("r::", "r"), ("k", "k"), ("", "")])
def test_file_masks_become_rule_permissions(mask, letters):
    assert aa.file_letters(mask) == letters


def test_rules_for_capabilities_sockets_and_signals():
    def rule(fields):
        return aa.parse_line('apparmor="DENIED" ' + fields).rule
    assert rule('operation="capable" profile="p" pid=1 comm="nginx" capability=1 '
                'capname="dac_override"') == "capability dac_override,"
    assert rule('operation="create" class="net" profile="p" pid=1 comm="curl" family="inet6" '
                'sock_type="dgram" protocol=0 requested_mask="create" denied_mask="create"') \
        == "network inet6 dgram,"
    assert rule('operation="signal" class="signal" profile="p" pid=1 comm="sh" '
                'requested_mask="send" denied_mask="send" signal=term peer="unconfined"') \
        == "signal (send) set=(term) peer=unconfined,"


def test_what_was_refused_when_there_is_no_path():
    def target(fields):
        return aa.parse_line('apparmor="DENIED" ' + fields).target
    assert target('operation="capable" profile="p" capability=1 capname="dac_override"') == \
        "dac_override"
    assert target('operation="create" profile="p" family="inet" sock_type="raw"') == "inet raw"
    assert target('operation="signal" profile="p" signal=kill peer="runc"') == \
        "signal=kill peer=runc"


def test_a_path_with_glob_characters_is_escaped_in_the_rule():
    d = aa.parse_line('apparmor="DENIED" operation="mknod" profile="p" name="/tmp/a,b*" pid=1 '
                      'comm="x" requested_mask="c" denied_mask="c" fsuid=0 ouid=0')
    assert d.rule == '"/tmp/a\\054b\\052" w,'


def test_denials_of_keeps_one_profile_and_its_children():
    lines = [
        'audit: type=1400 audit(1.0:1): apparmor="DENIED" operation="open" profile="mine" '
        'name="/a" pid=1 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
        'audit: type=1400 audit(1.0:2): apparmor="DENIED" operation="open" profile="mine//hat" '
        'name="/b" pid=1 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
        'audit: type=1400 audit(1.0:3): apparmor="DENIED" operation="open" profile="mine2" '
        'name="/c" pid=1 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    ]
    assert [d.path for d in aa.denials_of(lines, "mine")] == ["/a", "/b"]


def test_the_cursor_reads_only_what_came_after_it(tmp_path):
    kmsg, log = tmp_path / "kmsg", tmp_path / "audit.log"
    kmsg.write_text("")  # a plain file stands in for /dev/kmsg (seek to its end, then read)
    log.write_text('type=AVC msg=audit(1.0:1): apparmor="DENIED" operation="open" '
                   'profile="p" name="/old" comm="x" requested_mask="r" denied_mask="r"\n')
    cur = aa.AuditCursor(kmsg=kmsg, audit_log=log)
    with log.open("a") as f:
        f.write('type=AVC msg=audit(2.0:2): apparmor="DENIED" operation="open" profile="p" '
                'name="/new" comm="x" requested_mask="r" denied_mask="r"\n')
        f.write("kauditd_printk_skb: 4 callbacks suppressed\n")
    lines, dropped = cur.read()
    cur.close()
    assert [d.path for d in aa.denials_of(lines, "p")] == ["/new"]
    assert dropped


def test_the_cursor_reads_a_rotated_log_from_its_start(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text("x" * 1000 + "\n")
    cur = aa.AuditCursor(kmsg=tmp_path / "none", audit_log=log)
    log.write_text('type=AVC msg=audit(2.0:2): apparmor="DENIED" operation="open" profile="p" '
                   'name="/rotated" comm="x" requested_mask="r" denied_mask="r"\n')
    lines, dropped = cur.read()
    assert [d.path for d in aa.denials_of(lines, "p")] == ["/rotated"] and not dropped
    assert cur.sources == [str(log)]


def test_a_record_in_both_logs_counts_once(tmp_path):
    kmsg, log = tmp_path / "kmsg", tmp_path / "audit.log"
    kmsg.write_text("")
    log.write_text("")
    cur = aa.AuditCursor(kmsg=kmsg, audit_log=log)
    rec = ('audit(5.0:9): apparmor="DENIED" operation="open" profile="p" name="/x" comm="x" '
           'requested_mask="r" denied_mask="r"')
    with kmsg.open("a") as f:
        f.write(f"5,100,200,-;audit: type=1400 {rec}\n")
    log.write_text(f"type=AVC msg={rec}\n")
    lines, _ = cur.read()
    assert len(aa.denials_of(lines, "p")) == 1

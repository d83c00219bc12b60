"""profiler diff, pure part: facts per input kind, comparison, risk classes, exit decisions."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import diffcases
from profiler.diff import diff
from profiler.policy import risk
from profiler.kernel import syscalls
from profiler.kernel.linux import CAPABILITY_NUMBERS
from profiler.recording.model import FileAccess


def _cmp(a, b):
    return diff.compare(diff.facts_from_recording(a), diff.facts_from_recording(b))


def _added(report, section=None):
    return {c.item: c for c in report.added if section in (None, c.section)}


# --- recordings ------------------------------------------------------------------------------

def test_same_behaviour_with_other_noise_diffs_clean():
    a, b = diffcases.baseline(), diffcases.same_behaviour()
    assert a != b  # pids, temp names, container ids, counts, timestamps all differ
    report = _cmp(a, b)
    assert report.added == () and report.removed == ()
    assert [report.exit_code(f) for f in diff.FAIL_ON] == [0, 0, 0]


def test_escalation_names_each_new_privilege_with_its_risk():
    report = _cmp(diffcases.baseline(), diffcases.escalated())
    sc = _added(report, "syscalls")
    assert set(sc) == {"mkdirat", "fchownat", "mount"}
    assert sc["mount"].risk.level == "high" and sc["fchownat"].risk.level == "medium"
    caps = _added(report, "capabilities")
    assert set(caps) == {"CAP_CHOWN", "CAP_SYS_ADMIN"}
    assert caps["CAP_SYS_ADMIN"].risk.level == "high"
    files = _added(report, "files")
    assert files["/var/lib/web/cache"].detail == "write, create, chown, mkdir"
    assert files["/etc/web/web.conf"].detail == "adds write (had read)"
    assert _added(report, "arguments")["socket(type=SOCK_RAW)"].risk.level == "high"
    assert set(_added(report, "network")) == {"connect AF_INET 192.0.2.10:443"}
    assert set(_added(report, "executables")) == {"/bin/sh"}
    run = _added(report, "run")
    # the run line's decisions are emit's (reduce.reduce), with its evidence
    assert run["--read-only"].detail.startswith("no longer possible: writes '/etc/web/web.conf'")
    assert run["--user"].detail.startswith("no longer possible: processes ran as root")
    # the tmpfs mounts of the read-only root are gone with it: not reported as dropped
    assert report.removed == ()
    assert [report.exit_code(f) for f in diff.FAIL_ON] == [1, 1, 0]


def test_additions_are_sorted_by_risk():
    report = _cmp(diffcases.baseline(), diffcases.escalated())
    ranks = [c.risk.rank for c in report.added]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 2


def test_narrowing_reports_removals_only():
    report = _cmp(diffcases.baseline(), diffcases.narrowed())
    assert report.added == ()
    removed = {(c.section, c.item) for c in report.removed}
    # /run keeps its tmpfs although nothing writes there any more: a temp directory always
    # has one under a read-only root (hardening.TEMP_DIRS), so the run line does not change
    assert removed == {("syscalls", "setsockopt"), ("files", "/run/web.pid"),
                       ("network", "listen AF_INET 0.0.0.0:8080")}
    assert [report.exit_code(f) for f in diff.FAIL_ON] == [0, 1, 0]
    assert report.summary().startswith("Narrowing only")


def test_tmpfs_is_compared_only_between_read_only_roots():
    ro = diff.Facts("policy", frozenset({"run"}), {"run": {"--tmpfs /run": ""}})
    ro2 = diff.Facts("policy", frozenset({"run"}), {"run": {"--tmpfs /run": "",
                                                             "--tmpfs /var/lib/x": ""}})
    rw = diff.Facts("policy", frozenset({"run"}), {"run": {"--read-only": "not in run.sh",
                                                            "--tmpfs /tmp": ""}})
    assert [c.item for c in diff.compare(ro, ro2).added] == ["--tmpfs /var/lib/x"]
    assert [c.item for c in diff.compare(ro, rw).added] == ["--read-only"]
    back = diff.compare(rw, ro)
    assert back.added == () and [c.item for c in back.removed] == ["--read-only"]


def test_reverse_diff_swaps_added_and_removed():
    fwd = _cmp(diffcases.baseline(), diffcases.escalated())
    back = _cmp(diffcases.escalated(), diffcases.baseline())
    items = lambda changes: {(c.section, c.item) for c in changes}
    assert items(back.added) == items(fwd.removed)
    assert items(back.removed) == items(fwd.added)


def test_network_none_is_lost_by_an_ip_socket():
    base = diffcases.narrowed()
    local = replace(base, network=replace(base.network, sockets=tuple(
        x for x in base.network.sockets if x.family == "AF_UNIX")))
    assert "--network none" not in diff.facts_from_recording(local).items["run"]
    report = _cmp(local, base)
    assert _added(report, "run")["--network none"].detail == \
        "no longer possible: opened AF_INET sockets"
    assert _added(report, "network")["socket AF_INET/SOCK_STREAM"].risk.level == "low"


def test_file_permissions_dropped_and_gained_on_one_path():
    base = diffcases.baseline()
    new = replace(base, files=tuple(
        FileAccess(f.path, ("read", "append")) if f.path == "/run/web.pid" else f
        for f in base.files))
    report = _cmp(base, new)
    files = lambda changes: [(c.item, c.detail) for c in changes if c.section == "files"]
    assert files(report.added) == [("/run/web.pid", "adds read, append (had write, create)")]
    assert files(report.removed) == [("/run/web.pid", "drops write, create (keeps read, append)")]
    # no longer created by the app: a tmpfs on /run would hide the image's file
    assert "used but not created" in _added(report, "run")["--read-only"].detail


def test_user_is_lost_when_root_appears():
    base = diffcases.baseline()
    assert "--user" not in diff.facts_from_recording(base).items["run"]
    root = replace(base, processes=replace(base.processes, uids=(0,)))
    assert "--user" in _added(_cmp(base, root), "run")


def test_loss_and_architecture_become_notes():
    a = diffcases.baseline()
    b = replace(a, loss=(("map_full", 3),), metadata=replace(a.metadata, arch="x86"))
    report = _cmp(a, b)
    assert "architecture differs: OLD x86_64, NEW x86" in report.notes
    assert any(n.startswith("NEW: lost 3 events") for n in report.notes)


def test_json_data_is_stable_and_complete():
    report = _cmp(diffcases.baseline(), diffcases.escalated())
    data = json.loads(report.to_json())
    assert data["format"] == "profiler-diff" and data["version"] == 1
    assert data["summary"] == {"added": len(report.added), "removed": len(report.removed),
                               **report.counts()}
    assert set(data["sources"]) == {c.risk.source for c in report.added}
    for entry in data["added"]:
        assert set(entry) == {"section", "item", "detail", "risk", "reason", "source"}
    assert report.to_json() == _cmp(diffcases.baseline(), diffcases.escalated()).to_json()


# --- policies --------------------------------------------------------------------------------

def test_policy_directory_facts(tmp_path):
    d = diffcases.write_policy(tmp_path / "p")
    texts = {n: (d / n).read_text() for n in diff.POLICY_FILES}
    f = diff.facts_from_policy(texts)
    assert f.sections == frozenset(diff.SECTIONS)
    assert "personality\0arg0 == 0" in f.items["arguments"]
    assert f.items["syscalls"]["personality"] == "only with argument conditions"
    assert "clone3" not in f.items["syscalls"]  # an ENOSYS rule is not an allowance
    assert f.items["capabilities"] == {"CAP_NET_BIND_SERVICE": ""}
    assert f.items["files"]["/tmp/tmp*"] == "r, w"
    assert f.items["files"]["/srv/with space/x"] == "r"
    assert f.items["files"]["/usr/bin/web"] == "ix"
    assert "@{PROC}/sys/**" not in f.items["files"]  # deny rules narrow
    assert f.items["executables"] == {"/usr/bin/web": ""}
    assert set(f.items["network"]) == {"socket AF_INET/SOCK_STREAM", "socket AF_UNIX/SOCK_DGRAM"}
    # hardened run line: only the network and the tmpfs mounts remain
    assert f.items["run"] == {"--network none": "not in run.sh", "--tmpfs /run": "in run.sh",
                              "--tmpfs /tmp": "in run.sh"}


def test_policy_directory_escalation(tmp_path):
    a = diffcases.write_policy(tmp_path / "a")
    b = diffcases.write_policy(tmp_path / "b", escalate=True)
    load = lambda d: diff.facts_from_policy({n: (d / n).read_text() for n in diff.POLICY_FILES})
    report = diff.compare(load(a), load(b))
    got = {(c.section, c.item): c.risk.level for c in report.added}
    assert got[("syscalls", "mount")] == "high"
    assert got[("capabilities", "CAP_SYS_ADMIN")] == "high"
    assert got[("capabilities", "CAP_CHOWN")] == "low"
    assert got[("network", "socket AF_PACKET/SOCK_RAW")] == "high"
    assert got[("files", "/var/lib/web/**")] == "medium"
    assert got[("executables", "/bin/sh")] == "medium"
    assert got[("run", "--read-only")] == "medium"
    assert got[("run", "--user")] == "medium"
    assert ("arguments", "clone(arg0 & 0x7e020000 == 0x0)") in got
    assert report.removed == ()


def test_partial_policy_directory_compares_what_both_have():
    only_seccomp = {"seccomp.json": json.dumps(diffcases.seccomp_profile(["read"]))}
    full = {"seccomp.json": json.dumps(diffcases.seccomp_profile(["read", "write"])),
            "caps.txt": "CAP_CHOWN\n"}
    report = diff.compare(diff.facts_from_policy(only_seccomp), diff.facts_from_policy(full))
    assert [c.item for c in report.added] == ["write"]
    assert "capabilities: only NEW has them; not compared" in report.notes


@pytest.mark.parametrize("text,message", [
    ("[]", "not a seccomp profile"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}', "allows every syscall"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": "read"}]}', "no list of names"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["x"], "action": '
     '"SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "BOGUS"}]}]}', "unknown argument"),
])
def test_bad_seccomp_profiles(text, message):
    with pytest.raises(diff.PolicyFormatError, match=message):
        diff.facts_from_seccomp(json.loads(text))


def test_bad_policy_files_name_the_file():
    with pytest.raises(diff.PolicyFormatError, match="^caps.txt: unknown capability 'CAP_FLY'"):
        diff.facts_from_policy({"caps.txt": "CAP_FLY\n"})
    with pytest.raises(diff.PolicyFormatError, match="^run.sh: no `docker run`"):
        diff.facts_from_policy({"run.sh": "#!/bin/sh\necho hi\n"})
    with pytest.raises(diff.PolicyFormatError, match="^apparmor.profile: no profile block"):
        diff.facts_from_policy({"apparmor.profile": "/etc/x r,\n"})


def test_run_sh_loosening_flags():
    run, caps = diff.run_items("docker run --privileged --net=host --pid host "
                               "--security-opt seccomp:unconfined --device /dev/fuse "
                               "--cap-add=sys_ptrace -u root img\n")
    assert {"--privileged", "--network host", "--pid host", "--security-opt seccomp=unconfined",
            "--device /dev/fuse", "--user", "--read-only"} <= set(run)
    assert caps == {"CAP_SYS_PTRACE": ""}
    assert risk.run("--privileged").level == "high"


# --- the risk table --------------------------------------------------------------------------

def test_risk_table_rules_cite_known_sources_and_valid_classes():
    t = risk.table()
    for section in ("syscalls", "arguments", "capabilities", "files", "network", "executables",
                    "run"):
        rules = t[section]["rules"] + ([t[section]["default"]] if "default" in t[section] else [])
        for rule in rules:
            assert rule["class"] in risk.LEVELS, rule
            assert rule["source"] in t["sources"], rule
            assert rule["reason"].strip(), rule


def test_risk_table_names_are_real_syscalls_and_capabilities():
    # libseccomp knows every name on some architecture (vm86 is x86-only, ...)
    tables = [syscalls.table(a) for a in syscalls.OCI_ARCH]
    for rule in risk.table()["syscalls"]["rules"]:
        for name in rule["names"]:
            assert any(name in t for t in tables), name
    for rule in risk.table()["capabilities"]["rules"]:
        for name in rule["names"]:
            assert name in CAPABILITY_NUMBERS, name


@pytest.mark.parametrize("call,level", [
    (lambda: risk.syscall("unshare"), "high"),
    (lambda: risk.syscall("keyctl"), "high"),
    (lambda: risk.syscall("chroot"), "medium"),
    (lambda: risk.syscall("getpid"), "low"),
    (lambda: risk.capability("CAP_NET_ADMIN"), "high"),
    (lambda: risk.capability("CAP_SETUID"), "medium"),
    (lambda: risk.capability("CAP_KILL"), "low"),
    (lambda: risk.argument("clone", "flags", 0x10000000), "high"),
    (lambda: risk.argument("clone", "flags", 0x11), "low"),
    (lambda: risk.argument("personality", "persona", 0x0040000), "medium"),
    (lambda: risk.argument("personality", "persona", 0xFFFFFFFF), "low"),
    (lambda: risk.argument("socket", "domain", 17), "high"),
    (lambda: risk.file("/proc/sys/kernel/core_pattern", ["write"]), "high"),
    (lambda: risk.file("/proc/sys/kernel/core_pattern", ["read"]), "low"),
    (lambda: risk.file("/sys/fs/cgroup/cpu.max", ["write"]), "medium"),
    (lambda: risk.file("/var/run/docker.sock", ["read"]), "high"),
    (lambda: risk.file("/dev/mem", ["r"]), "high"),
    (lambda: risk.file("/etc/shadow", ["read"]), "medium"),
    (lambda: risk.file("/tmp/tmp*", ["write", "create"]), "low"),
    (lambda: risk.file("/tmp/extra", ["mkdir", "chown"]), "medium"),
    (lambda: risk.file("/var/lib/x", ["w"]), "medium"),
    (lambda: risk.file("/usr/lib/libx.so", ["r", "m"]), "medium"),
    (lambda: risk.network("socket", "AF_INET/SOCK_RAW"), "high"),
    (lambda: risk.network("listen", "AF_INET 127.0.0.1:80"), "low"),
    (lambda: risk.network("listen", "AF_INET6 [::]:80"), "medium"),
    (lambda: risk.executable("/usr/bin/nsenter"), "high"),
    (lambda: risk.executable("/usr/bin/python3"), "medium"),
    (lambda: risk.run("--network host"), "high"),
    (lambda: risk.run("--network none"), "low"),
])
def test_risk_classes(call, level):
    assert call().level == level


def test_caps_txt_as_flags_or_names():
    assert diff.caps_items("--cap-drop ALL --cap-add CHOWN --cap-add=sys_admin,NET_RAW\n") == \
        {"CAP_CHOWN": "", "CAP_SYS_ADMIN": "", "CAP_NET_RAW": ""}
    assert diff.caps_items("--cap-drop ALL\n") == {}
    assert diff.caps_items("# needed\nCAP_CHOWN, setuid\n") == {"CAP_CHOWN": "", "CAP_SETUID": ""}


def test_seccomp_arch_map():
    data = {**diffcases.seccomp_profile(["read"]), "archMap": [
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}]}
    del data["architectures"]
    assert diff.facts_from_seccomp(data).arches == ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM")


def test_run_sh_with_an_options_array():
    text = """#!/usr/bin/env bash
# Not applied, and why:
#   --read-only: writes '/etc/x'
here=$(cd "$(dirname "$0")" && pwd)
args=(
  --cap-drop ALL  # start from no capabilities
  --cap-add CHOWN  # granted
  --security-opt no-new-privileges  # evidence
  --tmpfs /run  # the app created files here
  --user app  # the image's USER
  --security-opt "seccomp=$here/seccomp.json"
)
exec docker run "${args[@]}" "$@" image
"""
    run, caps = diff.run_items(text)
    assert run == {"--read-only": "not in run.sh", "--network none": "not in run.sh",
                   "--tmpfs /run": "in run.sh"}
    assert caps == {"CAP_CHOWN": ""}
    with pytest.raises(diff.PolicyFormatError, match="line 2: cannot split"):
        diff.run_items("docker run img\necho 'unclosed\n")

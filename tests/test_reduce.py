"""reduce(): merging recordings into a Policy, and the evidence rules of the hardening options."""

from dataclasses import replace

import pytest

from emitcases import arg, nginx, recording
from profiler.errors import PolicyError
from profiler.model import FileAccess, Syscall
from profiler.reduce import reduce, sanitize_name


def test_fixture_policy():
    p = reduce([nginx()])
    assert p.arch == "x86_64" and p.runs == 1
    assert "accept4" in p.syscalls and "unshare" not in p.syscalls
    # granted > 0 counts; NET_BIND_SERVICE was only denied
    assert p.capabilities == ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETGID", "CAP_SETUID")
    assert p.denied_capabilities == ("CAP_NET_BIND_SERVICE",)
    patterns = [f.pattern for f in p.files]
    assert "/proc/@{pid}/status" in patterns and "/tmp/tmp*" in patterns
    # a path that only failed gives no rule
    assert "/etc/nginx/modules-enabled" not in patterns
    assert p.name == "profiler-sample-nginx"


def test_union_and_partial():
    a = recording(names=("read", "write", "exit_group", "openat"), caps=[("CAP_CHOWN", 0)],
                  files=[("/etc/a", ["read"]), ("/etc/b", ["read"])])
    b = recording(names=("read", "write", "exit_group", "socket"),
                  files=[("/etc/a", ["read", "write"])])
    p = reduce([a, b], ["a", "b"])
    assert set(p.syscalls) == {"read", "write", "exit_group", "openat", "socket"}
    assert p.capabilities == ("CAP_CHOWN",)
    assert dict((f.pattern, f.access) for f in p.files)["/etc/a"] == ("read", "write")
    partial = {(x.kind, x.item): x.runs for x in p.partial}
    assert partial[("syscall", "openat")] == (1,)
    assert partial[("syscall", "socket")] == (2,)
    assert partial[("capability", "CAP_CHOWN")] == (1,)
    assert partial[("file", "/etc/b")] == (1,)
    assert ("syscall", "read") not in partial


def test_merge_is_order_independent():
    a = recording(names=("read", "openat"), files=[("/x", ["read"])])
    b = recording(names=("write",), files=[("/y", ["write"])])
    pa, pb = reduce([a, b], ["1", "2"]), reduce([b, a], ["1", "2"])
    assert pa.syscalls == pb.syscalls and pa.files == pb.files


def test_mixed_architectures_refused():
    with pytest.raises(PolicyError, match="different architectures.*x86_64.*aarch64"):
        reduce([recording(), recording(arch="aarch64", names=("read",))], ["x.yaml", "y.yaml"])


def test_unknown_syscall_name_refused():
    rec = replace(recording(), syscalls=(Syscall("definitely_not_a_syscall", 999, 1),))
    with pytest.raises(PolicyError, match="definitely_not_a_syscall") as e:
        reduce([rec], ["x.yaml"])
    assert e.value.hint


def test_unnamed_number_is_a_warning():
    rec = replace(recording(), syscalls=recording().syscalls + (Syscall("", 1000, 1),))
    p = reduce([rec])
    assert p.unnamed_syscalls == (1000,)
    assert any("1000" in w for w in p.warnings)


def test_loss_and_startup_warnings():
    rec = replace(recording(), loss=(("ringbuf_full", 3),))
    rec = replace(rec, metadata=replace(rec.metadata, startup_observed=False))
    p = reduce([rec], ["r.yaml"])
    assert any("lost" in w and "ringbuf_full 3" in w for w in p.warnings)
    assert any("start" in w for w in p.warnings)


# --- argument filters ------------------------------------------------------------------------

def test_arg_filters_union_of_complete_sets():
    a = recording(names=("socket",), arguments=[arg("socket", "domain", 0, 1)])
    b = recording(names=("socket",), arguments=[arg("socket", "domain", 0, 2)])
    (f,) = reduce([a, b]).arg_filters
    assert (f.syscall, f.index, f.values) == ("socket", 0, (1, 2))


@pytest.mark.parametrize("args", [
    [],  # syscall made but values not recorded
    [arg("socket", "domain", 0, 1, overflow=2)],  # more values than recorded
    [arg("socket", "domain", 0)],  # empty set
    [arg("socket", "domain", -1, 1)],  # read via pointer: no register to filter
])
def test_no_filter_without_complete_values(args):
    rec = recording(names=("socket",), arguments=args)
    assert reduce([rec]).arg_filters == ()


def test_no_filter_when_one_run_lacks_values():
    a = recording(names=("socket",), arguments=[arg("socket", "domain", 0, 1)])
    b = recording(names=("socket",))
    assert reduce([a, b]).arg_filters == ()


# --- hardening evidence ----------------------------------------------------------------------

def test_nginx_hardening():
    h = reduce([nginx()]).hardening
    assert h.no_new_privileges.apply
    assert h.read_only.apply
    assert h.tmpfs == (("/run", ""), ("/tmp", ""), ("/var/lib/nginx", ""), ("/var/log/nginx", ""))
    assert h.pids_limit.apply and h.pids_limit.value == "32"
    assert not h.user.apply and "root" in h.user.evidence
    assert not h.network_none.apply and "AF_INET" in h.network_none.evidence


def test_setuid_program_blocks_no_new_privileges():
    p = reduce([recording(executables=["/usr/bin/su", "/bin/sh"])])
    assert not p.hardening.no_new_privileges.apply
    assert "/usr/bin/su" in p.hardening.no_new_privileges.evidence


def test_non_root_capability_blocks_no_new_privileges():
    p = reduce([recording(uids=[1000], gids=[1000], caps=[("CAP_NET_RAW", 13)])])
    assert not p.hardening.no_new_privileges.apply


def test_write_outside_tmpfs_roots_keeps_root_writable():
    p = reduce([recording(files=[("/etc/app.conf", ["write", "create"])])])
    assert not p.hardening.read_only.apply and "/etc/app.conf" in p.hardening.read_only.evidence


def test_tmpfs_would_hide_image_files():
    p = reduce([recording(files=[("/var/lib/app/db", ["read", "write"]),
                                 ("/var/lib/app/new", ["create", "write"])])])
    assert not p.hardening.read_only.apply and "hide" in p.hardening.read_only.evidence


def test_volumes_and_docker_files_are_writable_anyway():
    p = reduce([recording(files=[("/data/x", ["write", "create"]), ("/etc/hosts", ["write"]),
                                 ("/proc/self/oom_score_adj", ["write"])],
                          run_options=[("volume", "/srv/data:/data")])])
    assert p.hardening.read_only.apply and p.hardening.tmpfs == ()


def test_tmpfs_exec_when_executed_there():
    p = reduce([recording(files=[("/tmp/build/run", ["create", "write", "execute"])])])
    assert p.hardening.tmpfs == (("/tmp", "exec"),)


def test_hostile_written_dir_refuses_tmpfs():
    p = reduce([recording(files=[("/var/log/a:b/x.log", ["create", "write"])])])
    assert not p.hardening.read_only.apply


def test_user_from_uid_or_image():
    assert reduce([recording(uids=[33], gids=[33])]).hardening.user.value == "33:33"
    assert reduce([recording(uids=[33], gids=[33], user="www-data")]).hardening.user.value \
        == "www-data"
    assert not reduce([recording(uids=[33, 34], gids=[33])]).hardening.user.apply
    assert not reduce([recording(uids=[])]).hardening.user.apply


def test_network_none_only_for_local_sockets():
    p = reduce([recording(sockets=[("AF_UNIX", "SOCK_STREAM")],
                          run_options=[("publish", "127.0.0.1:1:1"), ("env", "A")])])
    assert p.hardening.network_none.apply
    assert p.run_options == (("env", "A"),)  # nothing listened: published ports dropped
    p = reduce([recording(sockets=[("AF_INET6", "SOCK_DGRAM")])])
    assert not p.hardening.network_none.apply


def test_pids_limit_margin():
    assert reduce([recording(peak=100)]).hardening.pids_limit.value == "200"
    assert not reduce([recording(peak=0)]).hardening.pids_limit.apply


def test_managed_run_options_are_dropped():
    p = reduce([recording(run_options=[("publish", "127.0.0.1:8080:80"), ("privileged", "true"),
                                       ("cap-add", "ALL")], sockets=[("AF_INET", "SOCK_STREAM")])])
    assert p.run_options == (("publish", "127.0.0.1:8080:80"),)


@pytest.mark.parametrize("image,name", [
    ("profiler-sample-nginx", "profiler-sample-nginx"),
    ("ghcr.io/org/My_App:1.2", "my-app"),
    ("localhost:5000/app@sha256:" + "a" * 64, "app"),
    ("", "container"),
    ("../..", "container"),
])
def test_sanitize_name(image, name):
    assert sanitize_name(image) == name


def test_rename_onto_a_missing_path_counts_as_created():
    # redis: write temp-1.rdb, rename it to dump.rdb (whose first read had failed)
    rec = recording(uids=[100], gids=[101], files=[
        ("/var/lib/redis/temp-1.rdb", ["write", "create", "rename"]),
        ("/var/lib/redis", ["read"])])
    rec = replace(rec, files=rec.files + (FileAccess("/var/lib/redis/dump.rdb", ("rename",),
                                                     ("read",)),))
    h = reduce([rec]).hardening
    assert h.read_only.apply and h.tmpfs == (("/var/lib/redis", "uid=100,gid=101"),)
    # a rename alone may have moved the image's file away: no tmpfs then
    rec = recording(files=[("/var/lib/app/a", ["rename"]), ("/var/lib/app/b", ["create"])])
    assert not reduce([rec]).hardening.read_only.apply


def test_tmpfs_owned_by_a_non_root_app():
    files = [("/var/lib/app/db", ["create", "write"])]
    assert reduce([recording(uids=[100], gids=[101], files=files)]).hardening.tmpfs == \
        (("/var/lib/app", "uid=100,gid=101"),)
    assert reduce([recording(uids=[100, 101], gids=[101], files=files)]).hardening.tmpfs == \
        (("/var/lib/app", "mode=1777"),)
    assert reduce([recording(uids=[0, 33], files=files)]).hardening.tmpfs == \
        (("/var/lib/app", ""),)


def test_files_in_a_directory_the_app_made_are_its_own():
    # the probe sample: mkdir /tmp/probe, create file.tmp, rename it to file, unlink file
    rec = recording(files=[("/tmp/probe", ["mkdir"]), ("/tmp/probe/file.tmp", ["create", "rename"]),
                           ("/tmp/probe/file", ["delete", "rename"])])
    assert reduce([rec]).hardening.read_only.apply
    rec = recording(files=[("/tmp/probe/file.tmp", ["create"]), ("/tmp/probe/file", ["rename"])])
    assert not reduce([rec]).hardening.read_only.apply

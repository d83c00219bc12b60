"""reduce(): merging recordings into a Policy (the hardening decisions:
tests/policy/test_hardening.py)."""

from dataclasses import replace

import pytest

from emitcases import arg, nginx, recording
from profiler.errors import PolicyError
from profiler.recording.model import Syscall
from profiler.policy.reduce import reduce, sanitize_name


def test_fixture_policy():
    p = reduce([nginx()])
    assert p.arch == "x86_64" and p.runs == 1
    assert "accept4" in p.syscalls and "unshare" not in p.syscalls
    # granted > 0 counts (the kernel's path-choosing probes are not recorded as needs)
    assert p.capabilities == ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETGID", "CAP_SETUID")
    assert p.denied_capabilities == ()
    patterns = [f.pattern for f in reduce([nginx()], generalise=False).files]
    assert "/etc/nginx/mime.types" in patterns and "/var/lib/nginx/body" in patterns
    # a path that only failed gives no rule
    assert "/usr/lib/ssl/openssl.cnf" not in patterns
    # generalised (the default): the directory nginx made its temp dirs in is a tree
    patterns = [f.pattern for f in p.files]
    assert "/var/lib/nginx/**" in patterns and "/var/lib/nginx/body" not in patterns
    assert "/etc/nginx/mime.types" in patterns  # files it only read stay as they are
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


# --- run options and names -------------------------------------------------------------------

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

"""The seccomp renderer: Docker's JSON format, checked by compiling it with libseccomp for every
architecture it lists, and by loading it into a real (forked) process."""

import ctypes
import errno
import json
import os
import socket

import pytest

from emitcases import arg, check_golden, nginx, recording, replace, shell
from profiler.errors import PolicyError
from profiler.recording.model import Syscall
from profiler.policy.reduce import reduce
from profiler.render import seccomp
from profiler.policy.behalf_syscalls import table as behalf_table
from profiler.policy.runtime_syscalls import tables


def _prof(rec, **kw):
    # the renderer's mechanics, on the policy before generalisation by kind and risk
    # (tests/test_generalise.py covers that)
    return seccomp.profile(reduce([rec], generalise=False), **kw)


def test_golden_nginx(update_golden):
    # today's default before generalisation by kind and risk (the default's own
    # golden files: test_emit_general_golden.py)
    check_golden("nginx.seccomp.json", seccomp.render(reduce([nginx()], generalise=False)),
                 update_golden)


def test_golden_shell(update_golden):
    # today's default before generalisation by kind and risk (the default's own
    # golden files: test_emit_general_golden.py)
    check_golden("shell.seccomp.json", seccomp.render(reduce([shell()], generalise=False)),
                 update_golden)


def test_deterministic():
    assert seccomp.render(reduce([nginx()])) == seccomp.render(reduce([nginx()]))


@pytest.mark.parametrize("arch,main", [("x86_64", "SCMP_ARCH_X86_64"),
                                       ("aarch64", "SCMP_ARCH_AARCH64")])
def test_no_compat_call_no_compat_arch(arch, main):
    """Tighter than Docker's default (which lists x86 and x32): no compat call was seen, so no
    sub-architecture is listed, and libseccomp compiles the profile for the one left."""
    rec = recording(arch=arch, names=("read", "write", "openat", "exit_group", "socket"),
                    arguments=[arg("socket", "domain", 0, 1)])
    prof = _prof(rec)
    assert prof["archMap"] == [{"architecture": main, "subArchitectures": []}]
    assert "architectures" not in prof  # Docker refuses both keys together
    filters = seccomp.build_filters(prof)
    assert list(filters) == [arch]
    with open(os.devnull, "wb") as null:
        filters[arch].export_bpf(null)


@pytest.mark.parametrize("arch,subs", [("x86_64", ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
                                       ("aarch64", ["SCMP_ARCH_ARM"])])
def test_complain_lists_every_sub_arch(arch, subs):
    # A call from an unlisted architecture is killed whatever the default action: a profile
    # that must refuse nothing lists them all.
    prof = _prof(recording(arch=arch), complain=True)
    assert prof["archMap"][0]["subArchitectures"] == subs
    assert len(seccomp.build_filters(prof)) == 1 + len(subs)


def _with_compat(rec, arch, *names):
    from profiler.kernel import syscalls as sctab
    extra = tuple(Syscall(n, sctab.number_of(arch, n), 1, arch=arch, decoded=False)
                  for n in names)
    return replace(rec, syscalls=rec.syscalls + extra).canonical()


def _pfc(f) -> str:
    import tempfile
    with tempfile.TemporaryFile("w+") as out:
        f.export_pfc(out)
        out.seek(0)
        return out.read()


def test_compat_calls_get_their_arch_and_block():
    rec = _with_compat(recording(names=("read", "write", "exit_group", "uname")),
                       "x86", "uname", "socketcall", "epoll_pwait2")
    prof = _prof(rec)
    assert prof["archMap"][0]["subArchitectures"] == ["SCMP_ARCH_X86"]  # not x32: not seen
    (block,) = [r for r in prof["syscalls"] if "i386" in r.get("comment", "")]
    # uname is allowed by the app's block already; the others only by the compat block.
    assert block["names"] == ["epoll_pwait2", "socketcall"] and block["action"] == "SCMP_ACT_ALLOW"
    assert "uname" in block["comment"] and "every listed architecture" in block["comment"]
    # epoll_pwait2 was made, so it is allowed, not answered ENOSYS.
    enosys = [n for r in prof["syscalls"] if r.get("errnoRet") == 38 for n in r["names"]]
    assert "epoll_pwait2" not in enosys
    filters = seccomp.build_filters(prof)
    assert set(filters) == {"x86_64", "x86"}
    x86 = _pfc(filters["x86"])
    assert '"uname"' in x86 and '"socketcall"' in x86
    assert '"socketcall"' not in _pfc(filters["x86_64"])  # x86_64 has no socketcall


def test_x32_calls_list_x32():
    rec = _with_compat(recording(), "x32", "uname")
    prof = _prof(rec)
    assert prof["archMap"][0]["subArchitectures"] == ["SCMP_ARCH_X32"]
    assert set(seccomp.build_filters(prof)) == {"x86_64", "x32"}


def test_compat_arch_the_host_cannot_run_is_refused():
    rec = _with_compat(recording(arch="aarch64"), "x86", "uname")
    with pytest.raises(PolicyError, match="cannot run on aarch64"):
        _prof(rec)


def test_no_arg_filter_for_a_call_also_made_as_compat():
    """A rule holds for every listed architecture, and a compat call's arguments were not read:
    filtering socket by the native domains seen would refuse the i386 socket calls."""
    native = recording(names=("socket", "exit_group"), arguments=[arg("socket", "domain", 0, 1)])
    assert [f.syscall for f in reduce([native]).arg_filters] == ["socket"]
    policy = reduce([_with_compat(native, "x86", "socket")])
    assert policy.arg_filters == ()
    assert policy.compat_syscalls == (("x86", ("socket",)),)
    assert any("not decoded" in w for w in policy.warnings)


def test_default_action_and_complain():
    prof = _prof(nginx())
    assert (prof["defaultAction"], prof["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    prof = _prof(nginx(), complain=True)
    assert prof["defaultAction"] == "SCMP_ACT_LOG" and "defaultErrnoRet" not in prof
    seccomp.build_filters(prof)


def test_every_rule_has_a_comment():
    assert all(r["comment"] for r in _prof(nginx())["syscalls"])


def test_runtime_block_marked_and_complete():
    prof = _prof(shell())
    (block,) = [r for r in prof["syscalls"] if "runtime" in r["comment"]]
    allowed = seccomp.allowed_names(prof)
    assert set(tables().runtime) <= allowed
    assert not set(block["names"]) & set(reduce([shell()]).syscalls)  # only what the app lacks
    # nothing the runtime does before loading the filter gets in
    assert not set(tables().excluded) & allowed


def test_runtime_tables_are_libseccomp_names():
    t = tables()
    for name in list(t.runtime) + list(t.excluded) + list(t.enosys):
        assert seccomp.sctab.number_of("x86_64", name) is not None or \
            seccomp.sctab.number_of("aarch64", name) is not None, name
    assert all(t.sources[n] for n in t.runtime)
    assert not set(t.runtime) & set(t.excluded)


def test_behalf_block_marked_and_every_name_allowed_once():
    # The kernel's and libc's calls on the app's behalf (restart_syscall after SIGSTOP/SIGCONT
    # or docker pause, a retiring thread's exit, ...) are in every profile, in their own block.
    rec = recording(names=("read", "write", "exit_group", "exit", "clock_gettime"))
    prof = _prof(rec)
    (block,) = [r for r in prof["syscalls"] if "on the app's behalf" in r["comment"]]
    assert {"restart_syscall", "gettimeofday", "time"} <= set(block["names"])
    assert not {"exit", "clock_gettime"} & set(block["names"])  # the app's block has them
    assert set(behalf_table().when) <= seccomp.allowed_names(prof)
    names = [n for r in prof["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and "args" not in r
             for n in r["names"]]
    assert len(names) == len(set(names))
    seccomp.build_filters(prof)


def test_behalf_table_is_sourced_libseccomp_names():
    t = behalf_table()
    for name in list(t.when) + list(t.excluded):
        assert seccomp.sctab.number_of("x86_64", name) is not None, name
    assert all(t.sources[n] for n in t.when)
    assert not set(t.when) & set(t.excluded)
    assert not set(t.when) & set(tables().excluded)  # nothing runc does before the filter


def test_enosys_for_unobserved_fallback_syscalls():
    prof = _prof(recording(names=("read", "write", "clone")))
    (block,) = [r for r in prof["syscalls"] if r.get("errnoRet") == errno.ENOSYS]
    assert "clone3" in block["names"] and block["action"] == "SCMP_ACT_ERRNO"
    assert "clone3" not in seccomp.allowed_names(prof)


def test_observed_clone3_kept_without_arg_filters():
    rec = recording(names=("clone", "clone3"), arguments=[arg("clone", "flags", 0, 0x11)])
    assert "clone3" not in seccomp.allowed_names(_prof(rec))  # ENOSYS: glibc uses filtered clone
    assert "clone3" in seccomp.allowed_names(_prof(rec, arg_filters=False))


def test_argument_filters():
    rec = recording(names=("socket", "clone", "personality", "read"),
                    arguments=[arg("socket", "domain", 0, 1, 10),
                               arg("clone", "flags", 0, 0x1200011, 0x10000000 | 0x11),
                               arg("personality", "persona", 0, 0xffffffff)])
    rules = _prof(rec)["syscalls"]
    sock = [r["args"] for r in rules if r["names"] == ["socket"]]
    assert sock == [[{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
                    [{"index": 0, "value": 10, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]]
    clone = sorted(r["args"][0]["valueTwo"] for r in rules if r["names"] == ["clone"])
    assert clone == [0, 0x10000000]  # no namespace flags, and CLONE_NEWUSER as seen
    assert all(r["args"][0]["op"] == "SCMP_CMP_MASKED_EQ" for r in rules if r["names"] == ["clone"])
    assert [r["args"][0]["value"] for r in rules if r["names"] == ["personality"]] == [0xffffffff]
    # filtered names are not also allowed unconditionally
    plain = [r for r in rules if "args" not in r and r["action"] == "SCMP_ACT_ALLOW"]
    assert not {"socket", "clone", "personality"} & {n for r in plain for n in r["names"]}
    seccomp.build_filters(_prof(rec))
    # --no-arg-filters: plain names
    rules = _prof(rec, arg_filters=False)["syscalls"]
    assert not any("args" in r for r in rules)
    assert {"socket", "clone", "personality"} <= seccomp.allowed_names(_prof(rec, arg_filters=False))


def test_names_unknown_on_an_arch_are_skipped_there():
    # `open` exists on x86_64 but not on aarch64; the profile for x86_64 also lists x32/x86.
    prof = _prof(recording(names=("open", "read", "exit_group")))
    assert "open" in seccomp.allowed_names(prof)
    seccomp.build_filters(prof)


def test_json_is_valid_and_plain():
    text = seccomp.render(reduce([nginx()], generalise=False))
    assert json.loads(text) == _prof(nginx())
    assert text.endswith("\n")


def _in_child(prof, action) -> int:
    """Fork; in the child load the profile's filter and run action(); report its errno."""
    filt = seccomp.build_filters(prof)[seccomp.sctab.host_arch()]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(r)
        try:
            filt.load()
            try:
                action()
                code = 0
            except OSError as e:
                code = e.errno or 255
            os.write(w, bytes([code]))
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    return data[0] if data else -1


@pytest.mark.skipif(seccomp.sctab.host_arch() != "x86_64", reason="x86_64 recording")
def test_loaded_filter_enforces_arg_filters_and_default():
    # The fixture allows socket(AF_UNIX/AF_INET/AF_INET6) only, and not unshare.
    prof = _prof(nginx())
    assert _in_child(prof, lambda: socket.socket(socket.AF_UNIX).close()) == 0
    assert _in_child(prof, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW)) \
        == errno.EPERM
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the filter is

    def unshare_uts():
        if libc.unshare(0x04000000) != 0:  # CLONE_NEWUTS
            raise OSError(ctypes.get_errno(), "unshare")
    assert _in_child(prof, unshare_uts) == errno.EPERM

    def getsid():  # not in the profile, and allowed to anyone by the kernel
        if libc.getsid(0) < 0:
            raise OSError(ctypes.get_errno(), "getsid")
    assert _in_child(prof, getsid) == errno.EPERM
    assert _in_child(seccomp.profile(reduce([nginx()]), complain=True), getsid) == 0

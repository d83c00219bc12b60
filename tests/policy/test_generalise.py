"""Generalisation by kind and risk (profiler/policy/generalise.py, data/syscall_classes.yaml,
data/path_shapes.yaml): what production does that one training run did not, from fixtures.

Each kind from issue 18 is a test that fails on the code before generalisation: mkdir and rmdir
refused while unlink and rename were allowed; getpeername/getsockname; fadvise64, get_mempolicy,
pkey_alloc; libaio's io_setup after io_uring answered ENOSYS; socket AF_INET6 for a runtime that
used AF_INET; AppArmor names training never saw."""

from __future__ import annotations

import pytest
import yaml

from emitcases import arg, nginx, recording
from profiler.policy import generalise, risk
from profiler.kernel import syscalls as sctab
from profiler.policy.reduce import reduce
from profiler.render import apparmor, seccomp

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET = 1, 2, 10, 16, 17


def allowed(rec, **kw) -> set[str]:
    return seccomp.allowed_names(seccomp.profile(reduce([rec], **kw)))


def enosys(rec, **kw) -> set[str]:
    prof = seccomp.profile(reduce([rec], **kw))
    return {n for r in prof["syscalls"] if r["action"] == "SCMP_ACT_ERRNO" for n in r["names"]}


# --- the data ---------------------------------------------------------------------------------

def test_every_libseccomp_name_on_every_architecture_is_in_one_family():
    index = generalise._family_index()
    for arch in sctab.OCI_ARCH:
        missing = sorted(n for n in sctab.table(arch) if n not in index)
        assert not missing, f"{arch}: {missing} (add them to profiler/data/syscall_classes.yaml)"
    listed = [n for f in generalise.families().values() for n in f.names]
    assert len(listed) == len(set(listed)), "a name is in two families"


def test_every_classified_name_is_real_and_every_source_is_defined():
    known = set().union(*(sctab.table(a) for a in sctab.OCI_ARCH))
    data = yaml.safe_load(open(generalise.resources.files("profiler")
                               .joinpath(generalise.CLASSES_FILE)))
    for name, fam in generalise.families().items():
        assert set(fam.names) <= known, (name, set(fam.names) - known)
        assert set(fam.also_when) <= known, name
        assert fam.sources and set(fam.sources) <= set(data["sources"]), name
        assert fam.does


def test_high_risk_families_never_generalise():
    # every high-risk name is in a family that grants nothing beyond what was used, or is
    # itself skipped for its risk: both are checked by what syscalls() returns
    for fam in generalise.families().values():
        highs = [n for n in fam.names if risk.syscall(n).level == "high"]
        for h in highs:
            added, _ = generalise.syscalls(set(fam.names) - {h}, set(fam.names))
            assert h not in added, (fam.name, h)


@pytest.mark.parametrize("name", ["unshare", "setns", "mount", "umount2", "pivot_root", "bpf",
                                  "ptrace", "keyctl", "add_key", "request_key",
                                  "perf_event_open", "userfaultfd", "io_uring_setup",
                                  "io_uring_enter", "init_module", "finit_module", "kexec_load",
                                  "process_vm_readv", "open_by_handle_at", "iopl"])
def test_dangerous_names_are_never_added(name):
    """Used every other name libseccomp knows: the dangerous one is still not added."""
    known = sctab.table("x86_64")
    added, _ = generalise.syscalls(set(known) - {name}, known)
    assert name not in added


# --- the kinds of issue 18 (each fails on the code before generalisation) -------------------

def test_mkdir_and_rmdir_allowed_with_unlink_and_rename():
    rec = recording(names=("read", "write", "exit_group", "unlink", "rename", "openat"))
    names = allowed(rec)
    assert {"mkdir", "mkdirat", "rmdir", "unlinkat", "renameat2", "linkat", "symlinkat"} <= names
    assert "mknod" not in names and "mknodat" not in names  # medium: special files
    strict = allowed(rec, strict=True)
    assert "mkdir" not in strict and "rmdir" not in strict


def test_getpeername_and_getsockname_for_an_app_that_accepts():
    rec = recording(names=("read", "write", "exit_group", "socket", "bind", "listen", "accept4",
                           "recvfrom", "sendto"))
    names = allowed(rec)
    assert {"getpeername", "getsockname", "shutdown", "recvmsg", "sendmsg"} <= names
    assert "getpeername" not in allowed(rec, strict=True)


def test_accept_alone_brings_the_socket_io_family():
    rec = recording(names=("read", "write", "exit_group", "accept"))
    assert {"getpeername", "getsockname", "shutdown"} <= allowed(rec)


def test_read_brings_fadvise_readahead_and_positioned_reads():
    names = allowed(recording(names=("read", "write", "exit_group")))
    assert {"fadvise64", "pread64", "preadv2", "readv", "readahead"} <= names
    assert not {"splice", "tee", "vmsplice"} & names  # medium (Dirty Pipe): only as recorded


def test_mmap_brings_get_mempolicy_and_pkeys_not_mbind():
    names = allowed(recording(names=("read", "write", "exit_group", "mmap", "munmap")))
    assert {"madvise", "mremap", "get_mempolicy", "pkey_alloc", "pkey_free", "mincore"} <= names
    # changing the NUMA policy needs CAP_SYS_NICE in Docker's profile; memfd_create runs code
    # that was never on disk: both stay as recorded
    assert not {"mbind", "set_mempolicy", "memfd_create", "userfaultfd"} & names


def test_io_setup_after_io_uring_answered_enosys():
    rec = recording(names=("read", "write", "exit_group", "io_uring_setup", "io_uring_enter"))
    policy = reduce([rec])
    assert policy.refused_enosys == ("io_uring_enter", "io_uring_setup")
    names = allowed(rec)
    assert {"io_setup", "io_submit", "io_getevents", "io_destroy", "pread64", "pwrite64"} <= names
    # io_uring itself still answers ENOSYS, so that the app falls back to them
    assert {"io_uring_setup", "io_uring_enter"} <= enosys(rec)
    assert not {"io_uring_setup", "io_uring_enter", "io_uring_register"} & names


def test_an_app_that_handles_signals_may_be_signalled_by_its_operators_tools():
    """bind9's `docker exec rndc status`: rndc ends by signalling itself (libisc), which named
    never did ("fatal error: kill: Operation not permitted"); `nginx -s reload` and `pg_ctl
    reload` signal their daemon. The app installed handlers (rt_sigaction) and waited for
    signals: the signal-sending family, low risk, is allowed with it."""
    rec = recording(names=("read", "write", "exit_group", "rt_sigaction", "rt_sigtimedwait"))
    names = allowed(rec)
    assert {"kill", "tgkill", "tkill"} <= names
    rows = [g for g in reduce([rec]).generalised if "family signal-sending" in g.why]
    assert rows and "rt_sigaction" in rows[0].because and "handles signals" in rows[0].because
    assert "kill" not in allowed(rec, strict=True)
    # an app that neither handles nor sends signals gets none
    assert "kill" not in allowed(recording(names=("read", "write", "exit_group")))


def test_enosys_fallbacks_keep_working():
    """clone3 still answers ENOSYS (glibc falls back to clone, whose flags are filtered); a
    name generalisation allows is no longer in the ENOSYS block."""
    rec = recording(names=("read", "write", "exit_group", "clone", "epoll_wait", "openat"),
                    arguments=[arg("clone", "flags", 0, 0x3d0f00)])
    assert "clone3" in enosys(rec) and "clone3" not in allowed(rec)
    # event-polling, low risk: allowed, no longer ENOSYS (libuv uses it when it works)
    assert "epoll_pwait2" in allowed(rec) and "epoll_pwait2" not in enosys(rec)
    assert "epoll_pwait2" in enosys(rec, strict=True)


def test_socket_af_inet6_for_a_runtime_that_used_af_inet():
    rec = recording(names=("read", "write", "exit_group", "socket", "connect"),
                    sockets=[("AF_INET", "SOCK_STREAM")],
                    arguments=[arg("socket", "domain", 0, AF_INET)])
    policy = reduce([rec])
    (f,) = [f for f in policy.arg_filters if f.syscall == "socket"]
    assert f.values == (AF_INET,) and f.added == (AF_UNIX, AF_INET6)
    rules = [r for r in seccomp.profile(policy)["syscalls"] if r["names"] == ["socket"]]
    assert sorted(r["args"][0]["value"] for r in rules) == [AF_UNIX, AF_INET, AF_INET6]
    seccomp.build_filters(seccomp.profile(policy))
    assert ("AF_INET6", "SOCK_STREAM") in policy.sockets
    text = apparmor.render(policy)
    assert "network inet6 stream," in text and "network unix dgram," in text
    strict = reduce([rec], strict=True)
    assert [f.added for f in strict.arg_filters] == [()]


def test_loaded_filter_allows_af_inet6_and_refuses_packet(tmp_path):
    """The compiled filter: AF_INET6 allowed (generalised), AF_PACKET and AF_NETLINK refused
    (not seen; raw and rare families are kept exactly as recorded)."""
    rec = recording(names=("read", "write", "exit_group", "socket"),
                    sockets=[("AF_INET", "SOCK_DGRAM")],
                    arguments=[arg("socket", "domain", 0, AF_INET)])
    prof = seccomp.profile(reduce([rec]))
    values = {r["args"][0]["value"] for r in prof["syscalls"] if r["names"] == ["socket"]}
    assert AF_INET6 in values and AF_PACKET not in values and AF_NETLINK not in values


def test_packet_and_netlink_are_never_widened():
    rec = recording(names=("read", "write", "exit_group", "socket"),
                    sockets=[("AF_NETLINK", "SOCK_RAW"), ("AF_PACKET", "SOCK_RAW")],
                    arguments=[arg("socket", "domain", 0, AF_NETLINK, AF_PACKET)])
    policy = reduce([rec])
    assert [f.added for f in policy.arg_filters if f.syscall == "socket"] == [()]
    assert set(policy.sockets) == {("AF_NETLINK", "SOCK_RAW"), ("AF_PACKET", "SOCK_RAW")}


def test_clone_namespace_filter_keeps_its_meaning():
    rec = recording(names=("read", "write", "exit_group", "clone"),
                    arguments=[arg("clone", "flags", 0, 0x1200011)])
    strict = [r for r in seccomp.profile(reduce([rec], strict=True))["syscalls"]
              if r["names"] == ["clone"]]
    general = [r for r in seccomp.profile(reduce([rec]))["syscalls"] if r["names"] == ["clone"]]
    assert general == strict and all(r["args"][0]["valueTwo"] == 0 for r in general)
    assert not {"unshare", "setns", "clone3"} & allowed(rec)


def test_personality_is_not_added_unfiltered():
    rec = recording(names=("read", "write", "exit_group", "prctl", "setrlimit"))
    assert "personality" not in allowed(rec)


def test_strict_adds_nothing_and_the_old_default_only_siblings():
    rec = recording(names=("read", "write", "exit_group", "unlink"))
    assert reduce([rec], strict=True).generalised == ()
    old = reduce([rec], generalise=False)
    assert old.generalised == () and old.generalised_syscalls == ()
    assert "unlinkat" in old.siblings  # today's same-operation siblings stay
    new = reduce([rec])
    assert "mkdir" in new.generalised_syscalls
    rows = [g for g in new.generalised if g.kind == "syscalls"]
    assert any("directory-entries" in g.why and "unlink" in g.because for g in rows)


def test_generalised_block_compiles_on_every_listed_architecture():
    prof = seccomp.profile(reduce([nginx()]), complain=True)  # lists x86 and x32 too
    assert set(seccomp.build_filters(prof)) == {"x86_64", "x86", "x32"}


def test_verify_emits_the_same_policy_as_emit(tmp_path):
    """verify --recording emits in memory: generalised by default, as emit --strict with
    --strict (the option is threaded through every path that emits)."""
    import json

    from emitcases import NGINX
    from profiler.verify import verify

    verify.policy_from_recordings([str(NGINX)], tmp_path / "general")
    verify.policy_from_recordings([str(NGINX)], tmp_path / "strict", strict=True)
    general = json.loads((tmp_path / "general" / "seccomp.json").read_text())
    strict = json.loads((tmp_path / "strict" / "seccomp.json").read_text())
    assert general == seccomp.profile(reduce([nginx()]))
    assert strict == seccomp.profile(reduce([nginx()], strict=True))
    assert "getpeername" in seccomp.allowed_names(general) - seccomp.allowed_names(strict)


def test_emit_explain_lists_each_generalisation_deterministically(tmp_path):
    import subprocess
    import sys

    from emitcases import NGINX

    def explain(*extra):
        return subprocess.run([sys.executable, "-m", "profiler.cli", "emit", str(NGINX),
                               "--explain", "-o", str(tmp_path / "s.json"), *extra],
                              capture_output=True, text=True, timeout=120,
                              env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    first, second = explain(), explain()
    assert first.returncode == 0, first.stderr
    assert first.stderr == second.stderr
    assert "generalised beyond the recording" in first.stderr
    assert "family directory-entries" in first.stderr and "rmdir" in first.stderr
    assert "data tree" in first.stderr and "/var/lib/nginx/**" in first.stderr
    strict = explain("--strict")
    assert "generalised beyond the recording: nothing" in strict.stderr


def test_verify_strict_needs_recordings(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "profiler.cli", "verify", "img", "--policy",
                           str(tmp_path), "--strict"], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--strict applies to a policy verify emits" in proc.stderr


def test_path_shape_prefixes_agree_with_their_patterns():
    """The prefixes are a fast filter: a path a shape's pattern matches starts with one."""
    roots = ["/tmp", "/var/tmp", "/dev/shm", "/var/lib", "/var/cache", "/var/log", "/var/spool",
             "/srv", "/data", "/home", "/run", "/var/run", "/usr/lib", "/etc", "/opt", "/proc"]
    paths = [f"{r}{tail}" for r in roots
             for tail in ("/x", "/a/b", "/a/b.so", "/lib1.so", "/a/1.db", "/sem.q")]
    for shape in generalise.shapes():
        assert shape.prefixes
        for p in paths:
            if shape.match.match(p):
                assert p.startswith(shape.prefixes), (shape.kind, p)


def test_explanation_rows_are_capped_per_shape():
    files = [(f"/app/out/part_{i}.bin", ["create", "write"]) for i in range(60)]
    files += [(f"/app/out{i}/x_{i}.log", ["create", "write"]) for i in range(60)]
    policy = reduce([recording(files=files)])
    rows = [g for g in policy.generalised if g.kind == "file"]
    assert len(rows) == generalise.ROWS_PER_SHAPE + 1
    assert rows[-1].allowed.startswith("... and ") and "numbered name" in rows[-1].why
    assert "/app/out/part_*.bin" in {f.pattern for f in policy.files}


def test_diff_of_a_generalised_profile_against_a_strict_one(tmp_path):
    """docs/emit.md: a generalised policy diffed against a strict one shows the generalised
    syscalls as additions, every one low risk; nothing high or medium appears."""
    import json
    import subprocess
    import sys

    strict, general = tmp_path / "strict.json", tmp_path / "general.json"
    strict.write_text(seccomp.render(reduce([nginx()], strict=True)))
    general.write_text(seccomp.render(reduce([nginx()])))
    proc = subprocess.run([sys.executable, "-m", "profiler.cli", "diff", str(strict),
                           str(general), "--format", "json"], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr  # additions are an escalation: compare like with like
    data = json.loads(proc.stdout)
    added = {(a["section"], a["item"]): a["risk"] for a in data["added"]}
    assert ("syscalls", "getpeername") in added and ("syscalls", "rmdir") in added
    assert set(added.values()) == {"low"}, {k: v for k, v in added.items() if v != "low"}


def test_numbered_names_keep_escaped_characters():
    assert generalise._numbered("/a/", "part_12_34.bin") == "/a/part_*_*.bin"
    assert generalise._numbered("/a/", r"x\*12") == "/a/" + r"x\**"  # the literal * is kept
    assert generalise._numbered("/a/", "backup1.tar") == "/a/backup*.tar"

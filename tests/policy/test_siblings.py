"""Sibling syscalls (profiler/policy/siblings.py): the same operation as one the app used, allowed
beyond the training run unless emit --strict."""

from emitcases import recording
from profiler.policy.reduce import reduce
from profiler.render import seccomp
from profiler.policy.siblings import FAMILIES, TRIGGER_ONLY, siblings
from profiler.kernel.syscalls import table


def test_the_redis_production_case():
    # measured: writev for a 1 MiB reply, wait4 after BGSAVE's fork, uname for INFO server
    used = ("write", "clone3", "getrusage", "read")
    out = siblings(used, table("x86_64"))
    assert {"writev", "wait4", "uname", "readv"} <= set(out)
    assert not TRIGGER_ONLY & set(out) and not set(used) & set(out)


def test_nothing_from_families_the_app_did_not_touch():
    assert siblings(("exit_group",), table("x86_64")) == ()
    assert siblings(("clone",), table("x86_64")) == ("wait4", "waitid")


def test_only_names_the_architecture_knows():
    assert "getdents" not in siblings(("getdents64",), table("aarch64"))
    for members, pages in FAMILIES.values():
        assert pages and all(m in table("x86_64") for m in members)


def test_seccomp_allows_them_in_their_own_block_unless_strict():
    rec = recording(names=("read", "write", "exit_group", "clone"))
    prof = seccomp.profile(reduce([rec]))
    block = next(r for r in prof["syscalls"] if "profiler/siblings.py" in r.get("comment", ""))
    assert {"writev", "pread64", "wait4"} <= set(block["names"])
    assert "clone3" not in block["names"]
    strict = seccomp.profile(reduce([rec], strict=True))
    assert not any("siblings" in r.get("comment", "") for r in strict["syscalls"])
    assert "writev" not in seccomp.allowed_names(strict)

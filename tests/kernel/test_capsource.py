"""Capability sources (profiler/kernel/capsource.py), the recording's capability_source, emit's
refusal to state capabilities nobody recorded, and verify's "not checked" (pure; no root)."""

from __future__ import annotations

import struct
import subprocess
import sys
from dataclasses import replace

import pytest
import yaml

from emitcases import LEGACY, nginx
from profiler.kernel import btf, capsource
from profiler.kernel.linux import DOCKER_DEFAULT_CAPS
from profiler.recording import recording_io
from profiler.errors import EnvironmentProblem, PolicyError, UsageError
from profiler.recording.model import SCHEMA_VERSION
from profiler.policy.reduce import reduce
from profiler.render import caps as caps_render
from profiler.output.pipeline import resolve_unknown
from profiler.output.registry import STATES_CAPS, render

# --- kallsyms: the tracepoint's noaudit call sites ----------------------------------------------

KALLSYMS = """\
ffffffff81000000 T _text
ffffffff8120790e t ns_capable_noaudit.cold
ffffffff8120791c t other_cold
ffffffff81368280 T ns_capable_noaudit
ffffffff813682e0 T ns_capable_setid
ffffffff81a82a80 T cap_capable
ffffffff81a82c40 T security_vm_enough_memory_mm
ffffffff81a82c90 T cap_vm_enough_memory
ffffffff81a82cc0 T cap_mmap_addr
ffffffff81a82d00 D some_data
ffffffffc0001000 t helper_in_module\t[ext4]
"""


def test_noaudit_ranges_end_at_the_next_text_symbol():
    got = {name: (start, end) for start, end, name in capsource.noaudit_ranges(KALLSYMS)}
    assert got == {
        "ns_capable_noaudit.cold": (0xffffffff8120790e, 0xffffffff8120791c),
        "ns_capable_noaudit": (0xffffffff81368280, 0xffffffff813682e0),
        "security_vm_enough_memory_mm": (0xffffffff81a82c40, 0xffffffff81a82c90),
        "cap_vm_enough_memory": (0xffffffff81a82c90, 0xffffffff81a82cc0),
    }


def test_hidden_addresses_give_no_ranges_and_no_define():
    hidden = "\n".join("0000000000000000" + line[16:] for line in KALLSYMS.splitlines())
    assert capsource.noaudit_ranges(hidden) == []
    assert capsource.noaudit_define([]) is None


def test_noaudit_define_is_a_range_test_macro():
    d = capsource.noaudit_define([(0x10, 0x20, "a"), (0x40, 0x48, "b")])
    assert d == ("-DNOAUDIT_SITE(a)=(((a)>=0x10ULL&&(a)<0x20ULL)||((a)>=0x40ULL&&(a)<0x48ULL))")


# --- choosing a source ------------------------------------------------------------------------

HAS_BOTH = capsource.Detected(None, None)
KPROBE_ONLY = capsource.Detected("no tracepoint", None)
NEITHER = capsource.Detected("no tracepoint", "no kprobes")


@pytest.mark.parametrize("requested, found, expected", [
    ("auto", HAS_BOTH, ("tracepoint", None)),
    ("auto", KPROBE_ONLY, ("kprobe", None)),
    ("auto", NEITHER, ("none", "no tracepoint; no kprobes")),
    ("kprobe", HAS_BOTH, ("kprobe", None)),
    ("off", HAS_BOTH, ("none", "turned off (--capabilities off)")),
])
def test_choose(requested, found, expected):
    assert capsource.choose(requested, found) == expected


def test_a_named_source_that_is_missing_is_an_error():
    with pytest.raises(EnvironmentProblem, match="capability source tracepoint is missing: no "
                                                 "tracepoint") as e:
        capsource.choose("tracepoint", KPROBE_ONLY)
    assert "--capabilities" in e.value.hint
    with pytest.raises(UsageError, match="not one of"):
        capsource.choose("fentry", HAS_BOTH)


def test_detect(tmp_path, monkeypatch):
    tracing = tmp_path / "tracing"
    (tracing / "events").mkdir(parents=True)
    monkeypatch.setattr(capsource, "KPROBE_PMU", tmp_path / "no-kprobe-pmu")
    found = capsource.detect((tracing,))
    assert "6.14" in found.tracepoint and "CONFIG_KPROBES" in found.kprobe
    (tracing / "events" / "capability" / "cap_capable").mkdir(parents=True)
    (tracing / "kprobe_events").write_text("")
    for params, ok in ((("cred", "targ_ns", "cap", "opts"), True),
                       (("cred", "targ_ns", "cap", "audit"), False), (None, False)):
        monkeypatch.setattr(btf, "running_kernel_func_params", lambda f, p=params: p)
        found = capsource.detect((tracing,))
        assert found.tracepoint is None
        assert (found.kprobe is None) is ok, found.kprobe


# --- BTF: function parameters and enum members ------------------------------------------------

def _btf(strings: list[str], types: bytes) -> bytes:
    blob = b"\0" + b"".join(s.encode() + b"\0" for s in strings)
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(blob))
    return hdr + types + blob


def _off(strings: list[str], name: str) -> int:
    return 1 + sum(len(s) + 1 for s in strings[:strings.index(name)])


def test_btf_func_params_and_enum_members():
    names = ["int", "cred", "targ_ns", "cap", "opts", "cap_capable", "bpf_map_type",
             "BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_RINGBUF"]
    o = lambda n: _off(names, n)  # noqa: E731
    types = struct.pack("<III", o("int"), 1 << 24, 4) + struct.pack("<I", 32)  # [1] int
    types += struct.pack("<III", 0, (13 << 24) | 4, 1)  # [2] FUNC_PROTO int (4 params)
    types += b"".join(struct.pack("<II", o(p), 1) for p in ("cred", "targ_ns", "cap", "opts"))
    types += struct.pack("<III", o("cap_capable"), 12 << 24, 2)  # [3] FUNC cap_capable -> [2]
    types += struct.pack("<III", o("bpf_map_type"), (6 << 24) | 2, 4)  # [4] ENUM
    types += struct.pack("<Ii", o("BPF_MAP_TYPE_HASH"), 1)
    types += struct.pack("<Ii", o("BPF_MAP_TYPE_RINGBUF"), 27)
    data = _btf(names, types)
    assert btf.func_params(data, "cap_capable") == ("cred", "targ_ns", "cap", "opts")
    assert btf.func_params(data, "nope") is None
    assert btf.enum_members(data, "bpf_map_type") == {"BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_RINGBUF"}
    assert btf.enum_members(data, "nope") == frozenset()


# --- the recording says where capabilities came from --------------------------------------------

def without_caps(rec):
    return replace(rec, capabilities=(), metadata=replace(rec.metadata, capability_source="none"))


def test_old_recordings_load_as_tracepoint_and_new_ones_say_their_source():
    old = recording_io.load(LEGACY)  # a file older than capability_source
    assert tuple(map(int, old.schema_version.split("."))) < tuple(map(int, SCHEMA_VERSION.split("."))) and old.metadata.capability_source == "tracepoint"
    assert old.metadata.capabilities_known
    assert "capability_source" not in recording_io.dumps(old)  # an old file stays as it was
    new = replace(without_caps(old), schema_version=SCHEMA_VERSION)
    text = recording_io.dumps(new)
    assert "capability_source: none" in text
    again = recording_io.loads(text)
    assert again.metadata.capability_source == "none" and not again.metadata.capabilities_known


def test_aggregate_takes_the_tracers_source_and_notes_probes():
    from profiler.recording.aggregate import build_recording
    from profiler.recording.model import Metadata
    from profiler.kernel.wire import RawTrace

    raw = RawTrace(arch="x86_64", caps={0: (1, 0)}, caps_probed={21: 16}, cap_source="kprobe")
    rec, notes = build_recording(raw, Metadata("t", "6.1", "x86_64", "exec"))
    assert rec.metadata.capability_source == "kprobe"
    assert [c.name for c in rec.capabilities] == ["CAP_CHOWN"]  # the probe is no need
    assert any(n.startswith("CAP_SYS_ADMIN: 16 check(s) the kernel made only to choose")
               for n in notes), notes


# --- emit never states capabilities nobody recorded --------------------------------------------

def test_reduce_names_the_recordings_without_capabilities():
    policy = reduce([nginx(), without_caps(nginx())], ["a.yaml", "b.yaml"])
    assert policy.caps_unknown == ("b.yaml",)
    assert reduce([nginx()]).caps_unknown == ()


@pytest.mark.parametrize("fmt", sorted(STATES_CAPS))
def test_emit_refuses_capability_formats_without_a_choice(fmt):
    policy = reduce([without_caps(nginx())], ["n.yaml"])
    with pytest.raises(PolicyError, match="n.yaml: capabilities were not recorded") as e:
        resolve_unknown(policy, [fmt], None)
    assert "--caps-unknown keep-default" in e.value.hint
    # seccomp states no capability: nothing to refuse
    assert resolve_unknown(policy, ["seccomp"], None) is policy


def test_keep_default_states_no_capability_flag_anywhere():
    policy = resolve_unknown(reduce([without_caps(nginx())]), ["caps"],
                                         "keep-default")
    texts = render(policy, ["caps", "run", "compose", "k8s", "apparmor"])
    assert texts["caps"].startswith("# capabilities were not recorded")
    for fmt in ("caps", "run", "compose", "k8s"):
        assert "cap-drop" not in texts[fmt] and "cap_drop" not in texts[fmt], fmt
        assert 'drop: ["ALL"]' not in texts[fmt], fmt
    assert "\n  capability,\n" in texts["apparmor"]
    # the pod adds Docker's set explicitly: a node's runtime may default to less (CRI-O)
    pod = next(d for d in yaml.safe_load_all(texts["k8s"]) if d and d.get("kind") == "Pod")
    caps = pod["spec"]["containers"][0]["securityContext"]["capabilities"]
    assert caps == {"add": sorted(c.removeprefix("CAP_") for c in DOCKER_DEFAULT_CAPS)}


def test_drop_all_is_asked_for_explicitly():
    policy = resolve_unknown(reduce([without_caps(nginx())]), ["caps"], "drop-all")
    assert caps_render.render(policy) == "--cap-drop ALL\n"
    with pytest.raises(PolicyError, match="not one of"):
        resolve_unknown(reduce([without_caps(nginx())]), ["caps"], "maybe")


def test_emit_cli_refuses_in_one_line(tmp_path):
    rec = tmp_path / "off.recording.yaml"
    recording_io.save(replace(without_caps(nginx()), schema_version=SCHEMA_VERSION), rec)
    cmd = [sys.executable, "-m", "profiler.cli", "emit", str(rec), "--format", "caps"]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and proc.stdout == ""
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "capabilities were not recorded" in errors[0], proc.stderr
    assert "hint:" in proc.stderr and "--caps-unknown" in proc.stderr
    proc = subprocess.run(cmd + ["--caps-unknown", "keep-default"], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stdout.startswith("# capabilities were not recorded")


# --- verify: a keep-default policy says capabilities were not checked ---------------------------

def test_verify_reads_keep_default_as_not_checked(tmp_path):
    from profiler.output import policy_dir
    from profiler.verify import verify
    from profiler.session.engine import RunSpec
    from profiler.output.registry import render_dir

    policy = resolve_unknown(reduce([without_caps(nginx())]), ["caps"],
                                         "keep-default")
    policy_dir.write_dir(tmp_path / "p", render_dir(policy))
    pol = verify.load_policy_dir(tmp_path / "p")
    assert not pol.caps_checked and pol.cap_add == ()
    spec = verify.apply(pol, RunSpec(image="x", cap_add=["NET_ADMIN"]))
    assert spec.cap_drop == [] and spec.cap_add == ["NET_ADMIN"]  # Docker's default set, as given
    summary = verify.policy_summary(pol)
    assert summary["capabilities_checked"] is False
    report = verify.VerifyReport(image="x", started=True, exit_code=0, expected_exit=0,
                                 workload=None, workload_status=None, policy=summary)
    assert "capabilities: not checked" in verify.report_text(report)


# --- the define kept for the boot (capsource.BOOT_CACHE) ----------------------------------------
@pytest.fixture
def boot_cache(tmp_path, monkeypatch):
    """kallsyms, the boot id and the cache, all under tmp_path."""
    (tmp_path / "kallsyms").write_text(KALLSYMS)
    (tmp_path / "boot_id").write_text("boot-1\n")
    monkeypatch.setattr(capsource, "KALLSYMS", tmp_path / "kallsyms")
    monkeypatch.setattr(capsource, "BOOT_ID", tmp_path / "boot_id")
    monkeypatch.setattr(capsource, "BOOT_CACHE", tmp_path / "run" / "noaudit-define")
    return tmp_path


def test_noaudit_define_is_kept_for_the_boot(boot_cache):
    first = capsource.running_noaudit_define()
    assert first == capsource.noaudit_define(capsource.noaudit_ranges(KALLSYMS))
    (boot_cache / "kallsyms").unlink()  # the same boot: kallsyms is not read again
    assert capsource.running_noaudit_define() == first
    assert oct((boot_cache / "run").stat().st_mode & 0o777) == oct(0o700)
    assert [p.name for p in (boot_cache / "run").iterdir()] == ["noaudit-define"]


def test_noaudit_define_of_another_boot_is_not_used(boot_cache):
    capsource.running_noaudit_define()
    moved = KALLSYMS.replace("ffffffff81a82c90 T cap_vm_enough_memory",
                             "ffffffff81a82c98 T cap_vm_enough_memory")
    (boot_cache / "kallsyms").write_text(moved)
    (boot_cache / "boot_id").write_text("boot-2\n")
    assert "0xffffffff81a82c98ULL" in capsource.running_noaudit_define()


@pytest.mark.parametrize("content", [
    "boot-1\t{release}\t-DNOAUDIT_SITE(a)=(1);system(\"x\")",  # not noaudit_define's shape
    "boot-1\t{release}",                                         # truncated
    "boot-1\tother-release\t-DNOAUDIT_SITE(a)=(((a)>=0x10ULL&&(a)<0x20ULL))",
])
def test_a_bad_boot_cache_is_not_used(boot_cache, content):
    import os
    cache = boot_cache / "run" / "noaudit-define"
    cache.parent.mkdir(mode=0o700)
    cache.write_text(content.format(release=os.uname().release))
    assert capsource.running_noaudit_define() == \
        capsource.noaudit_define(capsource.noaudit_ranges(KALLSYMS))


def test_a_boot_cache_others_may_write_is_not_used(boot_cache):
    capsource.running_noaudit_define()
    (boot_cache / "run").chmod(0o777)
    (boot_cache / "kallsyms").write_text("0000000000000000 T _text\n")  # hidden now
    assert capsource.running_noaudit_define() is None

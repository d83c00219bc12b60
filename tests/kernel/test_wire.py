"""The wire format's one source (no root): bpf/wire.h is what profiler/kernel/wire.py generates,
and the Python side agrees with the model and with itself."""

from __future__ import annotations

import ctypes as ct
import re
from pathlib import Path

from profiler.recording import model
from profiler.kernel import wire

HEADER = Path(__file__).resolve().parents[2] / "bpf" / "wire.h"
RECORD_C = HEADER.with_name("record.c")


def test_committed_header_is_the_generated_one():
    assert HEADER.read_text() == wire.c_header(), (
        "bpf/wire.h is stale: run `.venv/bin/python -m profiler.kernel.wire > bpf/wire.h`")


def test_record_c_includes_the_header_and_defines_none_of_its_names():
    source = RECORD_C.read_text()
    assert '#include "wire.h"' in source
    generated = set(re.findall(r"^#define (\w+)", wire.c_header(), re.M))
    local = set(re.findall(r"^\s*#define (\w+)", source, re.M))
    assert not generated & local, generated & local
    assert "struct event {" not in source


def test_record_c_sizes_every_per_slot_array_by_a_shared_name():
    # `NSLOTS * 64` would be a second spelling of a row width wire.py owns (CAP_ROW): every
    # per-slot array's row is a name, and that name comes from the header or a -D flag
    source = RECORD_C.read_text()
    rows = re.findall(r"^BPF_\w+\(\w+, [\w ]+, NSLOTS \* (\w+)\)", source, re.M)
    assert len(rows) >= 8
    generated = set(re.findall(r"^#define (\w+)", wire.c_header(), re.M))
    passed_by_tracer = {"MAX_NR"}  # -D flags, from tracer.py's one definition
    assert [r for r in rows if r not in generated | passed_by_tracer] == []
    assert wire.URING_ROW == len(wire.UringSlot) and wire.TASKS_ROW == len(wire.TasksSlot)


def _c_value(text: str) -> int:
    text = text.strip("()")
    if "<<" in text:
        one, shift = text.split("<<")
        return int(one) << int(shift)
    return int(text, 0)


def test_header_defines_every_member_with_its_value():
    defines = {name: _c_value(value) for name, value in
               re.findall(r"^#define (\w+) (\(.*?\)|\S+)", wire.c_header(), re.M)
               if name != "PROFILER_WIRE_H"}
    expected = {prefix + m.name: int(m) for enum, prefix in wire._HEADER_ENUMS for m in enum}
    expected |= {"PATH_LEN": wire.PATH_LEN, "AT_FDCWD_": wire.AT_FDCWD,
                 "ST_CAP_SHIFT": wire.ST_CAP_SHIFT, "KP_COMPOSED": wire.KP_COMPOSED,
                 "URING_OPS": wire.URING_OPS,
                 "CONTAINER_ID_LEN": wire.CONTAINER_ID_LEN, "MAX_SLOTS": wire.MAX_SLOTS,
                 "ST_SLOT_SHIFT": wire.ST_SLOT_SHIFT, "LOSS_ROW": wire.LOSS_ROW,
                 "CAP_ROW": wire.CAP_ROW, "URING_ROW": wire.URING_ROW, "TASKS_ROW": wire.TASKS_ROW,
                 "ST_GEN_SHIFT": wire.ST_GEN_SHIFT, "ST_GEN_MASK": wire.ST_GEN_MASK,
                 "SLOT_NONE": wire.SLOT_NONE}
    assert defines == expected
    assert expected["EV_FORK"] == 4 and expected["ARG_VIA_POINTER"] == 0xFF  # spot checks


def test_access_bits_and_loss_slots_are_the_model_kinds():
    assert wire.ACCESS_BITS == model.ACCESS_KINDS
    # a tracer-wide loss (match mode) is not a kind every recording lists
    # nor one only the per-syscall design counts (its recordings list it)
    per_recording = {m.name.lower() for m in wire.Loss
                     if m not in wire.TRACER_LOSS | wire.PER_SYSCALL_LOSS}
    assert per_recording <= set(model.LOSS_KINDS)
    assert [int(a) for a in wire.Access] == [1 << i for i in range(len(wire.ACCESS_BITS))]


def test_the_slot_fits_the_task_state_above_every_other_bit():
    assert wire.MAX_SLOTS <= 1 << (32 - wire.ST_SLOT_SHIFT)
    assert max(wire.TaskState) < 1 << wire.ST_CAP_SHIFT < 1 << wire.ST_SLOT_SHIFT
    assert wire.ST_CAP_SHIFT + 8 <= wire.ST_SLOT_SHIFT  # VERIFY's capability byte


def test_event_layout_is_the_c_struct():
    # six 32-bit fields then the path: record.c's struct event as the ring buffer carries it
    assert ct.sizeof(wire.Event) == 6 * 4 + wire.PATH_LEN
    e = wire.Event(type=wire.EventType.EXEC, tgid=7, tid=8)
    e.data[:5] = list(b"/bin\0")
    assert e.path == b"/bin"


def test_syscall_table_uses_only_known_classes_and_bits():
    for name, (cls, bits) in wire.SYSCALL_CLASSES.items():
        assert isinstance(cls, wire.SysClass), name
        if cls == wire.SysClass.ADDR:
            assert bits in set(wire.AddrKind), name
        else:
            assert bits & ~sum(wire.Access) == 0, name
    assert wire.NO_EXIT_CLASSES <= set(wire.SysClass)
    assert wire.SysClass.SETID not in wire.NO_EXIT_CLASSES  # its result samples uid/gid


def test_task_state_fields_do_not_overlap():
    """Flags, the slot's generation (MATCH), VERIFY's refused capability and the slot share
    one u32: each in bits of its own."""
    flags = sum(int(m) for m in wire.TaskState)
    gen = wire.ST_GEN_MASK << wire.ST_GEN_SHIFT
    cap = 0xFF << wire.ST_CAP_SHIFT
    slot = 0xFF << wire.ST_SLOT_SHIFT
    assert flags & gen == gen & cap == cap & slot == 0 and flags < 1 << wire.ST_GEN_SHIFT
    assert (wire.MAX_SLOTS - 1) << wire.ST_SLOT_SHIFT <= 0xFFFFFFFF

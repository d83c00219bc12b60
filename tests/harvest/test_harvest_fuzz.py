"""Hostile input to harvest's readers (issue 20's rule): a log line never crashes the parser;
a damaged state.json is refused with one UsageError, or loaded into a state every later step
handles (the evidence files it makes are valid recordings, written under service names only)."""

from __future__ import annotations

import json

import harvestlines as L
from hypothesis import given, strategies as st

from fuzzing import corrupted, examples, mutated, returns_or_refuses
from profiler.harvest import store
from profiler.harvest.records import Drop, Record, parse_kmsg, parse_line
from profiler.harvest.state import SERVICE_NAME, State, loads
from profiler.recording import recording_io

LINES = [v for k, v in vars(L).items() if k.isupper() and isinstance(v, str)]


@examples(300)
@given(st.one_of(st.sampled_from(LINES).flatmap(corrupted), st.text(max_size=300)))
def test_a_log_line_never_crashes_the_parser(line):
    r = parse_line(line)
    assert r is None or isinstance(r, (Record, Drop))
    k = parse_kmsg(line)
    assert k is None or isinstance(k[0], int)


STATE = json.loads(
    '{"kind": "profiler-harvest-state", "version": 1, "source": "kmsg", "cursor": {"source": '
    '"kmsg", "boot_id": "b", "seq": 12}, "started": 1796535190.0, "updated": 1796535199.5, '
    '"dropped": 3, "serial_gaps": 1, "overwritten": 0, "unreadable": 0, "unattributed": '
    '{"process gone": 2}, "other": 0, "last_serial": 1009, "lost_total": null, "cpu_last": '
    '{"aaaa": 5}, "reboots": 0, "since": 1796534000.0, "services": {"web": {"image": "img", '
    '"started": 1796535187.6, "ended": 1796535190.0, "syscalls": {"x86_64 231": ["x86_64", '
    '231, 2], "x86 122": ["x86", 122, 1]}, "files": {"/etc/x": ["read", "write"]}, '
    '"capabilities": {"CAP_NET_ADMIN": 1}, "sockets": {"AF_NETLINK SOCK_RAW 9": 1}, '
    '"executables": {"/bin/sh": 1}, "first": {"syscalls exit_group": 1796535187.6}, "records": '
    '5, "runtime_records": 1, "refused": 0, "overflow": 0, "containers": {"aaaa": "web-1"}, '
    '"containers_total": 1, "cpu_usec": 2500000, "last_new": 1796535187.6}}}')


def test_the_fixed_state_loads():
    assert isinstance(loads(json.dumps(STATE), "state.json"), State)


def test_a_service_name_that_would_leave_the_directory_is_refused():
    import pytest
    from profiler.errors import UsageError

    doc = json.loads(json.dumps(STATE))
    doc["services"]["../../etc/evil"] = doc["services"].pop("web")
    with pytest.raises(UsageError):
        loads(json.dumps(doc), "state.json")


@examples(200)
@given(mutated(STATE))
def test_a_damaged_state_is_refused_or_handled(tmp_path_factory, doc):
    st_ = returns_or_refuses("harvest-state", loads, json.dumps(doc), "state.json")
    if not isinstance(st_, State):
        return
    out = tmp_path_factory.mktemp("h")
    for path in store.save(out, st_, "x86_64"):
        assert path.parent == out and SERVICE_NAME.fullmatch(path.name[:-len(store.SUFFIX)])
        recording_io.load(path)  # a valid recording


def test_a_state_whose_call_has_an_unknown_architecture_is_refused():
    """Found by the fuzz test above (a rare draw): arch '' loaded, then saving the evidence
    failed in libseccomp ("architecture '' is not known") instead of the state being refused."""
    import pytest
    from profiler.errors import UsageError

    for arch in ("", "mips"):
        doc = json.loads(json.dumps(STATE))
        doc["services"]["web"]["syscalls"] = {"k": [arch, 231, 2]}
        with pytest.raises(UsageError):
            loads(json.dumps(doc), "state.json")

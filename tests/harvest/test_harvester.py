"""The harvest pass, from real log lines, on a fake host (/proc and cgroup trees in a temp
directory, an engine in memory): attribution, aggregation, drops, the cursor and the state,
the evidence file, and what emit and diff make of it. No root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import harvestlines as L
import pytest

from profiler.diff.diff_load import load_pair
from profiler.diff.diff import compare
from profiler.errors import PolicyError, UsageError
from profiler.harvest import store
from profiler.harvest.attribute import ContainerMeta, Index, Selection
from profiler.harvest.harvester import Harvester
from profiler.harvest.sources import Batch
from profiler.harvest.state import State, loads, dumps
from profiler.policy.reduce import reduce
from profiler.recording import project, recording_io

REPO = Path(__file__).resolve().parents[2]
SHELL = REPO / "tests/fixtures/shell.recording.yaml"
CID = "a" * 64
OTHER = "b" * 64


class FakeSource:
    """A kernel log in memory: lines with sequence numbers 1, 2, ...; the cursor is the last."""

    name = "kmsg"

    def __init__(self, lines=(), stamps=()):
        self.lines = list(lines)
        self.stamps = list(stamps)

    def read(self, cursor: dict) -> Batch:
        start = cursor.get("seq") or 0
        return Batch(lines=self.lines[start:], stamps=self.stamps[start:],
                     cursor={"source": "kmsg", "seq": len(self.lines)})

    def wait(self, timeout):
        pass

    def close(self):
        pass


class FakeContainers:
    def __init__(self, metas):
        self.metas = {m.id: m for m in metas}
        self.running_ids = set(self.metas)  # what a list of the running containers gives
        self.removed = set()  # what the engine no longer knows

    def running(self):
        return [self.metas[c] for c in sorted(self.running_ids - self.removed)]

    def lookup(self, cid):
        return self.metas.get(cid) if cid not in self.removed else None


@pytest.fixture
def host(tmp_path):
    """(proc dir, cgroup root): pid 7059 and 3221 in container CID, 900 on the host."""
    proc, cg = tmp_path / "proc", tmp_path / "cgroup"
    for pid, path in ((7059, f"/docker/{CID}"), (3221, f"/docker/{CID}"), (900, "/init.scope"),
                      (4000, f"/docker/{OTHER}")):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cgroup").write_text(f"1:cpu:/x\n0::{path}\n")
    for cid in (CID, OTHER):
        (cg / "docker" / cid).mkdir(parents=True)
        (cg / "docker" / cid / "cgroup.procs").write_text("")
        (cg / "docker" / cid / "cpu.stat").write_text("usage_usec 1000000\nuser_usec 5\n")
    return proc, cg


STARTED = 1796534000.0  # before every line of harvestlines


def _meta(cid=CID, service="web", started=STARTED):
    labels = (("com.docker.compose.project", "shop"), ("com.docker.compose.service", service))
    return ContainerMeta(cid, f"shop-{service}-1", service, "profiler-base:bookworm", labels,
                         f"/docker/{cid}", 7059 if cid == CID else 4000, started)


def _harvester(host, lines, selection=Selection(), state=None, metas=None, stamps=()):
    proc, cg = host
    containers = FakeContainers(metas or [_meta(), _meta(OTHER, "db")])
    index = Index(containers, proc=proc, cgroup_root=cg)
    h = Harvester(FakeSource(lines, stamps), index, selection, state or State(), arch="x86_64",
                  proc=proc, clock=lambda: 1796535190.0)
    return h, containers


def test_records_are_attributed_and_aggregated(host):
    h, _ = _harvester(host, [L.KMSG_RUNC, L.KMSG_SLEEP, L.KMSG_SLEEP, "docker0: noise",
                             L.KMSG_SLEEP.replace("pid=7059", "pid=900")])
    h.step()
    web = h.state.services["web"]
    assert web.records == 2 and web.runtime_records == 1  # runc's call skipped, counted
    assert web.syscalls == {"x86_64 231": ["x86_64", 231, 2]}
    assert set(web.first) == {"syscalls\0exit_group"} and web.last_new == 1796535187.623
    assert h.state.unattributed == {"not in a container": 1}
    assert web.containers == {CID: "shop-web-1"} and web.containers_total == 1
    assert h.state.cursor == {"source": "kmsg", "seq": 5}


def test_a_process_gone_is_found_by_the_pids_the_scan_saw(host):
    proc, cg = host
    (cg / "docker" / CID / "cgroup.procs").write_text("5555\n")  # alive at the scan only
    h, _ = _harvester(host, [L.KMSG_SLEEP.replace("pid=7059", "pid=5555"),
                             L.KMSG_SLEEP.replace("pid=7059", "pid=6666")])
    h.step()
    assert h.state.services["web"].records == 1
    assert h.state.unattributed == {"process gone": 1}


def test_a_container_gone_keeps_its_service(host):
    h, fleet = _harvester(host, [L.KMSG_SLEEP])
    h.look()  # seen while it ran
    fleet.removed.add(CID)  # then removed: the engine no longer knows it
    h.step()
    assert h.state.services["web"].records == 1


def test_selection_by_label_and_by_name(host):
    lines = [L.KMSG_SLEEP, L.KMSG_SLEEP.replace("pid=7059", "pid=4000")]
    h, _ = _harvester(host, lines, Selection((project.parse_selector(
        "com.docker.compose.service=web"),)))
    h.step()
    assert set(h.state.services) == {"web"} and h.state.other == 1
    h, _ = _harvester(host, lines, Selection(container="shop-db-1"))
    h.step()
    assert set(h.state.services) == {"db"}


def test_drops_are_counted_from_the_kernels_words_and_the_serial_gaps(host):
    h, _ = _harvester(host, [L.KMSG_RUNC, L.KMSG_SUPPRESSED, L.KMSG_SLEEP,
                             "audit: audit_lost=5 audit_rate_limit=0 audit_backlog_limit=64",
                             "audit: audit_lost=9 audit_rate_limit=0 audit_backlog_limit=64"])
    h.step()
    st = h.state
    assert st.dropped == 327 + 4  # suppressed, then the audit_lost counter's increase
    assert st.serial_gaps == 1009 - 390 - 1
    assert st.drops == 618


def test_drops_before_the_selected_containers_started_are_not_theirs(host):
    late = STARTED + 2000  # started after every record and drop of the log
    h, _ = _harvester(host, [L.KMSG_RUNC, L.KMSG_SUPPRESSED, L.KMSG_SLEEP],
                      metas=[_meta(started=late)], stamps=[late - 900, late - 500, late - 3])
    h.step()
    assert (h.state.dropped, h.state.serial_gaps, h.state.drops) == (0, 0, 0)
    assert h.state.last_serial == 1009 and h.state.since == late
    h, _ = _harvester(host, [L.KMSG_SUPPRESSED], metas=[_meta(started=late)], stamps=[late + 5])
    h.step()
    assert h.state.dropped == 327  # logged while it ran: any container's, maybe its


def test_cpu_time_between_looks_is_the_traffic_signal(host):
    proc, cg = host
    h, _ = _harvester(host, [])
    h.look()
    (cg / "docker" / CID / "cpu.stat").write_text("usage_usec 3500000\n")
    h.look()
    assert h.state.services["web"].cpu_usec == 2_500_000


def test_state_round_trip_and_resume_without_double_counting(host, tmp_path):
    h, _ = _harvester(host, [L.KMSG_SLEEP])
    h.step()
    out = tmp_path / "out"
    out.mkdir()
    store.save(out, h.state, "x86_64")
    again = store.load_state(out)
    assert dumps(again) == dumps(h.state)
    h2, _ = _harvester(host, [L.KMSG_SLEEP, L.KMSG_SLEEP.replace("syscall=231", "syscall=3")],
                       state=again)
    h2.step()
    web = h2.state.services["web"]
    assert web.records == 2  # the first line was read before the restart: not again
    assert web.syscalls["x86_64 231"][2] == 1 and web.syscalls["x86_64 3"][2] == 1


def test_damaged_state_is_one_usage_error(tmp_path):
    for text in ("{", "[]", json.dumps({"kind": "profiler-harvest-state", "version": 1})):
        with pytest.raises(UsageError):
            loads(text, "state.json")


def _evidence(host, tmp_path, lines):
    h, _ = _harvester(host, lines)
    h.step()
    out = tmp_path / "out"
    out.mkdir()
    files = store.save(out, h.state, "x86_64")
    assert [f.name for f in files] == ["db.harvest.yaml", "web.harvest.yaml"]  # db: no record
    return files[1]


def test_the_evidence_file_is_a_recording_marked_harvested(host, tmp_path):
    path = _evidence(host, tmp_path, [L.KMSG_SLEEP, L.AA_OPEN.replace("pid=9829", "pid=7059"),
                                      L.AA_CAP.replace("pid=2654", "pid=7059"),
                                      L.AA_NET.replace("pid=2654", "pid=7059")])
    assert path.name == "web.harvest.yaml"
    rec = recording_io.load(path)
    assert rec.harvested and rec.metadata.mode == "harvest"
    h = rec.harvest
    assert (h.source, h.records, h.containers, h.new_items) == (
        "kmsg", 4, (f"shop-web-1 {CID[:12]}",), 4)
    assert [s.key for s in rec.syscalls] == ["exit_group"]
    assert [(f.path, f.ok) for f in rec.files] == [("/usr/lib/libreadline.so.8.2", ("read",))]
    assert [c.name for c in rec.capabilities] == ["CAP_NET_ADMIN"]
    assert [(s.family, s.type, s.protocol) for s in rec.network.sockets] == [
        ("AF_NETLINK", "SOCK_RAW", 9)]
    assert store.load_dir(path.parent)["web"] == rec


def test_emit_merges_the_harvest_and_diff_lists_its_additions_with_risk(host, tmp_path):
    base = recording_io.load(SHELL)
    assert "ptrace" not in base.syscall_names
    ptrace = L.KMSG_SLEEP.replace("syscall=231", "syscall=101")  # x86_64 ptrace
    path = _evidence(host, tmp_path, [ptrace])
    harvest = recording_io.load(path)
    # the harvest first on the command line: the recording still decides the rest
    policy = reduce([harvest, base], ["web.harvest.yaml", "shell.recording.yaml"])
    assert "ptrace" in policy.syscalls
    assert policy.sources[0] == "shell.recording.yaml"
    assert not any(p.item == "ptrace" for p in policy.partial)  # an addition, not thin training
    assert reduce([base]).run_options == policy.run_options
    with pytest.raises(PolicyError):
        reduce([harvest])
    report = compare(*load_pair(str(SHELL), str(path)), str(SHELL), str(path))
    added = {(c.section, c.item): c.risk.level for c in report.added}
    assert ("syscalls", "ptrace") in added and added[("syscalls", "ptrace")] == "high"
    assert report.removed == ()


def test_memory_is_bounded_by_aggregation(host, monkeypatch):
    from profiler.harvest import harvester as hv

    monkeypatch.setattr(hv, "MAX_FILES", 100)
    line = L.AA_OPEN.replace("pid=9829", "pid=7059")
    lines = [line.replace("libreadline.so.8.2", f"lib{i}.so") for i in range(150)] * 3
    h, _ = _harvester(host, lines)
    h.step()
    web = h.state.services["web"]
    assert len(web.files) == 100 and web.overflow == 150  # 50 new paths, 3 times
    assert web.records == 450 and len(web.first) == 100


def test_audit_log_source_resumes_and_follows_a_rotation(tmp_path):
    from profiler.harvest.sources import AuditLogSource

    log = tmp_path / "audit.log"
    log.write_text(L.AUDITLOG_ENRICHED + "\n" + L.AUDITLOG_KILL_ARM64[:40])  # a partial line
    src = AuditLogSource(log)
    b = src.read({})
    assert b.lines == [L.AUDITLOG_ENRICHED]  # whole lines only
    with log.open("a") as f:
        f.write(L.AUDITLOG_KILL_ARM64[40:] + "\n")
    b2 = src.read(b.cursor)
    assert b2.lines == [L.AUDITLOG_KILL_ARM64]
    # auditd rotates: audit.log -> audit.log.1 (same inode), a new audit.log
    with log.open("a") as f:
        f.write("type=SECCOMP msg=audit(1.2:3): before the rotation\n")
    log.rename(tmp_path / "audit.log.1")
    log.write_text("type=SECCOMP msg=audit(1.2:4): after it\n")
    b3 = src.read(b2.cursor)
    assert b3.lines == ["type=SECCOMP msg=audit(1.2:3): before the rotation",
                        "type=SECCOMP msg=audit(1.2:4): after it"]
    assert b3.overwritten == 0 and src.read(b3.cursor).lines == []


def test_emit_explain_names_each_run_whatever_the_order(host, tmp_path):
    path = _evidence(host, tmp_path, [L.KMSG_SLEEP.replace("syscall=231", "syscall=101")])
    p = subprocess.run([sys.executable, "-m", "profiler.cli", "emit", str(path), str(SHELL),
                        "--format", "seccomp", "--explain", "-o", str(tmp_path / "s.json")],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "COLUMNS": "300"})
    assert p.returncode == 0, p.stderr
    lines = {line.split(": ", 1)[0]: line for line in p.stderr.splitlines() if ": " in line}
    assert "ptrace" in lines["web.harvest.yaml"]  # its own timeline, not the recording's
    assert "every item was seen in all" not in p.stderr
    profile = json.loads((tmp_path / "s.json").read_text())
    assert any("ptrace" in s["names"] for s in profile["syscalls"])


def test_a_container_started_between_engine_lists_is_scanned(host):
    import threading

    proc, cg = host
    h, fleet = _harvester(host, [L.KMSG_SLEEP])
    fleet.running_ids = {OTHER}  # the engine's first list: only db
    h.step()  # web found by its record's cgroup: scanned from now on
    (cg / "docker" / CID / "cgroup.procs").write_text("5555\n")
    h.look(ask_engine=False)
    assert h.index.pids[5555] == CID
    # the engine's events: a start makes the next pass list the containers at once
    fleet.changed = threading.Event()
    h.clock = lambda: 1796535191.5  # 1.5 s later: before the 10 s list
    fleet.running_ids = {CID, OTHER}
    asked = []
    running = fleet.running
    fleet.running = lambda: asked.append(1) or running()
    h.step()
    assert asked == []
    fleet.changed.set()
    h.clock = lambda: 1796535193.0
    h.step()
    assert asked == [1] and not fleet.changed.is_set()


@pytest.fixture
def now(monkeypatch):
    """The index's monotonic clock, set by the test: now[0] seconds."""
    from profiler.harvest import attribute

    t = [1000.0]
    monkeypatch.setattr(attribute.time, "monotonic", lambda: t[0])
    return t


def test_pids_not_seen_alive_for_a_while_are_forgotten(host, now):
    from profiler.harvest import attribute

    proc, cg = host
    (cg / "docker" / CID / "cgroup.procs").write_text("5555\n")
    h, _ = _harvester(host, [])
    h.look()
    assert 5555 in h.index.pids
    (cg / "docker" / CID / "cgroup.procs").write_text("6666\n")  # 5555 ended
    now[0] += attribute.PID_TTL + 1
    h.look()
    assert 5555 not in h.index.pids and h.index.pids[6666] == CID


def test_an_engine_that_does_not_answer_costs_attribution_not_the_pass(host):
    from profiler.errors import EngineError

    h, fleet = _harvester(host, [L.KMSG_SLEEP, L.KMSG_SLEEP])

    def down(*_):
        raise EngineError("the container engine stopped answering")

    fleet.running = down
    fleet.lookup = down
    h.step()  # no exception: both lines applied, the cursor moved past them
    assert h.state.unattributed == {"engine not answering": 2}
    assert h.state.cursor["seq"] == 2


def test_the_engines_description_of_a_container():
    from types import SimpleNamespace

    from profiler.errors import ContainerGone
    from profiler.harvest.attribute import EngineContainers, _epoch

    attrs = {"Config": {"Image": "shop-web:1", "Labels": {
        "com.docker.compose.service": "web", "com.docker.compose.project": "shop"}},
        "State": {"Pid": 4242, "StartedAt": "2026-12-06T05:33:01.123456789Z"}}
    c = SimpleNamespace(id=CID, name="/shop-web-1", attrs=attrs)

    class Engine:
        def container(self, ref):
            if ref != "shop-web-1":
                raise ContainerGone(f"no container named {ref!r}")
            return c

        def list_running(self, labels):
            assert labels == {"com.docker.compose.project": "shop"}
            return [c]

    [m] = EngineContainers(Engine(), {"com.docker.compose.project": "shop"}).running()
    assert (m.name, m.service, m.image, m.pid) == ("shop-web-1", "web", "shop-web:1", 4242)
    assert m.started == _epoch("2026-12-06T05:33:01.123456Z") and m.started % 1 > 0.12
    assert EngineContainers(Engine(), container="shop-web-1").running() == [m]
    assert EngineContainers(Engine(), container="gone").running() == []
    assert EngineContainers(Engine()).lookup("nope") is None
    assert _epoch("0001-01-01T00:00:00Z") == 0.0 and _epoch("garbage") == 0.0


def test_the_debian12_loop_on_the_systemd_cgroup_driver(tmp_path):
    """The records the host matrix's Debian 12 guest logged for the redis sample in complain
    mode (harvestlines.DEBIAN12_LOOP), on that host's layout: Docker's systemd cgroup driver
    puts the container in /system.slice/docker-<id>.scope. Every record is the container's:
    the AppArmor ALLOWED ones (the file written, the programs executed, what they mapped) and
    the seccomp one (unshare) become its evidence, and diff lists them."""
    proc, cg = tmp_path / "proc", tmp_path / "cgroup"
    scope = f"/system.slice/docker-{CID}.scope"
    (proc / str(L.DEBIAN12_PID)).mkdir(parents=True)
    (proc / str(L.DEBIAN12_PID) / "cgroup").write_text(f"0::{scope}\n")
    (cg / scope.lstrip("/")).mkdir(parents=True)
    (cg / scope.lstrip("/") / "cgroup.procs").write_text(f"{L.DEBIAN12_PID}\n")
    meta = ContainerMeta(CID, "hosts-harvest-redis", "hosts-harvest-redis",
                         "profiler-sample-redis", (("profiler.hosts", "harvest-redis"),), "",
                         L.DEBIAN12_PID, STARTED)
    index = Index(FakeContainers([meta]), proc=proc, cgroup_root=cg)
    h = Harvester(FakeSource(L.DEBIAN12_LOOP), index, Selection(
        (project.parse_selector("profiler.hosts=harvest-redis"),)), State(), arch="x86_64",
        proc=proc, clock=lambda: 1796548610.0)
    h.step()
    assert h.state.unattributed == {} and h.state.dropped == 0
    svc = h.state.services["hosts-harvest-redis"]
    assert svc.records == 10 and svc.runtime_records == 0
    assert svc.syscalls == {"x86_64 272": ["x86_64", 272, 1]}
    assert svc.files["/tmp/profiler-harvest-probe"] == ["create", "write"]
    assert set(svc.executables) == {"/usr/bin/unshare", "/usr/bin/sleep"}
    (tmp_path / "out").mkdir()
    files = store.save(tmp_path / "out", h.state, "x86_64")
    rec = recording_io.load(files[0])
    assert "unshare" in rec.syscall_names
    assert {e.path for e in rec.processes.executables} == {"/usr/bin/unshare", "/usr/bin/sleep"}


def test_auto_follows_the_audit_multicast_group_where_no_auditd_runs(monkeypatch):
    """--source auto: auditd's log where auditd runs; else with --follow the audit multicast
    group, since /dev/kmsg's printk rate limit (10 records per 5 s, host-wide) lets through no
    more than the first docker exec of a complain-mode app logs (DEBIAN12_LOOP: 10 records in
    0.3 s); else (one pass: the past is wanted) /dev/kmsg. Where the kernel refuses the group,
    /dev/kmsg."""
    from profiler.errors import EnvironmentProblem
    from profiler.harvest import sources

    class Fake:
        def __init__(self, name):
            self.name = name

    made = []

    def netlink():
        made.append("netlink")
        if refuse:
            raise EnvironmentProblem("no CAP_AUDIT_READ")
        return Fake("netlink")

    monkeypatch.setattr(sources, "NetlinkSource", netlink)
    monkeypatch.setattr(sources, "KmsgSource", lambda: Fake("kmsg"))
    monkeypatch.setattr(sources, "AuditLogSource", lambda: Fake("audit.log"))
    monkeypatch.setattr(sources, "auditd_running", lambda: False)
    refuse = False
    assert sources.open_source("auto", follow=True).name == "netlink"
    assert sources.open_source("auto").name == "kmsg"
    refuse = True
    assert sources.open_source("auto", follow=True).name == "kmsg"
    monkeypatch.setattr(sources, "auditd_running", lambda: True)
    monkeypatch.setattr(sources, "AUDIT_LOG", type("P", (), {"is_file": lambda self: True})())
    assert sources.open_source("auto", follow=True).name == "audit.log"
    assert sources.open_source("kmsg", follow=True).name == "kmsg"


def test_a_gone_container_is_forgotten_once_no_pid_can_name_it(host, now):
    """A long --follow amid churn must not hold every container it ever met (the harvest soak's
    memory grew with the description of each replaced replica): a container gone for PID_TTL
    seconds, with no remembered pid naming it, is forgotten; one still running is kept."""
    from profiler.harvest import attribute

    proc, cg = host
    (cg / "docker" / OTHER / "cgroup.procs").write_text("4000\n")
    h, fleet = _harvester(host, [])
    h.look()
    assert set(h.index.metas) == {CID, OTHER}
    fleet.removed.update({CID, OTHER})
    fleet.running_ids -= {CID, OTHER}
    now[0] += attribute.PID_TTL / 2
    h.look()
    assert set(h.index.metas) == {CID, OTHER}  # gone just now: a late record still finds it
    now[0] += attribute.PID_TTL
    h.look()
    assert h.index.metas == {} and h.index.pids == {}
    fleet.removed.discard(CID)
    fleet.running_ids.add(CID)
    now[0] += 2 * attribute.PID_TTL
    h.look()
    assert set(h.index.metas) == {CID}  # running: kept however long ago it was first met


class _MarkingSource(FakeSource):
    """A kmsg whose printk limit let the first 10 records of a burst through and suppressed the
    rest (serials 1010-1016): nothing tells of them until the kernel prints another record,
    here harvest's mark (the next serial, 1017)."""

    def __init__(self, lines):
        super().__init__(lines)
        self.marks = 0

    def mark(self):
        self.marks += 1
        self.lines.append(f"audit: type=1107 audit(1796535199.000:1017): pid=1 uid=0 "
                          f"msg='profiler-harvest: mark'")
        return True


def test_a_one_pass_kmsg_harvest_counts_the_records_suppressed_at_a_bursts_end(host):
    """Seen in the Debian 12 VM: one docker exec logged 17 records in 0.3 s, kmsg printed 10 and
    harvest said 0 dropped (the kernel tells of suppressed records only with its next printed
    one). After the records, harvest has the kernel print its mark: its serial counts them."""
    from profiler.harvest import loop

    lines = [L.KMSG_SLEEP.replace(":1009)", f":{1000 + i})") for i in range(10)]
    proc, cg = host
    src = _MarkingSource(lines)
    h = Harvester(src, Index(FakeContainers([_meta()]), proc=proc, cgroup_root=cg), Selection(),
                  State(), arch="x86_64", proc=proc, clock=lambda: 1796535190.0)
    h.MARK_AFTER = 0.0
    out = host[0].parent / "out"
    out.mkdir()
    loop.once(h, out)
    assert src.marks == 1
    assert h.state.services["web"].records == 10
    assert h.state.drops == 7


def test_a_mark_is_not_a_record_and_follows_only_new_records():
    from profiler.harvest.records import Mark, parse_line

    line = "audit: type=1107 audit(1796535199.000:1017): pid=1 uid=0 msg='profiler-harvest: mark'"
    assert parse_line(line) == Mark(1796535199.0, 1017)
    assert parse_line(line.replace("1107", "1326")) is None  # not the mark's type

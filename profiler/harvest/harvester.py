"""The harvest loop: read the log from the cursor, attribute each record, aggregate it into its
service's evidence, look at the selected containers (pids, CPU time), save.

`Harvester.step()` is one pass (what a one-shot `profiler harvest` does once and `--follow`
does every poll); `save()` writes the state and then the evidence files (harvest/store.py).
Everything here is in memory and bounded (state.py, attribute.py); raw lines are never kept.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..kernel import syscalls as sctab
from ..kernel.linux import cap_full
from ..kernel.proc import start_ticks
from ..errors import EngineError
from .attribute import ContainerMeta, Index, Selection
from .records import Drop, Mark, Record, is_runtime, parse_line
from .state import MAX_FILES, State, file_kinds


class _ProcClock:
    """When a process started, in epoch seconds (/proc/PID/stat starttime + the boot time):
    a pid whose process started after a record was logged was reused, it is not the caller."""

    def __init__(self, proc: Path):
        self._proc = proc
        self._btime = None
        try:
            for line in (proc / "stat").read_text().splitlines():
                if line.startswith("btime "):
                    self._btime = int(line.split()[1])
        except (OSError, ValueError):
            pass
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def started(self, pid: int) -> float | None:
        if self._btime is None:
            return None
        ticks = start_ticks(pid, self._proc)
        return None if ticks is None else self._btime + ticks / self._hz


class Harvester:
    def __init__(self, source, index: Index, selection: Selection, state: State,
                 arch: str | None = None, proc: Path = Path("/proc"), clock=time.time):
        self.source = source
        self.index = index
        self.selection = selection
        self.state = state
        self.arch = arch or sctab.host_arch()
        self.clock = clock
        self._names: dict[tuple[str, int], str] = {}
        self._started = _ProcClock(proc)
        self.look_every = 1.0  # seconds between scans of the containers' pids (cgroup.procs)
        self.ask_every = 10.0  # seconds between lists of the running containers (the engine)
        self._looked = None
        self._asked = None
        self._mark_due: float | None = None  # when to have the kernel log a mark (kmsg)
        self._records = 0  # records applied (a mark follows new ones)
        if not state.source:
            state.source = source.name
        if not state.started:
            state.started = clock()

    # --- one pass -------------------------------------------------------------------------
    def step(self) -> bool:
        """Look at the containers, then read and apply what the log holds after the cursor.
        Returns True when the source has more at once (a long backlog)."""
        now = self.clock()
        if self._looked is None or now - self._looked >= self.look_every:
            ask = self._asked is None or now - self._asked >= self.ask_every or \
                self.index.engine_changed()
            self.look(ask_engine=ask)
            self._looked = now
            if ask:
                self._asked = now
        batch = self.source.read(self.state.cursor)
        if batch.rebooted:
            self.state.reboots += 1
            self.state.last_serial = -1
            self.state.lost_total = None
        records = self._records
        self.apply(batch.lines, batch.stamps)
        self._schedule_mark(now, self._records > records)
        if batch.lost_total is not None and self.state.since:
            self._drop(Drop(lost_total=batch.lost_total))
        if batch.overwritten > 0:
            self.state.overwritten += batch.overwritten
        self.state.cursor = batch.cursor
        self.state.updated = self.clock()
        return batch.more

    # The printk limit (kernel.printk_ratelimit seconds, 5 by default) must have let the burst
    # go before the mark is sent, or the mark would be suppressed with it.
    MARK_AFTER = 5.5

    def _schedule_mark(self, now: float, new_records: bool) -> None:
        """Through /dev/kmsg the kernel tells of records it suppressed only with its next
        printed one: after records came, a quiet MARK_AFTER seconds later, harvest has the
        kernel print its mark, whose serial counts any suppressed at the burst's end (seen in
        the Debian 12 VM: 7 of 17 records of one docker exec lost, none counted)."""
        mark = getattr(self.source, "mark", None)
        if mark is None:
            return
        if new_records:
            self._mark_due = now + self.MARK_AFTER
        elif self._mark_due is not None and now >= self._mark_due:
            self._mark_due = None
            mark()

    def settle(self, sleep=time.sleep) -> None:
        """The end of a one-pass harvest: a mark after the last records (waiting out the
        printk limit), then what it shows. Nothing to do after no records, or off kmsg."""
        if self._mark_due is None:
            return
        sleep(max(0.0, self._mark_due - self.clock()))
        self._mark_due = None
        if self.source.mark():
            sleep(0.2)  # printed by kauditd: a moment later
            while self.step():
                pass

    def look(self, ask_engine: bool = True) -> list[ContainerMeta]:
        """Scan the running containers: remember their pids, add the kept ones to their
        service, and add the CPU time each used since the last look (the traffic signal).
        A container that starts between two lists of the engine is found when its first
        record names its cgroup (Index.container_of asks the engine then)."""
        now = self.clock()
        listed = True
        try:
            running = self.index.scan(ask_engine)
        except EngineError:  # restarting: the last list stands, records still get read
            running = self.index.scan(False) if self.index.listed else []
            listed = False
        alive = set()
        for m in running:
            if not m.service or not self.selection.keeps(m):
                continue
            alive.add(m.id)
            self._running_since(m)
            svc = self.state.service(m.service)
            svc.image = svc.image or m.image
            svc.see_container(m.id, m.name)
            svc.span(now)
            usage = self.index.cpu_usec(m.cgroup)
            if usage is None:
                continue
            prev = self.state.cpu_last.get(m.id)
            if prev is not None:
                svc.cpu_usec += usage - prev if usage >= prev else usage  # a restart resets it
            self.state.cpu_last[m.id] = usage
        for cid in [c for c in self.state.cpu_last if c not in alive and listed]:
            del self.state.cpu_last[cid]  # gone (or no longer kept): bounded by what runs
        return running

    def apply(self, lines: list[str], stamps=()) -> None:
        """Aggregate the lines; `stamps`: when each was logged (None or absent: not known)."""
        for i, line in enumerate(lines):
            parsed = parse_line(line)
            if parsed is None:
                if ("type=1326" in line or "type=SECCOMP" in line or 'apparmor="ALLOWED"' in line):
                    self.state.unreadable += 1
                continue
            if isinstance(parsed, Drop):
                if self._ours(stamps[i] if i < len(stamps) else None):
                    self._drop(parsed)
                elif parsed.lost_total is not None:
                    self.state.lost_total = parsed.lost_total
                continue
            if self._ours(parsed.time or None):  # a Record or harvest's own Mark
                self._serial(parsed.serial)
            else:
                self.state.last_serial = max(self.state.last_serial, parsed.serial)
            if isinstance(parsed, Mark):
                continue
            self._record(parsed)
            self._records += 1

    # --- the parts ------------------------------------------------------------------------
    def _ours(self, when: float | None) -> bool:
        """Whether a drop logged at `when` may have been of a selected container: one had
        started by then (2 s of slack for the clocks). Unknown times count."""
        since = self.state.since
        return when is None or (since > 0 and when >= since - 2)

    def _running_since(self, meta: ContainerMeta) -> None:
        if meta.started > 0 and (not self.state.since or meta.started < self.state.since):
            self.state.since = meta.started

    def _drop(self, d: Drop) -> None:
        st = self.state
        st.dropped += d.suppressed
        if d.lost_total is not None:
            if st.lost_total is not None and d.lost_total > st.lost_total:
                st.dropped += d.lost_total - st.lost_total
            st.lost_total = d.lost_total

    def _serial(self, serial: int) -> None:
        st = self.state
        # kmsg and netlink carry every record the kernel printed / sent, in order: a serial
        # skipped is a record not received (audit.log's order is auditd's)
        if serial < 0 or self.source.name not in ("kmsg", "netlink"):
            return
        if st.last_serial >= 0 and serial > st.last_serial + 1:
            st.serial_gaps += serial - st.last_serial - 1
        if serial > st.last_serial:
            st.last_serial = serial

    def _attribute(self, rec: Record) -> ContainerMeta | None:
        pid = rec.pid
        if pid is not None and rec.time:
            began = self._started.started(pid)
            if began is not None and began > rec.time + 1:  # reused since: ask the index
                cid = self.index.pids.get(pid)
                meta = self.index.metas.get(cid) if cid else None
                if meta is None:
                    self._unattributed("process gone")
                return meta
        meta, why = self.index.container_of(pid)
        if meta is None:
            self._unattributed(why)
        return meta

    def _unattributed(self, why: str) -> None:
        self.state.unattributed[why] = self.state.unattributed.get(why, 0) + 1

    def _record(self, rec: Record) -> None:
        meta = self._attribute(rec)
        if meta is None:
            return
        if not meta.service:
            self._unattributed("container name cannot name a service")
            return
        if not self.selection.keeps(meta):
            self.state.other += 1
            return
        self._running_since(meta)
        svc = self.state.service(meta.service)
        svc.image = svc.image or meta.image
        svc.see_container(meta.id, meta.name)
        when = rec.time or self.clock()
        svc.span(when)
        if is_runtime(rec):
            svc.runtime_records += 1
            return
        if rec.kind == "seccomp":
            if rec.action != "log":
                svc.refused += 1
                return
            svc.records += 1
            arch = rec.arch or self.arch
            key = f"{arch} {rec.syscall}"
            entry = svc.syscalls.get(key)
            if entry is None:
                entry = svc.syscalls[key] = [arch, rec.syscall, 0]
            entry[2] += 1
            svc.new("syscalls", self._syscall_key(arch, rec.syscall), when)
            return
        svc.records += 1
        self._apparmor(svc, rec, when)

    def _syscall_key(self, arch: str, number: int) -> str:
        """The key a recording gives the syscall (model.Syscall.key)."""
        name = self._names.get((arch, number))
        if name is None:
            name = self._names[(arch, number)] = sctab.name_of(arch, number)
        base = name or f"__nr_{number}"
        return base if arch == self.arch else f"{base} ({arch})"

    def _apparmor(self, svc, rec: Record, when: float) -> None:
        if rec.operation == "capable" and rec.capname:
            cap = cap_full(rec.capname)
            svc.capabilities[cap] = svc.capabilities.get(cap, 0) + 1
            svc.new("capabilities", cap, when)
        elif rec.family and rec.sock_type:
            key = f"AF_{rec.family.upper()} SOCK_{rec.sock_type.upper()} {rec.protocol}"
            svc.sockets[key] = svc.sockets.get(key, 0) + 1
            svc.new("sockets", " ".join(key.split()[:2]), when)
        elif rec.name.startswith("/"):
            kinds = file_kinds(rec.operation, rec.mask)
            old = svc.files.get(rec.name)
            if old is None and len(svc.files) >= MAX_FILES:
                svc.overflow += 1
                return
            svc.files[rec.name] = sorted(set(old or ()) | set(kinds))
            svc.new("files", rec.name, when)
            if rec.operation == "exec":
                svc.executables[rec.name] = svc.executables.get(rec.name, 0) + 1
                svc.new("executables", rec.name, when)


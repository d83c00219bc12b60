"""What a harvest has learned so far: per service the evidence (aggregated: counts and first
sightings, never the raw lines), the counters, and the log cursor: one JSON document, the
harvest's only memory across restarts.

The cursor and the aggregates are saved together in one atomic write (state.json), so after a
crash or a kill the harvester resumes from a cursor that matches exactly what it had counted:
records after it are read again (the kernel keeps them, up to its ring buffer) and none is
counted twice. The evidence files (*.harvest.yaml) are views made from this state after it was
saved: what they say, the state holds.

Bounded: per service at most MAX_FILES paths and MAX_CONTAINERS container names are kept (the
rest are counted as `overflow` / containers_total); syscalls, capabilities and socket kinds are
bounded by what the kernel has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import safe_input
from ..errors import UsageError
from ..recording.model import ACCESS_KINDS, HarvestInfo
from ..recording.project import SERVICE_NAME
from .records import AUDIT_ARCHES

# The architectures a logged call can be of (records.parse_line names them; x32 by its bit).
ARCH_NAMES = frozenset(AUDIT_ARCHES.values()) | {"x32"}

STATE_VERSION = 1
MAX_FILES = 20_000
MAX_CPU_ENTRIES = 4_096

# AppArmor operations (security/apparmor/include/audit.h OP_*) -> the recording's access kind
# when the operation itself says it; otherwise the requested mask's letters decide (_MASK).
_OPERATIONS = {
    "mkdir": "mkdir", "rmdir": "delete", "unlink": "delete", "link": "link",
    "rename_src": "rename", "rename_dest": "rename", "chmod": "chmod", "chown": "chown",
    "truncate": "truncate", "exec": "execute", "file_mmap": "map_exec",
}
# Mask letters (security/apparmor/file.c aa_audit_file) -> access kinds.
_MASK = {"r": "read", "w": "write", "a": "append", "c": "create", "d": "delete", "x": "execute",
         "m": "map_exec", "l": "link", "k": "read"}


def file_kinds(operation: str, mask: str) -> tuple[str, ...]:
    """The access kinds an AppArmor file record stands for: its mask's letters (owner and
    other, "r::w"), and what the operation itself says (a rename, a chmod, ...)."""
    kinds = {_MASK[c] for c in mask if c in _MASK}
    if operation in _OPERATIONS:
        kinds.add(_OPERATIONS[operation])
    return tuple(sorted(kinds or {"read"}))


@dataclass
class ServiceEvidence:
    """One service's harvest, aggregated. Items are keyed as in a recording; `first` holds the
    time (epoch seconds) each item was first seen, which the timeline and last_new come from."""

    image: str = ""
    started: float = 0.0  # first record or first look at one of its containers
    ended: float = 0.0
    syscalls: dict[str, list] = field(default_factory=dict)  # "arch number" -> [arch, nr, count]
    files: dict[str, list[str]] = field(default_factory=dict)  # path -> sorted kinds
    capabilities: dict[str, int] = field(default_factory=dict)  # CAP_X -> count
    sockets: dict[str, int] = field(default_factory=dict)  # "FAMILY TYPE PROTO" -> count
    executables: dict[str, int] = field(default_factory=dict)
    first: dict[str, float] = field(default_factory=dict)  # "kind\0key" -> epoch
    records: int = 0
    runtime_records: int = 0
    refused: int = 0
    overflow: int = 0  # file paths not kept (MAX_FILES)
    containers: dict[str, str] = field(default_factory=dict)  # id -> name (bounded)
    containers_total: int = 0
    cpu_usec: int = 0
    last_new: float = 0.0

    def new(self, kind: str, key: str, when: float) -> None:
        k = f"{kind}\0{key}"
        if k not in self.first:
            self.first[k] = when
            self.last_new = max(self.last_new, when)

    def see_container(self, cid: str, name: str) -> None:
        if cid in self.containers:
            return
        self.containers_total += 1
        if len(self.containers) < HarvestInfo.MAX_CONTAINERS:
            self.containers[cid] = name

    def span(self, when: float) -> None:
        if when <= 0:
            return
        self.started = when if not self.started else min(self.started, when)
        self.ended = max(self.ended, when)


@dataclass
class State:
    source: str = ""
    cursor: dict = field(default_factory=dict)
    started: float = 0.0
    updated: float = 0.0
    services: dict[str, ServiceEvidence] = field(default_factory=dict)
    dropped: int = 0  # records the kernel said it dropped (suppressed, audit_lost deltas)
    serial_gaps: int = 0  # audit serials skipped between printed records (a cross-check)
    overwritten: int = 0  # kernel log records overwritten before they were read
    unreadable: int = 0  # audit lines of our kinds that did not parse
    unattributed: dict[str, int] = field(default_factory=dict)  # why -> records
    other: int = 0  # records of containers the selection does not keep
    last_serial: int = -1
    lost_total: int | None = None  # the kernel's audit_lost counter when last seen
    cpu_last: dict[str, int] = field(default_factory=dict)  # container id -> usage_usec seen
    reboots: int = 0
    since: float = 0.0  # when the first selected container seen started (drops before: not ours)

    def service(self, name: str) -> ServiceEvidence:
        s = self.services.get(name)
        if s is None:
            s = self.services[name] = ServiceEvidence()
        return s

    def _checked(self) -> "State":
        """self, or TypeError/ValueError when a loaded state is not what dumps writes (its
        service names name files: they must be service names)."""
        _is(self.source in ("kmsg", "audit.log", "netlink"))
        for k in ("seq", "inode", "offset"):
            _is(self.cursor.get(k) is None or _int(self.cursor[k]))
        for v in (self.started, self.updated, self.since):
            _is(_num(v))
        for v in (self.dropped, self.serial_gaps, self.overwritten, self.unreadable, self.other,
                  self.last_serial + 1, self.reboots):
            _is(_int(v))
        _is(self.lost_total is None or _int(self.lost_total))
        _is(all(isinstance(k, str) and _int(v) for k, v in self.unattributed.items()))
        _is(all(isinstance(k, str) and _int(v) for k, v in self.cpu_last.items()))
        for name, s in self.services.items():
            _is(bool(SERVICE_NAME.fullmatch(name)))
            _is(isinstance(s.image, str) and all(_num(v) for v in (s.started, s.ended,
                                                                    s.last_new)))
            _is(all(_int(v) for v in (s.records, s.runtime_records, s.refused, s.overflow,
                                      s.containers_total, s.cpu_usec)))
            _is(all(isinstance(k, str) and isinstance(v, list) and len(v) == 3
                    and v[0] in ARCH_NAMES and _int(v[1]) and _int(v[2])
                    for k, v in s.syscalls.items()))
            _is(all(isinstance(k, str) and isinstance(v, list)
                    and set(v) <= set(ACCESS_KINDS) for k, v in s.files.items()))
            for table in (s.capabilities, s.executables):
                _is(all(isinstance(k, str) and _int(v) for k, v in table.items()))
            _is(all(isinstance(k, str) and len(k.split()) == 3 and k.split()[2].isdigit()
                    and _int(v) for k, v in s.sockets.items()))
            _is(all(isinstance(k, str) and isinstance(v, str) for k, v in s.containers.items()))
            _is(all(_num(v) for v in s.first.values()))
        return self

    @property
    def drops(self) -> int:
        """Records dropped, as far as the kernel lets us tell: its own count, or the serial
        gaps where they say more (the suppressed line comes only with the next printed one)."""
        return max(self.dropped, self.serial_gaps)


def _is(ok: bool) -> None:
    if not ok:
        raise ValueError("unexpected value")


def _int(v) -> bool:
    """A count: an int (not a bool), not negative."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


# The last second of year 9999: every time harvest writes is printed as an ISO date
# (store.iso), and gmtime refuses what lies much beyond (OverflowError, EOVERFLOW).
MAX_EPOCH = 253402300799


def _num(v) -> bool:
    """A time or an amount: a number, not negative, not NaN, at most MAX_EPOCH."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= MAX_EPOCH


# ---------------------------------------------------------------------------------------------
# persistence
# ---------------------------------------------------------------------------------------------

def dumps(state: State) -> str:
    d = {
        "kind": "profiler-harvest-state", "version": STATE_VERSION, "source": state.source,
        "cursor": state.cursor, "started": state.started, "updated": state.updated,
        "dropped": state.dropped, "serial_gaps": state.serial_gaps,
        "overwritten": state.overwritten, "unreadable": state.unreadable,
        "unattributed": dict(sorted(state.unattributed.items())), "other": state.other,
        "last_serial": state.last_serial, "lost_total": state.lost_total,
        "cpu_last": state.cpu_last, "reboots": state.reboots, "since": state.since,
        "services": {name: {**s.__dict__, "first": {k.replace("\0", " "): v for k, v in
                                                    sorted(s.first.items())}}
                     for name, s in sorted(state.services.items())},
    }
    return json.dumps(d, sort_keys=False, indent=1) + "\n"


def loads(text: str, source: str) -> State:
    """The state saved by dumps; UsageError (one line) for anything else."""
    try:
        d = safe_input.load_json(text)
    except safe_input.InputError as e:
        raise UsageError(f"{source}: {e.reason}", hint="the harvest state is damaged: move it "
                                                       "away to start a new harvest") from None
    if not isinstance(d, dict) or d.get("kind") != "profiler-harvest-state":
        raise UsageError(f"{source}: not a harvest state file",
                         hint="give harvest an output directory of its own (-o DIR)")
    if d.get("version") != STATE_VERSION:
        raise UsageError(f"{source}: harvest state version {d.get('version')!r} is not "
                         f"supported (this profiler writes {STATE_VERSION})")
    try:
        services = {}
        for name, s in (d.get("services") or {}).items():
            ev = ServiceEvidence(**{k: v for k, v in s.items() if k != "first"})
            ev.first = {k.replace(" ", "\0", 1): float(v) for k, v in s.get("first", {}).items()}
            services[name] = ev
        return State(source=d["source"], cursor=dict(d["cursor"]), started=d["started"],
                     updated=d["updated"], services=services, dropped=d["dropped"],
                     serial_gaps=d["serial_gaps"], overwritten=d["overwritten"],
                     unreadable=d["unreadable"], unattributed=dict(d["unattributed"]),
                     other=d["other"], last_serial=d["last_serial"], lost_total=d["lost_total"],
                     cpu_last={k: int(v) for k, v in d["cpu_last"].items()},
                     reboots=d.get("reboots", 0), since=float(d.get("since", 0.0)))._checked()
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise UsageError(f"{source}: damaged harvest state ({e.__class__.__name__})",
                         hint="move it away to start a new harvest") from None

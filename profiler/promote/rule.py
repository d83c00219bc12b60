"""The promotion rule: is a service's complain-mode policy ready to be enforced?

A service is READY when all three hold, judged from its harvest (profiler harvest's per-service
facts, `Harvested`):

1. quiet: nothing new for the chosen period. "New" is a never-seen-before item the kernel logged
   (a syscall, path, capability the complain-mode policy did not allow: the harvest's
   `last_new`); quiet time is counted from the last new item (or from the start of the harvest
   when there was none) to the end of the period the harvest covered, not to the wall clock: a
   harvester that stopped a week ago says nothing about that week.
2. traffic: the service did work in the period (CPU seconds of its containers' cgroups at least
   `min_traffic`): an idle service is always quiet, and proves nothing.
3. complete: no record was lost. The kernel's log rate limit drops audit records ("callbacks
   suppressed"); a dropped record may have been the one new item. A record harvest could not
   attribute (its process was gone when it read it: a short `docker exec`) is lost the same
   way. Unless the user accepts them (`allow_drops`), any such record in the period blocks
   promotion: harvest again after raising kernel.printk_ratelimit_burst (or where auditd runs),
   with `--follow`, or with the admin commands in the training workload.

Every verdict carries its reasons, each a sentence, in the order above; a READY verdict says why
too. Pure: facts in, verdicts out (the command reads the files and prints).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import UsageError

DEFAULT_QUIET = "24h"
DEFAULT_MIN_TRAFFIC = 1.0  # CPU seconds in the period: more than a container starting and idling

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, option: str = "--quiet-for") -> timedelta:
    """'90s', '30m', '24h', '7d', '1w', '1h30m' -> timedelta; UsageError otherwise."""
    t = text.strip().lower()
    parts = _DURATION.findall(t)
    if not t or not parts or "".join(n + u for n, u in parts) != t:
        raise UsageError(f"{option} {text!r}: not a duration",
                         hint="a number with a unit s, m, h, d or w: 90s, 30m, 24h, 7d, 1h30m")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def say_duration(d: timedelta) -> str:
    """A duration for people: '2d 3h', '45m', '12s'."""
    s = int(d.total_seconds())
    if s < 0:
        return "-" + say_duration(-d)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + \
        [f"{minutes}m"] * bool(minutes and not days) + [f"{s}s"] * bool(s and not days and not hours)
    return " ".join(parts) or "0s"


@dataclass(frozen=True)
class Harvested:
    """What a harvest says about one service (profiler harvest's per-service facts)."""

    service: str
    start: datetime | None  # the period the harvest covered
    end: datetime | None
    last_new: datetime | None  # when the last never-seen-before item appeared; None: none
    new_items: int  # items the complain-mode policy did not allow (the harvested additions)
    read: int  # records read
    dropped: int  # records lost (kernel rate limit, backlog) while the service was harvested
    cpu_seconds: float | None  # its containers' CPU time in the period; None: not measured
    containers: tuple[str, ...] = ()
    unattributed: int = 0  # records no container could be found for (any service's)


@dataclass(frozen=True)
class Rule:
    quiet_for: timedelta = timedelta(hours=24)
    min_traffic: float = DEFAULT_MIN_TRAFFIC
    allow_drops: bool = False

    def __str__(self) -> str:
        return (f"ready = no new evidence for {say_duration(self.quiet_for)} (--quiet-for) AND at "
                f"least {self.min_traffic:g} CPU s of traffic (--min-traffic) AND "
                + ("lost records accepted (--allow-drops)" if self.allow_drops else
                   "no harvest record dropped or unattributed"))


@dataclass(frozen=True)
class Verdict:
    service: str
    ready: bool
    reasons: tuple[str, ...]
    quiet: timedelta | None = None  # how long it has been quiet (None: no harvest)

    @property
    def why(self) -> str:
        return "; ".join(self.reasons)


def judge(service: str, h: Harvested | None, rule: Rule) -> Verdict:
    """The verdict for one service (h None: no harvest names it)."""
    if h is None:
        return Verdict(service, False, ("no harvest for this service: deploy it in complain "
                                        "mode (emit --complain) and run profiler harvest",))
    blockers: list[str] = []
    quiet = None
    if h.start is None or h.end is None or h.end < h.start:
        blockers.append("the harvest states no period")
    else:
        since = h.last_new or h.start
        quiet = max(h.end - since, timedelta(0))
        if quiet < rule.quiet_for:
            what = (f"last new item {say_duration(quiet)} before the harvest's end" if h.last_new
                    else f"harvested for only {say_duration(quiet)}")
            blockers.append(f"{what}: needs {say_duration(rule.quiet_for)} without new evidence")
    if h.cpu_seconds is None:
        blockers.append("no traffic signal (the harvest measured no CPU time)")
    elif h.cpu_seconds < rule.min_traffic:
        blockers.append(f"{h.cpu_seconds:g} CPU s of traffic, under --min-traffic "
                        f"{rule.min_traffic:g}: an idle service proves nothing")
    if h.dropped and not rule.allow_drops:
        blockers.append(f"{h.dropped} record(s) dropped: a lost record may be new evidence "
                        f"(raise kernel.printk_ratelimit_burst or run auditd, and harvest again; "
                        f"or --allow-drops)")
    if h.unattributed and not rule.allow_drops:
        blockers.append(f"{h.unattributed} record(s) not attributed (their process was gone: a "
                        f"short docker exec?): any may be this service's new evidence (harvest "
                        f"with --follow, put admin commands in the training workload; or "
                        f"--allow-drops)")
    if blockers:
        return Verdict(service, False, tuple(blockers), quiet)
    lost = [f"{h.dropped} dropped"] * bool(h.dropped) + \
        [f"{h.unattributed} unattributed"] * bool(h.unattributed)
    reasons = [f"quiet for {say_duration(quiet)}", f"{h.cpu_seconds:g} CPU s of traffic",
               f"record(s) {' and '.join(lost)}, accepted (--allow-drops)" if lost
               else "no record dropped or unattributed",
               f"{h.new_items} harvested addition(s) go into the enforced policy"]
    return Verdict(service, True, tuple(reasons), quiet)

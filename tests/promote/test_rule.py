"""The promotion rule (profiler/promote/rule.py), pure: ready when quiet for the period, traffic
seen and nothing dropped; every blocker said, in the rule's order."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from profiler.errors import UsageError
from profiler.promote.rule import Harvested, Rule, judge, parse_duration, say_duration

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def harvested(**kw) -> Harvested:
    base = dict(service="web", start=T0, end=T0 + 3 * DAY, last_new=T0 + DAY, new_items=4,
                read=120, dropped=0, cpu_seconds=300.0, containers=("web-1 0123456789ab",))
    return Harvested(**{**base, **kw})


def test_ready_when_quiet_long_enough_with_traffic_and_no_drops():
    v = judge("web", harvested(), Rule(quiet_for=DAY))
    assert v.ready and v.quiet == 2 * DAY
    assert v.reasons[0] == "quiet for 2d" and "4 harvested addition(s)" in v.why


def test_new_evidence_inside_the_period_blocks():
    v = judge("web", harvested(last_new=T0 + 3 * DAY - timedelta(hours=2)), Rule(quiet_for=DAY))
    assert not v.ready
    assert v.reasons == ("last new item 2h before the harvest's end: needs 1d without new "
                         "evidence",)


def test_quiet_counts_from_the_start_when_nothing_was_new():
    short = harvested(last_new=None, new_items=0, end=T0 + timedelta(hours=5))
    assert judge("web", short, Rule(quiet_for=DAY)).reasons == (
        "harvested for only 5h: needs 1d without new evidence",)
    assert judge("web", short, Rule(quiet_for=timedelta(hours=4))).ready


def test_quiet_is_measured_to_the_end_of_the_harvest_not_to_now():
    # an old harvest whose last item came just before it stopped: still not quiet
    v = judge("web", harvested(last_new=T0 + 3 * DAY), Rule(quiet_for=timedelta(minutes=1)))
    assert not v.ready and v.quiet == timedelta(0)


@pytest.mark.parametrize("cpu, needle", [
    (None, "no traffic signal"),
    (0.2, "0.2 CPU s of traffic, under --min-traffic 1: an idle service proves nothing"),
])
def test_no_traffic_blocks(cpu, needle):
    v = judge("web", harvested(cpu_seconds=cpu), Rule(quiet_for=DAY))
    assert not v.ready and needle in v.why


def test_drops_block_unless_accepted():
    h = harvested(dropped=93)
    v = judge("web", h, Rule(quiet_for=DAY))
    assert not v.ready and "93 record(s) dropped" in v.why and "--allow-drops" in v.why
    ok = judge("web", h, Rule(quiet_for=DAY, allow_drops=True))
    assert ok.ready and "record(s) 93 dropped, accepted (--allow-drops)" in ok.reasons


def test_unattributed_records_block_like_drops():
    """A short `docker exec` whose process was gone when harvest read its records: they may
    be this service's new evidence (seen: corpus mariadb's mariadb-admin, refused enforced)."""
    h = harvested(unattributed=12)
    v = judge("web", h, Rule(quiet_for=DAY))
    assert not v.ready and v.reasons == (
        "12 record(s) not attributed (their process was gone: a short docker exec?): any may be "
        "this service's new evidence (harvest with --follow, put admin commands in the training "
        "workload; or --allow-drops)",)
    ok = judge("web", replace(h, dropped=2), Rule(quiet_for=DAY, allow_drops=True))
    assert ok.ready and "record(s) 2 dropped and 12 unattributed, accepted (--allow-drops)" \
        in ok.reasons


def test_every_blocker_is_said_in_the_rules_order():
    v = judge("web", harvested(last_new=T0 + 3 * DAY, cpu_seconds=0.0, dropped=5),
              Rule(quiet_for=DAY))
    assert [r.split()[0] for r in v.reasons] == ["last", "0", "5"]
    v = judge("web", harvested(last_new=T0 + 3 * DAY, cpu_seconds=0.0, dropped=5,
                               unattributed=1), Rule(quiet_for=DAY))
    assert [r.split()[0] for r in v.reasons] == ["last", "0", "5", "1"]


def test_no_harvest_or_no_period():
    assert "no harvest for this service" in judge("db", None, Rule()).why
    v = judge("web", harvested(start=None), Rule())
    assert not v.ready and "the harvest states no period" in v.why


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("24h", 86400),
                                           ("7d", 604800), ("1w", 604800), ("1h30m", 5400),
                                           ("0.5h", 1800), (" 2D ", 172800)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "1x", "1h 30m", "-1h", "1h-"])
def test_bad_durations_are_one_usage_error(text):
    with pytest.raises(UsageError) as e:
        parse_duration(text)
    assert "not a duration" in e.value.message and e.value.hint


def test_say_duration():
    assert [say_duration(timedelta(seconds=s)) for s in (0, 12, 2700, 5400, 90000, 200000)] == \
        ["0s", "12s", "45m", "1h 30m", "1d 1h", "2d 7h"]


def test_the_rule_states_itself():
    assert str(Rule(quiet_for=DAY, min_traffic=2)) == (
        "ready = no new evidence for 1d (--quiet-for) AND at least 2 CPU s of traffic "
        "(--min-traffic) AND no harvest record dropped or unattributed")

"""The host matrix's compose steps (tests/hosts/guest.py run_compose_sample) without a VM: the
steps a `kind: compose` sample reports, in order, with a stand-in for every command, and what is
reported when an early step fails (the later ones skipped naming it, the project brought down
all the same). The real run is `make test-hosts`."""

from __future__ import annotations

import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "hosts"))
import guest  # noqa: E402

SPEC = {"kind": "compose", "compose": "compose.yaml", "project": "shop",
        "images": {"web": "w", "app": "a", "cache": "c"}, "ready_port": 18090,
        "port_env": "PROFILER_SAMPLE_PORT", "workload": "workload.sh"}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A guest whose commands are not run: `step` passes (or fails the steps named in
    `fail`), creating what the real command would (the recording, the policy)."""
    clone, share = tmp_path / "clone", tmp_path / "share"
    clone.mkdir(), share.mkdir()
    monkeypatch.setattr(guest, "CLONE", clone)
    monkeypatch.setattr(guest, "sample_spec", lambda name: SPEC)
    monkeypatch.setattr(guest, "compose_argv", lambda: ["docker-compose"])
    ran = []
    monkeypatch.setattr(guest.subprocess, "run", lambda argv, **kw: ran.append(argv) or
                        type("P", (), {"stdout": "c0ffee\n", "returncode": 0})())
    g = guest.Guest(share)
    g.fail = set()
    g.argv = {}

    def step(sample, step, argv, *, env=None, check=None, timeout=None):
        g.argv[(sample, step)] = argv
        ok = (sample, step) not in g.fail
        if ok and step == "record":
            (clone / "out" / "shop.rec").mkdir(parents=True)
            (clone / "out" / "shop.rec" / "index.yaml").write_text("{}")
        if ok and step == "emit":
            (clone / "out" / "shop-policy").mkdir()
            (clone / "out" / "shop-policy" / "compose.security.yaml").write_text("{}")
        g.report(sample, step, "passed" if ok else "failed", 1.0)
        return ok
    g.step = step
    g.ran = ran
    return g


def _steps(g):
    import json
    return [(r["sample"], r["step"], r["status"]) for r in
            map(json.loads, g.results.read_text().splitlines())]


def test_a_compose_sample_reports_every_step_of_the_whole_application_flow(fake):
    guest.run_compose_sample(fake, "shop")
    assert _steps(fake) == [
        ("shop", "record", "passed"), ("shop", "emit", "passed"),
        ("shop", "apparmor-load", "passed"), ("shop", "verify", "passed"),
        ("shop", "up", "passed"), ("shop:app", "negative-seccomp", "passed"),
        ("shop:cache", "negative-seccomp", "passed"), ("shop:web", "negative-seccomp", "passed"),
        ("shop", "down", "passed")]
    record = fake.argv[("shop", "record")]
    assert record[1:4] == ["record", "--match", "com.docker.compose.project=shop"]
    compose_file = str(guest.CLONE / "samples/shop/compose.yaml")
    assert record[record.index("--") + 1:] == ["docker-compose", "-f", compose_file, "-p", "shop",
                                               "up", "-d"]
    # record stopped what COMMAND started; it is removed before the override's own up
    assert fake.ran[0] == ["docker-compose", "-f", compose_file, "-p", "shop", "down", "-t", "5"]
    assert fake.argv[("shop:web", "negative-seccomp")] == [
        "docker", "exec", "c0ffee", "unshare", "-U", "true"]
    # the project is brought down under the override the up step used
    assert "compose.security.yaml -p shop down" in fake.argv[("shop", "down")][2]
    assert all(step in guest.TIMEOUTS for step in ("apparmor-load", "up", "down"))


def test_a_failed_record_skips_what_needs_it_and_still_brings_the_project_down(fake):
    fake.fail.add(("shop", "record"))
    guest.run_compose_sample(fake, "shop")
    steps = _steps(fake)
    assert steps[0] == ("shop", "record", "failed")
    assert steps[-1] == ("shop", "down", "passed")
    skipped = steps[1:-1]
    assert {s for _, _, s in skipped} == {"skipped"} and len(skipped) == 7
    assert ("shop:cache", "negative-seccomp", "skipped") in skipped
    assert "compose.security.yaml" not in fake.argv[("shop", "down")][2]


def test_the_negative_control_passes_only_when_the_policy_refused():
    check = guest.refused("Operation not permitted")
    assert check(1, "unshare: unshare failed: Operation not permitted") == ""
    assert check(0, "").startswith("not refused")
    assert check(126, "$ x\nOCI runtime exec failed: permission denied").startswith(
        "refused, but not by the policy")

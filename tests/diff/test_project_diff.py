"""`profiler diff OLD_DIR NEW_DIR` of two projects: per service, services that appear or
disappear, exit codes as for diff (growth fails), emitted projects, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from projectcases import cache_recording, default_recordings, make_project
from emitcases import assert_one_line_error

PROFILER = [sys.executable, "-m", "profiler.cli"]


def diff(*args):
    return subprocess.run([*PROFILER, "diff", *map(str, args)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def _pair(tmp_path, new_recs):
    old = make_project(tmp_path / "old")
    new = make_project(tmp_path / "new", new_recs)
    return old, new


def _data(proc) -> dict:
    return json.loads(proc.stdout)


def test_same_project_is_no_change(tmp_path):
    old, new = _pair(tmp_path, default_recordings())
    proc = diff(old, new, "--format", "json", "--fail-on", "any")
    assert proc.returncode == 0, proc.stderr
    data = _data(proc)
    assert data["format"] == "profiler-diff-project" and not data["escalation"]
    assert sorted(data["services"]) == ["app", "cache", "web"]
    assert all(s["status"] == "unchanged" and not s["added"] and not s["removed"]
               for s in data["services"].values())


def test_growth_in_one_service_fails_and_names_it(tmp_path):
    recs = default_recordings()
    recs["cache"] = cache_recording(names=("read", "write", "epoll_wait", "accept4",
                                           "exit_group", "ptrace"))
    old, new = _pair(tmp_path, recs)
    proc = diff(old, new, "--format", "json")
    assert proc.returncode == 1
    svc = _data(proc)["services"]
    assert [c["item"] for c in svc["cache"]["added"]] == ["ptrace"]
    assert svc["cache"]["added"][0]["risk"] == "high"
    assert not svc["web"]["added"] and not svc["app"]["added"]
    assert svc["cache"]["status"] == "changed" and svc["web"]["status"] == "unchanged"
    text = diff(old, new)
    assert text.returncode == 1 and "=== service cache (changed) ===" in text.stdout
    assert "escalation in cache" in text.stdout
    assert diff(old, new, "--fail-on", "never").returncode == 0


def test_a_service_that_appears_is_growth(tmp_path):
    recs = default_recordings()
    recs["worker"] = cache_recording(image="shop-worker")
    old, new = _pair(tmp_path, recs)
    proc = diff(old, new, "--format", "json")
    assert proc.returncode == 1
    worker = _data(proc)["services"]["worker"]
    assert worker["status"] == "appeared" and worker["old"] == "(absent)"
    assert {c["item"] for c in worker["added"]} >= {"read", "accept4"}
    md = diff(old, new, "--format", "markdown")
    assert "## service `worker` (appeared)" in md.stdout


def test_a_service_that_disappears_is_reported_but_is_no_growth(tmp_path):
    recs = default_recordings()
    del recs["app"]
    old, new = _pair(tmp_path, recs)
    proc = diff(old, new, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    app = _data(proc)["services"]["app"]
    assert app["status"] == "disappeared" and app["removed"] and not app["added"]
    assert diff(old, new, "--fail-on", "any").returncode == 1
    assert "app disappeared" in diff(old, new).stdout


def test_emitted_projects_compare_per_service(tmp_path):
    recs = default_recordings()
    recs["cache"] = cache_recording(caps=(("CAP_NET_ADMIN", 1),))
    old, new = _pair(tmp_path, recs)
    for d in ("old", "new"):
        proc = subprocess.run([*PROFILER, "emit", str(tmp_path / d), "--format", "all", "-o",
                               str(tmp_path / f"{d}-policy")], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    proc = diff(tmp_path / "old-policy", tmp_path / "new-policy", "--format", "json")
    assert proc.returncode == 1
    data = _data(proc)
    assert data["kind"] == "policy"
    assert "CAP_NET_ADMIN" in {c["item"] for c in data["services"]["cache"]["added"]}
    assert not data["services"]["web"]["added"]


def test_project_against_something_else_is_refused(tmp_path):
    old = make_project(tmp_path / "old")
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = diff(old, plain)
    assert proc.returncode == 2
    assert_one_line_error(proc, "neither a project directory")
    proc = subprocess.run([*PROFILER, "emit", str(old), "--format", "all", "-o",
                           str(tmp_path / "pol")], capture_output=True, text=True)
    assert proc.returncode == 0
    proc = diff(old, tmp_path / "pol")
    assert proc.returncode == 2
    assert_one_line_error(proc, "cannot compare a project of recordings")


@pytest.mark.parametrize("damage", ["index", "service"])
def test_broken_project_is_one_line_and_exit_2(tmp_path, damage):
    old, new = _pair(tmp_path, default_recordings())
    if damage == "index":
        (new / "index.yaml").write_text("kind: profiler-project\nversion: 99\n")
        words = ["version 99"]
    else:
        (new / "web.recording.yaml").unlink()
        words = ["web.recording.yaml"]
    proc = diff(old, new)
    assert proc.returncode == 2
    assert_one_line_error(proc, *words)
    assert "hint:" in proc.stderr or damage == "service"

"""The leftovers registry (profiler/kernel/leftovers.py): what a killed run made is removed by the
next run, what a live run made is never touched. Pure: a state directory of the test's own,
a fake engine, and real processes for alive/dead owners."""

from __future__ import annotations

import json
import subprocess
import sys

from profiler.kernel import leftovers
from profiler.kernel.leftovers import OWNER_LABEL


def _dead_token() -> str:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    token = leftovers.owner_token(p.pid)
    p.wait()
    return token


def test_owner_token_names_a_live_process_and_not_a_reused_pid():
    me = leftovers.owner_token()
    assert leftovers.alive(me)
    pid, start, ns = me.split(":")
    assert not leftovers.alive(f"{pid}:{int(start) + 1}:{ns}")  # same pid, another start: reused
    assert not leftovers.alive(_dead_token())
    assert not leftovers.alive("garbage") and not leftovers.alive("")
    # a run in another PID namespace cannot be judged from here: never taken for dead
    assert leftovers.alive(f"{pid}:{int(start) + 1}:{int(ns) + 1}")


def test_registry_file_lists_what_exists_and_goes_when_empty(tmp_path):
    reg = leftovers.Registry(tmp_path, token="123:456:789")
    reg.add("path", "/tmp/.x.new")
    reg.add("apparmor", "profiler-verify-abc")
    data = json.loads(reg.file.read_text())
    assert data == {"owner": "123:456:789", "apparmor": ["profiler-verify-abc"],
                    "path": ["/tmp/.x.new"]}
    reg.discard("path", "/tmp/.x.new")
    reg.discard("apparmor", "profiler-verify-abc")
    assert not reg.file.exists() and list(tmp_path.iterdir()) == []


class _Container:
    def __init__(self, name, owner):
        self.name, self.labels = name, {OWNER_LABEL: owner} if owner else {}


class _Engine:
    def __init__(self, containers):
        self.containers, self.removed = containers, []

    def list_owned(self):
        return list(self.containers)

    def remove(self, c):
        self.removed.append(c.name)


def test_sweep_removes_a_dead_runs_things_and_keeps_a_live_ones(tmp_path):
    state = tmp_path / "state"
    dead, live = _dead_token(), leftovers.owner_token()
    scratch = tmp_path / ".out.abc.new"
    (scratch / "sub").mkdir(parents=True)
    tmpfile = tmp_path / ".rec.yaml.x.tmp"
    tmpfile.write_text("half")
    users = tmp_path / "users-data"  # a name profiler never makes: never removed
    users.mkdir()
    mine = tmp_path / ".live.new"
    mine.mkdir()
    d = leftovers.Registry(state, token=dead)
    for p in (scratch, tmpfile, users):
        d.add("path", str(p))
    d.add("apparmor", "profiler-verify-dead")
    leftovers.Registry(state, token=live).add("path", str(mine))
    unloaded = []
    engine = _Engine([_Container("killed-run", dead), _Container("live-run", live),
                      _Container("someone-elses", "")])
    done = leftovers.sweep(engine, state, remove_profile=lambda n: unloaded.append(n) or True)
    assert not scratch.exists() and not tmpfile.exists() and users.exists() and mine.exists()
    assert unloaded == ["profiler-verify-dead"] and engine.removed == ["killed-run"]
    assert sorted(done) == sorted([f"scratch directory {scratch}", f"scratch file {tmpfile}",
                                   "AppArmor profile profiler-verify-dead",
                                   "container killed-run"])
    assert [f.name for f in state.iterdir()] == [leftovers.Registry(state, live).file.name]


def test_sweep_skips_a_registry_file_being_written(tmp_path):
    (tmp_path / "1-2.json").write_text("{not json")
    assert leftovers.sweep(None, tmp_path) == []
    assert (tmp_path / "1-2.json").exists()


class _ProjectEngine(_Engine):
    def __init__(self):
        super().__init__([])
        self.projects: list[str] = []

    def remove_project(self, name, volumes=False):
        self.projects.append(name + (" with its volumes" if volumes else ""))
        return True


def test_sweep_brings_down_a_killed_verify_compose_project_and_keeps_a_live_ones(tmp_path):
    """verify --compose registers its project (compose's containers cannot carry the owner
    label): a dead run's project is removed by project name, a live run's never; without an
    engine the entry waits for a sweep that has one."""
    dead, live = _dead_token(), leftovers.owner_token()
    leftovers.Registry(tmp_path, token=dead).add("compose", "profiler-verify-dead0001")
    leftovers.Registry(tmp_path, token=live).add("compose", "profiler-verify-live0001")
    assert leftovers.sweep(None, tmp_path) == []
    assert len(list(tmp_path.glob("*.json"))) == 2  # kept for a sweep with an engine
    engine = _ProjectEngine()
    done = leftovers.sweep(engine, tmp_path)
    assert engine.projects == ["profiler-verify-dead0001"]
    assert done == ["compose project profiler-verify-dead0001"]
    assert [f.name for f in tmp_path.iterdir()] == [leftovers.Registry(tmp_path, live).file.name]


def test_sweep_removes_a_killed_runs_project_volumes_only_when_they_were_all_its_own(tmp_path):
    """A project registered with compose_volumes had no volume before its run: its volumes are
    the run's and go with it; one registered without (a user's project name) keeps them."""
    dead = _dead_token()
    reg = leftovers.Registry(tmp_path, token=dead)
    reg.add("compose", "profiler-verify-dead0002")
    reg.add("compose_volumes", "profiler-verify-dead0002")
    reg.add("compose", "users-project")
    engine = _ProjectEngine()
    leftovers.sweep(engine, tmp_path)
    assert engine.projects == ["profiler-verify-dead0002 with its volumes", "users-project"]

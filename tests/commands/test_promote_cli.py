"""`profiler promote` from fixtures (no root): the verdict table, the exit status, the
enforce-mode policy written only for ready services and made by the one emit pipeline (the
same text `emit RECORDING HARVEST.harvest.yaml` gives), a project's ready services only, and
bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from emitcases import NGINX, PROFILER, assert_one_line_error, emit, nginx
from projectcases import make_project
from profiler.recording import recording_io
from profiler.recording.model import HarvestInfo, Metadata, Recording, Syscall

START, END = "2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z"
NEW_SYSCALL = ("flock", 73)  # not in the nginx fixture


def promote(*args):
    return subprocess.run([*PROFILER, "promote", *map(str, args)], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def harvested(service: str, *, last_new: str = "2026-12-01T06:00:00Z", dropped: int = 0,
              cpu: float = 42.0, image: str = "profiler-sample-nginx",
              start: str = START) -> Recording:
    md = Metadata(tool_version="0", kernel="normalised", arch="x86_64", mode="harvest",
                  started_at=start, ended_at=END, image=image, capability_source="none",
                  startup_observed=False)
    return Recording(metadata=md, syscalls=(Syscall(*NEW_SYSCALL, 3),),
                     harvest=HarvestInfo(source="kmsg", records=3, dropped=dropped,
                                         containers=(f"{service}-1 0123456789ab",),
                                         containers_total=1, cpu_seconds=cpu,
                                         last_new=last_new, new_items=1))


def harvest_dir(tmp_path: Path, **services: Recording) -> Path:
    d = tmp_path / "harvest"
    d.mkdir()
    (d / "state.json").write_text("{}\n")  # what makes it a harvest directory (store.load_dir)
    for name, rec in services.items():
        recording_io.save(rec, d / f"{name}.harvest.yaml")
    return d


def test_ready_service_gets_the_policy_emit_makes_of_recording_and_harvest(tmp_path):
    h = harvest_dir(tmp_path, web=harvested("web"))
    out = tmp_path / "enforce"
    proc = promote(NGINX, h, "-o", out, "--quiet-for", "1d")
    assert proc.returncode == 0, proc.stderr
    assert "ready" in proc.stderr and "quiet for 1d 18h" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["seccomp.json", "apparmor.profile", "caps.txt", "run.sh", "compose.yaml", "k8s.yaml",
         "seccomp.Dockerfile"])
    prof = json.loads((out / "seccomp.json").read_text())
    assert prof["defaultAction"] == "SCMP_ACT_ERRNO"  # enforce mode
    assert any(NEW_SYSCALL[0] in r["names"] and r["action"] == "SCMP_ACT_ALLOW"
               for r in prof["syscalls"])
    same = emit(NGINX, h / "web.harvest.yaml", "-f", "seccomp")
    assert same.returncode == 0, same.stderr
    assert (out / "seccomp.json").read_text() == same.stdout
    assert "--read-only" in (out / "run.sh").read_text()  # the recording's hardening, enforced


def test_not_ready_writes_nothing_and_exits_1(tmp_path):
    h = harvest_dir(tmp_path, web=harvested("web", last_new="2026-12-02T23:00:00Z",
                                            dropped=7, cpu=0.0))
    out = tmp_path / "enforce"
    proc = promote(NGINX, h, "-o", out, "--quiet-for", "24h")
    assert proc.returncode == 1 and not out.exists()
    err = " ".join(proc.stderr.split())
    for needle in ("not ready", "last new item 1h before the harvest's end", "7 record(s) dropped",
                   "an idle service proves nothing", "nothing written"):
        assert needle in err, needle


def test_emit_not_ready_writes_and_still_says_so(tmp_path):
    h = harvest_dir(tmp_path, web=harvested("web", dropped=7))
    out = tmp_path / "enforce"
    proc = promote(NGINX, h, "-o", out, "--emit-not-ready")
    assert proc.returncode == 1 and (out / "seccomp.json").is_file()
    assert "not all are ready" in " ".join(proc.stderr.split())
    assert promote(NGINX, h, "-o", tmp_path / "b", "--allow-drops").returncode == 0


def test_project_writes_only_the_ready_services(tmp_path):
    d = make_project(tmp_path / "rec")
    h = harvest_dir(tmp_path, web=harvested("web"),
                    app=harvested("app", last_new="2026-12-02T23:59:00Z"))
    out = tmp_path / "enforce"
    proc = promote(d, h, "-o", out, "--quiet-for", "1d")
    assert proc.returncode == 1, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["apparmor-load.sh", "compose.security.yaml",
                                                      "web"]
    err = " ".join(proc.stderr.split())
    assert "no harvest for this service" in err  # cache
    assert "last new item 1m before the harvest's end" in err  # app
    assert NEW_SYSCALL[0] in (out / "web" / "seccomp.json").read_text()


def test_the_service_of_a_recording_is_asked_when_the_harvest_has_several(tmp_path):
    h = harvest_dir(tmp_path, web=harvested("web"), app=harvested("app"))
    proc = promote(NGINX, h, "-o", tmp_path / "o")
    assert_one_line_error(proc, "which is this recording's")
    assert "hint: name it: --service NAME" in proc.stderr
    assert proc.returncode == 2
    assert promote(NGINX, h, "-o", tmp_path / "o", "--service", "web").returncode == 0


@pytest.mark.parametrize("args, words", [
    (["HARVEST"], ["needs the recording(s)"]),
    ([NGINX, NGINX], ["not a directory"]),
    ([NGINX, "EMPTY"], ["not a harvest directory"]),
    ([NGINX, "HARVEST", "--quiet-for", "soon"], ["not a duration"]),
    (["HARVEST/web.harvest.yaml", "HARVEST"], ["is harvested evidence, not a recording"]),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, args, words):
    h = harvest_dir(tmp_path, web=harvested("web"))
    (tmp_path / "EMPTY").mkdir()
    args = [str(a).replace("HARVEST", str(h)).replace("EMPTY", str(tmp_path / "EMPTY"))
            for a in args]
    out = tmp_path / "enforce"
    proc = promote(*args, "-o", out)
    assert proc.returncode == 2, proc.stderr
    assert_one_line_error(proc, *words)
    assert not out.exists()


@pytest.mark.parametrize("last_new, code", [("2026-11-20T06:00:00Z", 0),  # its --quiet-for is 7d
                                            ("2026-12-02T23:00:00Z", 1)])
def test_ci_recipe_promote_script_runs_as_written(tmp_path, last_new, code):
    """docs/ci-recipe.md section 4's promote.sh, run as written on a project and its harvest."""
    import os
    import re
    import sys
    recipe = (Path(__file__).resolve().parents[2] / "docs" / "ci-recipe.md").read_text()
    (script,) = [b for b in re.findall(r"^```sh\n(.*?)^```", recipe, re.M | re.S)
                 if b.startswith("#!/bin/sh\n# promote.sh")]
    repo = tmp_path / "repo"
    (repo / "policy").mkdir(parents=True)
    make_project(repo / "policy" / "project")
    os.rename(harvest_dir(tmp_path, **{s: harvested(s, last_new=last_new, cpu=600.0,
                                                         start="2026-11-20T00:00:00Z")
                                       for s in ("web", "app", "cache")}), repo / "harvest")
    (repo / "promote.sh").write_text(script)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["sh", "promote.sh"], cwd=repo, capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert (repo / "enforce" / "compose.security.yaml").is_file() == (code == 0)

"""`profiler emit DIR` of a project directory: one policy per service (the single-recording
policy, renamed per service), the compose override and the AppArmor load script (golden
files), the per-format layout, and bad input (one line + hint, exit 2, nothing written)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from emitcases import check_golden, nginx
from projectcases import cache_recording, default_recordings, make_project
from profiler.recording import project
from profiler.output import project_policy
from profiler.errors import UsageError
from profiler.output.registry import FILE_NAMES
from profiler.policy.reduce import reduce
from profiler.output.registry import render
from emitcases import assert_one_line_error, emit

ROOT = Path("/policy")  # the golden files' output directory (the override names files in it)


def _files(tmp_path: Path, formats: list[str], out: Path = ROOT) -> dict[str, str]:
    d = make_project(tmp_path / "rec")
    idx = project.read(d)
    services = project_policy.policies(d, idx, formats=formats)
    return project_policy.files(services, formats, out, project=idx, source="shop-recording")


def test_override_and_load_script_match_golden(tmp_path, update_golden):
    texts = _files(tmp_path, ["compose"])
    check_golden("shop.compose.security.yaml", texts["compose.security.yaml"], update_golden)
    check_golden("shop.apparmor-load.sh", texts["apparmor-load.sh"], update_golden)


def test_override_names_every_service_and_absolute_files_beside_it(tmp_path):
    texts = _files(tmp_path, ["compose"])
    assert sorted(texts) == sorted(["compose.security.yaml", "apparmor-load.sh"] + [
        f"{s}/{f}" for s in ("web", "app", "cache") for f in ("seccomp.json", "apparmor.profile")])
    doc = yaml.safe_load(texts["compose.security.yaml"])
    # top-level volumes: the named volumes that stand for a tmpfs (web writes /var/lib/nginx)
    assert sorted(doc) == ["services", "volumes"] and sorted(doc["services"]) == ["app", "cache", "web"]
    for name, svc in doc["services"].items():
        assert "image" not in svc and "ports" not in svc  # those stay in the project's file
        opts = svc["security_opt"]
        assert f"seccomp={ROOT}/{name}/seccomp.json" in opts
        assert f"apparmor=shop-{name}" in opts
        assert f"profile shop-{name} " in texts[f"{name}/apparmor.profile"]
        assert svc["cap_drop"] == ["ALL"]
    assert doc["services"]["web"]["cap_add"] == ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"]
    assert doc["services"]["cache"]["user"] == "redis"


def test_each_service_gets_the_single_recording_policy(tmp_path):
    """No second copy of a decision: a service's files are what emit makes of its recording
    alone, under the service's policy name."""
    texts = _files(tmp_path, list(FILE_NAMES))
    single = render(reduce([nginx()]), ["seccomp", "caps"])
    assert texts["web/seccomp.json"] == single["seccomp"]
    assert texts["web/caps.txt"] == single["caps"]
    for s in ("web", "app", "cache"):
        assert {f"{s}/{f}" for f in FILE_NAMES.values()} <= set(texts)


def test_k8s_alone_is_one_object_set_per_service(tmp_path):
    texts = _files(tmp_path, ["k8s"])
    assert sorted(texts) == ["app/k8s.yaml", "cache/k8s.yaml", "web/k8s.yaml"]
    for s in ("web", "app", "cache"):
        names = {d["metadata"]["name"] for d in yaml.safe_load_all(texts[f"{s}/k8s.yaml"]) if d}
        assert f"shop-{s}" in names


def test_policy_names_that_collide_are_refused(tmp_path):
    d = make_project(tmp_path / "rec", {"web_1": nginx(), "web-1": cache_recording()})
    with pytest.raises(UsageError) as e:
        project_policy.policies(d, project.read(d))
    assert "web_1" in e.value.message and "web-1" in e.value.message


def test_without_a_compose_project_the_service_names_the_policy(tmp_path):
    d = make_project(tmp_path / "rec", {"web": nginx()}, compose_project=None)
    (sp,) = project_policy.policies(d, project.read(d))
    assert sp.policy.name == "web"


# --- through the CLI ----------------------------------------------------------------------------

def test_cli_compose_writes_the_override_and_says_how_to_apply_it(tmp_path):
    d = make_project(tmp_path / "rec")
    out = tmp_path / "out"
    proc = emit(d, "--format", "compose", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "compose.security.yaml" in proc.stderr and "apparmor-load.sh" in proc.stderr
    doc = yaml.safe_load((out / "compose.security.yaml").read_text())
    for name, svc in doc["services"].items():
        path = next(o for o in svc["security_opt"] if o.startswith("seccomp="))[8:]
        assert Path(path).is_absolute() and json.loads(Path(path).read_text())["defaultAction"]
    assert os.access(out / "apparmor-load.sh", os.X_OK)


def test_cli_all_writes_per_service_directories(tmp_path):
    d = make_project(tmp_path / "rec")
    out = tmp_path / "out"
    assert emit(d, "--format", "all", "-o", out).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["app", "cache", "web", "compose.security.yaml", "apparmor-load.sh"])
    for s in ("app", "cache", "web"):
        assert sorted(p.name for p in (out / s).iterdir()) == sorted(FILE_NAMES.values())


def test_cli_project_needs_an_output_directory(tmp_path):
    d = make_project(tmp_path / "rec")
    assert_one_line_error(emit(d, "--format", "compose"), "one policy per service")


def test_cli_directory_without_index_is_refused(tmp_path):
    (tmp_path / "rec").mkdir()
    out = tmp_path / "out"
    proc = emit(tmp_path / "rec", "--format", "compose", "-o", out)
    assert proc.returncode == 2
    assert_one_line_error(proc, "index.yaml")
    assert "hint:" in proc.stderr
    assert not out.exists()


def test_cli_missing_service_recording_is_refused_and_nothing_written(tmp_path):
    d = make_project(tmp_path / "rec", default_recordings())
    (d / "cache.recording.yaml").unlink()
    out = tmp_path / "out"
    proc = emit(d, "--format", "all", "-o", out)
    assert proc.returncode == 2
    assert_one_line_error(proc, "cache.recording.yaml")
    assert not out.exists()


def test_cli_bad_index_is_refused(tmp_path):
    d = make_project(tmp_path / "rec")
    (d / "index.yaml").write_text("kind: something-else\n")
    proc = emit(d, "--format", "compose", "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert_one_line_error(proc, "not a profiler project index")
    assert not (tmp_path / "out").exists()


def test_cli_a_project_with_other_inputs_is_refused(tmp_path):
    d = make_project(tmp_path / "rec")
    proc = emit(d, d / "web.recording.yaml", "--format", "compose", "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert_one_line_error(proc, "emitted alone")
    assert not (tmp_path / "out").exists()


def test_load_script_is_valid_bash_and_does_nothing_without_apparmor(tmp_path):
    d = make_project(tmp_path / "rec")
    out = tmp_path / "out"
    assert emit(d, "--format", "compose", "-o", out).returncode == 0
    script = out / "apparmor-load.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    enabled = Path("/sys/module/apparmor/parameters/enabled")
    if enabled.exists() and enabled.read_text().strip() == "Y":
        pytest.skip("AppArmor is enabled here: the script would load profiles (needs root)")
    proc = subprocess.run([str(script)], capture_output=True, text=True)
    assert proc.returncode == 0 and "nothing to load" in proc.stderr

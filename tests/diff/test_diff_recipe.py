"""docs/ci-recipe.md runs as written: its shell version and its GitHub Actions diff step, on
recordings built from the model. `profiler record` (root, eBPF) is replaced by a stand-in that
writes a prepared recording; every `profiler diff` is the real command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import diffcases

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "docs" / "ci-recipe.md"
PROFILER = Path(sys.executable).parent / "profiler"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", RECIPE.read_text(), re.M | re.S)


@pytest.fixture
def project(tmp_path):
    """A checkout with the committed baseline, and a `profiler` whose `record` writes the
    recording named by $FAKE_RECORDING."""
    recs = diffcases.write_recordings(tmp_path / "recordings")
    (tmp_path / "repo" / "policy").mkdir(parents=True)
    shutil.copy(recs["baseline"], tmp_path / "repo" / "policy" / "baseline.recording.yaml")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "profiler"
    fake.write_text(f"""#!/bin/sh
if [ "$1" = record ]; then
    out=""
    while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
    cp "$FAKE_RECORDING" "$out"
    exit 0
fi
exec "{PROFILER}" "$@"
""")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "NO_COLOR": "1"}
    return tmp_path / "repo", recs, env


@pytest.mark.parametrize("case,code", [("same", 0), ("narrowed", 0), ("escalated", 1)])
def test_shell_recipe(project, case, code):
    repo, recs, env = project
    (script,) = blocks("sh")[1:2] or [None]  # the first sh block makes the baseline
    assert script and script.startswith("#!/bin/sh\n# ci-diff.sh"), "ci-diff.sh block not found"
    (repo / "ci-diff.sh").write_text(script)
    proc = subprocess.run(["sh", "ci-diff.sh"], cwd=repo, capture_output=True, text=True,
                          env={**env, "FAKE_RECORDING": str(recs[case])},
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == code, proc.stderr
    md = (repo / "profiler-diff.md").read_text()
    headline = {"same": "no change", "narrowed": "narrowing", "escalated": "privilege escalation"}
    assert md.startswith(f"### profiler diff: {headline[case]}\n")
    # the text report goes to the CI log
    shown = {"same": "No change", "narrowed": "Removed:", "escalated": "Added, by risk:"}
    assert shown[case] in proc.stdout
    if case == "escalated":
        assert "| **high** | capabilities | `CAP_SYS_ADMIN` |" in md


def test_shell_recipe_stops_when_recording_fails(project):
    repo, recs, env = project
    script = blocks("sh")[1]
    (repo / "ci-diff.sh").write_text(script)
    proc = subprocess.run(["sh", "ci-diff.sh"], cwd=repo, capture_output=True, text=True,
                          env={**env, "FAKE_RECORDING": str(repo / "missing.yaml")},
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 2


def _workflow() -> dict:
    (text,) = blocks("yaml")
    return yaml.safe_load(text)


def test_workflow_steps_fit_together():
    wf = _workflow()
    steps = wf["jobs"]["privilege-diff"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert 'echo /opt/profiler/bin >> "$GITHUB_PATH"' in runs
    record = next(s for s in steps if 'profiler)" record' in s.get("run", ""))
    assert "-o new.recording.yaml" in record["run"]
    assert any(s.get("id") == "diff" for s in steps)
    gate = next(s for s in steps if s.get("name") == "Fail on escalation")
    assert gate["if"] == "steps.diff.outputs.status == '1'"


@pytest.mark.parametrize("case,status", [("same", "0"), ("escalated", "1")])
def test_workflow_diff_step(project, tmp_path, case, status):
    repo, recs, env = project
    wf = _workflow()
    step = next(s for s in wf["jobs"]["privilege-diff"]["steps"] if s.get("id") == "diff")
    shutil.copy(recs[case], repo / "new.recording.yaml")
    (tmp_path / "step.sh").write_text(step["run"])
    out, summary = tmp_path / "github_output", tmp_path / "step_summary"
    # GitHub's default shell on Linux runners: bash --noprofile --norc -eo pipefail {0}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail",
                           str(tmp_path / "step.sh")], cwd=repo, capture_output=True, text=True,
                          env={**env, **wf["env"], "GITHUB_OUTPUT": str(out),
                               "GITHUB_STEP_SUMMARY": str(summary)},
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr  # the step itself passes; a later step gates
    assert out.read_text() == f"status={status}\n"
    assert summary.read_text() == (repo / "profiler-diff.md").read_text()

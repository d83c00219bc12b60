"""What each output format is, on its registry entry (profiler/output/registry.py), and the emit
pipeline every caller uses (profiler/output/pipeline.py)."""

from dataclasses import replace

import pytest

from emitcases import nginx
from profiler.errors import PolicyError
from profiler.output import pipeline, registry
from profiler.render import seccomp


def test_each_format_says_its_file_mode_capabilities_and_self_check():
    facts = {f.name: (f.file, oct(f.mode), f.states_caps, f.self_check is not None)
             for f in registry.FORMATS.values()}
    assert facts == {
        "seccomp": ("seccomp.json", "0o644", False, True),
        "apparmor": ("apparmor.profile", "0o644", True, False),
        "caps": ("caps.txt", "0o644", True, False),
        "run": ("run.sh", "0o755", True, False),
        "compose": ("compose.yaml", "0o644", True, False),
        "k8s": ("k8s.yaml", "0o644", True, True),
        "label": ("seccomp.Dockerfile", "0o644", False, False),
    }
    assert registry.FILE_NAMES == {f.name: f.file for f in registry.FORMATS.values()}


def test_the_self_check_runs_once_for_the_formats_that_share_it(monkeypatch):
    calls = []
    monkeypatch.setattr(seccomp, "build_filters", lambda prof: calls.append(prof))
    registry.render(pipeline.policy([nginx()], ["n"], ["seccomp", "k8s"]), ["seccomp", "k8s"])
    assert len(calls) == 1
    registry.render(pipeline.policy([nginx()], ["n"], ["caps"]), ["caps"])
    assert len(calls) == 1


def test_the_pipeline_names_the_policy_and_resolves_unknown_capabilities():
    p = pipeline.policy([nginx()], ["n"], ["caps"], name="shop-web")
    assert p.name == "shop-web"
    with pytest.raises(PolicyError, match="--caps-unknown nope"):
        pipeline.resolve_unknown(replace(p, caps_unknown=("n",)), ["caps"], "nope")

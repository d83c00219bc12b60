"""Loading a profile for one run (no root: a stand-in apparmor_parser on PATH records its calls)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from profiler.verify import apparmor_kernel as ak
from profiler.errors import AppArmorError

GOLDEN_PROFILE = Path(__file__).parents[1] / "golden" / "emit" / "nginx.apparmor.profile"


def test_enforced_needs_the_module_enabled_and_its_securityfs(tmp_path):
    enabled, fs = tmp_path / "enabled", tmp_path / "apparmor"
    assert not ak.enforced(enabled, fs)  # no module
    enabled.write_text("Y\n")
    assert not ak.enforced(enabled, fs)  # no securityfs: nothing could be loaded
    fs.mkdir()
    assert ak.enforced(enabled, fs)
    enabled.write_text("N\n")
    assert not ak.enforced(enabled, fs)


def test_renamed_changes_the_header_and_the_peers_of_the_profile_only():
    text = GOLDEN_PROFILE.read_text()
    assert ak.profile_name(text) == "profiler-sample-nginx"
    out = ak.renamed(text, "profiler-verify-abc")
    assert ak.profile_name(out) == "profiler-verify-abc"
    assert "signal (send,receive) peer=profiler-verify-abc," in out
    assert "ptrace (trace,read,tracedby,readby) peer=profiler-verify-abc," in out
    assert "signal (receive) peer=unconfined," in out  # other peers stay
    # comments (the header's `docker run` example) are left as they are
    assert out.count("profiler-sample-nginx") == text.count("profiler-sample-nginx") - 3


def test_renamed_refuses_a_file_without_a_profile_block():
    with pytest.raises(AppArmorError, match="no `profile NAME` block"):
        ak.renamed('/usr/bin/x r,\n', "n")


@pytest.fixture
def parser(tmp_path, monkeypatch):
    """A stand-in apparmor_parser: logs each call (and the profile it was given), fails on
    request."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    script = bin_dir / "apparmor_parser"
    script.write_text('#!/bin/sh\necho "$1 $(grep -m1 "^profile" "$3")" >> ' + str(log) + '\n'
                      '[ -e ' + str(tmp_path / "fail-$1") + ' ] && { echo "bad: $1" >&2; exit 1; }\n'
                      'exit 0\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    class P:
        def calls(self):
            return log.read_text().splitlines() if log.exists() else []

        def fail(self, option):
            (tmp_path / f"fail-{option}").touch()
    return P()


def test_loaded_loads_under_a_unique_name_and_unloads(parser):
    with ak.loaded(GOLDEN_PROFILE.read_text()) as aa:
        assert aa.name.startswith("profiler-verify-")
        name = aa.name
        assert [c.split()[0] for c in parser.calls()] == ["--replace"]
    calls = parser.calls()
    assert [c.split()[0] for c in calls] == ["--replace", "--remove"]
    assert all(f"profile {name} flags=" in c for c in calls)


def test_loaded_unloads_on_an_error_and_on_ctrl_c(parser):
    for exc in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc):
            with ak.loaded(GOLDEN_PROFILE.read_text()):
                raise exc()
    assert [c.split()[0] for c in parser.calls()] == ["--replace", "--remove"] * 2


def test_a_profile_that_does_not_load_is_an_error_and_nothing_is_removed(parser):
    parser.fail("--replace")
    with pytest.raises(AppArmorError, match="bad: --replace"):
        with ak.loaded(GOLDEN_PROFILE.read_text()):
            pytest.fail("the block must not run")
    assert [c.split()[0] for c in parser.calls()] == ["--replace"]


def test_a_failed_unload_is_said(parser):
    parser.fail("--remove")
    with pytest.raises(AppArmorError, match="could not unload"):
        with ak.loaded(GOLDEN_PROFILE.read_text()):
            pass


def test_a_name_loaded_before_stays_loaded_after_the_run(parser, tmp_path):
    """verify --compose loads under the override's names: one apparmor-load.sh loaded before
    is left loaded (as emitted), not removed from under the project; another name is removed."""
    fs = tmp_path / "securityfs"
    fs.mkdir()
    (fs / "profiles").write_text("shop-web (enforce)\ndocker-default (enforce)\n")
    assert ak.is_loaded("shop-web", fs) and not ak.is_loaded("shop", fs)
    with ak.loaded(GOLDEN_PROFILE.read_text(), "shop-web", fs):
        pass
    with pytest.raises(KeyboardInterrupt):
        with ak.loaded(GOLDEN_PROFILE.read_text(), "shop-web", fs):
            raise KeyboardInterrupt()
    with ak.loaded(GOLDEN_PROFILE.read_text(), "shop-app", fs):
        pass
    assert [c.split()[:3] for c in parser.calls()] == [
        ["--replace", "profile", "shop-web"], ["--replace", "profile", "shop-web"],
        ["--replace", "profile", "shop-app"], ["--remove", "profile", "shop-app"]]

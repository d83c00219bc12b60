"""compose_cli without root: the command line of a compose command on a project, and the
choice of compose (PROFILER_COMPOSE) refused with one line when it does not answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.session import compose_cli
from profiler.errors import EngineError, EnvironmentProblem


def test_command_puts_files_in_order_then_the_project_then_the_verb():
    v1 = compose_cli.Compose(("docker-compose",), "1.29.2")
    v2 = compose_cli.Compose(("docker", "compose"), "2.26.1")
    files = [Path("/p/compose.yaml"), Path("/o/compose.security.yaml")]
    assert compose_cli.command(v1, files, "shop", "up", "-d") == [
        "docker-compose", "-f", "/p/compose.yaml", "-f", "/o/compose.security.yaml",
        "-p", "shop", "up", "-d"]
    assert compose_cli.command(v2, files[:1], "shop", "down")[:3] == ["docker", "compose", "-f"]
    assert (v1.major, v2.major) == (1, 2) and str(v2) == "docker compose 2.26.1"


def test_a_chosen_compose_that_does_not_answer_is_refused(monkeypatch):
    monkeypatch.setenv("PROFILER_COMPOSE", "/nonexistent/compose-xyz")
    with pytest.raises(EnvironmentProblem) as e:
        compose_cli.find()
    assert "does not answer" in e.value.message and "PROFILER_COMPOSE" in e.value.hint


def test_a_failing_compose_command_is_one_line_with_its_last_output_line(tmp_path):
    fake = tmp_path / "fake-compose"
    fake.write_text("#!/bin/sh\necho 'Creating x ...' >&2\necho 'ERROR: no such image: y' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    with pytest.raises(EngineError) as e:
        compose_cli.run(compose_cli.Compose((str(fake),), "1.29.2"), [], "shop", "up", "-d")
    assert e.value.message.endswith("ERROR: no such image: y")
    assert "up -d" in e.value.message and "shop" in e.value.message

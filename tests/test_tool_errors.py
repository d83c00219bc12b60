"""profiler/tool_errors.error_line on what the real tools printed when they failed
(tests/fixtures/tool_errors/, captured on this kind of host), and the callers that report a
tool's failure through it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from profiler.session import compose_cli, engine
from profiler.verify import apparmor_kernel, verify
from profiler.errors import AppArmorError, EngineError
from profiler.tool_errors import MAX_LINE, error_line

CAPTURED = Path(__file__).resolve().parent / "fixtures" / "tool_errors"
BANNER = "Cache read/write disabled: interface file missing."

def captured(name: str) -> str:
    (path,) = CAPTURED.glob(name + ".*")
    return path.read_text()


EXPECTED = {
    "apparmor-parser-compile-missing-comma": "AppArmor parser error for bad.profile in profile "
    "bad.profile at line 3: missing an end of line character? (entry: /etc/passwd)",
    "apparmor-parser-compile-unknown-capability": "AppArmor parser error for bad2.profile in "
    "profile bad2.profile at line 2: Invalid capability frobnicate.",
    "apparmor-parser-compile-unexpected-eof": "AppArmor parser error for bad3.profile in "
    "profile bad3.profile at line 3: syntax error, unexpected end of file, expecting TOK_ID or "
    "TOK_MODE or TOK_SET_VAR",
    "apparmor-parser-compile-missing-include": "AppArmor parser error for bad4.profile in "
    "profile bad4.profile at line 1: Could not open 'nonexistent/abstraction'",
    "apparmor-parser-replace-no-securityfs": "Warning: unable to find a suitable fs in "
    "/proc/mounts, is it mounted?",
    "apparmor-parser-remove-no-securityfs": "Warning: unable to find a suitable fs in "
    "/proc/mounts, is it mounted?",
    "docker-run-missing-image": 'docker: Error response from daemon: Get '
    '"https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on '
    '10.255.255.53:53: no such host',
    "docker-run-bad-seccomp": "docker: compacting json for seccomp profile (bad-seccomp.json) "
    "failed: unexpected end of JSON input",
    "docker-run-bad-cap": 'docker: Error response from daemon: invalid CapAdd: unknown '
    'capability: "CAP_FROBNICATE"',
    "docker-run-no-executable": 'docker: Error response from daemon: failed to create shim '
    'task: OCI runtime create failed: runc create failed: unable to start container process: '
    'exec: "/nosuch": stat /nosuch: no such file or directory: unknown',
    "docker-sdk-start-no-executable": 'failed to create shim task: OCI runtime create failed: '
    'runc create failed: unable to start container process: exec: "/nosuch": stat /nosuch: no '
    'such file or directory: unknown',
    "docker-sdk-create-bad-cap": 'invalid CapAdd: unknown capability: "CAP_FROBNICATE"',
    "compose-v2-yaml-syntax": "yaml: line 1: did not find expected key",
    "compose-v2-unknown-key": "validating /tmp/fz/cap/c2/compose.yaml: services.web "
    "Additional property frobnicate is not allowed",
    "compose-v2-missing-image": "Error response from daemon: no such image: "
    "fuzz-no-such-image:latest: No such image: fuzz-no-such-image:latest",
    "compose-v2-bad-seccomp": "compacting json for seccomp profile "
    "(/tmp/fz/cap/bad-seccomp.json) failed: unexpected end of JSON input",
}


def test_every_captured_output_has_an_expectation():
    names = {p.stem for p in CAPTURED.iterdir() if p.suffix in (".stderr", ".explanation")}
    assert names == set(EXPECTED) | {"apparmor-parser-ok"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_meaningful_line_of_each_real_failure(name):
    text = captured(name)
    assert error_line(text) == EXPECTED[name]
    # the old way (first or last line) showed a banner or advice for most of them
    if name.startswith("apparmor"):
        assert text.splitlines()[0].startswith(BANNER)


def test_banner_alone_is_shown_rather_than_nothing():
    assert error_line(captured("apparmor-parser-ok")).startswith(BANNER)


def test_stdout_is_read_after_stderr_and_default_when_silent():
    assert error_line("", "Error: from stdout\n") == "Error: from stdout"
    assert error_line(None, b"", default="exit 3") == "exit 3"
    assert error_line(b"caf\xe9 failed\n") == "caf\ufffd failed"


# The shape docker-compose 1.x prints (compose/project.py raises the summary after the
# per-service errors; seen in public reports, e.g. spujadas/elk-docker#98). Not captured here:
# this host has no docker-compose 1.x.
COMPOSE_V1 = ("Creating network \"p_default\" with the default driver\n"
              "Creating p_web_1 ... \nCreating p_web_1 ... error\n\n"
              "ERROR: for p_web_1  Cannot start service web: OCI runtime create failed\n\n"
              "ERROR: for web  Cannot start service web: OCI runtime create failed\n"
              "ERROR: Encountered errors while bringing up the project.\n")
COMPOSE_V1_ERROR = "ERROR: for p_web_1  Cannot start service web: OCI runtime create failed"


def test_compose_v1_summary_gives_way_to_the_service_error():
    assert error_line(COMPOSE_V1) == COMPOSE_V1_ERROR
    assert error_line("ERROR: Encountered errors while bringing up the project.\n") == \
        "ERROR: Encountered errors while bringing up the project."


def test_long_lines_are_cut():
    assert len(error_line("error: " + "x" * 5000)) == MAX_LINE


# --- the callers -------------------------------------------------------------------------------

def _proc(stderr: str, rc: int = 1) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(["tool"], rc, stdout="", stderr=stderr)


def test_apparmor_load_failure_names_the_parser_error(monkeypatch, tmp_path):
    monkeypatch.setattr(apparmor_kernel, "_parser",
                        lambda *a: _proc(captured("apparmor-parser-compile-unknown-capability")))
    with pytest.raises(AppArmorError) as e:
        with apparmor_kernel.loaded("profile p {\n}\n", "p", securityfs=tmp_path):
            pass
    assert e.value.message == EXPECTED["apparmor-parser-compile-unknown-capability"]


def test_verify_apparmor_status_names_the_parser_error(monkeypatch, tmp_path):
    monkeypatch.setattr(apparmor_kernel, "enforced", lambda: False)
    monkeypatch.setattr(verify.subprocess, "run", lambda *a, **k: _proc(
        captured("apparmor-parser-compile-missing-comma")))
    pol = verify.RunPolicy(directory=str(tmp_path), seccomp_path=None,
                           apparmor_path=str(tmp_path / "apparmor.profile"))
    assert verify.apparmor_status(pol) == ("apparmor.profile does not compile: "
                                           + EXPECTED["apparmor-parser-compile-missing-comma"])


@pytest.mark.parametrize("output,expected", [
    (captured("compose-v2-missing-image"), EXPECTED["compose-v2-missing-image"]),
    (COMPOSE_V1, COMPOSE_V1_ERROR),
], ids=["v2", "v1"])
def test_compose_failure_names_the_compose_error(monkeypatch, output, expected):
    monkeypatch.setattr(compose_cli.subprocess, "run", lambda *a, **k: _proc(output))
    c = compose_cli.Compose(("docker", "compose"), "2.26.1")
    with pytest.raises(EngineError) as e:
        compose_cli.run(c, [Path("compose.yaml")], "p", "up", "-d")
    assert e.value.message.endswith(": " + expected)


def test_engine_errors_name_the_daemon_reason():
    class APIError(Exception):
        explanation = captured("docker-sdk-start-no-executable")

    assert engine._short(APIError()) == EXPECTED["docker-sdk-start-no-executable"]


def test_real_apparmor_parser_error_is_the_line_shown(tmp_path):
    """apparmor_parser itself, when the host has it: the line verify shows is its error."""
    import shutil

    if shutil.which("apparmor_parser") is None:
        pytest.skip("apparmor_parser is not installed")
    bad = tmp_path / "bad.profile"
    bad.write_text("profile bad {\n  capability frobnicate,\n}\n")
    pol = verify.RunPolicy(directory=str(tmp_path), seccomp_path=None,
                           apparmor_path=str(bad))
    status = verify.apparmor_status(pol)
    assert "Invalid capability frobnicate" in status, status
    assert "Cache read/write" not in status

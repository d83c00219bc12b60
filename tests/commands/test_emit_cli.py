"""`profiler emit` through the real entry point: formats, output files, merging, --explain, and
bad input (one-line error, non-zero exit, no traceback, no partial file)."""

import json
import re
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from emitcases import GOLDEN, NGINX, SHELL, assert_one_line_error, emit, nginx, recording
from profiler.recording import recording_io
from profiler.output.registry import FILE_NAMES


def test_caps_to_stdout_is_one_line():
    proc = emit("--format", "caps", NGINX)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (GOLDEN / "nginx.caps.txt").read_text()
    assert proc.stdout.count("\n") == 1


def test_default_is_seccomp_and_matches_golden():
    proc = emit(NGINX)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (GOLDEN / "general" / "nginx.seccomp.json").read_text()


def test_all_writes_every_file(tmp_path):
    out = tmp_path / "policy"
    proc = emit("-f", "all", "-o", out, NGINX)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(FILE_NAMES.values())
    for name in FILE_NAMES.values():
        assert (out / name).read_text() == (GOLDEN / "general" / f"nginx.{name}").read_text(), \
            name
    assert os.access(out / "run.sh", os.X_OK)
    # into an existing directory too, leaving other files alone
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "keep.txt").write_text("x")
    assert emit("-f", "all", "-o", tmp_path / "existing", NGINX).returncode == 0
    assert (tmp_path / "existing" / "keep.txt").read_text() == "x"
    assert not [p for p in (tmp_path / "existing").iterdir() if p.name.startswith(".")]


def test_all_output_equals_single_formats(tmp_path):
    out = tmp_path / "p"
    assert emit("-f", "all", "-o", out, SHELL).returncode == 0
    for fmt, name in FILE_NAMES.items():
        single = emit("-f", fmt, SHELL)
        assert single.stdout == (out / name).read_text(), fmt


def test_output_file_and_directory(tmp_path):
    assert emit("-f", "apparmor", "-o", tmp_path / "x.profile", NGINX).returncode == 0
    assert (tmp_path / "x.profile").read_text() == \
        (GOLDEN / "general" / "nginx.apparmor.profile").read_text()
    assert emit("-f", "k8s", "-o", tmp_path, NGINX).returncode == 0  # a dir: default file name
    assert (tmp_path / "k8s.yaml").is_file()


def test_newest_recording_in_cwd(tmp_path):
    shutil.copy(NGINX, tmp_path / "old.recording.yaml")
    shutil.copy(SHELL, tmp_path / "new.recording.yaml")
    past = time.time() - 100
    os.utime(tmp_path / "old.recording.yaml", (past, past))
    proc = emit("-f", "caps", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "new.recording.yaml" in proc.stderr
    assert proc.stdout == "--cap-drop ALL\n"  # the shell fixture's


def test_no_recording_in_cwd(tmp_path):
    assert_one_line_error(emit(cwd=tmp_path), "no *.recording.yaml")


def test_merge_and_explain(tmp_path):
    a = recording(names=("read", "write", "exit_group", "openat"))
    b = recording(names=("read", "write", "exit_group", "getpid"))
    recording_io.save(a, tmp_path / "a.recording.yaml")
    recording_io.save(b, tmp_path / "b.recording.yaml")
    proc = emit("--explain", tmp_path / "a.recording.yaml", tmp_path / "b.recording.yaml")
    assert proc.returncode == 0, proc.stderr
    names = {n for r in json.loads(proc.stdout)["syscalls"] for n in r["names"]}
    assert {"openat", "getpid"} <= names
    assert "seen in only some" in proc.stderr
    assert "openat" in proc.stderr and "getpid" in proc.stderr
    assert "no-new-privileges" in proc.stderr  # hardening evidence table


def test_complain_and_no_arg_filters():
    prof = json.loads(emit("--complain", "--no-arg-filters", NGINX).stdout)
    assert prof["defaultAction"] == "SCMP_ACT_LOG"
    assert not any("args" in r for r in prof["syscalls"])


def test_outputs_parse():
    assert yaml.safe_load(emit("-f", "compose", NGINX).stdout)["services"]
    assert len(list(yaml.safe_load_all(emit("-f", "k8s", NGINX).stdout))) == 2


# --- bad input ---------------------------------------------------------------------------------

def test_newer_schema(tmp_path):
    f = tmp_path / "new.recording.yaml"
    f.write_text(re.sub(r"(?m)^schema_version: .*$", "schema_version: '2.0'", NGINX.read_text()))
    assert_one_line_error(emit(f), "schema version 2.0")


@pytest.mark.parametrize("content,words", [
    ("", "empty"), ("a: [\n", "not valid YAML"), ("- 1\n", "empty or not a recording"),
    ("schema_version: '1.0'\n", "invalid recording"),
])
def test_corrupt_or_empty(tmp_path, content, words):
    f = tmp_path / "bad.recording.yaml"
    f.write_text(content)
    assert_one_line_error(emit(f), words)


def test_missing_file(tmp_path):
    assert_one_line_error(emit(tmp_path / "nope.yaml"), "no such recording")


def test_mixed_architectures(tmp_path):
    recording_io.save(recording(), tmp_path / "x.recording.yaml")
    recording_io.save(recording(arch="aarch64", names=("read",)), tmp_path / "a.recording.yaml")
    proc = emit(tmp_path / "x.recording.yaml", tmp_path / "a.recording.yaml")
    assert_one_line_error(proc, "different architectures", "x86_64", "aarch64")
    assert "hint:" in proc.stderr


def test_unknown_syscall_name(tmp_path):
    f = tmp_path / "u.recording.yaml"
    f.write_text(NGINX.read_text().replace("\"name\": \"accept4\"", "\"name\": \"acept4\""))
    proc = emit(f)
    assert_one_line_error(proc, "acept4", "libseccomp")
    assert "hint:" in proc.stderr and proc.stdout == ""


def test_all_needs_a_directory():
    assert_one_line_error(emit("-f", "all", NGINX), "--format all")


@pytest.mark.parametrize("target", ["/proc/profiler-emit-out", "{file}/sub"])
def test_unwritable_output_dir_leaves_nothing(tmp_path, target):
    afile = tmp_path / "afile"
    afile.write_text("")
    out = target.format(file=afile)
    assert_one_line_error(emit("-f", "all", "-o", out, NGINX), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_failure_after_loading_writes_nothing(tmp_path):
    # the shell fixture is fine; the second recording is of another architecture: the error
    # comes after loading, and the output directory must not appear.
    recording_io.save(recording(arch="aarch64", names=("read",)), tmp_path / "a.recording.yaml")
    out = tmp_path / "out"
    assert_one_line_error(emit("-f", "all", "-o", out, SHELL, tmp_path / "a.recording.yaml"))
    assert not out.exists()
    assert_one_line_error(emit("-f", "seccomp", "-o", tmp_path / "s.json", SHELL,
                               tmp_path / "a.recording.yaml"))
    assert not (tmp_path / "s.json").exists()


def test_run_without_image_is_an_error(tmp_path):
    recording_io.save(recording(image=""), tmp_path / "p.recording.yaml")
    assert_one_line_error(emit("-f", "run", tmp_path / "p.recording.yaml"), "no image")
    # seccomp still works for a plain process
    assert emit(tmp_path / "p.recording.yaml").returncode == 0


def test_hostile_paths_warned_not_written(tmp_path):
    rec = recording(files=[("/srv/ok", ["read"]), ("/srv/evil\n  /** rwx,", ["read"])])
    recording_io.save(rec, tmp_path / "h.recording.yaml")
    proc = emit("-f", "apparmor", tmp_path / "h.recording.yaml")
    assert proc.returncode == 0
    assert "/srv/ok" in proc.stdout and "evil" not in proc.stdout
    assert "1 path(s) dropped" in proc.stderr
    proc = emit("-f", "apparmor", "--explain", tmp_path / "h.recording.yaml")
    assert "evil\\n" in proc.stderr  # shown escaped, on one line


def test_deterministic_across_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert emit("-f", "all", "-o", a, NGINX).returncode == 0
    assert emit("-f", "all", "-o", b, NGINX).returncode == 0
    for name in FILE_NAMES.values():
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_a_profile_apparmor_parser_refuses_is_never_written(tmp_path):
    """emit compiles apparmor.profile before writing anything; on a refusal: apparmor_parser's
    real error line (not its "Cache read/write disabled" note), exit 2, no file. The parser is
    a stand-in here (the renderer no longer makes invalid rules): it answers as the real one
    does for a bare `{,/}` rule."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apparmor_parser").write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        "echo 'Cache read/write disabled: interface file missing. (Kernel needs AppArmor 2.4 "
        "compatibility patch.)' >&2\n"
        "echo \"AppArmor parser error at line 2: Lexer found unexpected character: '\\\"' "
        "(0x22) in state: INITIAL\" >&2\nexit 1\n")
    (fake / "apparmor_parser").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    out = tmp_path / "policy"
    proc = emit("-f", "all", "-o", out, NGINX, env=env)
    assert proc.returncode == 2
    assert_one_line_error(proc, "apparmor.profile does not compile",
                          "AppArmor parser error at line 2: Lexer found unexpected character")
    assert "Cache read/write" not in proc.stderr
    assert not out.exists()
    # the formats that hold no AppArmor profile are not checked by it
    assert emit("-f", "seccomp", NGINX, env=env).returncode == 0

"""The policy directory reader (profiler/output/policy_dir.py) on what emit writes and on hand
edits; verify's strict and diff's lenient checks on top of it are tested in
test_verify/test_diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.output import policy_dir as pd
from profiler.kernel.linux import ENOSYS, EPERM

GOLDEN = Path(__file__).parents[1] / "golden" / "emit"


def _nginx_texts() -> dict[str, str]:
    return {pd.SECCOMP: (GOLDEN / "nginx.seccomp.json").read_text(),
            pd.CAPS: (GOLDEN / "nginx.caps.txt").read_text(),
            pd.RUN: (GOLDEN / "nginx.run.sh").read_text()}


def test_emitted_files_read_as_typed_description():
    files = pd.parse(_nginx_texts())
    assert files.apparmor is None
    sec = files.seccomp
    assert sec.default_action == "SCMP_ACT_ERRNO" and sec.default_errno == EPERM
    assert "accept4" in sec.names(lambda r: r.allows)
    assert "clone3" in sec.names(lambda r: r.errno_ret == ENOSYS)
    assert files.caps == pd.CapsFile("flags", ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETGID",
                                               "CAP_SETUID"), ("ALL",))
    run = files.run
    assert run.has_docker_run and run.has_args_block
    block = run.flags(args_only=True)
    assert ("--pids-limit", "1024") in block and ("--publish", "127.0.0.1:18080:80") in block
    assert block[0] == ("--cap-drop", "ALL") and block[-1][0] == "--security-opt"


def test_caps_forms():
    assert pd.caps_file("# needed\nCAP_CHOWN, setuid\n") == pd.CapsFile(
        "names", ("CAP_CHOWN", "CAP_SETUID"))
    caps = pd.caps_file("--cap-drop ALL --cap-add=chown,NET_RAW extra --cap-add")
    assert caps == pd.CapsFile("flags", ("CAP_CHOWN", "CAP_NET_RAW"), ("ALL",),
                               ("extra", "--cap-add"))


def test_run_sh_lines_that_cannot_be_split_fail_only_where_read():
    script = pd.run_script("args=(\n  --read-only\n)\necho 'unclosed\ndocker run x\n")
    assert script.flags(args_only=True) == [("--read-only", "true")]
    with pytest.raises(pd.PolicyFormatError, match="^line 4: cannot split"):
        script.flags()


@pytest.mark.parametrize("name,text,reason", [
    (pd.SECCOMP, "{not json", "not valid JSON (line 1, column 2)"),
    (pd.SECCOMP, "[]", "a JSON object is expected"),
    (pd.SECCOMP, '{"syscalls": [{"names": ["x"], "errnoRet": "many"}]}',
     "errnoRet is not a number"),
    (pd.CAPS, "--cap-add FLY", "unknown capability 'FLY'"),
])
def test_errors_name_the_file(name, text, reason):
    with pytest.raises(pd.PolicyFormatError) as e:
        pd.parse({name: text})
    assert (e.value.file, e.value.reason, str(e.value)) == (name, reason, f"{name}: {reason}")


def test_write_dir_replaces_files_together(tmp_path):
    out = tmp_path / "policy"
    assert pd.write_dir(out, {pd.CAPS: "a\n", pd.RUN: "b\n"}) == [out / pd.CAPS, out / pd.RUN]
    assert (out / pd.RUN).stat().st_mode & 0o777 == 0o755
    pd.write_dir(out, {pd.CAPS: "c\n"})
    assert [(p.name, p.read_text()) for p in sorted(out.iterdir())] == [(pd.CAPS, "c\n"),
                                                                         (pd.RUN, "b\n")]

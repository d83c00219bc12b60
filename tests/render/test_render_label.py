"""--format label: the seccomp profile as Podman's image label io.containers.seccomp.profile,
a Dockerfile LABEL line and a `docker build --label` argument."""

import json
import re
import shlex
import subprocess

import pytest

from emitcases import check_golden, nginx, shell
from profiler.policy.reduce import reduce
from profiler.render import label, seccomp


def _without_comments(prof):
    return {**prof, "syscalls": [{k: v for k, v in r.items() if k != "comment"}
                                 for r in prof["syscalls"]]}


def test_golden(update_golden):
    # today's default before generalisation by kind and risk (the default's own
    # golden files: test_emit_general_golden.py)
    check_golden("nginx.seccomp.Dockerfile", label.render(reduce([nginx()], generalise=False)),
                 update_golden)


def test_label_line_and_build_argument_carry_the_profile():
    p = reduce([shell()])
    text = label.render(p)
    want = _without_comments(seccomp.profile(p))
    (line,) = [x for x in text.splitlines() if x.startswith("LABEL ")]
    key, _, quoted = line[len("LABEL "):].partition("=")
    assert key == label.LABEL
    unescaped = re.sub(r"\\(.)", r"\1", quoted[1:-1])  # Dockerfile double-quoted word
    assert json.loads(unescaped) == want
    (build,) = [x for x in text.splitlines() if "docker build --label" in x]
    words = shlex.split(build.lstrip("# "))
    assert words[:3] == ["docker", "build", "--label"]
    k, _, v = words[3].partition("=")
    assert k == label.LABEL and json.loads(v) == want


def test_dollar_and_quotes_are_escaped():
    assert label._dockerfile_quoted('a"$b\\') == '"a\\"\\$b\\\\"'


@pytest.mark.root
def test_docker_build_stores_the_label(require_root, tmp_path):
    p = reduce([shell()])
    (tmp_path / "Dockerfile").write_text("FROM profiler-base:bookworm\n" + label.render(p))
    tag = "profiler-test-label:latest"
    proc = subprocess.run(["docker", "build", "-q", "-t", tag, str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    try:
        out = subprocess.run(["docker", "image", "inspect", "-f",
                              "{{json .Config.Labels}}", tag],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        assert json.loads(json.loads(out)[label.LABEL]) == _without_comments(seccomp.profile(p))
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)

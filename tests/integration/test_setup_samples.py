"""The set-up scripts and the bundled samples: mirror discovery, the samples' shape, each
sample's workload against its real container (and failing when the app misbehaves), and the
probe's expected.yaml against what the probe really does (strace)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SAMPLES, load_sample, sample_names

NAMES = sample_names()


def _apt_mirror(root: Path, suite: str = "bookworm", env: dict | None = None):
    full_env = {k: v for k, v in os.environ.items() if k != "PROFILER_DEBIAN_MIRROR"}
    full_env.update(env or {})
    return subprocess.run(["bash", str(REPO / "scripts" / "apt-mirror.sh"), suite, str(root)],
                          capture_output=True, text=True, env=full_env)


def _apt_root(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / "etc" / "apt" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (tmp_path / "etc" / "apt" / "sources.list.d").mkdir(parents=True, exist_ok=True)
    return tmp_path


# --- conftest: CI rule and --update-golden --------------------------------------------------

_INNER_TESTS = """
import pytest

@pytest.fixture
def engine():
    pytest.skip("no engine here")

@pytest.mark.root
def test_root_skipped_in_body():
    pytest.skip("not root")

@pytest.mark.root
def test_root_skipped_by_fixture(engine):
    pass

def test_plain_skipped():
    pytest.skip("fine anywhere")

@pytest.mark.root
@pytest.mark.xfail(reason="known bug")
def test_root_xfail():
    assert False

def test_golden_switch(update_golden, request):
    assert update_golden is request.config.getoption("--update-golden")
"""


def _inner_pytest(tmp_path: Path, ci: str | None, *args: str) -> subprocess.CompletedProcess:
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    root: needs root\n")
    (tmp_path / "test_inner.py").write_text(_INNER_TESTS)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider",
                           *args], cwd=tmp_path, env=env, capture_output=True, text=True)


def test_outside_ci_a_skipped_root_test_is_a_skip(tmp_path):
    r = _inner_pytest(tmp_path, None)
    assert r.returncode == 0, r.stdout
    assert "1 passed, 3 skipped, 1 xfailed" in r.stdout


def test_under_ci_a_skipped_root_test_fails(tmp_path):
    r = _inner_pytest(tmp_path, "true", "--update-golden")
    assert r.returncode == 1, r.stdout
    # Both root skips fail (in the body, and in a fixture: reported as an error); a plain skip
    # and an xfail stay what they are.
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error" in r.stdout
    assert "root test skipped under CI=true" in r.stdout and "not root" in r.stdout


# --- scripts/apt-mirror.sh -------------------------------------------------------------------

DEB822 = {"sources.list.d/a.sources": (
    "# a comment\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n"
    "Components: main\nEnabled: no\n\n"
    "Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n\n"
    "Types: deb-src deb\nURIs: http://one.example/debian/\n  http://two.example/debian\n"
    "Suites: trixie\n bookworm bookworm-updates\nComponents: main\n"
)}
ONE_LINE = {"sources.list": (
    "# deb http://commented.example/debian bookworm main\n"
    "deb [arch=amd64 signed-by=/k.gpg] http://sec.example/debian-security bookworm-security main\n"
    "deb-src http://src.example/debian bookworm main\n"
    "deb [ arch=amd64 ] http://one.example/debian bookworm main contrib\n"
)}


@pytest.mark.parametrize("files", [DEB822, ONE_LINE], ids=["deb822", "one-line"])
def test_mirror_is_the_enabled_bookworm_deb_source(tmp_path, files):
    """Not a comment, a disabled stanza, deb-src or the security suite: the first enabled
    `deb` source of the suite, first URI, without a trailing slash."""
    r = _apt_mirror(_apt_root(tmp_path, files))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "http://one.example/debian"


def test_mirror_missing_is_a_one_line_error_and_env_override_wins(tmp_path):
    root = _apt_root(tmp_path, {"sources.list": "deb http://one.example/debian trixie main\n"})
    r = _apt_mirror(root)
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "PROFILER_DEBIAN_MIRROR" in r.stderr
    r = _apt_mirror(root, env={"PROFILER_DEBIAN_MIRROR": "http://override.example/debian"})
    assert r.stdout.strip() == "http://override.example/debian"


def test_mirror_of_another_suite_is_the_host_releases_archive(tmp_path):
    """A trixie host building the bookworm base image (or a VM of forky): no source names
    that suite, so the archive serving the host's own release is used."""
    root = _apt_root(tmp_path, {"sources.list": (
        "deb http://sec.example/debian-security trixie-security main\n"
        "deb http://one.example/debian trixie main\n")})
    (root / "etc" / "os-release").write_text('NAME="Debian GNU/Linux"\nVERSION_CODENAME=trixie\n')
    for suite in ("bookworm", "forky"):
        r = _apt_mirror(root, suite)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "http://one.example/debian"


# --- setup_packages (scripts/lib.sh) -------------------------------------------------------

def _setup_packages(tmp_path: Path, docker_cli_policy: str) -> list[str]:
    """setup_packages with a stand-in apt-cache that answers `policy docker-cli` as given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "apt-cache"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' '{docker_cli_policy}'\n")
    fake.chmod(0o755)
    r = subprocess.run(["bash", "-c", f"source {REPO / 'scripts' / 'lib.sh'}; setup_packages"],
                       capture_output=True, text=True, check=True,
                       env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    return r.stdout.split()


def test_docker_cli_package_only_where_the_release_has_it(tmp_path):
    trixie = _setup_packages(tmp_path / "t", "docker-cli:\n  Installed: (none)\n  Candidate: 26.1.5")
    bookworm = _setup_packages(tmp_path / "b", "docker-cli:\n  Installed: (none)\n  Candidate: (none)")
    assert "docker.io" in trixie and "docker-cli" in trixie
    assert "docker.io" in bookworm and "docker-cli" not in bookworm
    assert {"python3-bpfcc", "python3-seccomp", "apparmor", "python3-venv"} <= set(bookworm)


def test_no_mirror_or_outside_host_is_written_in_setup_files():
    """The mirror comes from the machine; scripts, samples, Makefile and CI name no host
    except 127.0.0.1."""
    files = [REPO / "Makefile", REPO / ".ci" / "run"]
    files += [p for d in ("scripts", "samples") for p in (REPO / d).rglob("*") if p.is_file()]
    offenders = []
    for p in files:
        if not p.exists():
            continue
        text = p.read_text(errors="replace")
        for host in re.findall(r"\b(?:https?|ftp)://([A-Za-z0-9][A-Za-z0-9.-]*)", text):
            # A one-label name is a local one (samples/shop's nginx names its upstream, the
            # compose service, so): only names with a dot can be outside hosts.
            if host != "127.0.0.1" and "." in host:
                offenders.append(f"{p.relative_to(REPO)}: {host}")
    assert offenders == []


# --- the samples' shape ----------------------------------------------------------------------

def test_the_bundled_samples_are_there():
    assert {"nginx", "redis", "probe"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_sample_is_well_formed(name):
    s = load_sample(name)
    assert s.spec["name"] == name
    assert s.image == f"profiler-sample-{name}"
    froms = re.findall(r"^FROM\s+(\S+)", (s.dir / "Dockerfile").read_text(), re.M)
    assert froms and froms[0] == "profiler-base:bookworm"
    host_ports = []
    for p in s.publish:
        m = re.fullmatch(r"127\.0\.0\.1:(\d+):(\d+)", p)
        assert m, f"{name}: publish {p!r} must be 127.0.0.1:HOST:CONTAINER"
        host_ports.append(int(m.group(1)))
    if s.ready_port is not None:
        assert s.ready_port in host_ports
    wl = s.workload
    assert wl is not None and wl.is_file() and os.access(wl, os.X_OK)
    text = wl.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    addresses = set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text))
    assert addresses <= {"127.0.0.1"}, f"{name}: workload talks to {addresses}"


def test_makefile_demo_matches_the_nginx_sample():
    import re

    s = load_sample("nginx")
    makefile = (REPO / "Makefile").read_text()
    port = re.search(r"^DEMO_PORT \?= (\d+)$", makefile, re.M).group(1)  # make demo DEMO_PORT=N
    demo = makefile.replace("$(DEMO_PORT)", port)
    assert f"PROFILER_SAMPLE_PORT={s.ready_port} " in demo
    assert f"record {s.image} -p {s.publish[0]} --ready-port {s.ready_port} " \
           f"--workload samples/nginx/{s.spec['workload']} " in demo


def test_probe_expected_file_is_consistent():
    exp = load_sample("probe").expected
    req, absent = set(exp["syscalls"]["required"]), set(exp["syscalls"]["absent"])
    assert req and absent and not req & absent
    assert set(exp["syscalls"]["errnos"]) <= req
    from profiler.recording.model import ACCESS_KINDS
    for section in ("ok", "failed"):
        for path, kinds in exp["files"][section].items():
            assert path.startswith("/") and set(kinds) <= set(ACCESS_KINDS), path
    caps = {c for key in ("required", "absent", "sufficient") for c in exp["capabilities"][key]}
    from profiler.kernel.linux import CAPABILITY_NUMBERS
    assert caps <= set(CAPABILITY_NUMBERS)


# --- the probe really does what expected.yaml says (host strace, no Docker) -------------------

@pytest.mark.root
def test_probe_matches_expected_under_strace(require_root):
    """Compile probe.c as the image build does and run it under `strace -f` in a private mount
    namespace with its own /tmp. Every required syscall and errno must show up, no absent one,
    and every absolute path of expected.yaml must be passed to the kernel."""
    for tool in ("gcc", "strace", "unshare"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} missing: run `make setup`")
    # Outside /tmp: the probe runs with a fresh tmpfs on /tmp, which would hide tmp_path.
    work = Path(tempfile.mkdtemp(prefix="profiler-probe-test.", dir="/var/tmp"))
    try:
        _probe_under_strace(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _probe_under_strace(work: Path):
    binary = work / "probe"
    subprocess.run(["gcc", "-O2", "-static", "-pthread", "-o", str(binary),
                    str(SAMPLES / "probe" / "probe.c")], check=True)
    log = work / "strace.log"
    run = subprocess.run(
        ["unshare", "-m", "sh", "-c",
         'mount --make-rprivate / && mount -t tmpfs tmpfs /tmp && exec "$@"', "sh",
         "strace", "-f", "-qq", "-s", "256", "-o", str(log), str(binary), "mkdir-chown"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    trace = log.read_text()
    calls = re.findall(r"^\d+\s+([a-z_0-9]+)\(", trace, re.M)
    seen = set(calls)
    exp = load_sample("probe").expected
    variant = exp["variants"]["mkdir-chown"]
    assert set(exp["syscalls"]["required"]) | set(variant["syscalls"]["required"]) <= seen
    assert not set(exp["syscalls"]["absent"]) & seen
    for name, errnos in exp["syscalls"]["errnos"].items():
        for e in errnos:
            assert re.search(rf"^\d+\s+{name}\(.*= -1 {e} ", trace, re.M), (name, e)
    # Paths opened relative to a directory appear relative in the trace; they are checked by
    # their own form.
    relative = {"/etc/debian_version": '"debian_version"', "/usr/share/doc": '"doc"'}
    paths = {**exp["files"]["ok"], **exp["files"]["failed"], **variant["files"]["ok"]}
    for path in paths:
        assert (relative.get(path) or f'"{path}"') in trace, path
    assert 'chdir("/etc")' in trace
    assert "htons(9999)" in trace and 'inet_addr("127.0.0.1")' in trace


# --- each sample against its real container ---------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def run_sample(docker_client, sample_image):
    """run_sample(name, host_port=None, **kw) -> (container, env for its workload). The sample is
    published on a free host port (not its fixed one, which a demo may hold); containers are
    removed at the end."""
    started = []

    def run(name: str, **kwargs):
        s = sample_image(name)
        cname = f"profiler-test-{name}-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "PROFILER_CONTAINER_NAME": cname}
        ports = {}
        for p in s.publish:
            _, host, cport = p.split(":")
            free = _free_port()
            ports[f"{cport}/tcp"] = ("127.0.0.1", free)
            if int(host) == s.ready_port and s.port_env:
                env[s.port_env] = str(free)
        c = docker_client.containers.run(s.image, name=cname, detach=True, ports=ports, **kwargs)
        started.append(c)
        env["PROFILER_CONTAINER_ID"] = c.id
        return c, env

    yield run
    for c in started:
        try:
            c.remove(force=True)
        except Exception:
            pass


def _workload(name: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(load_sample(name).workload)], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.root
def test_nginx_workload_passes_and_catches_a_broken_server(run_sample):
    c, env = run_sample("nginx")
    r = _workload("nginx", env)
    assert r.returncode == 0, r.stderr
    assert "requests ok" in r.stdout
    # Take the page away: nginx now answers 404 (or 403), and the workload must say so.
    assert c.exec_run(["rm", "/var/www/html/index.html"]).exit_code == 0
    r = _workload("nginx", env)
    assert r.returncode != 0 and "expected 10 answers 200" in r.stderr


@pytest.mark.root
def test_redis_workload_passes_twice_and_catches_a_failing_save(run_sample):
    c, env = run_sample("redis")
    for _ in range(2):  # starts from a known state, so it can run again
        r = _workload("redis", env)
        assert r.returncode == 0, r.stderr
    assert c.exec_run(["test", "-s", "/var/lib/redis/dump.rdb"]).exit_code == 0
    # Make the data directory read-only: SAVE fails and the workload must notice.
    assert c.exec_run(["chmod", "0500", "/var/lib/redis"], user="root").exit_code == 0
    r = _workload("redis", env)
    assert r.returncode != 0 and "SAVE" in r.stderr


@pytest.mark.root
@pytest.mark.parametrize("args", [[], ["mkdir-chown"]])
def test_probe_container_exits_0_and_workload_agrees(run_sample, args):
    c, env = run_sample("probe", command=args)
    assert c.wait(timeout=60)["StatusCode"] == 0, c.logs().decode()
    assert c.logs().decode().startswith("probe: ok")
    r = _workload("probe", env)
    assert r.returncode == 0, r.stderr


@pytest.mark.root
@pytest.mark.parametrize("args", [[], ["mkdir-chown"]])
def test_probe_runs_with_only_the_sufficient_capabilities(run_sample, args):
    caps = load_sample("probe").expected["capabilities"]["sufficient"]
    c, _ = run_sample("probe", command=args, cap_drop=["ALL"],
                      cap_add=[n.removeprefix("CAP_") for n in caps])
    assert c.wait(timeout=60)["StatusCode"] == 0, c.logs().decode()


@pytest.mark.root
def test_probe_needs_cap_chown(run_sample):
    """Without CAP_CHOWN the probe's chown fails: it exits 1, and its workload reports it."""
    c, env = run_sample("probe", cap_drop=["CHOWN"])
    assert c.wait(timeout=60)["StatusCode"] == 1
    assert "chown /tmp/probe/owned" in c.logs().decode()
    r = _workload("probe", env)
    assert r.returncode == 1 and "exited 1" in r.stderr

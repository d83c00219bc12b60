"""The host matrix, inside the VM: do what a new user does, step by step, and write each result.

Run at boot by the image's profiler-hosts.service (through the share's boot.sh) as root, with
the guest's own python3 (standard library only, before any venv exists):

    python3 guest.py SHARE

SHARE (the host's 9p directory) holds repo.bundle (the commit under test), wheels/ and
images.tar (what set-up would download, since the guest has no network). Steps: facts about
the host, a fresh clone, the README's set-up (`make setup`, offline), then for every
samples/*/sample.yaml: record -> emit --format all -> verify -> the emitted run.sh serving the
workload -> negative controls that must be refused (a syscall training never made, under the
emitted seccomp profile; where AppArmor is enforced, a write training never made, under the
emitted AppArmor profile). A `kind: compose` sample (samples/shop) goes the whole-application
way instead (run_compose_sample): record --match -> emit --format all -> apparmor-load.sh ->
verify --compose -> the project up under the override with its workload -> per service a
syscall training never made refused -> project down.

A corpus app (SHARE/corpus names APPs of samples/corpus/, harness --corpus) is held to what
issue 18 asks of an AppArmor host: record with its training workload -> emit -> verify ->
production (the emitted run.sh, which loads apparmor.profile, serving the app's own production
workload: its benchmark client to 127.0.0.1, admin commands, a docker restart and data that
must survive it; the app confined by the profile in enforce mode before and after) ->
negative-seccomp -> negative-apparmor-verify (`profiler verify` with a workload writing and
executing what training never did must fail and name both AppArmor denials).

The loop of issue 19 on an AppArmor host (SHARE/harvest names samples, harness --harvest;
run_harvest): record with the sample's workload -> emit (the training policy) -> gap (`profiler
verify` of that policy with a workload doing what training never did, HARVEST_WORKLOAD: must
fail) -> emit-complain -> complain-run (the complain policy's run.sh, AppArmor profile loaded in
complain mode, seccomp SCMP_ACT_LOG, serving that workload while `profiler harvest --follow
--source auto` reads the kernel's audit records: auditd's log where auditd runs, else the audit
multicast group) -> harvest (the harvester's exit and its evidence file) -> harvest-kmsg (a
harvest of /dev/kmsg beside it, printk rate limited: a subset of it, same service) ->
attributed (the evidence names the container's service, with AppArmor ALLOWED items, the file
written and the program executed, and the seccomp item, the syscall made) -> diff (lists them)
-> promote -> verify-promoted (the promoted policy, AppArmor enforced, passes the workload).
The kernel's audit lines of the run are kept in SHARE/logs/LABEL-audit.log (fixtures for
tests/harvest/).

Across hosts (harness --cross): every recording made here is also copied to
SHARE/recordings/; when the harness put another host's recordings in SHARE/foreign/ORIGIN/,
each is emitted and verified here as production would see a policy recorded elsewhere: a kernel
and runtime newer or older than the recording host's (SPO#3130, SPO PR#3041: newer runc needs
openat2 and statx). Steps cross-emit -> cross-verify -> cross-run-line (a corpus app's:
cross-production), sample "NAME-from-ORIGIN".
SHARE/cross-only skips this host's own samples; SHARE/samples (one name a line) limits them.

Each result is one JSON line appended to SHARE/results.jsonl as soon
as it is known (sample, step, status passed/failed/skipped, seconds, first error line, log);
each step's full output is SHARE/logs/<sample>-<step>.log. A failing step never stops the
matrix: later steps that need its output are reported as skipped, naming it.

Each step has a time limit (TCG guests are 5-20x slower than the host; bcc compiles at every
record/verify start), so a hang is a failed step, not a hung harness.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CLONE = Path("/root/profiler")
# A Podman host (harness Host.engine "podman"): Podman's Docker-compatible API socket, which
# set-up, profiler and the docker CLI reach through DOCKER_HOST.
PODMAN_SOCKET = "unix:///run/podman/podman.sock"

# Seconds per step, for a 2-core TCG guest. Generous: a step that needs them has failed anyway.
TIMEOUTS = {
    "clone": 300,
    "setup": 2400,
    "record": 1200,
    "emit": 600,
    "verify": 1200,
    "run-line": 600,
    "negative-seccomp": 300,
    "negative-apparmor": 300,
    "engine": 600,
    "podman-socket": 600,
    # a compose sample (run_compose_sample): three containers per record/verify/up
    "apparmor-load": 300,
    "up": 900,
    "down": 600,
    # a policy recorded on another host (harness --cross)
    "cross-emit": 600,
    "cross-verify": 1200,
    "cross-run-line": 600,
    # a corpus app (run_corpus): its production workload, restart included
    "production": 1500,
    "negative-apparmor-verify": 1200,
    # (harness --bench) bench/record_bench.py: every variant alternated, several rounds, in TCG
    "record-bench": 7200,
    "cross-production": 1500,
    # the complain -> harvest -> promote loop (run_harvest)
    "gap": 1200,
    "emit-complain": 600,
    "complain-run": 900,
    "harvest": 300,
    "harvest-kmsg": 120,
    "attributed": 120,
    "diff": 300,
    "promote": 600,
    "verify-promoted": 1200,
}

# The first line that says what went wrong; profiler's CLI prints exactly one "error:" line.
ERROR_LINE = re.compile(
    r"^error:|\berror\b|Error|ERROR|failed|FAILED|denied|refused|Traceback|not permitted|"
    r"Permission denied|timed out",
)


class Guest:
    def __init__(self, share: Path):
        self.share = share
        self.logs = share / "logs"
        self.logs.mkdir(exist_ok=True)
        self.results = share / "results.jsonl"
        self.results.write_text("")
        self.failed = 0

    # --- results --------------------------------------------------------------------------------

    def report(self, sample: str, step: str, status: str, seconds: float, error: str = "",
               log: str = "") -> None:
        line = {"sample": sample, "step": step, "status": status,
                "seconds": round(seconds, 1), "error": error[:300], "log": log}
        with self.results.open("a") as f:
            f.write(json.dumps(line) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if status != "passed":
            self.failed += 1
        print(f"hosts-guest: {sample} {step}: {status} ({seconds:.0f} s) {error}", flush=True)

    def skip(self, sample: str, step: str, why: str) -> None:
        self.report(sample, step, "skipped", 0.0, why)

    def step(self, sample: str, step: str, argv: list[str], *, env: dict | None = None,
             check=None, timeout: int | None = None) -> bool:
        """Run argv (bounded), log its output, report it. `check(rc, output)` returns an error
        string or "" and replaces the default "exit 0 passes"."""
        log = self.logs / f"{sample}-{step}.log"
        t = time.monotonic()
        limit = timeout or TIMEOUTS[step]
        try:
            with log.open("w") as out:
                out.write(f"$ {' '.join(argv)}\n")
                out.flush()
                proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=CLONE if CLONE.exists() else None,
                                      env={**os.environ, **(env or {})}, timeout=limit)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
        except OSError as e:
            log.write_text(f"$ {' '.join(argv)}\n{e}\n")
            rc = 127
        seconds = time.monotonic() - t
        output = log.read_text(errors="replace")
        if rc is None:
            error = f"timed out after {limit} s; last line: {last_line(output)}"
        elif check is not None:
            error = check(rc, output)
        else:
            error = "" if rc == 0 else f"exit {rc}: {first_error(output)}"
        self.report(sample, step, "failed" if error else "passed", seconds, error,
                    str(log.relative_to(self.share)))
        return not error


def first_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines()[1:] if ln.strip()]
    for ln in lines:
        if ERROR_LINE.search(ln):
            return ln
    return lines[-1] if lines else "(no output)"


def last_line(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def sh(cmd: str) -> str:
    """A fact's value: the command's first output line, or what went wrong."""
    try:
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)
        out = (p.stdout.strip() or p.stderr.strip()).splitlines()
        return out[0] if out else f"(exit {p.returncode})"
    except subprocess.TimeoutExpired:
        return "(timed out)"


def facts() -> dict:
    return {
        "os": sh(". /etc/os-release && echo \"$PRETTY_NAME\""),
        "kernel": sh("uname -r"),
        "cgroup": sh("stat -f -c %T /sys/fs/cgroup"),
        "apparmor_enabled": sh("cat /sys/module/apparmor/parameters/enabled"),
        "apparmor_profiles_enforced": sh("aa-status --enforced 2>/dev/null || echo none"),
        "lsm": sh("cat /sys/kernel/security/lsm"),
        "btf": sh("test -e /sys/kernel/btf/vmlinux && echo yes || echo no"),
        "cap_capable_tracepoint": sh(
            "test -d /sys/kernel/tracing/events/capability/cap_capable && echo yes || echo no"),
        "kprobes": sh("test -e /sys/kernel/tracing/kprobe_events && echo yes || echo no"),
        "docker_version": sh("timeout 60 docker version -f '{{.Server.Version}}' 2>&1"),
        "docker_cgroup_driver": sh("timeout 60 docker info -f '{{.CgroupDriver}}' 2>&1"),
        "engine": sh("timeout 60 docker version -f "
                     "'{{range .Server.Components}}{{.Name}} {{.Version}}; {{end}}' 2>&1"),
        "engine_runtime": sh("timeout 60 docker info -f '{{.DefaultRuntime}}' 2>&1"),
        "docker_host": os.environ.get("DOCKER_HOST", ""),
        "python": sh("python3 -V"),
    }


def apparmor_enforced() -> bool:
    try:
        return Path("/sys/module/apparmor/parameters/enabled").read_text().strip() == "Y"
    except OSError:
        return False


def sample_spec(name: str) -> dict:
    """samples/NAME/sample.yaml as a dict (read with the venv's yaml: the system python may
    have none)."""
    out = subprocess.run(
        [str(CLONE / ".venv/bin/python"), "-c",
         "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
         str(CLONE / "samples" / name / "sample.yaml")],
        capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def wait_tcp(port: int, seconds: int = 120) -> str:
    """A bash loop that waits (bounded) until 127.0.0.1:PORT accepts a connection. A TCP
    connect, not an HTTP request: curl against a port that does not speak HTTP (redis) fails
    every time, and the loop then waited its whole time on every run."""
    return (f"for i in $(seq {seconds}); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null "
            f"&& break; sleep 1; done")


def refused(needle: str):
    """A step check: the command failed, and its output has `needle` (the policy's refusal)."""
    def check(rc, output):
        if rc == 0:
            return "not refused: the command succeeded under the policy"
        if needle not in output:
            return f"refused, but not by the policy (exit {rc}): {first_error(output)}"
        return ""
    return check


def cli_env() -> dict:
    """On a Podman host the negative controls' docker command must be Podman's own CLI, since
    they pass a seccomp profile by file: the docker CLI inlines the profile's content, and Podman
    4.3's compat API opens the value as a path ("file name too long"). (The emitted run.sh of a
    Podman recording runs podman itself, so the run-line step gets no shim.) Debian's
    podman-docker package makes
    `docker` a wrapper that execs podman; its equivalent here (podman-docker conflicts with
    the docker.io set-up installs) is a directory first in PATH holding that wrapper."""
    if os.environ.get("DOCKER_HOST") != PODMAN_SOCKET:
        return {}
    shim = Path("/root/podman-docker")
    shim.mkdir(exist_ok=True)
    (shim / "docker").write_text('#!/bin/sh\nexec /usr/bin/podman "$@"\n')
    (shim / "docker").chmod(0o755)
    return {"PATH": f"{shim}:{os.environ['PATH']}"}


def slug(name: str) -> str:
    """A sample's name in results and file names: corpus/redis -> corpus-redis."""
    return name.replace("/", "-")


def run_sample(g: Guest, name: str) -> None:
    """samples/NAME (or a corpus app, corpus/APP): record -> emit -> verify -> the emitted run.sh
    under the sample's workload (a corpus app: its production workload, production()) ->
    negative controls (a corpus app's AppArmor one through verify, negative_apparmor_verify())."""
    profiler = str(CLONE / ".venv/bin/profiler")
    spec = sample_spec(name)
    label = slug(name)
    corpus = bool(spec.get("corpus"))
    image = spec["image"]
    publish = list((spec.get("run") or {}).get("publish") or [])
    port = spec.get("ready_port")
    env = {spec["port_env"]: str(port)} if spec.get("port_env") and port else {}
    workload = str(CLONE / "samples" / name / spec["workload"]) if spec.get("workload") else None
    out = CLONE / "out"
    out.mkdir(exist_ok=True)
    rec, policy = out / f"{label}.recording.yaml", out / f"{label}-policy"
    later = ["verify", "production" if corpus else "run-line", "negative-seccomp",
             "negative-apparmor-verify" if corpus else "negative-apparmor"]

    args = [a for p in publish for a in ("-p", p)]
    if port:
        args += ["--ready-port", str(port)]
    if workload:
        args += ["--workload", workload]
    g.step(label, "record", [profiler, "record", image, *args, "-o", str(rec)], env=env)
    if not rec.exists():
        for s in ("emit", *later):
            g.skip(label, s, "no recording (record failed)")
        return
    keep_recording(g.share, rec)
    g.step(label, "emit", [profiler, "emit", str(rec), "--format", "all", "-o", str(policy)])
    if not (policy / "seccomp.json").exists():
        for s in later:
            g.skip(label, s, "no policy (emit failed)")
        return
    verify_and_run(g, name, label, policy, "")
    cli = cli_env()
    # Negative control: a syscall training never made is refused under the emitted profile.
    g.step(label, "negative-seccomp",
           ["docker", "run", "--rm", "--security-opt", f"seccomp={policy}/seccomp.json",
            "--entrypoint", "/usr/bin/unshare", image, "-U", "true"],
           check=refused("Operation not permitted"), env=cli)

    if corpus:
        negative_apparmor_verify(g, name, label, policy, env)
        return
    if not apparmor_enforced():
        g.skip(label, "negative-apparmor", "AppArmor is not enforced by this kernel")
        return
    # A write training never made, under the emitted AppArmor profile (loaded, then unloaded):
    # refused, and the kernel's audit record names the path and the profile.
    profile = policy / "apparmor.profile"
    m = re.search(r"^\s*profile\s+(\S+)", profile.read_text(), re.M) if profile.exists() else None
    if not m:
        g.skip(label, "negative-apparmor", "no profile name in apparmor.profile")
        return
    target = "/etc/profiler-negative-control"
    script = (
        f"apparmor_parser -r -K {profile} && "
        f"docker run --rm --security-opt apparmor={m.group(1)} --entrypoint /usr/bin/touch "
        f"{image} {target}; rc=$?; "
        f"apparmor_parser -R -K {profile} || true; sleep 1; "
        f"{{ dmesg; cat /var/log/audit/audit.log 2>/dev/null; }} | grep -F 'apparmor=\"DENIED\"' "
        f"| grep -F 'profile=\"{m.group(1)}\"' | grep -F '{target}' | tail -n 3; exit $rc"
    )

    def audited(rc, output):
        error = refused("Permission denied")(rc, output)
        if not error and f'name="{target}"' not in output:
            return "refused, but the kernel logged no AppArmor denial of it"
        return error
    g.step(label, "negative-apparmor", ["bash", "-c", script], check=audited, env=cli)


def compose_argv() -> list[str]:
    """The compose command profiler itself picks here (compose_cli.find: the v2 plugin when it
    answers, else v1 `docker-compose`; offline, Debian 12 has only 1.29)."""
    out = subprocess.run(
        [str(CLONE / ".venv/bin/python"), "-c",
         "import json; from profiler.session import compose_cli; print(json.dumps(compose_cli.find().argv))"],
        capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def run_compose_sample(g: Guest, name: str) -> None:
    """A `kind: compose` sample, as docs/compose.md's user: record --match every container of
    the project while COMMAND (`compose up -d`) starts it and the workload runs -> emit --format
    all -> apparmor-load.sh -> verify --compose -> the project up under the override, workload
    passing -> per service a syscall training never made (unshare) refused -> project down."""
    profiler = str(CLONE / ".venv/bin/profiler")
    spec = sample_spec(name)
    sdir = CLONE / "samples" / name
    compose_file = sdir / spec["compose"]
    project = spec.get("project") or name
    services = sorted(spec["images"])
    port = spec.get("ready_port")
    env = {spec["port_env"]: str(port)} if spec.get("port_env") and port else {}
    workload = str(sdir / spec["workload"]) if spec.get("workload") else None
    out = CLONE / "out"
    out.mkdir(exist_ok=True)
    rec, policy = out / f"{name}.rec", out / f"{name}-policy"
    compose = compose_argv()
    label = f"com.docker.compose.project={project}"
    down = [*compose, "-f", str(compose_file), "-p", project, "down", "-t", "5"]
    later = ["emit", "apparmor-load", "verify", "up", *(f"negative-seccomp:{s}" for s in services)]

    def skip_rest(steps, why):
        for s in steps:
            svc = s.split(":", 1)
            g.skip(name if len(svc) == 1 else f"{name}:{svc[1]}", svc[0], why)

    with (g.logs / f"{name}-compose.log").open("w") as f:
        f.write(f"compose: {' '.join(compose)}\n")
    up = [*compose, "-f", str(compose_file), "-p", project, "up", "-d"]
    wl = ["--workload", workload] if workload else []
    g.step(name, "record", [profiler, "record", "--match", label, *wl, "-o", str(rec), "--", *up],
           env=env)
    # record stopped the containers COMMAND started; remove them before the override's run.
    subprocess.run(down, capture_output=True, timeout=TIMEOUTS["down"], cwd=CLONE)
    if not (rec / "index.yaml").exists():
        skip_rest(later, "no recording (record failed)")
    else:
        run_compose_policy(g, name, spec, rec, policy, compose, project, services, env, workload)
    # Last, whatever failed before: nothing of the project is left (the override's run, or a
    # failed record's containers).
    override = policy / "compose.security.yaml"
    files = ["-f", str(compose_file)] + (["-f", str(override)] if override.exists() else [])
    script = (f"{' '.join(compose)} {' '.join(files)} -p {project} down -t 5 && "
              f"left=$(docker ps -aq --filter label={label}) && "
              f"if [ -n \"$left\" ]; then echo \"containers left: $left\"; exit 1; fi; "
              f"echo project down")
    g.step(name, "down", ["bash", "-c", script], env=env)


def run_compose_policy(g: Guest, name, spec, rec, policy, compose, project, services, env,
                       workload) -> None:
    profiler = str(CLONE / ".venv/bin/profiler")
    compose_file = CLONE / "samples" / name / spec["compose"]
    g.step(name, "emit", [profiler, "emit", str(rec), "--format", "all", "-o", str(policy)])
    override = policy / "compose.security.yaml"
    if not override.exists():
        g.skip(name, "apparmor-load", "no policy (emit failed)")
        g.skip(name, "verify", "no policy (emit failed)")
        g.skip(name, "up", "no policy (emit failed)")
        for s in services:
            g.skip(f"{name}:{s}", "negative-seccomp", "no policy (emit failed)")
        return
    # As the user does before `up` (docs/compose.md); a no-op where AppArmor is not enforced.
    g.step(name, "apparmor-load", ["bash", str(policy / "apparmor-load.sh")])
    wl = ["--workload", workload] if workload else []
    g.step(name, "verify", [profiler, "verify", "--compose", str(compose_file), "--policy",
                            str(policy), *wl], env=env)

    # As a user would: the project up under the override, its workload passing.
    up = [*compose, "-f", str(compose_file), "-f", str(override), "-p", project, "up", "-d"]
    script = f"set -e; {' '.join(up)}; " + (f"{workload}; " if workload else "") + \
        "echo up: workload passed under the override"
    up_ok = g.step(name, "up", ["bash", "-c", script], env=env)
    if not up_ok:
        with (g.logs / f"{name}-up.log").open("a") as f:
            subprocess.run([*compose, "-f", str(compose_file), "-f", str(override), "-p", project,
                            "logs", "--tail", "20"], stdout=f, stderr=f, timeout=300, cwd=CLONE)

    # Negative control per service: a syscall no service made in training (unshare), inside
    # the running container, is refused by its seccomp profile.
    for s in services:
        cid = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
             "--filter", f"label=com.docker.compose.service={s}"],
            capture_output=True, text=True, timeout=120).stdout.split()
        if not cid:
            g.skip(f"{name}:{s}", "negative-seccomp", "the service is not running (up failed)")
            continue
        g.step(f"{name}:{s}", "negative-seccomp",
               ["docker", "exec", cid[0], "unshare", "-U", "true"],
               check=refused("Operation not permitted"))


def verify_and_run(g: Guest, name: str, label: str, policy: Path, prefix: str) -> None:
    """verify the sample's policy here, then the emitted run.sh under the workload, as a user
    would (steps PREFIXverify, PREFIXrun-line, reported as sample `label`)."""
    profiler = str(CLONE / ".venv/bin/profiler")
    spec = sample_spec(name)
    image = spec["image"]
    port = spec.get("ready_port")
    env = {spec["port_env"]: str(port)} if spec.get("port_env") and port else {}
    workload = str(CLONE / "samples" / name / spec["workload"]) if spec.get("workload") else None
    vargs = ["--ready-port", str(port)] if port else []
    vargs += ["--workload", workload] if workload else []
    g.step(label, prefix + "verify", [profiler, "verify", image, "--policy", str(policy), *vargs],
           env=env)

    if spec.get("corpus"):
        production(g, name, label, policy, prefix + "production", env)
        return
    # As a user would: the emitted run.sh starts the app, the workload exercises it.
    cname = f"hosts-{name}"
    subprocess.run(["docker", "rm", "-f", cname], capture_output=True, timeout=120)
    script = (
        f"set -e; bash {policy}/run.sh -d --name {cname}; "
        + (f"{wait_tcp(port)}; " if port else "")
        + (f"PROFILER_CONTAINER_ID={cname} PROFILER_CONTAINER_NAME={cname} {workload}; "
           if workload else "")
        + "echo run-line: workload passed"
    )
    step = prefix + "run-line"
    run_ok = g.step(label, step, ["bash", "-c", script], env=env)
    if not run_ok:
        with (g.logs / f"{label}-{step}.log").open("a") as f:
            subprocess.run(["docker", "logs", "--tail", "30", cname], stdout=f, stderr=f, timeout=120)
    subprocess.run(["docker", "rm", "-f", cname], capture_output=True, timeout=120)


# A corpus app's production run (script filled in by production()): run.sh loads the emitted
# AppArmor profile and starts the app; where AppArmor is enforced the app's main process must be
# confined by that profile in enforce mode, before the production workload and after it (its
# `docker restart` included); the kernel's AppArmor denials of the profile during the run are
# printed (the workload decides pass or fail: a denial the app survives is shown, not failed).
PRODUCTION = r"""
set -euo pipefail
cname=@CNAME@ profile=@PROFILE@ enforced=@ENFORCED@
cleanup() {
    docker rm -f -v "$cname" >/dev/null 2>&1 || true
    docker volume ls -q | grep "^$cname-" | xargs -r docker volume rm >/dev/null || true
}
cleanup
confined() {   # confined WHEN: the container's main process runs under $profile, enforced
    [ "$enforced" = 1 ] || { echo "confinement $1: AppArmor not enforced by this kernel"; return 0; }
    local pid f label
    pid=$(docker inspect -f '{{.State.Pid}}' "$cname")
    f=/proc/$pid/attr/apparmor/current; [ -e "$f" ] || f=/proc/$pid/attr/current
    label=$(tr -d '\0' <"$f" 2>/dev/null) || label="unreadable ($f)"
    echo "confinement $1: pid $pid $label"
    [ "$label" = "$profile (enforce)" ] || {
        echo "error: the app is not confined by $profile in enforce mode ($1: $label)"; exit 1; }
}
denials() { dmesg 2>/dev/null | grep -F 'apparmor="DENIED"' | grep -cF "profile=\"$profile\"" || true; }
before=$(denials)
trap 'rc=$?; [ $rc = 0 ] || docker logs --tail 30 "$cname" 2>&1 | sed "s/^/app: /"; cleanup' EXIT
bash @POLICY@/run.sh -d --name "$cname"
confined "at start"
t=$SECONDS
PROFILER_CONTAINER_ID="$cname" PROFILER_CONTAINER_NAME="$cname" @PRODUCTION@
echo "production workload: passed in $((SECONDS - t)) s"
confined "after the workload and its restart"
echo "AppArmor denials of $profile during the run: $(( $(denials) - before ))"
dmesg 2>/dev/null | grep -F 'apparmor="DENIED"' | grep -F "profile=\"$profile\"" | tail -n 5 || true
echo "production: passed"
"""


def profile_of(policy: Path) -> str:
    """The profile name apparmor.profile declares ("" when none)."""
    f = policy / "apparmor.profile"
    m = re.search(r"^\s*profile\s+(\S+)", f.read_text(), re.M) if f.exists() else None
    return m.group(1) if m else ""


def production(g: Guest, name: str, label: str, policy: Path, step: str, env: dict) -> None:
    """A corpus app (samples/corpus/APP) under the emitted run.sh with its production workload:
    its own benchmark client to 127.0.0.1, admin commands through docker exec, a docker
    restart and data that must survive it (production.sh fails otherwise); where AppArmor is
    enforced, run.sh loads apparmor.profile and the app must run confined by it (PRODUCTION)."""
    spec = sample_spec(name)
    script = (PRODUCTION.replace("@CNAME@", f"hosts-{label}")
              .replace("@PROFILE@", profile_of(policy) or "(none)")
              .replace("@ENFORCED@", "1" if apparmor_enforced() else "0")
              .replace("@POLICY@", str(policy))
              .replace("@PRODUCTION@", str(CLONE / "samples" / name / spec["production"])))
    g.step(label, step, ["bash", "-c", script], env=env)
    if apparmor_enforced() and (policy / "apparmor.profile").exists():  # run.sh loaded it
        subprocess.run(["apparmor_parser", "-R", str(policy / "apparmor.profile")],
                       capture_output=True, timeout=300)


# What the AppArmor negative control does in the confined container that training never did: a
# write to /tmp (run.sh mounts a tmpfs there writable by the app's user, so nothing but AppArmor
# refuses it) and an exec of a program the app never ran, from a shell inside the container.
NEGATIVE_WRITE = "/tmp/profiler-negative-control"
NEGATIVE_EXEC = "/usr/bin/id"
NEGATIVE_WORKLOAD = f"""#!/bin/bash
# verify's workload for the AppArmor negative control (tests/hosts/guest.py): fails, as an app
# would, when either is refused.
rc=0
docker exec "$PROFILER_CONTAINER_ID" touch {NEGATIVE_WRITE} || rc=1
docker exec "$PROFILER_CONTAINER_ID" sh -c 'exec {NEGATIVE_EXEC}' || rc=1
exit $rc
"""


def apparmor_section(output: str) -> str:
    """verify's "refused by the AppArmor profile" table (up to the blank line after it)."""
    lines = output.splitlines()
    for i, ln in enumerate(lines):
        if ln.strip() == "refused by the AppArmor profile":
            rest = []
            for x in lines[i + 1:]:
                if not x.strip():
                    break
                rest.append(x)
            return "\n".join(rest)
    return ""


def apparmor_named(*targets: str):
    """A step check for verify under a workload doing what training never did: verify failed,
    and its AppArmor table names every target (the path written, the program executed)."""
    def check(rc, output):
        if rc == 0:
            return "not refused: verify passed a workload that did what training never did"
        table = apparmor_section(output)
        if not table:
            return f"verify failed (exit {rc}) without naming an AppArmor denial: {first_error(output)}"
        missing = [t for t in targets if t not in table]
        if missing:
            return f"verify's AppArmor denials do not name {', '.join(missing)}: {table.splitlines()[-1].strip()}"
        return ""
    return check


def negative_apparmor_verify(g: Guest, name: str, label: str, policy: Path, env: dict) -> None:
    """Where AppArmor is enforced: `profiler verify` of the policy with a workload that writes
    and executes what training never did (NEGATIVE_WORKLOAD) must fail, naming both AppArmor
    denials."""
    step = "negative-apparmor-verify"
    if not apparmor_enforced():
        g.skip(label, step, "AppArmor is not enforced by this kernel")
        return
    spec = sample_spec(name)
    workload = CLONE / "out" / f"{label}-negative-apparmor.sh"
    workload.write_text(NEGATIVE_WORKLOAD)
    workload.chmod(0o755)
    port = spec.get("ready_port")
    g.step(label, step, [str(CLONE / ".venv/bin/profiler"), "verify", spec["image"], "--policy",
                         str(policy), *(["--ready-port", str(port)] if port else []),
                         "--workload", str(workload)],
           env=env, check=apparmor_named(NEGATIVE_WRITE, NEGATIVE_EXEC))


# --- the complain -> harvest -> promote loop (issue 19), harness --harvest -------------------

# What training never did, in the app's container (docker exec, as an admin would): a shell
# reads files (with its builtin `read`: the records are the shell's own pid) and writes one
# outside the learned AppArmor profile (/tmp: a tmpfs under the enforced run.sh, writable by
# the app's user), and executes programs training never ran, one of which makes a syscall
# outside the learned seccomp profile (unshare(CLONE_NEWUSER): no capability needed). About 15
# records in a fraction of a second: more than /dev/kmsg's printk burst (10), see kmsg_check.
# The last exec keeps the process alive for a few seconds, so that harvest finds its
# container while it lives (the records of a process gone before harvest looked it up cannot
# be attributed: README, "What the loop cannot see").
HARVEST_READS = ("/etc/os-release", "/etc/debian_version", "/etc/hostname")
HARVEST_WRITE = "/tmp/profiler-harvest-probe"
HARVEST_EXEC = "/usr/bin/unshare"
HARVEST_SYSCALL = "unshare"
HARVEST_WORKLOAD = f"""#!/bin/bash
# The harvest leg's workload (tests/hosts/guest.py): the sample's training workload, then what
# training never did; fails, as an app would, when either is refused.
set -euo pipefail
@TRAINING@
docker exec "$PROFILER_CONTAINER_ID" sh -c \\
    '{" && ".join(f"read -r x <{f}" for f in HARVEST_READS)} &&
     echo harvested >{HARVEST_WRITE} && test -s {HARVEST_WRITE} && exec {HARVEST_EXEC} -U sleep 4'
echo "harvest workload: passed"
"""
HARVEST_QUIET = 15  # seconds of harvest after the workload, nothing new: promote's quiet period


def harvest_check(service: str):
    """A step check for the harvest file: this service's, from a real source, with AppArmor
    ALLOWED evidence (the file written, the program executed) and seccomp evidence (the
    syscall), every record attributed. The summary line goes in the log (check_output)."""
    def check(rc, output):
        if rc != 0:
            return f"exit {rc}: {first_error(output)}"
        m = re.search(r"^harvest-summary: (\{.*\})$", output, re.M)
        if not m:
            return f"no summary: {first_error(output)}"
        h = json.loads(m.group(1))
        missing = []
        if h["service"] != service:
            missing.append(f"service {service} (got {h['service']})")
        if HARVEST_SYSCALL not in h["syscalls"]:
            missing.append(f"seccomp: syscall {HARVEST_SYSCALL}")
        if "write" not in h["files"].get(HARVEST_WRITE, []):
            missing.append(f"AppArmor: write of {HARVEST_WRITE}")
        if HARVEST_EXEC not in h["executables"]:
            missing.append(f"AppArmor: exec of {HARVEST_EXEC}")
        if missing:
            return (f"not harvested: {', '.join(missing)} (source {h['source']}, {h['records']} "
                    f"records, {h['dropped']} dropped, unattributed {h['unattributed']})")
        return ""
    return check


# Prints the harvest file's evidence as one JSON line (the venv's python: it has yaml).
HARVEST_SUMMARY = r"""
import json, sys
from pathlib import Path
from profiler.recording import recording_io
for f in map(Path, sys.argv[1:]):
  r = recording_io.load(f)
  h = r.harvest
  print("harvest-summary: " + json.dumps({
    "service": f.name.removesuffix(".harvest.yaml"),
    "source": h.source, "records": h.records, "runtime_records": h.runtime_records,
    "dropped": h.dropped, "unattributed": h.unattributed, "containers": list(h.containers),
    "syscalls": sorted(r.syscall_names),
    "files": {x.path: list(x.ok) for x in r.files},
    "executables": [e.path for e in r.processes.executables],
    "new_items": h.new_items, "last_new": h.last_new}))
"""


def gap_check(rc, output):
    """The training policy refuses the leg's workload, and verify's AppArmor table names one of
    the probe's files (the first refused stops the shell: which one depends on the profile;
    abstractions/base allows /etc/os-release)."""
    if rc == 0:
        return "no gap: verify passed a workload that did what training never did"
    table = apparmor_section(output)
    if not any(f in table for f in (*HARVEST_READS, HARVEST_WRITE)):
        return f"verify failed (exit {rc}) without an AppArmor denial of the probe: {first_error(output)}"
    return ""


def start_harvester(log: Path, label: str, source: str, directory: Path) -> subprocess.Popen:
    """`profiler harvest --follow` of the leg's container (by its label: `--container NAME`
    refuses a container the engine does not know yet, as a typo), in the background."""
    argv = [str(CLONE / ".venv/bin/profiler"), "harvest", "--match", f"profiler.hosts={label}",
            "--follow", "--interval", "2", "--source", source, "-o", str(directory)]
    with log.open("w") as f:
        f.write(f"$ {' '.join(argv)}\n")
        f.flush()
        return subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=CLONE)


def stop_harvester(proc: subprocess.Popen) -> int:
    """SIGTERM (harvest saves and stops), bounded; its exit status."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=TIMEOUTS["harvest"])
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def kmsg_check(rc, output):
    """harvest-kmsg: a harvest of /dev/kmsg (printk rate limited) beside the leg's own, of the
    same run: what it has, the leg's harvest has too (same service, items a subset), and when it
    got fewer records, it counted a loss. The kernel tells of suppressed records only with the
    next audit record it prints, and a burst at the end of the run has none (seen: 10 of 17
    records, 0 counted dropped; docs/harvest.md): harvest's own mark is that record now."""
    if rc != 0:
        return f"exit {rc}: {first_error(output)}"
    got = [json.loads(m) for m in re.findall(r"^harvest-summary: (\{.*\})$", output, re.M)]
    if len(got) != 2:
        return f"no summaries: {first_error(output)}"
    kmsg, auto = got
    if kmsg["service"] != auto["service"]:
        return f"kmsg attributed to {kmsg['service']}, {auto['source']} to {auto['service']}"
    extra = sorted((set(kmsg["syscalls"]) - set(auto["syscalls"])) |
                   (set(kmsg["files"]) - set(auto["files"])) |
                   (set(kmsg["executables"]) - set(auto["executables"])))
    if extra:
        return f"kmsg has what {auto['source']} has not: {', '.join(extra)}"
    if kmsg["records"] < auto["records"] and not kmsg["dropped"]:
        return (f"kmsg got {kmsg['records']} of {auto['records']} records and counted none "
                f"dropped")
    return ""


def kernel_audit_lines(dest: Path, since: float) -> None:
    """The kernel's audit lines (seccomp, AppArmor, drops) since `since` (epoch seconds), from
    the journal's kernel log (dmesg's own times are since boot), and auditd's log if any: the
    raw material of tests/harvest/'s fixtures."""
    want = r"type=1326|type=SECCOMP|type=1400|type=AVC|apparmor=|kauditd_printk_skb|audit_lost"
    script = (f"journalctl -k -o short-unix --no-pager --since @{int(since)} 2>/dev/null "
              f"| grep -E '{want}'; "
              f"test -f /var/log/audit/audit.log && grep -E '{want}' /var/log/audit/audit.log "
              f"| tail -n 2000; "
              f"echo '--- dmesg (since boot)'; dmesg | grep -E '{want}' | tail -n 400; true")
    with dest.open("w") as f:
        subprocess.run(["bash", "-c", script], stdout=f, stderr=subprocess.STDOUT, timeout=300)


def run_harvest(g: Guest, name: str) -> None:
    """The loop of issue 19 on this host, for samples/NAME (module docstring)."""
    profiler = str(CLONE / ".venv/bin/profiler")
    spec = sample_spec(name)
    label = f"harvest-{slug(name)}"
    image = spec["image"]
    publish = list((spec.get("run") or {}).get("publish") or [])
    port = spec.get("ready_port")
    env = {spec["port_env"]: str(port)} if spec.get("port_env") and port else {}
    training = str(CLONE / "samples" / name / spec["workload"])
    out = CLONE / "out" / label
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rec, policy, complain = out / "app.recording.yaml", out / "policy", out / "complain"
    harvest_dir, enforce = out / "harvest", out / "enforce"
    workload = out / "workload.sh"
    workload.write_text(HARVEST_WORKLOAD.replace("@TRAINING@", training))
    workload.chmod(0o755)
    cname = f"hosts-{label}"
    steps = ["record", "emit", "gap", "emit-complain", "complain-run", "harvest", "attributed",
             "diff", "promote", "verify-promoted"]

    def skip_after(step: str, why: str) -> None:
        for s in steps[steps.index(step) + 1:]:
            g.skip(label, s, why)

    args = [a for p in publish for a in ("-p", p)]
    ready = ["--ready-port", str(port)] if port else []
    g.step(label, "record", [profiler, "record", image, *args, *ready, "--workload", training,
                             "-o", str(rec)], env=env)
    if not rec.exists():
        return skip_after("record", "no recording (record failed)")
    # The training policy, and the gap: it refuses the new behaviour where AppArmor enforces.
    g.step(label, "emit", [profiler, "emit", str(rec), "--format", "all", "-o", str(policy)])
    if (policy / "seccomp.json").exists():
        # (where AppArmor is not enforced, the seccomp profile's refusal is the gap)
        gap = gap_check if apparmor_enforced() else \
            (lambda rc, output: "" if rc != 0 else "no gap: the training policy passed it")
        g.step(label, "gap", [profiler, "verify", image, "--policy", str(policy), *ready,
                              "--workload", str(workload)], env=env, check=gap)
    else:
        g.skip(label, "gap", "no training policy (emit failed)")
    if not g.step(label, "emit-complain", [profiler, "emit", str(rec), "--complain", "--format",
                                           "all", "-o", str(complain)]):
        return skip_after("emit-complain", "no complain-mode policy (emit --complain failed)")

    # Complain mode in "production": the harvester first (as README's loop says), then the
    # container under the complain policy's run.sh, the workload, a quiet tail.
    subprocess.run(["docker", "rm", "-f", "-v", cname], capture_output=True, timeout=120)
    hlog, klog = g.logs / f"{label}-harvest.log", g.logs / f"{label}-harvest-kmsg.log"
    began = time.time()
    t = time.monotonic()
    # The harvest the loop uses (--source auto: auditd's log where auditd runs, else the audit
    # multicast group), and beside it one from /dev/kmsg (printk rate limited): harvest-kmsg.
    harvester = start_harvester(hlog, label, "auto", harvest_dir)
    kmsg_harvester = start_harvester(klog, label, "kmsg", out / "harvest-kmsg")
    try:
        # (--match a label of the container: `harvest --container NAME` refuses a container the
        # engine does not know yet, as a typo)
        script = (
            f"set -e; bash {complain}/run.sh -d --name {cname} --label profiler.hosts={label}; "
            + (f"{wait_tcp(port)}; " if port else "")
            + f"echo \"confined: $(tr -d '\\0' </proc/$(docker inspect -f '{{{{.State.Pid}}}}' "
              f"{cname})/attr/current)\"; "
            + f"PROFILER_CONTAINER_ID={cname} PROFILER_CONTAINER_NAME={cname} {workload}; "
            + f"echo quiet tail {HARVEST_QUIET} s; sleep {HARVEST_QUIET}; echo complain-run: passed"
        )
        g.step(label, "complain-run", ["bash", "-c", script], env=env)
    finally:
        rc = stop_harvester(harvester)
        krc = stop_harvester(kmsg_harvester)
        with (g.logs / f"{label}-complain-run.log").open("a") as f:
            subprocess.run(["docker", "logs", "--tail", "20", cname], stdout=f, stderr=f,
                           timeout=120)
        subprocess.run(["docker", "rm", "-f", "-v", cname], capture_output=True, timeout=120)
        kernel_audit_lines(g.logs / f"{label}-audit.log", began - 5)
    output = hlog.read_text(errors="replace")
    files = sorted(harvest_dir.glob("*.harvest.yaml"))
    error = (f"exit {rc}: {first_error(output)}" if rc != 0 else
             "" if files else f"no evidence file: {last_line(output)}")
    g.report(label, "harvest", "failed" if error else "passed", time.monotonic() - t, error,
             str(hlog.relative_to(g.share)))
    if not files:
        return skip_after("harvest", "no evidence (harvest failed)")
    evidence = harvest_dir / f"{cname}.harvest.yaml"
    g.step(label, "attributed", [str(CLONE / ".venv/bin/python"), "-c", HARVEST_SUMMARY,
                                 str(evidence if evidence.exists() else files[0])],
           check=harvest_check(cname))

    kfiles = sorted((out / "harvest-kmsg").glob("*.harvest.yaml"))
    if krc != 0 or not kfiles:
        g.report(label, "harvest-kmsg", "failed", 0.0, f"exit {krc}: "
                 f"{first_error(klog.read_text(errors='replace'))}",
                 str(klog.relative_to(g.share)))
    else:
        g.step(label, "harvest-kmsg", [
            str(CLONE / ".venv/bin/python"), "-c", HARVEST_SUMMARY, str(kfiles[0]),
            str(evidence if evidence.exists() else files[0])], check=kmsg_check)

    def diff_check(rc, output):
        if rc != 1:  # 1: differences
            return f"exit {rc} (1 expected: additions): {first_error(output)}"
        missing = [x for x in (HARVEST_SYSCALL, HARVEST_WRITE, HARVEST_EXEC) if x not in output]
        return f"diff does not list {', '.join(missing)}" if missing else ""
    g.step(label, "diff", [profiler, "diff", str(rec), str(evidence)], check=diff_check)
    # The rule with the quiet tail's window; no traffic floor (a sample uses well under a CPU
    # second). Records lost (dropped, unattributed) make promote refuse: that is a failure here.
    if not g.step(label, "promote", [profiler, "promote", str(rec), str(harvest_dir), "-o",
                                     str(enforce), "--quiet-for", f"{HARVEST_QUIET // 2}s",
                                     "--min-traffic", "0"]):
        return skip_after("promote", "no promoted policy (promote failed)")
    g.step(label, "verify-promoted", [profiler, "verify", image, "--policy", str(enforce), *ready,
                                      "--workload", str(workload)], env=env)
    if apparmor_enforced() and profile_of(enforce):
        subprocess.run(["apparmor_parser", "-R", str(enforce / "apparmor.profile")],
                       capture_output=True, timeout=300)


def harvest_samples(share: Path) -> list[str]:
    """The samples this run takes through the harvest loop (SHARE/harvest, one a line); none
    with SHARE/cross-only."""
    wanted = share / "harvest"
    if (share / "cross-only").exists() or not wanted.exists():
        return []
    return wanted.read_text().split()


def keep_recording(share: Path, rec: Path) -> None:
    """A copy of a recording for the harness to carry to another host (--cross)."""
    out = share / "recordings"
    out.mkdir(exist_ok=True)
    shutil.copy2(rec, out / rec.name)


def foreign_recordings(share: Path) -> list[tuple[str, str, Path]]:
    """(origin host, sample, recording) of every recording another host made (--cross), sorted;
    only samples this clone has as a single container (a compose project is left out)."""
    out = []
    for rec in sorted((share / "foreign").glob("*/*.recording.yaml")):
        name = rec.name.removesuffix(".recording.yaml")
        if name.startswith("corpus-"):  # a corpus app's (slug)
            name = "corpus/" + name.removeprefix("corpus-")
        spec = CLONE / "samples" / name / "sample.yaml"
        if spec.exists() and "\nkind: compose" not in spec.read_text():
            out.append((rec.parent.name, name, rec))
    return out


def run_foreign(g: Guest, origin: str, name: str, rec: Path) -> None:
    """A policy recorded on `origin`, emitted and verified on this host: cross-emit ->
    cross-verify -> cross-run-line, as sample NAME-from-ORIGIN."""
    profiler = str(CLONE / ".venv/bin/profiler")
    label = f"{slug(name)}-from-{origin}"
    (CLONE / "out").mkdir(exist_ok=True)
    policy = CLONE / "out" / f"{label}-policy"
    if not g.step(label, "cross-emit", [profiler, "emit", str(rec), "--format", "all",
                                        "-o", str(policy)]):
        for s in ("cross-verify", "cross-run-line"):
            g.skip(label, s, "no policy (cross-emit failed)")
        return
    verify_and_run(g, name, label, policy, "cross-")


def chosen_samples(share: Path, specs: list[Path]) -> list[Path]:
    """The samples this run does: none with SHARE/cross-only, those SHARE/samples names, or all."""
    if (share / "cross-only").exists():
        return []
    wanted = share / "samples"
    if not wanted.exists():
        return specs
    names = set(wanted.read_text().split())
    return [s for s in specs if s.parent.name in names]


def corpus_apps(share: Path) -> list[str]:
    """The corpus apps this run holds to production (SHARE/corpus, one APP a line), as sample
    names corpus/APP; none with SHARE/cross-only."""
    wanted = share / "corpus"
    if (share / "cross-only").exists() or not wanted.exists():
        return []
    return [f"corpus/{a}" for a in wanted.read_text().split()]


# SHARE/FINISHED: the units (samples, harvest loops, corpus apps, foreign recordings) this run
# has finished, one label a line. When the guest's kernel hangs (a soft lockup under TCG), the
# harness boots a fresh VM on the same share and this guest skips what the first boot finished.
FINISHED = "finished"
# (harness --bench) record_bench.py's arguments: present, the guest runs the bench alone.
BENCH = "bench"


def finished_units(share: Path) -> set[str]:
    f = share / FINISHED
    return set(f.read_text().split()) if f.exists() else set()


def inject_hang(share: Path, label: str) -> None:
    """harness --inject-hang LABEL (a test of the harness itself): at that unit, once, print what
    a hung kernel prints to the console and stop, as a hung guest does."""
    f = share / "hang-at"
    if not f.exists() or f.read_text().strip() != label:
        return
    f.unlink()  # once: the next boot goes on
    with open("/dev/kmsg", "w") as k:
        k.write("<4>watchdog: BUG: soft lockup - CPU#0 stuck for 999s! [injected: --inject-hang]\n")
    while True:
        time.sleep(3600)


def run_bench(g: Guest, share: Path) -> None:
    """(harness --bench) Issue 21's figures on this host: bench/record_bench.py with the
    arguments in SHARE/bench, as `make bench` runs it. Its table is the step's log."""
    args = (share / BENCH).read_text().split()
    g.step("bench", "record-bench", [str(CLONE / ".venv/bin/python"),
                                     str(CLONE / "bench" / "record_bench.py"), *args])


def run_units(g: Guest, share: Path, units: list) -> None:
    """Run each (label, run) in order, but those an earlier boot finished (the harness keeps
    their rows); note each as finished once it ends. An exception fails only its own unit."""
    done = finished_units(share)
    for label, run in units:
        if label in done:
            print(f"hosts-guest: {label}: finished by an earlier boot", flush=True)
            continue
        inject_hang(share, label)
        try:
            run()
        except Exception as e:  # one broken sample must not hide the others
            g.report(label, "harness", "failed", 0.0, f"{type(e).__name__}: {e}")
        with (share / FINISHED).open("a") as f:
            f.write(label + "\n")
            f.flush()
            os.fsync(f.fileno())


def main() -> int:
    share = Path(sys.argv[1])
    g = Guest(share)
    (share / "facts.json").write_text(json.dumps(facts(), indent=1))
    if not g.step("host", "clone", ["git", "clone", "-q", str(share / "repo.bundle"), str(CLONE)]):
        return 1
    subprocess.run(["git", "-C", str(CLONE), "log", "-1", "--oneline"], stdout=sys.stdout)
    if (share / "docker-cgroupfs").exists():
        # Not stock: the harness's --docker-cgroupfs, to see the failures behind the systemd
        # driver's (issue 10 §3). Done the way the README's Troubleshooting says.
        g.step("host", "docker-cgroupfs", ["bash", "-c",
               "mkdir -p /etc/docker && echo '{\"exec-opts\": [\"native.cgroupdriver=cgroupfs\"]}'"
               " >/etc/docker/daemon.json && systemctl restart docker"], timeout=300)
    if (share / "engine").exists() and (share / "engine").read_text().strip() == "podman":
        # A Podman host, as its user sets it up: dockerd (installed by set-up's package list)
        # off, Podman's socket on, DOCKER_HOST for everything after (set-up, profiler, docker).
        ok = g.step("host", "podman-socket", ["bash", "-c",
                    "systemctl disable --now docker.service docker.socket containerd.service; "
                    "systemctl enable --now podman.socket && "
                    "for i in $(seq 120); do curl -sf --unix-socket /run/podman/podman.sock "
                    "http://d/_ping && break; sleep 1; done; echo; podman version; podman info "
                    "--format '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}} "
                    "{{.Host.CgroupManager}} cgroups {{.Host.CgroupsVersion}}'"])
        if not ok:
            return 1
        os.environ["DOCKER_HOST"] = PODMAN_SOCKET
    env = {"PROFILER_WHEELHOUSE": str(share / "wheels"),
           "PROFILER_IMAGE_ARCHIVE": str(share / "images.tar")}
    if (share / "samples").exists():  # (harness --samples) the archive holds only theirs
        env["PROFILER_SKIP_SAMPLES"] = "1"
    g.step("host", "setup", ["make", "setup"], env=env)
    if Path("/var/log/profiler-setup").is_dir():   # set-up's own logs, for diagnosis
        shutil.copytree("/var/log/profiler-setup", g.logs / "setup", dirs_exist_ok=True)
    # Facts again now that the engine runs (its cgroup driver is one of them).
    (share / "facts.json").write_text(json.dumps(facts(), indent=1))
    if not (CLONE / ".venv/bin/profiler").exists():
        g.skip("host", "samples", "no .venv/bin/profiler (setup failed)")
        return 1
    # Every call a recording makes, against the real engine, without eBPF.
    g.step("host", "engine", [str(CLONE / ".venv/bin/python"),
                              str(CLONE / "tests/hosts/engine_check.py"), "profiler-base:bookworm"])
    if (share / BENCH).exists():  # (harness --bench) the bench alone
        run_units(g, share, [("bench", functools.partial(run_bench, g, share))])
        return 1 if g.failed else 0
    specs = chosen_samples(share, sorted((CLONE / "samples").glob("*/sample.yaml")))
    units = []  # (label, run): a label is the "sample" of the unit's result rows
    for spec in specs:
        run = run_compose_sample if "\nkind: compose" in spec.read_text() else run_sample
        units.append((slug(spec.parent.name), functools.partial(run, g, spec.parent.name)))
    # (the harvest loop before the corpus apps: a few minutes, where a corpus app takes 10-25)
    units += [(f"harvest-{slug(n)}", functools.partial(run_harvest, g, n))
              for n in harvest_samples(share)]
    units += [(slug(n), functools.partial(run_sample, g, n)) for n in corpus_apps(share)]
    units += [(f"{slug(n)}-from-{o}", functools.partial(run_foreign, g, o, n, rec))
              for o, n, rec in foreign_recordings(share)]
    run_units(g, share, units)
    return 1 if g.failed else 0


if __name__ == "__main__":
    rc = 1
    try:
        rc = main()
    finally:
        Path(sys.argv[1], "exit_code").write_text(f"{rc}\n")
    sys.exit(rc)

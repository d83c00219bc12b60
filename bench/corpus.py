#!/usr/bin/env python3
"""The corpus: does the emitted policy hold in production, and what does it still remove (root).

For each app of samples/corpus/ (real server apps from Debian packages, samples/corpus/README.md):
build its image, `profiler record` it under the short training workload, `profiler emit
--format all`, start the emitted run.sh and drive the production workload (the app's own
benchmark or client tool, admin commands, a `docker restart`, data checked after it); then the
same production workload under Docker's defaults (plain `docker run`) as the control. When
production fails under run.sh, `profiler verify` runs the production workload under the same
policy to name the denials. Reports per app: training, production under run.sh (with the first
failure's step, reason, log tail and denials), the control, and the attack surface the policy
still removes against Docker's default: syscalls Docker's default allows that the profile
refuses (bench/docker_default_seccomp.yaml), capabilities of Docker's 14 refused, and how many
high-risk syscalls (profiler/data/risk.yaml, class high) the profile refuses. Totals at the end.
No assertion: this script reports (tests/test_corpus_integration.py asserts on a subset).

    .venv/bin/python bench/corpus.py [--apps postgresql,redis] [--json FILE] [--work DIR]
        [--no-control] [--no-verify] [--port-base N]

Exit 0 when every selected app passed production under run.sh, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from profiler.policy import risk  # noqa: E402
from profiler.kernel import syscalls  # noqa: E402
from profiler.kernel.linux import DOCKER_DEFAULT_CAPS, cap_full  # noqa: E402

CORPUS = REPO / "samples" / "corpus"
DOCKER_DEFAULT = Path(__file__).resolve().parent / "docker_default_seccomp.yaml"
ARCH = "x86_64"
PROD_TIMEOUT = 900


def profiler_cmd() -> list[str]:
    """The profiler of this checkout (the venv's python with the checkout first on the path)."""
    return [sys.executable, "-m", "profiler.cli"]


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), **{k: str(v) for k, v in extra.items()})
    return env


def sh(args, timeout=None, **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return subprocess.CompletedProcess(args, 124, out, err + f"\ntimed out after {timeout} s")


# --- the apps ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class App:
    name: str
    dir: Path
    image: str
    runtime: str
    description: str
    publish: tuple[str, ...]  # "127.0.0.1:HOST:CONTAINER[/proto]"
    ready_port: int
    workload: Path
    production: Path
    port_env: str

    def publish_on(self, port: int) -> list[str]:
        """The publish options with the host port replaced by `port`."""
        return [f"127.0.0.1:{port}:{p.rsplit(':', 1)[-1]}" for p in self.publish]


def load_apps() -> dict[str, App]:
    apps = {}
    for spec_file in sorted(CORPUS.glob("*/sample.yaml")):
        d = spec_file.parent
        spec = yaml.safe_load(spec_file.read_text())
        if not spec.get("corpus"):
            continue
        apps[spec["name"]] = App(
            name=spec["name"], dir=d, image=spec["image"], runtime=spec.get("runtime", "?"),
            description=spec.get("description", ""),
            publish=tuple((spec.get("run") or {}).get("publish") or ()),
            ready_port=int(spec["ready_port"]), workload=d / spec["workload"],
            production=d / spec["production"], port_env=spec.get("port_env", "PROFILER_SAMPLE_PORT"))
    return apps


# --- attack surface -----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def docker_default_allowed() -> frozenset[str]:
    """Syscalls (existing on x86_64) a container with Docker's default profile and default
    capabilities may make (argument-filtered ones count as allowed)."""
    d = yaml.safe_load(DOCKER_DEFAULT.read_text())
    names = set(d["allow"]) | set(d["allow_min_kernel_4_8"]) | set(d["allow_with_args"])
    names |= set(d["allow_x86_64"])
    for cap, more in d["allow_with_cap"].items():
        if cap in DOCKER_DEFAULT_CAPS:
            names |= set(more)
    return frozenset(names & set(syscalls.table(ARCH)))


@lru_cache(maxsize=1)
def high_risk() -> frozenset[str]:
    """Syscalls of x86_64 that profiler/data/risk.yaml classes high."""
    return frozenset(n for n in syscalls.table(ARCH) if risk.syscall(n).level == "high")


def profile_allowed(seccomp_json: Path) -> set[str]:
    prof = json.loads(seccomp_json.read_text())
    table = set(syscalls.table(ARCH))
    if prof.get("defaultAction") == "SCMP_ACT_ALLOW":
        refused = {n for r in prof.get("syscalls", []) if r.get("action") != "SCMP_ACT_ALLOW"
                   and not r.get("args") for n in r["names"]}
        return table - refused
    return {n for r in prof.get("syscalls", []) if r.get("action") == "SCMP_ACT_ALLOW"
            for n in r["names"]} & table


def run_caps(run_sh: Path) -> list[str]:
    """Capabilities the emitted run line adds back after --cap-drop ALL."""
    caps = set()
    for m in re.finditer(r"--cap-add[ =]\"?([A-Za-z_,]+)", run_sh.read_text()):
        caps |= {cap_full(c) for c in m.group(1).split(",") if c}
    return sorted(caps)


def attack_surface(policy: Path) -> dict:
    allowed = profile_allowed(policy / "seccomp.json")
    docker = docker_default_allowed()
    high = high_risk()
    added = run_caps(policy / "run.sh")
    drops_all = "--cap-drop ALL" in (policy / "run.sh").read_text()
    kept = set(added) if drops_all else set(DOCKER_DEFAULT_CAPS) | set(added)
    return {
        "syscalls_allowed": len(allowed),
        "docker_default_allowed": len(docker),
        "refused_vs_docker": len(docker - allowed),
        "allowed_beyond_docker": sorted(allowed - docker),
        "caps_kept": sorted(kept),
        "caps_refused_of_docker_14": len(set(DOCKER_DEFAULT_CAPS) - kept),
        "high_risk_total": len(high),
        "high_risk_refused": len(high - allowed),
        "high_risk_refused_by_docker": len(high - docker),
        "high_risk_allowed": sorted(high & allowed),
        "docker_high_risk_allowed_refused": sorted((high & docker) - allowed),
    }


# --- one app ------------------------------------------------------------------------------------

@dataclass
class Result:
    app: str
    runtime: str
    build_ok: bool = False
    build_s: float = 0.0
    training_ok: bool = False
    record_s: float = 0.0
    record_note: str = ""
    emit_ok: bool = False
    production_ok: bool | None = None
    production_s: float = 0.0
    failure_step: str = ""
    failure: str = ""
    container_state: str = ""
    log_tail: str = ""
    workload_tail: str = ""
    denials: list = field(default_factory=list)
    verify_summary: str = ""
    control_ok: bool | None = None
    control_s: float = 0.0
    control_failure: str = ""
    surface: dict = field(default_factory=dict)
    run_options: list = field(default_factory=list)
    apparmor_ok: bool | None = None  # apparmor_parser compiles the emitted profile
    apparmor_error: str = ""


def _fail_line(text: str) -> tuple[str, str]:
    """(step, reason) from a workload's output: its first `APP: FAIL in step 'S': REASON` line
    (a check inside $(...) reports first, the caller's summary after it)."""
    for line in text.splitlines():
        m = re.search(r"FAIL in step '([^']*)': (.*)", line)
        if m:
            return m.group(1), m.group(2)
    steps = re.findall(r"^== [^:]+: (.*)$", text, re.M)
    last = next((ln for ln in reversed(text.splitlines()) if ln.strip()), "")
    return (steps[-1] if steps else "?"), last[-300:]


def _refine(res: "Result") -> None:
    """A container that exited while production waited for it: say so, with its last log line
    (the workload only saw "no answer")."""
    if res.container_state.startswith("exited") and not res.failure.startswith("container"):
        last = next((ln.strip() for ln in reversed(res.log_tail.splitlines()) if ln.strip()), "")
        res.failure = (f"container {res.container_state.split(' oom')[0]}: {last[-200:]} "
                       f"(workload: {res.failure})")


def _state(name: str) -> str:
    p = sh(["docker", "inspect", "-f",
            "{{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}} "
            "restarts={{.RestartCount}}", name], timeout=30)
    return p.stdout.strip() or "gone"


def _logs(name: str, n: int = 25) -> str:
    p = sh(["docker", "logs", "--tail", str(n), name], timeout=30)
    return (p.stdout + p.stderr)[-4000:]


def _rm(name: str) -> None:
    """Remove the container, its anonymous volumes, and the named volumes run.sh made for it
    ("NAME-<directory>": `docker rm -v` leaves named volumes, and every run has its own)."""
    sh(["docker", "rm", "-f", "-v", name], timeout=120)
    p = sh(["docker", "volume", "ls", "-q", "--filter", f"name={name}-"], timeout=60)
    mine = [v for v in p.stdout.split() if v.startswith(f"{name}-")]
    if mine:
        sh(["docker", "volume", "rm", *mine], timeout=120)


def _production(app: App, container: str, port: int) -> subprocess.CompletedProcess:
    env = _env(**{app.port_env: port, "PROFILER_CONTAINER_ID": container,
                  "PROFILER_CONTAINER_NAME": container})
    return sh([str(app.production)], timeout=PROD_TIMEOUT, env=env)


def _run_options(run_sh: Path) -> list[str]:
    """The options of the emitted run line (args=( ... ) block), comments dropped."""
    opts, inside = [], False
    for line in run_sh.read_text().splitlines():
        s = line.strip()
        if s.startswith("args=("):
            inside = True
            continue
        if inside and s == ")":
            break
        if inside and s and not s.startswith("#"):
            opts.append(re.sub(r"\s+#.*$", "", s))
    return opts


def _apparmor_check(profile: Path) -> tuple[bool | None, str]:
    """Does apparmor_parser compile the emitted profile (without loading it)? Where the kernel
    enforces AppArmor, run.sh loads it and stops when it does not compile."""
    parser = shutil.which("apparmor_parser") or shutil.which("apparmor_parser", path="/usr/sbin:/sbin")
    if not parser or not profile.is_file():
        return None, "apparmor_parser not found" if not parser else "no apparmor.profile"
    p = sh([parser, "-Q", "-K", "-T", str(profile)], timeout=120)
    errors = [ln for ln in p.stderr.splitlines() if "error" in ln.lower()]
    return p.returncode == 0, (errors[-1] if errors else p.stderr.strip()[-300:]) if p.returncode else ""


def _verify(app: App, policy: Path, port: int, work: Path) -> tuple[list, str]:
    """Denials `profiler verify` names when the production workload runs under the policy."""
    args = [*profiler_cmd(), "verify", app.image, "--policy", str(policy), "--json",
            "--workload", str(app.production), "--ready-port", str(port)]
    for p in app.publish_on(port):
        args += ["-p", p]
    proc = sh(args, timeout=PROD_TIMEOUT + 300, env=_env(**{app.port_env: port}))
    (work / f"{app.name}.verify.log").write_text(proc.stdout + "\n--- stderr\n" + proc.stderr)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        return [], (proc.stderr.strip().splitlines() or ["no output"])[-1][-300:]
    denials = []
    for d in report.get("syscalls") or []:
        denials.append({"kind": "syscall", "what": d.get("syscall"), "errno": d.get("errno"),
                        "count": d.get("count"), "by": d.get("executables")})
    for d in report.get("capabilities") or []:
        denials.append({"kind": "capability", "what": d.get("capability") or d.get("name") or d,
                        "by": d.get("executables") if isinstance(d, dict) else None})
    for key in ("writes", "apparmor_denials", "causes", "fallbacks"):
        for d in report.get(key) or []:
            denials.append({"kind": key, "what": d})
    summary = "; ".join(x for x in (
        report.get("start_error") or "",
        f"workload exit {report.get('workload_status')}",
        f"container exit {report.get('exit_code')}") if x)
    return denials, summary


def run_app(app: App, work: Path, port: int | None = None, control: bool | str = True,
            verify: bool = True, build: bool = True, progress=None,
            record_args: tuple[str, ...] = ()) -> Result:
    """Build, record, emit, production under run.sh (+ verify on failure), control.
    control: True (always), False (never) or "on_failure" (only when production failed, to
    tell a policy fault from a broken app or workload)."""
    say = progress or (lambda msg: None)
    port = port or app.ready_port
    res = Result(app=app.name, runtime=app.runtime)
    tag = uuid.uuid4().hex[:6]

    if build:
        say(f"{app.name}: building {app.image}")
        t = time.monotonic()
        p = sh(["bash", str(REPO / "scripts" / "build-samples.sh"), f"corpus/{app.name}"],
               timeout=1800)
        res.build_s = round(time.monotonic() - t, 1)
        if p.returncode != 0:
            res.failure_step, res.failure = "build", (p.stdout + p.stderr)[-500:]
            return res
    res.build_ok = True

    say(f"{app.name}: recording the training workload")
    rec = work / f"{app.name}.recording.yaml"
    args = [*profiler_cmd(), "record", app.image, "-o", str(rec), "--workload", str(app.workload),
            "--ready-port", str(port), *record_args]
    for p in app.publish_on(port):
        args += ["-p", p]
    t = time.monotonic()
    p = sh(args, timeout=900, env=_env(**{app.port_env: port}))
    res.record_s = round(time.monotonic() - t, 1)
    (work / f"{app.name}.record.log").write_text(p.stdout + "\n--- stderr\n" + p.stderr)
    if not rec.is_file():
        res.failure_step = "training"
        res.failure = (p.stderr.strip().splitlines() or ["no output"])[-1][-500:]
        return res
    res.training_ok = p.returncode == 0
    if p.returncode != 0:  # a recording was written (lost events): say so, go on
        res.record_note = (p.stderr.strip().splitlines() or [""])[-1][-300:]

    say(f"{app.name}: emitting the policy")
    policy = work / f"{app.name}-policy"
    shutil.rmtree(policy, ignore_errors=True)
    p = sh([*profiler_cmd(), "emit", str(rec), "--format", "all", "-o", str(policy)],
           timeout=300, env=_env())
    if p.returncode != 0:
        res.failure_step = "emit"
        res.failure = (p.stderr.strip().splitlines() or ["no output"])[-1][-500:]
        return res
    res.emit_ok = True
    res.surface = attack_surface(policy)
    res.run_options = _run_options(policy / "run.sh")
    res.apparmor_ok, res.apparmor_error = _apparmor_check(policy / "apparmor.profile")

    say(f"{app.name}: production under run.sh")
    name = f"profiler-corpus-run-{app.name}-{tag}"
    t = time.monotonic()
    try:
        start = sh(["bash", str(policy / "run.sh"), "-d", "--name", name], timeout=180)
        if start.returncode != 0:
            res.production_ok = False
            res.failure_step = "run.sh"
            res.failure = (start.stderr.strip().splitlines() or ["no output"])[-1][-500:]
        else:
            p = _production(app, name, port)
            res.production_ok = p.returncode == 0
            (work / f"{app.name}.production.log").write_text(p.stdout + "\n--- stderr\n" + p.stderr)
            if not res.production_ok:
                res.failure_step, res.failure = _fail_line(p.stdout + p.stderr)
                res.workload_tail = (p.stdout + p.stderr)[-2000:]
        if not res.production_ok:
            res.container_state = _state(name)
            res.log_tail = _logs(name)
            _refine(res)
    finally:
        res.production_s = round(time.monotonic() - t, 1)
        _rm(name)

    if not res.production_ok and verify and res.failure_step != "run.sh":
        say(f"{app.name}: profiler verify with the production workload (naming denials)")
        res.denials, res.verify_summary = _verify(app, policy, port, work)

    if control is True or (control == "on_failure" and not res.production_ok):
        say(f"{app.name}: production under Docker's defaults (control)")
        name = f"profiler-corpus-ctl-{app.name}-{tag}"
        t = time.monotonic()
        try:
            args = ["docker", "run", "-d", "--name", name]
            for pub in app.publish_on(port):
                args += ["-p", pub]
            start = sh([*args, app.image], timeout=180)
            if start.returncode != 0:
                res.control_ok, res.control_failure = False, start.stderr.strip()[-300:]
            else:
                p = _production(app, name, port)
                res.control_ok = p.returncode == 0
                if not res.control_ok:
                    res.control_failure = ": ".join(_fail_line(p.stdout + p.stderr))
        finally:
            res.control_s = round(time.monotonic() - t, 1)
            _rm(name)
    return res


# --- report -------------------------------------------------------------------------------------

def _mark(ok: bool | None) -> str:
    return "-" if ok is None else ("pass" if ok else "FAIL")


def _yes(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "NO")


def totals(results: list[Result]) -> dict:
    ran = [r for r in results if r.production_ok is not None]
    surf = [r.surface for r in results if r.surface]
    return {
        "apps": len(results),
        "training_pass": sum(r.training_ok for r in results),
        "production_pass": sum(bool(r.production_ok) for r in results),
        "production_ran": len(ran),
        "control_pass": sum(bool(r.control_ok) for r in results),
        "control_ran": sum(r.control_ok is not None for r in results),
        "apparmor_ok": sum(bool(r.apparmor_ok) for r in results),
        "refused_vs_docker_mean": round(sum(s["refused_vs_docker"] for s in surf) / len(surf), 1)
        if surf else None,
        "caps_refused_mean": round(sum(s["caps_refused_of_docker_14"] for s in surf) / len(surf), 1)
        if surf else None,
        "high_risk_refused_min": min((s["high_risk_refused"] for s in surf), default=None),
        "high_risk_total": surf[0]["high_risk_total"] if surf else None,
        "record_s": round(sum(r.record_s for r in results), 1),
        "production_s": round(sum(r.production_s for r in results), 1),
        "control_s": round(sum(r.control_s for r in results), 1),
    }


def print_table(results: list[Result], tot: dict, wall_s: float) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="corpus: the emitted run.sh under each app's production workload")
    for col in ("app", "runtime", "training", "production (run.sh)", "control (Docker defaults)",
                "AppArmor compiles",
                "first failure", "syscalls refused vs Docker", "caps refused of 14",
                "high-risk refused", "record s", "prod s"):
        t.add_column(col, overflow="fold")
    for r in results:
        s = r.surface
        t.add_row(
            r.app, r.runtime, _mark(r.training_ok if r.build_ok else None), _mark(r.production_ok),
            _mark(r.control_ok), _yes(r.apparmor_ok),
            (f"{r.failure_step}: {r.failure}"[:160] if r.failure else ""),
            str(s["refused_vs_docker"]) if s else "-",
            str(s["caps_refused_of_docker_14"]) if s else "-",
            f"{s['high_risk_refused']}/{s['high_risk_total']} (Docker {s['high_risk_refused_by_docker']})"
            if s else "-",
            f"{r.record_s:.0f}", f"{r.production_s:.0f}")
    t.add_section()
    t.add_row("total", "", f"{tot['training_pass']}/{tot['apps']}",
              f"{tot['production_pass']}/{tot['apps']}",
              f"{tot['control_pass']}/{tot['control_ran']}", f"{tot['apparmor_ok']}/{tot['apps']}", "",
              f"mean {tot['refused_vs_docker_mean']}", f"mean {tot['caps_refused_mean']}",
              f"min {tot['high_risk_refused_min']}/{tot['high_risk_total']}",
              f"{tot['record_s']:.0f}", f"{tot['production_s']:.0f}")
    con = Console(stderr=True, width=None if sys.stderr.isatty() else 220)
    con.print(t)
    con.print(f"wall time {wall_s:.0f} s")


def markdown(results: list[Result], tot: dict) -> str:
    """The per-app table in Markdown (for docs and notes), totals last."""
    rows = ["| app | runtime | training | production under run.sh | control (Docker's defaults) "
            "| AppArmor compiles | first failure (step: reason) | syscalls refused that Docker allows | caps refused "
            "of Docker's 14 | high-risk syscalls refused (Docker's default) | record s | production s |",
            "| --- | --- | --- | --- | --- | --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for r in results:
        s = r.surface
        fail = f"{r.failure_step}: {r.failure}".replace("|", "\\|")[:200] if r.failure else ""
        rows.append(
            f"| {r.app} | {r.runtime} | {_mark(r.training_ok if r.build_ok else None)} "
            f"| {_mark(r.production_ok)} | {_mark(r.control_ok)} | {_yes(r.apparmor_ok)} | {fail} "
            f"| {s['refused_vs_docker'] if s else '-'} of {s['docker_default_allowed'] if s else '-'} "
            f"| {s['caps_refused_of_docker_14'] if s else '-'} "
            f"| {str(s['high_risk_refused']) + '/' + str(s['high_risk_total']) if s else '-'}"
            f" ({s['high_risk_refused_by_docker'] if s else '-'}) "
            f"| {r.record_s:.0f} | {r.production_s:.0f} |")
    rows.append(
        f"| **total** | | {tot['training_pass']}/{tot['apps']} | **{tot['production_pass']}/"
        f"{tot['apps']}** | {tot['control_pass']}/{tot['control_ran']} "
        f"| {tot['apparmor_ok']}/{tot['apps']} | "
        f"| mean {tot['refused_vs_docker_mean']} | mean {tot['caps_refused_mean']} "
        f"| min {tot['high_risk_refused_min']}/{tot['high_risk_total']} "
        f"| {tot['record_s']:.0f} | {tot['production_s']:.0f} |")
    return "\n".join(rows) + "\n"


def _bad_input(message: str) -> None:
    """One line and exit 2, as profiler's own bad-input errors."""
    print(f"bench/corpus.py: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", help="comma-separated app names (default: all of samples/corpus)")
    ap.add_argument("--json", type=Path, default=REPO / "out" / "corpus-results.json",
                    help="results file (default: out/corpus-results.json)")
    ap.add_argument("--work", type=Path, help="keep recordings, policies and logs here")
    ap.add_argument("--no-control", action="store_true", help="skip the Docker-defaults run")
    ap.add_argument("--no-verify", action="store_true",
                    help="do not run `profiler verify` on a production failure")
    ap.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    ap.add_argument("--record-arg", action="append", default=[], dest="record_args",
                    help="an extra `profiler record` argument for every app (repeatable), "
                         "e.g. --record-arg=--restart (a later boot in the recording)")
    ap.add_argument("--from-json", type=Path,
                    help="only print the table (and --markdown) of an earlier run's results")
    ap.add_argument("--port-base", type=int,
                    help="publish app i on PORT+i instead of its own port (ports 19000-19099)")
    a = ap.parse_args()
    if a.from_json:
        try:
            data = json.loads(a.from_json.read_text())
            known = set(Result.__dataclass_fields__)
            results = [Result(**{k: v for k, v in r.items() if k in known})
                       for r in data["results"]]
        except OSError as e:
            _bad_input(f"{a.from_json}: {e.strerror}")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            _bad_input(f"{a.from_json}: not the JSON bench/corpus.py writes ({e.__class__.__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''})")
        for r in results:  # fields an older run did not fill, from its kept files
            policy = Path(data.get("work", "")) / f"{r.app}-policy"
            if r.apparmor_ok is None and policy.is_dir():
                r.apparmor_ok, r.apparmor_error = _apparmor_check(policy / "apparmor.profile")
            if r.workload_tail and "FAIL in step" in r.workload_tail:
                r.failure_step, r.failure = _fail_line(r.workload_tail)
            _refine(r)
        tot = totals(results)
        print_table(results, tot, data.get("wall_s", 0))
        if a.markdown:
            a.markdown.write_text(markdown(results, tot))
        return
    if os.geteuid() != 0:
        sys.exit("bench/corpus.py: needs root (eBPF and the Docker engine)")
    apps = load_apps()
    names = a.apps.split(",") if a.apps else list(apps)
    unknown = [n for n in names if n not in apps]
    if unknown:
        _bad_input(f"no corpus app {', '.join(unknown)} (have: {', '.join(apps)})")
    work = a.work or Path(tempfile.mkdtemp(prefix="profiler-corpus."))
    work.mkdir(parents=True, exist_ok=True)
    from rich.console import Console
    con = Console(stderr=True)
    results: list[Result] = []
    t0 = time.monotonic()
    for i, n in enumerate(names):
        port = a.port_base + i if a.port_base else None
        with con.status(f"{n}") as status:
            r = run_app(apps[n], work, port=port, control=not a.no_control,
                        verify=not a.no_verify, progress=lambda m: status.update(m),
                        record_args=tuple(a.record_args))
        results.append(r)
        con.print(f"{n}: training {_mark(r.training_ok)}, production {_mark(r.production_ok)}"
                  f"{' (' + r.failure_step + ': ' + r.failure[:120] + ')' if r.failure else ''},"
                  f" control {_mark(r.control_ok)}  [record {r.record_s:.0f} s, production "
                  f"{r.production_s:.0f} s, control {r.control_s:.0f} s]")
        # written after every app, so a partial run leaves its results
        tot = totals(results)
        a.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = a.json.with_suffix(".tmp")
        tmp.write_text(json.dumps({"results": [asdict(x) for x in results], "totals": tot,
                                   "wall_s": round(time.monotonic() - t0, 1),
                                   "work": str(work)}, indent=2, default=str))
        tmp.replace(a.json)
    tot = totals(results)
    print_table(results, tot, time.monotonic() - t0)
    if a.markdown:
        a.markdown.write_text(markdown(results, tot))
    con.print(f"results: {a.json}; recordings, policies and logs: {work}")
    sys.exit(0 if tot["production_pass"] == len(results) else 1)


if __name__ == "__main__":
    main()

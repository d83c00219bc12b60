"""The host matrix: boot stock Debian hosts as VMs and run profiler in each as a user would.

    make test-hosts [HOSTS="debian12 debian13 forky"]
    python3 tests/hosts/harness.py [HOST...] [--json FILE] [--rebuild] [--keep] [--bpf-only]
    python3 tests/hosts/harness.py forky debian12 --cross [--samples "probe nginx"] [--corpus redis]

For each host: build its VM image once (tests/hosts/build-image.sh: a stock install of the
release plus what set-up installs) and cache it under /var/cache/profiler-hosts/, keyed by a hash
of the build recipe so a changed recipe rebuilds; boot a throw-away qcow2 overlay of it under
QEMU's TCG (KVM guests hang on our machines, ../shared/NOTES.md), with no network and one 9p
share. The share holds what a networked user would download: a git bundle of the commit under
test (HEAD), a wheelhouse of the venv's PyPI packages for the guest's Python, and a `docker save`
of the base and sample images built here. The guest runs tests/hosts/guest.py at boot (clone,
`make setup`, then record -> emit -> verify -> run.sh -> negative controls per sample) and
powers off. Results: a table per host, sample and step (passed/failed/skipped, seconds, first
error line) and a JSON file (default out/hosts/results.json); each run's share, with the
guest's full logs, stays in /var/cache/profiler-hosts/runs/HOST/ until the next run of that host.
Exit 0 only when every step of every host passed.

`--cross` proves a policy recorded on one host on another (production's kernel and runtime newer
or older than the recording host's: SPO#3130, SPO PR#3041): the hosts run in order, each
carrying the recordings of the one before it (guest.py copies each to SHARE/recordings/) and
emitting and verifying them too (steps cross-emit, cross-verify, cross-run-line, sample
NAME-from-HOST); then the first host runs once more, cross-only, with the last one's. For two
hosts: A, B with A's recordings, A with B's: both directions. `--samples` limits the samples a
run records (each VM run costs 15-20 minutes of TCG; fewer samples, fewer minutes).

`--corpus` names the corpus apps (samples/corpus/APP; default redis) each run also holds to
production: recorded with the app's training workload, then the emitted run.sh (loading the
emitted AppArmor profile where the kernel enforces it, the app checked confined by it) serving
the app's own production workload (benchmark client, admin commands, a restart, data that must
survive it), and a negative control: `profiler verify` with a workload that writes and executes
what training never did must fail and name both AppArmor denials. `--samples none --corpus
APP` runs the corpus app alone.

`--bench "ARGS"` runs issue 21's benchmark in the VM instead of the samples: set-up, then
bench/record_bench.py ARGS (logs/bench-record-bench.log in the share; bench/hosts_bench.py runs
it for `make bench` and prints that table). The VM image carries the bench's peer (bpftrace).

`--bpf-only` is the quick check (about a minute a host instead of a VM run): the recorder of the
working tree compiled by each host's own bcc and LLVM in a chroot of its release
(build-bpf-root.sh, cached like the images) and loaded on this machine's kernel in every
configuration record and verify use (bpf_load.py). What the verifier accepts depends on the
compiler's code: Debian 13's LLVM 19 and forky's LLVM 21 produced two programs the verifier
refused that bookworm's LLVM 14 did not. The verifier is this machine's, so it does not replace
the VM run; it finds compiler-dependent refusals before one.

Needs root on the host (debootstrap, chroot, Docker); installs qemu and qemu-utils when missing.
Runs one VM at a time: TCG is CPU-bound and the machines have 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import guest  # (this directory) the guest's own names for what it leaves in the share

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path(os.environ.get("PROFILER_HOSTS_CACHE", "/var/cache/profiler-hosts"))

BOOT_TIMEOUT = 600  # kernel + systemd + dockerd under TCG: 60-90 s seen, slack for a busy host
# The guest bounds each of its steps (guest.TIMEOUTS); this bounds the whole VM on top of that.
VM_TIMEOUT = int(os.environ.get("PROFILER_HOSTS_VM_TIMEOUT", 3 * 3600))
# A deadline (seconds since the epoch) no VM outlives, whatever VM_TIMEOUT says: .ci/run sets it
# so that the VM leg ends, passed or failed, inside CI's time.
DEADLINE = float(os.environ.get("PROFILER_HOSTS_DEADLINE", "0") or 0)
# The guest's kernel has hung under TCG: soft lockups on both vCPUs at syscall entry while a
# tracer attached, for an hour, until CI's time ran out (2026-12-06, three times in some 20
# runs; the steps' own timeouts cannot fire in a hung guest). A soft lockup this long is taken
# as a hang: the VM is killed and booted once more (HANG_RETRIES) to finish what the first boot
# did not.
HUNG_AFTER = 120  # seconds one vCPU reports itself stuck; short ones happen on a busy host
# What the hangs show (console.log): both vCPUs at
# syscall_trace_enter+0xd8, a jump label the kernel had just patched with text_poke_bp (int3
# first, then the jump) as a tracer attached; memory holds the new jump, yet a vCPU keeps taking
# the int3 (asm_exc_int3, RIP +0xd9) for as long as it runs: a stale translation of the patched
# code in QEMU's multi-threaded TCG, where each vCPU has a host thread of its own (our reading;
# not confirmed upstream). With one thread for both vCPUs ("single") they take turns: no vCPU
# runs while another rewrites code, and a write drops the code's translations before the other
# runs again. It costs the second host core; the hang check and the retry stay, in case.
TCG_THREAD = os.environ.get("PROFILER_HOSTS_TCG_THREAD", "single")
HANG_RETRIES = int(os.environ.get("PROFILER_HOSTS_HANG_RETRIES", "1"))
LOCKUP = re.compile(r"soft lockup - CPU#\d+ stuck for (\d+)s")


@dataclass(frozen=True)
class Host:
    name: str
    suite: str  # Debian suite on the machine's apt mirror
    what: str
    # Packages the image gets on top of the stock install and set-up's list (its own cached
    # image: the recipe key covers them).
    packages: tuple[str, ...] = ()
    # "docker" (the distribution's dockerd) or "podman": the guest stops dockerd, starts
    # podman.socket and points DOCKER_HOST at it for set-up and every step (guest.py).
    engine: str = "docker"


# Podman as Debian 12 installs it as root: podman 4.3 with its default runtime crun (the first
# alternative of podman's `crun | runc`), conmon, and netavark, the network stack that
# golang-github-containers-common recommends (named, because --no-install-recommends would
# leave the virtual container-network-stack to chance); aardvark-dns and catatonit are
# podman's recommends that a default install has.
PODMAN_PACKAGES = ("podman", "crun", "conmon", "netavark", "aardvark-dns", "catatonit")

HOSTS = {h.name: h for h in (
    Host("debian12", "bookworm", "Debian 12, kernel 6.1"),
    Host("debian12-podman", "bookworm", "Debian 12, kernel 6.1, Podman 4.3 (crun) through its "
         "Docker-compatible socket", PODMAN_PACKAGES, "podman"),
    Host("debian13", "trixie", "Debian 13, kernel 6.12"),
    Host("forky", "forky", "Debian testing: the newest kernel the mirror serves"),
)}
# `make test-hosts` without HOSTS: the Docker hosts; variants are named explicitly.
DEFAULT_HOSTS = ("debian12", "debian13", "forky")

# Corpus apps (samples/corpus/APP) every VM run holds to production by default (--corpus): one
# small C app with data in a VOLUME, its own benchmark client, a restart (issue 18).
CORPUS = ("redis",)
# Samples every VM run takes through the loop of issue 19 (--harvest): complain mode, harvest of
# the kernel's AppArmor ALLOWED and seccomp records, promote, verify enforced (guest.run_harvest).
HARVEST = ("redis",)

# What the image is built from: a change to any of these rebuilds it.
RECIPE = [HERE / "build-image.sh", HERE / "rootfs.sh", REPO / "scripts" / "lib.sh", REPO / "scripts" / "apt-mirror.sh"]


def say(msg: str) -> None:
    print(f"hosts: {msg}", file=sys.stderr, flush=True)


def run(argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, **kw)


# --- host tools ------------------------------------------------------------------------------

def ensure_tools() -> None:
    need = {"qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils",
            "debootstrap": "debootstrap", "mkfs.ext4": "e2fsprogs", "git": "git"}
    missing = sorted({pkg for tool, pkg in need.items() if not shutil.which(tool)})
    if missing:
        say(f"installing {' '.join(missing)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "-q", "update"], env=env, stdout=subprocess.DEVNULL)
        run(["apt-get", "-y", "-q", "--no-install-recommends", "install", *missing], env=env,
            stdout=subprocess.DEVNULL)
    if not shutil.which("docker"):
        sys.exit("hosts: the docker command is missing: run `make setup` first")


# --- images ----------------------------------------------------------------------------------

def recipe_key(host: Host) -> str:
    h = hashlib.sha256(" ".join((host.suite, *host.packages)).encode())
    for p in RECIPE:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def image_dir(host: Host, rebuild: bool) -> Path:
    """The host's cached image, built when absent or when its recipe changed."""
    key = recipe_key(host)
    final = CACHE / "images" / f"{host.name}-{key}"
    if final.joinpath("info.env").exists() and not rebuild:
        return final
    tmp = CACHE / "images" / f".{host.name}-{key}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"{host.name}: building the VM image (debootstrap {host.suite}; several minutes)")
    t = time.monotonic()
    run(["bash", str(HERE / "build-image.sh"), host.suite, str(tmp), *host.packages])
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    say(f"{host.name}: image built in {time.monotonic() - t:.0f} s")
    for old in final.parent.glob(f"{host.name}-*"):  # images of older recipes
        # (debian12-* also matches debian12-podman-*: only NAME-<key> is this host's)
        if old != final and len(old.name) == len(final.name):
            shutil.rmtree(old, ignore_errors=True)
    return final


def image_info(d: Path) -> dict:
    return dict(line.split("=", 1) for line in d.joinpath("info.env").read_text().split())


# --- what the guest would download -----------------------------------------------------------

def bundle(dest: Path) -> str:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=True).stdout.strip()
    if dirty:
        say("warning: uncommitted changes are not tested; the guest clones HEAD " + head[:12])
    run(["git", "-C", str(REPO), "bundle", "create", str(dest), "HEAD"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return head


def requirements() -> list[str]:
    """The venv's PyPI packages (pyproject's dependencies and test extra) and the build backend
    an editable install needs, read from the project itself."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    reqs = list(meta["project"]["dependencies"])
    for extra in meta["project"].get("optional-dependencies", {}).values():
        reqs += extra
    return reqs + list(meta["build-system"]["requires"]) + ["wheel"]


def wheelhouse(python: str) -> Path:
    """Wheels for the guest's CPython (binary only: nothing compiles in the guest), cached per
    Python version and requirement list."""
    reqs = requirements()
    key = hashlib.sha256(f"{python} {reqs}".encode()).hexdigest()[:16]
    d = CACHE / "inputs" / f"wheels-py{python}-{key}"
    if d.exists():
        return d
    tmp = d.with_name(d.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"downloading wheels for Python {python}")
    plat = []
    for p in ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"):
        plat += ["--platform", p]
    run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
         "--only-binary=:all:", "--implementation", "cp", "--python-version", python, *plat,
         "-d", str(tmp), *reqs])
    tmp.rename(d)
    return d


def image_archive(samples: tuple[str, ...] = (), corpus: tuple[str, ...] = (),
                  harvest: tuple[str, ...] = ()) -> Path:
    """`docker save` of the base and sample images, built here from the working tree (their
    label hashes match the clone's, so set-up in the guest finds them current), and of the
    corpus apps' images the run holds to production (samples/corpus/APP). With `samples`
    (--samples) only theirs: `docker load` is most of the guest's set-up (758 of 1050 s for
    every sample on a busy machine), and the guest's set-up then skips building the others."""
    run(["bash", str(REPO / "scripts" / "build-samples.sh")])
    if corpus:
        run(["bash", str(REPO / "scripts" / "build-samples.sh"), *(f"corpus/{a}" for a in corpus)])
    names = ["profiler-base:bookworm"]
    specs = sorted(REPO.glob("samples/*/sample.yaml"))
    if samples:
        specs = [s for s in specs if s.parent.name in samples or s.parent.name in harvest]
    specs += [REPO / "samples" / "corpus" / a / "sample.yaml" for a in corpus]
    for spec in specs:
        for line in spec.read_text().splitlines():
            if line.startswith("image:"):
                names.append(line.split(":", 1)[1].strip().strip("'\""))
            elif line.startswith("  ") and "profiler-sample-" in line:  # a compose sample's images:
                names.append(line.split(":", 1)[1].strip().strip("'\""))
    ids = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", *names],
                         capture_output=True, text=True, check=True).stdout
    key = hashlib.sha256(f"{names} {ids}".encode()).hexdigest()[:16]
    d = CACHE / "inputs" / f"images-{key}.tar"
    if not d.exists():
        say(f"docker save {' '.join(names)}")
        tmp = d.with_name(d.name + ".tmp")
        run(["docker", "save", "-o", str(tmp), *names])
        tmp.rename(d)
        for old in d.parent.glob("images-*.tar"):
            if old != d:
                old.unlink()
    return d


def link(src: Path, dest: Path) -> None:
    """Into the share without copying (same filesystem); the guest sees a plain file."""
    if src.is_dir():
        dest.mkdir()
        for f in src.iterdir():
            link(f, dest / f.name)
    else:
        try:
            os.link(src, dest)
        except OSError:
            shutil.copy2(src, dest)


# --- one VM run ------------------------------------------------------------------------------

def hang_in(console: Path, offset: int) -> tuple[str, int]:
    """The console's first soft lockup of HUNG_AFTER seconds or more after byte offset (its
    line, or ""), and the offset read up to (a whole line's end)."""
    try:
        with console.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return "", offset
    data = data[:data.rfind(b"\n") + 1]
    for line in data.decode(errors="replace").splitlines():
        m = LOCKUP.search(line)
        if m and int(m.group(1)) >= HUNG_AFTER:
            return line.strip(), offset + len(data)
    return "", offset + len(data)


def time_left() -> float:
    """Seconds until PROFILER_HOSTS_DEADLINE (infinite without one)."""
    return DEADLINE - time.time() if DEADLINE else float("inf")


def boot(host: Host, img: Path, share: Path, keep: bool) -> tuple[str, bool]:
    """Boot the guest on an overlay of img, wait (bounded) for it to power off, return ("", False)
    or why the VM itself failed, and whether that was a hang of the guest's kernel."""
    overlay = share.parent / f"{host.name}.overlay.qcow2"
    overlay.unlink(missing_ok=True)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
         str(img / "disk.qcow2"), str(overlay)])
    argv = [
        "qemu-system-x86_64", "-accel", f"tcg,thread={TCG_THREAD}", "-cpu", "max", "-smp", "2",
        "-m", "6144", "-kernel", str(img / "vmlinuz"), "-initrd", str(img / "initrd.img"),
        "-append", "root=/dev/vda rw console=ttyS0 panic=-1",
        "-drive", f"file={overlay},if=virtio,format=qcow2,cache=unsafe",
        "-virtfs", f"local,path={share},mount_tag=host,security_model=none,id=host",
        "-nic", "none", "-display", "none", "-monitor", "none", "-no-reboot",
        "-serial", f"file:{share / 'console.log'}",
    ]
    t = time.monotonic()
    seen = 0
    console_read = 0
    hung = False
    limit = min(VM_TIMEOUT, time_left())
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=(share / "qemu.log").open("w"))
    why = ""
    try:
        while proc.poll() is None:
            time.sleep(5)
            elapsed = time.monotonic() - t
            results = share / "results.jsonl"
            lines = results.read_text().splitlines() if results.exists() else []
            for line in lines[seen:]:  # progress, as the guest reports it
                r = json.loads(line)
                say(f"{host.name}: {r['sample']} {r['step']}: {r['status']} "
                    f"({r['seconds']:.0f} s) {r['error']}")
            seen = len(lines)
            lockup, console_read = hang_in(share / "console.log", console_read)
            if lockup:
                hung = True
                why = f"the guest's kernel hung after {elapsed:.0f} s (console.log: {lockup})"
            elif not (share / "facts.json").exists() and elapsed > BOOT_TIMEOUT:
                why = f"the guest did not start its run within {BOOT_TIMEOUT} s (see console.log)"
            elif elapsed > limit:
                why = (f"the VM did not finish within {limit:.0f} s"
                       + (" (PROFILER_HOSTS_DEADLINE)" if limit < VM_TIMEOUT else ""))
            if why:
                proc.kill()
        proc.wait()
        if not why and not (share / "exit_code").exists():
            why = (f"the VM stopped (qemu exit {proc.returncode}) before the guest finished "
                   f"(see console.log, qemu.log)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if not keep:
            overlay.unlink(missing_ok=True)
    say(f"{host.name}: VM ran {time.monotonic() - t:.0f} s" + (f"; {why}" if why else ""))
    return why, hung


ATTEMPT_FILES = ("console.log", "guest.log", "results.jsonl", "qemu.log", "logs")


def guest_rows(share: Path) -> list[dict]:
    """The result rows the guest wrote (SHARE/results.jsonl), none if it wrote none."""
    f = share / "results.jsonl"
    return [json.loads(line) for line in f.read_text().splitlines()] if f.exists() else []


def set_attempt_aside(share: Path, n: int, why: str) -> list[dict]:
    """After boot n hung: move its files to NAME-boot-n (console-boot-1.log, logs-boot-1/...),
    so the next boot starts clean on the same share, and return the rows to keep: those of the
    units the guest finished (guest.finished_units; the next boot skips them), their logs re-pointed,
    and a row that says the boot hung ("retried", not a failure: the run goes on)."""
    rows = guest_rows(share)
    for name in ATTEMPT_FILES:
        src = share / name
        if src.exists():
            stem, dot, ext = name.partition(".")
            src.rename(share / f"{stem}-boot-{n}{dot}{ext}")
    for name in ("exit_code", "facts.json"):  # the next boot writes its own
        (share / name).unlink(missing_ok=True)
    finished = guest.finished_units(share)
    kept = []
    for r in rows:
        if r["sample"].split(":", 1)[0] in finished:
            if r.get("log", "").startswith("logs/"):
                r["log"] = f"logs-boot-{n}/" + r["log"].removeprefix("logs/")
            kept.append(r)
    return kept + [{"sample": "host", "step": f"vm boot {n}", "status": "retried", "seconds": 0.0,
                    "error": why, "log": f"console-boot-{n}.log"}]


def cross_plan(names: list[str]) -> list[tuple[str, str | None, bool]]:
    """--cross: (host, the host whose recordings it gets or None, cross-only) in run order. Each
    host records and verifies its own samples and the previous host's recordings; the first
    runs once more, cross-only, with the last one's, so two hosts are proven both ways."""
    if len(names) < 2:
        raise ValueError("--cross needs two hosts or more (the recording host and the other)")
    plan: list[tuple[str, str | None, bool]] = [(names[0], None, False)]
    plan += [(names[i], names[i - 1], False) for i in range(1, len(names))]
    return plan + [(names[0], names[-1], True)]


def recordings_of(host_name: str) -> Path:
    """Where a host's recordings are kept after its run, for the next host (--cross)."""
    return CACHE / "runs" / f"{host_name}.recordings"


def run_host(host: Host, rebuild: bool, keep: bool, cgroupfs: bool = False, *,
             origin: str | None = None, cross_only: bool = False,
             samples: tuple[str, ...] = (), corpus: tuple[str, ...] = (),
             harvest: tuple[str, ...] = (), inject_hang: str = "", bench: str = "") -> dict:
    t0 = time.monotonic()
    try:
        img = image_dir(host, rebuild)
    except subprocess.CalledProcessError:
        return {"host": host.name, "suite": host.suite, "what": host.what, "facts": {},
                "image_kernel": "?", "total_seconds": round(time.monotonic() - t0, 1),
                "share": str(CACHE / "images"),
                "results": [{"sample": "host", "step": "image", "status": "failed",
                             "seconds": round(time.monotonic() - t0, 1), "log": "build.log",
                             "error": "building the VM image failed (its log is named above)"}]}
    info = image_info(img)
    # (a cross-only run keeps its own share: the host's first run's logs stay)
    share = CACHE / "runs" / (host.name + (".cross" if cross_only else ""))
    shutil.rmtree(share, ignore_errors=True)
    share.mkdir(parents=True)
    commit = bundle(share / "repo.bundle")
    link(wheelhouse(info["PYTHON"]), share / "wheels")
    link(image_archive(samples, corpus, harvest), share / "images.tar")
    shutil.copy2(HERE / "guest.py", share / "guest.py")
    if cgroupfs:
        (share / "docker-cgroupfs").touch()
    missing = ""
    if origin is not None:  # --cross: the recordings another host made, to verify here
        (share / "foreign").mkdir()
        if recordings_of(origin).is_dir():
            link(recordings_of(origin), share / "foreign" / origin)
        else:
            missing = f"{origin} made no recording to carry here (its record steps failed)"
    if cross_only:
        (share / "cross-only").touch()
    if samples:
        (share / "samples").write_text("\n".join(samples) + "\n")
    if corpus:
        (share / "corpus").write_text("\n".join(corpus) + "\n")
    if harvest:
        (share / "harvest").write_text("\n".join(harvest) + "\n")
    (share / "engine").write_text(host.engine + "\n")
    if inject_hang:
        (share / "hang-at").write_text(inject_hang + "\n")
    if bench:  # (--bench) the guest runs only bench/record_bench.py with these arguments
        (share / guest.BENCH).write_text(bench + "\n")
    (share / "boot.sh").write_text(
        "#!/bin/bash\n# Run by the image's profiler-hosts.service at boot.\n"
        "cd /mnt/host && exec python3 /mnt/host/guest.py /mnt/host >/mnt/host/guest.log 2>&1\n")
    prepared = time.monotonic() - t0
    say(f"{host.name}: booting {info['SUITE']} (kernel {info['KERNEL']}) under TCG")
    earlier: list[dict] = []  # rows of boots that hung, kept
    for n in range(1, HANG_RETRIES + 2):
        if time_left() < BOOT_TIMEOUT:  # (CI) a run that cannot finish is not started
            why, hung = (f"not booted: {time_left():.0f} s left before PROFILER_HOSTS_DEADLINE, "
                         f"less than a boot may take ({BOOT_TIMEOUT} s)"), False
            break
        why, hung = boot(host, img, share, keep)
        if not (hung and n <= HANG_RETRIES and time_left() > BOOT_TIMEOUT):
            break
        say(f"{host.name}: booting again for what boot {n} did not finish")
        earlier += set_attempt_aside(share, n, why)
    results = earlier + guest_rows(share)
    rc = (share / "exit_code").read_text().strip() if (share / "exit_code").exists() else ""
    if not why and rc != "0" and all(x["status"] in ("passed", "retried") for x in results):
        why = f"the guest's run ended with exit {rc} without a failed step (see guest.log)"
    if not why and not results:
        why = "the guest reported no step (see guest.log)"
    if why:
        results.append({"sample": "host", "step": "vm", "status": "failed", "seconds": 0.0,
                        "error": why, "log": "console.log"})
    if missing:
        results.append({"sample": f"from-{origin}", "step": "cross-recordings",
                        "status": "failed", "seconds": 0.0, "error": missing, "log": ""})
    facts = json.loads((share / "facts.json").read_text()) if (share / "facts.json").exists() else {}
    if (share / "recordings").is_dir() and not cross_only:  # for the next host (--cross)
        kept = recordings_of(host.name)
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(share / "recordings", kept)
    return {"host": host.name, "suite": host.suite, "what": host.what, "commit": commit,
            "cross": {"from": origin, "only": cross_only} if origin or cross_only else None,
            "image_kernel": info["KERNEL"], "image_build_seconds": int(info["BUILD_SECONDS"]),
            "prepare_seconds": round(prepared, 1), "docker_cgroupfs_workaround": cgroupfs,
            "total_seconds": round(time.monotonic() - t0, 1), "share": str(share),
            "facts": facts, "results": results}


# --- the quick check: the recorder through each release's compiler, on this kernel -----------

BPF_RECIPE = [HERE / "build-bpf-root.sh", HERE / "rootfs.sh", REPO / "scripts" / "lib.sh",
              REPO / "scripts" / "apt-mirror.sh"]
BPF_LINE = re.compile(r"^(ok|FAIL) +([^:]+)(?:: (.*))?$")


def bpf_root(suite: str, rebuild: bool) -> Path:
    """The release's bpf check chroot (build-bpf-root.sh), built when absent or its recipe changed."""
    h = hashlib.sha256(suite.encode())
    for p in BPF_RECIPE:
        h.update(p.read_bytes())
    final = CACHE / "bpfroots" / f"{suite}-{h.hexdigest()[:16]}"
    if final.joinpath("info.env").exists() and not rebuild:
        return final
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"{suite}: building the bpf check chroot (debootstrap, bcc, headers; a few minutes)")
    run(["bash", str(HERE / "build-bpf-root.sh"), suite, str(tmp)])
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in final.parent.glob(f"{suite}-*"):  # chroots of older recipes
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def one_per_release(names: list[str]) -> list[str]:
    """The first host of each release: a variant of a host (debian12-podman) has its compiler."""
    seen, out = set(), []
    for n in names:
        if HOSTS[n].suite not in seen:
            seen.add(HOSTS[n].suite)
            out.append(n)
    return out


def bpf_results(output: str) -> list[dict]:
    """bpf_load.py's "ok MODE" / "FAIL MODE: why" lines as result rows (the verifier's log, which
    comes before a FAIL line, stays in the log file)."""
    rows = []
    for line in output.splitlines():
        m = BPF_LINE.match(line)
        if m:
            rows.append({"sample": "bpf", "step": m.group(2).strip(),
                         "status": "passed" if m.group(1) == "ok" else "failed",
                         "seconds": 0.0, "error": m.group(3) or "", "log": ""})
    return rows


def bpf_check(host: Host, rebuild: bool) -> dict:
    """Compile and load the working tree's recorder with the host release's bcc on this kernel."""
    t0 = time.monotonic()
    base = {"host": host.name, "suite": host.suite, "what": host.what, "commit": "working tree",
            "mode": "bpf-only", "facts": {"kernel": os.uname().release}}
    try:
        d = bpf_root(host.suite, rebuild)
    except subprocess.CalledProcessError:
        return {**base, "image_kernel": "?", "total_seconds": round(time.monotonic() - t0, 1),
                "share": str(CACHE / "bpfroots"),
                "results": [{"sample": "bpf", "step": "chroot", "status": "failed", "seconds": 0.0,
                             "log": "build.log", "error": "building the bpf check chroot failed"}]}
    info = image_info(d)
    root = d / "rootfs"
    log = d / "load.log"
    mounts = []
    try:
        for src, dest, opts in (("/proc", "proc", ["--bind"]), ("/dev", "dev", ["--bind"]),
                                ("/sys", "sys", ["--rbind", "--make-rslave"]),
                                (str(REPO), "src", ["--bind"])):
            (root / dest).mkdir(exist_ok=True)
            run(["mount", *opts, src, str(root / dest)])
            mounts.append(root / dest)
        run(["mount", "-o", "remount,bind,ro", str(root / "src")])
        # bcc wants the running kernel's build tree: the release's generic headers stand in, as
        # set-up links them on a host whose kernel has none (README, "Set-up").
        modules = root / "lib" / "modules" / os.uname().release
        modules.mkdir(parents=True, exist_ok=True)
        for name, suffix in (("build", "-amd64"), ("source", "-common")):
            tree = sorted((root / "usr" / "src").glob(f"linux-headers-*{suffix}"))[-1]
            (modules / name).unlink(missing_ok=True)
            (modules / name).symlink_to(Path("/usr/src") / tree.name)
        with log.open("w") as out:
            proc = subprocess.run(
                ["chroot", str(root), "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                 "PYTHONPATH=/src", "PYTHONDONTWRITEBYTECODE=1", "python3",
                 "/src/tests/hosts/bpf_load.py"], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, timeout=1800)
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", str(m)], check=False)
    results = bpf_results(log.read_text(errors="replace"))
    if proc.returncode != 0 and all(r["status"] == "passed" for r in results):
        results.append({"sample": "bpf", "step": "load", "status": "failed", "seconds": 0.0,
                        "log": str(log), "error": f"bpf_load.py exited {proc.returncode} (see {log})"})
    for r in results:
        r["log"] = r["log"] or str(log)
    return {**base, "image_kernel": f"bcc {info['BCC']}, LLVM {info['LLVM']}",
            "total_seconds": round(time.monotonic() - t0, 1), "share": str(log),
            "results": results}


# --- report ----------------------------------------------------------------------------------

def table(runs: list[dict]) -> str:
    rows = [("host", "sample", "step", "result", "s", "first error")]
    for r in runs:
        for x in r["results"]:
            rows.append((r["host"], x["sample"], x["step"], x["status"], f"{x['seconds']:.0f}",
                         x["error"][:110]))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    out = []
    for r in runs:
        f = r["facts"]
        if r.get("mode") == "bpf-only":
            out.append(f"{r['host']}: the recorder built by {r['suite']}'s {r['image_kernel']}, "
                       f"loaded on this machine's kernel {f.get('kernel', '?')}; "
                       f"{r['total_seconds']:.0f} s; log {r['share']}")
            continue
        cross = r.get("cross") or {}
        what = (f" ({'only ' if cross.get('only') else ''}verifying {cross['from']}'s "
                f"recordings)" if cross.get("from") else "")
        out.append(f"{r['host']}{what}: {f.get('os', '?')}, kernel {f.get('kernel', r['image_kernel'])}, "
                   f"cgroup {f.get('cgroup', '?')}, docker {f.get('docker_version', '?')} "
                   f"({f.get('docker_cgroup_driver', '?')} driver), AppArmor "
                   f"{f.get('apparmor_enabled', '?')}, cap_capable tracepoint "
                   f"{f.get('cap_capable_tracepoint', '?')}; {r['total_seconds']:.0f} s; "
                   f"logs in {r['share']}")
    for row in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[5])
    return "\n".join(out)


def failures(runs: list[dict]) -> int:
    """Steps that did not pass. An AppArmor control skipped because the kernel does not enforce
    AppArmor is not a failure; every other skip is (it names the step that failed before it). A
    boot that hung and was booted again ("retried") is not one either: the steps it left are
    judged in the next boot, and a hang there fails the run."""
    return sum(x["status"] not in ("passed", "retried") for r in runs for x in r["results"]
               if not (x["step"].startswith("negative-apparmor") and x["status"] == "skipped"
                       and "not enforced" in x["error"]))


def legs(runs: list[dict]) -> list[str]:
    """--cross: one line per direction (ORIGIN -> HOST): the steps on the other host's
    recordings (sample NAME-from-ORIGIN), how many passed, their time, and which failed."""
    out = []
    for r in runs:
        origin = (r.get("cross") or {}).get("from")
        if not origin:
            continue
        rows = [x for x in r["results"] if x["sample"].endswith(f"-from-{origin}")]
        bad = [f"{x['sample']} {x['step']}" for x in rows if x["status"] != "passed"]
        out.append(f"leg {origin} -> {r['host']}: {len(rows) - len(bad)} of {len(rows)} steps "
                   f"passed ({sum(x['seconds'] for x in rows):.0f} s of steps, VM run "
                   f"{r['total_seconds']:.0f} s)" + (f"; not passed: {', '.join(bad)}" if bad
                                                     else ("" if rows else "; no step ran")))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("hosts", nargs="*", help=f"hosts to run (default {' '.join(DEFAULT_HOSTS)}; known: {' '.join(HOSTS)})")
    ap.add_argument("--json", type=Path, help="default out/hosts/results.json "
                    "(--bpf-only: out/hosts/bpf-results.json)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the images even if cached")
    ap.add_argument("--keep", action="store_true", help="keep the VM's overlay disk")
    ap.add_argument("--build-only", action="store_true", help="only build (cache) the images")
    ap.add_argument("--bpf-only", action="store_true",
                    help="no VM: compile and load the working tree's recorder with each host "
                         "release's bcc/LLVM (a cached chroot) on this machine's kernel")
    ap.add_argument("--cross", action="store_true",
                    help="also verify each host's recordings on the next host, and the last "
                         "host's on the first (a policy recorded on one host, used on another)")
    ap.add_argument("--samples", default="",
                    help="only these samples (space-separated names under samples/; \"none\": "
                         "none, the corpus apps only)")
    ap.add_argument("--corpus", default=" ".join(CORPUS),
                    help=f"corpus apps (samples/corpus/APP, space-separated) held to their "
                         f"production workload under the emitted run.sh, AppArmor enforced where "
                         f"the host enforces it (default: {' '.join(CORPUS)}; \"none\": none)")
    ap.add_argument("--harvest", default=" ".join(HARVEST),
                    help=f"samples (space-separated) taken through the loop of issue 19: complain "
                         f"mode, harvest of the kernel's AppArmor ALLOWED and seccomp records, "
                         f"promote, verify enforced (default: {' '.join(HARVEST)}; \"none\": none)")
    ap.add_argument("--docker-cgroupfs", action="store_true",
                    help="not stock: switch the guest's Docker to the cgroupfs driver before set-up, "
                         "to see what fails behind the systemd driver")
    ap.add_argument("--inject-hang", default="", metavar="UNIT",
                    help="a test of this harness: the first boot's guest, at UNIT (a sample's "
                         "name, harvest-NAME, corpus-APP), prints a soft lockup and stops, as a "
                         "hung kernel does; the run must boot again and finish")
    ap.add_argument("--bench", default="", metavar="ARGS",
                    help="instead of the samples: set up, then bench/record_bench.py ARGS in the "
                         "guest (issue 21's figures in a VM of the matrix; bench/hosts_bench.py); "
                         "its output is logs/bench-record-bench.log in the run's share")
    a = ap.parse_args(argv)
    names = [n for h in a.hosts for n in h.split()] or list(DEFAULT_HOSTS)
    unknown = [n for n in names if n not in HOSTS]
    if unknown:
        ap.error(f"unknown host {' '.join(unknown)} (known: {' '.join(HOSTS)})")
    if os.geteuid() != 0:
        ap.error("must run as root (debootstrap, chroot, Docker)")
    a.json = a.json or REPO / "out" / "hosts" / ("bpf-results.json" if a.bpf_only else "results.json")
    ensure_tools()
    if a.build_only:
        try:
            for n in names:
                image_dir(HOSTS[n], a.rebuild)
        except subprocess.CalledProcessError:
            return 1  # build-image.sh said why
        return 0
    runs = []
    if a.bpf_only:
        names = one_per_release(names)
    samples = tuple(a.samples.split())
    unknown = [s for s in samples if s != "none"
               and not (REPO / "samples" / s / "sample.yaml").exists()]
    if unknown:
        ap.error(f"unknown sample {' '.join(unknown)}")
    corpus = tuple(c for c in a.corpus.split() if c != "none")
    unknown = [c for c in corpus if not (REPO / "samples" / "corpus" / c / "sample.yaml").exists()]
    if unknown:
        ap.error(f"unknown corpus app {' '.join(unknown)} (samples/corpus/APP)")
    harvest = tuple(h for h in a.harvest.split() if h != "none")
    unknown = [h for h in harvest if not (REPO / "samples" / h / "sample.yaml").exists()]
    if unknown:
        ap.error(f"unknown sample {' '.join(unknown)} (--harvest)")
    if a.cross and a.bpf_only:
        ap.error("--cross runs VMs: it does not go with --bpf-only")
    if a.bench:
        if a.cross or a.bpf_only:
            ap.error("--bench runs the bench alone: it does not go with --cross or --bpf-only")
        # The bench's nginx figure needs the nginx sample's image; nothing else is run.
        samples, corpus, harvest = ("nginx",), (), ()
    try:
        plan = cross_plan(names) if a.cross else [(n, None, False) for n in names]
    except ValueError as e:
        ap.error(str(e))
    for n, origin, only in plan:  # one VM at a time
        if a.bpf_only:
            runs.append(bpf_check(HOSTS[n], a.rebuild))
        else:
            if origin:
                say(f"{n}: verifying {origin}'s recordings here" + (" (only)" if only else ""))
            runs.append(run_host(HOSTS[n], a.rebuild, a.keep, a.docker_cgroupfs, origin=origin,
                                 cross_only=only, samples=samples, corpus=corpus,
                                 harvest=harvest, inject_hang=a.inject_hang,
                                 bench=a.bench))
        a.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = a.json.with_suffix(".tmp")
        tmp.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
        tmp.replace(a.json)
    print(table(runs))
    for line in legs(runs):
        print(line)
    bad = failures(runs)
    print(f"hosts: {bad} step(s) not passed; results in {a.json}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

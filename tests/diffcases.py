"""Recordings and policy directories for the diff tests, built from the model (not by hand-edited
YAML), so that each case differs from the baseline in exactly the way its name says."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from profiler.recording import recording_io
from profiler.recording.model import (ArgValues, Capability, ContainerConfig, Endpoint, Executable,
                                      FileAccess, Metadata, Network, Processes, Recording,
                                      SocketUse, Syscall, Workload)

CID_A = "3f" * 32
CID_B = "9c" * 32

_BASE_SYSCALLS = ["accept4", "bind", "brk", "close", "epoll_wait", "execve", "exit_group",
                  "fstat", "listen", "mmap", "openat", "read", "setsockopt", "socket", "write"]
_NUMBERS = {"accept4": 288, "bind": 49, "brk": 12, "close": 3, "epoll_wait": 232, "execve": 59,
            "exit_group": 231, "fstat": 5, "listen": 50, "mmap": 9, "openat": 257, "read": 0,
            "setsockopt": 54, "socket": 41, "write": 1, "mkdirat": 258, "fchownat": 260,
            "mount": 165, "ptrace": 101}


def _meta(started: str, cid: str) -> Metadata:
    return Metadata(tool_version="0.1.0", kernel="6.1.0", arch="x86_64", mode="container",
                    started_at=started, ended_at=started.replace(":00Z", ":09Z"),
                    image="profiler-sample-web", image_id="sha256:" + "ab" * 32,
                    container=ContainerConfig(user="app", working_dir="/srv",
                                              cmd=("web", "--port", "8080"),
                                              run_options=(("name", f"web-{cid[:12]}"),)),
                    workload=Workload("./workload.sh", 0))


def baseline(pid: int = 12, tmp: str = "tmpa8x2kq", started: str = "2026-01-01T10:00:00Z",
             cid: str = CID_A, count: int = 10) -> Recording:
    """A small web app: reads its config, writes only /tmp and /run, listens on 8080."""
    return Recording(
        metadata=_meta(started, cid),
        syscalls=tuple(Syscall(n, _NUMBERS[n], count) for n in _BASE_SYSCALLS),
        arguments=(ArgValues("socket", "domain", 0, (1, 2)),
                   ArgValues("socket", "type", 1, (1 | 0o2000000, 2))),
        # checked and refused (not needed): the count differs between runs
        capabilities=(Capability("CAP_DAC_OVERRIDE", 1, 0, count // 10),),
        files=(FileAccess("/etc/web/web.conf", ("read",)),
               FileAccess(f"/proc/{pid}/status", ("read",)),
               FileAccess(f"/proc/{pid}/fd/{count % 7}", ("read",)),
               FileAccess(f"/tmp/{tmp}", ("write", "create", "delete")),
               FileAccess(f"/var/lib/docker/containers/{cid}/hostname", ("read",)),
               FileAccess("/run/web.pid", ("write", "create")),
               FileAccess("/dev/pts/0" if pid == 12 else "/dev/pts/3", ("read", "write")),
               FileAccess("/usr/bin/web", ("execute",))),
        network=Network(sockets=(SocketUse("AF_INET", "SOCK_STREAM", 0, count),
                                 SocketUse("AF_UNIX", "SOCK_DGRAM", 0, 1)),
                        listening=(Endpoint("AF_INET", "0.0.0.0", 8080),)),
        processes=Processes(executables=(Executable("/usr/bin/web", 1),), peak_tasks=count,
                            uids=(1000,), gids=(1000,)),
    )


def same_behaviour() -> Recording:
    """The baseline's behaviour in another run: other pids, temp names, container id, counts,
    timestamps, fd numbers and terminal."""
    return baseline(pid=4711, tmp="tmpZq81kw_x", started="2026-03-05T22:13:00Z", cid=CID_B,
                    count=23)


def escalated() -> Recording:
    """The baseline plus mkdir+chown (CAP_CHOWN), a mount (CAP_SYS_ADMIN), a write to
    /var/lib/web, a connection out, a shell, running as root."""
    b = baseline()
    extra = tuple(Syscall(n, _NUMBERS[n], 1) for n in ("mkdirat", "fchownat", "mount"))
    return replace(
        b,
        syscalls=b.syscalls + extra,
        arguments=b.arguments + (ArgValues("socket", "type", 1, (3,)),),
        capabilities=b.capabilities + (Capability("CAP_CHOWN", 0, 1, 0),
                                       Capability("CAP_SYS_ADMIN", 21, 1, 0)),
        files=b.files + (FileAccess("/var/lib/web/cache", ("write", "create", "mkdir", "chown")),
                         FileAccess("/etc/web/web.conf", ("write",))),
        network=replace(b.network, connects=(Endpoint("AF_INET", "192.0.2.10", 443),)),
        processes=replace(b.processes, executables=b.processes.executables +
                          (Executable("/bin/sh", 1),), uids=(0, 1000)),
    )


def narrowed() -> Recording:
    """The baseline minus its listening socket, /run writes and the setsockopt syscall."""
    b = baseline()
    return replace(
        b,
        syscalls=tuple(s for s in b.syscalls if s.name != "setsockopt"),
        files=tuple(f for f in b.files if not f.path.startswith("/run/")),
        network=replace(b.network, listening=()),
    )


def write_recordings(d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, rec in (("baseline", baseline()), ("same", same_behaviour()),
                      ("escalated", escalated()), ("narrowed", narrowed())):
        out[name] = d / f"{name}.recording.yaml"
        recording_io.save(rec, out[name])
    return out


# --------------------------------------------------------------------------------------------
# Policy directories in the format `profiler emit --format all -o DIR` writes
# --------------------------------------------------------------------------------------------


def seccomp_profile(names, conditional=()) -> dict:
    rules = [{"names": sorted(names), "action": "SCMP_ACT_ALLOW"}]
    for name, args in conditional:
        rules.append({"names": [name], "action": "SCMP_ACT_ALLOW", "args": args})
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": rules}


APPARMOR_BASE = """\
#include <tunables/global>

profile profiler-web flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>
  network inet stream,
  network unix dgram,
  capability net_bind_service,
  deny @{PROC}/sys/** w,
  /etc/web/web.conf r,
  /proc/@{pid}/status r,
  /run/web.pid w,
  /tmp/tmp* rw,
  /usr/bin/web ix,
  "/srv/with space/x" r,
}
"""

RUN_BASE = """\
#!/bin/sh
# generated by profiler emit
exec docker run --rm \\
  --cap-drop ALL --cap-add NET_BIND_SERVICE \\
  --security-opt no-new-privileges \\
  --security-opt seccomp=seccomp.json \\
  --read-only --tmpfs /tmp:rw,noexec --tmpfs /run \\
  --user 1000:1000 \\
  -p 127.0.0.1:8080:8080 \\
  profiler-sample-web "$@"
"""


def write_policy(d: Path, escalate: bool = False) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    names = set(_BASE_SYSCALLS)
    conditional = [("personality", [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}])]
    aa, run, caps = APPARMOR_BASE, RUN_BASE, "CAP_NET_BIND_SERVICE\n"
    if escalate:
        names |= {"mount", "mkdirat", "fchownat"}
        conditional.append(("clone", [{"index": 0, "value": 0x7E020000, "valueTwo": 0,
                                       "op": "SCMP_CMP_MASKED_EQ"}]))
        aa = aa.replace("  /run/web.pid w,\n",
                        "  /run/web.pid w,\n  /var/lib/web/** rw,\n  /bin/sh ix,\n"
                        "  capability chown sys_admin,\n  network packet raw,\n")
        run = run.replace("--read-only ", "").replace("--user 1000:1000", "--user 0") \
                 .replace("--cap-add NET_BIND_SERVICE", "--cap-add NET_BIND_SERVICE,CHOWN "
                                                        "--cap-add SYS_ADMIN")
        caps += "CAP_CHOWN\nCAP_SYS_ADMIN\n"
    (d / "seccomp.json").write_text(json.dumps(seccomp_profile(names, conditional), indent=2))
    (d / "apparmor.profile").write_text(aa)
    (d / "run.sh").write_text(run)
    (d / "caps.txt").write_text(caps)
    (d / "compose.yaml").write_text("services: {}\n")
    return d

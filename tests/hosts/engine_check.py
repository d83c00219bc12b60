"""The host matrix's "engine" step: profiler.session.engine.Engine against the host's real engine.

    .venv/bin/python tests/hosts/engine_check.py IMAGE

Run by guest.py in every VM after set-up (as root, with DOCKER_HOST where the host's engine is
Podman's compat socket). It goes through every call a recording session makes, without eBPF, so
that what the engine's API does differently shows even where `record` cannot run yet: engine
facts (name, version, default runtime, cgroup driver), the image, create with a label, a
published port and a seccomp profile given as a file, start, state, the container's cgroup,
describe, logs, a graceful stop (SIGTERM reaches the entrypoint), wait's exit code, remove.
Prints one JSON object of what it saw; exits 1 naming the first check that failed.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from profiler.session.engine import Engine, RunSpec, container_runtime

# A shell that says hello, answers SIGTERM with "bye" and exit 0, and shows that the seccomp
# profile given as a file reached the runtime (unshare is refused by it).
SCRIPT = ("echo hello; unshare -U true 2>/dev/null && echo unshare=allowed || echo unshare=refused; "
          "trap 'echo bye; exit 0' TERM; sleep 300 & wait")
PROFILE = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}


def main() -> int:
    image = sys.argv[1]
    seen: dict = {}
    step = "engine"
    try:
        e = Engine()
        info = e.engine_info()
        seen["engine"] = {"name": info.name, "version": info.version, "runtime": info.runtime,
                          "cgroup_driver": info.cgroup_driver}
        step = "image"
        seen["image_id"] = e.image(image).id
        with tempfile.TemporaryDirectory() as d:
            prof = Path(d) / "seccomp.json"
            prof.write_text(json.dumps(PROFILE))
            step = "create"
            c = e.create(RunSpec(image=image, command=["sh", "-c", SCRIPT],
                                 entrypoint="", publish=["127.0.0.1:18999:80"],
                                 security_opt=[f"seccomp={prof}"]),
                         labels={"io.profiler.check": "engine"})
        try:
            d_ = e.describe(c)
            seen["container"] = {"name": d_.name, "image": d_.image, "image_id": d_.image_id,
                                 "runtime_attr": d_.runtime,
                                 "runtime": container_runtime(d_, info),
                                 "labels": (c.attrs.get("Config") or {}).get("Labels")}
            step = "start"
            e.start(c)
            st = e.state(c)
            seen["running"], seen["pid"] = st.running, st.pid
            if not st.running or not st.pid:
                raise RuntimeError(f"not running after start: {st}")
            seen["cgroup"] = Path(f"/proc/{st.pid}/cgroup").read_text().strip().splitlines()
            # The engine's default capability set (no --cap-add/--cap-drop given): Docker's is
            # 14 capabilities, Podman's (containers.conf) differs.
            status = Path(f"/proc/{st.pid}/status").read_text().splitlines()
            seen["cap_bounding"] = [ln.split()[1] for ln in status if ln.startswith("CapBnd:")]
            step = "logs"
            for _ in range(100):
                if "unshare=" in e.last_logs(c):
                    break
                time.sleep(0.2)
            seen["logs_start"] = e.last_logs(c)
            if "hello" not in seen["logs_start"]:
                raise RuntimeError("no 'hello' in the container's logs")
            if "unshare=refused" not in seen["logs_start"]:
                raise RuntimeError("the seccomp profile given as a file did not apply")
            step = "stop"
            t = time.monotonic()
            e.stop(c, 10)
            seen["stop_seconds"] = round(time.monotonic() - t, 1)
            step = "wait"
            seen["exit_code"] = e.wait(c, 30)
            seen["state_after"] = e.state(c).exit_code
            seen["logs_end"] = e.last_logs(c)
            if seen["exit_code"] != 0 or "bye" not in seen["logs_end"]:
                raise RuntimeError("SIGTERM did not reach the entrypoint (no 'bye', or exit code "
                                   f"{seen['exit_code']})")
        finally:
            step_before, step = step, "remove"
            e.remove(c)
            step = step_before
        print(json.dumps(seen, indent=1, default=str))
        print("engine check: passed")
        return 0
    except Exception as ex:  # report what was seen so far, and where it stopped
        print(json.dumps(seen, indent=1, default=str))
        print(f"error: engine check failed at {step}: {type(ex).__name__}: {ex}")
        return 1


if __name__ == "__main__":
    sys.exit(main())

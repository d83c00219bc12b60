"""The run line's kinds of issue 18 with the real engine and real eBPF (root; must not skip in
CI): one small app built here does what the field's apps did, is recorded on a user-defined
network, and must then run under the emitted run.sh, survive a `docker restart` with its data,
and run a second instance beside the first. It is recorded with --restart: its later boot
takes another path (it reads its count back through a pipe), which a first boot alone misses.

The app (a shell script, like an image's entrypoint) as root:
- counts its boots in /var/lib/app, the image's VOLUME (data that must survive);
- reads its config from /run/app (a directory of the image) and writes its pid there;
- logs to /var/log/app/app.log, the image's symlink to /dev/stdout (as nginx's images do);
- drops to its user (uid 1000) to write into /var/cache/app, the image's directory owned by it;
- unpacks a native library into /tmp and loads it (mmap PROT_EXEC: snappy-java's way);
- resolves its peer by name on the network it was recorded on.
Before these kinds were fixed, run.sh put an empty noexec root-owned tmpfs on /run, /var/log/app,
/var/cache/app and /tmp and dropped --network: the app did not reach "ready".
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from test_record_integration import BASE_IMAGE, run

pytestmark = pytest.mark.root

_DOCKERFILE = f"""FROM {BASE_IMAGE}
RUN useradd -u 1000 -U -M -d /nonexistent app \\
 && mkdir -p /var/lib/app /run/app /var/log/app /var/cache/app \\
 && echo conf > /run/app/app.conf && chown -R app:app /run/app \\
 && ln -s /dev/stdout /var/log/app/app.log \\
 && chown app:app /var/cache/app && chmod 0750 /var/cache/app
COPY app.sh /app.sh
VOLUME /var/lib/app
ENTRYPOINT ["/bin/sh", "/app.sh"]
"""

_APP = """set -e
n=0
if [ -f /var/lib/app/count ]; then n=$(cat /var/lib/app/count); fi
n=$((n + 1))
echo "$n" > /var/lib/app/count.tmp
mv /var/lib/app/count.tmp /var/lib/app/count
cat /run/app/app.conf > /dev/null
echo $$ > /run/app/app.pid
echo "boot $n" > /var/log/app/app.log
setpriv --reuid app --regid app --clear-groups sh -c 'echo "as app" >> /var/cache/app/app.log'
mkdir -p /tmp/lib
cp /lib/*-linux-gnu/libc.so.6 /tmp/lib/
LD_LIBRARY_PATH=/tmp/lib /bin/true
getent hosts "$PEER" > /dev/null
echo "ready $n" > /var/log/app/app.log
exec sleep 3600
"""

_WAIT_READY = ("for i in $(seq 150); do docker logs $PROFILER_CONTAINER_ID 2>&1 | grep -q ready "
               "&& exit 0; sleep 0.2; done; exit 1")


def docker(*args, timeout=120):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _logs_until(container: str, text: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    logs = ""
    while time.monotonic() < deadline:
        logs = docker("logs", container).stdout + docker("logs", container).stderr
        if text in logs:
            return logs
        state = docker("inspect", "-f", "{{.State.Status}}", container).stdout.strip()
        if state in ("exited", "dead"):
            break
        time.sleep(0.3)
    pytest.fail(f"{container} did not log {text!r}: {logs[-800:]}", pytrace=False)


@pytest.fixture
def world(tmp_path: Path, require_root):
    """The app's image, a user-defined network with a peer on it; everything removed after."""
    tag = uuid.uuid4().hex[:8]
    image, net, peer = (f"profiler-kinds-app-{tag}", f"profiler-kinds-net-{tag}",
                        f"profiler-kinds-peer-{tag}")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(_DOCKERFILE)
    (ctx / "app.sh").write_text(_APP)
    made = {"containers": [peer], "volumes": []}
    try:
        proc = docker("build", "-q", "-t", image, str(ctx), timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert docker("network", "create", net).returncode == 0
        proc = docker("run", "-d", "--name", peer, "--network", net, BASE_IMAGE, "sleep", "600")
        assert proc.returncode == 0, proc.stderr
        yield dict(image=image, net=net, peer=peer, tag=tag, made=made, tmp=tmp_path)
    finally:
        for c in made["containers"]:
            docker("rm", "-f", "-v", c)
        for v in made["volumes"]:
            docker("volume", "rm", "-f", v)
        docker("network", "rm", net)
        docker("rmi", "-f", image)


def test_run_sh_keeps_data_content_owners_exec_network_and_a_second_instance(world):
    tmp, tag = world["tmp"], world["tag"]
    rec = tmp / "app.recording.yaml"
    proc = run(["record", world["image"], "-o", str(rec), "--name", f"profiler-kinds-rec-{tag}",
                "--network", world["net"], "-e", f"PEER={world['peer']}",
                "--workload", _WAIT_READY, "--stop-timeout", "1", "--restart"], timeout=300)
    assert proc.returncode == 0, proc.stderr
    policy = tmp / "policy"
    proc = run(["emit", "-f", "all", "-o", str(policy), str(rec)])
    assert proc.returncode == 0, proc.stderr
    script = (policy / "run.sh").read_text()

    # what the run line decided, each with its reason
    assert "--read-only" in script
    assert '--mount type=volume,source="$volume_prefix"-var-lib-app,target=/var/lib/app' in script
    assert "--mount type=volume,target=/var/log/app" in script  # the image's symlink
    assert "/var/log/app/app.log -> /dev/stdout" in script
    assert "--mount type=volume,target=/run" in script  # the image's /run/app
    assert "--tmpfs /var/cache/app:uid=1000,gid=1000,mode=0750" in script
    assert "--tmpfs /tmp:exec" in script
    assert f"--network {world['net']}" in script
    assert f"--name profiler-kinds-rec-{tag}" not in script.split("args=(")[1].split(")")[0]
    # --restart: the later boot (count read back with $(cat ...): a pipe the first boot never
    # made) is in the same recording
    assert "first boot seen in run(s) 1 (/var/lib/app started empty), a later boot in run(s) " \
           "1 (record --restart): the policy covers both" in script

    first, second = f"profiler-kinds-run-{tag}", f"profiler-kinds-run2-{tag}"
    world["made"]["containers"] += [first, second]
    world["made"]["volumes"] += [f"{first}-var-lib-app", f"{second}-var-lib-app"]
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "PEER": world["peer"]}
    proc = subprocess.run(["bash", str(policy / "run.sh"), "-d"], capture_output=True, text=True,
                          env={**env, "PROFILER_NAME": first}, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    logs = _logs_until(first, "ready 1")
    assert "boot 1" in logs  # the log symlink still reaches `docker logs`
    # a restart during production: the data survives (the count goes on), /run and /tmp work
    assert docker("restart", "-t", "1", first).returncode == 0
    _logs_until(first, "ready 2")
    # a second instance beside the first: no name conflict, its own data
    proc = subprocess.run(["bash", str(policy / "run.sh"), "-d"], capture_output=True, text=True,
                          env={**env, "PROFILER_NAME": second}, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    _logs_until(second, "ready 1")
    nets = docker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                  first).stdout.split()
    assert nets == [world["net"]]

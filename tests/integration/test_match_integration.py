"""Match mode against the real engine and real eBPF (root; must not skip under CI=true): one
tracer, every container that starts gets a slot of its own, user space keeps the ones whose
labels match and drops the rest. Each kept container's trace has what it did and nothing of the
others, nor of the container runtime's set-up; a dropped one leaves nothing in the snapshots
and stops counting; a restarted one keeps its slot and its second run is recorded.

Containers other engineers or CI start meanwhile get slots too, and are dropped like the third
container here: the tests only look at the slots of their own containers."""

from __future__ import annotations

import time
import uuid

import pytest

from profiler.kernel import syscalls
from profiler.kernel.linux import capability_name

BASE_IMAGE = "profiler-base:bookworm"
RUNTIME_SETUP = {"mount", "umount2", "pivot_root", "sethostname", "setns", "keyctl", "unshare"}

pytestmark = pytest.mark.root


class Session:
    """A match-mode tracer that keeps the containers labelled with this test's label."""

    def __init__(self, docker_client, tmp_path, verify: bool = False):
        from profiler.kernel.tracer import Tracer

        self.client = docker_client
        self.label = {"profiler.test": f"match-{uuid.uuid4().hex[:8]}"}
        self.shared = tmp_path  # bind-mounted at /w: the containers wait for files put there
        self.shared.chmod(0o777)
        self.containers = []
        self.slot_of: dict[str, int] = {}  # container id -> slot, as on_container heard it
        self.heard: list[str] = []
        self.dropped: list[int] = []
        self.tracer = Tracer(containers=True, match=True, verify=verify)
        self.tracer.on_container = self.on_container

    def on_container(self, slot: int, cid: str, path: bytes) -> None:
        self.heard.append(cid)
        self.slot_of[cid] = slot
        try:
            labels = self.client.containers.get(cid).labels
        except Exception:  # gone already, or not a Docker container: not ours
            labels = {}
        if labels.get("profiler.test") == self.label["profiler.test"]:
            self.tracer.keep(slot)
        else:
            self.tracer.drop(slot)
            self.dropped.append(slot)

    def run(self, script: str, labelled: bool = True, **options):
        c = self.client.containers.run(
            BASE_IMAGE, ["sh", "-c", script], detach=True,
            labels=self.label if labelled else {"profiler.test": "someone-else"},
            volumes={str(self.shared): {"bind": "/w", "mode": "rw"}}, **options)
        self.containers.append(c)
        return c

    def wait_until(self, done, what: str, limit: float = 60) -> None:
        """Poll the tracer until done() (a bound, not a timing assertion: a hung container)."""
        end = time.monotonic() + limit
        while not done():
            assert time.monotonic() < end, f"waited {limit} s for {what}"
            self.tracer.poll(100)

    def wait_exit(self, *containers) -> None:
        def exited():
            for c in containers:
                c.reload()
            return all(c.status == "exited" for c in containers)
        self.wait_until(exited, "the containers to exit")
        self.tracer.drain()

    def close(self) -> None:
        self.tracer.close()
        for c in self.containers:
            try:
                c.remove(force=True)
            except Exception:  # already gone
                pass


@pytest.fixture
def session(docker_client, require_root, tmp_path):
    s = Session(docker_client, tmp_path)
    yield s
    s.close()


@pytest.fixture
def verify_session(docker_client, require_root, tmp_path):
    s = Session(docker_client, tmp_path, verify=True)
    yield s
    s.close()


def _names(raw) -> set[str]:
    return {syscalls.name_of(raw.arch, nr) for nr in raw.counts}


def _caps(raw) -> set[str]:
    return {capability_name(c) for c in raw.caps}


def test_two_containers_each_in_its_own_slot(session):
    """Each does a distinctive syscall, file and capability; each slot has its own only, and
    none of the runtime's set-up."""
    a = session.run("uname -a >/dev/null; cat /etc/debian_version; touch /tmp/a; chown 1:1 /tmp/a")
    b = session.run("sync; cat /etc/issue; nice -n -1 true")
    session.wait_exit(a, b)
    raws = session.tracer.snapshot_slots()
    ra, rb = raws[session.slot_of[a.id]], raws[session.slot_of[b.id]]
    assert session.slot_of[a.id] != session.slot_of[b.id]
    assert "uname" in _names(ra) and "uname" not in _names(rb)
    assert "sync" in _names(rb) and "sync" not in _names(ra)
    assert b"/etc/debian_version" in ra.files and b"/etc/debian_version" not in rb.files
    assert b"/etc/issue" in rb.files and b"/etc/issue" not in ra.files
    assert b"/usr/bin/chown" in ra.execs and b"/usr/bin/nice" in rb.execs
    assert b"/usr/bin/nice" not in ra.execs and b"/usr/bin/chown" not in rb.execs
    if session.tracer.cap_source != "none":
        assert "CAP_CHOWN" in _caps(ra) and "CAP_CHOWN" not in _caps(rb)
        assert "CAP_SYS_NICE" in _caps(rb) and "CAP_SYS_NICE" not in _caps(ra)
    for raw in (ra, rb):
        assert not RUNTIME_SETUP & _names(raw), RUNTIME_SETUP & _names(raw)
        assert "CAP_SYS_ADMIN" not in _caps(raw)
        assert sum(raw.loss.values()) == 0, raw.loss


def test_a_container_whose_labels_do_not_match_is_dropped(session):
    """Dropped as soon as it is announced: nothing of it in the snapshots, and what it does
    after the drop is not counted (it waits for /w/go, put there after the drop)."""
    mine = session.run("cat /etc/issue")
    other = session.run("cat /etc/debian_version; while [ ! -e /w/go ]; do sleep 0.1; done; "
                        "cat /etc/shells", labelled=False)
    session.wait_until(lambda: other.id in session.heard, "the other container's slot")
    slot = session.slot_of[other.id]
    assert slot in session.dropped
    (session.shared / "go").touch()
    session.wait_exit(mine, other)
    raws = session.tracer.snapshot_slots()
    assert slot not in raws and session.slot_of[mine.id] in raws
    assert all(b"/etc/shells" not in r.files and b"/etc/debian_version" not in r.files
               for r in raws.values())
    # its tasks stopped counting: the slot's own counters (not in any snapshot) lack the end
    # (what it did before the drop, its first cat and sleeps, may be there)
    left = session.tracer._snapshot([slot])[slot]
    assert b"/etc/shells" not in left.files and left.execs.get(b"/usr/bin/cat", 0) <= 1


def test_a_restarted_container_keeps_its_slot_and_its_second_run_is_recorded(session):
    first_or_second = ("if [ -e /w/ran ]; then cat /etc/shells; "
                       "else touch /w/ran; cat /etc/issue; fi")
    c = session.run(first_or_second)
    session.wait_exit(c)
    c.restart()   # `docker restart`: its cgroup is made again
    session.wait_exit(c)
    raw = session.tracer.snapshot_slots()[session.slot_of[c.id]]
    assert session.heard.count(c.id) == 1   # announced once
    slot = session.slot_of[c.id]
    assert [s for s, _ in session.tracer.cgroups].count(slot) >= 2   # both runs' cgroups
    assert b"/etc/issue" in raw.files and b"/etc/shells" in raw.files
    assert max(raw.execs.get(b"/bin/sh", 0), raw.execs.get(b"/usr/bin/sh", 0)) >= 2, raw.execs
    assert not RUNTIME_SETUP & _names(raw)


def test_verify_mode_reports_each_containers_denials_in_its_slot(verify_session):
    """Verify mode (profiler verify --compose): one container's seccomp profile refuses uname,
    the other's allows it; the refusal is in the first one's slot only."""
    import json

    from profiler.recording.aggregate import build_denials

    s = verify_session
    profile = s.shared / "no-uname.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["uname"], "action": "SCMP_ACT_ERRNO"}]}))
    refused = s.run("uname -a; true", security_opt=[f"seccomp={profile.read_text()}"])
    allowed = s.run("uname -a")
    s.wait_exit(refused, allowed)
    raws = s.tracer.snapshot_slots()
    denied = build_denials(raws[s.slot_of[refused.id]])
    assert [(d.syscall, d.errno) for d in denied.syscalls] == [("uname", "EPERM")], denied
    assert denied.syscalls[0].executables == ("/usr/bin/uname",)
    assert build_denials(raws[s.slot_of[allowed.id]]).syscalls == ()

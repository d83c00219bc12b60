"""The host matrix's pure parts (tests/hosts/): how a step's error line is chosen, how results
are counted and shown, what the image cache key and the wheelhouse depend on. The matrix itself
boots VMs for an hour and runs as `make test-hosts`, not here."""

from __future__ import annotations

import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "hosts"))
import guest  # noqa: E402
import harness  # noqa: E402


def test_first_error_is_the_line_that_says_what_went_wrong():
    out = "$ profiler record x\nsetup: compiling\nerror: failed to load the eBPF recorder: X\nhint: y\n"
    assert guest.first_error(out) == "error: failed to load the eBPF recorder: X"
    assert guest.first_error("$ cmd\nsome output\nlast words\n") == "last words"
    assert guest.first_error("$ cmd\n") == "(no output)"


def _run(*results, facts=None):
    return {"host": "debian12", "image_kernel": "6.1.0-1-amd64", "total_seconds": 12.0,
            "share": "/x", "facts": facts or {},
            "results": [dict(zip(("sample", "step", "status", "error"), r), seconds=1.0)
                        for r in results]}


def test_failures_count_every_step_not_passed_except_apparmor_not_enforced():
    runs = [_run(("nginx", "record", "passed", ""),
                 ("nginx", "negative-apparmor", "skipped", "AppArmor is not enforced by this kernel")),
            _run(("redis", "emit", "skipped", "no recording (record failed)"),
                 ("redis", "record", "failed", "exit 1: error: boom"))]
    assert harness.failures(runs) == 2
    assert harness.failures(runs[:1]) == 0


def test_table_shows_facts_and_each_step_with_its_error():
    text = harness.table([_run(("nginx", "record", "failed", "exit 1: error: boom"),
                               facts={"kernel": "6.1.0-9-amd64", "docker_cgroup_driver": "systemd"})])
    assert "kernel 6.1.0-9-amd64" in text and "(systemd driver)" in text
    row = [ln for ln in text.splitlines() if " record " in ln][0]
    assert row.split()[:4] == ["debian12", "nginx", "record", "failed"]
    assert row.endswith("exit 1: error: boom")


def test_image_key_depends_on_the_release_and_wheels_on_the_project():
    keys = {harness.recipe_key(h) for h in harness.HOSTS.values()}
    assert len(keys) == len(harness.HOSTS)
    reqs = harness.requirements()
    assert any(r.startswith("typer") for r in reqs) and any(r.startswith("pytest") for r in reqs)
    assert any(r.startswith("setuptools") for r in reqs)  # the editable install's backend, offline


def test_bpf_check_rows_are_bpf_loads_lines_and_the_verifier_log_stays_out():
    out = ("ok   new-container, capabilities tracepoint\n"
           "63: (4f) r8 |= r0\nR8 bitwise operator |= on pointer prohibited\n"
           "FAIL attach, capabilities kprobe: Failed to load BPF program b'cap_return': "
           "Permission denied\n")
    rows = harness.bpf_results(out)
    assert [(r["step"], r["status"]) for r in rows] == [
        ("new-container, capabilities tracepoint", "passed"),
        ("attach, capabilities kprobe", "failed")]
    assert rows[1]["error"] == "Failed to load BPF program b'cap_return': Permission denied"
    assert harness.failures([_run()] + [{**_run(), "results": rows}]) == 1


def test_bpf_check_runs_once_per_release_and_its_chroot_key_follows_its_recipe():
    assert harness.one_per_release(["debian12-podman", "debian13", "debian12", "forky"]) == [
        "debian12-podman", "debian13", "forky"]
    assert {p.name for p in harness.BPF_RECIPE} >= {"build-bpf-root.sh", "rootfs.sh"}
    assert all(p.exists() for p in harness.BPF_RECIPE + harness.RECIPE)


def test_cross_runs_each_hosts_recordings_on_the_next_and_back():
    assert harness.cross_plan(["forky", "debian12"]) == [
        ("forky", None, False), ("debian12", "forky", False), ("forky", "debian12", True)]
    assert harness.cross_plan(["a", "b", "c"]) == [
        ("a", None, False), ("b", "a", False), ("c", "b", False), ("a", "c", True)]
    with pytest.raises(ValueError):
        harness.cross_plan(["debian12"])
    text = harness.table([{**_run(("nginx-from-forky", "cross-verify", "passed", "")),
                           "cross": {"from": "forky", "only": True}}])
    assert "debian12 (only verifying forky's recordings)" in text
    row = [ln for ln in text.splitlines() if " cross-verify " in ln][0]
    assert row.split()[:4] == ["debian12", "nginx-from-forky", "cross-verify", "passed"]


def test_the_guest_verifies_another_hosts_recordings_and_limits_its_samples(tmp_path, monkeypatch):
    clone = tmp_path / "clone"
    for name, body in (("nginx", "image: x\n"), ("shop", "kind: compose\n")):
        (clone / "samples" / name).mkdir(parents=True)
        (clone / "samples" / name / "sample.yaml").write_text("name: " + name + "\n" + body)
    monkeypatch.setattr(guest, "CLONE", clone)
    share = tmp_path / "share"
    (share / "foreign" / "forky").mkdir(parents=True)
    for name in ("nginx", "shop", "gone"):
        (share / "foreign" / "forky" / f"{name}.recording.yaml").write_text("x")
    found = guest.foreign_recordings(share)
    assert [(o, n) for o, n, _ in found] == [("forky", "nginx")]  # no compose, no unknown sample
    specs = sorted((clone / "samples").glob("*/sample.yaml"))
    assert guest.chosen_samples(share, specs) == specs
    (share / "samples").write_text("nginx\n")
    assert [s.parent.name for s in guest.chosen_samples(share, specs)] == ["nginx"]
    (share / "cross-only").touch()
    assert guest.chosen_samples(share, specs) == []
    rec = clone / "out" / "nginx.recording.yaml"
    rec.parent.mkdir()
    rec.write_text("r")
    guest.keep_recording(share, rec)
    assert (share / "recordings" / "nginx.recording.yaml").read_text() == "r"


def test_the_guest_carries_corpus_apps_and_their_recordings_across_hosts(tmp_path, monkeypatch):
    clone = tmp_path / "clone"
    (clone / "samples" / "corpus" / "redis").mkdir(parents=True)
    (clone / "samples" / "corpus" / "redis" / "sample.yaml").write_text("image: x\ncorpus: true\n")
    monkeypatch.setattr(guest, "CLONE", clone)
    share = tmp_path / "share"
    share.mkdir()
    assert guest.corpus_apps(share) == []
    (share / "corpus").write_text("redis\n")
    assert guest.corpus_apps(share) == ["corpus/redis"]
    assert guest.slug("corpus/redis") == "corpus-redis"
    (share / "foreign" / "debian12").mkdir(parents=True)
    (share / "foreign" / "debian12" / "corpus-redis.recording.yaml").write_text("x")
    assert [(o, n) for o, n, _ in guest.foreign_recordings(share)] == [("debian12", "corpus/redis")]
    (share / "cross-only").touch()
    assert guest.corpus_apps(share) == []


VERIFY_REFUSED = """verify: profiler-corpus-redis under the policy
  workload: FAILED (exit 1)
  apparmor: enforced: apparmor.profile loaded as profiler-verify-1a2b

refused by the AppArmor profile
  operation  path or target                  denied  count  executable
  exec       /usr/bin/id                     x       1      sh
  mknod      /tmp/profiler-negative-control  c       1      touch

fixes
  - exec /usr/bin/id denied 1x in sh: add `/usr/bin/id ix` to apparmor.profile, or re-record
"""


@pytest.mark.parametrize("rc, output, error", [
    (1, VERIFY_REFUSED, ""),
    (0, VERIFY_REFUSED.replace("FAILED (exit 1)", "passed"), "not refused"),
    (1, "$ verify\nerror: the container exited\n", "without naming an AppArmor denial"),
    # the workload's own output names the path, the AppArmor table does not: not proof
    (1, "touch: cannot touch '/tmp/profiler-negative-control': Read-only file system\n"
        + VERIFY_REFUSED.replace("  mknod      /tmp/profiler-negative-control  c       1      touch\n", ""),
     "do not name /tmp/profiler-negative-control"),
])
def test_the_apparmor_negative_control_needs_verify_to_name_each_denial(rc, output, error):
    got = guest.apparmor_named(guest.NEGATIVE_WRITE, guest.NEGATIVE_EXEC)(rc, output)
    assert (error in got) if error else got == ""


def test_cross_legs_are_reported_per_direction_and_corpus_controls_skip_only_without_apparmor():
    forky = {**_run(("corpus-redis", "record", "passed", "")), "host": "forky"}
    d12 = {**_run(("corpus-redis-from-forky", "cross-verify", "passed", ""),
                  ("corpus-redis-from-forky", "cross-production", "failed", "exit 1: lost"),
                  ("probe", "verify", "passed", "")), "cross": {"from": "forky", "only": False}}
    back = {**_run(("corpus-redis-from-debian12", "cross-verify", "passed", "")), "host": "forky",
            "cross": {"from": "debian12", "only": True}}
    lines = harness.legs([forky, d12, back])
    assert lines[0].startswith("leg forky -> debian12: 1 of 2 steps passed")
    assert lines[0].endswith("not passed: corpus-redis-from-forky cross-production")
    assert lines[1].startswith("leg debian12 -> forky: 1 of 1 steps passed")
    assert len(lines) == 2
    skipped = _run(("corpus-redis", "negative-apparmor-verify", "skipped",
                    "AppArmor is not enforced by this kernel"))
    assert harness.failures([skipped]) == 0
    assert harness.failures([_run(("corpus-redis", "negative-apparmor-verify", "skipped",
                                   "no policy (emit failed)"))]) == 1


def test_kmsg_check_wants_a_kmsg_harvests_loss_counted():
    import json

    def out(kmsg, auto):
        base = {"service": "s", "syscalls": [], "files": {}, "executables": []}
        return "\n".join("harvest-summary: " + json.dumps({**base, **d}) for d in (kmsg, auto))

    full = {"source": "netlink", "records": 17, "dropped": 0}
    assert guest.kmsg_check(0, out({"source": "kmsg", "records": 10, "dropped": 7}, full)) == ""
    assert "counted none" in guest.kmsg_check(
        0, out({"source": "kmsg", "records": 10, "dropped": 0}, full))
    assert guest.kmsg_check(0, out({"source": "kmsg", "records": 17, "dropped": 0}, full)) == ""


LOCKUPS = """[  925.125012] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
[  929.012817] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [profiler:8663]
[  953.105051] watchdog: BUG: soft lockup - CPU#1 stuck for 48s! [profiler:8657]
"""


def test_a_soft_lockup_of_two_minutes_in_the_console_is_a_hung_guest(tmp_path):
    console = tmp_path / "console.log"
    assert harness.hang_in(console, 0) == ("", 0)  # not written yet
    console.write_text(LOCKUPS)
    line, offset = harness.hang_in(console, 0)
    assert line == "" and offset == len(LOCKUPS)  # short lockups happen on a busy host
    with console.open("a") as f:
        f.write("[ 1053.1] watchdog: BUG: soft lockup - CPU#1 stuck for 148s! [profiler:8657]\n"
                "[ 1057.0] watchdog: BUG: soft lockup - CPU#0 stuck for 15")  # half a line
    line, offset2 = harness.hang_in(console, offset)
    assert "stuck for 148s" in line
    assert offset2 == console.stat().st_size - len("[ 1057.0] watchdog: BUG: soft lockup - CPU#0 stuck for 15")


def _fake_host(tmp_path, monkeypatch, boots):
    """run_host with everything but the boots faked: boots[i](share) plays boot i's guest and
    returns what boot() would."""
    monkeypatch.setattr(harness, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(harness, "image_dir", lambda host, rebuild: tmp_path / "img")
    monkeypatch.setattr(harness, "image_info", lambda d: {"PYTHON": "3.11", "SUITE": "bookworm",
                                                         "KERNEL": "6.1", "BUILD_SECONDS": "1"})
    monkeypatch.setattr(harness, "bundle", lambda dest: "abc1234")
    monkeypatch.setattr(harness, "wheelhouse", lambda python: tmp_path)
    monkeypatch.setattr(harness, "image_archive", lambda *a: tmp_path / "images.tar")
    monkeypatch.setattr(harness, "link", lambda src, dest: None)
    calls = iter(boots)
    monkeypatch.setattr(harness, "boot", lambda host, img, share, keep: next(calls)(share))


def _guest_rows(share, rows, finished=(), exit_code=None):
    import json
    (share / "logs").mkdir(exist_ok=True)
    (share / "console.log").write_text("boot\n")
    (share / "facts.json").write_text("{}")
    with (share / "results.jsonl").open("a") as f:
        for sample, step, status in rows:
            f.write(json.dumps({"sample": sample, "step": step, "status": status, "seconds": 1.0,
                                "error": "", "log": f"logs/{sample}-{step}.log"}) + "\n")
    with (share / "finished").open("a") as f:
        f.write("".join(u + "\n" for u in finished))
    if exit_code is not None:
        (share / "exit_code").write_text(f"{exit_code}\n")


def test_a_hung_guest_is_booted_again_and_keeps_what_the_first_boot_finished(tmp_path, monkeypatch):
    def first(share):
        _guest_rows(share, [("host", "setup", "passed"), ("nginx", "record", "passed"),
                            ("nginx", "verify", "passed"), ("shop:app", "negative-seccomp", "failed"),
                            ("harvest-redis", "record", "passed")], finished=["nginx", "shop"])
        return "the guest's kernel hung after 900 s (console.log: soft lockup)", True

    def second(share):
        assert not (share / "exit_code").exists() and not (share / "facts.json").exists()
        assert (share / "console-boot-1.log").read_text() == "boot\n"
        _guest_rows(share, [("host", "setup", "passed"), ("harvest-redis", "record", "passed"),
                            ("harvest-redis", "promote", "passed")],
                    finished=["harvest-redis"], exit_code=0)
        return "", False
    _fake_host(tmp_path, monkeypatch, [first, second])
    run = harness.run_host(harness.HOSTS["debian12"], False, False, harvest=("redis",))
    got = [(r["sample"], r["step"], r["status"]) for r in run["results"]]
    assert got == [("nginx", "record", "passed"), ("nginx", "verify", "passed"),
                   ("shop:app", "negative-seccomp", "failed"),  # a failure stays one
                   ("host", "vm boot 1", "retried"),
                   ("host", "setup", "passed"), ("harvest-redis", "record", "passed"),
                   ("harvest-redis", "promote", "passed")]
    assert run["results"][0]["log"] == "logs-boot-1/nginx-record.log"
    assert harness.failures([run]) == 1


def test_a_guest_that_hangs_again_fails_and_a_deadline_stops_the_retry(tmp_path, monkeypatch):
    def hang(share):
        _guest_rows(share, [("host", "setup", "passed")])
        return "the guest's kernel hung after 60 s (console.log: soft lockup)", True
    _fake_host(tmp_path, monkeypatch, [hang, hang])
    run = harness.run_host(harness.HOSTS["debian12"], False, False)
    assert [(r["step"], r["status"]) for r in run["results"]] == [
        ("vm boot 1", "retried"), ("setup", "passed"), ("vm", "failed")]
    assert "hung" in run["results"][-1]["error"] and harness.failures([run]) == 1
    left = iter([1000.0, 100.0])  # before boot 1; after it hung: no time for another boot
    monkeypatch.setattr(harness, "time_left", lambda: next(left))
    _fake_host(tmp_path, monkeypatch, [hang])
    run = harness.run_host(harness.HOSTS["debian12"], False, False)
    assert [(r["step"], r["status"]) for r in run["results"]] == [("setup", "passed"), ("vm", "failed")]


def test_the_guest_skips_the_units_an_earlier_boot_finished(tmp_path):
    share = tmp_path
    g = guest.Guest(share)
    ran = []
    (share / guest.FINISHED).write_text("nginx\n")

    def boom():
        ran.append("shop")
        raise RuntimeError("x")
    guest.run_units(g, share, [("nginx", lambda: ran.append("nginx")), ("shop", boom),
                               ("harvest-redis", lambda: ran.append("harvest-redis"))])
    assert ran == ["shop", "harvest-redis"]
    assert guest.finished_units(share) == {"nginx", "shop", "harvest-redis"}
    assert g.failed == 1 and "RuntimeError: x" in (share / "results.jsonl").read_text()


def test_no_vm_is_booted_when_the_deadline_leaves_no_time_for_one(tmp_path, monkeypatch):
    import time
    monkeypatch.setattr(harness, "DEADLINE", time.time() + 30)
    _fake_host(tmp_path, monkeypatch, [])  # a boot would raise StopIteration
    run = harness.run_host(harness.HOSTS["debian12"], False, False)
    assert [(r["step"], r["status"]) for r in run["results"]] == [("vm", "failed")]
    assert "PROFILER_HOSTS_DEADLINE" in run["results"][0]["error"]


def test_bench_runs_only_record_bench_in_the_guest_with_the_harness_arguments(tmp_path, monkeypatch):
    seen = {}

    def boot(share):
        seen["bench"] = (share / guest.BENCH).read_text().split()
        seen["samples"] = (share / "samples").read_text().split()
        seen["corpus"] = (share / "corpus").exists() or (share / "harvest").exists()
        _guest_rows(share, [("host", "setup", "passed"), ("bench", "record-bench", "passed")],
                    exit_code=0)
        return "", False
    _fake_host(tmp_path, monkeypatch, [boot])
    monkeypatch.setattr(harness, "say", lambda *a: None)
    monkeypatch.setattr(harness, "ensure_tools", lambda: None)
    monkeypatch.setattr(harness.os, "geteuid", lambda: 0)
    rc = harness.main(["debian12", "--bench", "--only loop --rounds 2", "--json",
                       str(tmp_path / "r.json")])
    # the nginx sample's image for the bench's nginx figure; no corpus app, no harvest loop
    assert rc == 0 and seen == {"bench": ["--only", "loop", "--rounds", "2"],
                                "samples": ["nginx"], "corpus": False}
    with pytest.raises(SystemExit):
        harness.main(["debian12", "--bench", "x", "--cross"])
    # the guest's side: one step, record_bench.py with those arguments, nothing else
    clone = tmp_path / "clone"
    monkeypatch.setattr(guest, "CLONE", clone)
    share = tmp_path / "share"
    share.mkdir()
    (share / guest.BENCH).write_text("--only loop --rounds 2\n")
    g = guest.Guest(share)
    argv = []
    monkeypatch.setattr(g, "step", lambda sample, step, a, **k: argv.append((sample, step, a)))
    guest.run_bench(g, share)
    assert argv == [("bench", "record-bench", [str(clone / ".venv/bin/python"),
                                               str(clone / "bench" / "record_bench.py"),
                                               "--only", "loop", "--rounds", "2"])]
    assert "record-bench" in guest.TIMEOUTS

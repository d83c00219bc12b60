"""verify's pure parts: reading a policy directory as emit writes it, analysing a traced run,
and the report (golden files; `pytest --update-golden` rewrites them). No root needed."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from profiler.kernel import syscalls
from profiler.recording.aggregate import build_denials
from profiler.session.engine import RunSpec
from profiler.errors import UsageError
from profiler.kernel.wire import RawTrace
from profiler.verify import verify as v

GOLDEN = Path(__file__).parents[1] / "golden"
ARCH = "x86_64"


@pytest.fixture
def nginx_policy(tmp_path) -> Path:
    """The emit golden files for the nginx fixture, laid out as `emit --format all` writes."""
    d = tmp_path / "policy"
    d.mkdir()
    for src, name in [("nginx.seccomp.json", "seccomp.json"), ("nginx.caps.txt", "caps.txt"),
                      ("nginx.run.sh", "run.sh"), ("nginx.apparmor.profile", "apparmor.profile")]:
        shutil.copy(GOLDEN / "emit" / src, d / name)
    return d


def test_policy_dir_as_emitted(nginx_policy):
    pol = v.load_policy_dir(nginx_policy)
    assert pol.cap_add == ("CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID")
    assert {"accept4", "sendfile", "execve"} <= pol.allowed  # app + runtime syscalls
    assert "clone3" in pol.fallback and "clone3" not in pol.allowed
    assert pol.default_errno == 1
    assert pol.no_new_privileges and pol.read_only
    assert "/var/log/nginx" in pol.tmpfs
    assert pol.pids_limit == 1024
    assert pol.publish == ("127.0.0.1:18080:80",)
    assert pol.seccomp_path.endswith("seccomp.json")


def test_hand_edits_are_used_as_they_are(nginx_policy):
    (nginx_policy / "caps.txt").write_text("--cap-drop ALL --cap-add CHOWN\n")
    assert v.load_policy_dir(nginx_policy).cap_add == ("CHOWN",)


def test_apply_puts_the_policy_over_the_users_options(nginx_policy):
    pol = v.load_policy_dir(nginx_policy)
    spec = v.apply(pol, RunSpec(image="img", cap_add=["SYS_ADMIN"], security_opt=["seccomp=unconfined"],
                                tmpfs=["/cache"]))
    assert spec.cap_drop == ["ALL"] and spec.cap_add == list(pol.cap_add)
    assert spec.security_opt == [f"seccomp={pol.seccomp_path}", "no-new-privileges"]
    assert spec.read_only and "/cache" in spec.tmpfs and "/run" in spec.tmpfs
    assert spec.publish == ["127.0.0.1:18080:80"]


@pytest.mark.parametrize("text", ["--cap-add", "--cap-drop NET_RAW", "--cap-add NOPE", "rm -rf /", "'x"])
def test_bad_caps_txt(text):
    with pytest.raises(UsageError):
        v.parse_caps(text)


def test_bad_policy_dirs(tmp_path):
    with pytest.raises(UsageError, match="not a directory"):
        v.load_policy_dir(tmp_path / "nope")
    with pytest.raises(UsageError, match="neither"):
        v.load_policy_dir(tmp_path)
    (tmp_path / "seccomp.json").write_text("{not json")
    with pytest.raises(UsageError, match="not a seccomp profile"):
        v.load_policy_dir(tmp_path)
    (tmp_path / "seccomp.json").write_text("{}")
    (tmp_path / "run.sh").write_text("docker run img\n")
    with pytest.raises(UsageError, match="args="):
        v.load_policy_dir(tmp_path)


def _raw() -> RawTrace:
    nr = lambda n: syscalls.number_of(ARCH, n)  # noqa: E731
    return RawTrace(
        arch=ARCH,
        denied_calls={(nr("sendfile"), 1, 10): 12, (nr("sendfile"), 1, 11): 3,
                      (nr("clone3"), 38, 10): 2, (nr("gettid"), 1, 12): 1},
        denied_caps={(nr("setuid"), 7, 11): 2},
        erofs={b"/var/cache/app/x": 1 << 1 | 1 << 4},
        exe_of={10: b"/usr/sbin/nginx", 11: b"/usr/sbin/nginx"},
    )


def _report(pol) -> v.VerifyReport:
    return v.analyze(build_denials(_raw()), pol, image="profiler-sample-nginx", exit_code=0,
                     workload="./w.sh", workload_status=1, expected_exit=0,
                     apparmor="the kernel does not enforce AppArmor: apparmor.profile was only "
                              "validated (apparmor_parser -Q -K)")


def test_analysis_attributes_every_denial(nginx_policy):
    r = _report(v.load_policy_dir(nginx_policy))
    assert [(d.syscall, d.errno, d.count, d.executables) for d in r.syscalls] == [
        ("gettid", "EPERM", 1, ("(unknown)",)),
        ("sendfile", "EPERM", 15, ("/usr/sbin/nginx",))]
    assert [(d.syscall, d.count) for d in r.fallbacks] == [("clone3", 2)]  # ENOSYS on purpose
    (c,) = r.capabilities
    assert (c.capability, c.syscall, c.count) == ("CAP_SETUID", "setuid", 2)
    assert "--cap-add SETUID" in c.fix
    (w,) = r.writes
    assert w.path == "/var/cache/app/x" and w.access == ("write", "create")
    assert "--tmpfs /var/cache/app" in w.fix
    assert r.denials == 4 and not r.passed


def test_clean_run_passes(nginx_policy):
    pol = v.load_policy_dir(nginx_policy)
    r = v.analyze(build_denials(RawTrace(arch=ARCH)), pol, image="i", exit_code=0, workload="w",
                  workload_status=0, expected_exit=0)
    assert r.passed and r.denials == 0
    r = v.analyze(build_denials(RawTrace(arch=ARCH)), pol, image="i", exit_code=0, workload="w",
                  workload_status=2)
    assert not r.passed


@pytest.mark.parametrize("fmt", ["txt", "json"])
def test_report_golden(nginx_policy, update_golden, fmt):
    r = _report(v.load_policy_dir(nginx_policy))
    text = v.report_text(r) if fmt == "txt" else v.report_json(r)
    text = text.replace(str(nginx_policy.resolve()), "POLICY")
    golden = GOLDEN / "verify" / f"report.{fmt}"
    if update_golden:
        golden.write_text(text)
    assert text == golden.read_text()


def test_start_failure_report():
    r = v.VerifyReport(image="i", started=False, exit_code=None, expected_exit=0, workload="w",
                 workload_status=None, start_error="the container failed to start: OCI runtime")
    text = v.report_text(r)
    assert "did not start under the policy: the container failed to start" in text
    assert not r.passed


def test_reduced_run_sh(nginx_policy):
    pol = v.load_policy_dir(nginx_policy)
    res = v.MinimizeResult(policy=pol, runs=3, removed_caps=["SETGID"], added_flags=["--network none"],
                           final=None, seconds=1.0)
    text = v._reduce_run_sh((nginx_policy / "run.sh").read_text(), res)
    words = v.parse_run_args(text)
    assert "SETGID" not in words and "SETUID" in words
    assert words[words.index("--network") + 1] == "none"


def test_run_sh_edited_by_hand_in_other_spellings(nginx_policy):
    run = (nginx_policy / "run.sh").read_text().replace(
        "  --pids-limit 1024", "  --pids-limit=40\n  -u 1000:1000\n  --net=none")
    (nginx_policy / "run.sh").write_text(run)
    pol = v.load_policy_dir(nginx_policy)
    assert (pol.pids_limit, pol.user, pol.network) == (40, "1000:1000", "none")
    (nginx_policy / "run.sh").write_text(run.replace("--pids-limit=40", "--pids-limit=many"))
    with pytest.raises(UsageError, match="not a number"):
        v.load_policy_dir(nginx_policy)


def test_denied_compat_call_is_named_in_its_arch(nginx_policy):
    """An i386 uname (122) refused by the profile is reported as uname (x86), not setfsuid."""
    raw = RawTrace(arch=ARCH, denied_compat={("x86", 122, 1, 10): 2},
                   exe_of={10: b"/usr/local/bin/compat32"})
    r = v.analyze(build_denials(raw), v.load_policy_dir(nginx_policy), image="i", exit_code=1, workload="",
                  workload_status=None, expected_exit=0)
    (d,) = r.syscalls
    assert (d.syscall, d.errno, d.count) == ("uname (x86)", "EPERM", 2)
    assert "uname (x86) denied 2x in /usr/local/bin/compat32" in d.fix


# --- AppArmor enforced --------------------------------------------------------------------------

# Audit records as the kernel prints them (the form tests/verify/test_apparmor_audit.py parses).
def _aa_line(serial, op, name, comm, mask, profile="profiler-verify-1"):
    return (f'audit: type=1400 audit(1764400000.{serial:03d}:{serial}): apparmor="DENIED" '
            f'operation="{op}" class="file" profile="{profile}" name="{name}" pid=812 '
            f'comm="{comm}" requested_mask="{mask}" denied_mask="{mask}" fsuid=0 ouid=0')


def test_apparmor_denials_are_grouped_and_attributed():
    from profiler.verify.apparmor_audit import denials_of
    lines = [_aa_line(1, "open", "/etc/nginx/mime.types", "nginx", "r"),
             _aa_line(2, "open", "/etc/nginx/mime.types", "nginx", "r"),
             _aa_line(3, "mknod", "/etc/x", "touch", "c"),
             _aa_line(4, "open", "/etc/shadow", "nginx", "r", profile="docker-default")]
    found = v.analyze_apparmor(denials_of(lines, "profiler-verify-1"),
                               ("/usr/sbin/nginx", "/usr/bin/touch", "/bin/touch"))
    assert [(d.operation, d.path, d.count, d.executables, d.rule) for d in found] == [
        ("mknod", "/etc/x", 1, ("touch",), '"/etc/x" w,'),  # two executables named touch
        ("open", "/etc/nginx/mime.types", 2, ("/usr/sbin/nginx",), '"/etc/nginx/mime.types" r,')]
    assert '`"/etc/nginx/mime.types" r,` to apparmor.profile' in found[1].fix


def test_apparmor_denials_fail_the_report_and_are_shown(nginx_policy):
    from profiler.verify.apparmor_audit import parse_line
    pol = v.load_policy_dir(nginx_policy)
    r = v.analyze(build_denials(RawTrace(arch=ARCH)), pol, image="i", exit_code=0, workload="w",
                  workload_status=0, expected_exit=0)
    found = v.analyze_apparmor([parse_line(_aa_line(1, "open", "/etc/nginx/mime.types", "nginx",
                                                    "r"))], ("/usr/sbin/nginx",))
    r = replace(r, apparmor_denials=found)
    assert r.denials == 1 and not r.passed
    text = v.report_text(r)
    assert "refused by the AppArmor profile" in text
    assert "open       /etc/nginx/mime.types  r       1      /usr/sbin/nginx" in text
    assert json.loads(v.report_json(r))["apparmor_denials"][0]["rule"] == \
        '"/etc/nginx/mime.types" r,'


def test_run_verify_enforces_the_profile_where_the_kernel_does(nginx_policy, monkeypatch):
    """The container runs with `apparmor=<the loaded name>`, the run's denials are reported,
    and the profile is loaded for the run and unloaded after it."""
    from contextlib import contextmanager

    from profiler.verify import apparmor_kernel
    from profiler.session import session
    from profiler.verify.apparmor_audit import parse_line
    from profiler.recording.model import Executable, Metadata, Processes, Recording

    events = []

    class Loaded:
        name = "profiler-verify-1"

        def denials(self):
            return [parse_line(_aa_line(1, "open", "/etc/nginx/mime.types", "nginx", "r"))], False

    @contextmanager
    def loaded(text):
        events.append(("load", apparmor_kernel.profile_name(text)))
        yield Loaded()
        events.append(("unload",))

    def record_container(spec, opts, progress, engine):
        events.append(("run", [o for o in spec.security_opt if o.startswith("apparmor=")]))
        rec = Recording(metadata=Metadata(tool_version="t", kernel="k", arch=ARCH,
                                          mode="container", exit_code=0),
                        processes=Processes(executables=(Executable("/usr/sbin/nginx", 1),)))
        return session.Outcome(rec)

    monkeypatch.setattr(apparmor_kernel, "enforced", lambda: True)
    monkeypatch.setattr(apparmor_kernel, "loaded", loaded)
    monkeypatch.setattr(session, "record_container", record_container)
    pol = v.load_policy_dir(nginx_policy)
    r = v.run_verify(pol, RunSpec(image="i", security_opt=["apparmor=unconfined"]),
                     session.Options(), expected_exit=0)
    assert events == [("load", "profiler-sample-nginx"), ("run", ["apparmor=profiler-verify-1"]),
                      ("unload",)]
    assert "loaded as profiler-verify-1" in r.apparmor
    (d,) = r.apparmor_denials
    assert (d.path, d.executables, d.rule) == ("/etc/nginx/mime.types", ("/usr/sbin/nginx",),
                                              '"/etc/nginx/mime.types" r,')
    assert not r.passed


def test_run_verify_reports_a_profile_that_does_not_load(nginx_policy, monkeypatch):
    from profiler.verify import apparmor_kernel
    from profiler.session import session
    from profiler.errors import AppArmorError

    def loaded(text):
        raise AppArmorError("apparmor.profile line 3: syntax error")

    monkeypatch.setattr(apparmor_kernel, "enforced", lambda: True)
    monkeypatch.setattr(apparmor_kernel, "loaded", loaded)
    r = v.run_verify(v.load_policy_dir(nginx_policy), RunSpec(image="i"), session.Options())
    assert not r.started and "did not load: apparmor.profile line 3" in r.start_error

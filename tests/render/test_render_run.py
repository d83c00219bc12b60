"""--format run: a bash script running a hardened `docker run`, each option with its evidence.
The script is executed with a stand-in `docker` that prints its arguments, so quoting is
checked by bash itself."""

import os
import subprocess
from dataclasses import replace

import pytest

from emitcases import check_golden, made_with_podman, nginx, recording, shell
from profiler.errors import PolicyError
from profiler.policy.reduce import reduce
from profiler.render import run


def run_script(text: str, tmp_path, *extra: str) -> list[str]:
    """Execute the script with a fake docker; return the argv docker received."""
    (tmp_path / "run.sh").write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "docker"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    proc = subprocess.run(["bash", str(tmp_path / "run.sh"), *extra], capture_output=True,
                          env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().split("\0")[:-1]


@pytest.mark.parametrize("which", ["nginx", "shell"])
def test_golden(which, update_golden):
    rec = nginx() if which == "nginx" else shell()
    check_golden(f"{which}.run.sh", run.render(reduce([rec], generalise=False)), update_golden)


def nonroot(engine: str = ""):
    """A service running as uid 100/gid 101 that made its own files in /var/lib/app (as the
    redis sample does): its tmpfs needs an owner option, which Docker and Podman spell apart."""
    return recording(image="example/db:1", uids=[100], gids=[101], user="100:101", peak=4,
                     engine=engine, files=[("/var/lib/app/db", ["create", "write"]),
                                           ("/var/lib/app", ["read"])],
                     sockets=[("AF_INET", "SOCK_STREAM")],
                     listening=[("AF_INET", "0.0.0.0", 6379)],
                     run_options=[("publish", "127.0.0.1:16379:6379")])


@pytest.mark.parametrize("which", ["nginx.podman", "nonroot", "nonroot.podman"])
def test_golden_engines(which, update_golden):
    """The run.sh of a Podman recording runs podman, with Podman's tmpfs owner option U."""
    rec = nginx() if which.startswith("nginx") else nonroot()
    if which.endswith(".podman"):
        rec = made_with_podman(rec)
    check_golden(f"{which}.run.sh", run.render(reduce([rec], generalise=False)), update_golden)


def test_podman_recording_runs_podman_with_the_profiles_path(tmp_path):
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "podman"
    fake.write_text('#!/bin/sh\necho podman >&2\nfor a in "$@"; do printf "%s\\0" "$a"; done\n')
    fake.chmod(0o755)
    policy = reduce([made_with_podman(nonroot())])
    (tmp_path / "run.sh").write_text(run.render(policy))
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    proc = subprocess.run(["bash", str(tmp_path / "run.sh"), "-d"], capture_output=True, env=env,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(b"podman")  # no docker: its CLI would send the content
    argv = proc.stdout.decode().split("\0")[:-1]
    assert argv[0] == "run" and argv[-2:] == ["-d", "example/db:1"]
    assert f"seccomp={tmp_path}/seccomp.json" in argv
    assert argv[argv.index("--user") + 1] == "100:101"
    assert "/tmp:U,notmpcopyup" in argv and not any("uid=" in a for a in argv)
    # the app's state below /var/lib: a named volume, named after the container
    assert "type=volume,source=db-var-lib-app,target=/var/lib/app" in argv


def test_docker_recording_keeps_docker_and_uid_gid():
    text = run.render(reduce([nonroot()]))
    assert "exec docker run" in text and "--tmpfs /tmp:uid=100,gid=101" in text
    assert "podman" not in text


def test_script_runs_the_hardened_command(tmp_path):
    policy = reduce([nginx()])
    argv = run_script(run.render(policy), tmp_path, "--rm", "-d")
    here = str(tmp_path)
    apparmor_on = open("/sys/module/apparmor/parameters/enabled").read().strip() == "Y" \
        if os.path.exists("/sys/module/apparmor/parameters/enabled") else False
    expected = ["run"] + run.docker_args(policy, seccomp_file=f"{here}/seccomp.json",
                                         apparmor_profile=policy.name if apparmor_on else None)
    assert argv == expected + ["--rm", "-d", "profiler-sample-nginx"]
    pairs = set(zip(argv, argv[1:]))
    for pair in (("--cap-drop", "ALL"), ("--cap-add", "DAC_OVERRIDE"),
                 ("--security-opt", "no-new-privileges"), ("--tmpfs", "/var/log/nginx"),
                 ("--pids-limit", "1024"), ("--publish", "127.0.0.1:18080:80"),
                 ("--security-opt", f"seccomp={here}/seccomp.json")):
        assert pair in pairs, pair
    assert "--read-only" in argv
    assert "--user" not in argv and "--network" not in argv  # ran as root; used AF_INET


def test_every_option_has_evidence():
    text = run.render(reduce([nginx()]))
    body = text.split("args=(", 1)[1].split(")\n", 1)[0]
    for line in body.strip().splitlines():
        option, sep, comment = line.partition("  # ")
        assert sep and comment.strip(), line
    assert "Not applied, and why:" in text and "--user: processes ran as root" in text


def test_shell_gets_network_none_and_command(tmp_path):
    argv = run_script(run.render(reduce([shell()])), tmp_path)
    assert argv[argv.index("--network") + 1] == "none"
    assert argv[-4:] == ["profiler-base:bookworm", "sh", "-c",
                         "echo ok; cat /etc/hostname; sleep 0.1; id -u"]


def test_hostile_values_stay_single_words(tmp_path):
    evil = "$(touch pwned)`id`; echo x' \"y"
    rec = recording(image=f"img{evil}", run_options=[("env", f"A={evil}"), ("label", "a b"),
                                                     ("bad key", "x"), ("env", "B=\x1b[2J")])
    rec = replace(rec, metadata=replace(rec.metadata, command=("sh", "-c", evil)))
    policy = reduce([rec])
    argv = run_script(run.render(policy), tmp_path)
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")
    assert argv[-4:] == [f"img{evil}", "sh", "-c", evil]
    assert argv[argv.index("--env") + 1] == f"A={evil}"
    assert argv[argv.index("--label") + 1] == "a b"
    assert "\x1b[2J" not in run.render(policy)  # not printable: left out, and said so
    assert "Options of the recording left out" in run.render(policy)


def test_no_image_is_an_error():
    with pytest.raises(PolicyError, match="no image"):
        run.render(reduce([recording(image="")]))


def test_complain_is_said():
    assert "complain mode" in run.render(reduce([nginx()]), complain=True)


def _apparmor_host(tmp_path, uid: int, loaded: str = "") -> dict:
    """Stand-ins for a host where AppArmor is enabled: `cat` answers Y for the module's
    parameter, `id -u` says uid, apparmor_parser logs its calls, `cut` lists `loaded` as the
    loaded profiles. Returns the environment for run_script-like calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    scripts = {
        "cat": '[ "$1" = /sys/module/apparmor/parameters/enabled ] && { echo Y; exit 0; }\n'
               'exec /bin/cat "$@"\n',
        "id": f'echo {uid}\n',
        "apparmor_parser": f'echo "$@" >> {tmp_path}/parser.log\n',
        "cut": f'printf "%s\\n" {loaded or "other-profile"}\n',
        "docker": 'for a in "$@"; do printf "%s\\0" "$a"; done\n',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")


def _run_sh(tmp_path, env) -> subprocess.CompletedProcess:
    (tmp_path / "run.sh").write_text(run.render(reduce([nginx()])))
    return subprocess.run(["bash", str(tmp_path / "run.sh")], capture_output=True, env=env,
                          timeout=30)


def test_run_sh_loads_the_apparmor_profile_as_root(tmp_path):
    proc = _run_sh(tmp_path, _apparmor_host(tmp_path, uid=0))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "parser.log").read_text() == f"-r -W {tmp_path}/apparmor.profile\n"
    argv = proc.stdout.decode().split("\0")
    assert "apparmor=profiler-sample-nginx" in argv


def test_run_sh_as_a_user_needs_the_profile_loaded(tmp_path):
    proc = _run_sh(tmp_path, _apparmor_host(tmp_path, uid=1000))
    # not loaded: no `docker run` that would fail with "unable to apply apparmor profile"
    assert proc.returncode == 1 and proc.stdout == b""
    assert (b"AppArmor profile profiler-sample-nginx is not loaded; as root: apparmor_parser -r "
            b"-W") in proc.stderr
    assert not (tmp_path / "parser.log").exists()
    proc = _run_sh(tmp_path, _apparmor_host(tmp_path, uid=1000, loaded="profiler-sample-nginx"))
    assert proc.returncode == 0 and b"apparmor=profiler-sample-nginx" in proc.stdout


def test_podman_run_sh_is_read_back_like_dockers():
    """verify and diff read a Podman recording's run.sh (`exec podman run`) as they read
    Docker's."""
    from profiler.diff import diff
    from profiler.output import policy_dir
    text = run.render(reduce([made_with_podman(nonroot())]))
    script = policy_dir.run_script(text)
    assert script.has_docker_run and script.has_args_block
    assert ("--tmpfs", "/tmp:U,notmpcopyup") in script.flags(args_only=True)
    lacks, _ = diff.run_items(text)
    assert "--read-only" not in lacks and "--user" not in lacks


def test_flag_line_is_how_run_sh_writes_each_flag():
    # verify --minimize writes the options it adds with flag_line: they must read as the
    # renderer's own lines
    policy = reduce([nginx()])
    text = run.render(policy)
    flags = run.flags(policy)
    assert flags
    for f in flags:
        assert run.flag_line(f.words, f.comment) + "\n" in text, f


def test_the_name_is_a_parameter_and_names_the_volumes(tmp_path, monkeypatch):
    """The recorded --name is only a default: PROFILER_NAME or a --name argument replace it
    (a second instance does not conflict), and its named volumes follow the name."""
    rec = recording(files=[("/var/lib/app/db", ["create", "write"])],
                    run_options=[("name", "web")])
    text = run.render(reduce([rec]))
    argv = run_script(text, tmp_path, "-d")
    assert argv[argv.index("--name") + 1] == "web"
    assert "type=volume,source=web-var-lib-app,target=/var/lib/app" in argv
    argv = run_script(text, tmp_path, "--name", "web2", "-d")
    assert argv.count("--name") == 1 and argv[argv.index("--name") + 1] == "web2"
    assert "type=volume,source=web2-var-lib-app,target=/var/lib/app" in argv
    monkeypatch.setenv("PROFILER_NAME", "web3")
    argv = run_script(text, tmp_path, "-d")
    assert argv[argv.index("--name") + 1] == "web3"
    assert "type=volume,source=web3-var-lib-app,target=/var/lib/app" in argv

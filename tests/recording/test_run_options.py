"""One spelling of the docker run options (profiler/recording/run_options.py): what `record` stores
through engine.RunSpec.options() is what reduce and the hardening decisions read."""

from emitcases import recording
from profiler.recording import run_options
from profiler.session.engine import RunSpec
from profiler.policy.reduce import reduce
from profiler.render import compose, run


def _spec() -> RunSpec:
    return RunSpec(image="example/app:1.0", publish=["127.0.0.1:8080:80"],
                   volumes=["appdata:/data"], tmpfs=["/cache"], env=["A=secret"],
                   user="app", network="bridge", name="web", read_only=True,
                   cap_add=["NET_ADMIN"], cap_drop=["ALL"],
                   security_opt=["no-new-privileges"], pids_limit=10)


def test_runspec_writes_the_docker_long_option_names():
    names = {k for k, _ in _spec().options()}
    assert names == {"publish", "volume", "tmpfs", "env", "user", "network", "name", "read-only",
                     "cap-add", "cap-drop", "security-opt", "pids-limit"}
    assert ("env", "A") in _spec().options()  # names only, never the value


def test_every_runspec_field_has_one_spelling():
    fields = set(RunSpec.__dataclass_fields__) - {"image", "command"}
    assert fields == set(run_options.FIELD_OPTION)
    for f, o in run_options.FIELD_OPTION.items():
        assert run_options.canonical(f) == o and run_options.canonical(o) == o


def test_a_real_recordings_options_reach_the_decisions():
    rec = recording(uids=[1000], gids=[1000], files=[("/data/db", ["create", "write"])],
                    run_options=_spec().options())
    p = reduce([rec])
    h = p.hardening
    assert h.read_only.apply  # the volume is writable: no reason to keep the root writable
    assert "/data" not in dict(h.tmpfs)
    assert h.user.apply and h.user.value == "app" and "the user the recording ran with" in \
        h.user.evidence
    kept = {k for k, _ in p.run_options}
    assert kept == {"publish", "volume", "tmpfs", "env"}  # the rest the policy decides
    # the name is run.sh's PROFILER_NAME default, not a fixed --name (a second instance)
    assert h.name.apply and h.name.value == dict(_spec().options())["name"]
    script = run.render(p)
    assert "--volume appdata:/data" in script and "--volumes" not in script
    assert "left out" not in script and "cap_add" not in script
    assert "NET_ADMIN" not in script
    fragment = compose.render(p)
    assert "appdata:/data" in fragment and "no compose equivalent" not in fragment


def test_recordings_made_with_the_old_spellings_still_read():
    old = (("volumes", "appdata:/data"), ("cap_add", "NET_ADMIN"), ("security_opt", "x"),
           ("read_only", "true"), ("pids_limit", "10"), ("u", "app"), ("p", "127.0.0.1:1:1"))
    assert run_options.canonical_options(old) == (
        ("volume", "appdata:/data"), ("cap-add", "NET_ADMIN"), ("security-opt", "x"),
        ("read-only", "true"), ("pids-limit", "10"), ("user", "app"),
        ("publish", "127.0.0.1:1:1"))
    rec = recording(uids=[1000], gids=[1000], files=[("/data/db", ["create", "write"])],
                    run_options=old)
    p = reduce([rec])
    assert p.hardening.read_only.apply and p.hardening.user.value == "app"
    assert {k for k, _ in p.run_options} == {"volume", "publish"}

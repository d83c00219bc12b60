"""The run line's kinds of issue 18 (item 3), each from fixtures: a tmpfs never covers a VOLUME
or hides the image's content, tmpfs ownership comes from the users that wrote there, mapped
executable files get an exec tmpfs and AppArmor `m`, the recorded network, DNS and name are
carried (the name as a parameter), the pids limit has a floor, and which boots the runs saw
is said. Every test here failed on the code before these kinds were fixed."""

from dataclasses import replace

import yaml

from emitcases import recording
from profiler.policy import hardening
from profiler.policy.hardening import Evidence
from profiler.policy.reduce import reduce
from profiler.recording import recording_io
from profiler.recording.model import (FileAccess, ImageEntry, ImageFacts, Mount,
                                      NetworkAttachment)
from profiler.render import apparmor, compose, run


def files(*entries) -> tuple[FileAccess, ...]:
    """(path, "ok kinds"[, writer])."""
    return tuple(FileAccess(e[0], tuple(e[1].split()), writer=e[2] if len(e) > 2 else "")
                 for e in entries)


def with_metadata(rec, *, facts=None, **container):
    md = rec.metadata
    return replace(rec, metadata=replace(md, image_facts=facts,
                                         container=replace(md.container, **container)))


def d(path, uid=0, gid=0, mode=0o755, entries=0):
    return ImageEntry(path, "dir", uid, gid, mode, "", entries)


POSTGRES = ImageFacts(volumes=("/var/lib/postgresql/data",),
                      inspected=("/run", "/tmp", "/var/lib", "/var/lib/postgresql/data"),
                      entries=(d("/run"), d("/tmp", mode=0o1777),
                               d("/var/lib", entries=2), d("/var/lib/postgresql", 100, 102,
                                                            entries=1),
                               d("/var/lib/postgresql/data", 100, 102, 0o700)))


# --- 1. never lose data: no tmpfs on or above a VOLUME, a named volume for it ----------------

def test_a_volume_gets_a_named_volume_and_never_a_tmpfs():
    ev = Evidence(uids=(0, 100), gids=(0, 102), home="/var/lib/postgresql",
                  image_facts=POSTGRES,
                  files=files(("/var/lib/postgresql/data/PG_VERSION", "create write"),
                              ("/var/lib/postgresql/data/base", "mkdir"),
                              ("/run/postgresql/.s.PGSQL.5432", "create")))
    plan = hardening.plan_mounts(ev)
    covered = [t for t, _ in plan.tmpfs]
    assert plan.read_only.apply
    assert not any(t == "/var/lib/postgresql/data" or "/var/lib/postgresql/data".startswith(t + "/")
                   for t in covered), covered
    (vol,) = [v for v in plan.volumes if v.target == "/var/lib/postgresql/data"]
    assert vol.kind == "named" and "VOLUME /var/lib/postgresql/data" in vol.evidence
    # the home above the VOLUME gets no tmpfs either (it would hide the image's data dir)
    assert "/var/lib/postgresql" not in covered


def test_run_sh_and_compose_mount_the_volume_by_name():
    rec = with_metadata(recording(files=[("/var/lib/postgresql/data/PG_VERSION",
                                          ["create", "write"])]), facts=POSTGRES)
    p = reduce([rec])
    text = run.render(p)
    assert ('--mount type=volume,source="$volume_prefix"-var-lib-postgresql-data,'
            'target=/var/lib/postgresql/data') in text
    assert "--tmpfs /var/lib/postgresql" not in text
    doc = yaml.safe_load(compose.render(p))
    svc = doc["services"]["app"]
    assert "app-var-lib-postgresql-data:/var/lib/postgresql/data" in svc["volumes"]
    assert "app-var-lib-postgresql-data" in doc["volumes"]
    assert not any(t.startswith("/var/lib/postgresql") for t in svc.get("tmpfs", []))


def test_state_under_var_lib_is_never_a_tmpfs():
    p = reduce([recording(files=[("/var/lib/redis/dump.rdb", ["create", "write"])])])
    assert "/var/lib/redis" not in dict(p.hardening.tmpfs)
    assert [(v.target, v.kind) for v in p.hardening.volumes] == [("/var/lib/redis", "named")]


def test_an_attached_containers_mounts_are_carried():
    rec = with_metadata(recording(files=[("/srv/data/x", ["create", "write"])]),
                        mounts=(Mount("/srv/data", "volume", "appdata"),
                                Mount("/etc/app", "bind", "/opt/app/etc", read_only=True)))
    text = run.render(reduce([rec]))
    assert "--mount type=volume,source=appdata,target=/srv/data" in text
    assert "--mount type=bind,source=/opt/app/etc,target=/etc/app,readonly" in text


# --- 2. a tmpfs never hides the image's content ----------------------------------------------

NGINX_LOGS = ImageFacts(inspected=("/run", "/var/log"), entries=(
    d("/run", entries=1), d("/run/mysqld", 101, 101, 0o755),
    d("/var/log", entries=3), d("/var/log/nginx", entries=2),
    ImageEntry("/var/log/nginx/access.log", "symlink", target="/dev/stdout"),
    ImageEntry("/var/log/nginx/error.log", "symlink", target="/dev/stderr")))


def test_log_symlinks_to_stdout_are_not_hidden():
    # nginx opens its logs with O_CREAT: the recording says "create", the image has symlinks
    ev = Evidence(image_facts=NGINX_LOGS, files=files(
        ("/var/log/nginx/access.log", "write append create"),
        ("/var/log/nginx/error.log", "write append create")))
    plan = hardening.plan_mounts(ev, strict=True)
    assert plan.read_only.apply and "/var/log/nginx" not in dict(plan.tmpfs)
    (vol,) = plan.volumes
    assert (vol.target, vol.kind) == ("/var/log/nginx", "anonymous")
    assert "/var/log/nginx/access.log -> /dev/stdout" in vol.evidence
    assert "--mount type=volume,target=/var/log/nginx" in " ".join(
        w for f in run.flags(reduce([with_metadata(recording(files=[
            ("/var/log/nginx/access.log", ["write", "append", "create"])]), facts=NGINX_LOGS)]))
        for w in f.words)


def test_a_socket_directory_of_the_image_is_not_hidden():
    ev = Evidence(image_facts=NGINX_LOGS, files=files(("/run/mysqld/mysqld.sock", "create")))
    plan = hardening.plan_mounts(ev, strict=True)
    assert "/run" not in dict(plan.tmpfs)
    assert [(v.target, v.kind) for v in plan.volumes] == [("/run", "anonymous")]
    assert "/run/mysqld/" in plan.volumes[0].evidence


# --- 3. tmpfs ownership from the users that wrote there --------------------------------------

def test_a_daemon_that_drops_to_its_user_owns_its_tmpfs():
    # squid: starts as root (uid 0 seen), writes its logs as proxy (13)
    ev = Evidence(uids=(0, 13), gids=(0, 13), files=files(
        ("/var/log/squid/cache.log", "create write", "13:13"),
        ("/var/log/squid/access.log", "create write", "13:13"),
        ("/run/squid.pid", "create write")))
    tmpfs = dict(hardening.plan_mounts(ev, strict=True).tmpfs)
    assert tmpfs["/var/log/squid"] == "uid=13,gid=13,mode=0755"
    assert tmpfs["/run"] == ""  # root wrote there


def test_an_empty_directory_of_the_image_keeps_its_owner():
    facts = ImageFacts(inspected=("/var/cache",),
                       entries=(d("/var/cache", entries=1), d("/var/cache/app", 1000, 1000, 0o750)))
    ev = Evidence(uids=(0, 1000), gids=(0, 1000), image_facts=facts,
                  files=files(("/var/cache/app/x", "create write")))
    plan = hardening.plan_mounts(ev, strict=True)
    assert dict(plan.tmpfs)["/var/cache/app"] == "uid=1000,gid=1000,mode=0750"
    assert "owned as the image's /var/cache/app is" in dict(plan.tmpfs_why)["/var/cache/app"]


def test_the_writer_survives_the_file_format():
    rec = recording(files=[("/var/log/squid/cache.log", ["create", "write"])])
    rec = replace(rec, files=(replace(rec.files[0], writer="13:13"),))
    back = recording_io.loads(recording_io.dumps(rec))
    assert back.files[0].writer == "13:13"


# --- 4. executable mappings per file ---------------------------------------------------------

def test_a_library_mapped_executable_from_tmp_gets_an_exec_tmpfs_and_m():
    ev = Evidence(files=files(("/tmp/snappy-1.1.10-libsnappyjava.so", "create write map_exec")))
    assert dict(hardening.plan_mounts(ev, strict=True).tmpfs)["/tmp"] == "exec"
    rec = recording(files=[("/opt/app/lib/libnative.bin", ["read", "map_exec"])])
    assert '"/opt/app/lib/libnative.bin" rm,' in apparmor.render(reduce([rec]))


# --- 5. run.sh is the recorded container -----------------------------------------------------

def _on_network(**kw):
    rec = recording(sockets=[("AF_INET", "SOCK_STREAM")],
                    run_options=[("name", "web"), ("network", "appnet"), ("publish", "8080:80")])
    return with_metadata(rec, network_mode="appnet",
                         networks=(NetworkAttachment("appnet", ("backend",)),
                                   NetworkAttachment("metrics")),
                         dns_options=("ndots:1",), **kw)


def test_the_recorded_network_aliases_and_dns_are_carried():
    p = reduce([_on_network()])
    text = run.render(p)
    assert "--network appnet" in text and "--network-alias backend" in text
    assert "--dns-option ndots:1" in text
    assert "docker network connect metrics NAME" in text
    doc = yaml.safe_load(compose.render(p))
    svc = doc["services"]["app"]
    assert svc["networks"]["appnet"]["aliases"] == ["backend", "web"]
    assert doc["networks"]["appnet"] == {"external": True}
    assert svc["dns_opt"] == ["ndots:1"]


def test_the_recorded_name_is_a_parameter_not_a_fixed_name():
    p = reduce([_on_network()])
    text = run.render(p)
    assert "--name web" not in text
    assert 'name="${PROFILER_NAME-web}"' in text and 'args+=(--name "$name")' in text
    assert "container_name" not in yaml.safe_load(compose.render(p))["services"]["app"]


def test_pids_limit_never_below_the_floor_or_the_recorded_limit():
    assert hardening.pids_limit(Evidence(peak_tasks=9)).value == "1024"
    ev = Evidence(peak_tasks=9, run_options=(("pids-limit", "4096"),))
    assert hardening.pids_limit(ev).value == "4096"


# --- 6. first boot vs later boots ------------------------------------------------------------

def _boot(empty: bool):
    rec = recording(files=[("/var/lib/postgresql/data/PG_VERSION", ["create", "write"])])
    return with_metadata(rec, facts=POSTGRES, mounts=(
        Mount("/var/lib/postgresql/data", "volume", "", empty_at_start=empty),))


def test_a_first_boot_alone_is_warned_about():
    p = reduce([_boot(True)])
    assert p.hardening.boot.value == "first"
    assert any("only a first boot was recorded (/var/lib/postgresql/data started empty" in w
               for w in p.warnings)
    assert "# First boot vs later boots: only a first boot" in run.render(p)


def test_first_and_later_boots_together_are_covered():
    p = reduce([_boot(True), _boot(False)])
    assert p.hardening.boot.apply and "the policy covers both" in p.hardening.boot.evidence
    assert not any("boot was recorded" in w for w in p.warnings)


def test_a_restart_in_the_recording_covers_the_later_boot():
    rec = _boot(True)
    rec = replace(rec, metadata=replace(rec.metadata, restarts=1))
    p = reduce([rec])
    assert p.hardening.boot.apply and "(record --restart)" in p.hardening.boot.evidence
    assert recording_io.loads(recording_io.dumps(rec)).metadata.restarts == 1


def test_a_17_recording_round_trips():
    rec = _on_network(mounts=(Mount("/data", "volume", "", empty_at_start=True),), facts=POSTGRES)
    assert recording_io.loads(recording_io.dumps(rec)) == rec.canonical()


def test_diff_lists_the_run_lines_volumes():
    from profiler.diff import diff
    items = diff.run_privileges(recording(files=[("/var/lib/redis/dump.rdb", ["create", "write"])]))
    assert "/var/lib/redis" in items["--mount named volume /var/lib/redis"]

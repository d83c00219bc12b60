"""The run line's hardening decisions (profiler/policy/hardening.py): through reduce() on
recordings, and each decision function on hand-made Evidence, one test per rule and its edges."""

from dataclasses import replace

import pytest

from emitcases import nginx, recording
from profiler.policy import hardening
from profiler.policy.hardening import MAX_TMPFS, PIDS_FLOOR, Decision, Evidence
from profiler.recording.model import FileAccess
from profiler.policy.reduce import reduce


def ro(ev: Evidence, strict: bool = True):
    """read_only's (decision, tmpfs); strict by default: most tests here pin the tight rule."""
    d, tmpfs, _ = hardening.read_only(ev, strict=strict)
    return d, tmpfs


def files(*entries) -> tuple[FileAccess, ...]:
    """FileAccess entries from (path, "ok kinds"[, "failed kinds"])."""
    return tuple(FileAccess(e[0], tuple(e[1].split()), tuple(e[2].split()) if len(e) > 2 else ())
                 for e in entries)


# --- through reduce(): recordings in, the Policy's hardening out ------------------------------

def test_nginx_hardening():
    h = reduce([nginx()], strict=True).hardening
    assert h.no_new_privileges.apply
    assert h.read_only.apply
    assert h.tmpfs == (("/run", ""), ("/var/log/nginx", ""))
    # state below /var/lib outlives a restart: a named volume, never a tmpfs
    assert [(v.target, v.kind) for v in h.volumes] == [("/var/lib/nginx", "named")]
    assert h.pids_limit.apply and h.pids_limit.value == "32"
    assert h.tmpfs_spare == ()
    assert not h.user.apply and "root" in h.user.evidence
    assert not h.network_none.apply and "AF_INET" in h.network_none.evidence


def test_setuid_program_blocks_no_new_privileges():
    p = reduce([recording(executables=["/usr/bin/su", "/bin/sh"])])
    assert not p.hardening.no_new_privileges.apply
    assert "/usr/bin/su" in p.hardening.no_new_privileges.evidence


def test_non_root_capability_blocks_no_new_privileges():
    p = reduce([recording(uids=[1000], gids=[1000], caps=[("CAP_NET_RAW", 13)])])
    assert not p.hardening.no_new_privileges.apply


def test_write_outside_tmpfs_roots_keeps_root_writable():
    p = reduce([recording(files=[("/etc/app.conf", ["write", "create"])])])
    assert not p.hardening.read_only.apply and "/etc/app.conf" in p.hardening.read_only.evidence


def test_tmpfs_would_hide_image_files():
    p = reduce([recording(files=[("/var/lib/app/db", ["read", "write"]),
                                 ("/var/lib/app/new", ["create", "write"])])])
    assert not p.hardening.read_only.apply and "hide" in p.hardening.read_only.evidence


def test_volumes_and_docker_files_are_writable_anyway():
    p = reduce([recording(files=[("/data/x", ["write", "create"]), ("/etc/hosts", ["write"]),
                                 ("/proc/self/oom_score_adj", ["write"])],
                          run_options=[("volume", "/srv/data:/data")])], strict=True)
    assert p.hardening.read_only.apply and p.hardening.tmpfs == ()


def test_tmpfs_exec_when_executed_there():
    p = reduce([recording(files=[("/tmp/build/run", ["create", "write", "execute"])])],
               strict=True)
    assert p.hardening.tmpfs == (("/tmp", "exec"),)


def test_hostile_written_dir_refuses_tmpfs():
    p = reduce([recording(files=[("/var/log/a:b/x.log", ["create", "write"])])])
    assert not p.hardening.read_only.apply


def test_user_from_uid_or_image():
    assert reduce([recording(uids=[33], gids=[33])]).hardening.user.value == "33:33"
    assert reduce([recording(uids=[33], gids=[33], user="www-data")]).hardening.user.value \
        == "www-data"
    assert not reduce([recording(uids=[33, 34], gids=[33])]).hardening.user.apply
    assert not reduce([recording(uids=[])]).hardening.user.apply


def test_network_none_only_for_local_sockets():
    p = reduce([recording(sockets=[("AF_UNIX", "SOCK_STREAM")],
                          run_options=[("publish", "127.0.0.1:1:1"), ("env", "A")])], strict=True)
    assert p.hardening.network_none.apply
    assert p.run_options == (("env", "A"),)  # nothing listened: published ports dropped
    p = reduce([recording(sockets=[("AF_INET6", "SOCK_DGRAM")])])
    assert not p.hardening.network_none.apply


def test_pids_limit_margin():
    assert reduce([recording(peak=100)], strict=True).hardening.pids_limit.value == "200"
    assert reduce([recording(peak=100)]).hardening.pids_limit.value == "1024"
    assert reduce([recording(peak=200)]).hardening.pids_limit.value == "1600"
    assert not reduce([recording(peak=0)]).hardening.pids_limit.apply


def test_rename_onto_a_missing_path_counts_as_created():
    # redis: write temp-1.rdb, rename it to dump.rdb (whose first read had failed)
    rec = recording(uids=[100], gids=[101], files=[
        ("/var/lib/redis/temp-1.rdb", ["write", "create", "rename"]),
        ("/var/lib/redis", ["read"])])
    rec = replace(rec, files=rec.files + (FileAccess("/var/lib/redis/dump.rdb", ("rename",),
                                                     ("read",)),))
    h = reduce([rec], strict=True).hardening
    assert h.read_only.apply and h.tmpfs == ()
    assert [(v.target, v.kind) for v in h.volumes] == [("/var/lib/redis", "named")]
    # a rename alone may have moved the image's file away: no tmpfs then
    rec = recording(files=[("/var/lib/app/a", ["rename"]), ("/var/lib/app/b", ["create"])])
    assert not reduce([rec]).hardening.read_only.apply


def test_tmpfs_owned_by_a_non_root_app():
    files = [("/var/cache/app/db", ["create", "write"])]
    assert reduce([recording(uids=[100], gids=[101], files=files)], strict=True).hardening.tmpfs \
        == (("/var/cache/app", "uid=100,gid=101"),)
    assert reduce([recording(uids=[100, 101], gids=[101], files=files)],
                  strict=True).hardening.tmpfs == (("/var/cache/app", "mode=1777"),)
    assert reduce([recording(uids=[0, 33], files=files)], strict=True).hardening.tmpfs == \
        (("/var/cache/app", ""),)


def test_files_in_a_directory_the_app_made_are_its_own():
    # the probe sample: mkdir /tmp/probe, create file.tmp, rename it to file, unlink file
    rec = recording(files=[("/tmp/probe", ["mkdir"]), ("/tmp/probe/file.tmp", ["create", "rename"]),
                           ("/tmp/probe/file", ["delete", "rename"])])
    assert reduce([rec]).hardening.read_only.apply
    rec = recording(files=[("/tmp/probe/file.tmp", ["create"]), ("/tmp/probe/file", ["rename"])])
    assert not reduce([rec]).hardening.read_only.apply


# --- decide --------------------------------------------------------------------------------

def test_decide_gathers_every_decision():
    ev = Evidence(uids=(33,), gids=(33,), peak_tasks=5, sockets=(("AF_UNIX", "SOCK_STREAM"),),
                  files=files(("/tmp/x", "create write")))
    h = hardening.decide(ev)
    assert h.no_new_privileges.evidence == hardening.no_new_privileges(ev).evidence
    assert (h.read_only, h.tmpfs, h.tmpfs_spare) == hardening.read_only(ev)
    assert h.pids_limit == hardening.pids_limit(ev)
    assert h.user.evidence == hardening.user(ev).evidence
    assert h.network_none == hardening.network_none(ev)
    assert h.tmpfs == (("/run", "uid=33,gid=33"), ("/tmp", "uid=33,gid=33"),
                       ("/var/tmp", "uid=33,gid=33"))
    assert h.tmpfs_spare == ("/run", "/var/tmp")
    assert hardening.decide(ev, strict=True).tmpfs == (("/tmp", "uid=33,gid=33"),)


# --- beyond the run: temp directories, $TMPDIR and home get a tmpfs (unless strict) ---------

def test_a_read_only_root_gets_tmpfs_on_every_temp_directory():
    # the app: small uploads stayed in memory in training, production spools to /tmp
    d, tmpfs, spare = hardening.read_only(Evidence(uids=(0,), files=files(("/etc/app", "read"))))
    assert d.apply and tmpfs == (("/root", ""), ("/run", ""), ("/tmp", ""), ("/var/tmp", ""))
    assert spare == ("/root", "/run", "/tmp", "/var/tmp")
    assert "tmpfs also on /root, /run, /tmp, /var/tmp" in d.evidence
    assert d.assumption.startswith("assumes the app writes nowhere but the tmpfs directories")
    d, tmpfs, spare = hardening.read_only(Evidence(uids=(0,)), strict=True)
    assert d.apply and tmpfs == () and spare == ()


def test_tmpdir_and_home_from_the_environment():
    ev = Evidence(uids=(100,), gids=(100,), tmpdir="/var/app/tmp", home="/home/app/",
                  files=files(("/var/cache/app/db", "create write")))
    _, tmpfs, spare = hardening.read_only(ev)
    assert [d for d, _ in tmpfs] == ["/run", "/tmp", "/var/app/tmp", "/var/cache/app", "/var/tmp"]
    assert spare == ("/run", "/tmp", "/var/app/tmp", "/var/tmp")
    # a home below /home is a place for state: a named volume
    assert [(v.target, v.kind) for v in hardening.plan_mounts(ev).volumes] == \
        [("/home/app", "named")]
    assert all(o == "uid=100,gid=100" for _, o in tmpfs)
    # inside another tmpfs directory: no mount of its own
    _, tmpfs, _ = hardening.read_only(Evidence(tmpdir="/tmp/app"))
    assert [d for d, _ in tmpfs] == ["/run", "/tmp", "/var/tmp"]


def test_spare_tmpfs_never_hides_image_files_or_mounts():
    ev = Evidence(uids=(0,), files=files(("/run/lock/x", "read"), ("/tmp/seed", "read")),
                  run_options=(("volume", "data:/var/tmp"), ("tmpfs", "/root")))
    d, tmpfs, spare = hardening.read_only(ev)
    assert d.apply and tmpfs == () and spare == ()
    _, tmpfs, _ = hardening.read_only(Evidence(tmpdir="relative", home="/a:b"))
    assert [d for d, _ in tmpfs] == ["/run", "/tmp", "/var/tmp"]


def test_written_directories_keep_their_exec_and_spare_ones_stay_noexec():
    ev = Evidence(files=files(("/tmp/jit/code", "create execute")))
    _, tmpfs, spare = hardening.read_only(ev)
    assert dict(tmpfs) == {"/run": "", "/tmp": "exec", "/var/tmp": ""} and "/tmp" not in spare


# --- no-new-privileges ---------------------------------------------------------------------

def test_no_new_privileges_refused_for_a_setid_program():
    d = hardening.no_new_privileges(Evidence(executables=("/bin/sh", "/usr/bin/sudo")))
    assert not d.apply and d.evidence.startswith("ran /usr/bin/sudo: ")


def test_setid_programs_are_matched_by_base_name_only():
    # "sum" is not "su", and a directory named like one does not count
    d = hardening.no_new_privileges(Evidence(executables=("/usr/bin/sum", "/su/app")))
    assert d.apply


def test_no_new_privileges_refused_when_a_non_root_process_used_capabilities():
    d = hardening.no_new_privileges(Evidence(uids=(1000,), capabilities=("CAP_NET_RAW",)))
    assert not d.apply and "CAP_NET_RAW" in d.evidence


@pytest.mark.parametrize("uids", [(), (0, 1000)])
def test_capabilities_of_root_or_of_unknown_uids_allow_no_new_privileges(uids):
    assert hardening.no_new_privileges(Evidence(uids=uids, capabilities=("CAP_CHOWN",))).apply


def test_no_new_privileges_evidence_names_up_to_four_executables():
    assert "(executables: none recorded)" in hardening.no_new_privileges(Evidence()).evidence
    four = ("/bin/a", "/bin/b", "/bin/c", "/bin/d")
    assert "(executables: /bin/a, /bin/b, /bin/c, /bin/d)" in \
        hardening.no_new_privileges(Evidence(executables=four)).evidence
    assert "(executables: /bin/a, /bin/b, /bin/c, /bin/d ...)" in \
        hardening.no_new_privileges(Evidence(executables=four + ("/bin/e",))).evidence


# --- read-only root and tmpfs --------------------------------------------------------------

def test_read_only_without_writes():
    d, tmpfs = ro(Evidence(files=files(("/etc/passwd", "read"))))
    assert d == Decision(True, "", "no write outside /proc, /sys, /dev and mounted volumes: the "
                                   "rest read-only", hardening._RO_ASSUMES_STRICT)
    assert tmpfs == ()


def test_writes_to_docker_mounts_and_files_do_not_count():
    ev = Evidence(files=files(("/proc/self/oom_score_adj", "write"), ("/dev/null", "write"),
                              ("/sys/fs/x", "write"), ("/etc/resolv.conf", "write"),
                              ("/etc/hostname", "write")))
    assert ro(ev) == (ro(Evidence())[0], ())


@pytest.mark.parametrize("key,value", [
    ("volume", "/srv/data:/data"), ("volume", "named:/data:ro"), ("volume", "/data"),
    ("tmpfs", "/data:size=1m"), ("mount", "type=bind,source=/srv,target=/data"),
    ("mount", "type=volume,dst=/data"), ("mount", "destination=/data"),
])
def test_writes_below_the_recordings_own_mounts_do_not_count(key, value):
    ev = Evidence(files=files(("/data/x", "create write")), run_options=((key, value),))
    assert ro(ev)[0].apply


@pytest.mark.parametrize("key,value", [
    ("volume", "data"),  # an anonymous volume needs an absolute path: no target here
    ("mount", "type=bind,target=data"),  # a relative target is not a mount point
    ("publish", "/data"),  # not a mount option
])
def test_options_that_mount_nothing_absolute_do_not_exempt(key, value):
    ev = Evidence(files=files(("/data/x", "create write")), run_options=((key, value),))
    assert "writes '/data/x'" in ro(ev)[0].evidence


def test_a_write_outside_the_tmpfs_roots_keeps_the_root_writable():
    d, tmpfs = ro(Evidence(files=files(("/var/lib/a/x", "create write"),
                                                        ("/app/state", "create write"))))
    assert not d.apply and tmpfs == ()
    assert d.evidence.startswith("writes '/app/state', outside the places a tmpfs can serve")


def test_a_directory_a_tmpfs_option_cannot_carry_refuses():
    for bad in ("a,b", "a\tb", "a\ufffdb"):
        d, _ = ro(Evidence(files=files((f"/var/log/{bad}/x", "create write"))))
        assert not d.apply and "characters a --tmpfs option cannot carry" in d.evidence


def test_too_many_tmpfs_directories_refuse():
    many = [(f"/var/cache/app{i}/db", "create write") for i in range(MAX_TMPFS + 1)]
    d, _ = ro(Evidence(files=files(*many)))
    assert not d.apply and f"writes in {MAX_TMPFS + 1} directories" in d.evidence
    d, tmpfs = ro(Evidence(files=files(*many[:MAX_TMPFS])))
    assert d.apply and len(tmpfs) == MAX_TMPFS


def test_tmpfs_anchors():
    ev = Evidence(files=files(("/var/run/app.pid", "create write"), ("/tmp/a/b/c", "create"),
                              ("/var/log/app/x/y.log", "create write"), ("/var/cache/c", "create"),
                              ("/root/.history", "create write")))
    d, tmpfs = ro(ev)
    # /var/run is /run; the app's own directory below /var/log; /var/cache itself for a file
    # directly in it; elsewhere the parent
    assert d.apply and [t for t, _ in tmpfs] == ["/root", "/run", "/tmp", "/var/cache",
                                                  "/var/log/app"]
    assert d.evidence == ("all writes are below /root, /run, /tmp, /var/cache, /var/log/app "
                          "(files the app created itself): the rest read-only")


def test_nested_tmpfs_directories_keep_the_outermost():
    _, tmpfs = ro(Evidence(files=files(("/var/cache/u/x/f", "create write"),
                                       ("/var/cache/g", "create write"))))
    assert tmpfs == (("/var/cache", ""),)


def test_a_used_image_file_below_a_tmpfs_refuses_and_names_the_first():
    ev = Evidence(files=files(("/tmp/new", "create write"), ("/tmp/z.conf", "read"),
                              ("/tmp/b.conf", "read"), ("/etc/passwd", "read")))
    d, tmpfs = ro(ev)
    assert (d.apply, tmpfs) == (False, ())
    assert d.evidence == "'/tmp/b.conf' is used but not created by the app: a tmpfs on /tmp " \
                         "would hide the image's copy"


def test_files_below_a_directory_the_app_made_are_its_own():
    ev = Evidence(files=files(("/var/lib/app/data", "mkdir"), ("/var/lib/app/data/a/b", "read")))
    assert ro(ev)[0].apply


def test_a_move_onto_a_missing_path_counts_as_creating_it():
    moved = files(("/tmp/new", "create write rename"), ("/tmp/dump", "rename", "read"))
    assert ro(Evidence(files=moved))[0].apply
    # the same move onto a path that was there (no failed access) may have replaced the image's
    assert not ro(Evidence(files=files(("/tmp/new", "create write rename"),
                                                        ("/tmp/dump", "rename"))))[0].apply
    # a failed access alone creates nothing
    assert not ro(Evidence(files=files(("/tmp/new", "create write"),
                                                        ("/tmp/dump", "read", "write"))))[0].apply


def test_accesses_of_one_path_in_several_runs_are_merged():
    runs = files(("/tmp/f", "read"), ("/tmp/f", "create write"))
    assert ro(Evidence(files=runs)) == \
        ro(Evidence(files=runs[::-1]))
    assert ro(Evidence(files=runs))[0].apply


@pytest.mark.parametrize("uids,gids,options", [
    ((), (), ""),  # unknown user: as root
    ((0, 33), (0,), ""),  # root writes anywhere
    ((100,), (101,), "uid=100,gid=101"),
    ((100,), (100, 101), "uid=100"),  # which gid is unknown
    ((100, 101), (101,), "mode=1777"),  # several users share it
])
def test_tmpfs_owner(uids, gids, options):
    ev = Evidence(uids=uids, gids=gids, files=files(("/tmp/f", "create")))
    assert ro(ev)[1] == (("/tmp", options),)


# Podman: U is the container user's uid and gid (it refuses uid=/gid=); notmpcopyup keeps the
# tmpfs empty as Docker's is (Podman copies the image's files in by default).
@pytest.mark.parametrize("uids,gids,options", [
    ((100,), (101,), "U,notmpcopyup"),
    ((100,), (100, 101), "U,notmpcopyup"),
    ((100, 101), (101,), "mode=1777,notmpcopyup"),
    ((0, 33), (0,), "notmpcopyup"),
])
def test_tmpfs_options_under_podman(uids, gids, options):
    ev = Evidence(uids=uids, gids=gids, files=files(("/tmp/f", "create")), engine="podman")
    assert ro(ev)[1] == (("/tmp", options),)


def test_a_podman_recording_gets_podmans_tmpfs_options():
    from emitcases import made_with_podman
    rec = recording(uids=[100], gids=[101], files=[("/var/cache/app/db", ["create", "write"])])
    assert reduce([made_with_podman(rec)], strict=True).hardening.tmpfs == \
        (("/var/cache/app", "U,notmpcopyup"),)
    assert reduce([made_with_podman(nginx())], strict=True).hardening.tmpfs == \
        (("/run", "notmpcopyup"), ("/var/log/nginx", "notmpcopyup"))
    exec_ev = Evidence(uids=(5,), gids=(5,), files=files(("/tmp/run", "create execute")),
                       engine="podman")
    assert ro(exec_ev)[1] == (("/tmp", "U,exec,notmpcopyup"),)


def test_tmpfs_exec_only_where_something_was_executed():
    ev = Evidence(uids=(5,), gids=(5,), files=files(("/tmp/run", "create execute"),
                                                    ("/run/app.pid", "create write")))
    assert ro(ev)[1] == (("/run", "uid=5,gid=5"), ("/tmp", "uid=5,gid=5,exec"))


# --- pids limit ----------------------------------------------------------------------------

@pytest.mark.parametrize("peak,limit", [(1, str(PIDS_FLOOR)), (16, "32"), (17, "34"),
                                        (100, "200")])
def test_pids_limit_is_twice_the_peak_with_a_floor_when_strict(peak, limit):
    d = hardening.pids_limit(Evidence(peak_tasks=peak), strict=True)
    assert d.apply and d.value == limit
    assert d.evidence == (f"an estimate: peak {peak} tasks (processes and threads) seen; limit "
                          f"max(32, 2 x peak)")
    assert d.assumption == "assumes the workload drove at least 1/2 of production's peak " \
                           "concurrency (threads count as tasks)"


@pytest.mark.parametrize("peak,limit", [(1, "1024"), (128, "1024"), (129, "1032"),
                                        (300, "2400")])
def test_pids_limit_has_headroom_by_default(peak, limit):
    d = hardening.pids_limit(Evidence(peak_tasks=peak))
    assert d.value == limit and "max(1024, 8 x peak)" in d.evidence
    assert "not configured for more than" in d.assumption


@pytest.mark.parametrize("peak", [0, -1])
def test_no_pids_limit_without_a_peak(peak):
    assert hardening.pids_limit(Evidence(peak_tasks=peak)) == \
        Decision(False, "", "the peak task count was not recorded")


# --- user ----------------------------------------------------------------------------------

def test_no_user_without_uids_or_with_root():
    assert hardening.user(Evidence(image_user="app")) == \
        Decision(False, "", "no uid was recorded")
    assert hardening.user(Evidence(uids=(0, 33), image_user="app")) == \
        Decision(False, "", "processes ran as root (uids seen: 0, 33)")


@pytest.mark.parametrize("options,image_user,value", [
    ((("user", "app:grp"),), "www-data", "app:grp"),  # the recording's --user first
    ((("user", "app"),), "", "app"),
    ((("user", "root"),), "www-data", "www-data"),  # root is never proposed
    ((("user", "0:33"),), "", "33:33"),
    ((("user", "a b"),), "", "33:33"),  # cannot be passed as given
    ((), "www-data", "www-data"),  # the image's USER
    ((), "www-data:www-data", "www-data:www-data"),
    ((), "$(id)", "33:33"),
])
def test_user_names(options, image_user, value):
    d = hardening.user(Evidence(uids=(33,), gids=(33,), run_options=options,
                                image_user=image_user))
    assert d.apply and d.value == value


def test_user_from_the_uid_seen():
    assert hardening.user(Evidence(uids=(33,), gids=(33,))) == \
        Decision(True, "33:33", "the only uid seen; the app never ran as root")
    assert hardening.decide(Evidence(uids=(33,), gids=(33,))).user.assumption.startswith(
        "assumes the app never needs root later")
    assert hardening.user(Evidence(uids=(33,), gids=(33, 34))).value == "33"
    d = hardening.user(Evidence(uids=(33, 34), gids=(33,)))
    assert d == Decision(False, "", "several non-root uids seen (33, 34) and no image USER to name")
    assert hardening.user(Evidence(uids=(33, 34), image_user="app")).value == "app"


# --- network -------------------------------------------------------------------------------

def test_network_none_without_sockets():
    assert hardening.network_none(Evidence()) == \
        Decision(True, "none", "opened no network socket", hardening._NET_ASSUMES)


def test_network_none_with_local_sockets_only():
    ev = Evidence(sockets=(("AF_UNIX", "SOCK_STREAM"), ("AF_NETLINK", "SOCK_RAW")))
    assert hardening.network_none(ev) == Decision(
        True, "none", "opened no network socket (only AF_NETLINK, AF_UNIX)", hardening._NET_ASSUMES)


def test_network_none_says_published_ports_are_dropped():
    for key in ("publish", "expose"):
        d = hardening.network_none(Evidence(run_options=((key, "80"),)), strict=True)
        assert d.apply and d.evidence.endswith("; published ports dropped")


def test_a_published_app_keeps_its_network_unless_strict():
    d = hardening.network_none(Evidence(run_options=(("publish", "127.0.0.1:8080:80"),)))
    assert not d.apply and "published 127.0.0.1:8080:80: the app is meant to serve" in d.evidence


def test_an_app_that_prepared_a_name_lookup_keeps_its_network_unless_strict():
    ev = Evidence(files=files(("/etc/resolv.conf", "read"), ("/etc/nsswitch.conf", "read")))
    d = hardening.network_none(ev)
    assert not d.apply and "it read /etc/resolv.conf: it prepared a name lookup" in d.evidence
    assert hardening.network_none(ev, strict=True).apply
    # nsswitch.conf alone is a user lookup (getpwnam), not a name lookup
    assert hardening.network_none(Evidence(files=files(("/etc/nsswitch.conf", "read")))).apply


def test_ip_sockets_keep_the_network():
    d = hardening.network_none(Evidence(sockets=(("AF_INET", "SOCK_STREAM"),
                                                 ("AF_UNIX", "SOCK_STREAM")),
                                        run_options=(("publish", "80"),)))
    assert d == Decision(False, "", "opened AF_INET sockets")


def test_endpoints_count_without_a_socket_entry():
    ev = Evidence(listening=(("AF_INET6", "::", 80), ("AF_INET", "0.0.0.0", 8080)))
    assert hardening.network_none(ev) == Decision(
        False, "", "opened AF_INET, AF_INET6 sockets (listening on [::]:80, 0.0.0.0:8080)")
    assert not hardening.network_none(Evidence(connects=(("AF_INET", "10.0.0.1", 53),))).apply

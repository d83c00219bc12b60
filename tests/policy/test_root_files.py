"""Root beside the app's own user (issue 18; hardening.root_over_app_files, generalise.capabilities):
a daemon that starts as root and drops to its own user keeps private files that root in the
same container meets later, and passes only with CAP_DAC_OVERRIDE: an operator's `docker exec`
of the app's admin tool (bind9: `rndc status` reads rndc.key, 0640 bind:bind) and a later boot's
root entrypoint (postgresql: `chown -R` of the data directory the first boot filled). The
recordings below are the corpus's, cut down to the evidence; every test of the rule failed on
the code before it (the capability was not added)."""

from dataclasses import replace

import pytest
import yaml

from emitcases import recording
from profiler.policy import hardening
from profiler.policy.reduce import reduce
from profiler.recording.model import FileAccess, ImageEntry, ImageFacts, Mount
from profiler.render import caps, compose, k8s, run

DROPS = (("CAP_SETGID", 6), ("CAP_SETUID", 7))


def _with(rec, *, files=(), facts=None, mounts=(), user="", restarts=0):
    md = rec.metadata
    return replace(rec, files=tuple(files) or rec.files,
                   metadata=replace(md, image_facts=facts, restarts=restarts,
                                    container=replace(md.container, user=user,
                                                      mounts=tuple(mounts))))


def _entry(path, kind="file", uid=100, gid=101, mode=0o640):
    return ImageEntry(path, kind, uid, gid, mode)


def bind9(*, key_mode=0o640, key_uid=100, key_gid=101, read_key=True, caps_=DROPS, user="",
          uids=(0, 100)):
    """named -u bind: root reads its config, drops to bind (uid 100), which reads rndc.key."""
    facts = ImageFacts(volumes=("/etc/bind",), inspected=("/etc/bind",), entries=(
        _entry("/etc/bind", "dir", 0, 101, 0o2755),
        _entry("/etc/bind/named.conf", uid=0, gid=101, mode=0o644),
        _entry("/etc/bind/rndc.key", uid=key_uid, gid=key_gid, mode=key_mode)))
    files = [FileAccess("/etc/bind/named.conf", ("read",))]
    if read_key:
        files.append(FileAccess("/etc/bind/rndc.key", ("read",)))
    rec = recording(caps=caps_, uids=uids, gids=(0, 101), user=user,
                    names=("read", "write", "openat", "setuid", "setgid", "exit_group"))
    return _with(rec, files=files, facts=facts, user=user,
                 mounts=(Mount("/etc/bind", "volume", "", empty_at_start=False),))


def postgres(*, empty=True, restarts=0, chown=True):
    """The entrypoint (root) chowns the empty data volume, then postgres (uid 100) fills it."""
    data = "/var/lib/postgresql/data"
    files = [FileAccess(data, ("read", "chmod") + (("chown",) if chown else ())),
             FileAccess(f"{data}/PG_VERSION", ("write", "create"), writer="100:102"),
             FileAccess(f"{data}/base", ("mkdir",), writer="100:102")]
    facts = ImageFacts(volumes=(data,), inspected=(data,),
                       entries=(_entry(data, "dir", 100, 102, 0o755),))
    rec = recording(caps=DROPS + (("CAP_CHOWN", 0), ("CAP_FOWNER", 3)), uids=(0, 100),
                    gids=(0, 102), names=("read", "write", "openat", "chown", "exit_group"))
    return _with(rec, files=files, facts=facts, restarts=restarts,
                 mounts=(Mount(data, "volume", "", empty_at_start=empty),))


# --- docker exec of an admin tool: the image's private files of the app's user ---------------

def test_root_gets_dac_override_for_the_app_users_private_key():
    p = reduce([bind9()])
    assert "CAP_DAC_OVERRIDE" in p.capabilities
    assert p.generalised_capabilities == ("CAP_DAC_OVERRIDE",)
    (row,) = [g for g in p.generalised if g.kind == "capability"]
    assert "/etc/bind/rndc.key (0640 100:101, in the image)" in row.because
    assert "docker exec" in row.why and "CAP_DAC_READ_SEARCH is not added" in row.why
    assert "CAP_DAC_READ_SEARCH" not in p.capabilities


def test_the_run_line_and_k8s_say_why():
    p = reduce([bind9()])
    text = run.render(p)
    assert "--cap-add DAC_OVERRIDE  # CAP_DAC_OVERRIDE was not used in the recording: root" in text
    assert "--cap-add DAC_OVERRIDE" in caps.render(p)
    kube = k8s.render(p)
    assert "# granted during the recording, unless noted below" in kube
    assert "CAP_DAC_OVERRIDE was not used in the recording" in kube
    svc = yaml.safe_load(compose.render(p))["services"]["app"]
    assert "DAC_OVERRIDE" in svc["cap_add"]
    assert '- "DAC_OVERRIDE"  # CAP_DAC_OVERRIDE was not used in the recording' in compose.render(p)
    # without the kind nothing is noted
    assert "unless noted" not in k8s.render(reduce([bind9(key_mode=0o644)]))


def test_strict_keeps_exactly_what_the_run_used():
    p = reduce([bind9()], strict=True)
    assert "CAP_DAC_OVERRIDE" not in p.capabilities and not p.generalised_capabilities
    assert not p.hardening.root_files.apply
    assert "emit --strict" in p.hardening.root_files.evidence
    assert "CAP_DAC_OVERRIDE" not in reduce([bind9()], generalise=False).capabilities


@pytest.mark.parametrize("kw", [
    {"key_mode": 0o644},              # root passes as "other"
    {"key_gid": 0, "key_mode": 0o640},  # root's group may read it
    {"key_uid": 0},                   # root owns it
    {"read_key": False},              # the app never used it
    {"user": "bind"},                 # docker exec runs as the app's user, not root
    {"user": "100:101"},
    {"uids": (100,)},                 # never ran as root
    {"uids": (0,)},                   # never dropped to a user of its own
    {"caps_": (("CAP_SETUID", 7),)},  # root could not become the owner: not given
])
def test_no_dac_override_without_the_evidence(kw):
    p = reduce([bind9(**kw)])
    assert "CAP_DAC_OVERRIDE" not in p.capabilities, kw
    assert not p.generalised_capabilities


def test_a_directory_root_cannot_search_counts_when_the_app_used_files_below_it():
    facts = ImageFacts(inspected=("/var/lib/app",), entries=(
        _entry("/var/lib/app", "dir", 100, 100, 0o750),))
    rec = _with(recording(caps=DROPS, uids=(0, 100), gids=(0, 100)), facts=facts,
                files=[FileAccess("/var/lib/app/state", ("read",))])
    assert reduce([rec]).generalised_capabilities == ("CAP_DAC_OVERRIDE",)
    rec = _with(rec, facts=facts, files=[FileAccess("/var/lib/other", ("read",))])
    assert not reduce([rec]).generalised_capabilities


def test_granted_in_the_recording_it_is_not_generalised():
    p = reduce([bind9(caps_=DROPS + (("CAP_DAC_OVERRIDE", 1),))])
    assert "CAP_DAC_OVERRIDE" in p.capabilities and not p.generalised_capabilities


# --- a later boot: root walks what the app's user made on the first -------------------------

def test_a_first_boot_that_handed_a_directory_over_gives_the_later_boot_dac_override():
    p = reduce([postgres()])
    assert p.generalised_capabilities == ("CAP_DAC_OVERRIDE",)
    ev = p.hardening.root_files.evidence
    assert "/var/lib/postgresql/data (chown'd by root, then 2 file(s) created there" in ev
    assert p.hardening.boot.value == "first"  # and the warning about boots stays


def test_a_recorded_later_boot_is_its_own_evidence():
    # the restart (record --restart) or a second run on kept data showed what a later boot needs
    assert not reduce([postgres(restarts=1)]).generalised_capabilities
    assert not reduce([postgres(), postgres(empty=False)]).generalised_capabilities


def test_no_hand_over_without_a_chown():
    assert not reduce([postgres(chown=False)]).generalised_capabilities


def test_root_over_app_files_on_bare_evidence():
    ev = hardening.Evidence(uids=(0, 100), capabilities=("CAP_SETGID", "CAP_SETUID"))
    assert not hardening.root_over_app_files(ev).apply
    assert hardening.root_over_app_files(
        replace(ev, capabilities=ev.capabilities + ("CAP_DAC_OVERRIDE",))).evidence \
        == "CAP_DAC_OVERRIDE was granted during the recording"

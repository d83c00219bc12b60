"""What the engine module reads about an image and a container for the run line: a `docker cp`
tar of a directory -> ImageEntries, inspect's Mounts and Networks (pure parts), and the image
facts of a real image (root)."""

import io
import tarfile

import pytest

from profiler.session.engine import _ChunkReader, mounts_of, networks_of, tar_entries


def _tar(members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, extra in members:
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mode = extra.get("uid", 0), extra.get("gid", 0), extra.get("mode", 0o755)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra["target"]
            tar.addfile(info, io.BytesIO(b"") if kind == "file" else None)
    return buf.getvalue()


def test_a_docker_cp_tar_becomes_entries_with_counts():
    data = _tar([("log", "dir", {}), ("log/nginx", "dir", {"uid": 33}),
                 ("log/nginx/access.log", "symlink", {"target": "/dev/stdout"}),
                 ("log/apt", "dir", {}), ("log/apt/deep", "dir", {}),
                 *[(f"log/apt/deep/f{i}", "file", {}) for i in range(40)]])
    chunks = [data[i:i + 700] for i in range(0, len(data), 700)]  # the SDK streams chunks
    entries = {e.path: e for e in tar_entries(_ChunkReader(chunks), "/var/log")}
    assert entries["/var/log"].entries == 44
    assert entries["/var/log/nginx"].uid == 33 and entries["/var/log/nginx"].entries == 1
    assert entries["/var/log/nginx/access.log"].target == "/dev/stdout"
    assert entries["/var/log/apt/deep"].entries == 40
    # below two levels: at most 16 entries per directory are listed, all are counted
    assert len([p for p in entries if p.startswith("/var/log/apt/deep/")]) == 16


def test_inspect_mounts_and_networks():
    attrs = {"Mounts": [
        {"Type": "volume", "Name": "a" * 64, "Destination": "/var/lib/postgresql/data", "RW": True},
        {"Type": "volume", "Name": "pgdata", "Destination": "/data", "RW": True},
        {"Type": "bind", "Source": "/opt/etc", "Destination": "/etc/app", "RW": False}],
        "NetworkSettings": {"Networks": {"appnet": {"Aliases": ["0123456789ab", "db", "web"]}}}}
    m = mounts_of(attrs)
    assert [(x.target, x.type, x.source, x.read_only) for x in m] == [
        ("/data", "volume", "pgdata", False), ("/etc/app", "bind", "/opt/etc", True),
        ("/var/lib/postgresql/data", "volume", "", False)]
    (n,) = networks_of(attrs, "0123456789ab" + "c" * 52, "web")
    assert n.name == "appnet" and n.aliases == ("db",)


@pytest.mark.root
def test_image_facts_read_the_owners_and_modes_below_etc(docker_client):
    """/etc is read too (hardening.root_over_app_files: an app's keys and config kept there at
    modes that exclude root, such as bind's rndc.key, need no VOLUME to be seen)."""
    from profiler.session.engine import Engine

    image = docker_client.images.get("profiler-base:bookworm")
    facts = Engine().image_facts(image.id, ())
    assert facts is not None and "/etc" in facts.inspected
    shadow = next(e for e in facts.entries if e.path == "/etc/shadow")
    assert (shadow.type, shadow.uid, shadow.gid, shadow.mode) == ("file", 0, 42, 0o640)


@pytest.mark.root
def test_image_facts_container_is_owned_so_a_killed_runs_sweep_removes_it(docker_client,
                                                                          monkeypatch):
    """A run killed while it reads the image's facts leaves the never-started container behind
    (found on the lab host after the SIGKILL fault tests): it carries the owner label, and the
    next run's sweep removes it once its owner is gone."""
    import subprocess
    import sys

    from profiler.kernel import leftovers
    from profiler.session.engine import Engine

    image = docker_client.images.get("profiler-base:bookworm")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = leftovers.owner_token(child.pid)
    finally:
        child.kill()
        child.wait()
    from docker.models.containers import ContainerCollection

    real_create = ContainerCollection.create
    made = []

    def create(self, *a, **kw):  # the container as image_facts makes it, owned by the dead process
        assert kw["labels"][leftovers.OWNER_LABEL] == leftovers.owner_token()
        kw["labels"] = dict(kw["labels"], **{leftovers.OWNER_LABEL: dead})
        c = real_create(self, *a, **kw)
        made.append(c.id)
        raise SystemExit("killed")  # as SIGKILL would: image_facts' clean-up never runs

    monkeypatch.setattr(ContainerCollection, "create", create)
    with pytest.raises(SystemExit):
        Engine().image_facts(image.id, ())
    monkeypatch.undo()
    assert made and docker_client.containers.get(made[0]).labels["io.profiler.inspect"] == "1"
    done = leftovers.sweep(Engine(), state_dir=None)
    assert any(line.startswith("container ") for line in done)
    import docker
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(made[0])

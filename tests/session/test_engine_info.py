"""engine.py's pure parts: which engine answers (Docker or Podman's compat API), the runtime a
container runs under, how a seccomp profile file reaches each engine, and the recording's
engine/runtime metadata (schema 1.6)."""

from __future__ import annotations

import json
from dataclasses import replace

from profiler.recording import recording_io
from profiler.session.engine import (ContainerInfo, EngineInfo, _security_opts, container_runtime,
                                     engine_info, tmpfs_hint)
from profiler.recording.model import SCHEMA_VERSION, Metadata, Recording
from profiler.policy.reduce import reduce

# Shapes of the two engines' /version and /info answers (the keys engine_info reads).
DOCKER_VERSION = {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41",
                  "Components": [{"Name": "Engine", "Version": "20.10.24+dfsg1"},
                                 {"Name": "containerd", "Version": "1.6.20"},
                                 {"Name": "runc", "Version": "1.1.5"}]}
DOCKER_INFO = {"CgroupDriver": "systemd", "DefaultRuntime": "runc", "Runtimes": {"runc": {}}}
PODMAN_VERSION = {"Version": "4.3.1", "ApiVersion": "1.41",
                  "Components": [{"Name": "Podman Engine", "Version": "4.3.1"},
                                 {"Name": "Conmon", "Version": "conmon version 2.1.6"},
                                 {"Name": "OCI Runtime (crun)", "Version": "crun version 1.8.1"}]}
PODMAN_INFO = {"CgroupDriver": "systemd", "DefaultRuntime": "crun",
               "Runtimes": {"crun": {"path": "/usr/bin/crun"}}}


def test_docker_is_told_from_podman_by_its_version_components():
    assert engine_info(DOCKER_VERSION, DOCKER_INFO) == EngineInfo(
        "docker", "20.10.24+dfsg1", "runc", "systemd")
    podman = engine_info(PODMAN_VERSION, PODMAN_INFO)
    assert podman == EngineInfo("podman", "4.3.1", "crun", "systemd")
    assert podman.label == "podman 4.3.1"


def test_an_engine_that_says_little_is_docker_with_unknown_runtime():
    assert engine_info({}, {}) == EngineInfo("docker", "", "", "")


def test_container_runtime_prefers_the_containers_own_unless_podman_says_oci():
    c = ContainerInfo(id="1", name="n", image="i", image_id="x")
    podman = EngineInfo("podman", "4.3.1", "crun")
    assert container_runtime(replace(c, runtime="oci"), podman) == "crun"
    assert container_runtime(c, podman) == "crun"
    assert container_runtime(replace(c, runtime="runsc"), EngineInfo("docker", "", "runc")) == "runsc"


def test_seccomp_file_goes_to_docker_as_content_and_to_podman_as_an_absolute_path(tmp_path, monkeypatch):
    prof = tmp_path / "seccomp.json"
    prof.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW"}))
    monkeypatch.chdir(tmp_path)
    opts = ["seccomp=seccomp.json", "no-new-privileges", "seccomp=unconfined"]
    assert _security_opts(opts, "docker") == [
        'seccomp={"defaultAction": "SCMP_ACT_ALLOW"}', "no-new-privileges", "seccomp=unconfined"]
    assert _security_opts(opts, "podman") == [
        f"seccomp={prof}", "no-new-privileges", "seccomp=unconfined"]


def _rec(**md) -> Recording:
    return Recording(metadata=Metadata(tool_version="0", kernel="6.1.0", arch="x86_64",
                                       mode="container", **md))


def test_recording_says_engine_and_runtime_only_when_known():
    text = recording_io.dumps(_rec(engine="podman 4.3.1", runtime="crun"))
    assert "engine: podman 4.3.1" in text and "runtime: crun" in text
    back = recording_io.loads(text)
    assert (back.metadata.engine, back.metadata.runtime) == ("podman 4.3.1", "crun")
    assert back.metadata.container_runtime == "crun"
    plain = recording_io.dumps(_rec())
    assert "engine:" not in plain and "runtime:" not in plain


def test_a_recording_older_than_1_6_was_made_with_runc():
    text = recording_io.dumps(_rec()).replace(f"schema_version: '{SCHEMA_VERSION}'", "schema_version: '1.5'")
    old = recording_io.loads(text)
    assert old.schema_version == "1.5"
    assert old.metadata.container_runtime == "runc"
    assert replace(old.metadata, mode="exec").container_runtime == ""


def test_bounding_set_starts_from_the_engines_own_defaults():
    from profiler.session.engine import CapabilityConfig
    from profiler.kernel.linux import CAPABILITY_NUMBERS, DOCKER_DEFAULT_CAPS, PODMAN_DEFAULT_CAPS
    from profiler.session.session import bounding_from_config

    def has(bounding, cap):
        return bool(bounding & (1 << CAPABILITY_NUMBERS[cap]))

    docker = bounding_from_config(CapabilityConfig(defaults=DOCKER_DEFAULT_CAPS))
    podman = bounding_from_config(CapabilityConfig(defaults=PODMAN_DEFAULT_CAPS, add=("NET_RAW",)))
    assert docker == bounding_from_config(CapabilityConfig())  # no defaults given: Docker's
    assert has(docker, "CAP_MKNOD") and has(docker, "CAP_AUDIT_WRITE")
    assert not has(podman, "CAP_MKNOD") and not has(podman, "CAP_AUDIT_WRITE")
    assert has(podman, "CAP_NET_RAW") and has(podman, "CAP_CHOWN")


def test_engine_name_without_version_and_docker_for_older_recordings():
    assert _rec(engine="podman 4.3.1").metadata.engine_name == "podman"
    assert _rec(engine="docker 20.10.24").metadata.engine_name == "docker"
    assert _rec().metadata.engine_name == "docker"  # made before 1.6: Docker
    assert replace(_rec().metadata, mode="exec").engine_name == ""


def test_policy_is_for_the_first_recordings_engine_and_says_when_they_differ():
    from emitcases import made_with_podman, recording
    rec = recording()
    assert reduce([rec]).engine == "docker"
    assert reduce([made_with_podman(rec)]).engine == "podman"
    mixed = reduce([made_with_podman(rec), rec])
    assert mixed.engine == "podman"
    assert any("different engines (docker, podman); the run line is for the first recording's, "
               "podman" in w for w in mixed.warnings)
    assert not any("engines" in w for w in reduce([rec, rec]).warnings)


def test_podman_refusing_dockers_tmpfs_owner_options_gets_a_hint():
    why = 'container create: unknown mount option "uid=100": invalid mount option'
    hint = tmpfs_hint("podman", ["/var/lib/redis:uid=100,gid=101"], why)
    assert hint and "emitted from a Docker recording" in hint and "write U" in hint
    assert tmpfs_hint("podman", ["/var/lib/redis:U"], why) is None
    assert tmpfs_hint("podman", ["/tmp:uid=1"], "no such image") is None
    assert tmpfs_hint("docker", ["/tmp:uid=1"], why) is None

"""The compose sample samples/shop: its shape (no root), and the project brought up for real
with each compose version this host has (docker-compose 1.29, the v2 plugin), its workload
passing through web -> app -> cache and failing when a service is gone."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import uuid

import pytest
import yaml

from conftest import REPO, SAMPLES
from profiler.session import compose_cli

SHOP = SAMPLES / "shop"


def _spec() -> dict:
    return yaml.safe_load((SHOP / "sample.yaml").read_text())


def test_shop_is_a_compose_sample_of_three_services_from_the_base_image():
    spec = _spec()
    assert spec["name"] == "shop" and spec["kind"] == "compose"
    compose = yaml.safe_load((SHOP / spec["compose"]).read_text())
    services = compose["services"]
    assert set(services) == set(spec["images"]) == {"web", "app", "cache"}
    for name, svc in services.items():
        # the image build-samples.sh makes from the service's directory
        assert svc["image"] == spec["images"][name] == f"profiler-sample-shop-{name}"
        froms = re.findall(r"^FROM\s+(\S+)", (SHOP / name / "Dockerfile").read_text(), re.M)
        assert froms == ["profiler-base:bookworm"]
    # Only web is published, on 127.0.0.1, on the port the workload reads.
    assert [s for s in services if services[s].get("ports")] == ["web"]
    (port,) = services["web"]["ports"]
    assert port == "127.0.0.1:${%s:-%d}:80" % (spec["port_env"], spec["ready_port"])
    wl = SHOP / spec["workload"]
    assert os.access(wl, os.X_OK)
    text = wl.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text)) == {"127.0.0.1"}


def test_shop_is_not_among_the_single_container_samples():
    from conftest import sample_names
    assert "shop" not in sample_names() and {"nginx", "redis", "probe"} <= set(sample_names())


# --- for real ----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _composes() -> list:
    try:
        return compose_cli.available()
    except Exception:  # pragma: no cover - probing never raises; be safe at collection
        return []


@pytest.fixture
def shop_images(require_root):
    proc = subprocess.run(["bash", str(REPO / "scripts" / "build-samples.sh"), "shop"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.root
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_shop_comes_up_and_its_workload_passes(version, shop_images):
    found = {f"v{c.major}": c for c in _composes()}
    if version not in found:
        pytest.skip(f"compose {version} is not installed (make setup installs both)")
    compose = found[version]
    project = f"profiler-test-shop-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    env = {**os.environ, "PROFILER_SAMPLE_PORT": str(port)}
    files = [SHOP / "compose.yaml"]
    try:
        compose_cli.run(compose, files, project, "up", "-d", env=env)
        wl = subprocess.run([str(SHOP / "workload.sh")], env=env, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
        assert wl.returncode == 0, wl.stderr
        assert "through web -> app -> cache" in wl.stdout
        # With the cache gone the chain is broken and the workload says so.
        compose_cli.run(compose, files, project, "stop", "cache", env=env)
        wl = subprocess.run([str(SHOP / "workload.sh")], env={**env}, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert wl.returncode != 0 and "shop workload:" in wl.stderr
    finally:
        compose_cli.run(compose, files, project, "down", "-v", "-t", "2", env=env)

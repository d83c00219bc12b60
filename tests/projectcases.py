"""Project directories for the tests of emit/diff/verify of a project, made with project.write
from the fixture recordings (what `record --match -o DIR` writes): web is the nginx sample's
recording, app the shell fixture's, cache a small synthetic one."""

from __future__ import annotations

from pathlib import Path

from emitcases import nginx, recording, shell
from profiler.recording import project
from profiler.recording.project import Instance, Project, Selector, Service

IDS = {"web": "a" * 64, "app": "b" * 64, "cache": "c" * 64, "worker": "d" * 64}


def cache_recording(**kw):
    base = dict(names=("read", "write", "epoll_wait", "accept4", "exit_group"),
                sockets=(("AF_INET", "SOCK_STREAM"),), listening=(("AF_INET", "0.0.0.0", 6379),),
                user="redis", uids=(100,), gids=(101,), image="profiler-sample-shop-cache")
    base.update(kw)
    return recording(**base)


def default_recordings() -> dict:
    return {"web": nginx(), "app": shell(), "cache": cache_recording()}


def make_project(directory: Path, recordings: dict | None = None, *,
                 compose_project: str | None = "shop") -> Path:
    recs = default_recordings() if recordings is None else recordings
    services = tuple(Service(name, rec.metadata.image,
                             (Instance(IDS.get(name, "e" * 64), f"{compose_project}_{name}_1"),))
                     for name, rec in sorted(recs.items()))
    idx = Project(selectors=(Selector("com.docker.compose.project", compose_project or "x"),),
                  services=services, compose_project=compose_project,
                  started_at="2026-11-29T20:00:00Z", ended_at="2026-11-29T20:01:00Z")
    project.write(directory, idx, recs)
    return directory

"""The output formats of `profiler emit`: which exist and what each one is. A format's facts
live on its entry: the file it is written to, that file's mode, whether its text states the
container's capabilities (then unknown capabilities must be resolved first, output/pipeline.py),
how it is rendered from a Policy and the self-check its text must pass. Every caller (emit, a
project's emit, verify --recording, the emit bench) renders through here, so a new format is
one entry in FORMATS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..policy.reduce import Policy
from ..render import apparmor, caps, compose, k8s, label, run, seccomp


@dataclass(frozen=True)
class RenderOptions:
    complain: bool = False  # log instead of refusing (seccomp SCMP_ACT_LOG, AppArmor complain)
    arg_filters: bool = True
    glob_threshold: int = apparmor.GLOB_THRESHOLD


def _filters(o: RenderOptions) -> dict:
    return dict(complain=o.complain, arg_filters=o.arg_filters)


def _seccomp_compiles(policy: Policy, o: RenderOptions) -> None:
    """The profile must compile with libseccomp for every listed architecture."""
    seccomp.build_filters(seccomp.profile(policy, **_filters(o)))


@dataclass(frozen=True)
class Format:
    name: str
    file: str  # its name in the policy directory
    render: Callable[[Policy, RenderOptions], str]
    states_caps: bool = False  # its text says which capabilities the container gets
    mode: int = 0o644  # of its file
    self_check: Callable[[Policy, RenderOptions], None] | None = None  # raises when it fails


# In the order `--format all` writes them (and `emit --help` lists them).
FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("seccomp", "seccomp.json", lambda p, o: seccomp.render(p, **_filters(o)),
           self_check=_seccomp_compiles),
    Format("apparmor", "apparmor.profile",
           lambda p, o: apparmor.render(p, complain=o.complain, glob_threshold=o.glob_threshold),
           states_caps=True),
    Format("caps", "caps.txt", lambda p, o: caps.render(p, complain=o.complain), states_caps=True),
    Format("run", "run.sh", lambda p, o: run.render(p, **_filters(o)), states_caps=True,
           mode=0o755),
    Format("compose", "compose.yaml", lambda p, o: compose.render(p, **_filters(o)),
           states_caps=True),
    Format("k8s", "k8s.yaml", lambda p, o: k8s.render(p, **_filters(o)), states_caps=True,
           self_check=_seccomp_compiles),  # its SeccompProfile has the same rules
    Format("label", "seccomp.Dockerfile",  # the seccomp profile as a Podman image label
           lambda p, o: label.render(p, **_filters(o))),
)}
FILE_NAMES = {f.name: f.file for f in FORMATS.values()}
FILE_MODES = {f.file: f.mode for f in FORMATS.values()}
STATES_CAPS = frozenset(f.name for f in FORMATS.values() if f.states_caps)


def render(policy: Policy, formats: list[str], options: RenderOptions = RenderOptions()
           ) -> dict[str, str]:
    """format -> text, for every requested format (pure: nothing written), after each distinct
    self-check of the formats has passed."""
    out = {f: FORMATS[f].render(policy, options) for f in formats}
    for check in dict.fromkeys(FORMATS[f].self_check for f in formats if FORMATS[f].self_check):
        check(policy, options)
    if "apparmor" in formats:
        # Self-check: the profile must compile with apparmor_parser (where it is installed;
        # emit says when it is not). On the rendered text, so not a Format.self_check.
        apparmor.validate(out["apparmor"])
    return out


def render_dir(policy: Policy, options: RenderOptions = RenderOptions()) -> dict[str, str]:
    """file name -> text of every format: the policy directory's contents."""
    return {FORMATS[f].file: text for f, text in render(policy, list(FORMATS), options).items()}

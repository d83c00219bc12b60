"""The output formats of `profiler emit`: which exist, which file each is written to, and how
each is rendered from a Policy. Every caller (emit, verify --recording, the emit bench) renders
through here, so a new format is one entry in FORMATS (and its file name in policy_dir)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .policy_dir import FILE_NAMES
from ..policy.reduce import Policy
from ..render import apparmor, caps, compose, k8s, label, run, seccomp


@dataclass(frozen=True)
class RenderOptions:
    complain: bool = False  # log instead of refusing (seccomp SCMP_ACT_LOG, AppArmor complain)
    arg_filters: bool = True
    glob_threshold: int = apparmor.GLOB_THRESHOLD


@dataclass(frozen=True)
class Format:
    name: str
    file: str  # its name in the policy directory
    render: Callable[[Policy, RenderOptions], str]


def _filters(o: RenderOptions) -> dict:
    return dict(complain=o.complain, arg_filters=o.arg_filters)


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("seccomp", FILE_NAMES["seccomp"], lambda p, o: seccomp.render(p, **_filters(o))),
    Format("apparmor", FILE_NAMES["apparmor"],
           lambda p, o: apparmor.render(p, complain=o.complain, glob_threshold=o.glob_threshold)),
    Format("caps", FILE_NAMES["caps"], lambda p, o: caps.render(p)),
    Format("run", FILE_NAMES["run"], lambda p, o: run.render(p, **_filters(o))),
    Format("compose", FILE_NAMES["compose"], lambda p, o: compose.render(p, **_filters(o))),
    Format("k8s", FILE_NAMES["k8s"], lambda p, o: k8s.render(p, **_filters(o))),
    Format("label", FILE_NAMES["label"], lambda p, o: label.render(p, **_filters(o))),
)}


def render(policy: Policy, formats: list[str], options: RenderOptions = RenderOptions()
           ) -> dict[str, str]:
    """format -> text, for every requested format (pure: nothing written)."""
    out = {f: FORMATS[f].render(policy, options) for f in formats}
    if "seccomp" in formats or "k8s" in formats:
        # Self-check: the profile must compile with libseccomp for every listed architecture.
        seccomp.build_filters(seccomp.profile(policy, **_filters(options)))
    return out


def render_dir(policy: Policy, options: RenderOptions = RenderOptions()) -> dict[str, str]:
    """file name -> text of every format: the policy directory's contents."""
    return {FORMATS[f].file: text for f, text in render(policy, list(FORMATS), options).items()}

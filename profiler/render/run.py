"""Policy -> a hardened `docker run` (templates/run.sh.j2): a bash script whose options each carry
the evidence for them as a comment, plus the options the evidence did not support and why.

A policy from recordings made with Podman (metadata.engine) runs `podman run` instead: Podman's
CLI reads the seccomp profile by path, whereas the docker CLI sends the profile's content and
Podman 4.3's Docker-compatible API takes only a path ("opening seccomp profile failed: ... file
name too long", seen on Debian 12). The options are the same words for both CLIs except the
tmpfs owner (hardening._tmpfs_owner).

`flags()` and `docker_args()` give the same options as data, for verify and the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..policy import complain as complain_mode
from ..policy.reduce import Policy
from . import caps as caps_render
from . import k8s
from . import seccomp as seccomp_render
from . import templating
from .container import not_applied, require_image
from .templating import NAME

_KEY = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class Flag:
    words: tuple[str, ...]
    comment: str  # the evidence
    assumption: str = ""  # what it takes for granted beyond the training run


def _option_word(key: str) -> str:
    return f"-{key}" if len(key) == 1 else f"--{key}"


def passthrough(policy: Policy) -> tuple[list[Flag], list[str]]:
    """The recording's own docker run options (ports, volumes, env, ...), kept as given; those
    that cannot be passed safely are listed instead."""
    kept, skipped = [], []
    for key, value in policy.run_options:
        if _KEY.match(key) and value.isprintable():
            kept.append(Flag((_option_word(key), value), "as the recording ran"))
        else:
            skipped.append(f"{key} {value}")
    return kept, skipped


def flags(policy: Policy) -> list[Flag]:
    """Hardening options the evidence supports, then the recording's own options. The seccomp
    and AppArmor options are not included: they name files (see docker_args)."""
    h = policy.hardening
    out = []
    if not policy.keep_default_caps:  # else: not recorded, Docker's default set (render/caps.py)
        out.append(Flag(("--cap-drop", "ALL"), "start from no capabilities"))
        for name in caps_render.cap_names(policy):
            out.append(Flag(("--cap-add", name), caps_render.reason(policy, name)))
    if h.no_new_privileges.apply:
        out.append(_flag(("--security-opt", "no-new-privileges"), h.no_new_privileges))
    owner_why = dict(h.tmpfs_why)
    if h.read_only.apply:
        out.append(_flag(("--read-only",), h.read_only))
        for d, opts in h.tmpfs:
            value = f"{d}:{opts}" if opts else d
            why = ("not written in training: a temp directory or home, where apps write under "
                   "load" if d in h.tmpfs_spare else "the app created files here")
            if "exec" in opts.split(","):
                why += " and executed or mapped executable files there (exec)"
            why += "; nothing of the image is there" if policy.image_facts_known else ""
            if d in owner_why:
                why += "; " + owner_why[d]
            elif "uid=" in opts or "mode=" in opts or "U" in opts.split(","):
                why += "; writable by the app's non-root user"
            if "notmpcopyup" in opts.split(","):
                why += "; empty, as Docker's (Podman would copy the image's files in)"
            out.append(Flag(("--tmpfs", value), why))
    for v in h.volumes:
        out.append(Flag(("--mount", mount_value(v)), v.evidence))
    if h.pids_limit.apply:
        out.append(_flag(("--pids-limit", h.pids_limit.value), h.pids_limit))
    if h.user.apply:
        out.append(_flag(("--user", h.user.value), h.user))
    if h.network_none.apply:
        out.append(_flag(("--network", "none"), h.network_none))
    elif h.network.apply:
        out.append(_flag(("--network", h.network.value), h.network))
        for a in h.network_aliases:
            out.append(Flag(("--network-alias", a), f"as recorded on {h.network.value}"))
    for key, value in h.dns:
        out.append(Flag((f"--{key}", value), "as recorded"))
    out += passthrough(policy)[0]
    return out


def flag_line(words, comment: str) -> str:
    """One option of run.sh's `args=( ... )` block, as templates/run.sh.j2 writes a Flag (verify
    --minimize adds the options it proved with it)."""
    return "  " + " ".join(templating.sh_word(w) for w in words) + "  # " + \
        templating.comment(comment)


def mount_value(v) -> str:
    """A VolumeMount as docker's --mount value; a named volume's source is NAME-<slug> (run.sh
    puts the container's name in, verify its own)."""
    ro = ",readonly" if v.read_only else ""
    if v.kind == "named":
        return f"type=volume,source={NAME}-{v.slug},target={v.target}{ro}"
    if v.kind == "anonymous":
        return f"type=volume,target={v.target}"
    if v.kind == "bind":
        return f"type=bind,source={v.source},target={v.target}{ro}"
    return f"type=volume,source={v.source},target={v.target}{ro}"


def _flag(words: tuple[str, ...], d) -> Flag:
    return Flag(words, d.evidence, d.assumption)


def cli(policy: Policy) -> str:
    """The command run.sh runs the container with: the recordings' engine's own CLI."""
    return "podman" if policy.engine == "podman" else "docker"


def docker_args(policy: Policy, seccomp_file: str | None = None,
                apparmor_profile: str | None = None, name: str | None = None) -> list[str]:
    """`docker run` options (no image, no command) as a list of words; named volumes are
    named after `name` (default: as run.sh does, the recorded name or the policy's)."""
    prefix = name or policy.hardening.name.value or policy.name
    words = [w.replace(NAME, prefix) for f in flags(policy) for w in f.words]
    if seccomp_file:
        words += ["--security-opt", f"seccomp={seccomp_file}"]
    if apparmor_profile:
        words += ["--security-opt", f"apparmor={apparmor_profile}"]
    return words


def _generalised_text(policy: Policy, allowed) -> str:
    """The generalised syscalls' share of the count (nothing without generalisation: emit
    --strict keeps its line as it was)."""
    n = len(set(policy.generalised_syscalls) & set(allowed) - set(policy.syscalls))
    return f"{n} of the same kinds at low risk (emit --explain), " if n else ""


def render(policy: Policy, *, complain: bool = False, arg_filters: bool = True) -> str:
    image = require_image(policy)
    if complain:  # the options that cannot log are Docker's defaults (policy/complain.py)
        policy = complain_mode.relax(policy)
    prof = seccomp_render.profile(policy, complain=complain, arg_filters=arg_filters)
    allowed = seccomp_render.allowed_names(prof)
    h = policy.hardening
    return templating.render(
        "run.sh.j2",
        cli=cli(policy),
        name=policy.name,
        container_name=h.name,
        volume_prefix=h.name.value or policy.name,
        named_volumes=any(v.kind == "named" for v in h.volumes),
        network_extra=list(h.network_extra),
        boot=h.boot,
        runs=policy.runs,
        image=image,
        command=list(policy.command),
        flags=flags(policy),
        skipped=passthrough(policy)[1],
        not_applied=not_applied(policy),
        pss=k8s.pss_verdict(policy).lines(),
        seccomp_comment=(f"{len(allowed)} syscalls allowed ({len(policy.syscalls)} the app "
                         f"used, {_generalised_text(policy, allowed)}the rest the container "
                         f"runtime's and the kernel's on its behalf)"
                         + ("; complain mode: logs what it would refuse (its ENOSYS answers stay: libc falls "
                            "back, as it will enforced)" if complain else "")),
        complain=complain,
        complain_header=complain_mode.HEADER if complain else (),
    )

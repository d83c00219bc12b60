"""A project's policies -> the compose override `compose.security.yaml` (templates/
compose.security.yaml.j2) and the script that loads the services' AppArmor profiles
(templates/apparmor-load.sh.j2).

The override holds, per service, only what the policy decides (capabilities, seccomp, AppArmor,
no-new-privileges, read-only root and its tmpfs, pids limit, user): the image, ports, networks
and the rest stay in the project's own compose.yaml, which `docker-compose -f compose.yaml -f
compose.security.yaml up` merges it into. Each key is spelled as in a single policy's compose
fragment (templates/compose_security.j2, shared with render/compose.py).

seccomp profiles are named by absolute path, because the compose versions resolve a relative
one from different places (profiler/session/compose_cli.py); the policies' directory
(`policy_root`) is therefore part of the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from ..policy import complain as complain_mode
from ..policy.reduce import Policy
from . import caps as caps_render
from . import templating
from .compose import hardening_tmpfs
from .container import not_applied

@dataclass(frozen=True)
class ServicePolicy:
    """One service of the override: its compose key and its policy (policy.name is the
    AppArmor profile's name)."""

    service: str
    policy: Policy


def _context(sp: ServicePolicy, policy_root: PurePosixPath, seccomp_file: str,
             complain: bool = False) -> dict:
    p = complain_mode.relax(sp.policy) if complain else sp.policy
    # complain mode mounts the volumes the enforced policy will: the data carries over
    read_only = (p.learned or p).hardening.read_only.apply
    return dict(
        service=sp.service,
        name=p.name,
        caps=caps_render.cap_names(p),
        cap_notes=caps_render.added_notes(p),
        keep_default_caps=p.keep_default_caps,
        h=p.hardening,
        tmpfs=hardening_tmpfs(p),
        # the volumes that stand for a tmpfs (the app's writes); the image's VOLUMEs and the
        # project's own mounts stay as the project's file has them (compose keeps their data)
        volumes=[(f"{sp.service}-{v.slug}:{v.target}" if v.kind == "named" else v.target,
                  v.evidence) for v in p.hardening.volumes
                 if v.for_writes and read_only],
        seccomp=str(policy_root / sp.service / seccomp_file),
        not_applied=not_applied(p),
    )


def render(services: list[ServicePolicy], *, project: str, source: str,
           policy_root: PurePosixPath, seccomp_file: str, override_file: str, load_script: str,
           complain: bool = False) -> str:
    """The override text. policy_root: the absolute directory holding `<service>/seccomp_file`
    and `<service>/apparmor.profile`, and the override and load script under the names given
    (output/project_tree.py names the files)."""
    contexts = [_context(s, policy_root, seccomp_file, complain)
                for s in sorted(services, key=lambda s: s.service)]
    return templating.render(
        "compose.security.yaml.j2",
        project=project,
        top_volumes=sorted({v.split(":", 1)[0] for c in contexts for v, _ in c["volumes"]
                            if ":" in v}),
        source=source,
        override=str(policy_root / override_file),
        load_script=str(policy_root / load_script),
        services=contexts,
        complain=complain,
        complain_header=complain_mode.HEADER if complain else (),
    )


def load_script(services: list[ServicePolicy], *, project: str) -> str:
    return templating.render(
        "apparmor-load.sh.j2", project=project,
        services=[{"service": s.service, "name": s.policy.name}
                  for s in sorted(services, key=lambda s: s.service)])

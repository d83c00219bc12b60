"""A project directory (profiler/recording/project.py: one recording per service) -> one policy per
service, and the files `profiler emit DIR -o OUT` writes for it:

    OUT/<service>/<file>          each chosen format of the service's policy, under its usual
                                  name (registry.FILE_NAMES); `--format all`: all of them
    OUT/compose.security.yaml     with `--format compose` or `all`: the override that applies
                                  every service's policy to the project (render/override.py),
                                  next to each service's seccomp.json and apparmor.profile
    OUT/apparmor-load.sh          loads the services' AppArmor profiles before `up`

Each service's policy is the single-recording policy (output/pipeline.py): the decisions
are the same as for `profiler emit RECORDING`; only its name changes, to one per service (the
AppArmor profile, the Kubernetes objects): `<compose project>-<service>`.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..recording import project as project_dir
from ..errors import UsageError
from . import pipeline, project_tree
from .registry import FILE_NAMES
from ..policy.reduce import sanitize_name
from ..recording.model import Recording
from ..render import override
from ..render.override import ServicePolicy
from .registry import FORMATS, RenderOptions, render

# What the override needs beside it, per service: the files it names.
OVERRIDE_NEEDS = ("seccomp", "apparmor")


def policy_name(project: project_dir.Project, service: str) -> str:
    """The service's policy name: `<compose project>-<service>` (or the service alone),
    sanitised as an image-derived name is (reduce.sanitize_name)."""
    base = f"{project.compose_project}-{service}" if project.compose_project else service
    return sanitize_name(base)


def policies(directory: Path, project: project_dir.Project, *, strict: bool = False,
             allow_io_uring: bool = False, formats: list[str] = (),
             caps_unknown: str | None = None, only: tuple[str, ...] | None = None,
             extra: dict[str, list[tuple[Recording, str]]] | None = None) -> list[ServicePolicy]:
    """Every service's Policy, in the index's order (sorted by service); only: those services
    alone; extra: more evidence per service, merged after its recording (promote: what
    `profiler harvest` read for it)."""
    recordings = project_dir.load_recordings(directory, project)
    out, names = [], {}
    for s in project.services:
        if only is not None and s.name not in only:
            continue
        name = policy_name(project, s.name)
        if name in names:
            raise UsageError(f"services {names[name]!r} and {s.name!r} both give the policy "
                             f"name {name!r}",
                             hint="rename one of the services (names differ only in case or "
                                  "'_' versus '-')")
        names[name] = s.name
        more = (extra or {}).get(s.name, [])
        policy = pipeline.policy([recordings[s.name], *(r for r, _ in more)],
                                 [str(Path(directory) / s.recording), *(n for _, n in more)],
                                 formats, strict=strict, allow_io_uring=allow_io_uring,
                                 caps_unknown=caps_unknown, name=name)
        out.append(ServicePolicy(s.name, policy))
    return out


def service_formats(formats: list[str]) -> list[str]:
    """The per-service formats to render for the chosen ones, in FORMATS' order. `compose`
    alone means the override, which needs each service's seccomp and AppArmor profiles beside
    it (a service's own compose fragment is written only with all the formats)."""
    wanted = set(formats)
    if wanted == {"compose"}:
        wanted = set(OVERRIDE_NEEDS)
    return [f for f in FORMATS if f in wanted]


def files(services: list[ServicePolicy], formats: list[str], out: Path, *,
          project: project_dir.Project, source: str,
          options: RenderOptions = RenderOptions()) -> dict[str, str]:
    """relative path -> text of everything `emit DIR --format ... -o out` writes. `out` must be
    absolute (the override names files in it). Pure: nothing is written."""
    if not out.is_absolute():
        raise ValueError("the output directory must be absolute")
    texts: dict[str, str] = {}
    per_service = service_formats(formats)
    for sp in services:
        for fmt, text in render(sp.policy, per_service, options).items():
            texts[f"{sp.service}/{FILE_NAMES[fmt]}"] = text
    if "compose" in formats:
        label = project.compose_project or "(no compose project label)"
        texts[project_tree.OVERRIDE_FILE] = override.render(
            services, project=label, source=source, policy_root=PurePosixPath(out),
            seccomp_file=FILE_NAMES["seccomp"], override_file=project_tree.OVERRIDE_FILE,
            load_script=project_tree.LOAD_SCRIPT, complain=options.complain)
        texts[project_tree.LOAD_SCRIPT] = override.load_script(services, project=label)
    return texts

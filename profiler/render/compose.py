"""Policy -> a docker compose `services.<name>` fragment (templates/compose.yaml.j2) with the
same settings as the run line, each with its evidence as a comment. The security keys are
spelled once, in templates/compose_security.j2, which the project override shares
(render/override.py)."""

from __future__ import annotations

from ..policy.reduce import Policy
from . import caps as caps_render
from . import k8s
from . import templating
from .container import not_applied, require_image

# docker run option (its one spelling, profiler/recording/run_options.py) -> compose service key
# (compose-spec "services" reference), for the recording's own options that compose can express.
_LIST_KEYS = {"publish": "ports", "volume": "volumes", "env": "environment", "tmpfs": "tmpfs",
              "expose": "expose", "add-host": "extra_hosts", "label": "labels", "dns": "dns"}
_SCALAR_KEYS = {"workdir": "working_dir", "hostname": "hostname", "entrypoint": "entrypoint",
                "stop-signal": "stop_signal", "name": "container_name"}


def hardening_tmpfs(policy: Policy) -> list[str]:
    """The tmpfs mounts a read-only root needs, in compose's `DIR:OPTIONS` spelling."""
    h = policy.hardening
    return [f"{d}:{o}" if o else d for d, o in h.tmpfs] if h.read_only.apply else []


def render(policy: Policy, *, complain: bool = False, arg_filters: bool = True) -> str:
    image = require_image(policy)
    h = policy.hardening
    lists: dict[str, list[str]] = {}
    scalars: dict[str, str] = {}
    untranslated = []
    for key, value in policy.run_options:
        if key in _LIST_KEYS:
            lists.setdefault(_LIST_KEYS[key], []).append(value)
        elif key in _SCALAR_KEYS:
            scalars[_SCALAR_KEYS[key]] = value
        else:
            untranslated.append(f"--{key} {value}")
    tmpfs = hardening_tmpfs(policy) + lists.pop("tmpfs", [])
    return templating.render(
        "compose.yaml.j2",
        name=policy.name,
        runs=policy.runs,
        image=image,
        command=list(policy.command),
        caps=caps_render.cap_names(policy),
        keep_default_caps=policy.keep_default_caps,
        h=h,
        tmpfs=tmpfs,
        lists=sorted(lists.items()),
        scalars=sorted(scalars.items()),
        untranslated=untranslated,
        not_applied=not_applied(policy),
        pss=k8s.pss_verdict(policy).lines(),
        complain=complain,
    )

"""Policy -> a docker compose `services.<name>` fragment (templates/compose.yaml.j2) with the
same settings as the run line, each with its evidence as a comment. The security keys are
spelled once, in templates/compose_security.j2, which the project override shares
(render/override.py)."""

from __future__ import annotations

from ..policy import complain as complain_mode
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


def volume_entries(policy: Policy) -> tuple[list[tuple[str, str]], dict[str, bool]]:
    """The service's volumes in compose's short syntax with their evidence, and the top-level
    volumes they name (name -> external). A named volume of the run line is the service's own
    (compose prefixes it with the project's name, so each project has its own); the
    recording's own named volume is external (it exists already and holds the data)."""
    entries, top = [], {}
    for v in policy.hardening.volumes:
        ro = ":ro" if v.read_only else ""
        if v.kind == "named":
            top[f"{policy.name}-{v.slug}"] = False
            entries.append((f"{policy.name}-{v.slug}:{v.target}{ro}", v.evidence))
        elif v.kind == "anonymous":
            entries.append((v.target, v.evidence))
        elif v.kind == "volume":
            top[v.source] = True
            entries.append((f"{v.source}:{v.target}{ro}", v.evidence))
        else:
            entries.append((f"{v.source}:{v.target}{ro}", v.evidence))
    return entries, top


def network_entries(policy: Policy) -> tuple[str, list[tuple[str, list[str]]], str]:
    """(network_mode, [(network, aliases)], evidence) as compose spells the recorded network:
    a user-defined network is external (it exists, its peers are on it) and the recorded
    container name becomes an alias there (compose names the container itself: a fixed
    container_name conflicts with a second project or a scale)."""
    h = policy.hardening
    if h.network_none.apply or not h.network.apply:
        return "", [], ""
    if h.network.value in ("host", "none"):
        return h.network.value, [], h.network.evidence
    aliases = list(h.network_aliases) + ([h.name.value] if h.name.apply else [])
    nets = [(h.network.value, sorted(set(aliases)))] + [(n, []) for n in h.network_extra]
    return "", nets, h.network.evidence


def render(policy: Policy, *, complain: bool = False, arg_filters: bool = True) -> str:
    image = require_image(policy)
    if complain:  # the options that cannot log are Docker's defaults (policy/complain.py)
        policy = complain_mode.relax(policy)
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
    volumes, top_volumes = volume_entries(policy)
    network_mode, networks, network_why = network_entries(policy)
    dns = {"dns": "dns", "dns-search": "dns_search", "dns-option": "dns_opt"}
    dns_lists: dict[str, list[str]] = {}
    for k, v in h.dns:
        dns_lists.setdefault(dns[k], []).append(v)
    return templating.render(
        "compose.yaml.j2",
        name=policy.name,
        runs=policy.runs,
        image=image,
        command=list(policy.command),
        caps=caps_render.cap_names(policy),
        cap_notes=caps_render.added_notes(policy),
        keep_default_caps=policy.keep_default_caps,
        h=h,
        tmpfs=tmpfs,
        lists=sorted(lists.items()),
        scalars=sorted(scalars.items()),
        untranslated=untranslated,
        volumes=volumes,
        top_volumes=sorted(top_volumes.items()),
        network_mode=network_mode,
        networks=networks,
        network_why=network_why,
        dns_lists=sorted(dns_lists.items()),
        container_name=h.name,
        boot=h.boot,
        not_applied=not_applied(policy),
        pss=k8s.pss_verdict(policy).lines(),
        complain=complain,
        complain_header=complain_mode.HEADER if complain else (),
    )

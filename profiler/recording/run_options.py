"""The `docker run` options a recording keeps (metadata.container.run_options): one spelling.

A recording stores the options it was made with as (name, value) pairs, and emit reads them
back: to know which directories are mounted (writable under --read-only), which options the
policy decides itself, which user the app ran as, and what to pass through to run.sh and
compose. Writer and readers must agree on the names, so they live here, once: the name is the
docker CLI's long option without its dashes (`docker run --help`, Docker 20.10: `volume`,
`cap-add`, `security-opt`, `read-only`, `pids-limit`, ...).

`FIELD_OPTION` maps engine.RunSpec's fields to those names (RunSpec.options() writes through
it); `canonical()` turns any other spelling met in a recording (a short option, the RunSpec
field name that recordings made before this table stored, `net` for `network`) into the one
name, so recordings already written keep working.
"""

from __future__ import annotations

# engine.RunSpec field -> docker run long option (the recording's spelling).
FIELD_OPTION: dict[str, str] = {
    "publish": "publish",
    "volumes": "volume",
    "tmpfs": "tmpfs",
    "cap_add": "cap-add",
    "cap_drop": "cap-drop",
    "security_opt": "security-opt",
    "env": "env",
    "user": "user",
    "entrypoint": "entrypoint",
    "network": "network",
    "name": "name",
    "read_only": "read-only",
    "pids_limit": "pids-limit",
    "memory": "memory",
    "mounts": "mount",
}

# Other spellings of the same options: docker's short options and aliases (`docker run
# --help`), and RunSpec field names written by recordings made before FIELD_OPTION existed.
_ALIASES: dict[str, str] = {
    "p": "publish", "v": "volume", "e": "env", "u": "user", "w": "workdir", "h": "hostname",
    "l": "label", "net": "network",
    **{f: o for f, o in FIELD_OPTION.items() if f != o},
    **{o.replace("-", "_"): o for o in ("add-host", "stop-signal", "group-add")},
}

# Options the hardened run line decides itself: the recording's values are replaced, not
# passed through (reduce drops them).
MANAGED: frozenset[str] = frozenset({
    "cap-add", "cap-drop", "security-opt", "privileged", "user", "read-only", "network",
    "pids-limit", "userns", "pid", "ipc", "uts", "device", "group-add",
    # carried from the recorded container by hardening.py (network, container_name): the name
    # becomes run.sh's PROFILER_NAME default, not a fixed --name
    "name", "network-alias", "dns", "dns-search", "dns-option"})

# Options that publish ports: docker refuses them for a container without a network.
PUBLISH: frozenset[str] = frozenset({"publish", "expose"})


def canonical(name: str) -> str:
    """The one spelling of a docker run option name (dashes stripped, aliases resolved)."""
    name = name.lstrip("-")
    return _ALIASES.get(name, name)


def canonical_options(pairs) -> tuple[tuple[str, str], ...]:
    """(name, value) pairs with every name in its one spelling, order kept."""
    return tuple((canonical(k), v) for k, v in pairs)

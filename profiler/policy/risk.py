"""Risk classes (high/medium/low) for privileges a diff reports as added.

The table is data, profiler/data/risk.yaml, where every rule names its source (Docker's default
seccomp profile and capability set, moby's AppArmor template, the CIS Docker Benchmark,
capabilities(7), kernel docs, or profiler's own stated judgement). docs/ci-recipe.md explains
the classes to users. The first matching rule of a section wins, then the section's default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable

import yaml

LEVELS = ("high", "medium", "low")  # most severe first; the report sorts by this

# Recording access kinds (model.ACCESS_KINDS) and AppArmor permission letters, by the access
# class a file rule matches on.
_WRITE = frozenset({"write", "append", "truncate", "create", "delete", "rename", "link", "chmod",
                    "chown", "mkdir", "w", "a", "l"})
_READ = frozenset({"read", "r", "k"})


@dataclass(frozen=True, order=True)
class Risk:
    level: str
    reason: str
    source: str

    @property
    def rank(self) -> int:
        return LEVELS.index(self.level)


@lru_cache(maxsize=1)
def table() -> dict:
    return yaml.safe_load(resources.files("profiler").joinpath("data/risk.yaml").read_text())


def sources() -> dict[str, str]:
    """Source key -> citation, for reports and docs."""
    return dict(table()["sources"])


def _risk(rule: dict) -> Risk:
    return Risk(rule["class"], " ".join(str(rule["reason"]).split()), rule["source"])


def _classify_at(section: str, pred) -> tuple[Risk, int]:
    """The first matching rule's Risk and its position (the default comes last)."""
    sec = table()[section]
    for i, rule in enumerate(sec["rules"]):
        if pred(rule):
            return _risk(rule), i
    return _risk(sec["default"]), len(sec["rules"])


def _classify(section: str, pred) -> Risk:
    return _classify_at(section, pred)[0]


def syscall(name: str) -> Risk:
    return _classify("syscalls", lambda r: name in r["names"])


def capability(name: str) -> Risk:
    return _classify("capabilities", lambda r: name in r["names"])


def _arg_matches(rule: dict, value: int) -> bool:
    if "bits_any" in rule:
        return bool(value & rule["bits_any"])
    if "bits_all" in rule:
        return value & rule["bits_all"] == rule["bits_all"]
    if "values" in rule:
        return value in rule["values"]
    if "values_not_in" in rule:
        return value not in rule["values_not_in"]
    if "low_bits_in" in rule:
        return (value & 0xF) in rule["low_bits_in"]
    raise KeyError(f"risk.yaml argument rule without a condition: {rule}")


def argument(syscall_name: str, arg: str, value: int) -> Risk:
    """A new value of an argument: its own rule, else its syscall's class."""
    for rule in table()["arguments"]["rules"]:
        if syscall_name in rule["syscalls"] and arg in rule["args"] and _arg_matches(rule, value):
            return _risk(rule)
    return syscall(syscall_name)


def access_classes(perms: Iterable[str]) -> set[str]:
    """Recording access kinds or AppArmor perms -> {"read", "write", "chown", "execute"}
    ("chown" is also a write; AppArmor has no separate ownership permission)."""
    out = set()
    for p in perms:
        if p == "chown":
            out.add("chown")
        if p in _WRITE:
            out.add("write")
        elif p in _READ:
            out.add("read")
        else:  # execute, m (mmap PROT_EXEC), and AppArmor x modes (ix, px, cux, ...)
            out.add("execute")
    return out


def file(pattern: str, perms: Iterable[str]) -> Risk:
    """The highest class over the access classes of perms on pattern; between rules of the
    same class, the one earlier in the table."""
    classes = access_classes(perms) or {"read"}
    # AppArmor profiles spell /proc as the @{PROC} variable (tunables/proc).
    pattern = re.sub(r"^@\{PROC\}", "/proc", pattern)
    found = [_classify_at("files", lambda r, c=c: r["access"] in ("any", c)
                          and re.search(r["match"], pattern) is not None) for c in classes]
    return min(found, key=lambda f: (f[0].rank, f[1]))[0]


def network(kind: str, item: str) -> Risk:
    """kind: socket ("AF_INET/SOCK_STREAM"), listen or connect ("AF_INET 0.0.0.0:80")."""
    def pred(r):
        kinds = r["kind"] if isinstance(r["kind"], list) else [r["kind"]]
        return kind in kinds and re.search(r["match"], item) is not None
    return _classify("network", pred)


def executable(pattern: str) -> Risk:
    return _classify("executables", lambda r: re.search(r["match"], pattern) is not None)


def run(flag: str) -> Risk:
    return _classify("run", lambda r: flag in r["names"])

"""The package's layering, read from the source with ast (so that an import inside a function
counts too):

- library modules never import a command module (profiler/commands/, cli.py): commands import
  the library, not the other way round;
- the sub-packages are stages a recording flows through (STAGES, docs/architecture.md); a
  module imports only from its own stage or an earlier one, never upward, and no two modules
  import each other, directly or round a longer circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "profiler"


def _is_cli(module: str) -> bool:
    parts = module.split(".")
    return parts[-1] == "cli" or "commands" in parts[:-1] or parts[-1] == "commands"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    name = _module_name(path) if path.is_relative_to(PACKAGE) else ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_of(path.read_text(encoding="utf-8"), package)


def imports_of(source: str, package: str) -> set[str]:
    """Absolute names of every module the source imports, anywhere in it, relative imports
    resolved against package (`from . import x` counts as `package.x`)."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def _library_files() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py")) + sorted((ROOT / "bench").glob("*.py"))
    return [f for f in files if not _is_cli(_module_name(f).removeprefix("bench."))]


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_library_module_imports_no_command_module(path):
    bad = sorted(m for m in imported_modules(path) if m.startswith("profiler") and _is_cli(m))
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_the_check_sees_relative_and_function_level_imports():
    source = ("from . import recording_io\n"
              "def f():\n    from ..commands.emit import write_dir\n"
              "def g():\n    from ..cli import main\n")
    names = imports_of(source, "profiler.render")
    assert {"profiler.render.recording_io", "profiler.commands.emit.write_dir",
            "profiler.cli"} <= names
    assert [m for m in sorted(names) if _is_cli(m)] == ["profiler.cli", "profiler.commands.emit",
                                                        "profiler.commands.emit.write_dir"]


# --- stages ------------------------------------------------------------------------------------

# Sub-package -> its rank in the flow. A module may import its own stage or a lower rank; two
# stages of one rank are independent (a traced run does not reduce, reduction does not trace).
# errors.py (and BASE) and the package's __init__ are below every stage; cli.py above them all.
STAGES = {"kernel": 1, "recording": 2, "session": 3, "policy": 3, "render": 4, "harvest": 4,
          "output": 5, "verify": 6, "diff": 6, "promote": 6, "commands": 7}
# safe_input (reading what users hand us) and tool_errors (what a failed tool said) serve every
# stage that reads input or runs a tool, the kernel stage included: base, like errors. So does
# collector (the garbage collector's settings, and the long runs' collections on a clock).
BASE = {"profiler", "profiler.errors", "profiler.safe_input", "profiler.tool_errors",
        "profiler.collector"}


def _stage(module: str) -> tuple[str, int]:
    """(stage name, rank) of a profiler module; ("", 0) for the base, ("cli", 8) for cli."""
    if module in BASE:
        return "", 0
    parts = module.split(".")
    if parts[1] == "cli":
        return "cli", 8
    assert parts[1] in STAGES, f"{module}: not in a stage (add its package to STAGES)"
    return parts[1], STAGES[parts[1]]


def _package_modules() -> dict[str, set[str]]:
    """module -> the profiler modules it imports (names resolved to modules, not attributes)."""
    files = {_module_name(f): f for f in sorted(PACKAGE.rglob("*.py"))}
    graph = {}
    for name, path in files.items():
        deps = set()
        for imported in imported_modules(path):
            while imported and imported not in files:
                imported = imported.rpartition(".")[0]  # `from .x import name`: the module x
            if imported and imported != name:
                deps.add(imported)
        graph[name] = deps
    return graph


def test_every_module_is_in_a_stage():
    for module in _package_modules():
        _stage(module)


def test_no_module_imports_a_later_stage():
    bad = []
    for module, deps in sorted(_package_modules().items()):
        stage, rank = _stage(module)
        for dep in sorted(deps):
            dep_stage, dep_rank = _stage(dep)
            if dep_stage != stage and dep_rank >= rank:
                bad.append(f"{module} ({stage or 'base'}) imports {dep} ({dep_stage or 'base'})")
    assert bad == []


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    assert _circles(_package_modules()) == []


def test_the_stage_checks_can_fail():
    graph = {"profiler.policy.pss": {"profiler.render.k8s"},
             "profiler.render.k8s": {"profiler.render.run"},
             "profiler.render.run": {"profiler.policy.pss"}}
    assert _circles(graph) == [sorted(graph)]
    assert _stage("profiler.policy.pss")[1] < _stage("profiler.render.k8s")[1]
    assert _stage("profiler.session.engine")[1] == _stage("profiler.policy.reduce")[1]
    with pytest.raises(AssertionError):
        _stage("profiler.nowhere.module")

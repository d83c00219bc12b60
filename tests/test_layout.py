"""The package's layering: library modules never import a command module (cmd_*.py, cli.py);
commands import the library, not the other way round. Read from the source with ast, so that
an import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "profiler"


def _is_cli(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last == "cli" or last.startswith("cmd_")


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
              "def f():\n    from .cmd_emit import write_dir\n"
              "def g():\n    from ..cli import main\n")
    names = imports_of(source, "profiler.render")
    assert {"profiler.render.recording_io", "profiler.render.cmd_emit.write_dir",
            "profiler.cli"} <= names
    assert [m for m in sorted(names) if _is_cli(m)] == ["profiler.cli",
                                                        "profiler.render.cmd_emit"]

"""`profiler diff OLD NEW`: what privileges NEW needs that OLD did not, by risk; the CI gate.

Two projects are compared per service (profiler/diff/project_diff.py).
Exit status: 0 no escalation under --fail-on, 1 escalation (or any change with --fail-on any),
2 usage or input error (raised as ProfilerError, printed by cli.main).
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer
from rich.console import Console

from ..diff import diff_render, project_diff
from ..diff.diff import compare
from ..diff.diff_load import load_pair


class Format(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


class FailOn(str, Enum):
    escalation = "escalation"
    any = "any"
    never = "never"


def diff(
    old: Annotated[str, typer.Argument(
        help="The baseline: a recording (*.yaml), an emitted policy directory, a seccomp "
             "JSON file, or a project directory (record --match, or emitted from one).",
        show_default=False)],
    new: Annotated[str, typer.Argument(
        help="The candidate, of the same kind as OLD.", show_default=False)],
    fmt: Annotated[Format, typer.Option(
        "--format", "-f", help="text (terminal), markdown (pull-request comment) or json.")
    ] = Format.text,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="Exit 1 on: escalation (NEW needs something OLD did not), any "
                          "change, or never.")] = FailOn.escalation,
) -> None:
    """Compare two recordings or policies: added privileges by risk, and what was dropped.
    Two projects (record --match directories, or what emit wrote for them): per service, and
    the services that appear or disappear."""
    if project_diff.is_project(old) or project_diff.is_project(new):
        report = project_diff.compare_projects(old, new)
        render = project_diff.render
    else:
        a, b = load_pair(old, new)
        report = compare(a, b, old, new)
        render = diff_render.render
    if fmt is Format.text and sys.stdout.isatty():
        text = render(report, "text", colour=True)
        Console(highlight=False, soft_wrap=True).print(diff_render.styled(text), end="")
    else:
        sys.stdout.write(render(report, fmt.value))
        sys.stdout.flush()
    raise typer.Exit(report.exit_code(fail_on.value))


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)

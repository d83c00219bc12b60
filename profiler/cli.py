"""Command-line entry point. Each command lives in its own `cmd_*` module; this module only
registers them and turns a ProfilerError (or Ctrl-C) into one line, a hint and an exit code."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

from . import __version__
from .errors import ProfilerError

app = typer.Typer(
    name="profiler",
    help="Learn least privilege from behaviour: record with eBPF, emit policy, verify, diff.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool):
    if value:
        print(f"profiler {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
):
    """profiler: record what a container does, and turn it into least-privilege policy."""


def _register() -> None:
    # Imported here so that `profiler --help` works even when an optional part is broken.
    from . import cmd_record
    cmd_record.register(app)
    for name in ("cmd_emit", "cmd_verify", "cmd_diff"):
        try:
            module = __import__(f"profiler.{name}", fromlist=["register"])
        except ModuleNotFoundError as e:
            if e.name != f"profiler.{name}":
                raise
            continue
        module.register(app)


def fatal(err: ProfilerError) -> int:
    err_console.print(f"[bold red]error:[/] {escape(err.message)}", markup=True, highlight=False)
    if err.hint:
        err_console.print(f"[yellow]hint:[/] {escape(err.hint)}", markup=True, highlight=False)
    return err.exit_code


def main(argv: list[str] | None = None) -> int:
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except ProfilerError as e:
        sys.exit(fatal(e))
    except KeyboardInterrupt:
        err_console.print("interrupted; nothing was written")
        sys.exit(130)
    except Exception as e:  # a bug of ours: still one line, and where to report it
        err_console.print(f"[bold red]internal error:[/] {escape(e.__class__.__name__)}: "
                          f"{escape(str(e).splitlines()[0] if str(e) else '')}", markup=True)
        err_console.print("[yellow]hint:[/] run with PROFILER_DEBUG=1 for the traceback, and "
                          "please report it", markup=True)
        if os.environ.get("PROFILER_DEBUG"):
            raise
        sys.exit(3)
    return 0


if __name__ == "__main__":
    main()

"""Command-line entry point. Each command lives in its own module of `profiler.commands`; this
module only registers them and turns a ProfilerError (or Ctrl-C) into one line, a hint and an
exit code."""

from __future__ import annotations

import os
import re
import sys

import typer
from rich.console import Console
from rich.markup import escape

from . import __version__, collector
from .errors import ProfilerError

try:  # typer 0.26+ carries its own click
    from typer._click.exceptions import ClickException, UsageError
    from typer.exceptions import Abort
except ImportError:  # older typer runs on click itself
    from click.exceptions import Abort, ClickException, UsageError

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


_COMMANDS = ("record", "emit", "verify", "diff", "harvest", "promote")  # modules of profiler.commands


def _register(command: str = "") -> None:
    """Add the command's module to the app; all of them for help or an unknown command (a lazy
    group, as click's docs describe: `profiler emit` does not import docker or diff)."""
    # Imported here so that `profiler --help` works even when an optional part is broken.
    names = [command] if command in _COMMANDS else list(_COMMANDS)
    for name in names:
        try:
            module = __import__(f"profiler.commands.{name}", fromlist=["register"])
        except ModuleNotFoundError as e:
            if e.name != f"profiler.commands.{name}" or name == "record":
                raise
            continue
        module.register(app)


# Control characters (a newline in a file name or in a value quoted from a hostile file) would
# break the one line an error is; they are shown escaped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_MESSAGE = 500  # characters of one error or hint line


def one_line(text: str) -> str:
    """text as one printable line of at most MAX_MESSAGE characters."""
    text = _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


def fatal(err: ProfilerError) -> int:
    err_console.print(f"[bold red]error:[/] {escape(one_line(err.message))}", markup=True,
                      highlight=False)
    if err.hint:
        err_console.print(f"[yellow]hint:[/] {escape(one_line(err.hint))}", markup=True,
                          highlight=False)
    return err.exit_code


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args if not a.startswith("-")), "")
    collector.configure(command)  # no collector in emit/diff/promote, rare ones elsewhere
    code = _run(args, command)
    if command in collector.PURE_COMMANDS:
        # Exit without freeing every object one by one: 0.2 s for a 100,000-path recording.
        # These commands only read and write files (atomically, before they return), with no
        # thread, child process, temp dir or kernel object to clean up at exit (mypy's fast
        # exit does the same, mypy/util.py).
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # a closed pipe: the output went nowhere
            code = code or 1
        os._exit(code)
    sys.exit(code)


def _run(args: list[str], command: str = "") -> int:
    _register(command)
    try:
        # Not standalone: a usage error comes here as an exception (one line and a hint below)
        # instead of click's usage block and boxed panel; typer.Exit(code) comes back as code.
        rv = app(args=args, standalone_mode=False)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    except UsageError as e:  # a wrong option or argument: exit 2, as click's own
        if not e.format_message().strip():  # no arguments at all: the help was the answer
            return e.exit_code
        where = f"profiler {command} --help" if command in _COMMANDS else "profiler --help"
        return fatal(ProfilerError(e.format_message(), hint=f"see `{where}`"))
    except ClickException as e:  # e.g. a file click itself could not open
        return fatal(ProfilerError(e.format_message(), exit_code=e.exit_code))
    except Abort:
        err_console.print("interrupted; nothing was written")
        return 130
    except ProfilerError as e:
        return fatal(e)
    except KeyboardInterrupt:
        err_console.print("interrupted; nothing was written")
        return 130
    except Exception as e:  # a bug of ours: still one line, and where to report it
        err_console.print(f"[bold red]internal error:[/] {escape(e.__class__.__name__)}: "
                          f"{escape(one_line(str(e).splitlines()[0]) if str(e) else '')}", markup=True)
        err_console.print("[yellow]hint:[/] run with PROFILER_DEBUG=1 for the traceback, and "
                          "please report it", markup=True)
        if os.environ.get("PROFILER_DEBUG"):
            raise
        return 3
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


if __name__ == "__main__":
    main()

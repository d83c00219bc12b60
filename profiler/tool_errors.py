"""The one line worth showing from a tool that failed: apparmor_parser, the Docker engine (its
API's error text) and CLI, docker compose (v1 and v2), /bin/sh -n.

Tools print more than their error: apparmor_parser starts every run on a host without the
AppArmor cache interface with "Cache read/write disabled: interface file missing. ..." (also
when it succeeds), the docker CLI ends with "Run 'docker run --help' for more information",
compose v2 reports progress ("Container x  Creating") before the error, compose v1 ends with
a summary ("Encountered errors while bringing up the project.") after the real error. Taking
the first or the last line shows one of those instead of the reason.

`error_line` skips the known banners and progress lines, prefers the first line that says
error/failed/fatal (not a generic summary), and falls back to the last line that is left.
The examples in tests/fixtures/tool_errors/ were captured from the real tools (their README
says how); every caller that reports a tool's output goes through here.
"""

from __future__ import annotations

import re

MAX_LINE = 300

# Lines that never explain a failure, whatever tool printed them.
_NOISE = re.compile("|".join((
    # apparmor_parser 3.x on a host without the cache interface (every run)
    r"^Cache read/write disabled: interface file missing\.",
    # apparmor_parser: the advice after "unable to find a suitable fs" (the warning is the news)
    r"^Use --subdomainfs to override\.?$",
    # docker CLI
    r"^Run '.+ --help' for more information\.?$",
    r"^See '.+ --help'\.?$",
    r"^Unable to find image '.+' locally$",
    # compose v2 progress ("[+] Running 2/3", " Container p-web-1  Creating")
    r"^\[\+\] \w+",
    r"^(?:Network|Container|Volume|Image)\s+\S+\s+(?:Creating|Created|Starting|Started|"
    r"Stopping|Stopped|Removing|Removed|Recreate|Recreated|Running|Waiting|Healthy|Pulling|"
    r"Pulled|Building|Built)\b",
    # compose v1 progress ("Creating p_web_1 ... done", "... error": the reason comes later)
    r"^(?:Creating|Starting|Stopping|Removing|Recreating|Pulling|Building)\b.*"
    r"(?:\.\.\.(?:\s*(?:done|error))?|with the default driver)\s*$",
)))
# Summaries that only say something failed: shown only when nothing better is there
# (compose v1, compose/project.py: raised after the per-service "ERROR: for SERVICE  ...").
_GENERIC = re.compile(r"Encountered errors while bringing up the project")
_ERROR = re.compile(r"\berror\b|\bfailed\b|\bfatal\b|\bdenied\b|\binvalid\b", re.IGNORECASE)


def error_line(*outputs: str | bytes | None, default: str = "no output") -> str:
    """The line of the outputs (stderr first, then stdout) that says what went wrong, stripped
    and at most MAX_LINE characters; `default` when they hold nothing."""
    lines = []
    for out in outputs:
        if isinstance(out, bytes):
            out = out.decode("utf-8", "replace")
        lines += [ln.strip() for ln in (out or "").splitlines() if ln.strip()]
    said = [ln for ln in lines if not _NOISE.search(ln)]
    errors = [ln for ln in said if _ERROR.search(ln) and not _GENERIC.search(ln)]
    line = errors[0] if errors else said[-1] if said else lines[-1] if lines else default
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 3] + "..."

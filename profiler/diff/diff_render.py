"""Render a DiffReport: json as data (sorted keys), text and markdown from the jinja2 templates
templates/diff.text.j2 and templates/diff.markdown.j2 (StrictUndefined).

Every string that may come from the container (paths, addresses, argument text, file names
the user gave) passes an escaping filter before it reaches a template: control characters
become visible escapes, markdown cells become code spans. Colour is not rich markup (which
container text could imitate or break): the template marks risk words with private-use
characters, which `printable` never lets through from data, and `styled` turns those marks into
rich styles.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2
from rich.text import Text

from ..policy import risk
from ..render import templating
from .diff import KINDS_PLURAL, DiffReport

FORMATS = ("text", "markdown", "json")
_STYLE = {"high": "bold red", "medium": "yellow", "low": "green"}
_MARK = ("\ue000", "\ue001", "\ue002")  # start, end of style name, end of styled text
_ITEM_WIDTH = 64  # wider items overflow their column instead of stretching every row


def printable(text: str) -> str:
    """Control and other non-printable characters as \\xNN / \\uNNNN escapes."""
    out = []
    for c in str(text):
        if c.isprintable():
            out.append(c)
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(f"\\u{ord(c):04x}")
    return "".join(out)


def md_code(text: str) -> str:
    """A markdown code span (nothing inside is interpreted: no links, HTML or @mentions); `|` is
    escaped because GFM splits table cells on it even inside code spans."""
    text = printable(text).replace("|", "\\|")
    if not text:
        return ""
    run = longest = 0
    for c in text:
        run = run + 1 if c == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@lru_cache(maxsize=2)
def _env(colour: bool) -> jinja2.Environment:
    env = templating.environment()

    def cell(value, width: int = 0) -> str:
        return printable(value).ljust(width)

    def paint(level: str, width: int = 0) -> str:
        text = level.ljust(width)
        return f"{_MARK[0]}{_STYLE[level]}{_MARK[1]}{text}{_MARK[2]}" if colour else text

    env.filters.update(cell=cell, paint=paint, code=md_code)
    return env


def _rows(report: DiffReport) -> tuple[list[dict], list[dict]]:
    added = [ch.to_data() for ch in report.added]
    removed = [ch.to_data() for ch in report.removed]
    return added, removed


def _widths(rows: list[dict], cols: tuple[str, ...]) -> dict[str, int]:
    w = {c: len(c) for c in cols}
    for r in rows:
        for c in cols:
            w[c] = max(w[c], min(len(printable(r[c])), _ITEM_WIDTH))
    return w


def _context(report: DiffReport) -> dict:
    added, removed = _rows(report)
    cites = risk.sources()
    return {
        "old": report.old, "new": report.new, "kind": KINDS_PLURAL[report.kind],
        "summary": report.summary(), "escalation": report.escalation,
        "added": added, "removed": removed, "notes": list(report.notes),
        "counts": report.counts(),
        "sources": [(k, " ".join(cites[k].split())) for k in sorted({r["source"] for r in added})],
        "wa": _widths(added, ("risk", "section", "item", "detail")),
        "wr": _widths(removed, ("section", "item", "detail")),
    }


def styled(text: str) -> Text:
    """A colour-marked text render as a rich Text (styles applied, no markup parsed)."""
    out = Text()
    rest = text
    while _MARK[0] in rest:
        before, _, tail = rest.partition(_MARK[0])
        style, _, tail = tail.partition(_MARK[1])
        body, _, rest = tail.partition(_MARK[2])
        out.append(before)
        out.append(body, style=style)
    out.append(rest)
    return out


def render(report: DiffReport, fmt: str, colour: bool = False) -> str:
    """The report as text, markdown or json. With colour (text only) risk words carry marks
    that `styled` turns into rich styles."""
    if fmt == "json":
        return report.to_json()
    if fmt not in FORMATS:
        raise ValueError(fmt)
    return _env(colour and fmt == "text").get_template(f"diff.{fmt}.j2").render(**_context(report))

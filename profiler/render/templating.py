"""The jinja2 environment of the text renderers: templates/ at the repository root,
StrictUndefined (a missing value is an error, never an empty string), no HTML autoescaping
(none of our formats is HTML), and filters that quote values for the target language.

Every container-originated string reaching a template has been checked or escaped by the
renderer; the filters here quote on top of that: `sh` for POSIX shell words, `yq` for YAML
scalars (a JSON string is a valid YAML double-quoted scalar).
"""

from __future__ import annotations

import json
import shlex
from functools import lru_cache
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


def _yq(value) -> str:
    if isinstance(value, bool) or isinstance(value, int):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=True)


def comment(value) -> str:
    """Text for a `#` comment: one line, printable ASCII only."""
    text = str(value).encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if c.isprintable() else "?" for c in text)


# A word of run.sh that holds the container's name (render/run.py NAME): the script's
# $volume_prefix (PROFILER_NAME, by default the recorded name) at run time.
NAME = "@NAME@"


def sh_word(value) -> str:
    """A shell word, NAME replaced by "$volume_prefix" (double-quoted: no word splitting)."""
    parts = str(value).split(NAME)
    return '"$volume_prefix"'.join(shlex.quote(p) if p else "" for p in parts) or "''"


def environment() -> jinja2.Environment:
    """A new environment with our settings and filters (diff_render adds its own filters)."""
    e = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    e.filters["sh"] = lambda v: shlex.quote(str(v))
    e.filters["shword"] = sh_word
    e.filters["yq"] = _yq
    e.filters["comment"] = comment
    return e


@lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    return environment()


def render(template: str, **context) -> str:
    return env().get_template(template).render(**context)

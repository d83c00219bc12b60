"""`emit --strict` keeps the output profiler gave before policies were generalised by kind and
risk (profiler/policy/generalise.py): every format, byte for byte. The files under
tests/golden/emit/strict/ were written by the code before generalisation existed and are not
meant to change (pytest --update-golden rewrites them: only do that for a deliberate change of
the strict output)."""

from __future__ import annotations

import pytest

from emitcases import check_golden, nginx, shell
from profiler.policy.reduce import reduce
from profiler.output.registry import FORMATS, RenderOptions, render


@pytest.mark.parametrize("which", ["nginx", "shell"])
def test_strict_output_is_unchanged(which, update_golden):
    rec = nginx() if which == "nginx" else shell()
    texts = render(reduce([rec], strict=True), list(FORMATS), RenderOptions())
    for fmt, text in texts.items():
        check_golden(f"strict/{which}.{FORMATS[fmt].file}", text, update_golden)

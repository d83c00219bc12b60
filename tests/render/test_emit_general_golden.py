"""The default output, generalised by kind and risk (profiler/policy/generalise.py): every format of
the nginx and shell fixtures. Rewritten with pytest --update-golden; the files of today's
default before generalisation (tests/golden/emit/*.*, reduce(generalise=False)) and of
--strict (tests/golden/emit/strict/) are compared by their own tests."""

from __future__ import annotations

import pytest

from emitcases import check_golden, nginx, shell
from profiler.policy.reduce import reduce
from profiler.output.registry import FORMATS, RenderOptions, render


@pytest.mark.parametrize("which", ["nginx", "shell"])
def test_default_output_matches_golden(which, update_golden):
    rec = nginx() if which == "nginx" else shell()
    texts = render(reduce([rec]), list(FORMATS), RenderOptions())
    for fmt, text in texts.items():
        check_golden(f"general/{which}.{FORMATS[fmt].file}", text, update_golden)

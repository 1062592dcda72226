"""The HTML page and the Jupyter display, checked without a browser (see test_html_chromium for one)."""
import re

import pytest

from symbackprop import Network, derive
from symbackprop.rendering import render, show
from symbackprop.rendering.document import PREAMBLE


@pytest.fixture(scope="module")
def derivation():
    return derive(Network((4, 3, 2), hidden="leaky-relu", output="sigmoid", loss="quadratic", l2=1))


def test_page_is_self_contained(derivation):
    page = render(derivation, "html", "nielsen")
    assert page.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in page
    assert "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)   # fetches nothing
    assert "@import" not in page and "url(" not in page
    assert page.count('<li class="step"') == len(derivation.steps)
    assert page.count("<math") > len(derivation.steps)


def test_no_raw_latex_in_mathml(derivation):
    page = render(derivation, "html", "ng-ml")
    # latex2mathml keeps an unknown command as the text of an <mi>: there must be none
    assert not re.search(r"<m[ionst][^>]*>\\", page)
    text = re.sub(r"<[^>]+>", "", re.sub(r"<style>.*?</style>", "", page, flags=re.S))
    assert "\\" not in text


class _Formatter:
    """What IPython's display formatter offers symbackprop: for_type_by_name(module, class name, function)."""

    def __init__(self):
        self.functions = {}

    def for_type_by_name(self, module, name, function):
        self.functions[(module, name)] = function


def test_jupyter_display(derivation):
    from types import SimpleNamespace

    from symbackprop._notebook import register
    formatters = {"text/latex": _Formatter(), "text/html": _Formatter()}
    assert register(SimpleNamespace(display_formatter=SimpleNamespace(formatters=formatters)))
    kind = (type(derivation).__module__, type(derivation).__name__)
    assert formatters["text/latex"].functions[kind](derivation).startswith("$$\\begin{aligned}")
    fragment = formatters["text/html"].functions[kind](derivation)
    assert "<math" in fragment and "<html" not in fragment and "<script" not in fragment
    single = show(derivation, "output_delta", notation="ng-ml")
    assert single._repr_latex_() == r"$$\delta^{(L)} = a^{(L)} \mathbin{.*} \left(\mathbf{1} - a^{(L)}\right) \mathbin{.*} \left(a^{(L)} - y\right)$$"
    assert single._repr_html_().startswith("<math") and str(single).startswith("δ^(L) = ")


def test_the_derivation_product_and_the_exporter_import_no_renderer():
    import pathlib

    import symbackprop
    package = pathlib.Path(symbackprop.__file__).parent
    for path in [package / "derivation.py", *sorted((package / "export").glob("*.py"))]:
        assert "rendering" not in path.read_text(), f"{path.name} imports a renderer"


def test_tex_document_uses_amsmath_only(derivation):
    tex = render(derivation, "tex", "bishop")
    packages = re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]+)\}", tex)
    assert packages == ["amsmath"]
    assert tex.startswith(PREAMBLE) and tex.rstrip().endswith(r"\end{document}")
    assert all(ord(char) < 128 for char in tex)   # pdflatex's default fonts need nothing else

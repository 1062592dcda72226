"""The layer and model pages at the network pages' standard (issue 24): the layer's letters (x̂, σ², dx̂
with the hat over the x alone), the Iverson bracket [d = d'] for a Kronecker delta (δ is the error's
letter), differences in reading order (x - μ), ∂C/∂y for the upstream gradient, text that fits a
100-column terminal without ``**`` or ``Sum(``, MathML that parses, and every format for every layer.

Each expected string is written by hand from the textbook form of batch norm (CS231n's dx̂ = γ dy,
dσ² with (x - μ), the closed form's N dy term), never copied from the renderer."""
from __future__ import annotations

import functools
import json
import re
import xml.etree.ElementTree as ET

import pytest

from symbackprop.cli import main
from symbackprop.layers.records import layer_names
from symbackprop.rendering.layer import FORMATS, latex_name, render_layer

MODEL = ("--model", "affine(8) > batchnorm > relu > affine(3) > softmax", "--loss", "categorical-cross-entropy",
         "--input-size", "4")


@functools.lru_cache(maxsize=None)
def page(fmt: str, *argv: str) -> str:
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["derive", *argv, "--format", fmt])
    assert code == 0, f"derive {' '.join(argv)} --format {fmt} exited {code}"
    return out.getvalue()


def batchnorm(fmt: str) -> str:
    return page(fmt, "--layer", "batchnorm")


# --- text: a 100-column terminal ---------------------------------------------------------------------------
def test_batchnorm_text_fits_a_100_column_terminal():
    long = [line for line in batchnorm("text").splitlines() if len(line) > 100]
    assert long == []


def test_a_long_step_breaks_before_a_whole_term():
    lines = batchnorm("text").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  (9) dx[n, d] = "))
    continuation = lines[start + 1]
    assert continuation.lstrip().startswith("+ Σ_d'"), continuation     # the next chain-rule term, aligned


@pytest.mark.parametrize("argv", [("--layer", "batchnorm"), ("--layer", "attention"), ("--layer", "rnn"), MODEL],
                         ids=["batchnorm", "attention", "rnn", "model"])
def test_text_has_no_python_spelling(argv):
    out = page("text", *argv)
    for python in ("**", "Sum(", "KroneckerDelta", "δ("):
        assert python not in out, python


def test_text_uses_the_layer_letters_and_reading_order():
    out = batchnorm("text")
    assert "dx̂ = ∂C/∂x̂ (quantity)" in out and "dσ² = ∂C/∂σ² (quantity)" in out and "dxhat = " not in out
    assert "(x[n, d] - μ[d])" in out and "-μ[d] + x[n, d]" not in out
    assert "[d = d']" in out                                  # the Iverson bracket, as the network pages write it
    assert "dx̂[n, d] = γ[d] dy[n, d]" in out                 # CS231n: dxhat = gamma * dout
    assert "(1) dy[n, d] = ∂C/∂y[n, d]" in out
    assert "(ε + σ²[d])^(3/2)" in out and "√(ε + σ²[d])" in out


# --- LaTeX and HTML ------------------------------------------------------------------------------------------
def test_latex_puts_the_hat_over_the_x_only():
    out = batchnorm("latex")
    assert r"d\hat{x}_{n,d}" in out and r"\hat{dx}" not in out and r"\hat{xhat}" not in out
    assert latex_name("dxhat") == r"d\hat{x}" and latex_name("xhat") == r"\hat{x}" and latex_name("dvar") == r"d\sigma^{2}"


def test_latex_upstream_gradient_kronecker_and_order():
    out = batchnorm("latex")
    assert r"\frac{\partial C}{\partial y_{n,d}}" in out and r"\frac{d}{d y" not in out
    assert r"\left[d = d'\right]" in out and r"\delta_{d d'}" not in out
    assert r"x_{n,d} - \mu_{d}" in out and r"- \mu_{d} + x_{n,d}" not in out


def test_the_tex_document_breaks_the_long_steps_and_compiles_without_overfull_lines(tmp_path):
    import shutil
    import subprocess
    tex = batchnorm("tex")
    assert r"\begin{aligned}" in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed: the document's layout is not checked")
    (tmp_path / "bn.tex").write_text(tex, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "bn.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    overfull = re.findall(r"Overfull \\hbox \((\d+\.\d+)pt", (tmp_path / "bn.log").read_text(errors="replace"))
    assert all(float(points) < 20 for points in overfull), overfull


def _maths(page_html: str) -> list:
    return re.findall(r"<math\b.*?</math>", page_html, flags=re.S)


def test_html_shows_the_layer_as_mathematics_and_every_formula_parses():
    out = batchnorm("html")
    assert "<pre>" not in out and "sum(x[n, d], n)" not in out
    maths = _maths(out)
    assert len(maths) > 20
    for math in maths:
        ET.fromstring(math.replace("&nbsp;", "&#160;"))       # well-formed MathML, as latex2mathml wrote it
    headings = re.findall(r"<h2>.*?</h2>", out, flags=re.S)
    assert any("<math" in heading for heading in headings)   # dx̂ = ∂C/∂x̂ typeset, not the word 'dxhat'
    assert not any("dxhat" in heading for heading in headings)


# --- every format, every built-in layer and a model ----------------------------------------------------------
@pytest.mark.parametrize("name", layer_names())
def test_every_builtin_layer_renders_in_every_format(name):
    for fmt in FORMATS:
        out = page(fmt, "--layer", name)
        assert out.strip()
        if fmt == "json":
            json.loads(out)
        if fmt == "text":
            assert "**" not in out and "Sum(" not in out and "KroneckerDelta" not in out
        if fmt == "html":
            for math in _maths(out):
                ET.fromstring(math.replace("&nbsp;", "&#160;"))


def test_a_model_renders_in_every_format():
    for fmt in FORMATS:
        assert page(fmt, *MODEL).strip()
    assert "dz4[n, m] = dL[n] (p5[n, m] - Y[n, m])" in page("text", *MODEL)    # p - y, the textbook's order


def test_a_model_writes_each_quantity_with_its_layer_as_the_network_pages_do():
    out = page("latex", *MODEL)
    assert r"z^{[4]}" in out and r"\mathrm{z4}" not in out                     # z⁽⁴⁾, the DLS's z^[l]
    assert latex_name("gamma2") == r"\gamma^{[2]}" and latex_name("dvar2") == r"d\left(\sigma^{[2]}\right)^{2}"
    assert "The model, composed into one layer:" in page("html", *MODEL)

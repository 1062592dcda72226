"""The .tex documents compile with pdflatex: no error, no undefined control sequence.

Needs pdflatex (Debian: texlive-latex-base). Without it the test skips, except under CI=true,
where it fails.
"""
import os
import shutil
import subprocess

import pytest

from symbackprop import Network, derive
from symbackprop.rendering import compare, render
from symbackprop.rendering.document import PREAMBLE

SETUPS = {
    "ex4": dict(sizes=(400, 25, 10), l2=1, bias="column"),
    "softmax-relu": dict(sizes=(4, 5, 3), hidden="relu", output="softmax", loss="categorical-cross-entropy"),
    "deep-mixed": dict(sizes=(6, 5, 5, 4, 4, 3, 2), hidden=["tanh", "leaky-relu", "elu", "softplus", "silu"],
                       output="sigmoid", loss="quadratic", l2=0.5),
    "custom-loss": dict(sizes=(3, 4, 2), hidden="sigmoid", output="tanh(z)", loss="(a-y)^4/4"),
    "log-likelihood": dict(sizes=(3, 3), output="softmax", loss="log-likelihood"),
}
NOTATIONS = ("ng-ml", "ng-dls", "nielsen", "goodfellow", "bishop")


def pdflatex():
    path = shutil.which("pdflatex")
    if path is None:
        reason = "pdflatex is not installed (Debian: apt-get install texlive-latex-base)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI=true requires it")
        pytest.skip(reason)
    return path


def compile_tex(source: str, directory) -> str:
    tex = directory / "doc.tex"
    tex.write_text(source, encoding="utf-8")
    run = subprocess.run([pdflatex(), "-halt-on-error", "-interaction=nonstopmode", "-no-shell-escape", tex.name],
                         cwd=directory, capture_output=True, text=True, timeout=120)
    log = (directory / "doc.log").read_text(encoding="latin-1")
    assert run.returncode == 0, log[-3000:]
    assert "Undefined control sequence" not in log
    assert "\n! " not in log
    assert (directory / "doc.pdf").stat().st_size > 1000
    return log


@pytest.mark.parametrize("name, notation", [("ex4", n) for n in NOTATIONS] +
                         [(name, "nielsen") for name in SETUPS if name != "ex4"] +
                         [("deep-mixed", "ng-ml"), ("softmax-relu", "bishop")])
def test_document_compiles(name, notation, tmp_path):
    pdflatex()
    spec = dict(SETUPS[name])
    derivation = derive(Network(spec.pop("sizes"), **spec))
    compile_tex(render(derivation, "tex", notation), tmp_path)


def test_latex_body_and_comparison_compile(tmp_path):
    pdflatex()
    ng = derive(Network((4, 3, 2), loss="cross-entropy"))
    nielsen = derive(Network((4, 3, 2), loss="quadratic"))
    body = render(ng, "latex", "ng-dls") + "\n" + compare(ng, nielsen).render("latex")
    compile_tex(PREAMBLE + "\\begin{document}\n" + body + "\\end{document}\n", tmp_path)

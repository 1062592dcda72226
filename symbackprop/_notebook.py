"""Jupyter display of a :class:`~symbackprop.derivation.Derivation`, attached from outside the product.

The derivation product imports no renderer (imports run one way: the renderers read the product). When
symbackprop is imported inside IPython, :func:`register` tells IPython's display formatters how to show a
Derivation (typeset LaTeX, or the step-by-step page as HTML with MathML); the renderer is imported on the
first display only.
"""
from __future__ import annotations

import sys


def _latex(derivation) -> str:
    from .rendering import render_latex_display
    return render_latex_display(derivation)


def _html(derivation) -> str:
    from .rendering import render_html_fragment
    return render_html_fragment(derivation)


def register(shell=None) -> bool:
    """Attach the display to ``shell`` (the running IPython shell by default); False where there is none."""
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False
    formatters = shell.display_formatter.formatters
    formatters["text/latex"].for_type_by_name("symbackprop.derivation", "Derivation", _latex)
    formatters["text/html"].for_type_by_name("symbackprop.derivation", "Derivation", _html)
    return True

"""Jupyter display: a Derivation's ``_repr_latex_`` and ``_repr_html_``, and one quantity shown alone.

This module owns what a notebook shows; :mod:`symbackprop.derivation` calls
:func:`render_latex_display` and :func:`render_html_fragment` lazily.
"""
from __future__ import annotations

from dataclasses import dataclass

from .api import render_quantity
from .html import render_fragment
from .notations import DEFAULT
from .steps import layout


def render_latex_display(derivation, notation=DEFAULT) -> str:
    """The results of a derivation as one display-math block (``$$\\begin{aligned}...``)."""
    page = layout(derivation, notation)
    lines = []
    for result in page.results:
        head, sep, tail = result.formula.latex.partition(" = ")
        lines.append((f"{head} &= {tail}" if sep else f"&{result.formula.latex}") +
                     r" && \text{%s}" % result.label)
    return "$$\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}$$"


def render_html_fragment(derivation, notation=DEFAULT) -> str:
    """The whole step-by-step derivation as an HTML fragment with MathML (no script)."""
    return render_fragment(layout(derivation, notation))


@dataclass(frozen=True)
class Rendered:
    """A displayable object: ``show(d, 'hidden_delta', notation='ng-ml')`` in a notebook cell."""

    latex: str
    mathml: str
    text: str

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_html_(self) -> str:
        return self.mathml

    def __str__(self) -> str:
        return self.text


def show(derivation, quantity: str = "output_delta", notation=DEFAULT, form: str = "vector") -> Rendered:
    """One quantity of a derivation, for display on its own (Jupyter shows it as rendered math)."""
    return Rendered(latex=render_quantity(derivation, quantity, "latex", notation, form),
                    mathml=render_quantity(derivation, quantity, "mathml", notation, form),
                    text=render_quantity(derivation, quantity, "text", notation, form))

"""The entry points: ``render(derivation, format, notation)`` and ``render_quantity(...)``.

This module owns the choice of format and the validation of the caller's settings; the formats
themselves live in :mod:`.text`, :mod:`.data`, :mod:`.latex`, :mod:`.document` and :mod:`.html`.
"""
from __future__ import annotations

from ..derivation import Derivation
from ..errors import SymbackpropError, UnknownNameError
from .notations import DEFAULT, notation as _notation
from .steps import check_size_names, layout as _layout

FORMATS = ("text", "json", "latex", "tex", "html")
QUANTITIES = ("cost", "output_delta", "hidden_delta", "weight_gradient", "bias_gradient")
FORMS = ("vector", "index", "unit", "batch", "batch_vector")


def render(derivation: Derivation, format: str = "text", notation=DEFAULT) -> str:
    """The whole derivation as ``format`` ('text', 'json', 'latex', 'tex' or 'html') in ``notation``.

    >>> from symbackprop import Network, derive
    >>> print(render(derive(Network((2, 2))), "json", "ng-ml").splitlines()[1])
      "schema": "symbackprop.derivation/1",
    """
    if format not in FORMATS:
        raise UnknownNameError("format", str(format), FORMATS)
    _check_derivation(derivation)
    page = _layout(derivation, _notation(notation))
    if format == "text":
        from .text import render_text
        return render_text(page)
    if format == "json":
        from .data import render_json
        return render_json(page)
    if format == "latex":
        from .latex import render_latex
        return render_latex(page)
    if format == "tex":
        from .document import render_document
        return render_document(page)
    from .html import render_html
    return render_html(page)


def render_quantity(derivation: Derivation, quantity: str = "output_delta", format: str = "latex",
                    notation=DEFAULT, form: str = "vector") -> str:
    """One derived quantity alone: ``render_quantity(d, 'hidden_delta', 'latex', 'ng-ml')``.

    ``form`` is 'vector', 'index', 'unit' (the per-unit formula over a, y, z, e), 'batch' or
    'batch_vector'; ``format`` is 'latex', 'text' or 'mathml'.
    """
    from ._latex_printer import NotationLatexPrinter
    from ._text_printer import NotationTextPrinter
    if quantity not in QUANTITIES:
        raise UnknownNameError("quantity", str(quantity), QUANTITIES)
    if form not in FORMS:
        raise UnknownNameError("form", str(form), FORMS)
    if format not in ("latex", "text", "mathml"):
        raise UnknownNameError("format", str(format), ("latex", "text", "mathml"))
    _check_derivation(derivation)
    check_size_names(derivation.network, _notation(notation))
    record = getattr(derivation, quantity)
    if record is None:
        raise SymbackpropError(f"this derivation has no {quantity}: its hidden layers have different activations; "
                               f"use derivation.hidden_deltas for one layer at a time")
    expr = getattr(record, form)
    if expr is None:
        raise SymbackpropError(f"{quantity} has no {form} form; forms it has: "
                               f"{', '.join(f for f in FORMS if getattr(record, f) is not None)}")
    settings = {"notation": _notation(notation), "depth": derivation.network.depth, "batch": form.startswith("batch")}
    if format == "text":
        return NotationTextPrinter(settings).doprint(expr)
    latex = NotationLatexPrinter(settings).doprint(expr)
    if format == "latex":
        return latex
    from ._mathml import mathml
    return mathml(latex, display=True)


def _check_derivation(derivation) -> None:
    if not isinstance(derivation, Derivation):
        raise SymbackpropError(f"render() takes a symbackprop Derivation, not {type(derivation).__name__}; "
                               f"make one with symbackprop.derive(network)")


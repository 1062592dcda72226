"""The JSON rendering: a stable, documented object (schema in docs/json-schema.md).

This module owns the keys and their meaning. ``expr`` fields are SymPy syntax over the canonical
per-unit symbols (``a - y``), independent of the notation; ``vector``, ``index`` and ``text``
fields are the text printer's output and ``latex`` fields the LaTeX printer's, in the notation.
"""
from __future__ import annotations

import json

import sympy as sp

from ..derivation import Quantity
from ..big_numbers import sstr
from ._prose import plain
from .steps import Layout, formula

SCHEMA = "symbackprop.derivation/1"


def render_json(layout: Layout) -> str:
    return json.dumps(to_data(layout), indent=2, ensure_ascii=False) + "\n"


def to_data(layout: Layout) -> dict:
    """The JSON object as Python data."""
    derivation = layout.derivation
    network = derivation.network
    data = {
        "schema": SCHEMA,
        "notation": layout.notation.name,
        "network": {
            "sizes": [_number(size) for size in network.sizes],
            "hidden": [activation.name for activation in network.hidden],
            "output": network.output.name,
            "loss": network.loss.name,
            "l2": _number(network.l2),
            "bias": network.bias,
        },
        "cost": _quantity(layout, derivation.cost),
        "output_delta": _quantity(layout, derivation.output_delta),
        "hidden_delta": _quantity(layout, derivation.hidden_delta) if derivation.hidden_delta is not None else None,
        "hidden_deltas": [_quantity(layout, quantity) for quantity in derivation.hidden_deltas],
        "weight_gradient": _quantity(layout, derivation.weight_gradient),
        "bias_gradient": _quantity(layout, derivation.bias_gradient),
        "assumptions": [
            {"name": assumption.name, "text": statement.text, "latex": statement.latex, "note": assumption.note}
            for assumption, (statement, _) in zip(derivation.assumptions, layout.assumptions)],
        "steps": [
            {"number": step.number, "quantity": step.quantity, "layer": _layer(step.step.layer),
             "rule": step.rule, "note": step.note_raw, "note_text": plain(step.note.text), "note_latex": step.note.latex,
             "latex": step.statement.latex, "text": step.statement.text}
            for section in layout.sections for step in section.steps],
        "code": ({"language": layout.code.language, "lines": list(layout.code.lines)}
                 if layout.code is not None else None),
    }
    return data


def _quantity(layout: Layout, quantity: Quantity) -> dict:
    one = layout.printers(batch=False)
    batch = layout.printers(batch=True)
    vector = formula(quantity.vector, *one)
    index = formula(quantity.index, *one)
    out = {
        "layer": _layer(quantity.layer),
        "expr": sstr(quantity.unit),
        "vector": vector.text,
        "latex": vector.latex,
        "index": index.text,
        "index_latex": index.latex,
        "cancels": quantity.cancels,
        "activation_derivative": sstr(quantity.activation_derivative) if quantity.activation_derivative is not None else None,
    }
    for key, expr, printers in (("batch", quantity.batch, batch), ("batch_vector", quantity.batch_vector, batch)):
        if expr is not None:
            printed = formula(expr, *printers)
            out[key] = printed.text
            out[key + "_latex"] = printed.latex
        else:
            out[key] = out[key + "_latex"] = None
    return out


def _layer(layer):
    if layer is None:
        return None
    layer = sp.sympify(layer, strict=True)
    return int(layer) if layer.is_Integer else sstr(layer)


def _number(value):
    value = sp.sympify(value, strict=True)
    if value.is_Integer:
        return int(value)
    if value.is_Rational or value.is_Float:
        return float(value)
    return sstr(value)

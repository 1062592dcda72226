"""Turning what a user names -- a catalogue name, an expression, or a record -- into a record.

Expressions typed by a user are read by the project's own grammar (:mod:`symbackprop.grammar`),
never by eval or sympify.
"""
from __future__ import annotations

import re

import sympy as sp

from .. import symbols as S
from ..errors import NetworkSpecError, UnknownNameError
from ._records import Activation, Loss
from .activations import ACTIVATIONS, BY_NAME as ACTIVATION_BY_NAME
from .losses import BY_NAME as LOSS_BY_NAME


def expression_functions() -> dict:
    """Catalogue activations usable as functions inside an expression, e.g. ``sigmoid(z)``."""
    functions = {}
    for record in ACTIVATIONS:
        if record.elementwise:
            definition = record.concrete()
            functions[record.name.replace("-", "_")] = (lambda arg, d=definition: d.subs(S.z, arg))
    return functions


def _parse(text: str, variables: dict) -> sp.Expr:
    from ..grammar import parse_expression
    return parse_expression(text, variables=variables, functions=expression_functions())


def _split_parameters(text: str):
    """'leaky-relu:alpha=0.2' -> ('leaky-relu', {'alpha': 0.2})."""
    name, _, rest = text.partition(":")
    values = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        try:
            values[key.strip()] = float(value)
        except ValueError:
            raise NetworkSpecError(f"bad parameter {item!r} in {text!r}; write NAME:PARAM=NUMBER, e.g. leaky-relu:alpha=0.2") from None
        if not eq:
            raise NetworkSpecError(f"bad parameter {item!r} in {text!r}; write NAME:PARAM=NUMBER, e.g. leaky-relu:alpha=0.2")
    return name.strip(), values


def activation(spec) -> Activation:
    """An :class:`Activation` from a record, a catalogue name (``'sigmoid'``, ``'leaky-relu:alpha=0.2'``),
    a SymPy expression in ``z``, or the text of such an expression (``'tanh(z)'``)."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, sp.Expr):
        return _custom_activation(spec, str(spec))
    if not isinstance(spec, str) or not spec.strip():
        raise NetworkSpecError(f"an activation must be a catalogue name or an expression in z, not {spec!r}; "
                               f"names: {', '.join(ACTIVATION_BY_NAME)}")
    name, values = _split_parameters(spec.strip())
    if name in ACTIVATION_BY_NAME:
        record = ACTIVATION_BY_NAME[name]
        return record.with_parameters(**values) if values else record
    if _looks_like_name(spec, {"z"}):
        raise UnknownNameError("activation", spec, [*ACTIVATION_BY_NAME, "or an expression in z such as 'tanh(z)'"])
    return _custom_activation(_parse(spec, {"z": S.z}), spec.strip())


def _custom_activation(expr: sp.Expr, text: str) -> Activation:
    free = expr.free_symbols - {S.z}
    if free:
        raise NetworkSpecError(f"activation {text!r} may only use z, but it uses {', '.join(sorted(map(str, free)))}")
    if S.z not in expr.free_symbols:
        raise NetworkSpecError(f"activation {text!r} does not depend on z; an activation is a function of the pre-activation z")
    return Activation(text, expr, r"g", f"custom activation {text}")


def loss(spec) -> Loss:
    """A :class:`Loss` from a record, a catalogue name, a SymPy expression in ``a`` and ``y`` (the loss
    of one output unit, summed over the units), or the text of such an expression."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, sp.Expr):
        return _custom_loss(spec, str(spec))
    if not isinstance(spec, str) or not spec.strip():
        raise NetworkSpecError(f"a loss must be a catalogue name or an expression in a and y, not {spec!r}; "
                               f"names: {', '.join(LOSS_BY_NAME)}")
    if spec.strip() in LOSS_BY_NAME:
        return LOSS_BY_NAME[spec.strip()]
    if _looks_like_name(spec, {"a", "y"}):
        raise UnknownNameError("loss", spec, [*LOSS_BY_NAME, "or an expression in a and y such as '(a-y)^2/2'"])
    return _custom_loss(_parse(spec, {"a": S.a, "y": S.y}), spec.strip())


def _custom_loss(expr: sp.Expr, text: str) -> Loss:
    free = expr.free_symbols - {S.a, S.y}
    if free:
        raise NetworkSpecError(f"loss {text!r} may only use a and y, but it uses {', '.join(sorted(map(str, free)))}")
    if S.a not in expr.free_symbols:
        raise NetworkSpecError(f"loss {text!r} does not depend on a (the output activation); its gradient would be zero")
    return Loss(text, r"\ell", f"custom loss {text}", per_unit=expr)


def _looks_like_name(text: str, variables) -> bool:
    """A bare word such as 'sigmod' or 'leaky-relu' (not a variable): meant as a catalogue name."""
    word = text.strip()
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", word)) and word not in variables

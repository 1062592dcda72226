"""Turning what a user names -- a catalogue name, an expression, or a record -- into a record.

Expressions typed by a user are read by the project's own grammar (:mod:`symbackprop.grammar`),
never by eval or sympify.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .. import symbols as S
from ..budget import MAX_NESTING, nesting
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
    """'leaky-relu:alpha=0.2' -> ('leaky-relu', {'alpha': 0.2}); also 'huber:delta=0.5'."""
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
    return _resolve(spec, _ACTIVATION)


def loss(spec) -> Loss:
    """A :class:`Loss` from a record, a catalogue name, a SymPy expression in ``a`` and ``y`` (the loss
    of one output unit, summed over the units), or the text of such an expression."""
    return _resolve(spec, _LOSS)


@dataclass(frozen=True)
class _Kind:
    """What differs between looking up an activation and a loss."""

    noun: str
    record_type: type
    by_name: dict
    variables: dict            #: the symbols an expression may use, by name
    required: sp.Symbol        #: the one it must depend on
    example: str
    parameters: bool           #: whether NAME:PARAM=VALUE is accepted
    unused_message: str
    build: Callable


_ACTIVATION = _Kind("activation", Activation, ACTIVATION_BY_NAME, {"z": S.z}, S.z, "'tanh(z)'", True,
                    "does not depend on z; an activation is a function of the pre-activation z",
                    lambda expr, text: Activation(text, expr, r"g", f"custom activation {text}"))
_LOSS = _Kind("loss", Loss, LOSS_BY_NAME, {"a": S.a, "y": S.y}, S.a, "'(a-y)^2/2'", True,
              "does not depend on a (the output activation); its gradient would be zero",
              lambda expr, text: Loss(text, r"\ell", f"custom loss {text}", per_unit=expr))


def _resolve(spec, kind: _Kind):
    if isinstance(spec, kind.record_type):
        return spec
    if isinstance(spec, sp.Expr):
        return _custom(spec, str(spec), kind)
    variables = " and ".join(kind.variables)
    if not isinstance(spec, str) or not spec.strip():
        raise NetworkSpecError(f"{'an' if kind.noun[0] in 'aeiou' else 'a'} {kind.noun} must be a catalogue name "
                               f"or an expression in {variables}, not {spec!r}; names: {', '.join(kind.by_name)}")
    text = spec.strip()
    name, values = _split_parameters(text) if kind.parameters else (text, {})
    if name in kind.by_name:
        record = kind.by_name[name]
        return record.with_parameters(**values) if values else record
    if _looks_like_name(text, kind.variables):
        raise UnknownNameError(kind.noun, text, [*kind.by_name, f"or an expression in {variables} such as {kind.example}"])
    return _custom(_parse(text, kind.variables), text, kind)


def _custom(expr: sp.Expr, text: str, kind: _Kind):
    free = expr.free_symbols - set(kind.variables.values())
    if free:
        raise NetworkSpecError(f"{kind.noun} {text!r} may only use {' and '.join(kind.variables)}, "
                               f"but it uses {', '.join(sorted(map(str, free)))}")
    if kind.required not in expr.free_symbols:
        raise NetworkSpecError(f"{kind.noun} {text!r} {kind.unused_message}")
    if nesting(expr) > MAX_NESTING:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise NetworkSpecError(f"{kind.noun} {shown!r} nests more than {MAX_NESTING} operations deep once its "
                               f"functions are written out (sigmoid(u) is 1/(1 + exp(-u))); symbackprop derives, "
                               f"prints and exports expressions up to {MAX_NESTING} deep")
    return kind.build(expr, text)


def _looks_like_name(text: str, variables) -> bool:
    """A bare word such as 'sigmod' or 'leaky-relu' (not a variable): meant as a catalogue name."""
    word = text.strip()
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", word)) and word not in variables

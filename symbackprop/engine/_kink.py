"""What the derivative of an activation is at its kink, computed from the derivative the engine formed.

A kink is written in a definition as Piecewise((f1, z <= 0), (f2, True)); its derivative is carried
as f1' + (f2' - f1') H(z) (see :func:`~._activation_derivative.derivative_in_z`). The note says which
one-sided derivative that value is, and the value itself, both read off that expression.
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ._activation_derivative import derivative_in_z


def kink_note(definition: sp.Expr) -> str:
    """"g'(0) is taken as the left derivative: g'(0) = 0" for relu; "" where g' has no jump at 0."""
    if not getattr(definition, "has", None) or not definition.has(sp.Piecewise):
        return ""
    derivative = derivative_in_z(definition)
    if not derivative.has(sp.Heaviside):
        return ""
    step = lambda value: derivative.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Integer(value))
    try:
        left, right, at_zero = step(0).subs(S.z, 0), step(1).subs(S.z, 0), derivative.subs(S.z, 0)
    except (TypeError, ValueError):   # g' is not finite at 0: 0.1/z inside a step ("invalid comparison of
        # non-real zoo"), or inside a max/min (Max(|z|, 1e-3/z): "the argument 'zoo' is not comparable")
        return ""
    if any(value.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for value in (left, right, at_zero)):
        return ""
    if sp.expand(left - right) == 0:
        return ""
    side = "left" if sp.expand(at_zero - left) == 0 else "right" if sp.expand(at_zero - right) == 0 else "neither"
    if side == "neither":
        return f"g'(0) = {at_zero}, neither one-sided derivative ({left} from the left, {right} from the right)"
    return f"g'(0) is taken as the {side} derivative: g'(0) = {at_zero}"

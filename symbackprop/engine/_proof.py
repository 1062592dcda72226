"""The engine's proof that a form chosen for display equals the form it computed.

Where the engine shows a readable form (δ^L = a - y rather than the contracted product
∂C/∂a · g'(z)), :func:`prove_equal` checks it against the computed one and raises
:class:`~symbackprop.errors.InternalError` when they differ. The unit symbol ``a`` is tied to
``z`` by ``a = g(z)``; the difference is then simplified symbolically and, only where that is
inconclusive, evaluated at random points with 30-digit arithmetic.

The symbolic part is exact but deliberately cheap (no general ``simplify``: its trigonometric pass
takes seconds per expression): expansion, exponentials and hyperbolic functions as powers of
t = e^z with ``cancel`` (:func:`~._calculus.proved_zero`), and radicands simplified one by one.
"""
from __future__ import annotations

import random

import sympy as sp

from .. import symbols as S
from ..errors import InternalError
from ._calculus import proved_zero

_POINTS = 8            #: random points of the numeric fallback
_NEEDED = 4            #: points that must evaluate to finite numbers
_TOLERANCE = sp.Float("1e-20", 30)


def prove_equal(shown: sp.Expr, computed: sp.Expr, what: str, activation: sp.Expr | None = None) -> None:
    """Raise InternalError unless ``shown`` equals ``computed`` wherever ``a = activation(z)``."""
    tie = {S.a: activation} if activation is not None else {}
    difference = (sp.sympify(shown, strict=True) - sp.sympify(computed, strict=True)).subs(tie)
    if _symbolically_zero(difference):
        return
    verdict = _numerically_zero(difference)
    if verdict is True:
        return
    reason = "they differ" if verdict is False else "no point could be evaluated to compare them"
    raise InternalError(f"symbackprop bug: the {what} shown, {shown}, is not proved equal to the one computed, "
                        f"{computed} ({reason}); please report it")


def _symbolically_zero(difference: sp.Expr) -> bool:
    if difference == 0:
        return True
    try:
        if sp.expand(difference) == 0 or proved_zero(difference, S.z):
            return True
        return sp.cancel(radicands_simplified(difference)) == 0
    except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
        return False


def radicands_simplified(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the base of every fractional power simplified on its own: √(1 + sinh² z) -> cosh z.

    The radicands of a derivation are small, so this is cheap where ``simplify`` of the whole
    expression (its trigonometric pass) takes seconds."""
    def simplified(power):
        base = sp.trigsimp(sp.factor(sp.cancel(power.base)))
        return sp.Pow(base, power.exp)
    return expr.replace(lambda e: isinstance(e, sp.Pow) and e.exp.is_Rational and not e.exp.is_Integer
                        and not e.base.is_number, simplified)


def _numerically_zero(difference: sp.Expr):
    """True / False where finite points decide, None where too few points evaluate."""
    generator = random.Random(19)
    symbols = sorted(difference.free_symbols, key=str)
    finite = 0
    for _ in range(_POINTS * 3):
        values = {symbol: _sample(symbol, generator) for symbol in symbols}
        try:
            value = sp.N(difference.subs(values), 30)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            continue
        if not value.is_finite or value.has(sp.nan, sp.zoo):
            continue
        scale = 1 + max((abs(sp.N(v, 30)) for v in values.values()), default=0)
        if abs(value) > _TOLERANCE * scale:
            return False
        finite += 1
        if finite >= _POINTS:
            break
    return True if finite >= _NEEDED else None


def _sample(symbol: sp.Symbol, generator: random.Random) -> sp.Float:
    """A point away from kinks (z = 0) and from the edges of a target's range."""
    if symbol == S.y:
        return sp.Float(generator.uniform(0.05, 0.95), 30)
    if symbol == S.z:
        return sp.Float(generator.choice((-1, 1)) * generator.uniform(0.1, 2.5), 30)
    if symbol.is_positive or symbol.is_nonnegative:
        return sp.Float(generator.uniform(0.2, 1.5), 30)
    return sp.Float(generator.uniform(-2, 2), 30)

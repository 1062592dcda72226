"""Stable forms of erf and of hyperbolic functions that the rules on exp(z) do not reach.

Rules 0a-0c of :mod:`._stable`'s table, applied first, to the derived expression: they act on the
shape of a sum or of a function's argument, never on the name of an activation.

0a. **Complements of erf.** c + c erf(w) cancels where erf(w) is near -1 (1 + erf(-6) = 2e-17
    is computed as 0): it is c erfc(-w), and c - c erf(w) is c erfc(w), 2c - c erfc(w) is
    c erfc(-w). The erfc is a :class:`~._nodes.kept_erfc` (SymPy would reflect erfc(-w) back to
    2 - erfc(w)); each backend evaluates it with its own erfc (NumPy: Cody's, export/_erf.py).
0b. **Complements of tanh** of an argument u that is not a rational multiple of z (rule 1 writes
    tanh(z/q) with exp(z/q) and splits by sign; tanh(u) for a polynomial u it cannot):
    c + c tanh(u) = 2c σ(2u), c - c tanh(u) = 2c σ(-2u), c - c tanh(u)^2 = 4c σ(2u) σ(-2u),
    with σ(x) = exp(min(x, 0)) / (1 + exp(-|x|)): no exponential of a positive number, no
    difference of nearly equal numbers, and σ(2u)σ(-2u) = exp(-2|u|) / (1 + exp(-2|u|))^2.
0c. **Hyperbolic functions of a logarithm**, f(k log x) for tanh, sinh, cosh, sech, csch, coth and
    a rational k, are written with exp, which cancels against the log: tanh(log x) =
    (x^2 - 1)/(x^2 + 1). When x is itself rational in exp(z) (Mish's tanh(log(1 + e^z)) =
    (e^2z + 2e^z)/(e^2z + 2e^z + 2)), the whole is rational in exp(z) and rule 1 splits it by sign:
    for z >= 0, with u = e^-z, (1 + 2u)/(1 + 2u + 2u^2). Without this, tanh(softplus(z)) is
    evaluated accurately but its derivative multiplies e^z (inf above z = 709) by
    1 - tanh^2 (0 there).
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ._nodes import kept_erfc

__all__ = ["special_forms", "sigmoid_form"]

_HYPERBOLIC = (sp.tanh, sp.sinh, sp.cosh, sp.coth, sp.sech, sp.csch)


def special_forms(expr: sp.Expr, z: sp.Symbol = S.z) -> sp.Expr:
    """``expr`` with rules 0c, then 0a and 0b applied (see the module docstring)."""
    if expr.has(*_HYPERBOLIC):
        expr = expr.replace(lambda e: isinstance(e, _HYPERBOLIC) and _log_multiple(e.args[0]) is not None,
                            lambda e: e.rewrite(sp.exp))
    if expr.has(sp.erf, sp.erfc, sp.tanh):
        expr = expr.replace(lambda e: e.is_Add, lambda e: _complements(e, z))
    return expr


def sigmoid_form(x: sp.Expr) -> sp.Expr:
    """σ(x) = 1/(1 + e^-x) as exp(min(x, 0)) / (1 + exp(-|x|)): accurate for every real x, no overflow."""
    return sp.exp(sp.Min(x, 0)) / (1 + sp.exp(-sp.Abs(x)))


def _log_multiple(w):
    """x when w = k log(x) for a rational k, else None."""
    coefficient, rest = w.as_coeff_Mul()
    return rest.args[0] if isinstance(rest, sp.log) and coefficient.is_Rational else None


def _complements(add: sp.Add, z) -> sp.Expr:
    """The pairs of terms K F, K' of ``add`` that are a complement (rules 0a, 0b), each replaced by its
    stable form; the other terms as they are."""
    terms = list(add.args)
    result = []
    while terms:
        term = terms.pop(0)
        factors = list(sp.Mul.make_args(term))
        for position, factor in enumerate(factors):
            coefficient = sp.Mul(*factors[:position], *factors[position + 1:])
            companion = next(((ratio * coefficient, stable) for ratio, stable in _complement_of(factor, z)
                              if ratio * coefficient in terms + result), None)
            if companion is not None:
                (terms if companion[0] in terms else result).remove(companion[0])
                term = coefficient * companion[1]()
                break
        result.append(term)
    return sp.Add(*result)


def _complement_of(factor, z):
    """[(r, S)]: K factor + r K = K S() for every K, S() building the stable form (empty when none applies)."""
    if isinstance(factor, kept_erfc):
        return []
    if isinstance(factor, sp.erf):
        (w,) = factor.args
        return [(1, lambda: kept_erfc(-w)), (-1, lambda: -kept_erfc(w))]
    if isinstance(factor, sp.erfc):
        (w,) = factor.args
        return [(-2, lambda: -kept_erfc(-w))]
    if isinstance(factor, sp.tanh) and _beyond_exp_rule(factor.args[0], z):
        (u,) = factor.args
        return [(1, lambda: 2 * sigmoid_form(2 * u)), (-1, lambda: -2 * sigmoid_form(-2 * u))]
    if factor.is_Pow and factor.exp == 2 and isinstance(factor.base, sp.tanh) and _beyond_exp_rule(factor.base.args[0], z):
        (u,) = factor.base.args
        return [(-1, lambda: -4 * sp.exp(-2 * sp.Abs(u)) / (1 + sp.exp(-2 * sp.Abs(u))) ** 2)]
    return []


def _beyond_exp_rule(u, z) -> bool:
    """tanh(u) depends on z and is not tanh(r z) for a rational r (which rule 1 rewrites with exp(z/q))."""
    return u.has(z) and not sp.cancel(u / z).is_Rational

"""The derivative of an activation, by differentiation, and its most readable form.

For an elementwise g the engine differentiates the definition in z, then looks for a polynomial
P with g'(z) = P(g(z)) -- σ' = a(1 - a), tanh' = 1 - a², exp' = a -- by fitting P at sample points
and *proving* the identity exactly (:func:`~._calculus.proved_zero`). Where no such P is proved
(relu, softplus, silu, elu), g' stays in z. For a coupled activation (softmax) it forms the
Jacobian ∂a_k/∂z_i and rewrites it in the activations.
"""
from __future__ import annotations

from functools import lru_cache

import mpmath
import sympy as sp

from .. import symbols as S
from ..errors import NotDifferentiableError
from ..budget import simplifiable
from ._calculus import contract, positive_factors, proved_zero, tidy

#: where the fit samples g and g'; an activation defined only for z > 0 (sqrt, log) uses the positive ones
_SAMPLES = ("-1.3", "-0.4", "0.3", "0.9", "1.7", "2.3", "0.6", "1.2", "2.9", "3.4")
_MAX_DEGREE = 3


@lru_cache(maxsize=256)
def derivative_in_z(definition: sp.Expr) -> sp.Expr:
    """g'(z) as SymPy forms it from the definition, a kink written with a step function.

    SymPy gives the derivative of Piecewise((f1, z <= 0), (f2, True)) as a Piecewise; a SymPy ``Sum``
    would fold a Piecewise around its whole summand (Kronecker delta included), so the engine carries
    it as f1' + (f2' - f1') H(z) with H(0) = 0: the same function, g'(0) being the left derivative.
    """
    derivative = _step_form(sp.diff(definition, S.z))
    if derivative.has(sp.Derivative, sp.Subs):
        raise NotDifferentiableError(f"SymPy cannot differentiate the activation {definition} in closed form")
    return derivative


def _step_form(expr: sp.Expr) -> sp.Expr:
    def convert(piecewise):
        (left, condition), (right, otherwise) = piecewise.args if len(piecewise.args) == 2 else ((None, None), (None, None))
        if otherwise is not sp.true or condition not in (sp.Le(S.z, 0), sp.Lt(S.z, 0)):
            return piecewise
        at_zero = 0 if condition == sp.Le(S.z, 0) else 1      # H(0): which branch holds at z = 0
        return left + (right - left) * sp.Heaviside(S.z, at_zero)
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), convert)


def _piecewise_form(expr: sp.Expr) -> sp.Expr:
    """The readable form of a step-function derivative: one Piecewise with the cases spelled out."""
    if not expr.has(sp.Heaviside):
        return expr
    return sp.piecewise_fold(expr.rewrite(sp.Piecewise))


@lru_cache(maxsize=256)
def readable_derivative(definition: sp.Expr) -> tuple[sp.Expr, bool]:
    """(g' in its most readable unit form, True when it is written in a rather than z)."""
    derivative = derivative_in_z(definition)
    polynomial = _polynomial_in_activation(definition, derivative)
    if polynomial is not None:
        return polynomial, True
    if derivative.has(sp.Heaviside):
        return _piecewise_form(derivative), False
    return tidy(derivative), False


def _polynomial_in_activation(definition: sp.Expr, derivative: sp.Expr):
    if definition.has(sp.Piecewise, sp.Heaviside, sp.Abs, sp.sign) or derivative.has(sp.Piecewise, sp.Heaviside):
        return None
    if S.z not in derivative.free_symbols:          # constant derivative: identity, scaled identity
        return derivative
    if not simplifiable(derivative):                # the proof would not finish within the budget
        return None
    with mpmath.workdps(40):   # local precision: never change mpmath's global setting
        candidates = _fitted_polynomials(definition, derivative)
    for polynomial in candidates:
        if proved_zero(derivative - polynomial.subs(S.a, definition), S.z):   # the fit is only a guess; this proves it
            return positive_factors(sp.factor(polynomial))
    return None


def _fitted_polynomials(definition: sp.Expr, derivative: sp.Expr) -> list:
    """Polynomials P of degree 1..3 with small rational coefficients that fit g'(z) = P(g(z)) at sample points."""
    try:
        g = sp.lambdify(S.z, definition, "mpmath")
        dg = sp.lambdify(S.z, derivative, "mpmath")
        values = [_real_pair(g, dg, mpmath.mpf(s)) for s in _SAMPLES]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return []
    values = [v for v in values if v is not None]       # only where g is real: sqrt(z) is fitted on z > 0
    candidates = []
    for degree in range(1, min(_MAX_DEGREE, len(values) - 1) + 1):
        rows = [[v ** power for power in range(degree + 1)] for v, _ in values[: degree + 1]]
        try:
            coefficients = mpmath.lu_solve(mpmath.matrix(rows), mpmath.matrix([d for _, d in values[: degree + 1]]))
        except ZeroDivisionError:
            continue
        rational = [sp.nsimplify(sp.Float(c, 30), rational=True, tolerance=1e-25) for c in coefficients]
        if all(sp.denom(r) <= 1000 for r in rational):
            candidates.append(sum(c * S.a ** power for power, c in enumerate(rational)))
    return candidates


def _real_pair(g, dg, point):
    """(g(point), g'(point)) where both are real and finite, else None."""
    try:
        pair = (g(point), dg(point))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not all(isinstance(v, mpmath.mpf) and mpmath.isfinite(v) for v in pair):
        return None
    return pair


@lru_cache(maxsize=64)
def coupled_jacobian(definition: sp.Expr, layer) -> tuple[sp.Expr, sp.Expr]:
    """(∂a_k/∂z_i as SymPy differentiates it, the same rewritten in the activations a_k, a_i)
    for a coupled activation defined over indexed z[k] normalised by a sum over the layer's units."""
    from ..catalogue.activations import COUPLED_INDEX as k
    i = S.i
    z_layer = definition.replace(lambda e: isinstance(e, sp.Indexed) and e.base == S.base("z"),
                                 lambda e: S.unit("z", layer, e.indices[0]))
    raw = contract(sp.diff(z_layer, S.unit("z", layer, i)))
    normaliser = next(iter(z_layer.atoms(sp.Sum)))
    a_k, a_i = S.unit("a", layer, k), S.unit("a", layer, i)
    in_activations = raw.subs({sp.exp(S.unit("z", layer, k)): a_k * normaliser,
                               sp.exp(S.unit("z", layer, i)): a_i * normaliser})
    in_activations = sp.expand(sp.cancel(sp.expand(in_activations)))
    if in_activations.has(sp.exp) or in_activations.has(sp.Sum):
        raise NotDifferentiableError(f"the Jacobian of {definition} could not be written in its activations")
    # Group as a_k (δ_ik - a_i) when that is what it is.
    grouped = sp.factor_terms(in_activations)
    return raw, grouped


def chain_through(definition: sp.Expr, unit: sp.Expr, variable: sp.Expr) -> sp.Expr:
    """∂g(unit)/∂variable by the chain rule: g'(unit) (differentiated in z) times ∂unit/∂variable
    (SymPy gives a Kronecker delta for two units of one layer). Kept as a product so that the delta
    stays outside g' even where g' is Piecewise."""
    return sp.Mul(derivative_in_z(definition).subs(S.z, unit), sp.diff(unit, variable))


def activation_of(definition: sp.Expr, argument: sp.Expr) -> sp.Expr:
    """g(argument) for an elementwise definition in z."""
    return definition.subs(S.z, argument)

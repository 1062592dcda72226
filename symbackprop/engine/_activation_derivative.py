"""The derivative of an activation, by differentiation, and its most readable form.

For an elementwise g the engine differentiates the definition in z, then looks for a polynomial
P with g'(z) = P(g(z)) -- σ' = a(1 - a), tanh' = 1 - a², exp' = a -- by fitting P at sample points
and *proving* the identity exactly (:func:`~._calculus.proved_zero`). Where no such P is proved
(relu, softplus, silu, elu), g' stays in z. For a coupled activation (softmax) it forms the
Jacobian ∂a_k/∂z_i and rewrites it in the activations.
"""
from __future__ import annotations

import math
from functools import lru_cache

import mpmath
import sympy as sp

from .. import symbols as S
from ..budget import simplifiable
from ..errors import NotDifferentiableError
from ._calculus import contract, positive_factors, proved_zero, tidy


class UnnamedActivationError(NotDifferentiableError):
    """An activation :func:`derivative_in_z` cannot differentiate; the message says "this activation", and
    engine/derive.py, which knows the user's text and the layer's role, names it."""


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
    if definition.has(sp.Max, sp.Min):
        # max/min as typed (clip(z, -1, 1), SELU with max and min): as ordered cases first, so that the
        # derivative is a sum of steps like the catalogue's kinks, not a product of step functions
        cases = _cases_at_kinks(definition)
        if cases is None and sum(len(m.args) for m in definition.atoms(sp.Max, sp.Min)) <= _MAX_SOLVED \
                and not definition.has(sp.Piecewise, sp.Heaviside):
            try:
                cases = sp.piecewise_fold(definition.rewrite(sp.Piecewise))
                # cases whose conditions SymPy's solver cannot order cheaply: SymPy's max/min derivative below
                cases = _ordered_cases(cases) if _solvable_conditions(cases) else None
            except TypeError:   # a case compares a value that is not real (sqrt(sign(z)) is I for z < 0):
                cases = None    # "Invalid comparison of non-real I"; SymPy's own max/min derivative below
        # past both budgets SymPy differentiates max/min itself: u' H(u - v) + v' H(v - u), the same
        # function away from the kinks (SymPy's sets took a minute on four nested min of exp's)
        definition = cases if cases is not None else definition
    # For real z, z*sign(z) is |z|: SymPy leaves it, e.g. in the derivative of z/(1 + |z|).
    derivative = _step_form(without_impulses(sp.diff(definition, S.z))).subs(S.z * sp.sign(S.z), sp.Abs(S.z))
    if derivative.has(sp.Derivative, sp.Subs):
        raise UnnamedActivationError("this activation has no derivative SymPy can write in closed form")
    if derivative.has(sp.nan):
        # relu(z)^silu(z): 0^u on z <= 0, whose derivative 0^u log(0) u' SymPy gives as NaN; in the step form
        # f1' + (f2' - f1') H(z) that NaN reaches every z (it was an internal error in the proof of δ)
        raise UnnamedActivationError("this activation has a derivative that is NaN (undefined) in one of "
                                     "its cases, e.g. a power 0^u of a relu where the relu is 0; write that case "
                                     "as a number or keep the base positive")
    return derivative


def without_impulses(derivative: sp.Expr) -> sp.Expr:
    """A first derivative with SymPy's DiracDelta terms taken as 0: the engine's rule for a jump.

    sign and Heaviside are constant on each side of their jump, so both one-sided derivatives there
    are 0; as at a kink, where g'(0) is a one-sided derivative (:mod:`._kink`), the derivative at the
    jump is taken as that one-sided value, 0. The Dirac impulse SymPy writes is a distribution, not a
    value of the function g' at any point, so it cannot enter δ or an exported gradient. Only the
    first derivative of a typed activation or loss goes through here; second derivatives (proofs of
    a kinked loss such as huber) keep SymPy's form."""
    if not derivative.has(sp.DiracDelta):
        return derivative
    return derivative.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


#: the most arguments of max/min a definition may hold for SymPy's sets to order its cases, where the
#: kink analysis declined (one max of two; each more, or a relu inside, costs seconds to minutes)
_MAX_SOLVED = 2
#: the most kinks and polynomial degree :func:`_cases_at_kinks` resolves; past them, SymPy's sets decide
_MAX_KINKS, _MAX_KINK_DEGREE = 12, 4


def _cases_at_kinks(definition: sp.Expr):
    """A max/min activation as ordered cases (f1, z <= c1), ..., (fn, True), found by locating its kinks;
    None where this bounded analysis does not apply (the caller then asks SymPy's sets, which take
    seconds on nested max/min).

    The innermost max/min is resolved first: its kinks are the real roots of the differences of its
    arguments (polynomials in z of small degree, roots exact), and between two kinks the larger (or
    smaller) argument is the one at the midpoint; with it substituted, the next max/min is resolved on
    each piece, and so on. Consecutive pieces with the same function are merged. At a kink the case
    to its left holds (the functions written with max and min are continuous, so only the one-sided
    derivative there depends on it: the left one, as for the catalogue's kinks)."""
    pieces = _resolved(definition, sp.S.NegativeInfinity, sp.S.Infinity, [0])
    if pieces is None:
        return None
    merged = []
    for end, function in pieces:
        if merged and sp.expand(merged[-1][1] - function) == 0:
            merged[-1] = (end, merged[-1][1])
        else:
            merged.append((end, function))
    if len(merged) == 1:
        return merged[0][1]
    cases = []
    for (end, function), (_, following) in zip(merged, merged[1:]):
        at_kink = _at_point(definition, end)
        right = at_kink is not None and sp.expand(at_kink - following) == 0 and sp.expand(at_kink - function) != 0
        cases.append((function, (sp.Lt if right else sp.Le)(S.z, end)))
    return sp.Piecewise(*cases, (merged[-1][1], True))


def _at_point(expr, point):
    """The function that holds at ``point`` as SymPy's own rewrite of max/min as cases reads it (the
    first argument of a max/min, in its order, wins a tie), so that a kink goes to the case it did."""
    if isinstance(expr, (sp.Max, sp.Min)):
        values = [_value(arg.subs(S.z, point), 50) for arg in expr.args]
        if None in values:
            return None
        best = max(values) if isinstance(expr, sp.Max) else min(values)
        tie = mpmath.mpf(10) ** -40 * (1 + abs(best))
        first = next(i for i, v in enumerate(values) if abs(v - best) <= tie)     # a tie: the first argument
        return _at_point(expr.args[first], point)
    if not expr.args or not expr.has(sp.Max, sp.Min):
        return expr
    args = [_at_point(arg, point) for arg in expr.args]
    return None if any(arg is None for arg in args) else expr.func(*args)


def _resolved(expr, low, high, count):
    """[(right end, function without max/min)] over (low, high), or None past the budget."""
    innermost = [m for m in expr.atoms(sp.Max, sp.Min) if not any(a.has(sp.Max, sp.Min) for a in m.args)]
    if not innermost:
        return [(high, expr)]
    chosen = min(innermost, key=sp.default_sort_key)
    kinks = set()
    for i, u in enumerate(chosen.args):
        for v in chosen.args[i + 1:]:
            roots = _real_roots(u - v)
            if roots is None:
                return None
            kinks.update(r for r in roots if _value(low) < _value(r) < _value(high))
    count[0] += len(kinks)
    if count[0] > _MAX_KINKS:
        return None
    ends = sorted(kinks, key=_value) + [high]
    pieces, start = [], low
    for end in ends:
        middle = _inside(start, end)
        values = [_value(arg.subs(S.z, middle)) for arg in chosen.args]
        if None in values:
            return None
        pick = max if isinstance(chosen, sp.Max) else min
        branch = chosen.args[values.index(pick(values))]
        inner = _resolved(expr.xreplace({chosen: branch}), start, end, count)
        if inner is None:
            return None
        pieces += inner
        start = end
    return pieces


def _real_roots(difference):
    """The real roots of ``difference`` in z, exactly: of a polynomial with rational coefficients, or of
    a chain of invertible functions of z set equal to a constant (e^z - 1 = π + 1/2: z = log(π + 3/2));
    [] where it is a nonzero constant or identically zero; None otherwise (past the budget)."""
    difference = sp.expand(difference)
    if not difference.has(S.z):
        return []
    if difference.free_symbols != {S.z}:
        return None
    if not difference.is_polynomial(S.z):
        constant, rest = difference.as_independent(S.z, as_Add=True)
        roots = _inverted(rest, -constant, 0)
        if roots is None or not all(_is_real_number(root) for root in roots):
            return None
        return list(dict.fromkeys(roots))
    poly = sp.Poly(difference, S.z)
    if poly.degree() > _MAX_KINK_DEGREE or not all(c.is_Rational for c in poly.all_coeffs()):
        return None
    roots = poly.real_roots()
    return roots if all(root.is_Rational for root in roots) else None


def _value(number, digits: int = 30):
    """A real SymPy number as an mpmath number at ``digits`` (±inf for the infinities); None if not real."""
    if number is sp.S.Infinity:
        return mpmath.inf
    if number is sp.S.NegativeInfinity:
        return -mpmath.inf
    try:
        with mpmath.workdps(digits):
            value = mpmath.mpmathify(sp.N(number, digits))
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, mpmath.mpf) and mpmath.isfinite(value) else None


def _is_real_number(value) -> bool:
    try:
        number = complex(sp.N(value, 30))
    except (TypeError, ValueError):
        return False
    return number.imag == 0 and abs(number.real) < float("inf")


def _inverted(function, value, depth):
    """The real z with function(z) = value, for a chain of invertible functions of z (at most eight deep);
    None where a link is not one of them."""
    if depth > 8:
        return None
    if function == S.z:
        return [value]
    if not _is_real_number(value):
        return []
    if function.is_Add:
        constant, rest = function.as_independent(S.z, as_Add=True)
        return _inverted(rest, value - constant, depth + 1) if constant != 0 else None
    if function.is_Mul:
        factor, rest = function.as_independent(S.z, as_Add=False)
        return _inverted(rest, value / factor, depth + 1) if factor != 1 and factor != 0 else None
    below, above = float(sp.N(value, 30)), None
    if isinstance(function, sp.exp):
        return _inverted(function.args[0], sp.log(value), depth + 1) if below > 0 else []
    if isinstance(function, sp.log):
        return _inverted(function.args[0], sp.exp(value), depth + 1)
    if isinstance(function, sp.Pow):
        base, exponent = function.args
        if not base.has(S.z) and base.is_positive and base != 1:
            return _inverted(exponent, sp.log(value) / sp.log(base), depth + 1) if below > 0 else []
        if not exponent.has(S.z) and exponent.is_Rational and exponent != 0:
            if exponent.is_Integer and exponent.is_odd:
                root = sp.sign(value) * sp.Abs(value) ** (1 / exponent)
                return _inverted(base, root, depth + 1)
            if below < 0 or (below == 0 and exponent < 0):
                return []
            root = value ** (1 / exponent)
            if exponent.is_Integer:       # even: ±root
                return _joined(_inverted(base, root, depth + 1), _inverted(base, -root, depth + 1))
            return _inverted(base, root, depth + 1)
        return None
    inverses = {sp.tanh: (sp.atanh, -1, 1), sp.sinh: (sp.asinh, None, None), sp.atan: (sp.tan, -math.pi / 2, math.pi / 2),
                sp.erf: (sp.erfinv, -1, 1), sp.erfc: (sp.erfcinv, 0, 2)}
    if type(function) in inverses:
        inverse, low, above = inverses[type(function)]
        if low is not None and not low < below < above:
            return []
        return _inverted(function.args[0], inverse(value), depth + 1)
    return None


def _joined(first, second):
    return None if first is None or second is None else first + second


def _inside(start, end):
    """A rational point strictly between ``start`` and ``end`` (either may be infinite)."""
    if start.is_infinite and end.is_infinite:
        return sp.Integer(0)
    if start.is_infinite:
        return end - 1
    if end.is_infinite:
        return start + 1
    return (start + end) / 2


def _ordered_cases(expr: sp.Expr) -> sp.Expr:
    """A Piecewise in z as cases over consecutive intervals: (f1, z <= c1), (f2, z < c2), ..., (fn, True).

    The intervals come from SymPy's own solution of the conditions (``as_expr_set_pairs``); isolated
    points are left to the neighbouring case (the functions written with max and min are continuous).
    Anything else is returned unchanged."""
    if not isinstance(expr, sp.Piecewise) or expr.free_symbols != {S.z}:
        return expr
    if not _solvable_conditions(expr):
        return expr
    try:
        pairs = expr.as_expr_set_pairs()
    except (NotImplementedError, TypeError, ValueError):
        return expr
    intervals = []
    for value, where in pairs:
        for part in (where.args if isinstance(where, sp.Union) else (where,)):
            if isinstance(part, sp.Interval):
                intervals.append((part, value))
            elif not isinstance(part, sp.FiniteSet):
                return expr
    intervals.sort(key=lambda pair: pair[0].start)
    if not intervals or any(a.end != b.start for (a, _), (b, _) in zip(intervals, intervals[1:])):
        return expr
    cases = [(value, (sp.Lt if part.right_open else sp.Le)(S.z, part.end)) for part, value in intervals[:-1]]
    return sp.Piecewise(*cases, (intervals[-1][1], True))


def _solvable_conditions(piecewise: sp.Piecewise) -> bool:
    """False when a condition holds a root of z of high order, z^(1/q) with q past the budget's degree: SymPy
    solves z^(1/1000) > c by raising c to the 1000th power and tests the digits of the result for primality
    (seconds to tens of seconds, and not the same in every run). The cases are then kept as they are."""
    from ..budget import MAX_DEGREE
    for case in piecewise.atoms(sp.Piecewise):
        for power in sp.And(*(condition for _, condition in case.args)).atoms(sp.Pow):
            exponent = power.exp
            if exponent.is_Float or (exponent.is_Rational and not exponent.is_Integer and exponent.q > MAX_DEGREE):
                return False
    return True


def _step_form(expr: sp.Expr) -> sp.Expr:
    """Cases (f1, z <= c1), (f2, z <= c2), ..., (fn, True) with c1 < c2 < ... as
    f1 + (f2 - f1) H(z - c1) + ... + (fn - f(n-1)) H(z - c(n-1)): the same function, each step
    taking at its kink the value of the case that holds there (H(0) = 0 after ``<=``, 1 after ``<``).
    Two cases with the kink at 0 (relu, elu) and three (hard-tanh at -1 and 1) alike."""
    def convert(piecewise):
        *cases, (last, otherwise) = piecewise.args
        if otherwise is not sp.true or not cases:
            return piecewise
        kinks = []
        for _, condition in cases:
            if not (isinstance(condition, (sp.Le, sp.Lt)) and condition.lhs == S.z and condition.rhs.is_number):
                return piecewise
            kinks.append((condition.rhs, 0 if isinstance(condition, sp.Le) else 1))
        if any(not (b[0] > a[0]) for a, b in zip(kinks, kinks[1:])):
            return piecewise
        values = [value for value, _ in cases] + [last]
        result = values[0]
        for (kink, at_kink), before, after in zip(kinks, values, values[1:]):
            result += (after - before) * sp.Heaviside(S.z - kink, at_kink)
        return result
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), convert)


def _piecewise_form(expr: sp.Expr) -> sp.Expr:
    """The readable form of a step-function derivative: one Piecewise with the cases spelled out,
    in the order of the kinks: g' of hard-tanh as 0 for z <= -1, 1 for z <= 1, 0 otherwise."""
    if not expr.has(sp.Heaviside):
        return expr
    steps = sorted(expr.atoms(sp.Heaviside), key=lambda h: S.z - h.args[0] if (S.z - h.args[0]).is_number else 0)
    kinks = [S.z - h.args[0] for h in steps]
    if any(not kink.is_number for kink in kinks) or len(set(kinks)) != len(kinks):
        return _folded(expr, steps)
    cases = []
    for position, step in enumerate(steps):
        below = expr.xreplace({other: sp.Integer(1 if index < position else 0) for index, other in enumerate(steps)})
        at_kink = step.args[1] if len(step.args) > 1 else sp.Rational(1, 2)
        if at_kink not in (0, 1):
            return _folded(expr, steps)
        cases.append((below, (sp.Le if at_kink == 0 else sp.Lt)(S.z, kinks[position])))
    above = expr.xreplace({step: sp.Integer(1) for step in steps})
    return sp.Piecewise(*cases, (above, True))


#: the most steps whose cases SymPy is asked to fold into one Piecewise, each at a number (its sets take
#: seconds per step whose argument is not z - c: H(atan(z) - z + ...))
_MAX_FOLDED = 2


def _folded(expr, steps):
    """The steps of ``expr`` folded into cases by SymPy, within the budget; past it, the steps as they are
    (the same function: only the display differs)."""
    if len(steps) > _MAX_FOLDED or any(not (S.z - step.args[0]).is_number for step in steps):
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

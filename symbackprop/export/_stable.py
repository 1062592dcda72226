"""Numerically stable forms of elementwise expressions, obtained by symbolic rewriting.

The exporter evaluates the cost ℓ(g(z), y), δ^L and g'(z) on whole arrays in float64. Written as
defined, many of them overflow or cancel for large |z|: 1/(1 + e^{-z}) overflows below z = -709,
log(1 - σ(z)) is log(0) above z = 37, σ(z)σ(-z) is inf/inf. The rules here rewrite an
expression into a mathematically equal one that float64 evaluates accurately. They are
general: they act on the *shape* of an expression (a rational function of exp(z), a log of
one, a sum of exponentials), never on the name of an activation or a loss.

The rule table
--------------
0. **erf and tanh complements, hyperbolic functions of a log** (:mod:`._stable_special`, first):
   1 + erf(w) = erfc(-w); 1 ± tanh(u) = 2σ(±2u) and 1 - tanh²(u) = 4σ(2u)σ(-2u) for a u that is
   not a multiple of z; tanh(log x) = (x² - 1)/(x² + 1), which makes tanh(softplus(z)) rational in
   exp(z) for rule 1.
1. **Rational functions of exp(z)** (σ, σ', tanh', SiLU, ... once tanh/sinh/cosh are written
   with exp). Put t = exp(z/q). For a bounded R(t) in z alone, the definition itself with every
   exponent clipped at 709 is tried first (1/(1 + exp(-z)) stays four operations) and kept if it
   passes a 50-digit check at probe points from -1000 to 1000 (see :func:`_clipped`). Otherwise,
   and always when R has other symbols, a R(t) that stays bounded as z -> ±∞ is *split by the
   sign of z*: for z >= 0 substitute t = 1/u, for z < 0 t = u, with u = exp(-|z|/q) in (0, 1],
   and cancel. Each branch is then a ratio of polynomials in u with a nonzero constant term in
   the denominator: nothing overflows. A factor 1 - u^k (which cancels as z -> 0) becomes
   -expm1(-k|z|/q). Equal branches give one formula (σ'(z) = u/(1+u)^2), otherwise
   ``Piecewise`` (printed ``where(z >= 0, ...)``). A product P (T_1 + T_2 + ...) whose factor P is
   bounded only together with each term's own rational factors is multiplied out first
   (:func:`_distributed`: the focal loss's a(1 - a)(a²/(1 - a) + ...)).
2. **Logarithms of such rationals** (log σ(z), log(1 - σ(z)), log tanh z, log(1 - e^z)). Split by
   sign as in 1, then in each branch factor numerator and denominator over u:
   log u^j = -j|z|/q, log(c (1 - u^k)) = log c + log1mexp(k|z|/q), any other factor
   log(c (1 + r(u))) = log c + log1p(r(u)). In a branch where the argument is negative the
   logarithm is undefined (outside the loss's domain) and the other branch is used. Finally
   log1p(e^{-j|z|/q}) is logaddexp(0, ∓jz/q) in each branch; when the two branches then agree,
   the one whose terms do not cancel is kept: log σ(z) = -logaddexp(0, -z),
   log(1 - σ(z)) = -logaddexp(0, z), log(1 - tanh z) = log 2 - logaddexp(0, 2z).
   These are written with one u = exp(-|z|/q) for all of them: the log1p(u^j) terms and the
   terms the two branches share once, the rest as max(z, 0), min(z, 0) or Piecewise:
   log σ(z) = -log1p(u) + min(z, 0), softplus(z) = log1p(u) + max(z, 0).
3. **Other logarithms**: of a product, the sum of the logs; of c + x, log c + log1p(x/c); of
   exp(w), w; of a softplus, ``log_softplus``; of ``Piecewise``, each branch.
   (3b) A non-integer power B^r of a B rational in exp(z) is exp(r log B), log B by rule 2
   (:func:`_fractional_powers`: σ(z)^γ = exp(-γ logaddexp(0, -z))). After rule 1, the exponentials
   of a product one of which holds such a softplus are one exp (:func:`_merged_exponentials`):
   σ(z)^(γ-1) σ(z)(1 - σ(z)) for γ < 1 is e^((1-γ)|z|) e^-|z| where z -> -∞, inf 0 apart.
4. **Ratios of vanishing factors**: where the factors of a product that depend on z alone have a
   numerator and a denominator that both underflow at the same end (σ(z)/softplus(z) as
   z -> -∞: 0/0 in float64), their ratio is exp(log numerator - log denominator), each log by
   rules 2 and 3. Detected by evaluating both at z = ±700 with mpmath.
5. **Finally** c exp(x) - c -> c expm1(x) (as SymPy's ``expm1_opt`` in
   :mod:`sympy.codegen.rewriting` does; that one also re-orients exp(-|z|), which would overflow),
   and a sum is collected by its special terms (:func:`_collect_special`): the cross-entropy of a
   sigmoid becomes log1p(exp(-|z|)) + max(z, 0) - y z. The printers sum such terms exact ones
   first (:func:`ordered_terms`): max(z, 0) - y z is exactly 0 for y = 1 before the small
   log1p term is added.

Every result is equal to its input as a function on the input's domain; the tests check
equality numerically at rational points and the compiled code against 600-digit mpmath at
pre-activations up to ±1000 (tests/test_stability.py).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .. import symbols as S
from ..budget import MAX_DEGREE, is_zero, simplifiable
from ._nodes import expm1, log1mexp, log1p, log_softplus, logaddexp
from ._stable_special import special_forms

__all__ = ["stabilise", "stable_log", "is_exact_term", "ordered_terms"]


def is_exact_term(term) -> bool:
    """A term built from arithmetic, max, min and |.| only (no exp, log, ...)."""
    return not any(isinstance(node, sp.Function) and not isinstance(node, (sp.Max, sp.Min, sp.Abs))
                   for node in sp.preorder_traversal(term))


def ordered_terms(terms) -> tuple[list, list]:
    """(exact terms, the others): a sum is evaluated exact terms first. max(z, 0) - y z is then
    exactly 0 for y = 1 before log1p(exp(-|z|)) is added; adding the small term first would
    round it away (30 + 9.4e-14 - 30 is not 9.4e-14)."""
    exact = [term for term in terms if is_exact_term(term)]
    return exact, [term for term in terms if not is_exact_term(term)]

_HYPERBOLIC = (sp.tanh, sp.sinh, sp.cosh, sp.coth, sp.sech, sp.csch)
_U = sp.Dummy("u", positive=True)        # exp(-|z|/q) inside a branch
_ZABS = sp.Dummy("zabs", nonnegative=True)  # |z| inside a branch
_INVALID = sp.nan


@lru_cache(maxsize=512)
def stabilise(expr: sp.Expr, z: sp.Symbol = S.z) -> sp.Expr:
    """A numerically stable form of the elementwise expression ``expr`` in the variable ``z``.

    Other symbols (a, y, e) are data; they are left as they are.
    """
    expr = special_forms(_normalise(expr), z)
    expr = _stable_logs(expr, z)
    expr = _fractional_powers(expr, z)
    expr = _vanishing_ratios(expr, z)
    expr = _stable_rationals(expr, z)
    expr = _merged_exponentials(expr)
    expr = _expm1_rule(expr) if expr.has(sp.exp) else expr
    return _collect_special(expr)


def stable_log(arg: sp.Expr, z: sp.Symbol = S.z) -> sp.Expr:
    """log(arg) in a stable form (rules 2 and 3 of the module docstring)."""
    arg = _normalise(arg)
    if arg.is_Piecewise:
        return sp.Piecewise(*[(stable_log(branch, z) if branch != 0 else -sp.oo, condition)
                              for branch, condition in arg.args])
    if isinstance(arg, sp.exp):
        return stabilise(arg.args[0], z)
    if isinstance(arg, logaddexp) and 0 in arg.args:
        other = arg.args[1] if arg.args[0] == 0 else arg.args[0]
        return log_softplus(other)
    softplus_argument = _softplus_argument(arg)
    if softplus_argument is not None:
        return log_softplus(softplus_argument)
    rational = _as_exp_rational(_hyperbolic_to_exp(arg), z)
    if rational is not None:
        result = _log_of_rational(*rational, z)
        if result is not None:
            return result
    if arg.is_Mul:
        coefficient, factors = arg.as_coeff_mul()
        factors = list(factors)
        if coefficient < 0:
            for position, factor in enumerate(factors):
                if factor.is_Add:
                    factors[position] = sp.expand(-factor)
                    coefficient = -coefficient
                    break
        if coefficient > 0:
            head = sp.log(coefficient) if coefficient != 1 else sp.S.Zero
            return head + sp.Add(*[stable_log(factor, z) for factor in factors])
    if arg.is_Pow and arg.exp.is_Integer:
        base = arg.base if arg.exp.is_odd else sp.Abs(arg.base)
        return arg.exp * stable_log(base, z)
    if arg.is_Add:
        constant, rest = arg.as_coeff_Add()
        if constant > 0 and rest != 0:
            head = sp.log(constant) if constant != 1 else sp.S.Zero
            return head + log1p(stabilise(sp.expand(rest / constant), z))
    return sp.log(stabilise(arg, z)) if arg.has(z) else sp.log(arg)


def _softplus_argument(expr):
    """w when expr is softplus(w) written as log1p(exp(-|w|)) + max(w, 0), else None."""
    if not expr.is_Add or len(expr.args) != 2:
        return None
    logs = [term for term in expr.args if isinstance(term, log1p)]
    maxima = [term for term in expr.args if isinstance(term, sp.Max) and 0 in term.args]
    if len(logs) != 1 or len(maxima) != 1:
        return None
    w = maxima[0].args[1] if maxima[0].args[0] == 0 else maxima[0].args[0]
    return w if logs[0].args[0] == sp.exp(-sp.Abs(w)) else None


# --- normal form --------------------------------------------------------------------------
def _normalise(expr: sp.Expr) -> sp.Expr:
    """E**x -> exp(x), so that every exponential is an ``exp`` node."""
    return expr.replace(lambda e: e.is_Pow and e.base is sp.E, lambda e: sp.exp(e.exp))


def _hyperbolic_to_exp(expr: sp.Expr) -> sp.Expr:
    if not expr.has(*_HYPERBOLIC):
        return expr
    if any(node.args[0].has(sp.exp, *_HYPERBOLIC) for node in expr.atoms(*_HYPERBOLIC)):
        # tanh(tanh(z)) is no rational function of exp(z/q), rewritten or not (_as_exp_rational answers None
        # to both); the rewrite of tanh nested 15 deep takes minutes (issue 18)
        return expr
    return _normalise(expr.rewrite(sp.exp))


def _stable_logs(expr: sp.Expr, z) -> sp.Expr:
    if not expr.has(sp.log):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.log), lambda e: stable_log(e.args[0], z))


def _fractional_powers(expr: sp.Expr, z) -> sp.Expr:
    """B^r for a non-integer r and a B rational in exp(z): exp(r log B), log B by rule 2 (rule 3b).
    The focal loss's a^γ = σ(z)^γ is then exp(-γ logaddexp(0, -z)): no (1 + e^-z)^-γ to overflow
    inside, and 0 (not 0 times inf) where it underflows."""
    def fractional(e):
        return (e.is_Pow and e.exp.is_number and not e.exp.is_Integer
                and _as_exp_rational(_hyperbolic_to_exp(e.base), z) is not None)
    if not expr.has(sp.Pow):
        return expr
    return expr.replace(fractional, lambda e: sp.exp(e.exp * stable_log(e.base, z)))


def _merged_exponentials(expr: sp.Expr) -> sp.Expr:
    """exp(v) exp(w) -> exp(v + w) in a product where an exponent holds a softplus (a power by rule 3b):
    the focal loss's a^(γ-1) = exp((1 - γ) softplus(-z)) overflows for γ < 1 where the e^-|z| of a(1 - a)
    beside it underflows; their product, one exp, does neither."""
    kinds = (log1p, sp.Max, sp.Min, logaddexp)

    def mergeable(e):
        exponentials = [factor for factor in e.args if isinstance(factor, sp.exp)] if e.is_Mul else []
        return len(exponentials) > 1 and any(factor.args[0].has(*kinds) for factor in exponentials)

    def merge(product):
        exponents = [factor.args[0] for factor in product.args if isinstance(factor, sp.exp)]
        rest = [factor for factor in product.args if not isinstance(factor, sp.exp)]
        return sp.Mul(*rest) * sp.exp(sp.Add(*exponents))
    return expr.replace(mergeable, merge) if expr.has(sp.exp) else expr


# --- rule 1: bounded rational functions of exp(z) -------------------------------------------
def _stable_rationals(expr: sp.Expr, z) -> sp.Expr:
    if not _has_exponential_of(expr, z):
        return expr
    if isinstance(expr, sp.tanh) and not expr.args[0].has(sp.exp):
        return expr   # tanh is evaluated accurately as it is, for every argument
    if isinstance(expr, sp.Piecewise):
        return sp.Piecewise(*[(_stable_rationals(branch, z), condition) for branch, condition in expr.args])
    rational = _as_exp_rational(_hyperbolic_to_exp(expr), z)
    if rational is not None:
        if expr.free_symbols == {z}:
            clipped = _clipped(expr, z)
            if clipped is not None:
                return clipped
        split = _bounded_split(*rational, z)
        if split is not None:
            return split
    if expr.is_Mul:
        distributed = _distributed(expr, z)
        if distributed is not None:
            return distributed
        # The factors that are rational in exp(z) are split together: exp(z) * 1/(1 + exp(z)) is
        # bounded although exp(z) alone is not.
        plain = _plain_factors(expr, z)
        if len(plain) > 1 and len(plain) < len(expr.args):
            rest = [factor for factor in expr.args if factor not in plain]
            return _stable_rationals(sp.Mul(*plain), z) * sp.Mul(*[_stable_rationals(f, z) for f in rest])
    return expr.func(*[_stable_rationals(arg, z) for arg in expr.args])


def _plain_factors(product, z) -> list:
    """The factors of ``product`` that are rational in exp(z) or free of functions (y, 2, ...)."""
    return [factor for factor in sp.Mul.make_args(product) if _as_exp_rational(_hyperbolic_to_exp(factor), z) is not None
            or not _has_exponential_of(factor, z) and not factor.has(sp.Function)]


def _bounded(product, z) -> bool:
    """Whether a product rational in exp(z) (and other symbols) is bounded on both sides (rule 1's split)."""
    rational = _as_exp_rational(_hyperbolic_to_exp(product), z)
    if rational is None:
        return False
    q, t, function = rational
    return all(sp.Poly(sp.fraction(branch)[1], _U).eval(0) != 0 for branch in _branches(q, t, function))


def _distributed(product, z):
    """P (T_1 + T_2 + ...) as P T_1 + P T_2 + ..., each term split by rule 1, when P (the factors rational
    in exp(z)) is bounded only together with a term's own such factors; else None.

    δ^L of the focal loss after a sigmoid is a(1 - a)(a^2 (1 - y)/(1 - a) - y (1 - a)^2/a + ...):
    a^2/(1 - a) is e^z, (1 - a)^2/a is e^-z, and a(1 - a) is 0 in float64 where either overflows
    (inf 0 = NaN); a(1 - a) a^2/(1 - a) = a^3 and a(1 - a)(1 - a)^2/a = (1 - a)^3 are bounded."""
    plain = _plain_factors(product, z)
    sums = [factor for factor in product.args if factor.is_Add and factor not in plain and _has_exponential_of(factor, z)]
    if len(sums) != 1:
        return None
    (total,) = sums
    outside = [factor for factor in product.args if factor is not total]
    plain = _plain_factors(sp.Mul(*outside), z)
    if not plain or not any(_has_exponential_of(factor, z) for factor in plain):
        return None
    common = sp.Mul(*plain)
    unbounded = False
    for term in total.args:
        own = sp.Mul(*_plain_factors(term, z))
        if not _has_exponential_of(own, z) or _bounded(own, z):
            continue
        if not _bounded(common * own, z):
            return None
        unbounded = True
    if not unbounded:
        return None
    rest = sp.Mul(*[factor for factor in outside if factor not in plain])
    return _stable_rationals(rest, z) * sp.Add(*[_stable_rationals(common * term, z) for term in total.args])


#: exp(709) is below the largest float64, 1.8e308; 1/(1 + exp(709)) is below the smallest normal one.
EXP_LIMIT = 709
_PROBES = (-1000, -745, -709.5, -700, -100, -36, -20, -5, -1, -0.1, -1e-6, 0, 1e-6, 0.1, 1, 5, 20, 36,
           100, 700, 709.5, 745, 1000)


def _clipped(expr, z):
    """The expression as written, every exponent clipped to EXP_LIMIT: exp(w) -> exp(min(w, 709)).

    For a bounded function of exp(z) this changes the value by less than the smallest normal
    float64 where it changes it at all, and it keeps the few operations of the definition
    (1/(1 + exp(-z)) is four). It is kept only when float64 evaluation of it agrees with a
    50-digit evaluation of ``expr`` at every probe point from -1000 to 1000 (relative error below
    1e-14, or absolute below the smallest normal number); otherwise the sign split is used.
    This is how Herbie validates rewrites: candidates from identities, accepted by sampled error.
    """
    candidate = expr.replace(lambda e: isinstance(e, sp.exp) and e.args[0].has(z),
                             lambda e: sp.exp(sp.Min(e.args[0], EXP_LIMIT)))
    return candidate if _accurate(candidate, expr, z) else None


def _accurate(candidate, reference, z) -> bool:
    import warnings
    import mpmath
    import numpy as np
    from ._nodes import elementary
    try:
        from ._printing import printer
        # the exporter's own NumPy printer (lambdify's numpy namespace imports much of NumPy: slow).
        # The text is printed from a SymPy tree, as lambdify prints it; no user text reaches eval:
        # user formulas become trees through the project's own parser, which admits known functions only.
        evaluate = eval(f"lambda {z}: {printer('numpy').doprint(candidate)}", {"np": np})
        exact = sp.lambdify(z, elementary(reference), modules="mpmath")
        points = np.array(_PROBES, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                values = np.broadcast_to(np.asarray(evaluate(points), dtype=np.float64), points.shape)
        with mpmath.workdps(50):
            for point, value in zip(_PROBES, values):
                truth = exact(mpmath.mpf(point))
                if not mpmath.isfinite(truth) or abs(truth) > 1e300:
                    return False
                error = abs(mpmath.mpf(float(value)) - truth)
                if error > 1e-14 * abs(truth) and error > 2.3e-308:
                    return False
    except (ArithmeticError, FloatingPointError, RuntimeWarning, TypeError, ValueError):
        return False
    return True


def _has_exponential_of(expr, z) -> bool:
    return any(z in node.free_symbols for node in expr.atoms(sp.exp, *_HYPERBOLIC))


def _as_exp_rational(expr: sp.Expr, z):
    """(q, t, R): expr = R(t) with t = exp(z/q), R rational in t (and in the other symbols), or None."""
    atoms = [atom for atom in expr.atoms(sp.exp) if z in atom.free_symbols]
    if not atoms:
        return None
    rates = []
    for atom in atoms:
        if any(z in node.free_symbols for node in atom.args[0].atoms(sp.Function, sp.Max, sp.Min)):
            return None   # exp(max(z, 1)) is no power of exp(z/q); cancel of a nested max/min takes seconds
        rate = sp.cancel(atom.args[0] / z)
        if not rate.is_Rational or rate == 0:
            return None
        rates.append(rate)
    q = sp.ilcm(1, *[rate.q for rate in rates])
    if max(abs(rate) * q for rate in rates) > MAX_DEGREE:
        return None   # exp(851 z/500) is t^851 in t = exp(z/500): past the simplification budget
    t = sp.Dummy("t", positive=True)
    substituted = expr.xreplace({atom: t ** (rate * q) for atom, rate in zip(atoms, rates)})
    if substituted.has(sp.exp, sp.log, sp.Function, sp.Piecewise, sp.Abs) or not substituted.has(t):
        return None
    if not simplifiable(substituted):
        return None
    symbols = substituted.free_symbols
    if not substituted.is_rational_function(*symbols):
        return None
    return q, t, sp.cancel(substituted)


def _branches(q, t, rational):
    """The rational in u for z >= 0 (t = 1/u) and for z < 0 (t = u), cancelled."""
    positive = sp.cancel(rational.xreplace({t: 1 / _U}))
    negative = sp.cancel(rational.xreplace({t: _U}))
    return positive, negative


def _bounded_split(q, t, rational, z):
    positive, negative = _branches(q, t, rational)
    forms = []
    for branch in (positive, negative):
        numerator, denominator = sp.fraction(branch)
        if sp.Poly(denominator, _U).eval(0) == 0:
            return None   # unbounded on this side: keep the expression as it is
        forms.append(_without_cancellation(numerator, q) / _without_cancellation(denominator, q))
    return _combine(forms[0], forms[1], z, q)


def _without_cancellation(polynomial, q):
    """A polynomial in u with every factor c(1 - u^k) written c(-expm1(-k|z|/q))."""
    coefficient, factors = _factors(polynomial)
    result = coefficient
    for factor, power in factors:
        k = _one_minus_power(factor)
        if k is not None:
            sign, k = k
            factor = sign * -expm1(-k * _ZABS / q)
        result *= factor ** power
    return result


def _one_minus_power(factor):
    """(sign, k) when factor = sign (1 - u^k), else None."""
    if not factor.has(_U) or factor.free_symbols != {_U}:
        return None
    poly = sp.Poly(factor, _U)
    terms = poly.terms()
    if len(terms) != 2:
        return None
    (high, c_high), (low, c_low) = terms
    if low != (0,) or abs(c_high) != abs(c_low) or c_high == c_low:
        return None
    return (sp.Integer(1) if c_low > 0 else sp.Integer(-1)), high[0]


def _combine(positive, negative, z, q):
    """One formula when both branches agree, else Piecewise on the sign of z; u = exp(-|z|/q)."""
    u_value = sp.exp(-sp.Abs(z) / q)
    at = {_U: u_value, _ZABS: sp.Abs(z)}
    if not _differs_at_a_point(positive - negative) and is_zero(positive - negative):
        return positive.xreplace(at)
    p_num, p_den = sp.fraction(positive)
    n_num, n_den = sp.fraction(negative)
    if p_den == n_den:
        return sp.Piecewise((p_num.xreplace(at), z >= 0), (n_num.xreplace(at), True)) / p_den.xreplace(at)
    return sp.Piecewise((positive.xreplace(at), z >= 0), (negative.xreplace(at), True))


_POINT = (sp.Rational(3, 7), sp.Rational(5, 11), sp.Rational(7, 13), sp.Rational(11, 17), sp.Rational(13, 19),
          sp.Rational(17, 23))


def _differs_at_a_point(difference) -> bool:
    """True when ``difference`` is visibly nonzero at one point (each symbol a different rational in (0, 1)):
    then the branches differ, and ``simplify`` (seconds on Mish's branches) need not be asked."""
    symbols = sorted(difference.free_symbols, key=str)
    if len(symbols) > len(_POINT):
        return False
    try:
        value = sp.N(difference.xreplace(dict(zip(symbols, _POINT))), 30)
        return value.is_number and abs(value) > 1e-20
    except (TypeError, ValueError, ZeroDivisionError):
        return False


# --- rule 2: logarithms of rational functions of exp(z) --------------------------------------
def _log_of_rational(q, t, rational, z):
    positive, negative = _branches(q, t, rational)
    logs = [_log_of_branch(branch, q) for branch in (positive, negative)]
    if logs[0] is None or logs[1] is None:
        return None
    if logs[0] is _INVALID and logs[1] is _INVALID:
        return None
    if logs[1] is _INVALID:       # defined only for z >= 0: the z >= 0 formula, read with |z| = z
        return _in_z(logs[0], z, q, side=+1)
    if logs[0] is _INVALID:
        return _in_z(logs[1], z, q, side=-1)
    return _agree_or_split(logs[0], logs[1], z, q)


def _log_of_branch(branch, q):
    """log(branch) for a rational in u, as log c + Σ k log(factor) with stable factors; _INVALID
    when the branch is negative (outside the domain of the logarithm); None when undecided."""
    numerator, denominator = sp.fraction(sp.cancel(branch))
    total, sign = sp.S.Zero, sp.S.One
    for polynomial, direction in ((numerator, 1), (denominator, -1)):
        part = _log_of_polynomial(polynomial, q)
        if part is None:
            return None
        log_part, part_sign = part
        total += direction * log_part
        sign *= part_sign
    return _INVALID if sign < 0 else sp.expand(total)


def _factors(polynomial):
    """(numeric coefficient, [(factor, power)]) of a polynomial in u: the power of u, the content in
    the other symbols, and a square-free factorisation of the rest. Square-free and not full
    factorisation: 1 - u^2 must stay one factor (log1mexp), not (1 - u)(1 + u), whose logarithms
    cancel each other for large |z|."""
    poly = sp.Poly(polynomial, _U)
    factors = []
    low = min(monomial[0] for monomial in poly.monoms())
    if low:
        factors.append((_U, low))
        poly = sp.Poly(sp.expand(poly.as_expr() / _U ** low), _U)
    coefficients = poly.all_coeffs()
    content = sp.gcd_list(coefficients) if len(coefficients) > 1 else coefficients[0]
    number, symbolic = sp.factor(content).as_coeff_Mul()
    rest = sp.expand(poly.as_expr() / content)
    if symbolic != 1 and not symbolic.free_symbols:
        number *= symbolic      # a constant such as erfc(1): no polynomial to factor (PolificationFailed)
    elif symbolic != 1:
        symbolic_number, symbolic_factors = sp.factor_list(symbolic)
        number *= symbolic_number
        factors.extend(symbolic_factors)
    if rest.has(_U):
        inner_number, inner = sp.sqf_list(rest, _U)
        number *= inner_number
        factors.extend(inner)
    elif rest != 1:
        number *= rest
    return number, factors


def _log_of_polynomial(polynomial, q):
    """(log|polynomial| as stable terms, its sign) for a polynomial in u; None when undecided."""
    coefficient, factors = _factors(polynomial)
    if not coefficient.is_number or coefficient == 0:
        return None
    sign = sp.sign(coefficient)
    total = sp.log(abs(coefficient)) if abs(coefficient) != 1 else sp.S.Zero
    for factor, power in factors:
        if factor == _U:
            total += power * (-_ZABS / q)
            continue
        if not factor.has(_U):
            total += power * stable_log(factor)
            continue
        constant = factor.subs(_U, 0)
        if not constant.is_number or constant == 0:
            return None
        if constant < 0:
            factor, constant = sp.expand(-factor), -constant
            sign *= (-1) ** power
        total += power * (sp.log(constant) if constant != 1 else 0)
        normalised = sp.expand(factor / constant)
        k = _one_minus_power(normalised)
        if k is not None and k[0] == 1:
            total += power * log1mexp(k[1] * _ZABS / q)
        else:
            total += power * log1p(sp.expand(normalised - 1))
    return total, sign


def _softplus_terms(expr):
    """The exponents j of the terms log1p(u^j) of ``expr``."""
    exponents = set()
    for node in expr.atoms(log1p):
        argument = node.args[0]
        if argument == _U:
            exponents.add(sp.Integer(1))
        elif argument.is_Pow and argument.base == _U and argument.exp.is_Integer:
            exponents.add(argument.exp)
    return sorted(exponents)


def _log1p_u(j):
    return log1p(_U ** j)


def _in_z(expr, z, q, side):
    """A branch formula read for every z: |z| = side*z, log1p(u^j) = logaddexp(0, -j side z/q)."""
    replaced = expr
    for j in _softplus_terms(expr):
        replaced = replaced.xreplace({_log1p_u(j): logaddexp(0, -j * side * z / q)})
    replaced = replaced.xreplace({_ZABS: side * z})
    return replaced.xreplace({_U: sp.exp(-side * z / q)})


def _agree_or_split(positive, negative, z, q):
    """Both branches as one formula in u = exp(-|z|/q): the terms log1p(u^j) and the terms the
    branches share are written once; what differs becomes Piecewise on the sign of z, or
    max(z, 0) / min(z, 0) where that is what it is. So log σ(z) = -log1p(u) + min(z, 0) and
    softplus(z) = log1p(u) + max(z, 0): one exp and one log1p, no term cancelling another."""
    at = {_ZABS: sp.Abs(z), _U: sp.exp(-sp.Abs(z) / q)}
    pos = sp.expand(positive.xreplace({_ZABS: z}))
    neg = sp.expand(negative.xreplace({_ZABS: -z}))
    pos_terms, neg_terms = list(sp.Add.make_args(pos)), list(sp.Add.make_args(neg))
    common = []
    for term in list(pos_terms):
        if term in neg_terms:
            common.append(term)
            pos_terms.remove(term)
            neg_terms.remove(term)
    differing = sp.Piecewise((sp.Add(*pos_terms), z >= 0), (sp.Add(*neg_terms), True))
    return sp.Add(*common).xreplace(at) + _as_max_min(differing, z).xreplace(at)


def _as_max_min(piecewise, z):
    """Piecewise((c z, z >= 0), (0, True)) -> c max(z, 0); ((0, z >= 0), (c z, True)) -> c min(z, 0)."""
    if not isinstance(piecewise, sp.Piecewise):     # SymPy folded equal branches, or a condition it decided
        return piecewise
    (if_positive, _), (if_negative, _) = piecewise.args
    if if_positive == if_negative:
        return if_positive
    if if_negative == 0 and not sp.cancel(if_positive / z).has(z):
        return sp.cancel(if_positive / z) * sp.Max(z, 0)
    if if_positive == 0 and not sp.cancel(if_negative / z).has(z):
        return sp.cancel(if_negative / z) * sp.Min(z, 0)
    return piecewise


def _collect_special(expr):
    """Collect a sum by its special terms (log1p(u), max(z, 0), ...) with factored coefficients:
    y log1p(u) + (1 - y) log1p(u) is log1p(u), evaluated once, and nothing is added twice.
    Only the terms holding such a special node take part, distributed with ``expand_mul`` (never
    ``expand``, which would split exp(a - b) into exp(a) exp(-b) and let exp(a) overflow); the
    other terms keep the form the rules gave them."""
    if expr.has(sp.Piecewise) or not expr.is_Add:
        return expr
    kinds = (log1p, sp.Max, sp.Min, logaddexp, log1mexp, log_softplus)

    def collectable(term):
        # a special term times an exponential is left whole: (1 - a)^γ log a of the focal loss,
        # exp(-γ softplus(z)) (min(z, 0) - log1p(e^-|z|)), would be expanded into terms that cancel
        return term.has(*kinds) and not term.xreplace({node: sp.Dummy() for node in term.atoms(*kinds)}).has(sp.exp)
    special = [term for term in expr.args if collectable(term)]
    other = [term for term in expr.args if not collectable(term)]
    if not special:
        return expr
    part = sp.Add(*special)
    # min(w, 0) = w - max(w, 0): with one kind of kink the terms collect (y log σ(z) + ... becomes
    # log1p(e^-|z|) + max(z, 0) - y z, the logistic loss as TensorFlow evaluates it).
    part = part.replace(lambda e: isinstance(e, sp.Min) and 0 in e.args and len(e.args) == 2,
                        lambda e: [arg for arg in e.args if arg != 0][0] - sp.Max(0, *[arg for arg in e.args if arg != 0]))
    keys = [node for node in part.atoms(*kinds)]
    collected = sp.collect(sp.expand_mul(part), keys, evaluate=False)
    terms = []
    for key, coefficient in collected.items():
        if coefficient.has(sp.exp, sp.Function):
            terms.append(coefficient * key)
        else:
            terms.append(sp.factor(coefficient) * key)
    return sp.Add(*terms, *other)


# --- rule 4 ----------------------------------------------------------------------------------
def _expm1_rule(expr: sp.Expr) -> sp.Expr:
    """c exp(w) - c -> c expm1(w) in every sum."""
    def rewrite(node):
        terms = list(node.args)
        for term in list(terms):
            coefficient, rest = term.as_coeff_Mul()
            if isinstance(rest, sp.exp) and -coefficient in terms and term in terms:
                terms.remove(term)
                terms.remove(-coefficient)
                terms.append(coefficient * expm1(rest.args[0]))
        return sp.Add(*terms)
    return expr.replace(lambda e: e.is_Add, rewrite)


# --- rule 4: ratios of factors that underflow together -------------------------------------------
def _vanishing_ratios(expr: sp.Expr, z) -> sp.Expr:
    return expr.replace(lambda e: e.is_Mul and _z_denominator(e, z), lambda e: _vanishing_ratio(e, z))


def _z_denominator(expr, z) -> bool:
    return any(factor.is_Pow and factor.exp.is_negative and factor.base.has(z) for factor in expr.args)


def _vanishing_ratio(product: sp.Mul, z) -> sp.Expr:
    only_z = [factor for factor in product.args if factor.free_symbols == {z}]
    rest = [factor for factor in product.args if factor.free_symbols != {z}]
    numerator, denominator = sp.fraction(sp.Mul(*only_z))
    if not numerator.has(z) or not denominator.has(z):
        return product
    for side in (-1, 1):
        if _underflows(numerator, z, side) and _underflows(denominator, z, side):
            ratio = sp.exp(stable_log(numerator, z) - stable_log(denominator, z))
            return ratio * sp.Mul(*rest)
    return product


def _reduced(function):
    """sin/cos/tan at 30 digits, refusing (ValueError) an argument beyond 1e25: its reduction modulo π
    would need π to as many digits as the argument has (mpmath recurses without end for cos(e^(e^703)))
    and 30 digits of the result would be noise anyway."""
    def periodic(x):
        import mpmath
        if abs(x) > mpmath.mpf("1e25"):
            raise ValueError("the argument of a periodic function is too large to reduce at 30 digits")
        return function(x)
    return periodic


def _heaviside(x, at_zero=0.5):
    """H(x) for lambdify: SymPy's printer would rewrite it as a Piecewise, whose construction asks SymPy's
    solvers about its conditions (tens of seconds for a typed max/min)."""
    import mpmath
    return mpmath.mpf(at_zero) if x == 0 else mpmath.mpf(1 if x > 0 else 0)


def _periodic_functions() -> dict:
    import mpmath
    return {"sin": _reduced(mpmath.sin), "cos": _reduced(mpmath.cos), "tan": _reduced(mpmath.tan),
            "Heaviside": _heaviside}


_PERIODIC = _periodic_functions()


def _underflows(expr, z, side) -> bool:
    """|expr| < 1e-250 at z = ±700, evaluated at 30 digits by mpmath: sympy.N would raise its
    precision without bound on a typed expression such as z^(2^(z/1000)) to reach 30 digits."""
    import mpmath
    from ._nodes import elementary
    try:
        with mpmath.workdps(30):
            value = sp.lambdify(z, elementary(expr), modules=[_PERIODIC, "mpmath"])(mpmath.mpf(side * 700))
            return isinstance(value, mpmath.mpf) and abs(value) < mpmath.mpf("1e-250")
    except (ArithmeticError, TypeError, ValueError, NameError, KeyError, AttributeError):
        return False      # KeyError: zoo (1/0 outside the loss's domain) has no mpmath name: not a number

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
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

import mpmath
import sympy as sp

from .. import symbols as S
from ..budget import simplifiable
from ..errors import InternalError, NotDifferentiableError
from ._calculus import proved_zero

_POINTS = 8            #: random points of the numeric fallback
_NEEDED = 4            #: points that must evaluate to finite numbers
_TOLERANCE = mpmath.mpf("1e-20")


#: set inside :func:`proofs_deferred`
_DEFERRED: ContextVar[bool] = ContextVar("symbackprop_proofs_deferred", default=False)


@contextmanager
def proofs_deferred():
    """Derive without the proofs of the shown forms, for a derivation that is only compared, not shown.

    The checker derives some thirty neighbouring networks to name the formula a wrong answer equals
    ("δ^L of the sigmoid output with the cross-entropy cost"); the proofs are half of that time. A
    neighbour it shows is derived again, proved, outside this context (``checker/_family.py``), so no
    unproved form reaches the user. The engine keeps proved and unproved results in separate caches."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def deferred() -> bool:
    """True inside :func:`proofs_deferred`."""
    return _DEFERRED.get()


def prove_equal(shown: sp.Expr, computed: sp.Expr, what: str, activation: sp.Expr | None = None,
                derivative: tuple[sp.Expr, sp.Expr] | None = None) -> None:
    """Raise InternalError unless ``shown`` equals ``computed`` wherever ``a = activation(z)``
    (nothing inside :func:`proofs_deferred`)."""
    if _DEFERRED.get():
        return
    _prove_equal(shown, computed, what, activation, derivative)


@lru_cache(maxsize=1024)
def _prove_equal(shown: sp.Expr, computed: sp.Expr, what: str, activation: sp.Expr | None = None,
                 derivative: tuple[sp.Expr, sp.Expr] | None = None) -> None:
    """Raise InternalError unless ``shown`` equals ``computed`` wherever ``a = activation(z)``.

    ``derivative`` = (g'(z), g' as shown) is an identity already proved (the readable g'): where
    ``computed`` is g'(z) times a factor free of z, it is rewritten with the shown g' and the
    difference decided by ``cancel`` in a and y alone -- exact, and cheaper than working in z; the
    identity itself is then proved like any other pair (once: results are cached).
    """
    shown, computed = sp.sympify(shown, strict=True), sp.sympify(computed, strict=True)
    if derivative is not None and _proved_through(shown, computed, *derivative):
        _prove_equal(derivative[1], derivative[0], f"derivative g' used for the {what}", activation)
        return
    tie = {S.a: activation} if activation is not None else {}
    difference = (shown - computed).subs(tie)
    if _symbolically_zero(difference):
        return
    verdict = _numerically_zero(shown.subs(tie), computed.subs(tie))
    if verdict is True:
        return
    if verdict is None:
        # not evidence of a bug: the typed expression is not a finite real number at any sample point
        # (log(log(a^(1 - a))) is complex for every a in (0, 1)); nothing unproved is shown
        raise NotDifferentiableError(
            f"the {what} cannot be checked: neither its readable nor its computed form is a finite real number at "
            f"any of {_POINTS * 3} sample points (z = ±0.1..2.5, y = 0.05..0.95, a = g(z)); the activation or the "
            f"loss is not real or not finite there (such as log(log(u)) with u < 1, or 0^u with u < 0)")
    reason = "they differ"
    raise InternalError(f"symbackprop bug: the {what} shown, {shown}, is not proved equal to the one computed, "
                        f"{computed} ({reason}); please report it")


def _proved_through(shown, computed, in_z, written) -> bool:
    if in_z == 0:
        return False
    factor = computed / in_z
    if S.z in factor.free_symbols:
        return False
    if not simplifiable(shown - factor * written):
        return False
    try:
        return sp.cancel(sp.together(shown - factor * written)) == 0
    except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
        return False


def _symbolically_zero(difference: sp.Expr) -> bool:
    if difference == 0:
        return True
    if not simplifiable(difference):     # past the simplification budget: the numeric test decides
        return False
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
        if not simplifiable(power.base):
            return power
        base = sp.trigsimp(sp.factor(sp.cancel(power.base)))
        return sp.Pow(base, power.exp)
    return expr.replace(lambda e: isinstance(e, sp.Pow) and e.exp.is_Rational and not e.exp.is_Integer
                        and not e.base.is_number, simplified)


def _numerically_zero(shown: sp.Expr, computed: sp.Expr):
    """True / False where finite points decide, None where too few points evaluate.

    The two forms are compared relative to their own size: exp(sinh(e^(cosh z))^c) is e^(10^26) at z = 2.3,
    where an absolute tolerance would call any rounding a difference."""
    generator = random.Random(19)
    symbols = sorted((shown - computed).free_symbols, key=str)
    evaluate = _evaluator(shown, computed, symbols)
    finite = 0
    for _ in range(_POINTS * 3):
        values = [_sample(symbol, generator) for symbol in symbols]
        scale = 1 + max((abs(v) for v in values), default=0)
        difference = _settled(evaluate, values, scale)
        if difference is None:
            continue
        if difference:
            return False
        finite += 1
        if finite >= _POINTS:
            break
    return True if finite >= _NEEDED else None


#: the working precisions of the numeric test, tried in turn until two agree
_DIGITS = (30, 60, 120, 240)


def _settled(evaluate, values, scale):
    """0 where the two forms agree at ``values`` to 1e-20 of their size (times ``scale``), at some working
    precision; their difference where two precisions agree on it; None where a form is not finite or the
    difference does not settle. sin(e^(e^6)) needs some 200 digits to reduce its argument, and (A - B) H + B
    loses B's digits where B is much larger than A: a difference of roundings is no evidence the forms differ."""
    previous = None
    for digits in _DIGITS:
        try:
            with mpmath.workdps(digits):
                first, second = (mpmath.mpc(v) for v in evaluate(*values))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
            return None
        if not all(mpmath.isfinite(v.real) and mpmath.isfinite(v.imag) for v in (first, second)):
            return None
        size = _TOLERANCE * scale * max(1, abs(first), abs(second))
        difference = first - second
        if abs(difference) <= size:
            return 0
        if previous is not None and abs(difference - previous) <= size:
            return difference
        previous = difference
    return None


def _evaluator(shown: sp.Expr, computed: sp.Expr, symbols: list):
    """The two forms as one mpmath function of ``symbols`` (at the working precision).

    A step H(z - c) is replaced by its value at the point before the forms are evaluated, so that the
    step form f1 + (f2 - f1) H of a derivative is f2 there, exactly: evaluated as written it loses f2 to
    rounding where f1 is e^2700 times larger (a typed exp(sinh(e^(cosh z))^cos(atan(max(1/2, z)))))."""
    steps = sorted((shown.atoms(sp.Heaviside) | computed.atoms(sp.Heaviside)), key=sp.default_sort_key)
    if not steps:
        return _plain_evaluator(shown, computed, symbols=symbols)
    arguments = _plain_evaluator(*[step.args[0] for step in steps], symbols=symbols)
    by_pattern = {}

    def evaluate(*values):
        pattern = tuple(_heaviside(mpmath.re(x), *step.args[1:]) for x, step in zip(arguments(*values), steps))
        if pattern not in by_pattern:
            at = {step: sp.Rational(str(h)) for step, h in zip(steps, pattern)}
            by_pattern[pattern] = _plain_evaluator(shown.xreplace(at), computed.xreplace(at), symbols=symbols)
        return by_pattern[pattern](*values)
    return evaluate


def _plain_evaluator(*forms, symbols):
    """``forms`` as one mpmath function; SymPy's own evaluation where lambdify cannot print them."""
    try:
        return sp.lambdify(symbols, list(forms), [{"Heaviside": _heaviside}, "mpmath"])
    except (TypeError, ValueError, NameError, KeyError, NotImplementedError):
        def by_sympy(*values):
            at = dict(zip(symbols, values))
            digits = mpmath.mp.dps
            return [complex(sp.N(form.subs(at), digits)) for form in forms]
        return by_sympy


def _heaviside(x, at_zero=mpmath.mpf("0.5")):
    """H(x) for lambdify: SymPy's printers would rewrite it as a Piecewise, whose construction asks
    SymPy's solvers about its conditions (tens of seconds for a nested max/min)."""
    if x == 0:
        return at_zero
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)


def _sample(symbol: sp.Symbol, generator: random.Random):
    """A point away from kinks (z = 0) and from the edges of a target's range."""
    with mpmath.workdps(30):
        if symbol == S.y:
            return mpmath.mpf(generator.uniform(0.05, 0.95))
        if symbol == S.z:
            return mpmath.mpf(generator.choice((-1, 1)) * generator.uniform(0.1, 2.5))
        if symbol.is_positive or symbol.is_nonnegative:
            return mpmath.mpf(generator.uniform(0.2, 1.5))
        return mpmath.mpf(generator.uniform(-2, 2))

"""Activations typed with max/min as ordered cases (engine/_activation_derivative.py): the bounded
analysis at the kinks gives the very cases SymPy's own solution of the conditions gives (the
independent reference: ``as_expr_set_pairs``), in milliseconds where SymPy takes seconds."""
import random

import pytest
import sympy as sp

from symbackprop import symbols as S
from symbackprop.catalogue import activation
from symbackprop.engine._activation_derivative import _cases_at_kinks, _ordered_cases

CASES = ["max(min(z, 1), max(z, -1)*0.1)", "max(exp(z), 1)", "max(z, 0)", "min(max(z, -1), 1)", "max(z, z^2)",
         "max(z, 0.01*z)", "min(z, max(0, z - 3))", "clip(z, -2, 3)"]


@pytest.mark.parametrize("text", CASES)
def test_cases_at_the_kinks_are_sympys_cases(text):
    definition = activation(text).definition
    fast = _cases_at_kinks(definition)
    assert fast == _ordered_cases(sp.piecewise_fold(definition.rewrite(sp.Piecewise)))
    generator = random.Random(3)
    for x in [sp.Rational(generator.randint(-400, 400), 100) for _ in range(20)] + [-1, 0, 1, 3, 10]:
        assert fast.subs(S.z, x) == definition.subs(S.z, x)


@pytest.mark.parametrize("text", ["max(z^2 - 2, 0)", "max(sin(z), 0)"])
def test_past_polynomial_kinks_the_analysis_declines(text):
    """Kinks that are not rational roots of a polynomial: None, and SymPy's sets decide as before."""
    assert _cases_at_kinks(activation(text).definition) is None


def test_past_both_budgets_sympy_differentiates_max_min_itself():
    """Four nested min of exponentials (issue 18's fuzz: a minute in SymPy's sets): the derivative is SymPy's
    own u' H(u - v) + ..., which equals d/dz of the definition away from the kinks."""
    from symbackprop.engine._activation_derivative import derivative_in_z, readable_derivative
    definition = activation("min(min((1e-3^min((pi+0.5), expm1(z))), min(1e-3, z)), z)").definition
    derivative = derivative_in_z(definition)
    shown, _ = readable_derivative(definition)
    h = sp.Rational(1, 10 ** 15)
    for x in (sp.Rational(-3, 2), sp.Rational(-1, 5), sp.Rational(1, 2), sp.Rational(3, 2), sp.Integer(3)):
        # central difference of the definition at 60 digits, at points off the kinks: error O(h²)
        want = sp.N((definition.subs(S.z, x + h) - definition.subs(S.z, x - h)) / (2 * h), 60)
        assert abs(sp.N(derivative.subs(S.z, x), 30) - want) < 1e-20
        assert abs(sp.N(shown.subs({S.z: x, S.a: definition.subs(S.z, x)}), 30) - want) < 1e-20

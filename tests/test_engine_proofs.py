"""The engine's forms are the results of its computations, and a chosen form that differs is refused.

* the per-unit gradients are read off the contracted sums (a changed pre-activation changes them);
* a readable δ^L or δ^l is proved equal to the contracted one: a wrong readable form raises
  InternalError (negative controls);
* whether g' cancels is read off the algebra, also where g' is not a polynomial in a: a sinh output
  with the loss √(1+a²) − y·asinh(a) has δ^L = a − y (checked against sympy.diff of the composed loss);
* g'(0) at a kink is computed, also for kinks in no catalogue.
"""
from __future__ import annotations

import importlib
import random

import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import symbols as S
from symbackprop.engine import _gradients, _hidden_delta, _output_delta
from symbackprop.engine._proof import prove_equal
from symbackprop.errors import InternalError

a, y, z, e = S.a, S.y, S.z, S.e
derive_module = importlib.import_module("symbackprop.engine.derive")
SINH_MATCHED_LOSS = sp.sqrt(1 + a ** 2) - y * sp.asinh(a)


def _clear_caches():
    derive_module._output_derived.cache_clear()
    derive_module._hidden_derived.cache_clear()
    for cached in (_output_delta.loss_gradient, _output_delta.cost_of_example, _gradients._weight_gradient,
                   _gradients._bias_gradient):
        cached.cache_clear()


@pytest.fixture
def fresh_caches():
    _clear_caches()
    yield
    _clear_caches()


def _dC_dz(loss, activation):
    """∂C/∂z by sympy.diff of the loss composed with the activation: the independent reference."""
    return sp.diff(loss.subs(a, activation), z)


def _agree(first, second, points=6):
    generator = random.Random(7)
    for _ in range(points):
        values = {z: sp.Float(generator.choice((-1, 1)) * generator.uniform(0.2, 2.0), 30),
                  y: sp.Float(generator.uniform(0.1, 0.9), 30)}
        assert abs(complex(sp.N((first - second).subs(values), 30))) < 1e-20


def test_sinh_output_with_its_matched_loss_cancels():
    derivation = sb.derive(sb.Network((3, 2, 2), output=sp.sinh(z), loss=SINH_MATCHED_LOSS))
    delta = derivation.output_delta
    assert delta.cancels is True
    assert sp.expand(delta.unit - (a - y)) == 0
    _agree(delta.unit.subs(a, sp.sinh(z)), _dC_dz(SINH_MATCHED_LOSS, sp.sinh(z)))


def test_sinh_output_with_the_quadratic_loss_keeps_g_prime():
    loss = (a - y) ** 2 / 2
    delta = sb.derive(sb.Network((3, 2, 2), output=sp.sinh(z), loss=loss)).output_delta
    assert delta.cancels is False
    _agree(delta.unit.subs(a, sp.sinh(z)), _dC_dz(loss, sp.sinh(z)))


@pytest.mark.parametrize("output,loss,cancels", [("sigmoid", "cross-entropy", True), ("sigmoid", "quadratic", False),
                                                  ("identity", "quadratic", True), ("softplus", "quadratic", False),
                                                  ("relu", "quadratic", False)])
def test_cancellation_of_catalogue_pairs(output, loss, cancels):
    assert sb.derive(sb.Network((3, 2, 2), output=output, loss=loss)).output_delta.cancels is cancels


def test_prove_equal_accepts_equal_forms_and_refuses_a_different_one():
    sigmoid = 1 / (1 + sp.exp(-z))
    computed = (-(y / a) + (1 - y) / (1 - a)) * sp.exp(-z) / (1 + sp.exp(-z)) ** 2
    prove_equal(a - y, computed, "δ^L", sigmoid)
    for wrong in (2 * (a - y), y - a, (a - y) * a * (1 - a), a - y + sp.Rational(1, 10 ** 12)):
        with pytest.raises(InternalError, match="not proved equal"):
            prove_equal(wrong, computed, "δ^L", sigmoid)


def test_prove_equal_falls_back_to_numbers_and_still_refuses():
    """√(1 + sinh² z) = cosh z needs more than cancellation; a 1e-12 error is still caught."""
    computed = (a - y) * sp.cosh(z) / sp.sqrt(1 + a ** 2)
    prove_equal(a - y, computed, "δ^L", sp.sinh(z))
    with pytest.raises(InternalError):
        prove_equal(a - y + sp.Float("1e-12"), computed, "δ^L", sp.sinh(z))


def test_a_wrong_readable_hidden_delta_is_refused(monkeypatch, fresh_caches):
    monkeypatch.setattr(_hidden_delta, "positive_factors", lambda expr: 2 * expr)
    with pytest.raises(InternalError, match="hidden delta"):
        sb.derive(sb.Network((3, 4, 2), hidden="sigmoid", output="sigmoid", loss="cross-entropy"))


def test_a_wrong_readable_output_delta_is_refused(monkeypatch, fresh_caches):
    monkeypatch.setattr(_output_delta, "tidy", lambda expr: -expr)
    with pytest.raises(InternalError, match="output delta"):
        sb.derive(sb.Network((3, 4, 2), hidden="sigmoid", output="sigmoid", loss="cross-entropy"))


def test_gradient_unit_forms_are_read_off_the_contraction(monkeypatch):
    network = sb.Network((3, 4, 2), hidden="sigmoid", output="sigmoid", loss="cross-entropy")
    assert sb.derive(network).weight_gradient.unit == S.delta * S.a_prev
    assert sb.derive(network).bias_gradient.unit == S.delta
    original = _gradients._preactivation
    for cached in ("_weight_gradient", "_bias_gradient"):    # derived afresh, not read from the cache
        monkeypatch.setattr(_gradients, cached, getattr(_gradients, cached).__wrapped__)
    monkeypatch.setattr(_gradients, "_preactivation", lambda bias: original(bias).replace(
        lambda x: isinstance(x, sp.Indexed) and x.base == S.base("b"), lambda x: 3 * x).replace(
        lambda x: isinstance(x, sp.Indexed) and x.base == S.base("W"), lambda x: 2 * x))
    changed = sb.derive(network)
    assert changed.weight_gradient.unit == 2 * S.delta * S.a_prev
    assert changed.bias_gradient.unit == 3 * S.delta


@pytest.mark.parametrize("definition,expected", [
    (sp.Piecewise((2 * z, z <= 0), (z, True)), "g'(0) is taken as the left derivative: g'(0) = 2"),
    (sp.Piecewise((z / 2, z < 0), (3 * z, True)), "g'(0) is taken as the right derivative: g'(0) = 3"),
    (sp.Piecewise((z ** 2, z <= 0), (z, True)), "g'(0) is taken as the left derivative: g'(0) = 0"),
    (sp.tanh(z), ""),
])
def test_kink_note_is_computed(definition, expected):
    derivation = sb.derive(sb.Network((3, 2, 2), hidden=definition, output=definition, loss="quadratic"))
    assert derivation.hidden_deltas[0].kink_note == expected
    assert derivation.output_delta.kink_note == expected


@pytest.mark.parametrize("name,at_zero", [("relu", "0"), ("leaky-relu", "alpha"), ("elu", "alpha")])
def test_kink_note_of_the_catalogue(name, at_zero):
    derivation = sb.derive(sb.Network((3, 2, 2), hidden=name, loss="quadratic"))
    assert derivation.hidden_deltas[0].kink_note == f"g'(0) is taken as the left derivative: g'(0) = {at_zero}"


def test_a_wrong_vector_form_of_the_output_delta_is_refused(monkeypatch, fresh_caches):
    original = _output_delta._vector_form
    monkeypatch.setattr(_output_delta, "_vector_form", lambda unit: sp.MatMul(-1, original(unit)))
    with pytest.raises(InternalError, match="vector form of δ\\^L"):
        sb.derive(sb.Network((3, 4, 2), hidden="sigmoid", output="sigmoid", loss="quadratic"))


def test_a_wrong_vector_form_of_the_hidden_delta_is_refused(monkeypatch, fresh_caches):
    original = _hidden_delta.vectorise
    monkeypatch.setattr(_hidden_delta, "vectorise", lambda *args: sp.HadamardPower(original(*args), 2))
    with pytest.raises(InternalError, match="vector form of δ"):
        sb.derive(sb.Network((3, 4, 2), hidden="tanh", output="sigmoid", loss="quadratic"))

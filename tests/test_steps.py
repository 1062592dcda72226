"""Every displayed step of every derivation holds at random points of a concrete network.

A derivation's steps are what a student reads, so each one is checked, not only the final
formulas: for every catalogue output activation / loss pair that derives (hidden activations
rotate through the elementwise catalogue; both bias modes; λ = 0 and λ > 0) both sides of each
step's statement are evaluated on a small concrete network (tests/step_values.py). Every
``Derivative`` a statement names, and every δ, is the value of ``sympy.diff`` of the fully
composed cost of that network (tests/reference_network.py, no engine code), so a step that is
negated, transposed or off by a factor as displayed fails here, naming the setup and the step.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import symbols as S
from symbackprop.catalogue import ACTIVATIONS
from symbackprop.derivation import Rule, Step

import catalogue_pairs
from step_values import NoValue, close, draw

ELEMENTWISE = [record.name for record in ACTIVATIONS if record.elementwise]
BIAS_AND_L2 = [("separate", 0), ("column", sp.Rational(1, 2)), ("separate", sp.Rational(3, 2)), ("column", 0)]


def _setups():
    """Small networks that together cover every output/loss pair that derives, every elementwise
    hidden activation, both bias modes and λ = 0 and λ > 0 (bias and λ rotate).

    The pairs sit on networks without a hidden layer (3-2: the output δ and the gradients); each hidden
    activation on a 2-3-2 network; two deeper 3-4-3-2 networks state the generic layer l at two layers,
    Ng's ex4 setup, and mixed hidden activations (their steps are stated at numbered layers)."""
    setups = []
    pairs = [(act.name, loss.name) for act, loss in catalogue_pairs.pairs()
             if loss.separable or not act.elementwise]      # log-likelihood needs a probability vector
    for number, (output, loss) in enumerate(pairs):
        bias, l2 = BIAS_AND_L2[number % len(BIAS_AND_L2)]
        setups.append((f"{output}+{loss} 3-2 bias {bias} l2={l2}",
                       sb.Network((3, 2), output=output, loss=loss, l2=l2, bias=bias)))
    for number, hidden in enumerate(ELEMENTWISE):
        output, loss = pairs[(7 * number + 3) % len(pairs)]
        bias, l2 = BIAS_AND_L2[(number + 1) % len(BIAS_AND_L2)]
        setups.append((f"hidden {hidden}, {output}+{loss} 2-3-2 bias {bias} l2={l2}",
                       sb.Network((2, 3, 2), hidden=hidden, output=output, loss=loss, l2=l2, bias=bias)))
    setups.append(("ex4 sigmoid+cross-entropy 3-4-3-2 bias column l2=1",
                   sb.Network((3, 4, 3, 2), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1, bias="column")))
    setups.append(("hidden tanh;leaky-relu:alpha=0.2, softmax+log-likelihood 3-4-3-2 bias separate l2=0",
                   sb.Network((3, 4, 3, 2), hidden=["tanh", "leaky-relu:alpha=0.2"], output="softmax",
                              loss="log-likelihood", l2=0, bias="separate")))
    return setups


SETUPS = dict(_setups())


@lru_cache(maxsize=None)
def _derivation(name):
    return sb.derive(SETUPS[name])


@lru_cache(maxsize=None)
def _point(name):
    seed = sum(ord(c) * (n + 1) for n, c in enumerate(name))      # stable across runs (hash() is salted)
    return draw(SETUPS[name], np.random.default_rng(seed))


CASES = [(name, number) for name in SETUPS for number in range(1, len(_derivation(name).steps) + 1)]


def test_every_catalogue_pair_that_derives_is_covered():
    pairs = {(n.output.name, n.loss.name) for n in SETUPS.values()}
    expected = {(a.name, loss.name) for a, loss in catalogue_pairs.pairs() if loss.separable or not a.elementwise}
    assert pairs == expected
    assert {h.name for n in SETUPS.values() for h in n.hidden} >= set(ELEMENTWISE)
    assert {(n.bias, n.l2 > 0) for n in SETUPS.values()} == {(b, p) for b in ("separate", "column") for p in (False, True)}


@pytest.mark.parametrize("name, number", CASES, ids=[f"{name} step ({number})" for name, number in CASES])
def test_step_holds_on_a_concrete_network(name, number):
    step = _derivation(name).steps[number - 1]
    point = _point(name)
    checked = 0
    for layer, indices in point.assignments(step):
        try:
            lhs, rhs = point.statement_values(step, layer, indices)
        except NoValue as exc:
            pytest.fail(f"step ({number}) [{step.rule.value}] {step.statement}: the evaluator has no value: {exc}")
        where = f"layer l = {layer}, " if layer is not None else ""
        assert close(lhs, rhs), (f"step ({number}) [{step.rule.value}: {step.note}]\n  {step.statement}\n"
                                 f"  fails at {where}{indices or 'no free index'}: left {lhs}, right {rhs}")
        checked += 1
    assert checked, f"step ({number}) was evaluated at no point"


# --- the quantities: the forms the renderers, the checker and the exporter read --------------------------
def _unit_statement(quantity):
    """The per-unit form as a statement at unit i (j for the weight's column): δ^L_i = unit(a^L_i, y_i, z^L_i)."""
    layer = quantity.layer
    if quantity.name == "output_delta":
        values = {S.a: S.unit("a", S.L, S.i), S.y: S.target(S.i), S.z: S.unit("z", S.L, S.i)}
    else:
        values = {S.a: S.unit("a", layer, S.i), S.z: S.unit("z", layer, S.i), S.e: S.unit("e", layer, S.i),
                  S.delta: S.unit("delta", layer, S.i), S.a_prev: S.unit("a", layer - 1, S.j)}
    # Σ_k over the output units: a[k] is a^L_k, y[k] the target. The Indexed atoms stand aside while the unit
    # symbols are replaced (the base of a[k] is labelled by the symbol a itself).
    atoms = sorted(quantity.unit.atoms(sp.Indexed), key=str)
    aside = {atom: sp.Dummy(str(atom)) for atom in atoms}
    unit = quantity.unit.xreplace(aside).xreplace(values)
    back = {dummy: S.unit("a", S.L, atom.indices[0]) if atom.base == S.base("a") and len(atom.indices) == 1 else atom
            for atom, dummy in aside.items()}
    return sp.Eq(quantity.index.lhs, unit.xreplace(back), evaluate=False)


def _quantity_forms(derivation):
    forms = []
    quantities = [derivation.output_delta, *derivation.hidden_deltas, derivation.weight_gradient]
    quantities += [derivation.hidden_delta] if derivation.hidden_delta is not None else []
    quantities += [derivation.bias_gradient]
    for quantity in quantities:
        for form in ("index", "vector", "batch", "batch_vector"):
            statement = getattr(quantity, form)
            if statement is not None:
                rule = Rule.BATCH_AVERAGE if form.startswith("batch") else Rule.DEFINITION
                forms.append((f"{quantity.name} at layer {quantity.layer}: {form}",
                              Step(quantity.name, statement, rule, form, quantity.layer)))
        forms.append((f"{quantity.name} at layer {quantity.layer}: unit",
                      Step(quantity.name, _unit_statement(quantity), Rule.DEFINITION, "unit", quantity.layer)))
    return forms


QUANTITY_CASES = [(name, label) for name in SETUPS for label, _ in _quantity_forms(_derivation(name))]
@pytest.mark.parametrize("name, label", QUANTITY_CASES, ids=[f"{name}: {label}" for name, label in QUANTITY_CASES])
def test_quantity_form_holds_on_a_concrete_network(name, label):
    step = dict(_quantity_forms(_derivation(name)))[label]
    point = _point(name)
    checked = 0
    for layer, indices in point.assignments(step):
        lhs, rhs = point.statement_values(step, layer, indices)
        where = f"layer l = {layer}, " if layer is not None else ""
        assert close(lhs, rhs), f"{label}\n  {step.statement}\n  fails at {where}{indices}: left {lhs}, right {rhs}"
        checked += 1
    assert checked

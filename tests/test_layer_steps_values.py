"""Every displayed step of a layer or model derivation, evaluated, equals the gradient the layer computes.

The network steps are checked this way by tests/test_steps.py. Here, for every built-in layer, the window
layers and models, each step ``d<array>[indices] = <expression>`` is evaluated at random inputs and compared
with the gradient of that array as the backward pass computes it (``Gradient.final``, the form the exporter
prints and whose equality with torch autograd tests/test_layers_export.py and tests/test_models.py show).
A displayed step that differs from the computed gradient (attention's dS printed without its row-sum term,
the classic student mistake) fails here even when the export is right. The one step not evaluated is the
definition of the upstream gradient (dy = ∂C/∂y), which is given.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symbackprop.checker._layer_values import _table, concrete_sizes, sample
from symbackprop.layers import LAYERS, derive_layer, layer_record, window_record
from symbackprop.models import build_model

SUBJECTS = [(record.name, lambda record=record: record.layer()) for record in LAYERS]
SUBJECTS += [
    ("conv2d stride 2 pad 1", lambda: window_record("conv2d", stride=2, pad=1).layer()),
    ("maxpool", lambda: window_record("maxpool", size=2, stride=2).layer()),
    ("avgpool 3/2", lambda: window_record("avgpool", size=3, stride=2).layer()),
    ("model: batchnorm mlp", lambda: build_model("affine(4) > batchnorm > relu > affine(3) > softmax",
                                                 "categorical-cross-entropy", 5).layer),
    ("model: cnn", lambda: build_model("conv2d(1, k=2) > relu > avgpool(2) > flatten > affine(2) > softmax",
                                       "categorical-cross-entropy", (3, 3, 1)).layer),
]


def _one_hot_rows(shape, rng=np.random.default_rng(1)):
    """A model's targets: each row a class (the softmax + cross-entropy cancellation assumes Σ_k Y = 1)."""
    return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]


def _step_values(layer, derivation, seed=0):
    """(step, evaluated right-hand side, computed gradient) for every step that is not a definition."""
    values = sample(layer, derivation, np.random.default_rng(seed), given={"Y": _one_hot_rows})
    sizes = concrete_sizes(layer)
    for step in derivation.steps:
        lhs, rhs = step.statement.lhs, step.statement.rhs
        if rhs.has(sp.Derivative):              # dy = ∂C/∂y: the given upstream gradient
            continue
        computed = values[str(lhs.base)]       # a gradient, or an array the backward pass makes (dy dilated)
        sizes_here = {**sizes, **{label: n for label, n in zip(computed.labels, computed.array.shape)}}
        yield step, _table(rhs, lhs.indices, computed.labels, values, sizes_here).array, computed.array


@pytest.mark.parametrize("name, make", SUBJECTS, ids=[name for name, _ in SUBJECTS])
def test_every_displayed_step_equals_the_computed_gradient(name, make):
    layer = make()
    derivation = derive_layer(layer)
    checked = 0
    for step, shown, computed in _step_values(layer, derivation):
        assert np.allclose(shown, computed, rtol=1e-9, atol=1e-12), (
            f"{name}: step '{step.rule.value}' for d{step.quantity} differs from the computed gradient: "
            f"{step.statement}")
        checked += 1
    assert checked >= len([g for g in derivation.gradients.values() if g.kind != "output"])


def test_a_step_without_the_row_sum_term_is_caught():
    """The negative control: attention's dS shown as A ⊙ dA (softmax's normaliser treated as a constant)."""
    layer = layer_record("attention").layer()
    derivation = derive_layer(layer)
    wrong = []
    for step, shown, computed in _step_values(layer, derivation):
        if step.quantity == "S":
            A, dA, n, m = (sp.IndexedBase("A"), sp.IndexedBase("dA"), *step.statement.lhs.indices)
            values = sample(layer, derivation, np.random.default_rng(0))
            without = _table(A[n, m] * dA[n, m], (n, m), layer.arrays["S"].sizes, values, concrete_sizes(layer)).array
            wrong.append(np.allclose(without, computed, rtol=1e-9, atol=1e-12))
    assert wrong and not any(wrong)

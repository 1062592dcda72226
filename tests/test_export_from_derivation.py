"""The exported backward pass is printed from the derivation's matrix forms: change a form, the code changes.

Each test edits one form of a derivation (the L2 term or the 1/m of a batch gradient, the matrix part of
the δ recursion), exports it, and checks that the code changed and computes what the edited form says,
against the unedited export: twice the L2 term adds (λ/m) W once more; a bias gradient without 1/m is m
times larger; δ^l = 2 (W^{l+1})^T δ^{l+1} ⊙ g' doubles the gradients of every layer below.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul

import symbackprop as sb
from symbackprop import symbols as S
from symbackprop.export import random_instance
from symbackprop.export._arrays import ArrayPrinter, CodeArray, simplified
from symbackprop.export._source import module_source

BACKENDS = ["numpy", "jax", "torch"]


def _network(bias="separate"):
    return sb.Network((4, 5, 3, 2), hidden="tanh", output="sigmoid", loss="cross-entropy", l2=0.7, bias=bias)


def _run(derivation, layout, params, X, Y):
    namespace = {}
    exec(compile(module_source(derivation, backend="numpy", layout=layout), "<exported>", "exec"), namespace)
    cost, grads = namespace["cost_and_gradients"](params, X, Y)
    return cost, grads


def _with_weight_batch(derivation, rhs):
    quantity = derivation.weight_gradient
    return replace(derivation, weight_gradient=replace(quantity, batch_vector=sp.Eq(quantity.batch_vector.lhs, rhs, evaluate=False)))


def _layers(layout):
    return [0, 2, 4] if layout == "rows" else [0, 1, 2]


@pytest.mark.parametrize("layout", ["rows", "ng"])
def test_a_doubled_l2_term_in_the_batch_form_doubles_it_in_the_code(layout):
    network = _network("separate" if layout == "rows" else "column")
    derivation = sb.derive(network)
    data_term, l2_term = sorted(derivation.weight_gradient.batch_vector.rhs.args, key=lambda t: t.has(S.lam))
    edited = _with_weight_batch(derivation, MatAdd(data_term, MatMul(2, l2_term)))
    for backend in BACKENDS:
        assert module_source(edited, backend=backend, layout=layout) != module_source(derivation, backend=backend, layout=layout)
    params, X, Y = random_instance(network, layout, m=6, seed=1)
    _, before = _run(derivation, layout, params, X, Y)
    _, after = _run(edited, layout, params, X, Y)
    for position, index in enumerate(_layers(layout)):
        weights = params[index].copy()
        if layout == "ng":
            weights[:, 0] = 0.0             # the bias column is never regularised
        np.testing.assert_allclose(after[index] - before[index], 0.7 / 6 * weights, rtol=1e-12, atol=1e-15)


def test_a_bias_gradient_without_the_batch_average_is_m_times_larger():
    network = _network()
    derivation = sb.derive(network)
    quantity = derivation.bias_gradient
    scalar, *matrices = quantity.batch_vector.rhs.args
    assert scalar == 1 / S.m
    edited = replace(derivation, bias_gradient=replace(quantity, batch_vector=sp.Eq(
        quantity.batch_vector.lhs, MatMul(*matrices), evaluate=False)))
    params, X, Y = random_instance(network, "rows", m=6, seed=2)
    _, before = _run(derivation, "rows", params, X, Y)
    _, after = _run(edited, "rows", params, X, Y)
    for index in (1, 3, 5):
        np.testing.assert_allclose(after[index], 6 * before[index], rtol=1e-12)
    for index in (0, 2, 4):
        np.testing.assert_array_equal(after[index], before[index])


@pytest.mark.parametrize("layout", ["rows", "ng"])
def test_a_doubled_back_propagation_doubles_the_gradients_below(layout):
    network = _network("separate" if layout == "rows" else "column")
    derivation = sb.derive(network)
    hidden = list(derivation.hidden_deltas)
    top = hidden[-1]                       # δ^3, back-propagated from δ^4
    back, g_prime = top.vector.rhs.args
    hidden[-1] = replace(top, vector=sp.Eq(top.vector.lhs, HadamardProduct(MatMul(2, back), g_prime), evaluate=False))
    edited = replace(derivation, hidden_deltas=tuple(hidden))
    assert module_source(edited, layout=layout) != module_source(derivation, layout=layout)
    params, X, Y = random_instance(network, layout, m=6, seed=3)
    _, before = _run(derivation, layout, params, X, Y)
    _, after = _run(edited, layout, params, X, Y)
    *below, last = _layers(layout)
    np.testing.assert_array_equal(after[last], before[last])
    for index in below:
        # the data part of the gradient doubles; the L2 part (λ/m) W does not
        weights = params[index].copy()
        if layout == "ng":
            weights[:, 0] = 0.0
        np.testing.assert_allclose(after[index] - 0.7 / 6 * weights, 2 * (before[index] - 0.7 / 6 * weights),
                                   rtol=1e-10, atol=1e-14)


def test_the_array_printer_prints_each_node_by_its_rule():
    m = S.m
    D, A, W = CodeArray("delta", m, 3), CodeArray("a", m, 4), CodeArray("W", 3, 4)
    lam = sp.Symbol("LAMBDA")
    gradient = simplified(MatAdd(MatMul(1 / m, MatMul(m, D.T), A), MatMul(lam / m, W)))
    numpy, torch = ArrayPrinter("numpy"), ArrayPrinter("torch")
    assert numpy.assign("g", gradient) == ["g = delta.T @ a", "g += (LAMBDA/m) * W"]
    assert torch.assign("g", gradient) == ["g = delta.T @ a + (LAMBDA/m) * W"]
    assert numpy.assign("b", simplified(MatMul(D.T, sp.OneMatrix(m, 1)))) == ["b = delta.sum(axis=0)"]
    assert torch.assign("b", simplified(MatMul(D.T, sp.OneMatrix(m, 1)))) == ["b = delta.sum(dim=0)"]
    assert numpy.assign("e", simplified(MatMul(D, W[:, 1:]))) == ["e = delta @ W[:, 1:]"]

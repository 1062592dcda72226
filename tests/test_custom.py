"""Activations and losses that are in no catalogue and no issue, derived exactly as catalogue entries are.

* "half-tanh" output a = (1 + tanh z)/2 with the loss -(y ln a + (1-y) ln(1-a))/2 : a matched pair
  invented here (its derivative 2a(1-a) cancels against the loss's (a-y)/(2a(1-a))): δ^L = a - y.
* tanh output with "tanh cross-entropy" -((1+y) ln(1+a) + (1-y) ln(1-a))/2 for targets in {-1, 1}:
  another matched pair; δ^L = a - y.
* log-cosh loss ln cosh(a - y) with a sigmoid output, and the Gaussian activation exp(-z²) in a
  hidden layer: nothing cancels.
Each is checked against sympy.diff of the composed cost and against finite differences.
"""
import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import symbols as S

from reference_network import build, finite_difference, is_zero, unit_value

HALF_TANH = "(1 + tanh(z))/2"
HALF_CROSS_ENTROPY = "-(y*ln(a) + (1-y)*ln(1-a))/2"
TANH_CROSS_ENTROPY = "-((1+y)*log(1+a) + (1-y)*log(1-a))/2"
LOG_COSH = "log(cosh(a - y))"
GAUSSIAN = "exp(-z^2)"
PSEUDO_HUBER = "sqrt(1 + (a - y)^2) - 1"


@pytest.mark.parametrize("output,loss", [(HALF_TANH, HALF_CROSS_ENTROPY), ("tanh", TANH_CROSS_ENTROPY)])
def test_invented_matched_pairs_cancel(output, loss):
    derivation = sb.derive(sb.Network((3, 2, 2), output=output, loss=loss))
    assert derivation.output_delta.cancels is True
    assert sp.expand(derivation.output_delta.unit - (S.a - S.y)) == 0


def test_half_tanh_derivative_is_found_in_terms_of_a():
    derivation = sb.derive(sb.Network((3, 2, 2), hidden=HALF_TANH))
    assert sp.expand(derivation.hidden_deltas[0].activation_derivative - 2 * S.a * (1 - S.a)) == 0


def test_log_cosh_with_sigmoid_does_not_cancel():
    derivation = sb.derive(sb.Network((3, 2, 2), output="sigmoid", loss=LOG_COSH))
    assert derivation.output_delta.cancels is False
    assert sp.simplify((derivation.output_delta.unit - sp.tanh(S.a - S.y) * S.a * (1 - S.a)).rewrite(sp.exp)) == 0


@pytest.mark.parametrize("hidden,output,loss", [("sigmoid", HALF_TANH, HALF_CROSS_ENTROPY),
                                                 (GAUSSIAN, "tanh", TANH_CROSS_ENTROPY),
                                                 (GAUSSIAN, "sigmoid", LOG_COSH),
                                                 ("tanh", "identity", PSEUDO_HUBER)])
def test_custom_entries_agree_with_diff_and_finite_differences(hidden, output, loss):
    network = sb.Network((2, 3, 2), hidden=hidden, output=output, loss=loss)
    derivation = sb.derive(network)
    net = build((2, 3, 2), list(network.hidden), network.output, network.loss, from_layer=2)
    z2, a2, a3, z3, y = net.z_symbols[2], net.a[2], net.a[3], net.z[3], net.y
    d3 = [unit_value(derivation.output_delta.unit, a=a3[k], y=y[k], z=z3[k]) for k in range(2)]
    deltas2 = []
    for i in range(3):
        e = sum(net.weights[3][k, i] * d3[k] for k in range(2))
        derived = unit_value(derivation.hidden_deltas[0].unit, a=a2[i], z=z2[i], e=e)
        assert is_zero(sp.diff(net.cost, z2[i]) - derived)
        deltas2.append(derived)
    rng = np.random.default_rng(11)
    symbols = list(z2) + list(y) + list(net.weights[3]) + list(net.biases[3])
    point = dict(zip(symbols, rng.uniform(-0.6, 0.6, len(symbols))))
    point.update(dict(zip(y, rng.uniform(0.2, 0.8, 2) * (1 if output != "tanh" else 1))))
    f = sp.lambdify([list(z2)], net.cost.subs({s: v for s, v in point.items() if s not in z2}))
    z_values = np.array([point[s] for s in z2])
    numeric = finite_difference(lambda v: f(list(v)), z_values)
    derived = [float(d.subs(point)) for d in deltas2]
    np.testing.assert_allclose(derived, numeric, rtol=1e-6, atol=1e-9)


def test_elementwise_functions_of_vector_expressions_render_without_internal_names():
    from symbackprop.rendering import render_quantity
    for loss in (LOG_COSH, PSEUDO_HUBER):
        derivation = sb.derive(sb.Network((3, 2, 2), output="identity", loss=loss))
        for fmt in ("text", "latex"):
            printed = render_quantity(derivation, "output_delta", fmt)
            assert "_t" not in printed and "Dummy" not in printed and "Lambda" not in printed

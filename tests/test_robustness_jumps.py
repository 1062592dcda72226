"""The classes the fuzz found after issues 17 and 18 landed, one small case each: jumps (sign),
g' = 0, constant arrays in export, a constant content in the stable export (erfc), exp(u) next to
exp(-u) in a readable g' (GELU), huber inside softmax's coupled sum.

Expected values come from sympy.diff of the definition, central differences of the compiled cost,
or the definitions evaluated at large arguments; never from the code's own output.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import symbols as S
from symbackprop.catalogue import activation
from symbackprop.engine._activation_derivative import derivative_in_z, readable_derivative
from symbackprop.engine._calculus import tidy
from symbackprop.export import numerical_gradient, random_instance

SMALL = dict(l2=0, bias="separate")


def _richardson(f, params, X, Y):
    coarse, fine = (numerical_gradient(f, params, X, Y, epsilon=e) for e in (1e-5, 5e-6))
    return [(4 * b - a) / 3 for a, b in zip(coarse, fine)]


def _agrees_with_central_differences(network):
    f = sb.compile(sb.derive(network))
    params, X, Y = random_instance(network)
    cost, gradients = f(params, X, Y)
    assert np.isfinite(cost)
    for exported, numerical in zip(gradients, _richardson(f, params, X, Y)):
        np.testing.assert_allclose(exported, numerical, rtol=1e-7, atol=1e-9)
    return gradients


@pytest.mark.parametrize("definition", [activation("sign(z)").definition, sp.Heaviside(S.z),
                                        3 * sp.sign(S.z - 1) + sp.Heaviside(S.z + 2, 0)], ids=str)
def test_a_jump_has_derivative_zero_on_both_sides_and_at_the_jump(definition):
    # away from the jump SymPy's own derivative is 0; at the jump the engine takes the one-sided value 0
    for point in (-3, -sp.Rational(1, 3), sp.Rational(1, 7), 3):
        assert sp.diff(definition, S.z).subs(S.z, point) == 0
    assert derivative_in_z(definition) == 0


def test_a_hidden_sign_gives_a_zero_hidden_delta_and_says_so():
    network = sb.Network((3, 2, 2), hidden="sign(z)", **SMALL)
    derivation = sb.derive(network)
    assert derivation.hidden_deltas[0].unit == 0
    text = sb.render(derivation, "text")
    assert "δ^l = 0" in text and "no error reaches" in text
    for format in ("latex", "html"):
        assert sb.render(derivation, format)
    gradients = _agrees_with_central_differences(network)
    assert not np.any(gradients[0]) and not np.any(gradients[1])     # W^2, b^2 of the first layer: 0


@pytest.mark.parametrize("output, loss", [("sign(z)*z", "quadratic"), ("sigmoid", "sign(a - y)*(a - y)"),
                                          ("identity", "sign(a)"), ("identity", "2*a + y")])
def test_jumps_in_outputs_and_losses_and_constant_loss_gradients_export(output, loss):
    _agrees_with_central_differences(sb.Network((3, 4, 2), hidden="tanh", output=output, loss=loss, **SMALL))


def test_an_erfc_of_tanh_output_exports():
    # the stable export met the constant erfc(1) as a polynomial's content (PolificationFailed)
    _agrees_with_central_differences(sb.Network((3, 4, 2), hidden="erfc(z)", output="erfc(tanh(z))",
                                                loss="quadratic", **SMALL))


def test_the_readable_gelu_derivative_is_finite_far_out():
    definition = activation("gelu").definition
    shown, in_a = readable_derivative(definition)
    assert not in_a
    f = sp.lambdify(S.z, shown, "math")
    # Φ(z) + z φ(z) from the definition: 1 far right, 0 far left
    for z, expected in ((40.0, 1.0), (1000.0, 1.0), (-40.0, 0.0), (-1000.0, 0.0)):
        value = f(z)
        assert math.isfinite(value) and abs(value - expected) < 1e-12
    assert f(0.7) == pytest.approx(0.5 * (1 + math.erf(0.7 / math.sqrt(2))) + 0.7 * math.exp(-0.245) / math.sqrt(2 * math.pi),
                                   rel=1e-14)


def test_tidy_does_not_put_an_exponential_over_its_reciprocal():
    z = S.z
    expression = z * sp.exp(-z ** 2) + sp.erf(z)
    for node in sp.preorder_traversal(tidy(expression)):
        if isinstance(node, sp.exp):
            assert sp.expand(node.args[0]).could_extract_minus_sign()


def test_huber_inside_softmax_is_refused_and_hinge_derives():
    with pytest.raises(sb.SymbackpropError, match="elementwise in one vector"):
        sb.derive(sb.Network((2, 3, 3), output="softmax", loss="huber"))
    assert sb.derive(sb.Network((2, 3, 3), output="softmax", loss="hinge"))

"""Central differences against the compiled gradients, for every catalogue pair the Network accepts;
Ng's checkNNGradients debug network and its published costs; ``symbackprop gradcheck``."""
from __future__ import annotations

import numpy as np
import pytest

import symbackprop as sb
from symbackprop.cli import main
from symbackprop.export import debug_initialize_weights, gradcheck, ng_debug_problem, numerical_gradient

from conftest_export import ELEMENTWISE, accepted_pairs, instance, pair_id, relative_difference

PAIRS = accepted_pairs()


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_every_pair_agrees_with_central_differences(pair):
    output, loss = pair
    index = PAIRS.index(pair)
    # the hidden activations rotate through the catalogue, two different ones per network
    hidden = [ELEMENTWISE[index % len(ELEMENTWISE)], ELEMENTWISE[(index + 3) % len(ELEMENTWISE)]]
    network = sb.Network((3, 4, 4, 3), hidden=hidden, output=output, loss=loss, l2=0.5)
    params, X, Y = instance(network, "rows", m=4, seed=index)
    f = sb.compile(network)
    cost, grads = f(params, X, Y)
    assert np.isfinite(cost)
    # Richardson's extrapolation of two central differences: error O(ε⁴), not O(ε²). With exp then gelu
    # hidden (leaky-relu + cross-entropy), a^(L-1) reaches 40 and one central difference at 1e-5 is off by 2e-7.
    coarse, fine = (numerical_gradient(f, params, X, Y, epsilon=epsilon) for epsilon in (1e-5, 5e-6))
    numerical = [(4 * b - a) / 3 for a, b in zip(coarse, fine)]
    assert relative_difference(numerical, grads) < 1e-7


@pytest.mark.parametrize("hidden", ELEMENTWISE, ids=lambda a: a.name)
@pytest.mark.parametrize("layout", ["rows", "ng"])
def test_every_hidden_activation_in_both_layouts(hidden, layout):
    network = sb.Network((3, 5, 4, 2), hidden=hidden, output="sigmoid", loss="cross-entropy", l2=1, bias="column")
    params, X, Y = instance(network, layout, m=5, seed=11)
    f = sb.compile(network, layout)
    numerical = numerical_gradient(f, params, X, Y, epsilon=1e-5)
    assert relative_difference(numerical, f(params, X, Y)[1]) < 1e-7


def test_debug_initialize_weights_is_column_major_sine():
    W = debug_initialize_weights(2, 2)
    np.testing.assert_array_equal(W, np.sin(np.array([[1, 3, 5], [2, 4, 6]], dtype=float)) / 10)


@pytest.mark.parametrize("l2, published", [(0, 2.10095057), (3, 2.146359815)])
def test_ng_debug_network_reproduces_the_published_costs(l2, published):
    network, params, X, Y = ng_debug_problem(l2)
    assert [p.shape for p in params] == [(5, 4), (3, 6)]
    np.testing.assert_array_equal(Y.argmax(axis=1) + 1, [2, 3, 1, 2, 3])
    cost, _ = sb.compile(network, "ng")(params, X, Y)
    digits = len(str(published).split(".")[1])
    assert abs(cost - published) <= 0.5 * 10.0 ** -digits


@pytest.mark.parametrize("l2", [0, 3])
def test_ng_debug_network_gradient_check_below_1e_9(l2):
    network, params, X, Y = ng_debug_problem(l2)
    check = gradcheck(sb.compile(network, "ng"), params, X, Y)
    assert check.relative_difference < 1e-9
    assert check.passed(1e-9)


def test_gradcheck_draws_a_small_random_instance():
    check = gradcheck(sb.Network((400, 25, 10), l2=1, bias="column"), layout="ng", max_width=4, m=3)
    assert check.passed(1e-7)
    assert check.description.startswith("4-4-4 network") and "m = 3" in check.description
    assert check.numerical.shape == check.analytical.shape == (2 * 4 * 5,)


def test_gradcheck_detects_a_wrong_gradient():
    network, params, X, Y = ng_debug_problem(0)
    f = sb.compile(network, "ng")

    def wrong(params, X, Y):
        cost, grads = f(params, X, Y)
        return cost, [grads[0], 1.01 * grads[1]]

    assert not gradcheck(wrong, params, X, Y).passed(1e-7)


def test_cli_gradcheck_prints_the_relative_difference(capsys):
    assert main(["gradcheck", "--layers", "4,6,3", "--hidden", "tanh", "--output", "softmax",
                 "--loss", "categorical-cross-entropy", "--bias", "separate"]) == 0
    out = capsys.readouterr().out
    assert "relative difference:" in out and "OK" in out
    value = float(out.split("relative difference:")[1].split()[0])
    assert 0 <= value < 1e-7


def test_cli_gradcheck_exit_1_above_threshold_and_2_on_bad_input(capsys):
    assert main(["gradcheck", "--layers", "3,4,2", "--threshold", "1e-30"]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert main(["gradcheck", "--layers", "3,4,2", "--m", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1

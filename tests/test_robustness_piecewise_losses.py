"""A piecewise function (relu, leaky_relu, elu) applied to an expression of a and y in the loss
(issue 25, part B, item 1): it was an internal error (exit 70, ExprCondPair rebuilt with no args).

Expected values come from sympy.diff of a fully composed small network (tests/reference_network.py),
from central differences of the compiled cost and from torch autograd of the same network written in
torch; never from the code's own output.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.cli import main
from symbackprop.export import export_module, numerical_gradient, random_instance

from optional_libraries import require
from reference_network import build, unit_value

#: the loss as typed, and the same loss in torch (leaky_relu's slope 0.01, elu's alpha 1: the catalogue's)
LOSSES = {
    "relu(1 - y*a)": lambda F, a, y: F.relu(1 - y * a),
    "leaky_relu(y - a)": lambda F, a, y: F.leaky_relu(y - a, 0.01),
    "elu(a*y)": lambda F, a, y: F.elu(a * y, alpha=1.0),
}
#: the argument of the piecewise function, whose sign picks the case
ARGUMENTS = {"relu(1 - y*a)": lambda a, y: 1 - y * a, "leaky_relu(y - a)": lambda a, y: y - a,
             "elu(a*y)": lambda a, y: a * y}


def _network(loss, sizes=(3, 4, 2), output="sigmoid"):
    return sb.Network(sizes, hidden="sigmoid", output=output, loss=loss, l2=0, bias="separate")


def _instance(network, seed):
    """Random parameters and inputs; targets in [-3, 3], so that both cases of every loss occur."""
    params, X, _ = random_instance(network, m=6, seed=seed)
    Y = np.random.default_rng(seed).uniform(-3, 3, size=(X.shape[0], network.sizes[-1]))
    return params, X, Y


@pytest.mark.parametrize("loss", LOSSES)
def test_the_cli_derives_and_exports_a_piecewise_function_of_a_and_y(loss, tmp_path, capsys):
    assert main(["derive", "--loss", loss, "--layers", "3,4,2"]) == 0
    assert "δ^(L)" in capsys.readouterr().out
    for backend in ("numpy", "torch"):
        path = tmp_path / f"grad_{backend}.py"
        assert main(["export", "--loss", loss, "--layers", "3,4,2", "--backend", backend, "-o", str(path)]) == 0
        assert path.exists()


@pytest.mark.parametrize("loss", LOSSES)
def test_the_output_delta_is_the_derivative_of_the_composed_cost_in_both_cases(loss):
    network = _network(loss, sizes=(2, 2, 3))
    derivation = sb.derive(network)
    net = build((2, 2, 3), list(network.hidden), network.output, network.loss, from_layer=3)
    z, a, y = net.z_symbols[3], net.a[3], net.y
    rng = np.random.default_rng(25)
    signs = set()
    for _ in range(12):
        values = {symbol: sp.Rational(int(rng.integers(-3000, 3000)), 1000) for symbol in (*z, *y)}
        for i in range(3):
            direct = sp.diff(net.cost, z[i]).subs(values)
            derived = unit_value(derivation.output_delta.unit, a=a[i], y=y[i], z=z[i]).subs(values)
            assert abs(float(sp.N(direct - derived, 30))) < 1e-25, (loss, values, i)
            signs.add(bool(ARGUMENTS[loss](a[i], y[i]).subs(values) > 0))
    assert signs == {True, False}, "both cases of the loss were compared"


OUTPUTS = {"sigmoid": "sigmoid", "identity": lambda t: t, "tanh": "tanh"}


def _torch_reference(network, loss, params, X, Y):
    torch = require("torch", "the reference gradients of the piecewise losses (torch autograd)")
    F = torch.nn.functional
    tensors = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    activation = torch.tensor(X, dtype=torch.float64)
    last = len(tensors) // 2 - 1
    for layer, (W, b) in enumerate(zip(tensors[::2], tensors[1::2])):
        function = OUTPUTS[network.output.name] if layer == last else "sigmoid"
        function = getattr(torch, function) if isinstance(function, str) else function
        activation = function(activation @ W.T + b)
    cost = LOSSES[loss](F, activation, torch.tensor(Y, dtype=torch.float64)).sum() / X.shape[0]
    cost.backward()
    return float(cost.detach()), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("loss", LOSSES)
def test_the_compiled_gradient_equals_central_differences_and_torch_autograd(loss, output):
    network = _network(loss, output=output)
    function = sb.compile(sb.derive(network))
    for seed in (1, 2):
        params, X, Y = _instance(network, seed)
        cost, gradients = function(params, X, Y)
        expected_cost, expected = _torch_reference(network, loss, params, X, Y)
        assert cost == pytest.approx(expected_cost, rel=1e-12)
        for exported, reference, numerical in zip(gradients, expected, numerical_gradient(function, params, X, Y)):
            np.testing.assert_allclose(exported, reference, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(exported, numerical, rtol=1e-6, atol=1e-8)


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("loss", LOSSES)
def test_the_exported_module_equals_torch_autograd(loss, backend, tmp_path):
    torch = require("torch", "the reference gradients of the piecewise losses (torch autograd)")
    network = _network(loss)
    path = tmp_path / f"grad_{backend}_{abs(hash(loss))}.py"
    export_module(network, path, backend=backend)
    module = _load(path)
    params, X, Y = _instance(network, 3)
    expected_cost, expected = _torch_reference(network, loss, params, X, Y)
    arguments = (params, X, Y) if backend == "numpy" else (
        [torch.tensor(p) for p in params], torch.tensor(X), torch.tensor(Y))
    cost, gradients = module.cost_and_gradients(*arguments)
    assert float(cost) == pytest.approx(expected_cost, rel=1e-12)
    for exported, reference in zip(gradients, expected):
        np.testing.assert_allclose(np.asarray(exported), reference, rtol=1e-10, atol=1e-12)

"""The compiled gradients against autodiff (JAX and PyTorch) of a cost composed from the catalogue's
definitions, for every pair the Network accepts; the exported JAX and PyTorch modules against the
NumPy one. Skipped, with the reason, where a library is not installed; under CI=true, which installs both,
a missing one fails."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import symbackprop as sb
from symbackprop.export import export_module

from conftest_export import ELEMENTWISE, accepted_pairs, composed_cost, instance, pair_id
from optional_libraries import require

PAIRS = accepted_pairs()


def _require(name):
    """The module, or skip the test saying which library is missing (each test needs only its own; under
    CI=true a missing one fails)."""
    return require(name, "this autodiff comparison")


def _network(pair):
    output, loss = pair
    index = PAIRS.index(pair)
    hidden = ELEMENTWISE[(index * 5 + 2) % len(ELEMENTWISE)]
    return sb.Network((3, 4, 3), hidden=hidden, output=output, loss=loss, l2=0.5), index


def _normwise(got, expected):
    """The largest relative error of one array, normwise (an array that is exactly zero must be zero)."""
    worst = 0.0
    for g, e in zip(got, expected):
        scale = np.linalg.norm(e)
        worst = max(worst, np.linalg.norm(g - e) / scale if scale > 0 else np.linalg.norm(g) * 1e300)
    return worst


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_jax_autodiff_agrees_to_1e_10(pair):
    jax = _require("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = _require("jax.numpy")
    network, seed = _network(pair)
    params, X, Y = instance(network, "rows", m=6, seed=seed)
    cost, grads = sb.compile(network)(params, X, Y)
    reference = composed_cost(network, "jax")
    value, expected = jax.value_and_grad(reference)([jnp.asarray(p) for p in params], jnp.asarray(X), jnp.asarray(Y))
    assert abs(cost - float(value)) <= 1e-12 * abs(float(value))
    assert _normwise(grads, [np.asarray(e) for e in expected]) < 1e-10


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_torch_autodiff_agrees_to_1e_10(pair):
    torch = _require("torch")
    network, seed = _network(pair)
    params, X, Y = instance(network, "rows", m=6, seed=seed + 100)
    cost, grads = sb.compile(network)(params, X, Y)
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    value = composed_cost(network, "torch")(tensors, torch.tensor(X), torch.tensor(Y))
    expected = torch.autograd.grad(value, tensors)
    value = float(value.detach())
    assert abs(cost - value) <= 1e-12 * abs(value)
    assert _normwise(grads, [e.numpy() for e in expected]) < 1e-10


NETWORKS = [
    dict(sizes=(4, 6, 3), hidden="tanh", output="softmax", loss="categorical-cross-entropy", l2=0.5, bias="separate"),
    dict(sizes=(3, 5, 4, 2), hidden=["relu", "elu"], output="sigmoid", loss="cross-entropy", l2=1, bias="column"),
    dict(sizes=(3, 4, 2), hidden="silu", output="softplus", loss="poisson", l2=0, bias="separate"),
]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("options", NETWORKS, ids=lambda o: f"{o['output']}+{o['loss']}")
@pytest.mark.parametrize("layout", ["rows", "ng"])
def test_exported_jax_module_agrees_with_numpy(tmp_path, options, layout):
    _require("jax")
    jnp = _require("jax.numpy")
    options = dict(options)
    network = sb.Network(options.pop("sizes"), **options)
    params, X, Y = instance(network, layout, m=5, seed=3)
    cost, grads = sb.compile(network, layout)(params, X, Y)
    export_module(network, tmp_path / "grad_jax.py", backend="jax", layout=layout)
    module = _load(tmp_path / "grad_jax.py", f"grad_jax_{layout}_{network.output.name}")
    got_cost, got = module.cost_and_gradients([jnp.asarray(p) for p in params], jnp.asarray(X), jnp.asarray(Y))
    assert abs(float(got_cost) - cost) <= 1e-13 * abs(cost)
    assert _normwise([np.asarray(g) for g in got], grads) < 1e-13
    np.testing.assert_allclose(np.asarray(module.predict([jnp.asarray(p) for p in params], jnp.asarray(X))),
                               sb.compile(network, layout).predict(params, X), rtol=1e-13)


@pytest.mark.parametrize("options", NETWORKS, ids=lambda o: f"{o['output']}+{o['loss']}")
@pytest.mark.parametrize("layout", ["rows", "ng"])
def test_exported_torch_module_agrees_with_numpy(tmp_path, options, layout):
    torch = _require("torch")
    options = dict(options)
    network = sb.Network(options.pop("sizes"), **options)
    params, X, Y = instance(network, layout, m=5, seed=4)
    cost, grads = sb.compile(network, layout)(params, X, Y)
    export_module(network, tmp_path / "grad_torch.py", backend="torch", layout=layout)
    module = _load(tmp_path / "grad_torch.py", f"grad_torch_{layout}_{network.output.name}")
    got_cost, got = module.cost_and_gradients([torch.tensor(p) for p in params], torch.tensor(X), torch.tensor(Y))
    assert abs(float(got_cost) - cost) <= 1e-13 * abs(cost)
    assert _normwise([g.numpy() for g in got], grads) < 1e-13
    with pytest.raises(ValueError, match=r"X: dtype torch.float32 received, float64 expected"):
        module.cost_and_gradients([torch.tensor(p) for p in params], torch.tensor(X, dtype=torch.float32),
                                  torch.tensor(Y))

"""R{backward} of every built-in layer without a recurrence (issue 27): the exported ``r_backward`` (the tangent
layer's backward pass with the upstream gradients (Rdy, dy)) against torch.func's jvp of the vjp of
tests/test_layers_export.py's torch references, float64 to 1e-10; two user-written layers; softsign (|x|) and the
recurrent layers are refused with a message, exit 2."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from symbackprop.cli import main
from symbackprop.errors import ExportError
from symbackprop.export._second_order_module import layer_second_order_module
from symbackprop.layers import Layer, derive_layer
from optional_libraries import require

torch = require("torch", "comparing R{backward} with torch.func")
from torch.func import jvp, vjp  # noqa: E402

with warnings.catch_warnings():     # torch's forward-mode decompositions, loaded on the first jvp, call the
    warnings.simplefilter("ignore", DeprecationWarning)      # deprecated torch.jit.script (torch's own warning)
    import torch._decomp.decompositions_for_jvp  # noqa: E402,F401

from test_layers_export import SIZES, TORCH, _arrays, _layer  # noqa: E402

#: two user-written layers and their torch references
SCALE_SHIFT = """
input x[N, D]
param gamma[D], beta[D]
u[n, d] = gamma[d] * x[n, d] + beta[d]
y[n, d] = tanh(u[n, d]) * u[n, d]
output y
"""
ROW_NORM = """
input x[N, D]
param w[D]
s[n] = sum(exp(w[d]) * x[n, d]^2, d)
y[n, d] = x[n, d] / sqrt(s[n] + 1)
output y
"""
USER = {"scale-shift": (SCALE_SHIFT, lambda x, g, b: torch.tanh(g * x + b) * (g * x + b)),
        "row-norm": (ROW_NORM, lambda x, w: x / torch.sqrt((torch.exp(w) * x ** 2).sum(1, keepdim=True) + 1))}
REFUSED = {"softsign"}


def _reference(f, values, R, dout, Rdout):
    def pulled(*args):
        *xs, dy = args
        return vjp(f, *xs)[1](dy)
    return jvp(pulled, tuple(map(torch.tensor, [*values, dout])), tuple(map(torch.tensor, [*R, Rdout])))[1]


def _compare(layer, f, sizes, seed):
    module = layer_second_order_module(derive_layer(layer))
    rng = np.random.default_rng(seed)
    values = _arrays(layer, sizes, rng)
    R = [rng.standard_normal(v.shape) for v in values]
    out, _ = module.forward(*values)
    dout, Rdout = rng.standard_normal(out.shape), rng.standard_normal(out.shape)
    mine = module.r_backward(*values, *R, dout, Rdout)
    expected = [e.numpy() for e in _reference(f, values, R, dout, Rdout)]
    scale = max(float(np.max(np.abs(e))) for e in expected)
    assert len(mine) == len(expected)
    for found, wanted in zip(mine, expected):
        assert found.shape == wanted.shape
        assert np.max(np.abs(found - wanted)) <= 1e-10 * scale


@pytest.mark.parametrize("name", sorted(set(TORCH) - REFUSED))
def test_r_backward_of_each_builtin_layer_matches_torch_func(name):
    _compare(_layer(name), TORCH[name], SIZES[0], seed=3)


@pytest.mark.parametrize("name", sorted(USER))
def test_r_backward_of_user_written_layers_matches_torch_func(name):
    text, f = USER[name]
    _compare(Layer.parse(text, name), f, SIZES[1], seed=4)


def test_negative_control_r_backward_is_not_backward():
    """The R-op differs from the first-order backward fed the directions: a test of r_backward can fail."""
    layer = _layer("layernorm")
    module = layer_second_order_module(derive_layer(layer))
    rng = np.random.default_rng(5)
    values = _arrays(layer, SIZES[0], rng)
    R = [rng.standard_normal(v.shape) for v in values]
    out, cache = module.forward(*values)
    dout, Rdout = rng.standard_normal(out.shape), rng.standard_normal(out.shape)
    second = module.r_backward(*values, *R, dout, Rdout)
    first = module.backward(Rdout, cache)
    assert not all(np.allclose(a, b) for a, b in zip(second, first))


def test_softsign_is_refused_naming_sign():
    with pytest.raises(ExportError, match="softsign's R{backward} differentiates sign"):
        layer_second_order_module(derive_layer(_layer("softsign")))


@pytest.mark.parametrize("name, words", [("lstm", "the recurrent layer lstm has no r_backward yet"),
                                         ("softsign", "differentiates sign(x)")])
def test_cli_refusals_exit_2(capsys, tmp_path, name, words):
    assert main(["export", "--layer", name, "--second-order", "-o", str(tmp_path / "x.py")]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_cli_export_layer_second_order(capsys, tmp_path):
    assert main(["export", "--layer", "batchnorm", "--second-order", "-o", str(tmp_path / "bn.py")]) == 0
    assert "r_backward(x, gamma, beta, Rx, Rgamma, Rbeta, dout, Rdout)" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_r_backward_in_jax_and_torch_matches_torch_func(backend):
    from symbackprop.export._second_order_module import layer_second_order_source
    from symbackprop.export._files import load_module
    if backend == "jax":
        jax = require("jax", "exporting r_backward for jax")
        jax.config.update("jax_enable_x64", True)
        to, back = jax.numpy.asarray, np.asarray
    else:
        to, back = torch.tensor, lambda t: t.numpy()
    layer = _layer("layernorm")
    module = load_module(layer_second_order_source(derive_layer(layer), backend), f"r_backward_{backend}")
    rng = np.random.default_rng(6)
    values = _arrays(layer, SIZES[0], rng)
    R = [rng.standard_normal(v.shape) for v in values]
    dout, Rdout = rng.standard_normal(values[0].shape), rng.standard_normal(values[0].shape)
    mine = [back(m) for m in module.r_backward(*map(to, values), *map(to, R), to(dout), to(Rdout))]
    expected = [e.numpy() for e in _reference(TORCH["layernorm"], values, R, dout, Rdout)]
    scale = max(float(np.max(np.abs(e))) for e in expected)
    for found, wanted in zip(mine, expected):
        assert np.max(np.abs(found - wanted)) <= 1e-10 * scale

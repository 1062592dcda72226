"""Exported layer modules against torch autograd (float64, two sizes), central differences, and
CS231n's batch-norm gradient check. The torch forwards are written here independently of the
layer records, with torch.nn.functional where it has the layer."""
from __future__ import annotations

import numpy as np
import pytest

from symbackprop.export._layer_module import export_layer_module, layer_module, layer_source
from symbackprop.layers import LAYERS, Layer, derive_layer
from optional_libraries import require

torch = require("torch", "comparing the exported layer modules with torch autograd")
F = torch.nn.functional

RMSNORM = """\
# a user-defined layer: RMS normalisation with a learned gain
input  x[N, D]
param  g[D]
const  eps = 1e-6
ms[n] = sum(x[n, d]^2, d) / D
y[n, d] = g[d] * x[n, d] / sqrt(ms[n] + eps)
output y
"""


def _torch_rmsnorm(x, g):
    return g * x / torch.sqrt((x ** 2).mean(dim=1, keepdim=True) + 1e-6)


#: name -> (torch forward of the inputs then params, how to draw each array given (N, D))
TORCH = {
    "affine": lambda x, W, b: x @ W + b,
    "batchnorm": lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=1e-5),
    "layernorm": lambda x, g, b: F.layer_norm(x, (x.shape[1],), g, b, eps=1e-5),
    "softmax": lambda x: F.softmax(x, dim=1),
    "log-softmax": lambda x: F.log_softmax(x, dim=1),
    "dropout": lambda x, mask: x * mask / 0.5,
    "add": lambda x, r: x + r,
    "attention": lambda Q, K, V, mask: F.softmax(Q @ K.T / Q.shape[1] ** 0.5 + mask, dim=1) @ V,
    "multihead-attention": lambda X, mask, WQ, WK, WV, WO: torch.einsum(
        "hne,hed->nd", F.softmax(torch.einsum("nd,dhe->hne", X, WQ) @ torch.einsum("nd,dhe->hen", X, WK)
                                 / WQ.shape[2] ** 0.5 + mask, dim=2) @ torch.einsum("nd,dhe->hne", X, WV), WO),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky-relu": lambda x: F.leaky_relu(x, 0.01),
    "softplus": F.softplus,
    "identity": lambda x: x * 1,
    "exp": torch.exp,
    "elu": lambda x: F.elu(x, 1.0),
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu-tanh": lambda x: F.gelu(x, approximate="tanh"),
    "selu": F.selu,
    "mish": F.mish,
    "softsign": F.softsign,
    # not F.hardsigmoid: its float64 backward multiplies by the float32 constant 1.0f/6.0f
    # (0.1666666716..., 3e-8 relative off 1/6), so it cannot be a 1e-10 reference; relu6(x + 3)/6 is exact
    "hard-sigmoid": lambda x: F.relu6(x + 3) / 6,
    "hard-tanh": F.hardtanh,
    "swish": F.silu,                 # swish with beta = 1 (the record's default) is SiLU
    "rmsnorm": _torch_rmsnorm,
}


def _layer(name):
    if name == "rmsnorm":
        return Layer.parse(RMSNORM, "rmsnorm")
    return next(record for record in LAYERS if record.name == name).layer()


def _arrays(layer, sizes, rng):
    values = []
    for array in layer.differentiable:
        shape = tuple(sizes[str(s)] for s in array.sizes)
        if array.name == "mask":
            values.append((rng.random(shape) < 0.5).astype(np.float64))
        else:
            values.append(rng.standard_normal(shape))
    return values


def _relative(found, expected):
    return np.max(np.abs(found - expected)) / max(np.max(np.abs(expected)), 1e-300)


SIZES = ({"N": 3, "D": 4, "M": 2, "K": 5, "F": 3, "H": 2, "E": 3}, {"N": 17, "D": 9, "M": 6, "K": 11, "F": 5, "H": 3, "E": 4})


def test_every_builtin_layer_has_a_torch_reference():
    assert {record.name for record in LAYERS} | {"rmsnorm"} == set(TORCH)


@pytest.mark.parametrize("sizes", SIZES, ids=("small", "larger"))
@pytest.mark.parametrize("name", sorted(TORCH))
def test_exported_backward_equals_torch_autograd(name, sizes):
    layer = _layer(name)
    module = layer_module(derive_layer(layer))
    rng = np.random.default_rng(7)
    values = _arrays(layer, sizes, rng)
    out, cache = module.forward(*values)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    expected_out = TORCH[name](*tensors)
    assert _relative(out, expected_out.detach().numpy()) < 1e-12
    (expected_out * torch.tensor(dout)).sum().backward()
    assert len(grads) == len(values)
    for array, found, tensor in zip(layer.differentiable, grads, tensors):
        assert found.shape == tensor.shape, array.name
        assert _relative(found, tensor.grad.numpy()) < 1e-10, array.name


@pytest.mark.parametrize("name", sorted(TORCH))
def test_exported_backward_equals_central_differences(name):
    layer = _layer(name)
    module = layer_module(derive_layer(layer))
    rng = np.random.default_rng(3)
    values = _arrays(layer, SIZES[0], rng)
    out, cache = module.forward(*values)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    h = 1e-6
    for position, (array, found) in enumerate(zip(layer.differentiable, grads)):
        numeric = np.zeros_like(values[position])
        for flat in range(numeric.size):
            plus = [v.copy() for v in values]
            minus = [v.copy() for v in values]
            plus[position].flat[flat] += h
            minus[position].flat[flat] -= h
            numeric.flat[flat] = (np.sum(module.forward(*plus)[0] * dout) - np.sum(module.forward(*minus)[0] * dout)) / (2 * h)
        assert _relative(found, numeric) < 1e-6, array.name


def _cs231n_rel_error(x, y):
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def _cs231n_numerical_gradient(f, x, df, h=1e-5):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        positive = f(x).copy()
        x[index] = old - h
        negative = f(x).copy()
        x[index] = old
        grad[index] = np.sum((positive - negative) * df) / (2 * h)
    return grad


def test_cs231n_batchnorm_gradient_check():
    """CS231n assignment 2, BatchNormalization.ipynb: N, D = 4, 5; x = 5 * randn + 12; errors below 1e-8."""
    module = layer_module(derive_layer("batchnorm"))
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)
    dx_num = _cs231n_numerical_gradient(lambda x_: module.forward(x_, gamma, beta)[0], x.copy(), dout)
    dg_num = _cs231n_numerical_gradient(lambda g_: module.forward(x, g_, beta)[0], gamma.copy(), dout)
    db_num = _cs231n_numerical_gradient(lambda b_: module.forward(x, gamma, b_)[0], beta.copy(), dout)
    _, cache = module.forward(x, gamma, beta)
    dx, dgamma, dbeta = module.backward(dout, cache)
    assert _cs231n_rel_error(dx_num, dx) < 1e-8
    assert _cs231n_rel_error(dg_num, dgamma) < 1e-8
    assert _cs231n_rel_error(db_num, dbeta) < 1e-8


def test_exported_code_has_no_python_loop():
    for record in LAYERS:
        source = layer_source(derive_layer(record.layer()))
        # forward and backward; gelu's module then carries Cody's erf, whose Horner loops run over a
        # fixed tuple of coefficients on whole arrays (export/_erf.py), not over elements
        code = source.split('"""', 2)[2].split("\ndef cody_")[0]
        assert "for " not in code, record.name
        assert "while " not in code, record.name
    assert "def cody_erf(" in layer_source(derive_layer("gelu"))


def test_export_writes_a_standalone_module(tmp_path):
    import importlib.util
    path = export_layer_module(derive_layer("layernorm"), tmp_path / "ln.py")
    spec = importlib.util.spec_from_file_location("ln", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "Shapes" in module.__doc__ and "dx[n, d] =" in module.__doc__
    x = np.random.default_rng(0).standard_normal((5, 3))
    out, cache = module.forward(x, np.ones(3), np.zeros(3))
    assert np.allclose(out.mean(axis=1), 0) and np.allclose(out.std(axis=1), 1, atol=1e-4)
    assert [g.shape for g in module.backward(np.ones_like(out), cache)] == [(5, 3), (3,), (3,)]


#: More user-defined layers: several outputs and an unused input, a gate, a three-way contraction, a transposed
#: use, constants and abs, a reduction inside an elementwise function.
USER = {
    "two-outputs": ("input x[N, D], u[N, D]\nparam w[D]\nh[n, d] = x[n, d] * w[d]\ny[n, d] = tanh(h[n, d])\n"
                    "z[n] = sum(h[n, d]^2, d)\noutput y, z\n",
                    lambda x, u, w: (torch.tanh(x * w), ((x * w) ** 2).sum(1))),
    "glu": ("input a[N, D], b[N, D]\ny[n, d] = a[n, d] * sigmoid(b[n, d])\noutput y\n",
            lambda a, b: (a * torch.sigmoid(b),)),
    "bilinear": ("input x[N, I], z[N, J]\nparam W[I, J, K]\ny[n, k] = sum(x[n, i] * W[i, j, k] * z[n, j], i, j)\noutput y\n",
                 lambda x, z, W: (torch.einsum("ni,ijk,nj->nk", x, W, z),)),
    "transposed": ("input x[N, D]\nparam W[M, D]\ny[n, m] = sum(W[m, d] * x[n, d], d)\noutput y\n",
                   lambda x, W: (x @ W.T,)),
    "constants": ("input x[N, D]\nconst c = -2.5\ny[n, d] = c * x[n, d]^3 + abs(x[n, d])\noutput y\n",
                  lambda x: (-2.5 * x ** 3 + x.abs(),)),
    "centred-exp": ("input x[N, D]\nm[n] = sum(x[n, d], d) / D\ny[n, d] = exp(x[n, d] - m[n])\noutput y\n",
                    lambda x: (torch.exp(x - x.mean(1, keepdim=True)),)),
}


@pytest.mark.parametrize("name", sorted(USER))
def test_user_defined_layers_equal_torch_autograd(name):
    text, reference = USER[name]
    layer = Layer.parse(text, name)
    module = layer_module(derive_layer(layer))
    rng = np.random.default_rng(11)
    sizes = {"N": 4, "D": 3, "I": 2, "J": 3, "K": 5, "M": 2}
    values = [rng.standard_normal(tuple(sizes[str(s)] for s in a.sizes)) for a in layer.differentiable]
    out, cache = module.forward(*values)
    outs = out if isinstance(out, tuple) else (out,)
    douts = [rng.standard_normal(o.shape) for o in outs]
    grads = module.backward(douts[0] if len(douts) == 1 else douts, cache)
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    expected = reference(*tensors)
    for found, wanted in zip(outs, expected):
        assert _relative(found, wanted.detach().numpy()) < 1e-12
    sum((t * torch.tensor(d)).sum() for t, d in zip(expected, douts)).backward()
    for array, found, tensor in zip(layer.differentiable, grads, tensors):
        assert found.dtype == np.float64 and found.shape == tensor.shape, array.name
        wanted = tensor.grad.numpy() if tensor.grad is not None else np.zeros_like(found)
        assert np.max(np.abs(found - wanted)) <= 1e-10 * max(1.0, np.max(np.abs(wanted))), array.name

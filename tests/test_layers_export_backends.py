"""Layer and model modules printed for JAX and torch (one index printer per backend) against torch autograd of
the same forward, written independently (tests/test_layers_export.py's references), in float64 to 1e-10.
The optional attention mask, in every backend."""
from __future__ import annotations

import re

import numpy as np
import pytest

from symbackprop.cli import main
from symbackprop.export._layer_module import layer_module, layer_source
from symbackprop.export._model_module import model_module
from symbackprop.layers import derive_layer
from symbackprop.models import build_model, derive_model

from optional_libraries import require  # noqa: E402
torch = require("torch", "the reference is torch autograd")
from test_layers_export import SIZES, TORCH, USER, _arrays, _layer, _relative  # noqa: E402
from test_models import _data, _torch_cost  # noqa: E402

BACKENDS = ("numpy", "jax", "torch")

MODELS = [("affine(16) > layernorm > relu > affine(3) > softmax", "categorical-cross-entropy", 5),
          ("affine(6) > batchnorm > relu > affine(4) > softmax", "categorical-cross-entropy", 5),
          ("affine(6) > residual(layernorm > affine(6) > tanh) > affine(3) > sigmoid", "cross-entropy", 4),
          ("affine(5) > tanh > affine(3) > log-softmax", "categorical-cross-entropy", 4)]


def _backend(name):
    if name == "jax":
        jax = require("jax", "the jax backend needs jax")
        jax.config.update("jax_enable_x64", True)
        return lambda a: jax.numpy.asarray(a), lambda a: np.asarray(a)
    if name == "torch":
        return torch.tensor, lambda a: a.numpy()
    return np.asarray, np.asarray


@pytest.mark.parametrize("backend", ("jax", "torch"))
@pytest.mark.parametrize("name", sorted(TORCH))
def test_layer_module_in_each_backend_equals_torch_autograd(name, backend):
    to, back = _backend(backend)
    layer = _layer(name)
    module = layer_module(derive_layer(layer), backend=backend)
    rng = np.random.default_rng(7)
    values = _arrays(layer, SIZES[1], rng)
    out, cache = module.forward(*map(to, values))
    dout = rng.standard_normal(tuple(out.shape))
    grads = module.backward(to(dout), cache)
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    expected = TORCH[name](*tensors)
    assert _relative(back(out), expected.detach().numpy()) < 1e-12
    (expected * torch.tensor(dout)).sum().backward()
    assert len(grads) == len(values)
    for array, found, tensor in zip(layer.differentiable, grads, tensors):
        found = back(found)
        assert found.dtype == np.float64 and found.shape == tensor.shape, array.name
        assert _relative(found, tensor.grad.numpy()) < 1e-10, array.name


@pytest.mark.parametrize("backend", ("jax", "torch"))
@pytest.mark.parametrize("name", sorted(USER))
def test_user_layer_in_each_backend_equals_torch_autograd(name, backend):
    from symbackprop.layers import Layer
    to, back = _backend(backend)
    text, reference = USER[name]
    layer = Layer.parse(text, name)
    module = layer_module(derive_layer(layer), backend=backend)
    rng = np.random.default_rng(11)
    sizes = {"N": 4, "D": 3, "I": 2, "J": 3, "K": 5, "M": 2}
    values = [rng.standard_normal(tuple(sizes[str(s)] for s in a.sizes)) for a in layer.differentiable]
    out, cache = module.forward(*map(to, values))
    outs = out if isinstance(out, tuple) else (out,)
    douts = [rng.standard_normal(tuple(o.shape)) for o in outs]
    grads = module.backward(to(douts[0]) if len(douts) == 1 else [to(d) for d in douts], cache)
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    expected = reference(*tensors)
    sum((t * torch.tensor(d)).sum() for t, d in zip(expected, douts)).backward()
    for array, found, tensor in zip(layer.differentiable, grads, tensors):
        found = back(found)
        wanted = tensor.grad.numpy() if tensor.grad is not None else np.zeros_like(found)
        assert np.max(np.abs(found - wanted)) <= 1e-10 * max(1.0, np.max(np.abs(wanted))), array.name


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec, loss, size", MODELS, ids=[m[0] for m in MODELS])
def test_model_module_in_each_backend_equals_torch_autograd(spec, loss, size, backend):
    to, back = _backend(backend)
    model = build_model(spec, loss, size)
    module = model_module(model, derive_model(model), backend)
    params, X, Y = _data(model, 9, seed=9)
    cost, grads = module.cost_and_gradients([to(p) for p in params], to(X), to(Y))
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    reference = _torch_cost(model.spec, model.loss, torch.tensor(X), torch.tensor(Y), tparams)
    reference.backward()
    assert abs(cost - reference.item()) <= 1e-10 * abs(reference.item())
    for name, mine, theirs in zip(model.params, grads, tparams):
        expected = theirs.grad.numpy()
        scale = max(np.max(np.abs(expected)), 1e-4)   # a bias before batch norm: exactly 0, both sides rounding noise
        assert np.max(np.abs(back(mine) - expected)) <= 1e-10 * scale, name


@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_mask_is_optional(backend):
    """forward(Q, K, V) is attention without a mask: the same as an explicit zero mask, and as torch's."""
    to, back = _backend(backend)
    module = layer_module(derive_layer(_layer("attention")), backend=backend)
    rng = np.random.default_rng(5)
    Q, K, V = rng.standard_normal((4, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    out, cache = module.forward(to(Q), to(K), to(V))
    dQ, dK, dV, _ = module.backward(to(np.ones((4, 2))), cache)
    tensors = [torch.tensor(a, requires_grad=True) for a in (Q, K, V)]
    expected = torch.nn.functional.scaled_dot_product_attention(*tensors)
    expected.sum().backward()
    assert _relative(back(out), expected.detach().numpy()) < 1e-12
    for found, tensor in zip((dQ, dK, dV), tensors):
        assert _relative(back(found), tensor.grad.numpy()) < 1e-10
    assert "def forward(Q, K, V, mask=None):" in layer_source(derive_layer(_layer("attention")), backend=backend)


@pytest.mark.parametrize("backend", ("jax", "torch"))
def test_export_cli_writes_layer_and_model_modules_for_the_backend(tmp_path, capsys, backend):
    target = tmp_path / "bn.py"
    assert main(["export", "--layer", "batchnorm", "--backend", backend, "-o", str(target)]) == 0
    text = target.read_text()
    assert ("import torch" if backend == "torch" else "import jax.numpy as jnp") in text
    code = text.split('"""', 2)[2]
    assert not re.search(r"^import numpy|(?<![\w.])np\.", code, re.MULTILINE)
    model = tmp_path / "model.py"
    assert main(["export", "--model", "affine(8) > layernorm > relu > affine(3) > softmax", "--loss",
                 "categorical-cross-entropy", "--input-size", "4", "--backend", backend, "-o", str(model)]) == 0
    assert f"({backend})" in capsys.readouterr().out


Fn = torch.nn.functional

#: window layers: (name, layout, stride, pad or pool size, input shape, other arrays' shapes, torch forward in cs231n
#: layout); integer inputs for max pooling make tied maxima (routed to the first, as torch)
WINDOWS = [
    ("conv2d", "cs231n", 2, 1, (2, 3, 7, 6), [(4, 3, 3, 3), (4,)], lambda x, w, b: Fn.conv2d(x, w, b, stride=2, padding=1)),
    ("conv2d", "cs231n", 1, 0, (2, 2, 5, 5), [(3, 2, 2, 2), (3,)], lambda x, w, b: Fn.conv2d(x, w, b)),
    ("conv2d", "ng-dls", 2, 2, (3, 4, 4, 2), [(2, 2, 2, 5), (1, 1, 1, 5)], lambda x, w, b: Fn.conv2d(
        x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), b.reshape(-1), stride=2, padding=2).permute(0, 2, 3, 1)),
    ("avgpool", "cs231n", 2, 2, (2, 3, 8, 8), [], lambda x: Fn.avg_pool2d(x, 2, 2)),
    ("avgpool", "ng-dls", 1, 3, (2, 5, 6, 3), [], lambda x: Fn.avg_pool2d(x.permute(0, 3, 1, 2), 3, 1).permute(0, 2, 3, 1)),
    ("maxpool", "cs231n", 1, 3, (2, 3, 5, 6), [], lambda x: Fn.max_pool2d(x, 3, 1)),
    ("maxpool", "ng-dls", 2, 2, (2, 6, 7, 3), [], lambda x: Fn.max_pool2d(x.permute(0, 3, 1, 2), 2, 2).permute(0, 2, 3, 1)),
]


def window_case(case, seed=5):
    """(the layer, the arrays, the torch forward) of a window case."""
    from symbackprop.layers._window_records import window_record
    name, layout, stride, extra, shape, others, reference = case
    options = {"pad": extra} if name == "conv2d" else {"size": extra}
    layer = window_record(name, stride=stride, layout=layout, **options).layer()
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(float) if name == "maxpool" else rng.standard_normal(shape)
    return layer, [x, *(rng.standard_normal(s) for s in others)], reference


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", WINDOWS, ids=[f"{c[0]}-{c[1]}-s{c[2]}-{c[3]}" for c in WINDOWS])
def test_window_layer_in_each_backend_equals_torch_autograd(case, backend):
    to, back = _backend(backend)
    layer, values, reference = window_case(case)
    module = layer_module(derive_layer(layer), backend=backend)
    out, cache = module.forward(*map(to, values))
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    expected = reference(*tensors)
    assert tuple(out.shape) == tuple(expected.shape)
    assert _relative(back(out), expected.detach().numpy()) < 1e-12
    dout = np.random.default_rng(6).standard_normal(tuple(out.shape))
    (expected * torch.tensor(dout)).sum().backward()
    for array, found, tensor in zip(layer.differentiable, module.backward(to(dout), cache), tensors):
        assert tuple(found.shape) == tuple(tensor.shape), array.name
        assert _relative(back(found), tensor.grad.numpy()) < 1e-10, array.name

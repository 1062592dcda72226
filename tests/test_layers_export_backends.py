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

torch = pytest.importorskip("torch", reason="the reference is torch autograd")
from test_layers_export import SIZES, TORCH, USER, _arrays, _layer, _relative  # noqa: E402
from test_models import _data, _torch_cost  # noqa: E402

BACKENDS = ("numpy", "jax", "torch")

MODELS = [("affine(16) > layernorm > relu > affine(3) > softmax", "categorical-cross-entropy", 5),
          ("affine(6) > batchnorm > relu > affine(4) > softmax", "categorical-cross-entropy", 5),
          ("affine(6) > residual(layernorm > affine(6) > tanh) > affine(3) > sigmoid", "cross-entropy", 4),
          ("affine(5) > tanh > affine(3) > log-softmax", "categorical-cross-entropy", 4)]


def _backend(name):
    if name == "jax":
        jax = pytest.importorskip("jax", reason="the jax backend needs jax")
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


def test_window_layer_for_another_backend_is_refused_in_one_line(tmp_path, capsys):
    assert main(["export", "--layer", "conv2d", "--backend", "torch", "-o", str(tmp_path / "c.py")]) == 2
    err = capsys.readouterr().err
    assert "numpy only so far, not --backend torch" in err and "Traceback" not in err

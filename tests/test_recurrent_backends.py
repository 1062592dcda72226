"""The recurrent layers (rnn, lstm, gru, a user's cell) exported for torch: forward and backward through time
printed by the torch index printer, compared with torch autograd of torch.nn.RNN/LSTM/GRU (the reference of
tests/test_layers_recurrent.py) or of the same forward written in torch, in float64."""
from __future__ import annotations

import numpy as np
import pytest

from symbackprop.export._recurrent_module import recurrent_module, recurrent_source
from symbackprop.layers import Layer, derive_layer, layer_record
from optional_libraries import require
from test_layers_recurrent import GATED, LEAKY, _params, _torch_reference

torch = require("torch", "the torch export of the recurrent layers")


def _close(got, want, tolerance=1e-10):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= tolerance * max(np.abs(want).max(), 1e-300)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T", [1, 2, 7])
def test_torch_export_equals_torch_autograd(name, T):
    rng = np.random.default_rng(100 + T)
    N, D, H = 3, 4, 5
    layer = layer_record(name).layer()
    p = _params(name, D, H, rng)
    x = rng.standard_normal((T, N, D))
    states = [rng.standard_normal((N, H)) for _ in layer.states]
    source = recurrent_source(derive_layer(name), backend="torch")
    assert "import torch" in source and "np." not in source and "numpy" not in source.split('"""')[2]
    module = recurrent_module(derive_layer(name), backend="torch")
    out, cache = module.forward(torch.tensor(x), *(torch.tensor(s) for s in states),
                                *(torch.tensor(v) for v in p.values()))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    dout = rng.standard_normal(tuple(out.shape))
    reference, final_c, leaves = _torch_reference(name, x, states, p)
    cost = (reference * torch.tensor(dout)).sum()
    extra = {}
    if final_c is not None:
        dc_last = rng.standard_normal((N, H))
        extra = {"dc_last": torch.tensor(dc_last)}
        cost = cost + (final_c * torch.tensor(dc_last)).sum()
    cost.backward()
    _close(out.numpy(), reference.detach().numpy())
    grads = module.backward(torch.tensor(dout), cache, **extra)
    assert len(grads) == len(leaves)
    for got, leaf in zip(grads, leaves):
        assert isinstance(got, torch.Tensor)
        _close(got.numpy(), leaf.grad.numpy())


@pytest.mark.parametrize("notation", ["cs231n", "ng-dls"])
def test_torch_export_in_the_notations_layouts_equals_torch_autograd(notation):
    rng = np.random.default_rng(21)
    T, N, D, H = 3, 2, 3, 4
    p = _params("lstm", D, H, rng)
    x, h0, c0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dout, dc_last = rng.standard_normal((T, N, H)), rng.standard_normal((N, H))
    reference, final_c, leaves = _torch_reference("lstm", x, [h0, c0], p)
    ((reference * torch.tensor(dout)).sum() + (final_c * torch.tensor(dc_last)).sum()).backward()
    module = recurrent_module(derive_layer("lstm"), notation, backend="torch")
    T_ = torch.tensor
    if notation == "cs231n":
        h, cache = module.forward(T_(x.transpose(1, 0, 2)), T_(h0), T_(c0), *map(T_, p.values()))
        grads = [g.numpy() for g in module.backward(T_(dout.transpose(1, 0, 2)), cache, dc_last=T_(dc_last))]
        converted = [g.transpose(1, 0, 2) if g.ndim == 3 else g for g in grads]
        h = h.numpy().transpose(1, 0, 2)
    else:
        joined = [np.concatenate([p[f"W{g}h"].T, p[f"W{g}x"].T], axis=1) for g in "fuco"]
        biases = [p[f"b{g}"][:, None] for g in "fuco"]
        args = [x.T, h0.T, c0.T, *(v for pair in zip(joined, biases) for v in pair)]
        h, cache = module.forward(*(T_(np.ascontiguousarray(a)) for a in args))
        grads = [g.numpy() for g in module.backward(T_(np.ascontiguousarray(dout.T)), cache,
                                                    dc_last=T_(np.ascontiguousarray(dc_last.T)))]
        converted = [g.T for g in grads[:3]]
        for dW, db in zip(grads[3::2], grads[4::2]):
            converted += [dW[:, H:].T, dW[:, :H].T, db[:, 0]]
        h = h.numpy().T
    _close(h, reference.detach().numpy())
    for got, leaf in zip(converted, leaves):
        _close(got, leaf.grad.numpy())


def _leaky_reference(arrays):
    x, s0, W, U, lk = leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    s, states = s0, []
    for t in range(x.shape[0]):
        a = torch.sigmoid(lk)
        s = (1 - a) * s + a * torch.tanh(x[t] @ W + s @ U)
        states.append(s)
    return torch.stack(states), leaves


def _gated_reference(arrays):
    x, h, Wfx, Wfh, bf, Wcx, Wch, bc = leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    states = []
    for t in range(x.shape[0]):
        f = torch.sigmoid(x[t] @ Wfx + h @ Wfh + bf)
        h = (1 - f) * h + f * torch.tanh(x[t] @ Wcx + h @ Wch + bc)
        states.append(h)
    return torch.stack(states), leaves


@pytest.mark.parametrize("text, name, reference, shapes", [
    (LEAKY, "leaky", _leaky_reference, [(5, 2, 3), (2, 4), (3, 4), (4, 4), (4,)]),
    (GATED, "gated", _gated_reference, [(4, 2, 3), (2, 5), (3, 5), (5, 5), (5,), (3, 5), (5, 5), (5,)]),
])
def test_a_user_cell_exported_for_torch_equals_autograd_of_its_forward(text, name, reference, shapes):
    module = recurrent_module(derive_layer(Layer.parse(text, name)), backend="torch")
    rng = np.random.default_rng(31)
    arrays = [rng.standard_normal(shape) * 0.7 for shape in shapes]
    out, cache = module.forward(*map(torch.tensor, arrays))
    dout = rng.standard_normal(tuple(out.shape))
    grads = module.backward(torch.tensor(dout), cache)
    states, leaves = reference(arrays)
    (states * torch.tensor(dout)).sum().backward()
    _close(out.numpy(), states.detach().numpy())
    for got, leaf in zip(grads, leaves):
        _close(got.numpy(), leaf.grad.numpy())


def test_a_backend_without_idioms_is_refused_with_what_is_accepted():
    from symbackprop.errors import ExportError
    with pytest.raises(ExportError, match="--backend cupy: a recurrent layer is exported for numpy or torch or jax"):
        recurrent_source(derive_layer("rnn"), backend="cupy")


def _jax():
    jax = require("jax", "the jax export of the recurrent layers")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T", [1, 2, 7])
def test_jax_export_equals_torch_autograd(name, T):
    jnp = _jax().numpy
    rng = np.random.default_rng(300 + T)
    N, D, H = 3, 4, 5
    layer = layer_record(name).layer()
    p = _params(name, D, H, rng)
    x = rng.standard_normal((T, N, D))
    states = [rng.standard_normal((N, H)) for _ in layer.states]
    source = recurrent_source(derive_layer(name), backend="jax")
    assert "import jax.numpy as jnp" in source and "np." not in source.replace("jnp.", "")
    module = recurrent_module(derive_layer(name), backend="jax")
    out, cache = module.forward(jnp.asarray(x), *map(jnp.asarray, states), *map(jnp.asarray, p.values()))
    assert out.dtype == jnp.float64
    dout = rng.standard_normal(out.shape)
    reference, final_c, leaves = _torch_reference(name, x, states, p)
    cost = (reference * torch.tensor(dout)).sum()
    extra = {}
    if final_c is not None:
        dc_last = rng.standard_normal((N, H))
        extra = {"dc_last": jnp.asarray(dc_last)}
        cost = cost + (final_c * torch.tensor(dc_last)).sum()
    cost.backward()
    _close(np.asarray(out), reference.detach().numpy())
    grads = module.backward(jnp.asarray(dout), cache, **extra)
    assert len(grads) == len(leaves)
    for got, leaf in zip(grads, leaves):
        _close(np.asarray(got), leaf.grad.numpy())


@pytest.mark.parametrize("notation", ["cs231n", "ng-dls"])
def test_jax_export_in_the_notations_layouts_equals_the_numpy_export(notation):
    """The same layout code as NumPy's (views, the ng-dls joined Wf), printed in jnp: equal to the tested NumPy module."""
    jnp = _jax().numpy
    rng = np.random.default_rng(22)
    T, N, D, H = 3, 2, 3, 4
    p = _params("lstm", D, H, rng)
    x, h0, c0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dout, dc_last = rng.standard_normal((T, N, H)), rng.standard_normal((N, H))
    if notation == "cs231n":
        args, dout, dc_last = [x.transpose(1, 0, 2), h0, c0, *p.values()], dout.transpose(1, 0, 2), dc_last
    else:
        joined = [np.concatenate([p[f"W{g}h"].T, p[f"W{g}x"].T], axis=1) for g in "fuco"]
        biases = [p[f"b{g}"][:, None] for g in "fuco"]
        args, dout, dc_last = [x.T, h0.T, c0.T, *(v for pair in zip(joined, biases) for v in pair)], dout.T, dc_last.T
    numpy_module = recurrent_module(derive_layer("lstm"), notation)
    jax_module = recurrent_module(derive_layer("lstm"), notation, backend="jax")
    want, cache = numpy_module.forward(*args)
    expected = numpy_module.backward(dout, cache, dc_last=dc_last)
    got, cache = jax_module.forward(*map(jnp.asarray, args))
    _close(np.asarray(got), want)
    for g, e in zip(jax_module.backward(jnp.asarray(dout), cache, dc_last=jnp.asarray(dc_last)), expected):
        _close(np.asarray(g), e)


@pytest.mark.parametrize("text, name, reference, shapes", [
    (LEAKY, "leaky", _leaky_reference, [(5, 2, 3), (2, 4), (3, 4), (4, 4), (4,)]),
    (GATED, "gated", _gated_reference, [(4, 2, 3), (2, 5), (3, 5), (5, 5), (5,), (3, 5), (5, 5), (5,)]),
])
def test_a_user_cell_exported_for_jax_equals_autograd_of_its_forward(text, name, reference, shapes):
    jnp = _jax().numpy
    module = recurrent_module(derive_layer(Layer.parse(text, name)), backend="jax")
    rng = np.random.default_rng(32)
    arrays = [rng.standard_normal(shape) * 0.7 for shape in shapes]
    out, cache = module.forward(*map(jnp.asarray, arrays))
    dout = rng.standard_normal(out.shape)
    grads = module.backward(jnp.asarray(dout), cache)
    states, leaves = reference(arrays)
    (states * torch.tensor(dout)).sum().backward()
    _close(np.asarray(out), states.detach().numpy())
    for got, leaf in zip(grads, leaves):
        _close(np.asarray(got), leaf.grad.numpy())


def test_cli_writes_the_torch_and_jax_modules_of_a_recurrent_layer(tmp_path, capsys):
    from symbackprop.cli import main
    target = tmp_path / "gru_torch.py"
    assert main(["export", "--layer", "gru", "--notation", "cs231n", "--backend", "torch", "-o", str(target)]) == 0
    assert "(layout cs231n, torch)" in capsys.readouterr().out
    source = target.read_text(encoding="utf-8")
    assert "import torch" in source and "for t in range(T):" in source and "np." not in source
    assert main(["export", "--layer", "rnn", "--backend", "jax", "-o", str(tmp_path / "rnn_jax.py")]) == 0
    assert "import jax.numpy as jnp" in (tmp_path / "rnn_jax.py").read_text(encoding="utf-8")


# ---- as a torch autograd op: the time loop inside, backward the derived BPTT ---------------------------------

def _op(derivation, notation=None):
    from symbackprop.export._op_module import op_module
    from symbackprop.export._recurrent_op import recurrent_op_source
    return op_module(recurrent_op_source(derivation, "torch", notation), f"symbackprop_op_{derivation.layer.name}")


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T", [1, 2, 7])
def test_the_op_equals_autograd_of_torch_nn(name, T):
    rng = np.random.default_rng(200 + T)
    N, D, H = 2, 3, 4
    layer = layer_record(name).layer()
    p = _params(name, D, H, rng)
    x = rng.standard_normal((T, N, D))
    states = [rng.standard_normal((N, H)) for _ in layer.states]
    dout = rng.standard_normal((T, N, H))
    reference, _, leaves = _torch_reference(name, x, states, p)
    (reference * torch.tensor(dout)).sum().backward()
    op = _op(derive_layer(name))
    mine = [torch.tensor(a, requires_grad=True) for a in [x, *states, *p.values()]]
    out = getattr(op, name)(*mine)
    _close(out.detach().numpy(), reference.detach().numpy())
    (out * torch.tensor(dout)).sum().backward()
    for got, leaf in zip(mine, leaves):
        _close(got.grad.numpy(), leaf.grad.numpy())


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_the_op_passes_gradcheck_and_its_module_holds_the_weights(name):
    rng = np.random.default_rng(7)
    T, N, D, H = 3, 2, 3, 2
    layer = layer_record(name).layer()
    p = _params(name, D, H, rng)
    arrays = [rng.standard_normal((T, N, D)), *(rng.standard_normal((N, H)) for _ in layer.states), *p.values()]
    op = _op(derive_layer(name))
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    assert torch.autograd.gradcheck(getattr(op, name), tensors, eps=1e-6, atol=1e-8)
    module = getattr(op, name.capitalize())(D=D, H=H, dtype=torch.float64)
    assert sorted(n for n, _ in module.named_parameters()) == sorted(p)
    with torch.no_grad():
        for key, value in p.items():
            getattr(module, key).copy_(torch.tensor(value))
    x, *states = tensors[:1 + len(layer.states)]
    out = module(x.detach(), *(s.detach() for s in states))
    out.square().sum().backward()
    reference, _, leaves = _torch_reference(name, arrays[0], [a for a in arrays[1:1 + len(layer.states)]], p)
    reference.square().sum().backward()
    for key, leaf in zip(p, leaves[1 + len(layer.states):]):
        _close(getattr(module, key).grad.numpy(), leaf.grad.numpy())


def test_a_user_cell_as_an_op_passes_gradcheck_and_equals_autograd():
    derivation = derive_layer(Layer.parse(GATED, "gated"))
    op = _op(derivation)
    rng = np.random.default_rng(41)
    shapes = [(4, 2, 3), (2, 3), (3, 3), (3, 3), (3,), (3, 3), (3, 3), (3,)]
    arrays = [rng.standard_normal(shape) * 0.7 for shape in shapes]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    assert torch.autograd.gradcheck(op.gated, tensors, eps=1e-6, atol=1e-8)
    out = op.gated(*tensors)
    dout = rng.standard_normal(tuple(out.shape))
    (out * torch.tensor(dout)).sum().backward()
    states, leaves = _gated_reference(arrays)
    (states * torch.tensor(dout)).sum().backward()
    for got, leaf in zip(tensors, leaves):
        _close(got.grad.numpy(), leaf.grad.numpy())


def test_cli_writes_the_lstm_op_in_the_ng_dls_layout(tmp_path, capsys):
    from symbackprop.cli import main
    from symbackprop.export._op_module import op_module
    target = tmp_path / "lstm_op.py"
    assert main(["export", "--layer", "lstm", "--notation", "ng-dls", "--backend", "torch", "--op",
                 "-o", str(target)]) == 0
    assert "backward derived" in capsys.readouterr().out
    op = op_module(target.read_text(encoding="utf-8"), "symbackprop_op_lstm_ng_dls")
    rng = np.random.default_rng(3)
    T, N, D, H = 3, 2, 3, 2
    p = _params("lstm", D, H, rng)
    x, h0, c0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    joined = [np.concatenate([p[f"W{g}h"].T, p[f"W{g}x"].T], axis=1) for g in "fuco"]
    biases = [p[f"b{g}"][:, None] for g in "fuco"]
    args = [x.T, h0.T, c0.T, *(v for pair in zip(joined, biases) for v in pair)]
    tensors = [torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in args]
    assert torch.autograd.gradcheck(op.lstm, tensors, eps=1e-6, atol=1e-8)
    reference, _, _ = _torch_reference("lstm", x, [h0, c0], p)
    _close(op.lstm(*tensors).detach().numpy().T, reference.detach().numpy())


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T", [1, 7])
def test_the_jax_op_under_jit_and_grad_equals_autograd_of_torch_nn(name, T):
    jax = _jax()
    from symbackprop.export._op_module import op_module
    from symbackprop.export._recurrent_op import recurrent_op_source
    op = op_module(recurrent_op_source(derive_layer(name), "jax"), f"symbackprop_jax_op_{name}")
    rng = np.random.default_rng(400 + T)
    N, D, H = 2, 3, 4
    layer = layer_record(name).layer()
    p = _params(name, D, H, rng)
    x = rng.standard_normal((T, N, D))
    states = [rng.standard_normal((N, H)) for _ in layer.states]
    dout = rng.standard_normal((T, N, H))
    reference, _, leaves = _torch_reference(name, x, states, p)
    (reference * torch.tensor(dout)).sum().backward()
    arrays = [jax.numpy.asarray(a) for a in [x, *states, *p.values()]]
    function = getattr(op, name)

    def cost(*arguments):
        return (function(*arguments) * dout).sum()
    grads = jax.jit(jax.grad(cost, argnums=tuple(range(len(arrays)))))(*arrays)
    _close(np.asarray(jax.jit(function)(*arrays)), reference.detach().numpy())
    for got, leaf in zip(grads, leaves):
        _close(np.asarray(got), leaf.grad.numpy())


def test_cli_writes_the_jax_op_of_a_user_cell_in_its_own_layout(tmp_path, capsys):
    jax = _jax()
    from symbackprop.cli import main
    from symbackprop.export._op_module import op_module
    definition, target = tmp_path / "gated.layer", tmp_path / "gated_op.py"
    definition.write_text(GATED, encoding="utf-8")
    assert main(["export", "--layer-def", str(definition), "--backend", "jax", "--op", "-o", str(target)]) == 0
    assert "jax.custom_vjp" in capsys.readouterr().out
    op = op_module(target.read_text(encoding="utf-8"), "symbackprop_jax_op_gated_cli")
    rng = np.random.default_rng(51)
    shapes = [(4, 2, 3), (2, 5), (3, 5), (5, 5), (5,), (3, 5), (5, 5), (5,)]
    arrays = [rng.standard_normal(shape) * 0.7 for shape in shapes]
    dout = rng.standard_normal((4, 2, 5))
    function = next(getattr(op, n) for n in dir(op) if hasattr(getattr(op, n), "defvjp"))
    grads = jax.grad(lambda *a: (function(*a) * dout).sum(), argnums=tuple(range(8)))(*map(jax.numpy.asarray, arrays))
    states, leaves = _gated_reference(arrays)
    (states * torch.tensor(dout)).sum().backward()
    for got, leaf in zip(grads, leaves):
        _close(np.asarray(got), leaf.grad.numpy())

"""Layers and models exported as autograd ops (--op): a torch.autograd.Function with an nn.Module, and a
jax.custom_vjp function. Every built-in layer (but the window and recurrent ones) and two layers written here
equal the framework's own autograd of the same forward, written independently (tests/test_layers_export.py's
torch references; for JAX also jax.grad of the exported forward), to 1e-10 in float64, also inside a small model
trained by SGD for 5 steps; gradcheck and check_grads pass; the op saves less than autograd of the composed
forward."""
from __future__ import annotations

import re

import numpy as np
import pytest

from symbackprop.cli import main
from symbackprop.export._op_module import layer_op_source, model_op_source, op_module
from symbackprop.layers import Layer, derive_layer
from symbackprop.models import build_model, derive_model

from optional_libraries import require  # noqa: E402
torch = require("torch", "the op's reference is torch autograd")
from test_layers_export import TORCH, _arrays, _layer, _relative  # noqa: E402
from test_models import _data, _torch_cost  # noqa: E402

#: two layers written in the layer language here, in no catalogue, with an independent torch forward
USER = {
    "biased-rmsnorm": ("""\
input  x[N, D]
param  g[D], b[D]
const  eps = 1e-6
ms[n] = sum(x[n, d]^2, d) / D
y[n, d] = g[d] * x[n, d] / sqrt(ms[n] + eps) + b[d]
output y
""", lambda x, g, b: g * x / torch.sqrt((x ** 2).mean(dim=1, keepdim=True) + 1e-6) + b),
    "gated-linear": ("""\
input  x[N, D]
param  W[D, M], V[D, M]
a[n, m] = sum(x[n, d] * W[d, m], d)
h[n, m] = sum(x[n, d] * V[d, m], d)
y[n, m] = a[n, m] * sigmoid(h[n, m])
output y
""", lambda x, W, V: (x @ W) * torch.sigmoid(x @ V)),
}
REFERENCES = {**{name: f for name, f in TORCH.items() if name != "rmsnorm"}, **{n: f for n, (_, f) in USER.items()}}
NAMES = sorted(REFERENCES)
SIZES = {"N": 5, "D": 4, "M": 5, "K": 3, "F": 3, "H": 2, "E": 3}        # M = N: every input is rows of examples


def _the_layer(name):
    return Layer.parse(USER[name][0], name) if name in USER else _layer(name)


_MODULES = {}


def _op(name, backend):
    if (name, backend) not in _MODULES:
        source = layer_op_source(derive_layer(_the_layer(name)), backend)
        _MODULES[name, backend] = op_module(source, f"op_{name.replace('-', '_')}_{backend}"), source
    return _MODULES[name, backend]


def _function(module, name):
    return getattr(module, name.replace("-", "_"))


def _jax():
    jax = require("jax", "the jax op needs jax")
    jax.config.update("jax_enable_x64", True)
    return jax


# ---- torch -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_torch_op_equals_torch_autograd(name):
    layer = _the_layer(name)
    module, _ = _op(name, "torch")
    rng = np.random.default_rng(7)
    values = _arrays(layer, SIZES, rng)
    mine = [torch.tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    out = _function(module, name)(*mine)
    expected = REFERENCES[name](*theirs)
    dout = torch.tensor(rng.standard_normal(tuple(out.shape)))
    assert _relative(out.detach().numpy(), expected.detach().numpy()) < 1e-12
    (out * dout).sum().backward()
    (expected * dout).sum().backward()
    for array, a, b in zip(layer.differentiable, mine, theirs):
        assert a.grad.dtype == torch.float64 and a.grad.shape == b.grad.shape, array.name
        assert _relative(a.grad.numpy(), b.grad.numpy()) < 1e-10, array.name


@pytest.mark.parametrize("name", NAMES)
def test_torch_op_passes_gradcheck(name):
    layer = _the_layer(name)
    module, _ = _op(name, "torch")
    values = _arrays(layer, {"N": 3, "D": 3, "M": 3, "K": 3, "F": 2, "H": 2, "E": 2}, np.random.default_rng(3))
    tensors = tuple(torch.tensor(v, requires_grad=True) for v in values)
    assert torch.autograd.gradcheck(_function(module, name), tensors)


@pytest.mark.parametrize("name", NAMES)
def test_torch_op_in_float32_stays_float32(name):
    layer = _the_layer(name)
    module, _ = _op(name, "torch")
    values = _arrays(layer, SIZES, np.random.default_rng(8))
    single = [torch.tensor(v, dtype=torch.float32, requires_grad=True) for v in values]
    double = [torch.tensor(v, requires_grad=True) for v in values]
    for tensors in (single, double):
        _function(module, name)(*tensors).sum().backward()
    for array, a, b in zip(layer.differentiable, single, double):
        assert a.grad.dtype == torch.float32, array.name
        assert np.max(np.abs(a.grad.double().numpy() - b.grad.numpy())) <= 1e-4 * max(1.0, b.grad.abs().max().item())


def _sgd_curves(name, op_module_class):
    """(the op's losses, autograd's losses) over 5 SGD steps of a small model: each input of the layer a linear
    projection of the data X (a mask stays data), the layer, a squared error against a target."""
    layer = _the_layer(name)
    rng = np.random.default_rng(13)
    X, N = torch.tensor(rng.standard_normal((SIZES["N"], 4))), SIZES["N"]
    projections, data = {}, {}
    for array in (a for a in layer.differentiable if a.kind == "input"):
        shape = tuple(SIZES[str(s)] for s in array.sizes)
        if array.name == "mask":
            data[array.name] = torch.tensor((rng.random(shape) < 0.5).astype(np.float64))
        else:
            projections[array.name] = rng.standard_normal((4, shape[1])) * 0.25
    params = {a.name: rng.standard_normal(tuple(SIZES[str(s)] for s in a.sizes)) * 0.5 for a in layer.params}
    params = {name: value + (1.0 if name in ("gamma", "g") else 0.0) for name, value in params.items()}
    out_shape = tuple(SIZES[str(s)] for s in layer.arrays[layer.outputs[0]].sizes)
    target = torch.tensor(rng.standard_normal(out_shape))

    def train(forward, leaves):
        optimiser = torch.optim.SGD(leaves, lr=0.05)
        losses = []
        for _ in range(5):
            optimiser.zero_grad()
            loss = ((forward() - target) ** 2).sum() / N
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        return losses

    # the op: the nn.Module holds the parameters
    sizes = {str(s) for a in layer.params for s in a.sizes}
    model = op_module_class(**{s: SIZES[s] for s in sizes}, dtype=torch.float64)
    with torch.no_grad():
        for param_name, value in params.items():
            getattr(model, param_name).copy_(torch.tensor(value))
    mine = {k: torch.tensor(v, requires_grad=True) for k, v in projections.items()}

    def op_forward():
        return model(*[X @ mine[a.name] if a.name in mine else data[a.name]
                       for a in layer.differentiable if a.kind == "input"])

    ours = train(op_forward, [*mine.values(), *model.parameters()])
    # autograd of the composed forward, from the same values
    theirs_p = {k: torch.tensor(v, requires_grad=True) for k, v in projections.items()}
    theirs_w = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}

    def reference_forward():
        arguments = [X @ theirs_p[a.name] if a.name in theirs_p else data.get(a.name, theirs_w.get(a.name))
                     for a in layer.differentiable]
        return REFERENCES[name](*arguments)

    return ours, train(reference_forward, [*theirs_p.values(), *theirs_w.values()])


@pytest.mark.parametrize("name", NAMES)
def test_torch_op_inside_a_model_trains_as_autograd(name):
    module, _ = _op(name, "torch")
    class_name = "".join(part.capitalize() for part in name.replace("-", "_").split("_"))
    ours, theirs = _sgd_curves(name, getattr(module, class_name))
    assert len(ours) == 5 and ours[0] != ours[-1]
    assert np.max(np.abs(np.array(ours) - theirs)) <= 1e-10 * max(abs(t) for t in theirs)


def _saved_bytes(run):
    total = [0]

    def pack(tensor):
        total[0] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return total[0]


@pytest.mark.parametrize("name", ["batchnorm", "layernorm", "attention", "biased-rmsnorm"])
def test_torch_op_saves_less_than_autograd_of_the_composed_forward(name):
    layer = _the_layer(name)
    module, _ = _op(name, "torch")
    values = _arrays(layer, {**SIZES, "N": 64, "M": 64, "D": 32, "F": 32}, np.random.default_rng(1))
    composed = {"batchnorm": lambda x, g, b: g * (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5) + b,
                "layernorm": lambda x, g, b: g * (x - x.mean(1, keepdim=True))
                / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + 1e-5) + b,
                "attention": lambda Q, K, V, m: torch.softmax(Q @ K.T / Q.shape[1] ** 0.5 + m, dim=1) @ V,
                "biased-rmsnorm": REFERENCES["biased-rmsnorm"]}[name]
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    ours = _saved_bytes(lambda: _function(module, name)(*tensors))
    theirs = _saved_bytes(lambda: composed(*tensors))
    assert 0 < ours < theirs


# ---- jax ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_jax_op_equals_autograd_under_jit_and_passes_check_grads(name):
    jax = _jax()
    from jax.test_util import check_grads
    layer = _the_layer(name)
    module, _ = _op(name, "jax")
    op = _function(module, name)
    rng = np.random.default_rng(7)
    values = _arrays(layer, SIZES, rng)
    arrays = [jax.numpy.asarray(v) for v in values]
    out = op(*arrays)
    dout = jax.numpy.asarray(rng.standard_normal(out.shape))
    positions = tuple(range(len(arrays)))
    mine = jax.jit(jax.grad(lambda *a: (op(*a) * dout).sum(), argnums=positions))(*arrays)
    # jax's own autograd of the same forward: the exported forward, traced without the custom rule
    own = jax.grad(lambda *a: (module.forward(*a)[0] * dout).sum(), argnums=positions)(*arrays)
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    (REFERENCES[name](*tensors) * torch.tensor(np.asarray(dout))).sum().backward()
    for array, found, wanted, tensor in zip(layer.differentiable, mine, own, tensors):
        assert _relative(np.asarray(found), np.asarray(wanted)) < 1e-10, array.name
        assert _relative(np.asarray(found), tensor.grad.numpy()) < 1e-10, array.name
    small = [jax.numpy.asarray(v) for v in _arrays(layer, {k: 3 for k in SIZES}, np.random.default_rng(4))]
    check_grads(op, tuple(small), order=1, modes=["rev"])


@pytest.mark.parametrize("name", NAMES)
def test_jax_op_in_float32_stays_float32(name):
    jax = _jax()
    layer = _the_layer(name)
    op = _function(_op(name, "jax")[0], name)
    values = _arrays(layer, SIZES, np.random.default_rng(8))
    positions = tuple(range(len(values)))
    grads = {dtype: jax.jit(jax.grad(lambda *a: op(*a).sum(), argnums=positions))(
        *[jax.numpy.asarray(v, dtype=dtype) for v in values]) for dtype in ("float32", "float64")}
    for array, single, double in zip(layer.differentiable, grads["float32"], grads["float64"]):
        assert single.dtype == np.float32, array.name
        assert np.max(np.abs(np.asarray(single, dtype=float) - np.asarray(double))) <= 1e-4 * max(
            1.0, float(np.max(np.abs(np.asarray(double))))), array.name


@pytest.mark.parametrize("name", ["batchnorm", "attention", "gated-linear"])
def test_jax_op_under_vmap_equals_a_loop(name):
    jax = _jax()
    layer = _the_layer(name)
    op = _function(_op(name, "jax")[0], name)
    batches = [[jax.numpy.asarray(v) for v in _arrays(layer, SIZES, np.random.default_rng(seed))] for seed in (1, 2)]
    stacked = [jax.numpy.stack(parts) for parts in zip(*batches)]
    loss = lambda *a: (op(*a) ** 2).sum()  # noqa: E731
    mapped = jax.vmap(jax.grad(loss, argnums=0))(*stacked)
    for index, arrays in enumerate(batches):
        assert _relative(np.asarray(mapped[index]), np.asarray(jax.grad(loss, argnums=0)(*arrays))) < 1e-12


def test_jax_attention_op_without_a_mask():
    jax = _jax()
    op = _op("attention", "jax")[0].attention
    rng = np.random.default_rng(2)
    Q, K, V = (jax.numpy.asarray(rng.standard_normal(s)) for s in ((4, 3), (6, 3), (6, 2)))
    dQ = jax.grad(lambda q: op(q, K, V).sum())(Q)
    tensors = [torch.tensor(np.asarray(a), requires_grad=True) for a in (Q, K, V)]
    torch.nn.functional.scaled_dot_product_attention(*tensors).sum().backward()
    assert _relative(np.asarray(dQ), tensors[0].grad.numpy()) < 1e-10


@pytest.mark.parametrize("name", ["batchnorm", "layernorm", "attention", "biased-rmsnorm", "gated-linear"])
def test_jax_op_inside_a_model_trains_as_autograd(name):
    """5 SGD steps of projections + the op + squared error, against the same model through the exported forward
    differentiated by jax itself."""
    jax = _jax()
    jnp = jax.numpy
    layer = _the_layer(name)
    module, _ = _op(name, "jax")
    op = _function(module, name)
    rng = np.random.default_rng(17)
    X = jnp.asarray(rng.standard_normal((SIZES["N"], 4)))
    inputs = [a for a in layer.differentiable if a.kind == "input"]
    weights = [jnp.asarray(rng.standard_normal((4, SIZES[str(a.sizes[1])])) * 0.5) for a in inputs]
    weights += [jnp.asarray(rng.standard_normal(tuple(SIZES[str(s)] for s in a.sizes)) * 0.5) for a in layer.params]
    target = jnp.asarray(rng.standard_normal(tuple(SIZES[str(s)] for s in layer.arrays[layer.outputs[0]].sizes)))

    def loss(f, w):
        arguments = [X @ p for p in w[:len(inputs)]] + list(w[len(inputs):])
        return ((f(*arguments) - target) ** 2).sum() / SIZES["N"]

    curves = []
    for f in (op, lambda *a: module.forward(*a)[0]):
        w, losses = list(weights), []
        step = jax.jit(jax.value_and_grad(lambda w, f=f: loss(f, w)))
        for _ in range(5):
            value, grads = step(w)
            w = [p - 0.1 * g for p, g in zip(w, grads)]
            losses.append(float(value))
        curves.append(losses)
    assert curves[0][0] != curves[0][-1]
    assert np.max(np.abs(np.array(curves[0]) - curves[1])) <= 1e-10 * max(map(abs, curves[1]))


# ---- models, the modules, the CLI ---------------------------------------------------------------------------
MODEL = ("affine(8) > layernorm > relu > affine(3) > softmax", "categorical-cross-entropy", 4)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_model_op_equals_torch_autograd_of_the_model(backend):
    model = build_model(*MODEL)
    module = op_module(model_op_source(model, derive_model(model), backend), f"model_op_{backend}")
    params, X, Y = _data(model, 7, seed=5)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    reference = _torch_cost(model.spec, model.loss, torch.tensor(X), torch.tensor(Y), tparams)
    reference.backward()
    if backend == "torch":
        mine = [torch.tensor(p, requires_grad=True) for p in params]
        cost = module.model(torch.tensor(X), torch.tensor(Y), *mine).mean()
        cost.backward()
        grads, cost = [p.grad.numpy() for p in mine], cost.item()
        assert [tuple(p.shape) for p in module.Model(dtype=torch.float64).parameters()] == [p.shape for p in params]
    else:
        jax = _jax()
        cost_of = lambda *p: module.model(jax.numpy.asarray(X), jax.numpy.asarray(Y), *p).mean()  # noqa: E731
        cost = cost_of(*params)
        grads = jax.jit(jax.grad(cost_of, argnums=tuple(range(len(params)))))(*map(jax.numpy.asarray, params))
    assert abs(float(cost) - reference.item()) <= 1e-10 * abs(reference.item())
    for name, mine, theirs in zip(model.params, grads, tparams):
        scale = max(theirs.grad.abs().max().item(), 1e-4)
        assert np.max(np.abs(np.asarray(mine) - theirs.grad.numpy())) <= 1e-10 * scale, name


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_op_modules_import_only_their_framework(backend):
    for name in NAMES:
        source = _op(name, backend)[1]
        imports = set(re.findall(r"^(?:import|from) (\S+)", source, re.MULTILINE))
        assert imports == ({"torch"} if backend == "torch" else {"jax", "jax.numpy"}), name
        assert "Saved for backward" in source and "Recomputed in backward" in source


def test_batchnorm_op_docstring_names_what_is_saved():
    source = _op("batchnorm", "torch")[1]
    saved = source.split("Saved for backward", 1)[1].split("Recomputed", 1)[0]
    assert re.findall(r"^    (\w+) ", saved, re.MULTILINE) == ["gamma", "xhat", "var_read"]
    assert "var_read (D,)  made in the forward: var_read[d] = 1/sqrt(eps + var[d])" in saved


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_cli_writes_an_op_module(tmp_path, capsys, backend):
    target = tmp_path / "bn_op.py"
    assert main(["export", "--layer", "batchnorm", "--backend", backend, "--op", "-o", str(target)]) == 0
    assert ("torch.autograd.Function" if backend == "torch" else "@jax.custom_vjp") in target.read_text()
    model = tmp_path / "model_op.py"
    assert main(["export", "--model", MODEL[0], "--loss", MODEL[1], "--input-size", "4", "--backend", backend,
                 "--op", "-o", str(model)]) == 0
    assert "backward derived" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--layer", "batchnorm", "--op"], "--op --backend numpy: an op is written for --backend torch"),
    (["--layer", "lstm", "--op"], "--op --backend numpy: an op is written for --backend torch"),
    (["--op", "--backend", "torch"], "--op: give --layer NAME, --layer-def FILE or --model SPEC"),
])
def test_cli_refuses_an_op_it_cannot_write_in_one_line(tmp_path, capsys, argv, message):
    assert main(["export", *argv, "-o", str(tmp_path / "op.py")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_writes_the_cs231n_batchnorm_op(tmp_path):
    """--notation cs231n names the output out (upstream dout), the op module too; its gradients are the op's."""
    target = tmp_path / "bn_cs231n.py"
    assert main(["export", "--layer", "batchnorm", "--notation", "cs231n", "--backend", "torch", "--op",
                 "-o", str(target)]) == 0
    text = target.read_text()
    assert "def backward(dout, cache):" in text and "return out_, cache" in text     # out: a name the module uses
    course = op_module(text, "op_bn_cs231n")
    values = [torch.tensor(v, requires_grad=True) for v in _arrays(_layer("batchnorm"), SIZES, np.random.default_rng(2))]
    first = torch.autograd.grad(course.batchnorm(*values).sum(), values)
    second = torch.autograd.grad(_op("batchnorm", "torch")[0].batchnorm(*values).sum(), values)
    assert all(torch.equal(a, b) for a, b in zip(first, second))

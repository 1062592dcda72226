"""Second order for models (issue 27): the exported ``hvp``, ``ggn_vp`` and ``diag_ggn`` against torch.func
(float64, 1e-10 of the largest entry): the Hessian as jvp(grad(f)), the GGN as vjp ∘ hvp(loss) ∘ jvp of the
logits, its exact diagonal from torch's full Jacobian and loss Hessian; the Hessian against sympy.hessian of
the fully composed cost of a small concrete model; and the controls that show these tests can fail."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp

from symbackprop.export._second_order_module import second_order_module
from symbackprop.models._second_order import logits_of
from symbackprop.models import build_model, derive_model, parse_model
from optional_libraries import require

torch = require("torch", "comparing the second-order functions with torch.func")
from torch.func import grad, hessian, jacrev, jvp, vjp  # noqa: E402

with warnings.catch_warnings():     # torch's forward-mode decompositions, loaded on the first jvp, call the
    warnings.simplefilter("ignore", DeprecationWarning)      # deprecated torch.jit.script (torch's own warning)
    import torch._decomp.decompositions_for_jvp  # noqa: E402,F401

from test_models import _data, _torch_chain, _torch_cost  # noqa: E402  the independent torch reference

MODELS = {
    "tanh-softmax": ("affine(4) > tanh > affine(3) > softmax", "categorical-cross-entropy", 3),
    "batchnorm-relu": ("affine(5) > batchnorm > relu > affine(3) > softmax", "categorical-cross-entropy", 4),
    "residual-layernorm": ("affine(4) > residual(layernorm > affine(4) > tanh) > affine(3) > sigmoid",
                           "cross-entropy", 3),
    "log-softmax": ("affine(4) > sigmoid > affine(3) > log-softmax", "categorical-cross-entropy", 3),
    "quadratic": ("affine(4) > tanh > affine(2) > identity", "quadratic", 3),
}
HEADS = ("softmax", "log-softmax", "sigmoid")


@pytest.fixture(scope="module", params=list(MODELS))
def exported(request):
    model = build_model(*MODELS[request.param])
    return model, second_order_module(model, derive_model(model))


def _problem(model, seed, n=5):
    params, X, Y = _data(model, n, seed)
    rng = np.random.default_rng(seed + 100)
    V = [rng.standard_normal(p.shape) for p in params]
    return params, X, Y, V


def _torch_split(model, X, Y):
    """(logits(*params), loss_head(logits)): the model cut where the exported GGN cuts it, written in torch."""
    chain = parse_model(model.spec)
    headed = getattr(chain[-1], "name", None) in HEADS
    body = chain[:-1] if headed else chain

    def logits(*params):
        return _torch_chain(body, X, list(params))

    def loss_head(z):
        out = {"softmax": lambda t: torch.softmax(t, 1), "log-softmax": lambda t: torch.log_softmax(t, 1),
               "sigmoid": torch.sigmoid}[chain[-1].name](z) if headed else z
        if model.loss == "categorical-cross-entropy":
            log = out if chain[-1].name == "log-softmax" else torch.log(out)
            return -(Y * log).sum(1).mean()
        if model.loss == "cross-entropy":
            return -(Y * torch.log(out) + (1 - Y) * torch.log(1 - out)).sum(1).mean()
        return ((out - Y) ** 2).sum(1).mean() / 2
    return logits, loss_head


def _close(mine, theirs):
    scale = max(float(np.max(np.abs(t))) for t in theirs)
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) <= 1e-10 * scale, (np.max(np.abs(a - b)), scale)


def _torch_hvp(model, params, X, Y, V):
    tX, tY = torch.tensor(X), torch.tensor(Y)

    def cost(*ps):
        return _torch_cost(model.spec, model.loss, tX, tY, list(ps))
    argnums = tuple(range(len(params)))
    _, product = jvp(lambda *ps: grad(cost, argnums=argnums)(*ps), tuple(map(torch.tensor, params)),
                     tuple(map(torch.tensor, V)))
    return [p.numpy() for p in product]


def _torch_ggn_vp(model, params, X, Y, V):
    logits, loss_head = _torch_split(model, torch.tensor(X), torch.tensor(Y))
    z, Jv = jvp(logits, tuple(map(torch.tensor, params)), tuple(map(torch.tensor, V)))
    _, HJv = jvp(grad(loss_head), (z,), (Jv,))
    _, pullback = vjp(logits, *map(torch.tensor, params))
    return [p.numpy() for p in pullback(HJv)]


@pytest.mark.parametrize("seed", [0, 1])
def test_hvp_matches_torch_func_forward_over_reverse(exported, seed):
    model, module = exported
    params, X, Y, V = _problem(model, seed)
    _close(module.hvp(params, X, Y, V), _torch_hvp(model, params, X, Y, V))


@pytest.mark.parametrize("seed", [0, 1])
def test_ggn_vp_matches_torch_func_vjp_hvp_jvp(exported, seed):
    model, module = exported
    params, X, Y, V = _problem(model, seed)
    _close(module.ggn_vp(params, X, Y, V), _torch_ggn_vp(model, params, X, Y, V))


def test_diag_ggn_matches_torch_jacobian_and_loss_hessian(exported):
    model, module = exported
    params, X, Y, _ = _problem(model, 2, n=4)
    tX, tY = torch.tensor(X), torch.tensor(Y)
    logits, loss_head = _torch_split(model, tX, tY)
    tparams = tuple(map(torch.tensor, params))
    z = logits(*tparams)
    H = hessian(loss_head)(z)                                  # (N, K, N, K); zero between examples
    J = jacrev(logits, argnums=tuple(range(len(params))))(*tparams)
    expected = []
    for Jp, p in zip(J, params):
        Jm = Jp.reshape(z.numel(), -1)                          # (N K, P)
        G = Jm.T @ H.reshape(z.numel(), z.numel()) @ Jm
        expected.append(torch.diagonal(G).reshape(p.shape).numpy())
    _close(module.diag_ggn(params, X, Y), expected)


def test_diag_ggn_is_the_diagonal_of_ggn_vp_basis_sweep():
    model = build_model(*MODELS["residual-layernorm"])
    module = second_order_module(model, derive_model(model))
    params, X, Y, _ = _problem(model, 3, n=3)
    diagonal = module.diag_ggn(params, X, Y)
    for i, p in enumerate(params[:3]):
        swept = np.zeros(p.size)
        for j in range(p.size):
            basis = [np.zeros_like(q) for q in params]
            basis[i].flat[j] = 1.0
            swept[j] = module.ggn_vp(params, X, Y, basis)[i].flat[j]
        assert np.allclose(diagonal[i].ravel(), swept, rtol=1e-10, atol=1e-12)


def test_the_residual_hessian_is_not_zero_for_tanh_so_hvp_and_ggn_differ():
    """Negative control: the GGN drops Σ_k (∂L/∂z_k) ∇²z_k, which a tanh layer makes non-zero."""
    model = build_model(*MODELS["tanh-softmax"])
    module = second_order_module(model, derive_model(model))
    params, X, Y, V = _problem(model, 4)
    difference = [h - g for h, g in zip(module.hvp(params, X, Y, V), module.ggn_vp(params, X, Y, V))]
    assert max(float(np.max(np.abs(d))) for d in difference) > 1e-3


def test_piecewise_linear_model_has_zero_residual_on_each_layers_diagonal_block():
    """relu: the logits are linear in each layer's parameters, so ∇²z_k is zero within a layer's block: there
    H v = G v for V in one layer's block (read in that block), and diag(H) = diag(G)."""
    model = build_model("affine(5) > relu > affine(3) > softmax", "categorical-cross-entropy", 3)
    module = second_order_module(model, derive_model(model))
    params, X, Y, V = _problem(model, 5)
    for block in range(len(params)):
        only = [v if i == block else np.zeros_like(v) for i, v in enumerate(V)]
        h, g = module.hvp(params, X, Y, only)[block], module.ggn_vp(params, X, Y, only)[block]
        assert np.allclose(h, g, rtol=1e-10, atol=1e-12)
    across = [v if i == 0 else np.zeros_like(v) for i, v in enumerate(V)]   # between layers it is not zero
    assert not np.allclose(module.hvp(params, X, Y, across)[2], module.ggn_vp(params, X, Y, across)[2])


def test_hvp_agrees_with_sympy_hessian_of_the_fully_composed_cost():
    """A small concrete model written out in SymPy scalars, every parameter a symbol; sympy.hessian of its
    cost, evaluated at the point, times V, is the exported hvp."""
    model = build_model("affine(2) > tanh > affine(2) > softmax", "categorical-cross-entropy", 2)
    module = second_order_module(model, derive_model(model))
    params, X, Y, V = _problem(model, 6, n=2)
    symbols = [sp.Matrix(*p.shape, lambda i, j, name=name: sp.Symbol(f"{name}_{i}_{j}"))
               if p.ndim == 2 else sp.Matrix(1, p.shape[0], lambda i, j, name=name: sp.Symbol(f"{name}_{j}"))
               for name, p in zip(model.params, params)]
    W1, b1, W3, b3 = symbols
    cost = 0
    for x, y in zip(X, Y):
        hidden = (sp.Matrix([list(x)]) * W1 + b1).applyfunc(sp.tanh)
        z = hidden * W3 + b3
        total = sum(sp.exp(v) for v in z)
        cost += -sum(yk * sp.log(sp.exp(zk) / total) for yk, zk in zip(y, z))
    cost = cost / len(X)
    flat = [s for m in symbols for s in m]
    point = dict(zip(flat, np.concatenate([p.ravel() for p in params])))
    H = np.array(sp.hessian(cost, flat).subs(point).evalf(), dtype=float)
    expected = H @ np.concatenate([v.ravel() for v in V])
    mine = np.concatenate([h.ravel() for h in module.hvp(params, X, Y, V)])
    assert np.allclose(mine, expected, rtol=1e-10, atol=1e-12)


def test_the_split_is_at_the_logits_of_a_final_softmax_or_sigmoid_else_at_the_output():
    assert logits_of(build_model(*MODELS["tanh-softmax"])) == "z3"
    assert logits_of(build_model(*MODELS["quadratic"])) == "a4"


def test_bad_directions_are_named():
    model = build_model(*MODELS["tanh-softmax"])
    module = second_order_module(model, derive_model(model))
    params, X, Y, V = _problem(model, 7)
    with pytest.raises(ValueError, match="V has 3 arrays; expected 4"):
        module.hvp(params, X, Y, V[:3])
    with pytest.raises(ValueError, match="W1 has shape"):
        module.ggn_vp(params, X, Y, [V[0].T, *V[1:]])


def _backend(name):
    if name == "jax":
        jax = require("jax", "exporting the second-order functions for jax")
        jax.config.update("jax_enable_x64", True)
        return jax.numpy.asarray, np.asarray
    return torch.tensor, lambda a: a.numpy()


@pytest.mark.parametrize("backend", ("jax", "torch"))
def test_second_order_functions_in_jax_and_torch_match_torch_func(backend):
    to, back = _backend(backend)
    model = build_model(*MODELS["residual-layernorm"])
    module = second_order_module(model, derive_model(model), backend=backend)
    params, X, Y, V = _problem(model, 8)
    args = ([to(p) for p in params], to(X), to(Y))
    _close([back(h) for h in module.hvp(*args, [to(v) for v in V])], _torch_hvp(model, params, X, Y, V))
    _close([back(g) for g in module.ggn_vp(*args, [to(v) for v in V])], _torch_ggn_vp(model, params, X, Y, V))
    numpy_module = second_order_module(model, derive_model(model))
    _close([back(d) for d in module.diag_ggn(*args)], numpy_module.diag_ggn(params, X, Y))


def test_cli_export_second_order_writes_the_three_functions(capsys, tmp_path):
    import importlib.util
    from symbackprop.cli import main
    spec, loss, size = MODELS["tanh-softmax"]
    path = tmp_path / "second.py"
    assert main(["export", "--model", spec, "--loss", loss, "--input-size", str(size), "--second-order",
                 "-o", str(path)]) == 0
    assert "hvp(params, X, Y, V)" in capsys.readouterr().out
    loaded = importlib.util.spec_from_file_location("second", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    model = build_model(spec, loss, size)
    params, X, Y, V = _problem(model, 9)
    _close(module.hvp(params, X, Y, V), _torch_hvp(model, params, X, Y, V))


def test_cli_export_second_order_with_op_exits_2_naming_what_works(capsys, tmp_path):
    from symbackprop.cli import main
    argv = ["--model", "affine(3) > softmax", "--loss", "categorical-cross-entropy", "--input-size", "2", "--op",
            "--backend", "torch"]
    assert main(["export", *argv, "--second-order", "-o", str(tmp_path / "x.py")]) == 2
    err = capsys.readouterr().err
    assert "--second-order: give --model SPEC, --layer NAME or a network, without --op" in err
    assert "Traceback" not in err


def _torch_block_output(X, mask, g1, c1, WQ, WK, WV, WO, g4, c4, W5, b5, W7, b7):
    """tests/test_models.py's transformer block, its output before the quadratic loss."""
    F = torch.nn.functional
    width = X.shape[1]
    u = F.layer_norm(X, (width,), g1, c1, eps=1e-5)
    Q, K, V = (torch.einsum("nd,dhe->hne", u, W) for W in (WQ, WK, WV))
    A = torch.softmax(Q @ K.transpose(1, 2) / WQ.shape[2] ** 0.5 + mask, dim=2)
    r = X + torch.einsum("hne,hed->nd", A @ V, WO)
    return r + F.gelu(F.layer_norm(r, (width,), g4, c4, eps=1e-5) @ W5 + b5) @ W7 + b7


def test_transformer_block_with_a_causal_mask_matches_torch_func():
    from test_models import _torch_transformer_block
    model = build_model("transformer-block", "quadratic", 4)
    module = second_order_module(model, derive_model(model))
    params, X, Y, V = _problem(model, 10)
    mask = np.triu(np.full((len(X), len(X)), -np.inf), k=1)
    tX, tY, tmask = map(torch.tensor, (X, Y, mask))
    tp, tv = tuple(map(torch.tensor, params)), tuple(map(torch.tensor, V))
    argnums = tuple(range(len(params)))
    cost = lambda *ps: _torch_transformer_block(tX, tY, tmask, *ps)       # noqa: E731
    hv = jvp(lambda *ps: grad(cost, argnums=argnums)(*ps), tp, tv)[1]
    _close(module.hvp(params, X, Y, V, mask2=mask), [h.numpy() for h in hv])
    out, Jv = jvp(lambda *ps: _torch_block_output(tX, tmask, *ps), tp, tv)      # quadratic loss: H_L = I / N
    _, pullback = vjp(lambda *ps: _torch_block_output(tX, tmask, *ps), *tp)
    _close(module.ggn_vp(params, X, Y, V, mask2=mask), [g.numpy() for g in pullback(Jv / len(X))])

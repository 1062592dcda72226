"""Models (``affine(64) > batchnorm > relu > affine(10) > softmax`` with a loss): the exported
``cost_and_gradients`` against torch autograd (float64, 1e-10 relative) and central differences, the
softmax + cross-entropy cancellation and batch norm's closed form inside a model, and the model
string's grammar (bad strings: a message with a caret, exit 2, never a traceback)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import sympy as sp

from symbackprop.cli import main
from symbackprop.errors import ParseError, SymbackpropError
from symbackprop.export._model_module import model_module
from symbackprop.models import build_model, derive_model
from optional_libraries import require

torch = require("torch", "comparing the models with torch autograd")

BATCHNORM = ("affine(6) > batchnorm > relu > affine(4) > softmax", "categorical-cross-entropy", 5)
RESIDUAL = ("affine(6) > residual(layernorm > affine(6) > tanh) > affine(3) > sigmoid", "cross-entropy", 4)
LOG_SOFTMAX = ("affine(5) > tanh > affine(3) > log-softmax", "categorical-cross-entropy", 4)
QUADRATIC = ("affine(4) > sigmoid > affine(2) > identity", "quadratic", 3)
MODELS = [BATCHNORM, RESIDUAL, LOG_SOFTMAX]


# ---- an independent torch reference, written from the layers' textbook definitions --------------------------
def _torch_layer(name, x, params):
    if name == "affine":
        W, b = params
        return x @ W + b
    if name in ("batchnorm", "layernorm"):
        gamma, beta = params
        axis = 0 if name == "batchnorm" else 1
        mean = x.mean(axis, keepdim=True)
        var = x.var(axis, unbiased=False, keepdim=True)
        return gamma * (x - mean) / torch.sqrt(var + 1e-5) + beta
    return {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda t: t,
            "softmax": lambda t: torch.softmax(t, dim=1), "log-softmax": lambda t: torch.log_softmax(t, dim=1)}[name](x)


def _torch_chain(chain, x, params):
    from symbackprop.models._syntax import Residual
    for item in chain:
        if isinstance(item, Residual):
            x = x + _torch_chain(item.chain, x, params)
        else:
            count = {"affine": 2, "batchnorm": 2, "layernorm": 2}.get(item.name, 0)
            x = _torch_layer(item.name, x, [params.pop(0) for _ in range(count)])
    return x


def _torch_cost(spec, loss, X, Y, params):
    from symbackprop.models import parse_model
    out = _torch_chain(parse_model(spec), X, list(params))
    if loss == "categorical-cross-entropy":
        log = out if spec.endswith("log-softmax") else torch.log(out)
        per_example = -(Y * log).sum(1)
    elif loss == "cross-entropy":
        per_example = -(Y * torch.log(out) + (1 - Y) * torch.log(1 - out)).sum(1)
    else:
        per_example = ((out - Y) ** 2).sum(1) / 2
    return per_example.mean()


def _data(model, n, seed):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal([int(s) for s in model.shape(p)]) * 0.7 for p in model.params]
    X = rng.standard_normal((n, model.input_size))
    K = model.shape("Y")[1]
    if model.loss == "categorical-cross-entropy":
        Y = np.eye(K)[rng.integers(0, K, n)]
    else:
        Y = rng.uniform(0.05, 0.95, (n, K))
    return params, X, Y


@pytest.fixture(scope="module", params=MODELS, ids=["batchnorm", "residual", "log-softmax"])
def exported(request):
    spec, loss, size = request.param
    model = build_model(spec, loss, size)
    return model, model_module(model, derive_model(model))


@pytest.mark.parametrize("n", [1, 9])
def test_model_matches_torch_autograd(exported, n):
    model, module = exported
    if n == 1 and "batchnorm" in model.spec:
        n = 2                                   # batch norm over one example is 0/0 in torch and here alike
    params, X, Y = _data(model, n, seed=n)
    cost, grads = module.cost_and_gradients(params, X, Y)
    tparams = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    reference = _torch_cost(model.spec, model.loss, torch.tensor(X), torch.tensor(Y), tparams)
    reference.backward()
    assert abs(cost - reference.item()) <= 1e-10 * abs(reference.item())
    for name, mine, theirs in zip(model.params, grads, tparams):
        expected = theirs.grad.numpy()
        assert mine.shape == expected.shape, name
        # a bias before batch norm has gradient exactly 0 (the mean removes it): both sides are rounding noise
        scale = max(np.max(np.abs(expected)), 1e-4)
        assert np.max(np.abs(mine - expected)) <= 1e-10 * scale, name


def test_model_matches_central_differences(exported):
    model, module = exported
    params, X, Y = _data(model, 6, seed=3)
    _, grads = module.cost_and_gradients(params, X, Y)
    rng = np.random.default_rng(4)
    for index, (param, grad) in enumerate(zip(params, grads)):
        for _ in range(2):
            entry = tuple(int(rng.integers(0, s)) for s in param.shape)
            values = []
            for step in (1e-6, -1e-6):
                shifted = [p.copy() for p in params]
                shifted[index][entry] += step
                values.append(module.cost_and_gradients(shifted, X, Y)[0])
            numeric = (values[0] - values[1]) / 2e-6
            assert abs(numeric - grad[entry]) <= 1e-6 * max(1.0, abs(numeric)), (model.params[index], entry)


def test_softmax_cross_entropy_cancellation_is_found_by_the_algebra():
    model = build_model(*BATCHNORM)
    derivation = derive_model(model)
    gradient = derivation.gradient("z4")
    n, m = sp.Symbol("n", integer=True), sp.Symbol("m", integer=True)
    base = lambda name: sp.IndexedBase(name, real=True)  # noqa: E731
    # textbook (CS231n softmax classifier, Nielsen ch. 3): dscores = (probs - onehot) / N, here dL[n] = 1/N
    textbook = base("dL")[n] * (base("p5")[n, m] - base("Y")[n, m])
    assert gradient.indices == (n, m)
    assert sp.expand(gradient.closed - textbook) == 0
    assert "dp5" not in str(gradient.staged.atoms(sp.Indexed)) or gradient.closed is not None
    rules = [step.rule.name for step in derivation.steps_for("z4")]
    assert "SUM_IDENTITY" in rules and "COUPLING" in rules


def test_sigmoid_cross_entropy_cancellation_is_found_by_the_algebra():
    derivation = derive_model(build_model(*RESIDUAL))
    n, m = sp.Symbol("n", integer=True), sp.Symbol("m", integer=True)
    base = lambda name: sp.IndexedBase(name, real=True)  # noqa: E731
    # Nielsen ch. 3: with the cross-entropy cost, sigma' cancels and delta^L = a^L - y (here times dL = 1/N)
    textbook = base("dL")[n] * (base("a7")[n, m] - base("Y")[n, m])
    assert sp.expand(derivation.gradient("z6").closed - textbook) == 0


def test_batchnorm_inside_a_model_reaches_its_closed_form_in_the_stage_upstream_gradient():
    derivation = derive_model(build_model(*BATCHNORM))
    closed = derivation.gradient("z1").closed
    names = {ref.base.label.name for ref in closed.atoms(sp.Indexed)}
    assert names == {"du2", "xhat2", "gamma2", "var2"}       # the alt form, in du2 = ∂C/∂(batchnorm output)


def test_a_network_is_the_model_affine_act_affine_act():
    """The MLP 3-4-2 (sigmoid hidden, identity output, quadratic) as a model equals the Network engine's export."""
    from symbackprop import Network
    from symbackprop.export import compile as compile_network
    model = build_model(*QUADRATIC)
    module = model_module(model, derive_model(model))
    params, X, Y = _data(model, 5, seed=8)
    cost, grads = module.cost_and_gradients(params, X, Y)
    network = compile_network(Network([3, 4, 2], hidden="sigmoid", output="identity", loss="quadratic",
                                      bias="separate", l2=0))
    W1, b1, W3, b3 = params
    net_cost, net_grads = network([W1.T, b1, W3.T, b3], X, Y)
    assert abs(cost - net_cost) <= 1e-12 * abs(net_cost)
    for mine, theirs in zip(grads, [net_grads[0].T, net_grads[1], net_grads[2].T, net_grads[3]]):
        np.testing.assert_allclose(mine, np.reshape(theirs, mine.shape), rtol=1e-10, atol=1e-14)


# ---- the model string -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, words", [
    ("affine > relu", "affine needs its output width, e.g. affine(64)"),
    ("affine(4) > relu(3)", "relu takes no width"),
    ("affine(4) >> relu", "expected a layer name"),
    ("affine(4) > convolution", "unknown layer 'convolution'; accepted: affine, batchnorm"),
    ("residual(affine(3) > relu", "expected ')' to close residual("),
    ("attention", "takes 4 inputs and cannot be a stage"),
    ("", "empty; expected layers joined by '>'"),
    ("affine(0)", "expected the width of affine (a positive integer)"),
    ("affine(4) > residual(affine(5))", "a residual branch must keep the width"),
    ("affine(4) relu", "expected '>' between layers"),
    ("affine(4) > $relu", "unexpected character '$'"),
    ("affine(4) > multihead-attention(2)", "multihead-attention needs 2 widths (its sizes H, E), e.g. "
                                           "multihead-attention(2, 16)"),
    ("affine(4) > relu(2, 3)", "relu takes no width"),
    ("dropout", "the layer 'dropout' takes 2 inputs"),
])
def test_bad_model_strings_name_the_bad_part(spec, words):
    with pytest.raises(ParseError) as caught:
        build_model(spec, "quadratic", 4)
    assert words in str(caught.value)
    if spec:
        assert "^" in str(caught.value)


@pytest.mark.parametrize("argv, words", [
    (["--model", "affine > relu", "--input-size", "3"], "affine needs its output width"),
    (["--model", "relu > softmax", "--input-size", "x"], "--input-size 'x': expected a positive integer"),
    (["--model", "relu > softmax"], "--model needs --input-size N"),
    (["--model", "relu", "--input-size", "3", "--loss", "hinge"], "--loss 'hinge': a model ends in one of"),
])
def test_cli_bad_models_exit_2(capsys, argv, words):
    for command in (["derive"], ["export", "-o", "never_written.py"]):
        assert main(command + argv) == 2
        out, err = capsys.readouterr()
        assert words in err and "Traceback" not in err


def test_model_validates_its_arguments():
    with pytest.raises(SymbackpropError, match="unknown model loss 'hinge'"):
        build_model("relu", "hinge", 3)
    with pytest.raises(SymbackpropError, match="input-size 0"):
        build_model("relu", "quadratic", 0)


# ---- the command line ---------------------------------------------------------------------------------------------
MODEL_ARGS = ["--model", LOG_SOFTMAX[0], "--loss", LOG_SOFTMAX[1], "--input-size", str(LOG_SOFTMAX[2])]


@pytest.mark.parametrize("form", ["text", "json", "latex", "tex", "html"])
def test_cli_derive_model_every_format(capsys, form):
    assert main(["derive", *MODEL_ARGS, "--format", form]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    if form == "json":
        data = json.loads(out)
        assert data["results"] == ["dX", "dY", "dW1", "db1", "dW3", "db3"]
    elif form == "text":
        assert out.startswith("Backward pass of the model affine(5) > tanh > affine(3) > log-softmax")
        # log-softmax + cross-entropy: dz = dL (softmax - Y), with the given Σ_k Y[n, k] = 1
        assert "dz3[n, m] = dL[n] (exp(q4[n, m]) - Y[n, m])" in out     # typeset: reading order, products with a space
        assert "Σ_k Y[n, k] = 1 (given: each row of the targets Y sums to 1" in out
    elif form in ("latex", "tex"):
        assert r"\sum" in out
    else:
        assert "<math" in out


def test_cli_export_model_writes_a_working_module(capsys, tmp_path):
    target = tmp_path / "model.py"
    assert main(["export", *MODEL_ARGS, "-o", str(target)]) == 0
    assert "cost_and_gradients(params, X, Y) with params = [W1, b1, W3, b3]" in capsys.readouterr().out
    spec = importlib.util.spec_from_file_location("exported_model", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = target.read_text()
    body = source.split('"""')[-1]
    assert "for " not in body.replace("for p in params", "")    # no Python loop over examples
    model = build_model(*LOG_SOFTMAX)
    params, X, Y = _data(model, 4, seed=1)
    cost, grads = module.cost_and_gradients(params, X, Y)
    assert np.isfinite(cost) and [g.shape for g in grads] == [p.shape for p in params]
    with pytest.raises(ValueError, match="W1 has shape"):
        module.cost_and_gradients([params[0][:2], *params[1:]], X, Y)


# ---- issue 16's transformer block: pre-norm, on top of models ------------------------------------------------
def _torch_transformer_block(X, Y, mask, g1, c1, WQ, WK, WV, WO, g4, c4, W5, b5, W7, b7):
    F = torch.nn.functional
    width = X.shape[1]
    u = F.layer_norm(X, (width,), g1, c1, eps=1e-5)
    Q, K, V = (torch.einsum("nd,dhe->hne", u, W) for W in (WQ, WK, WV))
    A = torch.softmax(Q @ K.transpose(1, 2) / WQ.shape[2] ** 0.5 + mask, dim=2)
    r = X + torch.einsum("hne,hed->nd", A @ V, WO)
    hidden = F.layer_norm(r, (width,), g4, c4, eps=1e-5) @ W5 + b5
    out = r + F.gelu(hidden) @ W7 + b7
    return (((out - Y) ** 2).sum(1) / 2).mean()


@pytest.fixture(scope="module")
def transformer_block():
    model = build_model("transformer-block", "quadratic", 6)
    return model, model_module(model, derive_model(model))


@pytest.mark.parametrize("n, causal", [(1, False), (5, False), (5, True), (16, True)])
def test_transformer_block_matches_torch_end_to_end(transformer_block, n, causal):
    model, module = transformer_block
    assert model.params[:6] == ("gamma1", "beta1", "W_Q2", "W_K2", "W_V2", "W_O2")
    params, X, Y = _data(model, n, seed=n)
    mask = np.triu(np.full((n, n), -np.inf), k=1) if causal else np.zeros((n, n))
    cost, grads = module.cost_and_gradients(params, X, Y, mask2=mask) if causal else \
        module.cost_and_gradients(params, X, Y)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    reference = _torch_transformer_block(torch.tensor(X), torch.tensor(Y), torch.tensor(mask), *tparams)
    reference.backward()
    assert abs(cost - reference.item()) <= 1e-10 * abs(reference.item())
    for name, mine, theirs in zip(model.params, grads, tparams):
        expected = theirs.grad.numpy()
        scale = max(np.max(np.abs(expected)), 1e-4)
        assert np.max(np.abs(mine - expected)) <= 1e-10 * scale, name


def test_transformer_block_exports_from_the_command_line(capsys, tmp_path):
    target = tmp_path / "block.py"
    assert main(["export", "--model", "transformer-block", "--loss", "quadratic", "--input-size", "6",
                 "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert "residual(layernorm > multihead-attention(2, 3)) > residual(layernorm > affine(24) > gelu > affine(6))" in out
    source = target.read_text()
    assert "def cost_and_gradients(params, X, Y, mask2=None):" in source
    assert "for " not in source.split('"""')[-1].split("\ndef cody_")[0].replace("for p in params", "")

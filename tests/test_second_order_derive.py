"""Second order, derived (issue 27): the loss Hessian's steps reach diag(p) - p pᵀ for softmax + cross-entropy,
diag(a (1 - a)) for sigmoid + cross-entropy and I for the quadratic loss, and their index forms equal
torch.func.hessian of the loss head; ``derive --model ... --second-order`` prints the R-operator's steps."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import sympy as sp

from symbackprop.cli import main
from symbackprop.layers._loss_hessian import loss_hessian
from symbackprop.layers._printing import text
from symbackprop.models import build_model
from symbackprop.models._second_order import derive_second_order, logits_of, loss_head
from optional_libraries import require

torch = require("torch", "comparing the derived loss Hessians with torch.func.hessian")

with warnings.catch_warnings():     # torch's forward-mode decompositions, loaded on the first jvp, call the
    warnings.simplefilter("ignore", DeprecationWarning)      # deprecated torch.jit.script (torch's own warning)
    import torch._decomp.decompositions_for_jvp  # noqa: E402,F401

SOFTMAX = ("affine(3) > tanh > affine(4) > softmax", "categorical-cross-entropy", 2)
SIGMOID = ("affine(3) > tanh > affine(4) > sigmoid", "cross-entropy", 2)
QUADRATIC = ("affine(3) > tanh > affine(4) > identity", "quadratic", 2)


def _hessian(spec):
    model = build_model(*spec)
    logits = logits_of(model)
    return loss_hessian(loss_head(model), logits), logits


@pytest.mark.parametrize("spec, matrix", [(SOFTMAX, "diag(p4) - p4 p4ᵀ"), (SIGMOID, "diag(a4*(1 - a4))"),
                                          (QUADRATIC, "I")])
def test_the_loss_hessian_steps_reach_the_textbook_matrix(spec, matrix):
    hessian, logits = _hessian(spec)
    assert text(hessian.steps[-1].statement) == f"∂²L/∂{logits}∂{logits}ᵀ = {matrix}"


def _evaluate(index_form, indices, values, K):
    """The K x K matrix of an index form in one example's arrays (n = 0)."""
    n, k, m = indices
    matrix = np.zeros((K, K))
    for a in range(K):
        for b in range(K):
            entry = index_form.xreplace({n: 0, k: a, m: b}).doit()
            entry = entry.replace(lambda e: isinstance(e, sp.Indexed),
                                  lambda e: sp.Float(values[e.base.label.name][tuple(int(i) for i in e.indices)]))
            matrix[a, b] = float(entry)
    return matrix


def _torch_head_hessian(spec, z, y):
    z = torch.tensor(z)

    def head(t):
        if spec is SOFTMAX:
            return -(torch.tensor(y) * torch.log_softmax(t, 0)).sum()
        if spec is SIGMOID:
            a = torch.sigmoid(t)
            return -(torch.tensor(y) * torch.log(a) + (1 - torch.tensor(y)) * torch.log(1 - a)).sum()
        return ((t - torch.tensor(y)) ** 2).sum() / 2
    return torch.func.hessian(head)(z).numpy()


def _values(spec, z, y):
    if spec is SOFTMAX:
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        return {"p4": p[None], "Y": y[None]}
    if spec is SIGMOID:
        return {"a4": (1 / (1 + np.exp(-z)))[None], "Y": y[None]}
    return {"a4": z[None], "Y": y[None]}


@pytest.mark.parametrize("spec", [SOFTMAX, SIGMOID, QUADRATIC], ids=["softmax", "sigmoid", "quadratic"])
def test_the_derived_loss_hessian_equals_torch_hessian_of_the_loss_head(spec):
    hessian, _ = _hessian(spec)
    rng = np.random.default_rng(0)
    z = rng.standard_normal(4)
    y = np.eye(4)[1] if spec is SOFTMAX else rng.uniform(0.1, 0.9, 4)
    derived = _evaluate(hessian.index_form, hessian.indices, _values(spec, z, y), 4)
    assert np.allclose(derived, _torch_head_hessian(spec, z, y), rtol=1e-12, atol=1e-14)


def test_negative_control_diag_p_alone_is_not_the_softmax_hessian():
    rng = np.random.default_rng(1)
    z, y = rng.standard_normal(4), np.eye(4)[0]
    p = _values(SOFTMAX, z, y)["p4"][0]
    assert not np.allclose(np.diag(p), _torch_head_hessian(SOFTMAX, z, y), rtol=1e-6)


def test_derive_second_order_shows_the_r_operator_and_hv():
    derivation = derive_second_order(build_model(*SOFTMAX))
    lines = [text(step.statement) for step in derivation.steps]
    assert "Rz1[n, m] = Rb1[m] + Σ_d (RW1[d, m]*X[n, d])" in lines
    assert "Hv_W3[d, m] = dW3[d, m]" in lines
    assert text(derivation.gradient("W3").final) == "Σ_n (Ra2[n, d]*dRz3[n, m]) + Σ_n (a2[n, d]*dz3[n, m])"


@pytest.mark.parametrize("form", ["text", "json", "latex", "tex", "html"])
def test_cli_derive_second_order_in_every_format(capsys, form):
    spec, loss, size = SOFTMAX
    assert main(["derive", "--model", spec, "--loss", loss, "--input-size", str(size), "--second-order",
                 "--format", form]) == 0
    out = capsys.readouterr().out
    if form == "json":
        steps = json.loads(out)["steps"]
        assert any(step["rule"] == "R-operator" for step in steps)
        assert any(step["text"].endswith("diag(p4) - p4 p4ᵀ") for step in steps)
    elif form == "text":
        assert "R{z1} (the R-operator's forward pass)" in out and "diag(p4) - p4 p4ᵀ" in out
    elif form == "html":
        assert "<mo>diag</mo>" in out and "R-operator" in out
    else:
        assert r"\operatorname{diag}\left(p^{[4]}\right)" in out   # the model's p4 with its layer, as the pages write it


def test_cli_derive_second_order_of_a_network_exits_2(capsys):
    assert main(["derive", "--layers", "3,4,2", "--second-order"]) == 2
    err = capsys.readouterr().err
    assert "--second-order: give --model SPEC or --layer NAME" in err and "Traceback" not in err


def _residual_lines(spec):
    derivation = derive_second_order(build_model(*spec))
    return [text(step.statement) for step in derivation.steps if step.quantity == "H - G"]


def test_relu_model_is_linear_in_each_parameter_so_diag_h_is_diag_g():
    lines = _residual_lines(("affine(3) > relu > affine(4) > softmax", "categorical-cross-entropy", 2))
    assert lines == ["RR_W1z3[n, m] = 0", "RR_b1z3[n, m] = 0", "RR_W3z3[n, m] = 0", "RR_b3z3[n, m] = 0",
                     "diag(H) = diag(G)"]


def test_tanh_model_has_a_residual_on_the_first_layers_block_only():
    """The derivation says H = G on W3's block and not on W1's; the exported hvp and ggn_vp confirm both."""
    from symbackprop.export._second_order_module import second_order_module
    from symbackprop.models import derive_model
    lines = _residual_lines(SOFTMAX)
    assert lines[0] == "RR_W1z3[n, m] = Σ_d (RRa2[n, d]*W3[d, m])" and lines[2] == "RR_W3z3[n, m] = 0"
    assert "diag(H) = diag(G)" not in lines
    model = build_model(*SOFTMAX)
    module = second_order_module(model, derive_model(model))
    rng = np.random.default_rng(3)
    params = [rng.standard_normal([int(s) for s in model.shape(p)]) for p in model.params]
    X, Y = rng.standard_normal((5, 2)), np.eye(4)[rng.integers(0, 4, 5)]
    for block, equal in ((0, False), (2, True)):
        V = [rng.standard_normal(p.shape) if i == block else np.zeros_like(p) for i, p in enumerate(params)]
        h, g = module.hvp(params, X, Y, V)[block], module.ggn_vp(params, X, Y, V)[block]
        assert np.allclose(h, g, rtol=1e-10, atol=1e-12) == equal


def test_cli_derive_layer_second_order_shows_r_forward_and_r_backward(capsys):
    assert main(["derive", "--layer", "layernorm", "--second-order"]) == 0
    out = capsys.readouterr().out
    assert "Rxhat[n, d] = (-Rmu[n] + Rx[n, d])/sqrt(eps + var[n])" in out
    assert "R{backward}: what the backward pass of the tangent layer computes" in out and "R_dgamma[d] = dγ[d]" in out


def test_cli_derive_second_order_of_a_recurrent_layer_exits_2(capsys):
    assert main(["derive", "--layer", "lstm", "--second-order"]) == 2
    assert "lstm has no R{backward} yet" in capsys.readouterr().err

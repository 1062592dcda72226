"""Attention: the derivation reaches the textbook's matrix-form gradients by the algebra (the
softmax Jacobian contracted), and the exported module equals torch autograd, central differences,
and stays finite and accurate at logits of ±1000. Expected forms are written here from the
textbook (dV = Aᵀ dO, dA = dO Vᵀ, dS = A ⊙ (dA − rowsum(A ⊙ dA)), dQ = dS K/√D, dK = dSᵀ Q/√D),
expected numbers come from torch."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symbackprop.derivation import Rule
from symbackprop.export._layer_module import layer_module, layer_source
from symbackprop.layers import Layer, derive_layer
from optional_libraries import require

torch = require("torch", "comparing the attention layers with torch autograd")

N, M, D, F = (sp.Symbol(s, integer=True, positive=True) for s in "NMDF")
n, m, d, f, k = (sp.Symbol(s, integer=True) for s in "nmdfk")
Q, K, V, A, dO, dA, dS = (sp.IndexedBase(s, real=True) for s in ("Q", "K", "V", "A", "dO", "dA", "dS"))


def _same(found, expected):
    """Equal as expressions, whatever the names of the bound indices."""
    def canonical(expr):
        counter = iter(range(100))
        return expr.replace(lambda e: isinstance(e, sp.Sum),
                            lambda e: sp.Sum(e.function.xreplace({e.limits[0][0]: sp.Symbol(f"_b{next(counter)}", integer=True)}),
                                             (sp.Symbol(f"_b{next(counter) - 1}", integer=True), *e.limits[0][1:])))
    return sp.expand(canonical(found) - canonical(expected)) == 0 or sp.simplify(sp.expand(found - expected)) == 0


def test_attention_gradients_are_the_textbook_matrix_forms():
    derivation = derive_layer("attention")
    root = sp.sqrt(D)
    assert _same(derivation.gradient("V").final, sp.Sum(A[n, m] * dO[n, f], (n, 0, N - 1)))            # Aᵀ dO
    assert _same(derivation.gradient("A").staged, sp.Sum(dO[n, f] * V[m, f], (f, 0, F - 1)))          # dO Vᵀ
    expected_dS = A[n, m] * (dA[n, m] - sp.Sum(A[n, k] * dA[n, k], (k, 0, M - 1)))
    assert sp.expand(derivation.gradient("S").staged - expected_dS) == 0
    assert _same(derivation.gradient("Q").final, sp.Sum(dS[n, m] * K[m, d], (m, 0, M - 1)) / root)     # dS K / √D
    assert _same(derivation.gradient("K").final, sp.Sum(dS[n, m] * Q[n, d], (n, 0, N - 1)) / root)     # dSᵀ Q / √D


def test_the_rowsum_form_is_reached_by_its_own_steps():
    derivation = derive_layer("attention")
    rules = [step.rule for step in derivation.steps_for("S")]
    assert rules == [Rule.CHAIN_RULE, Rule.KRONECKER, Rule.SUBSTITUTION, Rule.REWRITE, Rule.COUPLING]
    steps = derivation.steps_for("S")
    assert steps[1].statement.rhs.has(sp.exp)                  # before: exp(S)/s, through A and s
    assert not steps[-1].statement.rhs.has(sp.exp)             # after: in A and dA only
    assert "definition of A" in steps[3].note
    assert "ds" in steps[2].note
    # nothing is looked up: the gradient of the normaliser s is the chain rule's, then substituted
    assert derivation.gradient("s").staged.has(sp.exp)


def test_the_derivation_is_at_symbolic_sizes():
    derivation = derive_layer("attention")
    for gradient in derivation.gradients.values():
        for number in gradient.final.atoms(sp.Integer):
            assert abs(number) <= 2
        assert {s for s in gradient.final.free_symbols if s.is_positive} <= {N, M, D, F}


def test_the_coupling_is_general_a_softmax_over_another_axis():
    text = """\
input  x[N, K], w[K, K]
z[n, k] = sum(x[n, j] * w[j, k], j) / 2
t[k] = sum(exp(z[i, k]), i)
p[n, k] = exp(z[n, k]) / t[k]
y[n, k] = p[n, k] * x[n, k]
output y
"""
    derivation = derive_layer(Layer.parse(text, "column-softmax"))
    p, dp = sp.IndexedBase("p", real=True), sp.IndexedBase("dp", real=True)
    i = sp.Symbol("i", integer=True)
    staged = derivation.gradient("z").staged
    assert Rule.COUPLING in [step.rule for step in derivation.steps_for("z")]
    expected = p[n, k] * (dp[n, k] - sp.Sum(p[i, k] * dp[i, k], (i, 0, N - 1)))
    bound = next(iter(staged.atoms(sp.Sum))).limits[0][0]
    assert sp.expand(staged.xreplace({bound: i}) - expected) == 0


# ---- the exported module ---------------------------------------------------------------------------

def _causal(length):
    return np.where(np.tril(np.ones((length, length))) > 0, 0.0, -np.inf)


def _torch_attention(Q_, K_, V_, mask):
    return torch.softmax(Q_ @ K_.T / Q_.shape[1] ** 0.5 + mask, dim=-1) @ V_


def _relative(found, expected):
    return np.max(np.abs(found - expected)) / max(np.max(np.abs(expected)), 1e-300)


@pytest.fixture(scope="module")
def module():
    return layer_module(derive_layer("attention"))


@pytest.mark.parametrize("causal", (False, True), ids=("no-mask", "causal"))
@pytest.mark.parametrize("length", (1, 5, 64))
def test_export_equals_torch_autograd(module, length, causal):
    rng = np.random.default_rng(length)
    width, value_width = 16, 12
    values = [rng.standard_normal((length, width)), rng.standard_normal((length, width)),
              rng.standard_normal((length, value_width)),
              _causal(length) if causal else np.zeros((length, length))]
    out, cache = module.forward(*values)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    expected = _torch_attention(*tensors)
    expected.backward(torch.tensor(dout))
    assert _relative(out, expected.detach().numpy()) < 1e-10
    for name, found, tensor in zip(("dQ", "dK", "dV", "dmask"), grads, tensors):
        reference = tensor.grad.numpy()
        assert found.shape == reference.shape and np.all(np.isfinite(found)), name
        if np.max(np.abs(reference)) == 0:
            assert np.max(np.abs(found)) == 0, name
        else:
            assert _relative(found, reference) < 1e-10, name


def test_export_equals_central_differences(module):
    rng = np.random.default_rng(11)
    values = [rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2)),
              rng.standard_normal((4, 5))]
    out, cache = module.forward(*values)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    h = 1e-6
    for position, found in enumerate(grads):
        numeric = np.zeros_like(values[position])
        for flat in range(numeric.size):
            plus, minus = [v.copy() for v in values], [v.copy() for v in values]
            plus[position].flat[flat] += h
            minus[position].flat[flat] -= h
            numeric.flat[flat] = np.sum((module.forward(*plus)[0] - module.forward(*minus)[0]) * dout) / (2 * h)
        assert _relative(found, numeric) < 1e-7, position


@pytest.mark.parametrize("causal", (False, True), ids=("no-mask", "causal"))
def test_stable_at_logits_of_plus_minus_1000(module, causal):
    rng = np.random.default_rng(2)
    length, width = 6, 4
    # S = Q Kᵀ / 2 has entries of ±1000 (and others): with the row maximum subtracted, exp never overflows
    Q_ = rng.choice([-1.0, 1.0], size=(length, width)) * 1000
    K_ = np.eye(length, width) * 2 + rng.standard_normal((length, width)) * 1e-3
    V_ = rng.standard_normal((length, 3))
    mask = _causal(length) if causal else np.zeros((length, length))
    S = Q_ @ K_.T / 2 + mask
    assert np.nanmax(np.abs(S[np.isfinite(S)])) > 999
    out, cache = module.forward(Q_, K_, V_, mask)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    tensors = [torch.tensor(v, requires_grad=True) for v in (Q_, K_, V_, mask)]
    expected = _torch_attention(*tensors)
    expected.backward(torch.tensor(dout))
    assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(g)) for g in grads)
    assert _relative(out, expected.detach().numpy()) < 1e-12
    for found, tensor in zip(grads[:3], tensors):
        assert np.max(np.abs(found - tensor.grad.numpy())) <= 1e-10 * (1 + np.max(np.abs(tensor.grad.numpy())))


def test_export_subtracts_the_row_maximum_and_uses_batched_products():
    source = layer_source(derive_layer("attention"))
    code = source.split('"""', 2)[2]
    assert "np.max(S, axis=1)" in code
    assert code.count("np.exp(") == 1                       # one exponential, shared by s and A
    assert "for " not in code and "while " not in code
    assert code.count("np.einsum(") >= 5 or code.count(" @ ") >= 5


# ---- a user-defined attention variant ----------------------------------------------------------------

VARIANT = """\
# attention with a temperature and a learned additive bias on the scores (e.g. a relative-position bias)
input  Q[N, D], K[M, D], V[M, F]
param  B[N, M]
const  tau = 0.25
S[n, m] = tau * sum(Q[n, d] * K[m, d], d) + B[n, m]
z[n] = sum(exp(S[n, j]), j)
P[n, m] = exp(S[n, m]) / z[n]
O[n, f] = sum(P[n, m] * V[m, f], m)
output O
"""


def test_a_user_defined_variant_derives_exports_and_matches_torch():
    layer = Layer.parse(VARIANT, "biased-attention")
    derivation = derive_layer(layer)
    P, dP = sp.IndexedBase("P", real=True), sp.IndexedBase("dP", real=True)
    tau = sp.Symbol("tau", real=True)
    staged = derivation.gradient("S").staged
    bound = next(iter(staged.atoms(sp.Sum))).limits[0][0]
    assert sp.expand(staged.xreplace({bound: k}) - P[n, m] * (dP[n, m] - sp.Sum(P[n, k] * dP[n, k], (k, 0, M - 1)))) == 0
    assert _same(derivation.gradient("Q").final, tau * sp.Sum(dS[n, m] * K[m, d], (m, 0, M - 1)))
    module = layer_module(derivation)
    rng = np.random.default_rng(5)
    for length in (1, 5, 64):
        values = [rng.standard_normal((length, 8)), rng.standard_normal((length + 2, 8)),
                  rng.standard_normal((length + 2, 3)), rng.standard_normal((length, length + 2))]
        out, cache = module.forward(*values)
        dout = rng.standard_normal(out.shape)
        grads = module.backward(dout, cache)
        tensors = [torch.tensor(v, requires_grad=True) for v in values]
        expected = torch.softmax(0.25 * tensors[0] @ tensors[1].T + tensors[3], dim=-1) @ tensors[2]
        expected.backward(torch.tensor(dout))
        assert _relative(out, expected.detach().numpy()) < 1e-10
        for found, tensor in zip(grads, tensors):
            assert _relative(found, tensor.grad.numpy()) < 1e-10


# ---- multi-head attention ------------------------------------------------------------------------------

def test_multihead_attention_derives_the_rowsum_form_per_head():
    derivation = derive_layer("multihead-attention")
    h = sp.Symbol("h", integer=True)
    A3, dA3 = sp.IndexedBase("A", real=True), sp.IndexedBase("dA", real=True)
    staged = derivation.gradient("S").staged
    bound = next(iter(staged.atoms(sp.Sum))).limits[0][0]
    assert sp.expand(staged.xreplace({bound: k}) - A3[h, n, m] * (dA3[h, n, m] - sp.Sum(A3[h, n, k] * dA3[h, n, k], (k, 0, N - 1)))) == 0
    code = layer_source(derivation).split('"""', 2)[2]
    assert "for " not in code and "np.max(S, axis=2)" in code
    assert "@ np.transpose(Kh, (0, 2, 1))" in code          # the heads are a batch axis of one matmul


@pytest.mark.parametrize("length", (1, 5, 64))
def test_multihead_attention_equals_torch_with_a_causal_mask(length):
    module = layer_module(derive_layer("multihead-attention"))
    rng = np.random.default_rng(length)
    width, heads, head_width = 8, 2, 4
    values = [rng.standard_normal((length, width)), _causal(length),
              *(rng.standard_normal((width, heads, head_width)) for _ in range(3)),
              rng.standard_normal((heads, head_width, width))]
    out, cache = module.forward(*values)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    X, mask, WQ, WK, WV, WO = tensors = [torch.tensor(v, requires_grad=True) for v in values]
    q, kk, v = (torch.einsum("nd,dhe->hne", X, W) for W in (WQ, WK, WV))
    expected = torch.einsum("hne,hed->nd", torch.softmax(q @ kk.transpose(1, 2) / head_width ** 0.5 + mask, dim=-1) @ v, WO)
    expected.backward(torch.tensor(dout))
    assert _relative(out, expected.detach().numpy()) < 1e-10
    for found, tensor in zip(grads, tensors):
        reference = tensor.grad.numpy()
        assert np.all(np.isfinite(found))
        if np.max(np.abs(reference)) == 0:
            assert np.max(np.abs(found)) == 0
        else:
            assert _relative(found, reference) < 1e-10

"""Recurrent layers (issue 15): the language's recurrences, the BPTT derivation and the exported
forward/backward through time, against independent references: torch.nn.RNN / LSTM / GRU autograd
(float64), sympy.diff of a small unrolled network, central differences and the Deep Learning
Specialization's published rnn_backward check."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symbackprop.derivation import Rule
from symbackprop.errors import LayerSpecError
from symbackprop.export._recurrent_module import recurrent_module, recurrent_source
from symbackprop.layers import Layer, derive_layer, layer_record
from optional_libraries import require

RNN = """\
input  x[T, N, D], h0[N, H]
param  Wx[D, H], Wh[H, H], b[H]
init   h = h0
z[t, n, k] = sum(x[t, n, j] * Wx[j, k], j) + sum(h[t-1, n, q] * Wh[q, k], q) + b[k]
h[t, n, k] = tanh(z[t, n, k])
output h
"""

#: a cell that is in no catalogue: a leaky tanh recurrence, h = (1 - a) h_prev + a tanh(W x + U h_prev), with a
#: learned per-unit leak a = sigmoid(s)
LEAKY = """\
input  x[T, N, D], s0[N, H]
param  W[D, H], U[H, H], lk[H]
init   s = s0
p[t, n, k] = sum(x[t, n, j] * W[j, k], j) + sum(s[t-1, n, q] * U[q, k], q)
g[t, n, k] = tanh(p[t, n, k])
s[t, n, k] = (1 - sigmoid(lk[k])) * s[t-1, n, k] + sigmoid(lk[k]) * g[t, n, k]
output s
"""


# ---- the language -----------------------------------------------------------------------------------

def test_a_recurrence_is_read_as_one_step_with_its_previous_state():
    layer = Layer.parse(RNN, "rnn")
    assert layer.recurrent and str(layer.time) == "T" and layer.sequences == ("x",)
    assert [(s.name, s.initial, s.previous) for s in layer.states] == [("h", "h0", "h_prev")]
    assert [a.name for a in layer.cell.inputs] == ["x", "h_prev"]
    assert [str(s) for s in layer.cell.arrays["x"].sizes] == ["N", "D"]
    assert [a.name for a in layer.differentiable] == ["x", "h0", "Wx", "Wh", "b"]


def test_a_gradient_name_beside_its_array_is_refused():
    with pytest.raises(LayerSpecError, match="dh would be the name of the gradient of h"):
        Layer.parse(RNN.replace("h0", "dh"))


@pytest.mark.parametrize("old, new, message, column", [
    ("h[t-1, n, q]", "h[t-2, n, q]", "previous step only, t-1 (not t-2)", "h[t-2"),
    ("h[t-1, n, q]", "x[t-1, n, q]", "only a state", "x[t-1"),
    ("init   h = h0\n", "", "has no initial state", "h[t-1"),
    ("init   h = h0", "init   h = Wx", "Wx is a parameter", "Wx"),
    ("init   h = h0", "init   z = h0", "h has no initial state", "h[t-1"),
    ("init   h = h0", "init   h = h0, z = h0", "h0 is the initial value of two states", "h0\n"),
    ("Wh[q, k], q)", "Wh[t, k], q)", "no time axis", "t, k]"),
    ("input  x[T, N, D], h0[N, H]", "input  x[T, N, D], h0[N, D]", "size mismatch", "q, k], q)"),
    ("input  x[T, N, D]", "input  x[N, T, D]", "the time size is the first size of x", "h0[N, H]"),
    ("h[t, n, k] = tanh", "h[n, t, k] = tanh", "its first index is the time index t", "n, t, k]"),
    ("Wx[j, k], j)", "Wx[j, k], j, t)", "sum over the time index t", "t)"),
])
def test_misuse_gets_the_line_a_caret_and_what_is_accepted(old, new, message, column):
    text = RNN.replace(old, new)
    assert text != RNN
    with pytest.raises(LayerSpecError) as caught:
        Layer.parse(text)
    error = str(caught.value)
    assert message in error and "line " in error
    line, caret = error.splitlines()[-2:]
    assert caret.strip() == "^" and (line + "\n")[caret.index("^"):].startswith(column)


# ---- the derivation ---------------------------------------------------------------------------------

def test_bptt_steps_are_derived_at_a_generic_t_and_symbolic_sizes():
    derivation = derive_layer("rnn")
    rules = [step.rule for step in derivation.steps]
    assert {Rule.THROUGH_TIME, Rule.SHARED_WEIGHTS, Rule.INITIAL_STATE} <= set(rules)
    t = derivation.time_index
    total = next(s for s in derivation.steps if s.rule is Rule.THROUGH_TIME and s.quantity == "h").statement
    # ∂C/∂h⟨t⟩ = dh⟨t⟩ + dh_prev⟨t+1⟩: the carried gradient is there
    assert {ref.base.label.name for ref in total.rhs.atoms(sp.Indexed)} == {"dh", "dh_prev"}
    assert any(t + 1 in ref.indices for ref in total.rhs.atoms(sp.Indexed))
    weights = next(s for s in derivation.steps if s.rule is Rule.SHARED_WEIGHTS and s.quantity == "Wh").statement
    assert isinstance(weights.rhs, sp.Sum) and t in weights.rhs.variables      # a sum over every step
    # tanh' in the forward quantity h, not in z
    assert not derivation.step_gradients["z"].has(sp.tanh)
    sizes = {str(s) for step in derivation.steps for s in step.statement.free_symbols}
    assert not any(s.isdigit() for s in sizes)


def _unrolled_rnn_costs(T, N, D, H, rng):
    """sympy: an rnn unrolled T steps, written here from tanh(x Wx + h Wh + b), cost Σ g ⊙ h."""
    def symbols(name, shape):
        return sp.Matrix(*shape, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))
    xs = [symbols(f"x{t}", (N, D)) for t in range(T)]
    h0, Wx, Wh = symbols("h0", (N, H)), symbols("Wx", (D, H)), symbols("Wh", (H, H))
    b = symbols("b", (1, H))
    ones = sp.ones(N, 1)
    g = [sp.Matrix(N, H, lambda i, j: sp.Rational(int(rng.integers(-9, 10)), 7)) for _ in range(T)]
    h, cost = h0, 0
    for t in range(T):
        h = (xs[t] * Wx + h * Wh + ones * b).applyfunc(sp.tanh)
        cost += sum(g[t][i, j] * h[i, j] for i in range(N) for j in range(H))
    return cost, xs, h0, Wx, Wh, b, g


def test_rnn_export_equals_sympy_diff_of_an_unrolled_network():
    rng = np.random.default_rng(3)
    T, N, D, H = 2, 1, 2, 2
    cost, xs, h0, Wx, Wh, b, g = _unrolled_rnn_costs(T, N, D, H, rng)
    values = {s: sp.Rational(int(rng.integers(-20, 21)), 29) for s in cost.free_symbols}

    def numeric(matrix):
        return np.array(matrix.subs(values).evalf(30).tolist(), dtype=float)
    module = recurrent_module(derive_layer("rnn"))
    x = np.stack([numeric(m) for m in xs])
    out, cache = module.forward(x, numeric(h0), numeric(Wx), numeric(Wh), numeric(b)[0])
    grads = module.backward(np.stack([np.array(m.tolist(), dtype=float) for m in g]), cache)
    expected = [np.stack([numeric(m.applyfunc(lambda s: sp.diff(cost, s))) for m in xs]),
                numeric(h0.applyfunc(lambda s: sp.diff(cost, s))), numeric(Wx.applyfunc(lambda s: sp.diff(cost, s))),
                numeric(Wh.applyfunc(lambda s: sp.diff(cost, s))), numeric(b.applyfunc(lambda s: sp.diff(cost, s)))[0]]
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


# ---- against torch ------------------------------------------------------------------------------------

torch = require("torch", "comparing the exported recurrent modules with torch.nn.RNN/LSTM/GRU")


def _params(name, D, H, rng):
    layer = layer_record(name).layer()
    return {a.name: rng.standard_normal(tuple({"D": D, "H": H}[str(s)] for s in a.sizes)) * 0.5
            for a in layer.params}


def _torch_reference(name, x, states, p):
    """torch.nn's own module with the record's parameters, float64; returns (h over time, final c or None, leaves)."""
    T, N, D = x.shape
    H = states[0].shape[1]
    t = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[name](D, H).double()
    if name == "rnn":
        weights = [t["Wx"].T, t["Wh"].T, t["b"], torch.zeros(H, dtype=torch.float64)]
    elif name == "lstm":     # torch's gate order: input (DLS's update u), forget, cell candidate, output
        weights = [torch.cat([t[f"W{g}x"].T for g in "ufco"]), torch.cat([t[f"W{g}h"].T for g in "ufco"]),
                   torch.cat([t[f"b{g}"] for g in "ufco"]), torch.zeros(4 * H, dtype=torch.float64)]
    else:                    # torch's order: reset, update, new
        weights = [torch.cat([t["Wir"].T, t["Wiz"].T, t["Win"].T]), torch.cat([t["Whr"].T, t["Whz"].T, t["Whn"].T]),
                   torch.cat([t["bir"], t["biz"], t["bin"]]), torch.cat([t["bhr"], t["bhz"], t["bhn"]])]
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    hidden = tuple(s[None] for s in ts) if name == "lstm" else ts[0][None]
    out, last = torch.func.functional_call(module, dict(zip(names, weights)), (tx, hidden))
    final_c = last[1][0] if name == "lstm" else None
    return out, final_c, [tx, *ts, *t.values()]


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T", [1, 2, 7])
def test_export_equals_torch_autograd(name, T):
    rng = np.random.default_rng(T)
    N, D, H = 3, 4, 5
    layer = layer_record(name).layer()
    p = _params(name, D, H, rng)
    x = rng.standard_normal((T, N, D))
    states = [rng.standard_normal((N, H)) for _ in layer.states]
    module = recurrent_module(derive_layer(name))
    out, cache = module.forward(x, *states, *p.values())
    dout = rng.standard_normal(out.shape)
    extra = {}
    reference, final_c, leaves = _torch_reference(name, x, states, p)
    cost = (reference * torch.tensor(dout)).sum()
    if final_c is not None:
        dc_last = rng.standard_normal((N, H))
        extra = {"dc_last": dc_last}
        cost = cost + (final_c * torch.tensor(dc_last)).sum()
    cost.backward()
    np.testing.assert_allclose(out, reference.detach().numpy(), rtol=1e-12, atol=1e-13)
    grads = module.backward(dout, cache, **extra)
    assert len(grads) == len(leaves)
    for got, leaf in zip(grads, leaves):
        want = leaf.grad.numpy()
        assert np.abs(got - want).max() <= 1e-10 * np.abs(want).max()


@pytest.mark.parametrize("notation", ["cs231n", "ng-dls"])
def test_notation_layouts_are_views_of_the_same_gradients(notation):
    rng = np.random.default_rng(5)
    T, N, D, H = 4, 3, 2, 5
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)), rng.standard_normal(H)
    dout = rng.standard_normal((T, N, H))
    own = recurrent_module(derive_layer("rnn"))
    out, cache = own.forward(x, h0, Wx, Wh, b)
    expected = own.backward(dout, cache)
    module = recurrent_module(derive_layer("rnn"), notation)
    if notation == "cs231n":    # x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,)
        h, cache = module.forward(x.transpose(1, 0, 2), h0, Wx, Wh, b)
        np.testing.assert_array_equal(h, out.transpose(1, 0, 2))
        grads = module.backward(dout.transpose(1, 0, 2), cache)
        converted = [expected[0].transpose(1, 0, 2), *expected[1:]]
    else:                       # x (n_x, m, T_x), a0 (n_a, m), Wax (n_a, n_x), Waa (n_a, n_a), ba (n_a, 1)
        a, cache = module.forward(x.transpose(2, 1, 0), h0.T, Wx.T, Wh.T, b[:, None])
        np.testing.assert_array_equal(a, out.transpose(2, 1, 0))
        grads = module.backward(dout.transpose(2, 1, 0), cache)
        converted = [expected[0].transpose(2, 1, 0), expected[1].T, expected[2].T, expected[3].T, expected[4][:, None]]
        assert "def forward(x, a0, Wax, Waa, ba)" in recurrent_source(derive_layer("rnn"), notation)
    for got, want in zip(grads, converted):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("notation", ["cs231n", "ng-dls"])
def test_lstm_layouts_and_stacked_gates_equal_torch(notation):
    """The LSTM's gates stacked (one (N, 4H) pre-activation, dz of the gates in one array), in each layout."""
    rng = np.random.default_rng(8)
    T, N, D, H = 3, 2, 3, 4
    p = _params("lstm", D, H, rng)
    x, h0, c0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dout, dc_last = rng.standard_normal((T, N, H)), rng.standard_normal((N, H))
    reference, final_c, leaves = _torch_reference("lstm", x, [h0, c0], p)
    ((reference * torch.tensor(dout)).sum() + (final_c * torch.tensor(dc_last)).sum()).backward()
    source = recurrent_source(derive_layer("lstm"), notation)
    loop = source[source.index("    for t in range(T - 1, -1, -1):"):]
    assert "x_W = np.concatenate([Wfx, Wux, Wcx, Wox], axis=1)" in source and "np.matmul(dgates_seq[t], h_prev_W.T, " in loop
    assert "np.concatenate" not in loop[:loop.index("\n    dh0 = ")]       # (ng-dls joins dWfh and dWfx after it)
    module = recurrent_module(derive_layer("lstm"), notation)
    if notation == "cs231n":        # time second, examples as rows
        h, cache = module.forward(x.transpose(1, 0, 2), h0, c0, *p.values())
        grads = module.backward(dout.transpose(1, 0, 2), cache, dc_last=dc_last)
        converted = [g.transpose(1, 0, 2) if g.ndim == 3 else g for g in grads]
    else:       # the notebook's: every array's axes reversed, biases as columns, Wf = [Wfh.T, Wfx.T] on [a_prev; xt]
        assert "def forward(x, a0, c0, Wf, bf, Wi, bi, Wc, bc, Wo, bo)" in source
        joined = [np.concatenate([p[f"W{g}h"].T, p[f"W{g}x"].T], axis=1) for g in "fuco"]
        biases = [p[f"b{g}"][:, None] for g in "fuco"]
        h, cache = module.forward(x.T, h0.T, c0.T, *(v for pair in zip(joined, biases) for v in pair))
        grads = module.backward(dout.T, cache, dc_last=dc_last.T)
        converted = [g.T for g in grads[:3]]
        for dW, db in zip(grads[3::2], grads[4::2]):         # dWf (H, H + D): dWfh.T then dWfx.T; dbf (H, 1)
            assert dW.shape == (H, H + D) and db.shape == (H, 1)
            converted += [dW[:, H:].T, dW[:, :H].T, db[:, 0]]
    h = h.transpose(1, 0, 2) if notation == "cs231n" else h.T
    np.testing.assert_allclose(h, reference.detach().numpy(), rtol=1e-12, atol=1e-13)
    for got, leaf in zip(converted, leaves):
        want = leaf.grad.numpy()
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-10 * np.abs(want).max()


#: a cell in no catalogue with two gates of the same affine form (a minimal gated unit): stacked as the LSTM's are
GATED = """\
input  x[T, N, D], h0[N, H]
param  Wfx[D, H], Wfh[H, H], bf[H], Wcx[D, H], Wch[H, H], bc[H]
init   h = h0
zf[t, n, k] = sum(x[t, n, j] * Wfx[j, k], j) + sum(h[t-1, n, q] * Wfh[q, k], q) + bf[k]
zc[t, n, k] = sum(x[t, n, j] * Wcx[j, k], j) + sum(h[t-1, n, q] * Wch[q, k], q) + bc[k]
f[t, n, k] = sigmoid(zf[t, n, k])
g[t, n, k] = tanh(zc[t, n, k])
h[t, n, k] = (1 - f[t, n, k]) * h[t-1, n, k] + f[t, n, k] * g[t, n, k]
output h
"""


@pytest.mark.parametrize("candidate", ["g", "gates"])
def test_a_user_cell_with_gates_of_one_affine_form_is_stacked_and_matches_torch(candidate):
    """Stacked; or, where the cell's own array is called 'gates' (the stack's name), exported gate by gate."""
    derivation = derive_layer(Layer.parse(GATED.replace("g[t, n, k]", f"{candidate}[t, n, k]"), "gated"))
    source = recurrent_source(derivation)
    stacked = "x_W = np.concatenate([Wfx, Wcx], axis=1)" in source and "np.matmul(dgates_seq[t], h_prev_W.T, " in source
    assert stacked == (candidate == "g")
    module = recurrent_module(derivation)
    rng = np.random.default_rng(12)
    T, N, D, H = 4, 2, 3, 5
    shapes = [(T, N, D), (N, H), (D, H), (H, H), (H,), (D, H), (H, H), (H,)]
    arrays = [rng.standard_normal(shape) * 0.7 for shape in shapes]
    out, cache = module.forward(*arrays)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    x, h, Wfx, Wfh, bf, Wcx, Wch, bc = leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    states = []
    for t in range(T):
        f = torch.sigmoid(x[t] @ Wfx + h @ Wfh + bf)
        h = (1 - f) * h + f * torch.tanh(x[t] @ Wcx + h @ Wch + bc)
        states.append(h)
    (torch.stack(states) * torch.tensor(dout)).sum().backward()
    for got, leaf in zip(grads, leaves):
        want = leaf.grad.numpy()
        assert np.abs(got - want).max() <= 1e-10 * np.abs(want).max()


def test_dls_published_rnn_backward_check():
    """DLS "Building a Recurrent Neural Network, step by step", rnn_backward's test: the published values."""
    module = recurrent_module(derive_layer("rnn"), "ng-dls")
    np.random.seed(1)
    x = np.random.randn(3, 10, 4)
    a0 = np.random.randn(5, 10)
    Wax = np.random.randn(5, 3)
    Waa = np.random.randn(5, 5)
    np.random.randn(2, 5)       # Wya, unused by rnn_backward
    ba = np.random.randn(5, 1)
    np.random.randn(2, 1)       # by
    a, cache = module.forward(x, a0, Wax, Waa, ba)
    da = np.random.randn(5, 10, 4)
    dx, da0, dWax, dWaa, dba = module.backward(da, cache)
    np.testing.assert_allclose(dx[1][2], [-2.07101689, -0.59255627, 0.02466855, 0.01483317], atol=1e-8)
    assert da0[2][3] == pytest.approx(-0.314942375127, abs=1e-11)
    assert dWax[3][1] == pytest.approx(11.2641044965, abs=1e-9)
    assert dWaa[1][2] == pytest.approx(2.30333312658, abs=1e-10)
    assert dba[4] == pytest.approx([-0.74747722], abs=1e-8)
    assert (dx.shape, da0.shape, dWax.shape, dWaa.shape, dba.shape) == ((3, 10, 4), (5, 10), (5, 3), (5, 5), (5, 1))


# ---- a cell in no catalogue -----------------------------------------------------------------------------

def test_user_defined_cell_derives_exports_and_matches_torch():
    derivation = derive_layer(Layer.parse(LEAKY, "leaky"))
    module = recurrent_module(derivation)
    rng = np.random.default_rng(11)
    T, N, D, H = 5, 2, 3, 4
    arrays = [rng.standard_normal(shape) for shape in [(T, N, D), (N, H), (D, H), (H, H), (H,)]]
    out, cache = module.forward(*arrays)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    x, s0, W, U, lk = leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    s, states = s0, []
    for t in range(T):
        a = torch.sigmoid(lk)
        s = (1 - a) * s + a * torch.tanh(x[t] @ W + s @ U)
        states.append(s)
    (torch.stack(states) * torch.tensor(dout)).sum().backward()
    for got, leaf in zip(grads, leaves):
        want = leaf.grad.numpy()
        assert np.abs(got - want).max() <= 1e-10 * np.abs(want).max()


def test_gru_central_differences():
    module = recurrent_module(derive_layer("gru"))
    rng = np.random.default_rng(2)
    T, N, D, H = 3, 2, 2, 3
    p = _params("gru", D, H, rng)
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    dout = rng.standard_normal((T, N, H))
    grads = module.backward(dout, module.forward(x, h0, *p.values())[1])
    arrays = [x, h0, *p.values()]

    def cost():
        return float((module.forward(*arrays)[0] * dout).sum())
    for array, grad in zip(arrays, grads):
        for index in [(0,) * array.ndim, tuple(s - 1 for s in array.shape)]:
            keep = array[index]
            array[index] = keep + 1e-6
            up = cost()
            array[index] = keep - 1e-6
            down = cost()
            array[index] = keep
            assert grad[index] == pytest.approx((up - down) / 2e-6, rel=1e-6, abs=1e-8)


# ---- check: BPTT formulas and the classic mistakes ------------------------------------------------------

@pytest.mark.parametrize("formula, verdict, words", [
    ("dz[t, n, k] = (1 - h[t, n, k]^2) * (dh[t, n, k] + dh_prev[t+1, n, k])", "correct", "equal to the derived dz"),
    ("dz[t, n, k] = (1 - h[t, n, k]^2) * dh[t, n, k]", "incorrect", "carried gradient forgotten"),
    ("dz[t, n, k] = (1 - z[t, n, k]^2) * (dh[t, n, k] + dh_prev[t+1, n, k])", "incorrect", "tanh' written in z"),
    ("dWx[j, k] = sum(x[t, n, j] * dz[t, n, k], t, n)", "correct", "equal to the derived dWx"),
    ("dWx[j, k] = sum(x[t, n, j] * dz[t, n, k], n)", "incorrect", "of one step t"),
    ("dWh[q, k] = sum(h[t-1, n, q] * dz[t, n, k], t, n)", "correct", "equal"),
    ("dWh[q, k] = sum(h[t, n, q] * dz[t, n, k], t, n)", "incorrect", "differs"),
    ("dh_prev[t, n, q] = sum(Wh[q, k] * dz[t, n, k], k)", "correct", "equal"),
    ("dx[t, n, j] = sum(Wx[j, k] * dz[t, n, k], k)", "correct", "equal"),
])
def test_check_reads_bptt_formulas_and_names_the_classic_mistakes(formula, verdict, words):
    from symbackprop.checker._recurrent_check import check_recurrent
    result = check_recurrent(formula, layer_record("rnn").layer())
    assert result.verdict == verdict and words in result.diagnosis


#: the formulas of the Deep Learning Specialization's rnn_cell_backward / rnn_backward (ng-dls, units × examples)
#: and CS231n's rnn_step_backward / rnn_backward (examples × units), as students type them, and their LaTeX
@pytest.mark.parametrize("notation, formula, verdict, words", [
    ("ng-dls", "dtanh = (1 - a_next**2) * (da + da_prevt)", "correct", "equal to the derived dz"),
    ("ng-dls", "dtanh = (1 - a_next**2) * da", "incorrect", "carried gradient forgotten"),
    ("ng-dls", "dtanh = (1 - z**2) * (da + da_prevt)", "incorrect", "tanh' written in z instead of a"),
    ("ng-dls", "dWax = sum(np.dot(dtanh, xt.T), t)", "correct", "equal to the derived dW_ax"),
    ("ng-dls", "dWax += np.dot(dtanh, xt.T)", "correct", "equal to the derived dW_ax"),
    ("ng-dls", "dWax = np.dot(dtanh, xt.T)", "incorrect", "of one step t"),
    ("ng-dls", "dba = sum(np.sum(dtanh, axis=1, keepdims=True), t)", "correct", "equal to the derived db_a"),
    ("ng-dls", "da_prev = np.dot(Waa.T, dtanh)", "correct", "equal to the derived da_prev"),
    ("ng-dls", "dxt = np.dot(Wax.T, dtanh)", "correct", "equal to the derived dx"),
    ("ng-dls", r"dW_{aa} = \sum_t dtanh (a^{\langle t-1 \rangle})^T", "correct", "equal to the derived dW_aa"),
    ("ng-dls", r"dtanh = (1 - (a^{\langle t \rangle})^2) \odot (da^{\langle t \rangle} + da_{prev})", "correct",
     "equal to the derived dz"),
    ("ng-dls", r"dtanh = (1 - (a^{\langle t \rangle})^2) \odot da^{\langle t \rangle}", "incorrect",
     "carried gradient forgotten"),
    ("ng-dls", "dW_{ax} = dtanh x^{⟨t⟩ T}", "incorrect", "of one step t"),
    ("cs231n", "dx = (dnext_h * (1 - next_h**2)) @ Wx.T", "correct", "equal to the derived dx"),
    ("cs231n", "dx = (dh * (1 - next_h**2)) @ Wx.T", "incorrect", "carried gradient forgotten"),
    ("cs231n", "dprev_h = dnext_h * (1 - next_h**2) @ Wh.T", "correct", "equal to the derived dh_prev"),
    ("cs231n", "dWh = sum(prev_h.T @ (dnext_h * (1 - next_h**2)), t)", "correct", "equal to the derived dWh"),
    ("cs231n", "db = sum(np.sum((dh + dprev_h) * (1 - next_h**2), axis=0), t)", "correct", "equal to the derived db"),
    ("cs231n", "dWx = sum(np.dot(x, dnext_h * (1 - next_h**2)), t)", "incorrect", "left factor transposed"),
])
def test_check_reads_bptt_formulas_in_numpy_and_latex(notation, formula, verdict, words):
    from symbackprop.checker._recurrent_check import check_recurrent
    from symbackprop.rendering._recurrent_letters import in_letters
    layer = in_letters(layer_record("rnn").layer(), notation)
    result = check_recurrent(formula, layer, notation=notation)
    assert result.verdict == verdict and words in result.diagnosis, result.diagnosis


def test_cli_checks_a_dls_numpy_formula_and_refuses_an_unknown_name(capsys):
    from symbackprop.cli import main
    assert main(["check", "--layer", "rnn", "--notation", "ng-dls", "dWaa += np.dot(dtanh, a_prev.T)"]) == 0
    assert "correct" in capsys.readouterr().out
    assert main(["check", "--layer", "rnn", "--notation", "ng-dls", "dtanh = (1 - q**2) * da"]) == 2
    err = capsys.readouterr().err
    assert "unknown name 'q'" in err and "a_next" in err and "Traceback" not in err


def test_check_lstm_cell_path_without_the_carried_cell_gradient():
    from symbackprop.checker._recurrent_check import check_recurrent
    layer = layer_record("lstm").layer()
    wrong = check_recurrent("dc[t, n, k] = dh[t, n, k] * o[t, n, k] * (1 - tanh(c[t, n, k])^2)", layer)
    assert wrong.verdict == "incorrect" and "carried gradient forgotten" in wrong.diagnosis


@pytest.mark.parametrize("formula", [
    # DLS lstm_cell_backward: dc_prev = dc_next ⊙ Γ_f + Γ_o ⊙ (1 − tanh²(c_next)) ⊙ Γ_f ⊙ da_next, so at step t the
    # cell gradient is Γ_o (1 − tanh² c) (da + da_prev⟨t+1⟩) + what step t+1 sends back (dc_last after the last step)
    "dc[t, n, k] = (1 - tanh(c[t, n, k])^2) * o[t, n, k] * (dh[t, n, k] + dh_prev[t+1, n, k]) + dc_prev[t+1, n, k]",
    "df[t, n, k] = c[t-1, n, k] * ((1 - tanh(c[t, n, k])^2) * o[t, n, k] * (dh[t, n, k] + dh_prev[t+1, n, k])"
    " + dc_prev[t+1, n, k])"])
def test_check_lstm_cell_gradient_with_the_final_cell_state_upstream(formula):
    """The checker draws an upstream gradient of the final cell state (dc_last): what 'step T' sends back to the
    last cell is that gradient, not zero (a correct dc was judged 'differs' before)."""
    from symbackprop.checker._recurrent_check import check_recurrent
    result = check_recurrent(formula, layer_record("lstm").layer())
    assert result.verdict == "correct", result.diagnosis


def test_cli_derives_exports_and_checks_a_recurrent_layer(tmp_path, capsys):
    from symbackprop.cli import main
    assert main(["derive", "--layer", "rnn", "--notation", "ng-dls"]) == 0
    out = capsys.readouterr().out
    assert "∂C/∂a[t, n, k] = da[t, n, k] + da_prev[t + 1, n, k]" in out and "[shared weights summed over time]" in out
    assert "a[t - 1, n, q]" in out and "1 + t" not in out and "-1 + t" not in out      # the textbook's t ± 1
    target = tmp_path / "rnn.py"
    assert main(["export", "--layer", "rnn", "--notation", "ng-dls", "-o", str(target)]) == 0
    assert "def forward(x, a0, Wax, Waa, ba)" in target.read_text(encoding="utf-8")
    assert main(["check", "--layer", "rnn", "dz[t, n, k] = (1 - h[t, n, k]^2) * dh[t, n, k]"]) == 1
    assert "carried gradient forgotten" in capsys.readouterr().out
    assert main(["check", "--layer", "rnn", "--notation", "ng-dls",
                 "dW_aa[q, k] = sum(a[t-1, n, q] * dz[t, n, k], t, n)"]) == 0
    assert "correct" in capsys.readouterr().out
    assert main(["check", "--layer", "rnn", "--notation", "ng-dls",
                 "dz[t, n, k] = (1 - z[t, n, k]^2) * (da[t, n, k] + da_prev[t+1, n, k])"]) == 1
    assert "tanh' written in z instead of a" in capsys.readouterr().out
    for arguments in (["export", "--layer", "rnn", "--notation", "bishop", "-o", str(tmp_path / "x.py")],
                      ["check", "--layer", "rnn", "dz[t, n, k] = h[t-2, n, k]"]):
        assert main(arguments) == 2
        error = capsys.readouterr().err
        assert "error:" in error and "Traceback" not in error


def test_lstm_export_equals_sympy_diff_of_an_unrolled_network():
    """DLS's LSTM cell written here with sympy (c = Γ_f c_prev + Γ_u c̃, a = Γ_o tanh(c)), unrolled T = 2."""
    rng = np.random.default_rng(8)
    T, N, D, H = 2, 1, 1, 1
    names = "Wfx Wfh bf Wux Wuh bu Wcx Wch bc Wox Woh bo".split()
    shapes = {"x": (D, H), "h": (H, H), "b": (1, H)}

    def symbols(name, shape):
        return sp.Matrix(*shape, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))
    params = {n: symbols(n, shapes[n[-1]] if n[0] == "W" else shapes["b"]) for n in names}
    xs = [symbols(f"x{t}", (N, D)) for t in range(T)]
    h0, c0 = symbols("h0", (N, H)), symbols("c0", (N, H))
    sigmoid = lambda m: m.applyfunc(lambda v: 1 / (1 + sp.exp(-v)))     # noqa: E731
    g = [sp.Matrix(N, H, lambda i, j: sp.Rational(int(rng.integers(-9, 10)), 7)) for _ in range(T + 1)]
    h, c, cost = h0, c0, 0
    for t in range(T):
        def gate(letter):
            return xs[t] * params[f"W{letter}x"] + h * params[f"W{letter}h"] + params[f"b{letter}"]
        f, u, o = sigmoid(gate("f")), sigmoid(gate("u")), sigmoid(gate("o"))
        candidate = gate("c").applyfunc(sp.tanh)
        c = f.multiply_elementwise(c) + u.multiply_elementwise(candidate)
        h = o.multiply_elementwise(c.applyfunc(sp.tanh))
        cost += sum(g[t][i, j] * h[i, j] for i in range(N) for j in range(H))
    cost += sum(g[T][i, j] * c[i, j] for i in range(N) for j in range(H))      # the last cell state's upstream
    variables = sorted(cost.free_symbols, key=str)
    values = {s: int(rng.integers(-20, 21)) / 29 for s in variables}
    partials = sp.lambdify(variables, [sp.diff(cost, s) for s in variables], "math")(*values.values())
    by_symbol = dict(zip(variables, partials))

    def numeric(matrix):
        return np.array(matrix.applyfunc(lambda s: values[s]).tolist(), dtype=float)

    def gradient(matrix):
        return np.array(matrix.applyfunc(lambda s: by_symbol[s]).tolist(), dtype=float)
    module = recurrent_module(derive_layer("lstm"))
    arrays = [np.stack([numeric(m) for m in xs]), numeric(h0), numeric(c0)]
    arrays += [numeric(params[n])[0] if n[0] == "b" else numeric(params[n]) for n in names]
    out, cache = module.forward(*arrays)
    grads = module.backward(np.stack([np.array(m.tolist(), dtype=float) for m in g[:T]]), cache,
                            dc_last=np.array(g[T].tolist(), dtype=float))
    expected = [np.stack([gradient(m) for m in xs]), gradient(h0), gradient(c0)]
    expected += [gradient(params[n])[0] if n[0] == "b" else gradient(params[n]) for n in names]
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_user_defined_cell_is_checked():
    from symbackprop.checker._recurrent_check import check_recurrent
    layer = Layer.parse(LEAKY, "leaky")
    assert check_recurrent("dp[t, n, k] = (1 - g[t, n, k]^2) * dg[t, n, k]", layer).verdict == "correct"
    wrong = check_recurrent("dp[t, n, k] = (1 - p[t, n, k]^2) * dg[t, n, k]", layer)
    assert wrong.verdict == "incorrect" and "tanh' written in p" in wrong.diagnosis


@pytest.mark.parametrize("fmt", ["text", "json", "latex", "tex", "html"])
def test_derive_renders_a_recurrent_layer_in_every_format(fmt, tmp_path):
    from symbackprop.cli import main
    target = tmp_path / f"gru.{fmt}"
    assert main(["derive", "--layer", "gru", "--format", fmt, "-o", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert "through time" in text and ("dh_prev" in text or r"h_{\mathrm{prev}}" in text)


def test_derive_refuses_a_notation_without_recurrent_letters(capsys):
    from symbackprop.cli import main
    assert main(["derive", "--layer", "rnn", "--notation", "nielsen"]) == 2
    assert "ng-dls" in capsys.readouterr().err

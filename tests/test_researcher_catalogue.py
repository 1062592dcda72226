"""The activations and losses of current models, against torch's own definitions.

For every record added with them (gelu, gelu-tanh, selu, mish, softsign, hard-sigmoid, hard-tanh,
swish; huber, hinge, squared-hinge, focal, kl-divergence) and for the expressions researchers type
(exact GELU with erf, the tanh approximation with pi and 0.044715, SELU with max/min), the exported
gradient is compared at float64 with torch autograd of a cost written with torch.nn.functional
(F.gelu, F.selu, F.mish, F.softsign, F.hardtanh, F.hardsigmoid, F.silu, F.huber_loss, F.kl_div; the
hinge losses and the focal loss in torch ops), to 1e-10 relative, and with central differences of
that torch cost. None of the references reads anything symbackprop derived.
"""
from __future__ import annotations

import numpy as np
import pytest

import symbackprop as sb
from optional_libraries import require

torch = require("torch", "comparing the newer catalogue records with torch")
F = torch.nn.functional

SELU_ALPHA = "1.6732632423543772848170429916717"
SELU_SCALE = "1.0507009873554804934193349852946"
L2 = 0.3

#: name -> the activation written with torch
ACTIVATIONS = {
    "gelu": lambda z: F.gelu(z, approximate="none"),
    "gelu-tanh": lambda z: F.gelu(z, approximate="tanh"),
    "selu": F.selu,
    "mish": F.mish,
    "softsign": F.softsign,
    "hard-sigmoid": lambda z: F.relu6(z + 3) / 6,          # torch's definition; see the test below
    "hard-tanh": F.hardtanh,
    "swish": F.silu,                                        # beta = 1
    "swish:beta=1.5": lambda z: z * torch.sigmoid(1.5 * z),
    # the same functions typed as expressions
    "z*(1 + erf(z/sqrt(2)))/2": lambda z: F.gelu(z, approximate="none"),
    "0.5*z*(1 + tanh(sqrt(2/pi)*(z + 0.044715*z^3)))": lambda z: F.gelu(z, approximate="tanh"),
    f"{SELU_SCALE}*(max(0, z) + min(0, {SELU_ALPHA}*(exp(z) - 1)))": F.selu,
    "z*tanh(log1p(exp(z)))": F.mish,
    "z/(1 + abs(z))": F.softsign,
    "clip(z, -1, 1)": F.hardtanh,
    "max(0, min(1, z/6 + 0.5))": lambda z: F.relu6(z + 3) / 6,
}


def _focal(a, y, gamma=2.0):
    return (-y * (1 - a) ** gamma * torch.log(a) - (1 - y) * a ** gamma * torch.log(1 - a)).sum()


#: loss spec -> (output activation, the output written with torch, the loss of a batch, the targets)
LOSSES = {
    "huber": ("identity", lambda z: z, lambda a, y: F.huber_loss(a, y, delta=1.0, reduction="sum"), "wide"),
    "huber:delta=0.5": ("identity", lambda z: z, lambda a, y: F.huber_loss(a, y, delta=0.5, reduction="sum"), "wide"),
    "hinge": ("identity", lambda z: z, lambda a, y: torch.clamp(1 - y * a, min=0).sum(), "sign"),
    "squared-hinge": ("tanh", torch.tanh, lambda a, y: (torch.clamp(1 - y * a, min=0) ** 2).sum(), "sign"),
    "focal": ("sigmoid", torch.sigmoid, _focal, "unit"),
    "focal:gamma=0.5": ("sigmoid", torch.sigmoid, lambda a, y: _focal(a, y, 0.5), "unit"),
    "kl-divergence": ("softmax", lambda z: torch.softmax(z, dim=1),
                      lambda a, y: F.kl_div(torch.log(a), y, reduction="sum"), "distribution"),
}


def _targets(kind, rng, shape):
    if kind == "sign":
        return rng.choice([-1.0, 1.0], size=shape)
    if kind == "wide":
        return rng.normal(scale=1.5, size=shape)          # residuals on both sides of huber's delta
    raw = rng.uniform(0.1, 0.9, size=shape)
    return raw / raw.sum(axis=1, keepdims=True) if kind == "distribution" else raw


def _problem(sizes, seed, target_kind="wide"):
    rng = np.random.default_rng(seed)
    params = []
    for previous, current in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(scale=1.5 / np.sqrt(previous), size=(current, previous)), rng.normal(size=current)]
    X = rng.normal(scale=2.0, size=(7, sizes[0]))     # pre-activations across the kinks at ±1 and ±3
    return params, X, _targets(target_kind, rng, (7, sizes[-1]))


def _torch_cost(hidden, output, loss):
    """The cost compile() computes (mean loss over the rows + lambda/(2m) Σ W²), written with torch."""
    def cost(params, X, Y):
        a = X
        for position in range(len(params) // 2):
            W, b = params[2 * position], params[2 * position + 1]
            z = a @ W.T + b
            a = output(z) if position == len(params) // 2 - 1 else hidden(z)
        m = X.shape[0]
        return loss(a, Y) / m + L2 / (2 * m) * sum((W ** 2).sum() for W in params[0::2])
    return cost


def _autograd(cost, params, X, Y):
    tensors = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    value = cost(tensors, torch.tensor(X), torch.tensor(Y))
    return float(value.detach()), [g.numpy() for g in torch.autograd.grad(value, tensors)]


def _central_differences(cost, params, X, Y, h=1e-6):
    values = [torch.tensor(p, dtype=torch.float64) for p in params]
    X, Y = torch.tensor(X), torch.tensor(Y)
    gradients = []
    for p in values:
        g = np.zeros(p.shape)
        for index in np.ndindex(*p.shape):
            old = float(p[index])
            p[index] = old + h
            up = float(cost(values, X, Y))
            p[index] = old - h
            down = float(cost(values, X, Y))
            p[index] = old
            g[index] = (up - down) / (2 * h)
        gradients.append(g)
    return gradients


def _relative(got, expected) -> float:
    got = np.concatenate([np.ravel(g) for g in got])
    expected = np.concatenate([np.ravel(e) for e in expected])
    return float(np.linalg.norm(got - expected) / np.linalg.norm(expected))


def _check(network, cost, params, X, Y):
    value, expected = _autograd(cost, params, X, Y)
    got_value, got = sb.compile(network)(params, X, Y)
    assert abs(got_value - value) <= 1e-12 * abs(value)
    assert _relative(got, expected) <= 1e-10
    assert _relative(got, _central_differences(cost, params, X, Y)) <= 1e-6


@pytest.mark.parametrize("spec", list(ACTIVATIONS))
def test_activation_as_hidden_and_output_layer_matches_torch(spec):
    """hidden g, output g, quadratic loss: g' in the recursion and in δ^L."""
    network = sb.Network((3, 4, 2), hidden=spec, output=spec, loss="quadratic", l2=L2)
    params, X, Y = _problem(network.sizes, seed=len(spec))
    quadratic = lambda a, y: 0.5 * ((a - y) ** 2).sum()
    _check(network, _torch_cost(ACTIVATIONS[spec], ACTIVATIONS[spec], quadratic), params, X, Y)


def test_swish_with_gelus_sigmoid_beta_as_hidden_layer_matches_torch():
    """z*sigmoid(1.702 z), GELU's sigmoid approximation, as the catalogue's swish with beta = 1.702 =
    851/500: the engine derives with beta a symbol, so the hidden layer finishes. (As an *output*
    activation its δ^L with beta = 851/500 substituted is left to the simplification budgets of issue 18.)"""
    network = sb.Network((3, 4, 2), hidden="swish:beta=1.702", output="identity", loss="quadratic", l2=L2)
    params, X, Y = _problem(network.sizes, seed=3)
    quadratic = lambda a, y: 0.5 * ((a - y) ** 2).sum()
    _check(network, _torch_cost(lambda z: z * torch.sigmoid(1.702 * z), lambda z: z, quadratic), params, X, Y)


@pytest.mark.parametrize("spec", list(LOSSES))
def test_loss_matches_torch(spec):
    output, torch_output, torch_loss, targets = LOSSES[spec]
    network = sb.Network((3, 4, 3), hidden="gelu", output=output, loss=spec, l2=L2)
    params, X, Y = _problem(network.sizes, seed=len(spec), target_kind=targets)
    gelu = lambda z: F.gelu(z, approximate="none")
    _check(network, _torch_cost(gelu, torch_output, torch_loss), params, X, Y)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_exported_jax_and_torch_modules_use_their_own_erf_and_agree(tmp_path, backend):
    """The exported module of a GELU network with a huber loss, in JAX and torch, against torch autograd."""
    if backend == "jax":
        jax = require("jax", "the exported JAX module")
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        convert, back = jnp.asarray, np.asarray
    else:
        convert, back = torch.tensor, lambda t: t.numpy()
    network = sb.Network((3, 5, 2), hidden="gelu", output="gelu-tanh", loss="huber", l2=L2)
    source = sb.export_module(network, tmp_path / f"gelu_{backend}.py", backend=backend)
    # GELU's 1 + erf(z/√2) is exported as erfc(-z/√2) (export/_stable_special.py), by the backend's own erfc
    assert ("jax.scipy.special.erfc(" if backend == "jax" else "torch.special.erfc(") in source
    assert "cody_erf" not in source
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"gelu_{backend}", tmp_path / f"gelu_{backend}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    params, X, Y = _problem(network.sizes, seed=5)
    cost = _torch_cost(lambda z: F.gelu(z, approximate="none"), lambda z: F.gelu(z, approximate="tanh"),
                       lambda a, y: F.huber_loss(a, y, reduction="sum"))
    value, expected = _autograd(cost, params, X, Y)
    got_value, got = module.cost_and_gradients([convert(p) for p in params], convert(X), convert(Y))
    assert abs(float(got_value) - value) <= 1e-12 * abs(value)
    assert _relative([back(g) for g in got], expected) <= 1e-10


def test_hard_sigmoid_reference_is_torchs_hardsigmoid():
    """F.hardsigmoid is relu6(z + 3)/6; its backward multiplies by 1/6 rounded to float32
    (0.16666667163...), 3e-8 off at float64, so the gradients above are compared with autograd of
    relu6(z + 3)/6, which torch documents as the definition, rather than with F.hardsigmoid's backward."""
    z = torch.linspace(-5, 5, 1001, dtype=torch.float64)
    assert torch.allclose(F.hardsigmoid(z), F.relu6(z + 3) / 6, rtol=1e-15, atol=1e-16)
    x = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    F.hardsigmoid(x).backward()
    assert abs(float(x.grad) - 1 / 6) < 1e-7


@pytest.mark.parametrize("hidden, helpers", [
    ("gelu", ["cody_erfc"]),                  # 1 + erf(z/√2) is exported as erfc(-z/√2)
    ("z*erf(z)", ["cody_erf", "cody_erfc"]),  # a lone erf: Cody's erf, which calls his erfc
])
def test_numpy_module_carries_cody_erf_and_imports_only_numpy(hidden, helpers):
    source = sb.export_module(sb.Network((2, 3, 1), hidden=hidden, output="identity", loss="quadratic"))
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import numpy as np"]
    assert [name for name in ("cody_erf", "cody_erfc") if f"def {name}(x):" in source] == helpers
    assert "Cody" in source


def test_focal_derivation_says_what_cancels_and_what_does_not():
    derivation = sb.derive(sb.Network((2, 3, 2), hidden="tanh", output="sigmoid", loss="focal"))
    loss = derivation.network.loss
    assert "cancel" in loss.note and "do not cancel" in loss.note
    # With gamma = 0 the focal loss is the cross-entropy: δ^L must become a - y.
    import sympy as sp
    from symbackprop import symbols as S
    gamma = next(iter(loss.parameters))
    assert sp.simplify(derivation.output_delta.unit.subs(gamma, 0) - (S.a - S.y)) == 0
    # With gamma = 2 the factor a(1 - a) of σ' is not cancelled in full: δ^L is not a - y.
    assert sp.simplify(derivation.output_delta.unit.subs(gamma, 2) - (S.a - S.y)) != 0


def test_loss_parameters_are_set_like_activation_parameters():
    assert sb.Network((2, 2), output="identity", loss="huber:delta=0.25").loss.concrete().has(sp_rational(1, 4))
    with pytest.raises(sb.SymbackpropError, match="has no parameter 'beta'; its parameters: delta"):
        sb.Network((2, 2), output="identity", loss="huber:beta=2")
    with pytest.raises(sb.SymbackpropError, match="bad parameter"):
        sb.Network((2, 2), output="identity", loss="focal:gamma=two")


def sp_rational(p, q):
    import sympy as sp
    return sp.Rational(p, q)


def test_huber_with_a_softmax_output_is_refused_with_a_clear_error():
    with pytest.raises(sb.SymbackpropError, match="elementwise in one vector"):
        sb.derive(sb.Network((2, 3, 3), output="softmax", loss="huber"))

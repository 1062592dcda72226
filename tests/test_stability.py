"""Numerical stability of the compiled code at pre-activations up to ±1000, against 600-digit mpmath.

The reference is independent of the exporter: the cost of one example composed from the
catalogue's *definitions* (SymPy), differentiated by ``sympy.diff`` and evaluated by mpmath at
600 digits -- enough for e^-1000. A point counts where the loss is defined there (every
logarithm's argument positive) and the true values are representable in float64.

What is claimed and checked:
* the cost of every example: relative error below 1e-10;
* the gradients: finite, and relative error below 1e-10 in norm, per parameter array, over a
  batch that holds every probe point (one example per point);
* hidden layers with pre-activations at ±1000: finite gradients, accurate in norm.
Claimed for the classic records in their full product (tests/catalogue_pairs.py), and for the newer
records (issue 17) at the a = 0 / a = 1 edges: each newer activation as the output and as a hidden layer,
each newer loss after a sigmoid output (focal at its default gamma = 2). Among them, what float64 would
lose as the definitions are written and the exporter's rewriting keeps (export/_stable_special.py,
export/_stable.py): gelu's 1 + erf(z/√2) is erfc(-z/√2) (relative accuracy down to z = -37.5, where
z Φ(z) leaves the normal float64 range); gelu-tanh's 1 ± tanh(u) and 1 - tanh²(u) are 2σ(±2u) and 4σ(2u)σ(-2u) for its
cubic u; mish's tanh(softplus(z)) is rational in e^z, split by the sign of z (no e^z above z = 709);
the focal loss's δ^L is a(1 - a) times terms in a^2/(1 - a) and (1 - a)^2/a, multiplied out into
bounded terms (no inf 0 where a or 1 - a rounds to 0); at a non-integer γ (0.5, 1.5 tested) a^γ and
(1 - a)^γ are exp(γ log a), exp(γ log(1 - a)) with the logs as softplus. The JAX and torch modules of
gelu, gelu-tanh and mish meet the same claim (their own erfc).
At γ < 1, δ^L's a^(γ-1) (up to e^((1-γ)|z|)) is merged into one exp with the e^-|z| of a(1 - a), so
focal at γ = 0.5 is also checked at z = ±1500 and ±5000 (it was NaN beyond |z| = 709/(1 - γ)).
Not claimed: relative accuracy of a gradient entry that is tiny next to the others, e.g.
δ^L = a - y = -4e-18 for a unit predicting its target at z = 40 (a - y rounds to 0, an error of
4e-18 against entries of order 1 elsewhere in the batch).
"""
from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import symbols as S
from symbackprop.export._stable import stabilise

from catalogue_pairs import CLASSIC_ACTIVATIONS, CLASSIC_LOSSES
from conftest_export import accepted_pairs, pair_id
from optional_libraries import require

GRID = [-1000, -745, -700, -100, -40, -20, -5, -1, -1e-3, 1e-3, 0.3, 0.7, 1, 5, 20, 40, 100, 700, 745, 1000]
PAIRS = [(output, loss) for output, loss in accepted_pairs()
         if output.name in CLASSIC_ACTIVATIONS and loss.name in CLASSIC_LOSSES]
ELEMENTWISE = [activation for activation, _ in dict.fromkeys(PAIRS) if activation.elementwise]
ELEMENTWISE = list(dict.fromkeys(ELEMENTWISE))
DIGITS = 600



def _composed(output, loss, n, sign):
    """(f(z..., y...) -> [C, dC/dz...], domain(z..., y...) -> log arguments), from the definitions."""
    assumptions = {1: dict(positive=True), -1: dict(negative=True)}.get(sign, dict(real=True))
    zs = sp.symbols(f"z1:{n + 1}", **assumptions)
    ys = sp.symbols(f"y1:{n + 1}", real=True)
    if output.elementwise:
        a = [output.concrete().subs(S.z, zk) for zk in zs]
    else:
        total = sum(sp.exp(zk) for zk in zs)
        a = [sp.exp(zk) / total for zk in zs]
    if loss.separable:
        terms = [loss.concrete().subs({S.a: ak, S.y: yk}, simultaneous=True) for ak, yk in zip(a, ys)]
        logs = [node.args[0] for term in terms for node in term.atoms(sp.log)]
        cost = sum(terms)
    else:
        cost = -sum(yk * sp.log(ak) for ak, yk in zip(a, ys))
        logs = list(a)
    gradient = [sp.diff(cost, zk) for zk in zs]
    if any(expression.has(sp.zoo, sp.nan) for expression in [cost] + gradient):
        return None
    return (sp.lambdify(zs + ys, [cost] + gradient, "mpmath"), sp.lambdify(zs + ys, logs, "mpmath"))


_references = {}


def reference(output, loss, z, y, digits=DIGITS):
    """(C, [dC/dz_k]) as floats, or None outside the loss's domain or float64's range."""
    sign = 0 if not (output.elementwise and output.concrete().has(sp.Piecewise)) else (1 if z[0] > 0 else -1)
    key = (output.name, loss.name, str(output.parameters), str(loss.parameters), len(z), sign)
    if key not in _references:
        _references[key] = _composed(output, loss, len(z), sign)
    if _references[key] is None:
        return None
    values, logs = _references[key]
    with mpmath.workdps(digits):
        arguments = [mpmath.mpf(v) for v in list(z) + list(y)]
        try:
            if any(not (mpmath.im(v) == 0 and mpmath.re(v) > 0) for v in logs(*arguments)):
                return None
            result = values(*arguments)
        except (ZeroDivisionError, ValueError):
            return None
        if any(not mpmath.isfinite(v) or abs(v) > 1e300 for v in result):
            return None
        return float(result[0]), np.array([float(v) for v in result[1:]])


def _rows(output, loss):
    """(z row, y row) probes: every grid value, with targets 0, 1 and between for an elementwise output,
    with one-hot targets and a dominant, tied or small unit for a softmax."""
    rows = []
    if output.elementwise:
        targets = (0.0, 1.0, 3.0) if loss.name == "poisson" else (0.0, 1.0, 0.3)
        for z in GRID:
            if z == 0 and output.concrete().has(sp.Piecewise):
                continue
            rows += [([float(z)], [y]) for y in targets]
    else:
        for z in GRID:
            for z_row in ([z, 0.0, -z], [z, z, 0.0], [0.0, z, 1.0]):
                for c in range(3):
                    y = [0.0, 0.0, 0.0]
                    y[c] = 1.0
                    rows.append(([float(v) for v in z_row], y))
    return rows


def _evaluate(f, z_rows, y_rows, n):
    """The compiled gradient on the batch X = I (one example per probe): W^T = z, so dJ/dW = δ^T / m."""
    m = len(z_rows)
    W = np.array(z_rows, dtype=np.float64).T.reshape(n, m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no overflow or invalid-value warning at any probe in the domain
        return f([W, np.zeros(n)], np.eye(m), np.array(y_rows, dtype=np.float64))


def _newer_pairs():
    """The newer records at the edges: each newer activation as the output (quadratic cost: a = g(z) itself
    at saturation, a = 0 or 1 exactly for hard-sigmoid), each newer loss after a sigmoid output (a = σ(z)
    rounds to 1 above z = 37 and underflows below z = -745)."""
    from symbackprop.catalogue import ACTIVATIONS, LOSSES
    activations = {a.name: a for a in ACTIVATIONS}
    losses = {loss.name: loss for loss in LOSSES}
    pairs = [(activations[name], losses["quadratic"]) for name in
             ("gelu", "gelu-tanh", "selu", "mish", "softsign", "hard-sigmoid", "hard-tanh", "swish")]
    pairs += [(activations["hard-sigmoid"], losses["cross-entropy"])]
    pairs += [(activations["sigmoid"], losses[name]) for name in
              ("huber", "hinge", "squared-hinge", "focal", "kl-divergence")]
    return pairs


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_cost_and_gradients_at_pre_activations_up_to_1000(pair):
    _cost_and_gradients_at_the_edges(pair)


@pytest.mark.parametrize("pair", _newer_pairs(), ids=pair_id)
def test_newer_records_at_saturation(pair):
    """The newer records (issue 17) at the a = 0 / a = 1 edges and at pre-activations up to ±1000: finite
    gradients, accurate in norm to 1e-10, against the same 600-digit reference as the classic records."""
    _cost_and_gradients_at_the_edges(pair)


@pytest.mark.parametrize("gamma", ["0.5", "1.5"])
def test_focal_loss_at_a_non_integer_gamma(gamma):
    """(1 - a)^γ and a^γ with γ not an integer are not rational in e^z: they are exported as
    exp(γ log a), log a = -logaddexp(0, -z) (export/_stable.py, rule 3b), at the grid and at ±5000."""
    from symbackprop.catalogue import ACTIVATIONS, LOSSES
    sigmoid = next(a for a in ACTIVATIONS if a.name == "sigmoid")
    focal = next(loss for loss in LOSSES if loss.name == "focal").with_parameters(gamma=sp.Rational(gamma))
    _cost_and_gradients_at_the_edges((sigmoid, focal))
    # beyond the grid: at γ < 1, a^(γ-1) ~ e^((1-γ)|z|) overflows past |z| = 709/(1 - γ) unless it is
    # merged with the e^-|z| of a(1 - a) beside it
    f = sb.compile(sb.Network((1, 1), output=sigmoid, loss=focal))
    for z in (-5000.0, -1500.0, 1500.0, 5000.0):
        for y in (0.0, 1.0, 0.3):
            expected_cost, expected_delta = reference(sigmoid, focal, [z], [y], digits=2500)   # 1 - σ(5000)
            cost, (grad_W, _) = _evaluate(f, [[z]], [[y]], 1)
            assert cost == pytest.approx(expected_cost, rel=1e-10, abs=2.3e-308), (z, y)
            assert grad_W[0, 0] == pytest.approx(expected_delta[0], rel=1e-10, abs=2.3e-308), (z, y)


def _exported(backend, tmp_path):
    """compile() for another backend: the exported module, loaded, called with and returning NumPy arrays."""
    import importlib.util
    if backend == "jax":
        jax = require("jax", "the exported JAX module")
        jax.config.update("jax_enable_x64", True)
        convert = jax.numpy.asarray
    else:
        torch = require("torch", "the exported torch module")
        convert = torch.tensor

    def compile_(network):
        path = tmp_path / f"module_{backend}_{network.sizes[0]}.py"
        sb.export_module(network, path, backend=backend, force=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)

        def f(params, X, Y):
            cost, grads = module.cost_and_gradients([convert(p) for p in params], convert(X), convert(Y))
            return float(cost), [np.asarray(g) for g in grads]
        return f
    return compile_


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("name", ["gelu", "gelu-tanh", "mish"])
def test_jax_and_torch_modules_at_the_edges(name, backend, tmp_path):
    """The same claim for the JAX and torch modules of the activations whose stable forms need a function
    of the backend (erfc: the backend's own) or the sign split."""
    from symbackprop.catalogue import ACTIVATIONS, LOSSES
    output = next(a for a in ACTIVATIONS if a.name == name)
    quadratic = next(loss for loss in LOSSES if loss.name == "quadratic")
    _cost_and_gradients_at_the_edges((output, quadratic), _exported(backend, tmp_path))


def _cost_and_gradients_at_the_edges(pair, compile_=sb.compile):
    output, loss = pair
    n = 1 if output.elementwise else 3
    network = sb.Network((1, n), output=output, loss=loss)
    f = compile_(network)
    z_rows, y_rows, costs, deltas = [], [], [], []
    for z, y in _rows(output, loss):
        expected = reference(output, loss, z, y)
        if expected is None:
            continue
        cost, grads = _evaluate(f, [z], [y], n)      # one example: its own cost
        assert cost == pytest.approx(expected[0], rel=1e-10, abs=2.3e-308), (z, y)
        z_rows.append(z)
        y_rows.append(y)
        costs.append(expected[0])
        deltas.append(expected[1])
    assert len(z_rows) >= 6, "too few probe points in the loss's domain"
    m = len(z_rows)
    batch = compile_(sb.Network((m, n), output=output, loss=loss))   # X = I: one input per example
    cost, (grad_W, grad_b) = _evaluate(batch, z_rows, y_rows, n)
    assert np.isfinite(grad_W).all() and np.isfinite(grad_b).all()
    expected_W = np.array(deltas).T / m
    assert np.linalg.norm(grad_W - expected_W) <= 1e-10 * np.linalg.norm(expected_W)
    expected_b = expected_W.sum(axis=1)
    assert np.linalg.norm(grad_b - expected_b) <= 1e-10 * np.linalg.norm(expected_b) + 1e-300
    assert cost == pytest.approx(sum(costs) / m, rel=1e-10)


def _newer_hidden():
    from symbackprop.catalogue import ACTIVATIONS
    return [a for a in ACTIVATIONS
            if a.name in ("gelu", "gelu-tanh", "selu", "mish", "softsign", "hard-sigmoid", "hard-tanh", "swish")]


@pytest.mark.parametrize("hidden", ELEMENTWISE, ids=lambda a: a.name)
def test_hidden_layers_at_pre_activations_up_to_1000(hidden):
    _hidden_at_the_edges(hidden)


@pytest.mark.parametrize("hidden", _newer_hidden(), ids=lambda a: a.name)
def test_newer_hidden_activations_at_pre_activations_up_to_1000(hidden):
    """The newer activations as hidden layers at ±1000 (issue 17): finite and accurate gradients."""
    _hidden_at_the_edges(hidden)


def _hidden_at_the_edges(hidden):
    """One hidden unit per probe: z^2 = the probe, then a sigmoid unit with cross-entropy. The gradient
    of W^2 is e g'(z^2) per probe; the reference is mpmath's at 600 digits."""
    probes = [z for z in GRID if not (z == 0)]
    if hidden.name == "exp":
        probes = [z for z in probes if z < 300]   # beyond, the output's pre-activation itself overflows
    m = len(probes)
    network = sb.Network((m, m, 1), hidden=hidden, output="sigmoid", loss="cross-entropy")
    f = sb.compile(network)
    w = 1e-3
    params = [np.diag(np.array(probes, dtype=np.float64)), np.zeros(m), np.full((1, m), w), np.zeros(1)]
    X = np.eye(m)
    Y = np.ones((m, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost, grads = f(params, X, Y)
    assert all(np.isfinite(g).all() for g in grads) and np.isfinite(cost)
    g = sp.lambdify(S.z, hidden.concrete(), "mpmath")
    dg = sp.lambdify(S.z, sp.diff(hidden.concrete(), S.z), "mpmath")
    expected = np.zeros(m)
    with mpmath.workdps(DIGITS):
        at_zero = g(mpmath.mpf(0))
        for x, z in enumerate(probes):
            # example x: hidden unit x at the probe, the others at z = 0
            z3 = mpmath.mpf(w) * (g(mpmath.mpf(z)) + (m - 1) * at_zero)
            delta3 = 1 / (1 + mpmath.exp(-z3)) - 1               # sigmoid + cross-entropy, y = 1
            expected[x] = float(delta3 * mpmath.mpf(w) * dg(mpmath.mpf(z)) / m)
    got = np.diag(grads[0])
    assert np.linalg.norm(got - expected) <= 1e-10 * np.linalg.norm(expected)


def _elementary_equal(a, b, z=S.z):
    from symbackprop.export._nodes import elementary
    for point in (-30, sp.Rational(-5, 2), sp.Rational(-3, 10), sp.Rational(7, 10), 4, 25):
        left = sp.N(elementary(a).subs(z, point), 40)
        right = sp.N(b.subs(z, point), 40)
        if abs(left - right) > 1e-30 * (1 + abs(right)):
            return False
    return True


@pytest.mark.parametrize("name, expression, expected_text", [
    ("log sigmoid", sp.log(1 / (1 + sp.exp(-S.z))), "log1p(exp(-Abs(z)))"),
    ("log(1 - sigmoid)", sp.log(1 - 1 / (1 + sp.exp(-S.z))), "Max(0, z)"),
    ("log(1 - tanh)", sp.log(1 - sp.tanh(S.z)), "log(2)"),
    ("sigmoid'", sp.exp(-S.z) / (1 + sp.exp(-S.z)) ** 2, "exp(-Abs(z))"),
    ("softplus", sp.log(1 + sp.exp(S.z)), "log1p(exp(-Abs(z)))"),
    ("log(1 - exp)", sp.log(1 - sp.exp(S.z)), "log1mexp(-z)"),
    ("log softplus", sp.log(sp.log(1 + sp.exp(S.z))), "log_softplus(z)"),
])
def test_the_rewriting_gives_equal_forms_without_overflow(name, expression, expected_text):
    rewritten = stabilise(expression)
    assert expected_text in str(rewritten)
    assert _elementary_equal(rewritten, expression)


def test_binary_cross_entropy_with_logits_comes_out_of_the_rules():
    """y log σ(z) + (1 - y) log(1 - σ(z)) rewrites to the logistic loss as TensorFlow evaluates it."""
    sigma = 1 / (1 + sp.exp(-S.z))
    cost = stabilise(-S.y * sp.log(sigma) - (1 - S.y) * sp.log(1 - sigma))
    assert sp.simplify(cost - (sp.Max(0, S.z) - S.y * S.z + sp.codegen.cfunctions.log1p(sp.exp(-sp.Abs(S.z))))) == 0


_Z_REAL = sp.Symbol("z", real=True)
_CUBIC = sp.sqrt(2 / sp.pi) * (S.z + sp.Rational(44715, 10 ** 6) * S.z ** 3)
_SIGMA = 1 / (1 + sp.exp(-S.z))


@pytest.mark.parametrize("name, expression", [pytest.param(*case, id=ascii_id) for ascii_id, case in zip(
    ["gelu", "gelu-expanded", "gelu-derivative", "1-erf", "erfc(-z)", "1+tanh(cubic)", "z(1-tanh(cubic))", "sech2(cubic)",
     "tanh(softplus)", "mish-derivative", "sech(2softplus)", "sigma^1.5-log(1-sigma)", "focal-like"], [
    ("z (1 + erf(z/√2))/2", S.z * (1 + sp.erf(S.z / sp.sqrt(2))) / 2),
    ("z/2 + z erf(z/√2)/2, the same expanded", S.z / 2 + S.z * sp.erf(S.z / sp.sqrt(2)) / 2),
    ("its derivative", sp.diff(S.z * (1 + sp.erf(S.z / sp.sqrt(2))) / 2, S.z)),
    ("1 - erf(z)", 1 - sp.erf(S.z)),
    ("erfc(-z), which SymPy writes 2 - erfc(z)", sp.erfc(-S.z)),
    ("1 + tanh(cubic)", 1 + sp.tanh(_CUBIC)),
    ("z (1 - tanh(cubic))", S.z * (1 - sp.tanh(_CUBIC))),
    ("1 - tanh(cubic)^2", 1 - sp.tanh(_CUBIC) ** 2),
    ("tanh(softplus(z))", sp.tanh(sp.log(1 + sp.exp(S.z)))),
    ("d/dz z tanh(softplus(z))", sp.diff(S.z * sp.tanh(sp.log(1 + sp.exp(S.z))), S.z)),
    ("cosh(2 log(1 + e^z))", 1 / sp.cosh(2 * sp.log(1 + sp.exp(S.z)))),
    ("σ^(3/2) log(1 - σ)", _SIGMA ** sp.Rational(3, 2) * sp.log(1 - _SIGMA)),
    ("a(1 - a)(a²/(1 - a) - (1 - a)²/a), a = σ", _SIGMA * (1 - _SIGMA) * (_SIGMA ** 2 / (1 - _SIGMA) - (1 - _SIGMA) ** 2 / _SIGMA + sp.log(_SIGMA))),
])])
def test_the_rewriting_is_accurate_in_float64_from_minus_1000_to_1000(name, expression):
    """The stable form, printed for NumPy (erfc by Cody's, as an exported module carries it), against
    mpmath's value of the expression as written at 600 digits: relative error below 1e-13 wherever the
    true value is a normal float64, and no overflow or invalid operation at any point."""
    from symbackprop.export import _erf
    from symbackprop.export._printing import printer
    namespace = {"np": np}
    exec(_erf.ERFC_SOURCE + _erf.ERF_SOURCE, namespace)
    code = printer("numpy").doprint(stabilise(expression))
    evaluate = eval(f"lambda z: {code}", namespace)       # code printed from a SymPy tree, as lambdify does
    points = np.array([-1000, -745, -700, -100, -40, -37, -20, -8.5, -5, -1, -1e-3, 0, 1e-3, 0.3, 1, 5, 8.5, 20,
                       37, 40, 100, 700, 745, 1000], dtype=np.float64)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        warnings.simplefilter("error")
        got = np.broadcast_to(np.asarray(evaluate(points), dtype=np.float64), points.shape)
    exact = sp.lambdify(S.z, expression, "mpmath")
    with mpmath.workdps(DIGITS):
        for point, value in zip(points, got):
            truth = exact(mpmath.mpf(float(point)))
            if abs(truth) >= 2.3e-308:
                assert abs(value - truth) <= 1e-13 * abs(truth), (name, point, value, truth)
            else:
                assert abs(value) <= 2.3e-308, (name, point, value, truth)

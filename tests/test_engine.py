"""The engine's formulas against two independent oracles, for every catalogue entry.

(a) ``sympy.diff`` of the fully composed cost of a small concrete network in which every weight is its
own symbol (tests/reference_network.py, no engine code), and (b) central finite differences at
random points. Parametrised over the catalogue, so a new record is tested automatically.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import symbols as S
from symbackprop.catalogue import ACTIVATIONS

import catalogue_pairs
from reference_network import build, finite_difference, is_zero, unit_value

KINKED = {"relu", "leaky-relu", "elu", "selu"}
#: Activations of several cases with kinks away from 0: exact rational points inside each case.
CASES = {"hard-tanh": (sp.Rational(-7, 4), sp.Rational(-1, 3), sp.Rational(2, 5), sp.Rational(9, 4)),
         "hard-sigmoid": (sp.Rational(-9, 2), sp.Rational(-5, 3), sp.Rational(4, 5), sp.Rational(7, 2))}
ELEMENTWISE = [a.name for a in ACTIVATIONS if a.elementwise]
OUTPUT_LOSS_PAIRS = [(act.name, loss.name) for act, loss in catalogue_pairs.pairs()
                     if not (not loss.separable and act.elementwise)]
# The region of z each pair is compared in: kinks are tested away from z = 0, on both sides.
REGIONS = ("positive", "negative")


def _parameters(network) -> dict:
    """The values of the output activation's and the loss's parameters (elu's alpha, huber's delta)."""
    return {**network.output.parameters, **network.loss.parameters}


def _network(sizes, hidden, output, loss, **kwargs):
    return sb.Network(sizes, hidden=hidden, output=output, loss=loss, **kwargs)


def _output_delta_reference(output, loss, region):
    """∂C/∂z^L_i by sympy.diff, for a 2-2-3 network (3 outputs so that softmax couples)."""
    sizes = (2, 2, 3)
    label = 1 if not sb.Network(sizes, output=output, loss=loss).loss.separable else None
    net = build(sizes, ["sigmoid"], sb.Network(sizes, output=output, loss=loss).output,
                sb.Network(sizes, output=output, loss=loss).loss, label=label, from_layer=3, region=region)
    return net


@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
def test_output_delta_is_the_derivative_of_the_composed_cost(output, loss):
    derivation = sb.derive(_network((2, 2, 3), "sigmoid", output, loss))
    regions = REGIONS if output in KINKED else ("real",)
    for region in regions:
        net = _output_delta_reference(output, loss, region)
        if net.cost.has(sp.zoo, sp.nan):
            continue    # the loss is undefined in this region (relu's a = 0 under a logarithm)
        z, a, y = net.z_symbols[3], net.a[3], net.y
        for i in range(3):
            direct = sp.diff(net.cost, z[i])
            derived = unit_value(derivation.output_delta.unit, a=a[i], y=y[i], z=z[i], a_vector=a, y_vector=y,
                                 parameters=_parameters(derivation.network))
            if derivation.assumptions and net.label is None:
                # Σ_k y_k = 1 was assumed: hold the reference to the same targets.
                direct, derived = (expr.subs(y[2], 1 - y[0] - y[1]) for expr in (direct, derived))
            if output in CASES:
                # Cases with kinks away from 0 (hard-tanh's ±1): the identity, with exact arithmetic, at
                # points inside every case, all output units in the same case
                for point in CASES[output]:
                    values = {symbol: point for symbol in z}
                    # the targets at exact points too: a loss with |a - y| inside (huber) leaves no
                    # symbol to split on, and the identity is checked at exact rational points
                    values.update({target: sp.Rational(2 * j + 1, 7) for j, target in enumerate(y)
                                   if isinstance(target, sp.Symbol)})
                    if net.cost.subs(values).has(sp.zoo, sp.nan):
                        continue                    # a = 0 or 1 under a logarithm: undefined there
                    assert is_zero((direct - derived).subs(values)), (output, loss, point, i)
                continue
            assert is_zero(direct - derived), (output, loss, region, i, direct, derived)


@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
def test_output_delta_matches_finite_differences(output, loss):
    derivation = sb.derive(_network((2, 2, 3), "sigmoid", output, loss))
    rng = np.random.default_rng(7)
    net = _output_delta_reference(output, loss, "real")
    z, a, y = net.z_symbols[3], net.a[3], net.y
    target_values = {}
    if net.label is None:
        raw = rng.uniform(0.1, 0.9, 3)
        if derivation.assumptions:
            raw = raw / raw.sum()
        target_values = dict(zip(y, raw))
    cost = sp.lambdify([list(z)], net.cost.subs(target_values))
    checked = 0
    for candidate in rng.uniform(-1.5, 1.5, (400, 3)):
        if output in KINKED and np.any(np.abs(candidate) < 0.05):
            continue                                        # away from the kink
        with np.errstate(all="ignore"):
            defined = all(np.isfinite(cost(list(candidate + shift))) for shift in (-1e-5, 0.0, 1e-5))
        if not defined:
            continue                                        # outside the loss's domain (log of a <= 0, ...)
        numeric = finite_difference(lambda v: cost(list(v)), candidate)
        values = dict(zip(z, candidate))
        derived = [float(unit_value(derivation.output_delta.unit, a=a[i], y=y[i], z=z[i], a_vector=a, y_vector=y,
                                    parameters=_parameters(derivation.network))
                         .subs(target_values).subs(values)) for i in range(3)]
        np.testing.assert_allclose(derived, numeric, rtol=1e-6, atol=1e-8)
        checked += 1
        if checked == 3:
            break
    assert checked == 3, f"no point found where the {loss} cost of a {output} output is defined"


def _hidden_reference(hidden, region, bias="separate"):
    """∂C/∂z^2_i by sympy.diff for a 2-3-2 network with quadratic cost and the given hidden activation."""
    network = sb.Network((2, 3, 2), hidden=hidden, output="sigmoid", loss="quadratic", bias=bias)
    net = build((2, 3, 2), list(network.hidden), network.output, network.loss, bias=bias, from_layer=2, region=region)
    return network, net


@pytest.mark.parametrize("bias", ["separate", "column"])
@pytest.mark.parametrize("hidden", ELEMENTWISE)
def test_hidden_delta_recursion_is_the_derivative_of_the_composed_cost(hidden, bias):
    regions = REGIONS if hidden in KINKED else ("real",)
    for region in regions:
        network, net = _hidden_reference(hidden, region, bias)
        derivation = sb.derive(network)
        z2, a2, a3, z3, y = net.z_symbols[2], net.a[2], net.a[3], net.z[3], net.y
        delta3 = [unit_value(derivation.output_delta.unit, a=a3[k], y=y[k], z=z3[k]) for k in range(2)]
        W3 = net.weights[3]
        offset = 1 if bias == "column" else 0    # column 0 of Θ multiplies the bias unit: δ_0 is dropped
        (quantity,) = derivation.hidden_deltas
        for i in range(3):
            e = sum(W3[k, i + offset] * delta3[k] for k in range(2))
            derived = unit_value(quantity.unit, a=a2[i], z=z2[i], e=e, parameters=network.hidden[0].parameters)
            direct = sp.diff(net.cost, z2[i])
            assert is_zero(direct - derived), (hidden, region, i)


@pytest.mark.parametrize("bias", ["separate", "column"])
@pytest.mark.parametrize("hidden,output,loss", [("sigmoid", "sigmoid", "cross-entropy"), ("tanh", "softmax", "categorical-cross-entropy"),
                                                 ("softplus", "identity", "quadratic"), ("silu", "exp", "poisson"),
                                                 ("elu", "softmax", "log-likelihood")])
def test_weight_and_bias_gradients_match_finite_differences(hidden, output, loss, bias):
    """∂J/∂W and ∂J/∂b for a batch of m = 3 with λ = 0.7 against central differences of the composed cost."""
    sizes, m, lam = (3, 4, 3), 3, 0.7
    network = sb.Network(sizes, hidden=hidden, output=output, loss=loss, l2=lam, bias=bias)
    derivation = sb.derive(network)
    rng = np.random.default_rng(3)
    label = 2 if not network.loss.separable else None
    net = build(sizes, list(network.hidden), network.output, network.loss, bias=bias, label=label)
    params = [s for l in (2, 3) for s in list(net.weights[l]) + [b for b in net.biases[l] if b != 0]]
    examples = []
    for _ in range(m):
        xs = dict(zip(net.x, rng.uniform(-1, 1, sizes[0])))
        if label is None:
            t = rng.uniform(0.1, 0.9, sizes[-1])
            ys = dict(zip(net.y, t / t.sum() if derivation.assumptions else t))
        else:
            ys = {}
        examples.append({**xs, **ys})
    weights_sq = sum(w ** 2 for l in (2, 3) for r in range(net.weights[l].rows)
                     for c in range(1 if bias == "column" else 0, net.weights[l].cols) for w in [net.weights[l][r, c]])
    batch_cost = sum(net.cost.subs(ex) for ex in examples) / m + sp.Rational(7, 10) / (2 * m) * weights_sq
    f = sp.lambdify([params], batch_cost)
    point = rng.uniform(-0.8, 0.8, len(params))
    numeric = dict(zip(params, finite_difference(lambda v: f(list(v)), point)))
    values = dict(zip(params, point))
    # The engine's formulas, evaluated example by example: δ^L from its unit form, δ^2 by the recursion,
    # ∂C/∂W_ij = δ_i a_j and the batch form with the λ/m W term (not on a bias column).
    grad_W = {2: np.zeros(net.weights[2].shape), 3: np.zeros(net.weights[3].shape)}
    grad_b = {2: np.zeros(sizes[1]), 3: np.zeros(sizes[2])}
    offset = 1 if bias == "column" else 0
    for ex in examples:
        z = {l: [float(v.subs(ex).subs(values)) for v in net.z[l]] for l in (2, 3)}
        a = {l: [float(v.subs(ex).subs(values)) for v in net.a[l]] for l in (1, 2, 3)}
        a[1] = [float(v.subs(ex)) for v in net.x]
        y = [float(v.subs(ex)) if not isinstance(v, (int, sp.Integer)) else float(v) for v in net.y]
        d3 = [float(unit_value(derivation.output_delta.unit, a=a[3][i], y=y[i], z=z[3][i], a_vector=a[3], y_vector=y,
                                 parameters=_parameters(network)))
              for i in range(sizes[2])]
        W3 = np.array(net.weights[3].subs(values), dtype=float)
        e = W3[:, offset:].T @ np.array(d3)
        d2 = [float(unit_value(derivation.hidden_deltas[0].unit, a=a[2][i], z=z[2][i], e=e[i],
                                 parameters=network.hidden[0].parameters)) for i in range(sizes[1])]
        for l, d in ((2, d2), (3, d3)):
            prev = ([1.0] if bias == "column" else []) + a[l - 1]
            for i in range(len(d)):
                for j in range(len(prev)):
                    grad_W[l][i, j] += float(derivation.weight_gradient.unit.subs({S.delta: d[i], S.a_prev: prev[j]})) / m
                grad_b[l][i] += float(derivation.bias_gradient.unit.subs(S.delta, d[i])) / m
    for l in (2, 3):
        W = np.array(net.weights[l].subs(values), dtype=float)
        regularised = W.copy()
        if bias == "column":
            regularised[:, 0] = 0
        grad_W[l] += lam / m * regularised
        expected_W = np.array([[numeric[w] for w in row] for row in net.weights[l].tolist()])
        np.testing.assert_allclose(grad_W[l], expected_W, rtol=1e-6, atol=1e-8)
        if bias == "separate":
            expected_b = np.array([numeric[b] for b in net.biases[l]])
            np.testing.assert_allclose(grad_b[l], expected_b, rtol=1e-6, atol=1e-8)
        else:  # the bias column's gradient is the bias gradient: δ_i a_0 with a_0 = 1
            np.testing.assert_allclose(grad_W[l][:, 0], grad_b[l], rtol=1e-12)


def test_weight_gradient_symbolically_equals_diff_of_composed_cost():
    """∂C/∂W^l_ij = δ^l_i a^{l-1}_j, against sympy.diff of a cost composed from the input x."""
    network = sb.Network((2, 2, 2), hidden="tanh", output="sigmoid", loss="cross-entropy")
    derivation = sb.derive(network)
    net = build((2, 2, 2), list(network.hidden), network.output, network.loss)
    d3 = [unit_value(derivation.output_delta.unit, a=net.a[3][k], y=net.y[k], z=net.z[3][k]) for k in range(2)]
    e = [sum(net.weights[3][k, i] * d3[k] for k in range(2)) for i in range(2)]
    d2 = [unit_value(derivation.hidden_deltas[0].unit, a=net.a[2][i], z=net.z[2][i], e=e[i]) for i in range(2)]
    for l, d, prev in ((3, d3, net.a[2]), (2, d2, net.x)):
        for i, j in itertools.product(range(2), range(2)):
            derived = derivation.weight_gradient.unit.subs({S.delta: d[i], S.a_prev: prev[j]})
            assert is_zero(sp.diff(net.cost, net.weights[l][i, j]) - derived)
            assert is_zero(sp.diff(net.cost, net.biases[l][i]) - derivation.bias_gradient.unit.subs(S.delta, d[i]))


# --- cancellation is found by the mathematics ----------------------------------------------------------

@pytest.mark.parametrize("output,loss,cancels", [
    ("sigmoid", "cross-entropy", True), ("softmax", "categorical-cross-entropy", True),
    ("softmax", "log-likelihood", True), ("identity", "quadratic", True), ("exp", "poisson", True),
    ("sigmoid", "quadratic", False), ("tanh", "quadratic", False), ("softmax", "quadratic", False),
    ("relu", "quadratic", False), ("sigmoid", "poisson", False),
])
def test_cancellation_is_read_off_the_result(output, loss, cancels):
    assert sb.derive(_network((3, 2, 3), "sigmoid", output, loss)).output_delta.cancels is cancels


def test_matched_pairs_give_a_minus_y_and_sigmoid_quadratic_keeps_sigma_prime():
    a, y = S.a, S.y
    for output, loss in [("sigmoid", "cross-entropy"), ("softmax", "categorical-cross-entropy"),
                         ("softmax", "log-likelihood"), ("identity", "quadratic"), ("exp", "poisson")]:
        assert sp.expand(sb.derive(_network((3, 2, 3), "sigmoid", output, loss)).output_delta.unit - (a - y)) == 0
    nielsen = sb.derive(_network((3, 2, 3), "sigmoid", "sigmoid", "quadratic")).output_delta.unit
    assert sp.expand(nielsen - (a - y) * a * (1 - a)) == 0


def test_softmax_records_the_sum_to_one_assumption_as_a_step():
    derivation = sb.derive(_network((3, 2, 3), "sigmoid", "softmax", "categorical-cross-entropy"))
    (assumption,) = derivation.assumptions
    total = sp.Sum(S.target(S.k), (S.k, 1, S.width[S.L]))
    assert assumption.statement.lhs == total and assumption.statement.rhs == 1
    assert any(step.rule is sb.Rule.ASSUMPTION and step.statement.lhs == total for step in derivation.steps)
    # ... and is not used where it is not needed
    assert sb.derive(_network((3, 2, 3), "sigmoid", "sigmoid", "cross-entropy")).assumptions == ()


def test_log_likelihood_records_the_one_hot_assumption():
    derivation = sb.derive(_network((3, 2, 3), "sigmoid", "softmax", "log-likelihood"))
    assert [a.name for a in derivation.assumptions] == ["one-hot target"]


# --- readable forms ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name,expected", [("sigmoid", S.a * (1 - S.a)), ("tanh", 1 - S.a ** 2), ("exp", S.a),
                                           ("identity", sp.Integer(1))])
def test_activation_derivative_is_written_in_a_where_it_can_be(name, expected):
    derivation = sb.derive(_network((3, 2, 2), name, "sigmoid", "quadratic"))
    assert sp.expand(derivation.hidden_deltas[0].activation_derivative - expected) == 0


@pytest.mark.parametrize("name", ["relu", "leaky-relu", "elu", "softplus", "silu"])
def test_activation_derivative_stays_in_z_otherwise(name):
    g_prime = sb.derive(_network((3, 2, 2), name, "sigmoid", "quadratic")).hidden_deltas[0].activation_derivative
    assert S.z in g_prime.free_symbols and S.a not in g_prime.free_symbols


@pytest.mark.parametrize("name,at_zero", [("relu", 0), ("leaky-relu", sp.Rational(1, 100)), ("elu", 1)])
def test_kink_convention_is_the_left_derivative(name, at_zero):
    g_prime = sb.derive(_network((3, 2, 2), name, "sigmoid", "quadratic")).hidden_deltas[0].activation_derivative
    parameters = sb.Network((3, 2, 2), hidden=name).hidden[0].parameters
    assert g_prime.subs(parameters).subs(S.z, 0) == at_zero


def test_hidden_delta_vector_form_is_transpose_times_delta_hadamard_g_prime():
    from sympy.matrices.expressions import HadamardProduct, MatMul, Transpose
    derivation = sb.derive(sb.Network((4, 3, 2), hidden="sigmoid", output="sigmoid", loss="cross-entropy"))
    vector = derivation.hidden_delta.vector.rhs
    assert isinstance(vector, HadamardProduct)
    back = vector.args[0]
    assert isinstance(back, MatMul) and isinstance(back.args[0], Transpose)
    assert back.args[0].arg.role == "W" and back.args[0].arg.layer == S.l + 1
    assert back.args[1].role == "delta" and back.args[1].layer == S.l + 1


def test_vector_forms_evaluate_like_the_unit_forms():
    """The vector form, evaluated on concrete arrays, equals the unit form applied per unit."""
    rng = np.random.default_rng(0)
    derivation = sb.derive(sb.Network((3, 4, 3), hidden="tanh", output="softmax", loss="quadratic"))
    n = 3
    values = {"a": rng.uniform(0.1, 0.9, n), "y": rng.uniform(0, 1, n)}
    substitution = {}
    for symbol in derivation.output_delta.vector.rhs.atoms(S.LayerArray):
        substitution[symbol] = sp.Matrix(values[symbol.role])
    vector = derivation.output_delta.vector.rhs.subs(S.width[S.L], n).xreplace(
        {k.subs(S.width[S.L], n): v for k, v in substitution.items()} | substitution)
    evaluated = np.array(sp.Matrix(vector.doit()), dtype=float).ravel()
    a, y = sp.Matrix(values["a"]), sp.Matrix(values["y"])
    per_unit = [float(unit_value(derivation.output_delta.unit, a=a[i], y=y[i], a_vector=a, y_vector=y)) for i in range(n)]
    np.testing.assert_allclose(evaluated, per_unit, rtol=1e-12)

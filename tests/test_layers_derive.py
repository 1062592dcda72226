"""The layer engine: every gradient against sympy.diff of the composed cost at small concrete sizes,
and batch norm's derivation reaching CS231n's alt form through its own steps."""
from __future__ import annotations

import itertools
import random

import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.derivation import Rule
from symbackprop.layers import LAYERS, Layer, derive_layer
from symbackprop.layers._calculus import contract

N, D = (sp.Symbol(s, integer=True, positive=True) for s in "ND")
n, d, k = (sp.Symbol(s, integer=True) for s in "ndk")
x, dy, xhat, gamma, var = (sp.IndexedBase(s, real=True) for s in ("x", "dy", "xhat", "gamma", "var"))
eps = sp.Symbol("eps", real=True)

RMSNORM = """\
input  x[N, D]
param  g[D]
const  eps = 1e-6
ms[n] = sum(x[n, d]^2, d) / D
y[n, d] = g[d] * x[n, d] / sqrt(ms[n] + eps)
output y
"""


def _one_bound_letter(expr, letter=k):
    """Every sum's index renamed to ``letter`` (sums in these results are not nested)."""
    return expr.replace(lambda e: isinstance(e, sp.Sum),
                        lambda e: sp.Sum(e.function.xreplace({e.limits[0][0]: letter}), (letter, *e.limits[0][1:])))


def test_batchnorm_reaches_the_cs231n_alt_form_as_a_step_of_its_own():
    derivation = derive_layer("batchnorm")
    rules = [step.rule for step in derivation.steps_for("x")]
    assert rules[:2] == [Rule.CHAIN_RULE, Rule.KRONECKER]
    assert rules[-3:] == [Rule.SUBSTITUTION, Rule.REWRITE, Rule.CLOSED_FORM]
    closed = derivation.steps_for("x")[-1].statement.rhs
    factor, bracket = closed.args          # kept as a textbook writes it: factor times bracket
    # CS231n: dx = (gamma / (N sqrt(var + eps))) (N dy - sum_k dy - xhat sum_k dy xhat)
    assert sp.simplify(factor - gamma[d] / (N * sp.sqrt(var[d] + eps))) == 0
    expected = N * dy[n, d] - sp.Sum(dy[k, d], (k, 0, N - 1)) - xhat[n, d] * sp.Sum(dy[k, d] * xhat[k, d], (k, 0, N - 1))
    assert sp.expand(_one_bound_letter(bracket) - expected) == 0
    assert derivation.gradient("x").closed is not None


def test_batchnorm_mean_gradient_loses_its_variance_term_by_the_definition_of_mu():
    derivation = derive_layer("batchnorm")
    steps = derivation.steps_for("mu")
    identity = [step for step in steps if step.rule is Rule.SUM_IDENTITY]
    assert identity and "N*mu[d]" in identity[0].note and "the definition of mu" in identity[0].note
    assert not derivation.gradient("mu").staged.has(sp.IndexedBase("dvar", real=True))


def test_gradients_of_params_are_the_textbook_sums():
    derivation = derive_layer("batchnorm")
    assert _one_bound_letter(derivation.gradient("gamma").final) == sp.Sum(dy[k, d] * xhat[k, d], (k, 0, N - 1))
    assert _one_bound_letter(derivation.gradient("beta").final) == sp.Sum(dy[k, d], (k, 0, N - 1))


def test_kronecker_contraction():
    j = sp.Symbol("j", integer=True)
    f = sp.IndexedBase("f")
    assert contract(sp.Sum(f[n] * sp.KroneckerDelta(n, j), (n, 0, N - 1))) == f[j]
    assert contract(sp.Sum(f[n] * sp.KroneckerDelta(d, j), (n, 0, N - 1))) == sp.KroneckerDelta(d, j) * sp.Sum(f[n], (n, 0, N - 1))


def test_derivation_is_at_symbolic_sizes():
    derivation = derive_layer("layernorm")
    for gradient in derivation.gradients.values():
        assert not any(number > 2 for number in gradient.final.atoms(sp.Integer))
        labels = {ref.base.label for ref in gradient.final.atoms(sp.Indexed)}
        scalars = {s for s in gradient.final.atoms(sp.Symbol) - labels if not (s.is_integer and not s.is_positive)}
        assert scalars <= {N, D, eps}


# ---- the independent check: sympy.diff of the composed cost at concrete sizes --------------------

SIZES = {"N": 2, "D": 3, "M": 2, "K": 3, "F": 2, "H": 2, "E": 2}
#: smaller sizes where the composed cost is large (every head's softmax through four projections)
SMALLER = {"multihead-attention": {"N": 2, "D": 2, "H": 2, "E": 1}}


def _layer(name):
    return Layer.parse(RMSNORM, "rmsnorm") if name == "rmsnorm" else next(r for r in LAYERS if r.name == name).layer()


def _ranges(sizes, concrete):
    return itertools.product(*(range(concrete[str(s)]) for s in sizes))


def _composed(layer, concrete):
    """Each quantity's entries as expressions in the input and parameter entries (definitions substituted)."""
    sizes = {s: concrete[str(s)] for s in layer.sizes}
    env = {}
    for definition in layer.definitions:
        array = layer.arrays[definition.name]
        entries = {}
        for index in _ranges(array.sizes, concrete):
            rhs = definition.rhs.xreplace(dict(zip(definition.indices, index))).xreplace(sizes).doit()
            rhs = rhs.xreplace(layer.constants)
            rhs = rhs.replace(lambda e: isinstance(e, sp.Indexed) and e.base.label.name in env,
                              lambda e: env[e.base.label.name][tuple(int(i) for i in e.indices)])
            entries[index] = rhs
        env[definition.name] = entries
    return env


def _staged_inlined(derivation, expr, sizes):
    """``expr`` at concrete sizes, with every intermediate gradient it refers to (dS in attention's
    dQ = Σ_m dS K / √D) replaced by that gradient's staged form, recursively."""
    stages = {"d" + q: derivation.gradients[q] for q in derivation.layer.quantities
              if q not in derivation.layer.outputs}
    expr = expr.xreplace(sizes).doit()
    while any(ref.base.label.name in stages for ref in expr.atoms(sp.Indexed)):
        expr = expr.replace(
            lambda e: isinstance(e, sp.Indexed) and e.base.label.name in stages,
            lambda e: stages[e.base.label.name].staged.xreplace(
                dict(zip(stages[e.base.label.name].indices, e.indices))).xreplace(sizes).doit())
    return expr


# gelu-tanh ran for minutes here until the engine stopped asking sympy.solve to invert its definition
@pytest.mark.parametrize("name", sorted([r.name for r in LAYERS] + ["rmsnorm"]))
def test_every_gradient_equals_sympy_diff_of_the_composed_cost(name):
    layer = _layer(name)
    concrete = {**SIZES, **SMALLER.get(name, {})}
    derivation = derive_layer(layer)
    rng = random.Random(5)
    env = _composed(layer, concrete)
    values = {}
    for array in layer.differentiable:
        for index in _ranges(array.sizes, concrete):
            values[array.base[index]] = (sp.Rational(rng.choice([0, 1]), 1) if array.name == "mask"
                                         else sp.Rational(rng.randint(-900, 900), 401))
    upstream = {}
    cost = 0
    for output in layer.outputs:
        base = sp.IndexedBase("d" + output, real=True)
        for index, entry in env[output].items():
            upstream[base[index]] = sp.Rational(rng.randint(-900, 900), 317)
            cost += upstream[base[index]] * entry
    numeric = {q: {i: sp.N(e.xreplace(values), 30) for i, e in entries.items()} for q, entries in env.items()}
    sizes = {s: concrete[str(s)] for s in layer.sizes}
    for gradient in derivation.results:
        array = layer.arrays[gradient.of]
        for index in _ranges(array.sizes, concrete):
            expected = sp.N(sp.diff(cost, array.base[index]).xreplace(values), 30)
            found = _staged_inlined(derivation, gradient.final.xreplace(dict(zip(gradient.indices, index))), sizes)
            found = found.xreplace(layer.constants).xreplace(upstream).xreplace(values)
            found = found.replace(lambda e: isinstance(e, sp.Indexed) and e.base.label.name in numeric,
                                  lambda e: numeric[e.base.label.name][tuple(int(i) for i in e.indices)])
            found = sp.N(found, 30)
            assert abs(found - expected) <= 1e-20 * (1 + abs(expected)), (gradient.name, index)


def test_steps_are_statements_with_rules_and_notes():
    for record in LAYERS:
        derivation = derive_layer(record.layer())
        for step in derivation.steps:
            assert isinstance(step.statement, sp.Eq) and isinstance(step.rule, Rule) and step.note
        assert [g.of for g in derivation.results] == [a.name for a in record.layer().differentiable]


def test_derive_layer_accepts_a_name_text_or_layer():
    assert derive_layer("affine") is derive_layer(_layer("affine"))
    assert derive_layer(RMSNORM).layer.outputs == ("y",)
    with pytest.raises(sb.UnknownNameError):
        derive_layer("batchnorn")

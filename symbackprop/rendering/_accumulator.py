"""Ng's own form of the batch gradient (Machine Learning, lecture 9 and ex4): accumulate
Δ^(l) := Δ^(l) + δ^(l+1) (a^(l))^T over the examples, then D^(l) = Δ^(l)/m + (λ/m) Θ^(l) for j ≥ 1
and D^(l)_i0 = Δ^(l)_i0/m.

This module owns that rewriting, and only rewrites: every statement is the derivation's own
gradient (``weight_gradient.vector``, ``weight_gradient.batch``, ``bias_gradient.batch``) with the
sum over the examples named Δ, at the layer Ng numbers l (canonical l + 1).
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Rule, Step

_ACC, _D = sp.IndexedBase("acc"), sp.IndexedBase("D")


def accumulator_steps(derivation: Derivation) -> tuple[Step, ...]:
    """The steps of Ng's form, or () for a network without his bias column."""
    network = derivation.network
    weight, bias = derivation.weight_gradient, derivation.bias_gradient
    if network.bias != "column" or weight.batch is None or bias.batch is None:
        return ()
    l, i, j = S.l, S.i, S.j
    shape = weight.vector.lhs.shape
    acc = S.LayerArray("acc", shape[0], shape[1], l)
    per_example = weight.vector.rhs
    accumulate = sp.Eq(acc, sp.MatAdd(acc, per_example), evaluate=False)
    summed = lambda expr: expr.replace(  # noqa: E731
        lambda e: isinstance(e, sp.Sum) and e.limits[0][0] == S.x_index,
        lambda e: _ACC[l, i, j] if _has_activation(e.function) else _ACC[l, i, 0])
    weights = sp.Eq(_D[l, i, j], summed(weight.batch.rhs))
    bias_column = sp.Eq(_D[l, i, 0], summed(bias.batch.rhs))
    gradient = sp.Eq(sp.Derivative(S.J, S.weight(l, i, j)), _D[l, i, j])
    at = lambda statement: statement.xreplace({l: l + 1})  # noqa: E731  (Ng's Θ^(l) is canonical W^{l+1})
    step = lambda statement, rule, note: Step("ng_form", at(statement), rule, note, l)  # noqa: E731
    return (
        step(accumulate, Rule.BATCH_AVERAGE,
             "starting from 0, add the one-example gradient derived above for every example"),
        step(weights, Rule.REGULARISATION if network.l2 != 0 else Rule.BATCH_AVERAGE,
             "for j ≥ 1: the average over the m examples" + (" plus the L2 term" if network.l2 != 0 else "")),
        step(bias_column, Rule.BATCH_AVERAGE, "for j = 0, the bias column: the average alone"),
        step(gradient, Rule.DEFINITION, "the averaged accumulator is the gradient of the batch cost"),
    )


def _has_activation(expr) -> bool:
    """The summand multiplies an activation a^{l-1}_j (a weight column j ≥ 1), not the bias unit."""
    return any(str(atom.base.label) == "a" for atom in expr.atoms(sp.Indexed))

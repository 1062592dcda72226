"""The cost of a batch, ∂C/∂W^l_ij, ∂C/∂b^l_i, the average over m examples and the L2 term.

∂C/∂W^l_ij = Σ_k ∂C/∂z^l_k ∂z^l_k/∂W^l_ij: the engine differentiates z^l_k with respect to the
weight and contracts the two Kronecker deltas. The L2 term λ/(2m) Σ W² is differentiated the
same way; its sum over columns starts at 1 with Ng's bias column, so the bias is never regularised.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy.matrices.expressions import MatMul, Transpose

from .. import symbols as S
from ..derivation import Quantity, Rule, Step
from ..errors import InternalError
from ._calculus import contract, equation
from ._output_delta import cost_of_example
from sympy.matrices.expressions import MatAdd

l, i, j, k, p, q = S.l, S.i, S.j, S.k, S.p, S.q
m, lam, x = S.m, S.lam, S.x_index


def _preactivation(bias: str) -> sp.Expr:
    """z^l_k over the units p of layer l-1 (from p = 0, the bias unit a_0 = 1, with a bias column)."""
    if bias == "column":
        return sp.Sum(S.weight(l, k, p) * S.unit("a", l - 1, p), (p, 0, S.width[l - 1]))
    return sp.Sum(S.weight(l, k, p) * S.unit("a", l - 1, p), (p, 1, S.width[l - 1])) + S.unit("b", l, k)


def _penalty(bias: str) -> sp.Expr:
    first_column = 1  # the bias is never regularised: with a bias column, column 0 is left out
    return lam / (2 * m) * sp.Sum(S.weight(l, p, q) ** 2, (p, 1, S.width[l]), (q, first_column, S.width[l - 1]))


def _regularised(network) -> bool:
    """False when the network's L2 strength is exactly 0: then no penalty term is written anywhere."""
    return not (sp.sympify(network.l2, strict=True) == 0)


def derive_cost(network) -> tuple[Quantity, tuple[Step, ...]]:
    cost = cost_of_example(network.loss)
    batch_rhs = sp.Sum(sp.Indexed(sp.IndexedBase("C"), x), (x, 1, m)) / m
    note = "the batch cost: the mean over m examples"
    if _regularised(network):
        batch_rhs += lam / (2 * m) * sp.Sum(sp.Sum(S.weight(l, p, q) ** 2, (p, 1, S.width[l]),
                                                   (q, 1, S.width[l - 1])), (l, 2, S.L))
        note += (" plus the L2 penalty on the weights"
                 + (" (column 0, the bias, excluded)" if network.bias == "column" else " (biases excluded)"))
    steps = (
        Step("cost", equation(S.C, cost), Rule.DEFINITION, f"the {network.loss.name} cost of one example", S.L),
        Step("cost", equation(S.J, batch_rhs), Rule.DEFINITION, note, None),
    )
    unit = network.loss.per_unit if network.loss.separable else network.loss.per_example
    quantity = Quantity("cost", S.L, unit, equation(S.C, cost), equation(S.C, cost), batch=equation(S.J, batch_rhs))
    return quantity, steps


def derive_weight_gradient(network) -> tuple[Quantity, tuple[Step, ...]]:
    """∂C/∂W^l at a generic layer; it depends on the bias layout and on whether there is an L2 term only."""
    return _weight_gradient(network.bias, _regularised(network))


def derive_bias_gradient(network) -> tuple[Quantity, tuple[Step, ...]]:
    """∂C/∂b^l at a generic layer; it depends on the bias layout only."""
    return _bias_gradient(network.bias)


# Cached: the checker derives some thirty neighbouring networks (checker/_family.py) that differ in
# their activations or loss only; the results are immutable.
@lru_cache(maxsize=8)
def _weight_gradient(bias: str, regularised: bool) -> tuple[Quantity, tuple[Step, ...]]:
    step = lambda statement, rule, note: Step("weight_gradient", statement, rule, note, l)
    W_ij = S.weight(l, i, j)
    z_k = S.unit("z", l, k)
    z_def = _preactivation(bias)
    raw = sp.diff(z_def, W_ij)
    dz = contract(raw)
    gradient = contract(sp.Sum(S.unit("delta", l, k) * dz, (k, 1, S.width[l])))
    penalty_gradient = contract(sp.diff(_penalty(bias), W_ij)) if regularised else sp.S.Zero
    cols = S.width[l - 1] + 1 if bias == "column" else S.width[l - 1]
    W = S.matrix(l, cols=cols)
    a_prev = S.vector("a", l - 1, size=cols)
    vector = MatMul(S.vector("delta", l), Transpose(a_prev))
    grad_symbol = S.LayerArray("grad_W", S.width[l], cols, l)
    D = S.LayerArray("delta", S.width[l], m, l)          # one column of δ per example
    A = S.LayerArray("a", cols, m, l - 1)
    batch_vector = MatMul(1 / m, D, Transpose(A))
    if regularised:
        W_reg = S.LayerArray("W_reg", S.width[l], cols, l) if bias == "column" else W
        batch_vector = MatAdd(batch_vector, MatMul(lam / m, W_reg))
    batch = equation(sp.Derivative(S.J, W_ij), sp.Sum(sp.Indexed(sp.IndexedBase("delta"), l, i, x) *
                                                   sp.Indexed(sp.IndexedBase("a"), l - 1, j, x), (x, 1, m)) / m
                  + penalty_gradient)
    steps = (
        step(equation(sp.Derivative(S.C, W_ij), sp.Sum(sp.Derivative(S.C, z_k) * sp.Derivative(z_k, W_ij), (k, 1, S.width[l]))),
             Rule.CHAIN_RULE, "W^l_ij reaches the cost through the pre-activations z^l_k"),
        step(equation(z_k, z_def), Rule.DEFINITION,
             "the pre-activation" + (" (a^{l-1}_0 = 1 is the bias unit)" if bias == "column" else "")),
        step(equation(sp.Derivative(z_k, W_ij), raw), Rule.CHAIN_RULE, "differentiate the weighted sum"),
        step(equation(sp.Derivative(z_k, W_ij), dz), Rule.KRONECKER, "only the term p = j of row k = i contains W^l_ij"),
        step(equation(sp.Derivative(S.C, W_ij), gradient), Rule.KRONECKER, "the Kronecker delta keeps k = i"),
        step(equation(grad_symbol, vector), Rule.VECTORISATION, "every (i, j) at once: an outer product"),
        step(equation(sp.Derivative(S.J, W_ij), batch.rhs), Rule.BATCH_AVERAGE,
             "average over the m examples x" + (" and add the derivative of the L2 penalty" if regularised else "")),
        step(equation(S.LayerArray("grad_W", S.width[l], cols, l), batch_vector),
             Rule.REGULARISATION if regularised else Rule.BATCH_AVERAGE,
             "one matrix product sums over the examples"
             + ("; the bias column is not regularised" if bias == "column" and regularised else "")),
    )
    unit = _unit_form(gradient, {S.unit("delta", l, i): S.delta, S.unit("a", l - 1, j): S.a_prev})
    quantity = Quantity("weight_gradient", l, unit, equation(sp.Derivative(S.C, W_ij), gradient),
                        equation(grad_symbol, vector), batch=batch, batch_vector=equation(grad_symbol, batch_vector),
                        note="for j >= 1; the bias column j = 0 has no L2 term" if bias == "column" and regularised else "")
    return quantity, steps


@lru_cache(maxsize=8)
def _bias_gradient(bias: str) -> tuple[Quantity, tuple[Step, ...]]:
    step = lambda statement, rule, note: Step("bias_gradient", statement, rule, note, l)
    z_k = S.unit("z", l, k)
    if bias == "column":
        target = S.weight(l, i, 0)
        note = "the bias is column 0 of W^l: it multiplies the bias unit a_0 = 1"
    else:
        target = S.unit("b", l, i)
        note = "the bias enters z^l_k with coefficient 1 when k = i"
    raw = sp.diff(_preactivation(bias), target)
    gradient = contract(sp.Sum(S.unit("delta", l, k) * contract(raw), (k, 1, S.width[l])))
    gradient = gradient.subs(S.unit("a", l - 1, 0), 1)   # the bias unit
    grad_symbol = S.LayerArray("grad_b", S.width[l], 1, l)
    D = S.LayerArray("delta", S.width[l], m, l)
    batch_vector = MatMul(1 / m, D, S.LayerArray("ones", m, 1, l))
    steps = (
        step(equation(sp.Derivative(S.C, target), sp.Sum(sp.Derivative(S.C, z_k) * sp.Derivative(z_k, target), (k, 1, S.width[l]))),
             Rule.CHAIN_RULE, note),
        step(equation(sp.Derivative(z_k, target), contract(raw)), Rule.KRONECKER, "only z^l_i contains it"),
        step(equation(sp.Derivative(S.C, target), gradient), Rule.KRONECKER, "the Kronecker delta keeps k = i"),
        step(equation(grad_symbol, S.vector("delta", l)), Rule.VECTORISATION, "∂C/∂b^l = δ^l"),
        step(equation(grad_symbol, batch_vector), Rule.BATCH_AVERAGE, "average over the batch; biases are not regularised"),
    )
    batch = equation(sp.Derivative(S.J, target), sp.Sum(sp.Indexed(sp.IndexedBase("delta"), l, i, x), (x, 1, m)) / m)
    quantity = Quantity("bias_gradient", l, _unit_form(gradient, {S.unit("delta", l, i): S.delta}),
                        equation(sp.Derivative(S.C, target), gradient),
                        equation(grad_symbol, S.vector("delta", l)), batch=batch,
                        batch_vector=equation(grad_symbol, batch_vector), note=note)
    return quantity, steps


def _unit_form(gradient: sp.Expr, units: dict) -> sp.Expr:
    """The contracted gradient in unit symbols (δ^l_i -> delta, a^{l-1}_j -> a_prev); every unit must be named."""
    unit = gradient.xreplace(units)
    if unit.has(sp.Indexed, sp.Sum, sp.KroneckerDelta):
        raise InternalError(f"symbackprop bug: the contracted gradient {gradient} is not a product of unit values")
    return unit

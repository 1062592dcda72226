"""What the engine derived for a quantity, as the SymPy matrix expression the checker compares with.

Everything comes out of a :class:`~symbackprop.derivation.Derivation`: the vector forms of its
quantities at a concrete layer, their batch forms, and (for ∂C/∂a^L, which the engine states as
a step) the derivative of the loss. Only bookkeeping happens here -- substituting a layer,
turning per-example vectors into batch arrays -- never differentiation.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import HadamardProduct, MatMul, MatrixExpr, OneMatrix, Transpose
from sympy.matrices.expressions.slice import MatrixSlice

from .. import symbols as S
from ..derivation import Derivation, Rule
from ._target import LOSS_GRADIENT, Target


class NotDerived(Exception):
    """The derivation has no such quantity (δ of a hidden layer in a two-layer network, ...)."""


def expected(derivation: Derivation, target: Target) -> MatrixExpr:
    """The engine's matrix expression for ``target`` (resolved at a concrete layer)."""
    depth = derivation.network.depth
    layer = int(target.layer)
    at = {S.l: sp.Integer(layer), S.L: sp.Integer(depth)}
    quantity = target.quantity
    if quantity == "output_delta":
        value = derivation.output_delta.vector.rhs.xreplace(at)
    elif quantity == "hidden_delta":
        if not 2 <= layer < depth:
            raise NotDerived(f"layer {layer} is not a hidden layer; the hidden layers are 2..{depth - 1}")
        value = derivation.hidden_deltas[layer - 2].vector.rhs.xreplace(at)
    elif quantity in ("weight_gradient", "bias_gradient"):
        if not 2 <= layer <= depth:
            raise NotDerived(f"layer {layer} has no weights; the layers with weights are 2..{depth}")
        record = derivation.weight_gradient if quantity == "weight_gradient" else derivation.bias_gradient
        value = _gradient(record, target.mode, at)
        return value
    elif quantity == "loss_gradient":
        value = S.LayerArray(LOSS_GRADIENT, S.width[depth], 1, depth)
    elif quantity == "backprop":
        if not 1 <= layer < depth:
            raise NotDerived(f"layer {layer} receives no back-propagated error")
        value = back_propagated(derivation, layer)
    else:  # pragma: no cover - targets are resolved before they get here
        raise NotDerived(f"unknown quantity {quantity}")
    if target.batch:
        value = to_batch(value)
        return Transpose(value) if target.rows else value
    return value


def back_propagated(derivation: Derivation, layer: int) -> MatrixExpr:
    """(W^{layer+1})^T δ^{layer+1} as the engine writes it inside δ^{layer} (bias row dropped with Ng's column)."""
    depth = derivation.network.depth
    if 2 <= layer < depth:
        vector = derivation.hidden_deltas[layer - 2].vector.rhs
        for candidate in ([vector] + list(vector.args if isinstance(vector, HadamardProduct) else [])):
            if isinstance(candidate, (MatMul, MatrixSlice)) and candidate.has(Transpose):
                return candidate
    # The input layer has no δ; its back-propagated error is built the same way.
    columns = S.width[layer] + (1 if derivation.network.bias == "column" else 0)
    back = MatMul(Transpose(S.LayerArray("W", S.width[layer + 1], columns, layer + 1)), S.vector("delta", layer + 1))
    return back[1:, :] if derivation.network.bias == "column" else back


def _gradient(record, mode: str, at: dict) -> MatrixExpr:
    if mode == "example":
        return record.vector.rhs.xreplace(at)
    batch = record.batch_vector.rhs.xreplace(at)
    if mode == "mean":
        return batch
    if mode == "mean0":      # Nielsen's ∂C_0/∂w: the mean without the L2 term
        return batch.xreplace({S.lam: 0})
    if mode == "sum":        # Ng's Δ: the data term summed, not averaged, and no λ
        return MatMul(S.m, batch.xreplace({S.lam: 0})).doit()
    if mode == "example+reg":  # one example with J = L + λΩ: the batch form at m = 1
        return from_batch(batch).xreplace({S.m: 1})
    raise ValueError(f"unknown mode {mode}")  # pragma: no cover


def to_batch(value: MatrixExpr) -> MatrixExpr:
    """A per-example vector expression as the same expression over batch arrays (one column per example)."""
    def widen(array):
        if isinstance(array, S.LayerArray) and array.shape[1] == 1:
            return S.LayerArray(array.role, array.shape[0], S.m, array.layer)
        return array
    replaced = value.replace(lambda e: isinstance(e, S.LayerArray), widen)
    replaced = replaced.replace(   # Ng's dropped bias row, X[1:, :1] of a vector, keeps every column of a batch
        lambda e: isinstance(e, MatrixSlice) and e.colslice[:2] == (0, 1) and e.parent.shape[1] == S.m,
        lambda e: MatrixSlice(e.parent, e.rowslice, (0, S.m, 1)))
    return replaced.replace(lambda e: isinstance(e, OneMatrix) and e.shape[1] == 1,
                            lambda e: OneMatrix(e.shape[0], S.m))


def from_batch(value: MatrixExpr) -> MatrixExpr:
    """A batch expression as the expression for one example (batch arrays -> vectors, 1_m -> 1)."""
    def narrow(array):
        if isinstance(array, S.LayerArray) and array.shape[1] == S.m:
            return S.LayerArray(array.role, array.shape[0], 1, array.layer)
        return array
    replaced = value.replace(lambda e: isinstance(e, S.LayerArray), narrow)
    return replaced.replace(lambda e: isinstance(e, S.LayerArray) and e.role == "ones",
                            lambda e: OneMatrix(1, 1))


def loss_derivative(derivation: Derivation) -> sp.Expr:
    """∂C/∂a^L_k as the engine derived it (the 'derivative of the loss' step), over Indexed symbols."""
    for step in derivation.steps_for("output_delta"):
        if step.rule == Rule.LOSS_DERIVATIVE:
            return step.statement.rhs
    raise NotDerived("the derivation states no derivative of the loss")

"""The Hessian of a loss with respect to the logits, H_L = ∂²L/∂z∂zᵀ, derived per example as steps.

The loss head (the equations from the logits z to the per-example loss L, a layer whose one parameter is
z: :func:`~._second_order.head`) is derived by the layer engine; its ∂L/∂z (softmax + cross-entropy:
p - Y) is written in z by substituting the forward definitions (p = exp(z)/s, s = Σ_j exp(z_j)),
differentiated by SymPy with respect to z[n, m], its Kronecker deltas contracted, and written back in
the forward quantities by solving each definition for the function of z it holds (exp(z[n, k]) = p s).
The last step reads the index form as matrices: the terms with δ(k, m) are a diagonal, a product of a
factor in k and one in m is an outer product (softmax + cross-entropy: diag(p) - p pᵀ; sigmoid +
cross-entropy: diag(a ⊙ (1 - a)); quadratic: I).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..derivation import Rule, Step
from . import _calculus as C
from ._derive import derive_layer
from ._derivation import gradient_base

#: the name of the steps' quantity
QUANTITY = "H_L"


@dataclass(frozen=True)
class LossHessian:
    """∂²L[n]/∂z[n, k]∂z[n, m]: the index form, its matrix reading, and the steps."""

    logits: str
    indices: tuple            #: (n, k, m)
    index_form: sp.Expr       #: in the forward quantities, with δ(k, m)
    matrix_form: sp.Expr      #: diag(p) - p pᵀ as SymPy (a 'diag' function of the vectors, MatMul for outer products)
    steps: tuple


def loss_hessian(head_layer, logits: str) -> LossHessian:
    """The derivation of H_L for the loss head ``head_layer`` (its one parameter is ``logits``)."""
    derivation = derive_layer(head_layer)
    gradient = derivation.gradient(logits)
    n, k = gradient.indices
    m = C.fresh(C.all_symbols(gradient.final), "m")
    z = head_layer.arrays[logits].base
    (loss,) = head_layer.outputs
    first = gradient.final.xreplace({gradient_base(loss)[n]: sp.Integer(1)})
    lhs_first = sp.Derivative(sp.IndexedBase(loss, real=True)[n], z[n, k])
    lhs = sp.Derivative(sp.IndexedBase(loss, real=True)[n], z[n, k], z[n, m])
    steps = [Step(QUANTITY, sp.Eq(lhs_first, first, evaluate=False), Rule.CHAIN_RULE,
                  f"∂L/∂{logits} of one example: the backward pass of the loss head (L as a function of {logits}, derived by "
                  f"the layer engine) with dL[n] = 1")]
    inlined = _inline(first, head_layer, logits)
    steps.append(Step(QUANTITY, sp.Eq(lhs_first, inlined, evaluate=False), Rule.SUBSTITUTION,
                      f"the forward quantities written in the logits {logits}, definition by definition"))
    raw = sp.diff(inlined, z[n, m])
    steps.append(Step(QUANTITY, sp.Eq(lhs, raw, evaluate=False), Rule.LOSS_HESSIAN,
                      f"differentiated with respect to {logits}[n, m] of the same example (L[n] reads no other "
                      f"example's logits); each ∂{logits}[n, j]/∂{logits}[n, m] is δ(j, m)"))
    contracted = C.plain_bound(C.contract(raw))
    steps.append(Step(QUANTITY, sp.Eq(lhs, contracted, evaluate=False), Rule.KRONECKER,
                      "each sum over an index pinned by a Kronecker delta keeps that one term"))
    written = _written_back(contracted, head_layer, logits)
    steps.append(Step(QUANTITY, sp.Eq(lhs, written, evaluate=False), Rule.REWRITE,
                      "written back in the forward quantities: each definition solved for the function of the "
                      "logits it holds"))
    matrix = _matrix_form(written, n, k, m)
    if matrix is not None:
        steps.append(Step(QUANTITY, sp.Eq(sp.Symbol(f"∂²L/∂{logits}∂{logits}ᵀ"), matrix, evaluate=False),
                          Rule.VECTORISATION, "the terms with [k = m] (the Kronecker delta) are a diagonal matrix, a product of a factor "
                                              "in k and a factor in m an outer product (one example's K × K block)"))
    return LossHessian(logits, (n, k, m), written, matrix, tuple(steps))


def _inline(expr, layer, logits):
    """``expr`` with every forward quantity replaced by its definition, down to the logits and the inputs."""
    definitions = {d.name: d for d in layer.definitions}
    for _ in range(len(definitions) + 1):
        found = [ref for ref in expr.atoms(sp.Indexed) if ref.base.label.name in definitions]
        if not found:
            return expr
        values = {}
        for ref in found:
            definition = definitions[ref.base.label.name]
            values[ref] = C.instantiate(definition.rhs, definition.indices, tuple(ref.indices), C.all_symbols(expr))
        expr = expr.xreplace(values)
    return expr


def _written_back(expr, layer, logits):
    """The forward quantities put back: a sum that is a definition becomes its quantity, then each definition
    is solved for the one function of the logits it holds (p = exp(z)/s: exp(z) = p s)."""
    for definition in layer.definitions:
        rhs = definition.rhs
        if isinstance(rhs, sp.Sum) and len(rhs.limits) == 1:
            dummy = rhs.limits[0][0]

            def is_definition(e, rhs=rhs, dummy=dummy, definition=definition):
                if not isinstance(e, sp.Sum) or len(e.limits) != 1 or e.limits[0][1:] != rhs.limits[0][1:]:
                    return False
                return _instance(e.function.xreplace({e.limits[0][0]: dummy}), rhs.function, definition.indices)
            expr = expr.replace(is_definition, lambda e, definition=definition, dummy=dummy: definition.lhs.xreplace(
                _instance(e.function.xreplace({e.limits[0][0]: dummy}), definition.rhs.function, definition.indices)))
    for definition in layer.definitions:
        rhs = definition.rhs
        if rhs.has(sp.Sum):
            continue
        holders = [f for f in rhs.atoms(sp.Function) if any(r.base.label.name == logits for r in f.atoms(sp.Indexed))]
        if len(holders) != 1:
            continue
        (holder,) = holders
        unknown = sp.Dummy("u")
        solutions = sp.solve(rhs.xreplace({holder: unknown}) - definition.lhs, unknown)
        if len(solutions) != 1:
            continue
        pattern = {i: sp.Wild(str(i)) for i in definition.indices}
        wild_holder = holder.xreplace(pattern)
        wild_value = solutions[0].xreplace(pattern)
        expr = expr.replace(wild_holder, wild_value)
    return sp.factor_terms(sp.expand(expr))


def _instance(found, pattern, indices):
    """The index mapping that makes ``pattern`` (over ``indices``) equal to ``found``, or None."""
    wilds = {i: sp.Wild(str(i)) for i in indices}
    match = found.match(pattern.xreplace(wilds))
    if match is None:
        return None
    return {i: match[w] for i, w in wilds.items() if w in match}


def _matrix_form(expr, n, k, m):
    """diag(u) - v wᵀ ... read off an index form in k and m, or None when a term is neither."""
    size = sp.Symbol("K")
    diagonal, parts = [], []
    for term in sp.Add.make_args(sp.expand(expr)):
        if term.has(sp.KroneckerDelta(k, m)):
            coefficient = sp.sympify(term.xreplace({sp.KroneckerDelta(k, m): 1}), strict=True)
            diagonal.append(coefficient.xreplace({m: k}))
            continue
        factors = sp.Mul.make_args(term)
        left = sp.Mul(*[f for f in factors if m not in f.free_symbols])
        right = sp.Mul(*[f for f in factors if m in f.free_symbols])
        sign = -1 if left.could_extract_minus_sign() else 1
        left = sign * left
        if not (isinstance(left, sp.Indexed) and isinstance(right, sp.Indexed) and k not in right.free_symbols):
            return None
        column = [sp.MatrixSymbol(ref.base.label.name, size, 1) for ref in (left, right)]
        parts.append(sign * sp.MatMul(column[0], sp.Transpose(column[1])))
    if diagonal:
        vector = _vector(sp.factor_terms(sp.Add(*diagonal)), n, k)
        parts.insert(0, sp.Identity(size) if vector == 1 else _DiagonalOf(vector, size))
    return sp.MatAdd(*parts) if len(parts) > 1 else (parts[0] if parts else None)


class _DiagonalOf(sp.MatrixExpr):
    """diag(v): the K × K matrix with the elementwise expression v (in one example's vectors) on its diagonal."""

    def __new__(cls, entries, size):
        return super().__new__(cls, sp.sympify(entries, strict=True), sp.sympify(size, strict=True))

    @property
    def shape(self):
        return (self.args[1], self.args[1])

    def _sympystr(self, printer):
        return f"diag({printer._print(self.args[0])})"

    def _latex(self, printer):
        return rf"\operatorname{{diag}}\left({printer._print(self.args[0])}\right)"


def _vector(expr, n, index):
    """An expression in x[n, index] as one in the vector x (one example's row)."""
    return expr.replace(lambda e: isinstance(e, sp.Indexed) and tuple(e.indices) == (n, index),
                        lambda e: sp.Symbol(e.base.label.name))

"""Symbolic proof that two forms are equal for every layer size: entry (i, j) of both, subtracted.

Both sides are written entrywise with symbolic sizes (SymPy turns ``(W^T δ)[i, 0]`` into a sum
over a dummy index); sums are renamed canonically and split over their terms; activations are
written through their pre-activations (a = g(z)), the loss derivative through its definition; then
exact algebra decides. ``True`` is a proof; ``False`` means "not shown", and the checker turns to
numbers.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import MatrixExpr, OneMatrix
from sympy.matrices.expressions.matexpr import MatrixElement

from ..budget import simplifiable
from .. import symbols as S
from ._expected import loss_derivative
from ._numeric import parameters
from ._target import LOSS_GRADIENT

MAX_OPS = 600   #: larger differences are left to the numbers (simplification could take long)


def proved_equal(user, expected, network, derivation, entry=None) -> bool:
    """True when ``user`` and ``expected`` are equal as functions of every size and value.

    ``entry`` is None for two matrix expressions, or ``(expr, row_index, col_index, col_base, first_col)``
    when the user wrote an index form (row r is index r + 1, column c index c + col_base; see
    :func:`._numeric.evaluate_entries`).
    """
    if not within_budget(network, derivation):
        return False
    r, c = sp.Dummy("r", integer=True, nonnegative=True), sp.Dummy("c", integer=True, nonnegative=True)
    fixed = {S.lam: sp.Integer(0)} if network.l2 == 0 else {}
    fixed.update(parameters(network))
    user, expected = _normalised(user, fixed), _normalised(expected, fixed)
    if entry is not None:
        entry = (_normalised(entry[0], fixed),) + tuple(entry[1:])
    if expected.shape[1] == 1:
        c = sp.Integer(0)
    try:
        if entry is None:
            difference = user[r, c] - expected[r, c]
        else:
            expr, row, col, base, _ = entry
            bindings = {row: r + 1}
            if isinstance(col, sp.Integer):
                c = col - base
            elif col is not None:
                bindings[col] = c + base
            else:
                c = sp.Integer(0)
            difference = expr.xreplace(bindings) - expected[r, c]
        difference = _canonical(difference)
        if difference == 0:
            return True
        if sp.count_ops(difference) > MAX_OPS:
            return False
        difference = _through_preactivations(difference, network, derivation)
        difference = _canonical(difference)
        if difference == 0:
            return True
        if sp.count_ops(difference) > MAX_OPS:
            return False
        return _zero(difference)
    except (TypeError, ValueError, NotImplementedError, AttributeError, IndexError, sp.PolynomialError,
            RecursionError):
        return False


def typed(record) -> bool:
    """An activation or loss the user typed as an expression, not a record of the catalogue."""
    from ..catalogue.activations import BY_NAME as ACTIVATIONS
    from ..catalogue.losses import BY_NAME as LOSSES
    return record.name not in (ACTIVATIONS if hasattr(record, "elementwise") else LOSSES)


def within_budget(network, derivation) -> bool:
    """Whether the derived forms of the activations and loss the user typed are within the simplification
    budget (:mod:`symbackprop.budget`), as the issue asks of every simplification of a typed expression.

    The proof writes every activation through its definition and expands the difference: for a typed
    activation or loss past the budget (a nested max/min, whose expansion takes tens of seconds) the
    numbers decide, as they do for any difference the algebra does not show to be zero. The catalogue's
    records are derived, proved and tested as they are."""
    forms = []
    if typed(network.output) or typed(network.loss):
        forms.append(derivation.output_delta.unit)
    forms += [q.activation_derivative for q in derivation.hidden_deltas
              if q.activation_derivative is not None and typed(q.activation)]
    forms += [g.concrete() for g in dict.fromkeys((network.output, *network.hidden)) if g.elementwise and typed(g)]
    return all(simplifiable(form) for form in forms)


def _normalised(expr, fixed: dict):
    """λ = 0 where the network has no L2 term; the engine's column of ones as a OneMatrix."""
    if expr is None or not isinstance(expr, sp.Basic):
        return expr
    expr = sp.sympify(expr.xreplace(fixed), strict=True) if fixed else expr
    return expr.replace(lambda e: isinstance(e, S.LayerArray) and e.role == "ones",
                        lambda e: OneMatrix(e.shape[0], e.shape[1]))


def _canonical(expr: sp.Expr) -> sp.Expr:
    """Expand, and write every sum as Σ over 0.. with a canonical dummy, split over its terms."""
    expr = sp.expand(expr)
    expr = expr.replace(lambda e: isinstance(e, sp.Sum), _canonical_sum)
    return sp.expand(expr)


_DUMMIES = [sp.Dummy(f"s{depth}", integer=True, nonnegative=True) for depth in range(8)]


def _canonical_sum(total: sp.Sum, depth: int = 0) -> sp.Expr:
    if len(total.limits) != 1:
        return total
    index, low, high = total.limits[0]
    if (high - low).is_Integer and 0 <= high - low < 8:
        return sp.Add(*[total.function.xreplace({index: low + step}) for step in range(int(high - low) + 1)])
    dummy = _DUMMIES[min(depth, len(_DUMMIES) - 1)]
    body = sp.expand(total.function.xreplace({index: dummy + low}))
    body = body.replace(lambda e: isinstance(e, sp.Sum), lambda inner: _canonical_sum(inner, depth + 1))
    result = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(body)):
        outside, inside = term.as_independent(dummy, as_Add=False)
        if inside == 1:
            result += outside * (high - low + 1)
        else:
            result += outside * sp.Sum(inside, (dummy, 0, high - low))
    return result


def _through_preactivations(expr, network, derivation) -> sp.Expr:
    """a^r entries -> g_r(z^r entries) for elementwise layers; ∂C/∂a^L entries -> the loss derivative."""
    depth = network.depth

    def replace(element: MatrixElement):
        parent = element.parent
        if not isinstance(parent, S.LayerArray):
            return element
        layer = parent.layer
        if parent.role == "a" and layer.is_Integer and 2 <= int(layer) <= depth \
                and parent.shape[0] == S.width[layer]:
            activation = network.activation_of(int(layer))
            if activation.elementwise:
                z = MatrixElement(S.LayerArray("z", parent.shape[0], parent.shape[1], layer), element.i, element.j)
                return activation.concrete().xreplace({S.z: z})
        if parent.role == LOSS_GRADIENT and parent.shape[1] == 1:
            rhs = loss_derivative(derivation).xreplace({S.L: depth})
            if rhs.has(sp.Sum, S.label, sp.KroneckerDelta):
                return element
            a_L = S.LayerArray("a", S.width[depth], 1, depth)
            y = S.LayerArray("y", S.width[depth], 1, depth)
            mapping = {S.unit("a", depth, S.k): MatrixElement(a_L, element.i, element.j),
                       S.target(S.k): MatrixElement(y, element.i, element.j)}
            return replace_all(rhs.xreplace(mapping))
        return element

    def replace_all(e):
        return e.replace(lambda x: isinstance(x, MatrixElement), replace)

    return replace_all(expr)


def _zero(expr: sp.Expr) -> bool:
    """Exact algebra: treat sums and matrix entries as opaque symbols, exponentials as powers of t."""
    opaque = {}

    def symbol_for(item):
        if item not in opaque:
            opaque[item] = sp.Dummy("x")
        return opaque[item]

    rewritten = expr.replace(lambda e: isinstance(e, sp.Sum), symbol_for)
    rewritten = rewritten.replace(lambda e: isinstance(e, MatrixElement), symbol_for)
    if rewritten.has(MatrixExpr):
        return False
    rewritten = rewritten.rewrite(sp.exp)
    powers = {}

    def as_power(term):   # exp(c*x) -> t_x**c, so that exp(x) and exp(-x) cancel as polynomials do
        coefficient, rest = term.args[0].as_coeff_Mul()
        if rest in opaque.values():
            powers.setdefault(rest, sp.Dummy("t", positive=True))
            return powers[rest] ** coefficient
        return term

    rewritten = rewritten.replace(lambda e: isinstance(e, sp.exp), as_power)
    if not simplifiable(rewritten):     # not shown within the simplification budget: the numeric test decides
        return False
    return sp.cancel(sp.together(rewritten)) == 0

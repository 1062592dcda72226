"""Printer-independent decisions about how an expression is laid out for a reader.

This module owns the order of factors and terms, and the recognition of an indicator function in
a Piecewise. Both printers (LaTeX and text) call these helpers, so the two read alike. Nothing
here changes the value of an expression: a reordered product is the same product.
"""
from __future__ import annotations

import sympy as sp
from sympy.core.relational import Relational


def is_unevaluated(expr) -> bool:
    """True when ``expr`` (an Add or Mul) was built with ``evaluate=False``: its order is deliberate."""
    try:
        return expr.func(*expr.args).args != expr.args
    except Exception:  # pragma: no cover - a class that cannot be rebuilt: keep its order
        return True


#: among layer-indexed factors: weights, then errors, then activations (W_ki delta_k, delta_i a_j)
_ROLE_RANK = {"W": 0, "delta": 1, "e": 2, "z": 3, "a": 4, "y": 5, "b": 6}


def _factor_rank(factor) -> tuple:
    if isinstance(factor, sp.KroneckerDelta):
        return (0,)
    if isinstance(factor, sp.Derivative):
        return (1,)
    if isinstance(factor, sp.Sum):
        return (5,)   # last: a factor written after a sum would read as inside it
    if isinstance(factor, sp.Add):
        return (4,)
    if isinstance(factor, sp.Function) and not isinstance(factor, (sp.Piecewise, sp.KroneckerDelta)):
        return (4.5,)   # after a sum of terms, as a textbook writes (1 - y) ln(1 - a)
    if isinstance(factor, sp.Pow):
        return (3,)
    if isinstance(factor, sp.Indexed):
        return (2, _ROLE_RANK.get(str(factor.base.label), 9))
    return (2, 9)


def reading_order(expr: sp.Mul) -> sp.Mul:
    """The factors of a product in a reader's order: Kronecker deltas, derivatives, symbols,
    powers, sums of terms, sums over an index. A positive numeric coefficient stays in front.

    Unchanged: an unevaluated product (its order is deliberate), a product with a denominator
    or a negative coefficient (the printers' fraction and sign logic handles those).
    """
    if is_unevaluated(expr):
        return expr
    coeff, _ = expr.as_coeff_Mul()
    if coeff.is_negative or any(_is_denominator(f) for f in expr.args):
        return expr
    numbers = [f for f in expr.args if f.is_Number]
    ordered = numbers + sorted((f for f in expr.args if not f.is_Number), key=_factor_rank)
    if ordered == list(expr.args):
        return expr
    return sp.Mul(*ordered, evaluate=False)


def _is_denominator(factor) -> bool:
    return (isinstance(factor, sp.Pow) and factor.exp.is_negative) or (factor.is_Rational and factor.q != 1)


def reading_terms(expr: sp.Add) -> sp.Add:
    """The terms of a sum in SymPy's usual printing order (``1 - a``, ``a - y``); an unevaluated
    sum keeps its own order."""
    if is_unevaluated(expr):
        return expr
    terms = expr.as_ordered_terms()
    if all(term.could_extract_minus_sign() for term in terms):
        # -y ln a - (1 - y) ln(1 - a): when every term is subtracted, the shortest comes first
        terms = sorted(terms, key=sp.count_ops)
    # the L2 penalty after the data term, as every textbook writes J
    terms = sorted(terms, key=lambda term: _LAMBDA in term.free_symbols)
    return sp.Add(*terms, evaluate=False)


_LAMBDA = sp.Symbol("lambda", nonnegative=True)


def positive_first(expr: sp.MatAdd) -> sp.MatAdd:
    """``-a + 1`` -> ``1 - a``: terms that carry a minus sign go after the others."""
    terms = sorted(expr.args, key=lambda term: term.could_extract_minus_sign())
    if list(terms) == list(expr.args):
        return expr
    return sp.MatAdd(*terms, evaluate=False)


def is_scaled_atom(arg) -> bool:
    """A scalar times one matrix symbol (``2 a``) reads fine without parentheses."""
    if not isinstance(arg, sp.MatMul):
        return False
    matrices = [x for x in arg.args if x.is_Matrix]
    return len(matrices) == 1 and isinstance(matrices[0], sp.MatrixSymbol)


def indicator_condition(expr: sp.Piecewise):
    """For a Piecewise that is 1 under one condition and 0 otherwise, the condition where it is 1."""
    if len(expr.args) != 2 or expr.args[1].cond != sp.true:
        return None
    (v1, c1), (v2, _) = expr.args
    if v1 == 1 and v2 == 0:
        return c1
    if v1 == 0 and v2 == 1:
        return c1.negated if isinstance(c1, Relational) else sp.Not(c1)
    return None



def split_piecewise(expr: sp.Piecewise):
    """``Piecewise((α W δ, c), (W δ, True))`` -> ``(W δ, Piecewise((α, c), (1, True)))``: the factor
    every branch shares, and the branches without it. None when nothing is shared."""
    if len(expr.args) < 2:
        return None
    shared = None
    for value, _ in expr.args:
        if value == 0:
            continue
        factors = set(sp.Mul.make_args(value))
        shared = factors if shared is None else shared & factors
    shared = {f for f in (shared or ()) if not f.is_Number}
    if not shared:
        return None
    common = sp.Mul(*shared)
    # every shared factor is a factor of each branch as written: dividing removes it exactly (no cancel,
    # which on a user's loss can run unbounded)
    rest = sp.Piecewise(*[(_without(value, shared) if value != 0 else 0, cond) for value, cond in expr.args])
    if not isinstance(rest, sp.Piecewise):
        return None
    return common, rest


def _without(value, shared) -> sp.Expr:
    factors = list(sp.Mul.make_args(value))
    for factor in shared:
        factors.remove(factor)
    return sp.Mul(*factors)


def split_matmul(expr: sp.MatMul):
    """(scalar coefficient, [matrix factors]) of a matrix product."""
    scalars = [arg for arg in expr.args if not arg.is_Matrix]
    matrices = [arg for arg in expr.args if arg.is_Matrix]
    return sp.Mul(*scalars), matrices


def is_indicator(expr) -> bool:
    """A Piecewise that prints as an indicator 1[condition]."""
    return isinstance(expr, sp.Piecewise) and indicator_condition(expr) is not None


def is_width(expr) -> bool:
    """``n[l]``, the number of units of a layer."""
    from .. import symbols as S
    return isinstance(expr, sp.Indexed) and expr.base == S.width


def tanh_form(expr):
    """``sinh(u)^n / cosh(u)^n`` as ``tanh(u)^n``: the same value, written as a reader writes it."""
    if not isinstance(expr, sp.Basic) or not (expr.has(sp.sinh) and expr.has(sp.cosh)):
        return expr

    def rewrite(product):
        powers = [f.as_base_exp() for f in product.args]
        factors = list(product.args)
        for position, (base, exponent) in enumerate(powers):
            if not isinstance(base, sp.sinh) or not exponent.is_positive:
                continue
            for other, (base2, exponent2) in enumerate(powers):
                if isinstance(base2, sp.cosh) and base2.args == base.args and exponent2 == -exponent \
                        and factors[other] is not None and factors[position] is not None:
                    factors[position], factors[other] = sp.tanh(base.args[0]) ** exponent, None
                    break
        kept = [f for f in factors if f is not None]
        return product if len(kept) == len(factors) else sp.Mul(*kept)

    expr = expr.replace(lambda e: isinstance(e, sp.Mul) and e.has(sp.sinh) and e.has(sp.cosh), rewrite)
    return expr.replace(lambda e: isinstance(e, sp.HadamardProduct) and e.has(sp.sinh) and e.has(sp.cosh),
                        _hadamard_tanh)


def _hadamard_tanh(product):
    """sinh(z) ⊙ (1/cosh(z)) over the same array, applied elementwise, as tanh(z)."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
    elementwise = [(position, arg) for position, arg in enumerate(product.args)
                   if isinstance(arg, ElementwiseApplyFunction) and isinstance(arg.function, sp.Lambda)
                   and len(arg.function.variables) == 1]
    for position, first in elementwise:
        for other, second in elementwise:
            if other == position or first.expr != second.expr:
                continue
            (u,), (v,) = first.function.variables, second.function.variables
            joined = tanh_form(first.function.expr * second.function.expr.xreplace({v: u}))
            if joined.has(sp.tanh) and not joined.has(sp.sinh):
                args = [arg for index, arg in enumerate(product.args) if index not in (position, other)]
                merged = ElementwiseApplyFunction(sp.Lambda(u, joined), first.expr)
                return sp.HadamardProduct(*args[:min(position, other)], merged, *args[min(position, other):])
    return product

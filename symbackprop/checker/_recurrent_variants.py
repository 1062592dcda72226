"""Formulas near a recurrent cell's derived gradient, each made from the derivation by one change, and named by it.

A gradient of one step is a sum of paths, one per upstream gradient it reads: the LSTM's
dzf = f (1 - f) c_prev (dc_next + o (1 - tanh²(c)) da) has a dc_next path and a da path. The staged gradients
(dzf from df, df from dc, dc from da and dc_next) are substituted down to the upstream gradients, keeping each
path's factors as the derivation writes them. The variants are then:

* a path dropped: "dc_prev without the da_next path";
* one factor of one path dropped: "dft where the c_prev factor of the da_next term is missing";
* a function of a forward array written as that array: "dot with tanh(c_next) written as c_next";
* a gradient that is a sum of terms (da_prev = Σ_k Wfh dzf + ...) with one term dropped: "da_prev without its
  dft term".

Nothing here is a stored wrong answer: every variant is the derived expression with one change, evaluated on
the same run as the student's formula by the caller. Names are printed as the notation spells them.
"""
from __future__ import annotations

import sympy as sp

from ..layers._derivation import gradient_name

#: more paths or factors than this are not tried one by one (a layer written by a user can be large)
MAX_VARIANTS = 40


def variants(derivation, quantity: str, spell) -> list:
    """(description, expression over the cell's arrays and upstream gradients) for the gradient of ``quantity``;
    ``spell(expr)`` prints an expression in the notation's names."""
    expr = derivation.step_gradients.get(quantity)
    if expr is None:
        return []
    layer = derivation.layer
    upstream = {gradient_name(s.carried) for s in layer.states} | {gradient_name(o) for o in layer.outputs}
    target = spell(sp.IndexedBase(gradient_name(quantity), real=True)[derivation.cell.gradients[quantity].indices])
    found = []
    if expr.has(sp.Sum):
        terms = sp.Add.make_args(expr)
        if len(terms) > 1:
            for term in terms:
                inner = [r for r in term.atoms(sp.Indexed) if r.base.label.name.startswith("d")]
                named = spell(inner[0]) if len(inner) == 1 else spell(term)
                found.append((f"{target} without its {named} term", sp.Add(*(t for t in terms if t != term))))
        return found[:MAX_VARIANTS]
    paths = _paths(expr, derivation, upstream)
    if paths is None or not paths:
        return []
    whole = sum((_product(u, factors) for u, factors in paths), sp.Integer(0))
    if len(paths) > 1:
        for u, _ in paths:
            rest = [path for path in paths if path[0] != u]
            found.append((f"{target} without the {spell(u)} path",
                          sum((_product(v, f) for v, f in rest), sp.Integer(0))))
    for position, (u, factors) in enumerate(paths):
        for index, factor in enumerate(factors):
            if factor.is_number:
                continue
            fewer = factors[:index] + factors[index + 1:]
            changed = [(v, fewer if k == position else f) for k, (v, f) in enumerate(paths)]
            found.append((f"{target} where the {spell(factor)} factor of the {spell(u)} term is missing",
                          sum((_product(v, f) for v, f in changed), sp.Integer(0))))
    calls = {call for call in whole.atoms(sp.Function) if len(call.args) == 1 and isinstance(call.args[0], sp.Indexed)}
    for call in sorted(calls, key=sp.default_sort_key):
        found.append((f"{target} with {spell(call)} written as {spell(call.args[0])}",
                      whole.xreplace({call: call.args[0]})))
    return found[:MAX_VARIANTS]


def _product(upstream, factors):
    return sp.Mul(*factors, upstream)


def _paths(expr, derivation, upstream):
    """[(upstream gradient, [factors])] with expr = Σ upstream · Π factors, the staged gradients substituted; None
    when expr is not of that form."""
    if isinstance(expr, sp.Indexed):
        name = expr.base.label.name
        if name in upstream:
            return [(expr, [])]
        staged = _staged(expr, derivation)
        return None if staged is None else _paths(staged, derivation, upstream)
    if not expr.has(*(sp.IndexedBase(u, real=True) for u in upstream)) and not _reads_gradient(expr, derivation):
        return []
    if isinstance(expr, sp.Add):
        found = []
        for term in expr.args:
            paths = _paths(term, derivation, upstream)
            if paths is None or (not paths and not term.is_zero):
                return None
            found += paths
        return found
    if isinstance(expr, sp.Mul):
        carrying = [a for a in expr.args if a.has(*(sp.IndexedBase(u, real=True) for u in upstream))
                    or _reads_gradient(a, derivation)]
        if len(carrying) != 1:
            return None
        others = [a for a in expr.args if a is not carrying[0]]
        inner = _paths(carrying[0], derivation, upstream)
        if inner is None:
            return None
        return [(u, [*others, *factors]) for u, factors in inner]
    return None


def _reads_gradient(expr, derivation) -> bool:
    return any(_staged(r, derivation) is not None for r in expr.atoms(sp.Indexed))


def _staged(ref, derivation):
    """The staged gradient a reference dq[...] stands for, at the reference's indices; None if it is no gradient."""
    name = ref.base.label.name
    if not name.startswith("d"):
        return None
    quantity = name[1:]
    gradient = derivation.cell.gradients.get(quantity)
    expr = derivation.step_gradients.get(quantity)
    if gradient is None or expr is None or gradient.kind == "output" or gradient_name(quantity) != name:
        return None
    if len(gradient.indices) != len(ref.indices):
        return None
    return expr.xreplace(dict(zip(gradient.indices, ref.indices)))


__all__ = ["variants"]

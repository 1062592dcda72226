"""Gates stacked as a hand-written LSTM stacks them, found from the derivation.

Definitions whose per-step part holds Σ_q P[..., q] W[q, k] with the same previous state P share one product
with the weights side by side (:func:`stacked_products`). Where they are moreover affine maps of the same
inputs (x⟨t⟩ W_mx + h⟨t-1⟩ W_mh + b_m, the LSTM's four gates) their pre-activations are one (N, 4H) array
(:func:`affine_inputs`, :func:`stack_projection`), and a gradient is taken from the stacked dz only where it
is the same derived expression of each gate's own dz (:func:`stacked_terms`, :func:`stacked_parameters`).
Used by :mod:`._recurrent_module`.
"""
from __future__ import annotations

import sympy as sp

from ..layers._derivation import gradient_name
from ._index_printing import code_name, shape_code


def stacked_products(split, cell, previous, params) -> dict:
    """previous-state input -> [(definition, weight, term)] for the definitions whose per-step part holds
    Σ_q P[..., q] W[q, k] with the same P (two or more of them, the LSTM's four gates, the GRU's three)."""
    groups = {}
    for name, terms in split.items():
        definition = cell.definition(name)
        for term in terms:
            found = _product(term, previous, params, tuple(definition.indices))
            if found is not None:
                groups.setdefault(found[0], []).append((name, found[1], term))
                break
    return {state: members for state, members in groups.items() if len(members) > 1}


def _product(term, previous, params, out):
    """(P, W) when ``term`` is Σ_q P[..., q] W[q, k] and P[..., k] has the indices ``out``; else None."""
    if not isinstance(term, sp.Sum) or len(term.limits) != 1:
        return None
    q = term.limits[0][0]
    factors = sp.Mul.make_args(term.function)
    if len(factors) != 2 or not all(isinstance(f, sp.Indexed) for f in factors):
        return None
    state = next((f for f in factors if f.base.label.name in previous), None)
    weight = next((f for f in factors if f.base.label.name in params), None)
    if state is None or weight is None or len(weight.indices) != 2 or weight.indices[0] != q:
        return None
    if state.indices[-1] != q or (*state.indices[:-1], weight.indices[1]) != out:
        return None
    return state.base.label.name, weight.base.label.name


def affine_inputs(members, statics, split, sequences, params, cell):
    """The stack of a group of definitions each Σ_j X[.., j] W_m[j, k] (+ b_m[k]) with the same X, whose only
    other term is the group's product with the previous state; a dict, or None."""
    inputs, weights, biases = set(), [], []
    for member, _, term in members:
        if split[member] != [term]:
            return None
        definition = cell.definition(member)
        products = [_product(s_, sequences, params, tuple(definition.indices)) for s_ in statics[member]]
        found = [p for p in products if p is not None]
        rest = [s_ for s_, p in zip(statics[member], products) if p is None]
        if len(found) != 1 or len(rest) > 1:
            return None
        if rest:
            bias = rest[0]
            if not (isinstance(bias, sp.Indexed) and bias.base.label.name in params
                    and tuple(bias.indices) == (definition.indices[-1],)):
                return None
            biases.append(code_name(bias.base.label.name))
        inputs.add(found[0][0])
        weights.append(code_name(found[0][1]))
    if len(inputs) != 1 or len(biases) not in (0, len(members)):
        return None
    first = cell.definition(members[0][0])
    width = sum((cell.arrays[w].sizes[1] for _, w, _ in members), sp.Integer(0))
    source = inputs.pop()
    return {"members": [m for m, _, _ in members], "input": code_name(source), "weights": weights,
            "biases": biases, "width": width, "row": first.indices[0],
            "column": sp.Symbol("K", integer=True), "depth": cell.arrays[source].sizes[-1]}


def _member_of(expr, stack):
    """The one stack member whose dz_m (flat, over all steps) ``expr`` reads, or None."""
    found = {m for m in stack["members"] for ref in expr.atoms(sp.Indexed)
             if ref.base.label.name == f"d{code_name(m)}_seq_flat"}
    return found.pop() if len(found) == 1 else None


def stacked_terms(expr, stack, cell):
    """``expr`` with its terms Σ_k dz_m[r, k] W_m[j, k], one per member and the same expression of each member's
    dz_m and x-weight, replaced by one sum over the stacked columns; None when there are no such terms."""
    stacked = sp.IndexedBase(f"d{stack['stem']}_seq_flat", real=True)
    weights = sp.IndexedBase(f"{stack['input']}_W", real=True)
    canonical = {}
    for term in sp.Add.make_args(expr):
        member = _member_of(term, stack)
        if member is None or not isinstance(term, sp.Sum) or len(term.limits) != 1:
            continue
        weight = stack["weights"][stack["members"].index(member)]
        refs = {r.base.label.name: r for r in term.atoms(sp.Indexed)}
        if weight not in refs:
            continue
        column = term.limits[0][0]
        own, w = refs[f"d{code_name(member)}_seq_flat"], refs[weight]
        if own.indices[-1] != column or w.indices[-1] != column or column in own.indices[:-1] + w.indices[:-1]:
            continue
        form = term.xreplace({own.base: stacked, w.base: weights})
        canonical.setdefault(member, (form, term))
    if set(canonical) != set(stack["members"]) or len({form for form, _ in canonical.values()}) != 1:
        return None
    form = next(iter(canonical.values()))[0]
    column = form.limits[0][0]
    kept = [term for term in sp.Add.make_args(expr) if term not in {t_ for _, t_ in canonical.values()}]
    return sp.Add(*kept, sp.Sum(form.function, (column, 0, stack["width"] - 1)))


def stacked_parameters(gradients, indices_of, stack, cell, layer, printer, h_weights, state_input) -> dict:
    """Parameters whose gradient is the same expression of their member's dz_m, one per member (dW_mx, dW_mh,
    db_m): each such class computed once over the stacked columns (``dx_W = x_flatᵀ dgates_flat``) and printed
    into ``printer``; param name -> the slice of it that is its gradient."""
    stacked = sp.IndexedBase(f"d{stack['stem']}_seq_flat", real=True)
    classes = {}
    for param in layer.params:
        expr = gradients[param.name]
        member = _member_of(expr, stack)
        if member is None:
            continue
        own = next(r for r in expr.atoms(sp.Indexed) if r.base.label.name == f"d{code_name(member)}_seq_flat")
        indices = tuple(indices_of[param.name])
        if own.indices[-1] != indices[-1] or indices[-1] in own.indices[:-1]:
            continue
        form = expr.xreplace({own.base: stacked})
        classes.setdefault((form, indices), {})[member] = param.name
    found = {}
    for number, ((form, indices), params) in enumerate(classes.items()):
        if set(params) != set(stack["members"]):
            continue
        ordered = [params[m] for m in stack["members"]]
        codes = [code_name(p) for p in ordered]
        if codes == [code_name(w) for w in stack["weights"]]:
            name = f"d{stack['input']}_W"
        elif codes == h_weights:
            name = f"d{state_input}_W"
        elif codes == stack["biases"]:
            name = f"d{stack['stem']}_b"
        else:
            name = f"d{stack['stem']}_{number}"
        sizes = cell.arrays[ordered[0]].sizes
        printer.assign(name, form, indices, shape_code((*sizes[:-1], stack["width"])))
        offset = sp.Integer(0)
        for param in ordered:
            width = cell.arrays[param].sizes[-1]
            found[param] = f"{name}[..., {offset}:{offset + width}]"
            offset += width
    return found


def stack_projection(stack, seq, t, cell):
    """Σ_j X⟨t⟩[n, j] X_W[j, K] + gates_b[K] over the stacked columns K."""
    j = sp.Symbol("j_in", integer=True)
    x = sp.IndexedBase(seq(stack["input"]), real=True)[t, stack["row"], j]
    w = sp.IndexedBase(f"{stack['input']}_W", real=True)[j, stack["column"]]
    sizes = cell.arrays[stack["input"]].sizes
    expr = sp.Sum(x * w, (j, 0, sizes[-1] - 1))
    if stack["biases"]:
        expr += sp.IndexedBase(f"{stack['stem']}_b", real=True)[stack["column"]]
    return expr


def back_product(terms, weight, member, indices):
    """The term Σ_k W[q, k] dmember[..., k] of dP[..., q] among ``terms``, or None."""
    for term in terms:
        if not isinstance(term, sp.Sum) or len(term.limits) != 1:
            continue
        k = term.limits[0][0]
        factors = sp.Mul.make_args(term.function)
        if len(factors) != 2 or not all(isinstance(f, sp.Indexed) for f in factors):
            continue
        w = next((f for f in factors if f.base.label.name == weight), None)
        g = next((f for f in factors if f.base.label.name == gradient_name(member)), None)
        if w is not None and g is not None and w.indices == (indices[-1], k) and g.indices == (*indices[:-1], k):
            return term
    return None

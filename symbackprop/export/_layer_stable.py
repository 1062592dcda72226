"""Numerically stable layer modules: every normaliser ``s[n] = sum(exp(X[n, j]), j)`` is computed with
the row maximum subtracted.

A layer is written as the mathematics reads (``A = exp(S) / s``); printed literally, ``np.exp(S)``
overflows at S = 1000. For each such normaliser this module plans, in place of its definition,

    c[n]    = max_j X[n, j]                  (a constant shift: it changes no value below)
    e[n, j] = exp(X[n, j] - c[n])
    s~[n]   = Σ_j e[n, j]                    (s = s~ · exp(c), kept as s~)

and rewrites every later use: exp(X[p, q]) = E[p] e[p, q] and s[p] = E[p] s~[p] with E[p] = exp(c[p])
a symbol. In a ratio such as exp(S)/s the E cancel (softmax, attention); in log(s) = log(s~) + c
the E leaves as c (log-softmax). An E that neither cancels nor leaves by a logarithm is replaced
by exp(c), which is exact, so the rewriting never changes a value, only how it is computed. The
exponential is computed once (``e``), which the literal form would compute twice.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


@dataclass(frozen=True)
class Normaliser:
    """``name[rows] = Σ_var exp(argument)``, with ``argument`` a reference X[...]."""

    name: str
    rows: tuple              #: the indices of the normaliser, as in its definition
    argument: sp.Indexed     #: X[...] inside the exp, its indices: the rows and ``var``
    var: sp.Symbol
    limit: tuple             #: the sum's (var, 0, size - 1)
    shift: str               #: the name of c (the row maximum)
    exps: str                #: the name of e (the shifted exponentials)

    @property
    def shift_indices(self) -> tuple:
        return tuple(i for i in self.argument.indices if i != self.var)

    @property
    def axis(self) -> int:
        return list(self.argument.indices).index(self.var)


def normalisers(layer, taken) -> list:
    """The normalisers of ``layer`` whose row maximum can be subtracted; ``taken``: names in use."""
    found, taken = [], set(taken)
    for definition in layer.definitions:
        rhs = definition.rhs
        if not (isinstance(rhs, sp.Sum) and len(rhs.limits) == 1 and isinstance(rhs.function, sp.exp)):
            continue
        argument, var = rhs.function.args[0], rhs.limits[0][0]
        if not isinstance(argument, sp.Indexed) or not all(isinstance(i, sp.Symbol) for i in argument.indices):
            continue
        if set(argument.indices) != set(definition.indices) | {var} or len(argument.indices) != len(definition.indices) + 1:
            continue
        shift = _fresh(f"{argument.base.label}_max", taken)
        exps = _fresh(f"{argument.base.label}_exp", taken)
        found.append(Normaliser(definition.name, tuple(definition.indices), argument, var, rhs.limits[0], shift, exps))
    return found


def _fresh(name, taken) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def rewrite(expr, plan) -> sp.Expr:
    """``expr`` with every exp(X[...]) and s[...] of the planned normalisers written through c, e and s~."""
    if not plan:
        return expr
    scale = {}

    def factor(normaliser, args):
        key = (normaliser.shift, tuple(args))
        if key not in scale:
            scale[key] = sp.Symbol(f"_E{len(scale)}", positive=True)
        return scale[key]

    def exp_value(node):
        argument = node.args[0]
        for normaliser in plan:
            if isinstance(argument, sp.Indexed) and argument.base == normaliser.argument.base:
                position = dict(zip(normaliser.argument.indices, argument.indices))
                args = [position[i] for i in normaliser.shift_indices]
                return factor(normaliser, args) * sp.IndexedBase(normaliser.exps, real=True)[argument.indices]
        return node

    def sum_value(node):
        for normaliser in plan:
            if node.base.label.name == normaliser.name:
                position = dict(zip(normaliser.rows, node.indices))
                args = [position[i] for i in normaliser.shift_indices]
                return factor(normaliser, args) * node
        return node

    out = expr.replace(lambda e: isinstance(e, sp.exp), exp_value)
    out = out.replace(lambda e: isinstance(e, sp.Indexed) and any(e.base.label.name == p.name for p in plan), sum_value)
    if not scale:
        return expr
    out = sp.expand_log(out, force=True)
    by_symbol = {symbol: key for key, symbol in scale.items()}
    shifts = {symbol: sp.IndexedBase(shift, real=True)[args] for symbol, (shift, args) in by_symbol.items()}
    out = out.replace(lambda e: isinstance(e, sp.log) and e.args[0] in shifts, lambda e: shifts[e.args[0]])
    return out.xreplace({symbol: sp.exp(value) for symbol, value in shifts.items()})


def shifted_exponentials(normaliser) -> sp.Expr:
    """e[rows, var] = exp(X[...] - c[rows])."""
    shift = sp.IndexedBase(normaliser.shift, real=True)[normaliser.shift_indices]
    return sp.exp(normaliser.argument - shift)


def scaled_sum(normaliser) -> sp.Expr:
    """s~[rows] = Σ_var e[...]."""
    exps = sp.IndexedBase(normaliser.exps, real=True)[normaliser.argument.indices]
    return sp.Sum(exps, normaliser.limit)

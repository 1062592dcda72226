"""The index calculus of layers, ours rather than SymPy's array expressions: Kronecker deltas
contracted against sums, sums simplified by linearity and by the identities the definitions give,
bound indices kept apart.

Expressions are SymPy: ``Indexed`` references, ``KroneckerDelta`` and single-limit ``Sum`` over
``0 .. S-1`` for a size symbol ``S``. SymPy does the scalar algebra (``diff``, ``together``,
``factor_terms``); this module owns what SymPy's ``Sum.doit`` would otherwise turn into
``Piecewise`` range conditions. A delta ``δ(i, j)`` is contracted by a sum over ``i`` only: the
layer's validation guarantees that ``i`` and ``j`` range over the same size, so no range
condition is lost.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import sympy as sp

_LETTERS = "kjpqrstuvwiablcefgmnhoxyz"


def index(name: str) -> sp.Symbol:
    return sp.Symbol(name, integer=True)


def fresh(avoid, prefer: str = "") -> sp.Symbol:
    """An index symbol whose name is in none of ``avoid`` (symbols or names); ``prefer`` first."""
    taken = {str(a) for a in avoid}
    candidates = ([prefer, prefer + "'", prefer + "''"] if prefer else []) + list(_LETTERS)
    for name in candidates:
        if name and name not in taken:
            return index(name)
    for number in count(1):
        if f"i{number}" not in taken:
            return index(f"i{number}")


def bound_symbols(expr) -> set:
    return {limit[0] for s in expr.atoms(sp.Sum) for limit in s.limits}


def all_symbols(expr) -> set:
    return expr.atoms(sp.Symbol) | bound_symbols(expr)


def rename_apart(expr, avoid) -> sp.Expr:
    """``expr`` with every bound index named like one of ``avoid`` (or like a free index) renamed."""
    return _rename_bound(expr, avoid)


def instantiate(body: sp.Expr, params: tuple, args: tuple, avoid=()) -> sp.Expr:
    """``body`` with its free indices ``params`` replaced by ``args``, bound indices kept apart."""
    safe = _rename_bound(body, set(avoid) | set(args) | {s for a in args for s in sp.sympify(a, strict=True).free_symbols})
    return safe.xreplace(dict(zip(params, args)))


def _rename_bound(expr, avoid) -> sp.Expr:
    taken = {str(a) for a in avoid} | {str(s) for s in expr.free_symbols}

    def visit(node, names):
        if not node.args or isinstance(node, sp.Indexed):
            return node
        if isinstance(node, sp.Sum):
            names = set(names)
            limits, body = [], node.function
            for var, lo, hi in node.limits:
                if str(var) in names:
                    new = fresh(names | {str(s) for s in all_symbols(node)}, str(var).rstrip("'"))
                    body = body.xreplace({var: new})
                    var = new
                names.add(str(var))
                limits.append((var, lo, hi))
            return sp.Sum(visit(body, names), *limits)
        return node.func(*[visit(arg, names) for arg in node.args])

    return visit(expr, taken)


def size_of(limit) -> sp.Expr:
    var, lo, hi = limit
    return hi - lo + 1


# ---- Kronecker deltas -------------------------------------------------------------------------------

def contract(expr: sp.Expr) -> sp.Expr:
    """Every ``Sum`` over an index that a Kronecker delta pins contracted (Σ_i f(i) δ(i, j) = f(j)),
    and factors that do not depend on a summed index taken out of its sum."""
    if not expr.args or isinstance(expr, sp.Indexed):
        return expr
    if isinstance(expr, sp.Sum):
        body = contract(expr.function)
        for limit in expr.limits:
            body = _contract_one(_deltas_out_of_branches(body, limit[0]), limit)
        return body
    return expr.func(*[contract(arg) for arg in expr.args])


def _deltas_out_of_branches(expr, var):
    """Piecewise((f δ, c), (g δ, True)) -> δ · Piecewise((f, c), (g, True)) for a delta on ``var``
    that every non-zero branch carries (the derivative of relu, elu, ...)."""
    def lift(node):
        if not isinstance(node, sp.Piecewise):
            return node
        common = None
        for branch in node.args:
            if branch.expr == 0:
                continue
            deltas = {f for f in sp.Mul.make_args(branch.expr) if isinstance(f, sp.KroneckerDelta) and var in f.args}
            common = deltas if common is None else common & deltas
        if not common:
            return node
        factor = sp.Mul(*common)
        return factor * sp.Piecewise(*[(branch.expr / factor, branch.cond) for branch in node.args])

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lift)


def plain_bound(expr) -> sp.Expr:
    """Bound indices named with primes (n', d') renamed to plain letters not otherwise in use (k, j, ...)."""
    free = {str(s) for s in expr.free_symbols}

    def visit(node, scope):
        if not node.args or isinstance(node, sp.Indexed):
            return node
        if isinstance(node, sp.Sum):
            body, limits, scope = node.function, [], set(scope)
            for var, lo, hi in node.limits:
                if "'" in str(var):
                    new = fresh(free | scope | {str(s) for s in all_symbols(node)})
                    body = body.xreplace({var: new})
                    var = new
                scope.add(str(var))
                limits.append((var, lo, hi))
            return sp.Sum(visit(body, scope), *limits)
        return node.func(*[visit(arg, scope) for arg in node.args])

    return visit(expr, set())


def _has_delta_on(expr, var) -> bool:
    return any(var in delta.args for delta in expr.atoms(sp.KroneckerDelta))


def _contract_one(body, limit):
    var = limit[0]
    results = []
    for term in sp.Add.make_args(body):
        factors = sp.Mul.make_args(term)
        if any(isinstance(f, sp.Add) and _has_delta_on(f, var) for f in factors):
            expanded = sp.expand(term, deep=False, mul=True, multinomial=False, power_exp=False,
                                 power_base=False, log=False)
            if expanded != term:
                results.append(_contract_one(expanded, limit))
                continue
        delta = next((f for f in factors if isinstance(f, sp.KroneckerDelta) and var in f.args), None)
        if delta is not None:
            other = delta.args[1] if delta.args[0] == var else delta.args[0]
            rest = sp.Mul(*[f for f in factors if f is not delta])
            results.append(contract(rest.xreplace({var: other})))
            continue
        results.append(pull_out(term, limit))
    return sp.Add(*results)


def pull_out(term, limit) -> sp.Expr:
    """Σ_limit term with the factors that do not depend on the summed index in front."""
    var = limit[0]
    inside, outside = [], []
    for factor in sp.Mul.make_args(term):
        (inside if var in factor.free_symbols else outside).append(factor)
    if not inside:
        return sp.Mul(*outside) * size_of(limit)
    return sp.Mul(*outside) * sp.Sum(sp.Mul(*inside), limit)


# ---- sums simplified by the definitions -------------------------------------------------------------

@dataclass(frozen=True)
class SumIdentity:
    """Σ_index body = value, for every value of the free indices (a fact from a definition)."""

    index: sp.Symbol
    body: sp.Expr
    value: sp.Expr
    free: tuple
    source: str                  #: the quantity whose definition gives it
    derived: bool = False        #: found by summing a definition (Σ_n x̂ = 0), not read off one
    given: bool = False          #: an assumption stated with the layer (``source`` says which), not a definition

    @property
    def statement(self) -> sp.Eq:
        return sp.Eq(sp.Sum(self.body, (self.index, 0, sp.Symbol("_"))), self.value)

    def match(self, var, body):
        """The value of Σ_var body when it is an instance of this identity, else None."""
        renamed = self.body.xreplace({self.index: var})
        wilds = {f: sp.Wild(f"w_{f}", properties=[lambda e: e.is_Symbol]) for f in self.free}
        pattern = renamed.xreplace(wilds)
        found = body.match(pattern)
        if found is None or any(found.get(w) == var for w in wilds.values()):
            return None
        return self.value.xreplace({f: found[w] for f, w in wilds.items() if w in found})


def simplify_sums(expr: sp.Expr, identities=(), used=None) -> sp.Expr:
    """Sums split by linearity where that lets an identity or a constant term go, identities applied.

    ``used`` (a list) collects the identities that applied.
    """
    if not expr.args or isinstance(expr, sp.Indexed):
        return expr
    if isinstance(expr, sp.Sum):
        body = simplify_sums(expr.function, identities, used)
        for limit in expr.limits:
            body = _simplify_one(body, limit, identities, used)
        return body
    return expr.func(*[simplify_sums(arg, identities, used) for arg in expr.args])


def _whole(term, limit, identities, used):
    """(value, simplified?) of Σ_limit term without splitting it."""
    var = limit[0]
    pulled = pull_out(term, limit)
    inner = [f for f in sp.Mul.make_args(pulled) if isinstance(f, sp.Sum)]
    if not inner:
        return pulled, True
    summed = inner[-1]
    outside = pulled / summed
    for identity in identities:
        value = identity.match(var, summed.function)
        if value is not None:
            if used is not None and identity not in used:
                used.append(identity)
            return outside * value, True
    return pulled, False


def _simplify_one(body, limit, identities, used):
    whole, simplified = _whole(body, limit, identities, used)
    if simplified:
        return whole
    expanded = sp.expand(body, deep=False, mul=True, multinomial=False, power_exp=False, power_base=False,
                         log=False)
    terms = sp.Add.make_args(expanded)
    if len(terms) == 1:
        return whole
    trial = []
    parts, hits = [], 0
    for term in terms:
        value, simple = _whole(term, limit, identities, trial)
        hits += simple
        parts.append(value)
    if not hits:
        return whole
    if used is not None:
        used.extend(i for i in trial if i not in used)
    return sp.Add(*parts)


def identities_of(definitions) -> list:
    """The sum identities the definitions state (mu[d] = Σ_n x[n, d] / N gives Σ_n x[n, d] = N mu[d]),
    then those found by summing an elementwise definition over one of its indices (Σ_n x̂[n, d] = 0)."""
    found = []
    for definition in definitions:
        sums = [f for f in sp.Mul.make_args(definition.rhs) if isinstance(f, sp.Sum)]
        if len(sums) != 1 or len(sums[0].limits) != 1:
            continue
        coefficient = definition.rhs / sums[0]
        var = sums[0].limits[0][0]
        if var in coefficient.free_symbols or coefficient.has(sp.Sum):
            continue
        found.append(SumIdentity(var, sums[0].function, definition.lhs / coefficient, definition.indices,
                                 definition.name))
    for definition in definitions:
        if definition.rhs.has(sp.Sum):
            continue
        for position, var in enumerate(definition.indices):
            limit = (var, 0, sp.Symbol("_S", integer=True, positive=True))
            trial = []
            value = _simplify_one(definition.rhs, limit, found, trial)
            if value == 0 and trial:
                free = tuple(i for i in definition.indices if i != var)
                found.append(SumIdentity(var, definition.lhs, sp.Integer(0), free, definition.name, derived=True))
    return found

r"""Windows: index arithmetic in subscripts, zero padding, derived sizes, and the window ranges of the
index calculus (convolution and pooling).

The layer language reads ``x[n, p*S + i - P, q*S + j - P, c]``: a subscript may be an affine
expression of index letters with whole-number coefficients (the stride S, the dilation R) and a
whole-number offset (the padding P). Integer constants (``const S = 2``) and sizes may appear in
it; constants used there are structural and replaced by their value, sizes stay symbols, so a
derivation is done once per stride and padding and for every size. A read outside an array's
range is zero: an input's axis read with arithmetic must say so with ``pad`` (``x[N, H pad P, ...]``,
``pad 0`` for none). ``size Ho = (H + 2*P - K)/S + 1`` defines a size; its ``/`` rounds down
(as torch and the Deep Learning Specialization do).

The calculus: ∂x[n, p*S + i - P]/∂x[n', a] is the Kronecker delta δ(a, p*S + i - P) of a shifted
index. Summed over i (0 ≤ i < K) it pins i = a + P - p*S, and the sum's range becomes a condition
on the solved value, an Iverson bracket :class:`InRange` that is carried, never dropped.
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

from ..errors import LayerSpecError
from . import _language as L

# ---- the language ----------------------------------------------------------------------------------------


def integer_constant(builder, name, where) -> sp.Integer:
    """The whole-number value of the constant ``name`` (strides and paddings are whole numbers)."""
    value = builder.constants[name][1]
    if not (value.is_Integer and value >= 0):
        raise where.error(f"constant {name} = {value} is used as a stride, padding or size; it must be a "
                          f"whole number >= 0", LayerSpecError)
    return value


def integer_expr(builder, node, indices: bool, floor: bool = False):
    """A subscript (``indices``) or size expression as SymPy: index letters, sizes, whole numbers and
    integer constants with + - * (and / rounding down in a size)."""
    def visit(node):
        if isinstance(node, L.Num):
            value = Fraction(node.text)
            if value.denominator != 1:
                raise node.where.error(f"{node.text} is not a whole number; subscripts and sizes are whole "
                                       f"numbers", LayerSpecError)
            return sp.Integer(value.numerator)
        if isinstance(node, L.Negate):
            return -visit(node.operand)
        if isinstance(node, L.Name):
            if node.name in builder.constants:
                return integer_constant(builder, node.name, node.where)
            if node.name in builder.sizes:
                return builder.sizes[node.name]
            if indices:
                builder._check_index_name(node.name, node.where)
                from ._validate import index_symbol
                return index_symbol(node.name)
            raise node.where.error(f"undefined size {node.name} in a size expression; sizes: "
                                   f"{', '.join(builder.sizes)}", LayerSpecError)
        if isinstance(node, L.Binary) and node.op in "+-*" or floor and isinstance(node, L.Binary) and node.op == "/":
            left, right = visit(node.left), visit(node.right)
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "/":
                return sp.floor(left / right)
            return left * right
        what = "a subscript" if indices else "a size"
        where = getattr(node, "where", None)
        accepted = "index letters, sizes, whole numbers and integer constants with + - *"
        raise where.error(f"{what} is {accepted}{'' if indices else ' and /'}; this is not", LayerSpecError)

    return visit(node)


def arithmetic_subscript(builder, node, array, axis, scopes):
    """``h*S + i - P`` in slot ``axis`` of ``array``: an affine SymPy expression of index symbols; its index
    letters are recorded as used (their ranges come from elsewhere: another slot, or ``i in K``)."""
    where = getattr(node, "where", None)
    expr = sp.expand(integer_expr(builder, node, indices=True))
    symbols = sorted((s for s in expr.free_symbols if s not in set(builder.sizes.values())), key=str)
    if not symbols:
        raise where.error(f"the subscript of {array.name} in slot {axis + 1} uses no index letter", LayerSpecError)
    for symbol in symbols:
        coefficient = sp.diff(expr, symbol)
        if not coefficient.is_Integer or coefficient == 0:
            raise where.error(f"the subscript {expr} of {array.name} is not affine in {symbol}: write index "
                              f"letters times whole numbers (or integer constants) plus an offset, e.g. p*S + i - P", LayerSpecError)
    if array.kind == "input":        # a parameter read flipped (W[K - 1 - u]) or a quantity: reads outside are 0
        if array.pads[axis] is None:
            raise where.error(f"index arithmetic on {array.name}'s axis {axis + 1} ({array.sizes[axis]}) can read "
                              f"outside it; declare what such reads are: {array.name}[..., {array.sizes[axis]} pad P, "
                              f"...] (zero padding by P, pad 0 for none)", LayerSpecError)
    for symbol in symbols:
        name = str(symbol)
        scope = next((s for s in reversed(scopes) if name in s), scopes[0])
        if scope.get(name) is None:
            scope[name] = [None, where]
    return expr


def padding(builder, slot) -> tuple:
    """The zero padding of each axis of a declared slot (None where none is declared)."""
    pads = [None] * len(slot.sizes)
    for axis, amount, where in slot.pads:
        if amount in builder.constants:
            pads[axis] = integer_constant(builder, amount, where)
        else:
            try:
                value = Fraction(amount)
            except ValueError:
                raise where.error(f"undefined constant {amount} after 'pad'; declare it (const P = 1) or write "
                                  f"a whole number", LayerSpecError) from None
            if value.denominator != 1 or value < 0:
                raise where.error(f"pad {amount}: a padding is a whole number >= 0", LayerSpecError)
            pads[axis] = sp.Integer(value.numerator)
    return tuple(pads)


def derived_size(builder, statement) -> tuple:
    """``size Ho = (H + 2*P - K)/S + 1`` -> (symbol Ho, its value in the other sizes)."""
    from ._validate import size_symbol
    if not statement.name[0].isupper():
        raise statement.where.error(f"size {statement.name} must be capitalised (sizes are names such as Ho)",
                                    LayerSpecError)
    builder._claim(statement.name, statement.where, "size")
    value = integer_expr(builder, statement.expr, indices=False, floor=True)
    symbol = size_symbol(statement.name)
    builder.sizes[statement.name] = symbol
    return symbol, value


def declared_ranges(builder, ranges) -> dict:
    """``p in Ho``: index name -> [size symbol, Where]."""
    found = {}
    for index, size, where in ranges:
        if size in builder.constants:
            found[index] = [integer_constant(builder, size, where), where]
            continue
        if size not in builder.sizes:
            raise where.error(f"undefined size {size} after 'in'; sizes: {', '.join(builder.sizes)}", LayerSpecError)
        found[index] = [builder.sizes[size], where]
    return found


def resolve(index, seen, declared, what):
    """The size an index ranges over: from a slot where it stands alone, or from ``index in SIZE``."""
    size = seen[0] if seen is not None else None
    if index in declared:
        if size is not None and size != declared[index][0]:
            raise declared[index][1].error(f"index {index} is declared to range over {declared[index][0]} but a slot "
                                           f"gives it {size}", LayerSpecError)
        return declared[index][0]
    if size is None:
        where = seen[1]
        raise where.error(f"index {index} appears only in index arithmetic, so its range is unknown; give it "
                          f"({what})", LayerSpecError)
    return size


# ---- the calculus ----------------------------------------------------------------------------------------

class InRange(sp.Function):
    """The Iverson bracket [lo ≤ value ≤ hi]: 1 when it holds, else 0 (the window limits of a contracted sum)."""

    nargs = 3

    @classmethod
    def eval(cls, value, lo, hi):
        low, high = sp.expand(value - lo), sp.expand(hi - value)
        if low.is_negative or high.is_negative:
            return sp.Integer(0)
        if low.is_nonnegative and high.is_nonnegative:
            return sp.Integer(1)
        return None

    def _eval_is_integer(self):
        return True

    def _eval_is_nonnegative(self):
        return True

    def _sympystr(self, printer):
        value, lo, hi = (printer._print(a) for a in self.args)
        return f"[{lo} ≤ {value} ≤ {hi}]"

    def _latex(self, printer):
        value, lo, hi = (printer._print(a) for a in self.args)
        return rf"\left[{lo} \le {value} \le {hi}\right]"


class FirstMax(sp.Function):
    """[position is the first maximiser of the window]: ``FirstMax(body, (di, dj), (i, j), (K, K))`` is 1 when
    (i, j) is the first (row-major) (di, dj) at which ``body`` is largest over 0 ≤ di, dj < K, else 0 (the
    routing of max pooling; on ties the first maximum, as torch's CPU max pooling). It is piecewise constant,
    so its derivative is 0 almost everywhere: max(f) differentiates to Σ FirstMax · ∂f."""

    nargs = 4

    def _eval_derivative(self, symbol):
        return sp.Integer(0)

    def _eval_is_integer(self):
        return True

    def _sympystr(self, printer):
        body, dummies, positions, _ = self.args
        where = ", ".join(printer._print(p) for p in positions)
        over = ", ".join(printer._print(d) for d in dummies)
        return f"[({where}) = argmax_({over}) {printer._print(body)}]"

    def _latex(self, printer):
        body, dummies, positions, _ = self.args
        where = ", ".join(printer._print(p) for p in positions)
        over = ", ".join(printer._print(d) for d in dummies)
        return rf"\left[({where}) = \operatorname{{argmax}}_{{{over}}} {printer._print(body)}\right]"


def window_max(body, limits) -> sp.Expr:
    """max over the window ``limits`` of ``body``: Σ_window FirstMax · body (exact, and differentiable a.e.)."""
    dummies = tuple(sp.Dummy(str(var), integer=True) for var, _, _ in limits)
    routed = FirstMax(body.xreplace(dict(zip((v for v, _, _ in limits), dummies))), sp.Tuple(*dummies),
                      sp.Tuple(*(v for v, _, _ in limits)), sp.Tuple(*(hi - lo + 1 for _, lo, hi in limits)))
    return sp.Sum(routed * body, *limits)


def contract_shifted(expr, upstream=frozenset()):
    """Every sum over an index that a Kronecker delta of shifted indices pins (δ(a, p*S + i - P) pins i,
    whose coefficient is ±1) contracted: the index replaced by its solved value, times the Iverson bracket
    of the sum's range at that value. Deltas whose every solution needs a division (δ(a, 2p)) stay."""
    if not expr.args or isinstance(expr, sp.Indexed):
        return expr
    if isinstance(expr, sp.Sum):
        body = contract_shifted(expr.function, upstream)
        solved = _contract_limits(body, list(expr.limits), upstream)
        merged = _merged(body) if _pinned_inside(solved, expr.limits) else None
        if merged is not None:
            # δ(h, p + 2i − 1): i (the dilation 2) is not pinned inside Σ_i, but p is, once Σ_p Σ_i is one sum
            solved = _contract_limits(merged[0], list(expr.limits) + merged[1], upstream)
        return solved
    return expr.func(*[contract_shifted(arg, upstream) for arg in expr.args])


def _contract_limits(body, limits, upstream):
    """Σ_limits body with every limit a Kronecker delta pins contracted (the window index first)."""
    # the window index is solved, not the index of the upstream gradient: with stride 1 both i and p
    # have coefficient 1 in δ(h, p + i − P), and solving i leaves the kernel read at h + P − p; a dilated
    # window index (coefficient R > 1) is not, and the upstream index is solved instead (p = h + P − R·i)
    bare = {i for ref in body.atoms(sp.Indexed) if ref.base.label.name in upstream for i in ref.indices}
    kept = []
    for limit in sorted(limits, key=lambda limit: limit[0] in bare):
        solved = _solve_one(body, limit)
        if solved is None:
            kept.append(limit)
        else:
            body = solved
    kept = [limit for limit in limits if limit in kept]
    return sp.Sum(body, *kept) if kept else body


def _pinned_inside(expr, limits) -> bool:
    """Whether a Kronecker delta inside a sum nested in ``expr`` holds one of the outer ``limits``' indices."""
    variables = {limit[0] for limit in limits}
    return any(variables & delta.free_symbols for total in expr.atoms(sp.Sum)
               for delta in total.function.atoms(sp.KroneckerDelta))


def _merged(body):
    """(body, limits) of a product of factors and nested sums as one sum over all its bound indices (the
    engine's bound indices are distinct, so A Σ_i B is Σ_i A B); None when a sum sits in anything else."""
    if isinstance(body, sp.Sum):
        inner = _merged(body.function)
        return None if inner is None else (inner[0], list(body.limits) + inner[1])
    if isinstance(body, sp.Mul):
        factors, limits = [], []
        for factor in body.args:
            inner = _merged(factor)
            if inner is None:
                return None
            factors.append(inner[0])
            limits += inner[1]
        return sp.Mul(*factors), limits
    return None if body.has(sp.Sum) else (body, [])


def _solve_one(body, limit):
    var, lo, hi = limit
    terms = sp.Add.make_args(sp.expand(body, deep=False, mul=True, multinomial=False, power_exp=False,
                                       power_base=False, log=False))
    results = []
    for term in terms:
        factors = sp.Mul.make_args(term)
        delta = next((f for f in factors if isinstance(f, sp.KroneckerDelta) and var in f.free_symbols
                      and abs(sp.expand(f.args[0] - f.args[1]).coeff(var)) == 1), None)
        if delta is None:
            if var in term.free_symbols:
                return None
            results.append(term * (hi - lo + 1))
            continue
        difference = sp.expand(delta.args[0] - delta.args[1])
        value = sp.expand(var - difference / difference.coeff(var))
        rest = sp.Mul(*[f for f in factors if f is not delta]).xreplace({var: value})
        results.append(rest * InRange(value, lo, hi))
    return sp.Add(*results)

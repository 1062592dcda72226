"""From a per-unit formula to its vector form: + stays +, a product of units becomes ⊙,
a sum over the units of a layer becomes an inner product with a vector of ones.

The result is a SymPy matrix expression over :class:`~symbackprop.symbols.LayerArray` symbols,
so it can be printed (any notation) and evaluated on concrete arrays (checker, tests).
"""
from __future__ import annotations

import sympy as sp
from sympy.core.relational import Relational
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions import (HadamardPower, HadamardProduct,
                                        MatAdd, MatMul, MatrixExpr, OneMatrix, Transpose, ZeroMatrix)

from ..errors import InternalError, SymbackpropError


def vectorise(expr: sp.Expr, vectors: dict, size, sum_vectors: dict | None = None) -> MatrixExpr:
    """The vector form of a per-unit ``expr``.

    ``vectors`` maps unit symbols to column vectors of ``size`` rows (a -> a^L, y -> y, ...).
    ``sum_vectors`` maps the IndexedBase of units summed over (inside ``Sum``) to their vectors.
    """
    sum_vectors = sum_vectors or {}
    return _Vectoriser(vectors, size, sum_vectors).vector(expr)


class _Vectoriser:
    def __init__(self, vectors, size, sum_vectors):
        self.vectors, self.size, self.sum_vectors = vectors, size, sum_vectors
        self.ones = OneMatrix(size, 1)

    def is_scalar(self, expr) -> bool:
        return not (expr.free_symbols & set(self.vectors)) and not expr.has(sp.Indexed)

    def vector(self, expr) -> MatrixExpr:
        if isinstance(expr, MatrixExpr):
            return expr
        if expr in self.vectors:
            return self.vectors[expr]
        if self.is_scalar(expr):
            return MatMul(expr, self.ones) if expr != 1 else self.ones
        used = expr.free_symbols & set(self.vectors)
        if len(used) == 1 and not expr.has(sp.Sum) and not expr.is_polynomial(*used):
            (symbol,) = used        # g'(z) = e^z/(e^z + 1): one function applied to each entry of z
            if not isinstance(expr, sp.Mul) or all(not f.has(symbol) or not f.is_polynomial(symbol) for f in expr.args):
                return ElementwiseApplyFunction(sp.Lambda(symbol, expr), self.vectors[symbol])
        if isinstance(expr, sp.Add):
            return MatAdd(*[self.vector(term) for term in expr.args])
        if isinstance(expr, sp.Mul):
            return self.product(expr)
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
            return HadamardPower(self.vector(expr.base), expr.exp)
        if isinstance(expr, sp.Pow) and self.is_scalar(expr.exp):
            t = sp.Dummy("t")                     # sqrt(1 + (a - y)^2): the power of each entry
            return ElementwiseApplyFunction(sp.Lambda(t, t ** expr.exp), self.vector(expr.base))
        if isinstance(expr, sp.Sum):
            return MatMul(self.ones, self.inner(expr))
        if isinstance(expr, sp.Function) and len(expr.args) == 1 and expr.args[0] not in self.vectors:
            t = sp.Dummy("t")                     # f(a - y): f applied to each entry of the vector a - y
            return ElementwiseApplyFunction(sp.Lambda(t, expr.func(t)), self.vector(expr.args[0]))
        # A Piecewise is a Function whose arguments are (value, condition) pairs, not values: it is
        # written by cases below, never rebuilt with a dummy in place of one of its pairs.
        varying = ([arg for arg in expr.args if not self.is_scalar(arg)]
                   if isinstance(expr, (sp.Function, sp.Max, sp.Min)) and not isinstance(expr, sp.Piecewise) else [])
        if len(varying) == 1:
            t = sp.Dummy("t")                     # max(0, 1 - a y): one argument is a vector, the others numbers
            body = expr.func(*[t if arg == varying[0] else arg for arg in expr.args])
            return ElementwiseApplyFunction(sp.Lambda(t, body), self.vector(varying[0]))
        if isinstance(expr, sp.Pow) and self.is_scalar(expr.base):
            t = sp.Dummy("t")                     # e^(a y): the power of each entry of a ⊙ y
            return ElementwiseApplyFunction(sp.Lambda(t, expr.base ** t), self.vector(expr.exp))
        if isinstance(expr, sp.Piecewise) and len(expr.free_symbols & set(self.vectors)) > 1:
            shared = _shared_factors(expr)        # (-100 y/a² if a <= 0, else -y/a²) = -y/a² ⊙ (100 if a <= 0, else 1)
            if shared != 1:
                return self.vector(sp.Mul(shared, sp.Piecewise(*[(value / shared, condition)
                                                                for value, condition in expr.args])))
            by_cases = self.by_cases(expr)
            if by_cases is not None:
                return by_cases
        if isinstance(expr, (sp.Function, sp.Piecewise, sp.Pow)):
            used = expr.free_symbols & set(self.vectors)
            if len(used) != 1:
                inner = self.common_argument(expr)
                if inner is not None:
                    return inner
                raise SymbackpropError(f"cannot write {expr} elementwise in one vector")
            (symbol,) = used
            return ElementwiseApplyFunction(sp.Lambda(symbol, expr), self.vectors[symbol])
        raise SymbackpropError(f"no vector form for {expr}")

    def common_argument(self, expr):
        """A function of several unit vectors through one combination of them (huber's Piecewise in
        a - y): that function applied to each entry of the combination's vector; else None."""
        t = sp.Dummy("t")
        candidates = sorted({node for node in sp.preorder_traversal(expr)
                             if isinstance(node, sp.Add) and not self.is_scalar(node)}, key=sp.count_ops)
        for candidate in candidates:
            for form in (candidate, -candidate):
                body = expr.xreplace({form: t if form is candidate else -t})
                if not (body.free_symbols & set(self.vectors)):
                    return ElementwiseApplyFunction(sp.Lambda(t, body), self.vector(candidate))
        return None
    def by_cases(self, expr: sp.Piecewise):
        """(f if u <= v, else g) over several vectors as f ⊙ 1[u - v <= 0] + g ⊙ 1[u - v > 0]; None
        for more than two cases or a condition that is not one comparison."""
        if len(expr.args) != 2 or expr.args[1].cond is not sp.true or not isinstance(expr.args[0].cond, Relational):
            return None
        (first, condition), (second, _) = expr.args
        terms = []
        for value, case in ((first, condition), (second, condition.negated)):
            if value == 0:
                continue
            t = sp.Dummy("t")
            indicator = ElementwiseApplyFunction(sp.Lambda(t, sp.Piecewise((1, case.func(t, 0)), (0, True))),
                                                 self.vector(case.lhs - case.rhs))
            terms.append(indicator if value == 1 else HadamardProduct(self.vector(value), indicator))
        if not terms:
            return MatMul(sp.Integer(0), self.ones)
        return terms[0] if len(terms) == 1 else MatAdd(*terms)

    def product(self, expr: sp.Mul) -> MatrixExpr:
        scalars, sums, units = [], [], []
        for factor in expr.args:
            if self.is_scalar(factor):
                scalars.append(factor)
            elif isinstance(factor, sp.Sum):
                sums.append(self.inner(factor))
            else:
                units.append(self.vector(factor))
        scalar = sp.Mul(*scalars)
        if units:
            body = units[0] if len(units) == 1 else HadamardProduct(*units)
        else:
            body = self.ones
        for inner in sums:            # a column times a 1x1 inner product
            body = MatMul(body, inner)
        return MatMul(scalar, body) if scalar != 1 else body

    def inner(self, total: sp.Sum) -> MatrixExpr:
        """Σ_k f(u_k, v_k) over a layer's units as the 1x1 product 1^T f(u, v) (or u^T v for a product)."""
        (index, _, _), = total.limits
        local = {}
        for indexed in total.function.atoms(sp.Indexed):
            if indexed.indices[-1] == index and indexed.base in self.sum_vectors:
                local[indexed] = sp.Dummy(str(indexed.base))
        body = total.function.xreplace(local)
        vectors = {dummy: self.sum_vectors[indexed.base] for indexed, dummy in local.items()}
        inner = _Vectoriser(vectors, self.size, {})
        factors = sp.Mul.make_args(body)
        coefficient = sp.Mul(*[f for f in factors if inner.is_scalar(f)])
        rest = [f for f in factors if not inner.is_scalar(f)]
        if len(rest) == 2:
            left, right = (inner.vector(f) for f in rest)
            product = MatMul(Transpose(left), right)
        else:
            product = MatMul(Transpose(inner.ones), inner.vector(sp.Mul(*rest)))
        return MatMul(coefficient, product) if coefficient != 1 else product


def unvectorise(expr: MatrixExpr, units: dict) -> sp.Expr:
    """The per-unit form of an elementwise matrix expression: ⊙ -> ×, + -> +, a column of ones -> 1,
    f applied to each entry -> f; ``units`` maps arrays to unit symbols (a^l -> a)."""
    if expr in units:
        return units[expr]
    if isinstance(expr, OneMatrix):
        return sp.Integer(1)
    if isinstance(expr, ZeroMatrix):
        return sp.Integer(0)
    if isinstance(expr, HadamardProduct):
        return sp.Mul(*(unvectorise(f, units) for f in expr.args))
    if isinstance(expr, MatAdd):
        return sp.Add(*(unvectorise(f, units) for f in expr.args))
    if isinstance(expr, MatMul):
        scalars = [f for f in expr.args if not isinstance(f, MatrixExpr)]
        matrices = [f for f in expr.args if isinstance(f, MatrixExpr)]
        if len(matrices) != 1:
            raise InternalError(f"{expr} is a matrix product, not an elementwise expression")
        return sp.Mul(*scalars) * unvectorise(matrices[0], units)
    if isinstance(expr, HadamardPower):
        return unvectorise(expr.base, units) ** expr.exp
    if isinstance(expr, ElementwiseApplyFunction):
        function = expr.function
        return function.expr.xreplace({function.variables[0]: unvectorise(expr.expr, units)})
    raise InternalError(f"no per-unit form for {expr}")
def _shared_factors(piecewise: sp.Piecewise) -> sp.Expr:
    """The product of the factors every case of ``piecewise`` has (numbers aside), 1 if none."""
    shared = None
    for value, _ in piecewise.args:
        if value == 0:
            continue
        factors = {f for f in sp.Mul.make_args(value) if not f.is_Number}
        shared = factors if shared is None else shared & factors
    return sp.Mul(*(shared or ()))

"""Size budgets for SymPy's simplifiers: which expressions ``factor``, ``cancel``, ``simplify`` and
``nsimplify`` may be given, so that no expression a user types reaches a simplifier that runs unbounded.

Why a size budget and not a clock: SymPy cannot be interrupted from another thread, a signal
reaches only the main thread (and leaves SymPy's caches half written), and a subprocess per call
costs more than the simplification. The cost of ``cancel``/``factor`` is governed by what can be
read off the expression before the call:

* the **degree** of the polynomial the simplifier sees. ``exp(851 z/500)`` and ``exp(z/500)`` share
  the generator ``exp(z/500)``, so the pair is a polynomial of degree 851 in it; likewise
  ``exp(-314159/100000)`` is ``E**(1/100000)`` to the power 314159, and ``z**(7/3)`` is degree 7 in
  ``z**(1/3)``;
* the number of **generators** (distinct functions and symbols): nested ``tanh`` to depth 10 is a
  rational function of ten generators, and multivariate factoring grows steeply with them;
* the number of **operations**.

The check is deterministic: the same expression is simplified, or kept, on every machine and in
every run, so a test can state which, and a step can say which happened. Past the budget the
caller keeps the expression as it is (correct, only not shortened) and says so.
"""
from __future__ import annotations

from math import lcm

import sympy as sp

#: the largest polynomial degree in one generator that a simplifier is given
MAX_DEGREE = 24
#: the largest number of generators (function applications and symbols)
MAX_GENERATORS = 5
#: the largest number of operations (``sympy.count_ops``)
MAX_OPERATIONS = 120

#: what a step says when a simplifier was not given its expression
NOT_SHORTENED = "no shorter form was found within the simplification budget"


def simplifiable(expr) -> bool:
    """True when ``expr`` is within the budget of every simplifier (see the module's docstring)."""
    expr = sp.sympify(expr, strict=True)
    if not isinstance(expr, sp.Basic):
        return True
    if _operations(expr) > MAX_OPERATIONS:
        return False
    if len(_generators(expr)) > MAX_GENERATORS:
        return False
    return max(_degrees(expr).values(), default=0) <= MAX_DEGREE


def within_budget(simplifier, expr, *args, **kwargs):
    """``simplifier(expr, ...)`` when ``expr`` is within the budget, else ``expr`` unchanged."""
    return simplifier(expr, *args, **kwargs) if simplifiable(expr) else expr


def _operations(expr) -> int:
    """The size of the tree: nodes, counted without SymPy's ``count_ops`` (which visits powers twice)."""
    count = 0
    for _ in sp.preorder_traversal(expr):
        count += 1
        if count > 4 * MAX_OPERATIONS:
            break
    return count // 2


def _generators(expr) -> set:
    functions = {e for e in expr.atoms(sp.Function) if not isinstance(e, (sp.KroneckerDelta,))}
    powers = {e.base for e in expr.atoms(sp.Pow) if not e.exp.is_Integer and not e.base.is_Symbol and not e.base.is_number}
    exps = {sp.exp(e.exp) for e in expr.atoms(sp.Pow) if e.base is sp.E and not e.exp.is_number}   # E**z is exp(z)
    return functions | powers | exps | expr.free_symbols


def _degrees(expr) -> dict:
    """For each generator the simplifier would choose, the degree it would have: exponents c*u with
    rational c share the generator base**(u/q), q the least common multiple of the denominators."""
    exponents: dict = {}
    for power in expr.atoms(sp.Pow, sp.exp):
        base, exponent = (sp.E, power.args[0]) if isinstance(power, sp.exp) else power.as_base_exp()
        if exponent.is_Integer and base.is_Atom:
            continue
        for term in sp.Add.make_args(exponent):
            coefficient, rest = term.as_coeff_Mul()
            if coefficient.is_Rational:
                exponents.setdefault((base, rest), []).append(coefficient)
            elif coefficient.is_Float:          # a float exponent: SymPy would read it as a ratio
                exponents.setdefault((base, rest), []).append(sp.Rational(str(coefficient)))
    degrees = {}
    for key, coefficients in exponents.items():
        denominator = lcm(*(int(c.q) for c in coefficients))
        degrees[key] = max(abs(int(c.p)) * denominator // int(c.q) for c in coefficients)
    return degrees


def cancel(expr, *args, **kwargs):
    """``sympy.cancel`` within the budget; past it, ``expr`` as it is."""
    return within_budget(sp.cancel, expr, *args, **kwargs)


def factor(expr, *args, **kwargs):
    """``sympy.factor`` within the budget; past it, ``expr`` as it is."""
    return within_budget(sp.factor, expr, *args, **kwargs)


def simplify(expr, *args, **kwargs):
    """``sympy.simplify`` within the budget; past it, ``expr`` as it is."""
    return within_budget(sp.simplify, expr, *args, **kwargs)


def is_zero(expr) -> bool:
    """True when ``sympy.simplify`` shows ``expr`` is zero within the budget; False means "not shown"."""
    return bool(simplifiable(expr) and sp.simplify(expr) == 0)


#: the deepest expression tree the engine differentiates and prints (SymPy recurses per level)
MAX_NESTING = 40


def nesting(expr) -> int:
    """The depth of ``expr``'s tree, counted without recursion (a deep tree must not overflow here)."""
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_NESTING:
            stack.extend((arg, depth + 1) for arg in node.args)
    return deepest

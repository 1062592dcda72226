"""Calculus helpers the derivations share: Kronecker contraction of sums and tidy simplification.

Everything here is exact algebra on SymPy expressions; nothing knows about any activation or loss.
"""
from __future__ import annotations

import sympy as sp
from sympy.concrete.delta import deltasummation

from ..budget import simplifiable


def contract(expr: sp.Expr) -> sp.Expr:
    """Carry out every sum over an index that a Kronecker delta pins, and pull out factors that do not
    depend on the summation index: Σ_k δ_ik f_k = f_i, Σ_k c g_k = c Σ_k g_k.

    The index ranges are the units of a layer, so a pinned index always lies in range and the
    contraction is exact (no Piecewise guard is needed).
    """
    return expr.replace(lambda e: isinstance(e, sp.Sum), _contract_sum)


def _contract_sum(total: sp.Sum) -> sp.Expr:
    body = _deltas_out_of_piecewise(contract(total.function))
    if len(total.limits) > 1:  # one index at a time, innermost first
        inner = _contract_sum(sp.Sum(body, total.limits[0]))
        return contract(sp.Sum(inner, *total.limits[1:]))
    limit = total.limits[0]
    index = limit[0]
    result = sp.Integer(0)
    for term in sp.Add.make_args(body):
        if _pinned(term, index) and not _pinned_inside_add(term, index):
            result += deltasummation(term, limit, no_piecewise=True)
        elif _pinned(term, index):      # a delta inside a bracket: multiply out that bracket only
            result += _contract_sum(sp.Sum(sp.expand(term, deep=False, power_base=False, power_exp=False,
                                                     log=False, multinomial=False), limit)) \
                if sp.expand(term, deep=False) != term else deltasummation(term, limit, no_piecewise=True)
        else:
            outside, inside = term.as_independent(index, as_Add=False)
            if inside == 1:
                result += outside * (limit[2] - limit[1] + 1)
            else:
                result += outside * sp.Sum(inside, limit)
    return result


def _deltas_out_of_piecewise(expr: sp.Expr) -> sp.Expr:
    """Piecewise((f δ_kp, c), (g δ_kp, True)) -> δ_kp Piecewise((f, c), (g, True)).

    Differentiating a loss with a kink, Σ_p relu(a_p), by a_k gives the Kronecker delta inside the
    cases; outside them it can pin the sum's index. Exact for a delta that zeroes every case
    where it is 0 (v(δ=0) = 0): δ is 0 or 1, so v(δ) = δ v(1), also where δ sits inside a sum.
    """
    def pull(piecewise):
        shared = None                  # first the factors every non-zero case has: (0 if z <= 0, else H W δ)
        for value, _ in piecewise.args:
            if value != 0:
                # not a bracket holding the delta: taken out, it would keep the delta inside a sum that
                # _contract_sum multiplies out back into the cases, without end; deltas_out takes the delta
                factors = {f for f in sp.Mul.make_args(value) if not f.is_Number and f.has(sp.Indexed)
                           and not (f.is_Add and f.has(sp.KroneckerDelta))}
                shared = factors if shared is None else shared & factors
        if shared:
            # one pass takes every shared factor; not again on the quotient: SymPy may merge what is left
            # (exp(u) exp(v) -> exp(u + v)) into a factor that is "shared" once more, without end
            common = sp.Mul(*shared)
            return common * deltas_out(sp.Piecewise(*[(value / common if value != 0 else value, condition)
                                                      for value, condition in piecewise.args]))
        return deltas_out(piecewise)

    def deltas_out(piecewise):
        if not isinstance(piecewise, sp.Piecewise):
            return piecewise
        for delta in sorted(piecewise.atoms(sp.KroneckerDelta), key=str):
            if all(value.xreplace({delta: 0}) == 0 for value, _ in piecewise.args):
                return delta * sp.Piecewise(*[(value.xreplace({delta: 1}), condition)
                                              for value, condition in piecewise.args])
        return piecewise
    return expr.replace(lambda e: isinstance(e, sp.Piecewise) and e.has(sp.KroneckerDelta, sp.Indexed), pull)


def _pinned(term, index) -> bool:
    return any(index in d.free_symbols for d in term.atoms(sp.KroneckerDelta))


def _pinned_inside_add(term, index) -> bool:
    """A Kronecker delta that sits inside a sum of factors, e.g. a_k (δ_ik - a_i)."""
    return any(isinstance(f, sp.Add) and _pinned(f, index) for f in sp.Mul.make_args(term))


def tidy(expr: sp.Expr) -> sp.Expr:
    """A readable canonical form: cancel common factors, then factor; factors written as 1 - a, not -(a - 1).

    An expression past the simplification budget (:mod:`symbackprop.budget`) is returned as it is.
    """
    if not simplifiable(expr):
        return expr
    if expr.has(sp.Piecewise, sp.Heaviside, sp.Sum, sp.Indexed):
        if expr.has(sp.Sum) or expr.has(sp.Indexed):
            return expr
        return _factor_around_piecewise(expr)
    try:
        factored = positive_factors(sp.factor(sp.cancel(expr)))
    except sp.PolynomialError:
        return expr
    # cancel() multiplies out what sits under a root, e.g. sqrt(1 + (a - y)^2); keep the shorter form.
    combined = positive_factors(sp.factor_terms(sp.together(expr)))
    candidates = [form for form in (factored, combined) if not _reciprocal_exponentials(form)]
    return min(candidates, key=sp.count_ops) if candidates else expr


def _reciprocal_exponentials(expr: sp.Expr) -> bool:
    """True when ``expr`` holds both exp(u) and exp(-u) (u not a number): factoring GELU's derivative
    Φ(z) + z φ(z) over one denominator gives (... + exp(z²/2) ...) exp(-z²/2), which is the same
    function but inf * 0 in floating point past |z| = 38. Such a form is not taken."""
    exponents = {power.exp if isinstance(power, sp.Pow) else power.args[0]
                 for power in expr.atoms(sp.exp, sp.Pow)
                 if isinstance(power, sp.exp) or (isinstance(power, sp.Pow) and power.base is sp.E)}
    exponents = {sp.expand(u) for u in exponents if not u.is_number}
    return any(sp.expand(-u) in exponents for u in exponents)


def _factor_around_piecewise(expr: sp.Expr) -> sp.Expr:
    smooth, rough = sp.S.One, sp.S.One
    for factor in sp.Mul.make_args(expr):
        if factor.has(sp.Piecewise, sp.Heaviside):
            rough *= factor
        else:
            smooth *= factor
    return tidy(smooth) * rough if smooth != 1 else rough


def positive_factors(expr: sp.Expr) -> sp.Expr:
    """Orient two-term factors as a teacher writes them: (1 - a), (1 + a), (a - y), not (a - 1) or (y - a).

    A factor with a constant term gets the constant positive; otherwise its first symbol
    (alphabetically, so a before y) gets a positive coefficient. Flips are paid for by the sign
    of the coefficient, so the value is unchanged.
    """
    if not isinstance(expr, (sp.Mul, sp.Pow)) or expr.has(sp.Sum, sp.Piecewise, sp.Indexed) or not simplifiable(expr):
        return expr
    numerator, denominator = sp.fraction(sp.factor_terms(expr))
    sign = 1
    parts = []
    for side in (numerator, denominator):
        factors = []
        for factor in sp.Mul.make_args(side):
            base, power = factor.as_base_exp()
            if _needs_flip(base):
                base = sp.expand(-base)
                if power % 2 == 1 if power.is_Integer else False:
                    sign = -sign
                elif not power.is_Integer:
                    base = sp.expand(-base)
            factors.append((base, power))
        parts.append(factors)
    pieces = [sp.Pow(b, e, evaluate=False) if e != 1 else b for b, e in parts[0]]
    pieces += [sp.Pow(b, -e) for b, e in parts[1]]
    coefficient = sp.Integer(sign)
    numbers = [p for p in pieces if p.is_Number]
    others = [p for p in pieces if not p.is_Number]
    coefficient *= sp.Mul(*numbers)
    if coefficient == 1:
        return sp.Mul(*others, evaluate=False) if len(others) > 1 else (others[0] if others else sp.Integer(1))
    return sp.Mul(coefficient, *others, evaluate=False)


def oriented_terms(expr: sp.Expr) -> sp.Expr:
    """A sum (or the sums in a product) with each term's two-term factors oriented by
    ``positive_factors``, Indexed atoms included.

    Differentiating -(1 - y) log(1 - a) gives -(y - 1)/(1 - a); a teacher writes (1 - y)/(1 - a).
    Only the written form changes: the value is the same.
    """
    if expr.has(sp.Sum, sp.Piecewise, sp.Heaviside):
        return expr
    atoms = sorted(expr.atoms(sp.Indexed), key=str)
    stand_ins = {atom: sp.Symbol(f"_term_atom_{n:04d}") for n, atom in enumerate(atoms)}
    plain = expr.xreplace(stand_ins)
    orient = lambda total: sp.Add(*(positive_factors(term) for term in sp.Add.make_args(total)))
    if isinstance(plain, sp.Mul):   # a product such as (∂C/∂a) g'(z): orient the sums among its factors
        oriented = sp.Mul(*(orient(factor) if factor.is_Add else factor for factor in plain.args))
    else:
        oriented = orient(plain)
    return oriented.xreplace({stand_in: atom for atom, stand_in in stand_ins.items()})


def _needs_flip(base: sp.Expr) -> bool:
    if not isinstance(base, sp.Add) or len(base.args) != 2:
        return False
    numbers = [t for t in base.args if t.is_Number]
    if numbers:
        return numbers[0] < 0 and not all(t.could_extract_minus_sign() for t in base.args if not t.is_Number)
    if not base.free_symbols:     # a constant such as log(851)/2 - log(500)/2: its sign is its value's
        return False
    first = sorted(base.free_symbols, key=str)[0]
    return base.coeff(first).could_extract_minus_sign() if base.coeff(first) != 0 else False


def proved_zero(expr: sp.Expr, variable: sp.Symbol) -> bool:
    """True when exact algebra shows ``expr`` (a function of ``variable``) is identically zero.

    Hyperbolic functions are rewritten as exponentials and every exp(c*variable) becomes t**c,
    which turns the activations of the catalogue into rational functions of t; ``cancel`` then
    decides. False means "not shown", not "nonzero".
    """
    t = sp.Dummy("t", positive=True)
    rewritten = sp.sympify(expr, strict=True).rewrite(sp.exp)

    def as_power(term):
        coefficient, rest = term.args[0].as_coeff_Mul()
        return t ** coefficient if rest == variable else term

    rewritten = rewritten.replace(lambda e: isinstance(e, sp.exp), as_power)
    if not simplifiable(rewritten):
        return False
    try:
        return sp.cancel(sp.together(rewritten)) == 0
    except sp.PolynomialError:
        return False


def shared_factor(expr: sp.Expr, other: sp.Expr) -> sp.Expr:
    """The greatest common factor of two expressions, a case split (Piecewise, step function) taken as
    one opaque factor; 1 where it is not found within the simplification budget."""
    opaque = sorted(expr.atoms(sp.Piecewise, sp.Heaviside) | other.atoms(sp.Piecewise, sp.Heaviside), key=str)
    stand_ins = {atom: sp.Dummy(f"case{n}") for n, atom in enumerate(opaque)}
    plain, plain_other = expr.xreplace(stand_ins), other.xreplace(stand_ins)
    if not (simplifiable(plain) and simplifiable(plain_other)):
        return sp.Integer(1)
    try:
        common = sp.gcd(sp.factor(plain), sp.factor(plain_other))
    except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
        common = sp.Mul(*(set(sp.Mul.make_args(sp.factor(plain))) & set(sp.Mul.make_args(sp.factor(plain_other)))))
    return common.xreplace({dummy: atom for atom, dummy in stand_ins.items()})


def equation(lhs, rhs) -> sp.Eq:
    """A statement ``lhs = rhs``, kept as written (SymPy would otherwise try to decide it)."""
    return sp.Eq(lhs, rhs, evaluate=False)


def gather_sums(expr: sp.Expr) -> sp.Expr:
    """Σ_k f_k - Σ_k g_k -> Σ_k (f_k - g_k), the summand factored; then common factors pulled out.

    The inverse of what contraction leaves behind, for a readable coupled δ^L:
    a_i (a_i - y_i - Σ_k a_k (a_k - y_k)) rather than four loose terms.
    """
    if not expr.has(sp.Sum):
        return expr
    grouped, rest = {}, sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr)):
        sums = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
        if len(sums) != 1:
            rest += term
            continue
        (total,) = sums
        coefficient, outside = (term / total).as_coeff_Mul()   # -a Σ f and a Σ g share the sum
        grouped.setdefault((outside, total.limits), []).append(coefficient * total.function)
    for (outside, limits), bodies in grouped.items():
        body = sp.Add(*bodies)
        rest += outside * sp.Sum(positive_factors(sp.factor(body)) if simplifiable(body) else body, *limits)
    return sp.factor_terms(rest)


def real_domain(expr: sp.Expr) -> tuple:
    """The conditions under which ``expr`` is real, read off its parts: the argument of a logarithm
    is positive, the base of a fractional power is non-negative (positive under a negative power),
    a denominator is non-zero. Empty when ``expr`` is real for every real value of its symbols.

    The conditions are stated, not solved: solving them is itself unbounded for what a user may type.
    """
    conditions = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.log):
            conditions.append(sp.Gt(node.args[0], 0))
        elif isinstance(node, sp.Pow) and node.exp.is_Rational and not node.exp.is_Integer:
            conditions.append(sp.Gt(node.base, 0) if node.exp.is_negative else sp.Ge(node.base, 0))
        elif isinstance(node, sp.Pow) and node.exp.is_Float:
            conditions.append(sp.Gt(node.base, 0))
    kept = []
    for condition in conditions:
        if condition is sp.true or condition in kept:
            continue
        if condition.lhs.is_positive or (isinstance(condition, sp.Ge) and condition.lhs.is_nonnegative):
            continue
        kept.append(condition)
    return tuple(kept)

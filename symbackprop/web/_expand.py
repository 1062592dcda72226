"""What a click on a step shows: its chain rule's sum written out term by term, or the Kronecker contraction
that keeps one term of it.

Nothing is derived here. A chain-rule step already states ``Σ_k f(k)``; its expansion prints the terms
``f(1) + f(2) + ⋯ + f(n)`` of that same sum. A contraction step follows a sum whose factors earlier steps
gave: the expansion substitutes those steps' statements into the sum, prints its terms with their
Kronecker deltas ``[i = 1]``, ``[i = 2]``, …, and ends in the step's own right-hand side, the one term left.
"""
from __future__ import annotations

import sympy as sp

from ..derivation import Rule
from ..rendering._mathml import mathml

def expansions(steps, printer) -> dict[int, str]:
    """{step number: MathML of its expansion} for the chain-rule and contraction steps of ``steps``, a list of
    (number, Step) in order; ``printer(number)(expr)`` prints an expression as the page prints step ``number``
    (in its notation, for one example or for the batch)."""
    found, earlier = {}, []
    for number, step in steps:
        text, latex = None, printer(number)
        if step.rule is Rule.CHAIN_RULE:
            text = _chain_rule(step, latex)
        elif step.rule is Rule.KRONECKER:
            text = _contraction(step, earlier, latex)
        if text:
            found[number] = mathml(text, display=True)
        earlier.append(step)
    return found


def _sums(expr) -> list:
    """The sums of ``expr`` that no other sum contains, in order."""
    if isinstance(expr, sp.Sum):
        return [expr]
    return [total for argument in getattr(expr, "args", ()) for total in _sums(argument)]


def _written_index(total: sp.Sum, body) -> tuple:
    """The limit to write out: one whose index a Kronecker delta in ``body`` pins, else the first."""
    deltas = body.atoms(sp.KroneckerDelta)
    return next((limit for limit in total.limits if any(limit[0] in delta.args for delta in deltas)), total.limits[0])


def _terms(total: sp.Sum, body=None) -> list:
    """The first two terms and the last of the sum over one of its indices (a sum over the others stays)."""
    body = total.function if body is None else body
    limit = _written_index(total, body)
    index, low, high = limit
    if not low.is_Integer:
        return []
    rest = [other for other in total.limits if other != limit]
    wrap = (lambda term: sp.Sum(term, *rest)) if rest else (lambda term: term)
    return [wrap(body.subs(index, low)), wrap(body.subs(index, low + 1)), wrap(body.subs(index, high))]


def _written_out(total, terms, latex) -> str:
    first, second, last = (latex(term) for term in terms)
    return f"{latex(total)} = {first} + {second} + \\cdots + {last}"


def _chain_rule(step, latex) -> str | None:
    statement = step.statement
    sums = _sums(getattr(statement, "rhs", statement))
    if not sums:
        return None
    lines = [_written_out(total, _terms(total), latex) for total in sums if _terms(total)]
    if not lines:
        return None
    return r" \\ ".join(lines) if len(lines) == 1 else r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def _contraction(step, earlier, latex) -> str | None:
    """The latest sum before the step, with the factors that earlier steps gave substituted, term by term."""
    chain = next((s for s in reversed(earlier) if s.rule is Rule.CHAIN_RULE and _sums(_rhs(s))), None)
    if chain is None:
        return None
    total = _sums(_rhs(chain))[0]
    known = {s.statement.lhs: s.statement.rhs for s in earlier
             if isinstance(s.statement, sp.Eq) and s.statement.has(sp.KroneckerDelta) and s is not chain}
    body = total.function.xreplace(known)
    index = _written_index(total, body)[0]
    pinned = _pinned(body, index)
    terms = _terms(total, body)
    if pinned is None or not terms:
        return None
    contracted = sp.Sum(body, *total.limits)
    first, second, last = (latex(term) for term in terms)
    return (rf"\begin{{aligned}} {latex(contracted)} &= {first} + {second} + \cdots + {last} \\ "
            rf"&= {latex(_rhs(step))} \quad \text{{(only the term }} {latex(index)} = {latex(pinned)} "
            rf"\text{{ is not zero)}} \end{{aligned}}")


def _pinned(body, index):
    """The index a Kronecker delta in ``body`` pins the summation index to (i in [i = k]), if one does."""
    for delta in body.atoms(sp.KroneckerDelta):
        if index in delta.args:
            return next(a for a in delta.args if a != index)
    return None


def _rhs(step):
    return getattr(step.statement, "rhs", step.statement)

"""The coupling of a normaliser, contracted: the softmax Jacobian in its row-sum form.

When a quantity S feeds a normaliser s (``s[n] = sum(exp(S[n, j]), j)``) and a quantity A that is
computed from S *and* from s (``A[n, m] = exp(S[n, m]) / s[n]``), the chain rule gives dS in two
parts, one through A and one through s:

    dS[n, m] = dA[n, m] exp(S[n, m]) / s[n] + ds[n] exp(S[n, m]),
    ds[n]    = -Σ_k dA[n, k] exp(S[n, k]) / s[n]².

s is used by nothing but A, so ds can be substituted; the definition of A, solved for S
(S = log(A s)), then writes every exp(S)/s as A, and the common factor comes out:

    dS[n, m] = A[n, m] (dA[n, m] - Σ_k A[n, k] dA[n, k]).

Nothing here knows softmax: the step applies to any intermediate quantity Q whose staged gradient
refers to the gradient of a quantity q computed from Q and used only by quantities that are
themselves computed from Q (the coupling), and it is kept only when the definitions written in
the forward quantities remove Q altogether and the result is no longer than the two stages it
replaces. For the inputs and parameters of a layer the engine's closed form does the same
(softmax's dx); this is the same algebra for a quantity in the middle of a layer (attention's dS).
"""
from __future__ import annotations

import sympy as sp

from ..derivation import Rule
from . import _calculus as C
from ._derivation import gradient_name


class CouplingMixin:
    """Adds :meth:`_couple` to the layer engine (see the module docstring)."""

    def _coupled_stages(self, name, expr) -> list:
        """The quantities q whose gradient ``expr`` refers to, with q computed from ``name`` and every
        user of q computed from ``name`` too."""
        computed_from = {d.name for d in self.consumers[name]}
        found = []
        for quantity in self._adjoints_in(expr):
            users = {d.name for d in self.consumers[quantity]}
            if quantity in computed_from and users and users <= computed_from and quantity not in self.layer.outputs:
                found.append(quantity)
        return found

    def _couple(self, name, expr):
        """``expr`` (the staged gradient of the quantity ``name``) with its coupled stages substituted and
        written in the forward quantities, with the steps that show it; or ``expr`` unchanged."""
        stages = self._coupled_stages(name, expr)
        if not stages:
            return expr
        bases = {gradient_name(q): q for q in stages}

        def value(ref):
            gradient = self.gradients[bases[ref.base.label.name]]
            return C.instantiate(gradient.staged, gradient.indices, tuple(ref.indices), C.all_symbols(expr))

        inlined = C.contract(expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base.label.name in bases, value))
        rewritten = self._rewrite(name, inlined, shortest=False, solve_for={name})
        if rewritten is None:
            return expr
        current, notes = rewritten
        if current.has(self.layer.arrays[name].base):
            return expr
        current = C.plain_bound(current)
        display = _display(current)
        budget = sp.count_ops(expr) + sum(sp.count_ops(self.gradients[q].staged) for q in stages)
        if sp.count_ops(current) > budget:
            return expr
        words = ", ".join(gradient_name(q) for q in stages)
        users = sorted({d.name for q in stages for d in self.consumers[q]})
        self.step(name, inlined, Rule.SUBSTITUTION,
                  f"the staged gradient {words} substituted: {', '.join(stages)} is computed from {name} and used "
                  f"only by {', '.join(users)}, which is computed from {name} too (the coupling of a normaliser)")
        self._rewrite_step(name, current, notes)
        self.step(name, display, Rule.COUPLING,
                  "the Jacobian of the normalisation contracted: each entry times (its own upstream gradient "
                  "minus the weighted sum of the row's), the row-sum form")
        return sp.factor_terms(current)


def _display(expr):
    """A · (dA - Σ A dA): the common factor taken out, kept as written."""
    together = sp.factor_terms(expr)
    if isinstance(together, sp.Mul):
        factors = [f for f in together.args if not isinstance(f, sp.Add)]
        brackets = [f for f in together.args if isinstance(f, sp.Add)]
        if len(brackets) == 1:
            terms = sorted(sp.Add.make_args(brackets[0]), key=lambda t: t.could_extract_minus_sign())
            return sp.Mul(sp.Mul(*factors), sp.Add(*terms, evaluate=False), evaluate=False)
    return together

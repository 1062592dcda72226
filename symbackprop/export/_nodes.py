"""The few functions the stable rewriting introduces that SymPy does not name, as SymPy nodes.

Each node is a real-valued elementary function with a known accurate evaluation; the code
printers (:mod:`._printing`) print it, and ``.rewrite(sp.log)`` gives its elementary definition
so that a rewritten expression can be compared with the original one.

SymPy's own nodes are used where they exist: ``log1p`` and ``expm1``
(:mod:`sympy.codegen.cfunctions`) and ``logaddexp`` (:mod:`sympy.codegen.numpy_nodes`).
"""
from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.numpy_nodes import logaddexp

__all__ = ["log1p", "expm1", "logaddexp", "log1mexp", "log_softplus", "kept_erfc", "elementary"]


class log1mexp(sp.Function):
    """log(1 - exp(-x)) for x >= 0.

    Accurate for every x > 0 (Maechler, "Accurately computing log(1 - exp(-|a|))", 2012):
    log(-expm1(-x)) where x <= log 2, log1p(-exp(-x)) where x > log 2.
    """

    nargs = 1

    def _eval_rewrite_as_log(self, x, **kwargs):
        return sp.log(1 - sp.exp(-x))

    def fdiff(self, argindex=1):
        return 1 / (sp.exp(self.args[0]) - 1)

    def _eval_is_real(self):
        return self.args[0].is_positive


class log_softplus(sp.Function):
    """log(log(1 + exp(x))), the logarithm of softplus.

    Where exp(x) is tiny, log(1 + exp(x)) rounds to 0 although its logarithm is about x:
    there it is x + log(1 - exp(x)/2 + ...), evaluated as x - exp(x)/2 (below x = -20 the
    next term is under 1e-17 relative).
    """

    nargs = 1

    def _eval_rewrite_as_log(self, x, **kwargs):
        return sp.log(sp.log(1 + sp.exp(x)))


class kept_erfc(sp.erfc):
    """erfc(x) with its argument kept as it is: SymPy's ``erfc(-x)`` evaluates to ``2 - erfc(x)``,
    which cancels to 0 in float64 where erfc(x) is near 2 (1 + erf(-6) is 2e-17, computed as 0).

    The same function as ``sp.erfc`` (its derivative, its mpmath value, its printing: each
    printer's ``_print_erfc`` prints it, by SymPy's lookup along the class hierarchy); only the
    reflection is not applied when it is built.
    """

    @classmethod
    def eval(cls, arg):
        if arg.is_Number:
            return sp.erfc(arg)
        return None


def elementary(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every node of this module (and SymPy's codegen nodes) written with log and exp."""
    replacements = {
        log1p: lambda x: sp.log(1 + x),
        expm1: lambda x: sp.exp(x) - 1,
        logaddexp: lambda x1, x2: sp.log(sp.exp(x1) + sp.exp(x2)),
        log1mexp: lambda x: sp.log(1 - sp.exp(-x)),
        log_softplus: lambda x: sp.log(sp.log(1 + sp.exp(x))),
        kept_erfc: lambda x: sp.erfc(x, evaluate=False),   # lambdify prints erfc; kept_erfc it does not know
    }
    for cls, function in replacements.items():
        expr = expr.replace(lambda e, cls=cls: isinstance(e, cls), lambda e, f=function: f(*e.args))
    return expr

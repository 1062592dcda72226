"""Plain-text printing of layer expressions (for notes, error messages and ``derive --format text``).

``x[n, d]`` for a reference, ``Σ_n (...)`` for a sum, ``δ(n, k)`` for a Kronecker delta, and the
layer language's own spelling (``sum(..., n)``, ``^``) with :func:`language`.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter


class _TextPrinter(StrPrinter):
    _sum = "Σ"

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Indexed):        # before SymPy's Indexed._sympystr, which prints 1 + t
            return self._print_Indexed(expr)
        return super()._print(expr, **kwargs)

    def _print_Indexed(self, expr):
        return f"{expr.base.label}[{', '.join(self._index(i) for i in expr.indices)}]"

    def _index(self, index):
        """A shifted index as a textbook writes it: ``t + 1``, ``t - 1`` (SymPy's unordered Add: ``1 + t``)."""
        if not isinstance(index, sp.Add) or not index.args[0].is_Number:
            return self._print(index)
        number, rest = index.as_coeff_Add()
        sign = "-" if number < 0 else "+"
        return f"{self._print(rest)} {sign} {self._print(abs(number))}"

    def _print_Sum(self, expr):
        body = self._print(expr.function)
        if not (expr.function.is_Atom or isinstance(expr.function, sp.Indexed)):
            body = f"({body})"
        indices = ",".join(self._print(limit[0]) for limit in expr.limits)
        return f"Σ_{indices} {body}"

    def _print_Derivative(self, expr):
        if len(expr.variables) == 2:          # a second derivative (the loss Hessian): ∂²L/∂z[k]∂z[m]
            first, second = (self._print(v) for v in expr.variables)
            return f"∂²{self._print(expr.expr)}/∂{first}∂{second}"
        return f"∂{self._print(expr.expr)}/∂{self._print(expr.variables[0])}"

    def _print_Transpose(self, expr):
        return f"{self._print(expr.arg)}ᵀ"

    def _print_MatMul(self, expr):
        coefficient, factors = expr.as_coeff_matrices()
        text = " ".join(self._print(factor) for factor in factors)
        return f"-{text}" if coefficient == -1 else (text if coefficient == 1 else f"{self._print(coefficient)} {text}")

    def _print_KroneckerDelta(self, expr):
        return f"δ({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Piecewise(self, expr):
        parts = [f"{self._print(e)} if {self._print(c)}" for e, c in expr.args[:-1]]
        last = expr.args[-1]
        parts.append(self._print(last.expr) if last.cond == sp.true else f"{self._print(last.expr)} if {self._print(last.cond)}")
        return "(" + " else ".join(parts) + ")"


class _LanguagePrinter(_TextPrinter):
    def _print_Sum(self, expr):
        indices = ", ".join(self._print(limit[0]) for limit in reversed(expr.limits))
        return f"sum({self._print(expr.function)}, {indices})"

    def _print_Pow(self, expr, rational=False):
        text = super()._print_Pow(expr, rational)
        return text.replace("**", "^")


def text(expr) -> str:
    """The expression in plain text: ``γ``-free ASCII names, Σ for sums."""
    if isinstance(expr, sp.Eq):
        return f"{text(expr.lhs)} = {text(expr.rhs)}"
    return _TextPrinter({"order": "none"}).doprint(expr)


def language(expr) -> str:
    """The expression in the layer language's own syntax (``sum(x[n, d], n) / N``)."""
    if isinstance(expr, sp.Eq):
        return f"{language(expr.lhs)} = {language(expr.rhs)}"
    return _LanguagePrinter({"order": "none"}).doprint(expr)

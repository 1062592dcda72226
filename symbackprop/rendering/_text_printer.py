"""The text printer: one-line unicode formulas for a terminal, in the letters of a notation.

This module owns how a derivation's expressions read as plain text (``δ^(l)_i = a^(l)_i (1 - a^(l)_i)
Σ_k Θ^(l)_ki δ^(l+1)_k``). It is SymPy's :class:`~sympy.printing.str.StrPrinter` with one
``_print_ClassName`` method per object of a derivation, mirroring :mod:`._latex_printer`; the
naming decisions are shared with it through :mod:`._naming` and :mod:`._shape`.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

from ..big_numbers import is_big, short_form
from .. import symbols as S
from ._naming import COLUMN, Name, Namer, notation_symbol, superscript
from ._shape import (indicator_condition, is_indicator, is_unevaluated, is_width, positive_first, reading_order,
                     reading_terms, split_matmul, split_piecewise, tanh_form)
from .notations import DEFAULT, notation as _notation

_HADAMARD = "\x00"   # stands for the elementwise operator until the end: DLS writes it '*'
_RELATIONS = {"==": "=", "<=": "≤", ">=": "≥", "!=": "≠", "<": "<", ">": ">"}


class NotationTextPrinter(StrPrinter):
    """Unicode text in the letters of one notation; settings as :class:`NotationLatexPrinter`."""

    printmethod = "_symbackprop_text"
    _default_settings = {**StrPrinter._default_settings, "notation": DEFAULT, "depth": None, "batch": False,
                         "order": "none"}

    def __init__(self, settings=None):
        super().__init__(settings)
        self.notation = _notation(self._settings["notation"])
        self.namer = Namer(self.notation, self._settings["depth"])
        self._elementwise = {}

    def _print_Rational(self, expr):
        return short_form(expr, False) if is_big(expr) else super()._print_Rational(expr)

    def _print_Integer(self, expr):
        return short_form(expr, False) if is_big(expr) else super()._print_Integer(expr)

    def doprint(self, expr) -> str:
        return super().doprint(tanh_form(expr)).replace(_HADAMARD, self.notation.hadamard.text)

    # --- decoration --------------------------------------------------------------------------
    def decorate(self, name: Name, transposed: bool = False) -> str:
        out = name.letter.text
        if name.accent == "tilde":
            out += "\u0303"
        example = self._print(name.example) if name.example is not None else None
        sup = superscript(self.notation, name.layer, example) + ("T" if transposed else "")
        if sup:
            out += "^" + (sup if _single_group(sup) else "{%s}" % sup)
        if name.indices:
            printed = [self._print(index) for index in name.indices]
            single = all(len(p) == 1 for p in printed) and COLUMN not in name.indices
            out += "_" + ("".join(printed) if single else "{%s}" % ",".join(printed))
        return out

    # --- symbols -----------------------------------------------------------------------------
    def _print_Dummy(self, expr):
        """The variable of an elementwise function, f(t) over a - y: printed as the array it runs over."""
        if expr in self._elementwise:
            return self._elementwise[expr]
        return super()._print_Dummy(expr)

    def _print_Symbol(self, expr):
        named = notation_symbol(self, expr, "text")
        if named is not None:
            return named
        greek = {"lambda": "λ", "alpha": "α"}
        return greek.get(expr.name, expr.name)

    def _print_Indexed(self, expr):
        if str(expr.base.label) == "C":
            return self.notation.example_cost.text % self._print(expr.indices[0])
        name = self.namer.indexed(expr)
        if is_width(expr) and self.notation.size_subscript:
            return "%s_%s" % (name.letter.text, name.layer if len(name.layer) == 1 else "{%s}" % name.layer)
        return self.decorate(name)

    def _print_LayerArray(self, expr):
        name = self.namer.array(expr)
        if expr.role.startswith("grad_"):
            return self._gradient(self.decorate(name))
        if name.batch and self.notation.examples == "rows":
            return self._transpose_of(name)
        return self.decorate(name)

    def _transpose_of(self, name: Name) -> str:
        if name.layer is None or self.notation.transpose_merged:
            return self.decorate(name, transposed=True)
        return "(%s)^T" % self.decorate(name)

    def _gradient(self, variable: str) -> str:
        cost = (self.notation.batch_cost if self._settings["batch"] else self.notation.cost).text
        style = self.notation.gradient_style
        if style == "d":
            return "d" + variable
        if style == "nabla":
            return "∇_{%s} %s" % (variable, cost)
        return "∂%s/∂%s" % (cost, variable)

    # --- arithmetic ----------------------------------------------------------------------------
    def _print_Mul(self, expr):
        if is_unevaluated(expr) and any(arg.is_Mul for arg in expr.args):
            return " · ".join(self._factor(arg) for arg in expr.args)
        if not is_unevaluated(expr) and expr.could_extract_minus_sign() and not expr.is_Rational:
            negated = -expr
            if negated.is_Mul and reading_order(negated) is not negated:
                return "-" + self._print_Mul(negated)
        return super()._print_Mul(reading_order(expr)).replace("*", " ")

    def _factor(self, arg) -> str:
        if isinstance(arg, sp.Add) or (arg.is_Number and arg.is_negative):
            return "(%s)" % self._print(arg)
        return self._print(arg)

    def _print_Add(self, expr, order=None):
        if isinstance(expr, sp.MatAdd):
            return self._join_terms(positive_first(expr).args)
        return self._join_terms(reading_terms(expr).args)

    def _join_terms(self, terms) -> str:
        out = ""
        for position, term in enumerate(terms):
            text = self._print(term)
            if position == 0:
                out = text
            elif text.startswith("-"):
                out += " - " + text[1:]
            else:
                out += " + " + text
        return out

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.base, expr.exp
        if base == sp.E:
            return "e^%s" % self._atom(exp)
        if exp == -1:
            return "1/%s" % self._atom(base)
        if exp == sp.S.Half:
            return "√(%s)" % self._print(base)
        exp_text = self._print(exp)
        if not (exp.is_Integer and exp >= 0) and not exp.is_Symbol:
            exp_text = "(%s)" % exp_text
        return "%s^%s" % (self._atom(base), exp_text)

    def _atom(self, expr) -> str:
        text = self._print(expr)
        if isinstance(expr, (sp.Symbol, sp.Integer)) and "^" not in text and "_" not in text:
            return text
        if isinstance(expr, sp.Function) and not isinstance(expr, sp.Piecewise):
            return text
        return "(%s)" % text

    def _print_exp(self, expr):
        return "e^%s" % self._atom(expr.args[0])

    def _print_log(self, expr):
        return "ln(%s)" % self._print(expr.args[0])

    def _print_Relational(self, expr):
        return "%s %s %s" % (self._print(expr.lhs), _RELATIONS[expr.rel_op], self._print(expr.rhs))

    def parenthesize(self, item, level, strict=False):
        if is_indicator(item):
            return self._print(item)
        return super().parenthesize(item, level, strict)

    # --- matrix expressions ------------------------------------------------------------------
    def _print_Transpose(self, expr):
        arg = expr.arg
        if isinstance(arg, S.LayerArray) and not arg.role.startswith("grad_"):
            name = self.namer.array(arg)
            if name.batch and self.notation.examples == "rows":
                return self.decorate(name)
            return self._transpose_of(name)
        return "(%s)^T" % self._print(arg)

    def _print_MatMul(self, expr):
        coeff, matrices = split_matmul(expr)
        body = " ".join("(%s)" % self._print(m) if isinstance(m, (sp.MatAdd, sp.HadamardProduct, sp.MatMul))
                        else self._print(m) for m in matrices)
        if coeff == 1:
            return body
        if coeff == -1:
            return "-" + body
        text = self._print(coeff)
        return "(%s) %s" % (text, body) if ("/" in text or "+" in text or " - " in text) else "%s %s" % (text, body)

    def _print_HadamardProduct(self, expr):
        parts = []
        for arg in expr.args:
            text = self._print(arg)
            if isinstance(arg, (sp.MatMul, sp.MatAdd, sp.HadamardProduct)):
                text = "(%s)" % text
            parts.append(text)
        return (" %s " % _HADAMARD).join(parts)

    def _print_HadamardPower(self, expr):
        exp = self._print(expr.exp)
        return "(%s)^∘%s" % (self._print(expr.base), exp if expr.exp.is_Integer and expr.exp > 0 else "(%s)" % exp)

    def _print_ElementwiseApplyFunction(self, expr):
        function = expr.function
        (variable,) = function.variables
        self._elementwise[variable] = self._print(expr.expr)
        try:
            return self._print(function.expr)
        finally:
            del self._elementwise[variable]

    def _print_MatrixSlice(self, expr):
        return "[%s]_(rows 1..)" % self._print(expr.parent)

    def _print_OneMatrix(self, expr):
        return "1"

    # --- calculus ----------------------------------------------------------------------------
    def _print_KroneckerDelta(self, expr):
        i, j = (self._print(arg) for arg in expr.args)
        if self.notation.kronecker is None:     # the Iverson bracket: the error's letter stays free
            return "[%s = %s]" % (i, j)
        return "%s_%s" % (self.notation.kronecker.text, i + j if len(i) == len(j) == 1 else "{%s,%s}" % (i, j))

    def _print_Derivative(self, expr):
        (variable,) = expr.variables if len(expr.variables) == 1 else (None,)
        if variable is None:
            return super()._print_Derivative(expr)
        if isinstance(variable, S.LayerArray) and expr.expr in (S.C, S.J):
            return self._gradient(self.decorate(self.namer.array(variable)))
        inner = self._print(expr.expr)
        if not isinstance(expr.expr, (sp.Symbol, sp.Indexed, S.LayerArray)):
            inner = "(%s)" % inner
        return "∂%s/∂%s" % (inner, self._print(variable))

    def _print_Sum(self, expr):
        parts = []
        for var, low, high in reversed(expr.limits):
            if var == S.l:
                low = self.namer.layer_expr(low) if low.is_Integer else low
                high = self.namer.layer_expr(high) if high.is_Integer else high
            if is_width(high) and low == 1:
                parts.append("Σ_%s" % self._print(var))
            else:
                parts.append("Σ_{%s=%s..%s}" % (self._print(var), self._print(low), self._print(high)))
        body = self._print(expr.function)
        if isinstance(expr.function, sp.Add):
            body = "(%s)" % body
        return " ".join(parts) + " " + body

    def _print_Piecewise(self, expr):
        indicator = indicator_condition(expr)
        if indicator is not None:
            return "1[%s]" % self._print(indicator)
        split = split_piecewise(expr)
        if split is not None:
            return self._print(sp.Mul(*split))
        rows = ["%s if %s" % (self._print(value), self._print(cond)) if cond != sp.true
                else "%s otherwise" % self._print(value) for value, cond in expr.args]
        return "{%s}" % "; ".join(rows)

    def _print_Heaviside(self, expr):
        return "1[%s > 0]" % self._print(expr.args[0])


def _single_group(sup: str) -> bool:
    """'l', '(l+1)' or '[L]' need no braces after '^'; 'l+1' or 'x,l' do."""
    if len(sup) == 1:
        return True
    if sup[0] in "([" and sup.count(sup[0]) == 1 and sup[-1] in ")]":
        return True
    return False


def text(expr, **settings) -> str:
    """Unicode text of ``expr`` in a notation: ``text(expr, notation='ng-ml', depth=3)``."""
    return NotationTextPrinter(settings).doprint(expr)

"""The LaTeX printer: SymPy's :class:`~sympy.printing.latex.LatexPrinter`, taught the symbols of a derivation.

This module owns how the canonical objects (layer-indexed units, LayerArray matrices, the
Hadamard product, Kronecker deltas, derivatives of the cost, indicator functions) are written
in LaTeX, in the letters of a :class:`~.notations.Notation`. Each is one ``_print_ClassName``
method; the expressions themselves know nothing about LaTeX.

>>> from symbackprop import symbols as S
>>> latex(S.unit("delta", S.l, S.i), notation="ng-ml")
'\\\\delta^{(l)}_{i}'
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter

from ..big_numbers import is_big, short_form
from .. import symbols as S
from ._naming import COLUMN, Name, Namer, notation_symbol, superscript
from ._shape import (indicator_condition, is_indicator, is_scaled_atom, is_unevaluated, is_width, positive_first,
                     reading_order, reading_terms, split_matmul, split_piecewise, tanh_form)
from .notations import DEFAULT, notation as _notation

_ACCENTS = {"": "%s", "tilde": r"\tilde{%s}"}


class NotationLatexPrinter(LatexPrinter):
    """LaTeX in the letters of one notation.

    Settings (besides LatexPrinter's): ``notation`` (a name or a Notation), ``depth`` (the
    number of layers of the network, so a concrete output layer is recognised) and ``batch``
    (a gradient array is of the batch cost J rather than of one example's C). SymPy refuses an
    unknown setting with a TypeError.
    """

    printmethod = "_symbackprop_latex"
    # order 'none': products are put in reading order by _print_Mul, sums by _print_Add
    _default_settings = {**LatexPrinter._default_settings, "notation": DEFAULT, "depth": None, "batch": False,
                         "order": "none", "ln_notation": True, "long_frac_ratio": 2}

    def __init__(self, settings=None):
        super().__init__(settings)
        self.notation = _notation(self._settings["notation"])
        self.namer = Namer(self.notation, self._settings["depth"])
        self._elementwise = {}   # Lambda variable -> the printed array it runs over
        self._stand_ins = {}     # Dummy -> the LaTeX of the factor it stands in for (see _print_Mul)

    def _print_Rational(self, expr):       # an Integer too: LatexPrinter prints integers through this
        return short_form(expr, True) if is_big(expr) else super()._print_Rational(expr)

    def doprint(self, expr) -> str:
        return super().doprint(tanh_form(expr))

    # --- decoration --------------------------------------------------------------------------
    def decorate(self, name: Name, transposed: bool = False) -> str:
        """``letter^{(layer)(example)T}_{indices}`` in the notation's style."""
        out = _ACCENTS[name.accent] % name.letter.latex
        example = self._print(name.example) if name.example is not None else None
        sup = superscript(self.notation, name.layer, example) + ("T" if transposed else "")
        if sup:
            out += "^{%s}" % sup
        if name.indices:
            printed = [self._print(index) for index in name.indices]
            joiner = "" if all(len(p) == 1 for p in printed) and COLUMN not in name.indices else ","
            out += "_{%s}" % joiner.join(printed)
        return out

    # --- symbols -----------------------------------------------------------------------------
    def _print_Dummy(self, expr):
        if expr in self._stand_ins:
            return self._stand_ins[expr]
        return self._print_Symbol(expr)

    def _print_Symbol(self, expr, style="plain"):
        named = notation_symbol(self, expr, "latex")
        if named is not None:
            return named
        return super()._print_Symbol(expr, style)

    def _print_Indexed(self, expr):
        if str(expr.base.label) == "C":      # the cost of example x of a batch
            return self.notation.example_cost.latex % self._print(expr.indices[0])
        name = self.namer.indexed(expr)
        if is_width(expr) and self.notation.size_subscript:
            return "%s_{%s}" % (name.letter.latex, name.layer)
        return self.decorate(name)

    def _print_LayerArray(self, expr):
        name = self.namer.array(expr)
        if expr.role.startswith("grad_"):
            return self._gradient(self.decorate(name))
        if name.batch and self.notation.examples == "rows":
            # the notation's matrix has one ROW per example: the canonical one is its transpose
            return self._transpose_of(name)
        return self.decorate(name)

    def _transpose_of(self, name: Name) -> str:
        if name.layer is None or self.notation.transpose_merged:
            return self.decorate(name, transposed=True)
        return r"\left(%s\right)^{T}" % self.decorate(name)

    def _gradient(self, variable: str) -> str:
        """The gradient of the cost (C, or J in a batch statement) with respect to an array."""
        cost = (self.notation.batch_cost if self._settings["batch"] else self.notation.cost).latex
        style = self.notation.gradient_style
        if style == "d":
            return "d" + variable
        if style == "nabla":
            return r"\nabla_{%s} %s" % (variable, cost)
        return r"\frac{\partial %s}{\partial %s}" % (cost, variable)

    # --- ordering: keep the engine's order where it chose one, else a reader's order ------------
    def _print_Mul(self, expr):
        if not isinstance(expr, sp.Mul):     # LatexPrinter sends 1/x here too
            return super()._print_Mul(expr)
        if is_unevaluated(expr) and any(arg.is_Mul for arg in expr.args):
            # a product the engine kept apart on purpose, e.g. (dC/da) . (da/dz): show the dot
            return r" \cdot ".join(self._factor(arg) for arg in expr.args)
        if not is_unevaluated(expr) and expr.could_extract_minus_sign() and not expr.is_Rational:
            negated = -expr
            if negated.is_Mul and reading_order(negated) is not negated:
                return "- " + self._print_Mul(negated)
        expr = self._without_costly_powers(expr)
        return super()._print_Mul(reading_order(expr))

    def _without_costly_powers(self, expr):
        """The product with each power whose exponent is negative but not a number (exp(-1/(1 + e^{-z})))
        printed ahead and stood in for by a Dummy: SymPy's fraction() asks such an exponent
        is_constant(), which simplifies it without bound. The factor stays in the numerator, where
        fraction() would put it."""
        costly = [f for f in expr.args if (f.is_Pow or isinstance(f, sp.exp)) and f.as_base_exp()[1].free_symbols
                  and f.as_base_exp()[1].could_extract_minus_sign()]
        if not costly:
            return expr
        stand_ins = {factor: sp.Dummy("stand_in") for factor in costly}
        self._stand_ins.update({dummy: self._print(factor) for factor, dummy in stand_ins.items()})
        # the factors are replaced where they stand, not deeper: xreplace would rebuild every node holding
        # one, and rebuilding a Heaviside or Abs of a nested max asks SymPy's assumptions for seconds
        return sp.Mul(*[stand_ins.get(factor, factor) for factor in expr.args])

    def _factor(self, arg) -> str:
        if isinstance(arg, sp.Add) or (arg.is_Number and arg.is_negative):
            return r"\left(%s\right)" % self._print(arg)
        return self._print(arg)

    def _print_Add(self, expr, order=None):
        if isinstance(expr, sp.MatAdd):
            return super()._print_Add(positive_first(expr), order="none")
        return super()._print_Add(reading_terms(expr), order="none")

    def _print_Pow(self, expr):
        if expr.base == sp.E:
            return self._print(sp.exp(expr.exp))
        if isinstance(expr.base, (sp.Indexed, S.LayerArray)) and expr.exp.is_Integer and expr.exp > 0:
            return r"\left(%s\right)^{%s}" % (self._print(expr.base), self._print(expr.exp))
        return super()._print_Pow(expr)

    def parenthesize(self, item, level, is_neg=False, strict=False):
        if is_indicator(item):
            return self._print(item)
        return super().parenthesize(item, level, is_neg, strict)

    def _needs_mul_brackets(self, expr, first=False, last=False):
        return False if is_indicator(expr) else super()._needs_mul_brackets(expr, first, last)

    # --- matrix expressions ------------------------------------------------------------------
    def _print_Transpose(self, expr):
        arg = expr.arg
        if isinstance(arg, S.LayerArray) and not arg.role.startswith("grad_"):
            name = self.namer.array(arg)
            if name.batch and self.notation.examples == "rows":
                return self.decorate(name)      # (X^T)^T: the notation's own matrix
            return self._transpose_of(name)
        return r"\left(%s\right)^{T}" % self._print(arg)

    def _print_MatMul(self, expr):
        coeff, matrices = split_matmul(expr)
        body = " ".join(self._matmul_factor(m) for m in matrices)
        if coeff == 1:
            return body
        if coeff == -1:
            return "- " + body
        if coeff.could_extract_minus_sign():
            return "- %s %s" % (self._scalar(-coeff), body)
        return "%s %s" % (self._scalar(coeff), body)

    def _scalar(self, coeff) -> str:
        text = self._print(coeff)
        return r"\left(%s\right)" % text if isinstance(coeff, sp.Add) else text

    def _matmul_factor(self, arg) -> str:
        if isinstance(arg, (sp.MatAdd, sp.HadamardProduct, sp.MatMul)):
            return r"\left(%s\right)" % self._print(arg)
        return self._print(arg)

    def _print_HadamardProduct(self, expr):
        op = " %s " % self.notation.hadamard.latex
        return op.join(self._hadamard_factor(arg) for arg in expr.args)

    def _hadamard_factor(self, arg) -> str:
        if isinstance(arg, (sp.MatMul, sp.MatAdd, sp.HadamardProduct)) and not is_scaled_atom(arg):
            return r"\left(%s\right)" % self._print(arg)
        return self._print(arg)

    def _print_HadamardPower(self, expr):
        return r"\left(%s\right)^{\circ %s}" % (self._print(expr.base), self._print(expr.exp))

    def _print_ElementwiseApplyFunction(self, expr):
        """g(z^l) applied elementwise: the function's body with its variable written as the array."""
        function = expr.function
        if not isinstance(function, sp.Lambda) or len(function.variables) != 1:
            return super()._print_ElementwiseApplyFunction(expr)
        (variable,) = function.variables
        self._elementwise[variable] = self._print(expr.expr)
        try:
            return self._print(function.expr)
        finally:
            del self._elementwise[variable]

    def _print_MatrixSlice(self, expr):
        """Only the engine's 'drop row 0' (Ng's bias row) is a slice: rows 1.. of the parent."""
        rows, cols = expr.rowslice, expr.colslice
        if rows[0] == 1 and cols[0] == 0 and cols[1] == expr.parent.shape[1]:
            return r"\left[%s\right]_{\text{rows } 1 \ldots}" % self._print(expr.parent)
        return super()._print_MatrixSlice(expr)

    def _print_OneMatrix(self, expr):
        return r"\mathbf{1}"

    # --- calculus ----------------------------------------------------------------------------
    def _print_KroneckerDelta(self, expr, exp=None):
        i, j = (self._print(arg) for arg in expr.args)
        if self.notation.kronecker is None:     # the Iverson bracket: the error's letter stays free
            tex = r"[%s = %s]" % (i, j)
            return r"%s^{%s}" % (tex, exp) if exp is not None else tex
        joiner = "" if len(i) == len(j) == 1 else ","
        tex = r"%s_{%s%s%s}" % (self.notation.kronecker.latex, i, joiner, j)
        return r"\left(%s\right)^{%s}" % (tex, exp) if exp is not None else tex

    def _print_Derivative(self, expr):
        if len(expr.variables) != 1:
            return super()._print_Derivative(expr)
        (variable,) = expr.variables
        if isinstance(variable, S.LayerArray) and expr.expr in (S.C, S.J):
            return self._gradient(self.decorate(self.namer.array(variable)))
        var = self._print(variable)
        if isinstance(expr.expr, (sp.Symbol, sp.Indexed, S.LayerArray)):
            return r"\frac{\partial %s}{\partial %s}" % (self._print(expr.expr), var)
        return r"\frac{\partial}{\partial %s} \left(%s\right)" % (var, self._print(expr.expr))

    def _print_Sum(self, expr):
        parts = []
        for var, low, high in reversed(expr.limits):  # the outermost sum is written first
            if var == S.l:                              # a sum over layers: number them as the notation does
                low = self.namer.layer_expr(low) if low.is_Integer else low
                high = self.namer.layer_expr(high) if high.is_Integer else high
            if is_width(high) and not self.notation.has_layer_index:
                parts.append(r"\sum_{%s}" % self._print(var))
            else:
                parts.append(r"\sum_{%s=%s}^{%s}" % (self._print(var), self._print(low), self._print(high)))
        body = expr.function
        text = self._print(body)
        if isinstance(body, sp.Add):
            text = r"\left(%s\right)" % text
        return " ".join(parts) + " " + text

    # --- kinks: indicators and cases, never SymPy's Piecewise layout ------------------------------
    def _print_Piecewise(self, expr):
        indicator = indicator_condition(expr)
        if indicator is not None:
            return r"\mathbf{1}\left[%s\right]" % self._print(indicator)
        split = split_piecewise(expr)
        if split is not None:   # common * (the cases that differ): the kink stays small
            return self._print(sp.Mul(*split))
        rows = []
        for value, cond in expr.args:
            when = r"\text{otherwise}" if cond == sp.true else r"\text{if } %s" % self._print(cond)
            rows.append(r"%s & %s" % (self._print(value), when))
        return r"\begin{cases} %s \end{cases}" % r" \\ ".join(rows)

    def _print_Heaviside(self, expr, exp=None):
        tex = r"\mathbf{1}\left[%s > 0\right]" % self._print(expr.args[0])
        return r"\left(%s\right)^{%s}" % (tex, exp) if exp is not None else tex


def latex(expr, **settings) -> str:
    """LaTeX of ``expr`` in a notation: ``latex(expr, notation='ng-ml', depth=3)``."""
    return NotationLatexPrinter(settings).doprint(expr)

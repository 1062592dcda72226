"""How a layer's index expressions read: unicode text for a terminal and LaTeX, in the layer's own letters.

The layer's names become the letters a course writes (``xhat`` -> x̂, ``var`` -> σ², ``gamma`` -> γ,
``dxhat`` -> dx̂ with the hat over the x only); a Kronecker delta is the Iverson bracket ``[d = d']``
as on the network pages (δ stays the error's letter); a difference reads ``x - μ`` (the subtracted
terms after the others, as :func:`._shape.positive_first` orders a network's sums); powers are
``^`` and ``√``; the upstream gradient is ``∂C/∂y``. Long statements break after whole terms
(:func:`terms`), so a 100-column terminal and a LaTeX page hold them.
"""
from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

from ..layers._printing import _TextPrinter

_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η",
          "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
          "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω"}
_SPECIAL_LATEX = {"eps": r"\varepsilon", "var": r"\sigma^{2}", "std": r"\sigma"}
_SPECIAL_TEXT = {"eps": "ε", "var": "σ²", "std": "σ"}
_HAT = "\u0302"
_NUMBERED = re.compile(r"([A-Za-z_]*[A-Za-z])(\d+)")     # a model's quantity: z1, gamma2, xhat2 (the layer's number)


def _is_gradient_name(name: str) -> bool:
    return name.startswith("d") and len(name) > 1 and not name[1:2].isdigit()


def latex_name(name: str) -> str:
    """gamma -> \\gamma, xhat -> \\hat{x}, var -> \\sigma^{2}, dxhat -> d\\hat{x}, W -> W, other words upright;
    a model's numbered quantity carries its layer as the network pages write it: z1 -> z^{[1]}, var2 -> \\sigma^{2[2]}."""
    numbered = _NUMBERED.fullmatch(name)
    if numbered:
        base, layer = numbered.groups()
        if _is_gradient_name(base):                         # dvar2 = d(σ^[2])²: the d outside the layer's letter
            return "d" + latex_name(name[1:])
        inner = latex_name(base)
        if inner.endswith("^{2}"):                          # σ² of layer 2 as (σ^{[2]})², not σ^{2[2]}
            return r"\left(" + inner[:-4] + "^{[" + layer + r"]}\right)^{2}"
        return inner + "^{[" + layer + "]}"
    if name in _SPECIAL_LATEX:
        return _SPECIAL_LATEX[name]
    if name in _GREEK:
        return "\\" + name
    if _is_gradient_name(name) and name[1:] not in ("elta",):       # 'd' + a name: the hat stays on the letter
        inner = latex_name(name[1:])
        return "d" + (inner if inner.startswith("\\") or len(name) == 2 else "{" + inner + "}")
    if name.endswith("hat") and len(name) > 3:
        return r"\hat{" + latex_name(name[:-3]) + "}"
    if len(name) == 1:
        return name
    if "_" in name:
        head, _, tail = name.partition("_")
        return latex_name(head) + "_{" + latex_name(tail) + "}"
    return r"\mathrm{" + name + "}"


def text_name(name: str) -> str:
    """The same letters in unicode: gamma -> γ, xhat -> x̂, var -> σ², dxhat -> dx̂, eps -> ε; a model's numbered
    quantity keeps its number after the letter (gamma2 -> γ2, var2 -> var2: σ²2 would read as a power)."""
    numbered = _NUMBERED.fullmatch(name)
    if numbered:
        base, layer = numbered.groups()
        inner = text_name(base)
        return (name if "²" in inner else inner + layer)
    if name in _SPECIAL_TEXT:
        return _SPECIAL_TEXT[name]
    if name in _GREEK:
        return _GREEK[name]
    if _is_gradient_name(name):
        return "d" + text_name(name[1:])
    if name.endswith("hat") and len(name) > 3:
        inner = text_name(name[:-3])
        return inner + _HAT if len(inner) == 1 else inner + "hat"
    return name


def _reading_terms(expr: sp.Add) -> list:
    """The terms of a sum, the subtracted ones after the others (``x - μ``, not ``-μ + x``)."""
    terms = list(expr.as_ordered_terms())
    if all(term.could_extract_minus_sign() for term in terms):
        return terms
    return sorted(terms, key=lambda term: term.could_extract_minus_sign())


def terms(expr) -> list:
    """The top-level terms of ``expr`` in reading order (one term when it is not a sum)."""
    return _reading_terms(expr) if isinstance(expr, sp.Add) else [expr]


class LayerTextPrinter(_TextPrinter):
    """Unicode text: ``x̂[n, d]``, ``Σ_n``, ``√(ε + σ²[d])``, ``(ε + σ²[d])^(3/2)``, ``[d = d']``."""

    def _print_Indexed(self, expr):
        return f"{text_name(str(expr.base.label))}[{', '.join(self._index(i) for i in expr.indices)}]"

    def _print_Symbol(self, expr):
        return text_name(expr.name)

    def _print_Add(self, expr, order=None):
        out = ""
        for position, term in enumerate(_reading_terms(expr)):
            printed = self._print(term)
            if position == 0:
                out = printed
            elif printed.startswith("-"):
                out += " - " + printed[1:]
            else:
                out += " + " + printed
        return out

    def _print_Mul(self, expr):
        return super()._print_Mul(expr).replace("*", " ")

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.base, expr.exp
        if exp == sp.S.Half:
            return f"√({self._print(base)})"
        if exp == -sp.S.Half:
            return f"1/√({self._print(base)})"
        if exp == -1:
            return f"1/{self.parenthesize(base, 1000)}"
        base_text = self._print(base)
        if not (base.is_Atom or isinstance(base, (sp.Indexed, sp.Function))):
            base_text = f"({base_text})"
        exp_text = self._print(exp)
        if not (exp.is_Integer and exp >= 0) and not exp.is_Symbol:
            exp_text = f"({exp_text})"
        return f"{base_text}^{exp_text}"

    def _print_Exp1(self, expr):
        return "e"

    def _print_exp(self, expr):
        return f"exp({self._print(expr.args[0])})"

    def _print_KroneckerDelta(self, expr):
        return f"[{self._print(expr.args[0])} = {self._print(expr.args[1])}]"

    def _print_Derivative(self, expr):
        if len(expr.variables) == 2:
            first, second = (self._print(v) for v in expr.variables)
            return f"∂²{self._print(expr.expr)}/∂{first}∂{second}"
        return f"∂{self._print(expr.expr)}/∂{self._print(expr.variables[0])}"


class LayerLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the layer's letters, full-range sums ``\\sum_{k}``, ``[d = d']`` and ``∂C/∂y``."""

    def _print_Indexed(self, expr):
        name = latex_name(expr.base.label.name)
        indices = ",".join(self._print(i) for i in expr.indices)
        if "^" in name or "_" in name:        # W_{O}, σ²: braced, or its indices are a double subscript
            name = "{" + name + "}"
        return f"{name}_{{{indices}}}"

    def _print_Symbol(self, expr, style="plain"):
        if expr.name in _SPECIAL_LATEX or expr.name in _GREEK or _NUMBERED.fullmatch(expr.name):
            return latex_name(expr.name)
        return super()._print_Symbol(expr, style)

    def _print_Add(self, expr, order=None):
        return super()._print_Add(sp.Add(*_reading_terms(expr), evaluate=False), order="none")

    def _print_Sum(self, expr):
        indices = ",".join(self._print(limit[0]) for limit in expr.limits)
        body = self._print(expr.function)
        if isinstance(expr.function, sp.Add):
            body = r"\left(" + body + r"\right)"
        return rf"\sum_{{{indices}}} {body}"

    def _print_KroneckerDelta(self, expr, exp=None):
        bracket = r"\left[%s = %s\right]" % (self._print(expr.args[0]), self._print(expr.args[1]))
        return bracket if exp is None else r"%s^{%s}" % (bracket, exp)

    def _print_Derivative(self, expr):
        wrt = [self._print(v) for v in expr.variables]
        of = self._print(expr.expr)
        if len(wrt) == 2:
            return r"\frac{\partial^{2} %s}{\partial %s \, \partial %s}" % (of, wrt[0], wrt[1])
        return r"\frac{\partial %s}{\partial %s}" % (of, wrt[0])


def text(expr) -> str:
    """Unicode text of a layer expression or equation."""
    if isinstance(expr, sp.Eq):
        return f"{text(expr.lhs)} = {text(expr.rhs)}"
    return LayerTextPrinter({"order": "none"}).doprint(expr)


def latex(expr) -> str:
    """LaTeX of a layer expression or equation."""
    printer = LayerLatexPrinter({"mul_symbol": None})
    if isinstance(expr, sp.Eq):
        return f"{printer.doprint(expr.lhs)} = {printer.doprint(expr.rhs)}"
    return printer.doprint(expr)


def signed_terms(expr, printer) -> list:
    """``[("", t1), ("-", t2), ("+", t3)]``: each top-level term printed, with the sign that joins it."""
    out = []
    for position, term in enumerate(terms(expr)):
        negative = position > 0 and term.could_extract_minus_sign()
        printed = printer(-term if negative else term)
        out.append(("" if position == 0 else ("-" if negative else "+"), printed))
    return out


def wrapped_text(statement, indent: str, width: int = 100) -> list:
    """A statement's text over lines of at most ``width`` columns, broken before a ``+`` or ``-`` between
    whole terms -- of the right-hand side, or of the bracketed sum a product ends with (``(γ/N) (N dy - ...)``);
    a term longer than a line keeps its line."""
    whole = text(statement)
    if len(indent) + len(whole) <= width or not isinstance(statement, sp.Eq):
        return [indent + whole]
    rhs, head, close = statement.rhs, f"{indent}{text(statement.lhs)} = ", ""
    if not isinstance(rhs, sp.Add) and isinstance(rhs, sp.Mul):
        printed = text(rhs)
        inner = next((arg for arg in rhs.args if isinstance(arg, sp.Add) and printed.endswith(f"({text(arg)})")),
                     None)
        if inner is not None:
            head += printed[:-len(text(inner)) - 1]
            rhs, close = inner, ")"
    pad = " " * (len(head) - 2)
    lines, current = [], head
    for sign, printed in signed_terms(rhs, text):
        piece = printed if not sign else f" {sign} {printed}"
        if sign and len(current) + len(piece) > width and current.strip():
            lines.append(current)
            current = f"{pad}{sign} {printed}"
        else:
            current += piece
    lines.append(current + close)
    return lines

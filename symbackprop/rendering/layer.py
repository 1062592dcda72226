"""Rendering a :class:`~symbackprop.layers.LayerDerivation`: text, JSON, LaTeX, .tex and HTML.

The same formats as a network's derivation, over the same kind of steps (a statement, the rule
that justifies it, a note). Index expressions print as ``x[n, d]`` and ``Σ_k`` in text, as
``x_{n,d}`` and ``\\sum_{k}`` in LaTeX (a sum always runs over the whole range of its index);
the document preamble, the page CSS and the MathML conversion are the network renderers' own.
"""
from __future__ import annotations

import html
import json

import sympy as sp
from sympy.printing.latex import LatexPrinter

from ..errors import UnknownNameError
from ..layers._printing import language, text
from ._mathml import mathml
from ._notes import latex_text

FORMATS = ("text", "json", "latex", "tex", "html")
SCHEMA = "symbackprop.layer-derivation/1"

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
          "xi", "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega"}
_SPECIAL = {"eps": r"\varepsilon", "var": r"\sigma^{2}", "std": r"\sigma"}


def latex_name(name: str) -> str:
    """How an array or constant name is written: gamma -> \\gamma, xhat -> \\hat{x}, var -> \\sigma^{2},
    dxhat -> d\\hat{x}, W -> W, other words upright."""
    if name in _SPECIAL:
        return _SPECIAL[name]
    if name in _GREEK:
        return "\\" + name
    if name.endswith("hat") and len(name) > 3:
        return r"\hat{" + latex_name(name[:-3]) + "}"
    if name.startswith("d") and len(name) > 1 and not name[1:2].isdigit():
        inner = latex_name(name[1:])
        return r"d" + (inner if inner.startswith("\\") or len(name) == 2 else "{" + inner + "}")
    if len(name) == 1:
        return name
    if "_" in name:
        head, _, tail = name.partition("_")
        return latex_name(head) + "_{" + latex_name(tail) + "}"
    return r"\mathrm{" + name + "}"


class IndexLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the layer names and full-range sums ``\\sum_{k}``."""

    def _print_Indexed(self, expr):
        name = latex_name(expr.base.label.name)
        indices = ",".join(self._print(i) for i in expr.indices)
        if "^" in name and not name.endswith("}"):
            name = "{" + name + "}"
        if "^" in name or "_" in name:        # W_{O}, A_{prev}: braced, or its indices are a double subscript
            name = "{" + name + "}"
        return f"{name}_{{{indices}}}"

    def _print_Symbol(self, expr, style="plain"):
        if expr.name in _SPECIAL or expr.name in _GREEK:
            return latex_name(expr.name)
        return super()._print_Symbol(expr, style)

    def _print_Sum(self, expr):
        indices = ",".join(self._print(limit[0]) for limit in expr.limits)
        body = self._print(expr.function)
        if isinstance(expr.function, sp.Add):
            body = r"\left(" + body + r"\right)"
        return rf"\sum_{{{indices}}} {body}"


def latex(expr) -> str:
    printer = IndexLatexPrinter({"mul_symbol": None})
    if isinstance(expr, sp.Eq):
        return f"{printer.doprint(expr.lhs)} = {printer.doprint(expr.rhs)}"
    return printer.doprint(expr)


def render_layer(derivation, format: str = "text") -> str:
    """The derivation of a layer in ``format`` ('text', 'json', 'latex', 'tex' or 'html')."""
    if format not in FORMATS:
        raise UnknownNameError("format", str(format), FORMATS)
    return {"text": _text, "json": _json, "latex": _latex, "tex": _document, "html": _html}[format](derivation)


def _sections(derivation):
    """(title, steps) per gradient, in the order the backward pass computes them; titled sections of steps about
    something else (the second order's R-forward pass before, its loss Hessian after)."""
    titles = dict(derivation.titles)
    first = next((i for i, s in enumerate(derivation.steps) if s.quantity in derivation.gradients), 0)
    before = [name for name in titles if any(s.quantity == name for s in derivation.steps[:first])]
    for name in before:
        yield titles[name], derivation.steps_for(name)
    for name, gradient in derivation.gradients.items():
        steps = derivation.steps_for(name)
        yield f"{gradient.name} = ∂C/∂{name} ({gradient.kind})", steps
    for name in titles:
        if name not in before:
            yield titles[name], derivation.steps_for(name)


def _title(derivation) -> str:
    layer = derivation.layer
    if layer.boundaries and layer.description:       # a model (symbackprop.models), composed into one layer
        return f"Backward pass of the model {layer.description}, derived step by step"
    return f"Backward pass of the layer {layer.name}, derived step by step"


def _text(derivation) -> str:
    layer = derivation.layer
    lines = [_title(derivation), "", "The model, composed into one layer:" if derivation.layer.boundaries
             else "The layer:"]
    lines += ["  " + line for line in _layer_lines(layer)]
    lines.append("")
    number = 0
    for title, steps in _sections(derivation):
        lines.append(title)
        for step in steps:
            number += 1
            lines.append(f"  ({number}) {text(step.statement)}")
            lines.append(f"       [{step.rule.value}] {step.note}")
        lines.append("")
    lines.append("Result:")
    for gradient in derivation.results:
        lines.append(f"  {text(sp.Eq(gradient.lhs, gradient.display, evaluate=False))}")
    return "\n".join(lines) + "\n"


def _layer_lines(layer) -> list:
    def slot(array):
        return f"{array.name}[{', '.join(map(str, array.sizes))}]"
    lines = []
    if layer.inputs:
        lines.append("input  " + ", ".join(map(slot, layer.inputs)))
    if layer.params:
        lines.append("param  " + ", ".join(map(slot, layer.params)))
    for symbol, value in layer.constants.items():
        lines.append(f"const  {symbol} = {float(value)!r}")
    lines += [language(sp.Eq(d.lhs, d.rhs, evaluate=False)) for d in layer.definitions]
    lines.append("output " + ", ".join(layer.outputs))
    return lines


def _json(derivation) -> str:
    layer = derivation.layer

    def array(a):
        return {"name": a.name, "sizes": [str(s) for s in a.sizes]}

    data = {
        "schema": SCHEMA,
        "layer": {"name": layer.name, "inputs": [array(a) for a in layer.inputs],
                  "params": [array(a) for a in layer.params],
                  "constants": {str(s): float(v) for s, v in layer.constants.items()},
                  "equations": [language(sp.Eq(d.lhs, d.rhs, evaluate=False)) for d in layer.definitions],
                  "outputs": list(layer.outputs)},
        "gradients": {name: {"name": g.name, "of": g.of, "kind": g.kind, "indices": [str(i) for i in g.indices],
                             "staged": language(g.staged), "final": language(g.final),
                             "closed_form": g.closed is not None, "latex": latex(sp.Eq(g.lhs, g.display, evaluate=False))}
                      for name, g in derivation.gradients.items()},
        "results": [g.name for g in derivation.results],
        "steps": [{"quantity": s.quantity, "rule": s.rule.value, "text": text(s.statement),
                   "latex": latex(s.statement), "note": s.note} for s in derivation.steps],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _latex(derivation) -> str:
    """An align* body: every step, with its rule and note as \\text."""
    rows = []
    for _, steps in _sections(derivation):
        for step in steps:
            statement = latex(step.statement).replace(" = ", " &= ", 1)
            rows.append(rf"{statement} && \text{{({latex_text(step.rule.value)})}}")
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"


def _document(derivation) -> str:
    from .document import PREAMBLE
    body = [PREAMBLE, rf"\title{{{latex_text(_title(derivation))}}}", r"\author{symbackprop}", r"\date{}",
            r"\begin{document}", r"\maketitle", r"\noindent\textbf{The layer.}", r"\begin{align*}"]
    body.append(" \\\\\n".join(latex(sp.Eq(d.lhs, d.rhs, evaluate=False)).replace(" = ", " &= ", 1)
                               for d in derivation.layer.definitions))
    body.append(r"\end{align*}")
    for position, (title, steps) in enumerate(_sections(derivation), start=1):
        body.append(rf"\section*{{{position}.\ {latex_text(title)}}}")
        body.append(r"\begin{itemize}")
        for step in steps:
            body.append(rf"\item \textbf{{{latex_text(step.rule.value)}}}: {latex_text(step.note)}"
                        rf"\[ {latex(step.statement)} \]")
        body.append(r"\end{itemize}")
    body.append(r"\section*{Result}")
    body.append(r"\begin{align*}")
    body.append(" \\\\\n".join(latex(sp.Eq(g.lhs, g.display, evaluate=False)).replace(" = ", " &= ", 1)
                               for g in derivation.results))
    body.append(r"\end{align*}")
    body.append(r"\end{document}")
    return "\n".join(body) + "\n"


def _html(derivation) -> str:
    from .html import CSS
    parts = ['<div class="sbp">', f"<h1>{html.escape(_title(derivation))}</h1>",
             '<p class="meta"><strong>The layer:</strong></p>',
             "<pre>" + html.escape("\n".join(_layer_lines(derivation.layer))) + "</pre>"]
    number = 0
    for position, (title, steps) in enumerate(_sections(derivation), start=1):
        parts.append(f'<section><h2>{position}. {html.escape(title)}</h2><ol class="steps">')
        for step in steps:
            number += 1
            rule_class = step.rule.name.lower()
            parts.append(f'<li class="step" id="step-{number}"><span class="num">({number})</span>'
                         f'<div class="math">{mathml(latex(step.statement), display=True)}</div>'
                         f'<div class="why"><span class="rule {rule_class}">{html.escape(step.rule.value)}</span>'
                         f'{html.escape(step.note)}</div></li>')
        parts.append("</ol></section>")
    rows = "".join(f'<tr><td class="label">{html.escape(g.name)}</td>'
                   f'<td class="math">{mathml(latex(sp.Eq(g.lhs, g.display, evaluate=False)), display=True)}</td></tr>'
                   for g in derivation.results)
    parts.append(f'<section><h2>Result</h2><table class="results">{rows}</table></section></div>')
    title = html.escape(_title(derivation))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n")

"""Rendering a :class:`~symbackprop.layers.LayerDerivation`: text, JSON, LaTeX, .tex and HTML.

The same formats as a network's derivation, over the same kind of steps (a statement, the rule
that justifies it, a note). Index expressions print as ``x[n, d]`` and ``Σ_k`` in text, as
``x_{n,d}`` and ``\\sum_{k}`` in LaTeX (a sum always runs over the whole range of its index);
the document preamble, the page CSS and the MathML conversion are the network renderers' own.
"""
from __future__ import annotations

import html
import json

import textwrap

import sympy as sp

from ..errors import UnknownNameError
from ..layers._printing import language
from ._layer_printers import latex, latex_name, signed_terms, text, text_name, wrapped_text
from ._mathml import mathml
from ._notes import latex_text

__all__ = ["FORMATS", "SCHEMA", "latex", "latex_name", "render_layer"]

FORMATS = ("text", "json", "latex", "tex", "html")
_WIDTH = 100            #: a terminal's columns: text lines break before this (a single long term keeps its line)
SCHEMA = "symbackprop.layer-derivation/1"

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
        yield _Heading(f"{text_name(gradient.name)} = ∂C/∂{text_name(name)} ({gradient.kind})",
                       rf"{latex_name(gradient.name)} = \partial C / \partial {latex_name(name)}", gradient.kind), steps
    for name in titles:
        if name not in before:
            yield titles[name], derivation.steps_for(name)


class _Heading(str):
    """A gradient's section title: its text, with the mathematics of its LaTeX for the typeset pages."""

    def __new__(cls, text: str, math: str, kind: str):
        heading = super().__new__(cls, text)
        heading.math, heading.kind = math, kind
        return heading


def _heading_latex(title) -> str:
    if isinstance(title, _Heading):
        return rf"${title.math}$ ({latex_text(title.kind)})"
    return latex_text(title)


def _heading_html(title) -> str:
    if isinstance(title, _Heading):
        return f"{mathml(title.math, display=False)} ({html.escape(title.kind)})"
    return html.escape(title)


def _statement_latex(statement) -> str:
    """A step for a display: one line, or an aligned block broken before whole terms when it is long."""
    rows = _statement_rows(statement)
    if len(rows) == 1:
        return rows[0].replace("&", "")
    return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"


def _statement_html(statement) -> str:
    """The rows of a step as MathML, one display per row (latex2mathml has no aligned environment)."""
    rows = _statement_rows(statement)
    return "".join(mathml(row.replace("&", ""), display=True) for row in rows)


def _statement_rows(statement, width: int = 150) -> list:
    """A statement's LaTeX rows (``&`` marks where they align), broken before whole terms past ``width``."""
    whole = latex(statement)
    if not isinstance(statement, sp.Eq) or len(whole) <= width:
        return [whole]
    rows, current = [], f"{latex(statement.lhs)} &= "
    for sign, printed in signed_terms(statement.rhs, latex):
        piece = printed if not sign else f" {sign} {printed}"
        if sign and len(current) > 20 and len(current) + len(piece) > width:
            rows.append(current)
            current = rf"&\quad {sign} {printed}"
        else:
            current += piece
    rows.append(current)
    return rows if len(rows) > 1 else [whole]


def _layer_heading(layer) -> str:
    return "The model, composed into one layer:" if layer.boundaries else "The layer:"


def _title(derivation) -> str:
    layer = derivation.layer
    if layer.boundaries and layer.description:       # a model (symbackprop.models), composed into one layer
        return f"Backward pass of the model {layer.description}, derived step by step"
    return f"Backward pass of the layer {layer.name}, derived step by step"


def _text(derivation) -> str:
    layer = derivation.layer
    lines = [_title(derivation), "", _layer_heading(layer)]
    lines += ["  " + line for line in _layer_lines(layer)]
    lines.append("")
    number = 0
    for title, steps in _sections(derivation):
        lines.append(title)
        for step in steps:
            number += 1
            label = f"  ({number}) "
            first, *rest = wrapped_text(step.statement, label)
            lines.append(first)
            lines += [" " * len(label) + line.lstrip(" ") if not line.startswith(" " * len(label)) else line
                      for line in rest]
            lines += textwrap.wrap(f"[{step.rule.value}] {step.note}", _WIDTH, initial_indent=" " * 7,
                                   subsequent_indent=" " * 8, break_long_words=False, break_on_hyphens=False)
        lines.append("")
    lines.append("Result:")
    for gradient in derivation.results:
        lines += wrapped_text(sp.Eq(gradient.lhs, gradient.display, evaluate=False), "  ", _WIDTH)
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


def _layer_html(layer) -> str:
    """The layer as the network pages show a model: its arrays in words, its equations as mathematics."""
    times = r" \times "

    def slot(array):
        return rf"{latex_name(array.name)} \in \mathbb{{R}}^{{{times.join(map(str, array.sizes))}}}"
    items = []
    for label, arrays in (("input", layer.inputs), ("parameters", layer.params)):
        if arrays:
            items.append(f"<li>{label}: " + ", ".join(mathml(slot(a), display=False) for a in arrays) + "</li>")
    for symbol, value in layer.constants.items():
        items.append(f"<li>constant: {mathml(f'{latex_name(str(symbol))} = {float(value)!r}', display=False)}</li>")
    equations = [latex(sp.Eq(d.lhs, d.rhs, evaluate=False)) for d in layer.definitions]
    rows = "".join(f'<div class="math">{mathml(equation, display=True)}</div>' for equation in equations)
    output = ", ".join(mathml(latex_name(name), display=False) for name in layer.outputs)
    return f'<ul class="layer">{"".join(items)}<li>output: {output}</li></ul>{rows}'


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
        body.append(rf"\section*{{{position}.\ {_heading_latex(title)}}}")
        body.append(r"\begin{itemize}")
        for step in steps:
            body.append(rf"\item \textbf{{{latex_text(step.rule.value)}}}: {latex_text(step.note)}"
                        rf"\[ {_statement_latex(step.statement)} \]")
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
             f'<p class="meta"><strong>{html.escape(_layer_heading(derivation.layer))}</strong></p>',
             _layer_html(derivation.layer)]
    number = 0
    for position, (title, steps) in enumerate(_sections(derivation), start=1):
        parts.append(f'<section><h2>{position}. {_heading_html(title)}</h2><ol class="steps">')
        for step in steps:
            number += 1
            rule_class = step.rule.name.lower()
            parts.append(f'<li class="step" id="step-{number}"><span class="num">({number})</span>'
                         f'<div class="math">{_statement_html(step.statement)}</div>'
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

"""Two derivations side by side: where they first differ, and why.

This module owns the comparison. Everything it says is computed from the two
:class:`~symbackprop.derivation.Derivation` objects -- the steps, the per-unit quantities and
the loss-derivative steps -- nothing is stored: "δ^L differs by the factor σ'(z^L)" comes from
dividing one δ^L by the other and recognising the activation's derivative in the ratio.
A comparison of one derivation in two notations finds no difference in the mathematics and
shows how each notation writes the same formulas.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Optional

import sympy as sp

from .. import symbols as S
from .. import budget
from ..derivation import Derivation, Rule
from ..errors import SymbackpropError, UnknownNameError
from ._function_letter import own_glyph
from ._mathml import mathml
from ._prose import Prose, plain, prose_html, prose_latex, prose_text, words_latex as latex_text
from .notations import DEFAULT, notation as _notation
from .steps import Formula, Layout, formula, layout as _layout

_UNIT_BASES = {"a": S.a, "y": S.y, "z": S.z, "delta": S.delta, "e": S.e}
_SYMBOLS = {"output_delta": S.vector("delta", S.L), "hidden_delta": S.vector("delta", S.l)}
_QUANTITIES = (("output_delta", "output layer δ^L"), ("hidden_delta", "hidden layer δ^l"),
               ("weight_gradient", "weight gradient, one example"), ("bias_gradient", "bias gradient, one example"))


@dataclass(frozen=True)
class Row:
    """One quantity in both setups."""

    label: str                 #: words and symbol as text
    left: Optional[Formula]
    right: Optional[Formula]
    same: bool                 #: the same mathematics (canonical expressions equal)
    label_prose: Prose = ()    #: the label as words and formulas (δ^L in the left setup's notation)


@dataclass(frozen=True)
class Difference:
    """The first step where the two derivations part."""

    quantity: str
    left_number: Optional[int]
    right_number: Optional[int]
    left: Optional[Formula]
    right: Optional[Formula]
    left_rule: str
    right_rule: str


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`; ``render(format)`` lays it out as text, LaTeX or HTML."""

    left_title: str
    right_title: str
    rows: tuple[Row, ...]
    first_difference: Optional[Difference]
    reason: str                #: one or two sentences: why the setups differ (or that they do not)
    reason_latex: str
    reason_prose: Prose = ()   #: the same sentences as words and formulas (HTML typesets them from this)

    @property
    def differ(self) -> bool:
        return self.first_difference is not None

    def render(self, format: str = "text") -> str:
        if format == "text":
            return _render_text(self)
        if format == "latex":
            return _render_latex(self)
        if format == "html":
            return _render_html(self)
        raise UnknownNameError("comparison format", str(format), ("text", "latex", "html"))


def compare(left: Derivation, right: Derivation, notation=DEFAULT, right_notation=None) -> Comparison:
    """Compare two derivations; ``right_notation`` (default: ``notation``) renders the right one.

    >>> from symbackprop import Network, derive
    >>> ng = derive(Network((4, 3, 2), loss="cross-entropy"))
    >>> nielsen = derive(Network((4, 3, 2), loss="quadratic"))
    >>> compare(ng, nielsen).first_difference.quantity
    'cost'
    """
    for side in (left, right):
        if not isinstance(side, Derivation):
            raise SymbackpropError(f"compare() takes two symbackprop Derivations, not {type(side).__name__}")
    left_page = _layout(left, _notation(notation))
    right_page = _layout(right, _notation(right_notation if right_notation is not None else notation))
    rows = tuple(_rows(left_page, right_page))
    difference = _first_difference(left_page, right_page)
    reason = _reason(left_page, right_page, difference)
    return Comparison(_title(left_page), _title(right_page), rows, difference, plain(prose_text(reason)),
                      prose_latex(reason), reason)


def _title(page: Layout) -> str:
    return f"{page.network} ({page.notation.name})"


def _rows(left: Layout, right: Layout):
    for key, label in _QUANTITIES:
        a, b = getattr(left.derivation, key), getattr(right.derivation, key)
        if a is None and b is None:
            continue
        prose = _label(left, key, label)
        yield Row(plain(prose_text(prose)), _vector(left, a), _vector(right, b),
                  a is not None and b is not None and _same(a.vector, b.vector), prose)
    a, b = left.derivation.weight_gradient, right.derivation.weight_gradient
    yield Row("weight gradient, batch of m", _vector(left, a, "batch_vector"), _vector(right, b, "batch_vector"),
              _same(a.batch_vector, b.batch_vector))


def _label(page: Layout, key: str, label: str) -> Prose:
    """'output layer δ^L' with the symbol printed in the page's notation."""
    if key not in _SYMBOLS:
        return (label,)
    words = label.rsplit(" ", 1)[0]
    return (words + " ", formula(_SYMBOLS[key], page.latex_printer, page.text_printer))


def _vector(page: Layout, quantity, attribute: str = "vector") -> Optional[Formula]:
    if quantity is None or getattr(quantity, attribute) is None:
        return None
    latex_printer, text_printer = page.printers(batch=attribute.startswith("batch"))
    expr = getattr(quantity, attribute)
    return Formula(latex_printer.doprint(expr), text_printer.doprint(expr))


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a == b


def _first_difference(left: Layout, right: Layout) -> Optional[Difference]:
    """Walk the steps quantity by quantity; the first pair whose statements differ."""
    left_steps = [step for section in left.sections for step in section.steps]
    right_steps = [step for section in right.sections for step in section.steps]
    for quantity in dict.fromkeys([s.quantity for s in left_steps] + [s.quantity for s in right_steps]):
        a = [s for s in left_steps if s.quantity == quantity]
        b = [s for s in right_steps if s.quantity == quantity]
        for position in range(max(len(a), len(b))):
            x = a[position] if position < len(a) else None
            y = b[position] if position < len(b) else None
            if x is not None and y is not None and x.step.statement == y.step.statement:
                continue
            return Difference(quantity, x.number if x else None, y.number if y else None,
                              x.statement if x else None, y.statement if y else None,
                              x.rule if x else "", y.rule if y else "")
    return None


def unit_form(expr):
    """An index-level expression with every layer-indexed unit replaced by its per-unit symbol."""
    return expr.replace(lambda e: isinstance(e, sp.Indexed) and str(e.base.label) in _UNIT_BASES,
                        lambda e: _UNIT_BASES[str(e.base.label)])


def loss_derivative(derivation: Derivation):
    """∂C/∂a of one output unit, read from the derivation's loss-derivative step (None if coupled)."""
    for step in derivation.steps_for("output_delta"):
        if step.rule == Rule.LOSS_DERIVATIVE:
            value = budget.factor(budget.simplify(unit_form(step.statement.rhs)))
            return None if value.has(sp.KroneckerDelta) or value.has(sp.Indexed) else readable_fraction(value)
    return None


def readable_fraction(expr):
    """(y - a)/(a (a - 1)) -> (a - y)/(a (1 - a)): the signs placed so that every sum starts positive."""
    numerator, denominator = sp.fraction(budget.factor(expr))
    if denominator == 1:
        return expr
    factors = list(sp.Mul.make_args(denominator))
    candidates = [(numerator, factors)]
    for position, factor in enumerate(factors):
        if isinstance(factor, sp.Add):
            flipped = factors[:position] + [sp.expand(-factor)] + factors[position + 1:]
            candidates.append((sp.expand(-numerator), flipped))

    def leading_minus(candidate):
        n, fs = candidate
        sums = [t for t in [n, *fs] if isinstance(t, sp.Add)]
        return sum(1 for t in sums if t.as_ordered_terms()[0].could_extract_minus_sign())

    numerator, factors = min(candidates, key=leading_minus)
    return numerator / sp.Mul(*factors)


def _reason(left: Layout, right: Layout, difference: Optional[Difference]) -> Prose:
    """Why the setups differ, as prose in the left setup's notation (each formula printed by its printers)."""
    a, b = left.derivation, right.derivation
    m = lambda expr, page=left: formula(expr, page.latex_printer, page.text_printer)  # noqa: E731
    if difference is None:
        if left.notation.name == right.notation.name:
            return ("The two derivations are the same, step for step.",)
        return ("The mathematics is the same, step for step; only the notation differs: "
                f"{left.notation.name} writes the weights into layer ", m(S.l), " as ", m(S.matrix(S.l)),
                " and the error as ", m(S.vector("delta", S.l)), f", {right.notation.name} as ",
                m(S.matrix(S.l), right), " and ", m(S.vector("delta", S.l), right), ".")
    da, db = a.output_delta, b.output_delta
    if not _same(da.unit, db.unit):
        return _output_reason(left, right)
    if difference.quantity in ("hidden_delta", "cost") and a.hidden_delta is not None and b.hidden_delta is not None \
            and not _same(a.hidden_delta.unit, b.hidden_delta.unit):
        ga, gb = a.hidden_delta.activation_derivative, b.hidden_delta.activation_derivative
        return ("The hidden error differs by the activation's derivative: ",
                _equals(_prime(left, S.l, a.network.hidden[0]), m(ga)),
                f" under {a.network.hidden[0].name}, ", m(gb), f" under {b.network.hidden[0].name}.")
    if a.network.l2 != b.network.l2:
        return ("The batch gradient differs by the L2 term ", m(sp.MatMul(S.lam / S.m, S.matrix(S.l))), ": ",
                m(sp.Eq(S.lam, a.network.l2, evaluate=False)), " against ",
                m(sp.Eq(S.lam, b.network.l2, evaluate=False)),
                "; ", m(S.vector("delta", S.L)), " and the recursion are the same.")
    if a.network.bias != b.network.bias:
        return (f"The bias lives in different places ({a.network.bias} against {b.network.bias}): the gradient "
                f"formulas are the same, the bookkeeping of the bias column is not.",)
    return (f"The derivations first differ at the {difference.quantity.replace('_', ' ')} ({difference.left_rule}).",)


def _prime(page: Layout, layer, activation=None) -> Formula:
    """g'(z^layer) in the page's notation; with ``activation``, its own name (σ', tanh', ReLU')."""
    g = own_glyph(activation) if activation is not None else page.notation.function
    z = formula(S.vector("z", layer), page.latex_printer, page.text_printer)
    return Formula(r"%s'(%s)" % (g.latex, z.latex), "%s'(%s)" % (g.text, z.text))


def _equals(left: Formula, right: Formula) -> Formula:
    return Formula(left.latex + " = " + right.latex, left.text + " = " + right.text)


def _output_reason(left: Layout, right: Layout) -> Prose:
    """Why δ^L differs: a factor of g'(z^L) that one loss cancels and the other does not, or simply two formulas."""
    a, b = left.derivation, right.derivation
    da, db = a.output_delta, b.output_delta
    ratio = budget.factor(budget.simplify(db.unit / da.unit))
    m = lambda expr: formula(expr, left.latex_printer, left.text_printer)  # noqa: E731
    delta = m(S.vector("delta", S.L))
    dcda = Formula(r"\partial %s/\partial %s" % (left.notation.cost.latex, m(S.a).latex),
                   "∂%s/∂%s" % (left.notation.cost.text, m(S.a).text))
    setup_a = f"{a.network.output.name} + {a.network.loss.name}"
    setup_b = f"{b.network.output.name} + {b.network.loss.name}"
    same_output = a.network.output == b.network.output
    for first, second, r, setup_first, setup_second in ((da, db, ratio, setup_a, setup_b),
                                                        (db, da, budget.factor(1 / ratio), setup_b, setup_a)):
        if not same_output:
            break
        g = second.activation_derivative
        if g is not None and budget.is_zero(r - g) and first.cancels and second.cancels is False:
            factor = _equals(_prime(left, S.L, second.activation), m(g))
            derivative = loss_derivative(a if first is da else b)
            derivative_other = loss_derivative(b if first is da else a)
            return (delta, " differs by the factor ", factor, f": under {setup_first} ", _equals(dcda, m(derivative)),
                    ", which cancels ", factor, ", so ", _equals(delta, m(first.unit)), f"; under {setup_second} ",
                    _equals(dcda, m(derivative_other)), ", which does not, so ", _equals(delta, m(second.unit)), ".")
    return (delta, " differs: ", _equals(delta, m(da.unit)), f" under {setup_a}, ", _equals(delta, m(db.unit)),
            f" under {setup_b} (their ratio is ", m(ratio), ").")


# --- layouts of a comparison --------------------------------------------------------------------
def _render_text(c: Comparison) -> str:
    lines = [f"A: {c.left_title}", f"B: {c.right_title}", ""]
    for row in c.rows:
        mark = "same" if row.same else "DIFFERENT"
        lines.append(f"{row.label} [{mark}]")
        lines.append(f"  A: {row.left.text if row.left else '(none)'}")
        lines.append(f"  B: {row.right.text if row.right else '(none)'}")
    lines.append("")
    d = c.first_difference
    if d is None:
        lines.append("No step differs.")
    else:
        lines.append(f"First difference: {d.quantity.replace('_', ' ')}, step ({d.left_number}) of A "
                     f"against step ({d.right_number}) of B")
        lines.append(f"  A: {d.left.text if d.left else '(no such step)'}    [{d.left_rule}]")
        lines.append(f"  B: {d.right.text if d.right else '(no such step)'}    [{d.right_rule}]")
    lines += ["", "Why: " + c.reason]
    return "\n".join(lines) + "\n"


_DASH = r"\text{--}"


def _render_latex(c: Comparison) -> str:
    rows = []
    for row in c.rows:
        mark = "same" if row.same else "different"
        rows.append(rf"\intertext{{\textbf{{{prose_latex(row.label_prose or (row.label,))}}} ({mark})}}")
        rows.append(rf"\text{{A: }} & {row.left.latex if row.left else _DASH} \\")
        rows.append(rf"\text{{B: }} & {row.right.latex if row.right else _DASH} \\")
    out = [rf"\noindent A: {latex_text(c.left_title)}\\", rf"B: {latex_text(c.right_title)}",
           "\\begin{align*}", *rows, "\\end{align*}"]
    d = c.first_difference
    if d is not None:
        out.append(rf"\noindent\textbf{{First difference}}: {latex_text(d.quantity.replace('_', ' '))}, "
                   rf"step ({d.left_number}) of A against step ({d.right_number}) of B.")
        out.append("\\begin{align*}")
        out.append(rf"\text{{A: }} & {d.left.latex if d.left else _DASH} \\")
        out.append(rf"\text{{B: }} & {d.right.latex if d.right else _DASH}")
        out.append("\\end{align*}")
    out.append(rf"\noindent\textbf{{Why}}: {c.reason_latex}")
    return "\n".join(out) + "\n"


def _render_html(c: Comparison) -> str:
    from .html import CSS
    def cell(formula):
        return mathml(formula.latex, display=True) if formula else "—"
    rows = "".join(f'<tr><td class="label">{prose_html(r.label_prose or (r.label,), mathml)}<br><small>{"same" if r.same else "different"}</small>'
                   f'</td><td class="math">{cell(r.left)}</td><td class="math">{cell(r.right)}</td></tr>'
                   for r in c.rows)
    d = c.first_difference
    first = ("<p>No step differs.</p>" if d is None else
             f'<p><strong>First difference:</strong> {html.escape(d.quantity.replace("_", " "))}, '
             f'step ({d.left_number}) of A against step ({d.right_number}) of B.</p>'
             f'<table class="results"><tr><td class="label">A <small>{html.escape(d.left_rule)}</small></td>'
             f'<td class="math">{cell(d.left)}</td></tr><tr><td class="label">B <small>{html.escape(d.right_rule)}'
             f'</small></td><td class="math">{cell(d.right)}</td></tr></table>')
    body = (f'<div class="sbp"><h1>Two derivations compared</h1>'
            f'<p class="meta"><strong>A:</strong> {html.escape(c.left_title)}</p>'
            f'<p class="meta"><strong>B:</strong> {html.escape(c.right_title)}</p>'
            f'<h2>Why they differ</h2><p>{prose_html(c.reason_prose, mathml)}</p>{first}'
            f'<h2>Side by side</h2><table class="results"><tr><td></td><td><strong>A</strong></td>'
            f'<td><strong>B</strong></td></tr>{rows}</table></div>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>symbackprop: two derivations compared</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
            "</body>\n</html>\n")

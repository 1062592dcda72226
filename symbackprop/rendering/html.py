"""The HTML rendering: one self-contained page (or a fragment for Jupyter), math as MathML.

This module owns the page: its CSS (readable on a phone and a desktop, no web fonts), the
numbered steps with the rule and note beside each, and the results. The MathML comes from
latex2mathml (:mod:`._mathml`); the page fetches nothing and needs no JavaScript.
"""
from __future__ import annotations

import html

from ._mathml import mathml
from ._prose import prose_html
from .steps import Layout, RenderedStep

CSS = """
.sbp { font-family: Georgia, 'Times New Roman', serif; line-height: 1.5; color: #1d1d1f; max-width: 72rem; margin: 0 auto; padding: 1rem; }
.sbp h1 { font-size: 1.6rem; margin: 0.2rem 0 0.6rem; }
.sbp h2 { font-size: 1.25rem; margin: 2rem 0 0.6rem; border-bottom: 1px solid #d0d0d8; padding-bottom: 0.2rem; }
.sbp .meta { color: #44444c; margin: 0.2rem 0; }
.sbp .remarks { color: #44444c; font-size: 0.95rem; margin: 0.4rem 0 0; padding-left: 1.2rem; }
.sbp ol.steps { list-style: none; margin: 0; padding: 0; }
.sbp li.step { display: grid; grid-template-columns: 2.6rem minmax(0, 1fr) minmax(14rem, 24rem); gap: 0.4rem 1.2rem;
  align-items: center; padding: 0.7rem 0; border-bottom: 1px solid #eeeef2; }
.sbp .num { font-weight: bold; color: #6a6a75; }
.sbp .math { overflow-x: auto; overflow-y: hidden; font-size: 1.1rem; }
.sbp .math math { margin: 0; }
.sbp .why { font-size: 0.95rem; color: #2c2c33; }
.sbp .nw { white-space: nowrap; }
.sbp pre.code { background: #f6f6f9; padding: 0.6rem 0.8rem; overflow-x: auto; font-size: 0.9rem; }
.sbp .rule { display: inline-block; font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: 0.75rem;
  text-transform: uppercase; letter-spacing: 0.04em; background: #eef1fb; color: #2b3a8c; border-radius: 0.3rem;
  padding: 0.05rem 0.4rem; margin-right: 0.35rem; }
.sbp .rule.cancellation, .sbp .rule.assumption { background: #fff1d6; color: #7a4a00; }
.sbp table.results { border-collapse: collapse; width: 100%; }
.sbp table.results td { padding: 0.5rem 0.6rem; border-bottom: 1px solid #eeeef2; vertical-align: middle; }
.sbp table.results td.label { color: #44444c; white-space: nowrap; }
.sbp table.results td.math { font-size: 1.15rem; }
@media (max-width: 760px) {
  .sbp { padding: 0.6rem; }
  .sbp li.step { grid-template-columns: 2rem minmax(0, 1fr); }
  .sbp .why { grid-column: 2; }
  .sbp table.results td.label { white-space: normal; }
}
"""


def _assignment(latex: str) -> str:
    """Ng's update Δ := Δ + ...: one relation sign (≔) in MathML, where ':' '=' would be two."""
    return latex.replace(" := ", r" \coloneqq ", 1)


def _step(step: RenderedStep, layout: Layout) -> str:
    note = prose_html(step.note_prose, mathml)
    rule_class = step.step.rule.name.lower()
    return (f'<li class="step" id="step-{step.number}"><span class="num">({step.number})</span>'
            f'<div class="math">{mathml(_assignment(step.statement.latex), display=True)}</div>'
            f'<div class="why"><span class="rule {rule_class}">{html.escape(step.rule)}</span>{note}</div></li>')


def body(layout: Layout, heading: str = "h1") -> str:
    """The content of the page: header, sections, results (shared by the page and the fragment)."""
    notation = layout.notation
    section_heading = "h2" if heading == "h1" else "h4"
    parts = ['<div class="sbp">',
             f'<{heading}>Backpropagation, derived step by step</{heading}>',
             f'<p class="meta"><strong>Network:</strong> {html.escape(layout.network)}</p>',
             f'<p class="meta"><strong>Notation:</strong> {html.escape(notation.name)} '
             f'({html.escape(notation.source)})</p>',
             '<ul class="remarks">' + "".join(f"<li>{prose_html(r, mathml)}</li>" for r in layout.header) + "</ul>"]
    if layout.assumptions:
        items = "".join(f"<li>{mathml(statement.latex)} — {prose_html(note, mathml)}</li>"
                        for statement, note in layout.assumptions)
        parts.append(f'<p class="meta"><strong>Assumptions:</strong></p><ul class="remarks">{items}</ul>')
    for position, section in enumerate(layout.sections, start=1):
        title = html.escape(section.title)
        if section.symbol.latex:
            title += ": " + mathml(section.symbol.latex)
        parts.append(f'<section><{section_heading}>{position}. {title}</{section_heading}><ol class="steps">')
        parts += [_step(step, layout) for step in section.steps]
        parts.append("</ol></section>")
    rows = "".join(f'<tr><td class="label">{html.escape(result.label)}</td>'
                   f'<td class="math">{mathml(result.formula.latex, display=True)}</td></tr>'
                   for result in layout.results)
    conclusion = f'<p class="meta">{prose_html(layout.conclusion, mathml)}</p>' if layout.conclusion else ""
    parts.append(f'<section><{section_heading}>Result</{section_heading}><table class="results">{rows}</table>'
                 f'{conclusion}</section>')
    if layout.code is not None:
        parts.append(f'<section><{section_heading}>{html.escape(layout.code.title)}</{section_heading}>'
                     f'<pre class="code"><code>{html.escape(chr(10).join(layout.code.lines))}</code></pre></section>')
    parts.append("</div>")
    return "\n".join(parts)


def render_html(layout: Layout) -> str:
    """A complete, self-contained HTML page."""
    title = html.escape(f"Backpropagation: {layout.network} ({layout.notation.name})")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body(layout)}\n</body>\n</html>\n")


def render_fragment(layout: Layout) -> str:
    """The page's content with its CSS, for embedding (Jupyter's _repr_html_)."""
    return f"<style>{CSS}</style>\n{body(layout, heading='h3')}"

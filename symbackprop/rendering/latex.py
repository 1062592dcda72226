"""The LaTeX body of a derivation: one ``align*`` environment per section, for pasting into a document.

Each step is a line ``lhs &= rhs`` preceded by its number, rule and note as an ``\\intertext``.
Needs only amsmath.
"""
from __future__ import annotations

from ._prose import words_latex as latex_text
from .steps import Layout, RenderedStep


def align_line(step: RenderedStep) -> str:
    """``lhs &= rhs`` (the first top-level '=' becomes the alignment point)."""
    statement = step.statement.latex
    if " := " in statement:
        head, _, tail = statement.partition(" := ")
        return f"{head} &:= {tail}"
    head, sep, tail = statement.partition(" = ")
    return f"{head} &= {tail}" if sep else f"&{statement}"


def intertext(step: RenderedStep) -> str:
    why = rf"\textit{{{latex_text(step.rule)}}}"
    if step.note.latex:
        why += rf": {step.note.latex}"
    return rf"\intertext{{({step.number}) {why}}}"


def section_align(steps) -> str:
    lines = []
    for position, step in enumerate(steps):
        lines.append(intertext(step))
        lines.append(align_line(step) + (r" \\" if position < len(steps) - 1 else ""))
    return "\\begin{align*}\n" + "\n".join(lines) + "\n\\end{align*}"


def results_align(layout: Layout) -> str:
    lines = [rf"{align_line_of(result.formula.latex)} && \text{{{latex_text(result.label)}}}"
             for result in layout.results]
    return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"


def align_line_of(statement: str) -> str:
    head, sep, tail = statement.partition(" = ")
    return f"{head} &= {tail}" if sep else f"&{statement}"


def render_latex(layout: Layout) -> str:
    """The align* environments of every section, then the results, as one LaTeX body."""
    parts = []
    for section in layout.sections:
        title = latex_text(section.title)
        if section.symbol.latex:
            title += rf": ${section.symbol.latex}$"
        parts.append(f"% {section.title}\n\\noindent\\textbf{{{title}}}\n" + section_align(section.steps))
    parts.append("% Result\n\\noindent\\textbf{Result}\n" + results_align(layout))
    if layout.code is not None:
        parts.append(code_block(layout))
    return "\n\n".join(parts) + "\n"


def code_block(layout: Layout) -> str:
    """The course's code lines, verbatim."""
    return ("\\noindent\\textbf{%s}\n\\begin{verbatim}\n%s\n\\end{verbatim}"
            % (latex_text(layout.code.title), "\n".join(layout.code.lines)))

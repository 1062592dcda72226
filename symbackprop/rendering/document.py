"""The complete LaTeX document (.tex): a title, the notation's conventions, the steps and the results.

Needs only amsmath (and amssymb-free, font-default pdflatex); every note is escaped by
:mod:`._notes`, so ``pdflatex -halt-on-error`` compiles it with no undefined control sequence.
"""
from __future__ import annotations

from ._prose import prose_latex, words_latex as latex_text
from .latex import results_align, section_align
from .steps import Layout

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage{amsmath}
\setlength{\textwidth}{6.3in}
\setlength{\oddsidemargin}{0.1in}
\setlength{\evensidemargin}{0.1in}
\setlength{\topmargin}{-0.4in}
\setlength{\textheight}{9in}
\setlength{\parindent}{0pt}
\allowdisplaybreaks
% the default bullet is a TS1 (textcomp) glyph, which texlive-latex-base can only make with METAFONT
\renewcommand{\labelitemi}{$\bullet$}
"""


def render_document(layout: Layout) -> str:
    notation = layout.notation
    body = [PREAMBLE,
            r"\title{Backpropagation, derived step by step}",
            r"\author{symbackprop}",
            r"\date{}",
            r"\begin{document}",
            r"\maketitle",
            rf"\noindent\textbf{{Network.}} {latex_text(layout.network)}.\par",
            rf"\noindent\textbf{{Notation.}} {latex_text(notation.name)}: {latex_text(notation.source)}.",
            r"\begin{itemize}"]
    body += [rf"\item {prose_latex(remark)}" for remark in layout.header]
    body += [r"\end{itemize}"]
    if layout.assumptions:
        body.append(r"\noindent\textbf{Assumptions.}")
        body.append(r"\begin{itemize}")
        body += [rf"\item ${statement.latex}$: {prose_latex(note)}" for statement, note in layout.assumptions]
        body.append(r"\end{itemize}")
    for position, section in enumerate(layout.sections, start=1):
        title = latex_text(section.title)
        if section.symbol.latex:
            title += rf": ${section.symbol.latex}$"
        body.append(rf"\section*{{{position}.\ {title}}}")
        body.append(section_align(section.steps))
    body.append(r"\section*{Result}")
    body.append(results_align(layout))
    if layout.conclusion:
        body.append(prose_latex(layout.conclusion))
    if layout.code is not None:
        body.append(r"\section*{%s}" % latex_text(layout.code.title))
        body.append("\\begin{verbatim}\n%s\n\\end{verbatim}" % "\n".join(layout.code.lines))
    body.append(r"\end{document}")
    return "\n".join(body) + "\n"

"""Prose with mathematics in it: a sentence as words and formulas, printed for a terminal, LaTeX or HTML.

This module owns how a note, a header bullet or an explanation is typeset: its words are escaped
for the format and its formulas are mathematics -- inline math in LaTeX, MathML in HTML, unicode
on a terminal. A formula is a :class:`Formula` (its LaTeX and its text, both printed by the
notation's printers or written once as a pair); nothing here reads LaTeX back.

No line breaks inside a formula on a terminal, and in HTML a formula stays on one line with the
bracket or punctuation that touches it, so no bracket or operator wraps onto a line of its own.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable, Sequence, Union


@dataclass(frozen=True)
class Formula:
    """One expression in the two printed forms."""

    latex: str
    text: str


#: a sentence: words (str) and formulas, in reading order
Prose = tuple[Union[str, Formula], ...]

_LATEX_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                       "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}"}
#: unicode that may appear in words, as LaTeX that pdflatex's default fonts can typeset
_LATEX_WORD_UNICODE = {"−": "-", "–": "--", "—": "---", "’": "'", "‘": "`", "“": "``", "”": "''", "…": r"\ldots{}",
                       "×": r"$\times$", "≥": r"$\geq$", "≤": r"$\leq$", "→": r"$\to$",
                       # a Greek letter in words (a title such as 'Ng's form: accumulate Δ') is still mathematics
                       "Δ": r"$\Delta$", "δ": r"$\delta$", "λ": r"$\lambda$", "Θ": r"$\Theta$", "σ": r"$\sigma$",
                       "Σ": r"$\Sigma$", "∂": r"$\partial$", "⊙": r"$\odot$", "∇": r"$\nabla$", "ℒ": r"$\mathcal{L}$"}
_NBSP = "\u00a0"


def words_latex(words: str) -> str:
    """Plain words escaped for LaTeX text mode (unknown non-ASCII becomes '?', never a pdflatex error)."""
    out = []
    for char in words:
        if char in _LATEX_TEXT_ESCAPES:
            out.append(_LATEX_TEXT_ESCAPES[char])
        elif char in _LATEX_WORD_UNICODE:
            out.append(_LATEX_WORD_UNICODE[char])
        elif ord(char) > 127:
            out.append("?")
        else:
            out.append(char)
    return "".join(out)


def prose_text(prose: Sequence) -> str:
    """The sentence for a terminal; a formula's own spaces are non-breaking (see :func:`unbreakable`)."""
    return "".join(piece if isinstance(piece, str) else piece.text.replace(" ", _NBSP) for piece in prose)


def plain(text: str) -> str:
    """Terminal text with the non-breaking spaces of formulas made ordinary again (after wrapping)."""
    return text.replace(_NBSP, " ")


def prose_latex(prose: Sequence) -> str:
    """The sentence for LaTeX text mode: words escaped, each formula in inline math."""
    return "".join(words_latex(piece) if isinstance(piece, str) else "$%s$" % piece.latex for piece in prose)


_LEFT_GLUE = re.compile(r"[(\[{'\"]+$")          # an opening bracket just before a formula
_RIGHT_GLUE = re.compile(r"^[)\]}.,;:'\"]+")     # closing brackets and punctuation just after it


def prose_html(prose: Sequence, to_mathml: Callable[[str], str]) -> str:
    """The sentence for HTML: words escaped, each formula as inline MathML, kept on one line with
    the brackets and punctuation that touch it."""
    pieces = list(prose)
    out = []
    for position, piece in enumerate(pieces):
        if isinstance(piece, str):
            continue
        before = pieces[position - 1] if position > 0 and isinstance(pieces[position - 1], str) else ""
        after = pieces[position + 1] if position + 1 < len(pieces) and isinstance(pieces[position + 1], str) else ""
        left = _LEFT_GLUE.search(before)
        right = _RIGHT_GLUE.search(after)
        out.append((position, left.group(0) if left else "", right.group(0) if right else ""))
    glue = {position: (left, right) for position, left, right in out}
    parts = []
    for position, piece in enumerate(pieces):
        if isinstance(piece, str):
            words = piece
            if position + 1 in glue and glue[position + 1][0]:
                words = words[:len(words) - len(glue[position + 1][0])]
            if position - 1 in glue and glue[position - 1][1]:
                words = words[len(glue[position - 1][1]):]
            parts.append(html.escape(words))
        else:
            left, right = glue[position]
            parts.append('<span class="nw">%s%s%s</span>' % (html.escape(left), to_mathml(piece.latex),
                                                           html.escape(right)))
    return "".join(parts)

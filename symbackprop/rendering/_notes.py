"""The words of a step: the engine's one-line notes, made safe for LaTeX and HTML and put in the notation.

Notes are written by the engine in words with a few canonical symbols (``z^L_i``, ``W^{l+1}_{ki}``,
``δ^{l+1}_k``). This module owns finding those symbols, reading them back as the canonical objects
they name, and printing them with the notation's printer -- so a note in Ng's notation says
``Θ^(l)_ki`` where the engine wrote ``W^{l+1}_{ki}``. Anything it does not recognise is kept as
text, escaped for the output format.
"""
from __future__ import annotations

import html
import re
from typing import Callable, Optional

import sympy as sp

from .. import symbols as S

#: a canonical unit symbol: letter, optional ^layer, optional _indices (e.g. z^L_i, W^{l+1}_{ki}, δ^l)
_SYMBOL = re.compile(r"""
    (?P<letter>[azbyeWδ])
    (?:\^(?P<layer>\{[lL0-9+\-]+\}|[lL0-9]))
    (?:_(?P<indices>\{[ijkpq0-9,]+\}|[ijkpq0-9]{1,2}))?
    (?![A-Za-z0-9(])
""", re.VERBOSE)
_ROLES = {"a": "a", "z": "z", "b": "b", "y": "y", "e": "e", "W": "W", "δ": "delta"}
_LATEX_TEXT_ESCAPES = {"\\": r"\ensuremath{\backslash}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                       "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}"}
#: unicode that pdflatex's default fonts cannot typeset, as math
_LATEX_UNICODE = {"δ": r"\delta", "σ": r"\sigma", "Σ": r"\Sigma", "∂": r"\partial", "⊙": r"\odot", "λ": r"\lambda",
                  "α": r"\alpha", "Θ": r"\Theta", "∇": r"\nabla", "ℒ": r"\mathcal{L}", "≤": r"\leq", "≥": r"\geq",
                  "→": r"\to", "·": r"\cdot", "−": "-", "×": r"\times", "θ": r"\theta", "ŷ": r"\hat{y}",
                  "′": "'", "≠": r"\neq", "∑": r"\Sigma"}


def parse_symbol(match: re.Match) -> Optional[sp.Basic]:
    """The canonical object a matched note symbol names, or None."""
    role = _ROLES[match.group("letter")]
    layer_text = match.group("layer").strip("{}")
    try:
        # safe on text: _SYMBOL admits only l, L, digits, + and - here, so nothing can be executed
        layer = sp.sympify(layer_text, locals={"l": S.l, "L": S.L})
    except (sp.SympifyError, SyntaxError, TypeError):
        return None
    indices_text = (match.group("indices") or "").strip("{}")
    names = {"i": S.i, "j": S.j, "k": S.k, "p": S.p, "q": sp.Symbol("q", integer=True)}
    if "," in indices_text:
        parts = indices_text.split(",")
    else:
        parts = list(indices_text)
    indices = [names[c] if c in names else sp.Integer(int(c)) for c in parts if c]
    if role == "W":
        if len(indices) == 2:
            return S.weight(layer, *indices)
        return S.matrix(layer) if not indices else None
    if role == "y":
        return None
    if len(indices) == 1:
        return S.unit(role, layer, indices[0])
    return S.vector(role, layer) if not indices else None


def translate(note: str, print_math: Callable[[sp.Basic], str], escape: Callable[[str], str]) -> str:
    """``note`` with each canonical symbol printed by ``print_math`` and the rest passed to ``escape``."""
    out, position = [], 0
    for match in _SYMBOL.finditer(note):
        obj = parse_symbol(match)
        if obj is None:
            continue
        out.append(escape(note[position:match.start()]))
        out.append(print_math(obj))
        position = match.end()
    out.append(escape(note[position:]))
    return "".join(out)


_SCRIPTED = re.compile(r"[^\s,;:()]+[\^_][^\s,;:]*?(?=[\s,;:]|\.(?:\s|$)|$)")
_SCRIPT = re.compile(r"([\^_])(\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|[A-Za-z0-9+\-]+)")


def _math_token(token: str) -> str:
    """'a^[0]', 'w^l_jk', 'dz^[l]' as inline math: each script braced, unicode letters as commands."""
    body = _SCRIPT.sub(lambda m: m.group(1) + "{" + m.group(2).strip("{}") + "}", token)
    body = "".join(_LATEX_UNICODE.get(c, c) + (" " if c in _LATEX_UNICODE else "") for c in body)
    return "$" + body + "$"


def latex_text(words: str) -> str:
    """Plain words escaped for LaTeX text mode; unicode math letters and scripted symbols
    (a^1, dz^[l], C̄) become inline math."""
    words = words.replace("C\u0304", "\x00")    # C with a combining bar: the batch cost
    pieces, last = [], 0
    for match in _SCRIPTED.finditer(words):
        pieces.append(_latex_plain(words[last:match.start()]))
        pieces.append(_math_token(match.group(0)))
        last = match.end()
    pieces.append(_latex_plain(words[last:]))
    return "".join(pieces).replace("\x00", r"\ensuremath{\overline{C}}")


def _latex_plain(words: str) -> str:
    out = []
    for char in words:
        if char in _LATEX_TEXT_ESCAPES:
            out.append(_LATEX_TEXT_ESCAPES[char])
        elif char in _LATEX_UNICODE:
            out.append(r"\ensuremath{%s}" % _LATEX_UNICODE[char])
        elif ord(char) > 127:
            out.append("?")   # never let an unknown character break pdflatex
        else:
            out.append(char)
    return "".join(out)


def note_latex(note: str, latex_printer) -> str:
    """A note for a LaTeX document (text mode)."""
    return translate(note, lambda obj: "$%s$" % latex_printer.doprint(obj), latex_text)


def note_text(note: str, text_printer) -> str:
    """A note for the terminal."""
    return translate(note, text_printer.doprint, lambda words: words)


def note_html(note: str, latex_printer, to_mathml: Callable[[str], str]) -> str:
    """A note for an HTML page: symbols as inline MathML, words escaped."""
    return translate(note, lambda obj: to_mathml(latex_printer.doprint(obj)), html.escape)

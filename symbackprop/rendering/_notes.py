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
                  "′": "'", "≠": r"\neq", "∑": r"\Sigma", "⟨": r"\langle", "⟩": r"\rangle", "ᵀ": r"^{T}"}


_LAYER_TERM = re.compile(r"([+-]?)(l|L|[0-9]+)")


def _layer_sum(text: str) -> Optional[sp.Expr]:
    """A layer superscript of a note (``l+1``, ``L-1``, ``2``) as SymPy: signed terms l, L or integers; None
    for anything else (``l1``, ``+``). Read here rather than by sympify, which would evaluate text."""
    terms, position = [], 0
    for match in _LAYER_TERM.finditer(text):
        if match.start() != position or (terms and not match.group(1)):
            return None
        value = {"l": S.l, "L": S.L}.get(match.group(2)) or sp.Integer(int(match.group(2)))
        terms.append(-value if match.group(1) == "-" else value)
        position = match.end()
    return sp.Add(*terms) if terms and position == len(text) else None


def parse_symbol(match: re.Match) -> Optional[sp.Basic]:
    """The canonical object a matched note symbol names, or None."""
    role = _ROLES[match.group("letter")]
    layer_text = match.group("layer").strip("{}")
    layer = _layer_sum(layer_text)
    if layer is None:
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


# --- notes as prose: the engine's words with every formula in them recognised ----------------------
_SYMBOL_TEXT = re.sub(r"\(\?P<\w+>", "(?:", re.sub(r"\s+#[^\n]*|\s+", "", _SYMBOL.pattern))
_TOKEN = re.compile(r"""
      (?P<derivative>∂C/∂(?:(?P<dvar>""" + _SYMBOL_TEXT + r""")|(?P<dletter>[az])(?![A-Za-z0-9^_])))
    | (?P<transpose>\((?P<tvar>""" + _SYMBOL_TEXT + r""")\)\^T)
    | (?P<prime>g'\((?P<pvar>""" + _SYMBOL_TEXT + r"""|[0-9]+)\))
    | (?P<symbol>""" + _SYMBOL_TEXT + r""")
    | (?P<bare>(?P<bletter>[ayδ])_(?P<bindex>[0-9ijk])(?![A-Za-z0-9^_]))
    | (?P<sum>Σ_(?P<sindex>[ijkpq]))
    | (?P<call>(?P<fn>[a-z][a-z-]*[a-z])\((?P<arg>""" + _SYMBOL_TEXT + r"""|[az])\))
    | (?P<hadamard>⊙)
    | (?P<relation>=)
    | (?P<single>(?<![A-Za-z0-9'])[ijkpqxmazC](?![A-Za-z0-9'(]))
    | (?P<number>(?<![A-Za-z0-9])[0-9]+(?![A-Za-z0-9]))
""", re.VERBOSE)
_INDEX_LETTERS = {"i": S.i, "j": S.j, "k": S.k, "p": S.p, "q": sp.Symbol("q", integer=True), "x": S.x_index}
_ROLE_LETTERS = {"a": S.a, "z": S.z, "C": S.C, "y": S.y}
#: tokens that open a formula; the others only continue one
_STRONG = ("derivative", "transpose", "prime", "symbol", "bare", "sum", "call", "hadamard")


def note_prose(note: str, latex_printer, text_printer, function=None) -> tuple:
    """The note as prose (words and :class:`~._prose.Formula`): every formula in it, down to a lone index
    ``k = i``, printed in the notation by ``latex_printer`` and ``text_printer``; the engine's g' written
    with ``function`` (a Glyph: the letter of the activation the step differentiates), by default the
    notation's letter."""
    from ._prose import Formula
    tokens = []   # (start, end, kind, latex, text)
    for match in _TOKEN.finditer(note):
        printed = _token(match, latex_printer, text_printer, note, function)
        if printed is not None:
            tokens.append((match.start(), match.end(), match.lastgroup, *printed))
    # group tokens into formulas: neighbours joined by spaces only; a formula needs one strong token,
    # or a relation between letters (k = i)
    groups, current = [], []
    for token in tokens:
        if current and note[current[-1][1]:token[0]].strip() == "":
            current.append(token)
        else:
            if current:
                groups.append(current)
            current = [token]
    if current:
        groups.append(current)
    prose, position = [], 0
    for group in groups:
        group = _trim(group, note)
        if not group:
            continue
        start, end = group[0][0], group[-1][1]
        if start > position:
            prose.append(note[position:start])
        latex = " ".join(token[3] for token in group)
        text = " ".join(token[4] for token in group)
        prose.append(Formula(latex, text))
        position = end
    if position < len(note):
        prose.append(note[position:])
    return tuple(prose)


def _trim(group, note):
    """A run of tokens as a formula, or [] when it is only words that look like letters (the article 'a')."""
    kinds = [token[2] for token in group]
    while group and group[-1][2] == "relation":
        group = group[:-1]
        kinds = kinds[:-1]
    while group and group[0][2] == "relation":
        group = group[1:]
        kinds = kinds[1:]
    if not group:
        return []
    if any(kind in _STRONG for kind in kinds) or "relation" in kinds:
        return group
    # lone letters: an index or m is a formula; 'a', 'z', 'C' alone are words
    if all(kind == "single" and note[token[0]:token[1]] in "ijkpqxm" for token, kind in zip(group, kinds)):
        return group
    if all(kind == "number" for kind in kinds):
        return []
    return [] if any(note[token[0]:token[1]] in ("a", "z", "C") for token in group) else group


def _token(match, latex_printer, text_printer, note, function=None):
    """(latex, text) of one matched token, or None when it is not mathematics after all."""
    kind = match.lastgroup
    both = lambda obj: (latex_printer.doprint(obj), text_printer.doprint(obj))  # noqa: E731
    if kind == "derivative":
        variable = _symbol_in(match, "dvar") if match.group("dvar") else _ROLE_LETTERS[match.group("dletter")]
        if variable is None:
            return None
        latex, text = both(sp.Derivative(S.C, variable))
        return _inline_fraction(latex), text
    if kind == "transpose":
        variable = _symbol_in(match, "tvar")
        return None if variable is None else both(sp.Transpose(variable) if variable.is_Matrix else variable)
    if kind == "prime":
        g = function or latex_printer.notation.function
        if match.group("pvar").isdigit():           # g'(0) at a kink
            return r"%s'(%s)" % (g.latex, match.group("pvar")), "%s'(%s)" % (g.text, match.group("pvar"))
        variable = _symbol_in(match, "pvar")
        if variable is None:
            return None
        return (r"%s'(%s)" % (g.latex, latex_printer.doprint(variable)),
                "%s'(%s)" % (g.text, text_printer.doprint(variable)))
    if kind == "symbol":
        obj = _symbol_in(match, "symbol")
        return None if obj is None else both(obj)
    if kind == "bare":
        role = _ROLES[match.group("bletter")]
        index = match.group("bindex")
        index = sp.Integer(int(index)) if index.isdigit() else _INDEX_LETTERS[index]
        from ._naming import Name
        letter = latex_printer.namer.unit_letter(role)
        name = Name(letter, None, (index,))
        return latex_printer.decorate(name), text_printer.decorate(name)
    if kind == "sum":
        index = _INDEX_LETTERS[match.group("sindex")]
        return r"\sum_{%s}" % latex_printer.doprint(index), "Σ_%s" % text_printer.doprint(index)
    if kind == "call":
        name = match.group("fn")
        variable = _symbol_in(match, "arg") if len(match.group("arg")) > 1 else _ROLE_LETTERS[match.group("arg")]
        if variable is None:
            return None
        command = _FUNCTION_COMMANDS.get(name, r"\operatorname{%s}" % name)
        return (r"%s(%s)" % (command, latex_printer.doprint(variable)),
                "%s(%s)" % (name, text_printer.doprint(variable)))
    if kind == "hadamard":
        glyph = latex_printer.notation.hadamard
        return glyph.latex, glyph.text
    if kind == "relation":
        return "=", "="
    if kind == "single":
        letter = match.group(0)
        obj = _INDEX_LETTERS.get(letter) or (S.m if letter == "m" else _ROLE_LETTERS[letter])
        return both(obj)
    if kind == "number":
        return match.group(0), match.group(0)
    return None


_FUNCTION_COMMANDS = {"tanh": r"\tanh", "exp": r"\exp", "sinh": r"\sinh", "cosh": r"\cosh", "log": r"\log"}
_FRACTION = re.compile(r"^\\frac\{(\\partial [^{}]*(?:\{[^{}]*\}[^{}]*)*)\}\{(\\partial [^{}]*(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}[^{}]*)*)\}$")


def _inline_fraction(latex: str) -> str:
    """``\\frac{\\partial C}{\\partial a}`` as ``\\partial C/\\partial a``: a fraction inside a line of words
    would stretch the line."""
    match = _FRACTION.match(latex)
    return "%s/%s" % (match.group(1), match.group(2)) if match else latex


def _symbol_in(match, group: str):
    """The canonical object of the symbol matched inside ``group`` of a larger token."""
    inner = _SYMBOL.fullmatch(match.group(group))
    return parse_symbol(inner) if inner is not None else None


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

"""The tokenizer of the project's grammar: text in, a list of tokens with their 0-based columns out.

One lexer serves both dialects of the grammar:

* ``expression`` -- the scalar expressions of network options (``-(y*log(a) + (1-y)*log(1-a))``):
  identifiers may contain ``_`` (``leaky_relu``), and only ASCII is read, apart from the
  operators ``·`` ``×`` (times) and ``−`` (minus);
* ``formula`` -- the backpropagation formulas of ``symbackprop check``, in LaTeX or plain text:
  ``_`` is the subscript operator, LaTeX commands (``\\odot``) become tokens, and a few Unicode
  letters and operators (``δ σ ⊙ ′ ᵀ``) are read as their LaTeX spelling.

The lexer only classifies characters; it builds no numbers and never evaluates anything.
Limits that keep hostile input cheap (length, digits of a number, size of an exponent) live here.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParseError

MAX_LENGTH = 4000        #: characters in one expression or formula
MAX_DIGITS = 50          #: digits in one number literal
MAX_DECIMAL_EXPONENT = 300  #: |n| in a literal like 1e-n

NUMBER, NAME, COMMAND, OP, END = "number", "name", "command", "operator", "end"
INVALID = "invalid"   #: a character the grammar does not read; ``text`` holds the message

# Longest first, so that '**' wins over '*'.
_OPERATORS = ("**", ".*", "./", ".^", ":=", "+", "-", "*", "/", "^", "(", ")", "{", "}", "[", "]",
              ",", "=", "'", "_", "@", "|")

#: Unicode characters read as an ASCII operator in both dialects.
_UNICODE_OPERATORS = {"\u00b7": "*", "\u00d7": "*", "\u2212": "-", "\u22c5": "*"}

#: Unicode characters read as a LaTeX command (formula dialect only).
_UNICODE_COMMANDS = {
    "\u2299": r"\odot", "\u2218": r"\circ", "\u2202": r"\partial", "\u2207": r"\nabla",
    "\u2211": r"\sum", "\u03a3": r"\sum", "\u03b4": r"\delta", "\u0394": r"\Delta",
    "\u03c3": r"\sigma", "\u03bb": r"\lambda", "\u0398": r"\Theta", "\u03b8": r"\theta",
    "\u03c6": r"\phi", "\u03d5": r"\phi", "\u22a4": r"\top", "\u03b1": r"\alpha",
}
#: Unicode characters read as a name (both dialects): the constant pi.
_UNICODE_NAMES = {"\u03c0": "pi"}
#: LaTeX commands the expression dialect reads as a name (``\pi``); the formula dialect reads every
#: command through the parser's tables.
_EXPRESSION_COMMANDS = ("pi",)

#: Operators of the formula dialect only: comparisons (indicators such as ``(z > 0)``) and Octave's
#: range ``2:end``. Tried before :data:`_OPERATORS`; ``:`` after them, so that ``:=`` wins.
_FORMULA_OPERATORS = (">=", "<=", "~=", "!=", ">", "<")
_UNICODE_COMPARISONS = {"\u2265": ">=", "\u2264": "<=", "\u2260": "!="}
_COMBINING_TILDE = "\u0303"     #: Θ̃ is read as \tilde{\Theta}
_COMBINING_MARKS = {"\u0303": "\\tilde", "\u0304": "\\overline", "\u0305": "\\overline"}   #: C̄ is \overline{C}
#: Unicode characters read as an ASCII operator sequence (formula dialect only).
_UNICODE_FORMULA_OPERATORS = {"\u2032": "'", "\u2019": "'", "\u1d40": "^T"}


@dataclass(frozen=True)
class Token:
    """One token: its kind, its canonical text (``'·'`` is read as ``'*'``), and where it starts."""

    kind: str
    text: str
    column: int
    width: int = 1   #: characters it covers in the source
    command: bool = False   #: a NAME written as a LaTeX command (``\\delta``)

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind == END:
            return "end of input"
        return f"'{self.text}'"


def tokenize(text: str, dialect: str = "expression") -> list[Token]:
    """The tokens of ``text``, ending with an END token; raises ParseError on a character it cannot read."""
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"input is {len(text)} characters long; at most {MAX_LENGTH} are accepted",
                         text[:60] + "...", 60)
    formula = dialect == "formula"
    tokens: list[Token] = []
    pos, n = 0, len(text)
    while pos < n:
        ch = text[pos]
        if ch in " \t\r\n":
            pos += 1
        elif ch.isascii() and ch.isdigit() or (ch == "." and pos + 1 < n and text[pos + 1].isascii()
                                               and text[pos + 1].isdigit()):
            pos = _number(text, pos, tokens)
        elif ch.isascii() and (ch.isalpha() or (ch == "_" and not formula)):
            end = pos + 1
            while end < n and text[end].isascii() and (text[end].isalnum() or (text[end] == "_" and not formula)):
                end += 1
            tokens.append(Token(NAME, text[pos:end], pos, end - pos))
            pos = end
        elif formula and (ch in "&;" or text.startswith(("\\\\", "\\begin{cases}", "\\end{cases}"), pos)):
            pos = _case_punctuation(text, pos, tokens)
        elif ch == "\\" and formula:
            pos = _command(text, pos, tokens)
        elif ch == "\\" and _expression_command(text, pos):
            word = _expression_command(text, pos)
            tokens.append(Token(NAME, word, pos, len(word) + 1))
            pos += len(word) + 1
        elif ch in _UNICODE_NAMES:
            tokens.append(Token(NAME, _UNICODE_NAMES[ch], pos))
            pos += 1
        elif formula and ch == "." and pos + 1 < n and text[pos + 1].isascii() and text[pos + 1].isalpha():
            tokens.append(Token(OP, ".", pos))      # NumPy: np.dot, A.T
            pos += 1
        elif formula and ch in _COMBINING_MARKS and tokens and tokens[-1].kind in (NAME, COMMAND):
            letter = tokens.pop()
            tokens += [Token(COMMAND, _COMBINING_MARKS[ch], letter.column, letter.width), Token(OP, "{", letter.column),
                       letter, Token(OP, "}", pos)]
            pos += 1
        elif formula and ch in _UNICODE_COMPARISONS:
            tokens.append(Token(OP, _UNICODE_COMPARISONS[ch], pos))
            pos += 1
        elif ch in _UNICODE_OPERATORS:
            tokens.append(Token(OP, _UNICODE_OPERATORS[ch], pos))
            pos += 1
        elif formula and ch in _UNICODE_COMMANDS:
            tokens.append(Token(COMMAND, _UNICODE_COMMANDS[ch], pos))
            pos += 1
        elif formula and ch in _UNICODE_FORMULA_OPERATORS:
            for part in _UNICODE_FORMULA_OPERATORS[ch]:
                tokens.append(Token(NAME if part.isalpha() else OP, part, pos))
            pos += 1
        else:
            for op in (_FORMULA_OPERATORS + _OPERATORS + (":",)) if formula else _OPERATORS:
                if text.startswith(op, pos):
                    tokens.append(Token(OP, op, pos, len(op)))
                    pos += len(op)
                    break
            else:
                # Reported when the parser reaches it, so that earlier problems are named first.
                tokens.append(Token(INVALID, _bad_character(ch, formula), pos))
                pos += 1
    tokens.append(Token(END, "", n, 0))
    return tokens


def _bad_character(ch: str, formula: bool) -> str:
    shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
    if ch.isascii():
        accepted = "numbers, names, + - * / ^ ** ( )" + (", LaTeX commands, .* @ ' _ { } [ ]" if formula else "")
        return f"unexpected character {shown}; accepted: {accepted}"
    extra = ", and LaTeX or " + " ".join(sorted(_UNICODE_COMMANDS)) if formula else ""
    return (f"unexpected character {shown} (U+{ord(ch):04X}); only ASCII is read, apart from "
            f"the operators \u00b7 \u00d7 \u2212{extra}")


def _expression_command(text: str, pos: int) -> str:
    """The name of a LaTeX command the expression dialect reads (``\\pi`` -> ``'pi'``), else ''."""
    end = pos + 1
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    word = text[pos + 1:end]
    return word if word in _EXPRESSION_COMMANDS else ""


def _number(text: str, pos: int, tokens: list) -> int:
    """Read a decimal literal (``12``, ``0.5``, ``.5``, ``1e-3``) at ``pos``; returns the position after it."""
    start, n = pos, len(text)
    digits = 0
    while pos < n and text[pos].isascii() and text[pos].isdigit():
        pos, digits = pos + 1, digits + 1
    # A '.' belongs to the number unless it starts an Octave operator ('2.*a', '2./a', '2.^a').
    if pos < n and text[pos] == "." and not (pos + 1 < n and text[pos + 1] in "*/^'"):
        pos += 1
        while pos < n and text[pos].isascii() and text[pos].isdigit():
            pos, digits = pos + 1, digits + 1
    if pos < n and text[pos] in "eE":
        look = pos + 1
        if look < n and text[look] in "+-":
            look += 1
        if look < n and text[look].isascii() and text[look].isdigit():
            exp_start = look
            while look < n and text[look].isascii() and text[look].isdigit():
                look += 1
            exponent = text[exp_start:look].lstrip("0")
            if len(exponent) > 3 or int(exponent or "0") > MAX_DECIMAL_EXPONENT:
                raise ParseError(f"the exponent of {text[start:look]!r} is too large; "
                                 f"at most 1e\u00b1{MAX_DECIMAL_EXPONENT} is accepted", text, start)
            pos = look
    if digits > MAX_DIGITS:
        raise ParseError(f"number with {digits} digits; at most {MAX_DIGITS} are accepted", text, start)
    tokens.append(Token(NUMBER, text[start:pos], start, pos - start))
    return pos


def _case_punctuation(text: str, pos: int, tokens: list) -> int:
    r"""Case splits and Octave's statement end (formula dialect). ``\begin{cases} A & \text{if } C \\ B &
    \text{otherwise} \end{cases}`` is read as derive's text form ``{A if C; B otherwise}``: the environment is
    a brace, ``\\`` the ``;`` between cases, ``&`` a space. A ``;`` with nothing after it ends an Octave
    statement and is dropped."""
    for written, read in (("\\begin{cases}", "{"), ("\\end{cases}", "}"), ("\\\\", ";")):
        if text.startswith(written, pos):
            tokens.append(Token(OP, read, pos, len(written)))
            return pos + len(written)
    if text[pos] == "&":                # a case's value & its condition: read as 'if'
        tokens.append(Token(NAME, "if", pos))
    elif text[pos] == ";" and text[pos + 1:].strip():
        tokens.append(Token(OP, ";", pos))
    return pos + 1


def _command(text: str, pos: int, tokens: list) -> int:
    r"""Read a LaTeX command (``\odot``, or ``\,`` and other one-character commands) at ``pos``."""
    end = pos + 1
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    if end == pos + 1:   # a control symbol: \, \; \! \{ \} \| or '\' followed by a space
        if end >= len(text):
            raise ParseError("a lone '\\' at the end of the input; write a LaTeX command such as \\odot",
                             text, pos)
        ch = text[end]
        if not ch.isascii() or not ch.isprintable() and ch not in " \t":
            raise ParseError(_bad_character(ch, True), text, end)
        end += 1
    tokens.append(Token(COMMAND, text[pos:end], pos, end - pos))
    return end

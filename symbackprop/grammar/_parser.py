r"""The parser of the project's grammar: tokens in, a syntax tree (:mod:`._ast`) out.

A Pratt parser (precedence climbing), one for both dialects:

=========================  ===========  ======================================================
operator                   binds        notes
=========================  ===========  ======================================================
``=`` ``:=``               --           formula dialect, once, at the top
``,``                      5, left     formula dialect: index lists ``w_{k,j}``
``+`` ``-``                10, left
``* / .* ./ @ \odot``      20, left     juxtaposition (``2a``, ``a(1-a)``) binds like ``*``
unary ``-`` ``+``          25           so ``-a^2`` is ``-(a^2)`` and ``-a*b`` is ``(-a)*b``
``^`` ``**``               30, right    ``2^-a`` is allowed
postfix ``'`` , calls      40           formula dialect: ``g'(z)``, ``W'``
=========================  ===========  ======================================================

Nesting deeper than :data:`MAX_DEPTH` is refused with a :class:`ParseError`, so no input can
exhaust the Python stack.
"""
from __future__ import annotations

from typing import Iterable

from ..errors import ParseError
from . import _ast as A
from ._functions import CONSTANTS, FUNCTIONS, arity
from ._lexer import COMMAND, END, INVALID, NAME, NUMBER, OP, Token, tokenize

MAX_DEPTH = 200

COMMA, ADD, MUL, UNARY, POW, POSTFIX = 5, 10, 20, 25, 30, 40
COMPARE, RANGE = 7, 8   #: formula dialect: ``z > 0`` (an indicator), Octave's ``2:end``

#: Function names every dialect knows (the table of :mod:`._functions`).
BUILTIN_FUNCTIONS = tuple(FUNCTIONS)

_BINARY = {"+": ADD, "-": ADD, "*": MUL, "/": MUL, ".*": MUL, "./": MUL, "@": MUL,
           "^": POW, "**": POW, ".^": POW}
# Formula dialect: comparisons and Octave's range (the lexer makes these tokens in formulas only).
_BINARY.update({">": COMPARE, "<": COMPARE, ">=": COMPARE, "<=": COMPARE, "!=": COMPARE, "~=": COMPARE,
                ":": RANGE})
_EXPRESSION_ONLY_OPS = {".*": "*", "./": "/", ".^": "^"}   # scalar dialect reads them as the plain ones

# LaTeX commands, formula dialect.
_SPACING = {r"\,", r"\;", r"\:", r"\!", "\\ ", r"\quad", r"\qquad", r"\left", r"\right", r"\big", r"\Big",
            r"\bigg", r"\Bigg", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\displaystyle", r"\limits"}
_FONTS = {r"\mathbf", r"\boldsymbol", r"\bm", r"\mathrm", r"\mathit", r"\mathsf", r"\operatorname",
          r"\vec", r"\text", r"\mathcal", r"\textrm", r"\mathnormal", r"\pmb"}
_COMMAND_OPERATORS = {r"\cdot": "*", r"\times": "*", r"\odot": ".*", r"\circ": ".*", r"\prime": "'",
                      r"\{": "{", r"\}": "}", r"\lbrace": "{", r"\rbrace": "}", r"\lparen": "(",
                      r"\rparen": ")", r"\lbrack": "[", r"\rbrack": "]", r"\ast": "*"}
_COMMAND_NAMES = {r"\top": "T", r"\intercal": "T", r"\mathsf{T}": "T"}
LETTER_COMMANDS = ("alpha", "beta", "gamma", "delta", "Delta", "epsilon", "varepsilon", "eta", "theta",
                   "Theta", "lambda", "mu", "sigma", "tau", "phi", "varphi", "psi", "omega",
                   "ell", "Omega", "exp", "log", "ln", "tanh", "sinh", "cosh", "sqrt", "max", "min", "pi",
                   "sin", "cos", "arctan", "erf")
_STRUCTURE_COMMANDS = (r"\frac", r"\tfrac", r"\dfrac", r"\sum", r"\partial", r"\nabla", r"\hat", r"\tilde",
                       r"\overline", r"\bar")
# --- read in formulas as students write them (checker) ---------------------------------------------
#: comparisons, for indicators such as \mathbb{1}[z > 0]
_COMMAND_COMPARISONS = {r"\geq": ">=", r"\ge": ">=", r"\leq": "<=", r"\le": "<=", r"\neq": "!=", r"\ne": "!=",
                        r"\gt": ">", r"\lt": "<"}
#: more font commands, dropped like \mathbf: \mathbb{1} is the indicator 1
_MORE_FONTS = {r"\mathbb", r"\mathds", r"\mathbbm"}
#: words that start a condition after the right-hand side: "... for j >= 1", "\text{if } j \neq 0"
CONDITION_WORDS = ("for", "if", "when", "where")
#: the vector of ones as derive prints it (\mathbf{1}, or a lone 1 after a batch): a name no one can type
ONES = "\U0001d7cf"
_CLOSING = {"(": ")", "{": "}", "[": "]"}


#: font commands that name an operator: \operatorname{conv}(x) is the call conv(x)
_OPERATOR_FONTS = {r"\operatorname", r"\mathrm", r"\text", r"\textrm"}


def _operator_names_as_calls(tokens: list) -> list:
    r"""``\operatorname{f}(`` (or ``\mathrm{f}(``) read as the call ``f(``: the braces dropped with the command,
    so the name meets its parenthesis (otherwise ``{f}(x)`` reads as the product f·x)."""
    out, i = [], 0
    while i < len(tokens):
        window = tokens[i:i + 5]
        if (len(window) == 5 and window[0].kind == COMMAND and window[0].text in _OPERATOR_FONTS
                and window[1].text == "{" and window[2].kind == NAME and window[3].text == "}"
                and window[4].text == "("):
            out.append(window[2])
            i += 4
            continue
        out.append(tokens[i])
        i += 1
    return out


class Parser:
    """One parse of one text. Use :func:`parse` rather than this class."""

    def __init__(self, text: str, dialect: str, variables: Iterable[str] = (),
                 functions: Iterable[str] = (), arrays: Iterable[str] = ()):
        self.text, self.dialect = text, dialect
        self.formula = dialect == "formula"
        self.variables = tuple(variables)
        self.functions = tuple(dict.fromkeys((*BUILTIN_FUNCTIONS, *functions)))
        self.arrays = frozenset(arrays)     #: letters that are arrays, not functions, in this notation
        self.tokens = self._normalise(tokenize(text, dialect))
        self.pos = 0
        self.depth = 0

    # --- token handling --------------------------------------------------------------------
    def _normalise(self, tokens: list[Token]) -> list[Token]:
        """Drop LaTeX spacing and font commands; read operator commands as their operator."""
        out = []
        tokens = _read_as_derive_prints(tokens) if self.formula else tokens
        tokens = _operator_names_as_calls(tokens)
        for token in tokens:
            if token.kind == OP and not self.formula and token.text in _EXPRESSION_ONLY_OPS:
                token = Token(OP, _EXPRESSION_ONLY_OPS[token.text], token.column, token.width)
            if token.kind == COMMAND:
                if token.text in _SPACING or token.text in _FONTS or token.text in _MORE_FONTS:
                    continue
                if token.text in _COMMAND_COMPARISONS:
                    out.append(Token(OP, _COMMAND_COMPARISONS[token.text], token.column, token.width))
                    continue
                if token.text in _COMMAND_OPERATORS:
                    token = Token(OP, _COMMAND_OPERATORS[token.text], token.column, token.width)
                elif token.text in _COMMAND_NAMES:
                    token = Token(NAME, _COMMAND_NAMES[token.text], token.column, token.width)
                elif token.text[1:] in LETTER_COMMANDS:
                    token = Token(NAME, token.text[1:], token.column, token.width, command=True)
                elif token.text not in _STRUCTURE_COMMANDS:
                    accepted = " ".join(sorted({*_COMMAND_OPERATORS, *_COMMAND_NAMES, *_STRUCTURE_COMMANDS,
                                                *_COMMAND_COMPARISONS,
                                                *(f"\\{c}" for c in LETTER_COMMANDS)} - {r"\mathsf{T}"}))
                    token = Token(INVALID, f"unknown LaTeX command {token.text!r}; accepted: {accepted}",
                                  token.column)
            out.append(token)
        return out

    @property
    def token(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind == INVALID:
            raise ParseError(token.text, self.text, token.column)
        return token

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != END:
            self.pos += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.token
        return token.kind == kind and (text is None or token.text == text)

    def error(self, message: str, column: int | None = None) -> ParseError:
        return ParseError(message, self.text, self.token.column if column is None else column)

    def expected(self) -> str:
        """What may start an operand, for error messages."""
        if self.formula:
            return "a number, a name such as a or \\delta, a LaTeX command, or '('"
        variables = f"a variable ({', '.join(self.variables)})" if self.variables else "a variable"
        return f"a number, {variables} or a function ({', '.join(self.functions)})"

    def unexpected(self, token: Token | None = None, after: str = "") -> ParseError:
        token = token or self.token
        if token.kind == OP and token.text in ")}]":
            return self.error(f"unbalanced {token.describe()}: nothing to close{after}", token.column)
        return self.error(f"unexpected {token.describe()}{after}; expected {self.expected()}", token.column)

    # --- entry points ----------------------------------------------------------------------------
    def parse_expression(self) -> A.Node:
        if self.at(END):
            raise self.error(f"empty input; expected {self.expected()}", 0)
        node = self.expression(0)
        if not self.at(END):
            raise self.trailing()
        return node

    def parse_equation(self) -> A.Equation:
        if self.at(END):
            raise self.error("empty formula; write LHS = RHS, e.g. delta^L = (a^L - y) .* sigma'(z^L)", 0)
        lhs = self.expression(0)
        if not (self.at(OP, "=") or self.at(OP, ":=")):
            if self.at(END):
                raise self.error("no '=' in the formula; write LHS = RHS, e.g. delta^L = a^L - y")
            raise self.trailing()
        eq = self.advance()
        if self.at(END):
            raise self.error(f"nothing after '='; expected {self.expected()}")
        rhs = self.expression(0)
        condition = None
        if self.at_condition():
            self.skip_condition_word()
            condition = self.expression(0)
            if self.at_case_word("else") or self.at(OP, ";"):     # g'(z) = 1 if z > 0 else α e^z
                rhs, condition = self.cases(eq.column, rhs, condition), None
        elif isinstance(rhs, A.Binary) and rhs.op == "," and _is_comparison(rhs.right):
            rhs, condition = rhs.left, rhs.right        # "..., j \neq 0"
        if not self.at(END):
            raise self.trailing()
        return A.Equation(eq.column, lhs, rhs, condition)

    def at_ones(self) -> bool:
        """A lone 1 at the end of a product, as derive prints the vector of ones: (d^(l))^T 1."""
        token, following = self.token, self.tokens[self.pos + 1]
        return token.kind == NUMBER and token.text == "1" and (
            following.kind == END or (following.kind == OP and following.text in ("+", "-", ")", "}", "]")))

    def at_condition(self) -> bool:
        """At 'for', 'if' ... or at '{for}' (what \\text{ for } leaves), after a complete right-hand side."""
        if not self.formula:
            return False
        token = self.token
        if token.kind == NAME and token.text in CONDITION_WORDS:
            return True
        following = self.tokens[self.pos + 1: self.pos + 3]
        return (token.kind == OP and token.text == "{" and len(following) == 2 and following[0].kind == NAME
                and following[0].text in CONDITION_WORDS and following[1].text == "}")

    def at_case_word(self, word: str) -> bool:
        """At ``else`` or ``otherwise``, bare or braced (what ``\text{otherwise}`` leaves)."""
        token, following = self.token, self.tokens[self.pos + 1: self.pos + 3]
        if token.kind == NAME and token.text == word:
            return True
        return (token.kind == OP and token.text == "{" and len(following) == 2 and following[0].kind == NAME
                and following[0].text == word and following[1].text == "}")

    def cases(self, column: int, first: A.Node, condition: A.Node) -> A.Node:
        """A case split, read as the sum of each case times its indicator: ``A if C; B otherwise`` (derive's
        text), ``A if C else B`` (Python), ``A if C; B if D``. 'otherwise' and 'else' are the complement of
        the conditions before them, which must be comparisons (their complement flips the operator)."""
        pieces = [(first, condition)]
        while True:
            if self.at_case_word("else"):
                self.skip_condition_word()
            elif self.at(OP, ";"):
                self.advance()
            else:
                break
            value = self.expression(0)
            conditioned = False
            while self.at_condition():               # 'if', or '& \text{if }' (both read as 'if')
                self.skip_condition_word()
                conditioned = True
            if self.at_case_word("otherwise"):
                self.skip_condition_word()
                pieces.append((value, None))
                break
            if conditioned:
                pieces.append((value, self.expression(0)))
                continue
            pieces.append((value, None))
            break
        if len(pieces) < 2:
            raise self.error("a case split has two cases or more, e.g. {α e^z if z ≤ 0; 1 otherwise}")
        node = None
        for value, test in pieces:
            if test is None:
                test = self.complement([t for _, t in pieces if t is not None], column)
            term = A.Binary(value.column, ".*", A.Group(value.column, value, "("), A.Group(test.column, test, "("))
            node = term if node is None else A.Binary(column, "+", node, term)
        return node

    def complement(self, tests: list, column: int) -> A.Node:
        """'otherwise': the one comparison before it, negated."""
        flipped = {">": "<=", "<=": ">", "<": ">=", ">=": "<"}
        if len(tests) != 1 or not (isinstance(tests[0], A.Binary) and tests[0].op in flipped):
            raise self.error("'otherwise' is read after one comparison such as z > 0; write each case's "
                             "condition, e.g. {1 if z > 0; 0 if z <= 0}", column)
        test = tests[0]
        return A.Binary(test.column, flipped[test.op], test.left, test.right)

    def skip_condition_word(self) -> None:
        if self.at(OP, "{"):
            self.advance()
            self.advance()
        self.advance()

    def trailing(self) -> ParseError:
        token = self.token
        if token.kind == OP and token.text in ")}]":
            return self.unexpected(token)
        if token.kind == OP and token.text in ("=", ":="):
            if self.formula:
                return self.error("a second '=' ; a formula has one '='")
            return self.error("unexpected '='; an expression has no '='")
        return self.unexpected(token, " after a complete expression")

    # --- the Pratt loop ------------------------------------------------------------------------
    def expression(self, min_bp: int) -> A.Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels")
        try:
            left = self.prefix()
            while True:
                token = self.token
                if token.kind == OP and (token.text in _BINARY or (self.formula and token.text == ",")):
                    bp = _BINARY.get(token.text, COMMA)
                    if bp <= min_bp:
                        break
                    self.advance()
                    op = {"**": "^", ".^": "^"}.get(token.text, token.text)
                    if self.at(END):
                        raise self.error(f"nothing after {token.describe()}; expected {self.expected()}")
                    right = self.expression(bp - 1 if bp == POW else bp)
                    left = A.Binary(token.column, op, left, right)
                elif self.formula and token.kind == OP and token.text == "'":
                    left = self.primes(left)
                elif self.formula and token.kind == OP and token.text == ".":
                    left = self.attribute(left)
                elif self.starts_operand(token):
                    if MUL <= min_bp:
                        break
                    if self.formula and self.at_ones():
                        ones = self.advance()
                        left = A.Binary(ones.column, "juxt", left, A.Name(ones.column, ONES, True))
                        continue
                    if token.kind == NUMBER:
                        raise self.error(f"a number cannot follow an operand directly: "
                                         f"write '*' before {token.describe()}")
                    right = self.expression(MUL)
                    left = A.Binary(token.column, "juxt", left, right)
                else:
                    break
            return left
        finally:
            self.depth -= 1

    def starts_operand(self, token: Token) -> bool:
        if self.formula and (self.at_condition() or self.at_case_word("else") or self.at_case_word("otherwise")):
            return False
        if token.kind in (NUMBER, NAME):
            return True
        if token.kind == COMMAND:
            return self.formula
        return token.kind == OP and (token.text == "(" or (self.formula and token.text in "{["))

    # --- operands ---------------------------------------------------------------------------------
    def prefix(self) -> A.Node:
        token = self.token
        if token.kind == NUMBER:
            self.advance()
            return A.Number(token.column, token.text)
        if self.formula and token.kind == NAME and token.text == ONES:
            self.advance()
            return A.Name(token.column, ONES, True)
        if self.formula and token.kind == OP and token.text == ":" and self.tokens[self.pos + 1].text in (",", ")"):
            self.advance()          # Octave's whole dimension: Theta1(:, 2:end)
            return A.Name(token.column, ":")
        if token.kind == OP and token.text in "+-":
            self.advance()
            if self.at(END):
                raise self.error(f"nothing after {token.describe()}; expected {self.expected()}")
            return A.Unary(token.column, token.text, self.expression(UNARY))
        if token.kind == OP and (token.text == "(" or (self.formula and token.text in "{[")):
            return self.after_atom(self.group())
        if token.kind == NAME:
            return self.name()
        if token.kind == COMMAND:
            return self.structure()
        if token.kind == END:
            raise self.error(f"unexpected end of input; expected {self.expected()}")
        raise self.unexpected(token)

    def group(self) -> A.Group:
        open_ = self.advance()
        close = _CLOSING[open_.text]
        if self.at(OP, close):
            raise self.error(f"empty {open_.text}{close}; expected {self.expected()} inside", open_.column)
        inner = self.expression(0)
        if self.formula and self.at_condition():     # {α e^z if z ≤ 0; 1 otherwise}, \begin{cases}
            self.skip_condition_word()
            if self.at_condition():                   # '& \text{if }': both read as 'if'
                self.skip_condition_word()
            inner = self.cases(open_.column, inner, self.expression(0))
        if not self.at(OP, close):
            if self.at(END):
                raise self.error(f"{open_.describe()} at column {open_.column + 1} is never closed; "
                                 f"expected {close!r}", open_.column)
            token = self.token
            if token.kind == OP and token.text in ")}]":
                raise self.error(f"{token.describe()} does not match the {open_.describe()} at column "
                                 f"{open_.column + 1}; expected {close!r}")
            raise self.unexpected(token, f" inside {open_.describe()}")
        self.advance()
        return A.Group(open_.column, inner, open_.text)

    def name(self) -> A.Node:
        token = self.advance()
        if not self.formula:
            return self.expression_name(token)
        node: A.Node = A.Name(token.column, token.text, token.command)
        # Plain-text names with underscores that are functions: leaky_relu(z).
        while (self.at(OP, "_") and self.tokens[self.pos + 1].kind == NAME
               and f"{node.name}_{self.tokens[self.pos + 1].text}" in self.functions):
            self.advance()
            node = A.Name(node.column, f"{node.name}_{self.advance().text}")
        return self.after_atom(self.scripts(node))

    def expression_name(self, token: Token) -> A.Node:
        if token.text in self.functions:
            if not self.at(OP, "("):
                raise self.error(f"function '{token.text}' needs its argument in parentheses, "
                                 f"e.g. {FUNCTIONS[token.text].usage if token.text in FUNCTIONS else token.text + '(z)'}",
                                 token.column)
            return A.Call(token.column, A.Name(token.column, token.text), self.call_arguments(token))
        if token.text in self.variables or token.text in CONSTANTS:
            return A.Name(token.column, token.text)
        variables = ", ".join(self.variables) or "none"
        functions = ", ".join(self.functions)
        raise self.error(f"unknown name '{token.text}'; accepted variables: {variables}; "
                         f"constants: {', '.join(CONSTANTS)}; functions: {functions}", token.column)

    def call_arguments(self, function: Token) -> A.Node:
        """``(u)`` or ``(u, v, ...)`` after a function name, as many as it takes: one node, several
        arguments joined left to right by ``','`` (as the formula dialect reads ``max(0, z)``)."""
        open_ = self.token
        expected = arity(function.text)
        group = self.group() if expected == 1 else None
        if group is not None:
            return group.inner
        self.advance()
        usage = FUNCTIONS[function.text].usage
        if self.at(OP, ")"):
            raise self.error(f"empty (); {function.text} takes {expected} arguments: {usage}", open_.column)
        node = self.expression(0)
        count = 1
        while self.at(OP, ","):
            comma = self.advance()
            if self.at(OP, ")") or self.at(END):
                raise self.error(f"nothing after ','; {function.text} takes {expected} arguments: {usage}")
            node = A.Binary(comma.column, ",", node, self.expression(0))
            count += 1
        if not self.at(OP, ")"):
            if self.at(END):
                raise self.error(f"'(' at column {open_.column + 1} is never closed; expected ')'", open_.column)
            raise self.unexpected(self.token, f" inside the arguments of {function.text}")
        self.advance()
        if count != expected:
            raise self.error(f"{function.text} takes {expected} arguments ({usage}), not {count}", function.column)
        return node

    # --- formula dialect --------------------------------------------------------------------------
    def is_function(self, node: A.Node) -> bool:
        """True when ``node`` followed by '(' is a call. A letter the notation uses for an array (Goodfellow's
        h^(k)) is not a function unless primed: ``h^{(k-1)} (g)^T`` is a product, ``h'(a)`` a derivative."""
        if self.array_letter(node):
            return False
        while isinstance(node, (A.Prime, A.Script)):
            node = node.operand if isinstance(node, A.Prime) else node.base
        return isinstance(node, A.Name) and (node.name in self.functions or node.name in FORMULA_FUNCTIONS)

    def array_letter(self, node: A.Node) -> bool:
        while isinstance(node, A.Script):
            node = node.base
        return isinstance(node, A.Name) and node.name in self.arrays

    def after_atom(self, node: A.Node) -> A.Node:
        """Primes, a function call, Octave indexing and NumPy attributes right after an operand."""
        if self.at(OP, "'"):
            node = self.primes(node)
        if self.formula and self.at(OP, "(") and self.is_function(node):
            node = A.Call(_start(node), node, self.keyword_call_arguments())
        while self.formula:
            if isinstance(node, A.Group) and node.delimiter == "[" and self.at(OP, "_") and self.rows_subscript():
                node = A.Index(node.column, node, A.Binary(node.column, ",", A.Binary(
                    node.column, ":", A.Number(node.column, "2"), A.Name(node.column, "end")), A.Name(node.column, ":")))
            elif self.at(OP, "(") and not self.is_function(node):
                index = self.octave_index(node)
                if index is None:
                    break
                node = index
            elif self.at(OP, "'") and isinstance(node, A.Index):
                node = self.primes(node)
            elif self.at(OP, "[") and isinstance(node, (A.Name, A.Script, A.Slice)) and self.slice_ahead():
                node = self.numpy_slice(node)
            elif self.at(OP, "."):
                node = self.attribute(node)
            else:
                break
        return node

    # --- program code: Octave and NumPy -----------------------------------------------------------
    def rows_subscript(self) -> bool:
        """derive's ``[X]_(rows 1..)``: the rows from 1 on, Ng's bias row 0 dropped. Consumes it when there."""
        start = self.pos
        opening = self.tokens[start + 1]
        if opening.kind != OP or opening.text not in "({":
            return False
        close = _CLOSING[opening.text]
        words = next((t for t in self.tokens[start + 2: start + 5] if t.kind != OP or t.text != "{"), None)
        if words is None or words.kind != NAME or words.text != "rows":
            return False
        depth, position = 0, start + 1
        while position < len(self.tokens) and self.tokens[position].kind != END:
            token = self.tokens[position]
            if token.kind == OP and token.text == opening.text:
                depth += 1
            elif token.kind == OP and token.text == close:
                depth -= 1
                if depth == 0:
                    self.pos = position + 1
                    return True
            position += 1
        return False

    def slice_ahead(self) -> bool:
        """Whether a '[' right after an array (no space) opens NumPy slicing: a ':' inside at its own depth."""
        previous, start = self.tokens[self.pos - 1], self.pos
        if self.token.column != previous.column + previous.width:
            return False
        depth, position = 0, start
        while self.tokens[position].kind != END:
            token = self.tokens[position]
            if token.kind == OP and token.text in "([{":
                depth += 1
            elif token.kind == OP and token.text in ")]}":
                depth -= 1
                if depth == 0:
                    return False
            elif token.kind == OP and token.text == ":" and depth == 1:
                return True
            position += 1
        return False

    def numpy_slice(self, base: A.Node) -> A.Slice:
        """``X[:, :n_a]``, ``X[:, n_a:]``, ``X[a:b, :]``: one start:stop per axis, either left out."""
        open_ = self.advance()
        axes = []
        while True:
            start = None if self.at(OP, ":") else self.expression(RANGE)
            if self.at(END) or self.at(OP, ")") or self.at(OP, "}"):
                raise self.error(f"'[' at column {open_.column + 1} is never closed; expected ']'", open_.column)
            if not self.at(OP, ":"):
                raise self.error("NumPy slicing is read with a ':' on every axis, e.g. Wf[:, :n_a] or Wf[:, n_a:]")
            self.advance()
            if self.at(OP, ":"):
                raise self.error("a slice's step (start:stop:step) is not read; write start:stop, e.g. Wf[:, n_a:]")
            stop = None if self.at(OP, ",") or self.at(OP, "]") else self.expression(RANGE)
            if self.at(OP, ":"):
                raise self.error("a slice's step (start:stop:step) is not read; write start:stop, e.g. Wf[:, n_a:]")
            axes.append((start, stop))
            if self.at(OP, ","):
                self.advance()
                continue
            break
        if not self.at(OP, "]"):
            if self.at(END) or self.at(OP, ")") or self.at(OP, "}"):
                raise self.error(f"'[' at column {open_.column + 1} is never closed; expected ']'", open_.column)
            raise self.unexpected(self.token, " inside the slicing '[...]'")
        self.advance()
        return A.Slice(open_.column, base, tuple(axes))

    def keyword_call_arguments(self) -> A.Node:
        """``(x)``, ``(x, y)``, and NumPy's keyword arguments ``(dZ, axis=1, keepdims=True)``."""
        open_ = self.token
        group = self.group_with_keywords()
        if group is None:
            raise self.error("a function's arguments: expected ')'", open_.column)
        return group

    def group_with_keywords(self):
        open_ = self.advance()
        if self.at(OP, ")"):
            raise self.error(f"empty (); expected {self.expected()} inside", open_.column)
        items = []
        while True:
            item = self.expression(COMMA)
            if self.at(OP, "=") and isinstance(item, A.Name):
                equals = self.advance()
                item = A.Binary(equals.column, "kw", item, self.expression(COMMA))
            items.append(item)
            if self.at(OP, ","):
                self.advance()
                continue
            break
        if not self.at(OP, ")"):
            if self.at(END):
                raise self.error(f"'(' at column {open_.column + 1} is never closed; expected ')'", open_.column)
            raise self.unexpected(self.token, " inside '('")
        self.advance()
        node = items[0]
        for item in items[1:]:
            node = A.Binary(item.column, ",", node, item)
        return node

    def octave_index(self, node: A.Node):
        """``X(2:end)``, ``Theta1(:, 2:end)``: a parenthesis after an array that holds ':' or 'end'.
        Anything else is left to be juxtaposition (``a(1-a)``); returns None then."""
        start = self.pos
        try:
            group = self.group()
        except ParseError:
            self.pos = start
            return None
        if not any((isinstance(n, A.Binary) and n.op == ":") or (isinstance(n, A.Name) and n.name in (":", "end"))
                   for n in A.walk(group.inner)):
            self.pos = start
            return None
        return A.Index(group.column, node, group.inner)

    def attribute(self, node: A.Node) -> A.Node:
        """NumPy's ``A.T`` (a transpose) and dotted names ``np.dot``, ``np.sum`` (functions)."""
        dot = self.advance()
        if not self.at(NAME):
            raise self.error("expected a name after '.', e.g. A.T or np.dot", dot.column)
        name = self.advance()
        if name.text == "T":
            return A.Binary(dot.column, "^", node, A.Name(name.column, "T"))
        if name.text in ("sum", "mean") and self.at(OP, "(") and f"np.{name.text}" in self.functions \
                and not (isinstance(node, A.Name) and node.name == "np"):
            # NumPy's method X.sum(axis=1, keepdims=True): np.sum(X, axis=1, keepdims=True)
            function = A.Name(node.column, f"np.{name.text}")
            if self.tokens[self.pos + 1].kind == OP and self.tokens[self.pos + 1].text == ")":
                self.advance()
                self.advance()
                return A.Call(node.column, function, node)
            arguments = self.keyword_call_arguments()
            return A.Call(node.column, function, A.Binary(dot.column, ",", node, arguments))
        if not isinstance(node, A.Name):
            raise self.error(f"'.{name.text}' is read after a name only (np.{name.text}); "
                             f"write a transpose as .T", dot.column)
        dotted = A.Name(node.column, f"{node.name}.{name.text}")
        if self.at(OP, "(") and self.is_function(dotted):
            return A.Call(node.column, dotted, self.keyword_call_arguments())
        if self.at(OP, "("):
            raise self.error(f"unknown function '{dotted.name}'; accepted: "
                             f"{', '.join(f for f in self.functions if '.' in f)}", node.column)
        return dotted

    def primes(self, node: A.Node) -> A.Node:
        column, count = self.token.column, 0
        while self.at(OP, "'"):
            self.advance()
            count += 1
        node = A.Prime(column, node, count)
        if self.at(OP, "(") and self.is_function(node):
            node = A.Call(_start(node), node, self.keyword_call_arguments())
        return node

    def scripts(self, base: A.Node) -> A.Node:
        """``_sub`` and ``^sup`` after a name, in either order, at most one of each."""
        sub = sup = None
        style = ""
        primes = 0
        while self.at(OP, "_") or self.at(OP, "^"):
            token = self.token
            if token.text == "_":
                if sub is not None:
                    raise self.error("a second subscript '_'; group them, e.g. w_{jk}")
                self.advance()
                sub, _ = self.script_argument(token)
            else:
                if sup is not None:
                    break   # a second '^' is a power or a transpose of the scripted name: W^l^T
                self.advance()
                if self.at(OP, "'"):       # g^{\prime} written as g^'
                    while self.at(OP, "'"):
                        self.advance()
                        primes += 1
                    sup = A.Name(token.column, "")
                    continue
                sup, style = self.script_argument(token)
                previous = self.tokens[self.pos - 1]
                if style and self.at(NAME, "T") and self.token.column == previous.column + previous.width:
                    # plain text A^[l-1]T: the layer, then a transpose
                    transpose = self.advance()
                    sup = A.Binary(transpose.column, "juxt", A.Group(sup.column, sup, style),
                                   A.Name(transpose.column, "T"))
                    style = ""
                if isinstance(sup, A.Prime) and not self.is_function(sup.operand):
                    # g^{[l]'}: the layer, then the derivative
                    primes += sup.count
                    sup = sup.operand
                    if isinstance(sup, A.Group):
                        style, sup = sup.delimiter, sup.inner
        if sup is not None and isinstance(sup, A.Name) and sup.name == "":
            sup = None
        if sub is None and sup is None:
            return A.Prime(base.column, base, primes) if primes else base
        node = A.Script(base.column, base, sub, sup, style)
        return A.Prime(base.column, node, primes) if primes else node

    def script_argument(self, operator: Token) -> tuple[A.Node, str]:
        """The argument of ``_`` or ``^``: a braced group, a bracketed group, or one token."""
        token = self.token
        if token.kind == OP and token.text in "({[":
            group = self.group()
            inner, style = group.inner, group.delimiter if group.delimiter in "([" else ""
            if group.delimiter == "{" and isinstance(inner, A.Group) and inner.delimiter in "([":
                inner, style = inner.inner, inner.delimiter
            if group.delimiter == "{" and isinstance(inner, A.Prime) and isinstance(inner.operand, A.Group):
                return A.Prime(inner.column, inner.operand, inner.count), ""
            return inner, style
        if token.kind == NAME:
            self.advance()
            return A.Name(token.column, token.text, token.command), ""
        if token.kind == NUMBER:
            self.advance()
            return A.Number(token.column, token.text), ""
        if token.kind == OP and token.text in "+-":
            self.advance()
            return A.Unary(token.column, token.text, self.script_argument(token)[0]), ""
        if token.kind == END:
            raise self.error(f"nothing after {operator.describe()}; expected a script such as l, {{l+1}} or (l)")
        raise self.error(f"unexpected {token.describe()} after {operator.describe()}; "
                         f"expected a script such as l, {{l+1}} or (l)")

    def structure(self) -> A.Node:
        token = self.advance()
        command = token.text
        if command in (r"\frac", r"\tfrac", r"\dfrac"):
            numerator = self.braced(command)
            denominator = self.braced(command)
            return self.after_atom(A.Binary(token.column, "frac", numerator, denominator))
        if command in (r"\hat", r"\tilde", r"\overline", r"\bar"):
            inner = self.braced(command)
            if not isinstance(inner, A.Name):
                raise self.error(rf"{command} takes one letter, e.g. {command}{{y}}", token.column)
            accent = {"overline": "bar"}.get(command[1:], command[1:])
            return self.after_atom(self.scripts(A.Name(token.column, inner.name + accent, True)))
        if command == r"\sum":
            return self.summation(token)
        if command == r"\partial":
            if self.formula and (self.at(OP, "}") or self.at(OP, "=")):
                return A.Partial(token.column, None)     # the operator form \frac{\partial}{\partial w} J
            if self.at(END):
                raise self.error(r"nothing after \partial; expected what is differentiated, e.g. \partial C")
            return A.Partial(token.column, self.expression(UNARY))
        if command == r"\nabla":
            sub = sup = None
            while self.at(OP, "_") or self.at(OP, "^"):
                script = self.advance()
                argument, style = self.script_argument(script)
                if script.text == "_":
                    sub = argument
                else:
                    sup = A.Script(argument.column, A.Name(argument.column, ""), None, argument, style)
            if sup is not None and (self.at(OP, "=") or self.at(OP, ":=")):
                return A.Nabla(token.column, sub, None, sup)     # \nabla^{(l)}_{ij}: the gradient of layer l's weights
            if self.at(END):
                raise self.error(r"nothing after \nabla; expected what is differentiated, e.g. \nabla_a C")
            return A.Nabla(token.column, sub, self.expression(UNARY))
        raise self.unexpected(token)   # pragma: no cover - every structure command is handled above

    def braced(self, command: str) -> A.Node:
        """One argument of a LaTeX command: ``{...}`` or a single token."""
        if self.at(OP, "{"):
            group = self.group()
            return group.inner
        token = self.token
        if token.kind in (NAME, NUMBER):
            self.advance()
            if token.kind == NUMBER:
                return A.Number(token.column, token.text)
            return A.Name(token.column, token.text, token.command)
        raise self.error(f"{command} expects an argument in braces, e.g. {command}{{1}}{{m}}")

    def summation(self, token: Token) -> A.Sum:
        index = lower = upper = None
        while self.at(OP, "_") or self.at(OP, "^"):
            script = self.advance()
            if script.text == "_" and self.at(OP, "{"):      # \sum_{k} or \sum_{k=1}
                open_ = self.advance()
                index = self.expression(0)
                if self.at(OP, "="):
                    self.advance()
                    lower = self.expression(0)
                if not self.at(OP, "}"):
                    if self.at(END):
                        raise self.error(f"'{{' at column {open_.column + 1} is never closed; expected '}}'",
                                         open_.column)
                    raise self.unexpected(self.token, r" in the index of \sum")
                self.advance()
                continue
            argument, _ = self.script_argument(script)
            if script.text == "_":
                index = argument
            else:
                upper = argument
        if index is None:
            raise self.error(r"\sum needs its index, e.g. \sum_k", token.column)
        if self.at(END):
            raise self.error(r"nothing after \sum; expected the summand")
        body = self.expression(ADD)
        return A.Sum(token.column, index, body, lower, upper)


#: Names that are functions in formulas: g'(z), \sigma'(z), f'(a), h'(a), \phi(z).
FORMULA_FUNCTIONS = ("sigma", "g", "f", "h", "phi", "varphi", "sigmoid", "relu", "softplus", "softmax",
                     "ReLU", "max", "min", "log", "ln", "exp", "tanh", "sqrt")


def _read_as_derive_prints(tokens: list[Token]) -> list[Token]:
    r"""Token patterns of derive's LaTeX: \mathbin{.*} is the operator .*; \mathbf{1} the vector of ones;
    \ldots inside derive's "rows 1 \ldots" is kept as a name the rows subscript skips."""
    out, i = [], 0
    while i < len(tokens):
        token = tokens[i]
        ahead = tokens[i + 1: i + 4]
        if token.kind == COMMAND and token.text == r"\mathbin" and len(ahead) == 3 and ahead[0].text == "{" \
                and ahead[1].kind == OP and ahead[2].text == "}":
            out.append(ahead[1])
            i += 4
            continue
        if token.kind == COMMAND and token.text in (r"\mathbf", r"\boldsymbol", r"\bm") and len(ahead) == 3 \
                and ahead[0].text == "{" and ahead[1].kind == NUMBER and ahead[1].text == "1" and ahead[2].text == "}":
            out.append(Token(NAME, ONES, token.column, ahead[2].column + 1 - token.column, command=True))
            i += 4
            continue
        if token.kind == COMMAND and token.text == r"\ldots":
            out.append(Token(NAME, "ldots", token.column, token.width))
            i += 1
            continue
        out.append(token)
        i += 1
    return out


def _is_comparison(node: A.Node) -> bool:
    return isinstance(node, A.Binary) and node.op in (">", "<", ">=", "<=", "!=", "~=")


def _start(node: A.Node) -> int:
    """The column where a function such as g'^{[l]} starts (its name, not its prime)."""
    while isinstance(node, (A.Prime, A.Script)):
        node = node.operand if isinstance(node, A.Prime) else node.base
    return node.column


def parse(text: str, dialect: str = "expression", variables: Iterable[str] = (),
          functions: Iterable[str] = (), arrays: Iterable[str] = ()) -> A.Node:
    """The syntax tree of ``text``: an expression, or an :class:`~._ast.Equation` in the formula dialect."""
    try:
        parser = Parser(text, dialect, variables, functions, arrays)
        return parser.parse_equation() if dialect == "formula" else parser.parse_expression()
    except RecursionError:   # a guard behind MAX_DEPTH: a deep stack at the caller
        raise ParseError(f"the input is nested too deeply; at most {MAX_DEPTH} levels are accepted",
                         text if isinstance(text, str) else "", 0) from None

r"""The syntax of the layer language: text in, a list of statements (a syntax tree) out.

The lines of a layer (``#`` starts a comment)::

    layer     := { line NEWLINE }
    line      := decl | const | init | equation | output | (empty)
    decl      := ("input" | "param") slot { "," slot }
    slot      := NAME "[" axis { "," axis } "]"
    axis      := SIZE [ "pad" (NAME | NUMBER) ]                 zero padding: reads outside are 0
    const     := "const" NAME "=" ["-"] NUMBER { "," NAME "=" ["-"] NUMBER }
    size      := "size" SIZE "=" expr { "," SIZE "=" expr }     a derived size; '/' rounds down
    output    := "output" NAME { "," NAME }
    init      := "init" NAME "=" NAME { "," NAME "=" NAME }    a recurrence's initial state (layers/_recurrence.py)
    equation  := NAME "[" bound { "," bound } "]" "=" expr
    bound     := INDEX [ "in" SIZE ]                            the range, where no slot gives it
    expr      := term { ("+" | "-") term }
    term      := unary { ("*" | "/") unary }
    unary     := ("-" | "+") unary | power
    power     := atom [ ("^" | "**") unary ]            right-associative
    atom      := NUMBER | NAME | NAME "[" expr { "," expr } "]"
               | ("sum" | "mean" | "max") "(" expr "," bound { "," bound } ")"
               | FUNCTION "(" expr ")" | "(" expr ")"

Subscripts are parsed as expressions: a bare index letter, or index arithmetic (``h*S + i*R - P``,
read by :mod:`._windows`) on an axis declared with ``pad``. The tokens come from the
project's lexer (:func:`symbackprop.grammar._lexer.tokenize`, expression dialect); nothing is
evaluated. Every error names the line, the column (with a caret) and what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..errors import ParseError
from ..grammar._lexer import END, INVALID, NAME, NUMBER, OP, Token, tokenize

MAX_LINES = 400
MAX_DEPTH = 100
KEYWORDS = ("input", "param", "const", "output", "init")
REDUCTIONS = ("sum", "mean", "max")      #: calls that take an expression and the indices they run over


# ---- the syntax tree -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Where:
    """Where a piece of text is: the 1-based line, its text, and the 0-based column."""

    line: int
    text: str
    column: int

    def error(self, message: str, error_type=ParseError):
        if error_type is ParseError:
            return ParseError(f"line {self.line}: {message}", self.text, self.column)
        return error_type(f"line {self.line}: {message}\n  {self.text}\n  {' ' * self.column}^")


@dataclass(frozen=True)
class Num:
    text: str
    where: Where


@dataclass(frozen=True)
class Name:
    name: str
    where: Where


@dataclass(frozen=True)
class Ref:
    """``x[n, d]``: a quantity at the given subscripts (each an expression)."""

    name: str
    subscripts: tuple
    where: Where


@dataclass(frozen=True)
class Call:
    """``f(expr)``, or ``sum(expr, i, j)`` with ``indices`` the summed index names."""

    function: str
    argument: "Expr"
    where: Where
    indices: tuple = ()          #: for sum, mean, max: ((name, Where), ...)
    ranges: tuple = ()           #: ((index name, size name, Where), ...) for ``i in K``


@dataclass(frozen=True)
class Binary:
    op: str                      #: + - * / ^
    left: "Expr"
    right: "Expr"
    where: Where


@dataclass(frozen=True)
class Negate:
    operand: "Expr"
    where: Where


Expr = Union[Num, Name, Ref, Call, Binary, Negate]


@dataclass(frozen=True)
class Slot:
    """A declared array: ``x[N, D]``: its name and its size names."""

    name: str
    sizes: tuple                 #: ((size name, Where), ...)
    where: Where
    pads: tuple = ()             #: ((axis position, amount as written, Where), ...) for ``H pad P``


@dataclass(frozen=True)
class Declaration:
    kind: str                    #: 'input' or 'param'
    slots: tuple


@dataclass(frozen=True)
class Constant:
    name: str
    value: str                   #: the literal as written ('1e-5', '-0.5')
    where: Where


@dataclass(frozen=True)
class SizeDefinition:
    """``size Ho = (H + 2*P - K)/S + 1``: a size computed from others and from integer constants."""

    name: str
    expr: "Expr"
    where: Where


@dataclass(frozen=True)
class Equation:
    name: str
    indices: tuple               #: ((index name, Where), ...)
    rhs: Expr
    where: Where
    ranges: tuple = ()           #: ((index name, size name, Where), ...) for ``p in Ho``


@dataclass(frozen=True)
class Init:
    """``init h = h0``: the state ``h`` (a quantity defined at time t from itself at t-1) starts at the input ``h0``."""

    state: str
    initial: str
    where: Where                 #: of the state's name
    initial_where: Where


@dataclass(frozen=True)
class Output:
    names: tuple                 #: ((name, Where), ...)


Statement = Union[Declaration, Constant, Init, SizeDefinition, Equation, Output]


# ---- the parser ------------------------------------------------------------------------------------

def parse_statements(text: str) -> list:
    """The statements of a layer text, in order; raises ParseError (line, column, expected)."""
    if not isinstance(text, str):
        raise ParseError(f"a layer is text, not {type(text).__name__}")
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise ParseError(f"the layer has {len(lines)} lines; at most {MAX_LINES} are accepted")
    statements = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].rstrip()
        if line.strip():
            statements.extend(_LineParser(line, number).statement())
    if not statements:
        raise ParseError("the layer text is empty; write declarations (input x[N, D]), equations and an output line")
    return statements


class _LineParser:
    def __init__(self, line: str, number: int):
        self.line, self.number = line, number
        self.tokens = tokenize(line, "expression")
        self.position = 0
        self.depth = 0

    # -- helpers
    def where(self, token: Token | None = None) -> Where:
        token = token or self.peek()
        return Where(self.number, self.line, token.column)

    def peek(self) -> Token:
        token = self.tokens[self.position]
        if token.kind == INVALID:
            raise self.where(token).error(token.text)
        return token

    def take(self) -> Token:
        token = self.peek()
        self.position += 1
        return token

    def fail(self, expected: str, token: Token | None = None):
        token = token or self.peek()
        return self.where(token).error(f"expected {expected}, found {token.describe()}")

    def expect_op(self, op: str, expected: str | None = None) -> Token:
        token = self.peek()
        if token.kind != OP or token.text != op:
            raise self.fail(expected or f"'{op}'")
        return self.take()

    def expect_name(self, expected: str) -> Token:
        token = self.peek()
        if token.kind != NAME:
            raise self.fail(expected)
        return self.take()

    def at_op(self, *ops: str) -> bool:
        token = self.peek()
        return token.kind == OP and token.text in ops

    def end(self, what: str):
        if self.peek().kind != END:
            raise self.fail(f"the end of the line after {what}")

    # -- statements
    def statement(self) -> list:
        first = self.peek()
        if first.kind != NAME:
            raise self.fail("a declaration (input, param, const), an equation (name[i, j] = ...) or 'output'")
        if first.text in ("input", "param") and self.tokens[1].kind == NAME:
            self.take()
            slots = [self.slot()]
            while self.at_op(","):
                self.take()
                slots.append(self.slot())
            self.end(f"the {first.text} declaration")
            return [Declaration(first.text, tuple(slots))]
        if first.text == "const" and self.tokens[1].kind == NAME:
            self.take()
            constants = [self.constant()]
            while self.at_op(","):
                self.take()
                constants.append(self.constant())
            self.end("the constant")
            return constants
        if first.text == "size" and self.tokens[1].kind == NAME:
            self.take()
            sizes = [self.size_definition()]
            while self.at_op(","):
                self.take()
                sizes.append(self.size_definition())
            self.end("the size")
            return sizes
        if first.text == "output" and self.tokens[1].kind == NAME:
            self.take()
            names = [self.name_where("the name of an output")]
            while self.at_op(","):
                self.take()
                names.append(self.name_where("the name of an output"))
            self.end("the outputs")
            return [Output(tuple(names))]
        if first.text == "init" and self.tokens[1].kind == NAME:
            self.take()
            inits = [self.init()]
            while self.at_op(","):
                self.take()
                inits.append(self.init())
            self.end("the initial state")
            return inits
        return [self.equation()]

    def name_where(self, expected: str):
        token = self.expect_name(expected)
        return (token.text, self.where(token))

    def slot(self) -> Slot:
        name = self.expect_name("the name of an array, e.g. x[N, D]")
        self.expect_op("[", f"'[' and the sizes of {name.text}, e.g. {name.text}[N, D]")
        sizes, pads = [], []
        while True:
            sizes.append(self.name_where("a size name such as N or D"))
            if self.peek().kind == NAME and self.peek().text == "pad":
                self.take()
                amount = self.peek()
                if amount.kind not in (NAME, NUMBER):
                    raise self.fail("the padding after 'pad': a whole number or a constant, e.g. H pad P")
                self.take()
                pads.append((len(sizes) - 1, amount.text, self.where(amount)))
            if not self.at_op(","):
                break
            self.take()
        self.expect_op("]", "',' or ']' after a size (or 'pad' and a padding)")
        return Slot(name.text, tuple(sizes), self.where(name), tuple(pads))

    def size_definition(self) -> SizeDefinition:
        name = self.expect_name("the name of a size, e.g. size Ho = (H + 2*P - K)/S + 1")
        self.expect_op("=", f"'=' and the value of {name.text}, e.g. {name.text} = (H - K)/S + 1")
        return SizeDefinition(name.text, self.expression(), self.where(name))

    def bound(self, expected: str, ranges: list):
        """An index letter, with ``in SIZE`` when it gives the index's range."""
        index = self.name_where(expected)
        if self.peek().kind == NAME and self.peek().text == "in":
            self.take()
            size = self.name_where(f"the size {index[0]} ranges over after 'in', e.g. {index[0]} in K")
            ranges.append((index[0], size[0], size[1]))
        return index

    def constant(self) -> Constant:
        name = self.expect_name("the name of a constant, e.g. eps = 1e-5")
        self.expect_op("=", f"'=' and the value of {name.text}, e.g. {name.text} = 1e-5")
        sign = ""
        if self.at_op("-"):
            self.take()
            sign = "-"
        value = self.peek()
        if value.kind != NUMBER:
            raise self.fail(f"a number for the constant {name.text}")
        self.take()
        return Constant(name.text, sign + value.text, self.where(name))

    def init(self) -> Init:
        state = self.expect_name("the name of a state, e.g. init h = h0")
        self.expect_op("=", f"'=' and the input {state.text} starts from, e.g. init {state.text} = {state.text}0")
        initial = self.expect_name(f"the name of the input {state.text} starts from, e.g. {state.text}0")
        return Init(state.text, initial.text, self.where(state), self.where(initial))

    def equation(self) -> Equation:
        name = self.expect_name("the name of the quantity the equation defines")
        if name.text in KEYWORDS:
            raise self.fail(f"a name after '{name.text}'")
        if not self.at_op("["):
            raise self.fail(f"'[' and the indices of {name.text}, e.g. {name.text}[n, d] = ...")
        self.take()
        ranges = []
        indices = [self.bound("an index letter such as n or d", ranges)]
        while self.at_op(","):
            self.take()
            indices.append(self.bound("an index letter such as n or d", ranges))
        self.expect_op("]", "',' or ']' after an index (or 'in' and its size)")
        self.expect_op("=", f"'=' after {name.text}[...]")
        rhs = self.expression()
        self.end("the right-hand side")
        return Equation(name.text, tuple(indices), rhs, self.where(name), tuple(ranges))

    # -- expressions
    def expression(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.where().error("the expression is nested too deeply")
        left = self.term()
        while self.at_op("+", "-"):
            op = self.take()
            left = Binary(op.text, left, self.term(), self.where(op))
        self.depth -= 1
        return left

    def term(self):
        left = self.unary()
        while self.at_op("*", "/"):
            op = self.take()
            left = Binary(op.text, left, self.unary(), self.where(op))
        return left

    def unary(self):
        if self.at_op("-", "+"):
            op = self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.where(op).error("the expression is nested too deeply")
            operand = self.unary()
            self.depth -= 1
            return Negate(operand, self.where(op)) if op.text == "-" else operand
        return self.power()

    def power(self):
        base = self.atom()
        if self.at_op("^", "**"):
            op = self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.where(op).error("the expression is nested too deeply")
            exponent = self.unary()
            self.depth -= 1
            return Binary("^", base, exponent, self.where(op))
        return base

    def atom(self):
        token = self.peek()
        if token.kind == NUMBER:
            self.take()
            return Num(token.text, self.where(token))
        if token.kind == OP and token.text == "(":
            self.take()
            inner = self.expression()
            self.expect_op(")", "')' to close '('")
            return inner
        if token.kind != NAME:
            raise self.fail("a number, a name, a function call or '('")
        self.take()
        where = self.where(token)
        if self.at_op("["):
            self.take()
            subscripts = [self.expression()]
            while self.at_op(","):
                self.take()
                subscripts.append(self.expression())
            self.expect_op("]", f"',' or ']' in the subscripts of {token.text}")
            return Ref(token.text, tuple(subscripts), where)
        if self.at_op("("):
            self.take()
            argument = self.expression()
            indices, ranges = [], []
            if token.text in REDUCTIONS:
                if not self.at_op(","):
                    raise self.fail(f"',' and the index to {token.text} over, e.g. {token.text}(x[n, d], n)")
                while self.at_op(","):
                    self.take()
                    indices.append(self.bound(f"an index letter to {token.text} over", ranges))
                self.expect_op(")", f"',' or ')' after the indices of {token.text} (or 'in' and a size)")
            else:
                self.expect_op(")", f"')' to close {token.text}(; functions take one argument")
            return Call(token.text, argument, where, tuple(indices), tuple(ranges))
        return Name(token.text, where)


__all__ = ["parse_statements", "Num", "Name", "Ref", "Call", "Binary", "Negate", "Slot", "Declaration",
           "Constant", "SizeDefinition", "Equation", "Init", "Output", "Where", "END", "OP"]

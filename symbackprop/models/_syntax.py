r"""The syntax of a model string: text in, a tree of stages out (the project's own small grammar).

::

    model  := chain
    chain  := item { ">" item }
    item   := "residual" "(" chain ")" | NAME [ "(" arg { "," arg } ")" ]
    arg    := WIDTH | OPTION "=" WIDTH               conv2d(8, k=3, pad=1), maxpool(2, stride=1)
    NAME   := a built-in layer name (letters, digits, "-", "_")
    WIDTH  := a positive integer (affine(64): the output width; multihead-attention(2, 16): heads, head width)

``affine(64) > batchnorm > relu > affine(10) > softmax``;
``affine(32) > residual(layernorm > affine(32) > relu) > affine(10) > softmax``. Nothing is evaluated;
an error names the column (with a caret) and what was expected.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from ..errors import ParseError

MAX_CHARS = 2000
MAX_DEPTH = 20
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z][A-Za-z0-9_-]*)|(?P<number>[0-9]+)|(?P<op>[()>,=])|(?P<bad>\S))")


@dataclass(frozen=True)
class Use:
    """One layer of the chain: its name, its width arguments (empty: none) and its column."""

    name: str
    widths: tuple
    column: int
    options: tuple = ()          #: ((name, value, column), ...) for conv2d(8, k=3, pad=1)


@dataclass(frozen=True)
class Residual:
    """A residual branch: its input plus the output of ``chain``."""

    chain: tuple
    column: int


def _tokens(text):
    position, found = 0, []
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:           # only trailing white space is left
            break
        kind = match.lastgroup
        found.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    found.append(("end", "", len(text)))
    return found


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def error(self, message, column=None):
        token = self.tokens[self.at]
        return ParseError(f"--model: {message}", self.text, token[2] if column is None else column)

    def peek(self):
        return self.tokens[self.at]

    def take(self):
        token = self.tokens[self.at]
        self.at += 1
        return token

    def describe(self, token):
        kind, value, _ = token
        return "the end of the model" if kind == "end" else repr(value)

    def chain(self, depth=0):
        if depth > MAX_DEPTH:
            raise self.error(f"residual branches nested deeper than {MAX_DEPTH}")
        items = [self.item(depth)]
        while self.peek()[1] == ">":
            self.take()
            items.append(self.item(depth))
        return tuple(items)

    def item(self, depth):
        kind, value, column = self.peek()
        if kind == "bad":
            raise self.error(f"unexpected character {value!r}; expected a layer name (affine(64), relu, softmax, "
                             f"...) or residual(...)")
        if kind != "name":
            raise self.error(f"expected a layer name (affine(64), relu, softmax, ...) or residual(...), "
                             f"found {self.describe(self.peek())}")
        self.take()
        if value == "residual":
            self.expect("(", "after residual")
            inner = self.chain(depth + 1)
            self.expect(")", "to close residual(")
            return Residual(inner, column)
        widths, options = [], []
        if self.peek()[1] == "(":
            self.take()
            while True:
                if self.peek()[0] == "name" and self.tokens[self.at + 1][1] == "=":
                    _, option, where = self.take()
                    self.take()
                    kind, number, _ = self.take()
                    if kind != "number":
                        self.at -= 1
                        raise self.error(f"expected a whole number after {option}=, found {self.describe(self.peek())}")
                    options.append((option, int(number), where))
                    if self.peek()[1] != ",":
                        break
                    self.take()
                    continue
                kind, number, _ = self.take()
                if kind != "number" or int(number) < 1:
                    self.at -= 1
                    raise self.error(f"expected the width of {value} (a positive integer), found "
                                     f"{self.describe(self.peek())}")
                widths.append(int(number))
                if self.peek()[1] != ",":
                    break
                self.take()
            self.expect(")", f"to close {value}(")
        return Use(value, tuple(widths), column, tuple(options))

    def expect(self, op, why):
        if self.peek()[1] != op:
            raise self.error(f"expected {op!r} {why}, found {self.describe(self.peek())}")
        self.take()


def parse_model(text: str) -> tuple:
    """The stages of a model string: a tuple of :class:`Use` and :class:`Residual`."""
    if not isinstance(text, str):
        raise ParseError(f"--model: a model is text such as 'affine(64) > relu > affine(10) > softmax', "
                         f"not {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ParseError(f"--model: longer than {MAX_CHARS} characters")
    if not text.strip():
        raise ParseError("--model: empty; expected layers joined by '>', e.g. 'affine(64) > relu > affine(10) > "
                         "softmax'")
    parser = _Parser(text)
    chain = parser.chain()
    if parser.peek()[0] != "end":
        raise parser.error(f"expected '>' between layers or the end of the model, found "
                           f"{parser.describe(parser.peek())}")
    return chain

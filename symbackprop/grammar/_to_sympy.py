"""Scalar interpretation of a syntax tree: the SymPy expression of an expression-dialect tree.

Numbers are built from validated digit strings (``sympy.Integer('12')``, ``sympy.Rational``,
``sympy.Float``); nothing here evaluates user text. Powers are bounded so that no input makes
SymPy compute a giant number: an exponent may not exceed :data:`MAX_EXPONENT` in size, and a
power of numbers whose result would exceed :data:`MAX_RESULT_BITS` bits is refused.
"""
from __future__ import annotations

from typing import Callable, Mapping

import sympy as sp

from ..errors import ParseError
from . import _ast as A
from ._functions import CONSTANTS, FUNCTIONS

MAX_EXPONENT = 1000
MAX_RESULT_BITS = 20000
MAX_FLOAT_MAGNITUDE = sp.Float("1e300")

#: The scalar functions of the grammar (the table of :mod:`._functions`), name -> SymPy builder.
BUILTIN = {name: row.build for name, row in FUNCTIONS.items()}


def number(text: str) -> sp.Number:
    """The SymPy number of a validated literal: ``'12'`` -> Integer, ``'0.5'``/``'1e-3'`` -> exact Rational.

    Decimal literals become exact rationals (0.5 -> 1/2), so formulas stay exact.
    """
    if text.isdigit():
        return sp.Integer(int(text))
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = int((whole or "0") + fraction)
    scale = int(exponent or "0") - len(fraction)
    return sp.Integer(digits) * sp.Integer(10) ** scale if scale >= 0 else sp.Rational(digits, 10 ** -scale)


class ScalarBuilder:
    """Builds the SymPy expression of an expression-dialect tree, checking sizes as it goes."""

    def __init__(self, text: str, variables: Mapping[str, sp.Symbol],
                 functions: Mapping[str, Callable[[sp.Expr], sp.Expr]]):
        self.text, self.variables = text, variables
        self.functions = {**BUILTIN, **functions}

    def error(self, message: str, node: A.Node) -> ParseError:
        return ParseError(message, self.text, node.column)

    def build(self, node: A.Node) -> sp.Expr:
        # Left-nested chains (a + b + c ...) are walked iteratively: a long flat input stays cheap
        # on the stack. Nesting that recurses (groups, unary, powers) is bounded by the parser.
        chain = []
        while isinstance(node, A.Binary) and node.op in ("+", "-", "*", "/", "juxt"):
            chain.append(node)
            node = node.left
        value = self.leaf(node)
        for binary in reversed(chain):
            value = self.check(self.binary(binary, value, self.build(binary.right)), binary)
        return value

    def leaf(self, node: A.Node) -> sp.Expr:
        if isinstance(node, A.Number):
            return number(node.text)
        if isinstance(node, A.Name):
            if node.name in self.variables:
                return self.variables[node.name]
            return CONSTANTS[node.name]
        if isinstance(node, A.Group):
            return self.build(node.inner)
        if isinstance(node, A.Unary):
            operand = self.build(node.operand)
            return -operand if node.op == "-" else operand
        if isinstance(node, A.Binary):   # '^' only: the chain operators are handled in build()
            return self.check(self.power(node, self.build(node.left), self.build(node.right)), node)
        if isinstance(node, A.Call):
            arguments = [self.build(part) for part in A.arguments(node.argument)]
            try:
                result = self.functions[node.function.name](*arguments)
            except (ValueError, TypeError, ArithmeticError) as exc:
                shown = ", ".join(map(str, arguments))
                raise self.error(f"cannot apply {node.function.name} to {shown}: {exc}", node) from None
            return self.check(sp.sympify(result, strict=True), node)  # a SymPy object or number; strict refuses text
        raise self.error(f"{type(node).__name__} is not part of an expression", node)  # pragma: no cover

    def binary(self, node: A.Binary, left: sp.Expr, right: sp.Expr) -> sp.Expr:
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "/":
            if right == 0:
                raise self.error("division by zero", node)
            return left / right
        return left * right

    def power(self, node: A.Binary, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
            raise self.error(f"exponent {exponent} is too large; at most {MAX_EXPONENT} in size is accepted",
                             node.right)
        if base == 0 and exponent.is_Number and exponent.is_negative:
            raise self.error("division by zero: 0 to a negative power", node)
        if base.is_Rational and exponent.is_Rational and base not in (0, 1, -1):
            bits = max(abs(base.p).bit_length(), abs(base.q).bit_length())
            if bits * abs(exponent) > MAX_RESULT_BITS:
                raise self.error(f"this power is too large to compute (about {int(bits * abs(exponent))} bits); "
                                 f"at most {MAX_RESULT_BITS} bits are accepted", node)
        return base ** exponent

    def check(self, value, node: A.Node) -> sp.Expr:
        """Refuse values that would make later arithmetic explode or that are not finite."""
        if value.is_Number:
            if value.is_Integer and abs(value.p).bit_length() > MAX_RESULT_BITS:
                raise self.error("a number too large to compute", node)
            if value.is_Rational and max(abs(value.p).bit_length(), abs(value.q).bit_length()) > MAX_RESULT_BITS:
                raise self.error("a number too large to compute", node)
            if value.is_Float and abs(value) > MAX_FLOAT_MAGNITUDE:
                raise self.error("a number too large to compute", node)
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise self.error("the expression is not finite here (division by zero or an infinite value)", node)
        return value

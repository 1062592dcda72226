"""The functions and constants of the grammar, as data: one row per name.

Both dialects read these names (``erf(z)`` in ``--hidden``, ``\\sigma'(z) = erf(z)`` in a formula);
the parser learns from here which names are functions and how many arguments each takes, and the
interpreters (:mod:`._to_sympy`, :mod:`symbackprop.checker`) how to build each one in SymPy.
Adding a function is one row. Every builder receives SymPy expressions, never text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp


@dataclass(frozen=True)
class Function:
    """A function of the grammar: its name, how many arguments it takes and its SymPy form."""

    name: str
    arity: int
    build: Callable[..., sp.Expr]
    usage: str                   #: how it is written, for error messages: 'clip(u, lo, hi)'


def _clip(value, low, high):
    return sp.Min(sp.Max(value, low), high)


_ROWS = (
    Function("exp", 1, sp.exp, "exp(u)"),
    Function("log", 1, sp.log, "log(u)"),
    Function("ln", 1, sp.log, "ln(u)"),
    Function("sqrt", 1, sp.sqrt, "sqrt(u)"),
    Function("tanh", 1, sp.tanh, "tanh(u)"),
    Function("sinh", 1, sp.sinh, "sinh(u)"),
    Function("cosh", 1, sp.cosh, "cosh(u)"),
    Function("abs", 1, sp.Abs, "abs(u)"),
    Function("erf", 1, sp.erf, "erf(u)"),
    Function("erfc", 1, sp.erfc, "erfc(u)"),
    Function("sin", 1, sp.sin, "sin(u)"),
    Function("cos", 1, sp.cos, "cos(u)"),
    Function("atan", 1, sp.atan, "atan(u)"),
    Function("arctan", 1, sp.atan, "arctan(u)"),
    # log1p and expm1 are written out: SymPy differentiates and simplifies log(1 + u) and exp(u) - 1
    # as it does every other form, and the exporter's stable rewriting finds log1p/expm1 again.
    Function("log1p", 1, lambda u: sp.log(1 + u), "log1p(u)"),
    Function("expm1", 1, lambda u: sp.exp(u) - 1, "expm1(u)"),
    Function("sign", 1, sp.sign, "sign(u)"),
    Function("max", 2, sp.Max, "max(u, v)"),
    Function("min", 2, sp.Min, "min(u, v)"),
    Function("clip", 3, _clip, "clip(u, lo, hi)"),
)

#: The functions every dialect knows, by name.
FUNCTIONS: dict[str, Function] = {row.name: row for row in _ROWS}

#: The named constants, by name. A variable of the same name (the back-propagated sum e of a
#: hidden unit) takes precedence over a constant.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}


def arity(name: str) -> int:
    """How many arguments a function of the grammar takes (1 for any other function, e.g. sigmoid)."""
    row = FUNCTIONS.get(name)
    return row.arity if row is not None else 1

"""The two public entry points of the grammar, :func:`parse_expression` and :func:`parse_formula`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Optional

import sympy as sp

from ..errors import ParseError
from . import _ast as A
from ._parser import parse
from ._to_sympy import BUILTIN, ScalarBuilder


def parse_expression(text: str, variables: Mapping[str, sp.Symbol],
                     functions: Mapping[str, Callable[[sp.Expr], sp.Expr]] | None = None) -> sp.Expr:
    """The SymPy expression written in ``text``, over the given variables and functions.

    >>> import sympy as sp
    >>> a, y = sp.symbols("a y")
    >>> parse_expression("-(y*log(a) + (1-y)*log(1-a))", {"a": a, "y": y})
    -y*log(a) - (1 - y)*log(1 - a)
    >>> parse_expression("2a(1-a)^2", {"a": a})
    2*a*(1 - a)**2

    Numbers, the variables, ``+ - * /``, ``^`` and ``**`` (right-associative, tighter than unary
    minus), parentheses, juxtaposition (``2a``, ``a(1-a)``), and the functions
    ``exp log ln sqrt tanh sinh cosh abs`` plus those in ``functions`` (name -> callable on a
    SymPy expression). Raises :class:`~symbackprop.errors.ParseError` with the column otherwise.
    """
    functions = dict(functions or {})
    clash = sorted(set(variables) & (set(functions) | set(BUILTIN)))
    if clash:
        raise ParseError(f"{', '.join(clash)} named both as a variable and as a function")
    tree = parse(text, "expression", variables=variables, functions=functions)
    try:
        return ScalarBuilder(text, variables, functions).build(tree)
    except RecursionError:
        raise ParseError("the expression is nested too deeply", text, 0) from None


@dataclass(frozen=True)
class Formula:
    """A formula ``lhs = rhs`` as written: two syntax trees and the text they came from.

    What the names mean (which layer, which quantity, transpose or derivative) depends on the
    notation; :mod:`symbackprop.checker` interprets it.
    """

    text: str
    lhs: A.Node
    rhs: A.Node
    equals_column: int           #: where '=' (or ':=') is
    notation: Optional[str] = None   #: the notation it is to be read in, when the caller said
    condition: Optional[A.Node] = None   #: what follows 'for', 'if' or ',' after the right-hand side (j >= 1)


def parse_formula(text: str, notation: Optional[str] = None, functions: Iterable[str] = (),
                  arrays: Iterable[str] = ()) -> Formula:
    r"""Read ``LHS = RHS`` in LaTeX or plain text.

    >>> formula = parse_formula(r"\delta^{(L)} = a^{(L)} - y", "ng-ml")
    >>> formula.lhs.base.name, formula.lhs.sup.name, formula.lhs.sup_style
    ('delta', 'L', '(')

    The grammar is the same in every notation; ``notation`` is recorded for the reader.
    ``functions`` names extra letters that are functions when followed by ``(`` (beyond
    ``\sigma g f h`` and the catalogue's activations): ``a(1-a)`` is a product because ``a`` is not one.
    ``arrays`` names letters that are arrays in the notation although they are usually functions
    (Goodfellow's ``h``): unprimed and followed by ``(``, they are a product, ``h^{(k-1)} (g)^T``.
    Raises :class:`~symbackprop.errors.ParseError` with the column of the problem.
    """
    tree = parse(text, "formula", functions=functions, arrays=arrays)
    return Formula(text, tree.lhs, tree.rhs, tree.column, notation, tree.condition)

"""The project's own grammar: one tokenizer and parser, two entry points.

* :func:`parse_expression` reads a scalar expression (``-(y*log(a) + (1-y)*log(1-a))``) into a
  SymPy expression over the variables you name; it is what ``--loss``/``--output`` read.
* :func:`parse_formula` reads a backpropagation formula ``LHS = RHS`` in LaTeX or plain text
  into a :class:`Formula` (two syntax trees), which :mod:`symbackprop.checker` interprets.

Nothing here calls eval, exec, sympify or parse_expr on user text; errors are
:class:`~symbackprop.errors.ParseError` with the column of the problem.
"""
from ._api import Formula, parse_expression, parse_formula

__all__ = ["Formula", "parse_expression", "parse_formula"]

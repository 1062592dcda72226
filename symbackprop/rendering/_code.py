"""The result as the lines a student types: Octave for Ng's ex4 (nnCostFunction.m), numpy for the
Deep Learning Specialization.

This module owns printing a derivation's own expressions as code, never code written by hand for
a formula: each δ line is the derived per-unit form (``Quantity.unit``, elementwise, so it holds for
a whole batch as written) printed by SymPy's Octave or NumPy printer with the course's variable
names, and each gradient line is the derived batch form (``Quantity.batch_vector``) printed by a
small matrix printer that knows how the course stacks a batch (Octave: one example per row, so the
canonical ``D A^T`` is ``d3' * a2``; numpy: one example per column, ``dZ2 @ A1.T``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.octave import OctaveCodePrinter

from ..big_numbers import code_form, is_big
from .. import symbols as S
from ..derivation import Derivation
from ._shape import indicator_condition, tanh_form


@dataclass(frozen=True)
class Code:
    """Lines of code in one language, with the comment that says what the names are."""

    language: str          #: 'octave' or 'numpy'
    title: str
    lines: tuple[str, ...]


class _OctaveUnits(OctaveCodePrinter):
    """Octave for an elementwise per-unit form: .* ./ .^, an indicator as a logical array."""

    def _print_Rational(self, expr):
        return code_form(expr, "^") if is_big(expr) else super()._print_Rational(expr)

    def _print_Integer(self, expr):
        return code_form(expr, "^") if is_big(expr) else super()._print_Integer(expr)

    def _print_Piecewise(self, expr):
        condition = indicator_condition(expr)
        if condition is not None:
            return "(%s)" % self._print(condition)
        return super()._print_Piecewise(expr)


class _NumpyUnits(NumPyPrinter):
    """numpy for an elementwise per-unit form, with the module written np."""

    def __init__(self, settings=None):
        super().__init__({"fully_qualified_modules": True, **(settings or {})})

    def _print_Rational(self, expr):
        return code_form(expr, "**") if is_big(expr) else super()._print_Rational(expr)

    def _print_Integer(self, expr):
        return code_form(expr, "**") if is_big(expr) else super()._print_Integer(expr)

    def _module_format(self, fqn, register=True):
        return super()._module_format(fqn, register).replace("numpy.", "np.")

    def _print_Relational(self, expr):
        """Z1 > 0, as a course writes it (numpy compares arrays elementwise)."""
        return "%s %s %s" % (self._print(expr.lhs), expr.rel_op, self._print(expr.rhs))

    def _print_Piecewise(self, expr):
        condition = indicator_condition(expr)
        if condition is not None:
            return "(%s)" % self._print(condition)
        return super()._print_Piecewise(expr)


@dataclass(frozen=True)
class _Course:
    language: str
    title: str
    examples: str                                   #: 'rows' or 'columns'
    activation: Callable[[int, bool], str]          #: (canonical layer, the whole array?) -> name
    preactivation: Callable[[int], str]
    error: Callable[[int], str]
    weight: Callable[[int], str]                    #: canonical W^n -> name
    weight_without_bias: Callable[[int], str]       #: W^n without its bias column (column notation)
    regularised: Callable[[int], str]               #: W^n with the bias column zeroed
    target: str
    lam: str
    units: type
    assign: str                                     #: line format: '{lhs} = {rhs};'
    comment: str
    matmul: str
    transpose: Callable[[str], str]
    ones_sum: Callable[[str], str]                  #: the sum over examples of a batch of errors


_OCTAVE = _Course(
    language="octave", title="In Octave (ex4's nnCostFunction.m)", examples="rows",
    activation=lambda n, whole: f"a{n}" if whole else f"a{n}(:, 2:end)",
    preactivation=lambda n: f"z{n}", error=lambda n: f"d{n}", weight=lambda n: f"Theta{n - 1}",
    weight_without_bias=lambda n: f"Theta{n - 1}(:, 2:end)",
    regularised=lambda n: f"[zeros(size(Theta{n - 1}, 1), 1), Theta{n - 1}(:, 2:end)]",
    target="y_matrix", lam="lambda", units=_OctaveUnits, assign="{lhs} = {rhs};", comment="% ",
    matmul=" * ", transpose=lambda name: name + "'", ones_sum=lambda name: f"sum({name}, 1)'")

_NUMPY = _Course(
    language="numpy", title="In numpy (Deep Learning Specialization, course 1)", examples="columns",
    activation=lambda n, whole: f"A{n - 1}", preactivation=lambda n: f"Z{n - 1}", error=lambda n: f"dZ{n - 1}",
    weight=lambda n: f"W{n - 1}", weight_without_bias=lambda n: f"W{n - 1}", regularised=lambda n: f"W{n - 1}",
    target="Y", lam="lambd", units=_NumpyUnits, assign="{lhs} = {rhs}", comment="# ",
    matmul=" @ ", transpose=lambda name: name + ".T",
    ones_sum=lambda name: f"np.sum({name}, axis=1, keepdims=True)")

COURSES = {"octave": _OCTAVE, "numpy": _NUMPY}


def code(derivation: Derivation, language: str) -> Optional[Code]:
    """The backward pass of ``derivation`` as lines of ``language`` ('octave' or 'numpy')."""
    course = COURSES[language]
    network = derivation.network
    depth = network.depth
    column = network.bias == "column"
    if language == "octave" and not column:
        return None          # ex4's names assume Ng's bias column
    if language == "numpy" and column:
        return None          # course 1 keeps b^[l] apart
    units = course.units({})
    lines = [course.comment + line for line in _forward_comment(course, depth)]
    output = derivation.output_delta.unit
    if _elementwise(output):
        rhs = _units(units, output, {S.a: course.activation(depth, True), S.y: course.target,
                                     S.z: course.preactivation(depth)})
        lines.append(course.assign.format(lhs=course.error(depth), rhs=rhs))
    else:
        lines.append(course.comment + "the output error couples the units: no elementwise line")
    for quantity in reversed(derivation.hidden_deltas):
        n = int(quantity.layer)
        back = _back(course, n, column)
        rhs = _units(units, quantity.unit, {S.e: back, S.a: course.activation(n, False),
                                            S.z: course.preactivation(n)})
        lines.append(course.assign.format(lhs=course.error(n), rhs=rhs))
    for n in range(depth, 1, -1):
        batch = derivation.weight_gradient.batch_vector.rhs.xreplace({S.l: sp.Integer(n)})
        lines.append(course.assign.format(lhs=_gradient_name(course, "W", n), rhs=_matrix(course, batch, column)))
        if not column:
            bias = derivation.bias_gradient.batch_vector.rhs.xreplace({S.l: sp.Integer(n)})
            lines.append(course.assign.format(lhs=_gradient_name(course, "b", n), rhs=_matrix(course, bias, column)))
    return Code(language, course.title, tuple(lines))


def _forward_comment(course: _Course, depth: int) -> tuple[str, ...]:
    """What the names in the lines hold (the forward pass of the course's exercise)."""
    if course.language == "octave":
        carry = ", ".join(f"a{n}" for n in range(1, depth))
        return (f"rows are examples; {carry} carry the bias column of ones (a1 = [ones(m, 1) X]), a{depth} does not;",
                "y_matrix(i, :) is the target of example i as a row")
    return (f"columns are examples; A0 = X, A{depth - 1} is the output, Y holds the targets as columns",)


def _gradient_name(course: _Course, role: str, n: int) -> str:
    if course.language == "octave":
        return f"Theta{n - 1}_grad"
    return f"d{role}{n - 1}"


def _elementwise(expr) -> bool:
    return not expr.has(sp.Sum) and not expr.has(sp.Indexed)


def _units(printer, expr, names: dict) -> str:
    """A per-unit form printed with each unit symbol replaced by the course's array name."""
    placeholders = {symbol: sp.Symbol(f"_P{position}_") for position, symbol in enumerate(names)}
    text = printer.doprint(tanh_form(expr).xreplace(placeholders))
    for symbol, placeholder in placeholders.items():
        text = text.replace(placeholder.name, names[symbol])
    return text


def _back(course: _Course, n: int, column: bool) -> str:
    """(W^{n+1})^T δ^{n+1}, without the bias row with a bias column, in the course's layout."""
    weight = course.weight_without_bias(n + 1) if column else course.weight(n + 1)
    if course.examples == "rows":
        return "(%s%s%s)" % (course.error(n + 1), course.matmul, weight)
    return "(%s%s%s)" % (course.transpose(weight), course.matmul, course.error(n + 1))


def _matrix(course: _Course, expr, column: bool) -> str:
    """A batch gradient (sums and products of a layer's arrays) in the course's layout."""
    if isinstance(expr, sp.MatAdd):
        return " + ".join(_matrix(course, term, column) for term in expr.args)
    if isinstance(expr, sp.MatMul):
        coefficient = _scalar(course, sp.Mul(*[arg for arg in expr.args if not arg.is_Matrix]))
        matrices = [arg for arg in expr.args if arg.is_Matrix]
        if isinstance(matrices[-1], S.LayerArray) and matrices[-1].role == "ones":
            # a product with a column of ones sums a batch over its examples
            return coefficient + course.ones_sum(course.error(int(matrices[0].layer)))
        return coefficient + course.matmul.join(_array(course, m) for m in matrices)
    return _array(course, expr)


def _scalar(course: _Course, coefficient) -> str:
    if coefficient == 1:
        return ""
    printed = sp.sstr(coefficient.xreplace({S.lam: sp.Symbol(course.lam)}))
    return "(%s) * " % printed


def _array(course: _Course, expr) -> str:
    """One array of a batch gradient: canonical batch arrays hold one example per column, so with
    examples as rows the course's array is their transpose."""
    inner, transposed = (expr.arg, True) if isinstance(expr, sp.Transpose) else (expr, False)
    if not isinstance(inner, S.LayerArray):
        raise ValueError(f"no code for {expr}")
    n = int(inner.layer)
    if inner.role == "W":
        return course.transpose(course.weight(n)) if transposed else course.weight(n)
    if inner.role == "W_reg":
        return course.regularised(n)
    if inner.role == "delta":
        name = course.error(n)
    elif inner.role == "a":
        name = course.activation(n, True)
    else:
        raise ValueError(f"no code for {expr}")
    if (course.examples == "rows") != transposed:
        return course.transpose(name)
    return name

"""The meaning of a layer text: names resolved, indices bound, sizes checked, equations ordered.

Turns the statements of :mod:`._language` into a :class:`~._layer.Layer` with SymPy equations, or
raises :class:`~symbackprop.errors.LayerSpecError` naming the line and what is wrong: an
undefined name, an index on the left the right does not bind, an index on the right that is
neither on the left nor summed, a size mismatch between slots, a cycle among the equations.
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

from ..catalogue.activations import ACTIVATIONS
from ..errors import LayerSpecError
from . import _language as L
from . import _windows as Win
from ._layer import Array, Definition, Layer

#: The scalar functions an equation may call, by name, as SymPy builders of one argument.
_BUILTIN = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh, "abs": sp.Abs}


def functions() -> dict:
    """Every function name the language accepts (``sum`` aside): the built-ins and the catalogue's activations."""
    table = dict(_BUILTIN)
    from .. import symbols as S
    for record in ACTIVATIONS:
        if record.elementwise:
            definition = record.concrete()
            table.setdefault(record.name.replace("-", "_"), lambda arg, d=definition: d.subs(S.z, arg))
    return table


def size_symbol(name: str) -> sp.Symbol:
    return sp.Symbol(name, integer=True, positive=True)


def index_symbol(name: str) -> sp.Symbol:
    return sp.Symbol(name, integer=True)


def _number(text: str) -> sp.Rational:
    value = Fraction(text)      # a decimal literal the lexer accepted; nothing is evaluated
    return sp.Rational(value.numerator, value.denominator)


def build_layer(text: str, name: str = "layer", description: str = "") -> Layer:
    statements = L.parse_statements(text)
    from ._recurrence import build_recurrent, is_recurrent
    if is_recurrent(statements):        # h[t, ...] from h[t-1, ...] and 'init h = h0': a recurrent layer
        return build_recurrent(statements, text, name, description)
    return _Builder(statements).layer(text, name, description)


class _Builder:
    def __init__(self, statements):
        self.statements = statements
        self.arrays: dict[str, Array] = {}
        self.constants: dict[str, tuple] = {}       # name -> (symbol, value)
        self.sizes: dict[str, sp.Symbol] = {}
        self.equations: dict[str, L.Equation] = {}
        self.outputs: list = []
        self.functions = functions()
        self.derived_sizes: dict = {}

    # ---- declarations
    def layer(self, text, name, description) -> Layer:
        inputs, params = [], []
        for statement in self.statements:       # constants first: a padding or a size may name one
            if isinstance(statement, L.Constant):
                self._claim(statement.name, statement.where, "constant")
                self.constants[statement.name] = (sp.Symbol(statement.name, real=True), _number(statement.value))
        for statement in self.statements:
            if isinstance(statement, L.Declaration):
                for slot in statement.slots:
                    array = self._declare(statement.kind, slot)
                    (inputs if statement.kind == "input" else params).append(array)
            elif isinstance(statement, L.Constant):
                continue
            elif isinstance(statement, L.SizeDefinition):
                symbol, value = Win.derived_size(self, statement)
                self.derived_sizes[symbol] = value
            elif isinstance(statement, L.Equation):
                if statement.name in self.equations:
                    first = self.equations[statement.name].where.line
                    raise statement.where.error(f"{statement.name} is defined twice (first on line {first}); "
                                                f"each quantity has one equation", LayerSpecError)
                self._claim(statement.name, statement.where, "quantity", equation=True)
                self.equations[statement.name] = statement
            else:
                self.outputs.extend(statement.names)
        if not inputs:
            raise LayerSpecError("the layer declares no input; write e.g. 'input x[N, D]'")
        if not self.equations:
            raise LayerSpecError("the layer has no equation; write e.g. 'y[n, d] = 2 * x[n, d]'")
        if not self.outputs:
            raise LayerSpecError(f"the layer names no output; add a line 'output NAME' with one of: "
                                 f"{', '.join(self.equations)}")
        order = self._order()
        definitions = tuple(self._definition(self.equations[n]) for n in order)
        outputs = []
        for output, where in self.outputs:
            if output not in self.equations:
                known = ", ".join(self.equations)
                what = "an input or parameter" if output in self.arrays else "not defined"
                raise where.error(f"output {output} is {what}; an output is a quantity an equation defines: {known}",
                                  LayerSpecError)
            if output in outputs:
                raise where.error(f"output {output} is named twice", LayerSpecError)
            outputs.append(output)
        self._check_gradient_names()
        return Layer(name, text, tuple(inputs), tuple(params),
                     {symbol: value for symbol, value in self.constants.values()},
                     tuple(self.sizes.values()), definitions, tuple(outputs), dict(self.arrays), description,
                     derived_sizes=dict(self.derived_sizes))

    def _claim(self, name, where, what, equation=False):
        if name in self.arrays or name in self.constants or name in self.equations:
            raise where.error(f"{name} is declared twice; every name names one thing", LayerSpecError)
        if name in self.functions or name == "sum":
            raise where.error(f"{name} is a function; choose another name for the {what}", LayerSpecError)
        if name in self.sizes:
            raise where.error(f"{name} is already a size; choose another name for the {what}", LayerSpecError)

    def _declare(self, kind, slot: L.Slot) -> Array:
        self._claim(slot.name, slot.where, kind)
        sizes = []
        for size, where in slot.sizes:
            if not size[0].isupper():
                raise where.error(f"size {size} of {slot.name} must be capitalised (sizes are names such as N, D)",
                                  LayerSpecError)
            if size in self.arrays or size in self.constants or size == slot.name:
                raise where.error(f"size {size} of {slot.name} is also the name of an array or constant",
                                  LayerSpecError)
            sizes.append(self.sizes.setdefault(size, size_symbol(size)))
        array = Array(slot.name, kind, tuple(sizes), slot.where.line, Win.padding(self, slot))
        self.arrays[slot.name] = array
        return array

    def _check_gradient_names(self):
        names = set(self.arrays) | set(self.constants) | set(self.equations)
        for name in sorted(names):
            if name.startswith("d") and name[1:] in names:
                raise LayerSpecError(f"{name} would be the name of the gradient of {name[1:]}; rename one of them")

    # ---- order and cycles
    def _order(self) -> list:
        uses = {name: _references(eq.rhs) & set(self.equations) for name, eq in self.equations.items()}
        order, state = [], {}

        def visit(name, path):
            if state.get(name) == "done":
                return
            if state.get(name) == "active":
                cycle = path[path.index(name):] + [name]
                where = self.equations[name].where
                raise where.error(f"the equations form a cycle: {' -> '.join(cycle)}; a quantity cannot depend "
                                  f"on itself (recurrences over time are not supported yet)", LayerSpecError)
            state[name] = "active"
            for used in sorted(uses[name]):
                visit(used, path + [name])
            state[name] = "done"
            order.append(name)

        for name in self.equations:
            visit(name, [])
        return order

    # ---- one equation
    def _definition(self, equation: L.Equation) -> Definition:
        lhs = {}
        for index, where in equation.indices:
            if index in lhs:
                raise where.error(f"index {index} appears twice on the left of {equation.name}", LayerSpecError)
            self._check_index_name(index, where)
            lhs[index] = where
        free: dict[str, list] = {}
        declared = Win.declared_ranges(self, equation.ranges)
        rhs = self._expr(equation.rhs, [free], equation)
        for index, (size, where) in free.items():
            if index not in lhs:
                raise where.error(f"index {index} on the right of {equation.name} is neither on the left nor summed "
                                  f"over; add it to {equation.name}[...] or write sum(..., {index})", LayerSpecError)
        sizes, indices = [], []
        for index, where in lhs.items():
            if index not in free:
                raise where.error(f"index {index} on the left of {equation.name} is not bound by the right-hand side "
                                  f"(no array on the right is indexed by {index}), so its size is unknown", LayerSpecError)
            sizes.append(Win.resolve(index, free[index], declared, f"{equation.name}[..., {index} in SIZE, ...]"))
            indices.append(index_symbol(index))
        self.arrays[equation.name] = Array(equation.name, "quantity", tuple(sizes), equation.where.line)
        return Definition(equation.name, tuple(indices), rhs, equation.where.line)

    def _check_index_name(self, index, where):
        if index in self.arrays or index in self.constants or index in self.equations or index in self.sizes:
            raise where.error(f"{index} names an array, constant or size and cannot be an index; "
                              f"use a letter such as n or d", LayerSpecError)
        if index[0].isupper():
            raise where.error(f"index {index} is capitalised; capitals are sizes, indices are lower-case (n, d)",
                              LayerSpecError)

    def _expr(self, node, scopes, equation) -> sp.Expr:
        if isinstance(node, L.Num):
            return _number(node.text)
        if isinstance(node, L.Negate):
            return -self._expr(node.operand, scopes, equation)
        if isinstance(node, L.Binary):
            left, right = self._expr(node.left, scopes, equation), self._expr(node.right, scopes, equation)
            return {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
                    "/": lambda: left / right, "^": lambda: left ** right}[node.op]()
        if isinstance(node, L.Name):
            return self._name(node, scopes)
        if isinstance(node, L.Ref):
            return self._reference(node, scopes, equation)
        if node.function in L.REDUCTIONS:
            return self._sum(node, scopes, equation)
        if node.function not in self.functions:
            accepted = ", ".join(["sum", *sorted(self.functions)])
            raise node.where.error(f"unknown function {node.function}; accepted: {accepted}", LayerSpecError)
        return self.functions[node.function](self._expr(node.argument, scopes, equation))

    def _name(self, node: L.Name, scopes) -> sp.Expr:
        name = node.name
        if name in self.constants:
            return self.constants[name][0]
        if name in self.sizes:
            return self.sizes[name]
        if name in self.arrays or name in self.equations:
            hint = f" [{', '.join(map(str, self.arrays[name].sizes))}]" if name in self.arrays else ""  # noqa: E501
            raise node.where.error(f"{name} is an array{hint}; write it with its indices, e.g. {name}[n, ...]",
                                   LayerSpecError)
        if any(name in scope for scope in scopes):
            raise node.where.error(f"index {name} is used as a value; an index may only appear in a subscript",
                                   LayerSpecError)
        known = sorted([*self.arrays, *self.equations, *self.constants, *self.sizes])
        raise node.where.error(f"undefined name {name}; defined: {', '.join(known)}", LayerSpecError)

    def _reference(self, node: L.Ref, scopes, equation) -> sp.Expr:
        name = node.name
        if name in self.equations and name not in self.arrays:
            raise AssertionError("equations are built in dependency order")   # pragma: no cover
        if name not in self.arrays:
            if name in self.constants or name in self.sizes:
                raise node.where.error(f"{name} is a scalar and takes no indices; write {name}", LayerSpecError)
            known = sorted([*self.arrays, *self.equations])
            raise node.where.error(f"undefined array {name}; defined: {', '.join(known)}", LayerSpecError)
        array = self.arrays[name]
        if len(node.subscripts) != len(array.sizes):
            raise node.where.error(f"{name} has {len(array.sizes)} ax{'is' if len(array.sizes) == 1 else 'es'} "
                                   f"[{', '.join(map(str, array.sizes))}] but is given {len(node.subscripts)} "
                                   f"ind{'ex' if len(node.subscripts) == 1 else 'ices'}", LayerSpecError)
        indices = []
        for axis, (subscript, size) in enumerate(zip(node.subscripts, array.sizes)):
            if not isinstance(subscript, L.Name) or subscript.name in self.constants or subscript.name in self.sizes:
                indices.append(Win.arithmetic_subscript(self, subscript, array, axis, scopes))
                continue
            index = subscript.name
            if index in indices:
                raise subscript.where.error(f"index {index} appears twice in {name}[...]; diagonal references "
                                            f"are not supported", LayerSpecError)
            self._check_index_name(index, subscript.where)
            scope = next((s for s in reversed(scopes) if index in s), scopes[0])
            if index in scope and scope[index] is not None and scope[index][0] is None:
                scope[index][0] = size          # used before only in index arithmetic: this slot gives its range
            elif index in scope and scope[index] is not None:
                known, first = scope[index]
                if known != size:
                    raise subscript.where.error(
                        f"size mismatch: index {index} ranges over {known} where it was first used "
                        f"(column {first.column + 1}), but {name}[...] has size {size} in this slot", LayerSpecError)
            else:
                scope[index] = [size, subscript.where]
            indices.append(index)
        return array.base[tuple(index_symbol(i) if isinstance(i, str) else i for i in indices)]

    def _sum(self, node: L.Call, scopes, equation) -> sp.Expr:
        declared = Win.declared_ranges(self, node.ranges)
        scope = {}
        for index, where in node.indices:
            self._check_index_name(index, where)
            if any(index in s for s in scopes) or index in {i for i, _ in equation.indices}:
                raise where.error(f"sum over {index}, but {index} is already an index of {equation.name} or of an "
                                  f"enclosing sum; use another letter", LayerSpecError)
            if index in scope:
                raise where.error(f"index {index} is summed twice in one sum", LayerSpecError)
            scope[index] = None
        body = self._expr(node.argument, scopes + [scope], equation)
        for index, where in node.indices:
            if scope[index] is None:
                raise where.error(f"sum over {index}, but no array inside the sum is indexed by {index}",
                                  LayerSpecError)
        count, limits = sp.Integer(1), []
        for index, _ in node.indices:
            size = Win.resolve(index, scope[index], declared, f"{node.function}(..., {index} in SIZE)")
            count *= size
            limits.append((index_symbol(index), 0, size - 1))
        if node.function == "max":
            return Win.window_max(body, limits)
        for limit in reversed(limits):
            body = sp.Sum(body, limit)
        return body / count if node.function == "mean" else body


def _references(node) -> set:
    """The array names an expression refers to."""
    if isinstance(node, L.Ref):
        return {node.name}
    if isinstance(node, (L.Num, L.Name)):
        return set()
    if isinstance(node, L.Binary):
        return _references(node.left) | _references(node.right)
    if isinstance(node, L.Negate):
        return _references(node.operand)
    return _references(node.argument)

"""Recurrent layers: equations that refer to their own quantity at the previous time step.

::

    input  x[T, N, D], h0[N, H]
    param  Wx[D, H], Wh[H, H], b[H]
    init   h = h0
    z[t, n, k] = sum(x[t, n, j] * Wx[j, k], j) + sum(h[t-1, n, q] * Wh[q, k], q) + b[k]
    h[t, n, k] = tanh(z[t, n, k])
    output h

The time index (``t``) is the first index of every equation and of every sequence input, whose
first size (``T``) is the number of steps. A state ``h`` refers to itself at ``t-1`` and starts
from a declared input (``init h = h0``). Parameters are shared by every step.

The layer is read as a *cell*: one time step, an ordinary :class:`~._layer.Layer` whose inputs are
the sequence inputs at t and the previous states (``h_prev``), whose outputs are the states
(``c_next`` when another equation of the step also uses ``c``) and per-step outputs. The engine
derives the cell; :mod:`._bptt` chains the steps back through time.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

import sympy as sp

from ..errors import LayerSpecError
from . import _language as L
from ._layer import Array, Layer, describe_slots


@dataclass(frozen=True)
class State:
    """A recurrent quantity: ``name`` at t from itself at t-1 (the cell's input ``previous``), from ``initial``."""

    name: str                    #: 'h'
    initial: str                 #: 'h0', an input of the layer
    previous: str                #: 'h_prev', the cell's input standing for name[t-1]
    carried: str                 #: the cell's output carrying it to the next step: 'h', or 'c_next' when used


@dataclass(frozen=True, eq=False)
class RecurrentLayer:
    """A layer over time: one cell applied at t = 0 .. T-1, its states carried from step to step."""

    name: str
    text: str
    cell: Layer                  #: one step
    time: sp.Symbol              #: T, the number of steps
    time_index: str              #: 't'
    inputs: tuple                #: Arrays of the whole layer, declaration order (x[T, N, D], h0[N, H])
    params: tuple
    states: tuple                #: State records, in 'init' order
    sequences: tuple             #: names of the inputs read at every step (x)
    outputs: tuple               #: names of the layer's outputs (h), each with the time axis first
    description: str = ""
    arrays: Mapping = field(default_factory=dict)
    recurrent = True

    def __hash__(self):
        return hash((self.name, self.text))

    def __eq__(self, other):
        return isinstance(other, RecurrentLayer) and (self.name, self.text) == (other.name, other.text)

    @property
    def differentiable(self) -> tuple:
        return self.inputs + self.params

    @property
    def constants(self):
        return self.cell.constants

    def state(self, name: str) -> State:
        return next(s for s in self.states if s.name == name)

    def describe(self) -> str:
        return (f"recurrent layer {self.name} ({describe_slots(self.inputs, self.params)}) -> "
                f"{', '.join(self.outputs)} over {self.time} steps")


# ---- recognising a recurrence ----------------------------------------------------------------------

def _refs(node):
    if isinstance(node, L.Ref):
        yield node
        for subscript in node.subscripts:
            yield from _refs(subscript)
    elif isinstance(node, L.Binary):
        yield from _refs(node.left)
        yield from _refs(node.right)
    elif isinstance(node, L.Negate):
        yield from _refs(node.operand)
    elif isinstance(node, L.Call):
        yield from _refs(node.argument)


def _shift(subscript):
    """``t - 1`` as (t, 1); ``t`` as (t, 0); anything else None."""
    if isinstance(subscript, L.Name):
        return subscript.name, 0
    if (isinstance(subscript, L.Binary) and subscript.op in "+-" and isinstance(subscript.left, L.Name)
            and isinstance(subscript.right, L.Num)):
        try:
            amount = float(subscript.right.text)
        except ValueError:                  # pragma: no cover - the lexer gives decimal literals only
            return None
        return subscript.left.name, amount if subscript.op == "-" else -amount
    return None


def is_recurrent(statements) -> bool:
    """Whether the layer has an ``init`` line or refers to a quantity at an earlier step (``h[t-1, ...]``)."""
    if any(isinstance(s, L.Init) for s in statements):
        return True
    quantities = {s.name for s in statements if isinstance(s, L.Equation)}
    for equation in (s for s in statements if isinstance(s, L.Equation)):
        for ref in _refs(equation.rhs):
            if ref.name in quantities and ref.subscripts and not isinstance(ref.subscripts[0], L.Name):
                shift = _shift(ref.subscripts[0])
                if shift is not None and shift[1] > 0:
                    return True
    return False


# ---- the cell ----------------------------------------------------------------------------------------

def build_recurrent(statements, text: str, name: str = "layer", description: str = "") -> RecurrentLayer:
    """The recurrent layer the statements describe, its cell built and checked by the ordinary builder."""
    from ._validate import _Builder
    declarations = [s for s in statements if isinstance(s, L.Declaration)]
    equations = [s for s in statements if isinstance(s, L.Equation)]
    inits = [s for s in statements if isinstance(s, L.Init)]
    outputs = [pair for s in statements if isinstance(s, L.Output) for pair in s.names]
    if not equations:
        raise LayerSpecError("the layer has no equation; write e.g. 'h[t, n, k] = tanh(... h[t-1, n, q] ...)'")
    defined = {e.name: e for e in equations}
    slots = {slot.name: (d.kind, slot) for d in declarations for slot in d.slots}

    declared = set(slots) | set(defined)
    for array in sorted(declared):
        if array.startswith("d") and array[1:] in declared:
            raise LayerSpecError(f"{array} would be the name of the gradient of {array[1:]}; rename one of them")

    # the time index: the first index of every equation
    time_index, time_where = equations[0].indices[0] if equations[0].indices else (None, equations[0].where)
    for equation in equations:
        if not equation.indices or equation.indices[0][0] != time_index:
            where = equation.indices[0][1] if equation.indices else equation.where
            raise where.error(f"in a recurrent layer every equation is per time step: its first index is the time "
                              f"index {time_index}, e.g. {equation.name}[{time_index}, n, k] = ...", LayerSpecError)
        if len(equation.indices) < 2:
            raise equation.where.error(f"{equation.name}[{time_index}] has no index besides the time index; a "
                                       f"quantity at one step has at least one axis, e.g. {equation.name}"
                                       f"[{time_index}, n]", LayerSpecError)

    # the states and their initial values
    states = {}
    for init in inits:
        if init.state not in defined:
            raise init.where.error(f"init {init.state}: {init.state} is not a quantity an equation defines; "
                                   f"write init STATE = INPUT with a state of: {', '.join(defined)}", LayerSpecError)
        if init.state in states:
            raise init.where.error(f"{init.state} is given an initial state twice", LayerSpecError)
        kind = slots.get(init.initial, (None,))[0]
        if kind != "input":
            what = "a parameter" if kind == "param" else "not declared"
            raise init.initial_where.error(f"init {init.state} = {init.initial}: {init.initial} is {what}; the initial "
                                           f"state is an input, e.g. 'input {init.initial}[N, H]'", LayerSpecError)
        if any(init.initial == other for other, _ in states.values()):
            raise init.initial_where.error(f"{init.initial} is the initial value of two states", LayerSpecError)
        states[init.state] = (init.initial, init)

    # references to the past: only a state, only at t-1
    for equation in equations:
        for ref in _refs(equation.rhs):
            for position, subscript in enumerate(ref.subscripts):
                shift = _shift(subscript)
                where = getattr(subscript, "where", ref.where)
                if position > 0:
                    if _mentions(subscript, time_index):
                        raise where.error(f"the time index {time_index} stands first in a subscript, e.g. "
                                          f"{ref.name}[{time_index}, ...]", LayerSpecError)
                    continue
                if shift is None or shift[0] != time_index or shift[1] == 0:
                    continue
                where = ref.where
                if shift[1] != 1:
                    raise where.error(f"{ref.name}[{_text(subscript)}, ...]: a recurrence refers to the previous "
                                      f"step only, {time_index}-1 (not {_text(subscript)})", LayerSpecError)
                if ref.name not in defined:
                    raise where.error(f"{ref.name}[{time_index}-1, ...]: only a state (a quantity with 'init "
                                      f"{ref.name} = ...') is read at the previous step", LayerSpecError)
                if ref.name not in states:
                    raise where.error(f"{ref.name}[{time_index}-1, ...] refers to {ref.name} at the previous step, "
                                      f"but {ref.name} has no initial state; declare an input such as "
                                      f"'input {ref.name}0[N, H]' and write 'init {ref.name} = {ref.name}0'",
                                      LayerSpecError)
    for state, (_, init) in states.items():
        if not any(ref.name == state and (_shift(ref.subscripts[0]) or (None, 0))[1] == 1
                   for e in equations for ref in _refs(e.rhs)):
            raise init.where.error(f"init {state}: no equation reads {state}[{time_index}-1, ...]; only a state read "
                                   f"at the previous step has an initial value", LayerSpecError)

    # the time size: the first size of an input read at step t
    time = None
    for equation in equations:
        for ref in _refs(equation.rhs):
            if ref.name in slots and slots[ref.name][0] == "input" and ref.name not in dict(states.values()):
                if _shift(ref.subscripts[0]) == (time_index, 0):
                    time, time_source = slots[ref.name][1].sizes[0][0], ref.name
                    break
        if time is not None:
            break
    if time is None:
        raise time_where.error(f"no input is read at step {time_index}; a sequence input has the time axis first, "
                               f"e.g. x[{time_index}, n, d] with 'input x[T, N, D]'", LayerSpecError)

    initials = {initial: state for state, (initial, _) in states.items()}
    used_elsewhere = {state for state in states
                      if any(ref.name == state and _shift(ref.subscripts[0]) == (time_index, 0)
                             for e in equations for ref in _refs(e.rhs))}
    taken = set(slots) | set(defined)
    records = []
    for state, (initial, init) in states.items():
        previous = f"{state}_prev"
        carried = f"{state}_next" if state in used_elsewhere else state
        for new in {previous, carried} - {state}:
            if new in taken:
                raise init.where.error(f"{new} names the {state} of a neighbouring step; rename the array {new}",
                                       LayerSpecError)
        records.append(State(state, initial, previous, carried))
    by_state = {record.name: record for record in records}

    # the cell's statements: the time axis dropped, x[t-1] read from x_prev
    cell, sequences = [], []
    for declaration in declarations:
        cell_slots = []
        for slot in declaration.slots:
            sizes = slot.sizes
            if declaration.kind == "param":
                if any(size == time for size, _ in sizes):
                    where = next(w for size, w in sizes if size == time)
                    raise where.error(f"parameter {slot.name} has the time size {time}; parameters are shared by "
                                      f"every step", LayerSpecError)
                cell_slots.append(slot)
            elif slot.name in initials:
                if any(size == time for size, _ in sizes):
                    raise slot.where.error(f"{slot.name}, the initial {initials[slot.name]}, is one step: it has no "
                                           f"time axis {time} (the time size is the first size of {time_source}, "
                                           f"read at step {time_index}; a sequence input has the time axis first, "
                                           f"e.g. {time_source}[T, N, D])", LayerSpecError)
                cell_slots.append(L.Slot(by_state[initials[slot.name]].previous, sizes, slot.where))
            else:
                if sizes[0][0] != time or len(sizes) < 2 or any(size == time for size, _ in sizes[1:]):
                    raise slot.where.error(f"input {slot.name} is read at every step: its first size is the time "
                                           f"size {time} and it has at least one more axis, e.g. {slot.name}"
                                           f"[{time}, N, D]", LayerSpecError)
                sequences.append(slot.name)
                cell_slots.append(L.Slot(slot.name, sizes[1:], slot.where))
        cell.append(L.Declaration(declaration.kind, tuple(cell_slots)))
    cell += [s for s in statements if isinstance(s, L.Constant)]
    for equation in equations:
        rhs = _at_step(equation.rhs, time_index, by_state, set(sequences) | set(defined), initials)
        cell.append(replace(equation, indices=equation.indices[1:], rhs=rhs))
    for record in records:
        if record.carried != record.name:
            where = defined[record.name].where
            indices = defined[record.name].indices[1:]
            cell.append(L.Equation(record.carried, indices,
                                   L.Ref(record.name, tuple(L.Name(i, w) for i, w in indices), where), where))
    if not outputs:
        raise LayerSpecError(f"the layer names no output; add a line 'output NAME' with one of: {', '.join(defined)}")
    for output, where in outputs:
        if output not in defined:
            raise where.error(f"output {output} is not a quantity an equation defines: {', '.join(defined)}",
                              LayerSpecError)
    cell_outputs = [(r.carried, defined[r.name].where) for r in records]
    cell_outputs += [(o, w) for o, w in outputs if o not in by_state and o not in dict(cell_outputs)]
    cell.append(L.Output(tuple(cell_outputs)))
    cell_layer = _Builder(cell).layer(text, f"{name} (one step)", description)

    from ._validate import size_symbol
    time_symbol = size_symbol(time)
    arrays, inputs, params = {}, [], []
    for declaration in declarations:
        for slot in declaration.slots:
            if declaration.kind == "param":
                array = cell_layer.arrays[slot.name]
                params.append(array)
            elif slot.name in initials:
                state = by_state[initials[slot.name]]
                array = Array(slot.name, "input", cell_layer.arrays[state.previous].sizes, slot.where.line)
                expected = cell_layer.arrays[state.name].sizes
                if array.sizes != expected:
                    raise slot.where.error(f"{slot.name}, the initial {state.name}, has sizes "
                                           f"[{', '.join(map(str, array.sizes))}] but {state.name} at one step has "
                                           f"[{', '.join(map(str, expected))}]", LayerSpecError)
                inputs.append(array)
            else:
                array = Array(slot.name, "input", (time_symbol, *cell_layer.arrays[slot.name].sizes), slot.where.line)
                inputs.append(array)
            arrays[slot.name] = array
    for equation in equations:
        arrays[equation.name] = Array(equation.name, "quantity",
                                      (time_symbol, *cell_layer.arrays[equation.name].sizes), equation.where.line)
    return RecurrentLayer(name, text, cell_layer, time_symbol, time_index, tuple(inputs), tuple(params),
                          tuple(records), tuple(sequences), tuple(o for o, _ in outputs), description, arrays)


def _mentions(node, index) -> bool:
    if isinstance(node, L.Name):
        return node.name == index
    if isinstance(node, L.Binary):
        return _mentions(node.left, index) or _mentions(node.right, index)
    if isinstance(node, L.Negate):
        return _mentions(node.operand, index)
    return False


def _text(node) -> str:
    if isinstance(node, L.Name):
        return node.name
    if isinstance(node, L.Num):
        return node.text
    if isinstance(node, L.Binary):
        return f"{_text(node.left)}{node.op}{_text(node.right)}"
    if isinstance(node, L.Negate):
        return f"-{_text(node.operand)}"
    return "..."


def _at_step(node, time_index, states, per_step, initials):
    """The expression at one step: ``x[t, n, d]`` -> ``x[n, d]``, ``h[t-1, n, q]`` -> ``h_prev[n, q]``."""
    def at(node):
        if isinstance(node, L.Ref):
            if node.name in initials:
                raise node.where.error(f"{node.name} is the initial value of {initials[node.name]}; the equations "
                                       f"read {initials[node.name]}[{time_index}-1, ...] instead", LayerSpecError)
            if node.name in per_step:
                first = node.subscripts[0] if node.subscripts else None
                shift = _shift(first) if first is not None else None
                if shift is None or shift[0] != time_index:
                    where = getattr(first, "where", node.where)
                    raise where.error(f"{node.name} is indexed by time first: write {node.name}[{time_index}, ...] "
                                      f"(or {node.name}[{time_index}-1, ...] for a state)", LayerSpecError)
                rest = tuple(at(s) for s in node.subscripts[1:])
                if shift[1] == 1:
                    return L.Ref(states[node.name].previous, rest, node.where)
                return L.Ref(node.name, rest, node.where)
            for subscript in node.subscripts:
                if _mentions(subscript, time_index):
                    where = getattr(subscript, "where", node.where)
                    raise where.error(f"{node.name} has no time axis (parameters are shared by every step); it takes "
                                      f"no time index {time_index}", LayerSpecError)
            return node
        if isinstance(node, L.Binary):
            return L.Binary(node.op, at(node.left), at(node.right), node.where)
        if isinstance(node, L.Negate):
            return L.Negate(at(node.operand), node.where)
        if isinstance(node, L.Call):
            for index, where in node.indices:
                if index == time_index:
                    raise where.error(f"sum over the time index {time_index}: an equation is one step; the sums "
                                      f"over time are the derivation's (the shared weights' gradients)",
                                      LayerSpecError)
            return replace(node, argument=at(node.argument))
        return node
    return at(node)


__all__ = ["RecurrentLayer", "State", "build_recurrent", "is_recurrent"]

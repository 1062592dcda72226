r"""A BPTT formula as students write it, in NumPy or LaTeX, evaluated step by step through time.

The Deep Learning Specialization's ``rnn_cell_backward`` / ``rnn_backward`` and CS231n's ``rnn_step_backward``
write one step's arrays without a time index::

    dtanh = (1 - a_next**2) * (da_next + da_prevt)           (ng-dls: units × examples)
    dWax = sum(np.dot(dtanh, xt.T), t)      dWax += np.dot(dtanh, xt.T)     (the loop's sum over t)
    dx = (dnext_h * (1 - next_h**2)) @ Wx.T                   (cs231n: examples × units)
    dft = (dc_next * c_prev + ot * (1 - np.square(np.tanh(c_next))) * c_prev * da_next) * ft * (1 - ft)
    da_prev = np.dot(Wf[:, :n_a].T, dft) + ...                 (ng-dls lstm: ft a gate, dft its pre-activation's)
    dW_{ax} = \sum_t dtanh\, x^{\langle t \rangle T}          dtanh = (1 - (a^{\langle t \rangle})^2) \odot (da^{\langle t \rangle} + da_{prev})

The formula is parsed by the project's grammar (``\langle t \rangle`` and ⟨t⟩ read as the superscript t, "at
step t") and walked by the layer checker's :class:`~._layer_formula.FormulaValues` over the arrays of one step
in the notation's layout; a sum over t (``\sum_t``, ``sum(..., t)``, ``+=``) adds the steps. Without one the
formula is evaluated at every step and the values are stacked on a leading time axis.
"""
from __future__ import annotations

import re

import numpy as np
import sympy as sp

from ..errors import ParseError
from ..grammar import _ast as A
from ..grammar import parse_formula
from ..layers._derivation import gradient_name
from ._layer_formula import FUNCTIONS, FormulaValues
from ._layer_values import Labelled

_ANGLE = re.compile(r"\\langle|\\rangle|⟨|⟩")

#: how a notation names the sizes of the built-in recurrent layers (DLS: n_a hidden units, n_x inputs, m examples)
SIZE_LETTERS = {"ng-dls": {"H": "n_a", "D": "n_x", "N": "m", "T": "T_x"}}
#: (notation, layer) -> the course function whose lines a check reads one step at a time: DLS's LSTM exercise
#: is lstm_cell_backward (its published check is the cell's), so a weight's gradient written without Σ_t is that
#: of one step; the rnn's lines are read as rnn_backward's, summed over t
CELL_EXERCISES = {("ng-dls", "lstm"): "lstm_cell_backward"}
#: (notation, layer) -> a name the course's code gives the joined input of one step, and what it joins (axis 0 in
#: the notation's layout): DLS's lstm_cell_forward computes concat = np.concatenate((a_prev, xt), axis=0)
CONCATENATED = {("ng-dls", "lstm"): {"concat": ("a_prev", "xt")}}


def gates(layer) -> dict:
    """gate -> its argument, for each quantity of one step that is a function of one other (f = σ(zf), cc =
    tanh(zc)) and is no state: DLS's code names the gate ft and the gradient of its argument dft."""
    cell = layer.cell
    states = {s.name for s in layer.states} | {s.carried for s in layer.states}
    found = {}
    for definition in cell.definitions:
        refs = definition.rhs.atoms(sp.Indexed)
        if definition.name in states or len(refs) != 1:
            continue
        (ref,) = refs
        if ref.base.label.name in cell.quantities and tuple(ref.indices) == tuple(definition.indices):
            found[definition.name] = ref.base.label.name
    return found


def spelling(layer, notation) -> dict:
    """A cell array's (or gradient's) name -> how the notation's code spells it (ng-dls: c -> c_next, f -> ft,
    dzf -> dft, da -> da_next)."""
    if notation != "ng-dls":
        return {}
    names = {}
    for state in layer.states:
        names[state.name] = names[state.carried] = f"{state.name}_next"
        names[gradient_name(state.carried)] = f"d{state.name}_next"
    for name in layer.sequences:
        names[name], names[gradient_name(name)] = f"{name}t", f"d{name}t"
    for gate, argument in gates(layer).items():
        names[gate], names[gradient_name(argument)] = f"{gate}t", f"d{gate}t"
    return names


def spell(expr, names: dict) -> str:
    """An expression over the cell's arrays printed in the notation's names, without indices: (1 - tanh(c_next)**2)."""
    from ..layers._printing import text
    plain = expr.replace(lambda e: isinstance(e, sp.Indexed),
                         lambda e: sp.Symbol(names.get(e.base.label.name, e.base.label.name)))
    printed = text(plain)
    return f"({printed})" if isinstance(plain, sp.Add) else printed


def joins(layer, notation) -> dict:
    """The notation's name -> the layer's parameters it holds side by side (ng-dls lstm: Wf = [Wfh; Wfx] in the
    layer's order, the notebook's Wf (n_a, n_a + n_x)), from the export's layout, in the notation's letters."""
    from ..export._recurrent_module import JOINS
    from ..rendering._recurrent_letters import LETTERS
    letters = LETTERS.get(notation, {}).get(layer.name, {})
    found = {}
    for name, parts in JOINS.get(notation, {}).get(layer.name, {}).items():
        lettered = tuple(letters.get(part, part) for part in parts)
        if all(part in layer.arrays and layer.arrays[part].kind == "param" for part in lettered):
            found[name] = lettered
    return found


def read_numpy(formula: str, values, notation) -> tuple:
    """(target, value, summed): ``value`` an array in the layer's own layout, stacked over time (T first) unless
    the formula sums over t (``summed``)."""
    text = _ANGLE.sub(lambda m: " " * len(m.group(0)), formula)     # same columns for the caret
    accumulated = "+=" in text
    text = text.replace("+=", " =", 1)
    parsed = parse_formula(text, notation, functions=FUNCTIONS)
    names = _Names(values, notation)
    target = names.target(parsed.lhs, formula)
    latex = "\\" in formula or "{" in formula
    steps = values.sizes["T"]
    reader = _StepValues(formula, names, latex, 0)
    summed = accumulated or reader.sums_time(parsed.rhs)
    if summed and not accumulated:
        value = reader.value(parsed.rhs)
    else:
        per_step = [_StepValues(formula, names, latex, t).value(parsed.rhs) for t in range(steps)]
        if accumulated:
            value = _total(per_step)
        else:
            value = Labelled(np.stack([names.to_record(v).array for v in per_step]),
                             ("T", *names.to_record(per_step[0]).labels)) \
                if isinstance(per_step[0], Labelled) else Labelled(np.array(per_step), ("T",))
            return target, value, False
    return target, names.to_record(value), True


def _total(values):
    total = values[0]
    for v in values[1:]:
        total = Labelled(total.array + v.array, total.labels) if isinstance(total, Labelled) else total + v
    return total


class _Names:
    """The names a student writes for one step's arrays, in ``notation``'s layout (ng-dls: transposed)."""

    def __init__(self, values, notation):
        self.values, self.notation, self.columns = values, notation, notation == "ng-dls"
        layer = values.layer
        self.states = [s.name for s in layer.states]
        self.aliases = {}          # a student's name -> the run's array (None: ambiguous)
        for name in layer.sequences:
            self.aliases[f"d{name}t"] = self.aliases[f"d{name}_t"] = gradient_name(name)
            for spelled in (name, f"{name}t", f"{name}_t"):
                self.aliases[spelled] = name
        for state in layer.states:
            s, carried = state.name, gradient_name(state.previous)
            for spelled in (s, f"{s}_next", f"next_{s}", f"{s}t", f"{s}_t"):
                self.aliases[spelled] = s
            for spelled in (f"{s}_prev", f"prev_{s}"):
                self.aliases[spelled] = f"{s}__before"
            for spelled in (carried, f"{carried}t", f"d{s}_prevt", f"dprev_{s}"):
                self.aliases[spelled] = f"{carried}__next"
            for spelled in (f"d{s}_next", f"dnext_{s}"):
                self.aliases[spelled] = f"__total_{s}"
        for name in values.names:
            if "__" not in name:
                self.aliases.setdefault(name, name)
                self.aliases.setdefault(name.replace("_", ""), name)
        for definition in layer.cell.definitions:        # dtanh: the gradient of tanh's argument
            rhs = definition.rhs
            if getattr(rhs, "args", None) and len(rhs.args) == 1 and hasattr(rhs.args[0], "base"):
                spelled = f"d{type(rhs).__name__}"
                argument = gradient_name(str(rhs.args[0].base.label))
                self.aliases[spelled] = None if spelled in self.aliases else argument
        self.sizes = {}
        if self.columns:               # DLS's code: ft and dft (the gradient of the gate's argument), n_a, n_x
            for gate, argument in gates(layer).items():
                self.aliases[f"{gate}t"], self.aliases[f"d{gate}t"] = gate, gradient_name(argument)
            for size, spelled in SIZE_LETTERS["ng-dls"].items():
                if size in values.sizes:
                    self.sizes[spelled] = float(values.sizes[size])
        totals = {f"__total_{s.name}": values.steps[gradient_name(s.carried)] for s in layer.states}
        self.arrays = {**values.names, **totals}

    def labels(self, name):
        base = name.removeprefix("__total_")
        if base != name:
            base = gradient_name(base)
        return tuple(self.values._size_name(base, axis) for axis in range(self.arrays[name].ndim))

    def at(self, spelled, t):
        """The array a student's name means at step ``t`` (a size's name: its length), or None."""
        if spelled in self.sizes:
            return self.sizes[spelled]
        entry = self.aliases.get(spelled)
        if entry is None:
            return None
        name = entry
        array, labels = self.arrays[name], self.labels(name)
        if name in self.values.layer.arrays and self.values.layer.arrays[name].kind == "param" or \
                labels[:1] != ("T",):
            value = Labelled(array, labels)
        else:
            value = Labelled(array[t], labels[1:])
        return self.to_notation(value)

    def to_notation(self, value):
        if self.columns and isinstance(value, Labelled) and value.array.ndim == 2:
            return Labelled(value.array.T, value.labels[::-1])
        return value

    to_record = to_notation          # a transpose undoes itself

    def target(self, lhs, formula):
        spelled = _spelled(lhs)
        if spelled is None:
            raise ParseError("the left-hand side names the gradient, e.g. dtanh, dWax, dx (d + the array's name)",
                             formula, getattr(lhs, "column", 0))
        targets = self.values.targets()
        entry = self.aliases.get(spelled)
        candidates = [spelled, spelled.replace("_", "")]
        if entry is not None:
            candidates.append(entry)
        for state in self.values.layer.states:
            s = state.name
            if spelled in (f"d{s}_prev", f"dprev_{s}", f"d{s}_prevt"):
                candidates.insert(0, gradient_name(state.previous))
        candidates += [t for t in targets if t.replace("_", "") == spelled.replace("_", "")]
        for candidate in candidates:
            if candidate in targets:
                return candidate
        raise ParseError(f"the left-hand side {spelled!r} is no gradient of the layer {self.values.layer.name}; "
                         f"read are: {', '.join(targets)}", formula, 0)


def _spelled(node):
    """``a_next``, ``W_{ax}``, ``x^{⟨t⟩}`` -> ('a_next', 'W_ax', 'x'); None when the node is no name."""
    if isinstance(node, A.Name):
        return node.name
    if isinstance(node, A.Group):
        return _spelled(node.inner)
    if isinstance(node, A.Binary) and node.op == "juxt":
        left, right = _spelled(node.left), _spelled(node.right)
        return left + right if left and right else None
    if isinstance(node, A.Script) and node.sup is None and node.sub is not None:
        base, sub = _spelled(node.base), _spelled(node.sub)
        return f"{base}_{sub}" if base and sub else None
    return None


class _StepValues(FormulaValues):
    """The layer checker's evaluator at one time step ``t``; ``\\sum_t`` and ``sum(..., t)`` add the steps."""

    def __init__(self, text, names, latex, t):
        super().__init__(text, {}, latex)
        self.names, self.t = names, t

    def name(self, node, sup=None):
        spelled = _spelled(node)
        joined = CONCATENATED.get((self.names.notation, self.names.values.layer.name), {}).get(spelled)
        if joined is not None:
            value = self.concatenate([self.name(A.Name(node.column, part, False)) for part in joined], 0, node)
            return value if sup is None else self.power(value, self.value(sup), node)
        value = self.names.at(spelled, self.t) if spelled else None
        if value is None:
            joined = CONCATENATED.get((self.names.notation, self.names.values.layer.name), {})
            known = ", ".join(sorted([k for k, v in self.names.aliases.items() if v is not None] + [*self.names.sizes]
                                     + [*joined]))
            raise self.error(f"unknown name {spelled or 'here'!r}; read at step t are: {known}", node)
        if sup is not None:
            return self.power(value, self.value(sup), node)
        return value

    def value(self, node):
        if isinstance(node, A.Script) and node.sub is not None and node.sup is None:
            return self.name(node)
        if isinstance(node, A.Script) and node.sup is not None:
            step, transposed = _step_mark(node.sup)
            if step is not None:
                base = node.base
                shifted = self if step == 0 else _StepValues(self.text, self.names, self.latex, self.t + step)
                if step == -1 and _spelled(base) in self.names.states:
                    value = self.name(A.Name(base.column, f"{_spelled(base)}_prev", False))
                elif 0 <= self.t + step < self.names.values.sizes["T"]:
                    value = shifted.name(base) if _spelled(base) else shifted.value(base)
                else:
                    raise self.error("a step outside the sequence", node)
                return self.transpose(value, node) if transposed else value
        return super().value(node)

    def axis_length(self, label):
        return self.names.values.sizes.get(label)

    def product(self, left, right, node, matrix):
        if matrix is None and isinstance(left, Labelled) and isinstance(right, Labelled) and \
                left.array.ndim == right.array.ndim == 2 and left.labels[1] == right.labels[0] and \
                left.labels != right.labels:
            matrix = True          # dtanh (a^{⟨t-1⟩})^T: [H, N] by [N, H] is the matrix product, not a transpose
        return super().product(left, right, node, matrix)

    def summation(self, node):
        letter = node.index.name if isinstance(node.index, A.Name) else None
        if letter == self.names.values.layer.time_index:
            return self._over_time(node.body)
        return super().summation(node)

    def call(self, node):
        name = node.function.name if isinstance(node.function, A.Name) else None
        items = _arguments(node.argument)
        time = self.names.values.layer.time_index
        if name in ("sum", "np.sum") and len(items) == 2 and isinstance(items[1], A.Name) and items[1].name == time:
            return self._over_time(items[0])
        return super().call(node)

    def _over_time(self, body):
        return _total([_StepValues(self.text, self.names, self.latex, t).value(body)
                       for t in range(self.names.values.sizes["T"])])

    def sums_time(self, node) -> bool:
        """Whether the formula's outermost operations include a sum over t."""
        time = self.names.values.layer.time_index
        if isinstance(node, A.Sum):
            return isinstance(node.index, A.Name) and node.index.name == time
        if isinstance(node, A.Call) and isinstance(node.function, A.Name) and node.function.name in ("sum", "np.sum"):
            items = _arguments(node.argument)
            return len(items) == 2 and isinstance(items[1], A.Name) and items[1].name == time
        return False


def _step_mark(sup):
    """``t`` -> (0, False); ``t-1`` -> (-1, False); ``t T`` -> (0, True); else (None, False)."""
    transposed = False
    if isinstance(sup, A.Binary) and sup.op == "juxt" and isinstance(sup.right, A.Name) and sup.right.name == "T":
        sup, transposed = sup.left, True
    if isinstance(sup, A.Group):
        sup = sup.inner
    if isinstance(sup, A.Name) and sup.name == "t":
        return 0, transposed
    if isinstance(sup, A.Binary) and sup.op in "+-" and isinstance(sup.left, A.Name) and sup.left.name == "t" \
            and isinstance(sup.right, A.Number) and sup.right.text == "1":
        return (1 if sup.op == "+" else -1), transposed
    return None, False


def _arguments(node):
    from ._layer_formula import _arguments as arguments
    return arguments(node)

r"""``check --layer rnn``: a hand-derived gradient through time, in the layer language's index form, judged.

The formula names one gradient on its left and is written over the layer's arrays with the time index
first, as the derivation writes it::

    dz[t, n, k] = (1 - h[t, n, k]^2) * (dh[t, n, k] + dh_prev[t+1, n, k])
    dWx[j, k] = sum(x[t, n, j] * dz[t, n, k], t, n)
    dh0[n, q] = sum(Wh[q, k] * dz[0..]...)      (any formula of the arrays below)

Read on the right: the forward arrays at step t (``x[t, ...]``, ``z[t, ...]``, ``h[t, ...]``) and a state
at the previous step (``h[t-1, ...]``); the parameters; ``dh`` the upstream gradient of the output at
each step (DLS's da⟨t⟩); ``dh_prev[t+1, ...]`` what step t+1 sends back to its previous state (zero after
the last step); and each step's gradient of a quantity (``dz[t, ...]``). The left is the gradient of a
quantity at step t, of a sequence input, of a parameter or of an initial state.

The formula is parsed by the layer language's own grammar, printed as NumPy by the exporter's index
printer and evaluated on a random sequence; the expected values are the exported module's (generated from
the derivation). An incorrect formula is compared with nearby formulas that are themselves generated: each
step's upstream gradient without the carried term (the module printed with ``carry=False``: "the
carried gradient dh_prev⟨t+1⟩ is forgotten"), the derivative of tanh written in z instead of its output
(1 - z² for 1 - h²), a shared weight's gradient of one step (no Σ_t), and the derived gradient with one change
(:mod:`._recurrent_variants`: a path or a factor dropped, tanh(c) written as c), named in the notation's spelling.

With ``--notation ng-dls`` the lstm is read as the Deep Learning Specialization's lstm_cell_backward writes it
(``dft = (dc_next * c_prev + ...) * ft * (1 - ft)``, ``dWf = np.dot(dft, np.concatenate((a_prev, xt), axis=0).T)``,
``Wf[:, :n_a]``): the notebook's joined weights Wf are the layer's Wfh and Wfx side by side, and a weight's gradient
written without Σ_t is compared with the cell's gradient of one step, at every step.
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import sympy as sp

from ..errors import LayerSpecError, ParseError
from ..layers import _language as L
from ..layers._bptt import timed
from ..layers._derivation import gradient_name
from ._layer_formula import _squeezed
from ._layer_values import Labelled
from ._verdict import Verdict

SIZES = {"T": 4, "N": 3}
RTOL, ATOL = 1e-7, 1e-9
_INDEX_FORM = re.compile(r"^\s*d\w+\s*\[")


def check_recurrent(formula: str, layer, seed: int = 0, notation=None) -> Verdict:
    """Judge ``formula`` (one gradient of the recurrent ``layer``, in index form or as NumPy/LaTeX of one step,
    see :mod:`._recurrent_numpy`) against the derivation."""
    from ..layers import derive_layer
    if not isinstance(formula, str) or not formula.strip():
        raise ParseError("an empty formula; write e.g. dz[t, n, k] = (1 - h[t, n, k]^2) * (dh[t, n, k] + "
                         "dh_prev[t+1, n, k])", str(formula), 0)
    from ._recurrent_numpy import CELL_EXERCISES, joins, spelling
    derivation = derive_layer(layer)
    values = _Values(derivation, seed)
    for name, parts in joins(layer, notation).items():
        values.join(name, parts)
    values.spelled = spelling(layer, notation)
    exercise = CELL_EXERCISES.get((notation, layer.name))
    if _INDEX_FORM.match(formula):
        target, got, free_t = _index_form(formula, layer, values)
    else:
        from ._recurrent_numpy import read_numpy
        from ._errors import FormulaShapeError
        try:
            target, got, summed = read_numpy(formula, values, notation)
        except FormulaShapeError as error:
            return Verdict("incorrect", formula, notation or "layer", formula.split("=")[0].strip(), "shape",
                           str(error))
        expected = values.expected(target)
        squeezed = _squeezed(got)        # a column kept by keepdims=True (DLS's db_a is (n_a, 1)) is the vector
        got = squeezed if isinstance(squeezed, Labelled) else got
        labels = tuple(values._size_name(target, axis) for axis in range(np.ndim(expected)))
        free_t = not summed and labels[:1] != ("T",)
        if free_t:
            labels = ("T", *labels)
        if got.labels != labels:
            swapped = [(a, b) for a, b in zip(got.labels, labels) if a != b and "+" in b
                       and sorted(a.split("+")) == sorted(b.split("+"))]
            from ._recurrent_numpy import CONCATENATED
            joined = next(iter(CONCATENATED.get((notation, layer.name), {}).values()), None)
            order = (f": its blocks side by side are in the order {swapped[0][0]}, the joined weights' are "
                     f"{swapped[0][1]}" + (f" (np.concatenate(({', '.join(joined)}), axis=0))" if joined else "")
                     if swapped and len(swapped) == sum(a != b for a, b in zip(got.labels, labels)) else "")
            return Verdict("incorrect", formula, notation or "layer", target, "shape",
                           f"the formula has the axes [{', '.join(got.labels)}] (in the layer's order), {target} "
                           f"has [{', '.join(labels)}]{order}")
        got = got.array
    return _judge(formula, layer, values, derivation, target, got, free_t, exercise)


def _index_form(formula, layer, values):
    statements = L.parse_statements(formula)
    if len(statements) != 1 or not isinstance(statements[0], L.Equation):
        raise ParseError("write one equation in index form, e.g. dWx[j, k] = sum(x[t, n, j] * dz[t, n, k], t, n)",
                         formula, 0)
    equation = statements[0]
    target = equation.name
    if values.expected(target) is None:
        readable = ", ".join(values.targets())
        raise ParseError(f"the left-hand side {target!r} is no gradient of the layer {layer.name}; read are: "
                         f"{readable}", formula, 0)
    free_t = False
    try:
        got = values.evaluate(equation)
    except LayerSpecError as error:
        if f"index {layer.time_index} on the right of" in str(error) and \
                equation.indices[0][0] != layer.time_index:
            free_t = True           # dWx[j, k] = Σ_n x[t] dz[t]: one step's term
            got = values.evaluate(replace(equation, indices=((layer.time_index, equation.where),) + equation.indices))
        else:
            raise _unreadable(error, formula) from None
    return target, got, free_t


def _judge(formula, layer, values, derivation, target, got, free_t, exercise=None) -> Verdict:
    expected = values.expected(target)
    quantity = f"{values.spelled.get(target, target)} = ∂C/∂{target[1:]}" + (
        " at step t" if target[1:] in derivation.cell.layer.quantities else "")
    if free_t and exercise is not None:
        # the course's cell function (lstm_cell_backward): a weight's gradient of one step is the cell's result
        one_step = values.cell_gradient(target)
        if one_step is not None and one_step.shape == got.shape and _close(got, one_step):
            return Verdict("correct", formula, "layer", f"{target} of one step t ({exercise})", "numeric",
                           f"equal to the derived {target} of one step at each of {SIZES['T']} steps, as "
                           f"{exercise} returns it; {target[1:]} is shared by every step, so through time the "
                           f"steps' gradients add up (Σ_t: {target} += ... in the loop over t)")
    if free_t:
        summed = got.sum(axis=0)
        if _close(summed, expected):
            return Verdict("incorrect", formula, "layer", quantity, "numeric",
                           f"this is {target} of one step t: {target[1:]} is shared by every step, so its gradient "
                           f"is the sum over t (Σ_t, sum(..., {layer.time_index}, ...)); evaluated at the last step "
                           f"only it is the weight gradient of the last step", None,
                           matches=("the weight gradient of one step (no sum over time)",))
        return Verdict("incorrect", formula, "layer", quantity, "numeric",
                       f"the index {layer.time_index} is free on the right: {target} is shared by every step and "
                       f"sums over t; even summed over t the formula differs from the derived {target}")
    if got.shape != expected.shape:
        return Verdict("incorrect", formula, "layer", quantity, "shape",
                       f"the formula has shape {got.shape}, {target} has {expected.shape}")
    if _close(got, expected):
        return Verdict("correct", formula, "layer", quantity, "numeric",
                       f"equal to the derived {target} on a random sequence of {SIZES['T']} steps "
                       f"(backpropagation through time)")
    matches = [description for description, nearby in values.nearby(target)
               if nearby is not None and nearby.shape == got.shape and _close(got, nearby)]
    if matches:
        return Verdict("incorrect", formula, "layer", quantity, "numeric", "this is " + "; or ".join(matches),
                       matches=tuple(matches))
    return Verdict("incorrect", formula, "layer", quantity, "numeric",
                   f"differs from the derived {target} on a random sequence of {SIZES['T']} steps")


def _unreadable(error, formula) -> ParseError:
    """A LayerSpecError of the formula ('line 1: ...', the line, a caret) as the checker's ParseError."""
    lines = str(error).splitlines()
    message = lines[0].removeprefix("line 1: ")
    column = lines[2].index("^") - 2 if len(lines) >= 3 and "^" in lines[2] else 0
    return ParseError(message, formula, max(column, 0))


def _close(a, b) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


class _Values:
    """Every array of one random run through time: forward, upstream, each step's gradients, the results."""

    def __init__(self, derivation, seed):
        from ..export._recurrent_module import recurrent_module
        self.derivation = derivation
        layer = self.layer = derivation.layer
        cell = layer.cell
        rng = np.random.default_rng(seed)
        sizes = dict(SIZES)
        for index, size in enumerate(s for s in cell.sizes if str(s) not in sizes):
            sizes[str(size)] = 2 + index % 3
        self.sizes = sizes
        arrays = [rng.standard_normal(tuple(sizes[str(s)] for s in a.sizes)) for a in layer.differentiable]
        module = recurrent_module(derivation, steps=True)
        outputs, cache = module.forward(*arrays)
        outputs = outputs if len(layer.outputs) > 1 else (outputs,)
        upstream = [rng.standard_normal(o.shape) for o in outputs]
        extra = {f"d{s.name}_last": rng.standard_normal(cache[f"{s.name}_steps"].shape[1:])
                 for s in layer.states if s.name not in layer.outputs}
        dout = upstream if len(upstream) > 1 else upstream[0]
        *results, step_gradients = module.backward(dout, cache, **extra)
        *lost, self.forgotten = recurrent_module(derivation, steps=True, carry=False).backward(dout, cache, **extra)
        self.forgotten = {**self.forgotten, **dict(zip((gradient_name(a.name) for a in layer.differentiable), lost))}
        self.results = dict(zip((gradient_name(a.name) for a in layer.differentiable), results))
        self.steps = step_gradients
        names = {}
        for name in layer.sequences:
            names[name] = cache[f"{name}_seq"]
        for state in layer.states:
            names[state.name] = cache[f"{state.name}_steps"][1:]
            names[f"{state.name}__before"] = cache[f"{state.name}_steps"][:-1]
            sent = step_gradients[gradient_name(state.previous)]
            # after the last step: the given gradient of the final state (an LSTM's dc_last), else zero
            last = extra.get(f"d{state.name}_last", np.zeros_like(sent[0]))
            names[f"{gradient_name(state.previous)}__next"] = np.concatenate([sent[1:], last[None]])
        for name in cell.quantities:
            if name not in names and f"{name}_seq" in cache:
                names[name] = cache[f"{name}_seq"]
        for param in layer.params:
            names[param.name] = cache[param.name]
        for output, value in zip(layer.outputs, upstream):
            names[gradient_name(output)] = value
        for name, value in step_gradients.items():
            quantity = name[1:]
            if quantity in cell.quantities and quantity not in layer.outputs and quantity not in \
                    {s.carried for s in layer.states}:
                names[name] = value
        self.joined = {}             #: a notation's parameter made of the layer's side by side -> its size names
        self.names = names
        self.arrays = dict(zip((a.name for a in layer.differentiable), arrays))
        self.parts = {}              #: that parameter -> the layer's parameters it holds
        self.spelled = {}            #: a cell name -> the notation's spelling, for the diagnoses

    def join(self, name, parts):
        """Register the notation's parameter ``name``: the layer's ``parts`` side by side along their first axis
        (the notebook's Wf, acting on [a_prev; xt], is [Wfh; Wfx] in the layer's order), and its gradient."""
        labels = [tuple(self._size_name(part, axis) for axis in range(self.names[part].ndim)) for part in parts]
        self.joined[name] = ("+".join(label[0] for label in labels), *labels[0][1:])
        self.parts[name] = tuple(parts)
        self.names[name] = np.concatenate([self.names[part] for part in parts], axis=0)
        self.results[gradient_name(name)] = np.concatenate([self.results[gradient_name(p)] for p in parts], axis=0)

    def cell_gradient(self, target):
        """The gradient of a parameter (or a joined one) of one step, at every step (T first), from the cell's
        derived gradient; None for anything else."""
        name = target[1:]
        parts = self.parts.get(name, (name,))
        params = {a.name for a in self.layer.params}
        if not target.startswith("d") or any(part not in params for part in parts):
            return None
        steps = [self._step_value(self.derivation.step_gradients[part], part) for part in parts]
        return np.concatenate(steps, axis=1)

    def targets(self) -> list:
        """The gradients a formula may define: the results, each step's gradient of a quantity, and what each
        step sends back to its previous state (dh_prev[t, ...])."""
        layer, cell = self.layer, self.layer.cell
        carried = {s.carried for s in layer.states} | set(layer.outputs)
        steps = [gradient_name(q) for q in cell.quantities if q not in carried]
        steps += [gradient_name(s.previous) for s in layer.states]
        return [*self.results, *(g for g in steps if g in self.steps)]

    def expected(self, target):
        if target in self.results:
            return self.results[target]
        if target in self.targets():
            return self.steps[target]
        return None

    def nearby(self, target):
        """(description, value) of the formulas near ``target``, each generated from the derivation."""
        layer, derivation = self.layer, self.derivation
        states = ", ".join(f"{gradient_name(s.previous)}⟨t+1⟩" for s in layer.states)
        found = []
        if target in self.forgotten:
            found.append((f"{target} with the carried gradient forgotten: each step's upstream gradient without "
                          f"what the next step sends back ({states})", self.forgotten[target]))
        quantity = target[1:]
        if quantity in derivation.step_gradients and quantity in derivation.cell.layer.quantities:
            expr = derivation.step_gradients[quantity]
            for definition in derivation.cell.layer.definitions:
                rhs = definition.rhs
                if isinstance(rhs, sp.Function) and len(rhs.args) == 1 and isinstance(rhs.args[0], sp.Indexed):
                    argument = rhs.args[0]
                    base = sp.IndexedBase(definition.name, real=True)
                    swapped = expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == base,
                                           lambda e: argument.base[e.indices])
                    if swapped != expr:
                        found.append((f"{target} with {rhs.func.__name__}' written in {argument.base.label} instead "
                                      f"of {definition.name}: 1 - {argument.base.label}² is not the derivative; "
                                      f"{definition.name} = {rhs.func.__name__}({argument.base.label}) is", 
                                      self._step_value(swapped, quantity)))
        if quantity in derivation.step_gradients and target in self.targets() and \
                quantity not in {a.name for a in layer.params}:
            from ._recurrent_numpy import spell
            from ._recurrent_variants import variants
            for description, expr in variants(derivation, quantity, lambda e: spell(e, self.spelled)):
                found.append((description, self._step_value(expr, quantity)))
        return found

    def _step_value(self, expr, quantity):
        """A cell expression evaluated at every step with the true values (the cell's own dh: the total)."""
        layer = self.layer
        t = self.derivation.time_index
        expr = timed(expr, layer, t, previous_as_state=True)
        mapping = {}
        for state in layer.states:
            mapping[gradient_name(state.carried)] = f"__total_{state.carried}"
        namespace = dict(self.names)
        for state in layer.states:
            namespace[f"__total_{state.carried}"] = self.steps[gradient_name(state.carried)]
        expr = expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base.label.name in mapping,
                            lambda e: sp.IndexedBase(mapping[e.base.label.name], real=True)[e.indices])
        expr = _previous(expr, layer, t)
        indices = (t, *self.derivation.cell.gradients[quantity].indices)
        return _run(expr, indices, namespace, self.sizes)

    def evaluate(self, equation):
        """The formula's value: its right side over the arrays of the run, on the axes of its left side."""
        layer = self.layer
        rhs = _rewrite(equation.rhs, layer)
        statements = [L.Declaration("input", tuple(
            L.Slot(name, tuple((self._size_name(name, axis), equation.where) for axis in range(value.ndim)),
                   equation.where) for name, value in self.names.items() if name != equation.name))]
        statements += [replace(equation, rhs=rhs),
                       L.Output(((equation.name, equation.where),))]
        built = _Quiet(statements).layer(str(equation), "formula", "")
        definition = built.definition(equation.name)
        return _run(definition.rhs, definition.indices, self.names, self.sizes)

    def _size_name(self, name, axis):
        """The size symbol of an array's axis, named as the layer names it (T first for the sequences)."""
        layer, cell = self.layer, self.layer.cell
        base = name.split("__")[0]
        joined = base if base in self.joined else base[1:] if base.startswith("d") and base[1:] in self.joined else None
        if joined is not None:           # the notation's Wf or its gradient dWf: the parts' axes, the first joined
            return self.joined[joined][axis]
        if base.startswith("d") and base[1:] in layer.arrays and base not in layer.arrays:
            base = base[1:]
        if base.startswith("d") and base.endswith("_prev"):
            base = next(s.name for s in layer.states if gradient_name(s.previous) == base)
        array = layer.arrays.get(base)
        sizes = array.sizes if array is not None else (layer.time, *cell.arrays[base].sizes)
        return str(sizes[axis])


class _Quiet:
    """The layer builder with the gradient-name rule off (dz beside z is the point here)."""

    def __new__(cls, statements):
        from ..layers._validate import _Builder

        class Builder(_Builder):
            def _check_gradient_names(self):
                return None
        return Builder(statements)


def _rewrite(node, layer):
    """``h[t-1, ...]`` -> ``h__before[t, ...]``; ``dh_prev[t+1, ...]`` -> ``dh_prev__next[t, ...]``."""
    from ..layers._recurrence import _shift
    states = {s.name for s in layer.states}
    sent = {gradient_name(s.previous) for s in layer.states}

    def at(node):
        if isinstance(node, L.Ref):
            subscripts = tuple(at(s) for s in node.subscripts)
            shift = _shift(subscripts[0]) if subscripts else None
            if shift and shift[0] == layer.time_index:
                if shift[1] == 1 and node.name in states:
                    return L.Ref(f"{node.name}__before", (L.Name(layer.time_index, node.where), *subscripts[1:]),
                                 node.where)
                if shift[1] == -1 and node.name in sent:
                    return L.Ref(f"{node.name}__next", (L.Name(layer.time_index, node.where), *subscripts[1:]),
                                 node.where)
                if shift[1] != 0:
                    raise node.where.error(f"{node.name}[{layer.time_index}{'-' if shift[1] > 0 else '+'}"
                                           f"{abs(shift[1]):g}, ...] is not read: a state at t-1 and what step t+1 "
                                           f"sends back (d..._prev[t+1, ...]) are")
            return L.Ref(node.name, subscripts, node.where)
        if isinstance(node, L.Binary):
            return L.Binary(node.op, at(node.left), at(node.right), node.where)
        if isinstance(node, L.Negate):
            return L.Negate(at(node.operand), node.where)
        if isinstance(node, L.Call):
            return replace(node, argument=at(node.argument))
        return node
    return at(node)


def _previous(expr, layer, t):
    """The timed form's h[t-1, ...] as the arrays of the run: h__before[t, ...]."""
    states = {s.name for s in layer.states}

    def shift(e):
        return sp.IndexedBase(f"{e.base.label.name}__before", real=True)[(t, *e.indices[1:])]
    return expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base.label.name in states and e.indices
                        and e.indices[0] == t - 1, shift)


def _run(expr, indices, namespace, sizes):
    """``expr`` (Indexed over the arrays of ``namespace``) as a NumPy array on the axes ``indices``."""
    from ..export._index_printing import IndexPrinter
    symbols = {s: str(s) for s in expr.free_symbols if isinstance(s, sp.Symbol) and str(s) in sizes}
    printer = IndexPrinter({**symbols, **{n: n for n in namespace}}, prefix="v")
    shape = "(" + ", ".join(str(_axis_size(expr, i, namespace)) for i in indices) + ("," if len(indices) == 1 else "") + ")"
    printer.assign("__value", expr, tuple(indices), shape)
    scope = {"__builtins__": {}, "np": np, **namespace, **sizes}
    # code printed by the project's own printer from the parsed formula (names: the layer's arrays and sizes,
    # alphanumeric by the grammar), run with NumPy and without Python's builtins
    exec("\n".join(printer.lines), scope)
    return np.asarray(scope["__value"], dtype=float)


def _axis_size(expr, index, namespace):
    for ref in expr.atoms(sp.Indexed):
        if index in ref.indices:
            return namespace[ref.base.label.name].shape[list(ref.indices).index(index)]
    return 1


__all__ = ["check_recurrent"]

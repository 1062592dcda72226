"""Standalone NumPy, torch or JAX modules for recurrent layers: ``forward`` over a whole sequence and
``backward(dout, cache)`` through time, printed from a :class:`~symbackprop.layers._bptt.RecurrentDerivation`.
The formulas are printed by the backend's index printer; the few array idioms written around them (buffers,
concatenation, axis permutations, stores into a sequence) come from :data:`IDIOMS` and :func:`store`. NumPy's
loops then write into buffers made once (:mod:`._loop_buffers`); torch's and JAX's are plain Python loops over t.

Nothing is written per layer. One step's forward code is the cell's equations and one step's backward
code the cell's derived gradients (dz = (1 - h²) dh, dh_prev = dz Whᵀ), printed by
:mod:`._index_printing` inside the only Python loop, the one over time steps (the recursion itself).
What does not feed the recursion is computed after the loop for every step at once, as the
derivation states it: dx⟨t⟩ for all t, and each shared weight's Σ_t as one contraction over time and
examples (one BLAS product, not T of them); likewise the input's part of each pre-activation (x⟨t⟩ Wx + b)
before the loop. Gates that are affine maps of the same inputs (the LSTM's four: x⟨t⟩ W_mx + h⟨t-1⟩ W_mh + b_m)
are stacked as a hand-written LSTM stacks them: one (N, 4H) pre-activation per step, the gates' dz written
into one (T, N, 4H) array, so dh_prev, dx and each class of weight gradients are one product split by
columns; a gradient is taken from the stack only where it is the same derived expression of each gate's
own dz (:func:`_stacked_terms`, :func:`_stacked_parameters`). The statements inside the loops write into
arrays made once before them (:mod:`._loop_buffers`), a stored value straight into its sequence.

The layout is the notation's: the layer's own (time first, examples as rows), ``cs231n`` (x (N, T, D),
h (N, T, H)) or ``ng-dls`` (examples as columns, time last: x (n_x, m, T_x), a0 (n_a, m),
Wax (n_a, n_x), ba (n_a, 1)), with the names of :data:`NAMES`. Arrays are viewed, not copied, between
a notation's layout and the layer's.
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from ._files import load_module, write_module
from ._loop_buffers import buffered_block, buffered_loop
from ..errors import ExportError
from ..layers._bptt import timed
from ..layers._derivation import gradient_name
from ..layers._printing import language, text
from ._gate_stacks import affine_inputs, back_product, stack_projection, stacked_parameters, stacked_products, stacked_terms
from ._index_printing import code_name, index_printer, shape_code

#: The array idioms the module writes around the printed formulas, per backend ({like}: an array whose dtype and
#: device new arrays take). JAX's arrays are immutable: its stores are written as ``a = a.at[t].set(v)`` (:func:`store`).
IDIOMS = {
    "numpy": {"import": "import numpy as np", "empty": "np.empty({shape})", "zeros": "np.zeros({shape})",
              "concatenate": "np.concatenate([{items}], axis={axis})", "asarray": "np.asarray({x})",
              "as_like": "np.asarray({x}, dtype=float)", "transpose": "np.transpose({x}, {axes})"},
    "torch": {"import": "import torch",
              "empty": "torch.empty({shape}, dtype={like}.dtype, device={like}.device)",
              "zeros": "torch.zeros({shape}, dtype={like}.dtype, device={like}.device)",
              "concatenate": "torch.cat([{items}], dim={axis})", "asarray": "torch.as_tensor({x})",
              "as_like": "torch.as_tensor({x}, dtype={like}.dtype, device={like}.device)",
              "transpose": "torch.permute({x}, {axes})"},
    "jax": {"import": "import jax.numpy as jnp", "empty": "jnp.zeros({shape}, dtype={like}.dtype)",
            "zeros": "jnp.zeros({shape}, dtype={like}.dtype)", "concatenate": "jnp.concatenate([{items}], axis={axis})",
            "asarray": "jnp.asarray({x})", "as_like": "jnp.asarray({x}, dtype={like}.dtype)",
            "transpose": "jnp.transpose({x}, {axes})"},
}


def store(backend, array, index, value) -> str:
    """The statement writing ``value`` into ``array[index]``: in place, or as JAX's functional update."""
    if backend == "jax":
        return f"{array} = {array}.at[{index}].set({value})"
    return f"{array}[{index}] = {value}"


def idioms_of(backend) -> dict:
    if backend not in IDIOMS:
        raise ExportError(f"--backend {backend}: a recurrent layer is exported for {' or '.join(IDIOMS)} so far")
    return IDIOMS[backend]



@dataclass(frozen=True)
class Layout:
    """How a notation lays out a recurrent layer's arrays: time axis, examples as rows or columns, names."""

    name: str
    time_position: int            #: where the time axis of a sequence goes: 0 (the layer's), 1 (N, T, D), -1 (last)
    columns: bool = False         #: every array's axes reversed (examples as columns), 1-D parameters as (H, 1)
    names: dict = field(default_factory=dict)   #: layer name -> {array name -> the notation's name}
    #: layer name -> {the notation's name -> the layer's parameters it holds side by side, in order}
    joins: dict = field(default_factory=dict)


#: The ng-dls names of the rnn and lstm records (DLS, "Building a Recurrent Neural Network, step by step"):
#: the lstm's update gate is the notebook's i (it, Wi, bi).
NAMES = {
    "ng-dls": {"rnn": {"h0": "a0", "Wx": "Wax", "Wh": "Waa", "b": "ba", "h": "a"},
               "lstm": {"h0": "a0", "h": "a", "bu": "bi"}, "gru": {"h0": "a0", "h": "a"}},
}

#: The notebook's LSTM weights act on concat = [a_prev; xt]: its Wf (n_a, n_a + n_x) is the layer's Wfh and Wfx
#: side by side (Wf[:, :n_a] on a_prev, Wf[:, n_a:] on xt), and dWf the two gradients side by side.
JOINS = {
    "ng-dls": {"lstm": {"Wf": ("Wfh", "Wfx"), "Wi": ("Wuh", "Wux"), "Wc": ("Wch", "Wcx"), "Wo": ("Woh", "Wox")}},
}

LAYOUTS = {
    None: Layout("layer", 0),
    "cs231n": Layout("cs231n", 1),
    "ng-dls": Layout("ng-dls", -1, columns=True, names=NAMES["ng-dls"], joins=JOINS["ng-dls"]),
}


def layout_of(notation) -> Layout:
    if notation not in LAYOUTS:
        accepted = ", ".join(n for n in LAYOUTS if n)
        raise ExportError(f"--notation {notation}: a recurrent layer is exported in the layout of {accepted} "
                          f"(or its own, time first, without --notation)")
    return LAYOUTS[notation]


class _Arrays:
    """The user's names and axis orders for the arrays of one layer in one layout."""

    def __init__(self, layer, layout: Layout, backend: str = "numpy"):
        self.layer, self.layout = layer, layout
        self.idioms = idioms_of(backend)
        self.names = layout.names.get(layer.name, {})
        joins = layout.joins.get(layer.name, {})
        self.joined = {part: (name, parts) for name, parts in joins.items() for part in parts
                       if all(p in layer.arrays for p in parts)}

    def user(self, name) -> str:
        if name in self.joined:
            return code_name(self.joined[name][0])
        return code_name(self.names.get(name, name))

    def arguments(self) -> list:
        """(the user's name, the layer's arrays it holds) for each array forward takes, in the layer's order; a
        joined array stands where its first declared part does."""
        found, seen = [], set()
        for array in self.layer.differentiable:
            if array.name in self.joined:
                name, parts = self.joined[array.name]
                if name not in seen:
                    seen.add(name)
                    found.append((code_name(name), parts))
            else:
                found.append((self.user(array.name), (array.name,)))
        return found

    def join_axis(self, part) -> int:
        """The axis of the user's joined array along which the parts lie side by side (the parts' first axis)."""
        return self.permutation(part).index(0)

    def part_view(self, part) -> str:
        """Code viewing a part of a joined array in the layer's axis order: Wf[:, :H].T."""
        name, parts = self.joined[part]
        lengths = [self.layer.arrays[p].sizes[0] for p in parts]
        position = parts.index(part)
        start = sum(lengths[:position], sp.Integer(0))
        index = [":"] * len(self.layer.arrays[part].sizes)
        index[self.join_axis(part)] = (f"{start if position else ''}:"
                                       f"{start + lengths[position] if position < len(parts) - 1 else ''}")
        return self.to_layer(f"{code_name(name)}[{', '.join(index)}]", part)

    def joined_result(self, codes, parts) -> str:
        """Code putting the parts' gradients (in the layer's order) side by side as the user's joined array."""
        axis = self.join_axis(parts[0])
        items = ", ".join(self.to_user(c, p) for c, p in zip(codes, parts))
        return self.idioms["concatenate"].format(items=items, axis=axis)

    def argument_sizes(self, parts) -> tuple:
        """The shape of the user's array holding ``parts`` (one array, or the parts side by side)."""
        shape = list(self.user_sizes(parts[0]))
        if len(parts) > 1:
            axis = self.join_axis(parts[0])
            shape[axis] = " + ".join(str(self.layer.arrays[p].sizes[0]) for p in parts)
        return tuple(shape)

    def permutation(self, name) -> tuple:
        """The canonical axis each axis of the user's array holds."""
        rank = len(self.layer.arrays[name].sizes)
        axes = list(range(rank))
        timed_ = self.timed(name)
        if self.layout.columns:
            axes = axes[::-1]
        elif timed_ and self.layout.time_position == 1 and rank > 1:
            axes = [1, 0, *axes[2:]]
        return tuple(axes)

    def timed(self, name) -> bool:
        return name in self.layer.sequences or name in self.layer.outputs

    def column(self, name) -> bool:
        return self.layout.columns and self.layer.arrays[name].kind == "param" and len(self.layer.arrays[name].sizes) == 1

    def user_sizes(self, name) -> tuple:
        sizes = self.layer.arrays[name].sizes
        shape = tuple(str(sizes[a]) for a in self.permutation(name))
        return shape + ("1",) if self.column(name) else shape

    def to_layer(self, code, name) -> str:
        """Code viewing the user's array ``code`` in the layer's axis order."""
        if self.column(name):
            return f"{code}[:, 0]"
        permutation = self.permutation(name)
        if permutation == tuple(range(len(permutation))):
            return code
        inverse = tuple(permutation.index(a) for a in range(len(permutation)))
        return f"{code}.T" if len(permutation) == 2 else self.idioms["transpose"].format(x=code, axes=inverse)

    def to_user(self, code, name) -> str:
        if self.column(name):
            return f"{code}[:, None]"
        permutation = self.permutation(name)
        if permutation == tuple(range(len(permutation))):
            return code
        return f"{code}.T" if len(permutation) == 2 else self.idioms["transpose"].format(x=code, axes=permutation)


def recurrent_source(derivation, notation=None, steps=False, carry=True, backend="numpy") -> str:
    """The source of the standalone module for a recurrent layer's derivation, in a notation's layout.

    For the checker: ``steps`` makes ``backward`` also return every step's gradients ({'dz': (T, N, H), ...},
    the states' total gradients included); ``carry=False`` prints the classic bug, each step's upstream
    gradient without what the next step sends back (a nearby formula, itself generated)."""
    layer, cell = derivation.layer, derivation.cell.layer
    layout = layout_of(notation)
    user = _Arrays(layer, layout, backend)
    idioms = user.idioms
    t = derivation.time_index
    # an array in scope whose dtype and device new arrays take: the first input in forward, its steps in backward
    forward_like = code_name(user.arguments()[0][0])
    backward_like = f"{code_name(layer.sequences[0])}_seq"

    def make(kind, shape, like, **more):
        return idioms[kind].format(shape=shape, like=like, **more)

    def concatenate(items, axis):
        return idioms["concatenate"].format(items=items, axis=axis)

    def buffered(lines):
        return buffered_block(lines, shapes) if backend == "numpy" else lines

    def loop_of(header, step):
        return _loop(header, step, shapes, kept_slots(step)) if backend == "numpy" else \
            [header, *(f"    {line}" for line in step)]
    states = {s.name: s for s in layer.states}
    carried = {s.carried: s for s in layer.states}
    previous = {s.previous: s for s in layer.states}
    names = {symbol: code_name(str(symbol)) for symbol in cell.constants}
    names.update({size: str(size) for size in (*cell.sizes, layer.time)})
    step_names = {name: code_name(name) for name in cell.arrays}
    for name in cell.arrays:
        step_names.setdefault(gradient_name(name), code_name(gradient_name(name)))

    def seq(name) -> str:
        """The array holding ``name`` at every step (time first)."""
        if name in states:
            return f"{name}_all"
        if name in carried:
            return f"{carried[name].name}_all"
        if name in previous:
            return f"{previous[name].name}_before"
        return f"{code_name(name)}_seq"

    def flat(expr, target, flats):
        """expr over (t, n, ...) arrays with t and n merged into one row index (one product over all steps and
        examples: a BLAS call instead of einsum over three axes); (expr, target axes) or None."""
        def sizes_of(code):
            return _sizes_of_seq(code, cell, layer, seq)
        merged = _merge_time(expr, t, target, sizes_of)
        if merged is None:
            return None
        expr, row, example, target = merged
        size = layer.time * example

        def view(ref):
            base = ref.base.label.name
            shape = (size, *sizes_of(base)[2:])
            flats.setdefault(base, f"{base}_flat = {base}.reshape({', '.join(map(str, shape))})")
            return sp.IndexedBase(f"{base}_flat", real=True)[(row, *ref.indices[1:])]
        expr = expr.replace(lambda e: isinstance(e, sp.Indexed) and e.indices and e.indices[0] == row, view)
        expr = expr.xreplace({sp.Symbol("__rows", integer=True, positive=True): size})
        return expr, target, size

    # ---- one step forward; the terms that read only the inputs at t and the parameters (x⟨t⟩ Wx + b) are
    # computed for every step before the loop, one product over all steps instead of one per step
    forward = index_printer(backend, {**names, **step_names}, prefix="f", like=forward_like)
    before = index_printer(backend, {**names}, prefix="p", like=forward_like)
    hoisted = []
    shared = {a.name for a in cell.params}
    split = {}
    before_flats = {}
    statics = {}
    for definition in cell.definitions:
        rhs = definition.rhs
        terms = sp.Add.make_args(rhs)
        reads = [{r.base.label.name for r in term.atoms(sp.Indexed)} for term in terms]
        static = [term for term, names_ in zip(terms, reads) if names_ <= shared | set(layer.sequences)]
        if len(terms) > 1 and any(set(layer.sequences) & names_ for term, names_ in zip(terms, reads)
                                  if term in static):
            statics[definition.name] = static
            split[definition.name] = [term for term in terms if term not in static]
    # the products of one previous state with a weight per definition (h_prev Wfh, h_prev Wuh, ...): one
    # product with the weights side by side, its columns sliced per definition (and one product back)
    groups = stacked_products(split, cell, set(previous), shared)
    # gates that are affine maps of the same inputs (x⟨t⟩ W_mx + h⟨t-1⟩ W_mh + b_m, the LSTM's four): their
    # pre-activations are one (N, 4H) array, x's part one product over all steps with the weights side by side
    stacks = {}
    taken = {code for name in cell.arrays for code in (code_name(name), code_name(gradient_name(name)))}
    for state_input, members in groups.items():
        found = affine_inputs(members, statics, split, set(layer.sequences), shared, cell)
        if found is None:
            continue
        found["stem"] = "gates" if not stacks else f"gates{len(stacks) + 1}"
        made = {found["stem"], f"d{found['stem']}", f"{found['input']}_W", f"d{found['input']}_W"}
        if not made & taken and flat(stack_projection(found, seq, t, cell), (t, found["row"], found["column"]),
                                     {}) is not None and all(s["input"] != found["input"] for s in stacks.values()):
            stacks[state_input] = found
    for definition in cell.definitions:
        if definition.name not in statics or any(definition.name in stack["members"] for stack in stacks.values()):
            continue
        inner = sp.Add(*statics[definition.name]).replace(
            lambda e: isinstance(e, sp.Indexed) and e.base.label.name in layer.sequences,
            lambda e: sp.IndexedBase(seq(e.base.label.name), real=True)[(t, *e.indices)])
        merged = flat(inner, (t, *definition.indices), before_flats)
        if merged is None:
            before.assign(f"{code_name(definition.name)}_in_seq", inner, (t, *definition.indices),
                          shape_code((layer.time, *cell.arrays[definition.name].sizes)))
        else:
            rows, axes, size = merged
            before.assign(f"{code_name(definition.name)}_in_flat", rows, axes,
                          shape_code((size, *cell.arrays[definition.name].sizes[1:])))
            before.lines.append(f"{code_name(definition.name)}_in_seq = {code_name(definition.name)}_in_flat"
                                f".reshape({', '.join(map(str, (layer.time, *cell.arrays[definition.name].sizes)))})")
        hoisted.append(definition.name)
    for state_input, stack in stacks.items():
        stem, width = stack["stem"], stack["width"]
        before.lines.append(f"{stack['input']}_W = {concatenate(', '.join(stack['weights']), 1)}")
        if stack["biases"]:
            before.lines.append(f"{stem}_b = {concatenate(', '.join(stack['biases']), 0)}")
        rows, axes, size = flat(stack_projection(stack, seq, t, cell), (t, stack["row"], stack["column"]),
                                before_flats)
        before.assign(f"{stem}_in_flat", rows, axes, shape_code((size, width)))
        before.lines.append(f"{stem}_in_seq = {stem}_in_flat.reshape({layer.time}, "
                            f"{', '.join(map(str, cell.arrays[state_input].sizes[:-1]))}, {width})")
        hoisted.append(stem)
    before.lines[:0] = list(before_flats.values())
    for state_input, members in groups.items():
        weights = ", ".join(code_name(weight) for _, weight, _ in members)
        before.lines.append(f"{state_input}_W = {concatenate(weights, 1)}")
    # a function of a forward array that one step's backward needs again (the LSTM's tanh(c)): computed once in
    # the forward step and kept, as a hand-written cache keeps it
    shared_calls = _shared_calls(cell, derivation.step_gradients)
    call_names = {}
    for call, name in shared_calls.items():
        step_names[name] = name
        call_names[name] = call
    emitted = set()
    for definition in cell.definitions:
        rhs = definition.rhs
        for call, name in shared_calls.items():
            if rhs.has(call):
                if name not in emitted:
                    argument = call.args[0]
                    forward.assign(name, call, tuple(argument.indices),
                                   shape_code(cell.arrays[argument.base.label.name].sizes))
                    emitted.add(name)
                rhs = rhs.xreplace({call: sp.IndexedBase(name, real=True)[call.args[0].indices]})
        if any(definition.name in stack["members"] for stack in stacks.values()):
            continue                 # a column view of the stacked pre-activations (below)
        if definition.name in split:
            dynamic = split[definition.name]
            for state_input, members in groups.items():
                for member, _, term in members:
                    if member == definition.name:
                        dynamic = [d for d in dynamic if d != term] + \
                            [sp.IndexedBase(f"{code_name(member)}_rec", real=True)[definition.indices]]
            rhs = sp.Add(*dynamic) + sp.IndexedBase(f"{code_name(definition.name)}_in", real=True)[definition.indices]
        forward.assign(step_names[definition.name], rhs, definition.indices,
                       shape_code(cell.arrays[definition.name].sizes))
    stacked_lines = []
    for state_input, members in groups.items():
        stack = stacks.get(state_input)
        if stack is not None:
            stacked_lines.append(f"{stack['stem']} = ({step_names[state_input]} @ {state_input}_W) + {stack['stem']}_in")
        else:
            stacked_lines.append(f"{state_input}_rec = {step_names[state_input]} @ {state_input}_W")
        offset = sp.Integer(0)
        for member, weight, _ in members:
            width = cell.arrays[weight].sizes[1]
            if stack is not None:
                stacked_lines.append(f"{step_names[member]} = {stack['stem']}[..., {offset}:{offset + width}]")
            else:
                stacked_lines.append(f"{code_name(member)}_rec = {state_input}_rec[..., {offset}:{offset + width}]")
            offset += width
    forward.lines[:0] = stacked_lines

    # ---- one step backward: the quantities' gradients, then what goes back to the previous states
    loop = index_printer(backend, {**names, **step_names}, prefix="g", like=backward_like)
    in_loop = [n for n, g in derivation.cell.gradients.items() if g.kind == "quantity"] + [s.previous for s in
                                                                                           layer.states]
    for name in in_loop:
        indices = derivation.cell.gradients[name].indices
        expr = derivation.step_gradients[name]
        for call, call_name in shared_calls.items():
            if call_name in emitted:
                expr = expr.replace(lambda e, c=call: isinstance(e, type(c)) and len(e.args) == 1
                                    and isinstance(e.args[0], sp.Indexed) and e.args[0].base == c.args[0].base,
                                    lambda e, n=call_name: sp.IndexedBase(n, real=True)[e.args[0].indices])
        if name in groups:           # dh_prev: Σ_k Wfh dzf + Σ_k Wuh dzu + ... as one product with the stacked weights
            members = groups[name]
            terms = list(sp.Add.make_args(expr))
            found = [back_product(terms, weight, member, indices) for member, weight, _ in members]
            if all(found):
                for term in found:
                    terms.remove(term)
                gradients = ", ".join(step_names[gradient_name(member)] for member, _, _ in members)
                loop.lines.append(f"{name}_back = {concatenate(gradients, -1)} @ {name}_W.T")
                expr = sp.Add(*terms) + sp.IndexedBase(f"{name}_back", real=True)[indices]
        loop.assign(step_names[gradient_name(name)], expr, indices, shape_code(cell.arrays[name].sizes))

    # ---- after the loop: every step's input gradients, the shared weights' sums over time
    after = index_printer(backend, {**names}, prefix="u", like=backward_like)
    flats = {}           # a (T, N, ...) array -> its (T·N, ...) view: every step's examples as rows of one matrix
    kept = set()

    def over_time(expr):
        expr = timed(expr, layer, t, previous_as_state=False)

        def rename(ref):
            base = ref.base.label.name
            if base.startswith("d") and base[1:] in cell.arrays and base[1:] not in layer.sequences:
                kept.add(base[1:])
                return sp.IndexedBase(f"{code_name(base)}_seq", real=True)[ref.indices]
            return sp.IndexedBase(seq(base), real=True)[ref.indices]
        per_step = {a.name for a in cell.params}
        return expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base.label.name not in per_step
                            and len(e.indices) and e.indices[0] == t, rename)

    sequence_gradients = {}
    for name in layer.sequences:
        gradient = derivation.cell.gradients[name]
        expr = over_time(derivation.step_gradients[name])
        sequence_gradients[name] = (expr, flat(expr, (t, *gradient.indices), flats))
    param_gradients = {}
    for param in layer.params:
        gradient = derivation.cell.gradients[param.name]
        expr = sp.Sum(over_time(derivation.step_gradients[param.name]), (t, 0, layer.time - 1))
        merged = flat(expr, tuple(gradient.indices), flats)
        param_gradients[param.name] = merged[0] if merged is not None else expr
    # a stack's gradients dz_m are columns of one (T, N, 4H) array; a gradient that is the same expression of each
    # member's dz_m (dW_mx = Σ x dz_m for every m; dx's term Σ_k dz_m W_mx) is computed once from it and sliced
    # (not in JAX: each member's dz is written through a view of the stack's columns, which JAX has not)
    back_stacks = {g: stack for g, stack in stacks.items() if set(stack["members"]) <= kept and backend != "jax"}
    for stack in back_stacks.values():
        base = f"d{stack['stem']}_seq"
        sizes = (layer.time, *cell.arrays[stack["members"][0]].sizes[:-1])
        flats[base] = f"{base}_flat = {base}.reshape({layer.time * sizes[1]}, {stack['width']})"
        for name, (expr, merged) in sequence_gradients.items():
            if merged is not None:
                stacked = stacked_terms(merged[0], stack, cell)
                if stacked is not None:
                    sequence_gradients[name] = (expr, (stacked, *merged[1:]))
    for name, (expr, merged) in sequence_gradients.items():
        gradient = derivation.cell.gradients[name]
        if merged is None:
            after.assign(f"d{code_name(name)}_seq", expr, (t, *gradient.indices),
                         shape_code((layer.time, *cell.arrays[name].sizes)))
            continue
        expr, target, size = merged
        after.assign(f"d{code_name(name)}_flat", expr, target, shape_code((size, *cell.arrays[name].sizes[1:])))
        after.lines.append(f"d{code_name(name)}_seq = d{code_name(name)}_flat.reshape("
                           f"{', '.join(map(str, (layer.time, *cell.arrays[name].sizes)))})")
    sliced = {}
    for state_input, stack in back_stacks.items():
        h_weights = [code_name(weight) for _, weight, _ in groups[state_input]]
        indices_of = {p.name: derivation.cell.gradients[p.name].indices for p in layer.params}
        sliced.update(stacked_parameters(param_gradients, indices_of, stack, cell, layer, after, h_weights,
                                          state_input))
    for param in layer.params:
        gradient = derivation.cell.gradients[param.name]
        if param.name in sliced:
            after.lines.append(f"{code_name(gradient_name(param.name))} = {sliced[param.name]}")
            continue
        after.assign(code_name(gradient_name(param.name)), param_gradients[param.name], gradient.indices,
                     shape_code(param.sizes))
    # a flat view the forward pass made (x's rows, copied once when x is not in the layer's order) is kept in the cache
    reused = [base for base, line in flats.items() if before_flats.get(base) == line]
    # only the views the products read (a view of a stack member's columns would be a copy)
    after.lines[:0] = [line for base, line in flats.items() if base not in reused and _mentions(after.lines, f"{base}_flat")]

    # what the backward pass reads from the forward pass
    needed_step = [n for n in [*cell.arrays, *sorted(emitted)] if _mentions(loop.lines, step_names[n])]
    stored = [n for n in cell.quantities if n not in states and n not in carried and
              (steps or n in needed_step or _mentions(after.lines, seq(n)) or n in layer.outputs)]
    stored += [n for n in sorted(emitted) if n in needed_step]

    def sizes_of(name):
        if name in call_names:
            return cell.arrays[call_names[name].args[0].base.label.name].sizes
        return cell.arrays[name].sizes
    if steps:
        kept |= set(in_loop) | {s.carried for s in layer.states}
    params = [code_name(a.name) for a in layer.params]

    # ---- the shapes the time loops' statements read, so that they write into buffers made once (_loop_buffers)
    shapes = {names[symbol]: () for symbol in cell.constants}
    for name, array in cell.arrays.items():
        sizes = tuple(map(str, array.sizes))
        shapes[step_names[name]] = sizes
        shapes[step_names.get(gradient_name(name), code_name(gradient_name(name)))] = sizes
        if array.kind == "param":
            continue
        for code in (seq(name), f"{code_name(name)}_seq", f"d{code_name(name)}_seq", f"d{code_name(name)}_up"):
            shapes.setdefault(code, (str(layer.time), *sizes))
        shapes[f"{code_name(name)}_in"] = sizes
        shapes[f"{code_name(name)}_rec"] = sizes
        shapes[f"{code_name(name)}_back"] = sizes
        if name in states:
            shapes[f"{name}_steps"] = (f"{layer.time} + 1", *sizes)
    for name, call in call_names.items():
        shapes[name] = tuple(map(str, cell.arrays[call.args[0].base.label.name].sizes))
        shapes[seq(name)] = (str(layer.time), *shapes[name])
    for state_input, members in groups.items():
        width = sum((cell.arrays[weight].sizes[1] for _, weight, _ in members), sp.Integer(0))
        shapes[f"{state_input}_W"] = (str(cell.arrays[state_input].sizes[-1]), str(width))

    for state_input, stack in stacks.items():
        rows = tuple(map(str, cell.arrays[state_input].sizes[:-1]))
        width = str(stack["width"])
        shapes[f"{stack['input']}_W"] = (str(stack["depth"]), width)
        shapes[f"{stack['stem']}_b"] = (width,)
        for code in (stack["stem"], f"{stack['stem']}_in", f"d{stack['stem']}"):
            shapes[code] = (*rows, width)
        for code in (f"{stack['stem']}_in_seq", f"d{stack['stem']}_seq"):
            shapes[code] = (str(layer.time), *rows, width)

    def kept_slots(step):
        """The stores of a loop body (h_steps[t + 1] = h, dz_seq[t] = dz) its values may be computed into."""
        return {line.split(" = ")[0] for line in step if line.split(" = ")[0].endswith(("[t]", "[t + 1]"))}

    # ---- the module
    inputs = [name for name, _ in user.arguments()]
    lines = [f'"""{_docstring(derivation, user)}"""', idioms["import"], ""]
    for symbol, value in cell.constants.items():
        lines.append(f"{names[symbol]} = {float(value)!r}")
    lines += ["", "", f"def forward({', '.join(inputs)}):",
              f'    """The outputs {", ".join(user.user(o) for o in layer.outputs)} at every step and the cache '
              f'backward needs."""']
    body = []
    for name in inputs:
        body.append(f"{name} = {idioms['asarray'].format(x=name)}")
    body += _shape_checks(layer, user)
    for name in layer.sequences:
        body.append(f"{seq(name)} = {user.to_layer(user.user(name), name)}")
    for state in layer.states:
        sizes = ", ".join(map(str, cell.arrays[state.name].sizes))
        body.append(f"{state.name}_steps = {make('empty', f'({layer.time} + 1, {sizes})', forward_like)}")
        body.append(store(backend, f"{state.name}_steps", 0, user.to_layer(user.user(state.initial), state.initial)))
    for param in layer.params:
        converted = (user.part_view(param.name) if param.name in user.joined
                     else user.to_layer(user.user(param.name), param.name))
        if converted != code_name(param.name):
            body.append(f"{code_name(param.name)} = {converted}")
    for name in stored:
        shape = f"({layer.time}, {', '.join(map(str, sizes_of(name)))})"
        body.append(f"{seq(name)} = {make('empty', shape, forward_like)}")
    body += buffered(before.lines)
    step = []
    for name in layer.sequences:
        if _mentions(forward.lines, step_names[name]):
            step.append(f"{step_names[name]} = {seq(name)}[t]")
    for name in hoisted:
        step.append(f"{code_name(name)}_in = {code_name(name)}_in_seq[t]")
    for state in layer.states:
        step.append(f"{step_names[state.previous]} = {state.name}_steps[t]")
    step += forward.lines
    for state in layer.states:
        step.append(store(backend, f"{state.name}_steps", "t + 1", step_names[state.carried]))
    for name in stored:
        step.append(store(backend, seq(name), "t", step_names[name]))
    body += loop_of(f"for t in range({layer.time}):", step)
    outputs = []
    for name in layer.outputs:
        full = f"{name}_steps[1:]" if name in states else seq(name)
        outputs.append(user.to_user(full, name))
    cache_names = ([seq(n) for n in layer.sequences] + [f"{s.name}_steps" for s in layer.states]
                   + [seq(n) for n in stored] + [f"{base}_flat" for base in reused] + params + [f"{g}_W" for g in groups]
                   + [f"{stack['input']}_W" for stack in stacks.values()]
                   + [str(s) for s in (*cell.sizes, layer.time)])
    body.append("cache = {" + ", ".join(f"{n!r}: {n}" for n in cache_names) + "}")
    body.append(f"return {outputs[0]}, cache" if len(outputs) == 1 else f"return ({', '.join(outputs)}), cache")
    lines += [f"    {line}" for line in body]

    extra = [s for s in layer.states if s.name not in layer.outputs]
    keywords = "".join(f", d{user.user(s.name)}_last=None" for s in extra)
    returned = [f"d{name}" for name in inputs]
    lines += ["", "", f"def backward({'dout' if len(layer.outputs) == 1 else 'douts'}, cache{keywords}):",
              f'    """The gradients ({", ".join(returned)}), given the upstream gradient of '
              f'{", ".join(user.user(o) for o in layer.outputs)} at every step'
              + "".join(f" (and of the last {user.user(s.name)}, d{user.user(s.name)}_last)" for s in extra) + '."""']
    body = [f"{n} = cache[{n!r}]" for n in cache_names]
    upstream = [f"d{user.user(o)}" for o in layer.outputs]
    if len(layer.outputs) == 1:
        body.append(f"{upstream[0]} = {idioms['asarray'].format(x='dout')}")
    else:
        body.append(f"{', '.join(upstream)} = ({idioms['asarray'].format(x='d')} for d in douts)")
    for name, code in zip(layer.outputs, upstream):
        body.append(f"d{code_name(name)}_up = {user.to_layer(code, name)}")
    for state in layer.states:
        sizes = shape_code(cell.arrays[state.name].sizes)
        carried_name = step_names[gradient_name(state.previous)]
        if state.name in layer.outputs:
            body.append(f"{carried_name} = {make('zeros', sizes, backward_like)}")
        else:
            given = f"d{user.user(state.name)}_last"
            body.append(f"{carried_name} = {make('zeros', sizes, backward_like)} if {given} is None else "
                        f"{idioms['as_like'].format(x=user.to_layer(given, state.initial), like=backward_like)}")
        body.append(f"{state.name}_all = {state.name}_steps[1:]")
        body.append(f"{state.name}_before = {state.name}_steps[:-1]")
    in_stack = {}
    for stack in back_stacks.values():
        sizes = cell.arrays[stack["members"][0]].sizes
        shape = f"({layer.time}, {', '.join(map(str, sizes[:-1]))}, {stack['width']})"
        body.append(f"d{stack['stem']}_seq = {make('empty', shape, backward_like)}")
        offset = sp.Integer(0)
        for member in stack["members"]:
            width = cell.arrays[member].sizes[-1]
            in_stack[member] = stack
            body.append(f"d{code_name(member)}_seq = d{stack['stem']}_seq[..., {offset}:{offset + width}]")
            offset += width
    for name in sorted(kept):
        if name not in in_stack:
            shape = f"({layer.time}, {', '.join(map(str, cell.arrays[name].sizes))})"
            body.append(f"d{code_name(name)}_seq = {make('empty', shape, backward_like)}")
    step = []
    for name in needed_step:
        if name in layer.sequences:
            step.append(f"{step_names[name]} = {seq(name)}[t]")
        elif name in previous:
            step.append(f"{step_names[name]} = {previous[name].name}_steps[t]")
        elif name in states or name in carried:
            state = states.get(name) or carried[name]
            step.append(f"{step_names[name]} = {state.name}_steps[t + 1]")
        elif name in stored:
            step.append(f"{step_names[name]} = {seq(name)}[t]")
    for state in layer.states:
        carry_name = step_names[gradient_name(state.previous)]
        target = step_names[gradient_name(state.carried)]
        if state.name in layer.outputs:
            step.append(f"{target} = d{code_name(state.name)}_up[t]" + (f" + {carry_name}" if carry else ""))
        else:
            zeros = make('zeros', shape_code(cell.arrays[state.name].sizes), backward_like)
            step.append(f"{target} = {carry_name if carry else zeros}")
    for name in layer.outputs:
        if name not in states:
            step.append(f"{step_names[gradient_name(name)]} = d{code_name(name)}_up[t]")
    for line in loop.lines:
        for state_input, stack in back_stacks.items():
            if line.startswith(f"{state_input}_back = {idioms['concatenate'].split('[')[0]}["):
                # every member's dz is in its columns of d{stem}_seq[t] before the one product back
                step += [f"d{code_name(m)}_seq[t] = {step_names[gradient_name(m)]}" for m in stack["members"]]
                line = f"{state_input}_back = d{stack['stem']}_seq[t] @ {state_input}_W.T"
        step.append(line)
    for name in sorted(kept):
        if not any(f"d{code_name(name)}_seq[t] = " in line for line in step):
            step.append(store(backend, f"d{code_name(name)}_seq", "t", step_names[gradient_name(name)]))
    body += loop_of(f"for t in range({layer.time} - 1, -1, -1):", step)
    for state in layer.states:
        body.append(f"d{code_name(state.initial)} = {step_names[gradient_name(state.previous)]}")
    body += buffered(after.lines)
    results = []
    for name, parts in user.arguments():
        codes = [f"d{code_name(p)}_seq" if p in layer.sequences else code_name(gradient_name(p)) for p in parts]
        if len(parts) == 1:
            results.append(user.to_user(codes[0], parts[0]))
        else:                # the notebook's dWf: the parts' gradients side by side, named as it names them
            body.append(f"d{name} = {user.joined_result(codes, parts)}")
            results.append(f"d{name}")
    if steps:
        results.append("{" + ", ".join(f"{gradient_name(n)!r}: d{code_name(n)}_seq" for n in sorted(kept)) + "}")
    body.append(f"return {', '.join(results)}")
    lines += [f"    {line}" for line in body]
    return "\n".join(lines) + "\n"


def _loop(header, step, shapes, stores) -> list:
    """A time loop over the statements ``step``, their results written into buffers made before it."""
    before, step = buffered_loop(step, shapes, stores)
    return [*before, header, *(f"    {line}" for line in step)]


def _sizes_of_seq(code, cell, layer, seq) -> tuple:
    """The (T, ...) sizes of an array named ``code`` in the code over all steps."""
    for name in [*cell.arrays]:
        for candidate in (name, gradient_name(name)):
            if seq(candidate) == code or f"{code_name(candidate)}_seq" == code:
                return (layer.time, *cell.arrays[name].sizes)
    raise KeyError(code)      # pragma: no cover - every array over time is named by seq()


def _merge_time(expr, t, target, sizes_of):
    """``expr`` with the time index t and the example index that follows it in every array over time merged
    into one row index, when that is the only place either appears; (expr, row, example size, target) or None.
    ``sizes_of(name)`` gives the (T, N, ...) sizes of an array over time."""
    timed_refs = [r for r in expr.atoms(sp.Indexed) if r.indices and r.indices[0] == t]
    if not timed_refs or any(len(r.indices) < 3 for r in timed_refs):
        return None
    example = timed_refs[0].indices[1]
    if not isinstance(example, sp.Symbol) or any(r.indices[1] != example for r in timed_refs):
        return None
    for ref in expr.atoms(sp.Indexed):
        if (ref not in timed_refs and (t in ref.indices or example in ref.indices)) or \
                (ref in timed_refs and (t in ref.indices[1:] or example in ref.indices[2:])):
            return None
    summed = {limit[0] for total in expr.atoms(sp.Sum) for limit in total.limits}
    if (t in summed) != (example in summed) or (t in target) != (example in target):
        return None
    if t in target and tuple(target[:2]) != (t, example):
        return None
    row = sp.Symbol("r", integer=True)
    example_size = sizes_of(timed_refs[0].base.label.name)[1]

    def drop(total):
        limits = [limit for limit in total.limits if limit[0] not in (t, example)]
        return sp.Sum(total.function, *limits) if limits else total.function
    body = expr.replace(lambda e: isinstance(e, sp.Sum), drop)
    body = body.replace(lambda e: isinstance(e, sp.Indexed) and e.indices and e.indices[0] == t,
                        lambda e: sp.Indexed(e.base, row, *e.indices[2:]))
    if t in summed:
        rows = sp.Symbol("__rows", integer=True, positive=True)
        return sp.Sum(body, (row, 0, rows - 1)), row, example_size, tuple(target)
    return body, row, example_size, (row, *target[2:])


def _shared_calls(cell, step_gradients) -> dict:
    """function call -> a name, for each call of one forward array (tanh(c[n, k])) that a definition makes and
    the step's gradients make again."""
    found = {}
    backward = [expr for expr in step_gradients.values()]
    for definition in cell.definitions:
        for call in definition.rhs.atoms(sp.Function):
            if len(call.args) != 1 or not isinstance(call.args[0], sp.Indexed):
                continue
            argument = call.args[0]
            if tuple(argument.indices) != tuple(definition.indices)[:len(argument.indices)] and \
                    set(argument.indices) - set(definition.indices):
                continue
            again = any(e.func == call.func and isinstance(e.args[0], sp.Indexed) and e.args[0].base == argument.base
                        for expr in backward for e in expr.atoms(sp.Function) if len(e.args) == 1)
            if again and not any(c.func == call.func and c.args[0].base == argument.base for c in found):
                found[call] = code_name(f"{call.func.__name__}_{argument.base.label.name}")
    return found


def _mentions(lines, name) -> bool:
    import re
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    return any(pattern.search(line.split("=", 1)[1]) for line in lines if "=" in line)


def _shape_checks(layer, user) -> list:
    lines, known = [], set()
    for name, parts in user.arguments():
        array = layer.arrays[parts[0]]
        for position, axis in enumerate(user.permutation(array.name)):
            size = array.sizes[axis]
            if size not in known and (len(parts) == 1 or position != user.join_axis(array.name)):
                known.add(size)
                lines.append(f"{size} = {name}.shape[{position}]")
    missing = {s for _, parts in user.arguments() for p in parts for s in layer.arrays[p].sizes} - known
    if missing:          # pragma: no cover - a join's parts are sized by the other arrays (the lstm's by x and a0)
        raise ExportError(f"the sizes {', '.join(map(str, missing))} are read from no array of the layout")
    for name, parts in user.arguments():
        sizes = user.argument_sizes(parts)
        expected = "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
        lines.append(f"if {name}.shape != {expected}:")
        lines.append(f"    raise ValueError(f\"{name} has shape {{{name}.shape}}; expected "
                     f"{expected} = {{{expected}}}\")")
    return lines


def _docstring(derivation, user) -> str:
    layer = derivation.layer
    shapes = [f"    {name}: ({', '.join(user.argument_sizes(parts))})  {layer.arrays[parts[0]].kind}"
              + "".join(f", {p} = {user.part_view(p)}" for p in parts if len(parts) > 1) for name, parts in user.arguments()]
    shapes += [f"    {user.user(o)}: ({', '.join(user.user_sizes(o))})  output" for o in layer.outputs]
    cell = derivation.cell.layer
    forward = [f"    {language(sp.Eq(d.lhs, d.rhs, evaluate=False))}" for d in cell.definitions]
    backward = [f"    {text(step.statement)}" for step in derivation.steps if step.rule.name in
                ("THROUGH_TIME", "SHARED_WEIGHTS", "INITIAL_STATE")]
    one_step = [f"    {text(sp.Eq(sp.IndexedBase(gradient_name(n))[derivation.cell.gradients[n].indices], e))}"
                for n, e in derivation.step_gradients.items() if derivation.cell.gradients[n].kind != "output"]
    parts = [f"{layer.name}: forward over a sequence and backpropagation through time, generated by symbackprop "
             f"from the derivation of the layer (layout: {user.layout.name}).",
             "", "Shapes (sizes are read from the arrays; the layer's names, before the notation's, in the formulas):",
             *shapes, "", "One step t (the layer's equations; a state's _prev is its value at t-1):", *forward,
             "", "Its derived gradients (dh is the step's upstream gradient):", *one_step,
             "", "Through time:", *backward, ""]
    return "\n".join(parts).replace('"""', "'''").replace("\\", "\\\\")


def forward_arguments(layer, notation=None) -> list:
    """The names ``forward`` takes in a notation's layout (ng-dls lstm: x, a0, c0, Wf, bf, Wi, bi, ...)."""
    return [name for name, _ in _Arrays(layer, layout_of(notation)).arguments()]


def recurrent_module(derivation, notation=None, steps=False, carry=True, backend="numpy") -> types.ModuleType:
    """The generated module, loaded in this process (for tests, benchmarks and the checker)."""
    return load_module(recurrent_source(derivation, notation, steps, carry, backend),
                       f"symbackprop_recurrent_{derivation.layer.name.replace('-', '_')}_{backend}")


def export_recurrent_module(derivation, path, force: bool = False, notation=None, backend="numpy") -> Path:
    """Write the module to ``path``; refuses to overwrite unless ``force``."""
    return write_module(recurrent_source(derivation, notation, backend=backend), path, force)

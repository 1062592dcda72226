"""Standalone NumPy, JAX or torch modules for layers: ``forward(*inputs, *params) -> (out, cache)`` and
``backward(dout, cache) -> (d_inputs..., d_params...)``, printed from a :class:`LayerDerivation`.

Nothing here is written per layer: the forward pass prints the layer's equations and the backward
pass prints each gradient's final form (the closed form where the algebra found one, else the
staged chain, whose intermediate gradients are computed once each) with
the backend's printer of :mod:`._index_printing`. The docstring states the shapes and the formulas.

An input that enters the layer only as an added term (attention's ``mask``), after an input that does
not, is optional: ``forward(Q, K, V)`` adds nothing (no pass over the scores).
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from ..errors import ExportError
from ._files import load_module, write_module
from ..layers._derivation import gradient_name
from ..layers._printing import language, text
from . import _conv_printing as windows
from . import _layer_stable as stable
from ._index_printing import code_name, index_printer
from ._printing import BACKENDS, HELPERS, IMPORTS, helpers_called
from ._window_helpers import WINDOW_HELPERS


@dataclass(frozen=True)
class LayerCode:
    """A printed layer module and what a wrapper around it (an autograd op) needs to know."""

    source: str
    arguments: tuple      #: forward's arguments (code names), inputs then parameters
    optional: tuple       #: the arguments that may be None (zeros)
    outputs: tuple        #: the code names of forward's outputs
    saved: tuple          #: the arrays of the cache (what backward reads of the forward pass)
    sizes: tuple          #: the sizes of the cache, each (name, array it is read from, axis)
    returned: tuple       #: the arguments whose gradients backward returns, in its order
    shapes: dict          #: code name -> its sizes (arguments, outputs and saved arrays)
    formulas: dict = field(default_factory=dict)   #: a saved array made for backward -> its definition (text)


def layer_source(derivation, returns=None, backend: str = "numpy") -> str:
    """The source of the standalone module for one layer's derivation, for ``backend`` (numpy, jax, torch).

    ``returns`` (names of inputs and parameters) restricts what ``backward`` computes and returns (a
    model's parameters, not its data X and targets Y); by default every input and parameter.
    """
    return layer_code(derivation, returns, backend).source


def layer_code(derivation, returns=None, backend: str = "numpy", save_reads: bool = False, prefix: str = "",
               header: bool = True) -> LayerCode:
    """The module of :func:`layer_source` with the names a wrapper needs.

    ``save_reads``: a forward quantity the backward reads only through one elementwise expression of it (batch
    norm's var, read as 1/√(var + ε)) is cached as that expression, computed in the forward (what an op saves).
    ``prefix`` names the functions ``{prefix}forward`` and ``{prefix}backward``, and ``header=False`` leaves out the
    module's docstring and imports: a part of another module (the second-order functions beside a model's own)."""
    if backend not in BACKENDS:
        raise ExportError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    layer = derivation.layer
    results = [g for g in derivation.results if returns is None or g.of in returns]
    names = {symbol: code_name(str(symbol)) for symbol in layer.constants}
    names.update({size: str(size) for size in layer.sizes})
    arrays = {name: code_name(name) for name in layer.arrays}
    for name in [*layer.outputs, *layer.arrays]:
        arrays.setdefault(gradient_name(name), code_name(gradient_name(name)))
    for name, code in arrays.items():
        names[name] = code

    inputs = [arrays[a.name] for a in layer.differentiable]
    forward = index_printer(backend, {**names}, prefix="f", like=inputs[0])
    forward.keep_windows = True
    plan = stable.normalisers(layer, set(arrays.values()) | {str(s) for s in names})
    planned = {normaliser.name: normaliser for normaliser in plan}
    optional = optional_inputs(layer)
    fused = _fused_softmaxes(derivation, results, plan) if "softmax" in forward.functions else {}
    for definition in layer.definitions:
        shape = _shape(layer.arrays[definition.name].sizes)
        normaliser = planned.get(definition.name)
        if definition.name in fused:            # the backend's own softmax: one pass, one array
            normaliser = fused[definition.name]
            forward.lines.append(f"{arrays[definition.name]} = "
                                 f"{forward.call('softmax', x=arrays[normaliser.argument.base.label.name], axis=normaliser.axis)}")
            continue
        if normaliser is not None and any(n is normaliser for n in fused.values()):
            continue                            # its only use is the fused softmax
        if normaliser is None:
            # an optional input (attention's mask) is added after the rest, when given: None costs no pass
            added = [t for t in sp.Add.make_args(definition.rhs)
                     if isinstance(t, sp.Indexed) and t.base.label.name in optional]
            forward.assign(arrays[definition.name], stable.rewrite(definition.rhs - sp.Add(*added), plan),
                           definition.indices, shape, layer.arrays[definition.name].sizes)
            for term in added:
                target, given = arrays[definition.name], arrays[term.base.label.name]
                aligned = forward._align(forward.emit(term), tuple(definition.indices))
                forward.lines += [f"if {given} is not None:", f"    {target} = {target} + {aligned}"]
            continue
        argument = normaliser.argument
        source = layer.arrays[argument.base.label.name]
        forward.lines.append(f"{normaliser.shift} = {forward.call('max', x=arrays[source.name], axis=normaliser.axis)}")
        forward.assign(normaliser.exps, stable.shifted_exponentials(normaliser), argument.indices,
                       _shape(source.sizes))
        forward.assign(arrays[definition.name], stable.scaled_sum(normaliser), definition.indices, shape)

    reads = _elementwise_reads(derivation, results, plan, set(arrays.values()) | set(map(str, names))) \
        if save_reads else []
    for array_name, form, read, sizes in reads:
        forward.assign(array_name, form, tuple(read.indices), _shape(sizes), sizes)
    substitutions = {form: read for _, form, read, _ in reads}

    upstream = [arrays[gradient_name(o)] for o in layer.outputs]
    backward = index_printer(backend, {**names}, prefix="t", like=upstream[0])
    backward.made = dict(forward.made)          # the forward's window reads, kept in the cache (dW reads them)
    needed = _needed(derivation, results)
    made, dilated = {}, set()
    for gradient in [derivation.gradients[name] for name in needed] + list(results):
        for record in gradient.auxiliary:           # the dilated upstream gradient of a strided window
            made.setdefault(record[0], record[3])

    def dilate(gradient):
        """The dilated upstream gradients ``gradient`` reads, made once, where their source is known (in a
        model the upstream gradient of a stage is computed in the backward pass, not given)."""
        for record in gradient.auxiliary:
            if record[0] not in dilated:
                dilated.add(record[0])
                backward.lines += windows.dilation_lines([record], names, backward._scalar, backend)

    def sizes_of(name):
        if name in made:
            return made[name]
        array = layer.arrays.get(name) or layer.arrays.get(name[1:]) if name.startswith("d") else layer.arrays.get(name)
        return array.sizes if array is not None else None

    def final(gradient):
        expr = stable.rewrite(gradient.final, plan).xreplace(substitutions)
        if not expr.atoms(windows.InRange):
            return expr
        scattered = windows.scatter_form(expr, gradient.indices)
        if scattered is not expr:
            expr, ranges = scattered
            backward.ranges.update(ranges)
            return expr
        return windows.absorb_brackets(expr, sizes_of)

    for name in needed:
        gradient = derivation.gradients[name]
        dilate(gradient)
        backward.assign(arrays[gradient_name(name)], final(gradient), gradient.indices,
                        _shape(layer.arrays[name].sizes), layer.arrays[name].sizes)
    for gradient in results:
        target = arrays[gradient_name(gradient.of)]
        sizes = layer.arrays[gradient.of].sizes
        transposed = _transposed(gradient, sizes_of, sizes)
        dilate(gradient)
        start = len(backward.lines)
        backward.assign(target, final(gradient), gradient.indices, _shape(sizes), sizes)
        if transposed is None:
            continue
        # the same derived sum, evaluated the other way round (a scatter of δ·Wᵀ over the window offsets):
        # the generated code takes whichever costs fewer operations at the arrays' sizes
        gather, scatter_cost, scattered, ranges = transposed
        gathered = backward.lines[start:]
        del backward.lines[start:]
        backward.ranges.update(ranges)
        backward.assign(target, scattered, gradient.indices, _shape(sizes), sizes)
        scattering = backward.lines[start:]
        del backward.lines[start:]
        flag = f"_scatter_{target}"
        backward.lines += [f"{flag} = {backward._scalar(scatter_cost)} < {backward._scalar(gather)}",
                           f"if {flag}:", *(f"    {line}" for line in scattering),
                           "else:", *(f"    {line}" for line in gathered)]
    for gradient in results:                    # a course's shape (DLS's db (1, 1, 1, n_C)): same entries
        shape = dict(layer.shapes).get(gradient.of)
        if shape is not None:
            name = arrays[gradient_name(gradient.of)]
            backward.lines.append(f"{name} = {name}.reshape({_shape(shape)})")

    produced = set(layer.quantities) | {a.name for a in layer.differentiable}
    candidates = [arrays[n] for n in layer.arrays if n in produced] + [n for p in plan for n in (p.shift, p.exps)]
    candidates += [array_name for array_name, *_ in reads]
    candidates += [code for code, _ in forward.made.values()]
    cached = _referenced(backward.lines, candidates)
    sizes_used = [str(s) for s in layer.sizes if _mentions(backward.lines, str(s))]
    returned = ", ".join(arrays[gradient_name(g.of)] for g in results)

    lines = [f'"""{_docstring(derivation, results, optional)}"""', IMPORTS[backend][0], ""] if header else []
    for symbol, value in layer.constants.items():
        lines.append(f"{names[symbol]} = {float(value)!r}")
    signature = ", ".join(f"{arrays[a.name]}=None" if a.name in optional else arrays[a.name] for a in layer.differentiable)
    lines += ["", "", f"def {prefix}forward({signature}):",
              f'    """The layer\'s outputs {", ".join(layer.outputs)} and the cache backward needs."""']
    lines += [f"    {line}" for line in _size_lines(layer, arrays, optional)]
    lines += [f"    {size} = {windows.size_code(value, forward._scalar)}" for size, value in layer.derived_sizes.items()]
    lines += [f"    {line}" for line in forward.lines]
    cache_items = ", ".join(f"{name!r}: {name}" for name in cached + sizes_used)
    outputs = ", ".join(arrays[o] for o in layer.outputs)
    outputs = outputs if len(layer.outputs) == 1 else f"({outputs})"
    lines += [f"    cache = {{{cache_items}}}", f"    return {outputs}, cache", "", "",
              f"def {prefix}backward({'dout' if len(upstream) == 1 else 'douts'}, cache):",
              f'    """The gradients ({returned}) of the cost, given the upstream gradient'
              f'{"" if len(upstream) == 1 else "s"} of {", ".join(layer.outputs)}."""']
    if len(upstream) == 1:
        lines.append(f"    {upstream[0]} = {backward.call('asarray', x='dout')}")
    else:
        lines.append(f"    {', '.join(upstream)} = ({backward.call('asarray', x='d')} for d in douts)")
    for name in cached + sizes_used:
        lines.append(f"    {name} = cache[{name!r}]")
    lines += [f"    {line}" for line in backward.lines]
    lines += [f"    return {returned}{',' if len(results) == 1 else ''}", ""]
    code = "\n".join(forward.lines + backward.lines)
    for helper in helpers_called(code):         # NumPy has no erf: gelu's module carries Cody's (export/_erf.py)
        lines += ["", "", HELPERS[backend][helper].strip("\n"), ""]
    for helper, source in WINDOW_HELPERS[backend].items():
        if helper in code:
            lines += ["", "", source.strip("\n"), ""]
    shapes = {arrays[name]: tuple(array.sizes) for name, array in layer.arrays.items()}
    shapes.update({arrays[name]: tuple(sizes) for name, sizes in layer.shapes})     # a course's own shape (DLS's b)
    shapes.update({array_name: tuple(sizes) for array_name, _, _, sizes in reads})
    formulas = {array_name: f"{array_name}[{', '.join(map(str, read.indices))}] = {language(form)}"
                for array_name, form, read, _ in reads}
    return LayerCode("\n".join(lines), tuple(inputs), tuple(arrays[name] for name in optional),
                     tuple(arrays[o] for o in layer.outputs), tuple(cached),
                     tuple(_size_source(size, shapes, inputs, cached) for size in sizes_used),
                     tuple(arrays[g.of] for g in results), shapes, formulas)


def _fused_softmaxes(derivation, results, plan) -> dict:
    """definition name -> its normaliser, for each definition A[rows, var] = exp(X[rows, var]) / s[rows] (the axes
    in X's order) whose normaliser s and exponentials nothing else reads (no other definition, no printed gradient)."""
    layer, fused = derivation.layer, {}
    finals = [stable.rewrite(g.final, plan) for g in
              [derivation.gradients[name] for name in _needed(derivation, results)] + list(results)]
    for normaliser in plan:
        names = {normaliser.name, normaliser.exps, normaliser.shift}
        users = [d for d in layer.definitions if d.name != normaliser.name
                 and any(r.base.label.name in names for r in stable.rewrite(d.rhs, plan).atoms(sp.Indexed))]
        if len(users) != 1 or any(r.base.label.name in names for f in finals for r in f.atoms(sp.Indexed)):
            continue
        (user,) = users
        argument = normaliser.argument
        if len(user.indices) != len(argument.indices):
            continue
        at = dict(zip(argument.indices, user.indices))       # the user's letters at the argument's positions
        ratio = sp.exp(argument.xreplace(at)) / sp.IndexedBase(normaliser.name, real=True)[
            tuple(at[r] for r in normaliser.rows)]
        if sp.simplify(user.rhs - ratio) == 0:
            fused[user.name] = normaliser
    return fused


def _elementwise_reads(derivation, results, plan, taken) -> list:
    """(name, form, its reference, sizes) for each forward quantity q (not an output) that the backward's final
    forms read only through one elementwise expression ``form`` of q at one set of indices, ``form`` more than
    q itself: the forward computes it once, as a new array the cache holds in q's place."""
    layer = derivation.layer
    expressions = [stable.rewrite(g.final, plan) for g in
                   [derivation.gradients[name] for name in _needed(derivation, results)] + list(results)]
    found = []
    for quantity in layer.quantities:
        if quantity in layer.outputs:
            continue

        def only(node, quantity=quantity):
            """node is q[...] or an expression of q's references alone (no sum, no other array)."""
            if isinstance(node, sp.Indexed):
                return node.base.label.name == quantity
            references = node.atoms(sp.Indexed)
            return bool(references) and not node.has(sp.Sum) and all(r.base.label.name == quantity
                                                                        for r in references)

        forms = set()

        def visit(node, inside, only=only):
            mine = isinstance(node, sp.Expr) and only(node)      # not a (condition, value) pair or a relation
            if mine and not inside:
                forms.add(node)
            for arg in node.args:
                visit(arg, mine)

        for expr in expressions:
            visit(expr, False)
        if len(forms) != 1:
            continue
        (form,) = forms
        references = form.atoms(sp.Indexed)
        if isinstance(form, sp.Indexed) or len(references) != 1:
            continue
        (reference,) = references
        if not (form / reference).has(reference):        # c·q (a sign): nothing worth a pass of its own
            continue
        name = quantity + "_read"
        while name in taken:
            name += "_"
        taken.add(name)
        read = sp.IndexedBase(name, real=True)[tuple(reference.indices)]
        found.append((name, form, read, layer.arrays[quantity].sizes))
    return found


def _size_source(size, shapes, inputs, cached):
    """(size, the array it is read from, axis): an argument or a saved array of that size, or None."""
    for name in [*cached, *inputs]:
        sizes = [str(s) for s in shapes.get(name, ())]
        if size in sizes:
            return size, name, sizes.index(size)
    return size, None, None


def _transposed(gradient, sizes_of, sizes):
    """(gather cost, scatter cost, the scatter form, its position ranges) when the gradient's derived sum is a
    full convolution that also reads as a scatter over window offsets (:func:`._conv_printing.transposed_form`),
    else None."""
    expr = gradient.final
    if not expr.atoms(windows.InRange):
        return None
    transposed = windows.transposed_form(expr, gradient.indices, sizes_of)
    if transposed is None:
        return None
    scattered = windows.scatter_form(transposed, gradient.indices)
    if scattered is transposed:
        return None
    gather, scatter = windows.evaluation_costs(expr, transposed, gradient.indices, sizes)
    return gather, scatter, *scattered


def _needed(derivation, results) -> list:
    """The intermediate gradients the final forms refer to, in the order backward computes them."""
    adjoints = {gradient_name(q): q for q in derivation.layer.quantities if q not in derivation.layer.outputs}
    wanted = set()
    pending = list(results)
    while pending:
        gradient = pending.pop()
        # a dilated upstream gradient (a record's definition) reads its source, which must be computed first
        for expr in [gradient.final, *(record[2] for record in gradient.auxiliary)]:
            for ref in expr.atoms(sp.Indexed):
                quantity = adjoints.get(ref.base.label.name)
                if quantity is not None and quantity not in wanted:
                    wanted.add(quantity)
                    pending.append(derivation.gradients[quantity])
    return [name for name in derivation.gradients if name in wanted]


def _shape(sizes) -> str:
    return "(" + ", ".join(map(str, sizes)) + ("," if len(sizes) == 1 else "") + ")"


def optional_inputs(layer) -> list:
    """The names of the trailing arguments of ``forward``, inputs, that enter the layer only as an added term
    (attention's additive mask), after an input that does not: ``forward`` takes them as None for zeros."""
    def additive(array) -> bool:
        for definition in layer.definitions:
            for ref in definition.rhs.atoms(sp.Indexed):
                if ref.base.label.name == array.name:
                    terms = sp.Add.make_args(definition.rhs)
                    if ref not in terms or any(t.has(ref) for t in terms if t != ref):
                        return False
        return True

    inputs = [a for a in layer.differentiable if a.kind == "input"]
    optional = []
    for array in reversed(layer.differentiable):       # the trailing arguments of forward only
        if array.kind != "input":
            break
        given = {size for other in layer.differentiable if other.name not in optional and other is not array
                 for size in other.sizes}
        if not additive(array) or not set(array.sizes) <= given or dict(layer.shapes).get(array.name):
            break
        optional.append(array.name)
    before = [a for a in inputs if a.name not in optional]
    return optional[::-1] if any(not additive(a) for a in before) else []


def _size_lines(layer, arrays, optional=()) -> list:
    """Sizes read from the arrays, shapes checked; an array a course passes in its own shape (``layer.shapes``)
    is checked in that shape, then reshaped to the layer's. An optional input is checked when given."""
    lines, known = [], set()
    shapes = dict(layer.shapes)
    for array in layer.differentiable:
        if array.name in optional:
            continue
        for axis, size in enumerate(shapes.get(array.name, array.sizes)):
            if isinstance(size, sp.Symbol) and size not in known:
                known.add(size)
                lines.append(f"{size} = {arrays[array.name]}.shape[{axis}]")
    checks = []
    for array in layer.differentiable:
        expected = _shape(shapes.get(array.name, array.sizes))
        given = f"{arrays[array.name]} is not None and " if array.name in optional else ""
        checks.append(f"if {given}{arrays[array.name]}.shape != {expected}:\n"
                      f"    raise ValueError(f\"{array.name} has shape {{{arrays[array.name]}.shape}}; "
                      f"expected {expected} = {{{expected}}}\")")
        if array.name in shapes:
            checks.append(f"{arrays[array.name]} = {arrays[array.name]}.reshape({_shape(array.sizes)})")
    return lines + [line for check in checks for line in check.splitlines()]


def _mentions(lines, name) -> bool:
    import re
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    return any(pattern.search(line.split("=", 1)[1]) for line in lines if "=" in line)


def _referenced(lines, candidates) -> list:
    defined = {line.split("=", 1)[0].strip() for line in lines}
    return [name for name in candidates if name not in defined and _mentions(lines, name)]


def _docstring(derivation, results, optional=()) -> str:
    layer = derivation.layer
    course = dict(layer.shapes)
    shapes = [f"    {a.name}: ({', '.join(map(str, course.get(a.name, a.sizes)))})  {a.kind}" for a in layer.differentiable]
    shapes += [f"    {name}: ({', '.join(map(str, layer.arrays[name].sizes))})  output" for name in layer.outputs]
    forward = [f"    {language(sp.Eq(d.lhs, d.rhs, evaluate=False))}" for d in layer.definitions]
    backward = [f"    {text(sp.Eq(g.lhs, g.display, evaluate=False))}"
                for g in [derivation.gradients[q] for q in layer.closed_for] + list(results)]
    shapes += [f"    ({name} is optional: None, the default, adds nothing)" for name in optional]
    constants = [f"    {symbol} = {float(value)!r}" for symbol, value in layer.constants.items()]
    parts = [f"{layer.name}: forward and backward pass, generated by symbackprop from the derivation of the layer.",
             "", "Shapes (sizes are read from the arrays):", *shapes]
    if constants:
        parts += ["", "Constants:", *constants]
    parts += ["", "Forward (the layer, in symbackprop's layer language):", *forward,
              "", "Backward (derived; d<name> = dC/d<name>, Σ_k sums over the whole range of k):", *backward, ""]
    return "\n".join(parts).replace('"""', "'''").replace("\\", "\\\\")


def layer_module(derivation, backend: str = "numpy") -> types.ModuleType:
    """The generated module, loaded in this process (for tests and benchmarks)."""
    return load_module(layer_source(derivation, backend=backend),
                       f"symbackprop_layer_{derivation.layer.name.replace('-', '_')}_{backend}")


def export_layer_module(derivation, path, force: bool = False, backend: str = "numpy") -> Path:
    """Write the module to ``path``; refuses to overwrite unless ``force``."""
    return write_module(layer_source(derivation, backend=backend), path, force)

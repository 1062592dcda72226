r"""Window reads printed as NumPy: a reference at affine subscripts becomes a zero-padded, strided
``sliding_window_view`` (no Python loop), and the arrays a window's backward pass makes first.

A reference ``x[n, p*S + i*R + o, ...]`` (p, i index letters; S, R whole numbers; o an offset in the
sizes) is the array ``_window(x, reads)``: axis 1 padded with zeros where the reads fall outside,
sliced, viewed as windows (``np.lib.stride_tricks.sliding_window_view``), strided by S along p and
by R along i, with i a new last axis. A subscript ``o − u`` (the flipped kernel ``W[K − 1 − u]``) is a
plain read flipped along its axis. The einsum printer of :mod:`._index_printing` then contracts the
window view with the other factors (BLAS through ``optimize=True``).

Iverson brackets ``[0 ≤ v ≤ size − 1]`` that state the range of a read at ``v`` in the same product are
what the zero padding does, so they are dropped (:func:`absorb_brackets`); any other bracket is
refused. The dilated upstream gradient (``dy_dil``, stride S) is zeros with ``dy`` written at every
S-th position (:func:`dilation_lines`).
"""
from __future__ import annotations

import sympy as sp

from ..errors import ExportError
from ..layers._windows import FirstMax, InRange

WINDOW_HELPER = '''
def _window(a, reads, flips=()):
    """a read at affine subscripts, zero outside its range: for each (axis, start, step, count, wstep, wcount)
    the result's position k along axis (and r along a new last axis when wcount) reads a[start + step*k + wstep*r];
    then the axes ``flips`` reversed."""
    pads = [[0, 0] for _ in range(a.ndim)]
    index = [slice(None)] * a.ndim
    for axis, start, step, count, wstep, wcount in reads:
        last = start + step * (count - 1) + (wstep * (wcount - 1) if wcount else 0)
        pads[axis] = [max(0, -start), max(0, last - a.shape[axis] + 1)]
        index[axis] = slice(start + pads[axis][0], last + pads[axis][0] + 1)
    if any(pad != [0, 0] for pad in pads):
        a = np.pad(a, pads)
    a = a[tuple(index)]
    windowed = [(axis, wstep * (wcount - 1) + 1) for axis, _, _, _, wstep, wcount in reads if wcount]
    if windowed:
        a = np.lib.stride_tricks.sliding_window_view(a, [w for _, w in windowed], axis=[x for x, _ in windowed])
    steps = [slice(None)] * a.ndim
    extra = a.ndim - len(windowed)
    for axis, _, step, _, wstep, wcount in reads:
        steps[axis] = slice(None, None, step)
    for number, (axis, _, _, _, wstep, wcount) in enumerate(r for r in reads if r[5]):
        steps[extra + number] = slice(None, None, wstep)
    a = a[tuple(steps)]
    return np.flip(a, axis=flips) if flips else a
'''

FIRST_MAX_HELPER = '''
def _first_max(a, k):
    """1 at the first maximum (row-major) over the last k axes of a, else 0: max pooling's routing, ties as torch."""
    flat = a.reshape(a.shape[:a.ndim - k] + (-1,))
    hot = np.arange(flat.shape[-1]) == flat.argmax(axis=-1)[..., None]
    return hot.reshape(a.shape).astype(a.dtype)
'''

UNWINDOW_HELPER = '''
def _unwindow(g, reads, sizes):
    """The adjoint of a window read: out[..., start + step*k + wstep*r, ...] += g[..., k, ..., r] over k and the
    trailing window axes r (one per read); reads outside 0..size-1 are dropped. One pass per window offset."""
    base = g.ndim - len(reads)
    shape, pads = list(g.shape[:base]), []
    for (axis, start, step, count, wstep, wcount), size in zip(reads, sizes):
        last = start + step * (count - 1) + wstep * (wcount - 1)
        pads.append((max(0, -start), max(0, last - size + 1)))
        shape[axis] = size + pads[-1][0] + pads[-1][1]
    out = np.zeros(shape, dtype=g.dtype)
    for offsets in np.ndindex(*[read[5] for read in reads]):
        index = [slice(None)] * base
        for (axis, start, step, count, wstep, wcount), pad, r in zip(reads, pads, offsets):
            first = start + wstep * r + pad[0]
            index[axis] = slice(first, first + step * (count - 1) + 1, step)
        out[tuple(index)] += g[(Ellipsis, *offsets)]
    crop = [slice(None)] * base
    for (axis, *_), pad, size in zip(reads, pads, sizes):
        crop[axis] = slice(pad[0], pad[0] + size)
    return out[tuple(crop)]
'''


class Scatter(sp.Function):
    """out[a] = Σ_{p, i: a = S·p + i + o} body(p, i): the adjoint of a window read, printed by ``_unwindow``.
    args: (body, Tuple of (a, p, i, S, o, count of i) per scattered axis)."""


def scatter_form(expr, target):
    """A sum over window positions p whose brackets [0 ≤ a − S·p + o ≤ K − 1] (a a free index) select the windows
    that contain a, written as :class:`Scatter` (max pooling's routed gradient); other expressions unchanged."""
    if not isinstance(expr, sp.Sum):
        return expr
    body, limits = expr.function, list(expr.limits)
    while isinstance(body, sp.Sum):
        limits = list(body.limits) + limits
        body = body.function
    specs, summed = [], {var: (lo, hi) for var, lo, hi in limits}
    for bracket in sorted(body.atoms(InRange), key=sp.default_sort_key):
        value, lo, hi = bracket.args
        value = sp.expand(value)
        free = [a for a in target if value.coeff(a) == 1]
        positions = [v for v in summed if value.coeff(v).is_Integer and value.coeff(v) < 0]
        if lo != 0 or len(free) != 1 or len(positions) != 1:
            return expr
        a, p = free[0], positions[0]
        stride = -value.coeff(p)
        offset = sp.expand(value - a + stride * p)        # value = a − S·p + offset
        i = sp.Symbol(f"r_{a}", integer=True)
        body = body.xreplace({bracket: sp.Integer(1)})
        body = body.xreplace({a: stride * p + i - offset})
        specs.append(sp.Tuple(a, p, i, stride, -offset, hi + 1))
    if not specs or {spec[1] for spec in specs} != set(summed):
        return expr
    body = body.replace(lambda e: isinstance(e, FirstMax),
                        lambda e: FirstMax(e.args[0], e.args[1], sp.Tuple(*(sp.expand(x) for x in e.args[2])), e.args[3]))
    return Scatter(body, sp.Tuple(*specs)), {p: hi - lo + 1 for p, (lo, hi) in summed.items()}


def special_term(printer, expr, Term):
    """The Term of a FirstMax (a one-hot window mask) or a Scatter, or None for any other expression."""
    if isinstance(expr, FirstMax):
        body, dummies, positions, sizes = expr.args
        printer.ranges.update(zip(dummies, sizes))
        if not isinstance(body, sp.Indexed) or not all(isinstance(p, sp.Symbol) for p in positions):
            raise ExportError(f"{expr}: a routing mask is printed for a window read at plain positions only")
        printer.window_axes_last = True             # the mask's argmax runs over the trailing axes
        try:
            window = printer.emit(body)
        finally:
            printer.window_axes_last = False
        if tuple(window.axes[-len(dummies):]) != tuple(dummies):
            raise ExportError(f"{expr}: the window axes of the routing mask are not its last axes")
        mapping = dict(zip(dummies, positions))
        code = printer.temporary(f"_first_max({window.code}, {len(dummies)})")
        return Term(code, tuple(mapping.get(a, a) for a in window.axes))
    if isinstance(expr, Scatter):
        body, specs = expr.args
        for a, p, i, stride, offset, count in specs:
            printer.ranges[i] = count
        by_position = {spec[0]: spec for spec in specs}
        offsets = tuple(spec[2] for spec in specs)
        outer = [a for a in printer.preferred if a in by_position or a not in offsets]
        outer = [a for a in outer if a not in {spec[1] for spec in specs}]
        positions = [by_position[a][1] if a in by_position else a for a in outer]
        layout = tuple(positions) + offsets
        # computed in im2col's memory order, the window offsets right after the last scattered position (channels
        # last stay last): each offset's slice that _unwindow adds back is then contiguous in the trailing axes
        last = max(positions.index(spec[1]) for spec in specs) + 1
        statement, printer.preferred = printer.preferred, tuple(positions[:last]) + offsets + tuple(positions[last:])
        term = printer.emit(body)
        printer.preferred = statement
        outer = [a for a in outer if a in by_position or a in term.axes]
        positions = [by_position[a][1] if a in by_position else a for a in outer]
        layout = tuple(positions) + offsets
        code = printer._align(term, layout) if term.axes else term.code
        if set(term.axes) != set(layout):
            shape = ", ".join(printer._scalar(sp.sympify(printer.ranges[a], strict=True)) for a in layout)
            code = printer.call("broadcast_view", x=code, shape=f"({shape},)")
        reads = []
        for a, p, i, stride, offset, count in specs:
            reads.append((layout.index(p), offset, stride, printer.ranges[p], 1, count))
        spec = ", ".join("(" + ", ".join(printer._scalar(sp.sympify(x, strict=True)) for x in read) + ")" for read in reads)
        sizes = ", ".join(printer._scalar(sp.sympify(printer.ranges[spec[0]], strict=True)) for spec in specs)
        result = printer.temporary(f"_unwindow({code}, ({spec},), ({sizes},))")
        return Term(result, tuple(outer))
    return None


def _is_index(symbol) -> bool:
    return isinstance(symbol, sp.Symbol) and not symbol.is_positive


def window_term(printer, expr: sp.Indexed, Term):
    """The Term (code, axes) of a reference with index arithmetic in some subscript: a window made before (the
    forward pass's, ``printer.made``) is reused; where windows are kept (``printer.keep_windows``: the forward
    pass's, cached for the backward) a new one is materialised once, contiguous, so that neither the forward's
    contraction nor dW's copies it again."""
    if expr in printer.made:
        code, axes = printer.made[expr]
        printer.windows.add(code)
        return Term(code, axes)
    name = printer.names.get(expr.base.label.name, expr.base.label.name)
    axes, extra, reads, flips = [], [], [], []
    for axis, subscript in enumerate(expr.indices):
        subscript = sp.expand(subscript)
        if isinstance(subscript, sp.Symbol) and _is_index(subscript):
            axes.append(subscript)
            continue
        variables = sorted((s for s in subscript.free_symbols if _is_index(s)), key=str)
        coefficients = {v: subscript.coeff(v) for v in variables}
        offset = sp.expand(subscript - sum(c * v for v, c in coefficients.items()))
        if not variables or len(variables) > 2 or any(not c.is_Integer or c == 0 for c in coefficients.values()):
            raise ExportError(f"{expr}: subscript {subscript} is not printed as a window read")
        for v in variables:
            if v not in printer.ranges:
                raise ExportError(f"{expr}: the range of {v} is unknown to the printer")
        if len(variables) == 1:
            (v,) = variables
            c = coefficients[v]
            count = printer.ranges[v]
            if c < 0:
                if c != -1:
                    raise ExportError(f"{expr}: a reversed read with a step ({subscript}) is not printed")
                reads.append((axis, offset - (count - 1), 1, count, 0, 0))
                flips.append(axis)
            else:
                reads.append((axis, offset, c, count, 0, 0))
            axes.append(v)
            continue
        if any(c < 0 for c in coefficients.values()):
            raise ExportError(f"{expr}: a window read with a negative step ({subscript}) is not printed")
        first, second = variables
        preferred = [v for v in variables if v in printer.preferred]
        position = preferred[0] if len(preferred) == 1 else max(variables, key=lambda v: (coefficients[v], str(v)))
        inner = second if position == first else first
        reads.append((axis, offset, coefficients[position], printer.ranges[position], coefficients[inner],
                       printer.ranges[inner]))
        axes.append(position)
        extra.append(inner)
    every = axes + extra
    if len(set(every)) != len(every):
        raise ExportError(f"{expr}: an index letter appears in two subscripts; not printed as a window read")
    spec = ", ".join("(" + ", ".join(printer._scalar(sp.sympify(part, strict=True)) for part in read) + ")" for read in reads)
    code = f"_window({name}, ({spec},)" + (f", {tuple(flips)!r})" if flips else ")")
    if extra and printer.keep_windows:
        # materialised in im2col's layout: the axes after the last windowed one (channels last) follow the window
        # offsets, so that one patch (offsets x channels) is one contiguous row, copied by sequential reads
        last = len(axes) if printer.window_axes_last else max(read[0] for read in reads if read[5]) + 1
        order = every[:last] + extra + every[last:len(axes)]
        if order != every:
            code = printer._permuted(code, tuple(every.index(a) for a in order))
            every = order
        code = printer.call("contiguous", x=code)
    name = printer.temporary(code)
    printer.windows.add(name)
    printer.made[expr] = (name, tuple(every))
    return Term(name, tuple(every))


def tensordot_code(terms, out, windows, printer=None) -> str | None:
    """``np.tensordot`` for two factors, one a window view, whose shared axes are all summed: one BLAS call
    on the reshaped operands. einsum's planner is slow here, and its path depends on the operand order
    (a 6-D window contracted over its leading and trailing axes took 3 s where tensordot takes 0.2 s)."""
    if len(terms) != 2 or not any(t.code in windows for t in terms):
        return None
    left, right = sorted(terms, key=lambda t: t.code not in windows)     # the window first: no transpose after
    shared = [a for a in left.axes if a in right.axes]
    if shared and tuple(left.axes[:len(shared)]) == tuple(shared) and len(shared) < len(left.axes):
        left, right = right, left           # a window summed over its leading axes: second, read in place
        shared = [a for a in left.axes if a in right.axes]
    if not shared or any(a in out for a in shared):
        return None
    kept = [a for a in left.axes if a not in shared] + [a for a in right.axes if a not in shared]
    if sorted(map(str, kept)) != sorted(map(str, out)):
        return None
    axes = (tuple(left.axes.index(a) for a in shared), tuple(right.axes.index(a) for a in shared))
    if printer is None:
        code = f"np.tensordot({left.code}, {right.code}, axes=({axes[0]!r}, {axes[1]!r}))"
    else:
        code = printer.call("tensordot", a=left.code, b=right.code, axes=axes)
    if tuple(kept) != tuple(out):
        permutation = tuple(kept.index(a) for a in out)
        code = f"np.transpose({code}, {permutation!r})" if printer is None else printer._permuted(code, permutation)
    return code


def absorb_brackets(expr, sizes_of):
    """``expr`` without the Iverson brackets [0 ≤ v ≤ size − 1] that a zero-padded read at v (an axis of that
    size, in the same product) already gives; ``sizes_of(name)`` is the sizes of an array."""
    def visit(node):
        if isinstance(node, sp.Mul):
            factors = [visit(f) for f in node.args]
            reads = set()
            for factor in factors:
                for ref in _references(factor):
                    sizes = sizes_of(ref.base.label.name)
                    if sizes is not None:
                        reads |= {(sp.expand(i), sp.expand(s - 1)) for i, s in zip(ref.indices, sizes)}
            kept = [f for f in factors if not (isinstance(f, InRange) and f.args[1] == 0
                                               and (sp.expand(f.args[0]), sp.expand(f.args[2])) in reads)]
            return sp.Mul(*kept)
        if not node.args or isinstance(node, sp.Indexed):
            return node
        return node.func(*[visit(a) for a in node.args])

    out = visit(expr)
    if out.atoms(InRange):
        raise ExportError(f"a window bracket {sorted(map(str, out.atoms(InRange)))[0]} is not the range of a read; "
                          f"it has no array form here")
    return out


def _references(node):
    """The references in a factor: itself, or those inside a sum's body (a bracket pulled out of it)."""
    if isinstance(node, sp.Indexed):
        return [node]
    if isinstance(node, sp.Sum):
        return list(node.function.atoms(sp.Indexed))
    return []


def dilation_lines(auxiliary, names, scalar, backend: str = "numpy") -> list:
    """``dy_dil = np.zeros(shape); dy_dil[:, ::S, ::S, :] = dy`` for each dilated upstream gradient (torch: zeros
    in dy's dtype and device; jax, whose arrays are immutable: ``.at[...].set(dy)``)."""
    lines = []
    for name, _indices, _definition, sizes, strides, _axes, source in auxiliary:
        by_axis = dict(strides)
        shape = ", ".join(scalar(s) for s in sizes) + ("," if len(sizes) == 1 else "")
        index = ", ".join(f"::{by_axis[k][0]}" if k in by_axis else ":" for k in range(len(sizes)))
        code, upstream = names.get(name, name), names.get(source, source)
        if backend == "jax":
            lines.append(f"{code} = jnp.zeros(({shape}), dtype={upstream}.dtype).at[{index}].set({upstream})")
            continue
        zeros = (f"torch.zeros(({shape}), dtype={upstream}.dtype, device={upstream}.device)" if backend == "torch"
                 else f"np.zeros(({shape}))")
        lines += [f"{code} = {zeros}", f"{code}[{index}] = {upstream}"]
    return lines


def size_code(expr, scalar) -> str:
    """A derived size as integer Python: floor(a/b) printed as (a) // (b)."""
    def visit(node):
        if isinstance(node, sp.floor):
            numerator, denominator = sp.fraction(sp.together(node.args[0]))
            return f"(({scalar(numerator)}) // ({scalar(denominator)}))"
        if isinstance(node, sp.Add):
            return " + ".join(visit(a) for a in node.args)
        if isinstance(node, sp.Mul):
            return " * ".join(visit(a) for a in node.args)
        return scalar(node) if not node.is_Integer else str(int(node))

    return visit(expr)


def transposed_form(expr, target, sizes_of):
    """The same derived sum read the other way round, or None: a full convolution Σ_u [0 ≤ a + u + o ≤ Ho − 1]·
    W[.., K − 1 − u, ..]·δ[.., a + u + o, ..] (a gathered window of the upstream gradient, one read per kernel
    offset u) has its kernel offset u replaced by the position p = a + u + o it reads, whose range is the
    bracket's, and u's range 0 ≤ u ≤ K − 1 becomes the bracket [0 ≤ a − p + K − 1 − o ≤ K − 1]: the sum over the
    windows that contain a, which :func:`scatter_form` writes as a scatter of δ·Wᵀ over the window offsets
    (col2im). Only where every shifted read is of an array of that position's range (stride 1: not the dilated
    upstream gradient)."""
    if not isinstance(expr, sp.Sum):
        return None
    body, limits = expr.function, list(expr.limits)
    while isinstance(body, sp.Sum):
        limits = list(body.limits) + limits
        body = body.function
    summed = {var: (lo, hi) for var, lo, hi in limits}
    brackets = sorted(body.atoms(InRange), key=sp.default_sort_key)
    if not brackets:
        return None
    new_limits, replacements = dict(summed), {}
    for bracket in brackets:
        value, lo, hi = bracket.args
        value = sp.expand(value)
        free = [a for a in target if value.coeff(a) == 1]
        offsets = [u for u in summed if value.coeff(u) == 1]
        if lo != 0 or len(free) != 1 or len(offsets) != 1 or summed[offsets[0]][0] != 0:
            return None
        a, u = free[0], offsets[0]
        o = sp.expand(value - a - u)
        if o.free_symbols & (set(target) | set(summed)):
            return None
        reads = [ref for ref in body.atoms(sp.Indexed) if any(sp.expand(i) == value for i in ref.indices)]
        for ref in reads:
            axis = [sp.expand(i) for i in ref.indices].index(value)
            array = sizes_of(ref.base.label.name)
            if array is None or sp.expand(array[axis] - 1 - hi) != 0:
                return None                    # a read of the dilated upstream gradient: not at its positions
        K = summed[u][1] + 1
        p = sp.Symbol(f"p_{a}", integer=True)
        replacements[u] = p - a - o
        del new_limits[u]
        new_limits[p] = (sp.Integer(0), hi)
        body = body.xreplace({bracket: InRange(sp.expand(a - p + K - 1 + o), 0, K - 1)})
    body = body.xreplace({u: value for u, value in replacements.items()})
    body = body.func(*[sp.expand(arg) if isinstance(arg, InRange) else arg for arg in body.args]) \
        if isinstance(body, sp.Mul) else body
    body = body.replace(lambda e: isinstance(e, sp.Indexed),
                        lambda e: e.base[tuple(sp.expand(i) for i in e.indices)])
    brackets = [f for f in sp.Mul.make_args(body) if isinstance(f, InRange)]
    rest = sp.Mul(*[f for f in sp.Mul.make_args(body) if not isinstance(f, InRange)])
    inner = [(var, lo, hi) for var, (lo, hi) in new_limits.items() if var not in replacements.values()
             and not str(var).startswith("p_")]
    positions = [(var, lo, hi) for var, (lo, hi) in new_limits.items() if str(var).startswith("p_")]
    contraction = sp.Sum(rest, *inner) if inner else rest     # the sum over channels inside, the windows outside
    return sp.Sum(sp.Mul(*brackets, contraction), *positions)


def evaluation_costs(gathered, transposed, target, sizes_of):
    """(gather cost, scatter cost) of the two evaluations of one derived sum, in the layer's sizes: multiply-adds
    of the contraction plus memory passes over the window array each builds: the gather copies its window view
    of the upstream gradient (read + write: 2 per entry); the scatter writes δ·Wᵀ at every window offset, then
    adds it back (3 per entry). The multiply-adds of the scatter count K positions per (a, p) bracket."""
    def ranges(expr):
        body, limits = expr, []
        while isinstance(body, sp.Sum):
            limits += list(body.limits)
            body = body.function
        return body, {var: hi - lo + 1 for var, lo, hi in limits}

    free = {a: size for a, size in zip(target, sizes_of)}
    body, summed = ranges(gathered)
    macs = sp.Mul(*free.values(), *summed.values())
    shifted = [ref for ref in body.atoms(sp.Indexed) if any(not isinstance(i, sp.Symbol) for i in ref.indices)
               and any(v in summed for i in ref.indices for v in i.free_symbols)]
    window = max((sp.Mul(*[({**free, **summed}).get(v, 1) for v in ref.free_symbols - {ref.base.label}
                           if v in free or v in summed]) for ref in shifted), key=sp.count_ops, default=0)
    gather = macs + 2 * window
    body, summed = ranges(transposed)
    per_window = sp.Integer(1)
    scattered = set()
    for bracket in body.atoms(InRange):
        value, _, hi = bracket.args
        scattered |= {a for a in target if sp.expand(value).coeff(a) == 1}
        per_window *= hi + 1
    outer = sp.Mul(*[size for a, size in free.items() if a not in scattered])
    positions = sp.Mul(*[size for v, size in summed.items() if v.name.startswith("p_")])
    others = sp.Mul(*[size for v, size in summed.items() if not v.name.startswith("p_")],
                    *[hi - lo + 1 for inner in body.atoms(sp.Sum) for _, lo, hi in inner.limits])
    cols = outer * positions * per_window
    scatter = cols * others + 3 * cols
    return gather, scatter

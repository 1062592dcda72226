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
from ..layers._windows import InRange

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


def _is_index(symbol) -> bool:
    return isinstance(symbol, sp.Symbol) and not symbol.is_positive


def window_term(printer, expr: sp.Indexed, Term):
    """The Term (code, axes) of a reference with index arithmetic in some subscript."""
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
    spec = ", ".join("(" + ", ".join(printer._scalar(sp.sympify(part)) for part in read) + ")" for read in reads)
    code = f"_window({name}, ({spec},)" + (f", {tuple(flips)!r})" if flips else ")")
    name = printer.temporary(code)
    printer.windows.add(name)
    return Term(name, tuple(every))


def tensordot_code(terms, out, windows) -> str | None:
    """``np.tensordot`` for two factors, one a window view, whose shared axes are all summed: one BLAS call
    on the reshaped operands. einsum's planner is slow here, and its path depends on the operand order
    (a 6-D window contracted over its leading and trailing axes took 3 s where tensordot takes 0.2 s)."""
    if len(terms) != 2 or not any(t.code in windows for t in terms):
        return None
    left, right = sorted(terms, key=lambda t: t.code not in windows)     # the window first: no transpose after
    shared = [a for a in left.axes if a in right.axes]
    if not shared or any(a in out for a in shared):
        return None
    kept = [a for a in left.axes if a not in shared] + [a for a in right.axes if a not in shared]
    if sorted(map(str, kept)) != sorted(map(str, out)):
        return None
    axes = (tuple(left.axes.index(a) for a in shared), tuple(right.axes.index(a) for a in shared))
    code = f"np.tensordot({left.code}, {right.code}, axes=({axes[0]!r}, {axes[1]!r}))"
    if tuple(kept) != tuple(out):
        code = f"np.transpose({code}, {tuple(kept.index(a) for a in out)!r})"
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


def dilation_lines(auxiliary, names, scalar) -> list:
    """``dy_dil = np.zeros(shape); dy_dil[:, ::S, ::S, :] = dy`` for each dilated upstream gradient."""
    lines = []
    for name, _indices, _definition, sizes, strides, _axes, source in auxiliary:
        by_axis = dict(strides)
        shape = ", ".join(scalar(s) for s in sizes) + ("," if len(sizes) == 1 else "")
        index = ", ".join(f"::{by_axis[k][0]}" if k in by_axis else ":" for k in range(len(sizes)))
        code = names.get(name, name)
        lines += [f"{code} = np.zeros(({shape}))", f"{code}[{index}] = {names.get(source, source)}"]
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

"""The window helpers a window layer's module carries (``_window``, ``_first_max``, ``_unwindow``), per backend.

The NumPy ones are :mod:`._conv_printing`'s (a zero-padded ``sliding_window_view``). torch's read the same
windows with ``F.pad`` and ``Tensor.unfold`` (views, as NumPy's); JAX has neither a strided view nor
in-place adds, so its ``_window`` gathers the window positions with ``jnp.take`` and its ``_unwindow`` adds
each window offset back with ``.at[...].add``. Each takes and returns the same arguments and axes as the
NumPy helper, so the printed code is the same but for the module name.
"""
from __future__ import annotations

from . import _conv_printing as windows

_TORCH = {
    "_window(": '''
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
        a = torch.nn.functional.pad(a, [side for pad in reversed(pads) for side in pad])
    a = a[tuple(index)]
    steps = [slice(None)] * a.ndim
    for axis, _, step, _, wstep, wcount in reads:
        if wcount:
            a = a.unfold(axis, wstep * (wcount - 1) + 1, step)
        else:
            steps[axis] = slice(None, None, step)
    a = a[tuple(steps)]
    trailing = [slice(None, None, wstep) for *_, wstep, wcount in reads if wcount]
    if trailing:
        a = a[(Ellipsis, *trailing)]
    return torch.flip(a, dims=flips) if flips else a
''',
    "_first_max(": '''
def _first_max(a, k):
    """1 at the first maximum (row-major) over the last k axes of a, else 0: max pooling's routing, ties as torch."""
    flat = a.reshape(a.shape[:a.ndim - k] + (-1,))
    hot = torch.arange(flat.shape[-1], device=a.device) == flat.argmax(dim=-1)[..., None]
    return hot.reshape(a.shape).to(a.dtype)
''',
    "_unwindow(": '''
def _unwindow(g, reads, sizes):
    """The adjoint of a window read: out[..., start + step*k + wstep*r, ...] += g[..., k, ..., r] over k and the
    trailing window axes r (one per read); reads outside 0..size-1 are dropped. One pass per window offset."""
    base = g.ndim - len(reads)
    shape, pads = list(g.shape[:base]), []
    for (axis, start, step, count, wstep, wcount), size in zip(reads, sizes):
        last = start + step * (count - 1) + wstep * (wcount - 1)
        pads.append((max(0, -start), max(0, last - size + 1)))
        shape[axis] = size + pads[-1][0] + pads[-1][1]
    out = torch.zeros(shape, dtype=g.dtype, device=g.device)
    every = [()]
    for read in reads:
        every = [offsets + (r,) for offsets in every for r in range(read[5])]
    for offsets in every:
        index = [slice(None)] * base
        for (axis, start, step, count, wstep, wcount), pad, r in zip(reads, pads, offsets):
            first = start + wstep * r + pad[0]
            index[axis] = slice(first, first + step * (count - 1) + 1, step)
        out[tuple(index)] += g[(Ellipsis, *offsets)]
    crop = [slice(None)] * base
    for (axis, *_), pad, size in zip(reads, pads, sizes):
        crop[axis] = slice(pad[0], pad[0] + size)
    return out[tuple(crop)]
''',
}

_JAX = {
    "_window(": '''
def _window(a, reads, flips=()):
    """a read at affine subscripts, zero outside its range: for each (axis, start, step, count, wstep, wcount)
    the result's position k along axis (and r along a new last axis when wcount) reads a[start + step*k + wstep*r];
    then the axes ``flips`` reversed."""
    pads = [[0, 0] for _ in range(a.ndim)]
    for axis, start, step, count, wstep, wcount in reads:
        last = start + step * (count - 1) + (wstep * (wcount - 1) if wcount else 0)
        pads[axis] = [max(0, -start), max(0, last - a.shape[axis] + 1)]
    if any(pad != [0, 0] for pad in pads):
        a = jnp.pad(a, pads)
    ndim = a.ndim
    for axis, start, step, count, wstep, wcount in reads:
        positions = start + pads[axis][0] + step * jnp.arange(count)
        if wcount:
            positions = positions[:, None] + wstep * jnp.arange(wcount)[None, :]
        a = jnp.take(a, positions, axis=axis)
        if wcount:
            a = jnp.moveaxis(a, axis + 1, -1)
    return jnp.flip(a, axis=flips) if flips else a
''',
    "_first_max(": '''
def _first_max(a, k):
    """1 at the first maximum (row-major) over the last k axes of a, else 0: max pooling's routing, ties as torch."""
    flat = a.reshape(a.shape[:a.ndim - k] + (-1,))
    hot = jnp.arange(flat.shape[-1]) == flat.argmax(axis=-1)[..., None]
    return hot.reshape(a.shape).astype(a.dtype)
''',
    "_unwindow(": '''
def _unwindow(g, reads, sizes):
    """The adjoint of a window read: out[..., start + step*k + wstep*r, ...] += g[..., k, ..., r] over k and the
    trailing window axes r (one per read); reads outside 0..size-1 are dropped. One pass per window offset."""
    base = g.ndim - len(reads)
    shape, pads = list(g.shape[:base]), []
    for (axis, start, step, count, wstep, wcount), size in zip(reads, sizes):
        last = start + step * (count - 1) + wstep * (wcount - 1)
        pads.append((max(0, -start), max(0, last - size + 1)))
        shape[axis] = size + pads[-1][0] + pads[-1][1]
    out = jnp.zeros(shape, dtype=g.dtype)
    every = [()]
    for read in reads:
        every = [offsets + (r,) for offsets in every for r in range(read[5])]
    for offsets in every:
        index = [slice(None)] * base
        for (axis, start, step, count, wstep, wcount), pad, r in zip(reads, pads, offsets):
            first = start + wstep * r + pad[0]
            index[axis] = slice(first, first + step * (count - 1) + 1, step)
        out = out.at[tuple(index)].add(g[(Ellipsis, *offsets)])
    crop = [slice(None)] * base
    for (axis, *_), pad, size in zip(reads, pads, sizes):
        crop[axis] = slice(pad[0], pad[0] + size)
    return out[tuple(crop)]
''',
}

#: backend -> the call each helper is found by ('_window(') -> its source
WINDOW_HELPERS = {
    "numpy": {"_window(": windows.WINDOW_HELPER, "_first_max(": windows.FIRST_MAX_HELPER,
              "_unwindow(": windows.UNWINDOW_HELPER},
    "torch": _TORCH,
    "jax": _JAX,
}

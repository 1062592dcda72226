"""``conv``, ``pad`` and ``rot180`` in a checked layer formula (NumPy-like or LaTeX): the "full convolution of
dZ with the kernel flipped" as students write it, ``dA_prev = conv(pad(dZ), rot180(W))``, in the ng-dls layout
(images (m, n_H, n_W, n_C), kernels (f, f, n_C_prev, n_C)).

* ``rot180(W)``: W flipped in both spatial axes (its first two);
* ``pad(X, p)``: X zero-padded by p on both sides of its two spatial axes (cropped for p < 0); ``pad(X)`` pads
  by f − 1 − P, what makes the convolution full for this layer's kernel size f and padding P;
* ``conv(X, K)``: the valid cross-correlation, stride 1, of X with K, contracting X's channels with the axis of
  K that has the same size: out[m, h, w, o] = Σ_{i,j,c} X[m, h + i, w + j, c] K[i, j, ·, ·].

Stride 1 only: a strided layer's dA_prev is a convolution of the dilated dZ, which this notation does not write.
"""
from __future__ import annotations

import numpy as np

from ._layer_values import Labelled


def window_call(reader, name, positional, node):
    args = [reader.value(p) for p in positional]
    arrays = [a for a in args if isinstance(a, Labelled)]
    if name == "rot180" and len(args) == 1 and arrays and arrays[0].array.ndim == 4:
        x = arrays[0]
        return Labelled(np.flip(x.array, axis=(0, 1)).copy(), x.labels)
    if name == "pad" and len(args) in (1, 2) and isinstance(args[0], Labelled) and args[0].array.ndim == 4:
        x = args[0]
        if len(args) == 2:
            amount = args[1]
        else:
            kernel, padding = reader.values.get("Fk"), reader.values.get("P")
            if kernel is None or padding is None:
                raise reader.error("pad(X) pads by f - 1 - P of a conv2d layer; write pad(X, p) here", node)
            amount = kernel - 1 - padding
        if isinstance(amount, Labelled) or float(amount) != int(amount):
            raise reader.error("the padding of pad(X, p) is a whole number", node)
        p = int(amount)
        if p >= 0:
            padded = np.pad(x.array, ((0, 0), (p, p), (p, p), (0, 0)))
        else:
            padded = x.array[:, -p:p, -p:p, :]
        return Labelled(padded, (x.labels[0], "padded", "padded", x.labels[3]))
    if name == "conv" and len(args) == 2 and len(arrays) == 2 and all(a.array.ndim == 4 for a in arrays):
        x, k = arrays
        if k.labels[3] == x.labels[3]:
            spec, channel = "mhwcij,ijoc->mhwo", k.labels[2]
        elif k.labels[2] == x.labels[3]:
            spec, channel = "mhwcij,ijco->mhwo", k.labels[3]
        else:
            raise reader.error(f"conv(X, K): no axis of K [{', '.join(k.labels)}] has X's channels "
                               f"{x.labels[3]}", node)
        size = k.array.shape[:2]
        if x.array.shape[1] < size[0] or x.array.shape[2] < size[1]:
            raise reader.error("conv(X, K): the kernel is larger than the image; pad X", node)
        windows = np.lib.stride_tricks.sliding_window_view(x.array, size, axis=(1, 2))
        out = np.einsum(spec, windows, k.array)
        return Labelled(out, (x.labels[0], *_spatial(reader, out, x.labels[0], channel), channel))
    raise reader.error(f"cannot read {name}(...) here: conv(X, K), pad(X[, p]) and rot180(W) take images "
                       f"(m, n_H, n_W, n_C) and kernels (f, f, n_C_prev, n_C)", node)


def _spatial(reader, out, examples, channel):
    """The size names of a convolution's output height and width: those of a layer array of that shape."""
    candidates = [v for v in reader.values.values() if isinstance(v, Labelled) and v.array.ndim == 4
                  and v.labels[0] == examples and v.array.shape[1:3] == out.shape[1:3]]
    candidates.sort(key=lambda v: v.labels[3] != channel)
    if not candidates:
        return ("height", "width")
    return candidates[0].labels[1:3]

"""The conv2d section of benchmarks/layers.py: forward + backward of the exported ``conv2d`` layer (stride 1,
padding 1, channels last) against a hand-written NumPy im2col version and torch eager, float64, in one process.

The hand-written version is the textbook im2col: the padded input's K x K patches gathered into a matrix
(``sliding_window_view`` then a copy), Z = cols @ W + b; backward dW = colsᵀ dZ, db = Σ dZ, and dcols = dZ Wᵀ
scattered back into the padded input by a loop over the K x K kernel offsets (col2im), then cropped. torch
eager runs ``F.conv2d`` (channels first; the permutations are views) and ``torch.autograd.grad`` for the three
gradients, forward and backward both timed.
"""
from __future__ import annotations

import numpy as np

from _attention import blas_threads, time_shuffled


def im2col_forward(x, W, b, pad):
    N, H, V, C = x.shape
    K, _, _, F = W.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    Ho, Wo = H + 2 * pad - K + 1, V + 2 * pad - K + 1
    cols = np.lib.stride_tricks.sliding_window_view(xp, (K, K), axis=(1, 2))      # N, Ho, Wo, C, K, K
    cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(N * Ho * Wo, K * K * C)
    out = (cols @ W.reshape(K * K * C, F) + b).reshape(N, Ho, Wo, F)
    return out, (cols, W, x.shape, pad)


def im2col_backward(dout, cache):
    cols, W, shape, pad = cache
    N, H, V, C = shape
    K, _, _, F = W.shape
    Ho, Wo = dout.shape[1:3]
    d2 = dout.reshape(-1, F)
    dW = (cols.T @ d2).reshape(K, K, C, F)
    db = d2.sum(axis=0)
    dcols = (d2 @ W.reshape(K * K * C, F).T).reshape(N, Ho, Wo, K, K, C)
    dxp = np.zeros((N, H + 2 * pad, V + 2 * pad, C))
    for i in range(K):                       # col2im: one pass per kernel offset, not per pixel
        for j in range(K):
            dxp[:, i:i + Ho, j:j + Wo, :] += dcols[:, :, :, i, j, :]
    return dxp[:, pad:pad + H, pad:pad + V, :], dW, db


def implementations(x, W, b, dout, pad=1) -> dict:
    """name -> a function of no arguments: forward then backward, returning (out, dx, dW, db)."""
    from symbackprop.export._layer_module import layer_module
    from symbackprop.layers import derive_layer, window_record
    module = layer_module(derive_layer(window_record("conv2d", stride=1, pad=pad, layout="ng-dls").layer()))

    def generated():
        out, cache = module.forward(x, W, b)
        return (out, *module.backward(dout, cache))

    def hand():
        out, cache = im2col_forward(x, W, b, pad)
        return (out, *im2col_backward(dout, cache))

    found = {"symbackprop": generated, "numpy im2col by hand": hand}
    try:
        import torch
    except ImportError:
        return found
    F = torch.nn.functional
    tx, tW, tb, tdout = (torch.tensor(a) for a in (x, W, b, dout))

    def torch_eager():
        xs, Ws, bs = (t.detach().requires_grad_() for t in (tx, tW, tb))
        out = F.conv2d(xs.permute(0, 3, 1, 2), Ws.permute(3, 2, 0, 1), bs, padding=pad).permute(0, 2, 3, 1)
        grads = torch.autograd.grad(out, (xs, Ws, bs), tdout)
        return (out.detach().numpy(), *(g.numpy() for g in grads))

    found["torch eager"] = torch_eager
    return found


def agreement(found) -> float:
    results = {name: call() for name, call in found.items()}
    reference = results["numpy im2col by hand"]
    return max(float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
               for result in results.values() for a, b in zip(result, reference))


def data(m, size, channels, filters, K=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, size, size, channels)), rng.standard_normal((K, K, channels, filters)),
            rng.standard_normal(filters), rng.standard_normal((m, size, size, filters)))


def section(rounds: int, quick: bool) -> None:
    """Print the conv2d table: m = 64, 32 x 32 x 16 -> 32 filters 3 x 3, pad 1 (m = 4, 8 x 8 x 4 -> 8 when quick)."""
    m, size, channels, filters = (4, 8, 4, 8) if quick else (64, 32, 16, 32)
    found = implementations(*data(m, size, channels, filters))
    worst = agreement(found)
    times = time_shuffled(found, rounds)
    base = times["torch eager"] if "torch eager" in times else times["numpy im2col by hand"]
    print(f"## conv2d forward + backward, m = {m}, {size} x {size} x {channels} -> {filters} filters 3 x 3, pad 1 "
          f"(all agree to {worst:.1e} relative; BLAS threads: {blas_threads()})\n")
    print("| implementation | median time | time / torch eager |")
    print("|---|---|---|")
    for implementation, seconds in times.items():
        print(f"| {implementation} | {seconds * 1e3:.1f} ms | {seconds / base:.2f} |")
    print()

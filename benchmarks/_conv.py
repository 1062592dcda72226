"""The conv2d section of benchmarks/layers.py: forward + backward of the exported ``conv2d`` layer (stride 1,
padding 1, channels last) against a hand-written NumPy im2col version and torch eager, float64, in one process.

The hand-written version is the textbook im2col: the padded input's K x K patches gathered into a matrix
(``sliding_window_view`` then a copy), Z = cols @ W + b; backward dW = colsᵀ dZ, db = Σ dZ, and dcols = dZ Wᵀ
scattered back into the padded input by a loop over the K x K kernel offsets (col2im), then cropped. torch
eager runs ``F.conv2d`` (channels first; the permutations are views) and ``torch.autograd.grad`` for the three
gradients, forward and backward both timed.

An even comparison gives NumPy's BLAS and torch the same number of threads: both the machine's cores (the
defaults), or one each (``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1``). With ``OPENBLAS_NUM_THREADS=1`` alone
torch keeps its own threads and runs on two cores against NumPy's one; the header prints both counts.
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
        out, cache = module.forward(x, W, b.reshape(1, 1, 1, -1))          # the course's b (1, 1, 1, n_C)
        dx, dW, db = module.backward(dout, cache)
        return out, dx, dW, db.reshape(-1)

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


def torch_threads() -> str:
    """torch's intra-op threads (OMP_NUM_THREADS at start-up): a comparison is even when they equal the BLAS threads."""
    try:
        import torch
    except ImportError:
        return "n/a"
    return str(torch.get_num_threads())


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
    base_name = "torch eager" if "torch eager" in times else "numpy im2col by hand"
    base = times[base_name]
    print(f"## conv2d forward + backward, m = {m}, {size} x {size} x {channels} -> {filters} filters 3 x 3, pad 1 "
          f"(all agree to {worst:.1e} relative; BLAS threads: {blas_threads()}; torch threads: {torch_threads()})\n")
    print(f"| implementation | median time | time / {base_name if base_name == 'torch eager' else 'hand im2col'} |")
    print("|---|---|---|")
    for implementation, seconds in times.items():
        print(f"| {implementation} | {seconds * 1e3:.1f} ms | {seconds / base:.2f} |")
    print()


def derivation_times(repeats: int) -> dict:
    """Seconds to derive conv2d and generate its module, caches cleared: sizes stay symbols (H, W, C, F, K), so
    the time is the same for every image size and channel count."""
    import statistics
    import time

    from _machine import clear_caches
    from symbackprop.export._layer_module import layer_source
    from symbackprop.layers import derive_layer, window_record
    times = {}
    for stride, pad in ((1, 1), (2, 0)):
        samples = []
        for _ in range(repeats):
            clear_caches()
            start = time.perf_counter()
            layer_source(derive_layer(window_record("conv2d", stride=stride, pad=pad, layout="ng-dls").layer()))
            samples.append(time.perf_counter() - start)
        times[f"conv2d stride {stride}, pad {pad}"] = statistics.median(samples)
    return times


def concrete_derivation_time(size: int, channels: int, filters: int, K: int = 2) -> float:
    """Seconds for sympy.diff of a conv cost Σ dy·conv(x, W) composed entry by entry at concrete sizes (one
    example, size x size x channels -> filters, K x K kernel, stride 1, no padding): every entry of dx and dW."""
    import time

    import sympy as sp
    x = [[[sp.Symbol(f"x{h}_{w}_{c}") for c in range(channels)] for w in range(size)] for h in range(size)]
    W = [[[[sp.Symbol(f"W{i}_{j}_{c}_{f}") for f in range(filters)] for c in range(channels)] for j in range(K)]
         for i in range(K)]
    out = size - K + 1
    start = time.perf_counter()
    cost = sp.Add(*(sp.Symbol(f"dy{p}_{q}_{f}") * sp.Add(*(x[p + i][q + j][c] * W[i][j][c][f] for i in range(K)
                                                           for j in range(K) for c in range(channels)))
                    for p in range(out) for q in range(out) for f in range(filters)))
    for symbol in [s for plane in x for row in plane for s in row] + [s for a in W for b in a for c in b for s in c]:
        sp.diff(cost, symbol)
    return time.perf_counter() - start


def derivation_section(quick: bool) -> None:
    """Print the conv2d derivation table (symbolic sizes) and sympy.diff at concrete sizes growing, for contrast."""
    print("## conv2d derivation time (symbolic sizes: the same for every image size and channel count)\n")
    print("| layer | derive + generate the module |")
    print("|---|---|")
    for name, seconds in derivation_times(1 if quick else 3).items():
        print(f"| {name} | {seconds:.2f} s |")
    print("\nFor contrast, sympy.diff of a conv cost composed entry by entry at concrete sizes (all of dx and dW, "
          "K = 2, one example):\n")
    print("| image x channels -> filters | concrete derivation |")
    print("|---|---|")
    sizes = ((3, 1, 1), (4, 1, 1)) if quick else ((4, 1, 1), (4, 2, 2), (6, 2, 2), (8, 2, 2))
    for size, channels, filters in sizes:
        print(f"| {size} x {size} x {channels} -> {filters} | "
              f"{concrete_derivation_time(size, channels, filters):.2f} s |")
    print()

"""Benchmark: exported layer backward passes against a hand-written NumPy alt form and torch eager.

    python benchmarks/layers.py              # batchnorm and layernorm at N = 4096, D = 1024 (float64)
    python benchmarks/layers.py --quick      # small arrays, 3 rounds
    python benchmarks/layers.py --smoke      # small arrays, 1 round: a check that it runs (torch optional)
    python benchmarks/layers.py --attention-only   # attention forward + backward at n = 512, d = 64
    python benchmarks/layers.py --recurrent-only   # rnn and lstm through time at T = 100, n_x = 64, n_a = 128, m = 64
    python benchmarks/layers.py --conv-only        # conv2d forward + backward, m = 64, 32x32x16 -> 32, 3x3, pad 1

Convolution (issue 14): forward + backward of the exported ``conv2d`` layer against a hand-written NumPy
im2col and torch eager, float64; and conv2d's derivation time at symbolic sizes next to sympy.diff at concrete
image sizes and channel counts growing (``--conv-only`` prints both); see ``benchmarks/_conv.py``.

Attention (issue 16): forward + backward of the exported ``attention`` layer against a hand-written
NumPy version and torch eager, float64; see ``benchmarks/_attention.py``. On a loaded machine set
OPENBLAS_NUM_THREADS=1: a spinning BLAS thread pool makes a 512 x 64 x 512 product 40x slower.

Method. Each implementation computes dx, dgamma, dbeta of the same layer in float64 on the CPU from
the same upstream gradient (checked against each other before timing). All run in this one
process; each round times every implementation once, the order rotating between rounds, and the
table shows the median time per call and its ratio to the hand-written NumPy. torch eager is
``torch.autograd.grad`` through ``F.batch_norm`` / ``F.layer_norm`` (the forward done once
outside the timing, ``retain_graph=True``): torch's fused C++ backward kernels.

Derivation time. The engine never sees N or D: it derives once at symbolic sizes. The second table
times derive + code generation (caches cleared) next to what a derivation at concrete sizes costs
(sympy.diff of the cost composed entry by entry), which grows with N x D.
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _attention  # noqa: E402
import _conv  # noqa: E402
import _recurrent  # noqa: E402
from _machine import clear_caches, simd_level  # noqa: E402


# ---- hand-written NumPy alt forms (CS231n's batchnorm_backward_alt, and its layer-norm transpose) --------

def batchnorm_forward_hand(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, (xhat, gamma, ivar)


def batchnorm_backward_hand(dout, cache):
    xhat, gamma, ivar = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dx = (gamma * ivar / N) * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward_hand(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, (xhat, gamma, ivar)


def layernorm_backward_hand(dout, cache):
    xhat, gamma, ivar = cache
    D = dout.shape[1]
    dxhat = dout * gamma
    dx = (ivar / D) * (D * dxhat - dxhat.sum(axis=1, keepdims=True)
                       - xhat * np.einsum("nd,nd->n", dxhat, xhat)[:, None])
    return dx, np.einsum("nd,nd->d", dout, xhat), dout.sum(axis=0)


HAND = {"batchnorm": (batchnorm_forward_hand, batchnorm_backward_hand),
        "layernorm": (layernorm_forward_hand, layernorm_backward_hand)}


def implementations(name, x, gamma, beta, dout):
    """name -> a function of no arguments returning (dx, dgamma, dbeta) as NumPy arrays."""
    from symbackprop.export._layer_module import layer_module
    from symbackprop.layers import derive_layer
    module = layer_module(derive_layer(name))
    _, cache = module.forward(x, gamma, beta)
    forward, backward = HAND[name]
    _, hand_cache = forward(x, gamma, beta)
    found = {"symbackprop": lambda: module.backward(dout, cache),
             "numpy by hand (alt)": lambda: backward(dout, hand_cache)}
    try:
        import torch
        F = torch.nn.functional
        torch.set_num_threads(os.cpu_count() or 1)
        tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
        tdout = torch.tensor(dout)
        if name == "batchnorm":
            ty = F.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5)
        else:
            ty = F.layer_norm(tx, (x.shape[1],), tg, tb, eps=1e-5)

        def torch_call():
            return tuple(g.numpy() for g in torch.autograd.grad(ty, (tx, tg, tb), tdout, retain_graph=True))

        found["torch eager"] = torch_call
    except ImportError:
        pass
    return found


def agreement(found) -> float:
    results = {name: call() for name, call in found.items()}
    reference = results["numpy by hand (alt)"]
    worst = 0.0
    for result in results.values():
        for a, b in zip(result, reference):
            worst = max(worst, float(np.max(np.abs(a - b)) / np.max(np.abs(b))))
    return worst


def time_interleaved(found, rounds) -> dict:
    names = list(found)
    samples = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            found[name]()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def derivation_times(repeats: int) -> dict:
    """Seconds to derive and generate each layer's module, caches cleared (sizes symbolic)."""
    from symbackprop.export._layer_module import layer_source
    from symbackprop.layers import _derive
    times = {}
    for name in ("batchnorm", "layernorm"):
        samples = []
        for _ in range(repeats):
            clear_caches()
            start = time.perf_counter()
            layer_source(_derive.derive_layer(name))
            samples.append(time.perf_counter() - start)
        times[name] = statistics.median(samples)
    return times


def concrete_derivation_time(N: int, D: int) -> float:
    """Seconds for sympy.diff of a batch-norm cost composed entry by entry at concrete N, D (all of dx)."""
    import sympy as sp
    x = sp.Matrix(N, D, lambda i, j: sp.Symbol(f"x{i}_{j}"))
    g = [sp.Symbol(f"g{j}") for j in range(D)]
    dy = sp.Matrix(N, D, lambda i, j: sp.Symbol(f"dy{i}_{j}"))
    eps = sp.Rational(1, 100000)
    start = time.perf_counter()
    cost = 0
    for j in range(D):
        mu = sum(x[i, j] for i in range(N)) / N
        var = sum((x[i, j] - mu) ** 2 for i in range(N)) / N
        cost += sum(dy[i, j] * g[j] * (x[i, j] - mu) / sp.sqrt(var + eps) for i in range(N))
    for i, j in itertools.product(range(N), range(D)):
        sp.diff(cost, x[i, j])
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--quick", action="store_true", help="N, D = 256, 64 and 3 rounds")
    parser.add_argument("--smoke", action="store_true", help="--quick with 1 round: a check that it runs")
    parser.add_argument("--attention-only", action="store_true", help="only the attention table (issue 16)")
    parser.add_argument("--conv-only", action="store_true", help="only the conv2d table (issue 14)")
    parser.add_argument("--recurrent-only", action="store_true", help="only the rnn and lstm tables (issue 15)")
    args = parser.parse_args(argv)
    args.quick = args.quick or args.smoke
    N, D = (256, 64) if args.quick else (4096, 1024)
    rounds = 1 if args.smoke else 3 if args.quick else args.rounds
    if rounds < 1:
        parser.error(f"--rounds must be at least 1 (got {args.rounds})")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"# symbackprop layer benchmark\n\nPython {platform.python_version()}, NumPy {np.__version__}, {cores} cores, "
          f"{platform.machine()}, SIMD: {simd_level(with_torch=True)}; float64, N = {N}, D = {D}; median of {rounds} interleaved "
          f"rounds\n")
    if args.conv_only:
        _conv.section(rounds if args.quick else max(rounds, 7), args.quick)
        _conv.derivation_section(args.quick)
        return
    if not args.recurrent_only:
        _attention.section(rounds if args.quick else max(rounds, 31), args.quick)
    if args.attention_only:
        return
    _recurrent.section(rounds, args.quick)
    if args.recurrent_only:
        return
    _conv.section(rounds if args.quick else max(rounds, 7), args.quick)
    rng = np.random.default_rng(0)
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    for name in ("batchnorm", "layernorm"):
        found = implementations(name, x, gamma, beta, dout)
        worst = agreement(found)
        times = time_interleaved(found, rounds)
        base = times["numpy by hand (alt)"]
        print(f"## {name} backward (all agree to {worst:.1e} relative)\n")
        print("| implementation | median time | time / hand-written NumPy |")
        print("|---|---|---|")
        for implementation, seconds in times.items():
            print(f"| {implementation} | {seconds * 1e3:.1f} ms | {seconds / base:.2f} |")
        print()
    print("## Derivation time (symbolic sizes: the same for every N and D)\n")
    print("| layer | derive + generate the module |")
    print("|---|---|")
    for name, seconds in derivation_times(1 if args.quick else 3).items():
        print(f"| {name} | {seconds:.2f} s |")
    print("\nFor contrast, sympy.diff of a batch-norm cost composed entry by entry at concrete sizes (all of dx):\n")
    print("| N x D | concrete derivation |")
    print("|---|---|")
    for n_, d_ in ((2, 2), (3, 3), (4, 4)) if not args.quick else ((2, 2), (3, 3)):
        print(f"| {n_} x {d_} | {concrete_derivation_time(n_, d_):.2f} s |")


if __name__ == "__main__":
    main()

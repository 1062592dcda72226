"""The attention section of benchmarks/layers.py: forward + backward of the exported ``attention``
layer against a hand-written NumPy version and torch eager, float64, in one process.

The hand-written version is what one writes from the textbook: S = Q Kᵀ/√d + mask, the row maximum
subtracted, A = exp / row sum, O = A V; backward dA = dO Vᵀ, dS = A ⊙ (dA − rowsum(A ⊙ dA)),
dQ = dS K/√d, dK = dSᵀ Q/√d, dV = Aᵀ dO (dmask = dS). torch eager runs the same forward with
``torch.softmax`` and ``torch.autograd.grad`` for the four gradients, forward and backward both
timed.
"""
from __future__ import annotations

import statistics
import time

import numpy as np


def forward_hand(Q, K, V, mask):
    S = Q @ K.T / np.sqrt(Q.shape[1]) + mask
    P = np.exp(S - S.max(axis=1, keepdims=True))
    A = P / P.sum(axis=1, keepdims=True)
    return A @ V, (Q, K, V, A)


def backward_hand(dO, cache):
    Q, K, V, A = cache
    scale = 1.0 / np.sqrt(Q.shape[1])
    dA = dO @ V.T
    dS = A * (dA - (A * dA).sum(axis=1, keepdims=True))
    return dS @ K * scale, dS.T @ Q * scale, A.T @ dO, dS


def implementations(Q, K, V, mask, dO) -> dict:
    """name -> a function of no arguments: forward then backward, returning (O, dQ, dK, dV, dmask)."""
    from symbackprop.export._layer_module import layer_module
    from symbackprop.layers import derive_layer
    module = layer_module(derive_layer("attention"))

    def generated():
        out, cache = module.forward(Q, K, V, mask)
        return (out, *module.backward(dO, cache))

    def hand():
        out, cache = forward_hand(Q, K, V, mask)
        return (out, *backward_hand(dO, cache))

    found = {"symbackprop": generated, "numpy by hand": hand}
    try:
        import torch
    except ImportError:
        return found
    tensors = [torch.tensor(a) for a in (Q, K, V, mask)]
    tdO = torch.tensor(dO)

    def torch_eager():
        q, k, v, m = (t.detach().requires_grad_() for t in tensors)
        out = torch.softmax(q @ k.T / q.shape[1] ** 0.5 + m, dim=-1) @ v
        grads = torch.autograd.grad(out, (q, k, v, m), tdO)
        return (out.detach().numpy(), *(g.numpy() for g in grads))

    found["torch eager"] = torch_eager
    return found


def agreement(found) -> float:
    results = {name: call() for name, call in found.items()}
    reference = results["numpy by hand"]
    worst = 0.0
    for result in results.values():
        for a, b in zip(result, reference):
            worst = max(worst, float(np.max(np.abs(a - b)) / np.max(np.abs(b))))
    return worst


def data(n: int, d: int, causal: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    Q, K, V, dO = (rng.standard_normal((n, d)) for _ in range(4))
    mask = np.where(np.tril(np.ones((n, n))) > 0, 0.0, -np.inf) if causal else np.zeros((n, n))
    return Q, K, V, mask, dO


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    pools = [f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info() if p.get("user_api") == "blas"]
    return ", ".join(pools) or "none found"


def time_shuffled(found, rounds: int, seed: int = 0) -> dict:
    """Median seconds per call; each round runs every implementation once in a fresh random order, so
    none follows another (whose thread pool may still spin) more often than the rest."""
    rng = np.random.default_rng(seed)
    names = list(found)
    samples = {name: [] for name in names}
    for _ in range(rounds):
        for position in rng.permutation(len(names)):
            start = time.perf_counter()
            found[names[position]]()
            samples[names[position]].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def section(rounds: int, quick: bool) -> None:
    """Print the attention table: forward + backward at n = 512, d = 64 (n = 64, d = 16 when quick)."""
    n, d = (64, 16) if quick else (512, 64)
    found = implementations(*data(n, d))
    worst = agreement(found)
    try:
        import torch
        threads = torch.get_num_threads()
        torch.set_num_threads(1)           # like NumPy: elementwise work on one core
    except ImportError:
        torch = None
    try:
        times = time_shuffled(found, rounds)
    finally:
        if torch is not None:
            torch.set_num_threads(threads)
    base = times["numpy by hand"]
    print(f"## attention forward + backward, n = {n}, d = {d} (all agree to {worst:.1e} relative; "
          f"BLAS threads: {blas_threads()}; torch threads: 1)\n")
    print("| implementation | median time | time / hand-written NumPy |")
    print("|---|---|---|")
    for implementation, seconds in times.items():
        print(f"| {implementation} | {seconds * 1e3:.2f} ms | {seconds / base:.2f} |")
    print()

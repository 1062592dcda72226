"""Benchmark: how close can a NumPy gradient get to JAX? Its CPU work, and the best schedule of it.

    python benchmarks/cpu_floor.py              # cases A, B, C of benchmarks/gradient.py
    python benchmarks/cpu_floor.py --cases C --rounds 15
    python benchmarks/cpu_floor.py --smoke      # case B at sizes 7-6-5-4, m = 37, one round: a check that it runs

Issue 5 asks the exported NumPy gradient to be no slower than JAX ``jit(value_and_grad)`` on
cases A-C. NumPy runs a matrix product on every core (OpenBLAS) but an elementwise function
(``np.tanh``, ``np.exp``) on one, and after each product OpenBLAS's idle workers keep spinning
for a while, so splitting a ufunc over threads does not pay inside a gradient. This script
measures, in one process and interleaved like benchmarks/gradient.py:

  jax       JAX jit(value_and_grad), float64 on the CPU (XLA fuses and threads the elementwise work)
  ours      symbackprop.compile's gradient, as shipped
  sharded   the same generated code run on the two halves of the batch in two threads, with
            OpenBLAS held to one thread, the halves' gradients summed: the best schedule of this
            arithmetic short of a fused kernel. Not shippable: it changes the process-wide BLAS
            thread count, and it splits the batch that issue 5 asks to multiply whole.
  work      ours with OpenBLAS held to one thread: all its arithmetic on one core; work / cores is
            the floor no schedule of this arithmetic can beat
  tanh      np.tanh alone on the hidden layers' pre-activations, for scale: the part of the work
            XLA does about ten times faster

Ratios are JAX's time over the other's: at or above 1 means the target "no slower than JAX" is met.
Needs jax (the autodiff extra) and threadpoolctl (comes with scikit-learn, the examples extra).
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gradient  # noqa: E402  (the cases, their data, the implementations, the interleaved timer)
from _machine import machine_line  # noqa: E402


class OneBlasThread:
    """A context manager holding OpenBLAS to one thread (set up once: threadpoolctl's own context
    manager inspects every loaded library on each entry)."""

    def __init__(self):
        from threadpoolctl import ThreadpoolController
        self._libraries = ThreadpoolController().select(user_api="blas").lib_controllers
        self._before = []

    def __enter__(self):
        self._before = [library.num_threads for library in self._libraries]
        for library in self._libraries:
            library.set_num_threads(1)

    def __exit__(self, *exc_info):
        for library, threads in zip(self._libraries, self._before):
            library.set_num_threads(threads)


def sharded(case, params, X, Y, one_blas_thread):
    """The gradient of the whole batch from two half batches computed in two threads."""
    import symbackprop as sb
    unregularised = sb.compile(gradient.network_of(dict(case, lam=0.0)))
    weights, lam, m = params[0::2], case["lam"], X.shape[0]
    half = m // 2
    pool = ThreadPoolExecutor(max_workers=1)

    def call():
        with one_blas_thread:
            second = pool.submit(unregularised, params, X[half:], Y[half:])
            J1, first_grads = unregularised(params, X[:half], Y[:half])
            J2, second_grads = second.result()
        # each half's J and gradients are means over its own rows: weight them back to the whole batch
        J = (half * J1 + (m - half) * J2) / m + lam / (2 * m) * sum(np.vdot(W, W) for W in weights)
        grads = [(half * g1 + (m - half) * g2) / m for g1, g2 in zip(first_grads, second_grads)]
        for index, W in zip(range(0, len(grads), 2), weights):
            grads[index] += (lam / m) * W
        return J, grads
    return call


def hidden_preactivations(params, X):
    weights, biases = params[0::2], params[1::2]
    zs, a = [], X
    for W, b in zip(weights[:-1], biases[:-1]):
        zs.append(a @ W.T + b)
        a = np.tanh(zs[-1])
    return zs


def measure(case, rounds, budget=0.25):
    params, X, Y = gradient.data_of(case)
    found, missing = gradient.implementations(case, params, X, Y, ("symbackprop", "jax jit"))
    if missing:
        raise SystemExit(f"cpu_floor.py needs {', '.join(missing)}: {'; '.join(missing.values())}")
    ours = found["symbackprop"][0]
    one_blas_thread = OneBlasThread()

    def one_core():
        with one_blas_thread:
            return ours()

    zs = hidden_preactivations(params, X)
    scratch = [np.empty_like(z) for z in zs]
    tasks = {
        "jax": found["jax jit"],
        "ours": found["symbackprop"],
        "sharded": (sharded(case, params, X, Y, one_blas_thread), lambda r: r),
        "work": (one_core, lambda r: r),
    }
    if case["kind"] == "softmax":   # tanh hidden layers
        tasks["tanh"] = (lambda: [np.tanh(z, out=out) for z, out in zip(zs, scratch)], None)
    checked = {"symbackprop": tasks["ours"], **{name: tasks[name] for name in ("jax", "sharded", "work")}}
    agreement = gradient.check_agreement(checked)
    if agreement > 1e-9:
        raise SystemExit(f"the variants disagree (largest relative difference {agreement:.1e}): not timing them")
    return gradient.time_interleaved(tasks, rounds, budget=budget)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="A,B,C", help="comma-separated cases of benchmarks/gradient.py (default A,B,C)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per case (default 9)")
    parser.add_argument("--smoke", action="store_true", help="case B at sizes 7-6-5-4, m = 37, one round: a check that it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.cases, args.rounds = "B", 1
    cases = [name.strip().upper() for name in args.cases.split(",")]
    if any(name not in gradient.CASES or name == "D" for name in cases) or args.rounds < 1:
        parser.error(f"--cases takes letters among A, B, C (got {args.cases!r}); --rounds at least 1 (got {args.rounds})")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"# How close can the NumPy gradient get to JAX?\n\n{machine_line()}; medians over {args.rounds} interleaved "
          f"rounds, milliseconds.\n")
    print("| case | JAX | ours | JAX ÷ ours | sharded | JAX ÷ sharded | work (1 core) | floor = work / cores "
          "| JAX ÷ floor | np.tanh in the work |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in cases:
        case = dict(gradient.CASES[name], sizes=(7, 6, 5, 4), m=37) if args.smoke else gradient.CASES[name]
        budget = 0.002 if args.smoke else 0.25
        t = {key: seconds * 1e3 for key, seconds in measure(case, args.rounds, budget).items()}
        floor = t["work"] / cores
        tanh = f"{t['tanh']:.1f}" if "tanh" in t else "none (sigmoid)"
        print(f"| {name} | {t['jax']:.1f} | {t['ours']:.1f} | {t['jax'] / t['ours']:.2f} | {t['sharded']:.1f} | "
              f"{t['jax'] / t['sharded']:.2f} | {t['work']:.1f} | {floor:.1f} | {t['jax'] / floor:.2f} | {tanh} |")


if __name__ == "__main__":
    main()

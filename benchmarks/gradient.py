"""Benchmark: symbackprop.compile against hand-written NumPy, PyTorch eager, JAX jit and HIPS autograd.

    python benchmarks/gradient.py            # the full run: cases A-D, interleaved, about 2 minutes
    python benchmarks/gradient.py --quick    # a few rounds only
    python benchmarks/gradient.py --smoke    # case D, one round, no cold processes: a check that it runs
    python benchmarks/gradient.py --cases A,D --rounds 31 --json results.json

Cases (issue 5):
  A  400-25-10, sigmoid, cross-entropy, m = 5000, lambda = 1   (Ng's ex4)
  B  784-256-128-10, tanh, softmax + categorical cross-entropy, m = 256, lambda = 1
  C  the same with m = 4096
  D  2-3-1, sigmoid, cross-entropy, m = 1, lambda = 1

Method. Every implementation computes the same cost and gradients in float64 on the CPU
(checked against symbackprop before timing). All run in this one process; each round times a
batch of calls of every implementation in turn, the order rotating from round to round, so that
a change in machine speed hits all of them alike; the table shows the median over rounds of the
time per call. Peak memory is tracemalloc's peak during one call, for the implementations whose
arrays NumPy allocates (PyTorch and XLA allocate outside Python's tracked allocator, so theirs
is not comparable and not shown). "Cold" times run each in a fresh interpreter: symbackprop
from ``import`` through derive, compile and the first gradient; JAX from ``import`` through its
first jit-compiled call; JAX's compile time is its first call minus a steady call.
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _reference as reference  # noqa: E402
from _machine import machine_line  # noqa: E402

CASES = {
    "A": dict(sizes=(400, 25, 10), kind="sigmoid", m=5000, lam=1.0, title="400-25-10 sigmoid, cross-entropy, m=5000"),
    "B": dict(sizes=(784, 256, 128, 10), kind="softmax", m=256, lam=1.0, title="784-256-128-10 tanh, softmax+CE, m=256"),
    "C": dict(sizes=(784, 256, 128, 10), kind="softmax", m=4096, lam=1.0, title="784-256-128-10 tanh, softmax+CE, m=4096"),
    "D": dict(sizes=(2, 3, 1), kind="sigmoid", m=1, lam=1.0, title="2-3-1 sigmoid, cross-entropy, m=1"),
}
NAMES = ("symbackprop", "numpy by hand", "torch eager", "jax jit", "autograd")


def network_of(case):
    import symbackprop as sb
    if case["kind"] == "sigmoid":
        return sb.Network(case["sizes"], hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=case["lam"])
    return sb.Network(case["sizes"], hidden="tanh", output="softmax", loss="categorical-cross-entropy", l2=case["lam"])


def data_of(case, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for previous, current in zip(case["sizes"][:-1], case["sizes"][1:]):
        params += [rng.normal(scale=1 / np.sqrt(previous), size=(current, previous)), rng.normal(scale=0.1, size=current)]
    X = rng.normal(size=(case["m"], case["sizes"][0]))
    n_out = case["sizes"][-1]
    if n_out == 1:
        Y = rng.integers(0, 2, size=(case["m"], 1)).astype(np.float64)
    else:
        Y = np.zeros((case["m"], n_out))
        Y[np.arange(case["m"]), rng.integers(0, n_out, size=case["m"])] = 1.0
    return params, X, Y


# --- the implementations: each a zero-argument call returning (cost, grads) as NumPy, and the raw call ---
def implementations(case, params, X, Y, wanted):
    lam, kind = case["lam"], case["kind"]
    found, missing = {}, {}
    if "symbackprop" in wanted:
        import symbackprop as sb
        f = sb.compile(network_of(case))
        found["symbackprop"] = (lambda: f(params, X, Y), lambda r: r)
    if "numpy by hand" in wanted:
        by_hand = reference.sigmoid_cross_entropy if kind == "sigmoid" else reference.tanh_softmax_cross_entropy
        found["numpy by hand"] = (lambda: by_hand(params, X, Y, lam), lambda r: r)
    if "torch eager" in wanted:
        try:
            import torch
            cost = reference.torch_loss(kind)
            tensors = [torch.from_numpy(p).requires_grad_() for p in params]
            Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

            def torch_call():
                J = cost(tensors, Xt, Yt, lam)
                return J, torch.autograd.grad(J, tensors)
            found["torch eager"] = (torch_call, lambda r: (float(r[0].detach()), [g.numpy() for g in r[1]]))
        except ImportError as error:
            missing["torch eager"] = str(error)
    if "jax jit" in wanted:
        try:
            import jax
            jax.config.update("jax_enable_x64", True)
            import jax.numpy as jnp
            step = jax.jit(jax.value_and_grad(lambda p, x, y: reference.jax_loss(kind)(p, x, y, lam)))
            arrays = [jnp.asarray(p) for p in params]
            Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

            def jax_call():
                return jax.block_until_ready(step(arrays, Xj, Yj))
            found["jax jit"] = (jax_call, lambda r: (float(r[0]), [np.asarray(g) for g in r[1]]))
        except ImportError as error:
            missing["jax jit"] = str(error)
    if "autograd" in wanted:
        try:
            import autograd
            value_and_grad = autograd.value_and_grad(reference.autograd_loss(kind))
            found["autograd"] = (lambda: value_and_grad(params, X, Y, lam), lambda r: (float(r[0]), list(r[1])))
        except ImportError as error:
            missing["autograd"] = str(error)
    return found, missing


def check_agreement(found):
    """Every implementation against symbackprop: the largest relative difference (normwise per array)."""
    base_cost, base_grads = found["symbackprop"][1](found["symbackprop"][0]())
    worst = 0.0
    for name, (call, convert) in found.items():
        cost, grads = convert(call())
        worst = max(worst, abs(cost - base_cost) / abs(base_cost),
                    *[np.linalg.norm(np.asarray(g) - b) / np.linalg.norm(b) for g, b in zip(grads, base_grads)])
    return worst


def time_interleaved(found, rounds, budget):
    """Median seconds per call of each implementation, over ``rounds`` rotating rounds."""
    names = list(found)
    per_batch = {}
    for name in names:   # calls per batch: about ``budget`` seconds each
        call = found[name][0]
        call()
        start = time.perf_counter()
        call()
        single = max(time.perf_counter() - start, 1e-7)
        per_batch[name] = max(1, int(budget / single))
    samples = {name: [] for name in names}
    for round_number in range(rounds):
        order = names[round_number % len(names):] + names[:round_number % len(names)]
        for name in order:
            call, count = found[name][0], per_batch[name]
            gc.collect()
            start = time.perf_counter()
            for _ in range(count):
                call()
            samples[name].append((time.perf_counter() - start) / count)
    return {name: statistics.median(values) for name, values in samples.items()}


def peak_memory(found):
    """tracemalloc's peak during one call, for the NumPy-based implementations."""
    peaks = {}
    for name in ("symbackprop", "numpy by hand", "autograd"):
        if name not in found:
            continue
        call = found[name][0]
        call()
        gc.collect()
        tracemalloc.start()
        tracemalloc.reset_peak()
        result = call()
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del result
    return peaks


# --- cold processes -------------------------------------------------------------------------------------------
_COLD_SYMBACKPROP = """
import time
start = time.perf_counter()
import numpy as np
import symbackprop as sb
imported = time.perf_counter()
sys_path = {here!r}
import sys; sys.path.insert(0, sys_path)
import gradient
case = gradient.CASES[{case!r}]
network = gradient.network_of(case)
params, X, Y = gradient.data_of(case)
t0 = time.perf_counter()
f = sb.compile(network)
compiled = time.perf_counter()
f(params, X, Y)
first = time.perf_counter()
print(imported - start, compiled - t0, first - compiled)
"""

_COLD_JAX = """
import time
start = time.perf_counter()
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
imported = time.perf_counter()
import sys; sys.path.insert(0, {here!r})
import gradient, _reference
case = gradient.CASES[{case!r}]
params, X, Y = gradient.data_of(case)
step = jax.jit(jax.value_and_grad(lambda p, x, y: _reference.jax_loss(case["kind"])(p, x, y, case["lam"])))
arrays = [jnp.asarray(p) for p in params]; Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
t0 = time.perf_counter()
jax.block_until_ready(step(arrays, Xj, Yj))
first = time.perf_counter()
jax.block_until_ready(step(arrays, Xj, Yj))
second = time.perf_counter()
print(imported - start, (first - t0) - (second - first), second - first)
"""


def cold(case_name):
    results = {}
    for name, script in (("symbackprop", _COLD_SYMBACKPROP), ("jax", _COLD_JAX)):
        code = textwrap.dedent(script).format(here=str(HERE), case=case_name)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            results[name] = None
            continue
        results[name] = [float(v) for v in done.stdout.split()[-3:]]
    return results


# --- the report -------------------------------------------------------------------------------------------------
def _format_time(seconds):
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="A,B,C,D")
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds (median over them)")
    parser.add_argument("--budget", type=float, default=0.08, help="seconds per batch of calls")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 0.02 s")
    parser.add_argument("--smoke", action="store_true", help="case D, 1 round of 0.002 s, no cold processes: a check that it runs")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-process timings")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.budget = 3, 0.02
    if args.smoke:
        args.cases, args.rounds, args.budget, args.no_cold = "D", 1, 0.002, True
    unknown = [name for name in args.cases.split(",") if name not in CASES]
    if unknown or args.rounds < 1:
        parser.error(f"--cases takes letters among {', '.join(CASES)} (got {args.cases!r}); --rounds at least 1 "
                     f"(got {args.rounds})")
    print(f"# symbackprop gradient benchmark\n\n{machine_line()}; rounds {args.rounds}, batch {args.budget} s\n")
    results = {}
    for case_name in args.cases.split(","):
        case = CASES[case_name]
        params, X, Y = data_of(case)
        found, missing = implementations(case, params, X, Y, NAMES)
        agreement = check_agreement(found)
        times = time_interleaved(found, args.rounds, args.budget)
        peaks = peak_memory(found)
        results[case_name] = dict(title=case["title"], times=times, peaks=peaks, agreement=agreement, missing=missing)
        base = times["numpy by hand"]
        print(f"## {case_name}: {case['title']}  (all agree to {agreement:.1e})\n")
        print("| implementation | median time per call | time / hand-written NumPy | symbackprop faster by | peak memory (tracemalloc) |")
        print("|---|---|---|---|---|")
        for name in NAMES:
            if name in missing:
                print(f"| {name} | not installed | | | |")
                continue
            peak = f"{peaks[name] / 1e6:.2f} MB" if name in peaks else "n/a (own allocator)"
            faster = "" if name == "symbackprop" else f"{times[name] / times['symbackprop']:.2f}x"
            print(f"| {name} | {_format_time(times[name])} | {times[name] / base:.3f} | {faster} | {peak} |")
        if "symbackprop" in peaks and "numpy by hand" in peaks:
            print(f"\npeak memory symbackprop / hand-written: {peaks['symbackprop'] / peaks['numpy by hand']:.3f}")
        print()
    if not args.no_cold:
        print("## Cold process: from `import` to the first gradient\n")
        print("| case | symbackprop import | derive + compile | first call | JAX import | JAX first-call compile | JAX call |")
        print("|---|---|---|---|---|---|---|")
        for case_name in args.cases.split(","):
            measured = cold(case_name)
            results[case_name]["cold"] = measured
            ours, theirs = measured.get("symbackprop"), measured.get("jax")
            cells = [f"{v:.3f} s" for v in ours] if ours else ["failed"] * 3
            cells += [f"{v:.3f} s" for v in theirs] if theirs else ["not installed or failed"] * 3
            print(f"| {case_name} | " + " | ".join(cells) + " |")
        print()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    return results


if __name__ == "__main__":
    main()

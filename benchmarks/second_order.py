"""Benchmark: the exported second-order functions (issue 27) against torch.func and JAX, on the CPU.

    python benchmarks/second_order.py            # N = 256 examples, 64 -> 128 -> 10, float64, 7 rounds
    python benchmarks/second_order.py --smoke    # tiny sizes, 1 round: a check that it runs (a test runs it)

Method. For each model the exported NumPy module (``export --model ... --second-order``) gives the gradient
(``cost_and_gradients``), ``hvp``, ``ggn_vp`` and ``diag_ggn``; torch.func computes the Hessian-vector product
forward-over-reverse (``jvp(grad(f))``) of the same model written from torch primitives, and JAX its
``jvp(grad(f))`` under ``jit`` (compiled once, outside the timing). The three HVPs are checked against each
other first ("all agree to"). All run in this one process, float64; each round times every implementation
once, the order rotating between rounds; the table shows the median wall time per call and its ratio to one
exported gradient. The goals of the issue, printed beside the numbers: hvp <= 2.5 x one gradient, hvp faster
than torch.func, diag_ggn <= one gradient x the number of outputs K.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_line, simd_level  # noqa: E402

#: (name, model string, loss): an MLP (a network's model form), a softmax MLP and a layernorm model
MODELS = (("mlp sigmoid", "affine({H}) > sigmoid > affine({K}) > sigmoid", "cross-entropy"),
          ("mlp tanh-softmax", "affine({H}) > tanh > affine({K}) > softmax", "categorical-cross-entropy"),
          ("layernorm", "affine({H}) > layernorm > relu > affine({K}) > softmax", "categorical-cross-entropy"))


def _torch_cost(spec_name, torch, X, Y):
    def cost(W1, b1, *rest):
        z = X @ W1 + b1
        if spec_name == "layernorm":
            g, c, W3, b3 = rest
            mean = z.mean(1, keepdim=True)
            var = z.var(1, unbiased=False, keepdim=True)
            h = torch.relu(g * (z - mean) / torch.sqrt(var + 1e-5) + c)
            return -(Y * torch.log_softmax(h @ W3 + b3, 1)).sum(1).mean()
        W3, b3 = rest
        if spec_name == "mlp sigmoid":
            a = torch.sigmoid(torch.sigmoid(z) @ W3 + b3)
            return -(Y * torch.log(a) + (1 - Y) * torch.log(1 - a)).sum(1).mean()
        return -(Y * torch.log_softmax(torch.tanh(z) @ W3 + b3, 1)).sum(1).mean()
    return cost


def _jax_cost(spec_name, jnp, jax, X, Y):
    def cost(params):
        W1, b1, *rest = params
        z = X @ W1 + b1
        if spec_name == "layernorm":
            g, c, W3, b3 = rest
            mean = z.mean(1, keepdims=True)
            var = z.var(1, keepdims=True)
            h = jax.nn.relu(g * (z - mean) / jnp.sqrt(var + 1e-5) + c)
            return -(Y * jax.nn.log_softmax(h @ W3 + b3, axis=1)).sum(1).mean()
        W3, b3 = rest
        if spec_name == "mlp sigmoid":
            a = jax.nn.sigmoid(jax.nn.sigmoid(z) @ W3 + b3)
            return -(Y * jnp.log(a) + (1 - Y) * jnp.log(1 - a)).sum(1).mean()
        return -(Y * jax.nn.log_softmax(jnp.tanh(z) @ W3 + b3, axis=1)).sum(1).mean()
    return cost


def _implementations(name, spec, loss, sizes):
    from symbackprop.export._second_order_module import second_order_module
    from symbackprop.models import build_model, derive_model
    model = build_model(spec.format(**sizes), loss, sizes["D"])
    module = second_order_module(model, derive_model(model))
    rng = np.random.default_rng(0)
    params = [rng.standard_normal([int(s) for s in model.shape(p)]) * 0.5 for p in model.params]
    V = [rng.standard_normal(p.shape) for p in params]
    X = rng.standard_normal((sizes["N"], sizes["D"]))
    K = sizes["K"]
    Y = np.eye(K)[rng.integers(0, K, sizes["N"])] if loss != "cross-entropy" else rng.uniform(0.05, 0.95, (sizes["N"], K))
    found = {"gradient": lambda: module.cost_and_gradients(params, X, Y)[1],
             "hvp": lambda: module.hvp(params, X, Y, V),
             "ggn_vp": lambda: module.ggn_vp(params, X, Y, V),
             "diag_ggn": lambda: module.diag_ggn(params, X, Y)}
    try:
        import torch
        from torch.func import grad, jvp
        with warnings.catch_warnings():       # torch's forward-mode decompositions call torch.jit.script (deprecated)
            warnings.simplefilter("ignore", DeprecationWarning)
            import torch._decomp.decompositions_for_jvp  # noqa: F401
        tp, tv = tuple(map(torch.tensor, params)), tuple(map(torch.tensor, V))
        cost = _torch_cost(name, torch, torch.tensor(X), torch.tensor(Y))
        argnums = tuple(range(len(params)))
        found["torch.func hvp"] = lambda: [t.numpy() for t in jvp(lambda *ps: grad(cost, argnums=argnums)(*ps),
                                                                   tp, tv)[1]]
    except ImportError:
        pass
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        jcost = _jax_cost(name, jnp, jax, jnp.asarray(X), jnp.asarray(Y))
        jp, jv = [jnp.asarray(p) for p in params], [jnp.asarray(v) for v in V]
        hvp = jax.jit(lambda p, v: jax.jvp(jax.grad(jcost), (p,), (v,))[1])
        jax.block_until_ready(hvp(jp, jv))
        found["jax jit hvp"] = lambda: [np.asarray(t) for t in jax.block_until_ready(hvp(jp, jv))]
    except ImportError:
        pass
    return found


def _agreement(found) -> float:
    reference = found["hvp"]()
    scale = max(float(np.max(np.abs(r))) for r in reference)
    worst = 0.0
    for label in ("torch.func hvp", "jax jit hvp"):
        if label in found:
            worst = max(worst, max(float(np.max(np.abs(a - b))) for a, b in zip(found[label](), reference)) / scale)
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 round: a check that it runs")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = dict(N=8, D=4, H=5, K=3) if args.smoke else dict(N=256, D=64, H=128, K=10)
    rounds = 1 if args.smoke else args.rounds
    print(f"# symbackprop second order: hvp, ggn_vp, diag_ggn vs torch.func and JAX (float64, N = {sizes['N']}, "
          f"{sizes['D']} -> {sizes['H']} -> {sizes['K']}, {rounds} rounds)")
    print(f"# {machine_line()}; SIMD level: {simd_level(with_torch=True)}\n")
    for name, spec, loss in MODELS:
        found = _implementations(name, spec, loss, sizes)
        agreement = _agreement(found)
        times = {label: [] for label in found}
        labels = list(found)
        for round_ in range(rounds):
            order = labels[round_ % len(labels):] + labels[:round_ % len(labels)]
            for label in order:
                start = time.perf_counter()
                found[label]()
                times[label].append(time.perf_counter() - start)
        median = {label: statistics.median(values) for label, values in times.items()}
        gradient = median["gradient"]
        print(f"## {name}: {spec.format(**sizes)} ({loss}); the three HVPs all agree to {agreement:.1e}")
        print("| implementation | ms per call | x one gradient |")
        print("|---|---|---|")
        for label in labels:
            print(f"| {label} | {median[label] * 1e3:.3f} | {median[label] / gradient:.2f} |")
        goals = [f"hvp / gradient = {median['hvp'] / gradient:.2f} (goal <= 2.5)",
                 f"diag_ggn / (gradient x K) = {median['diag_ggn'] / (gradient * sizes['K']):.2f} (goal <= 1)"]
        if "torch.func hvp" in median:
            goals.append(f"hvp / torch.func = {median['hvp'] / median['torch.func hvp']:.2f} (goal < 1)")
        print("goals: " + "; ".join(goals) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

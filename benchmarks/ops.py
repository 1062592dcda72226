"""Benchmark: symbackprop's torch ops (export --op) against torch autograd of the composed forward and the
native fused layer, on the CPU.

    python benchmarks/ops.py              # batchnorm, layernorm (N = 4096, D = 1024), attention (n = 512, d = 64)
    python benchmarks/ops.py --smoke      # tiny sizes, 1 repeat (a test runs it)
    python benchmarks/ops.py --dtype float64

Method. For each layer three implementations run forward + backward from the same inputs and the same
upstream gradient, in one process: the op (``torch.autograd.Function`` whose backward is the derived one),
torch autograd of the composed forward (the layer written from torch primitives, as a user would), and the
native layer (``F.batch_norm``, ``F.layer_norm``, ``F.scaled_dot_product_attention``: fused C++ kernels).
Their gradients are checked against each other first. Each round times every implementation once, the order
rotating between rounds; the table shows the median wall time of forward + backward and its ratios. Saved
memory is the bytes of the tensors autograd saves for backward during the forward, counted by
``torch.autograd.graph.saved_tensors_hooks`` (an input saved by reference counts as well, for every
implementation alike).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

F = torch.nn.functional


def simd_level() -> str:
    """The CPU's widest SIMD extension from /proc/cpuinfo's flags, and the level torch dispatches to."""
    flags = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    found = [name.upper() for name in ("avx512f", "avx2", "fma", "avx", "sse4_2", "asimd") if name in flags]
    return f"{' '.join(found) or 'none detected'} (torch: {torch.backends.cpu.get_cpu_capability()})"


def _op(name):
    from symbackprop.export._op_module import layer_op_source, op_module
    from symbackprop.layers import derive_layer
    from symbackprop.layers.records import BY_NAME
    return getattr(op_module(layer_op_source(derive_layer(BY_NAME[name].layer()), "torch"), f"bench_{name}"), name)


def cases(smoke: bool, dtype):
    """name -> (inputs, {implementation: forward}), the inputs as leaves that require grad."""
    N, D = (8, 6) if smoke else (4096, 1024)
    n, d = (6, 4) if smoke else (512, 64)
    generator = torch.Generator().manual_seed(0)

    def leaves(*shapes):
        return [torch.randn(shape, generator=generator, dtype=dtype).requires_grad_() for shape in shapes]

    eps = 1e-5
    batchnorm = {
        "symbackprop op": _op("batchnorm"),
        "autograd (composed)": lambda x, g, b: g * (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps) + b,
        "native F.batch_norm": lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=eps),
    }
    layernorm = {
        "symbackprop op": _op("layernorm"),
        "autograd (composed)": lambda x, g, b: g * (x - x.mean(1, keepdim=True))
        / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + eps) + b,
        "native F.layer_norm": lambda x, g, b: F.layer_norm(x, (x.shape[1],), g, b, eps=eps),
    }
    attention = {
        "symbackprop op": _op("attention"),
        "autograd (composed)": lambda Q, K, V: torch.softmax(Q @ K.T / Q.shape[1] ** 0.5, dim=1) @ V,
        "native F.scaled_dot_product_attention": lambda Q, K, V: F.scaled_dot_product_attention(Q, K, V),
    }
    return {"batchnorm": (leaves((N, D), (D,), (D,)), batchnorm, f"N = {N}, D = {D}"),
            "layernorm": (leaves((N, D), (D,), (D,)), layernorm, f"N = {N}, D = {D}"),
            "attention": (leaves((n, d), (n, d), (n, d)), attention, f"n = {n}, d = {d}")}


def run_once(forward, inputs, dout):
    for leaf in inputs:
        leaf.grad = None
    forward(*inputs).backward(dout)
    return [leaf.grad for leaf in inputs]


def saved_bytes(forward, inputs) -> int:
    total = [0]

    def pack(tensor):
        total[0] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward(*inputs)
    return total[0]


def agreement(forwards, inputs, dout) -> float:
    """The largest difference of any gradient between the implementations, relative to its largest entry."""
    found = {name: [g.clone() for g in run_once(f, inputs, dout)] for name, f in forwards.items()}
    first, *others = found.values()
    worst = 0.0
    for grads in others:
        for a, b in zip(first, grads):
            worst = max(worst, ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item())
    return worst


def measure(forwards, inputs, dout, repeats: int) -> dict:
    times = {name: [] for name in forwards}
    order = list(forwards)
    for round_number in range(repeats):
        rotated = order[round_number % len(order):] + order[:round_number % len(order)]
        for name in rotated:
            start = time.perf_counter()
            run_once(forwards[name], inputs, dout)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def table(results) -> list:
    lines = ["| layer | implementation | forward + backward (ms) | × autograd | × native | saved (KiB) | saved × autograd |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for layer, (sizes, times, saved) in results.items():
        names = list(times)
        composed, native = names[1], names[2]
        for name in names:
            lines.append(f"| {layer} ({sizes}) | {name} | {times[name] * 1e3:.3f} | {times[name] / times[composed]:.2f} "
                         f"| {times[name] / times[native]:.2f} | {saved[name] / 2**10:.1f} "
                         f"| {saved[name] / saved[composed]:.2f} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repeat")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch's intra-op threads (default 1: on a shared machine more threads time contention)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 1 if args.smoke else args.repeats
    dtype = getattr(torch, args.dtype)
    results = {}
    for layer, (inputs, forwards, sizes) in cases(args.smoke, dtype).items():
        dout = torch.randn(forwards["symbackprop op"](*inputs).shape, dtype=dtype,
                           generator=torch.Generator().manual_seed(1))
        difference = agreement(forwards, inputs, dout)
        tolerance = 1e-3 if dtype == torch.float32 else 1e-9
        if difference > tolerance:
            raise SystemExit(f"{layer}: the implementations' gradients differ by {difference:.2e} (relative)")
        for forward in forwards.values():            # warm up
            run_once(forward, inputs, dout)
        times = measure(forwards, inputs, dout, repeats)
        saved = {name: saved_bytes(f, inputs) for name, f in forwards.items()}
        results[layer] = (sizes, times, saved)
    print(f"CPU: {platform.processor() or platform.machine()}, SIMD: {simd_level()}, torch {torch.__version__} "
          f"with {torch.get_num_threads()} threads, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{args.dtype}; median of {repeats} interleaved rounds of forward + backward")
    print("\n".join(table(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

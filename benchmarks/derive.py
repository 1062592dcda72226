"""Time to derive: from a cold process and warm, for depth 2..10 and widths 10..4000.

Run: python benchmarks/derive.py [--repeats N]

* cold: a fresh ``python -c`` that imports symbackprop and derives once (includes SymPy's import);
  the time of a bare ``import sympy`` is printed alongside for reference;
* warm: in this process, the engine's caches cleared before each run, so it is the derivation
  work itself without the import.
Targets (issue 2): under 1 s cold for ex4's 400-25-10 network, flat in width, linear in depth.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COLD = ("import time; t = time.perf_counter(); import symbackprop as sb; "
        "sb.derive(sb.Network({sizes!r}, hidden='sigmoid', output='sigmoid', loss='cross-entropy', l2=1, bias='column')); "
        "print(time.perf_counter() - t)")


def cold(sizes, repeats) -> float:
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", COLD.format(sizes=tuple(sizes))], capture_output=True, text=True, check=True)
        times.append(float(out.stdout))
    return statistics.median(times)


def import_sympy(repeats) -> float:
    code = "import time; t = time.perf_counter(); import sympy; print(time.perf_counter() - t)"
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True).stdout) for _ in range(repeats))


def warm(sizes, repeats) -> float:
    import symbackprop as sb
    import importlib
    from symbackprop.engine import _activation_derivative
    derive_module = importlib.import_module("symbackprop.engine.derive")
    times = []
    for _ in range(repeats):
        for cached in (derive_module._output, derive_module._hidden, _activation_derivative.derivative_in_z,
                       _activation_derivative.readable_derivative, _activation_derivative.coupled_jacobian):
            cached.cache_clear()
        network = sb.Network(tuple(sizes), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1, bias="column")
        start = time.perf_counter()
        sb.derive(network)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell; the median is printed (default 3)")
    args = parser.parse_args(argv)
    print(f"bare 'import sympy' in a fresh process: {import_sympy(args.repeats):.3f} s\n")
    print(f"{'network':<28} {'cold (s)':>9} {'warm (s)':>9}")
    rows = [("ex4 400-25-10", (400, 25, 10))]
    rows += [(f"width {w} (depth 3)", (w, w, w)) for w in (10, 100, 1000, 4000)]
    rows += [("4000-2500-1000", (4000, 2500, 1000))]
    rows += [(f"depth {d} (width 25)", (25,) * d) for d in range(2, 11)]
    for label, sizes in rows:
        print(f"{label:<28} {cold(sizes, args.repeats):>9.3f} {warm(sizes, args.repeats):>9.3f}", flush=True)


if __name__ == "__main__":
    main()

"""Time to derive: from a cold process and warm, for depth 2..10 and widths 10..4000.

Run: python benchmarks/derive.py [--repeats N]
     python benchmarks/derive.py --smoke     # two small networks, one repeat: a check that it runs

* cold: a fresh ``python -c`` that imports symbackprop and derives once (includes SymPy's import);
  the time of a bare ``import sympy`` is printed alongside for reference;
* warm: in this process, every cache of symbackprop's modules cleared before each run
  (benchmarks/_machine.clear_caches), so it is the derivation work itself without the import.
Targets (issue 2): under 1 s cold for ex4's 400-25-10 network, flat in width, linear in depth.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import clear_caches, machine_line  # noqa: E402

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
    times = []
    for _ in range(repeats):
        clear_caches()
        network = sb.Network(tuple(sizes), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1, bias="column")
        start = time.perf_counter()
        sb.derive(network)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rows(smoke: bool) -> list:
    if smoke:
        return [("ex4 400-25-10", (400, 25, 10)), ("depth 3 (width 4)", (4, 4, 4))]
    found = [("ex4 400-25-10", (400, 25, 10))]
    found += [(f"width {w} (depth 3)", (w, w, w)) for w in (10, 100, 1000, 4000)]
    found += [("4000-2500-1000", (4000, 2500, 1000))]
    found += [(f"depth {d} (width 25)", (25,) * d) for d in range(2, 11)]
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell; the median is printed (default 3)")
    parser.add_argument("--smoke", action="store_true", help="two networks, one repeat: a check that it runs")
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    if repeats < 1:
        parser.error(f"--repeats must be at least 1 (got {args.repeats})")
    print(f"# symbackprop derivation time\n\n{machine_line()}; median of {repeats} run(s)\n")
    print(f"bare 'import sympy' in a fresh process: {import_sympy(repeats):.3f} s\n")
    print(f"{'network':<28} {'cold (s)':>9} {'warm (s)':>9}")
    for label, sizes in rows(args.smoke):
        print(f"{label:<28} {cold(sizes, repeats):>9.3f} {warm(sizes, repeats):>9.3f}", flush=True)


if __name__ == "__main__":
    main()

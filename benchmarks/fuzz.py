"""Random activations, losses and formulas through the CLI: exit codes and time per run.

Run: python benchmarks/fuzz.py [--count 300] [--seed 0] [--limit 10]
     python benchmarks/fuzz.py --smoke     # two random runs, no known slow case: a check that it runs

Each run is one ``symbackprop derive|check|export|gradcheck`` process on a 4-3-2 network with a
random hidden activation (in z), output activation (in z) and loss (in a, y) from the grammar,
nested up to depth 5, with the constants researchers type (0.1, 1.702, 3.14159, 1e-3); ``check``
also gets a random formula. The slow cases of issues 17 and 18 run first. The report gives the
exit codes (0, 1 and 3 are answers, 2 is a refused input, 70 an internal error, 124 a run killed
at three times the limit), the median, 95th percentile and maximum of the wall time and of the
CPU time per run, and every command that ended in 70 or took more than ``--limit`` CPU seconds;
the script exits 1 when there was any. On a machine shared with other work the wall time is
inflated by the load average (printed); the CPU time is what the run costs on an idle machine.

One random loss in four is :func:`piecewise_loss`: relu, leaky_relu or elu around an expression of a
and y. The same grammar (:func:`activation`, :func:`loss`, :func:`piecewise_loss`, :func:`formula`)
feeds the hypothesis test ``tests/test_fuzz.py``, which drives the Python API instead of the CLI.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import re
import resource
import tempfile
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from _machine import simd_level  # noqa: E402

CONSTANTS = ("0.1", "1.702", "3.14159", "1e-3", "2", "0.5", "17")
UNARY = ("exp", "log", "sqrt", "tanh", "sinh", "cosh", "abs", "sigmoid", "relu", "softplus", "elu",
         "leaky_relu", "silu")
#: the names researcher-catalogue adds to the grammar; used where the grammar knows them
NEWER_UNARY = ("erf", "erfc", "sin", "cos", "atan", "log1p", "expm1", "sign")
NEWER_BINARY = ("max", "min")
NEWER_CONSTANTS = ("pi", "e")
OPERATORS = ("+", "-", "*", "/", "^")
#: the functions of several cases a loss wraps around an expression of a and y (the hinge relu(1 - y*a))
PIECEWISE = ("relu", "leaky_relu", "elu")
MAX_DEPTH = 5

#: the cases the issues reported as hangs or tracebacks: (subcommand, options)
KNOWN_SLOW = [
    ("derive", ["--hidden", "z*sigmoid(1.702*z)"]),
    ("export", ["--hidden", "z*sigmoid(1.702*z)"]),
    ("derive", ["--hidden", "sigmoid(3.14159)*sinh(z)"]),
    ("derive", ["--hidden", "tanh(" * 15 + "z" + ")" * 15]),
    ("derive", ["--output", "sigmoid(" * 30 + "z" + ")" * 30]),
    ("derive", ["--loss", "relu(a)"]),
    ("derive", ["--output", "sqrt(z)"]),
    ("gradcheck", ["--output", "log(z)"]),
    ("gradcheck", ["--hidden", "relu(relu(z))"]),
    ("gradcheck", ["--hidden", "abs(relu(z)-z)"]),
    ("export", ["--loss", "relu(a)-y"]),
    ("export", ["--output", "identity", "--loss", "elu(17/a)"]),
    ("derive", ["--loss", "elu(a)"]),
    ("derive", ["--output", "log(1.702^0.5)*z"]),
    ("derive", ["--loss", "y/leaky_relu(a)"]),
    ("derive", ["--loss", "exp(a*y)"]),
    ("check", ["--hidden", "relu(relu(relu(z)))", "delta^l = (W^(l+1)^T delta^(l+1)) .* a^l"]),
    # issue 25: a piecewise function of an expression in a and y was an internal error (exit 70)
    ("derive", ["--loss", "relu(1 - y*a)"]),
    ("export", ["--loss", "relu(1 - y*a)"]),
    ("derive", ["--loss", "leaky_relu(y - a)"]),
    ("export", ["--loss", "leaky_relu(y - a)"]),
    ("derive", ["--loss", "elu(a*y)"]),
    ("export", ["--loss", "elu(a*y)"]),
]


def known_names() -> tuple[tuple, tuple, tuple]:
    """(unary functions, binary functions, constants) the grammar accepts today."""
    sys.path.insert(0, str(ROOT))
    from symbackprop.catalogue import activation
    from symbackprop.errors import SymbackpropError

    def accepted(text):
        try:
            activation(text)
            return True
        except SymbackpropError:
            return False
    unary = UNARY + tuple(name for name in NEWER_UNARY if accepted(f"{name}(z)"))
    binary = tuple(name for name in NEWER_BINARY if accepted(f"{name}(z, 0)"))
    constants = CONSTANTS + tuple(name for name in NEWER_CONSTANTS if accepted(f"{name}*z"))
    return unary, binary, constants


def expression(choose, variables, names, depth: int = MAX_DEPTH) -> str:
    """A random expression over ``variables``; ``choose(options)`` picks one option (random.choice,
    or a hypothesis draw). Functions nest up to ``depth``."""
    unary, binary, constants = names
    kinds = ["variable", "constant"] + (["unary", "unary", "binary"] + (["function2"] if binary else [])
                                        if depth > 0 else [])
    kind = choose(kinds)
    if kind == "variable":
        return choose(variables)
    if kind == "constant":
        return choose(constants)
    if kind == "unary":
        return f"{choose(unary)}({expression(choose, variables, names, depth - 1)})"
    if kind == "function2":
        return (f"{choose(binary)}({expression(choose, variables, names, depth - 1)}, "
                f"{expression(choose, variables, names, depth - 1)})")
    left = expression(choose, variables, names, depth - 1)
    right = expression(choose, variables, names, depth - 1)
    return f"({left}{choose(OPERATORS)}{right})"


def _uses(text: str, variable: str) -> bool:
    return re.search(rf"(?<![A-Za-z_]){variable}(?![A-Za-z_(])", text) is not None


def activation(choose, names, depth: int = MAX_DEPTH) -> str:
    """An activation in z (it must use z: without it, z times the expression)."""
    text = expression(choose, ("z",), names, depth)
    return text if _uses(text, "z") else f"z*{text}"


def loss(choose, names, depth: int = MAX_DEPTH) -> str:
    """A loss in a and y (it must use a: without it, (a - y) times the expression)."""
    text = expression(choose, ("a", "y", "a"), names, depth)
    return text if _uses(text, "a") else f"(a-y)*{text}"


def piecewise_loss(choose, names, depth: int = 2) -> str:
    """relu, leaky_relu or elu around an expression that uses both a and y (issue 25: the hinge
    written relu(1 - y*a) was an internal error), sometimes shifted by a constant."""
    parts = []
    for variable in ("a", "y"):
        text = expression(choose, (variable,), names, depth)
        parts.append(text if _uses(text, variable) else f"{variable}*{text}")
    inner = f"{parts[0]}{choose(('+', '-', '*'))}{parts[1]}"
    if choose((True, False)):
        inner = f"{choose(names[2])}-{inner}"
    return f"{choose(PIECEWISE)}({inner})"


FORMULA_LHS = ("delta^L", "delta^l", "dC/dW^l", "dC/db^l")
FORMULA_TERMS = ("a^L", "y", "z^L", "(1 - a^L)", "a^l", "(1 - a^l)", "(W^(l+1)^T delta^(l+1))", "delta^l",
                 "a^(l-1)^T", "sigma'(z^L)", "sigma'(z^l)", "g'(z^l)", "(a^L - y)", "delta^(l+1)")


def formula(choose, names, terms: int = 3) -> str:
    """A formula LHS = RHS in the checker's plain-text notation, right or (mostly) wrong."""
    rhs = choose(FORMULA_TERMS)
    for _ in range(terms - 1):
        rhs = f"{rhs} {choose(('.*', '*', '+', '-'))} {choose(FORMULA_TERMS + names[2][:3])}"
    return f"{choose(FORMULA_LHS)} = {rhs}"


def random_case(rng: random.Random, names) -> tuple[str, list[str]]:
    """(subcommand, options) of one random run."""
    choose = rng.choice
    command = choose(("derive", "derive", "check", "export", "gradcheck"))
    cost = choose((loss, loss, loss, piecewise_loss))
    options = ["--hidden", activation(choose, names), "--output", activation(choose, names),
               "--loss", cost(choose, names)]
    if command == "check":
        options.append(formula(choose, names))
    return command, options


def run(command: str, options: list[str], limit: float, kill_after: float | None = None) -> tuple[int, float, float, str]:
    """(exit code, wall seconds, CPU seconds, last line of stderr) of one CLI run; 124 when killed
    at three times ``limit``. The CPU time (user + system of the child) is what the run costs on an
    idle machine; the wall time includes waiting for the cores other processes hold."""
    argv = [sys.executable, "-m", "symbackprop", command, *options, "--layers", "4,3,2", "--l2", "0",
            "--bias", "separate"]
    if command == "export":
        argv += ["-o", str(Path(tempfile.gettempdir()) / f"symbackprop_fuzz_{os.getpid()}.py"), "--force"]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=kill_after or limit * 3, env=environment)
        code, message = done.returncode, (done.stderr.strip().splitlines() or [""])[-1]
    except subprocess.TimeoutExpired:
        code, message = 124, "killed"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return code, time.perf_counter() - start, cpu, message


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="random runs after the known slow cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=float, default=10.0, help="seconds a run may take (default 10)")
    parser.add_argument("--no-known", action="store_true", help="skip the known slow cases")
    parser.add_argument("--kill-after", type=float, default=None,
                        help="wall seconds after which a run is killed (default three times --limit); raise it on "
                             "a loaded machine, where a run waits for a core and the CPU time is what is judged")
    parser.add_argument("--smoke", action="store_true", help="two random runs, no known slow case: a check that it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.count, args.no_known = 2, True
    names = known_names()
    rng = random.Random(args.seed)
    cases = ([] if args.no_known else list(KNOWN_SLOW)) + [random_case(rng, names) for _ in range(args.count)]
    print(f"# symbackprop fuzz: {len(cases)} CLI runs; Python {platform.python_version()}, {os.cpu_count()} cores, "
          f"SIMD {simd_level()}, load average {os.getloadavg()[0]:.1f}", flush=True)
    codes, times, cpu_times, problems = {}, [], [], []
    for number, (command, options) in enumerate(cases, start=1):
        code, seconds, cpu, message = run(command, options, args.limit, args.kill_after)
        codes[code] = codes.get(code, 0) + 1
        times.append(seconds)
        cpu_times.append(cpu)
        if code in (70, 124) or cpu > args.limit or code not in (0, 1, 2, 3):
            problems.append((code, seconds, cpu, command, options, message))
            print(f"  [{number}] exit {code} after {seconds:.1f} s ({cpu:.1f} s CPU): {command} {options!r}: {message}",
                  flush=True)
    summary = {"runs": len(times), "exit_codes": dict(sorted(codes.items())), "problems": problems,
               "load_average": os.getloadavg()[0]}
    print(f"exit codes: {', '.join(f'{code}: {count}' for code, count in summary['exit_codes'].items())}")
    for name, values in (("wall", times), ("CPU", cpu_times)):
        ordered = sorted(values)
        figures = {"median": statistics.median(ordered), "p95": _percentile(ordered, 0.95), "max": ordered[-1]}
        summary[name] = figures
        print(f"{name} time per run (process start included): median {figures['median']:.2f} s, 95th percentile "
              f"{figures['p95']:.2f} s, max {figures['max']:.2f} s (limit {args.limit:g} s, judged on CPU time)")
    print(f"load average at the end: {summary['load_average']:.1f}")
    print("OK" if not problems else f"{len(problems)} run(s) ended in an internal error or past the limit")
    return summary


def _percentile(ordered, fraction):
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


if __name__ == "__main__":
    sys.exit(1 if main()["problems"] else 0)

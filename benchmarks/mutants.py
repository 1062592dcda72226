"""Deliberate bugs, and whether the test suite catches each one.

Run: python benchmarks/mutants.py [--jobs 1] [--only NAME[,NAME]] [--list]
     python benchmarks/mutants.py --smoke    # every target checked, one quick mutant run: a check that it runs

Each mutant is one textual substitution in one file. For each, the repository's working tree is
copied to a temporary directory, the substitution applied there (never here), the tests that
should notice run in that copy, and a table says which mutants were caught. Every mutant must be
caught: the script exits 1 if one survives, and 2 if a mutant's target text is not found exactly
once (a refactor moved it: retarget the mutant), or if a test selection already fails on the unmutated
tree (each distinct selection is run clean first; a failing one would make its mutants look caught).
tests/test_mutants.py checks the targets quickly.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from _machine import machine_line  # noqa: E402
STEPS_EX4 = ["tests/test_steps.py", "-k", "ex4"]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str            #: file, relative to the repository root
    old: str             #: text that must occur exactly once
    new: str
    tests: tuple         #: pytest arguments that must fail on the mutant


MUTANTS = (
    Mutant("sign flip in a displayed contraction step (hidden delta, step (19))",
           "symbackprop/engine/_hidden_delta.py",
           "step(equation(delta_i, summed), Rule.KRONECKER,", "step(equation(delta_i, -summed), Rule.KRONECKER,",
           tuple(STEPS_EX4)),
    Mutant("sign flip in a displayed contraction step (output delta, step (9))",
           "symbackprop/engine/_output_delta.py",
           'equation(S.unit("delta", L, i), oriented_terms(contracted))',
           'equation(S.unit("delta", L, i), -oriented_terms(contracted))',
           tuple(STEPS_EX4)),
    Mutant("1/m missing in the bias gradient (batch form)",
           "symbackprop/engine/_gradients.py",
           'batch_vector = MatMul(1 / m, D, S.LayerArray("ones", m, 1, l))',
           'batch_vector = MatMul(D, S.LayerArray("ones", m, 1, l))',
           tuple(STEPS_EX4)),
    Mutant("bias column regularised (batch weight gradient)",
           "symbackprop/engine/_gradients.py",
           'W_reg = S.LayerArray("W_reg", S.width[l], cols, l) if bias == "column" else W',
           "W_reg = W",
           tuple(STEPS_EX4)),
    Mutant("1/m missing in the bias gradient, as the exporter prints it",
           "symbackprop/engine/_gradients.py",
           'batch_vector = MatMul(1 / m, D, S.LayerArray("ones", m, 1, l))',
           'batch_vector = MatMul(D, S.LayerArray("ones", m, 1, l))',
           ("tests/test_export.py",)),
    Mutant("bias column regularised (exported code: W_reg printed as W)",
           "symbackprop/export/_source.py",
           '"W": weights, "W_reg": regularised,',
           '"W": weights, "W_reg": weights,',
           ("tests/test_export.py",)),
    Mutant("exported backward pass missing lambda",
           "symbackprop/export/_source.py",
           'lam = sp.Symbol("LAMBDA") if module_plan.l2 else sp.Integer(0)',
           "lam = sp.Integer(0)",
           ("tests/test_export.py",)),
    Mutant("checker tolerance x2",
           "symbackprop/checker/_assess.py",
           "RTOL, ATOL = 1e-7, 1e-9", "RTOL, ATOL = 2e-7, 2e-9",
           ("tests/test_check_controls.py", "-k", "tolerance")),
    Mutant("checker also accepts 2 x RHS",
           "symbackprop/checker/_assess.py",
           "return bool(np.allclose(user[mask], wanted[mask], rtol=RTOL, atol=ATOL * scale))",
           "return bool(np.allclose(user[mask], wanted[mask], rtol=RTOL, atol=ATOL * scale)"
           " or np.allclose(user[mask], 2 * wanted[mask], rtol=RTOL, atol=ATOL * scale))",
           ("tests/test_check_controls.py",)),
    Mutant("wrong g' in a catalogue record (softplus)",
           "symbackprop/catalogue/activations.py",
           'Activation("softplus", sp.log(1 + sp.exp(z))', 'Activation("softplus", sp.log(2 + sp.exp(z))',
           ("tests/test_catalogue_reference.py",)),
    Mutant("wrong g' in a catalogue record (leaky-relu slope)",
           "symbackprop/catalogue/activations.py",
           "sp.Piecewise((alpha * z, z <= 0), (z, True))", "sp.Piecewise((alpha * z / 2, z <= 0), (z, True))",
           ("tests/test_catalogue_reference.py",)),
    Mutant("quadratic cost without its 1/2",
           "symbackprop/catalogue/losses.py",
           "per_unit=sp.Rational(1, 2) * (a - y) ** 2", "per_unit=(a - y) ** 2",
           ("tests/test_catalogue_reference.py",)),
    # ---- the layer engine, windows, recurrences, attention and the layer checkers ----------------------------
    Mutant("attention's dS step shown without its row-sum term (the export unchanged)",
           "symbackprop/layers/_coupling.py",
           "self.step(name, display, Rule.COUPLING,",
           "self.step(name, display.replace(lambda e: isinstance(e, sp.Sum), lambda e: sp.Integer(0)), Rule.COUPLING,",
           ("tests/test_layer_steps_values.py", "-k", "attention")),
    Mutant("window limits dropped when a shifted delta is solved (conv, pooling)",
           "symbackprop/layers/_windows.py",
           "results.append(rest * InRange(value, lo, hi))", "results.append(rest)",
           ("tests/test_conv.py", "-k", "sympy_diff or torch")),
    Mutant("layer checker tolerance x100",
           "symbackprop/checker/_layer_check.py",
           "RTOL, ATOL = 1e-7, 1e-9", "RTOL, ATOL = 1e-5, 1e-7",
           ("tests/test_check_layer_controls.py", "-k", "not bptt")),
    Mutant("layer checker also accepts -1 x the gradient",
           "symbackprop/checker/_layer_check.py",
           "np.all(np.isfinite(array)) and np.allclose(array, target, rtol=RTOL, atol=ATOL))",
           "np.all(np.isfinite(array)) and (np.allclose(array, target, rtol=RTOL, atol=ATOL)"
           " or np.allclose(-array, target, rtol=RTOL, atol=ATOL)))",
           ("tests/test_check_layer_controls.py", "-k", "not bptt")),
    Mutant("recurrent checker tolerance x100",
           "symbackprop/checker/_recurrent_check.py",
           "RTOL, ATOL = 1e-7, 1e-9", "RTOL, ATOL = 1e-5, 1e-7",
           ("tests/test_check_layer_controls.py", "-k", "bptt")),
    Mutant("wrong sign in R{delta} (the R-operator's backward pass seeded with -1/N)",
           "symbackprop/export/_second_order_module.py",
           'f"    return list(_hvp_backward(({zeros}, {mean}), cache))",',
           'f"    return list(_hvp_backward(({zeros}, -{mean}), cache))",',
           ("tests/test_second_order.py", "-k", "hvp_matches and tanh")),
    Mutant("dropped p p^T in the softmax loss Hessian (the normaliser s = sum exp(z) held constant)",
           "symbackprop/layers/_loss_hessian.py",
           "found = [ref for ref in expr.atoms(sp.Indexed) if ref.base.label.name in definitions]",
           "found = [ref for ref in expr.atoms(sp.Indexed) if ref.base.label.name in definitions "
           "and not definitions[ref.base.label.name].rhs.has(sp.Sum)]",
           ("tests/test_second_order_derive.py", "-k", "softmax")),
)


class TargetNotFound(SystemExit):
    pass


def check_target(mutant: Mutant, root: Path = ROOT) -> str:
    """The file's text; refuses loudly unless the mutant's old text occurs exactly once."""
    path = root / mutant.path
    if not path.is_file():
        raise TargetNotFound(f"mutant {mutant.name!r}: file {mutant.path} does not exist")
    text = path.read_text(encoding="utf-8")
    count = text.count(mutant.old)
    if count != 1:
        raise TargetNotFound(f"mutant {mutant.name!r}: the target text occurs {count} times in {mutant.path} "
                             f"(expected exactly once): {mutant.old!r}")
    return text


def _copy(destination: Path):
    ignore = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", "build", "*.egg-info")
    shutil.copytree(ROOT, destination, ignore=ignore)


#: the mutant --smoke runs: its tests take seconds
SMOKE = "checker tolerance x2"


def _pytest(copy: Path, arguments: tuple):
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *arguments],
                          cwd=copy, env=env, capture_output=True, text=True)


def clean_runs(chosen, pytest_options: tuple = ()) -> list:
    """Each distinct test selection run on the unmutated tree first: a selection that already fails (or selects
    nothing) would make every mutant it guards look caught. Returns the failures, as lines."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="symbackprop-clean-") as tmp:
        copy = Path(tmp) / "repo"
        _copy(copy)
        for tests in dict.fromkeys(m.tests for m in chosen):
            result = _pytest(copy, (*pytest_options, *tests))
            if result.returncode != 0:
                last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
                failures.append(f"unmutated, {' '.join(tests)} exits {result.returncode}: {last}")
    return failures


def run(mutant: Mutant, pytest_options: tuple = ()) -> dict:
    text = check_target(mutant)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="symbackprop-mutant-") as tmp:
        copy = Path(tmp) / "repo"
        _copy(copy)
        (copy / mutant.path).write_text(text.replace(mutant.old, mutant.new, 1), encoding="utf-8")
        result = _pytest(copy, (*pytest_options, *mutant.tests))
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    # pytest: 0 all passed (survived), 1 tests failed (caught), 5 no tests collected (a broken selection)
    if result.returncode == 5:
        raise TargetNotFound(f"mutant {mutant.name!r}: its tests {' '.join(mutant.tests)} select nothing")
    return {"mutant": mutant, "caught": result.returncode != 0, "seconds": time.perf_counter() - start,
            "summary": summary, "code": result.returncode}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1: the machine is small)")
    parser.add_argument("--only", help="comma-separated substrings of mutant names")
    parser.add_argument("--list", action="store_true", help="list the mutants and check their targets, run nothing")
    parser.add_argument("--smoke", action="store_true",
                        help=f"check every target, run only the mutant {SMOKE!r}, its tests in one process")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or any(s.strip() in m.name for s in args.only.split(","))]
    for mutant in chosen:            # every target first: a moved target fails before any work
        check_target(mutant)
    if args.smoke:
        chosen = [m for m in MUTANTS if m.name == SMOKE]
    if args.list:
        for mutant in chosen:
            print(f"{mutant.name}  [{mutant.path}]  tests: {' '.join(mutant.tests)}")
        return 0
    print(f"# symbackprop mutants: {len(chosen)} deliberate bugs, --jobs {args.jobs}; {machine_line()}\n")
    options = ("-n", "0") if args.smoke else ()
    failures = clean_runs(chosen, options)
    if failures:
        print("\n".join(failures), file=sys.stderr)
        print("a test selection fails without any mutant: fix the tree first", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda mutant: run(mutant, options), chosen))
    width = max(len(r["mutant"].name) for r in results)
    print(f"| {'mutant'.ljust(width)} | caught | seconds | tests |")
    print(f"|{'-' * (width + 2)}|--------|---------|-------|")
    for r in results:
        m = r["mutant"]
        print(f"| {m.name.ljust(width)} | {'yes' if r['caught'] else 'NO':6} | {r['seconds']:7.1f} | {' '.join(m.tests)} |")
    survivors = [r for r in results if not r["caught"]]
    print(f"\n{len(results) - len(survivors)} of {len(results)} caught")
    for r in survivors:
        print(f"SURVIVED: {r['mutant'].name}: {r['summary']}", file=sys.stderr)
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())

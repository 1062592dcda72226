"""Andrew Ng's ex4 (Machine Learning, neural network learning): the published numbers, reproduced.

With symbackprop's exported gradient in Ng's layout (Theta matrices with the bias in column 0):

* checkNNGradients' debug network (3-5-3, m = 5, weights and inputs from debugInitializeWeights):
  J = 2.10095057 at lambda = 0 and 2.146359815 at lambda = 3, and a gradient check (central
  differences against the exported gradient) with a relative difference below 1e-9;
* the published weights ex4weights.mat (Theta1 25x401, Theta2 10x26): the regularisation part of
  the cost at m = 5000, 0.0961407 for lambda = 1, which is the difference 0.383770 - 0.287629 of
  the two published costs. The data set ex4data1.mat is not distributed with this project, so
  the regularisation part is shown as J(lambda=1) - J(lambda=0) of the compiled cost on other
  data with m = 5000: it does not depend on the data.

Exits 1 if a reproduced number disagrees with the published one, 2 if the weights are missing.

    python examples/ex4_reference.py [--weights PATH] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import symbackprop as sb
from symbackprop.export import ng_debug_problem

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "shared/data/ng-ex4/ex4weights.mat"
EX4_NETWORK = sb.Network((400, 25, 10), hidden="sigmoid", output="sigmoid", loss="cross-entropy", bias="column")
M = 5000

# (what, published value as printed by ex4, lambda)
DEBUG_COSTS = (("J, lambda = 0", "2.10095057", 0), ("J, lambda = 3", "2.146359815", 3))
GRADIENT_CHECK_LIMIT = 1e-9
PUBLISHED_REGULARISATION = "0.0961407"                 # ex4: 0.383770 (lambda = 1) - 0.287629 (lambda = 0)
PUBLISHED_COSTS = ("0.383770", "0.287629")


def agrees(computed: float, published: str, slack: float = 0.5) -> bool:
    """Equal to ``published`` to its last printed digit (within ``slack`` units of that digit)."""
    digits = len(published.split(".")[1])
    return abs(computed - float(published)) <= slack * 10.0 ** -digits


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS,
                        help=f"Ng's ex4weights.mat (default: {DEFAULT_WEIGHTS})")
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="directory for ex4_reference.json, the numbers (default: out/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, ok = [], True

    print("checkNNGradients' debug network (3-5-3, m = 5, debugInitializeWeights), layout 'ng':")
    print(f"  {'':18s} {'published':>12s} {'computed':>14s}")
    for what, published, l2 in DEBUG_COSTS:
        network, params, X, Y = ng_debug_problem(l2)
        f = sb.compile(network, layout="ng")
        cost, _ = f(params, X, Y)
        good = agrees(cost, published)
        ok &= good
        rows.append(dict(quantity=f"debug network {what}", published=published, computed=cost, agrees=good))
        print(f"  {what:18s} {published:>12s} {cost:14.10f}   {'agrees' if good else 'DISAGREES'}")
        check = sb.gradcheck(f, params, X, Y)
        good = check.relative_difference < GRADIENT_CHECK_LIMIT
        ok &= good
        rows.append(dict(quantity=f"debug network gradient check, lambda = {l2}",
                         published=f"< {GRADIENT_CHECK_LIMIT:g}", computed=check.relative_difference, agrees=good))
        print(f"  {'gradient check':18s} {'< 1e-9':>12s} {check.relative_difference:14.2e}   "
              f"{'agrees' if good else 'DISAGREES'}   (relative difference to central differences, eps = "
              f"{check.epsilon:g})")
    print()

    if not args.weights.is_file():
        print(f"{args.weights}: not found. It holds Ng's published ex4 weights (Theta1 25x401, Theta2 10x26); "
              f"give its place with --weights PATH.", file=sys.stderr)
        return 2
    from scipy.io import loadmat
    mat = loadmat(args.weights)
    shapes = {name: mat[name].shape if name in mat else None for name in ("Theta1", "Theta2")}
    if shapes != {"Theta1": (25, 401), "Theta2": (10, 26)}:
        print(f"{args.weights}: expected Theta1 25x401 and Theta2 10x26, found {shapes}", file=sys.stderr)
        return 2
    thetas = [mat["Theta1"].astype(np.float64), mat["Theta2"].astype(np.float64)]

    print(f"Ng's published weights {args.weights.name}: Theta1 25x401, Theta2 10x26")
    print("  The data set ex4data1.mat (5000 digits) is not available here, so J itself (0.287629 at lambda = 0)")
    print("  cannot be recomputed. The regularisation part lambda/(2m) sum(Theta^2) (bias columns excluded)")
    print(f"  does not depend on the data: it is J(lambda=1) - J(lambda=0) on any data with m = {M}.")
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(M, 400))
    Y = np.eye(10)[rng.integers(0, 10, size=M)]
    with_l2, without_l2 = sb.compile(EX4_NETWORK, layout="ng", l2=1), sb.compile(EX4_NETWORK, layout="ng", l2=0)
    regularisation = with_l2(thetas, X, Y)[0] - without_l2(thetas, X, Y)[0]
    good = agrees(regularisation, PUBLISHED_REGULARISATION)
    ok &= good
    rows.append(dict(quantity="ex4 weights, regularisation at m = 5000, lambda = 1",
                     published=PUBLISHED_REGULARISATION, computed=regularisation, agrees=good))
    print(f"  J(lambda=1) - J(lambda=0), random data, m = {M}: published {PUBLISHED_REGULARISATION}, "
          f"computed {regularisation:.10f}   {'agrees' if good else 'DISAGREES'}")
    # Both published costs are rounded to 6 decimals: their difference is known to within 1e-6.
    difference = f"{float(PUBLISHED_COSTS[0]) - float(PUBLISHED_COSTS[1]):.6f}"
    good = agrees(regularisation, difference, slack=1.0)
    ok &= good
    rows.append(dict(quantity="published J(lambda=1) - J(lambda=0)", published=difference,
                     computed=regularisation, agrees=good))
    print(f"  published costs {PUBLISHED_COSTS[0]} - {PUBLISHED_COSTS[1]} = {difference}, "
          f"computed {regularisation:.6f}   {'agrees' if good else 'DISAGREES'}")
    print()

    path = args.out / "ex4_reference.json"
    path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    print("all published numbers reproduced" if ok else "SOME PUBLISHED NUMBERS WERE NOT REPRODUCED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Ng or Nielsen? Why δ^L = a - y in one course and (a - y) ⊙ σ'(z^L) in the other.

Andrew Ng (Machine Learning, ex4) writes the error of the output layer as δ^(L) = a^(L) - y;
Michael Nielsen (Neural Networks and Deep Learning, chapter 2) writes δ^L = (a^L - y) ⊙ σ'(z^L).
Both are right, for different costs: Ng's network uses the cross-entropy cost, Nielsen's the
quadratic cost. This example derives δ^L for the two setups (the same 400-25-10 sigmoid network,
only the loss differs), shows where and why they part (the factor σ'(z^L), which the
cross-entropy's ∂C/∂a cancels), checks both authors' formulas against both setups, and writes
the side-by-side comparison as an HTML page.

    python examples/ng_vs_nielsen.py [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import symbackprop as sb
from symbackprop.checker import check
from symbackprop.rendering import compare, render_quantity

QUICK = os.environ.get("SYMBACKPROP_QUICK") == "1"

# Biases are kept as separate vectors in both setups, so that the loss is the only difference
# (Ng's bias column changes the bookkeeping of the hidden layers, not δ^L).
SETUPS = {
    "Ng": dict(loss="cross-entropy", notation="ng-ml",
               formula=r"\delta^{(L)} = a^{(L)} - y", source="Machine Learning (Coursera), ex4"),
    "Nielsen": dict(loss="quadratic", notation="nielsen",
                    formula=r"\delta^L = (a^L - y) \odot \sigma'(z^L)",
                    source="Neural Networks and Deep Learning, chapter 2, equation (BP1)"),
}
SIZES = (4, 3, 2) if QUICK else (400, 25, 10)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="SYMBACKPROP_QUICK=1 uses a 4-3-2 network instead of 400-25-10.")
    parser.add_argument("--out", type=Path, default=Path("out"), help="directory for the HTML page (default: out/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    networks = {author: sb.Network(SIZES, hidden="sigmoid", output="sigmoid", loss=setup["loss"])
                for author, setup in SETUPS.items()}
    derivations = {author: sb.derive(network) for author, network in networks.items()}

    print("The error of the output layer, δ^L = ∂C/∂z^L, derived for each author's setup\n")
    for author, setup in SETUPS.items():
        derivation = derivations[author]
        delta = derivation.output_delta
        print(f"{author} ({setup['source']}):")
        print(f"  network   {networks[author].describe()}")
        print(f"  derived   {render_quantity(derivation, 'output_delta', 'text', setup['notation'])}"
              f"    (in {setup['notation']} notation)")
        print(f"  σ'(z^L) = {delta.activation_derivative} "
              f"{'cancelled' if delta.cancels else 'did not cancel'}\n")

    comparison = compare(derivations["Ng"], derivations["Nielsen"], notation=SETUPS["Ng"]["notation"],
                         right_notation=SETUPS["Nielsen"]["notation"])
    print("Side by side (A: Ng's setup in ng-ml notation, B: Nielsen's in nielsen notation):\n")
    print(comparison.render("text"))
    page = args.out / "ng_vs_nielsen.html"
    page.write_text(comparison.render("html"), encoding="utf-8")
    print(f"wrote {page}\n")

    print("Both formulas checked against both setups:")
    expected = {(author, setup_of): author == setup_of for author in SETUPS for setup_of in SETUPS}
    agree = True
    for author, setup in SETUPS.items():
        for setup_of, network in networks.items():
            verdict = check(setup["formula"], network, notation=setup["notation"])
            print(f"  {author}'s formula {setup['formula']} on {setup_of}'s setup ({network.loss.name}): "
                  f"{verdict.verdict} ({verdict.method})")
            print(f"      {verdict.diagnosis}")
            agree &= (verdict.verdict == "correct") == expected[author, setup_of]
    if not agree:
        print("UNEXPECTED: each formula should be correct for its own author's setup only", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

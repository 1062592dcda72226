"""A loss that is in no catalogue: log-cosh, derived, rendered, checked and exported.

The log-cosh loss log(cosh(a - y)) is a smooth robust regression loss: about (a - y)^2/2 for
small errors and |a - y| - log 2 for large ones, so an outlier pulls on the weights with a force
of at most 1 instead of growing with its error. symbackprop's catalogue does not have it; it is
given here as an expression in a (the output activation) and y (the target). For a regression
network (tanh hidden units, identity output) the example

* derives δ^L = ∂C/∂z^L (= tanh(a - y)) and the hidden recursion;
* renders the derivation: the formulas as text, the whole derivation as a text file and an HTML page;
* checks a correct formula (δ^L = tanh(a^L - y)) and a wrong one (δ^L = a^L - y, the quadratic
  cost's answer) against the derivation;
* exports a standalone NumPy module, imports it from the written file, runs its gradient, and
  checks that gradient against central differences of its own cost.

    python examples/custom_loss.py [--out DIR]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import symbackprop as sb
from symbackprop.checker import check
from symbackprop.export import random_instance
from symbackprop.rendering import render, render_quantity

QUICK = os.environ.get("SYMBACKPROP_QUICK") == "1"
LOSS = "log(cosh(a - y))"
NETWORK = sb.Network((4, 6, 2), hidden="tanh", output="identity", loss=LOSS, l2=0.1)
FORMULAS = ((r"\delta^L = \tanh(a^L - y)", "correct"),
            (r"\delta^L = a^L - y", "incorrect"))
GRADCHECK_LIMIT = 1e-7


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="directory for the rendered derivation and the exported module (default: out/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ok = True

    print(f"loss {LOSS}: in the catalogue? {LOSS in [loss.name for loss in sb.LOSSES]}")
    print(f"network: {NETWORK.describe()}\n")

    derivation = sb.derive(NETWORK)
    print("Derived (nielsen notation):")
    print(f"  δ^L per unit      {derivation.output_delta.unit}   "
          f"(the identity output's derivative g'(z^L) = {derivation.output_delta.activation_derivative})")
    for label, quantity, form in (("δ^L indexed", "output_delta", "index"), ("δ^L vector", "output_delta", "vector"),
                                  ("δ^l vector", "hidden_delta", "vector"),
                                  ("∂C/∂w^l vector", "weight_gradient", "vector")):
        print(f"  {label:17s} {render_quantity(derivation, quantity, 'text', 'nielsen', form=form)}")
    print(f"  δ^L LaTeX         {render_quantity(derivation, 'output_delta', 'latex', 'nielsen')}")
    for format, suffix in (("text", ".txt"), ("html", ".html")):
        path = args.out / f"custom_loss{suffix}"
        path.write_text(render(derivation, format, "nielsen"), encoding="utf-8")
        print(f"wrote {path}")
    print()

    print("Checked against the derivation:")
    for formula, expected in FORMULAS:
        verdict = check(formula, NETWORK, notation="nielsen")
        print(f"  {formula}: {verdict.verdict} ({verdict.method})")
        print(f"      {verdict.diagnosis}")
        ok &= verdict.verdict == expected
    print()

    module_path = args.out / "logcosh_grad.py"
    sb.export_module(NETWORK, module_path, force=True)
    print(f"wrote {module_path} (a standalone module: it imports only numpy)")
    spec = importlib.util.spec_from_file_location("logcosh_grad", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    params, X, Y = random_instance(NETWORK, m=4 if QUICK else 20, seed=1)
    cost, grads = module.cost_and_gradients(params, X, Y)
    print(f"imported it from the file: cost_and_gradients on {len(X)} random examples: J = {cost:.10f}, "
          f"gradient shapes {[g.shape for g in grads]}")
    result = sb.gradcheck(module.cost_and_gradients, params, X, Y)
    passed = result.passed(GRADCHECK_LIMIT)
    ok &= passed
    print(f"gradient check of the written module: relative difference {result.relative_difference:.2e} "
          f"(below {GRADCHECK_LIMIT:g}: {'passed' if passed else 'FAILED'})")
    if not ok:
        print("UNEXPECTED: a verdict or the gradient check did not come out as expected", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""symbackprop's exported gradient agrees with scikit-learn's MLPClassifier to 1e-12.

scikit-learn's MLPClassifier trains a softmax network on the multiclass log-loss. Its private
``_backprop`` computes the cost it minimises, the mean log-loss over the n samples plus
alpha/(2n) times the squared weights (intercepts not regularised), and its gradient. That is
symbackprop's cost for a softmax output with the categorical cross-entropy and lambda = alpha,
so on the same weights and data the two must agree to rounding. This example takes
scikit-learn's own weights (an MLPClassifier after one L-BFGS iteration on the digits), hands
them to ``symbackprop.compile`` (scikit-learn's coefs_ are (n_in, n_out), symbackprop's W^l is
(n_out, n_in): transposed), and compares cost and every gradient entry, for tanh, relu and
logistic hidden units and one or two hidden layers.

    python examples/sklearn_agreement.py [--out DIR]
"""
from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

import symbackprop as sb

QUICK = os.environ.get("SYMBACKPROP_QUICK") == "1"
TOLERANCE = 1e-12
# scikit-learn's name of a hidden activation -> symbackprop's catalogue name
ACTIVATIONS = {"tanh": "tanh", "relu": "relu", "logistic": "sigmoid", "identity": "identity"}
CASES = (("tanh", (32,), 0.5), ("relu", (20, 15), 1e-4), ("logistic", (16,), 3.0))


def compare_with_sklearn(activation: str, hidden_layer_sizes: tuple, alpha: float, X, labels, seed: int = 0) -> dict:
    """Cost and gradient of MLPClassifier._backprop and of symbackprop.compile on the same weights and data.

    Returns the network, the two costs, the largest absolute difference of the costs and of the
    gradient entries, and the norm of the gradient.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import LabelBinarizer

    classifier = MLPClassifier(hidden_layer_sizes=hidden_layer_sizes, activation=activation, alpha=alpha,
                               solver="lbfgs", max_iter=1, random_state=seed)
    with warnings.catch_warnings():             # one iteration only sets up the weights: it does not converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X, labels)
    if classifier.out_activation_ != "softmax":
        raise ValueError(f"expected a softmax output (3 or more classes), "
                         f"scikit-learn chose {classifier.out_activation_}")
    Y = LabelBinarizer().fit(classifier.classes_).transform(labels).astype(np.float64)

    # scikit-learn's _backprop fills these lists in place (as its own gradient test does).
    units = [X.shape[1], *hidden_layer_sizes, Y.shape[1]]
    activations = [X] + [np.empty((X.shape[0], n)) for n in units[1:]]
    deltas = [np.empty((X.shape[0], n)) for n in units[1:]]
    coef_grads = [np.empty((n_in, n_out)) for n_in, n_out in itertools.pairwise(units)]
    intercept_grads = [np.empty(n) for n in units[1:]]
    if "sample_weight" in inspect.signature(classifier._backprop).parameters:      # scikit-learn >= 1.7
        sk_cost, sk_coef_grads, sk_intercept_grads = classifier._backprop(
            X, Y, None, activations, deltas, coef_grads, intercept_grads)
    else:
        sk_cost, sk_coef_grads, sk_intercept_grads = classifier._backprop(
            X, Y, activations, deltas, coef_grads, intercept_grads)

    network = sb.Network(tuple(units), hidden=ACTIVATIONS[activation], output="softmax",
                         loss="categorical-cross-entropy", l2=alpha)
    f = sb.compile(network)
    params = [array for coef, intercept in zip(classifier.coefs_, classifier.intercepts_)
              for array in (coef.T, intercept)]
    cost, grads = f(params, X, Y)
    sk_grads = [array for coef_grad, intercept_grad in zip(sk_coef_grads, sk_intercept_grads)
                for array in (coef_grad.T, intercept_grad)]
    gradient_difference = max(float(np.max(np.abs(ours - theirs))) for ours, theirs in zip(grads, sk_grads))
    return dict(network=network.describe(), activation=activation, hidden_layer_sizes=list(hidden_layer_sizes),
                alpha=alpha, m=int(X.shape[0]), cost_symbackprop=float(cost), cost_sklearn=float(sk_cost),
                cost_difference=abs(float(cost) - float(sk_cost)), gradient_difference=gradient_difference,
                gradient_norm=float(np.sqrt(sum(np.sum(g ** 2) for g in grads))))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="SYMBACKPROP_QUICK=1 uses 300 of the 1797 digits.")
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="directory for sklearn_agreement.json, the differences (default: out/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    import sklearn
    from sklearn.datasets import load_digits
    images, labels = load_digits(return_X_y=True)
    if QUICK:
        images, labels = images[:300], labels[:300]
    X = images / 16.0

    print(f"symbackprop.compile against scikit-learn {sklearn.__version__} MLPClassifier._backprop "
          f"(softmax output, log-loss, alpha = lambda)")
    print(f"data: scikit-learn digits, m = {len(X)}; weights: scikit-learn's own, after fit(max_iter=1)\n")
    print(f"  {'network':42s} {'alpha':>7s} {'cost':>13s} {'|ΔJ|':>9s} {'max |Δgrad|':>12s}")
    rows, ok = [], True
    for activation, hidden, alpha in CASES:
        row = compare_with_sklearn(activation, hidden, alpha, X, labels)
        agree = row["cost_difference"] <= TOLERANCE and row["gradient_difference"] <= TOLERANCE
        ok &= agree
        rows.append({**row, "agrees": agree})
        sizes = "-".join(str(n) for n in (64, *hidden, 10))
        print(f"  {sizes + ' ' + activation + ' hidden, softmax output':42s} {alpha:7g} {row['cost_sklearn']:13.10f} "
              f"{row['cost_difference']:9.1e} {row['gradient_difference']:12.1e}   "
              f"{'agree' if agree else 'DISAGREE'}")
    print()
    path = args.out / "sklearn_agreement.json"
    path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    print(f"cost and every gradient entry agree to {TOLERANCE:g}" if ok
          else f"DISAGREEMENT above {TOLERANCE:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

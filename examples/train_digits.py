"""Train a 64-h-10 network on real handwritten digits with symbackprop's exported gradient and L-BFGS.

The data are scikit-learn's bundled 8x8 digits (1797 images, 64 pixels, 10 classes; no
download), split into a training set and a held-out test set. The network is
64-32-10 with tanh hidden units, a softmax output and the categorical cross-entropy, with an L2
penalty. Softmax + categorical cross-entropy because each image shows exactly one digit: the
softmax makes the 10 outputs a probability distribution over the classes, the cross-entropy is
the negative log-likelihood of the true class, and for this pair δ^L = a - y (the softmax's
Jacobian cancels), which the example prints from the derivation. The cost and its gradient come
from ``symbackprop.compile``; ``scipy.optimize.minimize(method='L-BFGS-B', jac=True)`` trains.
It prints the progress while training, the held-out accuracy, and saves the training curve as
a PNG (matplotlib).

    python examples/train_digits.py [--hidden 32] [--l2 1.0] [--iterations 300] [--out DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import symbackprop as sb
from symbackprop.rendering import render_quantity

QUICK = os.environ.get("SYMBACKPROP_QUICK") == "1"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="SYMBACKPROP_QUICK=1 trains for 60 iterations instead of 300.")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units h (default: 32)")
    parser.add_argument("--l2", type=float, default=1.0, help="L2 strength lambda (default: 1.0)")
    parser.add_argument("--iterations", type=int, default=60 if QUICK else 300,
                        help="L-BFGS iterations at most (default: 300; 60 with SYMBACKPROP_QUICK=1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the initial weights")
    parser.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNG plot (default: out/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from scipy.optimize import minimize
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    X = images / 16.0                                   # pixel intensities 0..16 -> 0..1
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_size=0.25, random_state=args.seed,
                                                        stratify=labels)
    Y_train = np.eye(10)[y_train]                       # one-hot targets

    network = sb.Network((64, args.hidden, 10), hidden="tanh", output="softmax",
                         loss="categorical-cross-entropy", l2=args.l2)
    f = sb.compile(network)
    print(network.describe())
    print(f"derived output error: {render_quantity(f.derivation, 'output_delta', 'text', 'nielsen')}")
    print(f"data: scikit-learn digits, {len(X_train)} training and {len(X_test)} held-out images")

    # L-BFGS works on one flat vector; the compiled function on the list [W2, b2, W3, b3].
    sizes = [int(np.prod(shape)) for shape in f.shapes]
    offsets = np.cumsum([0] + sizes)

    def unflatten(theta):
        return [theta[start:stop].reshape(shape) for start, stop, shape in zip(offsets, offsets[1:], f.shapes)]

    def cost_and_gradient(theta):
        cost, grads = f(unflatten(theta), X_train, Y_train)
        return cost, np.concatenate([g.ravel() for g in grads])

    def accuracy(theta, X, y):
        return float(np.mean(f.predict(unflatten(theta), X).argmax(axis=1) == y))

    rng = np.random.default_rng(args.seed)
    initial = np.concatenate([rng.normal(scale=1 / np.sqrt(shape[1]), size=shape).ravel() if len(shape) == 2
                              else np.zeros(shape) for shape in f.shapes])
    curve = {"iteration": [0], "cost": [cost_and_gradient(initial)[0]], "test": [accuracy(initial, X_test, y_test)]}
    interactive = sys.stdout.isatty()
    report_every = max(1, args.iterations // 6)

    def progress(intermediate_result):
        iteration = len(curve["iteration"])
        curve["iteration"].append(iteration)
        curve["cost"].append(float(intermediate_result.fun))
        curve["test"].append(accuracy(intermediate_result.x, X_test, y_test))
        line = f"training: iteration {iteration:4d}/{args.iterations}  cost {intermediate_result.fun:.6f}"
        if interactive:
            print("\r" + line, end="", flush=True)
        elif iteration % report_every == 0:
            print(line, flush=True)

    start = time.perf_counter()
    # The matrix products here are small (1347x64 by 64x32): BLAS threads cost more than they save,
    # on a 2-core machine by a factor of 10 or more. threadpoolctl comes with scikit-learn.
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(cost_and_gradient, initial, jac=True, method="L-BFGS-B", callback=progress,
                          options={"maxiter": args.iterations})
    seconds = time.perf_counter() - start
    if interactive:
        print()
    print(f"L-BFGS-B stopped after {result.nit} iterations ({result.nfev} cost+gradient evaluations, "
          f"{seconds:.1f} s): {result.message}")
    print(f"final training cost {result.fun:.6f}")
    train_accuracy = accuracy(result.x, X_train, y_train)
    test_accuracy = accuracy(result.x, X_test, y_test)
    print(f"training accuracy: {train_accuracy:.4f}")
    print(f"held-out accuracy: {test_accuracy:.4f} ({round(test_accuracy * len(y_test))}/{len(y_test)} test images)")

    plot = args.out / "train_digits.png"
    _plot(curve, network, test_accuracy, plot)
    print(f"wrote {plot}")
    return 0


def _plot(curve, network, test_accuracy, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, cost_axis = plt.subplots(figsize=(8, 4.5), dpi=100)
    cost_axis.semilogy(curve["iteration"], curve["cost"], color="tab:blue", label="training cost J")
    cost_axis.set_xlabel("L-BFGS iteration")
    cost_axis.set_ylabel("training cost J (log scale)", color="tab:blue")
    accuracy_axis = cost_axis.twinx()
    accuracy_axis.plot(curve["iteration"], curve["test"], color="tab:orange", label="held-out accuracy")
    accuracy_axis.set_ylabel("held-out accuracy", color="tab:orange")
    accuracy_axis.set_ylim(0, 1.02)
    sizes = "-".join(str(size) for size in network.sizes)
    cost_axis.set_title(f"{sizes} tanh/softmax network on the scikit-learn digits, lambda = {network.l2}: "
                        f"held-out accuracy {test_accuracy:.3f}", fontsize=10)
    figure.legend(loc="center right", bbox_to_anchor=(0.88, 0.5))
    cost_axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())

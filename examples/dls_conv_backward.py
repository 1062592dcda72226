"""The Deep Learning Specialization's conv_backward check, reproduced by a derived and exported layer.

Course 4, "Convolution model, step by step", checks conv_backward with seed 1,
A_prev = randn(10, 4, 4, 3), W = randn(2, 2, 3, 8), b = randn(1, 1, 1, 8), pad 2, stride 2 and the
upstream gradient dZ = Z, and publishes mean(dA) = 1.45243777754, mean(dW) = 1.72699145831,
mean(db) = 7.83923256462. Here the backward pass is not written by hand: symbackprop derives the
``conv2d`` record (stride 2, padding 2, the course's channels-last layout) and exports it as a NumPy
module (sliding windows and tensor contractions, no loop over examples or pixels); the example runs
it and prints the three means next to the published ones, with the steps of the derivation of dA_prev.
The arrays have the course's shapes (b and db (1, 1, 1, n_C)). Exits 1 if a mean disagrees.

    python examples/dls_conv_backward.py [--out DIR]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from symbackprop.export._layer_module import export_layer_module, layer_module
from symbackprop.layers import derive_layer, window_record
from symbackprop.layers._printing import text

PUBLISHED = {"dA": 1.45243777754, "dW": 1.72699145831, "db": 7.83923256462}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out", help="directory for the exported module (default: out)")
    args = parser.parse_args(argv)
    derivation = derive_layer(window_record("conv2d", stride=2, pad=2, layout="ng-dls").layer())
    print("dA_prev, derived step by step:")
    for step in derivation.steps_for("A_prev"):
        print(f"  [{step.rule.value}] {text(step.statement)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = export_layer_module(derivation, out / "conv2d_s2_p2.py", force=True)
    print(f"wrote {path}")
    module = layer_module(derivation)
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, cache = module.forward(A_prev, W, b)
    dA, dW, db = module.backward(Z, cache)
    found = {"dA": np.mean(dA), "dW": np.mean(dW), "db": np.mean(db)}
    status = 0
    for name, value in found.items():
        agrees = abs(value - PUBLISHED[name]) < 1e-10
        status |= not agrees
        print(f"{name}_mean = {value:.11f}   published {PUBLISHED[name]:.11f}   {'agrees' if agrees else 'DISAGREES'}")
    return status | pool_backward()


#: the course's pool_backward check: seed 1, A_prev = randn(5, 5, 3, 2), f = 2, stride 1, dA = randn(5, 4, 2, 2)
POOL_PUBLISHED = {"maxpool": [[0, 0], [5.05844394, -1.68282702], [0, 0]],
                  "avgpool": [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]]}


def pool_backward() -> int:
    """The exported maxpool and avgpool against the course's published dA_prev[1, 1]."""
    status = 0
    for mode, published in POOL_PUBLISHED.items():
        module = layer_module(derive_layer(window_record(mode, size=2, stride=1, layout="ng-dls").layer()))
        np.random.seed(1)
        A_prev = np.random.randn(5, 5, 3, 2)
        _, cache = module.forward(A_prev)
        dA = np.random.randn(5, 4, 2, 2)
        (dA_prev,) = module.backward(dA, cache)
        agrees = np.allclose(dA_prev[1, 1], published, atol=1e-8, rtol=0)
        status |= not agrees
        print(f"{mode} dA_prev[1, 1] = {np.round(dA_prev[1, 1], 8).tolist()}\n"
              f"{' ' * len(mode)}      published {published}   {'agrees' if agrees else 'DISAGREES'}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

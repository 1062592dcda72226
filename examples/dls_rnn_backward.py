"""The Deep Learning Specialization's rnn_backward check, from a derived and exported recurrent layer.

Course 5, "Building a Recurrent Neural Network, step by step", tests rnn_backward with numbers drawn
from seed 1 and prints five gradient entries. This example derives the ``rnn`` layer (backpropagation
through time, from the cell's derivation: no formula is written here), prints the steps through time in
the course's letters (a⟨t⟩, W_ax, W_aa, b_a), exports the module in the course's layout (examples as
columns, time last: x (n_x, m, T_x), a0 (n_a, m), Wax (n_a, n_x), Waa (n_a, n_a), ba (n_a, 1)),
imports it from the written file and reproduces the published values.

    python examples/dls_rnn_backward.py [--out DIR]
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

from symbackprop.derivation import Rule
from symbackprop.export._recurrent_module import export_recurrent_module
from symbackprop.layers import derive_layer, layer_record
from symbackprop.layers._printing import text
from symbackprop.rendering._recurrent_letters import in_letters

#: the course's published values (its expected output)
PUBLISHED = {"dx[1][2]": [-2.07101689, -0.59255627, 0.02466855, 0.01483317], "da0[2][3]": -0.314942375127,
             "dWax[3][1]": 11.2641044965, "dWaa[1][2]": 2.30333312658, "dba[4]": [-0.74747722]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out", help="directory for the exported module (default: out)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    derivation = derive_layer(in_letters(layer_record("rnn").layer(), "ng-dls"))
    print("Backpropagation through time, derived (ng-dls letters):")
    for step in derivation.steps:
        if step.rule in (Rule.THROUGH_TIME, Rule.SHARED_WEIGHTS, Rule.INITIAL_STATE, Rule.REWRITE):
            print(f"  {text(step.statement)}    [{step.rule.value}]")

    path = export_recurrent_module(derive_layer("rnn"), out / "rnn_dls.py", force=True, notation="ng-dls")
    print(f"wrote {path}")
    spec = importlib.util.spec_from_file_location("rnn_dls", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    np.random.seed(1)
    x = np.random.randn(3, 10, 4)
    a0 = np.random.randn(5, 10)
    Wax = np.random.randn(5, 3)
    Waa = np.random.randn(5, 5)
    np.random.randn(2, 5)         # Wya: drawn by the course's test, not used by rnn_backward
    ba = np.random.randn(5, 1)
    np.random.randn(2, 1)         # by
    a, cache = module.forward(x, a0, Wax, Waa, ba)
    da = np.random.randn(5, 10, 4)
    dx, da0, dWax, dWaa, dba = module.backward(da, cache)
    found = {"dx[1][2]": dx[1][2], "da0[2][3]": da0[2][3], "dWax[3][1]": dWax[3][1], "dWaa[1][2]": dWaa[1][2],
             "dba[4]": dba[4]}
    worst = 0.0
    print("\nrnn_backward (seed 1), exported module vs the course's published values:")
    for name, value in found.items():
        expected = np.asarray(PUBLISHED[name])
        worst = max(worst, float(np.max(np.abs(np.asarray(value) - expected))))
        print(f"  {name:11s} = {np.array2string(np.asarray(value), precision=12)}   published "
              f"{np.array2string(expected, precision=12)}")
    agree = worst < 1e-7
    print(f"largest difference to the published values: {worst:.1e} ({'reproduced' if agree else 'NOT reproduced'})")
    print(f"shapes: dx {dx.shape}, da0 {da0.shape}, dWax {dWax.shape}, dWaa {dWaa.shape}, dba {dba.shape}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())

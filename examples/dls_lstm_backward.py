"""The Deep Learning Specialization's lstm_cell_backward and lstm_backward checks, from a derived and exported LSTM.

Course 5, "Building your Recurrent Neural Network - Step by Step", tests lstm_cell_backward with numbers drawn
from seed 1 and prints eleven gradient entries; lstm_backward's cell prints ten more. This example derives the
``lstm`` layer (the cell's gradients and backpropagation through time: no formula is written here), prints the
derived steps in the notebook's letters (a⟨t⟩, the gates f, i, cc, o, their pre-activations zf, zi, zc, zo),
exports the module in the notebook's layout (examples as columns, time last; each gate's W (n_a, n_a + n_x)
acting on concat = [a_prev; xt], b (n_a, 1)), imports it from the written file and reproduces the published
values. One lstm_cell_backward is the module over one step, with dc_next the gradient of the last cell state.

    python examples/dls_lstm_backward.py [--out DIR]
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

#: the notebook's published values (its expected output): lstm_cell_backward's test cell
CELL = {"dxt[1][2]": 3.23055911511, "da_prev[2][3]": -0.0639621419711, "dc_prev[2][3]": 0.797522038797,
        "dWf[3][1]": -0.147954838164, "dWi[1][2]": 1.05749805523, "dWc[3][1]": 2.30456216369,
        "dWo[1][2]": 0.331311595289, "dbf[4]": [0.18864637], "dbi[4]": [-0.40142491], "dbc[4]": [0.25587763],
        "dbo[4]": [0.13893342]}
#: lstm_backward's test cell
SEQUENCE = {"dx[1][2]": [0.00218254, 0.28205375, -0.48292508, -0.43281115], "da0[2][3]": 0.312770310257,
            "dWf[3][1]": -0.0809802310938, "dWi[1][2]": 0.40512433093, "dWc[3][1]": -0.0793746735512,
            "dWo[1][2]": 0.038948775763, "dbf[4]": [-0.15745657], "dbi[4]": [-0.50848333], "dbc[4]": [-0.42510818],
            "dbo[4]": [-0.17958196]}


def gates():
    """The four gates' W (5, 8) and b (5, 1), drawn in the test cells' order: f, i, o, c."""
    drawn = {}
    for gate in "fioc":
        drawn[f"W{gate}"] = np.random.randn(5, 5 + 3)
        drawn[f"b{gate}"] = np.random.randn(5, 1)
    return [drawn[name] for name in ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")]


def entries(arrays: dict, published: dict) -> dict:
    """name[i][j] -> that entry of arrays[name]."""
    found = {}
    for key in published:
        name, *indices = key.replace("]", "").split("[")
        value = arrays[name]
        for index in indices:
            value = value[int(index)]
        found[key] = value
    return found


def report(title: str, found: dict, published: dict) -> float:
    worst = 0.0
    print(f"\n{title}, exported module vs the notebook's published values:")
    for key, value in found.items():
        expected = np.asarray(published[key])
        worst = max(worst, float(np.max(np.abs(np.asarray(value) - expected))))
        print(f"  {key:14s} = {np.array2string(np.asarray(value), precision=12)}   published "
              f"{np.array2string(expected, precision=12)}")
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out", help="directory for the exported module (default: out)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    derivation = derive_layer(in_letters(layer_record("lstm").layer(), "ng-dls"))
    print("One step's gate derivatives and backpropagation through time, derived (ng-dls letters):")
    for step in derivation.steps:
        if step.rule in (Rule.THROUGH_TIME, Rule.INITIAL_STATE, Rule.REWRITE):
            print(f"  {text(step.statement)}    [{step.rule.value}]")

    path = export_recurrent_module(derive_layer("lstm"), out / "lstm_dls.py", force=True, notation="ng-dls")
    print(f"wrote {path}")
    spec = importlib.util.spec_from_file_location("lstm_dls", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    np.random.seed(1)                  # lstm_cell_backward's test cell
    xt = np.random.randn(3, 10)
    a_prev = np.random.randn(5, 10)
    c_prev = np.random.randn(5, 10)
    parameters = gates()
    np.random.randn(2, 5)              # Wy, by: drawn by the cell, not used by lstm_cell_backward
    np.random.randn(2, 1)
    a, cache = module.forward(xt[:, :, None], a_prev, c_prev, *parameters)
    da_next = np.random.randn(5, 10)
    dc_next = np.random.randn(5, 10)
    dx, da_prev, dc_prev, dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo = module.backward(da_next[:, :, None], cache,
                                                                                     dc_last=dc_next)
    cell = {"dxt": dx[:, :, 0], "da_prev": da_prev, "dc_prev": dc_prev, "dWf": dWf, "dWi": dWi, "dWc": dWc,
            "dWo": dWo, "dbf": dbf, "dbi": dbi, "dbc": dbc, "dbo": dbo}
    worst = report("lstm_cell_backward (seed 1, one step)", entries(cell, CELL), CELL)
    print("shapes: " + ", ".join(f"{name} {value.shape}" for name, value in cell.items()))

    np.random.seed(1)                  # lstm_backward's test cell: x of 7 steps, da of 4 (T_x is read from da)
    x = np.random.randn(3, 10, 7)
    a0 = np.random.randn(5, 10)
    parameters = gates()               # Wy, by are zeros here: not drawn
    da = np.random.randn(5, 10, 4)
    a, cache = module.forward(x[:, :, :4], a0, np.zeros((5, 10)), *parameters)
    dx, da0, dc0, dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo = module.backward(da, cache)
    sequence = {"dx": dx, "da0": da0, "dWf": dWf, "dWi": dWi, "dWc": dWc, "dWo": dWo, "dbf": dbf, "dbi": dbi,
                "dbc": dbc, "dbo": dbo}
    worst = max(worst, report("lstm_backward (seed 1, 4 steps)", entries(sequence, SEQUENCE), SEQUENCE))

    agree = worst < 1e-8
    print(f"\nlargest difference to the published values: {worst:.1e} "
          f"({'reproduced' if agree else 'NOT reproduced'})")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())

"""The Deep Learning Specialization's LSTM notebook (course 5 week 1, "Building your Recurrent Neural Network -
Step by Step"): the ng-dls export takes the notebook's parameters (Wf (n_a, n_a + n_x) on concat = [a_prev; xt],
bf (n_a, 1), gates f, i, c, o) and reproduces its published lstm_cell_backward and lstm_backward checks; the
checker reads the notebook's lines of lstm_cell_backward as written and names a wrong one by its mistake.

The expected values are the notebook's published ones (its "Expected Output" tables), drawn in the test cells'
exact order (Wf, bf, Wi, bi, Wo, bo, Wc, bc, then Wy, by), not this package's output."""
from __future__ import annotations

import numpy as np
import pytest

from symbackprop.export._recurrent_module import recurrent_module, recurrent_source
from symbackprop.layers import derive_layer

#: lstm_cell_backward's test cell: gradients[name][index] as published
CELL_PUBLISHED = {("dxt", 1, 2): 3.23055911511, ("da_prev", 2, 3): -0.0639621419711,
                  ("dc_prev", 2, 3): 0.797522038797, ("dWf", 3, 1): -0.147954838164, ("dWi", 1, 2): 1.05749805523,
                  ("dWc", 3, 1): 2.30456216369, ("dWo", 1, 2): 0.331311595289, ("dbf", 4): [0.18864637],
                  ("dbi", 4): [-0.40142491], ("dbc", 4): [0.25587763], ("dbo", 4): [0.13893342]}
CELL_SHAPES = {"dxt": (3, 10), "da_prev": (5, 10), "dc_prev": (5, 10), "dWf": (5, 8), "dWi": (5, 8), "dWc": (5, 8),
               "dWo": (5, 8), "dbf": (5, 1), "dbi": (5, 1), "dbc": (5, 1), "dbo": (5, 1)}
#: lstm_backward's test cell (da has 4 steps; the notebook's lstm_backward reads T_x from da)
SEQUENCE_PUBLISHED = {("dx", 1, 2): [0.00218254, 0.28205375, -0.48292508, -0.43281115],
                      ("da0", 2, 3): 0.312770310257, ("dWf", 3, 1): -0.0809802310938, ("dWi", 1, 2): 0.40512433093,
                      ("dWc", 3, 1): -0.0793746735512, ("dWo", 1, 2): 0.038948775763, ("dbf", 4): [-0.15745657],
                      ("dbi", 4): [-0.50848333], ("dbc", 4): [-0.42510818], ("dbo", 4): [-0.17958196]}


def _notebook_parameters():
    """The four gates' W (5, 8) and b (5, 1) in the test cells' order: f, i, o, c."""
    drawn = {}
    for gate in "fioc":
        drawn[f"W{gate}"] = np.random.randn(5, 5 + 3)
        drawn[f"b{gate}"] = np.random.randn(5, 1)
    return drawn


def _arguments(p):
    return [p[name] for name in ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")]


def _published(found, published):
    for (name, *index), value in published.items():
        got = found[name]
        for i in index:
            got = got[i]
        np.testing.assert_allclose(got, value, rtol=0, atol=6e-9, err_msg=f"{name}{index}")


def test_ng_dls_export_takes_the_notebooks_parameters():
    source = recurrent_source(derive_layer("lstm"), "ng-dls")
    assert "def forward(x, a0, c0, Wf, bf, Wi, bi, Wc, bc, Wo, bo):" in source
    assert "Wfh = Wf[:, :H].T" in source and "Wfx = Wf[:, H:].T" in source
    module = recurrent_module(derive_layer("lstm"), "ng-dls")
    rng = np.random.default_rng(3)
    wrong = [rng.standard_normal(s) for s in [(3, 4, 2), (5, 4), (5, 4)] + [(5, 3), (5, 1)] * 4]   # Wf (n_a, n_x)
    with pytest.raises(ValueError, match=r"Wf has shape \(5, 3\); expected \(H, H \+ D\) = \(5, 8\)"):
        module.forward(*wrong)


def test_dls_published_lstm_cell_backward_check():
    """lstm_cell_backward's test cell; one cell is the exported module over one step (T_x = 1), with dc_next the
    upstream gradient of the last cell state."""
    module = recurrent_module(derive_layer("lstm"), "ng-dls")
    np.random.seed(1)
    xt = np.random.randn(3, 10)
    a_prev = np.random.randn(5, 10)
    c_prev = np.random.randn(5, 10)
    p = _notebook_parameters()
    np.random.randn(2, 5)            # Wy, by: drawn by the cell, not used by lstm_cell_backward
    np.random.randn(2, 1)
    a, cache = module.forward(xt[:, :, None], a_prev, c_prev, *_arguments(p))
    da_next = np.random.randn(5, 10)
    dc_next = np.random.randn(5, 10)
    dx, da_prev, dc_prev, dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo = module.backward(da_next[:, :, None], cache,
                                                                                     dc_last=dc_next)
    found = {"dxt": dx[:, :, 0], "da_prev": da_prev, "dc_prev": dc_prev, "dWf": dWf, "dWi": dWi, "dWc": dWc,
             "dWo": dWo, "dbf": dbf, "dbi": dbi, "dbc": dbc, "dbo": dbo}
    assert {name: value.shape for name, value in found.items()} == CELL_SHAPES
    _published(found, CELL_PUBLISHED)


def test_dls_published_lstm_backward_check():
    """lstm_backward's test cell: x has 7 steps, da 4, and the notebook's lstm_backward reads T_x from da; the
    first 4 steps of the forward pass read x's first 4 only, so they are the exported module over those."""
    module = recurrent_module(derive_layer("lstm"), "ng-dls")
    np.random.seed(1)
    x = np.random.randn(3, 10, 7)
    a0 = np.random.randn(5, 10)
    p = _notebook_parameters()       # Wy, by are zeros in this cell: not drawn
    da = np.random.randn(5, 10, 4)
    a, cache = module.forward(x[:, :, :4], a0, np.zeros((5, 10)), *_arguments(p))
    dx, da0, dc0, dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo = module.backward(da, cache)
    found = {"dx": dx, "da0": da0, "dWf": dWf, "dWi": dWi, "dWc": dWc, "dWo": dWo, "dbf": dbf, "dbi": dbi,
             "dbc": dbc, "dbo": dbo}
    assert dx.shape == (3, 10, 4) and da0.shape == (5, 10) and dWf.shape == (5, 8) and dbo.shape == (5, 1)
    _published(found, SEQUENCE_PUBLISHED)

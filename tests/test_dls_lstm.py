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


def test_cli_export_names_the_notebooks_signature(tmp_path, capsys):
    from symbackprop.cli import main
    target = tmp_path / "lstm.py"
    assert main(["export", "--layer", "lstm", "--notation", "ng-dls", "-o", str(target)]) == 0
    assert "forward(x, a0, c0, Wf, bf, Wi, bi, Wc, bc, Wo, bo) -> (out, cache)" in capsys.readouterr().out
    assert "def forward(x, a0, c0, Wf, bf, Wi, bi, Wc, bc, Wo, bo):" in target.read_text(encoding="utf-8")


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


# ---- check --layer lstm --notation ng-dls: the notebook's lines of lstm_cell_backward, as written ---------------

#: lstm_cell_backward's lines (the notebook's equations 7-21): dot, dcct, dit, dft are the gradients of the gates'
#: pre-activations; da_next is the total gradient of a⟨t⟩, dc_next what step t+1 sends back to c⟨t⟩
NOTEBOOK_LINES = [
    ("dot = da_next * np.tanh(c_next) * ot * (1 - ot)", "dot = ∂C/∂zo at step t"),
    ("dcct = (dc_next * it + ot * (1 - np.square(np.tanh(c_next))) * it * da_next) * (1 - np.square(cct))",
     "dcct = ∂C/∂zc at step t"),
    ("dit = (dc_next * cct + ot * (1 - np.square(np.tanh(c_next))) * cct * da_next) * it * (1 - it)",
     "dit = ∂C/∂zi at step t"),
    ("dft = (dc_next * c_prev + ot * (1 - np.square(np.tanh(c_next))) * c_prev * da_next) * ft * (1 - ft)",
     "dft = ∂C/∂zf at step t"),
    ("dWf = np.dot(dft, np.concatenate((a_prev, xt), axis=0).T)", "dWf of one step t (lstm_cell_backward)"),
    ("dWo = np.dot(dot, np.concatenate((a_prev, xt), axis=0).T)", "dWo of one step t (lstm_cell_backward)"),
    ("dWc = np.dot(dcct, concat.T)", "dWc of one step t (lstm_cell_backward)"),     # lstm_cell_forward's concat
    ("dbf = np.sum(dft, axis=1, keepdims=True)", "dbf of one step t (lstm_cell_backward)"),
    ("da_prev = np.dot(Wf[:, :n_a].T, dft) + np.dot(Wi[:, :n_a].T, dit) + np.dot(Wc[:, :n_a].T, dcct)"
     " + np.dot(Wo[:, :n_a].T, dot)", "da_prev = ∂C/∂a_prev"),
    ("dc_prev = dc_next * ft + ot * (1 - np.square(np.tanh(c_next))) * ft * da_next", "dc_prev = ∂C/∂c_prev"),
    ("dxt = np.dot(Wf[:, n_a:].T, dft) + np.dot(Wi[:, n_a:].T, dit) + np.dot(Wc[:, n_a:].T, dcct)"
     " + np.dot(Wo[:, n_a:].T, dot)", "dxt = ∂C/∂x"),
    ("dWf += np.dot(dft, np.concatenate((a_prev, xt), axis=0).T)", "dWf = ∂C/∂Wf"),      # lstm_backward's sum
]

#: a wrong line -> its mistake's name; each is found by trying the derived gradient with one change
MISTAKES = [
    ("dft = (dc_next * c_prev + ot * (1 - np.square(np.tanh(c_next))) * da_next) * ft * (1 - ft)",
     "dft where the c_prev factor of the da_next term is missing"),
    ("dot = da_next * c_next * ot * (1 - ot)", "dot with tanh(c_next) written as c_next"),
    ("dft = (dc_next * c_prev + ot * (1 - np.square(c_next)) * c_prev * da_next) * ft * (1 - ft)",
     "dft with tanh(c_next) written as c_next"),
    ("dc_prev = dc_next * ft", "dc_prev without the da_next path"),
    ("dc_prev = dc_next * ft + ot * (1 - np.square(np.tanh(c_next))) * da_next",
     "dc_prev where the ft factor of the da_next term is missing"),
    ("da_prev = np.dot(Wf[:, :n_a].T, dft) + np.dot(Wi[:, :n_a].T, dit) + np.dot(Wc[:, :n_a].T, dcct)",
     "da_prev without its dot term"),
    ("dcct = (dc_next * it + ot * (1 - np.square(np.tanh(c_next))) * it * da_next) * (1 - cct)",
     None),                                                # no single change explains it: only 'differs'
]


def _check(formula):
    from symbackprop.checker._recurrent_check import check_recurrent
    from symbackprop.layers import layer_record
    from symbackprop.rendering._recurrent_letters import in_letters
    return check_recurrent(formula, in_letters(layer_record("lstm").layer(), "ng-dls"), notation="ng-dls")


@pytest.mark.parametrize("formula, quantity", NOTEBOOK_LINES)
def test_check_reads_the_notebooks_lstm_cell_backward_lines(formula, quantity):
    result = _check(formula)
    assert result.verdict == "correct", result.diagnosis
    assert result.quantity == quantity


@pytest.mark.parametrize("formula, mistake", MISTAKES)
def test_check_names_a_wrong_line_by_its_mistake(formula, mistake):
    result = _check(formula)
    assert result.verdict == "incorrect"
    if mistake is None:
        assert result.diagnosis.startswith("differs from the derived") and not result.matches
    else:
        assert result.matches == (mistake,) and result.diagnosis == f"this is {mistake}"


def test_mistakes_come_from_the_derivation_not_from_a_table():
    """Each named mistake is the derived gradient with one change: its two paths (dc_next, da_next) add up to the
    derived dft, the c_prev variant is the da_next path divided by c_prev, the tanh variant has no tanh."""
    import sympy as sp
    from symbackprop.checker._recurrent_numpy import spell, spelling
    from symbackprop.checker._recurrent_variants import variants
    from symbackprop.layers import layer_record
    from symbackprop.rendering._recurrent_letters import in_letters
    layer = in_letters(layer_record("lstm").layer(), "ng-dls")
    derivation = derive_layer(layer)
    found = dict(variants(derivation, "zf", lambda e: spell(e, spelling(layer, "ng-dls"))))
    n, k = sp.symbols("n k", integer=True)
    c_prev, c = (sp.IndexedBase(name, real=True)[n, k] for name in ("c_prev", "c"))
    dc_path, da_path = found["dft without the da_next path"], found["dft without the dc_next path"]
    f = sp.IndexedBase("f", real=True)[n, k]
    staged = derivation.step_gradients
    composed = staged["zf"].xreplace({sp.IndexedBase("df", real=True)[n, k]: staged["f"]}).xreplace(
        {sp.IndexedBase("dc", real=True)[n, k]: staged["c"]})
    assert sp.simplify(dc_path + da_path - composed) == 0 and composed.has(f)
    assert sp.simplify(found["dft where the c_prev factor of the da_next term is missing"]
                       - (dc_path + da_path / c_prev)) == 0
    written = found["dft with tanh(c_next) written as c_next"]
    assert not written.has(sp.tanh) and sp.simplify(written - composed.xreplace({sp.tanh(c): c})) == 0


def test_derive_writes_the_lstm_in_the_notebooks_letters(capsys):
    from symbackprop.cli import main
    assert main(["derive", "--layer", "lstm", "--notation", "ng-dls"]) == 0
    out = capsys.readouterr().out
    assert "∂C/∂a[t, n, k] = da[t, n, k] + da_prev[t + 1, n, k]" in out
    assert "dzi[n, k] = (1 - i[n, k]) di[n, k] i[n, k]" in out and "dWih[q, k]" in out and "dbi[k]" in out
    assert "Wux" not in out and "dzu" not in out


@pytest.mark.parametrize("formula, message", [
    ("dxt = np.dot(Wf[:, :4].T, dft)", "the slice 0:4 of the axis H+D is not a whole block of it"),
    ("dWf = np.dot(dft, np.concatenate((a_prev, xt), axis=1).T)", "np.concatenate along axis 1"),
    ("da_prev = np.dot(Wf[:, n_a:].T, dft)", "the formula has the axes [T, N, D]"),
    ("dWf = np.dot(dft, np.concatenate((xt, a_prev), axis=0).T)",
     "its blocks side by side are in the order D+H, the joined weights' are H+D (np.concatenate((a_prev, xt), axis=0))"),
])
def test_a_slice_or_concatenation_that_does_not_fit_is_a_shape_verdict(formula, message):
    result = _check(formula)
    assert result.verdict == "incorrect" and result.method == "shape" and message in result.diagnosis


def test_cli_reads_the_notebooks_lines_with_the_projects_grammar(capsys, monkeypatch):
    """np.square, np.tanh, Wf[:, :n_a] and np.concatenate(..., axis=0) are read by the grammar: never evaluated by
    Python (eval is made to fail here)."""
    import builtins
    from symbackprop.cli import main

    def refuse(*args, **kwargs):
        raise AssertionError("user text reached eval/compile")
    monkeypatch.setattr(builtins, "eval", refuse)
    for formula, _ in NOTEBOOK_LINES[:5]:
        assert main(["check", "--layer", "lstm", "--notation", "ng-dls", formula]) == 0
        assert capsys.readouterr().out.startswith("correct")
    assert main(["check", "--layer", "lstm", "--notation", "ng-dls", MISTAKES[0][0]]) == 1
    assert "the c_prev factor of the da_next term is missing" in capsys.readouterr().out
    for formula, words in [("da_prev = np.dot(Wf[:, :n_a.T, dft)", "never closed"),
                           ("dft = eval(ft)", "eval"),
                           ("dxt = np.dot(Wf[:, 0].T, dft)", "a ':' on every axis")]:
        assert main(["check", "--layer", "lstm", "--notation", "ng-dls", formula]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, err


def test_the_grammar_reads_numpy_slicing():
    from symbackprop.errors import ParseError
    from symbackprop.grammar import _ast as A
    from symbackprop.grammar import parse_formula
    from symbackprop.checker._layer_formula import FUNCTIONS
    rhs = parse_formula("d = Wf[:, :n_a].T", "ng-dls", functions=FUNCTIONS).rhs
    assert isinstance(rhs, A.Binary) and rhs.op == "^" and isinstance(rhs.left, A.Slice)
    (whole, head) = rhs.left.axes
    assert whole == (None, None) and head[0] is None and isinstance(head[1], A.Script)
    tail = parse_formula("d = Wf[:, n_a:]", "ng-dls", functions=FUNCTIONS).rhs
    assert tail.axes[1][1] is None and isinstance(tail.axes[1][0], A.Script)
    spaced = parse_formula("d = W [x]", "ng-dls", functions=FUNCTIONS).rhs       # not slicing: as before
    assert isinstance(spaced, A.Binary) and spaced.op == "juxt"
    for text, words in [("d = Wf[:, 0]", "a ':' on every axis"), ("d = Wf[::2, :]", "step"),
                        ("d = Wf[:, :n_a", "never closed"), ("d = f(Wf[:, :n_a)", "never closed")]:
        with pytest.raises(ParseError, match=words.replace("(", r"\(")):
            parse_formula(text, "ng-dls", functions=FUNCTIONS)

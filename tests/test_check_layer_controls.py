"""Negative controls for the layer checker, as tests/test_check_controls.py has for networks.

Every formula the layer table (tests/data/layer_check_table.py) calls correct, spoiled as k × RHS for
k = 2, 1/2, -1 and 1 + 3e-6, must come back incorrect. A checker that also accepted the negated gradient,
or whose tolerance had been loosened to swallow a relative error of 3e-6 ("dgamma × (1 + 3e-6) is
correct"), fails here; so does a diagnosis that calls a factor of 1 + 3e-6 "times 1".
"""
from __future__ import annotations

import pytest

from symbackprop.checker._layer_check import check_layer
from symbackprop.layers import layer_record

from data.layer_check_table import ROWS

FACTORS = (("2", "2"), ("1/2", "0.5"), ("-1", "-1"), ("1 + 3e-6", "1.000003"))
CORRECT = [row for row in ROWS if row.verdict == "correct"]


def _spoiled(formula: str, factor: str) -> str:
    lhs, rhs = formula.split("=", 1)
    return f"{lhs}= {factor} * ({rhs.strip()})"


@pytest.mark.parametrize("name, factor", FACTORS, ids=[name for name, _ in FACTORS])
@pytest.mark.parametrize("row", CORRECT, ids=[f"{r.layer}:{r.formula}" for r in CORRECT])
def test_a_scaled_correct_formula_is_incorrect(row, name, factor):
    layer = layer_record(row.layer).layer()
    assert check_layer(row.formula, layer).verdict == "correct"      # the control's unspoiled twin
    verdict = check_layer(_spoiled(row.formula, factor), layer)
    assert verdict.verdict == "incorrect", f"{name} x RHS of {row.formula!r} was judged {verdict.verdict}"
    assert "times 1\n" not in verdict.diagnosis + "\n" and not verdict.diagnosis.rstrip(". ").endswith("times 1")


def test_the_table_has_correct_formulas_for_every_layer():
    assert {row.layer for row in CORRECT} == {"batchnorm", "layernorm", "attention"}


#: correct BPTT formulas of the rnn (tests/test_layers_recurrent.py holds their sources and verdicts)
RECURRENT_CORRECT = (
    ("canonical", "dz[t, n, k] = (1 - h[t, n, k]^2) * (dh[t, n, k] + dh_prev[t+1, n, k])"),
    ("canonical", "dWh[q, k] = sum(h[t-1, n, q] * dz[t, n, k], t, n)"),
    ("ng-dls", "dtanh = (1 - a_next**2) * (da + da_prevt)"),
    ("cs231n", "dprev_h = dnext_h * (1 - next_h**2) @ Wh.T"),
)


@pytest.mark.parametrize("name, factor", FACTORS, ids=[name for name, _ in FACTORS])
@pytest.mark.parametrize("notation, formula", RECURRENT_CORRECT, ids=[f for _, f in RECURRENT_CORRECT])
def test_a_scaled_correct_bptt_formula_is_incorrect(notation, formula, name, factor):
    from symbackprop.checker._recurrent_check import check_recurrent
    from symbackprop.rendering._recurrent_letters import in_letters
    layer = layer_record("rnn").layer()
    if notation != "canonical":
        layer = in_letters(layer, notation)
    options = {} if notation == "canonical" else {"notation": notation}
    assert check_recurrent(formula, layer, **options).verdict == "correct"
    verdict = check_recurrent(_spoiled(formula, factor), layer, **options)
    assert verdict.verdict == "incorrect", f"{name} x RHS of {formula!r} was judged {verdict.verdict}"

"""Negative controls for the formula checker: every formula it accepts, spoiled, must be refused.

For each correct formula of the checker's test tables (tests/test_check.py, tests/test_cli_check.py)
the variants k × RHS (k = 2, ½, −1), the quadratic cost without its ½ (where the formula carries
the cost's a − y), and a transposed factor (a transpose dropped, or a weight's two indices
swapped) must come back incorrect. A checker that also accepted 2 × RHS, or whose tolerance
swallowed a factor, fails here. The verdict is what ``assess`` decides (``check`` only adds the
diagnosis's words, which tests/test_check.py covers), so the decision is called directly.
"""
from __future__ import annotations

import pytest

import symbackprop as sb
from symbackprop import derive
from symbackprop.checker import _conventions as C
from symbackprop.checker._assess import assess
from symbackprop.grammar import parse_formula

from test_check import CORRECT

CLI_QUADRATIC = sb.Network((3, 4, 2), hidden="sigmoid", output="sigmoid", loss="quadratic", l2=0, bias="separate")
CLI_NG = sb.Network((5, 4, 3), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1, bias="column")
EX4 = sb.Network((400, 25, 10), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1, bias="column")
# the formulas tests/test_cli_check.py expects `symbackprop check` to accept (exit 0)
CLI_CORRECT = [
    ("nielsen", CLI_QUADRATIC, r"\delta^L = (a^L - y) \odot \sigma'(z^L)"),
    ("nielsen", CLI_QUADRATIC, "delta^L = (a^L - y) .* sigma'(z^L)"),
    ("ng-ml", CLI_NG, r"\delta^{(l)} = (\Theta^{(l)})^T \delta^{(l+1)} .* a^{(l)}(1-a^{(l)})"),
    ("ng-ml", EX4, "delta^(L) = a^(L) - y"),
]
TABLE = CORRECT + CLI_CORRECT

# The ½ of C = ½ Σ (a − y)²: a student who drops it gets twice the residual.
HALF = [("(a^L - y)", "2 (a^L - y)"), ("(a^L − y)", "2 (a^L − y)"), ("y_k - t_k", "2 (y_k - t_k)"),
        (r"\nabla_a C", r"2 \nabla_a C")]
# One transposed factor: a transpose dropped, or a weight's (row, column) swapped.
TRANSPOSES = [("^T", ""), ("T}", "}"), (")' *", ") *"), ("_{kj}", "_{jk}"), ("_{jk}", "_{kj}"),
              (r"\Theta_{ij}", r"\Theta_{ji}"), (r"\Delta_{ij}", r"\Delta_{ji}")]


def _split(formula: str):
    op = ":=" if ":=" in formula else "="
    lhs, rhs = formula.split(op, 1)
    return lhs, op, rhs.strip()


def _spoiled(notation, network, formula):
    """(what was changed, the spoiled formula) for one correct formula."""
    lhs, op, rhs = _split(formula)
    condition = ""
    for word in (r"\text{ for }", r"\text{for}", " for ", r"\text{ if }"):   # "... for j >= 1" stays outside the factor
        if word in rhs:
            rhs, condition = rhs.split(word, 1)[0].rstrip(), " " + word.strip() + " " + rhs.split(word, 1)[1]
            break
    variants = [(f"{name} x RHS", f"{lhs}{op} {k} ({rhs}){condition}") for name, k in (("2", "2"), ("1/2", r"\frac{1}{2}"), ("-1", "-"))]
    if network.loss.name == "quadratic":
        for old, new in HALF:
            if old in rhs:
                variants.append((f"no 1/2 in the cost: {old} -> {new}", f"{lhs}{op} {rhs.replace(old, new, 1)}"))
                break
    for old, new in TRANSPOSES:
        if old in rhs:
            variants.append((f"transposed: {old} -> {new}", f"{lhs}{op} {rhs.replace(old, new, 1)}"))
    return variants


CASES = [(notation, network, formula, change, spoiled)
         for notation, network, formula in TABLE for change, spoiled in _spoiled(notation, network, formula)]


def decide(formula: str, network, notation: str) -> str:
    convention = C.convention(notation)
    return assess(parse_formula(formula, convention.name), convention, network, derive(network)).status


def test_the_table_is_accepted_and_every_kind_of_control_is_present():
    changes = {change.split(":")[0] for *_, change, _ in CASES}
    assert {"2 x RHS", "1/2 x RHS", "-1 x RHS", "no 1/2 in the cost", "transposed"} <= changes
    assert sum(change.startswith("transposed") for *_, change, _ in CASES) >= 10
    assert decide(CLI_CORRECT[2][2], CLI_NG, "ng-ml") == "correct"


@pytest.mark.parametrize("notation, network, formula, change, spoiled", CASES,
                         ids=[f"{notation}: {spoiled}" for notation, _, _, _, spoiled in CASES])
def test_spoiled_correct_formula_is_incorrect(notation, network, formula, change, spoiled):
    status = decide(spoiled, network, notation)
    assert status == "incorrect", f"{change}: the checker said {status!r} for {spoiled!r} (correct: {formula!r})"


def test_tolerance_refuses_a_factor_of_one_and_a_half_parts_in_ten_million():
    # The checker's numeric tolerance is 1e-7 relative (documented in checker/_assess.py); a formula off
    # by a factor 1 + 1.5e-7 is wrong and must be refused, so a doubled tolerance is caught.
    network = sb.Network((4, 3, 2), hidden="sigmoid", output="sigmoid", loss="quadratic")
    assert decide(r"\delta^L = (a^L - y) \odot \sigma'(z^L)", network, "nielsen") == "correct"
    assert decide(r"\delta^L = 1.00000015 (a^L - y) \odot \sigma'(z^L)", network, "nielsen") == "incorrect"

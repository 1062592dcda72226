"""Case splits, Octave's statement end and ~=, and ng-ml's column slice: what the reader accepts and
the messages for what it does not (the verdicts themselves are rows of tests/data/check_table.py)."""
import pytest

import symbackprop as sb
from symbackprop.checker import check
from symbackprop.cli import main
from symbackprop.grammar import parse_formula

LEAKY = sb.Network((4, 3, 2), hidden="leaky-relu:alpha=0.2")
BP2 = "δ^l = ((w^{l+1})^T δ^{l+1}) ⊙ "


@pytest.mark.parametrize("cases, message", [
    ("{1 if z^l > 0}", "two cases or more"),
    ("{1 if z^l; α otherwise}", "'otherwise' is read after one comparison"),
    ("{1 if z^l > 0 or z^l < -1; α otherwise}", "unknown name .or."),
])
def test_bad_case_splits_name_the_problem(cases, message):
    with pytest.raises(sb.SymbackpropError, match=message):
        check(BP2 + cases, LEAKY, notation="nielsen")


def test_a_semicolon_inside_a_formula_is_not_a_line_end():
    with pytest.raises(sb.SymbackpropError, match="unexpected ';'"):
        check("δ^l = ((w^{l+1})^T δ^{l+1}); ⊙ σ'(z^l)", LEAKY, notation="nielsen")


def test_the_three_spellings_of_a_case_split_parse_alike():
    """derive's text, LaTeX cases and Python's conditional are one expression: the sum of each case times
    its indicator (the otherwise-case's indicator is the flipped comparison)."""
    texts = ["d = {1 if z > 0; a otherwise}", r"d = \begin{cases} 1 & \text{if } z > 0 \\ a & \text{otherwise} \end{cases}",
             "d = (1 if z > 0 else a)", r"d = \begin{cases} 1 & z > 0 \\ a & z <= 0 \end{cases}"]
    shapes = {repr(parse_formula(text).rhs).replace("delimiter='{'", "delimiter='('") for text in texts}
    assert len({_strip_columns(s) for s in shapes}) == 1


def _strip_columns(text: str) -> str:
    import re
    return re.sub(r"column=\d+", "", text)


def test_slice_of_a_quantity_that_is_not_a_weight_gradient_is_refused():
    with pytest.raises(sb.SymbackpropError, match="slice"):
        check("δ^(l)_{:,0} = δ^(l)", sb.Network((5, 4, 3), bias="column"), notation="ng-ml")


def test_cli_case_split_verdicts_and_exit_codes(capsys):
    net = ["--layers", "4,3,2", "--hidden", "leaky-relu:alpha=0.2"]
    assert main(["check", *net, BP2 + "{1 if z^l > 0; α otherwise}"]) == 0
    assert main(["check", *net, BP2 + "{1 if z^l > 0; 0 otherwise}"]) == 1
    assert main(["check", *net, BP2 + "{1 if z^l > 0}"]) == 2
    err = capsys.readouterr().err
    assert "two cases or more" in err and "Traceback" not in err

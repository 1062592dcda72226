"""The grammar's functions and constants as researchers type them: erf, π, decimals, max/min, clip.

Expected values are SymPy expressions written by hand; a typed decimal must come back exact.
"""
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.checker import check
from symbackprop.errors import ParseError
from symbackprop.grammar import parse_expression, parse_formula
from symbackprop.grammar import _ast as A

a, y, z = sp.symbols("a y z", real=True)
VARS = {"a": a, "y": y, "z": z}


def parse(text):
    return parse_expression(text, VARS)


@pytest.mark.parametrize("text, expected", [
    ("pi", sp.pi),
    (r"\pi", sp.pi),
    ("π", sp.pi),
    ("2π z", 2 * sp.pi * z),
    ("e", sp.E),
    ("e^z", sp.exp(z)),
    ("erf(z)", sp.erf(z)),
    ("erfc(z)", sp.erfc(z)),
    ("sin(z) + cos(z)", sp.sin(z) + sp.cos(z)),
    ("atan(z)", sp.atan(z)),
    ("arctan(z)", sp.atan(z)),
    ("log1p(z)", sp.log(1 + z)),
    ("expm1(z)", sp.exp(z) - 1),
    ("sign(z)", sp.sign(z)),
    ("max(0, z)", sp.Max(0, z)),
    ("min(0, z)", sp.Min(0, z)),
    ("max(a, y)", sp.Max(a, y)),
    ("clip(z, -1, 1)", sp.Min(sp.Max(z, -1), 1)),
    ("max(0, min(1, z/6 + 1/2))", sp.Max(0, sp.Min(1, z / 6 + sp.Rational(1, 2)))),
    ("z*(1 + erf(z/sqrt(2)))/2", z * (1 + sp.erf(z / sp.sqrt(2))) / 2),
])
def test_functions_and_constants(text, expected):
    assert sp.simplify(parse(text) - expected) == 0


def test_decimals_stay_exact_in_every_position():
    gelu_tanh = parse("0.5*z*(1 + tanh(sqrt(2/pi)*(z + 0.044715*z^3)))")
    assert not gelu_tanh.atoms(sp.Float)
    expected = sp.Rational(1, 2) * z * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (z + sp.Rational(44715, 10 ** 6) * z ** 3)))
    assert sp.simplify(gelu_tanh - expected) == 0
    assert parse("z*sigmoid(1.702*z)".replace("sigmoid", "exp")) == z * sp.exp(sp.Rational(851, 500) * z)
    assert parse("max(0.25, z)") == sp.Max(sp.Rational(1, 4), z)
    assert parse("clip(z, -0.5, 1e-1)") == sp.Min(sp.Max(z, -sp.Rational(1, 2)), sp.Rational(1, 10))
    assert parse("z^0.5") == sp.sqrt(z)


def test_a_variable_named_e_is_the_variable_not_the_constant():
    e = sp.Symbol("e")
    assert parse_expression("2*e", {"e": e}) == 2 * e


@pytest.mark.parametrize("text, column, words", [
    ("max(z)", 0, "max takes 2 arguments (max(u, v)), not 1"),
    ("min(z, 1, 2)", 0, "min takes 2 arguments (min(u, v)), not 3"),
    ("clip(z, 1)", 0, "clip takes 3 arguments (clip(u, lo, hi)), not 2"),
    ("max(z,)", 6, "nothing after ','"),
    ("max()", 3, "empty ()"),
    ("max(z, 1", 3, "never closed"),
    ("max z", 0, "max(u, v)"),
    ("z, 1", 1, "unexpected ','"),
    ("gelu(z)", 0, "unknown name 'gelu'"),
    ("tau", 0, "unknown name 'tau'"),
    ("\\alpha", 0, "unexpected character"),
])
def test_errors_name_the_function_and_its_arguments(text, column, words):
    with pytest.raises(ParseError) as info:
        parse(text)
    assert words in info.value.message
    assert info.value.column == column


def test_unknown_name_lists_constants_and_new_functions():
    with pytest.raises(ParseError) as info:
        parse("q")
    for word in ("constants: pi, e", "erf", "clip", "max"):
        assert word in info.value.message


def test_formula_dialect_reads_max_with_two_arguments_and_pi():
    formula = parse_formula(r"a = \max(0, z) + \pi + π")
    call = formula.rhs.left.left
    assert isinstance(call, A.Call) and [type(p).__name__ for p in A.arguments(call.argument)] == ["Number", "Name"]
    assert isinstance(formula.rhs.left.right, A.Name) and formula.rhs.left.right.name == "pi"
    assert formula.rhs.right.name == "pi"


def test_checker_reads_erf_pi_and_max_in_formulas():
    """The derivative of exact GELU, typed by a student in the formula: e^{-z^2/2}/sqrt(2π) and erf."""
    network = sb.Network((3, 4, 2), hidden="gelu", output="identity", loss="quadratic")
    verdict = check(r"\delta^2 = ((W^3)^T \delta^3) \odot ((1 + erf(z^2/sqrt(2)))/2 "
                    r"+ z^2 \odot exp(-(z^2)^2/2)/sqrt(2 \pi))", network, notation="nielsen")
    assert verdict.verdict == "correct", verdict.summary()
    relu = sb.Network((3, 4, 2), hidden="relu", output="identity", loss="quadratic")
    right = check(r"\delta^2 = ((W^3)^T \delta^3) \odot max(0, sign(z^2))", relu, notation="nielsen")
    assert right.verdict == "correct", right.summary()
    wrong = check(r"\delta^2 = ((W^3)^T \delta^3) \odot min(0, sign(z^2))", relu, notation="nielsen")
    assert wrong.verdict == "incorrect", wrong.summary()


@pytest.mark.parametrize("rhs", [r"\operatorname{sigmoid}(z^{(L)}) - y", r"\mathrm{sigmoid}(z^{(L)}) - y"])
def test_an_operator_name_in_latex_is_a_call(rhs):
    """\\operatorname{f}(x) and \\mathrm{f}(x) call f (the font braces must not make f·x a product)."""
    network = sb.Network((3, 4, 2), hidden="sigmoid", output="sigmoid", loss="cross-entropy")
    verdict = check(r"\delta^{(L)} = " + rhs, network, notation="ng-ml")
    assert verdict.correct, verdict

"""The layer language: the issue's batch-norm text accepted as written; every kind of bad text refused
with the line, a caret and what was expected (never a traceback)."""
from __future__ import annotations

import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.layers import LAYERS, Layer

ISSUE_TEXT = """\
input  x[N, D]
param  gamma[D], beta[D]
const  eps = 1e-5
mu[d] = sum(x[n, d], n) / N
var[d] = sum((x[n, d] - mu[d])^2, n) / N
xhat[n, d] = (x[n, d] - mu[d]) / sqrt(var[d] + eps)
y[n, d] = gamma[d] * xhat[n, d] + beta[d]
output y
"""


def test_the_issue_text_is_accepted_as_written():
    layer = sb.Layer.parse(ISSUE_TEXT)
    assert [a.name for a in layer.inputs] == ["x"] and [a.name for a in layer.params] == ["gamma", "beta"]
    assert layer.quantities == ("mu", "var", "xhat", "y") and layer.outputs == ("y",)
    N, D = (sp.Symbol(s, integer=True, positive=True) for s in "ND")
    assert layer.arrays["x"].sizes == (N, D) and layer.arrays["mu"].sizes == (D,)
    eps = sp.Symbol("eps", real=True)
    assert layer.constants == {eps: sp.Rational(1, 100000)}
    n, d = (sp.Symbol(s, integer=True) for s in "nd")
    x, mu, var = (sp.IndexedBase(s, real=True) for s in ("x", "mu", "var"))
    assert layer.definition("var").rhs == sp.Sum((x[n, d] - mu[d]) ** 2, (n, 0, N - 1)) / N
    assert layer.definition("xhat").rhs == (x[n, d] - mu[d]) / sp.sqrt(var[d] + eps)


def test_equations_may_come_in_any_order_and_comments_are_ignored():
    text = "# a comment\ninput x[N]\noutput y\ny[n] = 2 * h[n]   # uses h, defined below\nh[n] = x[n]^2\n"
    layer = Layer.parse(text)
    assert layer.quantities == ("h", "y")


def test_builtin_records_all_parse():
    assert {record.name for record in LAYERS} >= {"affine", "batchnorm", "layernorm", "softmax", "log-softmax",
                                                  "dropout", "add", "relu", "sigmoid", "tanh"}
    for record in LAYERS:
        assert record.layer().outputs


BAD = [
    ("input x[N, D]\ny[n, d] = x[n, d] +* 2\noutput y", "line 2", "expected a number, a name", "* 2"),
    ("input x[N, D\ny[n, d] = x[n, d]\noutput y", "line 1", "expected ',' or ']'", None),
    ("input x[N, D]\ny[n, d] = x[n, d] $ 2\noutput y", "line 2", "unexpected character '$'", "$"),
    ("input x[N, D]\nconst eps = abc\ny[n, d] = x[n, d]\noutput y", "line 2", "expected a number for the constant eps", "abc"),
    ("input x[N, D]\ny[n, d] = sum(x[n, d])\noutput y", "line 2", "',' and the index to sum over", ")\n"),
]


@pytest.mark.parametrize("text, line, expected, column", BAD)
def test_syntax_errors_name_line_column_and_what_was_expected(text, line, expected, column):
    number = int(line.split()[1])
    source = text.splitlines()[number - 1]
    column = len(source) if column is None else (source + "\n").index(column)
    with pytest.raises(sb.ParseError) as info:
        Layer.parse(text)
    message = str(info.value)
    assert message.startswith(line) and expected in message
    assert info.value.column == column
    assert message.splitlines()[-1] == "  " + " " * column + "^"


MEANING = [
    ("input x[N, D]\ny[n, d] = z[n, d]\noutput y", "undefined array z"),
    ("input x[N, D]\ny[n, d] = x[n, d] * alpha\noutput y", "undefined name alpha"),
    ("input x[N, D]\nparam b[D]\ny[n, d] = b[d]\noutput y", "index n on the left of y is not bound by the right-hand side"),
    ("input x[N, D]\ny[d] = x[n, d]\noutput y", "index n on the right of y is neither on the left nor summed"),
    ("input x[N, D]\nparam b[N]\ny[n, d] = x[n, d] + b[d]\noutput y", "size mismatch: index d ranges over D"),
    ("input x[N, D]\na[n, d] = b[n, d] + x[n, d]\nb[n, d] = a[n, d]\noutput b", "cycle: a -> b -> a"),
    ("input x[N, D]\ny[n] = x[n]\noutput y", "x has 2 axes [N, D] but is given 1 index"),
    ("input x[N, D]\ny[n, d] = foo(x[n, d])\noutput y", "unknown function foo; accepted: sum, abs"),
    ("input x[N, D]\ny[n, d] = x[n, d]", "names no output"),
    ("input x[N, D]\ny[n, d] = x[n, d]\noutput z", "output z is not defined"),
    ("input x[N, D]\ny[n, d] = x[n+1, d]\noutput y", "declare what such reads are: x[..., N pad P, ...]"),
    ("input x[N, D]\ny[n, d] = x[n, d] + sum(x[n, d], k)\noutput y", "sum over k, but no array inside"),
    ("input x[N, D], x[N]\ny[n, d] = x[n, d]\noutput y", "x is declared twice"),
    ("input x[n, D]\ny[n, d] = x[n, d]\noutput y", "size n of x must be capitalised"),
    ("input x[N, D]\ny[n, d] = x[n, n]\noutput y", "appears twice in x[...]"),
    ("input x[N, D]\ny[n, d] = x[n, d] + sum(x[n, d], n)\noutput y", "sum over n, but n is already an index"),
    ("input x[N, D]\ndx[n, d] = x[n, d]\noutput dx", "dx would be the name of the gradient of x"),
]


@pytest.mark.parametrize("text, expected", MEANING)
def test_meaning_errors_are_layer_spec_errors(text, expected):
    with pytest.raises(sb.LayerSpecError) as info:
        Layer.parse(text)
    assert expected in str(info.value)


def test_a_meaning_error_points_at_the_bad_name():
    with pytest.raises(sb.LayerSpecError) as info:
        Layer.parse("input x[N, D]\nparam b[N]\ny[n, d] = x[n, d] + b[d]\noutput y")
    lines = str(info.value).splitlines()
    assert lines[1] == "  y[n, d] = x[n, d] + b[d]" and lines[2].index("^") == lines[1].index("b[d]") + 2


def test_text_is_never_evaluated():
    with pytest.raises(sb.SymbackpropError):
        Layer.parse("input x[N]\ny[n] = __import__('os').system('echo hi')\noutput y")
    with pytest.raises(sb.SymbackpropError):
        Layer.parse(42)

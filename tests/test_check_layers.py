"""``check --layer``: the table of student formulas per layer (tests/data/layer_check_table.py), a layer
of the user's (--layer-def), and bad input (exit 2, a message, never a traceback)."""
import json

import pytest

from symbackprop.checker._layer_check import check_layer
from symbackprop.cli import main
from symbackprop.layers import Layer, layer_record
from data.layer_check_table import ROWS


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.layer}:{r.formula}" for r in ROWS])
def test_layer_table_row(row):
    verdict = check_layer(row.formula, layer_record(row.layer).layer())
    assert verdict.verdict == row.verdict, f"{row.source}\n{verdict.summary()}"
    for word in row.words:
        assert word in verdict.diagnosis, f"{row.source}: '{word}' missing\n{verdict.summary()}"


def test_table_covers_both_layers_and_both_verdicts():
    assert {r.layer for r in ROWS} == {"batchnorm", "layernorm", "attention"}
    assert {r.verdict for r in ROWS} == {"correct", "incorrect"}


SCALED_TANH = """\
input  x[N, D]
param  a[D]
y[n, d] = tanh(a[d] * x[n, d])
output y
"""


def test_a_layer_of_the_users(tmp_path, capsys):
    """d/dx tanh(a x) = a (1 - tanh²(a x)); d/da = Σ_n x (1 - tanh²(a x)) dout (by hand)."""
    path = tmp_path / "scaled.layer"
    path.write_text(SCALED_TANH)
    assert main(["check", "--layer-def", str(path), "dx = dout * a * (1 - y**2)"]) == 0
    assert main(["check", "--layer-def", str(path), "da = np.sum(dout * x * (1 - y**2), axis=0)"]) == 0
    assert main(["check", "--layer-def", str(path), "dx = dout * (1 - y**2)"]) == 1
    layer = Layer.parse(SCALED_TANH, "scaled")
    assert check_layer("dx[n, d] = dout[n, d] * a[d] * (1 - y[n, d]^2)", layer).verdict == "correct"


@pytest.mark.parametrize("formula, message", [
    ("dx = gamma * dout / np.sqrt(var + eps", "never closed"),
    ("dq = 1", "no gradient of the layer batchnorm"),
    ("dx = gamma * doubt", "unknown name 'doubt'"),
    ("dx[n, d] = gamma[d] * dout[n, q]", "index q on the right of dx is neither on the left nor summed"),
])
def test_bad_formulas_exit_2_with_a_message(formula, message, capsys):
    assert main(["check", "--layer", "batchnorm", "--notation", "cs231n", formula]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "internal error" not in err


def test_cs231n_notation_needs_a_layer(capsys):
    assert main(["check", "--notation", "cs231n", "dx = dout"]) == 2
    assert "--layer" in capsys.readouterr().err


SELF_ATTENTION = """\
input  Q[N, D], K[N, D], V[N, F]
S[n, m] = sum(Q[n, d] * K[m, d], d) / sqrt(D)
s[n] = sum(exp(S[n, j]), j)
A[n, m] = exp(S[n, m]) / s[n]
O[n, f] = sum(A[n, m] * V[m, f], m)
output O
"""


@pytest.mark.parametrize("formula, verdict, words", [
    ("dK = dS.T @ Q / np.sqrt(D)", "correct", ()),
    (r"dK = dS^T Q / \sqrt{d}", "correct", ()),
    # N = M: dS Q has dK's shape, so only the values tell; the transposed dS is named all the same
    ("dK = dS @ Q / np.sqrt(D)", "incorrect", ("dK with dS transposed",)),
    (r"dK = dS Q / \sqrt{d}", "incorrect", ("dK with dS transposed",)),
    ("dS = A * dA", "incorrect", ("the rowsum term is missing", "the normaliser s treated as a constant")),
    ("dS = A * (dA - (A * dA).sum(axis=1, keepdims=True))", "correct", ()),
])
def test_self_attention_keys_as_many_as_queries(formula, verdict, words):
    """Self-attention (K has N rows, S is [N, N]): a transposed dS fits every shape and is still named."""
    result = check_layer(formula, Layer.parse(SELF_ATTENTION, "self-attention"))
    assert result.verdict == verdict, result.summary()
    for word in words:
        assert word in result.diagnosis, result.summary()


def test_json_verdict_and_counterexample(capsys):
    assert main(["check", "--layer", "attention", "--json", "dS = A * dA"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "incorrect" and result["notation"] == "cs231n"
    assert result["counterexample"]["sizes"] and result["counterexample"]["expected"]


def test_an_unknown_layer_is_refused(capsys):
    assert main(["check", "--layer", "nosuchlayer", "dx = dout"]) == 2
    assert "unknown layer 'nosuchlayer'; accepted: affine, batchnorm" in capsys.readouterr().err


def test_derive_layer_in_the_cs231n_notation_names_out_and_dout(capsys):
    from symbackprop.rendering.layer_notations import CS231N
    layer = CS231N.apply(layer_record("batchnorm").layer())
    assert layer.outputs == ("out",)
    assert main(["derive", "--layer", "batchnorm", "--notation", "cs231n"]) == 0
    out = capsys.readouterr().out
    assert "dout[n, d]" in out and "dy[" not in out
    assert main(["derive", "--layer", "batchnorm", "--notation", "ng-ml"]) == 2
    assert "unknown layer notation 'ng-ml'; accepted: cs231n" in capsys.readouterr().err


def test_a_truncated_counterexample_says_which_entries_it_shows(capsys):
    assert main(["check", "--layer", "batchnorm", "dx = gamma / np.sqrt(var + eps) * dout"]) == 1
    out = capsys.readouterr().out
    expected_line = next(line for line in out.splitlines() if line.strip().startswith("expected"))
    shown_columns = expected_line.split("], [")[0].count(",") + 1
    sizes = dict(part.split(" = ") for part in out.split("counterexample at ")[1].split(" (")[0].split(", "))
    assert shown_columns < int(sizes["D"])
    assert f"of the {sizes['N']} × {sizes['D']} array" in out


def test_json_counterexample_has_the_full_shape(capsys):
    assert main(["check", "--layer", "batchnorm", "--json", "dgamma = np.sum(dout, axis=0)"]) == 1
    example = json.loads(capsys.readouterr().out)["counterexample"]
    assert example["shape"] == [int(example["sizes"]["D"])]

"""The terminal and JSON renderings, and the render() entry point."""
import json

import pytest

from symbackprop import Network, derive
from symbackprop.errors import SymbackpropError, UnknownNameError
from symbackprop.rendering import FORMATS, render, render_quantity
from symbackprop.rendering._accumulator import accumulator_steps


@pytest.fixture(scope="module")
def ex4():
    return derive(Network((400, 25, 10), l2=1, bias="column"))


@pytest.fixture(scope="module")
def softmax():
    return derive(Network((4, 5, 3), hidden="relu", output="softmax", loss="categorical-cross-entropy"))


def test_text_numbers_steps_with_rule_and_note(ex4):
    text = render(ex4, "text", "ng-ml")
    assert text.startswith("Backpropagation derived for a 400-25-10 network")
    assert "  (1) cost = " in text
    assert "(5) ∂cost/∂z^(L)_i = Σ_k ∂cost/∂a^(L)_k ∂a^(L)_k/∂z^(L)_i" in text
    assert "[chain rule: z^(L)_i reaches the cost through every output activation a^(L)_k]" in text
    assert "δ^(L)_i = a^(L)_i - y_i" in text
    assert "The derivative of sigmoid cancelled" in text
    last = len(ex4.steps) + len(accumulator_steps(ex4))   # ng-ml adds Ng's own Δ/D form
    assert len(accumulator_steps(ex4)) == 4
    assert f"({last}) " in text and f"({last + 1}) " not in text


def test_cancellation_is_written_as_a_teacher_writes_it(ex4):
    # the issue's own wording: (-y/a + (1 - y)/(1 - a)) · a(1 - a) = a - y, not -(y - 1)/(1 - a)
    text = render(ex4, "text", "nielsen")
    assert "∂C/∂a^L_k = -y_k/a^L_k + (1 - y_k)/(1 - a^L_k)" in text
    assert "δ^L_i = (-y_i/a^L_i + (1 - y_i)/(1 - a^L_i)) · a^L_i (1 - a^L_i)" in text
    assert "y_i - 1" not in text and "y_k - 1" not in text


def test_text_has_no_sympy_internals(softmax):
    for notation in ("ng-ml", "ng-dls", "nielsen", "goodfellow", "bishop"):
        text = render(softmax, "text", notation)
        for internal in ("Piecewise", "Indexed", "LayerArray", "KroneckerDelta", "Derivative(", "Sum(", "**", "\\"):
            assert internal not in text, (notation, internal)
    assert "1[z^l > 0]" in render(softmax, "text", "nielsen")   # relu' as an indicator


def test_json_object(ex4):
    data = json.loads(render(ex4, "json", "ng-ml"))
    assert data["schema"] == "symbackprop.derivation/1"
    assert data["network"] == {"sizes": [400, 25, 10], "hidden": ["sigmoid"], "output": "sigmoid",
                               "loss": "cross-entropy", "l2": 1, "bias": "column"}
    out = data["output_delta"]
    assert out["expr"] == "a - y" and out["cancels"] is True
    assert out["latex"] == r"\delta^{(L)} = a^{(L)} - y" and out["vector"] == "δ^(L) = a^(L) - y"
    assert data["hidden_delta"]["expr"] == "a*e*(1 - a)"
    assert [h["layer"] for h in data["hidden_deltas"]] == [2]
    assert data["weight_gradient"]["expr"] == "a_prev*delta"
    assert data["bias_gradient"]["expr"] == "delta"
    assert len(data["steps"]) == len(ex4.steps) + len(accumulator_steps(ex4))
    assert set(data["steps"][0]) == {"number", "quantity", "layer", "rule", "note", "note_text", "note_latex",
                                     "latex", "text"}
    assert data["steps"][9]["note_text"] == "∂cost/∂a^(L)_i times the activation's derivative"
    assert data["code"]["language"] == "octave" and data["code"]["lines"][2] == "d3 = a3 - y_matrix;"
    assert data["assumptions"] == []


def test_json_softmax_records_the_assumption(softmax):
    data = json.loads(render(softmax, "json"))
    assert data["output_delta"]["expr"] == "a - y"
    assert data["assumptions"][0]["latex"] == r"\sum_{k=1}^{n^{L}} y_{k} = 1"
    assert any(step["rule"] == "assumption" for step in data["steps"])


def test_every_format_renders(softmax):
    for fmt in FORMATS:
        assert render(softmax, fmt, "goodfellow").strip()


def test_bad_arguments_are_refused(ex4):
    with pytest.raises(UnknownNameError, match="unknown format 'pdf'; accepted: text, json, latex, tex, html"):
        render(ex4, "pdf")
    with pytest.raises(UnknownNameError, match="unknown notation 'ng'"):
        render(ex4, "text", "ng")
    with pytest.raises(SymbackpropError, match="takes a symbackprop Derivation"):
        render("not a derivation")
    with pytest.raises(UnknownNameError, match="unknown quantity"):
        render_quantity(ex4, "delta")
    with pytest.raises(SymbackpropError, match="has no batch form"):
        render_quantity(ex4, "output_delta", form="batch")


def test_per_layer_hidden_deltas_when_activations_differ():
    d = derive(Network((4, 3, 3, 2), hidden=["tanh", "relu"]))
    text = render(d, "text", "ng-dls")
    assert "The error of hidden layer 2" in text and "The error of hidden layer 3" in text
    assert "dz^[1] = " in text and "dz^[2] = " in text    # DLS numbers the input layer 0
    with pytest.raises(SymbackpropError, match="different activations"):
        render_quantity(d, "hidden_delta")

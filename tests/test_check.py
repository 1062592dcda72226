"""The formula checker: textbook formulas in the five notations, right and deliberately wrong.

Every formula below is typed by hand from the textbooks (see ../shared/NOTATIONS.md); the
expected verdicts are what those books say. The checker itself only compares with what the
engine derives.
"""
import json

import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.checker import Verdict, check
from symbackprop.errors import ParseError, UnknownNameError

NIELSEN_QUADRATIC = sb.Network((4, 3, 2), hidden="sigmoid", output="sigmoid", loss="quadratic")
NIELSEN_CROSS_ENTROPY = sb.Network((4, 3, 2), hidden="sigmoid", output="sigmoid", loss="cross-entropy")
NG_ML = sb.Network((5, 4, 3), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1, bias="column")
NG_ML_SEPARATE = sb.Network((5, 4, 3), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1)
NG_DLS = sb.Network((5, 4, 3), hidden="relu", output="sigmoid", loss="cross-entropy")
GOODFELLOW = sb.Network((5, 4, 3), hidden="tanh", output="sigmoid", loss="cross-entropy", l2=0.5)
BISHOP = sb.Network((5, 4, 3), hidden="tanh", output="identity", loss="quadratic")
DEEP = sb.Network((3, 4, 5, 2), hidden=["tanh", "relu"], output="softmax", loss="categorical-cross-entropy")

CORRECT = [
    # Nielsen, chapter 2: BP1-BP4, vector and index forms, LaTeX and plain text
    ("nielsen", NIELSEN_QUADRATIC, r"\delta^L = \nabla_a C \odot \sigma'(z^L)"),
    ("nielsen", NIELSEN_QUADRATIC, r"\delta^L = (a^L - y) \odot \sigma'(z^L)"),
    ("nielsen", NIELSEN_QUADRATIC, "delta^L = (a^L - y) .* a^L .* (1 - a^L)"),
    ("nielsen", NIELSEN_QUADRATIC, "δ^L = (a^L − y) ⊙ σ′(z^L)"),
    ("nielsen", NIELSEN_QUADRATIC, r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l)"),
    ("nielsen", NIELSEN_QUADRATIC, r"\delta_j^l = \sum_k w_{kj}^{l+1} \delta_k^{l+1} \sigma'(z_j^l)"),
    ("nielsen", NIELSEN_QUADRATIC, r"\frac{\partial C}{\partial b^l_j} = \delta^l_j"),
    ("nielsen", NIELSEN_QUADRATIC, r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j"),
    ("nielsen", NIELSEN_QUADRATIC, r"\frac{\partial C}{\partial w^l} = \delta^l (a^{l-1})^T"),
    ("nielsen", NIELSEN_QUADRATIC, r"\frac{\partial C}{\partial z^L} = (a^L - y) * \sigma'(z^L)"),
    # Nielsen, chapter 3: with cross-entropy sigma' cancels
    ("nielsen", NIELSEN_CROSS_ENTROPY, r"\delta^L = a^L - y"),
    # Ng, Machine Learning: Theta^(l) maps l to l+1, .* elementwise, ' transpose, bias column
    ("ng-ml", NG_ML, r"\delta^{(L)} = a^{(L)} - y"),
    ("ng-ml", NG_ML, r"\delta^{(l)} = (\Theta^{(l)})^T \delta^{(l+1)} .* a^{(l)}(1-a^{(l)})"),
    ("ng-ml", NG_ML, "delta^(l) = Theta^(l)' * delta^(l+1) .* g'(z^(l))"),
    ("ng-ml", NG_ML, r"\Delta^{(l)} := \Delta^{(l)} + \delta^{(l+1)} (a^{(l)})^T"),
    # ex4 2.5: the λ term for the columns j >= 1 only (without the condition it claims the bias column too)
    ("ng-ml", NG_ML, r"D_{ij}^{(l)} = \frac{1}{m} \Delta_{ij}^{(l)} + \frac{\lambda}{m} \Theta_{ij}^{(l)} \text{ for } j \geq 1"),
    ("ng-ml", NG_ML_SEPARATE, r"D^{(l)} = \frac{1}{m} \Delta^{(l)} + \frac{\lambda}{m} \Theta^{(l)}"),
    # Ng, Deep Learning Specialization: examples as columns, * elementwise
    ("ng-dls", NG_DLS, r"dZ^{[L]} = A^{[L]} - Y"),
    ("ng-dls", NG_DLS, r"dW^{[l]} = \frac{1}{m} dZ^{[l]} A^{[l-1]T}"),
    ("ng-dls", NG_DLS, "dW^[l] = 1/m dZ^[l] A^[l-1]T"),
    ("ng-dls", NG_DLS, r"db^{[l]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[l]}"),
    ("ng-dls", NG_DLS, "dZ^[l] = dA^[l] * g^[l]'(Z^[l])"),
    ("ng-dls", NG_DLS, r"dA^{[l-1]} = W^{[l]T} dZ^{[l]}"),
    ("ng-dls", NG_DLS, r"dz^{[L]} = a^{[L]} - y"),
    ("ng-dls", NG_DLS, r"dW^{[l]} = dz^{[l]} a^{[l-1]T}"),
    # Goodfellow, algorithm 6.4: a is the pre-activation, h the activation, g the running gradient
    ("goodfellow", GOODFELLOW, r"\nabla_{a^{(k)}} J = g \odot f'(a^{(k)})"),
    ("goodfellow", GOODFELLOW, r"\nabla_{a^{(l)}} J = \hat{y} - y"),
    ("goodfellow", GOODFELLOW, r"\nabla_{W^{(k)}} J = g h^{(k-1)T} + \lambda \nabla_{W^{(k)}} \Omega"),
    ("goodfellow", GOODFELLOW, r"\nabla_{b^{(k)}} J = g"),
    # Bishop, section 5.3: a pre-activation, z activation, y outputs, t targets, unit letters say the layer
    ("bishop", BISHOP, r"\delta_k = y_k - t_k"),
    ("bishop", BISHOP, r"\delta_j = h'(a_j) \sum_k w_{kj} \delta_k"),
    ("bishop", BISHOP, r"\delta_j = (1 - z_j^2) \sum_k w_{kj} \delta_k"),
    ("bishop", BISHOP, r"\frac{\partial E_n}{\partial w_{ji}} = \delta_j z_i"),
    # more layers, softmax output, mixed hidden activations
    ("nielsen", DEEP, r"\delta^L = a^L - y"),
    ("nielsen", DEEP, r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l)"),
    ("nielsen", DEEP, r"\delta^2 = ((w^3)^T \delta^3) \odot (1 - (a^2)^2)"),
]


@pytest.mark.parametrize("notation, network, formula", CORRECT)
def test_correct_formulas(notation, network, formula):
    verdict = check(formula, network, notation=notation)
    assert verdict.verdict == "correct", verdict.summary()
    assert verdict.method in ("symbolic", "numeric")
    assert verdict.counterexample is None


# (notation, network, formula, method, words that the diagnosis must contain)
INCORRECT = [
    # a missing derivative factor
    ("nielsen", NIELSEN_QUADRATIC, r"\delta^L = a^L - y", "numeric", ["factor sigmoid'(z^L)", "missing"]),
    ("nielsen", NIELSEN_QUADRATIC, r"\delta^l = (w^{l+1})^T \delta^{l+1}", "numeric", ["σ'(z^l)", "missing"]),
    ("ng-dls", NG_DLS, r"dZ^{[l]} = W^{[l+1]T} dZ^{[l+1]}", "numeric", ["missing"]),
    ("bishop", BISHOP, r"\delta_j = \sum_k w_{kj} \delta_k", "numeric", ["missing"]),
    # an extra derivative factor
    ("nielsen", NIELSEN_CROSS_ENTROPY, r"\delta^L = (a^L - y) \odot \sigma'(z^L)", "numeric",
     ["quadratic cost", "under cross-entropy the sigmoid'(z^L) factor cancels"]),
    ("ng-ml", NG_ML, r"\delta^{(L)} = (a^{(L)} - y) .* a^{(L)} .* (1 - a^{(L)})", "numeric", ["quadratic cost"]),
    ("goodfellow", GOODFELLOW, r"\nabla_{a^{(l)}} J = (\hat{y} - y) \odot f'(a^{(l)})", "numeric", ["quadratic cost"]),
    ("nielsen", NIELSEN_QUADRATIC, r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l) \odot \sigma'(z^l)",
     "numeric", ["extra factor"]),
    # a wrong transpose
    ("nielsen", NIELSEN_QUADRATIC, r"\frac{\partial C}{\partial w^l} = a^{l-1} (\delta^l)^T", "shape", ["transpose"]),
    ("ng-dls", NG_DLS, r"dW^{[l]} = \frac{1}{m} A^{[l-1]} dZ^{[l]T}", "shape", ["transpose"]),
    ("goodfellow", GOODFELLOW, r"\nabla_{W^{(k)}} J = h^{(k-1)} g^T + \lambda W^{(k)}", "shape", ["cannot add"]),
    ("nielsen", NIELSEN_QUADRATIC, r"\delta^l = (w^{l+1} \delta^{l+1}) \odot \sigma'(z^l)", "shape",
     ["cannot multiply 'w^{l+1}'", "'δ^{l+1}'", "transpose"]),
    ("bishop", BISHOP, r"\delta_j = h'(a_j) \sum_k w_{jk} \delta_k", "shape", ["indices do not fit"]),
    # a shifted layer index
    ("ng-ml", NG_ML, r"\delta^{(l)} = (\Theta^{(l+1)})^T \delta^{(l+1)} .* a^{(l)}(1-a^{(l)})", "layer",
     ["correct in the nielsen convention", "in ng-ml, \\Theta^{(l)} maps layer l to layer l+1"]),
    ("nielsen", NIELSEN_QUADRATIC, r"\delta^l = ((w^l)^T \delta^{l+1}) \odot \sigma'(z^l)", "shape",
     ["correct in the ng-ml convention"]),
    # Bishop numbers the input layer 0 (as the notation record does): δ_i would be the input layer's
    ("bishop", BISHOP, r"\frac{\partial E_n}{\partial w_{ji}} = \delta_i z_j", "layer", ["layer 0"]),
    # a sign error
    ("nielsen", NIELSEN_QUADRATIC, r"\delta^L = (y - a^L) \odot \sigma'(z^L)", "numeric", ["sign error"]),
    ("ng-dls", NG_DLS, r"dZ^{[L]} = Y - A^{[L]}", "numeric", ["sign error"]),
    ("bishop", BISHOP, r"\delta_k = t_k - y_k", "numeric", ["sign error"]),
    # a missing 1/m, a missing lambda term, lambda on the bias column
    ("ng-dls", NG_DLS, r"dW^{[l]} = dZ^{[l]} A^{[l-1]T}", "numeric", ["without the 1/m"]),
    ("ng-ml", NG_ML_SEPARATE, r"D^{(l)} = \Delta^{(l)} + \frac{\lambda}{m} \Theta^{(l)}", "numeric", ["1/m is missing"]),
    ("ng-ml", NG_ML, r"D^{(l)} = \frac{1}{m} \Delta^{(l)}", "numeric", ["L2 term is missing"]),
    ("ng-ml", NG_ML, r"D^{(l)} = \frac{1}{m} \Delta^{(l)} + \frac{\lambda}{m} \Theta^{(l)}", "numeric", ["bias column"]),
    ("goodfellow", GOODFELLOW, r"\nabla_{W^{(k)}} J = g h^{(k-1)T}", "numeric", ["no λ term"]),
]


@pytest.mark.parametrize("notation, network, formula, method, words", INCORRECT)
def test_incorrect_formulas_are_diagnosed(notation, network, formula, method, words):
    verdict = check(formula, network, notation=notation)
    assert verdict.verdict == "incorrect", verdict.summary()
    assert verdict.method == method, verdict.summary()
    for word in words:
        assert word in verdict.diagnosis, verdict.summary()


def test_counterexample_has_sizes_values_and_both_results():
    verdict = check(r"\delta^L = (y - a^L) \odot \sigma'(z^L)", NIELSEN_QUADRATIC)
    example = verdict.counterexample
    assert set(example) >= {"sizes", "inputs", "expected", "formula", "layers"}
    assert "m" not in example and "lambda" not in example     # one example's δ^L has neither (issue 25)
    assert "a^3" in example["inputs"] and "y" in example["inputs"]   # named as Nielsen writes them
    # the counterexample is honest: the formula's values are minus the expected ones (a sign error)
    expected = sp.Matrix(example["expected"])
    formula = sp.Matrix(example["formula"])
    assert (expected + formula).norm() < 1e-6 * (1 + expected.norm())
    # and the expected values are the textbook δ^L = (a - y) a (1 - a), computed here by hand
    a, y = example["inputs"]["a^3"], example["inputs"]["y"]
    for (a_i,), (y_i,), (e_i,) in zip(a, y, example["expected"]):
        assert abs((a_i - y_i) * a_i * (1 - a_i) - e_i) < 1e-5


def test_bias_row_convention_is_reported():
    verdict = check(r"\delta^{(l)} = (\Theta^{(l)})^T \delta^{(l+1)} .* a^{(l)}(1-a^{(l)})", NG_ML, notation="ng-ml")
    assert verdict.correct
    assert any("bias row" in note for note in verdict.notes)


def test_nielsen_formula_read_in_ng_ml_is_wrong_and_says_why():
    # The example: Nielsen's Θ^(l+1) is Ng's Θ^(l); both right in their own convention.
    formula = r"\delta^{(l)} = (\Theta^{(l+1)})^T \delta^{(l+1)} .* a^{(l)}(1-a^{(l)})"
    assert check(formula, NG_ML, notation="nielsen").correct
    verdict = check(formula, NG_ML, notation="ng-ml")
    assert not verdict.correct
    assert "correct in the nielsen convention" in verdict.diagnosis


def test_symbolic_proof_is_reported():
    verdict = check(r"\delta_j^l = \sum_k w_{kj}^{l+1} \delta_k^{l+1} \sigma'(z_j^l)", NIELSEN_QUADRATIC)
    assert verdict.method == "symbolic"
    assert "proved symbolically" in verdict.diagnosis


def test_numeric_decision_is_reported_when_simplification_does_not_prove_it():
    # relu'(z) written as (1 + |z|/z)/2: exact algebra does not see through |z|/z, random values do
    network = sb.Network((3, 4, 2), hidden="relu", output="sigmoid", loss="cross-entropy")
    verdict = check(r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \frac{1}{2}(1 + abs(z^l)/z^l)", network)
    assert verdict.correct and verdict.method == "numeric"
    assert "random layer sizes and values" in verdict.diagnosis


def test_quantity_is_recognised_and_named():
    verdict = check(r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j", NIELSEN_QUADRATIC)
    assert "∂C/∂w^l" in verdict.quantity and "index form" in verdict.quantity   # Nielsen writes w


def test_ambiguous_star_is_undecided():
    network = sb.Network((3, 3, 3), hidden="sigmoid", output="sigmoid", loss="cross-entropy")
    # W^{l}^T W^{l} is square; '*' between two square matrices could be either product
    verdict = check(r"\frac{\partial C}{\partial w^l} = ((w^l)^T w^l) * ((w^l)^T w^l)", network)
    assert verdict.verdict == "undecided" and verdict.method == "ambiguous"
    assert "write @" in verdict.diagnosis


def test_no_hidden_layer():
    network = sb.Network((3, 2), output="sigmoid", loss="cross-entropy")
    verdict = check(r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l)", network)
    assert verdict.verdict == "incorrect" and verdict.method == "layer"
    assert "no hidden layer" in verdict.diagnosis


@pytest.mark.parametrize("formula, words, column", [
    (r"\delta^L = (a^L - y", "never closed", 11),
    (r"\delta^L", "no '='", 8),
    (r"q^L = a^L - y", "names no quantity", 0),
    (r"\delta^L = a^L - q", "unknown name 'q'", 17),
    (r"\delta^L = \foo", "unknown LaTeX command", 11),
    (r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(w^{l+1})", "which layer's activation", 44),
    (r"\delta^L = a^l - y", "the layer l is not fixed", 11),
])
def test_unreadable_formulas_raise_parse_error(formula, words, column):
    with pytest.raises(ParseError) as info:
        check(formula, NIELSEN_QUADRATIC)
    assert words in info.value.message
    assert info.value.column == column


def test_unknown_notation():
    with pytest.raises(UnknownNameError, match="ng-ml"):
        check("delta^L = a^L - y", NIELSEN_QUADRATIC, notation="strang")


def test_verdict_is_frozen_and_serialisable():
    verdict = check(r"\delta^L = a^L - y", NIELSEN_QUADRATIC)
    assert isinstance(verdict, Verdict)
    with pytest.raises(AttributeError):
        verdict.verdict = "correct"
    data = json.loads(json.dumps(verdict.to_dict()))
    assert data["verdict"] == "incorrect" and data["counterexample"]["sizes"]
    assert verdict.exit_code == 1


def test_results_are_reproducible():
    a = check(r"\delta^L = a^L - y", NIELSEN_QUADRATIC, seed=3)
    b = check(r"\delta^L = a^L - y", NIELSEN_QUADRATIC, seed=3)
    assert a == b


@pytest.mark.parametrize("formula, words, column", [
    ("Theta1_grad(:, 2:end) = Delta1(:, 2:end)/m", "one whole column of a weight gradient", 11),
    ("Theta1_grad(1, :) = Delta1(1, :)/m", "one whole column of a weight gradient", 11),
    ("a2(:, 1) = sigmoid(z2)", "names no quantity", 0),
    ("Theta1_grad(:, 7) = Delta1(:, 7)/m", "names the column j = 6, which this weight gradient does not have", 11),
    (r"\frac{\partial J}{\partial \Theta^{(1)}_{:,6}} = \frac{1}{m} (d^{(2)})^T \mathbf{1}", "columns are j = 0..5", 0),
])
def test_octave_index_on_the_left_is_a_column_or_a_clear_error(formula, words, column):
    # Theta1_grad(:, 1), the bias column, is read (tests/data/check_table.py); other indexing is named
    with pytest.raises(ParseError) as info:
        check(formula, NG_ML, notation="ng-ml")
    assert words in info.value.message
    assert info.value.column == column

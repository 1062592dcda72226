"""``symbackprop check`` as a newcomer meets it (issue 25): code names of derivatives, Goodfellow's outer
product with h first, and the wording of verdicts.

Every verdict here comes from the checker's comparison with the derivation; each correct case has a
negative control (a wrong formula of the same shape judged incorrect), so the tests can fail.
"""
import numpy as np
import pytest

from symbackprop.cli import main

QUADRATIC = ["--loss", "quadratic", "--bias", "separate", "--l2", "0"]
DLS = ["--layers", "3,4,2", "--hidden", "sigmoid", "--output", "sigmoid", *QUADRATIC, "--notation", "ng-dls"]
GOODFELLOW = ["--notation", "goodfellow", "--layers", "3,4,4,2", "--hidden", "tanh", "--output", "softmax",
              "--loss", "categorical-cross-entropy", "--bias", "separate"]


def run(capsys, *argv):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. code names of derivatives -----------------------------------------------------------------------
@pytest.mark.parametrize("notation, formula", [
    ("nielsen", "delta^L = (a^L - y) * sigmoid_prime(z^L)"),          # Nielsen's network.py
    ("ng-ml", "delta3 = (a3 - y) .* sigmoidGradient(z3)"),             # Ng's ex4 sigmoidGradient.m
    ("nielsen", "delta^L = (a^L - y) * sigmoidGradient(z^L)"),         # the same function in any notation
])
def test_code_name_of_the_derivative_is_read_as_the_derivative(capsys, notation, formula):
    code, out, err = run(capsys, *QUADRATIC, "--notation", notation, formula)
    assert code == 0, out + err
    assert out.startswith("correct")


@pytest.mark.parametrize("notation, formula", [
    ("nielsen", "delta^L = (a^L - y) * sigmoid(z^L)"),        # the activation, not its derivative
    ("nielsen", "delta^L = (y - a^L) * sigmoid_prime(z^L)"),  # the sign
    ("ng-ml", "delta3 = 2 * (a3 - y) .* sigmoidGradient(z3)"),
])
def test_negative_controls_of_the_code_names(capsys, notation, formula):
    code, out, err = run(capsys, *QUADRATIC, "--notation", notation, formula)
    assert code == 1, out + err
    assert out.startswith("incorrect")


@pytest.mark.parametrize("name", ["sigmoid_foo", "relu_prim", "tanh_grad"])
def test_unknown_function_is_refused_with_a_caret_under_its_name(capsys, name):
    formula = f"delta^L = (a^L - y) * {name}(z^L)"
    code, out, err = run(capsys, *QUADRATIC, "--notation", "nielsen", formula)
    assert code == 2 and out == ""
    assert f"unknown function {name!r}" in err
    assert "sigmoid_prime" in err and "sigma" in err          # what would be accepted
    lines = err.splitlines()
    assert lines[-2].strip() == formula
    assert lines[-1].index("^") - lines[-2].index("d") == formula.index(name)


def test_code_name_takes_one_argument(capsys):
    code, _, err = run(capsys, *QUADRATIC, "delta^L = (a^L - y) * sigmoid_prime(z^L, 2)")
    assert code == 2 and "sigmoid_prime takes one argument" in err


def test_primed_code_name_is_the_next_derivative(capsys):
    import json
    values = []
    for written in ("sigmoid_prime'(z^L)", "sigma''(z^L)"):
        code, out, _ = run(capsys, *QUADRATIC, "--json", f"delta^L = (a^L - y) * {written}")
        assert code == 1
        values.append(json.loads(out)["counterexample"]["formula"])
    assert values[0] == values[1]


@pytest.mark.parametrize("formula", [
    "dZ2 = sigmoid_backward(dA2, cache)",               # dnn_utils.py: dA * s * (1 - s), s = sigmoid(cache)
    "dZ1 = sigmoid_backward(dA1, activation_cache)",
    "dZ1 = sigmoid_backward(np.dot(W2.T, dZ2), Z1)",     # the cache's Z written out
])
def test_dls_backward_helper_returns_dA_times_the_derivative(capsys, formula):
    code, out, err = run(capsys, *DLS, formula)
    assert code == 0, out + err


@pytest.mark.parametrize("formula", [
    "dZ2 = relu_backward(dA2, cache)",                   # the other activation's helper
    "dZ1 = sigmoid_backward(dA1, Z2)",                   # another layer's Z
    "dZ1 = sigmoid_backward(dA2, cache)",                # another layer's dA
])
def test_dls_backward_helper_negative_controls(capsys, formula):
    code, out, err = run(capsys, *DLS, formula)
    assert code == 1, out + err


def test_relu_backward_in_a_relu_network_is_correct(capsys):
    argv = ["--layers", "3,4,2", "--hidden", "relu", "--output", "sigmoid", *QUADRATIC, "--notation", "ng-dls"]
    assert run(capsys, *argv, "dZ1 = relu_backward(dA1, cache)")[0] == 0
    assert run(capsys, *argv, "dZ1 = sigmoid_backward(dA1, cache)")[0] == 1


@pytest.mark.parametrize("argv, formula, words", [
    ([*QUADRATIC, "--notation", "nielsen"], "delta^L = sigmoid_backward(a^L - y, cache)", "--notation ng-dls"),
    (DLS, "dZ1 = sigmoid_backward(W2.T, cache)", "dA of one layer"),
    (DLS, "dZ1 = sigmoid_backward(dA1)", "takes two arguments"),
])
def test_backward_helper_misuse_is_refused(capsys, argv, formula, words):
    code, out, err = run(capsys, *argv, formula)
    assert code == 2, out + err
    assert words in err and "^" in err


# --- 2. Goodfellow's outer product with h first ------------------------------------------------------------
def test_goodfellow_outer_product_with_h_first_is_a_product(capsys):
    # (h (∇_a J)^T)^T = ∇_a J h^T, Goodfellow's algorithm 6.4 line for ∇_W J
    formula = r"\nabla_{W^{(k)}} J = (h^{(k-1)} (\nabla_{a^{(k)}} J)^\top)^\top"
    code, out, err = run(capsys, *GOODFELLOW, "--l2", "0", formula)
    assert code == 0, out + err
    assert "L2" not in out and "λΩ" not in out


def test_parser_reads_an_array_letter_before_a_parenthesis_as_a_product():
    from symbackprop.grammar import _ast as A
    from symbackprop.grammar import parse_formula
    as_array = parse_formula("G = h^{(k-1)} (g)^T", arrays={"h"}).rhs
    assert isinstance(as_array, A.Binary) and as_array.op == "juxt"
    assert isinstance(as_array.right, A.Binary) and as_array.right.op == "^"       # the transpose is g's
    assert isinstance(parse_formula("G = h^{(k-1)} (g)^T").rhs.left, A.Call)         # h a function: h(g), then ^T
    primed = parse_formula("G = h'(a)", arrays={"h"}).rhs
    assert isinstance(primed, A.Call)                                                # h' is still a derivative


@pytest.mark.parametrize("formula", [
    r"\nabla_{W^{(k)}} J = h^{(k-1)} (\nabla_{a^{(k)}} J)^\top",             # not transposed: the wrong shape
    r"\nabla_{W^{(k)}} J = 2 (h^{(k-1)} (\nabla_{a^{(k)}} J)^\top)^\top",
    r"\nabla_{W^{(k)}} J = h^{(k-1)} (\nabla_{a^{(k)}} J)",                  # h times a column: no product fits
])
def test_goodfellow_outer_product_negative_controls(capsys, formula):
    code, out, err = run(capsys, *GOODFELLOW, "--l2", "0", formula)
    assert code == 1, out + err


def test_the_l2_term_is_named_only_when_lambda_is_not_zero(capsys):
    formula = r"\nabla_{W^{(k)}} J = (\nabla_{a^{(k)}} J) (h^{(k-1)})^\top"
    assert "plus the L2 term" not in run(capsys, *GOODFELLOW, "--l2", "0", formula)[1]
    code, out, _ = run(capsys, *GOODFELLOW, "--l2", "0.1", formula)
    assert code == 1 and "plus the L2 term λΩ" in out


# --- 3. the wording of verdicts ---------------------------------------------------------------------------
def test_the_cancellation_is_said_once(capsys):
    code, out, _ = run(capsys, "--notation", "ng-ml", "delta^(L) = (a^(L) - y) .* g'(z^(L))")
    assert code == 1
    diagnosis = out.splitlines()[1]
    assert diagnosis.count("cancels") == 1 and "equivalently" in diagnosis
    assert run(capsys, "--notation", "ng-ml", "delta^(L) = a^(L) - y")[0] == 0


def test_counterexample_shows_only_the_sizes_the_formula_uses_and_a_few_entries(capsys):
    code, out, _ = run(capsys, *QUADRATIC, "--notation", "nielsen", "delta^L = (a^L - y) * sigmoid(z^L)")
    assert code == 1
    head, expected, formula = [line for line in out.splitlines() if line.startswith(("counterexample", "  "))][:3]
    assert head.startswith("counterexample at n^3 = 10 ")       # δ^L uses the output width only
    assert "n^1" not in head and "m =" not in head and "lambda" not in head
    assert expected.count(",") <= 4 and formula.count(",") <= 4


def test_counterexample_keeps_m_and_lambda_where_they_play_a_part(capsys):
    code, out, _ = run(capsys, "--notation", "ng-ml", "D^(1) = 1/m Delta^(1)")     # the λ term is missing
    assert code == 1
    head = next(line for line in out.splitlines() if line.startswith("counterexample"))
    assert "m = " in head and "lambda = " in head and "× 401 array" in head
    assert "largest difference at entry" in out


def test_counterexample_json_has_no_unused_scalars(capsys):
    code, out, _ = run(capsys, *QUADRATIC, "--notation", "nielsen", "--json", "delta^L = (a^L - y) * sigmoid(z^L)")
    import json
    example = json.loads(out)["counterexample"]
    assert code == 1 and "m" not in example and "lambda" not in example
    assert list(example["sizes"]) == ["n^3"]


BATCHNORM_DX = "dx = (gamma / (N * np.sqrt(var + eps))) * (N * dout - np.sum(dout, axis=0){})"


def test_batchnorm_diagnosis_is_readable_in_the_users_letters(capsys):
    code, out, _ = run(capsys, "--layer", "batchnorm", "--notation", "cs231n", BATCHNORM_DX.format(""))
    assert code == 1
    assert "Σ_k (dout[k, d]*xhat[k, d])" in out            # the missing term, as derive prints sums
    assert "Sum(" not in out and "dy[" not in out
    assert "dx = ∂C/∂x" in out and "∂L/∂x" not in out
    correct = BATCHNORM_DX.format(" - xhat * np.sum(dout * xhat, axis=0)")
    assert run(capsys, "--layer", "batchnorm", "--notation", "cs231n", correct)[0] == 0


def test_layer_counterexample_names_only_the_sizes_of_the_arrays_it_reads(capsys):
    code, out, _ = run(capsys, "--layer", "attention", "dS = A * dA")      # the row-sum term is missing
    assert code == 1
    head = next(line for line in out.splitlines() if line.startswith("counterexample"))
    assert head.startswith("counterexample at N = 3, M = 7 ")               # dS, A and dA are [N, M]
    assert "D = " not in head and "F = " not in head


def test_article_before_a_vowel(capsys):
    code, out, _ = run(capsys, "--notation", "nielsen", "--loss", "cross-entropy", "--output", "identity",
                       "--bias", "separate", "--l2", "0", "delta^L = a^L - y")
    assert code == 1
    assert "with an identity output" in out and "with a identity" not in out


# --- 4. check --model ---------------------------------------------------------------------------------------
MODEL = ["--model", "affine(25) > sigmoid > affine(10) > softmax", "--loss", "categorical-cross-entropy",
         "--input-size", "400"]


@pytest.fixture(scope="module")
def model():
    from symbackprop.models import build_model
    return build_model(MODEL[1], MODEL[3], 400)


def test_softmax_cross_entropy_gradient_is_p_minus_y_over_n_by_finite_differences():
    """The fact the model cases below rely on, from central differences of C = (1/N) Σ_n -Σ_k Y log softmax(z)."""
    rng = np.random.default_rng(1)
    z, labels = rng.standard_normal((3, 4)), rng.integers(0, 4, 3)
    Y = np.eye(4)[labels]

    def cost(z):
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return -np.sum(Y * np.log(p)) / len(z)
    numeric = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = 1e-6
        numeric[index] = (cost(z + step) - cost(z - step)) / 2e-6
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert np.allclose(numeric, (p - Y) / len(z), atol=1e-8)


@pytest.mark.parametrize("formula", [
    "dz3 = (p4 - Y) / N",                        # softmax + cross-entropy: the cancellation, mean cost
    "dz3 = dL * (p4 - Y)",                       # written with the upstream gradient dL = 1/N
    "dW3 = a2.T @ dz3",
    "db3 = np.sum(dz3, axis=0)",
    "dz1 = (dz3 @ W3.T) * a2 * (1 - a2)",
])
def test_model_formula_correct(model, formula):
    from symbackprop.checker._model_check import check_model
    verdict = check_model(formula, model)
    assert verdict.verdict == "correct", verdict.diagnosis


@pytest.mark.parametrize("formula, words", [
    ("dz3 = p4 - Y", "the factor 1/N is missing"),          # the mean's 1/N dropped
    ("dz3 = 2 * (p4 - Y) / N", "dz3 times 2"),               # k × the right-hand side
    ("dz3 = (Y - p4) / N", "the sign is wrong"),
    ("dz1 = (dz3 @ W3.T) * a2", "left out"),                 # a dropped term of σ' = a (1 - a)
])
def test_model_formula_incorrect_with_diagnosis(model, formula, words):
    from symbackprop.checker._model_check import check_model
    verdict = check_model(formula, model)
    assert verdict.verdict == "incorrect" and words in verdict.diagnosis, verdict.diagnosis


def test_check_model_on_the_command_line(capsys):
    code, out, err = run(capsys, *MODEL, "dz3 = (p4 - Y) / N")
    assert code == 0 and "of the model affine(25) > sigmoid > affine(10) > softmax" in out
    code, out, err = run(capsys, *MODEL, "dz3 = (Y - p4) / N")
    assert code == 1 and "sign" in out
    code, out, err = run(capsys, *MODEL, "dz = a - y")        # a name the composed model does not have
    assert code == 2 and "no gradient of the model affine(25)" in err and "dz3" in err and "^" in err
    code, out, err = run(capsys, *MODEL, "--notation", "nielsen", "dz3 = p4 - Y")
    assert code == 2 and "derive --model" in err


# --- relu's derivative, a case split (was an internal error, exit 70) ----------------------------------
@pytest.mark.parametrize("formula, code", [
    ("dx = dout * (x > 0)", 0),                  # CS231n's relu_backward
    ("dx = np.where(x > 0, dout, 0)", 0),
    ("dx = dout * (x < 0)", 1),
    ("dx = np.where(x > 0, 0, dout)", 1),
    ("dx = dout", 1),
])
def test_relu_layer_gradient(capsys, formula, code):
    got, out, err = run(capsys, "--layer", "relu", "--notation", "cs231n", formula)
    assert got == code, out + err
    assert "times 1" not in out          # dout equals dx where x > 0 only: not a multiple of it


def test_relu_model_stage(capsys):
    relu_model = ["--model", "affine(8) > relu > affine(3) > softmax", "--loss", "categorical-cross-entropy",
                  "--input-size", "5"]
    assert run(capsys, *relu_model, "dz1 = (dz3 @ W3.T) * (z1 > 0)")[0] == 0
    assert run(capsys, *relu_model, "dz1 = dz3 @ W3.T")[0] == 1

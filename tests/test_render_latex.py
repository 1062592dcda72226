"""Exact LaTeX of the key steps in each of the five notations.

The expected strings were written by hand from each textbook's formulas (Ng's ex4 / lectures,
the Deep Learning Specialization, Nielsen ch. 2-3, Goodfellow 6.5, Bishop 5.3), spelled in the
printer's LaTeX conventions (``^{(l)}`` for Ng's superscript, ``\\mathbin{.*}`` for Octave's ``.*``).
"""
import pytest
import sympy as sp

from symbackprop import Network, derive
from symbackprop import symbols as S
from symbackprop.derivation import Rule
from symbackprop.rendering import render, render_quantity
from symbackprop.rendering._latex_printer import NotationLatexPrinter, latex


@pytest.fixture(scope="module")
def sigmoid_ce():
    return derive(Network((4, 3, 2), hidden="sigmoid", output="sigmoid", loss="cross-entropy"))


@pytest.fixture(scope="module")
def sigmoid_ce_column():
    return derive(Network((400, 25, 10), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1, bias="column"))


@pytest.fixture(scope="module")
def softmax_cce():
    return derive(Network((4, 3, 3), hidden="sigmoid", output="softmax", loss="categorical-cross-entropy"))


def step_latex(derivation, quantity, rule, notation, position=0):
    steps = [s for s in derivation.steps_for(quantity) if s.rule == rule]
    return latex(steps[position].statement, notation=notation, depth=derivation.network.depth)


# --- delta^L = a - y, sigmoid + cross-entropy: the index form and the vector form -----------------
OUTPUT_DELTA = {
    "ng-ml": (r"\delta^{(L)}_{i} = a^{(L)}_{i} - y_{i}", r"\delta^{(L)} = a^{(L)} - y"),
    "ng-dls": (r"dz^{[L]}_{i} = a^{[L]}_{i} - y_{i}", r"dz^{[L]} = a^{[L]} - y"),
    "nielsen": (r"\delta^{L}_{i} = a^{L}_{i} - y_{i}", r"\delta^{L} = a^{L} - y"),
    "goodfellow": (r"g^{(l)}_{i} = h^{(l)}_{i} - y_{i}", r"g^{(l)} = h^{(l)} - y"),
    "bishop": (r"\delta_{j} = y_{j} - t_{j}", r"\delta^{(L)} = y^{(L)} - t"),   # Bishop (5.54): delta_k = y_k - t_k
}


@pytest.mark.parametrize("notation", sorted(OUTPUT_DELTA))
def test_output_delta_sigmoid_cross_entropy(sigmoid_ce, notation):
    index, vector = OUTPUT_DELTA[notation]
    assert render_quantity(sigmoid_ce, "output_delta", "latex", notation, form="index") == index
    assert render_quantity(sigmoid_ce, "output_delta", "latex", notation, form="vector") == vector


@pytest.mark.parametrize("notation", sorted(OUTPUT_DELTA))
def test_output_delta_softmax_categorical(softmax_cce, notation):
    index, vector = OUTPUT_DELTA[notation]
    assert render_quantity(softmax_cce, "output_delta", "latex", notation, form="index") == index
    assert render_quantity(softmax_cce, "output_delta", "latex", notation, form="vector") == vector


# --- the chain rule through the output activations ---------------------------------------------
CHAIN = {
    "ng-ml": r"\frac{\partial \operatorname{cost}}{\partial z^{(L)}_{i}} = \sum_{k=1}^{s_{L}} "
             r"\frac{\partial \operatorname{cost}}{\partial a^{(L)}_{k}} \frac{\partial a^{(L)}_{k}}{\partial z^{(L)}_{i}}",
    "ng-dls": r"\frac{\partial \mathcal{L}}{\partial z^{[L]}_{i}} = \sum_{k=1}^{n^{[L]}} "
              r"\frac{\partial \mathcal{L}}{\partial a^{[L]}_{k}} \frac{\partial a^{[L]}_{k}}{\partial z^{[L]}_{i}}",
    "nielsen": r"\frac{\partial C}{\partial z^{L}_{i}} = \sum_{k=1}^{n^{L}} "
               r"\frac{\partial C}{\partial a^{L}_{k}} \frac{\partial a^{L}_{k}}{\partial z^{L}_{i}}",
    "goodfellow": r"\frac{\partial L}{\partial a^{(l)}_{i}} = \sum_{r=1}^{n^{(l)}} "
                  r"\frac{\partial L}{\partial h^{(l)}_{r}} \frac{\partial h^{(l)}_{r}}{\partial a^{(l)}_{i}}",
    "bishop": r"\frac{\partial E_n}{\partial a_{j}} = \sum_{k} \frac{\partial E_n}{\partial y_{k}} \frac{\partial y_{k}}{\partial a_{j}}",
}


@pytest.mark.parametrize("notation", sorted(CHAIN))
def test_chain_rule_step(sigmoid_ce, softmax_cce, notation):
    for derivation in (sigmoid_ce, softmax_cce):
        assert step_latex(derivation, "output_delta", Rule.CHAIN_RULE, notation) == CHAIN[notation]


# --- softmax: the Jacobian with its Kronecker delta, and the step that uses sum_k y_k = 1 ----------
SOFTMAX = {
    "ng-ml": (r"\frac{\partial a^{(L)}_{k}}{\partial z^{(L)}_{i}} = a^{(L)}_{k} \left([i = k] - a^{(L)}_{i}\right)",
              r"\delta^{(L)}_{i} = a^{(L)}_{i} \sum_{k=1}^{s_{L}} y_{k} - y_{i}",
              r"\sum_{k=1}^{s_{L}} y_{k} = 1"),
    "ng-dls": (r"\frac{\partial a^{[L]}_{k}}{\partial z^{[L]}_{i}} = a^{[L]}_{k} \left([i = k] - a^{[L]}_{i}\right)",
               r"dz^{[L]}_{i} = a^{[L]}_{i} \sum_{k=1}^{n^{[L]}} y_{k} - y_{i}",
               r"\sum_{k=1}^{n^{[L]}} y_{k} = 1"),
    "nielsen": (r"\frac{\partial a^{L}_{k}}{\partial z^{L}_{i}} = a^{L}_{k} \left([i = k] - a^{L}_{i}\right)",
                r"\delta^{L}_{i} = a^{L}_{i} \sum_{k=1}^{n^{L}} y_{k} - y_{i}",
                r"\sum_{k=1}^{n^{L}} y_{k} = 1"),
    "goodfellow": (r"\frac{\partial h^{(l)}_{r}}{\partial a^{(l)}_{i}} = h^{(l)}_{r} \left([i = r] - h^{(l)}_{i}\right)",
                   r"g^{(l)}_{i} = h^{(l)}_{i} \sum_{r=1}^{n^{(l)}} y_{r} - y_{i}",
                   r"\sum_{r=1}^{n^{(l)}} y_{r} = 1"),
    # Bishop writes the softmax derivative with I_kj, the elements of the identity matrix
    "bishop": (r"\frac{\partial y_{k}}{\partial a_{j}} = y_{k} \left(I_{jk} - y_{j}\right)",
               r"\delta_{j} = y_{j} \sum_{k} t_{k} - t_{j}",
               r"\sum_{k} t_{k} = 1"),
}


@pytest.mark.parametrize("notation", sorted(SOFTMAX))
def test_softmax_steps(softmax_cce, notation):
    jacobian, contracted, assumption = SOFTMAX[notation]
    assert step_latex(softmax_cce, "output_delta", Rule.ACTIVATION_DERIVATIVE, notation) == jacobian
    assert step_latex(softmax_cce, "output_delta", Rule.KRONECKER, notation) == contracted
    assert step_latex(softmax_cce, "output_delta", Rule.ASSUMPTION, notation) == assumption


# --- the delta^l recursion (Ng: (Theta^(l))^T delta^(l+1) .* a^(l) .* (1 - a^(l))) -----------------
HIDDEN = {
    "ng-ml": (r"\delta^{(l)}_{i} = a^{(l)}_{i} \left(1 - a^{(l)}_{i}\right) \sum_{k=1}^{s_{l+1}} \Theta^{(l)}_{ki} \delta^{(l+1)}_{k}",
              r"\delta^{(l)} = \left(\left(\Theta^{(l)}\right)^{T} \delta^{(l+1)}\right) \mathbin{.*} "
              r"\left(a^{(l)} \mathbin{.*} \left(\mathbf{1} - a^{(l)}\right)\right)"),
    "ng-dls": (r"dz^{[l]}_{i} = a^{[l]}_{i} \left(1 - a^{[l]}_{i}\right) \sum_{k=1}^{n^{[l+1]}} W^{[l+1]}_{ki} dz^{[l+1]}_{k}",
               r"dz^{[l]} = \left(W^{[l+1]T} dz^{[l+1]}\right) * \left(a^{[l]} * \left(\mathbf{1} - a^{[l]}\right)\right)"),
    "nielsen": (r"\delta^{l}_{i} = a^{l}_{i} \left(1 - a^{l}_{i}\right) \sum_{k=1}^{n^{l+1}} w^{l+1}_{ki} \delta^{l+1}_{k}",
                r"\delta^{l} = \left(\left(w^{l+1}\right)^{T} \delta^{l+1}\right) \odot \left(a^{l} \odot \left(\mathbf{1} - a^{l}\right)\right)"),
    "goodfellow": (r"g^{(k)}_{i} = h^{(k)}_{i} \left(1 - h^{(k)}_{i}\right) \sum_{r=1}^{n^{(k+1)}} W^{(k+1)}_{ri} g^{(k+1)}_{r}",
                   r"g^{(k)} = \left(W^{(k+1)T} g^{(k+1)}\right) \odot \left(h^{(k)} \odot \left(\mathbf{1} - h^{(k)}\right)\right)"),
    # Bishop (5.56): delta_j = h'(a_j) sum_k w_kj delta_k
    "bishop": (r"\delta_{j} = z_{j} \left(1 - z_{j}\right) \sum_{k} w_{kj} \delta_{k}",
               r"\delta^{(l)} = \left(\left(w^{(l+1)}\right)^{T} \delta^{(l+1)}\right) \odot \left(z^{(l)} \odot \left(\mathbf{1} - z^{(l)}\right)\right)"),
}


@pytest.mark.parametrize("notation", sorted(HIDDEN))
def test_hidden_delta(sigmoid_ce, softmax_cce, notation):
    index, vector = HIDDEN[notation]
    for derivation in (sigmoid_ce, softmax_cce):
        assert render_quantity(derivation, "hidden_delta", "latex", notation, form="index") == index
        assert render_quantity(derivation, "hidden_delta", "latex", notation, form="vector") == vector


def test_ng_bias_column_drops_the_bias_row(sigmoid_ce_column):
    assert render_quantity(sigmoid_ce_column, "hidden_delta", "latex", "ng-ml") == (
        r"\delta^{(l)} = \left[\left(\Theta^{(l)}\right)^{T} \delta^{(l+1)}\right]_{\text{rows } 1 \ldots} "
        r"\mathbin{.*} \left(a^{(l)} \mathbin{.*} \left(\mathbf{1} - a^{(l)}\right)\right)")
    # ex4's only hidden layer is layer 2: delta^(2) = (Theta^(2))^T delta^(3) .* g'(z^(2))
    layer2 = sigmoid_ce_column.hidden_deltas[0].vector
    assert latex(layer2, notation="ng-ml", depth=3).startswith(
        r"\delta^{(2)} = \left[\left(\Theta^{(2)}\right)^{T} \delta^{(3)}\right]")


# --- dC/dW_ij = sum_k dC/dz_k dz_k/dW_ij = delta_i a_j, with the Kronecker delta ------------------
WEIGHT = {
    "ng-ml": (r"\frac{\partial z^{(l)}_{k}}{\partial \Theta^{(l-1)}_{ij}} = [i = k] a^{(l-1)}_{j}",
              r"\frac{\partial \operatorname{cost}}{\partial \Theta^{(l-1)}_{ij}} = \delta^{(l)}_{i} a^{(l-1)}_{j}",
              r"\frac{\partial \operatorname{cost}}{\partial \Theta^{(l-1)}} = \delta^{(l)} \left(a^{(l-1)}\right)^{T}"),
    "ng-dls": (r"\frac{\partial z^{[l]}_{k}}{\partial W^{[l]}_{ij}} = [i = k] a^{[l-1]}_{j}",
               r"\frac{\partial \mathcal{L}}{\partial W^{[l]}_{ij}} = dz^{[l]}_{i} a^{[l-1]}_{j}",
               r"dW^{[l]} = dz^{[l]} a^{[l-1]T}"),
    "nielsen": (r"\frac{\partial z^{l}_{k}}{\partial w^{l}_{ij}} = [i = k] a^{l-1}_{j}",
                r"\frac{\partial C}{\partial w^{l}_{ij}} = \delta^{l}_{i} a^{l-1}_{j}",
                r"\frac{\partial C}{\partial w^{l}} = \delta^{l} \left(a^{l-1}\right)^{T}"),
    "goodfellow": (r"\frac{\partial a^{(k)}_{r}}{\partial W^{(k)}_{ij}} = [i = r] h^{(k-1)}_{j}",
                   r"\frac{\partial L}{\partial W^{(k)}_{ij}} = g^{(k)}_{i} h^{(k-1)}_{j}",
                   r"\nabla_{W^{(k)}} L = g^{(k)} h^{(k-1)T}"),
    # Bishop (5.53): dE_n/dw_ji = delta_j z_i
    "bishop": (r"\frac{\partial a_{k}}{\partial w_{ji}} = I_{jk} z_{i}",
               r"\frac{\partial E_n}{\partial w_{ji}} = \delta_{j} z_{i}",
               r"\frac{\partial E_n}{\partial w^{(l)}} = \delta^{(l)} \left(z^{(l-1)}\right)^{T}"),
}


@pytest.mark.parametrize("notation", sorted(WEIGHT))
def test_weight_gradient(sigmoid_ce, notation):
    kronecker, index, vector = WEIGHT[notation]
    assert step_latex(sigmoid_ce, "weight_gradient", Rule.KRONECKER, notation, 0) == kronecker
    assert render_quantity(sigmoid_ce, "weight_gradient", "latex", notation, form="index") == index
    assert render_quantity(sigmoid_ce, "weight_gradient", "latex", notation, form="vector") == vector


def test_batch_gradient_in_rows_and_columns(sigmoid_ce_column):
    # DLS: examples are columns; dW = (1/m) dZ A^T + (lambda/m) W
    assert render_quantity(sigmoid_ce_column, "weight_gradient", "latex", "ng-dls", form="batch_vector") == (
        r"dW^{[l]} = \frac{1}{m} dZ^{[l]} A^{[l-1]T} + \frac{\lambda}{m} \tilde{W}^{[l]}")
    # Ng's ex4: examples are rows (a2, d3 of the vectorised code): (1/m) d^T A
    assert render_quantity(sigmoid_ce_column, "weight_gradient", "latex", "ng-ml", form="batch_vector") == (
        r"\frac{\partial J}{\partial \Theta^{(l-1)}} = \frac{1}{m} \left(d^{(l)}\right)^{T} A^{(l-1)} "
        r"+ \frac{\lambda}{m} \tilde{\Theta}^{(l-1)}")


# --- printer pieces ---------------------------------------------------------------------------------
def test_relu_derivative_prints_as_an_indicator():
    relu_prime = sp.Piecewise((0, S.z <= 0), (1, True))
    assert latex(S.e * relu_prime, notation="nielsen") == r"e \mathbf{1}\left[z > 0\right]"
    assert latex(sp.Heaviside(S.unit("z", S.l, S.i)), notation="ng-ml") == r"\mathbf{1}\left[z^{(l)}_{i} > 0\right]"


def test_leaky_relu_derivative_prints_as_cases():
    alpha = sp.Symbol("alpha", positive=True)
    assert latex(sp.Piecewise((alpha, S.z <= 0), (1, True)), notation="nielsen") == (
        r"\begin{cases} \alpha & \text{if } z \leq 0 \\ 1 & \text{otherwise} \end{cases}")


def test_deliberate_product_shows_the_cancellation():
    a, y = S.unit("a", S.L, S.i), S.target(S.i)
    product = sp.Mul(sp.Add(-y / a, (1 - y) / (1 - a), evaluate=False), a * (1 - a), evaluate=False)
    assert latex(product, notation="nielsen") == (
        r"\left(- \frac{y_{i}}{a^{L}_{i}} + \frac{1 - y_{i}}{1 - a^{L}_{i}}\right) \cdot a^{L}_{i} \left(1 - a^{L}_{i}\right)")


def test_concrete_layers_are_renumbered():
    delta2 = S.vector("delta", 2)
    assert latex(delta2, notation="ng-dls") == r"dz^{[1]}"      # DLS numbers the input layer 0
    assert latex(S.matrix(3), notation="ng-ml") == r"\Theta^{(2)}"  # Theta^(2) maps layer 2 to 3
    assert latex(S.matrix(3), notation="goodfellow") == r"W^{(2)}"
    assert latex(S.unit("a", 3, S.i), notation="bishop", depth=3) == r"y_{j}"  # Bishop's outputs are y


def test_unknown_printer_setting_is_an_error():
    with pytest.raises(TypeError, match="Unknown setting 'colour'"):
        NotationLatexPrinter({"colour": "red"})


def test_latex_body_is_align_environments(sigmoid_ce):
    body = render(sigmoid_ce, "latex", "ng-ml")
    assert body.count(r"\begin{align*}") == body.count(r"\end{align*}") >= 5
    assert r"\intertext{(1) \textit{definition}" in body
    for internal in ("Piecewise", "Indexed", "LayerArray", "HadamardProduct", "KroneckerDelta", "Derivative("):
        assert internal not in body

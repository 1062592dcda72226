r"""The checker's test table: formulas students write, and what their textbook or course says of them.

Data only. Every row's ``verdict`` is established from the source named in ``source`` -- never from
symbackprop's output:

* ``ex4``: Andrew Ng, Machine Learning (Coursera), programming exercise 4 (ex4.pdf section 2.3
  "Backpropagation", steps 1-5, and the nnCostFunction.m it asks for); the lecture "Backpropagation
  algorithm" (Δ, D, the j = 0 / j ≥ 1 cases). Facts in ../shared/NOTATIONS.md, "ng-ml".
* ``dls-c1w3``: Deep Learning Specialization course 1 week 3, "Planar data classification with one
  hidden layer": backward_propagation (tanh hidden layer, sigmoid output, cross-entropy).
* ``dls-c1w4``: course 1 week 4, "Building your deep neural network: step by step": relu_backward
  (dZ = dA where Z > 0, else 0), linear_backward (dW = 1/m dZ A_prev.T, db = 1/m Σ_columns dZ).
* ``dls-c2w1``: course 2 week 1, "Regularization": backward_propagation_with_regularization
  (dW3 = 1./m np.dot(dZ3, A2.T) + lambd/m W3; dZ2 = np.multiply(dA2, np.int64(A2 > 0))).
* ``nielsen-ch2``, ``nielsen-ch3``: Nielsen, Neural Networks and Deep Learning, BP1-BP4 (ch. 2),
  the cross-entropy and softmax results and L2 regularisation C = C_0 + λ/(2n) Σ w², eqs (85)-(88) (ch. 3).
* ``goodfellow-6.5``: Goodfellow, Bengio, Courville, Deep Learning, algorithm 6.4.
* ``bishop-5.3``: Bishop, PRML, equations (5.53), (5.54), (5.56). ``bishop-5.5.1``: the weight-decay
  regulariser (5.121) sums the weights of each layer, "biases are excluded from the summations".
* ``goodfellow-7.1``: Deep Learning section 7.1: the norm penalty Ω "penalizes only the weights of the affine
  transformation at each layer and leaves the biases unregularized".
* ``elu``: Clevert, Unterthiner, Hochreiter, "Fast and accurate deep network learning by exponential linear
  units" (2016), eq. (2): f'(z) = 1 if z > 0, α e^z if z ≤ 0. ``leaky``: Maas, Hannun, Ng, "Rectifier
  nonlinearities improve neural network acoustic models" (2013): f'(z) = 1 if z > 0, α otherwise. Either
  derivative, put in place of g' in the source's δ recursion.

A row marked incorrect is a formula that differs from the source's; ``words`` are the words the
diagnosis must contain to name that difference (the mistake as the source would describe it).
"""
from __future__ import annotations

from typing import NamedTuple

#: The networks of the rows, as keyword arguments of symbackprop.Network.
NETWORKS = {
    # ex4: 400 inputs, 25 hidden sigmoid units, 10 sigmoid outputs, cross-entropy, lambda = 1, bias column
    "ex4": dict(sizes=(400, 25, 10), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1,
                bias="column"),
    # the same network, small, for index forms
    "ex4-small": dict(sizes=(5, 4, 3), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1,
                      bias="column"),
    # dls-c1w3: n_x = 2, n_h = 4, n_y = 1; tanh hidden layer, sigmoid output
    "planar": dict(sizes=(2, 4, 1), hidden="tanh", output="sigmoid", loss="cross-entropy"),
    # dls-c1w4: ReLU hidden layers, sigmoid output
    "deep-relu": dict(sizes=(5, 4, 3, 1), hidden="relu", output="sigmoid", loss="cross-entropy"),
    # dls-c2w1: LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID with L2 (lambd = 0.7)
    "reg": dict(sizes=(2, 20, 3, 1), hidden="relu", output="sigmoid", loss="cross-entropy", l2=0.7),
    # nielsen-ch2: quadratic cost, sigmoid neurons
    "nielsen-quadratic": dict(sizes=(4, 3, 2), hidden="sigmoid", output="sigmoid", loss="quadratic"),
    # nielsen-ch3: cross-entropy with L2 regularisation
    "nielsen-l2": dict(sizes=(4, 3, 2), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1),
    # nielsen-ch3: softmax output with the log-likelihood cost
    "nielsen-softmax": dict(sizes=(4, 3, 3), hidden="sigmoid", output="softmax", loss="categorical-cross-entropy"),
    # goodfellow-6.5: tanh hidden layers, L2 penalty
    "goodfellow": dict(sizes=(5, 4, 3), hidden="tanh", output="sigmoid", loss="cross-entropy", l2=0.5),
    "goodfellow-sigmoid": dict(sizes=(5, 4, 3), hidden="sigmoid", output="sigmoid", loss="cross-entropy"),
    # bishop-5.3: tanh hidden units, linear outputs with the sum-of-squares error (the canonical link)
    "bishop": dict(sizes=(5, 4, 3), hidden="tanh", output="identity", loss="quadratic"),
    # case-split derivatives: ELU (Clevert et al. 2016: f'(z) = 1 for z > 0, α e^z for z ≤ 0) and leaky ReLU
    # (Maas et al. 2013: 1 for z > 0, α for z ≤ 0), α away from the defaults so that a missing α shows
    "ex4-elu": dict(sizes=(5, 4, 3), hidden="elu:alpha=0.5", output="sigmoid", loss="cross-entropy", l2=1,
                    bias="column"),
    "leaky": dict(sizes=(5, 4, 3, 1), hidden="leaky-relu:alpha=0.2", output="sigmoid", loss="cross-entropy"),
    # bishop-5.5.1: the same network with weight decay
    "bishop-l2": dict(sizes=(5, 4, 3), hidden="tanh", output="identity", loss="quadratic", l2=0.5),
    "bishop-elu": dict(sizes=(5, 4, 3), hidden="elu:alpha=0.5", output="identity", loss="quadratic"),
}


class Row(NamedTuple):
    notation: str
    network: str
    formula: str
    verdict: str          #: 'correct' or 'incorrect', from the source
    source: str
    words: tuple = ()     #: for an incorrect row: what the diagnosis must name


C, X = "correct", "incorrect"

ROWS = (
    # --- ng-ml, Octave, one example at a time (ex4.pdf 2.3, steps 2-4) -----------------------------------
    Row("ng-ml", "ex4", "delta3 = a3 - y", C, "ex4 step 2: δ(3) = a(3) − y"),
    Row("ng-ml", "ex4", "d3 = a3 - y", C, "ex4 step 2"),
    Row("ng-ml", "ex4", "delta3 = h - y", C, "ex4 step 2, h = a(3)"),
    Row("ng-ml", "ex4", "delta2 = Theta2(:, 2:end)' * delta3 .* sigmoidGradient(z2)", C,
        "ex4 step 3, the bias unit's row removed"),
    Row("ng-ml", "ex4", "delta2 = (Theta2' * delta3)(2:end) .* sigmoidGradient(z2)", C,
        "ex4 step 3, 'skip or remove δ0(2)'"),
    Row("ng-ml", "ex4", "delta2 = Theta2(:, 2:end)' * delta3 .* a2(2:end) .* (1 - a2(2:end))", C,
        "ex4 step 3 with g'(z) = a .* (1 - a) (ex4 1.4 sigmoid gradient); a2 has the bias unit"),
    Row("ng-ml", "ex4", "delta2 = Theta2(:, 2:end)' * delta3", X, "ex4 step 3: the factor g'(z(2)) is missing",
        ("g'(z^(2))", "missing")),
    Row("ng-ml", "ex4", "delta2 = Theta2(:, 2:end) * delta3 .* sigmoidGradient(z2)", X,
        "ex4 step 3 takes (Θ(2))^T", ("transpose",)),
    Row("ng-ml", "ex4", "delta2 = Theta2(:, 2:end)' * delta3 .* sigmoid(z2)", X,
        "ex4 step 3 multiplies by g'(z(2)), not g(z(2))", ("in place of its derivative",)),
    Row("ng-ml", "ex4", "Delta1 = Delta1 + delta2 * a1'", C, "ex4 step 4: Δ(l) = Δ(l) + δ(l+1) (a(l))^T"),
    Row("ng-ml", "ex4", "Delta2 = Delta2 + delta3 * a2'", C, "ex4 step 4"),
    Row("ng-ml", "ex4", "Theta1_grad = Theta1_grad + delta2 * a1'", C, "ex4 step 4, accumulated in Theta1_grad"),
    Row("ng-ml", "ex4", "Delta1 = Delta1 + a1 * delta2'", X, "ex4 step 4: δ(l+1) (a(l))^T, not its transpose",
        ("transpose",)),
    # --- ng-ml, Octave, vectorised over the m rows of X (nnCostFunction.m) --------------------------------
    Row("ng-ml", "ex4", "d2 = d3 * Theta2(:, 2:end) .* sigmoidGradient(z2)", C, "ex4 step 3, examples as rows"),
    Row("ng-ml", "ex4", "Delta1 = d2' * a1", C, "ex4 step 4 summed over the examples"),
    Row("ng-ml", "ex4", "Theta1_grad = Delta1 / m + (lambda / m) * [zeros(size(Theta1, 1), 1), Theta1(:, 2:end)]", C,
        "ex4 2.5: D = Δ/m, plus (λ/m)Θ for j ≥ 1"),
    Row("ng-ml", "ex4", "Theta2_grad = (1 / m) * d3' * a2 + (lambda / m) * [zeros(size(Theta2, 1), 1), Theta2(:, 2:end)]", C,
        "ex4 2.5"),
    Row("ng-ml", "ex4", "Theta1_grad = Delta1 / m + (lambda / m) * Theta1", X,
        "ex4 2.5: the bias column j = 0 is not regularised", ("bias",)),
    Row("ng-ml", "ex4", "Theta1_grad = Delta1 / m", X, "ex4 2.5: λ = 1 adds (λ/m)Θ for j ≥ 1", ("L2 term",)),
    Row("ng-ml", "ex4", "Theta1_grad = Delta1 + (lambda / m) * [zeros(size(Theta1, 1), 1), Theta1(:, 2:end)]", X,
        "ex4 2.5: D = (1/m) Δ", ("1/m",)),
    # --- ng-ml, LaTeX (lectures "Backpropagation algorithm") ---------------------------------------------
    Row("ng-ml", "ex4-small", r"\delta^{(3)} = a^{(3)} - y", C, "lecture: δ(4) = a(4) − y (here L = 3)"),
    Row("ng-ml", "ex4-small", r"\delta^{(2)} = (\Theta^{(2)})^T \delta^{(3)} .* g'(z^{(2)})", C,
        "lecture: δ(3) = (Θ(3))^T δ(4) .* g'(z(3)), δ0 dropped"),
    Row("ng-ml", "ex4-small", r"\delta^{(l)} = (\Theta^{(l)})^T \delta^{(l+1)} .* a^{(l)} .* (1 - a^{(l)})", C,
        "lecture: g'(z(l)) = a(l) .* (1 − a(l))"),
    Row("ng-ml", "ex4-small", r"\delta^{(l)} = \Theta^{(l)} \delta^{(l+1)} .* g'(z^{(l)})", X,
        "lecture: (Θ(l))^T", ("transpose",)),
    Row("ng-ml", "ex4-small", r"\delta^{(l)} = \frac{1}{m} (\Theta^{(l)})^T \delta^{(l+1)} .* g'(z^{(l)})", X,
        "lecture: δ of one example has no 1/m", ("1/m",)),
    Row("ng-ml", "ex4-small", r"\delta^{(l)} = (\Theta^{(l)})^T (\delta^{(l+1)} .* g'(z^{(l+1)})) .* g'(z^{(l)})", X,
        "lecture: only g'(z(l)) multiplies", ("g'(z^(l+1))",)),
    Row("ng-ml", "ex4-small", r"\delta^{(L)} = (a^{(L)} - y) .* g'(a^{(L)})", X,
        "ex4 step 2: δ(3) = a(3) − y; a derivative is taken at z, never at a", ("g'(a^(L))",)),
    Row("ng-ml", "ex4-small", r"\delta^{(2)} = (\Theta^{(2)})^T \delta^{(3)} .* g'(a^{(2)})", X,
        "lecture: g'(z(2)), at the pre-activation", ("g'(a^(2))",)),
    Row("ng-ml", "ex4-small", r"\Delta^{(l)}_{ij} := \Delta^{(l)}_{ij} + a^{(l)}_j \delta^{(l+1)}_i", C,
        "lecture: Δij(l) := Δij(l) + aj(l) δi(l+1)"),
    Row("ng-ml", "ex4-small", r"D^{(l)}_{ij} = \frac{1}{m} \Delta^{(l)}_{ij} + \frac{\lambda}{m} \Theta^{(l)}_{ij} \text{ for } j \geq 1", C,
        "ex4 2.5, j ≥ 1"),
    Row("ng-ml", "ex4-small", r"D^{(l)}_{ij} = \frac{1}{m} \Delta^{(l)}_{ij} + \frac{\lambda}{m} \Theta^{(l)}_{ij}, j \neq 0", C,
        "lecture: if j ≠ 0"),
    Row("ng-ml", "ex4-small", r"D^{(l)}_{i0} = \frac{1}{m} \Delta^{(l)}_{i0}", C, "ex4 2.5, j = 0"),
    Row("ng-ml", "ex4-small", r"D^{(l)}_{ij} = \frac{1}{m} \Delta^{(l)}_{ij} + \frac{\lambda}{m} \Theta^{(l)}_{ij}", X,
        "ex4 2.5: for j = 0 there is no λ term; without 'j ≥ 1' the formula claims it for the bias column too",
        ("bias",)),
    Row("ng-ml", "ex4-small", r"D^{(l)}_{i0} = \frac{1}{m} \Delta^{(l)}_{i0} + \frac{\lambda}{m} \Theta^{(l)}_{i0}", X,
        "ex4 2.5, j = 0: unregularised", ("bias",)),
    Row("ng-ml", "ex4-small", r"\frac{\partial}{\partial \Theta^{(l)}_{ij}} J(\Theta) = D^{(l)}_{ij}", C,
        "lecture: ∂/∂Θij(l) J(Θ) = Dij(l)"),
    Row("ng-ml", "ex4-small", r"\nabla^{(l)}_{ij} = \delta^{(l+1)}_i a^{(l)}_j", C,
        "ex4 step 4, one example: the gradient of Θ(l)"),
    Row("ng-ml", "ex4-small", r"\frac{\partial J}{\partial \Theta^{(l)}} = \frac{1}{m} \Delta^{(l)} + \frac{\lambda}{m} \tilde{\Theta}^{(l)}", C,
        "ex4 2.5, with Θ̃ the weights with the bias column set to 0"),
    Row("ng-ml", "ex4-small", r"D^{(l)} = \frac{1}{m} \Delta^{(l)} + \frac{\lambda}{m} \Theta^{(l)}", X,
        "ex4 2.5: λ term for j ≥ 1 only", ("bias",)),
    # --- ng-dls, NumPy (course 1 week 3, planar data) -----------------------------------------------------
    Row("ng-dls", "planar", "dZ2 = A2 - Y", C, "dls-c1w3 backward_propagation"),
    Row("ng-dls", "planar", "dW2 = 1/m * np.dot(dZ2, A1.T)", C, "dls-c1w3"),
    Row("ng-dls", "planar", "db2 = 1/m * np.sum(dZ2, axis=1, keepdims=True)", C, "dls-c1w3"),
    Row("ng-dls", "planar", "dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))", C, "dls-c1w3"),
    Row("ng-dls", "planar", "dZ1 = np.multiply(np.dot(W2.T, dZ2), 1 - np.power(A1, 2))", C, "dls-c1w3"),
    Row("ng-dls", "planar", "dW1 = 1/m * np.dot(dZ1, X.T)", C, "dls-c1w3"),
    Row("ng-dls", "planar", "dW1 = (1 / m) * dZ1 @ X.T", C, "dls-c1w3, with @"),
    Row("ng-dls", "planar", "db1 = 1/m * np.sum(dZ1, axis=1, keepdims=True)", C, "dls-c1w3"),
    Row("ng-dls", "planar", "dW1 = 1/m * np.dot(X, dZ1.T)", X, "dls-c1w3: np.dot(dZ1, X.T)", ("transpose",)),
    Row("ng-dls", "planar", "dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2)) / m", X,
        "dls-c1w3: dZ has no 1/m", ("1/m",)),
    Row("ng-dls", "planar", "dZ1 = np.dot(W2, dZ2) * (1 - np.power(A1, 2))", X, "dls-c1w3: W2.T", ("transpose",)),
    Row("ng-dls", "planar", "db1 = 1/m * np.sum(dZ1)", X, "dls-c1w3: sum over the examples only (axis=1)",
        ("scalar",)),
    Row("ng-dls", "planar", "dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(Z1, 2))", X,
        "dls-c1w3: tanh'(z) = 1 − a², not 1 − z²"),
    # --- ng-dls, LaTeX -----------------------------------------------------------------------------------
    Row("ng-dls", "planar", r"dZ^{[2]} = A^{[2]} - Y", C, "dls-c1w3 lecture summary"),
    Row("ng-dls", "planar", r"db^{[l]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[l](i)}", C,
        "dls-c1w3: db = 1/m Σ over the examples"),
    Row("ng-dls", "planar", r"dW^{[l]} = \frac{1}{m} \sum_{i=1}^{m} dz^{[l](i)} a^{[l-1](i)T}", C,
        "dls-c1w3: dW = 1/m dZ A^T, written out over the examples"),
    # --- ng-dls, ReLU: indicators (course 1 week 4, course 2 week 1) -------------------------------------
    Row("ng-dls", "deep-relu", "dZ1 = dA1 * (Z1 > 0)", C, "dls-c1w4 relu_backward: dZ[Z <= 0] = 0"),
    Row("ng-dls", "deep-relu", "dZ2 = np.multiply(dA2, np.int64(A2 > 0))", C, "dls-c2w1, relu: A > 0 iff Z > 0"),
    Row("ng-dls", "deep-relu", r"dZ^{[l]} = dA^{[l]} * \mathbb{1}[Z^{[l]} > 0]", C, "dls-c1w4, indicator"),
    Row("ng-dls", "deep-relu", r"dZ^{[l]} = dA^{[l]} * [Z^{[l]} > 0]", C, "dls-c1w4, Iverson bracket"),
    Row("ng-dls", "deep-relu", r"dz^{[l]} = da^{[l]} * 1(z^{[l]} > 0)", C, "dls-c1w4, indicator"),
    Row("ng-dls", "deep-relu", r"dZ^{[l]} = dA^{[l]} * (Z^{[l]} > 0)", C, "dls-c1w4"),
    Row("ng-dls", "deep-relu", "dZ1 = dA1 * (Z1 < 0)", X, "dls-c1w4: the units with Z > 0 pass dA"),
    Row("ng-dls", "deep-relu", "dW2 = 1/m * np.dot(dZ2, A1.T)", C, "dls-c1w4 linear_backward"),
    Row("ng-dls", "deep-relu", "dA1 = np.dot(W2.T, dZ2)", C, "dls-c1w4 linear_backward: dA_prev = W.T dZ"),
    # --- ng-dls, L2 (course 2 week 1) --------------------------------------------------------------------
    Row("ng-dls", "reg", "dW3 = 1./m * np.dot(dZ3, A2.T) + (lambd/m) * W3", C,
        "dls-c2w1 backward_propagation_with_regularization"),
    Row("ng-dls", "reg", "dW3 = 1./m * np.dot(dZ3, A2.T)", X, "dls-c2w1: + (lambd/m) W3", ("L2 term",)),
    Row("ng-dls", "reg", "db3 = 1./m * np.sum(dZ3, axis=1, keepdims=True) + (lambd/m) * b3", X,
        "dls-c2w1: db3 is not regularised", ("bias",)),
    # --- nielsen ----------------------------------------------------------------------------------------
    Row("nielsen", "nielsen-quadratic", r"\delta^L = (a^L - y) \odot \sigma'(z^L)", C, "nielsen-ch2 BP1"),
    Row("nielsen", "nielsen-quadratic", r"\delta^L = (a^L - y) \odot \sigma'(a^L)", X,
        "nielsen-ch2 BP1: σ'(z^L)", ("σ'(a^L)",)),
    Row("nielsen", "nielsen-quadratic", r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l)", C, "nielsen-ch2 BP2"),
    Row("nielsen", "nielsen-quadratic", r"\delta^l = (w^{l+1} \delta^{l+1}) \odot \sigma'(z^l)", X,
        "nielsen-ch2 BP2: (w^{l+1})^T", ("transpose",)),
    Row("nielsen", "nielsen-quadratic", r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j", C, "nielsen-ch2 BP4"),
    Row("nielsen", "nielsen-quadratic", r"\frac{\partial C}{\partial b^l_j} = \delta^l_j", C, "nielsen-ch2 BP3"),
    Row("nielsen", "nielsen-l2", r"\frac{\partial C}{\partial w^l} = \frac{\partial C_0}{\partial w^l} + \frac{\lambda}{n} w^l", C,
        "nielsen-ch3 eq (87)"),
    Row("nielsen", "nielsen-l2", r"\frac{\partial C}{\partial b^l} = \frac{\partial C_0}{\partial b^l}", C,
        "nielsen-ch3 eq (88)"),
    Row("nielsen", "nielsen-l2", r"\frac{\partial C}{\partial b^l} = \frac{\partial C_0}{\partial b^l} + \frac{\lambda}{n} b^l", X,
        "nielsen-ch3 eq (88): the biases are not regularised", ("bias",)),
    Row("nielsen", "nielsen-softmax", r"\delta^L = a^L - y", C, "nielsen-ch3: softmax with log-likelihood"),
    Row("nielsen", "nielsen-softmax", r"\delta^L = (a^L - y) \odot a^L \odot (1 - a^L)", X,
        "nielsen-ch3: δ^L = a^L − y, no derivative factor after a softmax", ("softmax",)),
    # --- goodfellow --------------------------------------------------------------------------------------
    Row("goodfellow", "goodfellow", r"\nabla_{a^{(k)}} J = g \odot f'(a^{(k)})", C, "goodfellow-6.5 alg. 6.4"),
    Row("goodfellow", "goodfellow", r"\nabla_{a^{(k)}} J = g \odot f'(h^{(k)})", X,
        "goodfellow-6.5: f'(a(k)), at the pre-activation", ("f'(h^(k))",)),
    Row("goodfellow", "goodfellow", r"\nabla_{W^{(k)}} J = g h^{(k-1)T} + \lambda \nabla_{W^{(k)}} \Omega", C,
        "goodfellow-6.5 alg. 6.4"),
    Row("goodfellow", "goodfellow-sigmoid", r"\nabla_{a^{(k)}} J = g \odot h^{(k)}(1 - h^{(k)})", C,
        "goodfellow-6.5 with f = sigmoid: f'(a) = h(1 − h)"),
    # --- bishop ------------------------------------------------------------------------------------------
    Row("bishop", "bishop", r"\delta_k = y_k - t_k", C, "bishop-5.3 (5.54)"),
    Row("bishop", "bishop", r"\delta_j = h'(a_j) \sum_k w_{kj} \delta_k", C, "bishop-5.3 (5.56)"),
    Row("bishop", "bishop", r"\frac{\partial E_n}{\partial w_{ji}} = \delta_j z_i", C, "bishop-5.3 (5.53)"),
    Row("bishop", "bishop", r"\delta_j = h'(z_j) \sum_k w_{kj} \delta_k", X,
        "bishop-5.3 (5.56): h'(a_j), at the pre-activation", ("h'(z_j)",)),
    Row("bishop", "bishop", r"\delta_j = (1 - z_j^2) \sum_k w_{kj} \delta_k", C, "bishop-5.3 (5.60)-(5.61): h' = 1 − z²"),
    # --- case-split derivatives, Octave's ';' and '~=', ng-ml's column slice (issue 11) ------------------------
    Row("ng-ml", "ex4-elu", "delta2 = Theta2(:, 2:end)' * delta3 .* ((z2 > 0) + alpha*exp(z2).*(z2 <= 0));", C,
        "ex4 step 3 with elu's derivative (elu), written with indicators; ';' ends the Octave statement"),
    Row("ng-ml", "ex4-elu", "delta2 = Theta2(:, 2:end)' * delta3 .* ((z2 > 0) + exp(z2).*(z2 <= 0))", X,
        "elu: α e^z for z ≤ 0, α = 0.5 here (the factor α is missing)"),
    Row("ng-ml", "ex4-elu", "delta2 = Theta2(:, 2:end)' * delta3 .* ((z2 > 0) + alpha*(exp(z2) - 1).*(z2 <= 0));", X,
        "elu: the derivative is α e^z for z ≤ 0; α (e^z − 1) is elu itself"),
    Row("ng-ml", "ex4-elu", r"\delta^{(2)} = \left[(\Theta^{(2)})^T \delta^{(3)}\right]_{\text{rows } 1 \ldots} \mathbin{.*} "
        r"\begin{cases} \alpha e^{z^{(2)}} & \text{if } z^{(2)} \leq 0 \\ 1 & \text{otherwise} \end{cases}", C,
        "ex4 step 3 with elu's derivative (elu), as a LaTeX cases environment"),
    Row("ng-dls", "leaky", "dZ1 = np.dot(W2.T, dZ2) * np.where(Z1 > 0, 1, alpha)", C,
        "dls-c1w4 backward with leaky ReLU's derivative (leaky) as np.where"),
    Row("ng-dls", "leaky", "dZ1 = np.dot(W2.T, dZ2) * np.where(Z1 > 0, 1, 0)", X,
        "leaky: α = 0.2 for z ≤ 0, not 0 (that is ReLU's derivative)", ("relu",)),
    Row("nielsen", "leaky", r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \begin{cases} 1 & \text{if } z^l > 0 \\ "
        r"\alpha & \text{otherwise} \end{cases}", C, "nielsen-ch2 BP2 with leaky ReLU's σ' (leaky)"),
    Row("nielsen", "leaky", "δ^l = ((w^{l+1})^T δ^{l+1}) ⊙ {1 if z^l > 0; α otherwise}", C,
        "nielsen-ch2 BP2 with leaky ReLU's σ' (leaky), derive's text form of cases"),
    Row("nielsen", "leaky", "δ^l = ((w^{l+1})^T δ^{l+1}) ⊙ {1 if z^l > 0; α otherwise} ⊙ {1 if z^l > 0; α otherwise}",
        X, "nielsen-ch2 BP2 has σ'(z^l) once (leaky)"),
    Row("goodfellow", "leaky", r"\nabla_{a^{(k)}} J = g \odot (1 \text{ if } a^{(k)} > 0 \text{ else } \alpha)", C,
        "goodfellow-6.5 alg. 6.4 with f' of leaky ReLU (leaky), Python's conditional expression"),
    Row("bishop", "bishop-elu", r"\delta_j = \begin{cases} 1 & a_j > 0 \\ \alpha e^{a_j} & a_j \le 0 \end{cases} "
        r"\sum_k w_{kj} \delta_k", C, "bishop-5.3 (5.56) with h' of elu (elu), conditions without 'if'"),
    Row("bishop", "bishop-elu", r"\delta_j = \begin{cases} 1 & z_j > 0 \\ \alpha e^{z_j} & z_j \le 0 \end{cases} "
        r"\sum_k w_{kj} \delta_k", X, "bishop-5.3 (5.56): h'(a_j) at the pre-activation a_j, not at z_j (elu)"),
    Row("ng-dls", "reg", "dZ2 = np.multiply(dA2, np.int64(A2 != 0))", C,
        "dls-c2w1 relu_backward: A2 = relu(Z2) is nonzero exactly where Z2 > 0"),
    Row("ng-dls", "reg", "dZ2 = np.multiply(dA2, np.int64(Z2 != 0))", X,
        "dls-c2w1 relu_backward: 1 where Z2 > 0; Z2 != 0 is also 1 where Z2 < 0"),
    Row("ng-ml", "ex4", "Delta1 = Delta1 + d2' * a1;", C,
        "ex4 step 4, vectorised over the rows of d2 and a1 (one example per row), Octave's ';'"),
    Row("ng-ml", "ex4", "Theta1_grad = Delta1/m + (lambda/m)*[zeros(size(Theta1,1),1), Theta1(:,2:end)];", C,
        "ex4 2.5: the bias column is not regularised; Octave's ';'"),
    Row("ng-ml", "ex4-small", "∂J/∂Θ^(l-1)_{:,0} = (1/m) (d^(l))^T 1", C,
        "the lecture's D_i0 = Δ_i0 / m, the bias column as a slice (what derive prints)"),
    Row("ng-ml", "ex4-small", r"\frac{\partial J}{\partial \Theta^{(l-1)}_{:,0}} = \frac{1}{m} \left(d^{(l)}\right)^{T} "
        r"\mathbf{1} + \frac{\lambda}{m} \Theta^{(l-1)}_{:,0}", X,
        "the lecture's D_i0 = Δ_i0 / m: the bias column is not regularised"),
    Row("ng-ml", "ex4-small", "∂cost/∂Θ^(l-1)_{:,0} = δ^(l)", C, "ex4 step 4 for the bias unit a_0 = 1: Δ_i0 += δ_i"),
    Row("ng-ml", "ex4-small", "∂cost/∂Θ^(l-1)_{:,1} = δ^(l)", X, "ex4 step 4: column 1 is δ a_1^T, not δ"),
    # --- Nielsen's per-example superscript x (ch. 2, "The backpropagation algorithm" and the gradient
    # descent step over a mini-batch: w^l -> w^l - (η/m) Σ_x δ^{x,l} (a^{x,l-1})^T; C = (1/n) Σ_x C_x) ---------
    Row("nielsen", "nielsen-quadratic", r"\delta^{x,L} = (a^{x,L} - y) \odot \sigma'(z^{x,L})", C,
        "nielsen-ch2 BP1 for one training example x"),
    Row("nielsen", "nielsen-quadratic", r"\delta^{x,l} = ((w^{l+1})^T \delta^{x,l+1}) \odot \sigma'(z^{x,l})", C,
        "nielsen-ch2 BP2 for one training example x"),
    Row("nielsen", "nielsen-quadratic", r"\delta^{x,l} = ((w^{l+1})^T \delta^{x,l+1}) \odot \sigma'(a^{x,l})", X,
        "nielsen-ch2 BP2: σ'(z^{x,l}), at the weighted input", ("σ'(a^{x,l})", "pre-activation")),
    Row("nielsen", "nielsen-quadratic", r"\frac{\partial C}{\partial w^l} = \frac{1}{n}\sum_x \delta^{x,l} (a^{x,l-1})^T", C,
        "nielsen-ch2: C = (1/n) Σ_x C_x and BP4 for each x"),
    Row("nielsen", "nielsen-quadratic", r"\frac{\partial C}{\partial b^l} = \frac{1}{n}\sum_x \delta^{x,l}", C,
        "nielsen-ch2: C = (1/n) Σ_x C_x and BP3 for each x"),
    Row("nielsen", "nielsen-quadratic", r"\frac{\partial C}{\partial w^l} = \sum_x \delta^{x,l} (a^{x,l-1})^T", X,
        "nielsen-ch2: C is the average (1/n) Σ_x C_x", ("missing",)),
    Row("nielsen", "nielsen-l2", r"\frac{\partial C}{\partial w^l} = \frac{1}{n}\sum_x \delta^{x,l} (a^{x,l-1})^T "
        r"+ \frac{\lambda}{n} w^l", C, "nielsen-ch3 eq (87) with ∂C_0/∂w written out over the examples"),
    Row("nielsen", "nielsen-l2", r"\frac{\partial C}{\partial w^l} = \frac{1}{n}\sum_x \delta^{x,l} (a^{x,l-1})^T", X,
        "nielsen-ch3 eq (87): the (λ/n) w term of the regularised cost", ("L2",)),
    # --- an L2 term added to a bias gradient: no text regularises the biases (ex4 2.5: "you should not be
    # regularizing the first column of Θ(l)"; dls-c2w1: db3 has no lambd term; nielsen-ch3 eq (88);
    # goodfellow-7.1; bishop-5.5.1) ------------------------------------------------------------------------
    Row("ng-dls", "ex4", "db1 = np.sum(dZ1, axis=1, keepdims=True)/m + lambd/m*b1", X,
        "dls-c2w1: db is not regularised (here on ex4's bias-column network, b1 its bias column)",
        ("L2 term", "not regularised")),
    Row("ng-dls", "ex4", "db1 = np.sum(dZ1, axis=1, keepdims=True)/m", C, "dls-c1w4 linear_backward, ex4's network"),
    Row("ng-dls", "reg", r"db^{[l]} = \frac{1}{m} dZ^{[l]} \mathbf{1} + \frac{\lambda}{m} b^{[l]}", X,
        "dls-c2w1: db^[l] = (1/m) Σ_columns dZ^[l], no lambd term", ("L2 term", "not regularised")),
    Row("ng-dls", "reg", r"db^{[2]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[2](i)} + \frac{\lambda}{m} b^{[2]}", X,
        "dls-c2w1: db2 is not regularised", ("L2 term", "not regularised")),
    Row("nielsen", "nielsen-l2", r"\frac{\partial C}{\partial b^l} = \delta^l + \frac{\lambda}{n} b^l", X,
        "nielsen-ch3 eq (88): ∂C/∂b = ∂C_0/∂b, the biases are not regularised", ("L2 term", "not regularised")),
    Row("nielsen", "nielsen-l2", r"\frac{\partial C}{\partial b^l_j} = \delta^l_j + \frac{\lambda}{n} b^l_j", X,
        "nielsen-ch3 eq (88), one bias", ("L2 term", "not regularised")),
    Row("goodfellow", "goodfellow", r"\nabla_{b^{(k)}} J = g^{(k)} + \lambda b^{(k)}", X,
        "goodfellow-7.1: Ω leaves the biases unregularised, so ∇_b J = g (alg. 6.4)", ("L2 term", "not regularised")),
    Row("goodfellow", "goodfellow", r"\nabla_{b^{(k)}} J = \frac{1}{m} G^{(k)T} \mathbf{1} + \frac{\lambda}{m} b^{(k)}", X,
        "goodfellow-7.1 over a batch of m", ("L2 term", "not regularised")),
    Row("bishop", "bishop-l2", r"\frac{\partial E_n}{\partial b_j} = \delta_j + \lambda b_j", X,
        "bishop-5.5.1: (5.121) excludes the biases; ∂E_n/∂b_j = δ_j", ("L2 term", "not regularised")),
    Row("bishop", "bishop-l2", r"\frac{\partial E}{\partial b^{(l)}} = \frac{1}{m} (\Delta^{(l)})^T \mathbf{1} "
        r"+ \frac{\lambda}{m} b^{(l)}", X, "bishop-5.5.1 over a batch", ("L2 term", "not regularised")),
    Row("bishop", "bishop-l2", r"\frac{\partial E_n}{\partial b_j} = \delta_j", C, "bishop-5.3 (5.56) with bias unit z_0 = 1"),
    Row("ng-ml", "ex4", "Theta1_grad(:, 1) = Delta1(:, 1)/m + (lambda/m)*Theta1(:, 1)", X,
        "ex4 2.5: the first column of Θ(l) (the bias) is not regularised", ("L2 term", "not regularised")),
    Row("ng-ml", "ex4", "Theta2_grad(:,1) = Delta2(:,1)/m + lambda/m*Theta2(:,1);", X,
        "ex4 2.5", ("L2 term", "not regularised")),
    Row("ng-ml", "ex4", "Theta1_grad(:, 1) = Delta1(:, 1)/m", C, "ex4 2.5 and the lecture's D_i0 = Δ_i0 / m"),
    Row("ng-ml", "ex4-small", r"\frac{\partial J}{\partial \Theta^{(1)}_{:,0}} = \frac{1}{m}\Delta^{(1)}_{:,0}", C,
        "the lecture's D_i0 = Δ_i0 / m, as a column slice of Δ"),
    Row("ng-ml", "ex4-small", r"\frac{\partial J}{\partial \Theta^{(1)}_{:,0}} = \frac{1}{m}\Delta^{(1)}_{:,0} "
        r"+ \frac{\lambda}{m}\Theta^{(1)}_{:,0}", X, "the lecture: D_i0 has no λ term", ("L2 term", "not regularised")),
    Row("ng-ml", "ex4", "Theta1_grad(:, 2) = Delta1(:, 2)/m", X, "ex4 2.5: the columns j ≥ 1 get (λ/m)Θ_ij",
        ("L2 term",)),
    Row("ng-ml", "ex4", "Theta1_grad(:, 2) = Delta1(:, 2)/m + (lambda/m)*Theta1(:, 2)", C, "ex4 2.5, j = 1"),
    Row("ng-ml", "ex4-small", r"\frac{\partial J}{\partial \Theta^{(1)}_{:,0}} = \frac{1}{m} (d^{(2)})^T \mathbf{1} "
        r"+ \frac{\lambda}{m}\Theta^{(1)}_{:,0}", X, "the lecture's D_i0 = Δ_i0 / m", ("L2 term", "not regularised")),
)

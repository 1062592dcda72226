r"""Formulas students write for the gradients of a layer, and the verdict their source gives them.

Data only; every verdict is established from the source named, never from symbackprop's output:

* ``cs231n-bn``: CS231n assignment 2, ``batchnorm_backward`` / ``batchnorm_backward_alt`` (layers.py):
  out = γ x̂ + β, x̂ = (x − μ)/√(σ² + ε), μ and σ² (biased) over the rows;
  dbeta = Σ_rows dout, dgamma = Σ_rows dout x̂,
  dx = (γ/(N √(σ² + ε))) (N dout − Σ_rows dout − x̂ Σ_rows(dout x̂)) (the "alt" form).
  Dropping the paths through μ and σ² (x̂ differentiated as if μ, σ² were constants) leaves
  dx = γ dout/√(σ² + ε); dropping only the path through σ² leaves the alt form without its x̂ term.
* ``cs231n-ln``: CS231n assignment 2, ``layernorm_backward``: batch norm's algebra over each row's D
  features, γ applied after normalising: dx = (1/(D √(σ² + ε))) (D g − Σ_d g − x̂ Σ_d (g x̂)) with g = dout γ.
* ``attn``: scaled dot-product attention, S = Q Kᵀ/√d, A = softmax over each row of S, O = A V. With
  dO given: dV = Aᵀ dO, dA = dO Vᵀ, dS = A ⊙ (dA − rowsum(A ⊙ dA)) (the softmax Jacobian, row by row),
  dQ = dS K/√d, dK = dSᵀ Q/√d. Leaving out the rowsum term is treating softmax's normaliser as a constant.

``words``: what the diagnosis must contain for an incorrect row (the mistake, as the source would name it).
"""
from __future__ import annotations

from typing import NamedTuple


class Row(NamedTuple):
    layer: str
    formula: str
    verdict: str
    source: str
    words: tuple = ()


C, X = "correct", "incorrect"

ROWS = (
    # --- batch norm: NumPy ----------------------------------------------------------------------------
    Row("batchnorm", "dbeta = np.sum(dout, axis=0)", C, "cs231n-bn"),
    Row("batchnorm", "dgamma = np.sum(dout * xhat, axis=0)", C, "cs231n-bn"),
    Row("batchnorm", "dx = (gamma / (N * np.sqrt(var + eps))) * (N * dout - np.sum(dout, axis=0) "
                     "- xhat * np.sum(dout * xhat, axis=0))", C, "cs231n-bn alt form"),
    Row("batchnorm", "dx = gamma * (N * dout - dout.sum(axis=0) - xhat * (dout * xhat).sum(axis=0)) "
                     "/ (N * np.sqrt(var + eps))", C, "cs231n-bn alt form, methods and the factor last"),
    Row("batchnorm", "dbeta = np.sum(dout, axis=1)", X, "cs231n-bn: the sum runs over the rows (axis 0)",
        ("shapes do not fit",)),
    Row("batchnorm", "dgamma = np.sum(dout, axis=0)", X, "cs231n-bn: dgamma has the factor x̂"),
    Row("batchnorm", "dx = gamma * dout / np.sqrt(var + eps)", X,
        "cs231n-bn: the paths through μ and σ² are missing", ("mu and var treated as constants",)),
    Row("batchnorm", "dx = (gamma / (N * np.sqrt(var + eps))) * (N * dout - np.sum(dout, axis=0))", X,
        "cs231n-bn: the path through σ² (the x̂ Σ dout x̂ term) is missing", ("var treated as a constant",)),
    # --- batch norm: LaTeX and the index form ------------------------------------------------------------
    Row("batchnorm", r"dx = \frac{\gamma}{N\sqrt{\sigma^2 + \epsilon}} \left(N\, dout - \sum_n dout "
                     r"- \hat{x} \sum_n dout \hat{x}\right)", C, "cs231n-bn alt form in LaTeX"),
    Row("batchnorm", r"dgamma = \sum_n dout \odot \hat{x}", C, "cs231n-bn"),
    Row("batchnorm", "dx[n, d] = gamma[d] / (N * sqrt(var[d] + eps)) * (N * dout[n, d] - sum(dout[k, d], k) "
                     "- xhat[n, d] * sum(dout[k, d] * xhat[k, d], k))", C, "cs231n-bn alt form, index form"),
    Row("batchnorm", "dx[n, d] = gamma[d] / (N * sqrt(var[d] + eps)) * (N * dout[n, d] - sum(dout[k, d], k) "
                     "- xhat[n, d] * sum(dout[k, d], k))", X, "cs231n-bn: the last sum is Σ dout x̂"),
    # --- layer norm: the same algebra over each row's D features (cs231n-ln) -------------------------------
    Row("layernorm", "dx = (1 / (D * np.sqrt(var + eps))) * (D * dout * gamma - np.sum(dout * gamma, axis=1, "
                     "keepdims=True) - xhat * np.sum(dout * gamma * xhat, axis=1, keepdims=True))", C, "cs231n-ln"),
    Row("layernorm", "dx = dout * gamma / np.sqrt(var + eps)", X, "cs231n-ln: the paths through μ and σ² are missing",
        ("mu and var treated as constants",)),
    # --- attention ---------------------------------------------------------------------------------------
    Row("attention", "dV = A.T @ dO", C, "attn"),
    Row("attention", r"dV = A^T dO", C, "attn, LaTeX"),
    Row("attention", "dA = dO @ V.T", C, "attn"),
    Row("attention", "dS = A * (dA - (A * dA).sum(axis=1, keepdims=True))", C, "attn"),
    Row("attention", r"dS = A \odot (dA - rowsum(A \odot dA))", C, "attn, LaTeX"),
    Row("attention", "dS[n, m] = A[n, m] * (dA[n, m] - sum(A[n, k] * dA[n, k], k))", C, "attn, index form"),
    Row("attention", r"dQ = dS K / \sqrt{d}", C, "attn, LaTeX"),
    Row("attention", "dK = dS.T @ Q / np.sqrt(D)", C, "attn"),
    Row("attention", "dS = A * dA", X, "attn: the rowsum term is missing (softmax's normaliser s held constant)",
        ("the rowsum term −rowsum(A ⊙ dA) left out", "the rowsum term is missing",
         "the normaliser s treated as a constant")),
    Row("attention", r"dS = A \odot dA", X, "attn, LaTeX: the rowsum term is missing",
        ("the rowsum term is missing", "s treated as a constant")),
    Row("attention", "dQ = dS @ K", X, "attn: the 1/√d is missing", ("1/√D is missing",)),
    Row("attention", r"dQ = dS K", X, "attn, LaTeX: the 1/√d is missing", ("1/√D is missing",)),
    Row("attention", "dQ = dS @ K / D", X, "attn: 1/√d twice", ("1/√D is doubled", "there twice")),
    Row("attention", r"dQ = \frac{dS K}{d}", X, "attn, LaTeX: 1/√d twice", ("1/√D is doubled",)),
    Row("attention", "dK = dS.T @ Q", X, "attn: the 1/√d is missing", ("1/√D is missing",)),
    Row("attention", r"dK = dS^T Q", X, "attn, LaTeX: the 1/√d is missing", ("1/√D is missing",)),
    Row("attention", "dK = dS.T @ Q / D", X, "attn: 1/√d twice", ("1/√D is doubled",)),
    Row("attention", r"dK = dS^T Q / d", X, "attn, LaTeX: 1/√d twice", ("1/√D is doubled",)),
    Row("attention", "dK = dS @ Q / np.sqrt(D)", X, "attn: dK takes dSᵀ (N ≠ M: the shapes do not fit)",
        ("dK with dS transposed", "dSᵀ in place of dS")),
    Row("attention", r"dK = dS Q / \sqrt{d}", X, "attn, LaTeX: dK takes dSᵀ (N ≠ M)",
        ("dK with dS transposed", "dSᵀ in place of dS")),
)

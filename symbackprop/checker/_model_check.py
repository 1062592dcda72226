"""``check --model``: a hand-derived gradient of a model, judged on the model's composed layer.

A model (:mod:`symbackprop.models`) is composed into one layer whose arrays keep the names
``derive --model`` prints (``z1``, ``a2``, ``W3``, ``p4``, ``dz3``); the formula names one of its gradients
and is judged by :func:`._layer_check.check_layer`, with what the model fixes that a lone layer leaves free:

* the cost is the mean of the per-example losses, C = (1/N) Σ_n L[n], so the upstream gradient is
  dL[n] = 1/N (a formula may write it, ``dz3 = dL * (p4 - Y)``, or not, ``dz3 = (p4 - Y)/N``);
* with a cross-entropy over a softmax, each row of the targets Y sums to 1 (one-hot or probabilities):
  the derivation uses that fact (the cancellation p - Y), so Y is drawn as rows of probabilities.
"""
from __future__ import annotations

import numpy as np

from ._layer_check import check_layer


def _mean_cost_upstream(shape):
    return np.full(shape, 1.0 / shape[0])


def check_model(formula: str, model, seed: int = 0):
    """Judge ``formula`` (one gradient of ``model``'s composed layer, in its names) against the derivation."""
    layer = model.layer
    given = {"d" + name: _mean_cost_upstream for name in layer.outputs}
    if layer.facts and "Y" in layer.arrays:       # Σ_k Y[n, k] = 1, given with the one-hot losses
        rows = np.random.default_rng(seed + 1)

        def probability_rows(shape):
            weights = rows.random(shape) + 0.05
            return weights / weights.sum(axis=-1, keepdims=True)
        given["Y"] = probability_rows
    return check_layer(formula, layer, notation="model", seed=seed, given=given,
                       subject=f"the model {model.spec} (C = (1/N) Σ_n L[n], so dL = 1/N)")

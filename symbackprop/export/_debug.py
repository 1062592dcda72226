"""Andrew Ng's checkNNGradients debug problem (Machine Learning, ex4), rebuilt from its definition.

debugInitializeWeights(fan_out, fan_in) fills a (fan_out, 1 + fan_in) matrix with sin(1), sin(2), ...
divided by 10, in Octave's column-major order; the debug network is 3-5-3 with m = 5 examples,
X = debugInitializeWeights(m, 2) and labels y = 1 + mod(1:m, 3).
"""
from __future__ import annotations

import numpy as np


def debug_initialize_weights(fan_out: int, fan_in: int) -> np.ndarray:
    """ex4's debugInitializeWeights: sin(1..numel)/10 reshaped column-major to (fan_out, 1 + fan_in)."""
    shape = (fan_out, 1 + fan_in)
    return np.sin(np.arange(1, shape[0] * shape[1] + 1, dtype=np.float64)).reshape(shape, order="F") / 10


def ng_debug_problem(l2=0):
    """(network, params, X, Y) of checkNNGradients, in the 'ng' layout: Theta1 (5, 4), Theta2 (3, 6),
    X (5, 3), Y the one-hot code of y = 1 + mod(1:5, 3) = [2, 3, 1, 2, 3]."""
    from ..network import Network
    input_size, hidden_size, labels, m = 3, 5, 3, 5
    network = Network((input_size, hidden_size, labels), hidden="sigmoid", output="sigmoid",
                      loss="cross-entropy", l2=l2, bias="column")
    theta1 = debug_initialize_weights(hidden_size, input_size)
    theta2 = debug_initialize_weights(labels, hidden_size)
    X = debug_initialize_weights(m, input_size - 1)
    y = 1 + np.arange(1, m + 1) % labels
    Y = np.zeros((m, labels))
    Y[np.arange(m), y - 1] = 1.0
    return network, [theta1, theta2], X, Y

"""Gradient checking by central differences, as ex4's checkNNGradients does it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network import Network
from ..errors import ExportError


@dataclass(frozen=True)
class GradCheck:
    """The outcome of a gradient check.

    ``relative_difference`` is ||numerical - analytical|| / ||numerical + analytical|| over all
    parameters (checkNNGradients' measure); below 1e-9 the two agree to about nine digits.
    """

    relative_difference: float
    numerical: np.ndarray     #: all parameters' central differences, concatenated
    analytical: np.ndarray    #: the function's gradient, concatenated the same way
    cost: float
    epsilon: float
    description: str = ""     #: what was checked (network, instance)

    def passed(self, threshold: float = 1e-7) -> bool:
        return bool(np.isfinite(self.relative_difference) and self.relative_difference < threshold)


def numerical_gradient(function, params, X, Y, epsilon: float = 1e-4) -> list:
    """(J(θ + ε e_i) - J(θ - ε e_i)) / 2ε for every parameter entry θ_i, in the shapes of params."""
    params = [np.array(p, dtype=np.float64, order="C", copy=True) for p in params]   # C order: reshape(-1) is a view
    gradients = []
    for array in params:
        gradient = np.empty_like(array)
        flat, out = array.reshape(-1), gradient.reshape(-1)
        for index in range(flat.size):
            saved = flat[index]
            flat[index] = saved + epsilon
            plus = function(params, X, Y)[0]
            flat[index] = saved - epsilon
            minus = function(params, X, Y)[0]
            flat[index] = saved
            out[index] = (plus - minus) / (2 * epsilon)
        gradients.append(gradient)
    return gradients


def random_instance(network: Network, layout: str = "rows", m: int = 5, seed: int = 0):
    """(params, X, Y) for ``network``: weights ~ N(0, 1/fan_in), X ~ N(0, 1), and targets the loss
    accepts: one-hot rows for a softmax output or a loss of the true class, else uniform in (0, 1)."""
    from ._source import parameter_shapes
    rng = np.random.default_rng(seed)
    sizes = tuple(network.sizes)
    params = []
    for shape in parameter_shapes(sizes, layout):
        fan_in = shape[1] if len(shape) == 2 else 1
        params.append(rng.normal(scale=1 / np.sqrt(fan_in), size=shape))
    X = rng.normal(size=(m, sizes[0]))
    n_out = sizes[-1]
    if not network.output.elementwise or not network.loss.separable:
        Y = np.zeros((m, n_out))
        Y[np.arange(m), rng.integers(0, n_out, size=m)] = 1.0
    else:
        Y = rng.uniform(0.05, 0.95, size=(m, n_out))
    return params, X, Y


def small_network(network: Network, max_width: int) -> Network:
    """The same network with every layer at most ``max_width`` units wide (a softmax output keeps 2)."""
    sizes = [min(size, max_width) for size in network.sizes]
    if not network.output.elementwise:
        sizes[-1] = max(sizes[-1], 2)
    hidden = list(network.hidden) if network.hidden else "sigmoid"
    return Network(tuple(sizes), hidden=hidden, output=network.output, loss=network.loss,
                   l2=network.l2, bias=network.bias)


def gradcheck(target, params=None, X=None, Y=None, *, layout: str = "rows", epsilon: float = 1e-4,
              m: int = 5, seed: int = 0, max_width: int | None = None) -> GradCheck:
    """Compare a gradient with central differences of its own cost (ex4's checkNNGradients).

    ``target`` is a Network or Derivation (compiled here, in ``layout``) or a function
    ``f(params, X, Y) -> (cost, grads)``. Without ``params``, ``X``, ``Y`` a random instance with
    ``m`` examples is drawn (:func:`random_instance`), on the network with its layers cut to
    ``max_width`` units when that is given.

    >>> import symbackprop as sb
    >>> check = sb.gradcheck(sb.Network((3, 5, 3), l2=1))
    >>> check.passed(1e-9)
    True
    """
    from ._compile import compile, derivation_of
    description = ""
    if callable(target) and not isinstance(target, Network):
        function = target
        if params is None or X is None or Y is None:
            raise ExportError("gradcheck of a function needs params, X and Y; a Network can draw a random instance")
    else:
        derivation = derivation_of(target)
        network = derivation.network
        if max_width is not None and max(network.sizes) > max_width:
            network = small_network(network, max_width)
            derivation = derivation_of(network)
        function = compile(derivation, layout)
        description = network.describe()
        if params is None or X is None or Y is None:
            params, X, Y = random_instance(network, layout, m, seed)
            description += f"; random instance, m = {m}, seed {seed}"
    # Outside the domain of the network's functions (sqrt of a negative z) the values are NaN; the
    # verdict says so ("not finite"), so NumPy's floating-point warnings would only repeat it.
    with np.errstate(all="ignore"):
        cost, analytical = function(params, X, Y)
        numerical = numerical_gradient(function, params, X, Y, epsilon)
    flat_numerical = np.concatenate([np.ravel(g) for g in numerical])
    flat_analytical = np.concatenate([np.ravel(np.asarray(g)) for g in analytical])
    denominator = np.linalg.norm(flat_numerical + flat_analytical)
    difference = np.linalg.norm(flat_numerical - flat_analytical)
    relative = float(difference / denominator) if denominator > 0 else float(difference)
    return GradCheck(relative, flat_numerical, flat_analytical, float(cost), epsilon, description)

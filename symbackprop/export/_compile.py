"""compile(network) -> f(params, X, Y) -> (cost, grads): the exported NumPy code, executed in process."""
from __future__ import annotations

import builtins
import itertools
import linecache

from ..derivation import Derivation
from ..errors import ShapeError
from ..network import Network
from ..errors import ExportError
from ._source import LAYOUTS, module_source, parameter_shapes

_counter = itertools.count(1)


def derivation_of(target) -> Derivation:
    """The Derivation of a Network (derived here) or a Derivation (as it is)."""
    if isinstance(target, Derivation):
        return target
    if isinstance(target, Network):
        from ..engine import derive
        return derive(target)
    raise ExportError(f"expected a symbackprop.Network or Derivation, got {type(target).__name__}; "
                      f"build one with symbackprop.Network(sizes, hidden=..., output=..., loss=...)")


def compile(network_or_derivation, layout: str = "rows", *, l2=None):
    """The gradient of the network's cost as a NumPy function ``f(params, X, Y) -> (cost, grads)``.

    ``layout='rows'``: ``params = [W2, b2, W3, b3, ...]``, W^l of shape (n_l, n_(l-1)), b^l of shape
    (n_l,); ``layout='ng'``: ``params = [Theta1, Theta2, ...]`` with Ng's bias column, Theta of shape
    (n_(l+1), n_l + 1). ``X`` has one example per row, ``Y`` the targets, both float64.
    ``cost`` is the mean loss over the rows plus lambda/(2m) times the squared weights (biases are
    not regularised); ``grads`` has the order and shapes of ``params``. ``l2`` overrides the
    network's lambda.

    The function is the ``cost_and_gradients`` of the module :func:`export_module` writes, executed
    in this process. It also carries ``f.predict(params, X)``, ``f.source`` (the module's code),
    ``f.derivation``, ``f.layout`` and ``f.shapes`` (of params).

    >>> import numpy as np, symbackprop as sb
    >>> f = sb.compile(sb.Network((2, 3, 1), l2=0))
    >>> params = [np.zeros((3, 2)), np.zeros(3), np.zeros((1, 3)), np.zeros(1)]
    >>> cost, grads = f(params, np.ones((4, 2)), np.ones((4, 1)))
    >>> round(cost, 6)   # ln 2: the output is 1/2 whatever the input
    0.693147
    """
    if layout not in LAYOUTS:
        raise ExportError(f"layout {layout!r} is not accepted; accepted: {', '.join(LAYOUTS)}")
    derivation = derivation_of(network_or_derivation)
    source = module_source(derivation, backend="numpy", layout=layout, l2=l2, standalone=False)
    filename = f"<symbackprop compiled {next(_counter)}: {derivation.network.describe()}>"
    # Registered with linecache so that a traceback through the generated code shows its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "symbackprop_compiled", "ShapeError": ShapeError}
    exec(builtins.compile(source, filename, "exec"), namespace)
    function = namespace["cost_and_gradients"]
    function.predict = namespace["predict"]
    function.source = source
    function.derivation = derivation
    function.layout = layout
    function.shapes = parameter_shapes(tuple(derivation.network.sizes), layout)
    function.l2 = namespace["LAMBDA"]
    return function

"""A network's second order: ``export --second-order`` of a network (both layouts), through its model form.

A network is the model ``affine(n2) > g > affine(n3) > ... > affine(nL) > g_out`` with its loss (the
architecture's one path: tests/test_models.py shows the two exports equal). The module is the network's
own (``cost_and_gradients``, ``predict`` in its layout) followed by the model's second-order functions
(:mod:`._second_order_module`, named ``_model_hvp`` ...) and three wrappers that take and return the
network's layout: rows ``[W2, b2, W3, b3, ...]`` with W^l (n_l, n_(l-1)), or Ng's ``[Theta1, ...]`` with
the bias column. The L2 term λ/(2m) Σ W² (biases not regularised) adds (λ/m) v to H v and G v, and λ/m to
the diagonal of G, on the weights only.
"""
from __future__ import annotations

from ..errors import ExportError
from ._module import derivation_of
from ._source import module_source

#: per backend: a transpose, and joining the bias column to a weight matrix (Ng's layout)
_ARRAY_OPS = {
    "numpy": {"join": "np.concatenate([{b}[:, None], {w}], axis=1)", "asarray": "np.asarray({x}, dtype=float)"},
    "jax": {"join": "jnp.concatenate([{b}[:, None], {w}], axis=1)", "asarray": "jnp.asarray({x})"},
    "torch": {"join": "torch.cat([{b}[:, None], {w}], dim=1)", "asarray": "torch.as_tensor({x})"},
}


def network_model(network):
    """The model of a network: its stages and loss, for the second-order functions."""
    from ..models import LOSSES, build_model
    loss = network.loss.name
    if loss not in LOSSES:
        raise ExportError(f"--second-order: the loss {loss} has no model form yet; accepted: {', '.join(LOSSES)}")
    stages = []
    for width, activation in zip(network.sizes[1:], [*network.hidden, network.output]):
        stages += [f"affine({width})", activation.name]
    return build_model(" > ".join(stages), loss, network.sizes[0])


def network_second_order_source(network, layout: str, backend: str = "numpy") -> str:
    """The network's module with ``hvp``, ``ggn_vp`` and ``diag_ggn`` in the network's layout."""
    from ._second_order_module import second_order_parts
    model = network_model(network)
    source = module_source(derivation_of(network), backend=backend, layout=layout)
    count = len(network.sizes) - 1          # weight matrices
    ops = _ARRAY_OPS[backend]
    shapes = {name: model.shape(name) for name in ["X", "Y", *model.params]}
    ng = layout == "ng"
    lines = [source.rstrip("\n"), "", "",
             "# ---- second order: the network as the model " + model.spec + f" ({model.loss})",
             f"_MODEL_SHAPES = {shapes!r}", "", "",
             "def _model_check(name, array):",
             "    expected = _MODEL_SHAPES[name]",
             "    if array.ndim != len(expected) or any(e != 'N' and e != s for e, s in zip(expected, array.shape)):",
             "        raise ValueError(f\"{name} has shape {array.shape}; expected {expected}\")",
             *second_order_parts(model, backend, public="_model_", check="_model_check"), "", "",
             "def _to_model(arrays):",
             f'    """The network\'s {"[Theta1, ...] (bias column first)" if ng else "[W2, b2, ...]"} as the model\'s '
             f'[W1, b1, ...] (W (n_(l-1), n_l), b (n_l,))."""',
             f"    arrays = [{ops['asarray'].format(x='a')} for a in arrays]",
             f"    if len(arrays) != {count if ng else 2 * count}:",
             f"        raise ValueError(f\"got {{len(arrays)}} arrays; expected {count if ng else 2 * count} in layout "
             f"{layout}\")",
             "    model = []",
             *(["    for theta in arrays:", "        model += [theta[:, 1:].T, theta[:, 0]]"] if ng else
               ["    for W, b in zip(arrays[0::2], arrays[1::2]):", "        model += [W.T, b]"]),
             "    return model", "", "",
             "def _from_model(model):",
             "    result = []",
             "    for W, b in zip(model[0::2], model[1::2]):",
             (f"        result.append({ops['join'].format(b='b', w='W.T')})" if ng else
              "        result += [W.T, b]"),
             "    return result", "", "",
             "def _l2(V, m):",
             '    """The Hessian of LAMBDA / (2 m) Σ W² times V: (LAMBDA / m) V on the weights, zero on the biases."""',
             "    model = _to_model(V)",
             "    return _from_model([LAMBDA / m * v if k % 2 == 0 else 0.0 * v for k, v in enumerate(model)])", "", "",
             "def hvp(params, X, Y, V):",
             '    """[H v for each param, in this layout]: the Hessian of the cost J (mean loss + L2) times V."""',
             "    product = _from_model(_model_hvp(_to_model(params), X, Y, _to_model(V)))",
             "    return [h + r for h, r in zip(product, _l2(V, len(X)))]", "", "",
             "def ggn_vp(params, X, Y, V):",
             '    """[G v for each param]: the generalised Gauss-Newton matrix of J (the L2 term\'s Hessian included) '
             'times V."""',
             "    product = _from_model(_model_ggn_vp(_to_model(params), X, Y, _to_model(V)))",
             "    return [g + r for g, r in zip(product, _l2(V, len(X)))]", "", "",
             "def diag_ggn(params, X, Y):",
             '    """[diag(G) for each param, in its shape]: the exact diagonal of the Gauss-Newton matrix of J."""',
             "    diagonal = _from_model(_model_diag_ggn(_to_model(params), X, Y))",
             "    ones = [p * 0.0 + 1.0 for p in _from_model(_to_model(params))]",
             "    return [d + r for d, r in zip(diagonal, _l2(ones, len(X)))]", ""]
    return "\n".join(lines)

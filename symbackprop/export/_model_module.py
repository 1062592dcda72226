"""Standalone NumPy, JAX or torch modules for models: ``cost_and_gradients(params, X, Y) -> (cost, gradients)``.

The module is the composed layer's module (:mod:`._layer_module`: ``forward``/``backward`` printed
from the derivation, backward computing the parameters' gradients only) and a wrapper that feeds
the upstream gradient of the mean cost, dL[n] = 1/N, and checks the shapes the model fixes.
"""
from __future__ import annotations

import types
from pathlib import Path

from ._files import load_module, write_module
from ._layer_module import layer_source

#: how a model's module makes arrays of its arguments and the upstream gradient, per backend
_ARRAYS = {
    "numpy": {"array": "np.asarray({x}, dtype=float)", "zeros": "np.zeros(({n}, {n}))", "fill": "np.full({n}, {value})",
              "sum": "np.sum({x})"},
    "jax": {"array": "jnp.asarray({x})", "zeros": "jnp.zeros(({n}, {n}), dtype=X.dtype)",
            "fill": "jnp.full({n}, {value}, dtype=X.dtype)", "sum": "jnp.sum({x})"},
    "torch": {"array": "torch.as_tensor({x})", "zeros": "torch.zeros(({n}, {n}), dtype=X.dtype, device=X.device)",
              "fill": "torch.full(({n},), {value}, dtype=X.dtype, device=X.device)", "sum": "torch.sum({x})"},
}


def model_source(model, derivation, backend: str = "numpy") -> str:
    """The source of the standalone module for a model and the derivation of its composed layer."""
    params = list(model.params)
    source = layer_source(derivation, returns=params, backend=backend)
    arrays = _ARRAYS[backend]
    stages = "\n".join(f"    {stage}" for stage in model.stages)
    header = (f'"""{model.describe()}\n\nStages (parameters numbered by their stage):\n{stages}\n\n'
              f"cost_and_gradients(params, X, Y) takes params = [{', '.join(params)}] and returns the mean cost "
              f"C = (1/N) Σ_n L[n] and its gradients in that order.\n\n")
    source = source.replace('"""', header, 1)
    extra = [a.name for a in model.layer.inputs if a.name not in ("X", "Y")]     # attention masks
    shapes = {name: model.shape(name) for name in ["X", "Y", *extra, *params]}
    unpack = ", ".join(params) + ("," if len(params) == 1 else "")
    lines = ["", "", f"SHAPES = {shapes!r}", "", "",
             "def _check(name, array):",
             "    expected = SHAPES[name]",
             "    if array.ndim != len(expected) or any(e != 'N' and e != s for e, s in zip(expected, array.shape)):",
             "        raise ValueError(f\"{name} has shape {array.shape}; expected {expected}\")",
             "", "",
             f"def cost_and_gradients(params, X, Y{''.join(f', {name}=None' for name in extra)}):",
             '    """(C, [dC/dparam for each param]): the mean cost over the N examples (rows of X and Y) and its '
             'gradients.' + (f" {', '.join(extra)}: the additive attention mask (N, N), zeros (none) by default; "
                             "-inf above the diagonal for a causal mask." if extra else "") + '"""',
             f"    if len(params) != {len(params)}:",
             f"        raise ValueError(f\"params has {{len(params)}} arrays; expected {len(params)}: "
             f"{', '.join(params)}\")",
             f"    X, Y = {arrays['array'].format(x='X')}, {arrays['array'].format(x='Y')}",
             f"    {unpack} = ({arrays['array'].format(x='p')} for p in params)",
             *(f"    {name} = {arrays['zeros'].format(n='X.shape[0]')} if {name} is None else "
               f"{arrays['array'].format(x=name)}" for name in extra),
             *(f"    _check({name!r}, {name})" for name in ["X", "Y", *extra, *params]),
             "    if X.shape[0] != Y.shape[0]:",
             "        raise ValueError(f\"X has {X.shape[0]} rows and Y {Y.shape[0]}; expected one row of each per "
             "example\")",
             f"    L, cache = forward(X, Y, {', '.join(extra + params)})",
             "    N = X.shape[0]",
             f"    gradients = backward({arrays['fill'].format(n='N', value='1.0 / N')}, cache)",
             f"    return float({arrays['sum'].format(x='L')}) / N, list(gradients)",
             ""]
    return source.rstrip("\n") + "\n" + "\n".join(lines)


def model_module(model, derivation, backend: str = "numpy") -> types.ModuleType:
    """The generated module, loaded in this process (for tests and benchmarks)."""
    return load_module(model_source(model, derivation, backend), f"symbackprop_model_{backend}")


def export_model_module(model, derivation, path, force: bool = False, backend: str = "numpy") -> Path:
    """Write the module to ``path``; refuses to overwrite unless ``force``."""
    return write_module(model_source(model, derivation, backend), path, force)

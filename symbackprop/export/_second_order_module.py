"""The second-order functions of a model's module: ``hvp``, ``ggn_vp`` and ``diag_ggn`` beside
``cost_and_gradients``, each returning a list aligned with ``params``.

Every function is a wrapper around layer modules printed by :mod:`._layer_module` from derivations
(nothing is written per model):

* ``hvp``: the tangent model (:func:`~symbackprop.layers._second_order.tangent_layer`: the forward
  pass and its R-operator, outputs L and RL), whose derived backward pass with dL = 0, dRL = 1/N
  gives R{∂C/∂W} = H v;
* ``ggn_vp``: G v = Jᵀ H_L J v. The tangent of the model truncated at its logits z gives J v = R{z}
  (forward) and Jᵀ u (backward with dz = u); the tangent of the loss head (the loss as a function of z)
  gives u = H_L R{z} as R{∂L/∂z} (its backward with dRL = 1/N);
* ``diag_ggn``: the exact diagonal of G (BackPACK's DiagGGNExact): H_L of each example, column by column
  from the head's R-operator, factored H_L = S Sᵀ (symmetric eigendecomposition, S = Q √Λ), and each
  column of S pulled back through Jᵀ for that example alone; diag(G) = Σ_n Σ_c (J_nᵀ S_n[:, c])².
"""
from __future__ import annotations

import types
from pathlib import Path

import sympy as sp

from ..errors import ExportError, LayerSpecError
from ..layers import derive_layer
from ..layers._second_order import squared_per_example, tangent_layer, truncated
from ..models._second_order import logits_of, loss_head
from ._files import load_module, write_module
from ._layer_module import layer_code
from ._model_module import _ARRAYS, model_source

#: per backend: zeros like an array, an (N,) filled vector, eigendecomposition, stacking, a copy with one row kept
_SECOND = {
    "numpy": {"zeros_like": "np.zeros_like({x})", "eigh": "np.linalg.eigh({x})", "sqrt": "np.sqrt({x})",
              "clip": "np.clip({x}, 0.0, None)", "stack": "np.stack({x}, axis=-1)"},
    "jax": {"zeros_like": "jnp.zeros_like({x})", "eigh": "jnp.linalg.eigh({x})", "sqrt": "jnp.sqrt({x})",
            "clip": "jnp.clip({x}, 0.0, None)", "stack": "jnp.stack({x}, axis=-1)"},
    "torch": {"zeros_like": "torch.zeros_like({x})", "eigh": "torch.linalg.eigh({x})", "sqrt": "torch.sqrt({x})",
              "clip": "torch.clamp({x}, min=0.0)", "stack": "torch.stack({x}, dim=-1)"},
}


def second_order_source(model, derivation, backend: str = "numpy") -> str:
    """The model's module (``cost_and_gradients``) with ``hvp``, ``ggn_vp`` and ``diag_ggn`` added."""
    source = model_source(model, derivation, backend)
    source = source.replace("cost_and_gradients(params, X, Y) takes params",
                            "cost_and_gradients(params, X, Y), hvp(params, X, Y, V), ggn_vp(params, X, Y, V) and "
                            "diag_ggn(params, X, Y) take params", 1)
    return source.rstrip("\n") + "\n" + "\n".join(second_order_parts(model, backend)) + "\n"


def second_order_parts(model, backend: str = "numpy", public: str = "", check: str = "_check") -> list:
    """The lines of the three layer modules and the wrappers, to follow a module that defines ``check`` (name,
    array) and imports the backend; the wrappers are named ``{public}hvp``, ``{public}ggn_vp``, ``{public}diag_ggn``."""
    layer = model.layer
    params = list(model.params)
    logits = logits_of(model)
    parts = {
        "_hvp_": (derive_layer(tangent_layer(layer, "L").layer), params),
        "_jvp_": (derive_layer(tangent_layer(truncated(layer, logits, "logits"), logits).layer), params),
        "_head_": (derive_layer(tangent_layer(loss_head(model), "L").layer), [logits]),
    }
    squared = squared_per_example(derive_layer(truncated(layer, logits, "logits")))
    if squared is not None:         # the examples do not meet (no batch norm): squares of per-example gradients
        parts["_sq_"] = (squared, params)
    codes = {prefix: layer_code(d, returns=returns, backend=backend, prefix=prefix, header=False)
             for prefix, (d, returns) in parts.items()}
    lines = [""]
    for code in codes.values():
        lines += ["", code.source.rstrip("\n"), ""]
    wrappers = _wrappers(model, params, logits, codes, backend)
    renamed = {"def hvp(": f"def {public}hvp(", "def ggn_vp(": f"def {public}ggn_vp(",
               "def diag_ggn(": f"def {public}diag_ggn(", "_check(": f"{check}("}
    for line in wrappers:
        for old, new in renamed.items():
            line = line.replace(old, new)
        lines.append(line)
    return lines


def _call(code, values) -> str:
    """forward's arguments, in its order, from the names the wrapper holds."""
    return ", ".join(values.get(argument, argument) for argument in code.arguments)


def _wrappers(model, params, logits, codes, backend) -> list:
    arrays, second = _ARRAYS[backend], _SECOND[backend]
    count = len(params)
    directions = {p: f"R{p}" for p in params}
    unpack = ", ".join(params) + ("," if count == 1 else "")
    runpack = ", ".join(directions.values()) + ("," if count == 1 else "")
    fill = arrays["fill"]
    zeros = fill.format(n="N", value="0.0")
    mean = fill.format(n="N", value="1.0 / N")
    hvp, jvp, head_code = codes["_hvp_"], codes["_jvp_"], codes["_head_"]
    r_logits = f"R{logits}"
    extras = [a.name for a in model.layer.inputs if a.name not in ("X", "Y")]      # attention masks
    signature = "".join(f", {name}=None" for name in extras)
    passed = "".join(f", {name}={name}" for name in extras)
    check = [f"    if len(params) != {count}:",
             f"        raise ValueError(f\"params has {{len(params)}} arrays; expected {count}: {', '.join(params)}\")",
             f"    X, Y = {arrays['array'].format(x='X')}, {arrays['array'].format(x='Y')}",
             f"    {unpack} = ({arrays['array'].format(x='p')} for p in params)",
             *(f"    _check({name!r}, {name})" for name in ["X", "Y", *params]),
             "    if X.shape[0] != Y.shape[0]:",
             "        raise ValueError(f\"X has {X.shape[0]} rows and Y {Y.shape[0]}; expected one row of each per "
             "example\")",
             "    N = X.shape[0]",
             *(f"    {name} = {arrays['zeros'].format(n='N')} if {name} is None else {arrays['array'].format(x=name)}"
               for name in extras)]
    take_v = [f"    if len(V) != {count}:",
              f"        raise ValueError(f\"V has {{len(V)}} arrays; expected {count}, one direction per parameter: "
              f"{', '.join(params)}\")",
              f"    {runpack} = ({arrays['array'].format(x='v')} for v in V)",
              *(f"    _check({p!r}, {r})" for p, r in directions.items())]
    lines = ["", "",
             f"def hvp(params, X, Y, V{signature}):",
             '    """[H v for each param]: the Hessian of the mean cost C times the directions V (a list aligned '
             'with params), by the R-operator: R{dC/dW}."""',
             *check, *take_v,
             f"    _, cache = _hvp_forward({_call(hvp, {})})",
             f"    return list(_hvp_backward(({zeros}, {mean}), cache))",
             "", "",
             f"def _jv(X, params, V{signature}):",
             f'    """J v = R{{{logits}}}, the logits\' directional derivative, and the cache of the pullback."""',
             f"    {unpack} = params",
             f"    {runpack} = V",
             f"    ({logits}, {r_logits}), cache = _jvp_forward({_call(jvp, {})})",
             f"    return {logits}, {r_logits}, cache",
             "", "",
             "def _jt(u, cache):",
             f'    """Jᵀ u: the parameters\' gradients when {logits} receives the upstream gradient u."""',
             f"    return list(_jvp_backward((u, {second['zeros_like'].format(x='u')}), cache))",
             "", "",
             "def _loss_hvp(Y, logits, direction):",
             f'    """H_L direction per example, H_L = d2L[n]/d{logits}[n] d{logits}[n]^T: R{{dL/d{logits}}}."""',
             "    N, X = logits.shape[0], logits       # the filled upstream gradients take X's dtype and device",
             f"    _, cache = _head_forward({_call(head_code, {logits: 'logits', r_logits: 'direction'})})",
             f"    (u,) = _head_backward(({zeros}, {fill.format(n='N', value='1.0')}), cache)",
             "    return u",
             "", "",
             f"def ggn_vp(params, X, Y, V{signature}):",
             '    """[G v for each param]: the generalised Gauss-Newton matrix G = Jᵀ H_L J of the mean cost times '
             f'V; J = d{logits}/dparams, H_L the Hessian of the loss with respect to the logits {logits}."""',
             *check, *take_v,
             f"    {logits}, {r_logits}, cache = _jv(X, [{', '.join(params)}], [{', '.join(directions.values())}]{passed})",
             f"    return _jt(_loss_hvp(Y, {logits}, {r_logits}) / N, cache)",
             "", "",
             f"def diag_ggn(params, X, Y{signature}):",
             '    """[diag(G) for each param, in its shape]: the exact diagonal of the generalised Gauss-Newton '
             'matrix of the mean cost (BackPACK\'s DiagGGNExact)."""',
             *check,
             f"    zero = [{', '.join(second['zeros_like'].format(x=p) for p in params)}]",
             f"    {logits}, _, cache = _jv(X, [{', '.join(params)}], zero{passed})",
             f"    eye = {second['zeros_like'].format(x=logits)}",
             "    columns = []",
             f"    for k in range({logits}.shape[1]):",
             "        basis = eye * 1.0",
             "        basis[:, k] = 1.0" if backend != "jax" else "        basis = basis.at[:, k].set(1.0)",
             f"        columns.append(_loss_hvp(Y, {logits}, basis))",
             f"    hessians = {second['stack'].format(x='columns')}",
             "    hessians = (hessians + hessians.transpose(1, 2) if hessians.ndim == 3 else hessians) / 2"
             if backend == "torch" else "    hessians = (hessians + hessians.swapaxes(1, 2)) / 2",
             f"    values, vectors = {second['eigh'].format(x='hessians')}",
             f"    factors = vectors * {second['sqrt'].format(x=second['clip'].format(x='values'))}[:, None, :]",
             "    diagonal = [p * 0.0 for p in params]",
             *(["    # no equation sums over the examples: one pass per column of S gives every example's squares",
                f"    _, squares_cache = _sq_forward({_call(codes['_sq_'], {})})",
                "    for c in range(factors.shape[2]):",
                "        squares = _sq_backward(factors[:, :, c], squares_cache)",
                "        diagonal = [d + s for d, s in zip(diagonal, squares)]"] if "_sq_" in codes else
               ["    # the examples meet (batch norm): each example's column of S pulled back alone",
                "    for n in range(N):",
                "        for c in range(factors.shape[2]):",
                "            u = eye * 1.0",
                "            u[n] = factors[n, :, c]" if backend != "jax" else "            u = u.at[n].set(factors[n, :, c])",
                "            pulled = _jt(u, cache)",
                "            diagonal = [d + g * g for d, g in zip(diagonal, pulled)]"]),
             "    return [d / N for d in diagonal]",
             ""]
    return lines


def second_order_module(model, derivation, backend: str = "numpy") -> types.ModuleType:
    """The generated module, loaded in this process (for tests and benchmarks)."""
    return load_module(second_order_source(model, derivation, backend), f"symbackprop_second_order_{backend}")


def export_second_order_module(model, derivation, path, force: bool = False, backend: str = "numpy") -> Path:
    """Write the module to ``path``; refuses to overwrite unless ``force``."""
    return write_module(second_order_source(model, derivation, backend), path, force)


def layer_second_order_source(derivation, backend: str = "numpy") -> str:
    """A layer's module (``forward``, ``backward``) with ``r_backward``: the R-operator of backward, the directional
    derivative of (d_inputs..., d_params...) along directions of every input, parameter and the upstream gradient."""
    from ._layer_module import layer_source
    layer = derivation.layer
    if len(layer.outputs) != 1:
        raise LayerSpecError(f"--second-order: {layer.name} has {len(layer.outputs)} outputs; r_backward is written "
                             f"for layers with one")
    (output,) = layer.outputs
    tangent = tangent_layer(layer, output, with_inputs=True)
    names = [a.name for a in layer.differentiable]
    tangent_derivation = derive_layer(tangent.layer)
    if any(g.final.has(sp.DiracDelta) for g in tangent_derivation.gradients.values()):
        raise ExportError(f"--second-order: {layer.name}'s R{{backward}} differentiates sign(x) (from |x|), whose "
                          f"derivative the exporter does not print yet; layers without |x| have r_backward")
    code = layer_code(tangent_derivation, returns=names, backend=backend, prefix="_r_", header=False)
    directions = [direction for _, direction in tangent.directions]
    d_out, r_d_out = f"d{output}", f"Rd{output}"
    arguments = ", ".join([*names, *directions, d_out, r_d_out])
    lines = [layer_source(derivation, backend=backend).rstrip("\n"), "", "", code.source.rstrip("\n"), "", "",
             f"def r_backward({arguments}):",
             f'    """R{{backward}}: the directional derivative of backward\'s ({", ".join("d" + n for n in names)}) '
             f'along ({", ".join(directions)}) and {r_d_out} (the direction of the upstream gradient {d_out}), '
             f'in that order: the R-operator of the layer\'s backward pass."""',
             f"    _, cache = _r_forward({_call(code, {})})",
             f"    return _r_backward(({r_d_out}, {d_out}), cache)", ""]
    return "\n".join(lines)


def layer_second_order_module(derivation, backend: str = "numpy") -> types.ModuleType:
    return load_module(layer_second_order_source(derivation, backend), f"symbackprop_layer_second_order_{backend}")

"""A recurrent layer (rnn, lstm, gru, a user's cell) as a drop-in autograd op: a ``torch.autograd.Function``
whose forward runs the whole time loop and whose backward is the derived backpropagation through time, and an
``nn.Module`` holding the weights; or a ``jax.custom_vjp`` function whose residuals are forward's cache
without its sizes (read back from the saved arrays' shapes, so they stay static under jit).

The op wraps the recurrent module printed for torch (:func:`._recurrent_module.recurrent_source`): the
Function saves the cache that module's ``forward`` returns (its tensors through ``save_for_backward``, its
sizes on ctx) and hands it back to its ``backward``. The op's output is the layer's output at every step; a
state that is no output (the LSTM's c) gets no upstream gradient from its last value (``dc_last=None``).
"""
from __future__ import annotations

from ..errors import ExportError
from ._index_printing import code_name
from ._recurrent_module import _Arrays, layout_of, recurrent_source


def recurrent_op_source(derivation, backend: str, notation=None) -> str:
    """The op module of a recurrent layer's derivation, in a notation's layout (torch only so far)."""
    layer = derivation.layer
    if backend not in ("torch", "jax"):
        raise ExportError(f"--op --backend {backend}: an op is written for --backend torch (autograd.Function) or "
                          f"jax (custom_vjp)")
    user = _Arrays(layer, layout_of(notation), backend)
    arguments = [name for name, _ in user.arguments()]
    param_names = {p.name for p in layer.params}
    params = [(name, parts) for name, parts in user.arguments() if parts[0] in param_names]
    inputs = [name for name, parts in user.arguments() if parts[0] not in param_names]
    name = layer.name.replace("-", "_")
    cls = "".join(part.capitalize() for part in name.split("_"))
    sizes = list(dict.fromkeys(str(s) for p in layer.params for s in p.sizes if not str(s).isdigit()))
    outputs = ", ".join(user.user(o) for o in layer.outputs)
    several = len(layer.outputs) > 1
    parameter_lines = []
    for code, parts in params:
        shape = user.argument_sizes(parts)
        parameter_lines.append(f"        self.{code} = torch.nn.Parameter(_uniform(({', '.join(shape)}"
                               f"{',' if len(shape) == 1 else ''}), dtype, device))")
    source = recurrent_source(derivation, notation, backend=backend)
    if backend == "jax":
        return _jax_op(source, derivation, name, arguments, outputs)
    header = (f"{layer.describe()}: an autograd op whose forward runs the time loop and whose backward is the "
              f"derived backpropagation through time.\n\nUse: {name}({', '.join(arguments)}) -> {outputs} at every "
              f"step (the torch.autograd.Function {cls}Function.apply), and the nn.Module {cls}({', '.join(sizes)}), "
              f"which holds the weights: {cls}(...)({', '.join(inputs)}).\nAny device, float32 or float64 (the dtype "
              f"of the arguments). Saved for backward: forward's cache (every step's states and gates).\n\n"
              f"The module below it: forward(...) -> (out, cache) and backward(dout, cache), as exported without "
              f"--op.\n\n")
    source = source.replace('"""', '"""' + header, 1)
    wrapper = [
        f"class {cls}Function(torch.autograd.Function):",
        f'    """{name}({", ".join(arguments)}) with the derived backpropagation through time."""',
        "",
        "    @staticmethod",
        f"    def forward(ctx, {', '.join(arguments)}):",
        f"        out, cache = forward({', '.join(arguments)})",
        "        ctx.tensor_names = [key for key, value in cache.items() if isinstance(value, torch.Tensor)]",
        "        ctx.sizes = {key: value for key, value in cache.items() if not isinstance(value, torch.Tensor)}",
        "        ctx.save_for_backward(*(cache[key] for key in ctx.tensor_names))",
        "        return out",
        "",
        "    @staticmethod",
        f"    def backward(ctx, {'*douts' if several else 'dout'}):",
        "        cache = dict(zip(ctx.tensor_names, ctx.saved_tensors), **ctx.sizes)",
        f"        gradients = backward({'list(douts)' if several else 'dout'}, cache)",
        "        return tuple(gradient if needed else None for gradient, needed in zip(gradients, ctx.needs_input_grad))",
        "",
        "",
        f"def {name}({', '.join(arguments)}):",
        f'    """The op: {outputs} at every step, differentiable by torch autograd."""',
        f"    return {cls}Function.apply({', '.join(arguments)})",
        "",
        "",
        "def _uniform(shape, dtype, device):",
        '    """A parameter\'s first values: uniform in ±1/√(its first size), as torch.nn.RNN; copy_ others in."""',
        "    bound = 1.0 / max(shape[0], 1) ** 0.5",
        "    return torch.empty(shape, dtype=dtype, device=device).uniform_(-bound, bound)",
        "",
        "",
        f"class {cls}(torch.nn.Module):",
        f'    """{name} with its weights {", ".join(c for c, _ in params)} held as torch.nn.Parameter."""',
        "",
        f"    def __init__(self, {', '.join([*sizes, '*', 'dtype=None', 'device=None'])}):",
        "        super().__init__()",
        *parameter_lines,
        "",
        f"    def forward(self, {', '.join(inputs)}):",
        f"        return {cls}Function.apply({', '.join([*inputs, *(f'self.{c}' for c, _ in params)])})",
        "",
    ]
    return source.rstrip("\n") + "\n\n\n" + "\n".join(wrapper)


def _size_places(derivation) -> tuple:
    """(size, array in forward's cache, axis) for every size the backward reads: from the first sequence
    (T, then its own sizes) and the parameters, in the layer's axis order."""
    layer = derivation.layer
    places = {}
    for name in layer.sequences:
        for axis, size in enumerate((layer.time, *derivation.cell.layer.arrays[name].sizes)):
            places.setdefault(str(size), (f"{code_name(name)}_seq", axis))
    for param in layer.params:
        for axis, size in enumerate(param.sizes):
            places.setdefault(str(size), (code_name(param.name), axis))
    wanted = [str(s) for s in (*derivation.cell.layer.sizes, layer.time)]
    missing = [s for s in wanted if s not in places]
    if missing:
        raise ExportError(f"--op --backend jax: the sizes {', '.join(missing)} of the layer {layer.name} are the "
                          f"shape of no input sequence or parameter")
    return tuple((size, *places[size]) for size in wanted)


def _jax_op(source, derivation, name, arguments, outputs) -> str:
    layer = derivation.layer
    places = _size_places(derivation)
    header = (f"{layer.describe()}: an autograd op whose forward runs the time loop and whose backward is the derived "
              f"backpropagation through time.\n\nUse: {name}({', '.join(arguments)}) -> {outputs} at every step, a "
              f"jax.custom_vjp function (jit, grad). Residuals: forward's cache (every step's states and gates), "
              f"its sizes read back from their shapes.\n\nThe module below it: forward(...) -> (out, cache) and "
              f"backward(dout, cache), as exported without --op.\n\n")
    source = source.replace('"""', '"""' + header, 1).replace("import jax.numpy as jnp", "import jax\nimport jax.numpy as jnp", 1)
    signature = ", ".join(arguments)
    wrapper = [
        f"_SIZES = {places!r}",
        "",
        "",
        "@jax.custom_vjp",
        f"def {name}({signature}):",
        f'    """The op: {outputs} at every step, with the derived backpropagation through time (jit, grad)."""',
        f"    return forward({signature})[0]",
        "",
        "",
        f"def _{name}_forward({signature}):",
        f"    out, cache = forward({signature})",
        "    sizes = {size for size, _, _ in _SIZES}",
        "    return out, {key: value for key, value in cache.items() if key not in sizes}",
        "",
        "",
        f"def _{name}_backward(saved, dout):",
        "    cache = dict(saved)",
        "    cache.update({size: cache[array].shape[axis] for size, array, axis in _SIZES})",
        "    return tuple(backward(dout, cache))",
        "",
        "",
        f"{name}.defvjp(_{name}_forward, _{name}_backward)",
        "",
    ]
    return source.rstrip("\n") + "\n\n\n" + "\n".join(wrapper)

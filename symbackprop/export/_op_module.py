"""Layers and models as drop-in autograd ops: a ``torch.autograd.Function`` (with an ``nn.Module`` holding the
parameters) or a ``jax.custom_vjp`` function whose backward is the derived one.

The op wraps the layer's module printed for the backend (:func:`._layer_module.layer_code`): its
``forward`` returns the outputs and a cache, its ``backward`` the gradients. What the op saves is the
cache, which the printer chose from the derivation: the forward values the derived backward reads,
nothing else; a quantity the backward reads only through one elementwise expression of it is saved as that
expression (batch norm: x̂ and 1/√(var + ε), not the centred inputs, their squares, the mean or the
variance). Every other value the backward needs (a mask of x > 0, tanh(x), ...) it recomputes from them, and the
sizes it reads from their shapes (a size no saved array has is kept as a number: on torch's ctx, as the
shape of an empty array in JAX's residuals). The module's docstring lists them. The op module imports only its
framework (NumPy too where a printed helper needs it: never for the built-in layers).
"""
from __future__ import annotations

import types
from pathlib import Path

from ..errors import ExportError
from ._files import load_module, write_module
from ._layer_module import layer_code

OP_BACKENDS = ("torch", "jax")


def layer_op_source(derivation, backend: str) -> str:
    """The op module of one layer's derivation: every input and parameter differentiable."""
    layer = derivation.layer
    if getattr(layer, "recurrent", False):
        from ._recurrent_op import recurrent_op_source
        return recurrent_op_source(derivation, backend)
    code = layer_code(derivation, backend=backend, save_reads=True)
    params = tuple(code.arguments[len(code.arguments) - len(layer.params):]) if layer.params else ()
    return _op_source(code, _identifier(layer.name), backend, layer.describe(), params, None)


def model_op_source(model, derivation, backend: str) -> str:
    """The op module of a model: ``op(X, Y, *params) -> L`` (the per-example losses), gradients of the
    parameters only, and a module holding the parameters in the model's shapes."""
    params = tuple(model.params)
    code = layer_code(derivation, returns=params, backend=backend, save_reads=True)
    shapes = {name: tuple(int(s) for s in model.shape(name)) for name in params}
    return _op_source(code, "model", backend, model.describe(), params, shapes)


def _op_source(code, name: str, backend: str, description: str, params: tuple, shapes) -> str:
    if backend not in OP_BACKENDS:
        raise ExportError(f"--backend {backend}: an op (--op) is written for torch (autograd.Function) or jax "
                          f"(custom_vjp)")
    header = _header(code, name, backend, description)
    source = code.source.replace('"""', '"""' + header, 1)
    tables = [f"_ARGUMENTS = {code.arguments!r}", f"_OPTIONAL = {code.optional!r}", f"_SAVED = {code.saved!r}",
              f"_RETURNED = {code.returned!r}"]
    sizes = [(size, array, axis) for size, array, axis in code.sizes]
    missing = [size for size, array, _ in sizes if array not in code.saved]
    tables.append(f"_SIZES = {tuple(s for s in sizes if s[0] not in missing)!r}")
    tables.append(f"_KEPT_SIZES = {tuple(missing)!r}")
    wrapper = _torch_wrapper(code, name, params, shapes) if backend == "torch" else _jax_wrapper(code, name)
    return source.rstrip("\n") + "\n\n\n" + "\n".join(tables) + "\n\n\n" + wrapper


def _header(code, name, backend, description) -> str:
    def shape(array):
        return "(" + ", ".join(map(str, code.shapes.get(array, ()))) + ("," if len(code.shapes.get(array, ())) == 1
                                                                         else "") + ")"

    if backend == "torch":
        use = (f"{name}({', '.join(code.arguments)}) (a torch.autograd.Function, {_class(name)}Function.apply) and "
               f"the nn.Module {_class(name)}, which holds the parameters")
    else:
        use = f"{name}({', '.join(code.arguments)}), a jax.custom_vjp function (jit, vmap, grad)"
    saved = [f"    {array} {shape(array)}" + ("  (an argument: saved by reference, not copied)"
                                                if array in code.arguments else "")
             + (f"  made in the forward: {code.formulas[array]}" if array in code.formulas else "")
             for array in code.saved]
    lines = [f"{description}: an autograd op whose backward is the derived one.", "", f"Use: {use}.",
             "Any device, float32 or float64 (the dtype of the arguments).", "",
             "Saved for backward (the forward values the derived backward reads; nothing else):",
             *(saved or ["    nothing"]),
             "Recomputed in backward: every other value it reads, as elementwise expressions of these (see",
             f"the backward formulas below and backward()); {_sizes_note(code)}.", "",
             "The module below it: forward(...) -> (out, cache) and backward(dout, cache), as exported without --op.",
             "", ""]
    return "\n".join(lines)


def _sizes_note(code) -> str:
    read = [size for size, array, _ in code.sizes if array in code.saved]
    kept = [size for size, array, _ in code.sizes if array not in code.saved]
    parts = [f"the sizes {', '.join(read)} from the saved arrays' shapes"] if read else []
    parts += [f"the sizes {', '.join(kept)} kept as numbers"] if kept else []
    return "; ".join(parts) or "no size"


def _identifier(name: str) -> str:
    return name.replace("-", "_")


def _class(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _signature(code, arguments) -> str:
    return ", ".join(f"{a}=None" if a in code.optional else a for a in arguments)


def _torch_wrapper(code, name, params, shapes) -> str:
    cls = _class(name)
    inputs = [a for a in code.arguments if a not in params]
    several = len(code.outputs) > 1
    kept = [size for size, array, _ in code.sizes if array not in code.saved]
    sizes = [] if shapes is not None else list(dict.fromkeys(
        str(s) for p in params for s in code.shapes.get(p, ()) if not str(s).isdigit()))
    init = ", ".join([*sizes, "*", "dtype=None", "device=None"])
    parameter_lines = []
    for param in params:
        shape = shapes[param] if shapes is not None else tuple(code.shapes[param])
        shape_text = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
        parameter_lines.append(f"        self.{param} = torch.nn.Parameter(_uniform({shape_text}, dtype, device))")
    return "\n".join([
        f"class {cls}Function(torch.autograd.Function):",
        f'    """{name}({", ".join(code.arguments)}) with the derived backward; it saves _SAVED only."""',
        "",
        "    @staticmethod",
        f"    def forward(ctx, {', '.join(code.arguments)}):",
        f"        out, cache = forward({', '.join(code.arguments)})",
        "        ctx.save_for_backward(*(cache[name] for name in _SAVED))",
        *(["        ctx.kept_sizes = {name: cache[name] for name in _KEPT_SIZES}"] if kept else []),
        "        return out",
        "",
        "    @staticmethod",
        f"    def backward(ctx, {'*douts' if several else 'dout'}):",
        f"        cache = dict(zip(_SAVED, ctx.saved_tensors){', **ctx.kept_sizes' if kept else ''})",
        *(["        cache.update({size: cache[array].shape[axis] for size, array, axis in _SIZES})"]
          if len(kept) < len(code.sizes) else []),
        f"        gradients = dict(zip(_RETURNED, backward({'list(douts)' if several else 'dout'}, cache)))",
        "        return tuple(gradients.get(name) if needed else None",
        "                     for name, needed in zip(_ARGUMENTS, ctx.needs_input_grad))",
        "",
        "",
        f"def {name}({_signature(code, code.arguments)}):",
        f'    """The op: {", ".join(code.outputs)} of {", ".join(code.arguments)}, differentiable by torch autograd."""',
        f"    return {cls}Function.apply({', '.join(code.arguments)})",
        "",
        "",
        "def _uniform(shape, dtype, device):",
        '    """A parameter\'s first values: uniform in ±1/√(its first size), as torch.nn.Linear; copy_ others in."""',
        "    bound = 1.0 / max(shape[0], 1) ** 0.5",
        "    return torch.empty(shape, dtype=dtype, device=device).uniform_(-bound, bound)",
        "",
        "",
        f"class {cls}(torch.nn.Module):",
        f'    """{name} with its parameters {", ".join(params)} held as torch.nn.Parameter."""' if params else
        f'    """{name}, which has no parameters: an nn.Module to compose with others."""',
        "",
        f"    def __init__(self, {init}):",
        "        super().__init__()",
        *parameter_lines,
        "",
        f"    def forward(self, {_signature(code, inputs)}):",
        f"        return {cls}Function.apply({', '.join([*inputs, *(f'self.{p}' for p in params)])})",
        "",
    ])


def _jax_wrapper(code, name) -> str:
    several = len(code.outputs) > 1
    optional, kept = list(code.optional), [size for size, array, _ in code.sizes if array not in code.saved]
    residuals = ["tuple(cache[name] for name in _SAVED)"]
    forward_lines, backward_lines = [], []
    if optional:
        forward_lines += [
            "    # which optional arguments were given, as the residuals' structure (() for None): no array for a flag",
            f"    given = tuple(() if argument is None else ((),) for argument in ({''.join(a + ', ' for a in optional)}))"]
        residuals.append("given")
    if kept:
        forward_lines += [
            "    # sizes no saved array has (a window's output size): the shape of an empty array, static under jit",
            "    sizes = jnp.zeros(tuple(cache[name] for name in _KEPT_SIZES) + (0,))"]
        residuals.append("sizes")
    unpacked = ["saved"] + (["given"] if optional else []) + (["sizes"] if kept else [])
    backward_lines.append(f"    {', '.join(unpacked)}{',' if len(unpacked) == 1 else ''} = residuals")
    backward_lines.append("    cache = dict(zip(_SAVED, saved))")
    if kept:
        backward_lines.append("    cache.update(zip(_KEPT_SIZES, sizes.shape[:-1]))")
    if code.sizes and len(kept) < len(code.sizes):
        backward_lines.append("    cache.update({size: cache[array].shape[axis] for size, array, axis in _SIZES})")
    backward_lines.append(f"    gradients = dict(zip(_RETURNED, backward({'list(dout)' if several else 'dout'}, cache)))")
    if optional:
        backward_lines += ["    absent = {name for name, flag in zip(_OPTIONAL, given) if not flag}",
                           "    return tuple(None if name in absent else gradients.get(name) for name in _ARGUMENTS)"]
    else:
        backward_lines.append("    return tuple(gradients.get(name) for name in _ARGUMENTS)")
    return "\n".join([
        "@jax.custom_vjp",
        f"def {name}({_signature(code, code.arguments)}):",
        f'    """The op: {", ".join(code.outputs)} of {", ".join(code.arguments)}, with the derived backward '
        f'(jit, vmap, grad)."""',
        f"    return forward({', '.join(code.arguments)})[0]",
        "",
        "",
        f"def _{name}_forward({_signature(code, code.arguments)}):",
        f"    out, cache = forward({', '.join(code.arguments)})",
        *forward_lines,
        f"    return out, ({', '.join(residuals)}{',' if len(residuals) == 1 else ''})",
        "",
        "",
        f"def _{name}_backward(residuals, dout):",
        *backward_lines,
        "",
        "",
        f"{name}.defvjp(_{name}_forward, _{name}_backward)",
        "",
    ])


def op_module(source: str, name: str = "symbackprop_op") -> types.ModuleType:
    """An op module's source loaded in this process (for tests and benchmarks)."""
    return load_module(source, name)


def export_op_module(source: str, path, force: bool = False) -> Path:
    """Write the op module to ``path``; refuses to overwrite unless ``force``."""
    return write_module(source, path, force)

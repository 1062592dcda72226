"""The source text of an exported module, printed from a Derivation.

The module has three parts:

* **kernels** -- the elementwise functions (activations, the g' each hidden δ^l multiplies by,
  the cost of an output unit, δ^L), each printed from its SymPy expression by the backend's
  printer (:mod:`._printing`) after common-subexpression elimination;
* **the layer structure** -- ``predict`` and ``cost_and_gradients``: one matrix product per layer
  over the whole batch (examples are rows), a loop-free sequence of statements per layer;
* **the contract** -- a docstring with the network, the shapes and the formulas, and an argument
  check that names the argument, the shape received and the shape expected.

NumPy code works in place where an array is its own (``z += b``, ``delta *= g'``); JAX code is
functional and jitted; PyTorch code is functional.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions import (BlockMatrix, HadamardProduct, MatMul, MatrixExpr, OneMatrix, Transpose,
                                        ZeroMatrix)

from ..big_numbers import sstr
from .. import __version__
from .. import symbols as S
from ..derivation import Derivation
from ..errors import ExportError
from ._kernels import (A, E, Kernel, Y, Z, activation_kernel, derivative_kernel, output_cost_kernel,
                       output_delta_kernel, python_name)
from ._arrays import ArrayPrinter, Bindings, CodeArray, push_slices, simplified, split_hadamard, unvectorise
from ._inplace import InplaceKernel
from ._printing import BACKENDS, HELPERS, IMPORTS, helpers_called, printer

LAYOUTS = ("rows", "ng")
_RESERVED = {"np", "jnp", "jax", "torch", "predict", "cost_and_gradients", "check_arguments", "ShapeError",
             "LAMBDA", "SIZES", "LAYOUT", "FLOAT64", "params", "X", "Y", "m", "J", "e", "a", "y", "z", "u"}


@dataclass
class _Layer:
    number: int                 #: canonical layer number (input = 1)
    kernel: Kernel              #: a = g(z)
    derivative: Kernel | None = None   #: g' for hidden layers
    hidden_unit: sp.Expr | None = None  #: δ^l per unit, over e, a, z


@dataclass
class ModulePlan:
    """Everything the printers need, decided once from the derivation."""

    derivation: Derivation
    layout: str
    l2: float
    sizes: tuple
    layers: list = field(default_factory=list)
    kernels: list = field(default_factory=list)
    derivatives: list = field(default_factory=list)   #: the g' kernels of the hidden layers
    cost: Kernel | None = None
    delta: Kernel | None = None

    @property
    def depth(self) -> int:
        return len(self.sizes)


def plan(derivation: Derivation, layout: str = "rows", l2=None) -> ModulePlan:
    """Decide the kernels and the per-layer statements of the exported code."""
    if layout not in LAYOUTS:
        raise ExportError(f"layout {layout!r} is not accepted; accepted: {', '.join(LAYOUTS)}")
    network = derivation.network
    sizes = tuple(network.sizes)
    if not all(isinstance(size, int) for size in sizes):
        raise ExportError(f"exported code needs concrete layer sizes, not {'-'.join(map(str, sizes))}; "
                          f"give numbers, e.g. Network((400, 25, 10), ...)")
    value = network.l2 if l2 is None else sp.sympify(l2, strict=True)
    if not value.is_number:
        raise ExportError(f"the L2 strength of the network is the symbol {value}; give a number "
                          f"(compile(..., l2=1.0) or Network(..., l2=1))")
    if value < 0:
        raise ExportError(f"L2 strength {l2!r} is negative; accepted: a number >= 0")
    result = ModulePlan(derivation, layout, float(value), sizes)
    taken = set(_RESERVED)
    by_activation: dict = {}
    for layer in range(2, len(sizes) + 1):
        activation = network.activation_of(layer)
        if activation not in by_activation:
            name = python_name(activation.name, f"g{layer}", taken)
            kernel = activation_kernel(activation, name)
            by_activation[activation] = kernel
            result.kernels.append(kernel)
        result.layers.append(_Layer(layer, by_activation[activation]))
    derivatives: dict = {}
    for position, quantity in enumerate(derivation.hidden_deltas):
        layer = result.layers[position]
        activation = network.activation_of(layer.number)
        layer.hidden_unit = quantity.unit.subs(activation.parameters) if activation.parameters else quantity.unit
        if activation not in derivatives:
            derivative = _printed_derivative(quantity)
            if derivative == 1:
                derivatives[activation] = None
            else:
                base = layer.kernel.name
                kernel = derivative_kernel(activation, derivative, python_name(f"{base}_prime", f"{base}_prime", taken))
                derivatives[activation] = kernel
                result.kernels.append(kernel)
                result.derivatives.append(kernel)
        layer.derivative = derivatives[activation]
        if layer.derivative is not None and sp.expand(layer.hidden_unit - E * _derivative_expression(activation, quantity)) != 0:
            raise ExportError(f"the hidden delta {layer.hidden_unit} of layer {layer.number} is not e times g'(z); "
                              f"it cannot be exported")
    result.cost = output_cost_kernel(derivation, python_name("output_cost", "output_cost", taken))
    result.delta = output_delta_kernel(derivation, python_name("output_delta", "output_delta", taken))
    result.kernels.extend([result.cost, result.delta])
    return result


def _printed_derivative(quantity) -> sp.Expr:
    """g' of a hidden δ^l as its vector form multiplies by it (in the readable unit form where the two agree)."""
    from_vector = elementwise_factor(quantity)
    if from_vector is None:
        return sp.Integer(1)
    readable = quantity.activation_derivative
    if readable is not None and sp.expand(from_vector - readable) == 0:
        return readable
    return from_vector


def _derivative_expression(activation, quantity):
    derivative = _printed_derivative(quantity)
    return derivative.subs(activation.parameters) if activation.parameters else derivative


# --- printing ------------------------------------------------------------------------------------
class _Writer:
    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str = "", indent: int = 0):
        for line in text.split("\n") if text else [""]:
            self.lines.append(("    " * indent + line) if line else "")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def print_kernel(kernel: Kernel, backend: str) -> str:
    """The source of one kernel: a def whose body is the CSE'd expression, printed by SymPy."""
    p = printer(backend)
    temporaries = _temporary_names(kernel)
    replacements, (reduced,) = sp.cse([kernel.expression], symbols=temporaries, order="none")
    names = {}
    for symbol, value in replacements:
        if _is_u(value):
            names[symbol] = sp.Symbol("u" if "u" not in {str(n) for n in names.values()} else f"u{len(names)}")
    replacements = [(names.get(symbol, symbol), value.xreplace(names)) for symbol, value in replacements]
    reduced = reduced.xreplace(names)
    arguments = ", ".join(str(argument) for argument in kernel.arguments)
    lines = [f"def {kernel.name}({arguments}):", f'    """{kernel.formula}', "", f"    {_sentence(kernel.note)}."]
    body = [f"{symbol} = {p.doprint(value)}" for symbol, value in replacements]
    body.append(f"return {p.doprint(reduced)}")
    if backend == "numpy" and _needs_errstate(kernel.expression):
        lines.append('    Both branches of a where() are evaluated; the one not taken may overflow: ignored.')
        lines.append('    """')
        lines.append('    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):')
        lines.extend("        " + line for line in body)
    else:
        lines.append('    """')
        lines.extend("    " + line for line in body)
    return "\n".join(lines) + "\n"


def _sentence(text: str) -> str:
    """The first letter upper case, the rest as written (str.capitalize would lower δ^L to δ^l)."""
    return text[:1].upper() + text[1:]


def _temporary_names(kernel):
    taken = {str(symbol) for symbol in kernel.expression.free_symbols}
    return (sp.Symbol(f"t{number}") for number in range(10_000) if f"t{number}" not in taken)


def _is_u(value) -> bool:
    """exp(-|z|/q): the bounded exponential the sign-split forms are written in."""
    return isinstance(value, sp.exp) and value.args[0].could_extract_minus_sign() and value.args[0].has(sp.Abs)


_MAY_WARN = (sp.exp, sp.log, sp.cosh, sp.sinh)


def _needs_errstate(expr) -> bool:
    """A Piecewise whose branches may overflow or leave their domain where they are not taken."""
    for piecewise in expr.atoms(sp.Piecewise):
        for branch, _ in piecewise.args:
            for node in sp.preorder_traversal(branch):
                if isinstance(node, _MAY_WARN) and not _is_u(node):
                    return True
                if getattr(node, "func", None) is not None and node.func.__name__ in ("expm1", "log1p", "log1mexp", "log_softplus"):
                    return True
                if node.is_Pow and node.exp.is_negative:
                    return True
    return False


def module_source(derivation: Derivation, *, backend: str = "numpy", layout: str = "rows", l2=None,
                  standalone: bool = True) -> str:
    """The text of the exported module (``standalone``) or of the code :func:`compile` executes."""
    if backend not in BACKENDS:
        raise ExportError(f"backend {backend!r} is not accepted; accepted: {', '.join(BACKENDS)}")
    module_plan = plan(derivation, layout, l2)
    if backend == "numpy":
        kernel_texts = _numpy_kernels(module_plan)
    else:
        kernel_texts = [print_kernel(kernel, backend) for kernel in module_plan.kernels]
    kernel_text = "\n\n".join(kernel_texts)
    out = _Writer()
    if standalone:
        out('"""' + _docstring(module_plan, backend) + '"""')
    import_line, _ = IMPORTS[backend]
    out(import_line)
    if backend == "jax":
        out('jax.config.update("jax_enable_x64", True)   # float64, as the contract says')
    out()
    out(f"LAYOUT = {layout!r}")
    out(f"SIZES = {module_plan.sizes!r}")
    out(f"LAMBDA = {module_plan.l2!r}   # L2 strength; biases are not regularised")
    if backend == "numpy":
        out("FLOAT64 = np.dtype(np.float64)")
    if standalone:
        out()
        out()
        out("class ShapeError(ValueError):")
        out('"""Arguments whose shapes or dtypes do not fit the network."""', 1)
    for name in helpers_called(kernel_text):
        out()
        out()
        out(HELPERS[backend][name].strip("\n"))
    out()
    out()
    out("# --- elementwise functions, printed from the derivation by SymPy " + "-" * 30)
    for text in kernel_texts:
        out()
        out()
        out(text.rstrip("\n"))
    out()
    out()
    out("# --- the network " + "-" * 78)
    _write_check(out, module_plan, backend)
    _write_predict(out, module_plan, backend)
    _write_cost_and_gradients(out, module_plan, backend)
    return out.text()


# --- NumPy: in-place kernels ----------------------------------------------------------------------------
_SCALE = sp.Symbol("scale")


def _readable(expr) -> str:
    return printer("numpy").doprint(expr)


def _numpy_function(name, parameters, outputs, donated, doc, scalars=()) -> str:
    """A NumPy function evaluating ``outputs`` in place (see :mod:`._inplace`)."""
    arguments = {symbol: text for symbol, text in parameters}
    emitter = InplaceKernel(arguments, donated=donated, scalars=scalars)
    body = emitter.emit(outputs)
    results = ", ".join(output[0] for output in outputs)
    lines = [f"def {name}({', '.join(text for _, text in parameters)}):", '    """' + doc[0]]
    lines.extend("    " + line if line else "" for line in doc[1:])
    lines.append('    """')
    if not any(_needs_errstate(expression) for _, expression, _ in outputs):
        return "\n".join(lines + ["    " + line for line in body] + [f"    return {results}"]) + "\n"
    return "\n".join(lines + ['    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):',
                              "        # both sides of a where() are computed; the side not taken may overflow",
                              *["        " + line for line in body], f"    return {results}"]) + "\n"


def _numpy_kernels(module_plan: ModulePlan) -> list[str]:
    texts = []
    in_place, copying = _activation_variants(module_plan)
    for kernel in module_plan.kernels:
        if kernel in (module_plan.cost, module_plan.delta) or kernel in module_plan.derivatives:
            continue
        doc = [kernel.formula, "", f"{_sentence(kernel.note)}; evaluated as", f"    {_readable(kernel.expression)}"]
        if kernel.name in in_place:
            texts.append(_numpy_function(f"{kernel.name}_", [(Z, "z")], [("a", kernel.expression, "array")], {Z},
                                         doc + ["z is overwritten (its buffer becomes a)."]))
        if kernel.name in copying:
            texts.append(_numpy_function(kernel.name, [(Z, "z")], [("a", kernel.expression, "array")], (), doc))
    done = set()
    for layer in module_plan.layers[:-1]:
        if layer.derivative is None or layer.kernel.name in done:
            continue
        done.add(layer.kernel.name)
        derivative = layer.derivative
        arguments = [(E, "e")] + [(symbol, str(symbol)) for symbol in derivative.arguments if symbol != E]
        formula = derivative.formula.split("= ", 1)[1]
        doc = [f"delta^l = e * g'(z^l), g'(z) = {formula}", "",
               f"{_sentence(derivative.note)}; evaluated as e * {_readable(derivative.expression)}.",
               "e (the back-propagated (W^(l+1))^T delta^(l+1)) and the layer's a and z are overwritten."]
        texts.append(_numpy_function(_delta_kernel_name(layer), arguments,
                                     [("delta", E * derivative.expression, "array")],
                                     {symbol for symbol, _ in arguments}, doc))
    cost, delta = module_plan.cost, module_plan.delta
    output_kernel = module_plan.layers[-1].kernel
    delta_expression = delta.expression
    if A in delta.arguments:
        delta_expression = delta_expression.xreplace({A: output_kernel.expression})
    parameters = [(Z, "z"), (Y, "y"), (_SCALE, "scale")]
    doc = ["(sum over the array of C, scale * delta^L) for the output layer's pre-activations z and targets y", "",
           f"{cost.formula}; evaluated as",
           f"    {_readable(cost.expression)}",
           f"{delta.formula}; evaluated as",
           f"    {_readable(delta.expression)}" + (f"  with a = {output_kernel.name}(z)" if A in delta.arguments else ""),
           "z is overwritten."]
    texts.append(_numpy_function("output_layer_", parameters,
                                 [("cost", cost.expression, "sum"), ("delta", delta_expression * _SCALE, "array")],
                                 {Z}, doc, scalars={_SCALE}))
    return texts


def _delta_kernel_name(layer) -> str:
    """delta^l = e * g'(z^l) in place: one per hidden activation, named after its activation kernel."""
    return f"{layer.kernel.name}_delta_"


def _activation_variants(module_plan: ModulePlan):
    """Which activation kernels are needed in place (z not read again) and which copying."""
    in_place, copying = set(), set()
    for layer in module_plan.layers:
        in_place.add(layer.kernel.name)   # predict never reads z again
        if layer.number < module_plan.depth and _needs_z(module_plan, layer):
            copying.add(layer.kernel.name)
    return in_place, copying


# --- names and shapes -------------------------------------------------------------------------------
def parameter_names(module_plan: ModulePlan) -> list[str]:
    if module_plan.layout == "ng":
        return [f"Theta{layer - 1}" for layer in range(2, module_plan.depth + 1)]
    names = []
    for layer in range(2, module_plan.depth + 1):
        names += [f"W{layer}", f"b{layer}"]
    return names


def parameter_shapes(sizes: tuple, layout: str) -> list[tuple]:
    """The shapes of params in ``layout`` for layer sizes ``sizes`` (input first)."""
    shapes = []
    for previous, current in zip(sizes[:-1], sizes[1:]):
        if layout == "ng":
            shapes.append((current, previous + 1))
        else:
            shapes += [(current, previous), (current,)]
    return shapes


def _activation_name(module_plan, layer) -> str:
    return "X" if layer == 1 else f"a{layer}"


# --- the argument check -----------------------------------------------------------------------------
def _write_check(out, module_plan, backend):
    names = parameter_names(module_plan)
    shapes = parameter_shapes(module_plan.sizes, module_plan.layout)
    n_in, n_out = module_plan.sizes[0], module_plan.sizes[-1]
    array_type = {"numpy": "np.ndarray", "jax": "jax.Array", "torch": "torch.Tensor"}[backend]
    dtype = {"numpy": "np.float64", "jax": "jnp.float64", "torch": "torch.float64"}[backend]
    out()
    out()
    out("def check_arguments(params, X, Y=None):")
    out('"""Raise ShapeError naming the first argument whose type, shape or dtype does not fit."""', 1)
    out(f"expected = {[tuple(s) for s in shapes]!r}", 1)
    out(f"names = {names!r}", 1)
    out("if not isinstance(params, (list, tuple)):", 1)
    out(f"raise ShapeError(f\"params: expected a list of {len(shapes)} arrays {{', '.join(names)}}, got {{type(params).__name__}}\")", 2)
    out("if len(params) != len(expected):", 1)
    out(f"raise ShapeError(f\"params: expected {len(shapes)} arrays ({{', '.join(names)}}), got {{len(params)}}\")", 2)
    out("arguments = [(f'params[{i}] ({name})', p, shape) for i, (name, p, shape) in enumerate(zip(names, params, expected))]", 1)
    out("m = X.shape[0] if hasattr(X, 'shape') and len(X.shape) == 2 else None", 1)
    out(f"arguments.append(('X', X, (m if m else 'm', {n_in})))", 1)
    out("if Y is not None:", 1)
    out(f"arguments.append(('Y', Y, (m if m else 'm', {n_out})))", 2)
    out("for label, value, shape in arguments:", 1)
    out(f"if not isinstance(value, {array_type}):", 2)
    out(f"raise ShapeError(f\"{{label}}: expected a {array_type} of shape {{shape}}, got {{type(value).__name__}}\")", 3)
    out("if tuple(value.shape) != tuple(shape) or (label == 'X' and not m):", 2)
    out("raise ShapeError(f\"{label}: shape {tuple(value.shape)} received, {shape} expected\"", 3)
    out("+ (' (at least one example: m >= 1)' if label == 'X' and not m else ''))", 4)
    out(f"if value.dtype != {dtype}:", 2)
    out(f"raise ShapeError(f\"{{label}}: dtype {{value.dtype}} received, float64 expected; convert it with {_convert_hint(backend)}\")", 3)
    out()


def _convert_hint(backend) -> str:
    return {"numpy": "np.asarray(value, dtype=np.float64)", "jax": "jnp.asarray(value, dtype=jnp.float64)",
            "torch": "value.to(torch.float64)"}[backend]


def _fast_check(out, module_plan, backend, with_y: bool):
    """The check on the hot path: shapes and dtypes compared as tuples, the full check on failure."""
    names = parameter_names(module_plan)
    shapes = parameter_shapes(module_plan.sizes, module_plan.layout)
    n_in, n_out = module_plan.sizes[0], module_plan.sizes[-1]
    if backend == "jax":
        out("check_arguments(params, X" + (", Y)" if with_y else ")"), 1)   # at trace time: shapes are static
        out(f"{', '.join(names)}, = params", 1)
        return
    dtype = "FLOAT64" if backend == "numpy" else "torch.float64"
    out("try:", 1)
    out(f"{', '.join(names)}, = params", 2)
    conditions = [f"{name}.shape == {tuple(shape)!r}" for name, shape in zip(names, shapes)]
    conditions.append(f"X.shape[1:] == ({n_in},)")
    if with_y:
        conditions.append(f"Y.shape == (X.shape[0], {n_out})")
    conditions.append("X.shape[0] > 0")
    conditions.append(" == ".join([f"{name}.dtype" for name in names] + ["X.dtype"] + (["Y.dtype"] if with_y else []) + [dtype]))
    out("fits = (" + _wrap(" and ".join(conditions), 12) + ")", 2)
    out("except (TypeError, ValueError, AttributeError):", 1)
    out("fits = False", 2)
    out("if not fits:", 1)
    out("check_arguments(params, X" + (", Y)" if with_y else ")") + "   # raises ShapeError, naming the argument", 2)


def _wrap(text: str, indent: int, width: int = 100) -> str:
    parts = text.split(" and ")
    lines, current = [], ""
    for part in parts:
        candidate = part if not current else current + " and " + part
        if len(candidate) + indent > width and current:
            lines.append(current + " and")
            current = part
        else:
            current = candidate
    lines.append(current)
    return ("\n" + " " * indent).join(lines)


# --- predict and cost_and_gradients -------------------------------------------------------------------
def _call(kernel: Kernel, values: dict) -> str:
    return f"{kernel.name}({', '.join(values[argument] for argument in kernel.arguments)})"


def _needs_z(module_plan, layer) -> bool:
    """Whether the backward pass reads z of this (hidden) layer."""
    if layer.number == module_plan.depth:
        return True   # the cost is evaluated from z^L
    return layer.derivative is not None and Z in layer.derivative.arguments


def _forward(out, module_plan, backend, *, for_cost: bool):
    """z^l = a^{l-1} (W^l)^T + b^l and a^l = g(z^l), layer by layer, one example per row."""
    ng = module_plan.layout == "ng"
    names = parameter_names(module_plan)
    last = module_plan.depth
    for position, layer in enumerate(module_plan.layers):
        l = layer.number
        previous = _activation_name(module_plan, l - 1)
        if ng:
            theta = names[position]
            weights, bias = f"{theta}[:, 1:]", f"{theta}[:, 0]"
        else:
            weights, bias = names[2 * position], names[2 * position + 1]
        if backend == "numpy":
            out(f"z{l} = {previous} @ {weights}.T", 1)
            out(f"z{l} += {bias}", 1)
        else:
            out(f"z{l} = {previous} @ {weights}.T + {bias}", 1)
        if l == last and for_cost:
            continue   # the output layer's kernel works from z^L
        if backend == "numpy":
            keep_z = for_cost and _needs_z(module_plan, layer)
            if layer.kernel.returns_argument:
                out(f"a{l} = z{l}", 1)
            elif keep_z:
                out(f"a{l} = {layer.kernel.name}(z{l})", 1)
            else:
                out(f"a{l} = {layer.kernel.name}_(z{l})   # in place: z{l} is not needed again", 1)
        else:
            out(f"a{l} = {_call(layer.kernel, {Z: f'z{l}'})}", 1)


def _write_predict(out, module_plan, backend):
    out()
    out()
    out("def predict(params, X):")
    out(f'"""a^L, the output of the network for every row of X: shape (m, {module_plan.sizes[-1]})."""', 1)
    _fast_check(out, module_plan, backend, with_y=False)
    _forward(out, module_plan, backend, for_cost=False)
    out(f"return a{module_plan.depth}", 1)


def _write_cost_and_gradients(out, module_plan, backend):
    L = module_plan.depth
    ng = module_plan.layout == "ng"
    names = parameter_names(module_plan)
    lam = module_plan.l2
    out()
    out()
    if backend == "jax":
        out("@jax.jit")
    out("def cost_and_gradients(params, X, Y):")
    out('"""(J, gradients of J in the order and shapes of params); see the module docstring."""', 1)
    _fast_check(out, module_plan, backend, with_y=True)
    out("m = X.shape[0]", 1)
    backward = _Backward(module_plan, backend)
    out()
    out("# forward pass, one example per row: z^l = a^(l-1) (W^l)^T + b^l, a^l = g(z^l)", 1)
    _forward(out, module_plan, backend, for_cost=True)
    out()
    out(f"# cost: J = (1/m) sum over examples and output units of C, C = {module_plan.cost.formula[4:]}", 1)
    if backend == "numpy":
        out(f"# and delta^L, which carries the 1/m of the batch average: {module_plan.delta.formula}", 1)
        out(f"cost, delta{L} = output_layer_(z{L}, Y, {backward.carried_text})", 1)
        out("J = cost / m", 1)
    else:
        out(f"a{L} = {_call(module_plan.layers[-1].kernel, {Z: f'z{L}'})}", 1)
        cost_call = _call(module_plan.cost, {A: f"a{L}", Y: "Y", Z: f"z{L}"})
        out(f"J = {cost_call}.sum() / m", 1)
    if lam:
        squares = []
        for position, name in enumerate(names if ng else names[0::2]):
            weights = f"{name}[:, 1:]" if ng else name
            squares.append(_square_sum(weights, backend))
        out(f"J = J + LAMBDA / (2 * m) * ({' + '.join(squares)})   # biases are not regularised", 1)
    out()
    out("# backward pass; every delta carries the 1/m of the batch average", 1)
    if backend != "numpy":
        delta_values = {A: f"a{L}", Y: "Y", Z: f"z{L}"}
        out(f"delta{L} = {_call(module_plan.delta, delta_values)}{backward.carried_factor}   "
            f"# {module_plan.delta.formula}", 1)
    gradients = {}
    for position in reversed(range(len(module_plan.layers))):
        layer = module_plan.layers[position]
        l = layer.number
        if l < L:
            # δ^l printed from the derivation's vector form; its elementwise factor g' is the layer's kernel
            for line in backward.hidden_delta(position):
                out(line, 1)
            if layer.derivative is not None:
                g_values = {A: f"a{l}", Z: f"z{l}"}
                formula = layer.derivative.formula.split("= ", 1)[1]
                if backend == "numpy":
                    arguments = ", ".join([f"delta{l}"] + [g_values[s] for s in layer.derivative.arguments if s != E])
                    out(f"delta{l} = {_delta_kernel_name(layer)}({arguments})   # delta^l = e * {formula}", 1)
                else:
                    product = _call(layer.derivative, g_values)
                    out(f"delta{l} = delta{l} * {product}   # delta^l = e * {formula}", 1)
        # the gradients printed from the derivation's batch forms
        if ng:
            theta = names[position]
            for line in backward.gradients(l, (f"{theta}_grad",)):
                out(line, 1)
            gradients[theta] = f"{theta}_grad"
        else:
            w, b = names[2 * position], names[2 * position + 1]
            for line in backward.gradients(l, (f"grad_{w}", f"grad_{b}")):
                out(line, 1)
            gradients[w], gradients[b] = f"grad_{w}", f"grad_{b}"
    result = ", ".join(gradients[name] for name in names)
    cost = "float(J)" if backend == "numpy" else "J"
    out(f"return {cost}, [{result}]", 1)


class _Backward:
    """The backward pass of the exported code, printed from the derivation's matrix forms (:mod:`._arrays`).

    The code holds one example per row and every delta array carries the 1/m of the batch average:
    the derivation's δ^l (examples as columns) is m (Δ^l)^T with Δ^l the array ``delta{l}``.
    """

    def __init__(self, module_plan: ModulePlan, backend: str):
        self.plan, self.derivation = module_plan, module_plan.derivation
        self.printer = ArrayPrinter(backend)
        sizes, ng = module_plan.sizes, module_plan.layout == "ng"
        names = parameter_names(module_plan)
        m = S.m

        def activations(array):
            size = sizes[int(array.layer) - 1]
            code = CodeArray(_activation_name(module_plan, int(array.layer)), m, size)
            if array.shape[0] == size + 1:       # Ng's [1; a]: the bias unit a_0 = 1 on top
                return BlockMatrix([[OneMatrix(1, m)], [Transpose(code)]])
            return Transpose(code)

        def weights(array):
            """W^l of the derivation: (n_l, n_(l-1)), or (n_l, n_(l-1) + 1) with its bias column 0."""
            layer = int(array.layer)
            position, rows, columns = layer - 2, sizes[layer - 1], sizes[layer - 2]
            with_bias = array.shape[1] == columns + 1
            if ng:
                theta = CodeArray(names[position], rows, columns + 1)
                return theta if with_bias else theta[:, 1:]
            W = CodeArray(names[2 * position], rows, columns)
            return BlockMatrix([[CodeArray(names[2 * position + 1], rows, 1), W]]) if with_bias else W

        def regularised(array):     # W with its bias column 0 zeroed
            weights_part = weights(array)[:, 1:] if ng else weights(array).blocks[0, 1]
            return BlockMatrix([[ZeroMatrix(weights_part.shape[0], 1), weights_part]])

        #: what every delta array of the code carries: δ^l = (Δ^l)^T / carried, Δ^l the array delta{l}
        self.carried = 1 / m
        self.carried_text = printer(backend).doprint(self.carried)
        divisor = self.carried.base if self.carried.is_Pow and self.carried.exp == -1 else None
        self.carried_factor = (f" / {printer(backend).doprint(divisor)}" if divisor is not None
                               else f" * ({self.carried_text})")   # x / m rounds once, x * (1/m) twice
        roles = {
            "delta": lambda array: MatMul(1 / self.carried,
                                          Transpose(CodeArray(f"delta{int(array.layer)}", m, sizes[int(array.layer) - 1]))),
            "a": activations, "W": weights, "W_reg": regularised,
            "ones": lambda array: OneMatrix(m, 1),
        }
        lam = sp.Symbol("LAMBDA") if module_plan.l2 else sp.Integer(0)
        widths = {S.width[layer]: size for layer, size in enumerate(sizes, start=1)}
        self.bindings = Bindings(roles, {S.lam: lam}, widths)

    def _at(self, quantity, layer: int):
        return quantity.batch_vector.rhs.xreplace({S.l: sp.Integer(layer)})

    def gradients(self, layer: int, names: tuple[str, ...]) -> list[str]:
        """∂J/∂W^l and ∂J/∂b^l from the batch forms, as the code holds them: [W, b] or Ng's Θ = [b | W].

        With a bias column in the derivation, column 0 of its weight gradient must be its bias gradient."""
        weight = simplified(self.bindings.bind(self._at(self.derivation.weight_gradient, layer)))
        bias = simplified(self.bindings.bind(self._at(self.derivation.bias_gradient, layer)))
        if isinstance(weight, BlockMatrix):
            if weight.blocks[0, 0] != bias:
                raise ExportError(f"column 0 of the weight gradient, {weight.blocks[0, 0]}, is not the bias gradient {bias}")
            weight = weight.blocks[0, 1]
        if self.plan.layout == "ng":
            (theta,) = names
            return self.printer.assign(theta, BlockMatrix([[bias, weight]]))
        weight_name, bias_name = names
        return self.printer.assign(weight_name, weight) + self.printer.assign(bias_name, bias)

    def hidden_delta(self, position: int) -> list[str]:
        """Δ^l = carried (δ^l)^T from the vector form of δ^l, without its elementwise factor g'(z^l)."""
        quantity = self.derivation.hidden_deltas[position]
        layer = int(quantity.layer)
        if isinstance(quantity.vector.rhs, ZeroMatrix):     # g' = 0 (sign): δ^l = 0 for every example
            return self.printer.assign(f"delta{layer}", ZeroMatrix(S.m, self.plan.sizes[layer - 1]))
        kept, _ = split_hadamard(push_slices(quantity.vector.rhs), lambda f: _elementwise_of(f, layer))
        back = kept[0] if len(kept) == 1 else HadamardProduct(*kept)
        value = simplified(Transpose(MatMul(self.carried, self.bindings.bind(back))))
        comment = "   # the bias row delta_0 is dropped" if self.plan.layout == "ng" else ""
        lines = self.printer.assign(f"delta{layer}", value)
        return lines[:-1] + [lines[-1] + comment]


def _elementwise_of(factor, layer) -> bool:
    """A factor that is a function of layer ``layer``'s own a or z only, entry by entry (g'(z^l))."""
    arrays = factor.atoms(S.LayerArray)
    if not arrays or any(array.layer != layer or array.role not in ("a", "z") for array in arrays):
        return False
    return not any(isinstance(node, MatMul) and sum(isinstance(f, MatrixExpr) for f in node.args) > 1
                   for node in sp.preorder_traversal(factor))


def elementwise_factor(quantity) -> sp.Expr | None:
    """g' in unit form, read off the vector form of a hidden δ^l (its elementwise Hadamard factors)."""
    layer = quantity.layer
    _, taken = split_hadamard(quantity.vector.rhs, lambda f: _elementwise_of(f, layer))
    if not taken:
        return None
    units = {S.vector("a", layer): A, S.vector("z", layer): Z}
    return unvectorise(taken[0] if len(taken) == 1 else HadamardProduct(*taken), units)


def _square_sum(weights: str, backend: str) -> str:
    if backend == "numpy":
        return f"np.vdot({weights}, {weights})" if "[" not in weights else f"np.sum({weights} ** 2)"
    return f"({weights} ** 2).sum()"


# --- the docstring ----------------------------------------------------------------------------------
def _docstring(module_plan: ModulePlan, backend: str) -> str:
    derivation = module_plan.derivation
    network = derivation.network
    names = parameter_names(module_plan)
    shapes = parameter_shapes(module_plan.sizes, module_plan.layout)
    lines = [f"Gradient of a {network.describe()}.", "",
             f"Generated by symbackprop {__version__} from the derivation of the network; it imports only "
             f"{backend}.", ""]
    lines += ["Contract", "--------",
              "cost_and_gradients(params, X, Y) -> (J, grads)",
              f"    params = [{', '.join(names)}]"]
    lines += [f"        {name}: shape {shape}" for name, shape in zip(names, shapes)]
    lines += [f"    X: shape (m, {module_plan.sizes[0]}), one example per row",
              f"    Y: shape (m, {module_plan.sizes[-1]}), the targets of each example",
              "    J = (1/m) sum over examples and output units of the loss"
              + (f" + lambda/(2m) sum_l ||W^l||^2 (lambda = {module_plan.l2!r}, biases not regularised)" if module_plan.l2 else ""),
              "    grads: dJ/dparams, in the order and shapes of params; every array float64.",
              f"predict(params, X) -> a^L, shape (m, {module_plan.sizes[-1]}).", ""]
    if module_plan.layout == "ng":
        lines += ["Layout 'ng' (Andrew Ng's ex4): Theta_l maps layer l to layer l+1 and its column 0 multiplies the",
                  "bias unit a_0 = 1; that column is not regularised and the bias row of Theta^T delta is dropped.", ""]
    else:
        lines += ["Layout 'rows': W^l maps layer l-1 to layer l (the input X is layer 1), b^l is its bias vector.", ""]
    lines += ["Formulas", "--------",
              "Derived by symbackprop by differentiating the cost, for one example as a column vector; the code",
              "holds one example per row, so v = A u is computed as V = U A^T."
              + (" Theta_(l-1) = [b^l | W^l]." if module_plan.layout == "ng" else ""),
              "    z^l = W^l a^(l-1) + b^l,  a^l = g_l(z^l),  a^1 = x"]
    for layer in module_plan.layers:
        lines.append(f"    g_{layer.number}: {network.activation_of(layer.number).name}: {layer.kernel.formula}")
    lines.append(f"    cost of one output unit: {module_plan.cost.formula}")
    lines.append(f"    delta^L = dC/dz^L = {sstr(derivation.output_delta.unit)}"
                 + ("   (the activation's derivative cancelled)" if derivation.output_delta.cancels else ""))
    for layer in module_plan.layers[:-1]:
        lines.append(f"    delta^{layer.number} = {sstr(layer.hidden_unit)}   "
                     f"with e = (W^{layer.number + 1})^T delta^{layer.number + 1}"
                     + (" (bias row dropped)" if module_plan.layout == "ng" else ""))
    lines += ["    dJ/dW^l = (1/m) sum_x delta^l (a^(l-1))^T" + (" + (lambda/m) W^l" if module_plan.l2 else "")
              + ",   dJ/db^l = (1/m) sum_x delta^l", ""]
    for assumption in derivation.assumptions:
        lines.append(f"Assumption: {assumption.name}: {sstr(assumption.statement)} -- {assumption.note}.")
    if derivation.assumptions:
        lines.append("")
    lines += ["Numerics",
              "--------",
              "Every elementwise function below is printed from SymPy after a symbolic rewriting for float64:",
              "logarithms of sigmoid-like functions as log1p(exp(-|z|)) + max(z, 0) forms, rational functions",
              "of exp(z) split by the sign of z or with exponents clipped at 709 (a change below the smallest",
              "normal number), softmax with the row maximum subtracted and log(1 - a_k) without forming 1 - a_k.",
              "For pre-activations up to +-1000, wherever the loss is defined, the cost of every example is",
              "accurate to 1e-10 relative and the gradients to 1e-10 relative in norm.",
              "For small networks keep BLAS to one thread (e.g. threadpoolctl.threadpool_limits(1)): its default",
              "thread pool can make small matrix products many times slower on a machine with few cores."]
    return "\n".join(lines) + "\n"

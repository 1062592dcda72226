"""The R-operator (Pearlmutter 1994; Bishop PRML §5.4.6) of a layer or model: its tangent layer.

Every array A that depends on the parameters gets a direction array RA, and

    R{expr} = d/dε expr[A -> A + ε·RA] at ε = 0,

which SymPy differentiates through Sum and Indexed. Applied to each forward equation it gives
the forward pass R{z}, R{a} (Bishop's 5.101-5.102). :func:`tangent_layer` writes these equations
beside the layer's own, as one more layer in the layer language, with the outputs L and RL = R{L}.

The backward pass of that layer, derived by the layer engine like any other, is the rest of the
R-operator: with the upstream gradients dL = 0 and dRL = 1/N,

* the gradient reaching each direction RA is ∂C/∂A, the ordinary gradient (RL is linear in RA);
* the gradient reaching each forward quantity q is R{δ_q} = R{∂C/∂q} (Bishop's 5.103-5.105),
* so the gradient reaching each parameter W is R{∂C/∂W} = H v (5.106-5.107), the Hessian of the
  mean cost times the directions,

because ∇_W (Σ_n RL[n] / N) = ∇_W (∇_W C · v) = H v. Nothing here is per layer: the equations
come from the layer's text, their derivatives from SymPy, their backward pass from the engine.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from ..errors import LayerSpecError
from ._layer import Array, Definition, Layer
from ._printing import language

#: the letter that names a direction: RW1 is the direction of W1, Rz1 the R-derivative of z1
DIRECTION = "R"


def direction_name(name: str) -> str:
    """R{name}: the name of the direction (a parameter's) or the R-derivative (a quantity's)."""
    return DIRECTION + name


@dataclass(frozen=True)
class TangentLayer:
    """A layer with its R-operator equations: the layer, the R-equations in order, and the names."""

    layer: Layer                 #: the tangent layer: inputs, then params, then the directions (inputs)
    source: Layer                #: the layer it was made from
    directions: tuple            #: (parameter, its direction) pairs, in the parameters' order
    r_equations: tuple           #: sympy Eq R{q}[i] = ..., in evaluation order (the R-forward pass)
    loss: str                    #: the output whose R-derivative is RL (a model's per-example loss L)

    @property
    def r_loss(self) -> str:
        return direction_name(self.loss)


def r_operator(expr, varying) -> sp.Expr:
    """R{expr}: the directional derivative of ``expr`` along R(each array in ``varying``)."""
    epsilon = sp.Dummy("epsilon", real=True)
    refs = [ref for ref in expr.atoms(sp.Indexed) if ref.base.label.name in varying]
    moved = expr.xreplace({ref: ref + epsilon * sp.IndexedBase(direction_name(ref.base.label.name), real=True)[
        ref.indices] for ref in refs})
    derivative = sp.diff(moved, epsilon).subs(epsilon, 0)
    # the derivative of sign(x) (softsign's |x|) is 0 wherever it exists: a kink's second derivative, like relu's,
    # is taken almost everywhere, as autodiff takes it
    derivative = derivative.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.Integer(0))
    return _tidy(derivative)


def _in_forward_quantities(expr, definitions):
    """g(x) written as y wherever a definition says y = g(x) (1 - tanh(z1)^2 is 1 - a2^2): the R-forward pass
    reads what the forward pass computed, as the engine's backward pass does. (An output is never read: the
    engine wants outputs final.)"""
    for definition in definitions:
        rhs = definition.rhs
        if not (isinstance(rhs, sp.Function) and len(rhs.args) == 1 and isinstance(rhs.args[0], sp.Indexed)
                and tuple(rhs.args[0].indices) == tuple(definition.indices)):
            continue
        inner = rhs.args[0]
        expr = expr.replace(lambda e, rhs=rhs, inner=inner: e.func == rhs.func and len(e.args) == 1
                            and isinstance(e.args[0], sp.Indexed) and e.args[0].base == inner.base,
                            lambda e, definition=definition: definition.lhs.xreplace(
                                dict(zip(definition.indices, e.args[0].indices))))
    return expr


def _tidy(expr):
    """Products distributed, and each sum of several terms split into one sum per term (Σ_d (RW a + W Ra) is
    Σ_d RW a + Σ_d W Ra): each term then prints as one contraction, a matrix product, not a broadcast."""
    expr = expr.doit(deep=False) if isinstance(expr, sp.Derivative) else expr
    expr = _distribute(expr)
    return expr.replace(lambda e: isinstance(e, sp.Sum) and isinstance(_distribute(e.function), sp.Add),
                        lambda e: sp.Add(*[sp.Sum(term, *e.limits) for term in sp.Add.make_args(_distribute(e.function))]))


def _distribute(expr):
    return sp.expand(expr, deep=False, mul=True, multinomial=False, power_exp=False, power_base=False, log=False)


@lru_cache(maxsize=32)
def tangent_layer(layer: Layer, loss: str | None = None, with_inputs: bool = False) -> TangentLayer:
    """The layer with R-equations for every quantity that depends on a parameter, and the output R{loss}.

    ``loss`` is the one output whose R-derivative is asked (a model's L); by default the layer's only output.
    ``with_inputs``: the inputs get directions too (a layer's R{backward}: Rx beside RW).
    """
    if loss is None:
        if len(layer.outputs) != 1:
            raise LayerSpecError(f"the second order needs one scalar output per example; {layer.name} has "
                                 f"{len(layer.outputs)}: {', '.join(layer.outputs)}")
        (loss,) = layer.outputs
    moved = layer.differentiable if with_inputs else layer.params
    if not moved:
        raise LayerSpecError(f"{layer.name} has no parameters: there is no Hessian with respect to parameters")
    taken = set(layer.arrays)
    for name in layer.arrays:
        if direction_name(name) in taken:
            raise LayerSpecError(f"the array {direction_name(name)} would name the direction of {name}; rename "
                                 f"{direction_name(name)} for the second order")
    varying = {array.name for array in moved}
    equations = []
    for definition in layer.definitions:
        if not any(ref.base.label.name in varying for ref in definition.rhs.atoms(sp.Indexed)):
            continue
        value = _in_forward_quantities(r_operator(definition.rhs, varying),
                                       [d for d in layer.definitions if d.name not in layer.outputs])
        if value == 0:
            continue
        varying.add(definition.name)
        equations.append(sp.Eq(sp.IndexedBase(direction_name(definition.name), real=True)[definition.indices],
                               value, evaluate=False))
    if loss not in varying:
        raise LayerSpecError(f"the output {loss} does not depend on any parameter of {layer.name}")
    directions = tuple((array.name, direction_name(array.name)) for array in moved)
    tangent = _extended(layer, loss, directions, equations)
    return TangentLayer(tangent, layer, directions, tuple(equations), loss)


def _extended(layer, loss, directions, equations) -> Layer:
    """The tangent layer: the layer's arrays and equations, the directions as inputs, the R-equations after.

    It is built as a Layer, not parsed: an R-equation may hold cases (R{relu(u)} = Ru where u > 0, else 0) that
    the layer language has no spelling for; its text (a docstring's, and the layer's identity) prints them.
    """
    arrays = dict(layer.arrays)
    added = []
    for param, direction in directions:
        array = Array(direction, "input", layer.arrays[param].sizes)
        arrays[direction] = array
        added.append(array)
    line = max((d.line for d in layer.definitions), default=0)
    definitions = list(layer.definitions)
    for number, equation in enumerate(equations, start=line + 1):
        name = equation.lhs.base.label.name
        source = layer.arrays[name[len(DIRECTION):]]
        arrays[name] = Array(name, "quantity", source.sizes, number)
        definitions.append(Definition(name, tuple(equation.lhs.indices), equation.rhs, number))
    text = _text(layer, loss, directions, equations)
    return Layer(f"{layer.name}_tangent", text, layer.inputs + tuple(added), layer.params, layer.constants,
                 layer.sizes, tuple(definitions), (loss, direction_name(loss)), arrays,
                 f"{layer.description or layer.name} with its R-operator (second order)", facts=layer.facts,
                 boundaries=tuple(layer.boundaries) + tuple(direction_name(b) for b in layer.boundaries
                                                            if direction_name(b) in arrays),
                 derived_sizes=layer.derived_sizes)


def _text(layer, loss, directions, equations) -> str:
    """The tangent layer in the layer language's spelling: the layer's own lines, the directions, the R-equations."""
    lines, last_declaration = [], 0
    for line in layer.text.splitlines():
        body = line.split("#", 1)[0].strip()
        if body.startswith("output"):
            continue
        if body.split(" ", 1)[0] in ("input", "param", "const", "size"):
            last_declaration = len(lines) + 1
        lines.append(line)
    sizes = {array.name: array.sizes for array in layer.differentiable}
    lines.insert(last_declaration, "input  " + ", ".join(f"{r}[{', '.join(map(str, sizes[p]))}]"
                                                         for p, r in directions))
    lines.append("# the R-operator: R{q} = d/dε q[W -> W + ε RW] at ε = 0, for every quantity q that depends on W")
    lines += [language(equation) for equation in equations]
    lines.append(f"output {loss}, {direction_name(loss)}")
    return "\n".join(lines) + "\n"


def truncated(layer: Layer, output: str, name: str) -> Layer:
    """The layer's equations up to ``output`` (its declarations, the definitions it needs), ending in ``output``."""
    needed, order = {output}, []
    for definition in reversed(layer.definitions):
        if definition.name in needed:
            order.append(definition.line)
            needed |= {ref.base.label.name for ref in definition.rhs.atoms(sp.Indexed)}
    lines = _declarations(layer) + [layer.text.splitlines()[line - 1] for line in sorted(order)]
    text = "\n".join(lines + [f"output {output}"]) + "\n"
    used = {array.name for array in layer.inputs + layer.params if array.name in needed}
    text = _drop_unused(text, layer, used)
    truncated_layer = Layer.parse(text, name=name, description=f"{layer.description} up to {output}")
    return dataclasses.replace(truncated_layer, boundaries=tuple(b for b in layer.boundaries if b in needed
                                                                  and b != output))


def head(layer: Layer, logits: str, loss: str, name: str) -> Layer:
    """The equations after ``logits`` down to ``loss``, with the logits as the one parameter: the loss as a
    function of the logits, whose Hessian is H_L."""
    after = []
    found = False
    for definition in layer.definitions:
        if found:
            after.append(definition)
        found = found or definition.name == logits
    if any(ref.base.label.name in {p.name for p in layer.params} for d in after for ref in d.rhs.atoms(sp.Indexed)):
        raise LayerSpecError(f"the loss head after {logits} holds parameters; the split needs a parameter-free head")
    read = {ref.base.label.name for d in after for ref in d.rhs.atoms(sp.Indexed)}
    inputs = [a for a in layer.inputs if a.name in read]
    slots = lambda array: f"{array.name}[{', '.join(map(str, array.sizes))}]"   # noqa: E731
    lines = []
    if inputs:
        lines.append("input  " + ", ".join(map(slots, inputs)))
    lines.append("param  " + slots(dataclasses.replace(layer.arrays[logits], name=logits)))
    if layer.constants:
        lines.append("const  " + ", ".join(f"{symbol} = {float(value)!r}" for symbol, value in layer.constants.items()))
    lines += [layer.text.splitlines()[d.line - 1] for d in after] + [f"output {loss}"]
    result = Layer.parse("\n".join(lines) + "\n", name=name, description=f"the loss of {layer.description} "
                                                                          f"as a function of {logits}")
    return dataclasses.replace(result, facts=layer.facts)


def _declarations(layer) -> list:
    return [line for line in layer.text.splitlines()
            if line.split("#", 1)[0].strip().split(" ", 1)[0] in ("input", "param", "const", "size")]


def _drop_unused(text, layer, used) -> str:
    """The declarations with only the inputs and parameters in ``used`` (a truncated model reads no Y)."""
    lines = []
    for line in text.splitlines():
        keyword = line.split("#", 1)[0].strip().split(" ", 1)[0]
        if keyword in ("input", "param"):
            arrays = [a for a in (layer.inputs if keyword == "input" else layer.params) if a.name in used]
            if not arrays:
                continue
            declared = line.split(keyword, 1)[1]
            items = _split_declaration(declared)
            items = [item for item in items if item.split("[", 1)[0].strip() in used]
            line = f"{keyword}  " + ", ".join(items)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _split_declaration(text) -> list:
    """'X[N, D], Y[N, K]' -> ['X[N, D]', 'Y[N, K]']: commas outside brackets."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [item for item in items + [current.strip()] if item]


def second_directional(layer: Layer, output: str, param: str) -> tuple:
    """R_W R_W {q} for every quantity q, the directions in the one parameter W only: (R-equations, RR-equations),
    each a tuple of sympy Eq in evaluation order. RR{output} = Σ_k v_Wᵀ ∇²_W output_k v_W: where it is zero for
    every direction, the residual of the Gauss-Newton split, Σ_k (∂L/∂z_k) ∇²z_k, is zero on W's diagonal block."""
    first, second = [], []
    varying, twice = {param}, set()
    for definition in layer.definitions:
        refs = {ref.base.label.name for ref in definition.rhs.atoms(sp.Indexed)}
        if not refs & varying:
            continue
        value = r_operator(definition.rhs, varying)
        if value == 0:
            continue
        varying.add(definition.name)
        direction = direction_name(definition.name)
        first.append(sp.Eq(sp.IndexedBase(direction, real=True)[definition.indices], value, evaluate=False))
        # R of R{q}: the primal arrays move along their R (q -> Rq), the R-arrays along theirs (Rq -> RRq);
        # the direction RW itself is constant
        moving = (varying - {definition.name}) | {direction_name(name) for name in twice}
        again = _piecewise_zero(r_operator(value, moving))
        if again != 0:
            twice.add(definition.name)
            second.append(sp.Eq(sp.IndexedBase(direction_name(direction), real=True)[definition.indices], again,
                                evaluate=False))
        if definition.name == output:
            break
    return tuple(first), tuple(second)


def _piecewise_zero(expr):
    """A case split whose every branch is zero is zero (R{relu(u)} is a case split; R of it, with Ru fixed, is 0)."""
    expr = expr.replace(lambda e: isinstance(e, sp.Piecewise) and all(branch == 0 for branch, _ in e.args),
                        lambda e: sp.Integer(0))
    return sp.expand(expr) if expr != 0 else expr


def squared_per_example(derivation, batch=None):
    """The derivation with each parameter's gradient Σ_n f[n, ...] replaced by Σ_n f[n, ...]²: the sum over the
    examples of the squared per-example gradients (BackPACK's trick for diag(G), made generic), or None when it
    does not exist: a forward equation sums over the batch index (batch norm couples the examples), or a
    parameter's gradient is not one sum over the examples of a term without other sums."""
    layer = derivation.layer
    batch = layer.inputs[0].sizes[0] if batch is None else batch       # N: the examples are the first axis
    if any(limit[2] == batch - 1 for d in layer.definitions for s in d.rhs.atoms(sp.Sum) for limit in s.limits):
        return None
    gradients = dict(derivation.gradients)
    for array in layer.params:
        gradient = gradients[array.name]
        final = gradient.final
        if not (isinstance(final, sp.Sum) and len(final.limits) == 1 and final.limits[0][2] == batch - 1
                and not final.function.has(sp.Sum)):
            return None
        squared = sp.Sum(final.function ** 2, final.limits[0])
        gradients[array.name] = dataclasses.replace(gradient, staged=squared, closed=None, closed_display=None)
    return dataclasses.replace(derivation, gradients=gradients)

"""derive(network) -> Derivation: the one entry point of the engine.

The work is done once per distinct (activation, loss) at a generic unit and a generic layer, so it
does not grow with layer widths; per hidden layer it only substitutes the layer number.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache

import sympy as sp

from .. import symbols as S
from ..budget import NOT_SHORTENED, simplifiable
from ..derivation import Assumption, Derivation, Rule
from ..errors import NotDifferentiableError
from ..network import Network
from ._calculus import real_domain
from ._gradients import derive_bias_gradient, derive_cost, derive_weight_gradient
from ._activation_derivative import UnnamedActivationError
from ._hidden_delta import derive_hidden_delta
from ._proof import deferred
from ._output_delta import derive_output_delta


def derive(network: Network) -> Derivation:
    """Derive δ^L, the δ^l recursion, ∂C/∂W, ∂C/∂b and the batch cost of ``network`` by differentiation.

    >>> from symbackprop import Network, derive
    >>> d = derive(Network((400, 25, 10), loss="cross-entropy"))
    >>> d.output_delta.unit, d.output_delta.cancels
    (a - y, True)
    """
    if not isinstance(network, Network):
        from ..errors import NetworkSpecError
        raise NetworkSpecError(_not_a_network(network))
    output = _output(network.output, network.loss)
    cost, cost_steps = derive_cost(network)
    hidden_layers = range(2, network.depth)
    uniform = len(set(network.hidden)) <= 1
    generic_hidden, generic_steps = (_hidden(network.hidden[0], network.bias) if network.hidden and uniform
                                     else (None, ()))
    hidden_deltas, hidden_steps = [], []
    for layer in hidden_layers:
        # The recursion is derived once at a generic layer l; layer `layer` is that result with l = layer.
        quantity, steps = _hidden(network.activation_of(layer), network.bias)
        hidden_deltas.append(_at_layer(quantity, layer))
        if not uniform:
            hidden_steps.extend(_at_layer(step, layer) for step in steps)
    weight_gradient, weight_steps = derive_weight_gradient(network)
    bias_gradient, bias_steps = derive_bias_gradient(network)
    steps = (*cost_steps, *output.steps, *(generic_steps if uniform else hidden_steps), *weight_steps, *bias_steps)
    steps = _budget_notes(steps, output.quantity, hidden_deltas)
    return Derivation(network=network, cost=cost, output_delta=output.quantity, hidden_deltas=tuple(hidden_deltas),
                      weight_gradient=weight_gradient, bias_gradient=bias_gradient,
                      assumptions=(*output.assumptions, *_domains(network)), steps=steps,
                      hidden_delta=generic_hidden)


def _budget_notes(steps, output_delta, hidden_deltas) -> tuple:
    """Say so in the simplification steps of a quantity whose form was past the simplification budget
    (:mod:`symbackprop.budget`): it is correct, but no shorter form was sought."""
    past = {"output_delta": not simplifiable(output_delta.unit),
            "hidden_delta": any(q.activation_derivative is not None and not simplifiable(q.activation_derivative)
                                for q in hidden_deltas)}
    rules = {"output_delta": (Rule.SIMPLIFICATION, Rule.CANCELLATION), "hidden_delta": (Rule.SIMPLIFICATION, Rule.ACTIVATION_DERIVATIVE)}
    return tuple(replace(step, note=f"{step.note}; {NOT_SHORTENED}")
                 if past.get(step.quantity) and step.rule in rules[step.quantity] and NOT_SHORTENED not in step.note
                 else step for step in steps)


def _domains(network: Network) -> tuple:
    """Where a typed activation or loss is real (sqrt(z): z >= 0; log(a): a > 0): the derivation holds there.

    Only for expressions a user typed; the catalogue's records say their domains in their descriptions.
    """
    from ..catalogue.activations import BY_NAME as ACTIVATIONS
    from ..catalogue.losses import BY_NAME as LOSSES
    found = []
    places = [(network.output, S.L, "the output activation")]
    places += [(g, S.l, "the hidden activation") for g in dict.fromkeys(network.hidden)]
    for record, layer, role in places:
        if record.name in ACTIVATIONS or not record.elementwise:
            continue
        at_layer = {S.z: S.unit("z", layer, S.i)}
        found += [Assumption(f"domain of {record.name}", condition.xreplace(at_layer),
                             f"{role} {record.name} is real only where this holds; the derivation holds there")
                  for condition in real_domain(record.definition)]
    loss = network.loss
    if loss.name not in LOSSES and loss.separable:
        at_output = {S.a: S.unit("a", S.L, S.i), S.y: S.target(S.i)}
        found += [Assumption(f"domain of {loss.name}", condition.xreplace(at_output),
                             f"the loss {loss.name} is real only where this holds; the derivation holds there")
                  for condition in real_domain(loss.per_unit)]
    return tuple(found)


def _output(activation, loss):
    with _named(activation, "output"):
        return _output_derived(activation, loss, deferred())


def _hidden(activation, bias):
    with _named(activation, "hidden"):
        return _hidden_derived(activation, bias, deferred())


@contextmanager
def _named(activation, role: str):
    """An activation that cannot be differentiated is named as the user wrote it (``--hidden 'relu(z)^silu(z)'``),
    not in SymPy's form of its definition (cases, ``**``)."""
    try:
        yield
    except UnnamedActivationError as error:
        raise NotDifferentiableError(f"{role} activation {activation.name}: {error}") from None


# ``unproved`` is part of the key: a result derived with the proofs deferred (checker/_family.py) is
# never handed out as a proved one
@lru_cache(maxsize=128)
def _output_derived(activation, loss, unproved: bool):
    return derive_output_delta(activation, loss)


@lru_cache(maxsize=256)
def _hidden_derived(activation, bias, unproved: bool):
    return derive_hidden_delta(activation, S.l, bias)


def _at_layer(item, layer: int):
    """A generic-layer Quantity or Step with the layer symbol l replaced by a number."""
    number = sp.Integer(layer)
    changes = {name: getattr(item, name).xreplace({S.l: number})
               for name in ("index", "vector", "statement") if getattr(item, name, None) is not None}
    return replace(item, layer=number, **changes)


def _not_a_network(value) -> str:
    """What derive() says to a value that is not a Network: a layer's name, a Layer or a model string goes
    to the function that derives it."""
    from ..layers import Layer
    from ..layers.records import layer_names
    head = f"derive() takes a symbackprop.Network, not {type(value).__name__}"
    if isinstance(value, str) and value.strip() in layer_names():
        return (f"{head}: {value.strip()!r} is a layer; derive it with "
                f"symbackprop.derive_layer({value.strip()!r})")
    if isinstance(value, str) and ">" in value:
        return (f"{head}: {value!r} reads as a model; derive it with derive_model(build_model({value!r}, "
                f"loss, input_size)), both from symbackprop.models")
    if isinstance(value, Layer) or getattr(value, "recurrent", False):
        return f"{head}: a layer is derived with symbackprop.derive_layer(layer)"
    return (f"{head}; build one with symbackprop.Network(sizes, hidden=..., output=..., loss=...), "
            f"or derive a layer (a name such as 'batchnorm', or layer text) with symbackprop.derive_layer")

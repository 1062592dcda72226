"""The description of a network: layer sizes, activations, loss, L2 strength and where the bias lives.

A :class:`Network` validates itself when built; every refusal names the bad value and what
would be accepted.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Sequence, Union

import sympy as sp

from .catalogue import Activation, Loss, activation as _activation, loss as _loss
from .errors import NetworkSpecError

BIAS_PLACES = ("separate", "column")
Size = Union[int, sp.Symbol]


@dataclass(frozen=True, init=False)
class Network:
    """A fully connected feed-forward network.

    >>> Network((400, 25, 10), hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2=1, bias="column").depth
    3

    ``sizes`` counts the input layer: (400, 25, 10) is Ng's ex4 network (layers 1..3).
    ``hidden`` is one activation for every hidden layer, or a sequence with one per hidden layer.
    ``loss`` left out is the cross-entropy, or the categorical cross-entropy after a softmax output.

    >>> Network((4, 3), output="softmax").loss.name
    'categorical-cross-entropy'
    """

    sizes: tuple
    hidden: tuple[Activation, ...]
    output: Activation
    loss: Loss
    l2: sp.Expr
    bias: str

    def __init__(self, sizes: Sequence[Size] = (400, 25, 10), hidden="sigmoid", output="sigmoid",
                 loss=None, l2=0, bias: str = "separate"):
        sizes = _check_sizes(sizes)
        n_hidden = len(sizes) - 2
        if isinstance(hidden, (list, tuple)):
            if len(hidden) != n_hidden:
                raise NetworkSpecError(f"{len(hidden)} hidden activations given for {n_hidden} hidden layer(s) "
                                       f"of sizes {_fmt(sizes)}; give one, or one per hidden layer")
            hidden_records = tuple(_activation(h) for h in hidden)
        else:
            hidden_records = (_activation(hidden),) * n_hidden
        for record in hidden_records:
            if not record.elementwise:
                raise NetworkSpecError(f"hidden activation {record.name!r} couples the units of its layer; "
                                       f"symbackprop supports it as the output activation only")
        output_record = _activation(output)
        if loss is None:     # the binary cross-entropy per unit would read a distribution as independent units
            loss = "cross-entropy" if output_record.elementwise else "categorical-cross-entropy"
        loss_record = _loss(loss)
        if not output_record.elementwise and sizes[-1] == 1:
            raise NetworkSpecError(f"output activation {output_record.name!r} needs at least 2 output units, "
                                   f"but the output layer has 1; use sigmoid for a single output")
        if not loss_record.separable and output_record.elementwise:
            raise NetworkSpecError(f"loss {loss_record.name!r} (-ln a_c of the true class) needs a probability "
                                   f"vector: use it with the softmax output, not {output_record.name!r}")
        if bias not in BIAS_PLACES:
            raise NetworkSpecError(f"bias {bias!r} is not accepted; accepted: {', '.join(BIAS_PLACES)}")
        l2_value = _check_l2(l2)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "hidden", hidden_records)
        object.__setattr__(self, "output", output_record)
        object.__setattr__(self, "loss", loss_record)
        object.__setattr__(self, "l2", l2_value)
        object.__setattr__(self, "bias", bias)

    @property
    def depth(self) -> int:
        """L, the number of layers counting the input layer."""
        return len(self.sizes)

    def activation_of(self, layer: int) -> Activation:
        """The activation of layer ``layer`` (2..L; layer 1 is the input)."""
        if not 2 <= layer <= self.depth:
            raise NetworkSpecError(f"layer {layer} has no activation; layers with one are 2..{self.depth}")
        return self.output if layer == self.depth else self.hidden[layer - 2]

    def describe(self) -> str:
        """One line: sizes, activations, loss, λ (nothing when there is no L2 term), bias."""
        hidden = ",".join(h.name for h in self.hidden) if len(set(self.hidden)) > 1 else (self.hidden[0].name if self.hidden else "-")
        return (f"{_fmt(self.sizes)} network, hidden {hidden}, output {self.output.name}, "
                f"loss {self.loss.name}, " + ("no L2 penalty" if self.l2 == 0 else f"lambda = {self.l2}")
                + f", bias {self.bias}")


def _fmt(sizes) -> str:
    return "-".join(str(s) for s in sizes)


def _check_sizes(sizes) -> tuple:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise NetworkSpecError(f"layer sizes must be a sequence such as (400, 25, 10), not {sizes!r}")
    if len(sizes) < 2:
        raise NetworkSpecError(f"a network needs at least 2 layers (input and output), got {len(sizes)}: {list(sizes)!r}")
    checked = []
    for position, size in enumerate(sizes, start=1):
        if isinstance(size, bool):
            raise NetworkSpecError(f"layer {position} size {size!r} is not a whole number")
        if isinstance(size, numbers.Integral):
            if size < 1:
                raise NetworkSpecError(f"layer {position} has size {size}; a layer needs at least 1 unit")
            checked.append(int(size))
        elif isinstance(size, sp.Symbol):
            checked.append(size)
        else:
            raise NetworkSpecError(f"layer {position} size {size!r} is not a positive whole number or a SymPy symbol")
    return tuple(checked)


def _check_l2(l2) -> sp.Expr:
    if isinstance(l2, sp.Symbol):
        return l2
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real):
        raise NetworkSpecError(f"L2 strength {l2!r} is not a number; accepted: a number >= 0")
    if l2 != l2 or l2 in (float("inf"), float("-inf")):
        raise NetworkSpecError(f"L2 strength {l2!r} is not finite; accepted: a number >= 0")
    if l2 < 0:
        raise NetworkSpecError(f"L2 strength {l2!r} is negative; accepted: a number >= 0")
    return sp.nsimplify(l2, rational=True) if isinstance(l2, float) else sp.Integer(l2) if isinstance(l2, numbers.Integral) else sp.nsimplify(l2)

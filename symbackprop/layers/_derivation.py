"""The product of the layer engine: a :class:`LayerDerivation`, whose quantities are keyed by name.

It shares :class:`~symbackprop.derivation.Step` and :class:`~symbackprop.derivation.Rule` with the
network :class:`~symbackprop.derivation.Derivation`: the gradient of each quantity, input and
parameter of a layer, with the ordered steps that derive it. A network's derivation is the same
idea with fixed names (δ^L, the δ^l recursion, ∂C/∂W, ∂C/∂b); renderers and the exporter read a
LayerDerivation without re-deriving anything.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import sympy as sp

from ._layer import Layer


def gradient_name(name: str) -> str:
    """The name of ∂C/∂name in every printed form: 'dx', 'dgamma' (CS231n's convention)."""
    return "d" + name


def gradient_base(name: str) -> sp.IndexedBase:
    return sp.IndexedBase(gradient_name(name), real=True)


@dataclass(frozen=True)
class Gradient:
    """∂C/∂(one array of the layer) at the indices ``indices``.

    ``staged`` is the chain rule's result, deltas contracted and sums simplified; it may refer to
    the gradients of the quantities computed from this one (dx̂, dμ). ``closed`` is the same
    gradient in the upstream gradients and forward quantities only, when the algebra found one
    no longer than the staged chain (CS231n's alt form for batch norm); ``closed_display`` is it
    with its common factor in front, as a textbook writes it.
    """

    of: str                      #: the array: 'x', 'gamma', 'xhat'
    kind: str                    #: 'input', 'param', 'quantity' or 'output'
    indices: tuple               #: its free indices, one per axis
    staged: sp.Expr
    closed: Optional[sp.Expr] = None
    closed_display: Optional[sp.Expr] = None
    #: arrays the final form reads that the backward pass makes first (the upstream gradient dilated by the
    #: stride): (name, indices, definition as a sum of deltas, sizes), in order
    auxiliary: tuple = ()

    @property
    def name(self) -> str:
        return gradient_name(self.of)

    @property
    def lhs(self) -> sp.Indexed:
        return gradient_base(self.of)[self.indices]

    @property
    def final(self) -> sp.Expr:
        """The form the exporter prints: the closed form when there is one, else the staged one."""
        return self.closed if self.closed is not None else self.staged

    @property
    def display(self) -> sp.Expr:
        """The last form of the derivation, as shown."""
        if self.closed_display is not None:
            return self.closed_display
        return self.final


@dataclass(frozen=True)
class LayerDerivation:
    """Everything derived for one layer: the gradient of every array by name, and the steps in order."""

    layer: Layer
    gradients: Mapping           #: array name -> Gradient, in the order the backward pass computes them
    steps: tuple                 #: Step objects; ``step.quantity`` is the array name ('x', 'mu')
    identities: tuple = ()       #: the SumIdentity facts the algebra used
    #: (quantity, title) for steps about something other than a gradient (the second order's R{z}, H_L)
    titles: tuple = ()

    def __repr__(self) -> str:
        """One line for a REPL: the layer, the gradients backward returns and the number of steps."""
        returned = ", ".join(gradient_name(array.name) for array in self.layer.differentiable)
        return f"<LayerDerivation of the {self.layer.describe()}: {returned}; {len(self.steps)} steps>"

    def gradient(self, name: str) -> Gradient:
        if name not in self.gradients:
            from ..errors import UnknownNameError
            raise UnknownNameError("array", name, self.gradients)
        return self.gradients[name]

    @property
    def results(self) -> tuple:
        """The gradients ``backward`` returns: every input, then every parameter, in declaration order."""
        return tuple(self.gradients[array.name] for array in self.layer.differentiable)

    @property
    def upstream(self) -> tuple:
        """The names of the given upstream gradients ('dy')."""
        return tuple(gradient_name(name) for name in self.layer.outputs)

    def steps_for(self, name: str) -> tuple:
        return tuple(step for step in self.steps if step.quantity == name)

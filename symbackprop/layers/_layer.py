"""The validated description of a layer: :class:`Layer`, its arrays and its equations as SymPy.

A :class:`Layer` is immutable and valid by construction (:meth:`Layer.parse` runs the grammar of
:mod:`._language` and the checks of :mod:`._validate`). Sizes are SymPy symbols, never numbers, so
everything derived from a layer is derived once for every size.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import sympy as sp


@dataclass(frozen=True)
class Array:
    """A named array of the layer: an input, a parameter or a quantity an equation defines."""

    name: str
    kind: str                    #: 'input', 'param' or 'quantity'
    sizes: tuple                 #: SymPy size symbols, one per axis
    line: int = 0
    pads: tuple = ()             #: zero padding per axis of a declared array (None: none declared)

    @property
    def base(self) -> sp.IndexedBase:
        return sp.IndexedBase(self.name, real=True)


@dataclass(frozen=True)
class Definition:
    """One equation ``name[indices] = rhs``; ``rhs`` is SymPy with ``Indexed`` references and ``Sum``."""

    name: str
    indices: tuple               #: SymPy index symbols, one per axis of the quantity
    rhs: sp.Expr
    line: int

    @property
    def lhs(self) -> sp.Indexed:
        return sp.IndexedBase(self.name, real=True)[self.indices]


@dataclass(frozen=True)
class Layer:
    """A layer: declared inputs and parameters, constants, equations over indexed quantities, outputs.

    >>> layer = Layer.parse('''
    ... input x[N, D]
    ... param gamma[D], beta[D]
    ... y[n, d] = gamma[d] * x[n, d] + beta[d]
    ... output y''')
    >>> [a.name for a in layer.inputs], [a.name for a in layer.params], layer.outputs
    (['x'], ['gamma', 'beta'], ('y',))
    """

    name: str
    text: str
    inputs: tuple                #: Arrays, in declaration order
    params: tuple                #: Arrays, in declaration order
    constants: Mapping           #: SymPy symbol -> its value (a SymPy number)
    sizes: tuple                 #: the size symbols, in order of first use
    definitions: tuple           #: Definitions, in an order where each follows what it uses
    outputs: tuple               #: names of the output quantities
    arrays: Mapping = field(default_factory=dict)   #: every Array by name
    description: str = ""
    #: facts the text cannot state, given by whoever built the layer (a model's one-hot targets:
    #: Σ_k Y[n, k] = 1), as SumIdentity records the engine uses like the definitions' own
    facts: tuple = ()
    #: quantities whose gradient the engine also writes in closed form (a model's output logits: the
    #: softmax + cross-entropy cancellation), besides the inputs and parameters
    closed_for: tuple = ()
    #: quantities whose gradient a closed form keeps as given instead of substituting it (a model's stage
    #: outputs: each stage's closed forms are in its own upstream gradient, as a textbook writes them)
    boundaries: tuple = ()
    #: sizes computed from others (``size Ho = (H + 2*P - K)/S + 1``): size symbol -> its value
    derived_sizes: Mapping = field(default_factory=dict)
    #: the shapes a course passes some arrays in, the same entries with axes of length 1 added (the Deep
    #: Learning Specialization's conv bias b (1, 1, 1, n_C)): pairs (array name, tuple of sizes and 1s); the
    #: algebra never sees them, the exported module takes and returns those arrays in these shapes
    shapes: tuple = ()

    @classmethod
    def parse(cls, text: str, name: str = "layer", description: str = "") -> "Layer":
        """Read a layer written in the layer language (see docs/layer-language.md)."""
        from ._validate import build_layer
        return build_layer(text, name, description)

    def __hash__(self):
        return hash((self.name, self.text, self.closed_for, self.boundaries, self.shapes))

    def __eq__(self, other):
        return isinstance(other, Layer) and ((self.name, self.text, self.facts, self.closed_for, self.boundaries,
                                              self.shapes)
                                             == (other.name, other.text, other.facts, other.closed_for,
                                                 other.boundaries, other.shapes))

    @property
    def differentiable(self) -> tuple:
        """The inputs then the parameters: what ``backward`` returns gradients for, in that order."""
        return self.inputs + self.params

    def definition(self, name: str) -> Definition:
        for definition in self.definitions:
            if definition.name == name:
                return definition
        raise KeyError(name)

    @property
    def quantities(self) -> tuple:
        """Names of the quantities the equations define, in evaluation order."""
        return tuple(definition.name for definition in self.definitions)

    def describe(self) -> str:
        return f"layer {self.name} ({describe_slots(self.inputs, self.params)}) -> {', '.join(self.outputs)}"


def describe_slots(inputs, params) -> str:
    """'x[N, D]; params gamma[D], beta[D]': a layer's inputs and parameters with their sizes, for one line."""
    def slot(array):
        return f"{array.name}[{', '.join(map(str, array.sizes))}]"
    parts = [", ".join(map(slot, inputs))]
    if params:
        parts.append("params " + ", ".join(map(slot, params)))
    return "; ".join(parts)

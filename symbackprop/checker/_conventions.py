"""How each textbook's formulas are *read*: which letter is which canonical array, and how layers count.

This module owns the reading side of the notations (the printing side lives in
:mod:`symbackprop.rendering.notations`; the facts agree with ``NOTATIONS.md``). It holds data only.

Canonical convention (:mod:`symbackprop.symbols`): layers 1..L, the input is layer 1, ``W^l``
maps layer l-1 to layer l. A written layer *number* n is canonical layer ``n + number_shift``
(Ng's Deep Learning Specialization and Goodfellow count the input as layer 0); a generic layer
letter keeps its meaning (``l`` is "a hidden layer", ``L`` "the output layer"). A weight matrix
additionally shifts by ``weight_shift``: Ng's Θ^(l) maps layer l to l+1, so it is canonical W^{l+1}.

The facts both sides need (how layers count, which letter names a generic layer, the letter of a
weight matrix) are read from the notation's record in :mod:`symbackprop.rendering.notations`, so
there is one table of them; a convention states only how its formulas are read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Optional

from ..errors import UnknownNameError
from ..rendering.notations import BY_NAME as NOTATIONS

# Canonical roles a written letter can stand for.
ACTIVATION, PREACTIVATION, WEIGHT, BIAS, DELTA, TARGET, OUTPUT = "a", "z", "W", "b", "delta", "y", "output"


@dataclass(frozen=True)
class Convention:
    """The reading rules of one notation. The fields left None are taken from the notation's printing
    record (:data:`symbackprop.rendering.notations.BY_NAME`) of the same name."""

    name: str
    letters: Mapping[str, str]            #: written letter -> canonical role (per example)
    batch_letters: Mapping[str, str]      #: written letter -> canonical role of a batch array (m columns)
    functions: tuple[str, ...]            #: letters that name the activation function (g, sigma, f, h)
    cost_letters: Mapping[str, str]       #: cost letter -> 'example', 'mean' (1/m, lambda/m), 'example+reg'
    describe_weights: str = ""            #: one sentence: which way the weight matrix points
    index_layers: bool = False            #: Bishop: the unit index letter says the layer (i, j, k)
    number_shift: Optional[int] = None    #: written layer number n is canonical n + number_shift
    weight_shift: Optional[int] = None    #: a weight matrix's layer shifts once more
    layer_letters: Optional[Mapping[str, str]] = None  #: written generic layer letter -> canonical ('l' or 'L')
    weight_letter: Optional[str] = None   #: how the notation writes a weight matrix, for messages
    batch_rows: bool = False              #: batch arrays hold one example per ROW (ex4's a1, d2)
    scalars: Mapping[str, str] = field(default_factory=dict)  #: more scalar letters: Nielsen's n (the examples) -> 'm'

    def __post_init__(self):
        printed = NOTATIONS.get(self.name)
        derived = {} if printed is None else {
            "number_shift": -printed.layer_offset,
            "weight_shift": -printed.weight_offset,
            "layer_letters": {printed.layer_name(canonical): canonical for canonical in ("l", "L")},
            "weight_letter": printed.weight.latex,
        }
        for name, value in derived.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        missing = [name for name in ("number_shift", "weight_shift", "layer_letters", "weight_letter")
                   if getattr(self, name) is None]
        if missing:
            raise ValueError(f"convention {self.name!r} has no printing notation of that name "
                             f"({', '.join(NOTATIONS)}), so it must give {', '.join(missing)}")
        for name in ("letters", "batch_letters", "layer_letters", "cost_letters", "scalars"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def arrays(self) -> frozenset:
        """The letters that name arrays here and never the activation function (Goodfellow's h), for the parser."""
        return frozenset((*self.letters, *self.batch_letters)) - set(self.functions)


_COMMON_FUNCTIONS = ("sigma", "g", "f", "h", "phi", "varphi")

NIELSEN = Convention(
    "nielsen",
    letters={"a": ACTIVATION, "z": PREACTIVATION, "w": WEIGHT, "W": WEIGHT, "Theta": WEIGHT, "theta": WEIGHT,
             "b": BIAS, "delta": DELTA, "y": TARGET},
    batch_letters={"A": ACTIVATION, "Z": PREACTIVATION, "Y": TARGET, "Delta": DELTA},
    functions=_COMMON_FUNCTIONS,
    cost_letters={"C": "example", "J": "mean", "Cbar": "mean"},
    describe_weights="w^{l} maps layer l-1 to layer l",
    scalars={"n": "m"},
)

NG_ML = Convention(
    "ng-ml",
    letters={"a": ACTIVATION, "z": PREACTIVATION, "Theta": WEIGHT, "theta": WEIGHT, "W": WEIGHT, "w": WEIGHT,
             "b": BIAS, "delta": DELTA, "y": TARGET},
    batch_letters={"A": ACTIVATION, "Z": PREACTIVATION, "Y": TARGET, "d": DELTA},
    functions=_COMMON_FUNCTIONS,
    cost_letters={"J": "mean", "C": "example", "cost": "example"},
    describe_weights="\\Theta^{(l)} maps layer l to layer l+1",
    batch_rows=True,
)

NG_DLS = Convention(
    "ng-dls",
    letters={"a": ACTIVATION, "z": PREACTIVATION, "W": WEIGHT, "w": WEIGHT, "Theta": WEIGHT, "b": BIAS,
             "y": TARGET, "dz": DELTA},
    batch_letters={"A": ACTIVATION, "Z": PREACTIVATION, "Y": TARGET, "dZ": DELTA},
    functions=_COMMON_FUNCTIONS,
    cost_letters={"J": "mean", "L": "example", "mathcalL": "example"},
    describe_weights="W^{[l]} maps layer l-1 to layer l, counting the input as layer 0",
)

GOODFELLOW = Convention(
    "goodfellow",
    letters={"h": ACTIVATION, "a": PREACTIVATION, "W": WEIGHT, "w": WEIGHT, "Theta": WEIGHT, "b": BIAS, "y": TARGET,
             "yhat": OUTPUT, "x": ACTIVATION},
    batch_letters={"H": ACTIVATION, "G": DELTA, "Y": TARGET},
    functions=("f", "sigma", "phi"),
    cost_letters={"J": "example+reg", "L": "example"},
    describe_weights="W^{(k)} maps layer k-1 to layer k, counting the input as layer 0",
    batch_rows=True,
)

BISHOP = Convention(
    "bishop",
    letters={"z": ACTIVATION, "a": PREACTIVATION, "w": WEIGHT, "W": WEIGHT, "Theta": WEIGHT, "b": BIAS, "delta": DELTA,
             "t": TARGET, "y": OUTPUT, "x": ACTIVATION},
    batch_letters={"Z": ACTIVATION, "A": PREACTIVATION, "Delta": DELTA, "T": TARGET},
    functions=("h", "sigma", "g", "f"),
    cost_letters={"E": "example"},
    describe_weights="w_{ji} connects unit i to unit j of the next layer",
    index_layers=True,
    batch_rows=True,
)

CONVENTIONS: tuple[Convention, ...] = (NG_ML, NG_DLS, NIELSEN, GOODFELLOW, BISHOP)
BY_NAME: Mapping[str, Convention] = MappingProxyType({c.name: c for c in CONVENTIONS})
DEFAULT = "nielsen"

#: Bishop's unit index letters: the layer of a unit, relative to the layer of unit j.
BISHOP_INDEX_OFFSETS = MappingProxyType({"i": -1, "j": 0, "k": 1})


def convention(name) -> Convention:
    """The reading rules of notation ``name`` ('ng-ml', 'ng-dls', 'nielsen', 'goodfellow', 'bishop')."""
    if isinstance(name, Convention):
        return name
    if isinstance(name, str) and name in BY_NAME:
        return BY_NAME[name]
    raise UnknownNameError("notation", str(name), BY_NAME)

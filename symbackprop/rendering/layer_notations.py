"""Notations for layers (``derive --layer ... --notation cs231n``): records, like the network notations.

A layer is written with its own names (x, gamma, xhat); a layer notation fixes what a course calls the
rest: the output and so the upstream gradient (CS231n: ``out`` and ``dout``), and how a batch is stacked.
Facts from CS231n's ``cs231n/layers.py`` (assignment 2): every layer is ``*_forward(x, ...) -> (out,
cache)`` and ``*_backward(dout, cache) -> (dx, dparams...)``; examples are rows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from ..errors import LayerSpecError, UnknownNameError


@dataclass(frozen=True)
class LayerNotation:
    """A course's names around a layer."""

    name: str
    source: str
    output: str          #: the name of a layer's (single) output; its gradient is 'd' + output
    examples: str = "rows"

    def apply(self, layer):
        """``layer`` with its output named as the course names it (re-read by the layer language)."""
        from ..layers import Layer
        if len(layer.outputs) != 1 or layer.outputs[0] == self.output:
            return layer
        old = layer.outputs[0]
        if self.output in layer.arrays or f"d{self.output}" in layer.arrays:
            raise LayerSpecError(f"the layer {layer.name} already has an array named {self.output!r}; the "
                                 f"{self.name} notation names the output {self.output!r}")
        text = re.sub(rf"\b{re.escape(old)}\b", self.output, layer.text)
        return Layer.parse(text, layer.name, layer.description)


CS231N = LayerNotation("cs231n", "Stanford CS231n assignments, cs231n/layers.py", output="out")

LAYER_NOTATIONS: Mapping[str, LayerNotation] = MappingProxyType({CS231N.name: CS231N})


def layer_notation(spec) -> LayerNotation:
    if isinstance(spec, LayerNotation):
        return spec
    if spec in LAYER_NOTATIONS:
        return LAYER_NOTATIONS[spec]
    raise UnknownNameError("layer notation", str(spec), LAYER_NOTATIONS)

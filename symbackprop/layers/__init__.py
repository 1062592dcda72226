"""Layers written in index notation: the language, the built-in records and the derivation of
their backward pass (see docs/layer-language.md)."""
from ._layer import Array, Definition, Layer
from .records import LAYERS, LayerRecord, layer_record
from ._window_records import window_record

__all__ = ["Array", "Definition", "LAYERS", "Layer", "LayerRecord", "layer_record", "window_record", "derive_layer",
           "LayerDerivation"]


def __getattr__(name):
    if name in ("derive_layer", "LayerDerivation"):
        from . import _derive
        return getattr(_derive, name)
    raise AttributeError(name)

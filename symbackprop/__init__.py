"""symbackprop: backpropagation derived by SymPy, rendered in your textbook's notation,
checked against your hand-derived formulas, and exported as fast NumPy code.

>>> import symbackprop as sb
>>> d = sb.derive(sb.Network((400, 25, 10), hidden="sigmoid", output="sigmoid", loss="cross-entropy"))
>>> d.output_delta.unit
a - y
"""
from .catalogue import ACTIVATIONS, LOSSES, Activation, Loss
from .derivation import Assumption, Derivation, Quantity, Rule, Step
from .engine import derive
from .errors import (ExportError, LayerSpecError, NetworkSpecError, NotDifferentiableError, ParseError, ShapeError,
                     SymbackpropError, UnknownNameError)
from .layers import LAYERS, Layer
from .network import Network
from ._notebook import register as _register_notebook_display

__version__ = "0.1.0"

_register_notebook_display()   # a Derivation typesets itself in a notebook (no renderer imported until shown)

# The renderers, the checker and the exporter are imported on first use: deriving needs only SymPy.
_LAZY = {
    "render": ("symbackprop.rendering", "render"),
    "compare": ("symbackprop.rendering", "compare"),
    "check": ("symbackprop.checker", "check"),
    "Verdict": ("symbackprop.checker", "Verdict"),
    "compile": ("symbackprop.export", "compile"),
    "export_module": ("symbackprop.export", "export_module"),
    "gradcheck": ("symbackprop.export", "gradcheck"),
    "derive_layer": ("symbackprop.layers", "derive_layer"),
    "LayerDerivation": ("symbackprop.layers", "LayerDerivation"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value     # resolved once; later look-ups are plain attribute reads
        return value
    raise AttributeError(f"module 'symbackprop' has no attribute {name!r}")


__all__ = ["ACTIVATIONS", "LAYERS", "LOSSES", "Activation", "Assumption", "Derivation", "ExportError", "Layer",
           "LayerSpecError", "Loss", "Network",
           "NetworkSpecError", "NotDifferentiableError", "ParseError", "Quantity", "Rule", "ShapeError",
           "Step", "SymbackpropError", "UnknownNameError", "derive", *_LAZY]

"""Why a formula does not fit, as exceptions the checker turns into verdicts.

A :class:`~symbackprop.errors.ParseError` means the text could not be understood (exit code 2);
the errors here mean it was understood and does not fit the network: factors whose shapes do not
multiply, a layer that does not exist, or an operator whose meaning the shapes leave open.
"""
from __future__ import annotations

from ..errors import ShapeError, SymbackpropError


class FormulaShapeError(ShapeError):
    """Factors of a product or terms of a sum whose shapes do not fit; the message names them."""


class LayerRangeError(SymbackpropError, ValueError):
    """A layer index that names no layer of the network (δ^{L+1}, W of the input layer, ...)."""


class AmbiguousProductError(SymbackpropError, ValueError):
    """``*`` or juxtaposition between factors for which both the matrix and the elementwise product fit."""

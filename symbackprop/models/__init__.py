"""Models: built-in layers in sequence, with residual branches, ending in a loss (see docs/models.md).

A model is composed into one :class:`~symbackprop.layers.Layer` and derived, rendered and exported
as a layer is; a :class:`~symbackprop.network.Network` (an MLP) is the model
``affine(n2) > act > affine(n3) > ... > act``.
"""
from ._model import LOSSES, Model, build_model, default_loss
from ._syntax import parse_model

__all__ = ["LOSSES", "Model", "build_model", "default_loss", "derive_model", "parse_model"]


def derive_model(model):
    """The :class:`~symbackprop.layers.LayerDerivation` of a :class:`Model`'s composed layer."""
    from ..layers import derive_layer
    return derive_layer(model.layer)

"""The catalogue of activations and losses, and the lookup that turns a name or an expression into a record."""
from ._records import Activation, Loss
from .activations import ACTIVATIONS
from .losses import LOSSES
from .lookup import activation, loss

__all__ = ["Activation", "Loss", "ACTIVATIONS", "LOSSES", "activation", "loss"]

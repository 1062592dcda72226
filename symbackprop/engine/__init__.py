"""The derivation engine: builds the cost symbolically and differentiates it. See :func:`derive`."""
from ._proof import proofs_deferred
from .derive import derive

__all__ = ["derive", "proofs_deferred"]

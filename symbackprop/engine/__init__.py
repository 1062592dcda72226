"""The derivation engine: builds the cost symbolically and differentiates it. See :func:`derive`."""
from .derive import derive

__all__ = ["derive"]

"""The formula checker: is a hand-derived backpropagation formula what the engine derives?

:func:`check` reads ``LHS = RHS`` (LaTeX or plain text) in a textbook notation, builds both sides
as SymPy expressions in the canonical convention, decides by a symbolic proof or by evaluation at
random sizes and values, and when the formula is wrong names the nearby correct formula it equals.
It never stores an answer: the right side is always what :func:`symbackprop.derive` derived.
:func:`check_layer` does the same for a gradient of a layer (``check --layer``), against
:func:`symbackprop.layers.derive_layer`.
"""
from ._api import check
from ._layer_check import check_layer
from ._conventions import CONVENTIONS, DEFAULT
from ._verdict import Verdict

NOTATIONS = tuple(c.name for c in CONVENTIONS)

__all__ = ["check", "check_layer", "Verdict", "NOTATIONS", "DEFAULT"]

"""The letter a page writes for an activation function.

A notation's letter is either generic -- Ng's DLS g^[l], Goodfellow's f, Bishop's h stand for whatever
activation a layer has -- or the name of one function: Nielsen's σ and Ng's ex4 g are the sigmoid. A
page keeps a generic letter, and writes the sigmoid's letter only over a sigmoid: over a relu layer it
writes the activation's own name (ReLU(z^l), ReLU'(z^l)), never σ. This module owns that choice; the
forward-pass sentence, the conclusion and the notes ask it.
"""
from __future__ import annotations

import re
from typing import Optional

from .notations import Glyph, Notation

_OPERATOR = re.compile(r"^\\operatorname\{([^{}]+)\}$")
_GREEK_TEXT = {r"\sigma": "σ"}


def own_glyph(activation) -> Glyph:
    """How an activation record writes itself: σ, tanh, ReLU, softmax; g for one given as an expression."""
    latex = activation.latex
    operator = _OPERATOR.match(latex)
    text = operator.group(1) if operator else _GREEK_TEXT.get(latex, latex.lstrip("\\"))
    return Glyph(latex, text)


def activation_glyph(notation: Notation, activation) -> Glyph:
    """The letter of ``activation`` in ``notation``: the notation's own letter where it stands for any
    activation or for this one, the activation's own name otherwise (and the letter with no activation)."""
    if activation is None or notation.function_means is None or activation.name == notation.function_means:
        return notation.function
    return own_glyph(activation)


def layers_glyph(notation: Notation, activations) -> Optional[Glyph]:
    """One letter for several layers' activations, or None when they need different letters."""
    glyphs = {activation_glyph(notation, activation) for activation in activations}
    if not glyphs:
        return notation.function
    return glyphs.pop() if len(glyphs) == 1 else None

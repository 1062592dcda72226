"""A recurrent layer in a course's letters, for its derivation: ng-dls writes the rnn's state a⟨t⟩ and its
weights W_ax, W_aa, b_a (the Deep Learning Specialization), and the lstm's update gate as its notebook's code
does, i (it, Wi, bi; the lectures' Γ_u); cs231n keeps the records' own h, Wx, Wh, b.

The letters are a renaming of the layer's text, re-read by the layer language and derived again, so every
step is in the course's names (da_prev, dW_aa) and nothing is rewritten after the derivation.
"""
from __future__ import annotations

import re

from ..errors import UnknownNameError

#: notation -> layer name -> {the record's name: the course's}
LETTERS = {
    "ng-dls": {"rnn": {"h0": "a0", "h": "a", "Wx": "W_ax", "Wh": "W_aa", "b": "b_a"},
               "lstm": {"h0": "a0", "h": "a", "u": "i", "zu": "zi", "bu": "bi", "Wux": "Wix", "Wuh": "Wih"},
               "gru": {"h0": "a0", "h": "a"}},
    "cs231n": {},
}


def in_letters(layer, notation):
    """``layer`` (a RecurrentLayer) with its arrays named as ``notation`` names them."""
    if notation is None:
        return layer
    if notation not in LETTERS:
        raise UnknownNameError("recurrent layer notation", str(notation), LETTERS)
    names = LETTERS[notation].get(layer.name, {})
    if not names:
        return layer
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")\b")
    text = "\n".join(pattern.sub(lambda m: names[m.group(1)], line.split("#", 1)[0]) for line in layer.text.splitlines())
    from ..layers import Layer
    return Layer.parse(text, layer.name, layer.description)

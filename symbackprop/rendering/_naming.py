"""What a canonical symbol is called in a notation: the letter, the layer label and the indices.

This module owns the translation of names, shared by the LaTeX and the text printer, which only
differ in how they decorate a letter. It reads :mod:`.notations` records and the symbols of
:mod:`symbackprop.symbols`; it never touches the mathematics.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import sympy as sp

from .. import symbols as S
from .notations import Glyph, Notation

#: canonical unit indices and generic layers, by name (printers rename them through the notation)
#: every row of a matrix (Octave's ':'), as in column 0 of the weights, Theta_{:,0}
COLUMN = sp.Symbol(":")
#: Ng's accumulated gradient Δ^(l) and its average D^(l): matrices shaped (and numbered) like the weights
ACCUMULATORS = {"acc": Glyph(r"\Delta", "Δ"), "D": Glyph("D", "D")}
WEIGHT_SHAPED = ("W", "acc", "D")
INDEX_SYMBOLS = {S.i: "i", S.j: "j", S.k: "k", S.p: "p", sp.Symbol("q", integer=True): "q", S.x_index: "x"}
LAYER_SYMBOLS = {S.l: "l", S.L: "L"}


class Name(NamedTuple):
    """A decorated letter: ``letter^{layer}_{indices}`` (layer None: no layer index is written).

    ``example`` is the index of a training example (a^{(l)(x)}), ``batch`` marks a matrix with
    one column per example, ``accent`` a modified matrix ('tilde': the weights without the bias
    column, which the L2 term skips).
    """

    letter: Glyph
    layer: Optional[str]
    indices: tuple
    example: object = None
    batch: bool = False
    accent: str = ""


class Namer:
    """Names the canonical symbols of one derivation in one notation.

    ``depth`` is the number of layers of the network (canonical L), so that a concrete output
    layer can take the notation's output letter (Bishop's y) and the batch layout is known.
    """

    def __init__(self, notation: Notation, depth: Optional[int] = None):
        self.notation = notation
        self.depth = depth

    # --- layers -----------------------------------------------------------------------------
    def layer_label(self, layer, weight: bool = False, force: bool = False) -> Optional[str]:
        """The printed layer of ``layer`` (an integer or an expression in l and L), e.g. '(l-1)' -> 'l-1'.

        Returns None when the notation writes no layer index, unless ``force`` (matrix forms).
        """
        if not (self.notation.has_layer_index or force):
            return None
        return _compact(self.layer_expr(layer, weight))

    def layer_expr(self, layer, weight: bool = False) -> sp.Expr:
        """The printed layer as an expression over plain symbols (renamed l and L)."""
        layer = sp.sympify(layer, strict=True)
        shift = self.notation.weight_offset if weight else 0
        if layer.is_Integer:
            return layer + self.notation.layer_offset + shift
        renamed = layer.xreplace({sym: sp.Symbol(self.notation.layer_name(name))
                                  for sym, name in LAYER_SYMBOLS.items()})
        return renamed + shift

    def is_output(self, layer) -> bool:
        layer = sp.sympify(layer, strict=True)
        return layer == S.L or (self.depth is not None and layer == self.depth)

    # --- letters ----------------------------------------------------------------------------
    def unit_letter(self, role: str, layer=None) -> Glyph:
        """The letter of a per-unit role ('a', 'z', 'y', 'delta', 'b', 'e', 'W', 'n')."""
        n = self.notation
        if role == "a":
            if n.output_activation is not None and layer is not None and self.is_output(layer):
                return n.output_activation
            return n.activation
        letters = {"z": n.preactivation, "y": n.target, "delta": n.error, "b": n.bias,
                   "W": n.weight, "n": n.size, "e": Glyph("e", "e"), **ACCUMULATORS}
        if role not in letters:
            raise KeyError(role)
        return letters[role]

    def indexed(self, expr: sp.Indexed) -> Name:
        """The name of a layer-indexed scalar such as ``a[l, i]``, ``W[l, i, j]``, ``y[i]``, ``n[l]``,
        or, with a last index over the examples of a batch, ``a[l, j, x]``."""
        role = str(expr.base.label)
        args = expr.indices
        if role == "y":
            return Name(self.unit_letter("y"), None, tuple(args[:1]), example=_second(args))
        if role == "n":
            return Name(self.unit_letter("n"), self.layer_label(args[0]), ())
        layer, indices, example = args[0], tuple(args[1:]), None
        if role in ("a", "z", "delta", "e", "b") and len(indices) == 2:
            indices, example = indices[:1], indices[1]
        if role == "b" and self.notation.bias_place == "column":
            # no bias vector in this notation: b^l_i is column 0 of the weights into layer l
            return Name(self.notation.weight, self.layer_label(layer, weight=True), indices + (sp.Integer(0),), example)
        return Name(self.unit_letter(role, layer), self.layer_label(layer, weight=role in WEIGHT_SHAPED), indices, example)

    def array(self, expr: S.LayerArray) -> Name:
        """The name of a LayerArray (a vector or matrix of one layer). Matrix forms always carry a layer."""
        role, layer = expr.role, expr.layer
        if role == "y":
            return Name(self.unit_letter("y"), None, ())
        if role == "ones":
            return Name(Glyph(r"\mathbf{1}", "1"), None, ())
        base_role = role[len("grad_"):] if role.startswith("grad_") else role
        accent = ""
        if base_role == "W_reg":
            base_role, accent = "W", "tilde"
        if base_role == "b" and self.notation.bias_place == "column":
            # no bias vector in this notation: b^l is column 0 of the weights into layer l
            return Name(self.notation.weight, self.layer_label(layer, weight=True, force=True), (COLUMN, sp.Integer(0)))
        label = self.layer_label(layer, weight=base_role in WEIGHT_SHAPED, force=True)
        letter = self.unit_letter(base_role, layer)
        batch = is_batch_array(expr)
        if batch:
            letter = self.notation.batch_letter(letter)
        return Name(letter, label, (), batch=batch, accent=accent)


def is_batch_array(expr) -> bool:
    """A LayerArray of units with one column per example of the batch (n_l x m)."""
    return isinstance(expr, S.LayerArray) and expr.role in ("a", "z", "delta", "e", "y") and expr.shape[1] == S.m


def _second(args):
    return args[1] if len(args) > 1 else None


def _compact(expr: sp.Expr) -> str:
    """'l + 1' -> 'l+1': layer labels sit in superscripts, where spaces only widen them."""
    return sp.sstr(expr).replace(" ", "")


_BRACKETS = {"paren": ("(", ")"), "bracket": ("[", "]"), "plain": ("", ""), "none": ("(", ")")}


def superscript(notation: Notation, layer: Optional[str], example: Optional[str] = None) -> str:
    """The superscript that carries the layer and the example: '(l)', '[l](x)', 'x,l' (Nielsen's a^{x,l})."""
    if layer is None:
        return f"({example})" if example else ""
    left, right = _BRACKETS[notation.layer_style]
    if example and notation.layer_style == "plain":
        return f"{example},{layer}"
    return f"{left}{layer}{right}" + (f"({example})" if example else "")


_UNIT_LETTERS = {S.a: "a", S.y: "y", S.z: "z", S.e: "e", S.delta: "delta", S.W_unit: "W"}


def notation_symbol(printer, expr: sp.Symbol, form: str) -> Optional[str]:
    """How ``printer`` (text or LaTeX, ``form`` 'text' or 'latex') writes one of the engine's symbols
    in its notation; None for a symbol the engine does not own, which the printer writes itself."""
    if expr in printer._elementwise:
        return printer._elementwise[expr]
    if expr in INDEX_SYMBOLS:
        return printer.notation.index_name(INDEX_SYMBOLS[expr])
    if expr in LAYER_SYMBOLS:
        return printer.notation.layer_name(LAYER_SYMBOLS[expr])
    if expr == S.C:
        return getattr(printer.notation.cost, form)
    if expr == S.J:
        return getattr(printer.notation.batch_cost, form)
    if expr in _UNIT_LETTERS:
        return getattr(printer.namer.unit_letter(_UNIT_LETTERS[expr]), form)
    if expr == S.a_prev:
        return printer.decorate(Name(printer.namer.unit_letter("a"), printer.namer.layer_label(S.l - 1), ()))
    return None

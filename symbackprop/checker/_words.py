"""The checker's sentences in the user's notation: letters, layer numbering and orientation.

Every message names quantities the way the notation the user chose writes them (ng-ml's Θ^(l) and
s_l, ng-dls's dz^[l] and layers from 0, Goodfellow's g^(k) and h^(k), Bishop's a for the
pre-activation). The letters come from the printers of :mod:`symbackprop.rendering` -- the same ones
that print ``derive`` -- so the checker and the derivation never disagree on how a thing is written.
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ..rendering._text_printer import text as _text
from ..rendering.notations import BY_NAME as NOTATIONS


class Words:
    """How one notation writes the checker's quantities, for a network of ``depth`` layers."""

    def __init__(self, convention, depth: int, l2: bool = True):
        self.convention, self.l2 = convention, l2
        self.notation = NOTATIONS[convention.name]
        self.depth = depth

    # --- expressions and arrays ------------------------------------------------------------------
    def text(self, expr) -> str:
        """A SymPy expression (matrix expressions over LayerArray, sizes) in the notation's letters."""
        try:
            return _text(expr, notation=self.notation.name, depth=self.depth)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):  # pragma: no cover - a printer gap
            return "this expression"

    def text_alone(self, symbol) -> str:
        """One array of a sample, with its layer as a number (a^3, Θ^(1)): one example's vector for a batch."""
        if symbol.role in ("W", "W_reg", "b"):
            shown = symbol
        else:
            shown = S.LayerArray(symbol.role, S.width[symbol.layer], 1, symbol.layer)
        try:
            return _text(shown, notation=self.notation.name, depth=None)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):  # pragma: no cover
            return str(symbol.name)

    def vector(self, role: str, layer) -> str:
        return self.text(S.vector(role, layer))

    def weight(self, layer) -> str:
        """The weight matrix into canonical ``layer`` (Θ^(layer-1) in ng-ml)."""
        return self.text(S.LayerArray("W", S.width[layer], S.width[layer - 1], layer))

    def bias(self, layer) -> str:
        return self.text(S.LayerArray("b", S.width[layer], 1, layer))

    def derivative(self, layer) -> str:
        """g'(z^l) in the notation: σ'(z^l), g'(z^(l)), f'(a^(k)), h'(a)."""
        return f"{self.notation.function.text}'({self.vector('z', layer)})"

    def back_propagated(self, layer) -> str:
        """(W^{l+1})^T δ^{l+1} in the notation."""
        weight = self.weight(layer + 1)
        transposed = f"{weight}ᵀ" if self.notation.transpose_merged else f"({weight})^T"
        return f"{transposed} {self.vector('delta', layer + 1)}"

    def cost(self, mode: str) -> str:
        return self.notation.batch_cost.text if mode in ("mean", "mean0") else self.notation.cost.text

    def gradient(self, quantity: str, layer, mode: str = "example") -> str:
        """∂C/∂W^l in the notation: ∂J/∂Θ^(l-1), dW^[l], ∇_{W^(k)} J, ∂E_n/∂w."""
        what = self.weight(layer) if quantity == "weight_gradient" else self.bias(layer)
        if self.notation.gradient_style == "d":
            return f"d{what}"
        if self.notation.gradient_style == "nabla":
            return f"∇_{{{what}}} {self.cost(mode)}"
        return f"∂{self.cost(mode)}/∂{what}"

    def size(self, expr) -> str:
        """A size (s_2 + 1, n^[1], m) in the notation, parenthesised when it is a sum."""
        printed = self.text(sp.sympify(expr, strict=True))
        return f"({printed})" if isinstance(expr, sp.Add) else printed

    def shape(self, matrix) -> str:
        return f"{self.size(matrix.shape[0])}×{self.size(matrix.shape[1])}"

    # --- layers ----------------------------------------------------------------------------------
    def layer(self, canonical) -> str:
        """A canonical layer (a number or an expression in l and L) as the notation numbers it."""
        canonical = sp.sympify(canonical, strict=True)
        if canonical.is_Integer:
            return str(int(canonical) + self.notation.layer_offset)
        renamed = canonical.xreplace({S.l: sp.Symbol(self.notation.layer_name("l")),
                                      S.L: sp.Symbol(self.notation.layer_name("L"))})
        return str(renamed).replace(" ", "")

    def layer_value(self, canonical: int) -> int:
        return int(canonical) + self.notation.layer_offset

    def numbering(self) -> str:
        """How the notation counts layers, for messages about a layer that does not exist."""
        first = 1 + self.notation.layer_offset
        return f"layers numbered {first}..{self.depth + self.notation.layer_offset}, the input is layer {first}"

    def size_name(self, canonical_layer: int) -> str:
        """The width of a layer (n^1, s_1, n^[0]) for counterexamples."""
        return self.text(S.width[canonical_layer]) if self.notation.layer_style != "none" else \
            f"n^({self.layer_value(canonical_layer)})"

    # --- quantities --------------------------------------------------------------------------------
    def describe(self, target) -> str:
        """The quantity a left-hand side names, in words and the notation's letters."""
        layer = target.layer
        quantity = target.quantity
        where = self.layer(layer)
        if quantity == "delta" or quantity in ("output_delta", "hidden_delta"):
            output = quantity == "output_delta" or (quantity == "delta" and layer == S.L) or \
                (sp.sympify(layer, strict=True).is_Integer and int(layer) == self.depth)
            kind = "the error of the output layer" if output else f"the error of hidden layer {where}"
            what = f"{self.vector('delta', layer)}, {kind}"
        elif quantity in ("weight_gradient", "bias_gradient"):
            name = self.gradient(quantity, layer, target.mode)
            part = f"the weights {self.weight(layer)}" if quantity == "weight_gradient" else \
                f"the biases {self.bias(layer)}"
            what = f"{name}, the gradient of {part}"
        elif quantity == "loss_gradient":
            what = f"∂{self.notation.cost.text}/∂{self.vector('a', S.L)}, the derivative of the loss by the output"
        elif quantity in ("backprop", "activation_gradient"):
            what = (f"∂{self.notation.cost.text}/∂{self.vector('a', layer)} = {self.back_propagated(layer)}, the "
                    f"error sent back to layer {where}")
        else:
            what = quantity
        mode = {"mean": ", averaged over the m examples of a batch" +
                        (" with the L2 term" if quantity == "weight_gradient" and self.l2
                         and getattr(target, "column", None) != 0 else ""),
                "mean0": ", averaged over the m examples, without the L2 term",
                "sum": ", summed over the examples (Ng's Δ)",
                "example+reg": ", of one example" + (" plus the L2 term λΩ" if self.l2 else "")}.get(target.mode, "")
        batch = ""
        if target.batch:
            batch = ", one row per example" if target.rows else ", one column per example"
        form = f" (index form, indices {', '.join(map(str, target.indices))})" if target.indices else ""
        if getattr(target, "column", None) is not None:
            form = f", its column {target.column}{' (the bias column)' if target.column == 0 else ''}"
        return f"{what}{mode}{batch}{form}"

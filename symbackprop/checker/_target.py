"""Reading the left-hand side of a formula: which quantity it names, at which layer, in which form.

The left-hand side names a quantity (:class:`Target`): δ^L, δ^l, ∂C/∂W^l, ∂C/∂b^l, Ng's Δ^(l)
and D^(l), the Deep Learning Specialization's dZ, dW, db, dA, Goodfellow's ∇ forms, Bishop's
δ_k and δ_j. Layers are read generically here (``l``, ``L``, ``l+1``) in the canonical numbering
of :mod:`symbackprop.symbols`; :mod:`._conventions` says how each notation counts them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import sympy as sp

from .. import symbols as S
from ..errors import ParseError
from ..grammar import Formula
from ..grammar import _ast as A
from ..grammar._to_sympy import number
from . import _conventions as C
from ._syntax import derivative_parts, example_layer, script_parts, split_sup, strip_groups, text_of

#: Placeholder array for ∂C/∂a^L, the derivative of the loss, which the engine states as a step.
LOSS_GRADIENT = "dC_da"


@dataclass(frozen=True)
class Target:
    """The quantity a left-hand side names, in the canonical convention.

    ``quantity``: 'output_delta', 'hidden_delta', 'delta' (layer not yet known to be L),
    'weight_gradient', 'bias_gradient', 'loss_gradient' (∂C/∂a^L) or 'backprop' (∂C/∂a^l, hidden).
    ``mode``: 'example' (one example), 'mean' (average over m examples, plus (λ/m)W for weights),
    'sum' (Ng's Δ: summed over the examples, no λ), 'example+reg' (Goodfellow's J = L + λΩ).
    """

    quantity: str
    layer: sp.Expr                       #: canonical layer, generic (l, L, l+1) or a number
    mode: str = "example"
    batch: bool = False                  #: arrays with one column per example (dZ, dA)
    indices: tuple = ()                  #: free unit indices of an index form, row first
    written: str = ""                    #: the left-hand side as typed
    bishop_row: Optional[str] = None     #: Bishop: the index letter of the quantity's own layer
    rows: bool = False                   #: a batch stacked one example per ROW (ex4's d2, a1)
    column: Optional[sp.Integer] = None  #: a column slice X_{:,j}: the column with index j (Ng's j = 0: the bias)

    def resolved(self, layer: int, depth: int) -> "Target":
        quantity = self.quantity
        if quantity == "delta":
            quantity = "output_delta" if layer == depth else "hidden_delta"
        if quantity == "activation_gradient":
            quantity = "loss_gradient" if layer == depth else "backprop"
        return dataclasses.replace(self, quantity=quantity, layer=sp.Integer(layer))

    def describe(self) -> str:
        """The quantity in words, in the canonical convention (W^l maps layer l-1 to layer l)."""
        layer = self.layer
        up = _sup(layer)
        above = _sup(layer + 1)
        if self.quantity == "delta":
            where = ("the output layer" if layer == S.L else "the hidden layer" if S.l in layer.free_symbols
                     else f"layer {layer}")
            what = f"δ^{up}, the error of {where}"
        else:
            what = {
                "output_delta": f"δ^{up}, the error of the output layer",
                "hidden_delta": f"δ^{up}, the error of hidden layer {layer}",
                "weight_gradient": f"∂C/∂W^{up}, the gradient of the weight matrix into layer {layer}",
                "bias_gradient": f"∂C/∂b^{up}, the gradient of the biases of layer {layer}",
                "loss_gradient": "∂C/∂a^L, the derivative of the loss by the output activation",
                "backprop": f"∂C/∂a^{up} = (W^{above})^T δ^{above}, the error sent back to layer {layer}",
                "activation_gradient": f"∂C/∂a^{up}, the cost's derivative by the activation of layer {layer}",
            }.get(self.quantity, self.quantity)
        mode = {"mean": ", averaged over the m examples of a batch", "sum": ", summed over the examples (Ng's Δ)",
                "example+reg": ", of one example plus the L2 term λΩ"}.get(self.mode, "")
        batch = ", one column per example" if self.batch else ""
        form = f" (index form, indices {', '.join(map(str, self.indices))})" if self.indices else ""
        if self.column is not None:
            form = f", column {self.column}{' (the bias column)' if self.column == 0 else ''}"
        return f"{what}{mode}{batch}{form}"


def _sup(layer) -> str:
    text = str(layer).replace(" ", "")
    return text if len(text) == 1 else "{" + text + "}"


class FormulaReader:
    """Reads one formula in one convention against one network."""

    def __init__(self, formula: Formula, convention: C.Convention, network):
        self.formula, self.convention, self.network = formula, convention, network
        self.text = formula.text

    # --- errors ---------------------------------------------------------------------------------
    def error(self, message: str, node: A.Node) -> ParseError:
        return ParseError(message, self.text, node.column)

    # --- the left-hand side -----------------------------------------------------------------------
    def target(self) -> Target:
        lhs = strip_groups(self.formula.lhs)
        written = self.text[: self.formula.equals_column].strip()
        if isinstance(lhs, A.Index):
            return self.column_target(lhs, written)
        return self.named_target(lhs, written)

    def column_target(self, lhs: A.Index, written: str) -> Target:
        """Octave's ``Theta1_grad(:, 1)`` (1-based): one column of a weight gradient, read as the LaTeX
        ∂J/∂Θ^(l)_{:,j} with j = k - 1 (Ng's column 1 is the bias column j = 0)."""
        items, stack = [], [lhs.indices]
        while stack:
            item = stack.pop()
            if isinstance(item, A.Binary) and item.op == ",":
                stack += [item.right, item.left]
            else:
                items.append(strip_groups(item))
        column = items[1] if len(items) == 2 else None
        if not (isinstance(items[0], A.Name) and items[0].name == ":" and isinstance(column, A.Number)
                and column.text.isdigit() and int(column.text) >= 1):
            raise self.error(f"cannot read the index in {written!r} on the left-hand side: one whole column of "
                             f"a weight gradient is read, e.g. Theta1_grad(:, 1) (the bias column)", lhs)
        base = self.named_target(strip_groups(lhs.base), written)
        if base.quantity != "weight_gradient" or base.indices:
            raise self.error(f"{written!r}: only a column of a weight gradient (Theta1_grad, D, Delta) is "
                             f"read on the left-hand side", lhs)
        return dataclasses.replace(base, indices=(sp.Symbol(":", integer=True), sp.Integer(int(column.text) - 1)))

    def named_target(self, lhs: A.Node, written: str) -> Target:
        conv = self.convention
        if isinstance(lhs, A.Nabla) and lhs.operand is None and lhs.sup is not None:
            # \nabla^{(l)}_{ij}: the gradient of the weight matrix the layer index names, one example
            layer_node, _ = split_sup(lhs.sup.sup, lhs.sup.sup_style)
            indices = self.indices(lhs.sub) if lhs.sub is not None else ()
            return Target("weight_gradient", self.weight_layer(layer_node, lhs), "example", False, indices, written)
        derivative = derivative_parts(lhs)
        if derivative is not None:
            cost, wrt = derivative
            mode = self.cost_mode(cost)
            return self.derivative_target(wrt, mode, written, lhs)
        name, sub, sup, style = script_parts(lhs)
        if name is None:
            raise self.unrecognised(lhs)
        layer_node, transpose = split_sup(sup, style)
        if transpose:
            raise self.error("the left-hand side is transposed; write the quantity itself", lhs)
        indices = self.indices(sub) if sub is not None else ()
        role = conv.letters.get(name)
        batch_role = conv.batch_letters.get(name)
        if conv.name == "ng-ml" and name == "Delta":
            return Target("weight_gradient", self.weight_layer(layer_node, lhs), "sum", False, indices, written)
        if conv.name == "ng-ml" and name == "D":
            return Target("weight_gradient", self.weight_layer(layer_node, lhs), "mean", False, indices, written)
        if conv.name == "ng-dls" and name in ("dW", "dw", "db", "dA", "da"):
            quantity = {"dW": "weight_gradient", "dw": "weight_gradient", "db": "bias_gradient"}.get(
                name, "activation_gradient")
            layer = self.layer(layer_node, lhs, role="W" if name in ("dW", "dw") else "a")
            return Target(quantity, layer, "pending", name == "dA", indices, written)
        if batch_role == C.DELTA and conv.batch_rows:      # ng-ml's d^(l): one example per row
            return Target("delta", self.layer(layer_node, lhs, role="delta"), "example", True, indices, written,
                          rows=True)
        if role == C.DELTA or batch_role == C.DELTA or (conv.name == "goodfellow" and name == "g"):
            if conv.index_layers and layer_node is None:
                if not indices:
                    raise self.error("Bishop writes no layer index: give the unit, e.g. \\delta_j or \\delta_k", lhs)
                letter = str(indices[0])
                layer = S.L if letter == "k" else S.l
                return Target("delta", layer, "example", False, indices, written, bishop_row=letter)
            layer = self.layer(layer_node, lhs, role="delta")
            return Target("delta", layer, "example", batch_role == C.DELTA, indices, written)
        raise self.unrecognised(lhs)

    def unrecognised(self, node: A.Node) -> ParseError:
        examples = {
            "nielsen": "\\delta^L, \\delta^l, \\frac{\\partial C}{\\partial w^l_{jk}}, \\frac{\\partial C}{\\partial b^l_j}",
            "ng-ml": "\\delta^{(L)}, \\delta^{(l)}, \\Delta^{(l)}, D^{(l)}, \\frac{\\partial J}{\\partial \\Theta^{(l)}}",
            "ng-dls": "dZ^{[l]}, dz^{[l]}, dW^{[l]}, db^{[l]}, dA^{[l-1]}",
            "goodfellow": "\\nabla_{a^{(k)}} J, \\nabla_{W^{(k)}} J, \\nabla_{b^{(k)}} J",
            "bishop": "\\delta_k, \\delta_j, \\frac{\\partial E_n}{\\partial w_{ji}}",
        }[self.convention.name]
        return self.error(f"the left-hand side {text_of(node)!r} names no quantity of the "
                          f"{self.convention.name} notation; recognised: {examples}", node)

    def cost_mode(self, cost: A.Node) -> str:
        name, sub, sup, _ = script_parts(strip_groups(cost))
        modes = self.convention.cost_letters
        if name == "C" and self.convention.name == "nielsen":
            # chapter 3: C = C_0 + (λ/2n) Σ w² is the regularised mean cost, C_0 the unregularised one
            if isinstance(sub, A.Number) and sub.text == "0":
                return "mean0"
            if self._mentions_c0():
                return "mean"
        if name == "E" and self.convention.name == "bishop":
            return "example" if sub is not None else "mean"     # E_n one example; E the batch, as derive prints it
        if name in modes:
            return modes[name]
        accepted = ", ".join(modes)
        raise self.error(f"{text_of(cost)!r} is not a cost of the {self.convention.name} notation; "
                         f"accepted: {accepted}", cost)

    def _mentions_c0(self) -> bool:
        for node in A.walk(self.formula.rhs):
            if isinstance(node, A.Script) and isinstance(node.base, A.Name) and node.base.name == "C" \
                    and isinstance(node.sub, A.Number) and node.sub.text == "0":
                return True
        return False

    def derivative_target(self, wrt: A.Node, mode: str, written: str, lhs: A.Node) -> Target:
        name, sub, sup, style = script_parts(strip_groups(wrt))
        if name is None:
            raise self.error(f"cannot read what {text_of(wrt)!r} differentiates with respect to", wrt)
        layer_node, _ = split_sup(sup, style)
        indices = self.indices(sub) if sub is not None else ()
        role = self.convention.letters.get(name)
        bishop_row = str(indices[0]) if self.convention.index_layers and indices and layer_node is None else None
        if role == C.WEIGHT:
            if bishop_row:
                layer = S.L if bishop_row == "k" else S.l
            else:
                layer = self.weight_layer(layer_node, wrt)
            return Target("weight_gradient", layer, mode, False, indices, written, bishop_row)
        if role == C.BIAS:
            layer = (S.L if bishop_row == "k" else S.l) if bishop_row else self.layer(layer_node, wrt, role="b")
            return Target("bias_gradient", layer, mode, False, indices, written, bishop_row)
        if role == C.PREACTIVATION:
            layer = (S.L if bishop_row == "k" else S.l) if bishop_row else self.layer(layer_node, wrt, role="z")
            return Target("delta", layer, mode if mode != "example+reg" else "example", False, indices, written,
                          bishop_row)
        if role in (C.ACTIVATION, C.OUTPUT):
            if role == C.OUTPUT or layer_node is None:
                return Target("loss_gradient", S.L, "example", False, indices, written)
            return Target("activation_gradient", self.layer(layer_node, wrt, role="a"), "example", False,
                          indices, written)
        raise self.unrecognised(lhs)

    # --- layers -------------------------------------------------------------------------------------
    def layer(self, node: Optional[A.Node], where: A.Node, role: str) -> sp.Expr:
        """The canonical layer of a written layer index (generic on the left-hand side)."""
        if node is None:
            raise self.error(f"{text_of(where)!r} needs a layer index, e.g. "
                             f"{example_layer(self.convention)}", where)
        return self.layer_expression(node)

    def weight_layer(self, node, where) -> sp.Expr:
        return self.layer(node, where, role="W") + self.convention.weight_shift

    def layer_expression(self, node: A.Node) -> sp.Expr:
        node = strip_groups(node)
        has_letter = any(isinstance(n, A.Name) for n in A.walk(node))
        value = self._layer(node)
        if not has_letter:
            value = value + self.convention.number_shift
        return value

    def _layer(self, node: A.Node) -> sp.Expr:
        node = strip_groups(node)
        if isinstance(node, A.Number):
            value = number(node.text)
            if not value.is_Integer or abs(value) > 10000:
                raise self.error(f"layer index {node.text} is not a layer number", node)
            return value
        if isinstance(node, A.Name) and node.name in self.convention.layer_letters:
            return {"l": S.l, "L": S.L}[self.convention.layer_letters[node.name]]
        if isinstance(node, A.Binary) and node.op in "+-":
            left, right = self._layer(node.left), self._layer(node.right)
            return left + right if node.op == "+" else left - right
        if isinstance(node, A.Unary):
            value = self._layer(node.operand)
            return -value if node.op == "-" else value
        letters = ", ".join(self.convention.layer_letters)
        raise self.error(f"cannot read {text_of(node)!r} as a layer index; write a number or "
                         f"{letters} (plus or minus a number)", node)

    def indices(self, node: A.Node) -> tuple:
        """Unit indices of a subscript: ``kj`` -> (k, j); ``{k,j}`` -> (k, j); ``12`` -> (1, 2)."""
        node = strip_groups(node)
        if isinstance(node, A.Name):
            if node.command:
                raise self.error(f"cannot read \\{node.name} as a unit index", node)
            return tuple(sp.Integer(int(ch)) if ch.isdigit() else sp.Symbol(ch, integer=True) for ch in node.name)
        if isinstance(node, A.Number) and node.text.isdigit():
            return tuple(sp.Integer(int(ch)) for ch in node.text)
        if isinstance(node, A.Binary) and node.op in (",", "juxt"):
            return self.indices(node.left) + self.indices(node.right)
        raise self.error(f"cannot read {text_of(node)!r} as unit indices; write letters such as j or kj", node)



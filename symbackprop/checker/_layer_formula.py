r"""Evaluating a formula about a layer, written with the layer's own names, on labelled arrays.

The formula is parsed by the project's grammar (:func:`~symbackprop.grammar.parse_formula`) and walked here:
each value is a :class:`~._layer_values.Labelled` array whose axes carry size names, so that
``np.sum(dout, axis=0)`` (axis 0 of ``dout[N, D]``: the labels ``('D',)``), ``\sum_n dout`` (the axis
labelled N) and ``gamma[D]`` broadcast against ``x[N, D]`` by their labels. ``@`` and ``np.dot`` are the
matrix product; NumPy's ``*`` is elementwise; LaTeX juxtaposition is the matrix product where only that fits
and elementwise where only that fits. Shapes that do not fit raise :class:`FormulaShapeError`.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParseError
from ..grammar import _ast as A
from ._errors import FormulaShapeError
from ._layer_values import Labelled

#: LaTeX letters and other spellings -> the layer's names (CS231n's and the layer records')
_ALIASES = {"epsilon": "eps", "varepsilon": "eps", "xhat": "xhat", "muhat": "mu", "sigma2": "var"}
_UNARY = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "tanh": np.tanh, "abs": np.abs,
          "np.sqrt": np.sqrt, "np.exp": np.exp, "np.log": np.log, "np.tanh": np.tanh, "np.abs": np.abs}
#: the label of an axis of length 1 that ``keepdims=True`` kept
KEPT = "1"
#: function names the parser reads as calls in a layer formula
FUNCTIONS = ("np.sum", "np.mean", "np.sqrt", "np.exp", "np.log", "np.tanh", "np.abs", "np.dot", "np.matmul",
             "np.multiply", "np.transpose", "rowsum", "sum", "np.square", "conv", "pad", "rot180", "np.concatenate",
             "np.where")
_COMPARISONS = {">": np.greater, "<": np.less, ">=": np.greater_equal, "<=": np.less_equal}


class FormulaValues:
    """Evaluates parsed nodes against ``values`` (name -> Labelled or float)."""

    def __init__(self, text: str, values: dict, latex: bool):
        self.text, self.values, self.latex = text, values, latex

    def error(self, message: str, node: A.Node) -> ParseError:
        return ParseError(message, self.text, node.column)

    # -- names
    def name(self, node: A.Node, sup=None):
        name = node.name if isinstance(node, A.Name) else None
        name = _ALIASES.get(name, name)
        if sup is not None and name == "sigma" and isinstance(sup, A.Number) and sup.text == "2":
            return self.values["var"]        # σ² is the variance
        if name in self.values:
            value = self.values[name]
        elif name == "dout" and self._output_gradient() is not None:
            value = self.values[self._output_gradient()]        # CS231n's dout: the upstream gradient
        elif name in ("d", "d_k") and "D" in self.values:
            value = self.values["D"]         # the attention's width, √d
        elif name == "sigma" and "var" in self.values:
            value = Labelled(np.sqrt(self.values["var"].array + self.values.get("eps", 0.0)),
                             self.values["var"].labels)
        else:
            known = ", ".join(sorted(k for k in self.values if not k.startswith("_")))
            raise self.error(f"unknown name {name!r}; the names of this layer are: {known}", node)
        if sup is not None:
            return self.power(value, self.value(sup), node)
        return value

    def _output_gradient(self):
        return self.values.get("_upstream")

    # -- dispatch
    def value(self, node: A.Node):
        node = _attach_functions(node)
        if isinstance(node, A.Number):
            return float(node.text)
        if isinstance(node, A.Group):
            return self.value(node.inner)
        if isinstance(node, A.Name):
            return self.name(node)
        if isinstance(node, A.Script):
            if node.sub is not None:
                raise self.error(f"{node.base.name if isinstance(node.base, A.Name) else 'this'}: a subscript is not "
                                 f"read in a layer formula; write the whole array (or the index form dx[n, d] = ...)",
                                 node)
            if isinstance(node.sup, A.Name) and node.sup.name == "T":
                return self.transpose(self.value(node.base), node)
            return self.name(node.base, node.sup)
        if isinstance(node, A.Unary):
            operand = self.value(node.operand)
            return operand if node.op == "+" else _scaled(operand, -1.0)
        if isinstance(node, A.Sum):
            return self.summation(node)
        if isinstance(node, A.Call):
            return self.call(node)
        if isinstance(node, A.Binary):
            return self.binary(node)
        if isinstance(node, A.Slice):
            return self.slice(node)
        raise self.error("this part of the formula is not read in a layer formula", node)

    # -- side by side and sliced: an axis of two arrays' axes H and D joined is labelled 'H+D'
    def axis_length(self, label: str):
        """The length of an axis labelled ``label`` (a size name), or None."""
        value = self.values.get(label)
        return int(value) if isinstance(value, float) else None

    def concatenate(self, parts: list, axis: int, node):
        arrays = [part for part in parts if isinstance(part, Labelled)]
        if len(arrays) != len(parts) or len({len(p.labels) for p in arrays}) != 1 or \
                not -len(arrays[0].labels) <= axis < len(arrays[0].labels):
            raise FormulaShapeError(f"np.concatenate joins arrays of one rank along one of their axes: "
                                    f"{', '.join(self.describe(node, p) for p in parts)} along axis {axis}")
        position = axis % len(arrays[0].labels)
        others = {p.labels[:position] + p.labels[position + 1:] for p in arrays}
        if len(others) != 1:
            raise FormulaShapeError(f"shapes do not fit: np.concatenate along axis {axis} of arrays with the axes "
                                    f"{' and '.join('[' + ', '.join(p.labels) + ']' for p in arrays)}")
        label = "+".join(p.labels[position] for p in arrays)
        labels = arrays[0].labels[:position] + (label,) + arrays[0].labels[position + 1:]
        return Labelled(np.concatenate([p.array for p in arrays], axis=position), labels)

    def slice(self, node: A.Slice):
        value = self.value(node.base)
        if not isinstance(value, Labelled) or len(node.axes) != len(value.labels):
            raise FormulaShapeError(f"{self.describe(node.base, value)} is sliced on {len(node.axes)} axes")
        array, labels = value.array, list(value.labels)
        index = []
        for axis, (start, stop) in enumerate(node.axes):
            length = array.shape[axis]
            begin, end = (self._bound(start, 0, node), self._bound(stop, length, node))
            parts, lengths = labels[axis].split("+"), []
            for part in parts:
                lengths.append(self.axis_length(part))
            offsets = [0]
            for n in lengths:
                offsets.append(offsets[-1] + n if n is not None and offsets[-1] is not None else None)
            if begin in offsets and end in offsets and begin < end:
                labels[axis] = "+".join(parts[offsets.index(begin):offsets.index(end)])
            elif (begin, end) != (0, length):
                blocks = ", then ".join(f"{p} ({n} long)" for p, n in zip(parts, lengths))
                raise FormulaShapeError(f"{self.describe(node, value)}: the slice {begin}:{end} of the axis "
                                        f"{labels[axis]} is not a whole block of it ({blocks})")
            index.append(slice(begin, end))
        return Labelled(array[tuple(index)], tuple(labels))

    def _bound(self, node, default: int, where) -> int:
        if node is None:
            return default
        value = self.value(node)
        if isinstance(value, Labelled) or float(value) != int(value):
            raise self.error("a slice's bound is a whole number or a size, e.g. n_a", where)
        return int(value)

    def binary(self, node: A.Binary):
        op = node.op
        if op == "juxt" and isinstance(node.left, A.Name) and node.left.name in _UNARY:
            return self.apply(_UNARY[node.left.name], self.value(node.right))
        if op == "juxt" and isinstance(node.left, A.Binary) and node.left.op == "juxt" \
                and isinstance(node.left.right, A.Name) and node.left.right.name in _UNARY:
            # N \sqrt{...}: the function applies to the group after it
            inner = self.apply(_UNARY[node.left.right.name], self.value(node.right))
            return self.product(self.value(node.left.left), inner, node, matrix=None)
        if op == "^":
            if isinstance(node.right, A.Name) and node.right.name == "T":
                return self.transpose(self.value(node.left), node)
            return self.power(self.value(node.left), self.value(node.right), node)
        left, right = self.value(node.left), self.value(node.right)
        if op in ("+", "-"):
            return self.elementwise(left, right if op == "+" else _scaled(right, -1.0), np.add, node)
        if op in ("/", "./", "frac"):
            return self.elementwise(left, right, np.divide, node)
        if op in (".*",):
            return self.elementwise(left, right, np.multiply, node)
        if op == "@":
            return self.product(left, right, node, matrix=True)
        if op == "*" and not self.latex:
            return self.product(left, right, node, matrix=False)     # NumPy's '*' is elementwise
        if op in ("*", "juxt"):
            return self.product(left, right, node, matrix=None)
        if op in _COMPARISONS:             # relu's (x > 0): the indicator, 1.0 or 0.0 entry by entry
            return self.elementwise(left, right, lambda a, b: _COMPARISONS[op](a, b).astype(float), node)
        raise self.error(f"the operator {op!r} is not read in a layer formula", node)

    # -- operations on labelled arrays
    def elementwise(self, left, right, ufunc, node):
        if not isinstance(left, Labelled) and not isinstance(right, Labelled):
            return float(ufunc(left, right))
        if not isinstance(left, Labelled):
            return Labelled(ufunc(left, right.array), right.labels)
        if not isinstance(right, Labelled):
            return Labelled(ufunc(left.array, right), left.labels)
        if len(left.labels) == len(right.labels) and all(
                a == b or KEPT in (a, b) for a, b in zip(left.labels, right.labels)):
            # axis by axis, as NumPy broadcasts: also [N, N] (self-attention's scores) against a row sum
            # kept as [N, 1] by keepdims=True
            labels = tuple(b if a == KEPT else a for a, b in zip(left.labels, right.labels))
            return Labelled(ufunc(left.array, right.array), labels)
        left, right = _squeezed(left), _squeezed(right)
        small, large = (left, right) if len(left.labels) <= len(right.labels) else (right, left)
        if not set(small.labels) <= set(large.labels) or len(set(large.labels)) != len(large.labels) \
                or len(set(small.labels)) != len(small.labels):
            raise FormulaShapeError(f"shapes do not fit: {self.describe(node.left, left)} and "
                                    f"{self.describe(node.right, right)} cannot be combined elementwise")
        a, b = _aligned(left, large.labels), _aligned(right, large.labels)
        return Labelled(ufunc(a, b), large.labels)

    def product(self, left, right, node, matrix):
        if not isinstance(left, Labelled) or not isinstance(right, Labelled):
            return self.elementwise(left, right, np.multiply, node)
        if KEPT in left.labels + right.labels and not matrix:
            return self.elementwise(left, right, np.multiply, node)
        left, right = _squeezed(left), _squeezed(right)
        fits_matrix = len(left.labels) == 2 and len(right.labels) == 2 and left.labels[1] == right.labels[0]
        small, large = (left, right) if len(left.labels) <= len(right.labels) else (right, left)
        fits_elementwise = left.labels == right.labels or (
            set(small.labels) <= set(large.labels) and len(set(large.labels)) == len(large.labels)
            and len(set(small.labels)) == len(small.labels))
        if matrix is None:
            matrix = fits_matrix and not fits_elementwise
        if matrix:
            if not fits_matrix:
                hint = ""
                if len(left.labels) == 2 and len(right.labels) == 2 and left.labels[0] == right.labels[0]:
                    hint = f"; with the left factor transposed ({left.labels[1]}×{left.labels[0]}) it would fit"
                raise FormulaShapeError(f"shapes do not fit: cannot matrix-multiply {self.describe(node.left, left)} "
                                        f"and {self.describe(node.right, right)}{hint}")
            return Labelled(left.array @ right.array, (left.labels[0], right.labels[1]))
        return self.elementwise(left, right, np.multiply, node)

    def transpose(self, value, node):
        if not isinstance(value, Labelled) or len(value.labels) != 2:
            return value
        return Labelled(value.array.T, value.labels[::-1])

    def power(self, base, exponent, node):
        if isinstance(exponent, Labelled):
            raise self.error("an array as an exponent is not read", node)
        if isinstance(base, Labelled):
            return Labelled(base.array ** exponent, base.labels)
        return float(base ** exponent)

    def apply(self, function, value):
        if isinstance(value, Labelled):
            return Labelled(function(value.array), value.labels)
        return float(function(value))

    def reduce(self, value, axis: int, node, mean=False, keepdims=False):
        if not isinstance(value, Labelled):
            return value
        if not -len(value.labels) <= axis < len(value.labels):
            raise FormulaShapeError(f"axis {axis} is not an axis of {self.describe(node, value)}")
        reduced = value.array.mean(axis=axis, keepdims=keepdims) if mean else \
            value.array.sum(axis=axis, keepdims=keepdims)
        position = axis % len(value.labels)
        if keepdims:
            return Labelled(reduced, value.labels[:position] + (KEPT,) + value.labels[position + 1:])
        labels = value.labels[:position] + value.labels[position + 1:]
        return Labelled(reduced, labels) if labels else float(reduced)

    def summation(self, node: A.Sum):
        letter = node.index.name if isinstance(node.index, A.Name) else None
        if isinstance(node.index, A.Binary) and node.index.op == "=" and isinstance(node.index.left, A.Name):
            letter = node.index.left.name
        body = self.value(node.body)
        size = letter.upper() if letter else None
        if not isinstance(body, Labelled) or size not in body.labels:
            raise self.error(f"\\sum_{letter}: the index {letter} runs over {size}, which is no axis of the summand",
                             node)
        return self.reduce(body, body.labels.index(size), node)

    def call(self, node: A.Call):
        name = node.function.name if isinstance(node.function, A.Name) else None
        items = _arguments(node.argument)
        positional = [item for item in items if not (isinstance(item, A.Binary) and item.op == "kw")]
        keywords = {item.left.name: item.right for item in items if isinstance(item, A.Binary) and item.op == "kw"}
        if name in _UNARY and len(positional) == 1:
            return self.apply(_UNARY[name], self.value(positional[0]))
        if name in ("np.sum", "np.mean", "sum") and len(positional) == 1:
            value = self.value(positional[0])
            axis = keywords.get("axis")
            if axis is None:
                if isinstance(value, Labelled):
                    total = value.array.mean() if name == "np.mean" else value.array.sum()
                    return float(total)
                return value
            number = axis.operand if isinstance(axis, A.Unary) else axis
            if not isinstance(number, A.Number):
                raise self.error("write the axis as a number, e.g. axis=0", axis)
            index = int(number.text) * (-1 if isinstance(axis, A.Unary) and axis.op == "-" else 1)
            keep = keywords.get("keepdims")
            keepdims = isinstance(keep, A.Name) and keep.name == "True"
            return self.reduce(value, index, node, mean=name == "np.mean", keepdims=keepdims)
        if name == "rowsum" and len(positional) == 1:
            value = self.value(positional[0])
            return self.reduce(value, len(value.labels) - 1, node) if isinstance(value, Labelled) else value
        if name in ("np.dot", "np.matmul") and len(positional) == 2:
            pair = A.Binary(node.column, "@", positional[0], positional[1])     # its factors, for a shape message
            return self.product(self.value(positional[0]), self.value(positional[1]), pair, matrix=True)
        if name == "np.where" and len(positional) == 3 and not keywords:    # np.where(x > 0, dout, 0)
            test, yes, no = (self.value(item) for item in positional)
            kept = self.elementwise(test, yes, np.multiply, node)
            other = self.elementwise(self.elementwise(1.0, _scaled(test, -1.0), np.add, node), no, np.multiply, node)
            return self.elementwise(kept, other, np.add, node)
        if name == "np.multiply" and len(positional) == 2:
            return self.elementwise(self.value(positional[0]), self.value(positional[1]), np.multiply, node)
        if name == "np.square" and len(positional) == 1:
            return self.power(self.value(positional[0]), 2.0, node)
        if name == "np.concatenate" and len(positional) == 1:
            axis = keywords.get("axis")
            number = axis.operand if isinstance(axis, A.Unary) else axis
            if axis is not None and not isinstance(number, A.Number):
                raise self.error("write the axis as a number, e.g. axis=0", axis)
            index = 0 if axis is None else int(number.text) * (-1 if isinstance(axis, A.Unary) and axis.op == "-"
                                                               else 1)
            inner = positional[0].inner if isinstance(positional[0], A.Group) else positional[0]
            return self.concatenate([self.value(item) for item in _arguments(inner)], index, node)
        if name == "np.transpose" and len(positional) == 1:
            return self.transpose(self.value(positional[0]), node)
        if name in ("conv", "pad", "rot180"):          # a convolution's dA_prev = conv(pad(dZ), rot180(W))
            from ._window_formula import window_call
            return window_call(self, name, positional, node)
        raise self.error(f"cannot read the call {name}(...) here; read are np.sum(X, axis=...), X.sum(axis=...), "
                         f"np.mean, np.sqrt, np.exp, np.log, np.dot, np.where(X > 0, A, B), @, .T, rowsum(X), "
                         f"np.concatenate((A, B), axis=0)", node)

    def describe(self, node, value) -> str:
        from ._syntax import text_of
        shape = f"[{', '.join(value.labels)}]" if isinstance(value, Labelled) else "a scalar"
        return f"'{text_of(node)}' {shape}"


def _attach_functions(node):
    r"""``X / \sqrt{d}`` parses as (X / sqrt) juxtaposed with {d}: the function takes the group after it."""
    if isinstance(node, A.Binary) and node.op == "juxt" and isinstance(node.right, A.Group):
        path, inner = [], node.left
        while isinstance(inner, A.Binary):
            path.append(inner)
            inner = inner.right
        if isinstance(inner, A.Name) and inner.name in _UNARY and path:
            replaced = A.Call(inner.column, inner, node.right)
            for parent in reversed(path):
                replaced = A.Binary(parent.column, parent.op, parent.left, replaced)
            return replaced
    return node


def _squeezed(value):
    """``value`` without the length-1 axes that ``keepdims=True`` kept."""
    if not isinstance(value, Labelled) or KEPT not in value.labels:
        return value
    keep = [i for i, label in enumerate(value.labels) if label != KEPT]
    array = value.array.reshape([value.array.shape[i] for i in keep])
    return Labelled(array, tuple(value.labels[i] for i in keep)) if keep else float(array)


def _aligned(value, labels: tuple):
    """``value``'s array with its axes in the order of ``labels`` and size-1 axes for the labels it lacks."""
    if not isinstance(value, Labelled):
        return value
    order = [value.labels.index(label) for label in labels if label in value.labels]
    array = np.transpose(value.array, order)
    for position, label in enumerate(labels):
        if label not in value.labels:
            array = np.expand_dims(array, position)
    return array


def _scaled(value, factor: float):
    if isinstance(value, Labelled):
        return Labelled(value.array * factor, value.labels)
    return value * factor


def _arguments(node: A.Node) -> list:
    items, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, A.Binary) and item.op == ",":
            stack += [item.right, item.left]
        else:
            items.append(item)
    return items

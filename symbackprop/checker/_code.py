r"""Program code read as formulas: Octave from Ng's ex4 and NumPy from the Deep Learning Specialization.

:func:`rewrite` turns the syntax tree of a line of code into the tree of the formula it computes,
written in the notation's own letters, so the readers of :mod:`._target` and :mod:`._reader` need
no second set of rules:

* a variable whose name ends in its layer number is that letter with a layer index: Octave's
  ``delta3``, ``a2``, ``z2``, ``Theta1``, ``Delta1`` are δ^(3), a^(2), z^(2), Θ^(1), Δ^(1) (ng-ml's
  numbering), NumPy's ``dZ2``, ``dW1``, ``db1``, ``A1``, ``W2`` are dZ^[2], dW^[1], db^[1], A^[1], W^[2];
  ``Theta1_grad`` is D^(1), ex4's ``h`` is a^(L), NumPy's ``X`` is A^[0] and ``AL`` is A^[L];
* ``sigmoidGradient(z)`` is sigmoid'(z); ``np.dot`` the matrix product, ``np.multiply`` the
  elementwise one, ``np.power(A, 2)`` a power, ``np.int64(Z > 0)`` the indicator itself; ``np.where(Z > 0, 1, alpha)`` a case split;
* ``np.sum(dZ, axis=1, keepdims=True)`` and Octave's ``sum(X, 2)`` sum over the columns, ``sum(X)`` and
  ``np.sum(X, axis=0)`` over the rows, ``np.sum(X)`` over everything: :data:`SUMS` names them for the
  reader. ``zeros``, ``ones``, ``size`` and indexing ``X(2:end)`` stay as they are; the reader reads them.
"""
from __future__ import annotations

import dataclasses
import re

from ..errors import ParseError
from ..grammar import _ast as A

#: Per notation: the code names of an activation's derivative g'(z), as its course's code writes them
#: -> the catalogue activation differentiated. Nielsen's network.py defines sigmoid_prime(z); Ng's ex4
#: sigmoidGradient.m. The names mean the same function in every notation, so every notation reads them.
DERIVATIVE_NAMES = {
    "nielsen": {"sigmoid_prime": "sigmoid"},
    "ng-ml": {"sigmoidGradient": "sigmoid"},
}
#: Per notation: helpers ``name(dA, cache)`` that return dA ⊙ g'(Z), where ``cache`` holds that layer's Z
#: (the Deep Learning Specialization's dnn_utils.py) -> the activation. Read where dA is read (ng-dls).
BACKWARD_HELPERS = {
    "ng-dls": {"sigmoid_backward": "sigmoid", "relu_backward": "relu"},
}
_DERIVATIVES = {name: activation for table in DERIVATIVE_NAMES.values() for name, activation in table.items()}
_HELPERS = {name: (notation, activation) for notation, table in BACKWARD_HELPERS.items()
            for name, activation in table.items()}


def code_names(notation: str) -> tuple:
    """The code names of derivatives a formula of ``notation`` may use, for messages."""
    return (*_DERIVATIVES, *BACKWARD_HELPERS.get(notation, {}))


#: Function names of program code, given to the parser so that ``name(`` is a call.
FUNCTIONS = (*_DERIVATIVES, *_HELPERS, "zeros", "ones", "size", "sum",
             "np.dot", "np.matmul", "np.multiply", "np.power", "np.square", "np.sum", "np.int64", "np.float64",
             "np.exp", "np.log", "np.tanh", "np.sqrt", "np.abs", "np.transpose", "np.where")

#: Internal function names of the three sums (they cannot be typed: '_' is a subscript in formulas).
SUM_COLUMNS, SUM_ROWS, SUM_ALL = "sum_columns", "sum_rows", "sum_all"
SUMS = (SUM_COLUMNS, SUM_ROWS, SUM_ALL)

#: Per notation: the stem of a code variable -> (letter, layer style); the digits after it are the layer.
_STEMS = {
    "ng-ml": {"delta": ("delta", "("), "d": ("delta", "("), "a": ("a", "("), "z": ("z", "("),
              "Theta": ("Theta", "("), "Delta": ("Delta", "("), "D": ("D", "(")},
    "ng-dls": {stem: (stem, "[") for stem in ("dZ", "dz", "dW", "dw", "db", "dA", "da", "A", "Z", "W", "b", "a", "z")},
}
#: Per notation: whole names -> (letter, layer) (a layer of None keeps the name unscripted).
_NAMES = {
    "ng-ml": {"h": ("a", "L"), "Y": ("y", None), "yk": ("y", None)},
    "ng-dls": {"X": ("A", "0"), "AL": ("A", "L"), "dAL": ("dA", "L"), "lambd": ("lambda", None)},
}
_NUMBERED = re.compile(r"^([A-Za-z]+?)(\d+)$")

_BINARY_FUNCTIONS = {"np.dot": "@", "np.matmul": "@", "np.multiply": ".*", "np.power": "^"}
_IDENTITY_FUNCTIONS = ("np.int64", "np.float64")
_NUMPY_SCALAR_FUNCTIONS = {"np.exp": "exp", "np.log": "log", "np.tanh": "tanh", "np.sqrt": "sqrt", "np.abs": "abs"}


def rewrite(node, notation: str):
    """The tree of ``node`` with the code of ``notation`` written as formulas (see the module docstring)."""
    if node is None or not isinstance(node, A.Node):
        return node
    if isinstance(node, A.Name):
        return _name(node, notation)
    if isinstance(node, A.Script) and isinstance(node.base, A.Name) and node.sup is None \
            and notation == "ng-ml" and isinstance(node.sub, A.Name) and node.sub.name == "grad":
        match = _NUMBERED.match(node.base.name)
        if match and match.group(1) == "Theta":      # ex4's Theta1_grad: the gradient D^(1)
            return _scripted(node.base, "D", match.group(2), "(")
    if isinstance(node, A.Call):
        rewritten = _call(node, notation)
        if rewritten is not None:
            return rewritten
    changes = {}
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, A.Node):
            new = rewrite(value, notation)
            if new is not value:
                changes[field.name] = new
    return dataclasses.replace(node, **changes) if changes else node


def _name(node: A.Name, notation: str) -> A.Node:
    if node.command:
        return node
    whole = _NAMES.get(notation, {}).get(node.name)
    if whole is not None:
        letter, layer = whole
        if layer is None:
            return A.Name(node.column, letter)
        style = "[" if notation == "ng-dls" else "("
        return _scripted(node, letter, layer, style)
    match = _NUMBERED.match(node.name)
    if match and match.group(1) in _STEMS.get(notation, {}):
        letter, style = _STEMS[notation][match.group(1)]
        return _scripted(node, letter, match.group(2), style)
    return node


def _scripted(node: A.Node, letter: str, layer: str, style: str) -> A.Script:
    layer_node = A.Number(node.column, layer) if layer.isdigit() else A.Name(node.column, layer)
    return A.Script(node.column, A.Name(node.column, letter, letter in ("delta", "Theta", "Delta", "lambda")),
                    None, layer_node, style)


def _arguments(node: A.Node) -> list:
    """The positional and keyword arguments of a call: ([nodes], {keyword: node})."""
    items, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, A.Binary) and item.op == ",":
            stack += [item.right, item.left]
        else:
            items.append(item)
    return items


def _call(node: A.Call, notation: str):
    function = node.function
    if isinstance(function, A.Prime) and isinstance(function.operand, A.Name) and function.operand.name in _DERIVATIVES:
        # sigmoid_prime'(z): the second derivative
        activation = A.Name(function.column, _DERIVATIVES[function.operand.name])
        return A.Call(node.column, A.Prime(function.column, activation, function.count + 1),
                      rewrite(node.argument, notation))
    name = function.name if isinstance(function, A.Name) else None
    if name is None:
        return None
    items = [rewrite(item, notation) for item in _arguments(node.argument)]
    positional = [item for item in items if not (isinstance(item, A.Binary) and item.op == "kw")]
    keywords = {item.left.name: item.right for item in items if isinstance(item, A.Binary) and item.op == "kw"}
    column = node.column
    if name in _DERIVATIVES:
        if len(positional) != 1 or keywords:
            raise ParseError(f"{name} takes one argument, the pre-activation: {name}(z)", "", column)
        return A.Call(column, A.Prime(column, A.Name(column, _DERIVATIVES[name]), 1), positional[0])
    if name in _HELPERS:
        return _backward_helper(node, name, positional, keywords, notation)
    if name in _BINARY_FUNCTIONS and len(positional) == 2 and not keywords:
        return A.Binary(column, _BINARY_FUNCTIONS[name], A.Group(column, positional[0]), A.Group(column, positional[1]))
    if name == "np.square" and len(positional) == 1:
        return A.Binary(column, "^", A.Group(column, positional[0]), A.Number(column, "2"))
    if name == "np.transpose" and len(positional) == 1:
        return A.Binary(column, "^", A.Group(column, positional[0]), A.Name(column, "T"))
    if name in _IDENTITY_FUNCTIONS and len(positional) == 1:
        return A.Group(column, positional[0])
    if name in _NUMPY_SCALAR_FUNCTIONS and len(positional) == 1:
        return A.Call(column, A.Name(column, _NUMPY_SCALAR_FUNCTIONS[name]), positional[0])
    if name == "np.where" and len(positional) == 3 and not keywords:     # np.where(Z > 0, 1, alpha)
        test, yes, no = (A.Group(column, item) for item in positional)
        otherwise = A.Group(column, A.Binary(column, "-", A.Number(column, "1"), test))
        return A.Binary(column, "+", A.Binary(column, ".*", yes, test), A.Binary(column, ".*", no, otherwise))
    if name == "np.sum" and len(positional) == 1:
        axis = keywords.get("axis")
        which = SUM_ALL if axis is None else SUM_COLUMNS if _number(axis) == "1" else \
            SUM_ROWS if _number(axis) == "0" else None
        if which is not None:
            return A.Call(column, A.Name(column, which), positional[0])
    if name == "sum" and 1 <= len(positional) <= 2 and not keywords:
        dimension = _number(positional[1]) if len(positional) == 2 else "1"
        which = {"1": SUM_ROWS, "2": SUM_COLUMNS}.get(dimension)
        if which is not None:
            return A.Call(column, A.Name(column, which), positional[0])
    return None


def _backward_helper(node: A.Call, name: str, positional: list, keywords: dict, notation: str) -> A.Node:
    """``sigmoid_backward(dA^[l], cache)``: dA^[l] ⊙ sigmoid'(Z^[l]), the cache standing for that layer's Z
    (or the Z itself, ``sigmoid_backward(dA2, Z2)``)."""
    home, activation = _HELPERS[name]
    usage = f"{name}(dA, cache), e.g. dZ2 = {name}(dA2, cache)"
    if notation != home:
        raise ParseError(f"{name} is a helper of the {home} notation's code ({usage}); give --notation {home}, "
                         f"or write the derivative, e.g. dA ⊙ {activation}'(Z)", "", node.column)
    if len(positional) != 2 or keywords:
        raise ParseError(f"{name} takes two arguments: {usage}", "", node.column)
    upstream, cache = positional
    if _is_cache(cache):
        cache = _cached_preactivation(upstream)
        if cache is None:
            raise ParseError(f"{name}(..., {_cache_name(positional[1])}): the cache is the Z of the layer of "
                             f"the first argument, so that argument is dA of one layer: {usage}", "",
                             positional[0].column)
    derivative = A.Call(node.column, A.Prime(node.column, A.Name(node.column, activation), 1), cache)
    return A.Binary(node.column, ".*", A.Group(node.column, upstream), derivative)


def _cached_preactivation(upstream: A.Node):
    """The Z (or z) of the layer of ``dA^[l]`` (``da^[l]``), as a cache holds it; None for anything else."""
    letters = {"dA": "Z", "da": "z"}
    if isinstance(upstream, A.Script) and isinstance(upstream.base, A.Name) and upstream.base.name in letters:
        return dataclasses.replace(upstream, base=A.Name(upstream.base.column, letters[upstream.base.name]))
    if isinstance(upstream, A.Name) and upstream.name in letters:
        return A.Name(upstream.column, letters[upstream.name])
    return None


def _is_cache(node: A.Node) -> bool:
    """``cache``, ``activation_cache`` (read as activation with the subscript cache), ``cache2``."""
    if isinstance(node, A.Script) and node.sup is None and isinstance(node.base, A.Name):
        return _is_cache(node.sub) if isinstance(node.sub, A.Name) else False
    return isinstance(node, A.Name) and "cache" in node.name


def _cache_name(node: A.Node) -> str:
    if isinstance(node, A.Script) and isinstance(node.base, A.Name) and isinstance(node.sub, A.Name):
        return f"{node.base.name}_{node.sub.name}"
    return node.name if isinstance(node, A.Name) else "cache"


def _number(node) -> str:
    return node.text if isinstance(node, A.Number) else ""

"""Helpers on the grammar's syntax trees that the checker's readers share: parts of a scripted
name, superscripts that hold a layer and a transpose, derivatives, and a short text for messages."""
from __future__ import annotations

from ..grammar import _ast as A
from . import _conventions as C

#: A canonical role in words, for messages.
ROLE_WORDS = {C.ACTIVATION: "activation", C.PREACTIVATION: "pre-activation", C.WEIGHT: "weights",
               C.BIAS: "bias", C.DELTA: "error δ", C.TARGET: "target", C.OUTPUT: "output activation"}


def example_layer(convention) -> str:
    """How the notation writes a layer superscript, for messages."""
    return {"ng-ml": "^{(l)}", "ng-dls": "^{[l]}", "goodfellow": "^{(k)}"}.get(convention.name, "^l")


def strip_groups(node: A.Node) -> A.Node:
    """The node inside any parentheses or braces."""
    while isinstance(node, A.Group):
        node = node.inner
    return node


def script_parts(node: A.Node):
    """(name, sub, sup, sup_style) of a Name or Script; (None, ...) otherwise."""
    node = strip_groups(node)
    if isinstance(node, A.Name):
        return node.name, None, None, ""
    if isinstance(node, A.Script) and isinstance(node.base, A.Name):
        return node.base.name, node.sub, node.sup, node.sup_style
    if isinstance(node, A.Binary) and node.op == "^" and isinstance(strip_groups(node.left), (A.Name, A.Script)):
        name, sub, sup, style = script_parts(node.left)
        if sup is None:
            return name, sub, node.right, ""
    return None, None, None, ""


def split_sup(sup, style):
    """A superscript -> (layer node or None, transposed?): ``(l)``, ``T``, ``[l-1]T``, ``(k-1)T``, and
    ``[l](i)`` or ``[l-1](i)T`` where ``(i)`` names an example (see :func:`example_of`), and Nielsen's ``{x,l}``."""
    if sup is None:
        return None, False
    if _comma_example(sup) is not None:      # Nielsen's a^{x,l}: example x, layer l
        return split_sup(strip_groups(sup).right, "")
    parts = _juxt_parts(sup)
    if len(parts) > 1 and any(_is_example(part) for part in parts[1:]):
        rest = [part for part in parts if not _is_example(part)]
        transposed = isinstance(rest[-1], A.Name) and rest[-1].name == "T" and len(rest) > 1
        if transposed:
            rest = rest[:-1]
        if len(rest) == 1:
            return strip_groups(rest[0]), transposed
    if isinstance(sup, A.Name) and sup.name == "T" and not style:
        return None, True
    if isinstance(sup, A.Binary) and sup.op == "juxt" and isinstance(sup.right, A.Name) and sup.right.name == "T":
        return strip_groups(sup.left), True
    return sup, False


def example_of(sup):
    """The example index letter of a superscript such as ``[l](i)`` or ``(l)(i)T``, else None."""
    if sup is None:
        return None
    if _comma_example(sup) is not None:
        return _comma_example(sup)
    parts = _juxt_parts(sup)
    for part in parts[1:]:
        if _is_example(part):
            return strip_groups(part).name
    return None


def _comma_example(sup):
    """Nielsen's per-example superscript ``{x,l}`` (``δ^{x,l}``, ``a^{x,l-1}``): the example letter, else None."""
    node = strip_groups(sup)
    if isinstance(node, A.Binary) and node.op == "," and isinstance(node.left, A.Name) and len(node.left.name) == 1 \
            and node.left.name not in ("l", "L", "k", "T") and not node.left.command:
        return node.left.name
    return None


def _juxt_parts(node) -> list:
    if isinstance(node, A.Binary) and node.op == "juxt":
        return _juxt_parts(node.left) + _juxt_parts(node.right)
    return [node]


def _is_example(node) -> bool:
    """``(i)``: a parenthesised single letter after a layer, the index of an example."""
    return isinstance(node, A.Group) and node.delimiter == "(" and isinstance(node.inner, A.Name) \
        and len(node.inner.name) == 1 and node.inner.name not in ("l", "L", "k", "T")


def derivative_parts(node: A.Node):
    """(cost, wrt) of ∂C/∂X written as \\frac{\\partial C}{\\partial X}, ∂C/∂X or \\nabla_X C."""
    node = strip_groups(node)
    if isinstance(node, A.Binary) and node.op == "juxt":      # the operator form \frac{\partial}{\partial w} J(w)
        parts = _juxt_parts(node)
        operator = strip_groups(parts[0])
        if isinstance(operator, A.Binary) and operator.op == "frac" and isinstance(operator.left, A.Partial) \
                and operator.left.operand is None and isinstance(operator.right, A.Partial) and len(parts) in (2, 3):
            if len(parts) == 3 and not isinstance(parts[2], A.Group):
                return None
            return parts[1], operator.right.operand                # J(\Theta): the cost named by its letter
    if isinstance(node, A.Binary) and node.op in ("frac", "/"):
        top, bottom = strip_groups(node.left), strip_groups(node.right)
        if isinstance(top, A.Partial) and isinstance(bottom, A.Partial):
            return top.operand, bottom.operand
    if isinstance(node, A.Nabla) and node.sub is not None:
        return node.operand, node.sub
    return None


def text_of(node: A.Node, limit: int = 60) -> str:
    """A short plain-text rendering of a syntax tree, for messages."""
    try:
        text = _unparse(node)
    except RecursionError:
        text = "..."
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unparse(node) -> str:
    if node is None:
        return ""
    if isinstance(node, A.Number):
        return node.text
    if isinstance(node, A.Name):
        return {"delta": "δ", "sigma": "σ", "Theta": "Θ", "lambda": "λ", "Delta": "Δ", "nabla": "∇"}.get(
            node.name, node.name)
    if isinstance(node, A.Group):
        close = {"(": ")", "{": "}", "[": "]"}[node.delimiter]
        inner = _unparse(node.inner)
        return inner if node.delimiter == "{" else f"{node.delimiter}{inner}{close}"
    if isinstance(node, A.Unary):
        return f"{node.op}{_unparse(node.operand)}"
    if isinstance(node, A.Binary):
        if node.op == "juxt":
            return f"{_unparse(node.left)} {_unparse(node.right)}"
        if node.op == "frac":
            return f"({_unparse(node.left)})/({_unparse(node.right)})"
        if node.op == "^":
            if isinstance(node.right, A.Name) and node.right.name == "T" and not isinstance(node.left, A.Script):
                return f"{_unparse(node.left)}^T"
            return f"{_unparse(node.left)}^{_wrap(node.right)}"
        if node.op in (",", ":", "kw"):
            separator = {",": ", ", ":": ":", "kw": "="}[node.op]
            return f"{_unparse(node.left)}{separator}{_unparse(node.right)}"
        return f"{_unparse(node.left)} {node.op} {_unparse(node.right)}"
    if isinstance(node, A.Script):
        text = _unparse(node.base)
        if node.sup is not None:
            inner = _unparse(node.sup).replace(" ", "")
            style = node.sup_style
            if style:
                text += "^" + (f"({inner})" if style == "(" else f"[{inner}]")
            else:
                text += "^" + (inner if len(inner) == 1 else "{" + inner + "}")
        if node.sub is not None:
            inner = _unparse(node.sub)
            text += "_" + (inner if len(inner) == 1 else "{" + inner + "}")
        return text
    if isinstance(node, A.Prime):
        return _unparse(node.operand) + "'" * node.count
    if isinstance(node, A.Call):
        return f"{_unparse(node.function)}({_unparse(node.argument)})"
    if isinstance(node, A.Sum):
        return f"Σ_{_unparse(node.index)} {_unparse(node.body)}"
    if isinstance(node, A.Partial):
        return f"∂{_unparse(node.operand)}"
    if isinstance(node, A.Nabla):
        return f"∇_{_wrap(node.sub)} {_unparse(node.operand)}"
    if isinstance(node, A.Index):
        return f"{_unparse(node.base)}({_unparse(node.indices)})"
    if isinstance(node, A.Slice):
        axes = ", ".join(f"{'' if a is None else _unparse(a)}:{'' if b is None else _unparse(b)}" for a, b in node.axes)
        return f"{_unparse(node.base)}[{axes}]"
    return type(node).__name__


def _wrap(node) -> str:
    text = _unparse(node)
    return text if len(text) == 1 else "{" + text + "}"



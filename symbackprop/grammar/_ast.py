"""The syntax tree the parser builds: small immutable nodes that remember their column.

The tree records what was written, not what it means: whether ``x^T`` is a transpose or a
power, whether ``g'`` is a derivative or an Octave transpose, or whether ``*`` is a matrix or an
elementwise product is decided by the interpreters (:mod:`._to_sympy` for scalar expressions,
:mod:`symbackprop.checker` for formulas), which know the symbols involved.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Node:
    column: int


@dataclass(frozen=True)
class Number(Node):
    """A decimal literal, kept as validated text (``'12'``, ``'0.5'``, ``'1e-3'``)."""

    text: str


@dataclass(frozen=True)
class Name(Node):
    r"""An identifier or a letter command, without its backslash (``a``, ``delta`` for ``\delta``)."""

    name: str
    command: bool = False   #: written as a LaTeX command


@dataclass(frozen=True)
class Unary(Node):
    """``-x`` or ``+x``."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    """A binary operation; ``column`` is the operator's.

    ``op`` is one of ``+ - / ^`` (power), ``*`` (written ``*``, ``\\cdot``, ``\\times``),
    ``.*`` (written ``.*``, ``\\odot``, ``\\circ``, ``⊙``), ``@`` (matrix product), ``juxt``
    (juxtaposition: ``2a``, ``W^T \\delta``), ``frac`` (``\\frac{..}{..}``).
    """

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    """``f(x)``: a function (a :class:`Name` or a :class:`Prime` of one) applied to its argument;
    several arguments (``max(u, v)``) are joined by ``','`` in ``argument`` (see :func:`arguments`)."""

    function: Node
    argument: Node


@dataclass(frozen=True)
class Script(Node):
    """A name with a subscript and/or a superscript (formula dialect): ``w_{kj}^{l+1}``.

    ``sup_style`` is how the superscript was delimited: ``'('`` for ``^{(l)}`` or ``^(l)``,
    ``'['`` for ``^{[l]}`` or ``^[l]``, ``''`` otherwise.
    """

    base: Node
    sub: Optional[Node] = None
    sup: Optional[Node] = None
    sup_style: str = ""


@dataclass(frozen=True)
class Prime(Node):
    """``x'`` (formula dialect): the derivative of a function, or the Octave transpose of a matrix."""

    operand: Node
    count: int = 1


@dataclass(frozen=True)
class Group(Node):
    """A parenthesised or braced subexpression; kept so interpreters can tell ``(a)(b)`` from ``a(b)``."""

    inner: Node
    delimiter: str = "("


@dataclass(frozen=True)
class Sum(Node):
    r"""``\sum_k body`` or ``\sum_{k=1}^{n} body``; the body is the product that follows."""

    index: Node
    body: Node
    lower: Optional[Node] = None
    upper: Optional[Node] = None


@dataclass(frozen=True)
class Partial(Node):
    r"""``\partial x`` (used in ``\frac{\partial C}{\partial w}``); no operand in the operator form
    ``\frac{\partial}{\partial w} J``."""

    operand: Optional[Node]


@dataclass(frozen=True)
class Nabla(Node):
    r"""``\nabla_{sub} operand``: the gradient of ``operand`` with respect to ``sub``."""

    sub: Optional[Node]
    operand: Optional[Node]
    sup: Optional[Node] = None   #: a layer on the operator itself: ``\nabla^{(l)}_{ij}`` (then no operand)


@dataclass(frozen=True)
class Equation(Node):
    """``lhs = rhs`` (also ``:=``), with an optional condition (``... for j >= 1``)."""

    lhs: Node
    rhs: Node
    condition: Optional[Node] = None


# --- program code read in formulas (Octave, NumPy) ------------------------------------------------
@dataclass(frozen=True)
class Index(Node):
    """Octave indexing ``X(2:end)``, ``Theta2(:, 2:end)``: ``indices`` is one index or a ``,`` list of them;
    a range is a Binary ``:``, a whole dimension the Name ``:``, the last index the Name ``end``."""

    base: Node
    indices: Node


@dataclass(frozen=True)
class Slice(Node):
    """NumPy slicing ``Wf[:, :n_a]``, ``Wf[:, n_a:]``: 0-based, the stop excluded. ``axes`` holds one
    (start, stop) pair per axis, each None where it is left out (``:`` is the whole axis)."""

    base: Node
    axes: tuple


def arguments(node: Node) -> tuple:
    """The arguments of a call, from its argument node: ``u`` -> (u,), ``u, v, w`` -> (u, v, w).

    Several arguments are written joined by ``','`` (a left-nested :class:`Binary`), in both dialects.
    """
    parts = []
    while isinstance(node, Binary) and node.op == ",":
        parts.append(node.right)
        node = node.left
    parts.append(node)
    return tuple(reversed(parts))


def walk(node: Node):
    """Every node of the tree, parents before children (iterative: safe on deep trees)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current is None:
            continue
        yield current
        for name in getattr(current, "__dataclass_fields__", {}):
            child = getattr(current, name)
            if isinstance(child, Node):
                stack.append(child)

"""Every symbol symbackprop uses, made in one place.

Canonical convention (the printers translate it into each textbook's notation):
layers are numbered 1..L with the input as layer 1 (a^1 = x); W^l maps layer l-1 to layer l;
z^l = W^l a^{l-1} + b^l, a^l = g(z^l); the cost of one example is C, of a batch J.

Three families of symbols:

* unit symbols ``a, y, z, e, delta, a_prev, W_unit`` -- plain scalars for the *per-unit* forms
  (``delta^L = a - y``): elementwise formulas that any array library evaluates as written;
* layer-indexed scalars ``a[l, i]`` (:func:`unit`), ``W[l, i, j]`` (:func:`weight`) -- SymPy
  ``Indexed`` objects, differentiated with Kronecker deltas in the index-level steps;
* layer-indexed arrays (:class:`LayerArray`) -- matrix symbols that remember their layer,
  for the vector forms such as ``((W^{l+1})^T delta^{l+1}) * g'(z^l)``.
"""
from __future__ import annotations

import sympy as sp
from sympy.core.basic import Basic
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixSymbol

# --- per-unit scalars -------------------------------------------------------------------
a = sp.Symbol("a", real=True)            #: activation of a unit, a = g(z)
y = sp.Symbol("y", real=True)            #: target of an output unit
z = sp.Symbol("z", real=True)            #: pre-activation of a unit
e = sp.Symbol("e", real=True)            #: back-propagated sum e_i = sum_k W^{l+1}_{ki} delta^{l+1}_k
delta = sp.Symbol("delta", real=True)    #: delta_i^l of the unit a weight feeds
a_prev = sp.Symbol("a_prev", real=True)  #: a_j^{l-1}, the activation a weight multiplies
W_unit = sp.Symbol("W", real=True)       #: one weight W^l_ij
label = sp.Symbol("c", integer=True)     #: class label (log-likelihood cost: C = -ln a_c)

# --- sizes and constants ----------------------------------------------------------------
m = sp.Symbol("m", integer=True, positive=True)   #: examples in a batch
lam = sp.Symbol("lambda", nonnegative=True)       #: L2 strength
x_index = sp.Symbol("x", integer=True)            #: index over the examples of a batch

# --- indices ------------------------------------------------------------------------------
i, j, k, p, q = sp.symbols("i j k p q", integer=True)
l = sp.Symbol("l", integer=True, positive=True)   #: a generic layer
L = sp.Symbol("L", integer=True, positive=True)   #: the output layer
width = sp.IndexedBase("n")                       #: width[l] = number of units in layer l

# --- layer-indexed scalars (Indexed) --------------------------------------------------------
_bases = {name: sp.IndexedBase(name, real=True) for name in ("a", "z", "y", "delta", "b", "e", "W")}
C = sp.Symbol("C")   #: cost of one example
J = sp.Symbol("J")   #: cost of a batch


def base(role: str) -> sp.IndexedBase:
    """The IndexedBase of a role ('a', 'z', 'y', 'delta', 'b', 'e', 'W')."""
    return _bases[role]


def unit(role: str, layer, index) -> sp.Indexed:
    """``role^layer_index`` as an Indexed, e.g. ``unit('a', l, i)`` is a^l_i."""
    return sp.Indexed(_bases[role], layer, index)


def target(index) -> sp.Indexed:
    """y_index, the target of output unit ``index``."""
    return sp.Indexed(_bases["y"], index)


def weight(layer, row, col) -> sp.Indexed:
    """W^layer_{row col}: the weight from unit ``col`` of layer-1 to unit ``row`` of layer."""
    return sp.Indexed(_bases["W"], layer, row, col)


def per_unit_scalars() -> dict[str, sp.Symbol]:
    """The scalar symbols of the per-unit forms, by name (for parsers and printers)."""
    return {"a": a, "y": y, "z": z, "e": e, "delta": delta, "a_prev": a_prev, "W": W_unit}


# --- layer-indexed arrays ----------------------------------------------------------------------
class LayerArray(MatrixSymbol):
    """A matrix symbol that knows its role and layer: ``LayerArray('W', n[l], n[l-1], l)`` is W^l.

    Roles: 'a', 'z', 'y', 'delta', 'b', 'W', 'e', 'ones' (a column of ones), 'grad_W', 'grad_b'.
    """

    def __new__(cls, role, rows, cols, layer):
        role = role if isinstance(role, Str) else Str(str(role))
        return Basic.__new__(cls, role, sp.sympify(rows, strict=True), sp.sympify(cols, strict=True), sp.sympify(layer, strict=True))

    @property
    def role(self) -> str:
        return self.args[0].name

    @property
    def layer(self):
        return self.args[3]

    @property
    def shape(self):
        return self.args[1], self.args[2]

    @property
    def name(self) -> str:
        return f"{self.role}[{self.layer}]"

    def _hashable_content(self):
        return self.args


def vector(role: str, layer, size=None) -> LayerArray:
    """The column vector ``role^layer`` (size defaults to n[layer]; targets y live at layer L)."""
    return LayerArray(role, width[layer] if size is None else size, 1, layer)


def matrix(layer, rows=None, cols=None) -> LayerArray:
    """The weight matrix W^layer of shape n[layer] x n[layer-1]."""
    return LayerArray("W", width[layer] if rows is None else rows,
                      width[layer - 1] if cols is None else cols, layer)

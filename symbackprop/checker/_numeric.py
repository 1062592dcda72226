"""Numbers for the checker: random concrete networks, and the value of a formula on them.

A :class:`Sample` fixes layer sizes, a batch size m, λ and random arrays for one draw. Its
arrays are consistent with the network: a^r = g_r(z^r) with layer r's activation, targets are
one-hot where the loss assumes Σ_k y_k = 1, Ng's bias unit is a_0 = 1, ``W_reg`` is W with the
bias column zeroed. The per-example vectors are column 0 of the batch arrays.

:func:`evaluate` computes a SymPy matrix expression over :class:`~symbackprop.symbols.LayerArray`
symbols with NumPy; :func:`evaluate_entries` computes an index form entry by entry.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.matrices.expressions import (BlockMatrix, HadamardPower, HadamardProduct, Identity, MatAdd, MatMul, MatrixExpr,
                                        OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement
from sympy.matrices.expressions.slice import MatrixSlice

from .. import symbols as S
from ..catalogue.activations import COUPLED_INDEX, OUTPUT_WIDTH
from ._expected import loss_derivative
from ._target import LOSS_GRADIENT


class NotEvaluable(Exception):
    """An expression the numeric evaluator has no rule for, or that is not finite at the sample."""


class Sample:
    """One random draw: sizes, m, λ and the arrays of a network, made on first use."""

    def __init__(self, derivation, rng: np.random.Generator, sizes: dict, m: int, lam: float):
        self.derivation = derivation
        self.network = derivation.network
        self.rng, self.sizes, self.m, self.lam = rng, dict(sizes), m, lam
        self.scalars = {S.width[r]: sp.Integer(n) for r, n in sizes.items()}
        self.scalars.update({S.m: sp.Integer(m), S.lam: sp.Float(lam)})
        self.scalars.update(parameters(self.network))
        self._z, self._a, self._delta, self._W, self._b = {}, {}, {}, {}, {}
        self._y = None
        self._loss_gradient = None
        self.used: dict = {}

    # --- sizes and scalars -------------------------------------------------------------------------
    def size(self, expr) -> int:
        value = sp.sympify(expr, strict=True).xreplace(self.scalars)
        if not value.is_Integer:
            raise NotEvaluable(f"size {expr} is not a number at this sample")
        return int(value)

    def scalar(self, expr) -> float:
        value = sp.sympify(expr, strict=True).xreplace(self.scalars)
        try:
            result = complex(value.evalf())
        except (TypeError, ValueError) as exc:
            raise NotEvaluable(f"cannot evaluate the scalar {expr}: {exc}") from None
        if result.imag:
            raise NotEvaluable(f"{expr} is not real at this sample")
        return result.real

    # --- the arrays ------------------------------------------------------------------------------------
    def z(self, layer: int) -> np.ndarray:
        if layer not in self._z:
            shape = (self.sizes[layer], self.m)
            values = self.rng.normal(0.0, 1.0, shape)
            values = np.where(np.abs(values) < 0.05, 0.05 * np.sign(values) + (values == 0) * 0.05, values)
            self._z[layer] = values
        return self._z[layer]

    def a(self, layer: int) -> np.ndarray:
        if layer not in self._a:
            if layer == 1:
                self._a[1] = self.rng.uniform(-1.0, 1.0, (self.sizes[1], self.m))
            else:
                self._a[layer] = activate(self.network.activation_of(layer), self.z(layer))
        return self._a[layer]

    def delta(self, layer: int) -> np.ndarray:
        if layer not in self._delta:
            self._delta[layer] = self.rng.normal(0.0, 1.0, (self.sizes[layer], self.m))
        return self._delta[layer]

    def W(self, layer: int) -> np.ndarray:
        if layer not in self._W:
            columns = self.sizes[layer - 1] + (1 if self.network.bias == "column" else 0)
            self._W[layer] = self.rng.normal(0.0, 1.0, (self.sizes[layer], columns))
        return self._W[layer]

    def b(self, layer: int) -> np.ndarray:
        if layer not in self._b:
            self._b[layer] = self.rng.normal(0.0, 1.0, (self.sizes[layer], 1))
        return self._b[layer]

    def y(self) -> np.ndarray:
        if self._y is None:
            n, network = self.sizes[self.network.depth], self.network
            if network.loss.target_encoding == "one-hot" or not network.output.elementwise:
                labels = self.rng.integers(0, n, self.m)
                self._y = np.zeros((n, self.m))
                self._y[labels, np.arange(self.m)] = 1.0
            else:
                self._y = self.rng.uniform(0.05, 0.95, (n, self.m))
        return self._y

    def loss_gradient(self) -> np.ndarray:
        """∂C/∂a^L for every example, from the engine's derivative of the loss."""
        if self._loss_gradient is None:
            depth = self.network.depth
            rhs = loss_derivative(self.derivation)
            out = np.empty((self.sizes[depth], self.m))
            y = self.y()
            for column in range(self.m):
                label = int(np.argmax(y[:, column])) + 1
                for row in range(self.sizes[depth]):
                    expr = rhs.xreplace({S.k: row + 1, S.label: label, S.L: depth})
                    expr = expr.xreplace(self.scalars).doit()
                    out[row, column] = _real(self._fill_indexed(expr, column))
            self._loss_gradient = out
        return self._loss_gradient

    def _fill_indexed(self, expr, column: int):
        """Values for the indexed a^L_k and y_k of one example."""
        depth = self.network.depth
        a, y = self.a(depth), self.y()
        mapping = {}
        for item in expr.atoms(sp.Indexed):
            if item.base == S.base("a") and len(item.indices) == 2:
                mapping[item] = a[int(item.indices[1]) - 1, column]
            elif item.base == S.base("y"):
                mapping[item] = y[int(item.indices[0]) - 1, column]
            else:
                raise NotEvaluable(f"no value for {item} in the derivative of the loss")
        return expr.xreplace(mapping)

    def array(self, symbol: S.LayerArray) -> np.ndarray:
        """The value of one LayerArray (a per-example vector is the first column of the batch)."""
        role, layer = symbol.role, self.size(symbol.layer)
        rows, cols = self.size(symbol.shape[0]), self.size(symbol.shape[1])
        if role == "ones":
            value = np.ones((self.m, 1))
        elif role in ("W", "W_reg"):
            value = self.W(layer)
            if role == "W_reg":
                value = value.copy()
                value[:, 0] = 0.0
        elif role == "b":
            value = self.b(layer)
        else:
            source = {"a": self.a, "z": self.z, "delta": self.delta}.get(role)
            if role == "y":
                batch = self.y()
            elif role == LOSS_GRADIENT:
                batch = self.loss_gradient()
            elif source is not None:
                batch = source(layer)
            else:
                raise NotEvaluable(f"no values for the array {symbol.name}")
            if role == "a" and rows == self.sizes[layer] + 1:     # Ng's bias unit a_0 = 1
                batch = np.vstack([np.ones((1, self.m)), batch])
            value = batch if cols == self.m else batch[:, :1]
        if value.shape != (rows, cols):
            raise NotEvaluable(f"{symbol.name} is {value.shape}, expected {(rows, cols)}")
        self.used[symbol] = value
        return value


def parameters(network) -> dict:
    """The values of the activations' and the loss's parameters (leaky-relu's alpha, huber's delta),
    which the engine keeps as symbols."""
    values = {}
    for activation in (*network.hidden, network.output):
        values.update(activation.parameters)
    values.update(network.loss.parameters)
    return values


def label(symbol: S.LayerArray) -> str:
    """A short canonical name of an array, e.g. a^2 (batch)."""
    rows, cols = symbol.shape
    suffix = " (batch)" if cols == S.m else ""
    return f"{symbol.role}^{symbol.layer}{suffix}" if rows != S.width[symbol.layer] + 1 else \
        f"{symbol.role}^{symbol.layer} with bias unit{suffix}"


def _real(value) -> float:
    try:
        result = complex(sp.sympify(value, strict=True).evalf())
    except (TypeError, ValueError) as exc:
        raise NotEvaluable(str(exc)) from None
    if result.imag or not np.isfinite(result.real):
        raise NotEvaluable(f"{value} is not a finite real number")
    return result.real


@lru_cache(maxsize=256)
def _elementwise(body: sp.Expr, variable: sp.Symbol):
    # Heaviside as NumPy's: SymPy's printer would rewrite it as a Piecewise, whose construction asks
    # SymPy's solvers about its conditions (seconds for a nested max/min's derivative)
    return sp.lambdify(variable, body, [{"Heaviside": _heaviside}, "numpy"])


def _heaviside(x, at_zero=0.5):
    return np.heaviside(np.asarray(x, dtype=float), float(at_zero))


def activate(activation, z: np.ndarray) -> np.ndarray:
    """g(z) for a layer's activation record, column by column for a coupled one (softmax)."""
    if activation.elementwise:
        return _apply(activation.concrete(), S.z, z)
    n = z.shape[0]
    out = np.empty_like(z)
    definition = activation.concrete().xreplace({OUTPUT_WIDTH: n}).doit()
    unit = [sp.Indexed(S.base("z"), k) for k in range(1, n + 1)]
    for k in range(1, n + 1):
        function = sp.lambdify(unit, definition.xreplace({COUPLED_INDEX: k}).doit(), "numpy")
        for column in range(z.shape[1]):
            out[k - 1, column] = function(*z[:, column])
    return out


def _apply(body: sp.Expr, variable: sp.Symbol, values: np.ndarray) -> np.ndarray:
    function = _elementwise(body, variable)
    try:
        with np.errstate(all="ignore"):
            result = np.asarray(function(values))
            if np.iscomplexobj(result):
                # (-0.298)^atan(z) is complex: not a real value there (NaN, as outside any domain);
                # a cast to float would drop the imaginary part silently
                result = np.where(result.imag == 0, result.real, np.nan)
            result = result.astype(float)
    except (TypeError, ValueError, NameError, ZeroDivisionError, OverflowError) as exc:
        raise NotEvaluable(f"cannot evaluate {body} elementwise: {exc}") from None
    return np.broadcast_to(result, values.shape).astype(float)


def evaluate(expr, sample: Sample) -> np.ndarray:
    """The value of a matrix expression (2-D array) or of a scalar (float) at the sample."""
    with np.errstate(all="ignore"):
        value = _evaluate(expr, sample)
    return value


def _evaluate(expr, sample):
    if not isinstance(expr, MatrixExpr):
        return sample.scalar(expr)
    if isinstance(expr, S.LayerArray):
        return sample.array(expr)
    if isinstance(expr, MatAdd):
        parts = [_evaluate(arg, sample) for arg in expr.args]
        return sum(parts[1:], parts[0])
    if isinstance(expr, MatMul):
        result = 1.0
        for arg in expr.args:
            value = _evaluate(arg, sample)
            if isinstance(result, np.ndarray) and isinstance(value, np.ndarray):
                if result.shape[1] != value.shape[0]:
                    raise NotEvaluable(f"shapes {result.shape} and {value.shape} do not multiply")
                result = result @ value
            else:
                result = result * value
        return result
    if isinstance(expr, HadamardProduct):
        values = [_evaluate(arg, sample) for arg in expr.args]
        result = values[0]
        for value in values[1:]:
            if value.shape != result.shape:
                raise NotEvaluable(f"shapes {result.shape} and {value.shape} differ in an elementwise product")
            result = result * value
        return result
    if isinstance(expr, HadamardPower):
        return _evaluate(expr.base, sample) ** sample.scalar(expr.exp)
    if isinstance(expr, Transpose):
        return _evaluate(expr.arg, sample).T
    if isinstance(expr, MatrixSlice):
        value = _evaluate(expr.parent, sample)
        (r0, r1, rs), (c0, c1, cs) = expr.rowslice, expr.colslice
        return value[sample.size(r0):sample.size(r1):sample.size(rs), sample.size(c0):sample.size(c1):sample.size(cs)]
    if isinstance(expr, BlockMatrix):
        return np.block([[_evaluate(block, sample) for block in row] for row in expr.blocks.tolist()])
    if isinstance(expr, OneMatrix):
        return np.ones((sample.size(expr.shape[0]), sample.size(expr.shape[1])))
    if isinstance(expr, ZeroMatrix):
        return np.zeros((sample.size(expr.shape[0]), sample.size(expr.shape[1])))
    if isinstance(expr, Identity):
        return np.eye(sample.size(expr.shape[0]))
    if isinstance(expr, ElementwiseApplyFunction):
        function = expr.function
        (variable,) = function.variables
        body = function.expr.xreplace(sample.scalars)
        return _apply(body, variable, _evaluate(expr.expr, sample))
    raise NotEvaluable(f"no numeric rule for {type(expr).__name__}")


MAX_ENTRIES = 48   #: entries of an index form evaluated per sample (a sample of rows and columns beyond)


def evaluate_entries(expr: sp.Expr, sample: Sample, row: sp.Symbol, col, rows: int, cols: int,
                     col_base: int = 1, first_col: int = 0) -> np.ndarray:
    """An index form as a rows x cols array (NaN where not evaluated).

    ``row`` is the letter of the row index (row r is index r + 1); ``col`` the letter of the column index
    (column c is index c + ``col_base``: 0 with Ng's bias column), a number for one column (D_i0), or None
    for a vector. Columns before ``first_col`` are left out ('for j >= 1'). Large matrices are sampled:
    the first and last rows and columns, and a few random ones."""
    out = np.full((rows, cols), np.nan)
    prepared = expr.xreplace(sample.scalars)
    if col is None:
        columns = [0]
    elif isinstance(col, sp.Integer):
        columns = [int(col) - col_base]
    else:
        columns = list(range(first_col, cols))
    row_list = list(range(rows))
    if len(row_list) * len(columns) > MAX_ENTRIES:
        row_list = _some(row_list, 6, sample.rng)
        columns = _some(columns, MAX_ENTRIES // len(row_list), sample.rng)
    for r in row_list:
        for c in columns:
            bindings = {row: r + 1}
            if col is not None and not isinstance(col, sp.Integer):
                bindings[col] = c + col_base
            value = prepared.xreplace(bindings).doit()
            out[r, c] = _real(_fill_elements(value, sample))
    return out


def _some(items: list, count: int, rng) -> list:
    """The first two and the last of ``items``, and random others: ``count`` in all."""
    if len(items) <= count:
        return items
    chosen = {items[0], items[1], items[-1]}
    rest = [item for item in items if item not in chosen]
    chosen.update(rng.choice(rest, size=max(0, count - len(chosen)), replace=False).tolist())
    return sorted(chosen)


def _fill_elements(expr, sample: Sample):
    mapping = {}
    for element in expr.atoms(MatrixElement):
        parent = element.parent
        if not isinstance(parent, S.LayerArray):
            raise NotEvaluable(f"no numeric rule for an entry of {type(parent).__name__}")
        value = sample.array(parent)
        i, j = int(element.i), int(element.j)
        if not (0 <= i < value.shape[0] and 0 <= j < value.shape[1]):
            raise NotEvaluable(f"entry ({i + 1}, {j + 1}) is outside {parent.name}")
        mapping[element] = value[i, j]
    return expr.xreplace(mapping)

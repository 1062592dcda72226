"""Numbers for checking a layer formula: a layer's forward quantities and its DERIVED gradients at small
concrete sizes and random values.

Every array is a NumPy array whose axes carry the size names of its declaration (``x[N, D]`` has the labels
``('N', 'D')``), so that a student's formula can be evaluated with labels (see :mod:`._layer_formula`).
The gradients are the derivation's own expressions (``LayerDerivation.gradients``), evaluated over the whole
array at once (entry by entry where a node has no array form): nothing here is a stored formula.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

#: distinct small sizes, so that an axis is told apart by its length (N = 3, D = 5, M = 7, ...); none a
#: square or a small multiple of another, so that a factor √D or 1/N is told apart from 2 or from each other
_SIZES = (3, 5, 7, 2, 11, 13)


@dataclass
class Labelled:
    """An array and the size name of each axis."""

    array: np.ndarray
    labels: tuple


def concrete_sizes(layer) -> dict:
    """Size name -> a small distinct length; a derived size (a convolution's output height) from its formula,
    the sizes it subtracts (the kernel) given the smallest lengths so that every window fits."""
    derived = getattr(layer, "derived_sizes", {}) or {}
    base = [size for size in layer.sizes if size not in derived]
    lengths = [_SIZES[i % len(_SIZES)] + (i // len(_SIZES)) for i in range(len(base))]
    if derived:          # windows: small lengths (each entry sums over a window; evaluated one by one)
        lengths = list(range(2, 2 + len(base)))
    subtracted = {s for value in derived.values() for f in value.atoms(sp.floor) | {value}
                  for s in f.free_symbols if sp.expand(f.args[0] if isinstance(f, sp.floor) else f).coeff(s) < 0}
    order = sorted(base, key=lambda size: size not in subtracted)
    chosen = dict(zip(order, sorted(lengths))) if subtracted else dict(zip(base, lengths))
    out = {str(size): chosen[size] for size in base}
    for size, value in derived.items():
        out[str(size)] = int(value.xreplace({s: chosen[s] for s in value.free_symbols if s in chosen}))
    return {str(size): out[str(size)] for size in layer.sizes}


def sample(layer, derivation, rng, given=None) -> dict:
    """name -> Labelled for every input, parameter, quantity, upstream gradient and derived gradient, and
    size/constant name -> float. Inputs are random normal (a mask input is zeros), unless ``given`` (name ->
    array, or a function of the shape) holds them: a model's targets Y drawn as probability rows, say, or
    its upstream gradient dL = 1/N (the mean cost)."""
    sizes = concrete_sizes(layer)
    values: dict = {name: float(n) for name, n in sizes.items()}
    values.update({str(symbol): float(value) for symbol, value in layer.constants.items()})
    for array in layer.differentiable:
        shape = tuple(sizes[str(s)] for s in array.sizes)
        data = np.zeros(shape) if array.name == "mask" else rng.standard_normal(shape)
        if given and array.name in given:
            data = _given(given[array.name], shape)
        values[array.name] = Labelled(data, tuple(map(str, array.sizes)))
    for definition in layer.definitions:
        array = layer.arrays[definition.name]
        values[definition.name] = _table(definition.rhs, definition.indices, array.sizes, values, sizes)
    for name in layer.outputs:
        array = layer.arrays[name]
        shape = tuple(sizes[str(s)] for s in array.sizes)
        data = _given(given["d" + name], shape) if given and "d" + name in given else rng.standard_normal(shape)
        values["d" + name] = Labelled(data, tuple(map(str, array.sizes)))
    if derivation is not None:
        for gradient in derivation.gradients.values():
            # a dilated upstream gradient, made just before the gradient that reads it: its source may be
            # the gradient of a model's stage, computed in this loop
            for name, dims, definition, shape, *_ in gradient.auxiliary:
                if name not in values:
                    values[name] = _dilated(definition, dims, shape, values, sizes)
            if gradient.kind == "output":
                continue
            array = layer.arrays[gradient.of]
            values[gradient.name] = _table(gradient.final, gradient.indices, array.sizes, values, sizes)
    return values


def _dilated(definition, dims, shape, values, sizes) -> Labelled:
    lengths = tuple(int(sp.sympify(n, strict=True).xreplace({sp.Symbol(k, integer=True, positive=True): v
                                                             for k, v in sizes.items()})) for n in shape)
    table = _grid(definition, dims, lengths, values)
    if table is None:
        table = np.empty(lengths)
        for position in itertools.product(*(range(n) for n in lengths)):
            table[position] = _value(definition, {str(d): v for d, v in zip(dims, position)}, values)
    return Labelled(table, tuple(map(str, shape)))


def _given(value, shape) -> np.ndarray:
    return np.asarray(value(shape) if callable(value) else value, dtype=float)


def _table(expr, indices, array_sizes, values, sizes) -> Labelled:
    shape = tuple(sizes[str(s)] for s in array_sizes)
    out = _grid(expr, indices, shape, values)
    if out is None:                 # a node the whole-array evaluation does not know: entry by entry
        out = np.empty(shape)
        for position in itertools.product(*(range(n) for n in shape)):
            env = {str(index): value for index, value in zip(indices, position)}
            out[position] = _value(expr, env, values)
    return Labelled(out, tuple(map(str, array_sizes)))


class _Unsupported(Exception):
    pass


_ARRAY_FUNCTIONS = {sp.exp: np.exp, sp.log: np.log, sp.tanh: np.tanh, sp.Abs: np.abs, sp.sqrt: np.sqrt}


def _grid(expr, indices, shape, values):
    """``expr`` at every position of ``shape`` at once (the table's indices as broadcast integer grids; each
    sum a loop over its range only, not over the table's entries), the same arithmetic as :func:`_value`; None
    where a node is not known here or a value is not finite (then the caller evaluates entry by entry)."""
    grids = np.indices(shape, sparse=True) if shape else ()
    env = {str(index): grid for index, grid in zip(indices, grids)}
    try:
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(_array_value(expr, env, values), dtype=float), shape).copy()
    except (_Unsupported, TypeError, ValueError, OverflowError):
        return None
    return out if np.all(np.isfinite(out)) else None


def _array_value(expr, env: dict, values: dict):
    if expr.is_Number:
        return float(expr)
    if isinstance(expr, sp.Indexed):
        array = values[expr.base.label.name].array
        position = [np.asarray(_array_value(i, env, values)).astype(int) for i in expr.indices]
        inside = True
        for k, n in zip(position, array.shape):
            inside = inside & (k >= 0) & (k < n)
        clipped = tuple(np.clip(k, 0, n - 1) for k, n in zip(position, array.shape))
        return np.where(inside, array[clipped], 0.0)      # a read outside the array: zero (padding)
    if isinstance(expr, sp.Symbol):
        name = expr.name
        return env[name] if name in env else float(values[name])
    if isinstance(expr, sp.Sum):
        return _array_sum(expr.function, list(expr.limits), env, values)
    if isinstance(expr, sp.Add):
        return sum(_array_value(arg, env, values) for arg in expr.args)
    if isinstance(expr, sp.Mul):
        return math.prod(_array_value(arg, env, values) for arg in expr.args)
    if isinstance(expr, sp.Pow):
        return np.power(np.asarray(_array_value(expr.base, env, values), dtype=float),
                        _array_value(expr.exp, env, values))
    if isinstance(expr, sp.KroneckerDelta):
        return (_array_value(expr.args[0], env, values) == _array_value(expr.args[1], env, values)) * 1.0
    if type(expr).__name__ == "InRange":
        value, lo, hi = (_array_value(arg, env, values) for arg in expr.args)
        return ((lo <= value) & (value <= hi)) * 1.0
    if expr.func in _ARRAY_FUNCTIONS:
        return _ARRAY_FUNCTIONS[expr.func](*(_array_value(arg, env, values) for arg in expr.args))
    raise _Unsupported(expr.func)


def _array_sum(body, limits, env, values):
    (index, low, high), rest = limits[0], limits[1:]
    low, high = _array_value(low, env, values), _array_value(high, env, values)
    if np.ndim(low) or np.ndim(high):
        raise _Unsupported("a sum whose limits vary with the table's indices")
    total = 0.0
    for k in range(int(low), int(high) + 1):
        inner = {**env, index.name: k}
        total = total + (_array_sum(body, rest, inner, values) if rest else _array_value(body, inner, values))
    return total


_FUNCTIONS = {sp.exp: math.exp, sp.log: math.log, sp.tanh: math.tanh, sp.Abs: abs, sp.sqrt: math.sqrt}


def _value(expr, env: dict, values: dict) -> float:
    """A SymPy expression over Indexed arrays and Sums at the integer indices ``env``."""
    if expr.is_Number:
        return float(expr)
    if isinstance(expr, sp.Indexed):
        array = values[expr.base.label.name].array
        position = tuple(int(_value(i, env, values)) for i in expr.indices)
        if any(not 0 <= k < n for k, n in zip(position, array.shape)):
            return 0.0          # a read at index arithmetic outside the array: zero (padding)
        return float(array[position])
    if isinstance(expr, sp.Symbol):
        name = expr.name
        return float(env[name]) if name in env else float(values[name])
    if isinstance(expr, sp.Sum):
        return _sum(expr.function, list(expr.limits), env, values)
    if isinstance(expr, sp.Add):
        return sum(_value(arg, env, values) for arg in expr.args)
    if isinstance(expr, sp.Mul):
        return math.prod(_value(arg, env, values) for arg in expr.args)
    if isinstance(expr, sp.Pow):
        return _value(expr.base, env, values) ** _value(expr.exp, env, values)
    if isinstance(expr, sp.KroneckerDelta):
        return float(_value(expr.args[0], env, values) == _value(expr.args[1], env, values))
    if type(expr).__name__ == "InRange":     # the Iverson bracket [lo <= value <= hi] of a window's limits
        value, lo, hi = (_value(arg, env, values) for arg in expr.args)
        return float(lo <= value <= hi)
    if type(expr).__name__ == "FirstMax":    # max pooling's routing: is this the window's first maximum?
        return _first_max(expr, env, values)
    if isinstance(expr, sp.Piecewise):       # a kink's cases (relu's derivative), shown in a step
        for value, condition in expr.args:
            if _holds(condition, env, values):
                return _value(value, env, values)
        return math.nan
    if expr.func in _FUNCTIONS:
        return _FUNCTIONS[expr.func](*(_value(arg, env, values) for arg in expr.args))
    arguments = [sp.Float(_value(arg, env, values)) for arg in expr.args]
    result = expr.func(*arguments)
    if isinstance(result, sp.logic.boolalg.Boolean):     # a condition (x[n, d] <= 0) at numbers: 1 or 0
        return float(result == sp.true)
    return float(result.evalf())


def _first_max(expr, env, values) -> float:
    body, dummies, positions, extents = expr.args
    names = [d.name for d in dummies]        # a Dummy is read by its name, as every Symbol is
    best, best_at = -math.inf, None
    for offsets in itertools.product(*(range(int(_value(n, env, values))) for n in extents)):   # row-major
        value = _value(body, {**env, **dict(zip(names, offsets))}, values)
        if value > best:
            best, best_at = value, offsets
    return float(best_at == tuple(int(_value(p, env, values)) for p in positions))


_RELATIONS = {sp.Lt: lambda u, v: u < v, sp.Le: lambda u, v: u <= v, sp.Gt: lambda u, v: u > v,
              sp.Ge: lambda u, v: u >= v, sp.Eq: lambda u, v: u == v, sp.Ne: lambda u, v: u != v}


def _holds(condition, env, values) -> bool:
    """A case's condition at the integer indices ``env``."""
    if condition in (sp.true, sp.false):
        return bool(condition)
    if type(condition) in _RELATIONS:
        return _RELATIONS[type(condition)](_value(condition.lhs, env, values), _value(condition.rhs, env, values))
    if isinstance(condition, sp.And):
        return all(_holds(c, env, values) for c in condition.args)
    if isinstance(condition, sp.Or):
        return any(_holds(c, env, values) for c in condition.args)
    if isinstance(condition, sp.Not):
        return not _holds(condition.args[0], env, values)
    raise _Unsupported(condition)


def _sum(body, limits, env, values) -> float:
    (index, low, high), rest = limits[0], limits[1:]
    total = 0.0
    for k in range(int(_value(low, env, values)), int(_value(high, env, values)) + 1):
        inner = {**env, index.name: k}
        total += _sum(body, rest, inner, values) if rest else _value(body, inner, values)
    return total

"""An independent reference for the tests: a small concrete network composed symbol by symbol.

Nothing here uses the engine. The forward pass is written out from the catalogue's
*definitions* (data), with every weight its own SymPy symbol, so ``sympy.diff`` of the composed
cost is an independent oracle for what the engine derived.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from symbackprop import symbols as S
from symbackprop.catalogue import Activation, Loss


@dataclass
class ConcreteNetwork:
    sizes: tuple
    weights: list       # weights[l] for l = 2..L: sympy Matrix n_l x n_{l-1} (x n_{l-1}+1 with a bias column)
    biases: list        # biases[l]: sympy Matrix n_l x 1 (zeros with a bias column)
    x: sp.Matrix
    y: sp.Matrix
    z: dict             # z[l]: pre-activation expressions
    a: dict             # a[l]: activation expressions
    cost: sp.Expr
    z_symbols: dict     # free symbols standing for z^l, for differentiating "from z^l on"
    label: int | None


def apply_activation(activation: Activation, z: sp.Matrix) -> sp.Matrix:
    if activation.elementwise:
        definition = activation.concrete()
        return z.applyfunc(lambda v: definition.subs(S.z, v))
    total = sum(sp.exp(v) for v in z)
    return z.applyfunc(lambda v: sp.exp(v) / total)


def loss_of(loss: Loss, a: sp.Matrix, y: sp.Matrix, label) -> sp.Expr:
    if loss.separable:   # with its parameters' values (huber's delta, focal's gamma)
        return sum(loss.concrete().subs({S.a: a[k], S.y: y[k]}, simultaneous=True) for k in range(len(a)))
    return -sp.log(a[label])


def build(sizes, hidden, output, loss, bias="separate", label=None, from_layer=None, region=None) -> ConcreteNetwork:
    """Compose the cost. With ``from_layer`` = l, z^l is a vector of free symbols and the forward pass
    starts there (used to differentiate with respect to z^l). ``region`` = 'positive'/'negative'
    gives those symbols a sign, so a kink's Piecewise evaluates to one branch."""
    L = len(sizes)
    assumptions = {"positive": dict(positive=True), "negative": dict(negative=True)}.get(region, dict(real=True))
    x = sp.Matrix(sp.symbols(f"x1:{sizes[0] + 1}", real=True))
    y = sp.Matrix(sp.symbols(f"y1:{sizes[-1] + 1}", real=True))
    if label is not None:
        y = sp.Matrix([1 if k == label else 0 for k in range(sizes[-1])])
    weights, biases, z, a, z_symbols = [None, None], [None, None], {}, {1: x}, {}
    for l in range(2, L + 1):
        cols = sizes[l - 2] + (1 if bias == "column" else 0)
        weights.append(sp.Matrix(sizes[l - 1], cols, lambda r, c: sp.Symbol(f"W{l}_{r + 1}_{c + (0 if bias == 'column' else 1)}", real=True)))
        biases.append(sp.Matrix(sizes[l - 1], 1, lambda r, c: sp.Symbol(f"b{l}_{r + 1}", real=True)) if bias == "separate"
                      else sp.zeros(sizes[l - 1], 1))
    for l in range(2, L + 1):
        act = output if l == L else hidden[l - 2]
        if from_layer is not None and l < from_layer:
            continue
        if from_layer is not None and l == from_layer:
            z_symbols[l] = sp.Matrix(sp.symbols(f"z{l}_1:{sizes[l - 1] + 1}", **assumptions))
            z[l] = z_symbols[l]
        else:
            previous = a[l - 1]
            if bias == "column":
                previous = sp.Matrix([1, *previous])
            z[l] = weights[l] * previous + biases[l]
        a[l] = apply_activation(act, z[l])
    cost = loss_of(loss, a[L], y, label)
    return ConcreteNetwork(tuple(sizes), weights, biases, x, y, z, a, cost, z_symbols, label)


def unit_value(expr: sp.Expr, *, a=None, y=None, z=None, e=None, a_vector=None, y_vector=None,
               parameters=None) -> sp.Expr:
    """Evaluate an engine unit form at one unit; Σ_k over indexed a[k], y[k] is expanded over the vectors.
    ``parameters`` gives values to activation parameters (a record's ``parameters``)."""
    if parameters:
        expr = expr.subs(parameters)
    if expr.has(sp.Sum):
        n = len(a_vector)
        expr = expr.replace(lambda t: isinstance(t, sp.Sum), lambda t: sp.Add(*[t.function.subs(t.limits[0][0], k) for k in range(1, n + 1)]))
        expr = expr.replace(lambda t: isinstance(t, sp.Indexed) and str(t.base) == "a", lambda t: a_vector[int(t.indices[0]) - 1])
        expr = expr.replace(lambda t: isinstance(t, sp.Indexed) and str(t.base) == "y", lambda t: y_vector[int(t.indices[0]) - 1])
    values = {s: v for s, v in ((S.a, a), (S.y, y), (S.z, z), (S.e, e)) if v is not None}
    return expr.subs(values, simultaneous=True)


def random_point(symbols, rng, scale=0.8) -> dict:
    return {s: sp.Float(rng.uniform(-scale, scale), 30) for s in symbols}


def is_zero(expr: sp.Expr) -> bool:
    """Identity of two exact expressions: the difference is 0 as built, or vanishes at random points.

    The difference is evaluated exactly (rational points, 50 digits), never simplified: ``cancel`` and
    ``simplify`` run for many minutes on composed costs with Piecewise or nested exponentials (hard-sigmoid,
    softsign, mish), while the evaluation takes milliseconds and is as strong a test."""
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    return _vanishes_at_random_points(expr)


def _vanishes_at_random_points(expr: sp.Expr, points: int = 4, digits: int = 50) -> bool:
    """Zero-equivalence by evaluation (the Schwartz–Zippel idea for analytic expressions): the exact
    expression, evaluated at four random rational points with 50-digit arithmetic, is below 1e-30 at each.

    ``sp.simplify`` can run for many minutes on composed costs (softsign, mish, gelu-tanh); a nonzero
    analytic difference of O(1) terms vanishing at four independent random points to 30 digits does not
    happen by chance. Each symbol's sign assumption (the region of z) is respected. The arithmetic is
    mpmath's (``sp.N`` on a difference that is exactly 0 raises its precision again and again, for
    seconds per point)."""
    rng = np.random.default_rng(20261201)
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    function = sp.lambdify(symbols, expr, modules="mpmath")
    for _ in range(points):
        values = []
        for s in symbols:
            magnitude = mpmath.mpf(int(rng.integers(100, 1900))) / 1000
            if s.is_positive or s.is_nonnegative:
                values.append(magnitude)
            elif s.is_negative or s.is_nonpositive:
                values.append(-magnitude)
            else:
                values.append(magnitude * (1 if rng.random() < 0.5 else -1))
        with mpmath.workdps(digits):
            if abs(function(*values)) > mpmath.mpf("1e-30"):
                return False
    return True



def finite_difference(f, point: np.ndarray, h=1e-6) -> np.ndarray:
    gradient = np.zeros_like(point)
    for index in range(point.size):
        step = np.zeros_like(point)
        step[index] = h
        gradient[index] = (f(point + step) - f(point - step)) / (2 * h)
    return gradient

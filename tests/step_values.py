"""Numbers for the statements of a derivation: one evaluator for every step the engine displays.

Nothing here uses the engine. A :class:`ConcreteNetwork` draws weights, biases, m examples and
targets for a network with numeric layer sizes, and runs its forward pass from the catalogue's
*definitions* (data). :meth:`ConcreteNetwork.statement_values` maps the project's symbols
(:mod:`symbackprop.symbols`) in a step's statement to those numbers:

* index statements: ``Indexed`` units at a layer (``a[l, i]``, ``W[l + 1, k, j]``, ``delta[l, i, x]``),
  ``Sum`` over symbolic widths ``n[l]`` (expanded over the concrete widths), ``KroneckerDelta``;
* vector and batch statements: :class:`~symbackprop.symbols.LayerArray` matrix expressions.

Every ``Derivative`` in a statement (∂C/∂z^L_i, ∂C/∂a^L_k, ∂z^{l+1}_k/∂z^l_i, ∂C/∂W^l_ij, ∂J/∂W^l_ij,
...) and every δ (defined as ∂C/∂z) is evaluated by ``sympy.diff`` of the fully composed cost
of the concrete network: the forward pass is rerun with the one variable replaced by a free
symbol, everything else at its number, and the composed result is differentiated in that symbol.
"""
from __future__ import annotations

import itertools

import mpmath
import sympy as sp
from sympy.matrices.expressions import (HadamardPower, HadamardProduct, Identity, MatAdd, MatMul, MatrixExpr,
                                        OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.slice import MatrixSlice

from symbackprop import symbols as S
from symbackprop.derivation import Rule

from reference_network import apply_activation, build, loss_of

DIGITS = 30
_INDICES = (S.i, S.j, S.k, S.p, S.q)
_BATCH_RULES = (Rule.BATCH_AVERAGE, Rule.REGULARISATION)


class NoValue(Exception):
    """A symbol or an expression form the evaluator has no meaning for: the test must say so, not skip it."""


def _float(value: float) -> sp.Float:
    return sp.Float(value, DIGITS)


class Oracle:
    """sympy.diff of the fully composed network of one structure, lambdified once (mpmath, CSE).

    Built on :func:`reference_network.build` (every weight its own symbol, no engine code). Each
    derivative is differentiated symbolically once; the concrete points only evaluate it.
    """

    def __init__(self, network, label):
        self.network = network
        self.sizes = tuple(int(s) for s in network.sizes)
        self.depth = len(self.sizes)
        self.column = network.bias == "column"
        self.label = label
        hidden, output, loss = list(network.hidden), network.output, network.loss
        zero_label = label - 1 if label is not None else None
        self.net = build(self.sizes, hidden, output, loss, bias=network.bias, label=zero_label)
        net = self.net
        self.theta = {}      # ('W', l, i, j) or ('b', l, i) -> symbol
        for l in range(2, self.depth + 1):
            for r in range(net.weights[l].rows):
                for c in range(net.weights[l].cols):
                    self.theta[("W", l, r + 1, c + (0 if self.column else 1))] = net.weights[l][r, c]
                if not self.column:
                    self.theta[("b", l, r + 1)] = net.biases[l][r]
        self.x, self.y = list(net.x), [v for v in net.y if isinstance(v, sp.Symbol)]
        keys = list(self.theta)
        symbols = [self.theta[key] for key in keys]
        # the forward pass and ∂C/∂θ, as functions of (θ, x, y)
        args = [*symbols, *self.x, *self.y]
        layers = range(2, self.depth + 1)
        self._forward = _lambdify(args, [[list(net.z[l]), list(net.a[l])] for l in layers] + [net.cost])
        self._gradient = _lambdify(args, [sp.diff(net.cost, s) for s in symbols])
        self.keys = keys
        # ∂C/∂z^r (δ^r) as functions of (Z^r, θ, y): the cost composed from layer r on
        self._delta = {}
        for r in layers:
            cut = build(self.sizes, hidden, output, loss, bias=network.bias, label=zero_label, from_layer=r)
            z_r = list(cut.z_symbols[r])
            self._delta[r] = (z_r, _lambdify([*z_r, *symbols, *self.y], [sp.diff(cut.cost, v) for v in z_r]))
        # ∂C/∂a^L and ∂a^L/∂z^L
        A = sp.Matrix(sp.symbols(f"A1:{self.sizes[-1] + 1}", real=True))
        Z = sp.Matrix(sp.symbols(f"Z1:{self.sizes[-1] + 1}", real=True))
        self._loss_gradient = _lambdify([*A, *self.y], [sp.diff(loss_of(loss, A, net.y, zero_label), v) for v in A])
        out = apply_activation(output, Z)
        self._output_jacobian = _lambdify(list(Z), [[sp.diff(out[k], v) for v in Z] for k in range(len(Z))])
        # ∂z^{r+1}/∂z^r and ∂z^r/∂θ^r, as functions of (Z^r or a^{r-1}, θ)
        self._next, self._local = {}, {}
        for r in layers:
            Zr = sp.Matrix(sp.symbols(f"Z{r}_1:{self.sizes[r - 1] + 1}", real=True))
            if r < self.depth:
                a_r = apply_activation(hidden[r - 2], Zr)
                a_r = sp.Matrix([1, *a_r]) if self.column else a_r
                z_next = net.weights[r + 1] * a_r + net.biases[r + 1]
                self._next[r] = (list(Zr), _lambdify([*Zr, *symbols], [[sp.diff(z_next[k], v) for v in Zr]
                                                                          for k in range(z_next.rows)]))
            A_prev = sp.Matrix(sp.symbols(f"P{r}_1:{self.sizes[r - 2] + 1}", real=True))
            A_prev_bias = sp.Matrix([1, *A_prev]) if self.column else A_prev
            z_r = net.weights[r] * A_prev_bias + net.biases[r]
            own = [key for key in keys if key[1] == r]
            self._local[r] = (own, list(A_prev), _lambdify([*A_prev, *symbols], [[sp.diff(z_r[k], self.theta[key])
                                                                                  for key in own] for k in range(z_r.rows)]))


_UNDEFINED = sp.Symbol("undefined_branch")


def _lambdify(args, expressions):
    """An mpmath function of ``args``; a branch outside the domain (relu output, log 0) composes to zoo,
    which is passed in as nan (SymPy itself refuses to hold nan inside a Piecewise)."""
    function = sp.lambdify([*args, _UNDEFINED], _no_zoo(expressions), "mpmath", cse=True, dummify=False)
    return lambda *values: function(*values, mpmath.nan)


def _no_zoo(expressions):
    if isinstance(expressions, list):
        return [_no_zoo(e) for e in expressions]
    return sp.sympify(expressions, strict=True).xreplace({sp.zoo: _UNDEFINED})


def _sp(value):
    return sp.Float(value, DIGITS)


class ConcreteNetwork:
    """A point for a network: parameters θ, m examples (x, y), and every value a statement can name."""

    def __init__(self, network, rng, m: int = 2, scale: float = 0.7, output_scale: float = 0.3, oracle=None):
        self.network = network
        self.sizes = tuple(int(s) for s in network.sizes)
        self.depth = len(self.sizes)
        self.m = m
        self.column = network.bias == "column"
        n = dict(enumerate(self.sizes, start=1))
        self.width = n
        label = int(rng.integers(1, n[self.depth] + 1)) if network.loss.target_encoding == "one-hot" else None
        self.oracle = oracle if oracle is not None and oracle.label == label else Oracle(network, label)
        # Small output weights and a spread of output biases put z^L where the loss is defined
        # (a in (0, 1) for cross-entropy) often enough for draw() to find a point quickly.
        self.theta = {}
        for key in self.oracle.keys:
            last = key[1] == self.depth
            is_bias = key[0] == "b" or key[3] == 0
            bound = (1.5 if is_bias else output_scale) if last else scale
            self.theta[key] = rng.uniform(-bound, bound)
        self.labels = [label or 1] * m          # log-likelihood: one class for the batch (one composed cost)
        self.x = [[rng.uniform(-1, 1) for _ in range(n[1])] for _ in range(m)]
        self.y = [self._targets(rng, label) for _ in range(m)]
        with mpmath.workdps(DIGITS):
            self.theta = {key: mpmath.mpf(v) for key, v in self.theta.items()}
            self.x = [[mpmath.mpf(v) for v in row] for row in self.x]
            self.y = [[mpmath.mpf(v) for v in row] for row in self.y]
            if label is None and not network.output.elementwise:      # a probability vector: Σ_k y_k = 1
                self.y = [[v / sum(row) for v in row] for row in self.y]
            self.forward = [self._forward(example) for example in range(m)]
        self._cache = {}

    def _targets(self, rng, label):
        count = self.width[self.depth]
        if label is not None:
            return [1 if unit == label else 0 for unit in range(1, count + 1)]
        return [rng.uniform(0.05, 0.95) for _ in range(count)]

    def _args(self, example):
        return [*(self.theta[key] for key in self.oracle.keys), *self.x[example],
                *(self.y[example] if self.oracle.y else [])]

    def _y_args(self, example):
        return list(self.y[example]) if self.oracle.y else []

    def _forward(self, example):
        *layers, cost = self.oracle._forward(*self._args(example))
        z = {l: list(zs) for l, (zs, _) in enumerate(layers, start=2)}
        a = {l: list(as_) for l, (_, as_) in enumerate(layers, start=2)}
        a[1] = list(self.x[example])
        return {"z": z, "a": a, "cost": cost}

    def defined(self) -> bool:
        """The cost is a finite real number at every example (a draw outside a loss's domain is redrawn)."""
        for forward in self.forward:
            value = mpmath.mpc(forward["cost"])
            if value.imag or not mpmath.isfinite(value.real):
                return False
        return True

    def batch_cost(self):
        """J = (1/m) Σ_x C_x + λ/(2m) Σ_l Σ W², the bias (column 0 or b) never regularised."""
        with mpmath.workdps(DIGITS):
            penalty = sum(v ** 2 for key, v in self.theta.items() if key[0] == "W" and key[3] >= 1)
            lam = mpmath.mpf(sp.Rational(self.network.l2).p) / sp.Rational(self.network.l2).q
            return _sp(sum(f["cost"] for f in self.forward) / self.m + lam / (2 * self.m) * penalty)

    # --- values of the symbols -------------------------------------------------------------------
    def unit_value(self, role: str, layer: int, unit: int, example: int = 0):
        if role == "a" and unit == 0 and self.column:
            return sp.Integer(1)                       # Ng's bias unit
        if role in ("a", "z"):
            return _sp(self.forward[example][role][layer][unit - 1])
        if role == "delta":
            return self.derivative(S.C, S.unit("z", layer, unit), example)
        if role == "b":
            return _sp(self.theta[("W", layer, unit, 0) if self.column else ("b", layer, unit)])
        if role == "e":                                # e^l_i = Σ_k W^{l+1}_ki δ^{l+1}_k
            return sp.Add(*[self.weight(layer + 1, k, unit) * self.unit_value("delta", layer + 1, k, example)
                            for k in range(1, self.width[layer + 1] + 1)])
        raise NoValue(f"no value for the unit {role}^{layer}_{unit}")

    def weight(self, layer: int, row: int, col: int):
        if col == 0 and not self.column:
            raise NoValue(f"W^{layer}_{row}0 names a bias column, but this network has separate biases")
        return _sp(self.theta[("W", layer, row, col)])

    def activation(self, layer: int):
        return self.network.activation_of(layer)

    def derivative(self, function, variable, example: int = 0):
        """d function / d variable: sympy.diff of the composed network (the Oracle), at this point."""
        key = (function, variable, example)
        if key not in self._cache:
            with mpmath.workdps(DIGITS):
                self._cache[key] = _sp(self._derivative(function, variable, example))
        return self._cache[key]

    def _derivative(self, function, variable, example):
        oracle, forward = self.oracle, self.forward[example]
        if not isinstance(variable, sp.Indexed):
            raise NoValue(f"cannot differentiate with respect to {variable}")
        role, where = variable.base.name, tuple(int(v) for v in variable.indices)
        parameter = self._parameter(role, where)
        if function == S.J and parameter is not None:          # linearity: mean of ∂C_x/∂θ, plus the penalty's
            lam = mpmath.mpf(sp.Rational(self.network.l2).p) / sp.Rational(self.network.l2).q
            mean = sum(self._gradient(x)[parameter] for x in range(self.m)) / self.m
            regularised = parameter[0] == "W" and parameter[3] >= 1
            return mean + (lam / self.m * self.theta[parameter] if regularised else 0)
        if function == S.C and parameter is not None:
            return self._gradient(example)[parameter]
        if function == S.C and role == "z":
            layer, unit = where
            z_r, f = oracle._delta[layer]
            return f(*forward["z"][layer], *(self.theta[k] for k in oracle.keys), *self._y_args(example))[unit - 1]
        if function == S.C and role == "a" and where[0] == self.depth:
            return oracle._loss_gradient(*forward["a"][self.depth], *self._y_args(example))[where[1] - 1]
        if isinstance(function, sp.Indexed) and len(function.indices) == 2:
            f_role, (f_layer, f_unit) = function.base.name, (int(v) for v in function.indices)
            if f_role == "a" and role == "z" and f_layer == where[0] == self.depth:
                return oracle._output_jacobian(*forward["z"][self.depth])[f_unit - 1][where[1] - 1]
            if f_role == "z" and role == "z" and f_layer == where[0] + 1 and where[0] in oracle._next:
                _, f = oracle._next[where[0]]
                jacobian = f(*forward["z"][where[0]], *(self.theta[k] for k in oracle.keys))
                return jacobian[f_unit - 1][where[1] - 1]
            if f_role == "z" and parameter is not None and parameter[1] == f_layer:
                own, _, f = oracle._local[f_layer]
                jacobian = f(*forward["a"][f_layer - 1], *(self.theta[k] for k in oracle.keys))
                return jacobian[f_unit - 1][own.index(parameter)]
        raise NoValue(f"no composed derivative for ∂{function}/∂{variable}")

    def _parameter(self, role, where):
        if role == "W" and len(where) == 3:
            if where[2] == 0 and not self.column:
                raise NoValue(f"W^{where[0]}_{where[1]}0: this network has separate biases")
            return ("W", *where)
        if role == "b" and len(where) == 2:
            return ("W", where[0], where[1], 0) if self.column else ("b", *where)
        return None

    def _gradient(self, example):
        key = ("gradient", example)
        if key not in self._cache:
            values = self.oracle._gradient(*self._args(example))
            self._cache[key] = dict(zip(self.oracle.keys, values))
        return self._cache[key]

    # --- statements ---------------------------------------------------------------------------------
    def scalars(self, step) -> dict:
        """Sizes, m, λ, L, the label and the activation parameters a step's statement may use."""
        values = {S.width[r]: sp.Integer(n) for r, n in self.width.items()}
        values.update({S.L: sp.Integer(self.depth), S.m: sp.Integer(self.m), S.lam: sp.nsimplify(self.network.l2),
                       S.label: sp.Integer(self.labels[0])})
        return values

    def parameters(self, step, layer) -> dict:
        """The activation parameters (leaky-relu's alpha) of the layer whose activation the step differentiates."""
        if layer is None and step.layer is not None and step.layer.is_Integer:
            layer = int(step.layer)
        loss = dict(getattr(self.network.loss, "parameters", None) or {})   # huber's delta, focal's gamma
        if step.quantity in ("cost", "weight_gradient", "bias_gradient"):
            return loss
        if step.quantity == "output_delta":
            return {**dict(self.network.output.parameters), **loss}
        if step.quantity == "hidden_delta" and layer is not None:
            return dict(self.activation(layer).parameters)
        return {}

    def assignments(self, step):
        """Every (layer, {free index: value}) at which the step's statement must hold."""
        statement = step.statement
        free_layer = bool(free_indices(statement, tracked=(S.l,)))
        if step.quantity == "hidden_delta":
            layers = range(2, self.depth)
        elif step.quantity in ("weight_gradient", "bias_gradient"):
            layers = range(2, self.depth + 1)
        else:
            layers = [None]
        if not free_layer:
            layers = [None]
        free = sorted(free_indices(statement), key=str)
        atoms = statement.atoms(sp.Indexed)
        for layer in layers:
            where = {S.L: self.depth, **({S.l: layer} if layer is not None else {})}
            ranges = [index_range(atoms, index, self, where) for index in free]
            for values in itertools.product(*ranges):
                yield layer, dict(zip(free, values))

    def statement_values(self, step, layer, indices) -> tuple:
        """The two sides of the step's statement at a layer and free-index values, as numbers."""
        statement = step.statement
        if not isinstance(statement, sp.Equality):
            raise NoValue(f"the statement {statement} is not an equation")
        substitution = {S.l: layer} if layer is not None else {}
        substitution.update(indices)
        substitution[S.L] = sp.Integer(self.depth)      # before the widths: n[L] becomes n[3], then 2
        scalars = {**self.scalars(step), **self.parameters(step, layer)}
        batch = step.rule in _BATCH_RULES
        sides = []
        for side in (statement.lhs, statement.rhs):
            side = side.xreplace(substitution).xreplace(scalars)
            sides.append(self.matrix(side, batch, scalars) if isinstance(side, MatrixExpr) else self.scalar(side, scalars))
        return tuple(sides)

    def scalar(self, expr, scalars):
        expr = expand_sums(expr, scalars)
        expr = expr.replace(lambda e: isinstance(e, sp.Derivative), self._derivative_node)
        expr = expr.replace(lambda e: isinstance(e, sp.Indexed), self._indexed_node)
        expr = expr.xreplace({S.C: _sp(self.forward[0]["cost"]), S.J: self.batch_cost(), **scalars})
        value = sp.N(expr, DIGITS)
        if not value.is_number:
            raise NoValue(f"{expr} has no numeric value (left: {value.free_symbols})")
        return value

    def _derivative_node(self, node: sp.Derivative):
        (variable, order), = node.variable_count
        if order != 1:
            raise NoValue(f"no rule for {node}")
        example = 0
        return self.derivative(node.expr, variable, example)

    def _indexed_node(self, node: sp.Indexed):
        role, indices = node.base.name, [int(v) for v in node.indices]
        if role == "W" and len(indices) == 3:
            return self.weight(*indices)
        if role == "y" and len(indices) == 1:
            return _sp(self.y[0][indices[0] - 1])
        if role == "C" and len(indices) == 1:
            return _sp(self.forward[indices[0] - 1]["cost"])
        if role in ("a", "z", "delta", "b", "e") and len(indices) == 2:
            return self.unit_value(role, *indices)
        if role in ("a", "z", "delta") and len(indices) == 3:          # unit of example x
            return self.unit_value(role, indices[0], indices[1], indices[2] - 1)
        raise NoValue(f"no value for {node}")

    # --- vector and batch statements --------------------------------------------------------------
    def matrix(self, expr, batch: bool, scalars) -> sp.Matrix:
        if isinstance(expr, S.LayerArray):
            return self.array(expr, batch, scalars)
        if isinstance(expr, MatMul):
            result = sp.Integer(1)
            for factor in expr.args:
                factor = self.matrix(factor, batch, scalars) if isinstance(factor, MatrixExpr) else self.scalar(factor, scalars)
                result = result * factor
            return result
        if isinstance(expr, MatAdd):
            terms = [self.matrix(t, batch, scalars) for t in expr.args]
            return sum(terms[1:], terms[0])
        if isinstance(expr, HadamardProduct):
            factors = [self.matrix(f, batch, scalars) for f in expr.args]
            result = factors[0]
            for factor in factors[1:]:
                result = result.multiply_elementwise(factor)
            return result
        if isinstance(expr, HadamardPower):
            base = self.matrix(expr.base, batch, scalars)
            power = self.scalar(expr.exp, scalars)
            return base.applyfunc(lambda v: v ** power)
        if isinstance(expr, Transpose):
            return self.matrix(expr.arg, batch, scalars).T
        if isinstance(expr, MatrixSlice):
            parent = self.matrix(expr.parent, batch, scalars)
            rows, cols = (slice(int(s[0]), int(s[1]), int(s[2])) for s in (expr.rowslice, expr.colslice))
            return parent[rows, cols]
        if isinstance(expr, (OneMatrix, ZeroMatrix)):
            shape = [int(self.scalar(d, scalars)) for d in expr.shape]
            return (sp.ones if isinstance(expr, OneMatrix) else sp.zeros)(*shape)
        if isinstance(expr, Identity):
            return sp.eye(int(self.scalar(expr.rows, scalars)))
        if isinstance(expr, ElementwiseApplyFunction):
            function = expr.function
            (variable,), body = function.variables, function.expr
            return self.matrix(expr.expr, batch, scalars).applyfunc(
                lambda v: self.scalar(body.xreplace({variable: v}), scalars))
        raise NoValue(f"no rule for the matrix expression {type(expr).__name__}: {expr}")

    def array(self, symbol, batch: bool, scalars) -> sp.Matrix:
        role, layer = symbol.role, int(symbol.layer)
        rows, cols = (int(sp.sympify(d, strict=True).xreplace(scalars)) for d in symbol.shape)
        if role == "ones":
            value = sp.ones(rows, cols)
        elif role in ("W", "W_reg"):
            start = 0 if cols == self.width[layer - 1] + 1 else 1
            value = sp.Matrix(rows, cols, lambda r, c: self.weight(layer, r + 1, c + start))
            if role == "W_reg":
                if not (self.column and start == 0):
                    raise NoValue("W_reg (W with the bias column zeroed) used without a bias column")
                value[:, 0] = sp.zeros(rows, 1)
        elif role in ("y", "a", "z", "delta", "b", "e"):
            if cols not in (1, self.m):     # one example, or the batch with examples as columns
                raise NoValue(f"{symbol.name} has {cols} columns; expected 1 or m = {self.m}")
            first = 0 if rows == self.width[layer] + 1 else 1
            value = sp.Matrix(rows, cols, lambda r, c: _sp(self.y[c][r]) if role == "y" else self.unit_value(role, layer, r + first, c))
        elif role == "grad_W":
            start = 0 if cols == self.width[layer - 1] + 1 else 1
            value = sp.Matrix(rows, cols, lambda r, c: self._gradient_entry(batch, S.weight(layer, r + 1, c + start)))
        elif role == "grad_b":
            value = sp.Matrix(rows, cols, lambda r, c: self._gradient_entry(batch, S.unit("b", layer, r + 1)))
        else:
            raise NoValue(f"no values for the array {symbol.name} (role {role!r})")
        if value.shape != (rows, cols):
            raise NoValue(f"{symbol.name} has shape {value.shape}, its symbol says {(rows, cols)}")
        return value

    def _gradient_entry(self, batch: bool, variable):
        return self.derivative(S.J if batch else S.C, variable, 0)


def draw(network, rng, m: int = 2, attempts: int = 400) -> ConcreteNetwork:
    """A ConcreteNetwork at which the cost is defined (cross-entropy needs 0 < a < 1, Poisson a > 0)."""
    oracle = None
    for _ in range(attempts):
        concrete = ConcreteNetwork(network, rng, m, oracle=oracle)
        oracle = concrete.oracle
        if concrete.defined():
            return concrete
    raise NoValue(f"no point in {attempts} draws where the cost of {network.describe()} is defined")


def expand_sums(expr, scalars):
    """Every Sum written out over its concrete bounds, outermost index first."""
    def expand(total: sp.Sum):
        *inner, (index, low, high) = total.limits
        low, high = (int(sp.sympify(v, strict=True).xreplace(scalars)) for v in (low, high))
        body = sp.Sum(total.function, *inner) if inner else total.function
        return sp.Add(*[expand_sums(body.xreplace({index: sp.Integer(v)}).xreplace(scalars), scalars)
                        for v in range(low, high + 1)])
    return expr.replace(lambda e: isinstance(e, sp.Sum), expand)


def free_indices(expr, bound=frozenset(), tracked=_INDICES) -> set:
    """The unit indices i, j, k, p, q (or the ``tracked`` symbols) that no Sum binds.

    A Derivative's variables count (∂C/∂z^L_i is about unit i), and so do the layers of LayerArrays."""
    if expr in tracked:
        return set() if expr in bound else {expr}
    if isinstance(expr, sp.Sum):
        found = set()
        inner = set(bound)
        for index, low, high in expr.limits:
            found |= free_indices(low, frozenset(inner), tracked) | free_indices(high, frozenset(inner), tracked)
            inner.add(index)
        return found | free_indices(expr.function, frozenset(inner), tracked)
    found = set()
    for arg in expr.args:
        if isinstance(arg, sp.Basic):
            found |= free_indices(arg, bound, tracked)
    return found


def index_range(atoms, index, network: ConcreteNetwork, where: dict) -> range:
    """The units a free index runs over, read off where it stands in the statement's Indexed ``atoms``
    (their layers evaluated with ``where``: L and the generic layer l)."""
    ranges = []
    for item in atoms:
        indices = item.indices
        for position, value in enumerate(indices):
            if value != index:
                continue
            role = item.base.name
            layer = int(sp.sympify(indices[0], strict=True).xreplace(where)) if role != "y" else network.depth
            if role == "W" and position == 2:
                layer -= 1
            ranges.append(range(1, network.width[layer] + 1))
    if not ranges:
        raise NoValue(f"cannot tell which units the index {index} runs over in {sorted(map(str, atoms))}")
    lengths = {len(r) for r in ranges}
    if len(lengths) != 1:
        raise NoValue(f"the index {index} runs over layers of different widths in {sorted(map(str, atoms))}")
    return ranges[0]


def close(left, right, tolerance=1e-18) -> bool:
    """Two numbers (or matrices of numbers) agree to ``tolerance``, relative to their size."""
    if isinstance(left, sp.MatrixBase) or isinstance(right, sp.MatrixBase):
        if not (isinstance(left, sp.MatrixBase) and isinstance(right, sp.MatrixBase)) or left.shape != right.shape:
            return False
        return all(close(u, v, tolerance) for u, v in zip(left, right))
    u, v = sp.N(left, DIGITS), sp.N(right, DIGITS)
    return bool(abs(u - v) <= tolerance * (1 + abs(u) + abs(v)))

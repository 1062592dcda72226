"""NumPy kernels that work in place: a SymPy expression printed as a sequence of ufunc calls.

``a*(1 - a)`` printed as an expression allocates two arrays. Printed here it becomes

    t0 = np.subtract(1.0, a)
    np.multiply(t0, a, out=t0)

and where ``a`` is no longer needed, even ``np.subtract(1.0, a, out=a)``. On arrays of a batch
(megabytes), a fresh array costs page faults that take longer than the arithmetic, so the exported
NumPy code evaluates every elementwise part this way. The emitter is a small register allocator:
it walks the (CSE'd) expression tree, emits one ufunc call per node, and writes each result into
a buffer that is dead at that point -- an input used for the last time, a temporary no longer
referenced, or an argument the caller *donates* (an intermediate array of the network the caller
will not read again). Arrays the user passed in are never donated.

Evaluation order is the one the expression's structure gives, leaves first within a product or
sum, so the stable forms of :mod:`._stable` keep their accuracy.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.numpy_nodes import logaddexp

from ._nodes import kept_erfc, log1mexp, log_softplus
from ._rows import RowLogSumExp, RowLog1mSoftmax, RowMax, RowPairwiseOthers, RowShift, RowSum
from ._stable import ordered_terms

_UNARY = {sp.exp: "np.exp", sp.log: "np.log", sp.tanh: "np.tanh", sp.Abs: "np.abs", log1p: "np.log1p",
          expm1: "np.expm1", sp.sqrt: "np.sqrt", sp.sinh: "np.sinh", sp.cosh: "np.cosh",
          sp.sin: "np.sin", sp.cos: "np.cos", sp.atan: "np.arctan", sp.sign: "np.sign"}
_HELPER = {log1mexp: "log1m_exp", log_softplus: "log_log1p_exp", RowLogSumExp: "row_logsumexp",
           RowLog1mSoftmax: "row_log1m_softmax", RowMax: "row_max", RowSum: "row_sum",
           sp.erf: "cody_erf", sp.erfc: "cody_erfc", kept_erfc: "cody_erfc"}
_RELATIONS = {">=": "np.greater_equal", ">": "np.greater", "<=": "np.less_equal", "<": "np.less",
              "==": "np.equal", "!=": "np.not_equal"}
#: conditions that combine relations, as SymPy writes the cases of relu(relu(z)) or |relu(z) - z|
_LOGICAL = {sp.And: "np.logical_and", sp.Or: "np.logical_or", sp.Xor: "np.logical_xor"}
_FULL, _COLUMN, _SCALAR, _MASK = "full", "column", "scalar", "mask"


@dataclass
class _Value:
    code: str        #: a Python name or a literal
    kind: str        #: full (m, n) array, column (m, 1), scalar, or boolean mask
    owned: bool      #: a buffer of this kernel (or donated) that may be overwritten once dead
    symbol: object = None   #: the SymPy symbol it is bound to (arguments and CSE temporaries)


class InplaceKernel:
    """Emit the body of a NumPy function evaluating ``outputs`` in place.

    ``arguments`` maps each SymPy symbol to the parameter name it arrives in and whether it is a
    full array (else a scalar); ``donated`` names the arguments the function may overwrite.
    """

    def __init__(self, arguments: dict, donated=(), scalars=()):
        self.lines: list[str] = []
        self.counter = 0
        self.free: list[str] = []
        self.pinned: dict = {}   # buffer -> count: held by a pending operation, never to be overwritten
        self.values: dict = {}
        self.uses: dict = {}
        for symbol, name in arguments.items():
            kind = _SCALAR if symbol in scalars else _FULL
            self.values[symbol] = _Value(name, kind, symbol in donated, symbol)

    # --- public -----------------------------------------------------------------------------
    def emit(self, outputs) -> list[str]:
        """``outputs``: (name, expression, 'array' | 'sum') in order; later ones may use earlier names
        as symbols. Returns the lines of the body (without the return statement)."""
        expressions = [_exact_parts_kept(expression) for _, expression, _ in outputs]
        replacements, reduced = sp.cse(expressions, symbols=self._cse_names(), order="none")
        everything = [value for _, value in replacements] + list(reduced)
        for expression in everything:
            self._count(expression)
        for symbol, value in replacements:
            result = self._evaluate(value)
            self._bind(symbol, result)
        for (name, _, kind), expression in zip(outputs, reduced):
            result = self._evaluate(expression)
            if kind == "sum":
                self._line(f"{name} = {result.code}.sum()" if result.kind != _SCALAR else f"{name} = {result.code}")
                self._release(result)
            else:
                if result.kind != _FULL or not result.owned:
                    code = result.code if result.kind == _FULL else f"np.full_like({self._any_full()}, {result.code})"
                    self._line(f"{name} = np.array({code}, dtype=np.float64)" if result.kind == _FULL else f"{name} = {code}")
                elif result.code != name:
                    self._line(f"{name} = {result.code}")
                self._bind(sp.Symbol(name), _Value(name, _FULL, False), keep=True)
        return self.lines

    # --- bookkeeping ---------------------------------------------------------------------------
    def _cse_names(self):
        taken = {value.code for value in self.values.values()}
        number = 0
        while True:
            name = f"c{number}"
            number += 1
            if name not in taken:
                yield sp.Symbol(name)

    def _count(self, expression):
        for node in sp.preorder_traversal(expression):
            if isinstance(node, sp.Symbol):
                self.uses[node] = self.uses.get(node, 0) + 1

    def _bind(self, symbol, value, keep=False):
        self.values[symbol] = _Value(value.code, value.kind, value.owned and not keep, symbol)

    def _line(self, text):
        self.lines.append(text)

    def _fresh_name(self):
        name = f"t{self.counter}"
        self.counter += 1
        return name

    def _any_full(self):
        for value in self.values.values():
            if value.kind == _FULL:
                return value.code
        raise ValueError("no array argument")

    def _use(self, symbol):
        """One use of a bound symbol: when it was the last, its buffer becomes free (if owned)."""
        value = self.values[symbol]
        self.uses[symbol] -= 1
        dead = self.uses[symbol] == 0 and not self.pinned.get(value.code)
        return _Value(value.code, value.kind, value.owned and dead, symbol)

    def _release(self, value):
        if value.owned and value.kind == _FULL and value.code not in self.free and not self.pinned.get(value.code):
            self.free.append(value.code)

    def _hold(self, value):
        """Keep ``value``'s buffer from being overwritten while sibling operands are evaluated:
        a symbol's last use inside a sibling must not recycle the buffer a pending operation reads."""
        if not value.owned:
            self.pinned[value.code] = self.pinned.get(value.code, 0) + 1
        return value

    def _unhold(self, value):
        if not value.owned and self.pinned.get(value.code):
            self.pinned[value.code] -= 1

    def _target(self, *inputs):
        """A buffer for a full result: a dying owned input, else a free buffer, else None (allocate)."""
        for value in inputs:
            if value.owned and value.kind == _FULL:
                for other in inputs:
                    if other is not value and other.owned and other.kind == _FULL:
                        self._release(other)
                return value.code
        for value in inputs:
            self._release(value)
        return self.free.pop() if self.free else None

    def _result_kind(self, *inputs):
        kinds = {value.kind for value in inputs}
        if _FULL in kinds:
            return _FULL
        if _COLUMN in kinds:
            return _COLUMN
        return _SCALAR

    def _operands(self, expressions):
        """Evaluate several operands in order, each held until all are evaluated."""
        values = []
        for expression in expressions:
            values.append(self._hold(self._evaluate(expression)))
        for value in values:
            self._unhold(value)
        return values

    def _combine(self, function, held, expression):
        """function(held, value of expression), ``held`` protected while the expression is evaluated."""
        self._hold(held)
        value = self._evaluate(expression)
        self._unhold(held)
        return self._ufunc(function, held, value)

    def _ufunc(self, function, *inputs):
        kind = self._result_kind(*inputs)
        arguments = ", ".join(value.code for value in inputs)
        if kind == _SCALAR:
            return _Value(f"{function}({arguments})", _SCALAR, False)
        if kind == _COLUMN:
            for value in inputs:
                self._release(value)
            name = self._fresh_name()
            self._line(f"{name} = {function}({arguments})")
            return _Value(name, _COLUMN, False)
        target = self._target(*inputs)
        if target is None:
            target = self._fresh_name()
            self._line(f"{target} = {function}({arguments})")
        else:
            self._line(f"{function}({arguments}, out={target})")
        return _Value(target, _FULL, True)

    # --- evaluation --------------------------------------------------------------------------------
    def _evaluate(self, expr) -> _Value:
        if isinstance(expr, sp.Symbol):
            return self._use(expr)
        if isinstance(expr, _ExactPart):       # the exact part of a sum (_exact_parts_kept)
            return self._evaluate(expr.args[0])
        if expr.is_Number or expr.is_NumberSymbol or (expr.is_number and not expr.has(sp.Symbol)):
            return _Value(repr(float(expr)) if expr.is_finite and expr.is_extended_real else _constant(expr), _SCALAR, False)
        if expr.is_Add:
            return self._add(expr)
        if expr.is_Mul:
            return self._mul(expr)
        if expr.is_Pow:
            return self._pow(expr)
        if isinstance(expr, sp.Piecewise):
            return self._piecewise(expr)
        if isinstance(expr, sp.core.relational.Relational):
            return self._relation(expr)
        if isinstance(expr, sp.logic.boolalg.Boolean):
            return self._condition(expr)
        if isinstance(expr, RowShift):
            argument = self._evaluate(expr.args[0])
            top = _Value(self._fresh_name(), _COLUMN, False)
            self._line(f"{top.code} = row_max({argument.code})")
            return self._ufunc("np.subtract", argument, top)
        if type(expr) in _UNARY:
            return self._ufunc(_UNARY[type(expr)], self._evaluate(expr.args[0]))
        if isinstance(expr, logaddexp):
            return self._ufunc("np.logaddexp", *self._operands(expr.args))
        if isinstance(expr, sp.arg):           # of a real number (SymPy's derivative of |log1p(a)|): π below 0
            return self._evaluate(sp.pi * sp.Heaviside(-expr.args[0], 0))
        if isinstance(expr, sp.Heaviside):     # the step at 0 takes SymPy's value H(0) (1/2 unless given)
            at_zero = expr.args[1] if len(expr.args) > 1 else sp.Rational(1, 2)
            return self._ufunc("np.heaviside", self._evaluate(expr.args[0]), self._evaluate(at_zero))
        if isinstance(expr, (sp.Max, sp.Min)):
            function = "np.maximum" if isinstance(expr, sp.Max) else "np.minimum"
            result = self._evaluate(expr.args[0])
            for argument in expr.args[1:]:
                result = self._combine(function, result, argument)
            return result
        if isinstance(expr, RowPairwiseOthers):
            h, z = self._operands(expr.args)
            for value in (h, z):
                self._release(value)
            name = self._fresh_name()
            self._line(f"{name} = row_pairwise_others({h.code}, {z.code})")
            return _Value(name, _FULL, True)
        if type(expr) in _HELPER:
            argument = self._evaluate(expr.args[0])
            self._release(argument)
            name = self._fresh_name()
            self._line(f"{name} = {_HELPER[type(expr)]}({argument.code})")
            kind = _COLUMN if type(expr) in (RowLogSumExp, RowMax, RowSum) else _FULL
            return _Value(name, kind, kind == _FULL)
        known = _numpy_function_name(expr)
        if known is not None:
            return self._ufunc(known, *self._operands(expr.args))
        raise NotImplementedError(f"no in-place rule for {type(expr).__name__}: {expr}")

    @staticmethod
    def _leaves_first(args):
        """Symbols and numbers first: compound terms evaluated last may then reuse the leaves' buffers."""
        return sorted(args, key=lambda arg: 0 if arg.is_Atom else 1)

    def _add(self, expr):
        exact, others = ordered_terms(expr.args)
        if len(exact) < 2:   # one exact term cannot cancel another: no order to keep
            exact, others = [], list(expr.args)
        result = None
        for group in (exact, others):   # the exact terms are summed first (see ordered_terms)
            group = self._leaves_first(group)
            positive = [term for term in group if not term.could_extract_minus_sign()]
            negative = [-term for term in group if term.could_extract_minus_sign()]
            for term in positive:
                result = self._evaluate(term) if result is None else self._combine("np.add", result, term)
            for term in negative:
                result = (self._ufunc("np.negative", self._evaluate(term)) if result is None
                          else self._combine("np.subtract", result, term))
        return result

    def _mul(self, expr):
        coefficient, factors = expr.as_coeff_mul()
        numerator = [f for f in factors if not (f.is_Pow and f.exp.is_negative)]
        denominator = [f.base ** -f.exp for f in factors if f.is_Pow and f.exp.is_negative]
        numerator = self._leaves_first(numerator)
        if numerator:
            result = self._evaluate(numerator[0])
            for factor in numerator[1:]:
                result = self._combine("np.multiply", result, factor)
            if coefficient not in (1, -1):
                result = self._ufunc("np.multiply", result, _Value(repr(float(coefficient)), _SCALAR, False))
            elif coefficient == -1:
                result = self._ufunc("np.negative", result)
        else:
            result = _Value(repr(float(coefficient)), _SCALAR, False)
        for factor in denominator:
            result = self._combine("np.divide", result, factor)
        return result

    def _pow(self, expr):
        base, exponent = expr.args
        if not exponent.is_number:     # 2^sqrt(z): the exponent is an array too
            return self._ufunc("np.power", *self._operands([base, exponent]))
        value = self._evaluate(base)
        if exponent == 2:
            return self._ufunc("np.square", value)
        if exponent == sp.Rational(1, 2):
            return self._ufunc("np.sqrt", value)
        if exponent == -1:
            return self._ufunc("np.divide", _Value("1.0", _SCALAR, False), value)
        if exponent.is_Integer and exponent < 0:
            powered = self._ufunc("np.power", value, _Value(repr(float(-exponent)), _SCALAR, False))
            return self._ufunc("np.divide", _Value("1.0", _SCALAR, False), powered)
        return self._ufunc("np.power", value, _Value(repr(float(exponent)), _SCALAR, False))

    def _relation(self, expr):
        if expr.rel_op not in _RELATIONS:
            raise NotImplementedError(f"no in-place rule for the relation {expr}")
        lhs, rhs = self._operands([expr.lhs, expr.rhs])
        for value in (lhs, rhs):
            self._release(value)
        name = self._fresh_name()
        self._line(f"{name} = {_RELATIONS[expr.rel_op]}({lhs.code}, {rhs.code})")
        return _Value(name, _MASK, False)

    def _condition(self, expr):
        """A boolean mask: True/False, And/Or/Xor/Not of relations, ITE(c, p, q) = (c and p) or (not c and q)."""
        if expr in (sp.true, sp.false):
            return _Value(str(bool(expr)), _MASK, False)
        if isinstance(expr, sp.ITE):
            condition, if_true, if_false = expr.args
            return self._condition(sp.Or(sp.And(condition, if_true), sp.And(sp.Not(condition), if_false)))
        if isinstance(expr, sp.Not):
            return self._mask("np.logical_not", [self._evaluate(expr.args[0])])
        if type(expr) in _LOGICAL:
            values = self._operands(expr.args)
            result = values[0]
            for value in values[1:]:
                result = self._mask(_LOGICAL[type(expr)], [result, value])
            return result
        raise NotImplementedError(f"no in-place rule for the condition {expr}")

    def _mask(self, function, values):
        for value in values:
            self._release(value)
        name = self._fresh_name()
        self._line(f"{name} = {function}({', '.join(value.code for value in values)})")
        return _Value(name, _MASK, False)

    def _piecewise(self, expr):
        (chosen, condition), *rest = expr.args
        otherwise = sp.Piecewise(*rest) if len(rest) > 1 or rest[0].cond != sp.true else rest[0].expr
        mask = self._evaluate(condition)   # a relation, or a CSE symbol bound to one
        if_false, if_true = self._operands([otherwise, chosen])
        if if_false.owned and if_false.kind == _FULL:
            self._line(f"np.copyto({if_false.code}, {if_true.code}, where={mask.code})")
            self._release(if_true)
            return if_false
        if if_true.owned and if_true.kind == _FULL:
            self._line(f"np.copyto({if_true.code}, {if_false.code}, where=~{mask.code})")
            self._release(if_false)
            return if_true
        for value in (if_true, if_false):
            self._release(value)
        if self.free and _FULL in (if_true.kind, if_false.kind):
            # copying into a dead buffer is cheaper than np.where's fresh array
            name = self.free.pop()
            self._line(f"np.copyto({name}, {if_false.code})")
            self._line(f"np.copyto({name}, {if_true.code}, where={mask.code})")
            return _Value(name, _FULL, True)
        name = self._fresh_name()
        self._line(f"{name} = np.where({mask.code}, {if_true.code}, {if_false.code})")
        return _Value(name, _FULL if _FULL in (if_true.kind, if_false.kind) else if_true.kind, True)


class _ExactPart(sp.UnevaluatedExpr):
    """A sum of exact terms held as one node; real where its sum is (max(0, ...) asks)."""

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_is_finite(self):
        return self.args[0].is_finite


def _exact_parts_kept(expr):
    """Each sum with two or more exact terms and others, its exact part held as one node.

    The exact terms are summed first (``ordered_terms``): (1 - y) + e^(-z) is exactly e^(-z) for y = 1.
    ``sympy.cse`` would otherwise find 1 + e^(-z) elsewhere and write (1 + e^(-z)) - y, which is 0 above
    z = 37 (the hinge loss after a sigmoid: its step then took H(0) = 1/2, half the gradient)."""
    def keep(add):
        exact, others = ordered_terms(add.args)
        if len(exact) < 2 or not others:
            return add
        return sp.Add(_ExactPart(sp.Add(*exact)), *others)
    return expr.replace(lambda e: e.is_Add, keep) if isinstance(expr, sp.Basic) else expr


def _numpy_function_name(expr):
    """np.<name> for a SymPy function SymPy's NumPy printer knows as a NumPy ufunc (sign, sinh, ...)."""
    from sympy.printing.numpy import NumPyPrinter
    name = NumPyPrinter._kf.get(type(expr).__name__)
    if name is None or not name.startswith("numpy."):
        return None
    return "np." + name[len("numpy."):]


def _constant(expr) -> str:
    if expr is sp.nan or expr is sp.zoo or expr.is_extended_real is False:
        return "np.nan"   # 0/0, 1/0 or log(-1): outside the loss's domain, not a real number
    if expr == sp.oo:
        return "np.inf"
    if expr == -sp.oo:
        return "-np.inf"
    return repr(float(expr))

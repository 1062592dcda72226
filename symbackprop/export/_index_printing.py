"""The printers of index expressions: a SymPy expression over ``Indexed`` arrays and ``Sum`` becomes
NumPy, JAX or torch array code, with no Python loop over elements.

One printer per backend, as SymPy's code printers: :class:`IndexPrinter` (NumPy) dispatches on the node's
class to a ``_print_<Class>`` method; :class:`JaxIndexPrinter` and :class:`TorchIndexPrinter` differ from
it by their module name and their table of array functions (:attr:`IndexPrinter.functions`), and their
scalar printer (:func:`._printing.printer`). :func:`index_printer` makes the one for a backend.

Every sub-expression is printed as a :class:`Term`: code for an array together with the index
each of its axes stands for. A reference ``x[n, d]`` is the array ``x`` with axes (n, d); a sum of
a product is one ``np.einsum`` (BLAS through ``optimize=True`` where the contraction is a matrix
product, einsum's own loop otherwise); any other sum is ``np.sum(..., axis=...)``; elementwise operations broadcast, the axes
of each operand transposed or given ``None`` where needed. Scalar functions (``exp``, ``sqrt``,
``Piecewise`` -> ``np.where``) are printed by the elementwise printer of :mod:`._printing`.

Sums are printed once each into a temporary (memoised by structure), so a reduction shared by two
gradients (``Σ_n dy[n, d]`` is ``dbeta`` and part of ``dx``) is computed once. Products multiply
their small factors first, so a per-column factor is formed before it meets a full array.
"""
from __future__ import annotations

import keyword
import re
import string
from dataclasses import dataclass

import sympy as sp

from ..errors import ExportError
from ._matmul import matmul_code
from ._printing import printer

#: Names the generated module uses for itself; arrays with these names are renamed.
RESERVED = {"np", "forward", "backward", "cache", "out", "dout", "shape"}


def code_name(name: str) -> str:
    """A Python identifier for an array or constant name (``lambda`` -> ``lambda_``)."""
    return name + "_" if keyword.iskeyword(name) or name in RESERVED or not name.isidentifier() else name


@dataclass(frozen=True)
class Term:
    code: str
    axes: tuple          #: the index symbol each axis of the array stands for; () for a scalar
    atomic: bool = True  #: safe to use as an operand without parentheses

    @property
    def rank(self) -> int:
        return len(self.axes)

    def wrapped(self) -> str:
        return self.code if self.atomic else f"({self.code})"


class IndexPrinter:
    """Prints index expressions into NumPy statements; temporaries are shared across statements."""

    backend = "numpy"
    module = "np"
    #: the array functions the printed code calls, as templates; a backend's printer replaces this table
    functions = {
        "sum": "np.sum({x}, axis={axis})",
        "max": "np.max({x}, axis={axis})",
        "einsum": "np.einsum('{spec}', {operands}{optimize})",
        "permute": "np.transpose({x}, {permutation})",
        "broadcast": "np.broadcast_to({x}, {shape}).copy()",
        "full": "np.full({shape}, {value}, dtype=np.float64)",
        "sqrt": "np.sqrt({x})",
        "asarray": "np.asarray({x})",
        "tensordot": "np.tensordot({a}, {b}, axes={axes!r})",
        "contiguous": "np.ascontiguousarray({x})",
        "broadcast_view": "np.broadcast_to({x}, {shape})",
    }
    #: einsum plans a matrix product through BLAS when asked (NumPy's optimize=True)
    einsum_optimize = True

    def __init__(self, names=None, prefix: str = "t", like: str = "x"):
        self.names = dict(names or {})     #: SymPy symbol or array name -> code name
        self.lines: list[str] = []
        self.memo: dict = {}
        self.prefix = prefix
        self.counter = 0
        self.like = like                   #: an array of the statement's dtype and device (torch's full)
        self.scalar = printer(self.backend)
        self.preferred: tuple = ()     #: the axes of the statement being printed: reductions produce this order
        self.ranges: dict = {}         #: index symbol -> its size (window reads need the counts)
        self.windows: set = set()      #: temporaries that are sliding-window views (contracted by tensordot)
        #: window reads already made (the forward pass's, kept in the cache): reference -> (code, axes)
        self.made: dict = {}
        self.keep_windows = False      #: materialise window reads (contiguous) to keep them in the cache
        #: materialise them with the window axes last (a routing mask's argmax), not in im2col's patch layout
        self.window_axes_last = False

    # ---- statements
    def assign(self, target: str, expr: sp.Expr, axes: tuple, shape: str, sizes: tuple = ()) -> None:
        """Append ``target = <expr as an array with exactly these axes>`` (``sizes``: the range of each axis)."""
        self.preferred = tuple(axes)
        self.ranges.update(zip(axes, sizes))
        term = self.emit(expr)
        missing = [a for a in axes if a not in term.axes]
        extra = [a for a in term.axes if a not in axes]
        if extra:
            raise ExportError(f"{target}: the expression keeps the indices {extra} that {target} does not have")
        code = self._align(term, tuple(a for a in axes if a in term.axes)) if term.rank else term.code
        if missing:
            present = tuple(a for a in axes if a in term.axes)
            if present:
                code = self.call("broadcast", x=self._align(Term(code, present, True), axes), shape=shape)
            else:
                code = self.call("full", shape=shape, value=code, like=self.like)
        self.lines.append(f"{target} = {code}")

    def temporary(self, code: str) -> str:
        self.counter += 1
        name = f"{self.prefix}{self.counter}"
        self.lines.append(f"{name} = {code}")
        return name

    def call(self, function: str, **parts) -> str:
        """The code of one of the backend's array functions (:attr:`functions`)."""
        return self.functions[function].format(**parts)

    # ---- terms
    def emit(self, expr) -> Term:
        """The Term of ``expr``: printed by the ``_print_<Class>`` method of its class (or of a base class)."""
        if not _indexed(expr):
            if expr.has(sp.KroneckerDelta):      # printed as a scalar it would read index letters never bound
                (delta, *_) = sorted(expr.atoms(sp.KroneckerDelta), key=sp.default_sort_key)
                raise ExportError(f"a Kronecker delta {delta} was left unsolved; it has no array form here")
            return Term(self._scalar(expr), (), _atomic_code(self._scalar(expr)))
        for cls in type(expr).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                return method(expr)
        return self._elementwise(expr)

    def _print_Indexed(self, expr) -> Term:
        return self._reference(expr)

    def _print_Sum(self, expr) -> Term:
        return self._sum(expr)

    def _print_Mul(self, expr) -> Term:
        return self._mul(expr)

    def _print_Add(self, expr) -> Term:
        return self._add(expr)

    def _print_Pow(self, expr) -> Term:
        return self._pow(expr) if expr.exp.is_Number else self._elementwise(expr)

    def _print_KroneckerDelta(self, expr) -> Term:
        raise ExportError(f"a Kronecker delta {expr} was left uncontracted; it has no array form here")

    def _print_FirstMax(self, expr) -> Term:          # max pooling: the routing mask
        return self._window_special(expr)

    def _print_Scatter(self, expr) -> Term:           # max pooling: the routing mask's scatter
        return self._window_special(expr)

    def _window_special(self, expr) -> Term:
        from ._conv_printing import special_term
        return special_term(self, expr, Term)

    def _scalar(self, expr) -> str:
        replacements = {s: sp.Symbol(self.names[s]) for s in expr.free_symbols if s in self.names}
        return self.scalar.doprint(expr.xreplace(replacements))

    def _reference(self, expr: sp.Indexed) -> Term:
        indices = tuple(expr.indices)
        if any(not isinstance(i, sp.Symbol) for i in indices):
            from ._conv_printing import window_term          # index arithmetic: a sliding-window read
            return window_term(self, expr, Term)
        if len(set(indices)) != len(indices):
            raise ExportError(f"{expr}: only distinct index letters are printed as arrays")
        return Term(self.names.get(expr.base.label.name, code_name(expr.base.label.name)), indices)

    def _sum(self, expr: sp.Sum) -> Term:
        key = _canonical(expr)
        if key in self.memo:
            return self.memo[key]
        summed, body = [], expr
        while isinstance(body, sp.Sum):
            summed.extend(limit for limit in reversed(body.limits))
            body = body.function
        variables = [limit[0] for limit in summed]
        self.ranges.update({var: hi - lo + 1 for var, lo, hi in summed})
        scalars, arrays = [], []
        for factor in sp.Mul.make_args(body):
            (arrays if _indexed(factor) else scalars).append(factor)
        terms = [self.emit(f) for f in arrays] if len(arrays) > 1 else [self.emit(sp.Mul(*arrays))]
        present = {a for t in terms for a in t.axes}
        multiplier = sp.Mul(*scalars) * sp.Mul(*[limit[2] - limit[1] + 1 for limit in summed if limit[0] not in present])
        out = tuple(dict.fromkeys(a for t in terms for a in t.axes if a not in variables))
        out = tuple(sorted(out, key=lambda a: self.preferred.index(a) if a in self.preferred else len(self.preferred)))
        if len(terms) > 1:
            from ._conv_printing import tensordot_code
            code = (matmul_code(terms, out, self._permuted) or tensordot_code(terms, out, self.windows, self)
                    or self._einsum(terms, out))
        else:
            term = terms[0]
            positions = tuple(term.axes.index(v) for v in variables if v in term.axes)
            axis = positions[0] if len(positions) == 1 else positions
            code = self.call("sum", x=term.code, axis=axis)
            out = tuple(a for a in term.axes if a not in variables)
        if multiplier != 1:
            code = f"{self._scalar(multiplier)} * {code}"
        result = Term(self.temporary(code), out)
        self.memo[key] = result
        return result

    def _einsum(self, terms, out) -> str:
        letters, free = {}, iter(c for c in string.ascii_letters)
        used = set()
        for term in terms:
            for axis in term.axes:
                if axis in letters:
                    continue
                name = str(axis)
                if len(name) == 1 and name in string.ascii_letters and name not in used:
                    letters[axis] = name
                else:
                    letters[axis] = next(c for c in free if c not in used and c not in {str(a) for a in letters})
                used.add(letters[axis])
        spec = ",".join("".join(letters[a] for a in t.axes) for t in terms) + "->" + "".join(letters[a] for a in out)
        operands = ", ".join(t.code for t in terms)
        # a matrix product (two operands, a shared summed index, no kept index in both) goes to BLAS through
        # optimize=True; anything else is faster in einsum's own loop (optimize=True made 'kd,kd->d' 10x slower)
        matrix_product = (len(terms) == 2 and set(terms[0].axes) & set(terms[1].axes) - set(out)
                          and not set(terms[0].axes) & set(terms[1].axes) & set(out))
        optimize = ", optimize=True" if matrix_product and self.einsum_optimize else ""
        return self.call("einsum", spec=spec, operands=operands, optimize=optimize)

    def _mul(self, expr) -> Term:
        coefficient, factors = expr.as_coeff_mul()
        parts = []
        for factor in factors:
            if isinstance(factor, sp.Pow) and factor.exp.is_Number and factor.exp < 0:
                parts.append(("/", self.emit(factor.base ** -factor.exp)))
            else:
                parts.append(("*", self.emit(factor)))
        parts.sort(key=lambda part: part[1].rank)       # small factors meet each other first
        if coefficient != 1 and coefficient != -1:
            parts.insert(0, ("*", Term(self._scalar(coefficient), (), _atomic_code(self._scalar(coefficient)))))
        op, acc = parts[0]
        if op == "/":
            acc = Term(f"1 / {acc.wrapped()}", acc.axes, False)
        for op, term in parts[1:]:
            acc = self._combine(acc, op, term)
        if coefficient == -1:
            acc = Term(f"-{acc.wrapped()}", acc.axes, False)
        return acc

    def _add(self, expr) -> Term:
        # the largest terms first, a positive one leading, so no pass is spent negating a full array
        terms = sorted(sp.Add.make_args(expr), key=lambda t: (-len(_axes_of(t)), t.could_extract_minus_sign()))
        acc = None
        for term in terms:
            negative = term.could_extract_minus_sign()
            emitted = self.emit(-term if negative else term)
            if acc is None:
                acc = Term(f"-{emitted.wrapped()}", emitted.axes, False) if negative else emitted
            else:
                acc = self._combine(acc, "-" if negative else "+", emitted)
        return acc

    def _pow(self, expr) -> Term:
        base = self.emit(expr.base)
        exponent = expr.exp
        if exponent == sp.Rational(1, 2):
            return Term(self.call("sqrt", x=base.code), base.axes)
        if exponent == -sp.Rational(1, 2):
            return Term(f"1 / {self.call('sqrt', x=base.code)}", base.axes, False)
        if exponent == -1:
            return Term(f"1 / {base.wrapped()}", base.axes, False)
        power = self._scalar(exponent) if exponent.is_Integer and exponent >= 0 else f"({self._scalar(exponent)})"
        return Term(f"{base.wrapped()}**{power}", base.axes, False)

    def _elementwise(self, expr) -> Term:
        """exp, log, tanh, Piecewise, relations, ...: operands aligned, the function printed by the NumPy printer."""
        operands = {}
        for node in _maximal_indexed(expr):
            operands[node] = self.emit(node)
        union = _union([t.axes for t in operands.values()])
        placeholders = {}
        for number, (node, term) in enumerate(operands.items()):
            placeholders[node] = (sp.Symbol(f"_ph{number}_", real=True), self._align(term, union, wrap=True))
        code = self._scalar(expr.xreplace({node: symbol for node, (symbol, _) in placeholders.items()}))
        for symbol, text in sorted(placeholders.values(), key=lambda p: -len(p[0].name)):
            code = re.sub(rf"\b{re.escape(symbol.name)}\b", lambda _m, text=text: text, code)
        return Term(code, union, _atomic_code(code))

    def _combine(self, left: Term, op: str, right: Term) -> Term:
        union = _union([left.axes, right.axes]) if left.rank >= right.rank else _union([right.axes, left.axes])
        return Term(f"{self._align(left, union, wrap=True)} {op} {self._align(right, union, wrap=True)}", union, False)

    def _permuted(self, code: str, permutation: tuple) -> str:
        return self.call("permute", x=code, permutation=permutation)

    def _align(self, term: Term, union: tuple, wrap: bool = False) -> str:
        """The code of ``term`` as an array broadcastable against axes ``union``."""
        code = term.wrapped() if wrap or term.axes != union else term.code
        if not term.axes or term.axes == union:
            return code
        order = tuple(a for a in union if a in term.axes)
        if order != term.axes:
            permutation = tuple(term.axes.index(a) for a in order)
            code = f"{term.wrapped()}.T" if len(order) == 2 else self._permuted(term.code, permutation)
        if order == union[len(union) - len(order):]:
            return code                                   # trailing axes: NumPy broadcasting aligns them
        slots = [":" if a in term.axes else "None" for a in union]
        while slots and slots[0] == "None":
            slots.pop(0)
        return f"{code}[{', '.join(slots)}]" if _atomic_code(code) else f"({code})[{', '.join(slots)}]"


class JaxIndexPrinter(IndexPrinter):
    """Prints index expressions into ``jax.numpy`` statements (arrays are immutable: a broadcast is not copied)."""

    backend = "jax"
    module = "jnp"
    functions = {
        "sum": "jnp.sum({x}, axis={axis})",
        "max": "jnp.max({x}, axis={axis})",
        "einsum": "jnp.einsum('{spec}', {operands})",
        "permute": "jnp.transpose({x}, {permutation})",
        "broadcast": "jnp.broadcast_to({x}, {shape})",
        "full": "jnp.full({shape}, {value}, dtype={like}.dtype)",
        "sqrt": "jnp.sqrt({x})",
        "asarray": "jnp.asarray({x})",
        "softmax": "jax.nn.softmax({x}, axis={axis})",
        "tensordot": "jnp.tensordot({a}, {b}, axes={axes!r})",
        "contiguous": "{x}",
        "broadcast_view": "jnp.broadcast_to({x}, {shape})",
    }
    einsum_optimize = False


class TorchIndexPrinter(IndexPrinter):
    """Prints index expressions into torch statements, on the device and in the dtype of the arrays given."""

    backend = "torch"
    module = "torch"
    functions = {
        "sum": "torch.sum({x}, dim={axis})",
        "max": "torch.amax({x}, dim={axis})",
        "einsum": "torch.einsum('{spec}', {operands})",
        "permute": "torch.permute({x}, {permutation})",
        "broadcast": "torch.broadcast_to({x}, {shape}).clone()",
        "full": "torch.full({shape}, {value}, dtype={like}.dtype, device={like}.device)",
        "sqrt": "torch.sqrt({x})",
        "asarray": "torch.as_tensor({x})",
        "softmax": "torch.softmax({x}, dim={axis})",
        "tensordot": "torch.tensordot({a}, {b}, dims={axes!r})",
        "contiguous": "{x}.contiguous()",
        "broadcast_view": "torch.broadcast_to({x}, {shape})",
    }
    einsum_optimize = False

    def _einsum(self, terms, out) -> str:
        """A contraction that is no matrix product (``kd,kd->d``) as the broadcast product summed: torch.einsum
        routes it through batched matrix products, 17x slower at 4096 x 1024 (measured 686 ms against 40 ms)."""
        shared = set(terms[0].axes).intersection(*[t.axes for t in terms[1:]]) if len(terms) > 1 else set()
        if len(terms) == 2 and shared - set(out) and not shared & set(out):
            return super()._einsum(terms, out)
        # the largest operand's own axis order: no transposed view to sum
        union = _union([t.axes for t in sorted(terms, key=lambda t: -t.rank)])
        product = " * ".join(self._align(t, union, wrap=True) for t in terms)
        summed = tuple(position for position, a in enumerate(union) if a not in out)
        if not summed:
            return product
        code = self.call("sum", x=f"({product})", axis=summed)
        kept = tuple(a for a in union if a in out)
        return code if kept == tuple(out) else self._permuted(code, tuple(kept.index(a) for a in out))


INDEX_PRINTERS = {"numpy": IndexPrinter, "jax": JaxIndexPrinter, "torch": TorchIndexPrinter}


def index_printer(backend: str, names=None, prefix: str = "t", like: str = "x") -> IndexPrinter:
    """A fresh index printer for ``backend`` ('numpy', 'jax' or 'torch')."""
    return INDEX_PRINTERS[backend](names, prefix=prefix, like=like)


def shape_code(sizes) -> str:
    """A shape as Python code: ``(N, H)``, and ``(N,)`` for one axis."""
    return "(" + ", ".join(map(str, sizes)) + ("," if len(sizes) == 1 else "") + ")"


def _indexed(expr) -> bool:
    return bool(expr.atoms(sp.Indexed))


def _axes_of(expr) -> set:
    """The free indices of an expression (those of its references not bound by a sum)."""
    if isinstance(expr, sp.Indexed):
        return set(expr.indices)
    if isinstance(expr, sp.Sum):
        return _axes_of(expr.function) - {limit[0] for limit in expr.limits}
    found = set()
    for arg in expr.args:
        found |= _axes_of(arg)
    return found


def _maximal_indexed(expr):
    """The outermost sub-expressions that are references or sums, in order."""
    if isinstance(expr, (sp.Indexed, sp.Sum)):
        return [expr]
    found = []
    for arg in expr.args:
        for node in _maximal_indexed(arg):
            if node not in found:
                found.append(node)
    return found


def _union(axes_lists) -> tuple:
    return tuple(dict.fromkeys(a for axes in axes_lists for a in axes))


def _canonical(expr: sp.Sum):
    """A key equal for sums that differ only in the names of their bound indices."""
    mapping, counter = {}, 0

    def visit(node):
        nonlocal counter
        if isinstance(node, sp.Sum):
            for limit in node.limits:
                counter += 1
                mapping[limit[0]] = sp.Symbol(f"_bound{counter}", integer=True)
            return sp.Sum(visit(node.function), *[(mapping[v], lo, hi) for v, lo, hi in node.limits])
        if not node.args or isinstance(node, sp.Indexed):
            return node.xreplace(mapping) if isinstance(node, sp.Indexed) else mapping.get(node, node)
        return node.func(*[visit(arg) for arg in node.args])

    return sp.srepr(visit(expr))


_ATOMIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(\(.*\))?$|^\d+(\.\d*)?$")


def _atomic_code(code: str) -> bool:
    if not _ATOMIC.match(code):
        return False
    if "(" in code:    # a call: atomic only if its first '(' closes at the end
        depth = 0
        for position, ch in enumerate(code):
            depth += (ch == "(") - (ch == ")")
            if depth == 0 and ch == ")" and position != len(code) - 1:
                return False
    return True

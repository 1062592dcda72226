"""Code printers for the exported modules: SymPy's NumPy, JAX and PyTorch printers, extended by
one ``_print_*`` method per node the stable rewriting introduces.

The elementwise parts of an exported module are *printed* from SymPy expressions by these
printers; :data:`HELPERS` holds the few small array functions the printed code calls
(``log1p_exp`` for logaddexp(0, x), the row reductions of a softmax layer, ...), written once
per backend.
"""
from __future__ import annotations

import re

import sympy as sp
from sympy.printing.numpy import JaxPrinter, NumPyPrinter

from . import _erf

BACKENDS = ("numpy", "jax", "torch")

#: How each backend's module is imported in an exported module, and its alias.
IMPORTS = {"numpy": ("import numpy as np", "np"),
           "jax": ("import jax\nimport jax.numpy as jnp", "jnp"),
           "torch": ("import torch", "torch")}


class _ArrayPrinterMixin:
    """What every backend prints the same way, given ``self._xp`` (np, jnp or torch)."""

    _xp = "np"
    _aliases: tuple = ()

    def _module_format(self, fqn, register=True):
        for prefix, alias in self._aliases:
            if fqn.startswith(prefix):
                return alias + fqn[len(prefix):]
        return fqn

    def _print_Relational(self, expr):
        return f"({self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)})"

    def _print_Piecewise(self, expr):
        branches = list(expr.args)
        if branches[-1].cond != sp.true:
            branches.append(sp.ExprCondPair(sp.nan, sp.true))
        text = self._print_branch(branches[-1].expr)
        for branch in reversed(branches[:-1]):
            text = f"{self._where}({self._print(branch.cond)}, {self._print_branch(branch.expr)}, {text})"
        return text

    def _print_branch(self, expr):
        return self._print(expr)

    def _print_Heaviside(self, expr):
        # SymPy's code printers rewrite H as a Piecewise, whose construction asks its solvers about the
        # conditions: minutes for the step of a nested max/min (issue 18). The same where() is printed
        # from the argument directly.
        argument = self._print(expr.args[0])
        at_zero = expr.args[1] if len(expr.args) > 1 else sp.Rational(1, 2)
        if at_zero == 0:
            return f"({self._where}(({argument} <= 0), 0, 1))"
        if at_zero == 1:
            return f"({self._where}(({argument} < 0), 0, 1))"
        return f"({self._where}(({argument} < 0), 0, {self._where}(({argument} == 0), {self._print(at_zero)}, 1)))"

    @property
    def _where(self):
        return f"{self._xp}.where"

    def _print_logaddexp(self, expr):
        x1, x2 = expr.args
        if x1 == 0 or x2 == 0:
            return f"log1p_exp({self._print(x2 if x1 == 0 else x1)})"
        return f"{self._xp}.logaddexp({self._print(x1)}, {self._print(x2)})"

    def _print_log1p(self, expr):
        return f"{self._xp}.log1p({self._print(expr.args[0])})"

    def _print_expm1(self, expr):
        return f"{self._xp}.expm1({self._print(expr.args[0])})"

    def _print_log1mexp(self, expr):
        return f"log1m_exp({self._print(expr.args[0])})"

    def _print_log_softplus(self, expr):
        return f"log_log1p_exp({self._print(expr.args[0])})"

    def _print_RowMax(self, expr):
        return f"row_max({self._print(expr.args[0])})"

    def _print_RowShift(self, expr):
        argument = self._print(expr.args[0])
        return f"({argument} - row_max({argument}))"

    def _print_RowSum(self, expr):
        return f"row_sum({self._print(expr.args[0])})"

    def _print_RowLogSumExp(self, expr):
        return f"row_logsumexp({self._print(expr.args[0])})"

    def _print_RowPairwiseOthers(self, expr):
        return f"row_pairwise_others({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_RowLog1mSoftmax(self, expr):
        return f"row_log1m_softmax({self._print(expr.args[0])})"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Add(self, expr, order=None):
        from ._stable import ordered_terms
        exact, others = ordered_terms(list(expr.args))
        if not exact or not others or len(expr.args) < 3:
            return super()._print_Add(expr, order=order)
        first = super()._print_Add(sp.Add(*exact), order=order) if len(exact) > 1 else self._print(exact[0])
        rest = self._print(sp.Add(*others))
        glue = " - " if rest.startswith("-") else " + "
        return f"({first}){glue}{rest[1:] if rest.startswith('-') else rest}"

    def _print_Pow(self, expr, rational=False):
        if expr.exp == -1:
            return f"1/{self.parenthesize(expr.base, 60)}"
        return super()._print_Pow(expr, rational=rational)

    def _print_Max(self, expr):
        return self._minmax(expr, "maximum")

    def _print_Min(self, expr):
        return self._minmax(expr, "minimum")

    def _minmax(self, expr, name):
        args = sorted(expr.args, key=lambda arg: arg.is_number)   # the array first: np.maximum(z, 0)
        text = self._print(args[0])
        for arg in args[1:]:
            text = f"{self._xp}.{name}({text}, {self._print(arg)})"
        return text

    def _print_kept_erfc(self, expr):   # SymPy's printers do not fall back to a renamed subclass's parent
        return self._print_erfc(expr)

    def _print_ComplexInfinity(self, expr):   # 0/0 or 1/0 outside the loss's domain: not a number
        return self._print(sp.nan)


class NumPyCodePrinter(_ArrayPrinterMixin, NumPyPrinter):
    _xp = "np"
    _aliases = (("numpy.", "np."),)

    def _print_erf(self, expr):     # NumPy has no erf: the module carries Cody's (export/_erf.py)
        return f"cody_erf({self._print(expr.args[0])})"

    def _print_erfc(self, expr):
        return f"cody_erfc({self._print(expr.args[0])})"


class JaxCodePrinter(_ArrayPrinterMixin, JaxPrinter):
    _xp = "jnp"
    _aliases = (("jax.numpy.", "jnp."),)

    def _print_erf(self, expr):     # JAX's own erf (SymPy's JaxPrinter would print math.erf)
        return f"jax.scipy.special.erf({self._print(expr.args[0])})"

    def _print_erfc(self, expr):
        return f"jax.scipy.special.erfc({self._print(expr.args[0])})"


def _torch_printer_class():
    # sympy.printing.pytorch imports torch when it is imported (seconds): only for the torch backend.
    from sympy.printing.pytorch import TorchPrinter

    class TorchCodePrinter(_ArrayPrinterMixin, TorchPrinter):
        _xp = "torch"
        _aliases = ()

        def _print_Pow(self, expr):
            base, exponent = expr.args
            if exponent == -1:
                return f"1/{self.parenthesize(base, 50)}"
            if exponent.is_Integer or exponent.is_Rational:
                return f"{self.parenthesize(base, 60)}**{self._print(exponent) if exponent.is_Integer else '(' + self._print(exponent) + ')'}"
            return super()._print_Pow(expr)

        def _print_log(self, expr):
            if expr.args[0].is_number:    # torch.log needs a tensor: a constant is printed as a float
                return repr(float(expr))
            return f"torch.log({self._print(expr.args[0])})"

        def _print_exp(self, expr):
            if expr.args[0].is_number:
                return repr(float(expr))
            return f"torch.exp({self._print(expr.args[0])})"

        def _minmax(self, expr, name):
            # torch.maximum needs two tensors; against a constant it is clamp
            arrays = [arg for arg in expr.args if not arg.is_number]
            constants = [arg for arg in expr.args if arg.is_number]
            text = self._print(arrays[0])
            for arg in arrays[1:]:
                text = f"torch.{name}({text}, {self._print(arg)})"
            for arg in constants:
                text = f"torch.clamp({text}, {'min' if name == 'maximum' else 'max'}={float(arg)!r})"
            return text

        def _print_branch(self, expr):
            # torch.where of two Python numbers is float32 (g' = 1/6 or 0 of hard-sigmoid): a float64 tensor
            if expr.is_number:
                return f"torch.tensor({self._print(expr)}, dtype=torch.float64)"
            return self._print(expr)

        def _print_erf(self, expr):
            return f"torch.special.erf({self._print(expr.args[0])})"

        def _print_erfc(self, expr):
            return f"torch.special.erfc({self._print(expr.args[0])})"

        def _print_Heaviside(self, expr):   # torch.heaviside takes H(0) as a tensor
            at_zero = expr.args[1] if len(expr.args) > 1 else sp.Rational(1, 2)
            argument = self._print(expr.args[0])
            return f"torch.heaviside({argument}, torch.tensor({float(at_zero)!r}, dtype=torch.float64))"

        def _print_NaN(self, expr):
            return "float('nan')"

        def _print_Infinity(self, expr):
            return "float('inf')"

        def _print_NegativeInfinity(self, expr):
            return "float('-inf')"

    return TorchCodePrinter


_PRINTERS = {"numpy": NumPyCodePrinter, "jax": JaxCodePrinter}


def printer(backend: str):
    """A fresh printer for ``backend`` ('numpy', 'jax' or 'torch')."""
    if backend not in _PRINTERS:
        _PRINTERS["torch"] = _torch_printer_class()
    return _PRINTERS[backend]({"fully_qualified_modules": True, "strict": True})


# --- helper functions of the exported modules, per backend ------------------------------------
# Each is small, and each says why it exists. They are copied into a module only when its printed
# code calls them.
_NUMPY_HELPERS = {
    "log1p_exp": '''
def log1p_exp(x):
    """log(1 + exp(x)) (softplus) without overflow: np.logaddexp(0, x)."""
    return np.logaddexp(0.0, x)
''',
    "log1m_exp": '''
def log1m_exp(x):
    """log(1 - exp(-x)) for x >= 0, accurate for small and large x (Maechler 2012)."""
    small = x <= 0.6931471805599453
    with np.errstate(divide="ignore", invalid="ignore"):   # each branch is used only where it is accurate
        return np.where(small, np.log(-np.expm1(-x)), np.log1p(-np.exp(-np.maximum(x, 0.6931471805599453))))
''',
    "log_log1p_exp": '''
def log_log1p_exp(x):
    """log(log(1 + exp(x))): below x = -20, log(1 + exp(x)) rounds towards 0, its logarithm is x - exp(x)/2."""
    far = x < -20.0
    return np.where(far, x - 0.5 * np.exp(np.minimum(x, -20.0)), np.log(np.logaddexp(0.0, np.maximum(x, -20.0))))
''',
    "row_max": '''
def row_max(x):
    """The largest entry of each row, as a column."""
    return x.max(axis=1, keepdims=True)
''',
    "row_sum": '''
def row_sum(x):
    """The sum of each row, as a column."""
    return x.sum(axis=1, keepdims=True)
''',
    "row_logsumexp": '''
def row_logsumexp(x):
    """log(sum_p exp(x_p - M)) of each row, M its maximum: between 0 and log(n), as a column.
    The largest term is exp(0) = 1; the others are summed apart and log1p is taken, so a row in
    which one entry dominates keeps the tiny log(1 + rest) instead of rounding it to 0."""
    rows = np.arange(x.shape[0])
    first = x.argmax(axis=1)
    scaled = np.exp(x - x[rows, first][:, None])
    scaled[rows, first] = 0.0
    return np.log1p(scaled.sum(axis=1, keepdims=True))
''',
    "row_log1m_softmax": '''
def row_log1m_softmax(x):
    """log(1 - softmax_k(x)) for every entry k, without forming 1 - softmax_k, which rounds to 0 where
    entry k dominates its row: -log1p(e_k / sum_{p != k} e_p) below the row maximum (that sum holds
    the maximum's e = 1: no cancellation), log(R) - log1p(R) at it, R = sum_{p != k} exp(x_p - x_k)."""
    rows = np.arange(x.shape[0])
    first = x.argmax(axis=1)
    top = x[rows, first][:, None]
    scaled = np.exp(x - top)
    total = scaled.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):   # at the maximum: replaced just below
        result = -np.log1p(scaled / (total - scaled))
    others = x.copy()
    others[rows, first] = -np.inf
    second = others.max(axis=1, keepdims=True)
    log_rest = second - top + np.log(np.exp(others - second).sum(axis=1, keepdims=True))
    result[rows, first] = (log_rest - np.log1p(np.exp(log_rest)))[:, 0]
    return result
''',
    "row_pairwise_others": '''
def row_pairwise_others(h, z):
    """sum over k != i of h_k a_i / (1 - a_k), a = softmax(z), for every unit i. Each a_i / (1 - a_k)
    is at most 1 and is computed as exp(log a_i - log(1 - a_k)): nothing overflows where one unit
    dominates its row (the odds a_k / (1 - a_k) would). An (m, n, n) intermediate."""
    log_a = z - z.max(axis=1, keepdims=True) - row_logsumexp(z)
    exponent = log_a[:, :, None] - row_log1m_softmax(z)[:, None, :]
    units = np.arange(z.shape[1])
    exponent[:, units, units] = -np.inf     # k = i is not in the sum (and a_i/(1 - a_i) may overflow)
    return np.einsum("xk,xik->xi", h, np.exp(exponent))
''',
}

_JAX_HELPERS = {
    "log1p_exp": '''
def log1p_exp(x):
    """log(1 + exp(x)) (softplus) without overflow."""
    return jnp.logaddexp(0.0, x)
''',
    "log1m_exp": '''
def log1m_exp(x):
    """log(1 - exp(-x)) for x >= 0, accurate for small and large x (Maechler 2012)."""
    cut = 0.6931471805599453
    return jnp.where(x <= cut, jnp.log(-jnp.expm1(-jnp.minimum(x, cut))), jnp.log1p(-jnp.exp(-jnp.maximum(x, cut))))
''',
    "log_log1p_exp": '''
def log_log1p_exp(x):
    """log(log(1 + exp(x))): below x = -20 it is x - exp(x)/2."""
    return jnp.where(x < -20.0, x - 0.5 * jnp.exp(jnp.minimum(x, -20.0)), jnp.log(jnp.logaddexp(0.0, jnp.maximum(x, -20.0))))
''',
    "row_max": '''
def row_max(x):
    return x.max(axis=1, keepdims=True)
''',
    "row_sum": '''
def row_sum(x):
    return x.sum(axis=1, keepdims=True)
''',
    "row_logsumexp": '''
def row_logsumexp(x):
    """log(sum_p exp(x_p - M)) of each row, M its maximum, as a column; log1p of the terms but the largest."""
    first = jax.nn.one_hot(x.argmax(axis=1), x.shape[1], dtype=bool)
    scaled = jnp.where(first, 0.0, jnp.exp(x - x.max(axis=1, keepdims=True)))
    return jnp.log1p(scaled.sum(axis=1, keepdims=True))
''',
    "row_log1m_softmax": '''
def row_log1m_softmax(x):
    """log(1 - softmax_k(x)) for every entry k, without forming 1 - softmax_k."""
    first = jax.nn.one_hot(x.argmax(axis=1), x.shape[1], dtype=bool)
    top = x.max(axis=1, keepdims=True)
    scaled = jnp.exp(x - top)
    total = scaled.sum(axis=1, keepdims=True)
    below = -jnp.log1p(scaled / jnp.where(first, 1.0, total - scaled))
    others = jnp.where(first, -jnp.inf, x)
    second = others.max(axis=1, keepdims=True)
    log_rest = second - top + jnp.log(jnp.exp(others - second).sum(axis=1, keepdims=True))
    return jnp.where(first, log_rest - jnp.log1p(jnp.exp(log_rest)), below)
''',
    "row_pairwise_others": '''
def row_pairwise_others(h, z):
    """sum over k != i of h_k a_i / (1 - a_k), a = softmax(z), each ratio as exp(...) <= 1."""
    log_a = z - z.max(axis=1, keepdims=True) - row_logsumexp(z)
    exponent = log_a[:, :, None] - row_log1m_softmax(z)[:, None, :]
    exponent = jnp.where(jnp.eye(z.shape[1], dtype=bool)[None, :, :], -jnp.inf, exponent)
    return jnp.einsum("xk,xik->xi", h, jnp.exp(exponent))
''',
}

_TORCH_HELPERS = {
    "log1p_exp": '''
def log1p_exp(x):
    """log(1 + exp(x)) (softplus) without overflow."""
    return torch.logaddexp(x, torch.zeros((), dtype=x.dtype))
''',
    "log1m_exp": '''
def log1m_exp(x):
    """log(1 - exp(-x)) for x >= 0, accurate for small and large x (Maechler 2012)."""
    cut = 0.6931471805599453
    return torch.where(x <= cut, torch.log(-torch.expm1(-torch.clamp(x, max=cut))), torch.log1p(-torch.exp(-torch.clamp(x, min=cut))))
''',
    "log_log1p_exp": '''
def log_log1p_exp(x):
    """log(log(1 + exp(x))): below x = -20 it is x - exp(x)/2."""
    return torch.where(x < -20.0, x - 0.5 * torch.exp(torch.clamp(x, max=-20.0)),
                       torch.log(log1p_exp(torch.clamp(x, min=-20.0))))
''',
    "row_max": '''
def row_max(x):
    return x.amax(dim=1, keepdim=True)
''',
    "row_sum": '''
def row_sum(x):
    return x.sum(dim=1, keepdim=True)
''',
    "row_logsumexp": '''
def row_logsumexp(x):
    """log(sum_p exp(x_p - M)) of each row, M its maximum, as a column; log1p of the terms but the largest."""
    first = torch.nn.functional.one_hot(x.argmax(dim=1), x.shape[1]).bool()
    scaled = torch.exp(x - x.amax(dim=1, keepdim=True)).masked_fill(first, 0.0)
    return torch.log1p(scaled.sum(dim=1, keepdim=True))
''',
    "row_log1m_softmax": '''
def row_log1m_softmax(x):
    """log(1 - softmax_k(x)) for every entry k, without forming 1 - softmax_k."""
    first = torch.nn.functional.one_hot(x.argmax(dim=1), x.shape[1]).bool()
    top = x.amax(dim=1, keepdim=True)
    scaled = torch.exp(x - top)
    total = scaled.sum(dim=1, keepdim=True)
    below = -torch.log1p(scaled / torch.where(first, torch.ones((), dtype=x.dtype), total - scaled))
    others = x.masked_fill(first, float('-inf'))
    second = others.amax(dim=1, keepdim=True)
    log_rest = second - top + torch.log(torch.exp(others - second).sum(dim=1, keepdim=True))
    return torch.where(first, log_rest - torch.log1p(torch.exp(log_rest)), below)
''',
    "row_pairwise_others": '''
def row_pairwise_others(h, z):
    """sum over k != i of h_k a_i / (1 - a_k), a = softmax(z), each ratio as exp(...) <= 1."""
    log_a = z - z.amax(dim=1, keepdim=True) - row_logsumexp(z)
    exponent = log_a[:, :, None] - row_log1m_softmax(z)[:, None, :]
    exponent = exponent.masked_fill(torch.eye(z.shape[1], dtype=torch.bool)[None, :, :], float('-inf'))
    return torch.einsum("xk,xik->xi", h, torch.exp(exponent))
''',
}

_NUMPY_HELPERS.update(_erf.NUMPY_HELPERS)

HELPERS = {"numpy": _NUMPY_HELPERS, "jax": _JAX_HELPERS, "torch": _TORCH_HELPERS}

#: Helpers that call other helpers.
HELPER_NEEDS = {"log_log1p_exp": ("log1p_exp",), "row_pairwise_others": ("row_log1m_softmax", "row_logsumexp"),
                **_erf.NEEDS}


def helpers_called(code: str) -> list[str]:
    """The helper names ``code`` calls, with the helpers they need, in a stable order."""
    # a call of the helper itself, not of np.erf-like attributes or longer names (erf in erfc)
    names = [name for name in _NUMPY_HELPERS if re.search(rf"(?<![\w.]){name}\(", code)]
    for name in list(names):
        for needed in HELPER_NEEDS.get(name, ()):
            if needed not in names:
                names.append(needed)
    order = list(_NUMPY_HELPERS)
    return sorted(set(names), key=order.index)

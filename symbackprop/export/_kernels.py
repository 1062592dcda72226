"""The elementwise parts of the exported code, as SymPy expressions taken from the Derivation.

A :class:`Kernel` is one array function of the exported module: an activation g(z), the
derivative g' a hidden δ^l multiplies by, the cost of the output layer ℓ(g(z^L), y), δ^L.
Its expression comes from the derivation (δ^L, g' in their derived unit forms) or from the
catalogue definitions composed (the cost ℓ(g(z), y)), and is made numerically stable by
:func:`~._stable.stabilise`. Nothing here is written per activation or per loss.

Which form is printed
---------------------
* δ^L and g' are printed in the derived unit form over ``a`` (``a - y``, ``a*(1 - a)``) when that
  form is a polynomial in ``a``: it reuses the activations of the forward pass and loses at most a
  few units in the last place relative to its largest term. A form that divides by an expression
  in ``a`` (``(a - y)/(1 - a)``) would divide by a rounded zero where the activation saturates;
  there ``a`` is replaced by its definition g(z) and the result is rewritten stably in ``z``.
* The cost is always composed in ``z``, ℓ(g(z), y), and rewritten: log σ(z) becomes
  min(z, 0) - log1p(exp(-|z|)), which never forms log(0).
* A coupled activation must be a normalised exponential exp(z_k) / Σ_p exp(z_p) (softmax); it is
  evaluated with the row maximum subtracted, log a_k = z_k - logsumexp(z) and
  log(1 - a_k) = -log1p(e^{z_k} / Σ_{p≠k} e^{z_p}) (row_log1m_softmax). Where its δ^L divides by
  1 - a_k (a loss with log(1 - a)), the term k = i of Σ_k is taken out and cancelled exactly, and
  the rest is Σ_{k≠i} h_k a_i/(1 - a_k) with every ratio a_i/(1 - a_k) <= 1 (row_pairwise_others).
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass

import sympy as sp

from ..big_numbers import sstr
from .. import symbols as S
from ..catalogue import Activation, Loss
from ..derivation import Derivation
from ..errors import ExportError
from ._rows import RowLogSumExp, RowLog1mSoftmax, RowPairwiseOthers, RowShift, RowSum
from ._stable import stabilise

A, Y, Z, E = S.a, S.y, S.z, S.e
UNIT_ARGUMENTS = (A, Y, Z, E)


@dataclass(frozen=True)
class Kernel:
    """One elementwise array function of an exported module."""

    name: str
    arguments: tuple          #: SymPy symbols (a, y, z, e), in the order of the function's parameters
    expression: sp.Expr       #: what is printed (already in stable form)
    formula: str              #: the formula as derived, for the docstring, e.g. 'a - y'
    note: str = ""            #: one line: where it comes from / how it is evaluated

    def __post_init__(self):
        large = _beyond_float64(self.expression)
        if large is not None:
            text = sstr(large) if len(sstr(large)) <= 40 else f"{sp.N(large, 4)}"
            raise ExportError(f"the constant {text} in {self.note or self.name} is "
                              f"beyond float64's range (about ±1.8e308): the exported code would compute inf; "
                              f"rescale the expression so that its constants are representable")

    @property
    def returns_argument(self) -> bool:
        """True when the kernel returns one of its arguments unchanged (the identity)."""
        return self.expression in self.arguments


_FLOAT64_MAX = 1.7976931348623157e308


def _beyond_float64(expr):
    """The first constant of ``expr`` (a largest numeric subexpression) whose value float64 cannot hold,
    or None: exp(1000) would be printed as inf (a NameError in the module, or an inf in every gradient)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if not isinstance(node, sp.Basic):
            continue
        if node.is_number and not node.is_Atom or node.is_Float or node.is_Rational:
            try:
                value = complex(sp.N(node, 15))
            except (TypeError, ValueError, OverflowError):
                continue
            if abs(value) > _FLOAT64_MAX:
                return node
            continue
        stack.extend(node.args)
    return None


def _arguments(expr: sp.Expr) -> tuple:
    free = expr.free_symbols
    return tuple(symbol for symbol in UNIT_ARGUMENTS if symbol in free) or (Z,)


def _concrete(expr: sp.Expr, activation: Activation | None) -> sp.Expr:
    if activation is not None and activation.parameters:
        return expr.subs(activation.parameters)
    return expr


def python_name(text: str, fallback: str, taken: set) -> str:
    """A Python identifier for a catalogue name ('leaky-relu' -> 'leaky_relu'), else ``fallback``."""
    candidate = text.replace("-", "_")
    if not candidate.isidentifier() or keyword.iskeyword(candidate) or candidate in taken:
        candidate = fallback
    base, number = candidate, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    taken.add(candidate)
    return candidate


# --- elementwise activations ------------------------------------------------------------------
def activation_kernel(activation: Activation, name: str) -> Kernel:
    """a = g(z)."""
    if not activation.elementwise:
        return _coupled_activation_kernel(activation, name)
    definition = activation.concrete()
    return Kernel(name, (Z,), stabilise(definition, Z), f"a = {sstr(definition)}",
                  f"the {activation.name} activation")


def derivative_kernel(activation: Activation, derivative: sp.Expr, name: str) -> Kernel:
    """g'(z) as δ^l = e ⊙ g' uses it: the derived form in a where it is a polynomial in a."""
    derivative = _concrete(derivative, activation)
    derived = sstr(derivative)
    if derivative.is_polynomial(A) or A not in derivative.free_symbols:
        expression = stabilise(derivative, Z)
        note = f"the derivative of {activation.name}, as derived"
    else:
        in_z = derivative.subs(A, activation.concrete())
        expression = stabilise(in_z, Z)
        note = f"the derivative of {activation.name}, with a = g(z) substituted and rewritten stably"
    return Kernel(name, _arguments(expression), expression, f"g'(z) = {derived}", note)


# --- the output layer ----------------------------------------------------------------------------
def output_cost_kernel(derivation: Derivation, name: str = "output_cost") -> Kernel:
    """C per output unit, ℓ(g(z), y), composed in z and rewritten stably; summed over units and
    examples it is m times the unregularised cost."""
    network = derivation.network
    loss, output = network.loss, network.output
    per_unit = _loss_per_unit(loss)
    if output.elementwise:
        composed = per_unit.subs(A, output.concrete())
        expression = stabilise(composed, Z)
        formula = f"C = {sstr(per_unit)} with a = {sstr(output.concrete())}"
    else:
        expression = _coupled_cost(per_unit)
        formula = f"C = {sstr(per_unit)} with a = softmax(z)"
    return Kernel(name, _arguments(expression), expression, formula,
                  f"the {loss.name} loss of one output unit, composed with {output.name} in z")


def _loss_per_unit(loss: Loss) -> sp.Expr:
    """ℓ(a, y) of one output unit. A loss of the true class (-ln a_c) with one-hot targets y is the
    sum over units of y_k (-ln a_k): the identity f(a_c) = Σ_k y_k f(a_k) for one-hot y."""
    if loss.separable:
        return loss.concrete()
    indexed = [node for node in loss.per_example.atoms(sp.Indexed)]
    if loss.target_encoding != "one-hot" or len({node.base for node in indexed}) != 1:
        raise ExportError(f"loss {loss.name!r} is neither a sum over the output units nor a function of "
                          f"the true class with one-hot targets; it cannot be exported")
    return Y * loss.per_example.xreplace({node: A for node in indexed})


def output_delta_kernel(derivation: Derivation, name: str = "output_delta") -> Kernel:
    """δ^L per unit, from the derivation."""
    quantity = derivation.output_delta
    output = derivation.network.output
    unit = _concrete(quantity.unit, output)
    unit = unit.subs(derivation.network.loss.parameters) if derivation.network.loss.parameters else unit
    formula = f"delta^L = {sstr(unit)}"
    if not output.elementwise:
        expression = _coupled_delta(unit)
        return Kernel(name, _arguments(expression), expression, formula, "delta^L as derived, Σ_k as row sums")
    if unit.is_polynomial(A):
        expression = stabilise(unit, Z)
        note = "delta^L as derived"
    else:
        expression = stabilise(unit.subs(A, output.concrete()), Z)
        note = "delta^L as derived, with a = g(z) substituted and rewritten stably (it divides by a form in a)"
    return Kernel(name, _arguments(expression), expression, formula, note)


# --- coupled (normalised exponential) output layers ----------------------------------------------
def _normalised_exponential(activation: Activation):
    """Check that a coupled activation is exp(z_k) / Σ_p exp(z_p); return the IndexedBase of z."""
    numerator, denominator = sp.fraction(activation.definition)
    if (isinstance(numerator, sp.exp) and isinstance(numerator.args[0], sp.Indexed)
            and isinstance(denominator, sp.Sum) and isinstance(denominator.function, sp.exp)
            and isinstance(denominator.function.args[0], sp.Indexed)
            and denominator.function.args[0].base == numerator.args[0].base):
        return numerator.args[0].base
    raise ExportError(f"coupled activation {activation.name!r} is not a normalised exponential "
                      f"exp(z_k)/Σ_p exp(z_p); only that coupled form can be exported")


def _coupled_activation_kernel(activation: Activation, name: str) -> Kernel:
    _normalised_exponential(activation)
    # exp(z_k)/Σ_p exp(z_p) = exp(z_k - M)/Σ_p exp(z_p - M) for M = max_p z_p: nothing overflows.
    shifted = sp.exp(RowShift(Z))
    return Kernel(name, (Z,), shifted / RowSum(shifted), f"a_k = {sstr(activation.definition)}",
                  "the normalised exponential, with the row maximum subtracted before exp")


def _coupled_log_forms(expr: sp.Expr) -> sp.Expr:
    """With M the row maximum and L = log Σ_p exp(z_p - M): log a -> (z - M) - L,
    log(1 - a) -> row_log1m_softmax(z), then a -> exp((z - M) - L)."""
    lse = RowLogSumExp(Z)
    expanded = sp.expand_log(expr, force=True)
    expanded = expanded.replace(lambda e: isinstance(e, sp.log) and e.args[0] == A, lambda e: RowShift(Z) - lse)
    expanded = expanded.replace(lambda e: isinstance(e, sp.log) and sp.expand(e.args[0] - (1 - A)) == 0,
                                lambda e: RowLog1mSoftmax(Z))
    return expanded.xreplace({A: sp.exp(RowShift(Z) - lse)})


def _coupled_cost(per_unit: sp.Expr) -> sp.Expr:
    """The cost with log a and log(1 - a) in logsumexp form; where a unit's probability is above 1/2
    the remaining a is written 1 - (its complement), the complement exp(log(1 - a)) (row_log1m_softmax):
    (a - y)^2 for a unit that rounds to its target 1 keeps its digits as ((1 - y) - complement)^2."""
    expr = _coupled_log_forms(per_unit)
    if not expr.has(sp.exp(RowShift(Z) - RowLogSumExp(Z))):
        return expr
    a = sp.exp(RowShift(Z) - RowLogSumExp(Z))
    complement = sp.exp(RowLog1mSoftmax(Z))
    above_half = sp.StrictGreaterThan(RowShift(Z) - RowLogSumExp(Z), -sp.log(2))
    return sp.Piecewise((expr.xreplace({a: 1 - complement}), above_half), (expr, True))


def _row_sums(unit: sp.Expr) -> sp.Expr:
    """Σ_k f(a_k, y_k) -> row_sum(f(a, y)): a[k], y[k] are the same arrays as a, y, summed along the row."""
    return unit.replace(lambda e: isinstance(e, sp.Sum), lambda total: RowSum(_unit_arrays(total.function)))


def _unit_arrays(body: sp.Expr) -> sp.Expr:
    body = body.replace(lambda e: isinstance(e, sp.Indexed) and str(e.base) == "a", lambda e: A)
    return body.replace(lambda e: isinstance(e, sp.Indexed) and str(e.base) == "y", lambda e: Y)


def _coupled_delta(unit: sp.Expr) -> sp.Expr:
    rows = _row_sums(unit)
    if rows.is_polynomial(A) and not any(not s.args[0].is_polynomial(A) for s in rows.atoms(RowSum)):
        return rows
    pairwise = _pairwise(unit)
    if pairwise is not None:
        return pairwise
    # δ^L divides by a form in a that is not 1 - a_k of a summed unit: 1 - a and a in logsumexp form
    lse = RowLogSumExp(Z)
    rows = rows.replace(lambda e: e.is_Add and sp.expand(e - (1 - A)) == 0,
                        lambda e: sp.exp(RowLog1mSoftmax(Z)))
    return sp.powsimp(rows.xreplace({A: sp.exp(RowShift(Z) - lse)}), combine="exp")


def _pairwise(unit: sp.Expr):
    """δ_i = P(a_i, y_i) + Σ_t G_t(a_i, y_i) a_i Σ_k H_t(a_k, y_k)/(1 - a_k): the k = i term of each
    sum joins P, where the factors 1 - a_i cancel (by ``cancel``, exactly), and the rest is
    Σ_{k≠i} H_t(a_k, y_k) a_i/(1 - a_k): RowPairwiseOthers. None when δ^L is not of that form."""
    own = sp.S.Zero
    pairs = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(unit)):
        sums = [factor for factor in sp.Mul.make_args(term) if isinstance(factor, sp.Sum)]
        if not sums:
            own += term
            continue
        if len(sums) != 1:
            return None
        total = sums[0]
        outside = sp.cancel(term / total)
        body_numerator, body_denominator = sp.fraction(sp.cancel(total.function))
        indexed_a = [node for node in total.function.atoms(sp.Indexed) if str(node.base) == "a"]
        if len(indexed_a) != 1:
            return None
        if sp.expand(body_denominator + (1 - indexed_a[0])) == 0:     # written a_k - 1
            body_numerator, body_denominator = -body_numerator, -body_denominator
        if sp.expand(body_denominator - (1 - indexed_a[0])) != 0:
            return None
        G = sp.cancel(outside / A)
        if not G.is_polynomial(A) or G.has(sp.Sum):
            return None
        own += outside * _unit_arrays(total.function)
        pairs += G * RowPairwiseOthers(_unit_arrays(body_numerator), Z)
    own = sp.cancel(sp.together(own))
    if not own.is_polynomial(A):
        return None
    return sp.expand(own) + pairs

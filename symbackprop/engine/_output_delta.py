"""δ^L = ∂C/∂z^L, by the chain rule through the output activation, at a generic output unit i.

The cost is a sum over the output units k; the engine differentiates it, forms ∂a_k/∂z_i by
differentiating the activation's definition, contracts the Kronecker deltas, and simplifies.
Whether the activation's derivative cancelled is read off the result, not looked up.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from .. import symbols as S
from ..catalogue import Activation, Loss
from ..derivation import Assumption, Quantity, Rule, Step
from ..errors import SymbackpropError
from ._activation_derivative import (chain_through, coupled_jacobian, derivative_in_z, readable_derivative,
                                     without_impulses)
from ..budget import cancel, simplifiable
from ._calculus import contract, equation, gather_sums, oriented_terms, shared_factor, tidy
from ._kink import kink_note
from ._proof import prove_equal, radicands_simplified
from ._vectorise import unvectorise, vectorise

L, i, k, p = S.L, S.i, S.k, S.p
a_L_i, a_L_k, z_L_i, z_L_k = S.unit("a", L, i), S.unit("a", L, k), S.unit("z", L, i), S.unit("z", L, k)
y_i, y_k = S.target(i), S.target(k)
n_L = S.width[L]


@dataclass(frozen=True)
class OutputResult:
    quantity: Quantity
    cost_sum: sp.Expr          #: C as a sum over the output units, in a^L_p and y_p
    steps: tuple[Step, ...]
    assumptions: tuple[Assumption, ...]


@lru_cache(maxsize=128)
def cost_of_example(loss: Loss) -> sp.Expr:
    """C for one example, as a sum over the output units p (or the log-likelihood's -ln a_c)."""
    if loss.separable:
        return sp.Sum(loss.per_unit.subs({S.a: S.unit("a", L, p), S.y: S.target(p)}), (p, 1, n_L))
    return loss.per_example.replace(lambda e: isinstance(e, sp.Indexed) and e.base == S.base("a"),
                                    lambda e: S.unit("a", L, e.indices[0]))


@lru_cache(maxsize=128)
def loss_gradient(loss: Loss) -> tuple[sp.Expr, sp.Expr]:
    """(∂C/∂a^L_k as differentiated and contracted, its tidy form).

    Cached: the checker derives δ^L of a typed loss with every output activation of the catalogue
    (checker/_family.py), and this part is the same for all of them (a third of the time of each)."""
    cost = cost_of_example(loss)
    raw = contract(_deltas_out_of_piecewise(without_impulses(sp.diff(cost, a_L_k))))
    return raw, oriented_terms(raw)


def _deltas_out_of_piecewise(expr: sp.Expr) -> sp.Expr:
    """Σ_p Piecewise((f δ_kp, c), (g δ_kp, True)) -> Piecewise((f, c), (g, True)) at p = k.

    The derivative of a kinked loss (huber) carries the Kronecker delta in every branch, where
    ``contract`` does not see it (and SymPy's Sum folds a delta pulled out back in): the delta is
    taken out of the branches and its sum carried out here. The index ranges over the units of a
    layer, so the pinned index lies in range and this is exact."""
    def contract_one(total):
        if len(total.limits) != 1 or not isinstance(total.function, sp.Piecewise):
            return total
        index = total.limits[0][0]
        shared = None
        for branch, _ in total.function.args:
            deltas = {f for f in sp.Mul.make_args(branch) if isinstance(f, sp.KroneckerDelta) and index in f.free_symbols}
            shared = deltas if shared is None else shared & deltas
        if not shared or len(shared) != 1:
            return total
        (delta,) = shared
        (other,) = [arg for arg in delta.args if arg != index] or [index]
        branches = [(branch / delta, condition) for branch, condition in total.function.args]
        return sp.Piecewise(*branches).subs(index, other)
    return expr.replace(lambda e: isinstance(e, sp.Sum), contract_one)


def derive_output_delta(output: Activation, loss: Loss) -> OutputResult:
    step = lambda statement, rule, note: Step("output_delta", statement, rule, note, L)
    cost = cost_of_example(loss)
    dC_da, dC_da_tidy = loss_gradient(loss)
    steps = [
        step(equation(S.C, cost), Rule.DEFINITION, "the cost of one example, summed over the output units"
             + (f"; {loss.note}" if loss.note else "")),
        step(equation(S.unit("delta", L, i), sp.Derivative(S.C, z_L_i)), Rule.DEFINITION,
             "the error of an output unit is the cost's sensitivity to its pre-activation"),
        step(equation(sp.Derivative(S.C, z_L_i), sp.Sum(sp.Derivative(S.C, a_L_k) * sp.Derivative(a_L_k, z_L_i), (k, 1, n_L))),
             Rule.CHAIN_RULE, "z^L_i reaches the cost through every output activation a^L_k"),
        step(equation(sp.Derivative(S.C, a_L_k), dC_da_tidy), Rule.LOSS_DERIVATIVE,
             "differentiate the cost with respect to one output activation"),
    ]
    assumptions: list[Assumption] = []
    if output.elementwise:
        definition = output.definition
        g_prime_z = derivative_in_z(definition)
        g_prime, in_a = readable_derivative(definition)
        unit_g_prime = g_prime
        raw_jacobian = chain_through(definition, z_L_k, z_L_i)
        steps.append(step(equation(sp.Derivative(a_L_k, z_L_i), raw_jacobian), Rule.ACTIVATION_DERIVATIVE,
                          f"a^L_k = {output.spoken}(z^L_k) depends on z^L_i only when k = i"))
        if in_a and g_prime.free_symbols:   # (a constant derivative has nothing to rewrite)
            steps.append(step(equation(g_prime_z.subs(S.z, z_L_i), g_prime.subs(S.a, a_L_i)), Rule.ACTIVATION_DERIVATIVE,
                              f"the derivative of {output.spoken}, written in its own output a = {output.spoken}(z)"))
        contracted = contract(_deltas_out_of_piecewise(
            sp.Sum(dC_da * sp.KroneckerDelta(i, k) * g_prime_z.subs(S.z, z_L_k), (k, 1, n_L))))
        steps.append(step(equation(S.unit("delta", L, i), oriented_terms(contracted)), Rule.KRONECKER,
                          "the Kronecker delta keeps only the term k = i of the sum"))
        # The result of the contraction, in unit symbols: every form below is proved equal to it.
        computed = _unit_from_indexed(contracted)
        loss_factor = dC_da.subs(a_L_k, S.a).subs(y_k, S.y)
        delta_unit, cancels, note = _simplified_delta(computed, loss_factor, g_prime_z, unit_g_prime, in_a, output)
        identity = (g_prime_z, unit_g_prime)
        prove_equal(delta_unit, computed, "output delta δ^L", definition, identity)
        to_layer = {S.a: a_L_i, S.y: y_i, S.z: z_L_i}
        prove_equal(oriented_terms(loss_factor) * unit_g_prime, computed, "product ∂C/∂a · g' of δ^L", definition,
                    identity)
        steps.append(step(equation(S.unit("delta", L, i), sp.Mul(oriented_terms(loss_factor).subs(to_layer), unit_g_prime.subs(to_layer), evaluate=False)),
                          Rule.CHAIN_RULE, "∂C/∂a^L_i times the activation's derivative"))
        steps.append(step(equation(S.unit("delta", L, i), delta_unit.subs(to_layer)),
                          Rule.CANCELLATION if cancels and unit_g_prime != 1 else Rule.SIMPLIFICATION, note))
    else:
        if dC_da.has(sp.Piecewise):
            # Σ_k over the cases of ∂C/∂a_k (huber): each unit k takes its own case, so no one vector holds
            # them (a step function such as hinge's H(1 - a y) is one elementwise factor and derives)
            raise SymbackpropError(f"the cases of the loss {loss.name} inside the coupled sum of the {output.name} "
                                   f"output cannot be written elementwise in one vector; {loss.name} derives with an "
                                   f"elementwise output such as identity or sigmoid")
        raw_jacobian, jacobian = coupled_jacobian(output.definition, L)
        steps.append(step(equation(sp.Derivative(a_L_k, z_L_i), jacobian), Rule.ACTIVATION_DERIVATIVE,
                          f"{output.spoken} couples the units: every a^L_k depends on every z^L_i"))
        summed = contract(sp.Sum(dC_da * jacobian, (k, 1, n_L)))
        summed = sp.collect(sp.expand(summed), a_L_i) if summed.has(sp.Sum) else summed
        steps.append(step(equation(S.unit("delta", L, i), summed), Rule.KRONECKER,
                          "the Kronecker delta picks k = i from the sum; the rest keeps Σ_k"))
        delta_index, assumptions, extra = _apply_target_assumptions(summed, loss)
        delta_index = gather_sums(delta_index)
        steps.extend(extra)
        delta_unit = _unit_from_indexed(delta_index)
        cancels = _coupled_cancellation(delta_index)
        note = ("the Jacobian's coupling collapses: no Σ_k and no factor a^L_i is left" if cancels
                else "the coupling through the other output units remains")
        steps.append(step(equation(S.unit("delta", L, i), delta_index),
                          Rule.CANCELLATION if cancels else Rule.SIMPLIFICATION, note))
        unit_g_prime = None
    vector = _vector_form(delta_unit)
    if output.elementwise:   # the vector form read back entry by entry is δ^L again
        entry = unvectorise(vector, {S.vector("a", L): S.a, S.vector("y", L): S.y, S.vector("z", L): S.z})
        prove_equal(entry, delta_unit, "vector form of δ^L", output.definition)
    steps.append(step(equation(S.vector("delta", L), vector), Rule.VECTORISATION,
                      "the same formula for every output unit, as one vector equation (⊙: elementwise product)"))
    quantity = Quantity("output_delta", L, delta_unit,
                        equation(S.unit("delta", L, i), _indexed_from_unit(delta_unit)),
                        equation(S.vector("delta", L), vector), cancels=cancels,
                        activation_derivative=unit_g_prime, activation=output, note=note,
                        kink_note=kink_note(output.definition) if output.elementwise else "")
    return OutputResult(quantity, cost, tuple(steps), tuple(assumptions))


def _product_in_z(loss_factor: sp.Expr, g_prime: sp.Expr) -> sp.Expr:
    """∂C/∂a · g'(z) where g' stays in z: tidy each factor; nothing can cancel across them."""
    loss_part = tidy(loss_factor)
    return loss_part * g_prime if g_prime != 1 else loss_part


def _simplified_delta(computed, loss_factor, g_prime_z, g_prime, in_a, output):
    """(δ^L in its simplest form, did g' cancel, the note), read off the algebra.

    With g' written in a, the product ∂C/∂a · g'(a) is simplified in a. With g' left in z, the
    computed δ^L is written in z alone (a = g(z)) and simplified; where g(z) then absorbs every z,
    so that δ^L is a function of a and y, that form is taken (a sinh output with the loss
    √(1+a²) - y asinh(a) gives a - y). Whether g' cancelled is decided on the simplified form:
    does it still share a non-constant factor with g'?
    """
    if in_a:
        delta = tidy(loss_factor * g_prime)
        return (delta, *_cancellation(delta, g_prime, g_prime.free_symbols))
    delta = _product_in_z(loss_factor, g_prime)
    if not g_prime.free_symbols:
        return delta, True, _NOTES["constant"]
    if g_prime.has(sp.Piecewise, sp.Heaviside):
        return delta, False, _NOTES["stays"]
    definition = output.definition
    in_a_only = _written_in_activation(computed, definition)
    if in_a_only is None:
        return delta, False, _NOTES["stays"]
    cancels, note = _cancellation(in_a_only.subs(S.a, definition), g_prime_z, {S.z})
    return (in_a_only if cancels else delta), cancels, note


def _written_in_activation(computed, definition):
    """The computed δ^L with a = g(z), simplified, and g(z) written back as a: None where z remains.

    The simplification is cheap and exact: each radicand is simplified on its own (√(1 + sinh² z) is
    cosh z), then common factors cancel. A full ``simplify`` would find more, at seconds per pair."""
    in_z = computed.subs(S.a, definition)
    if not simplifiable(in_z):
        return None
    try:
        in_z = sp.cancel(radicands_simplified(in_z))
    except (TypeError, ValueError, NotImplementedError, sp.PolynomialError):
        return None
    in_a = in_z.subs(definition, S.a)
    return tidy(in_a) if S.z not in in_a.free_symbols else None


_NOTES = {
    "constant": "the activation's derivative is a constant: δ^L is ∂C/∂a itself",
    "cancels": "the activation's derivative cancels against the denominator of ∂C/∂a",
    "partial": "only part of the activation's derivative cancels; the rest stays a factor of δ^L",
    "whole": "the activation's derivative does not cancel: it stays a factor of δ^L",
    "stays": "the activation's derivative stays a factor of δ^L",
}


def _cancellation(delta, g_prime, variables):
    """Is a non-constant factor of g' left in the numerator of the simplified δ^L? None, part, or all of g'."""
    if not g_prime.free_symbols:
        return True, _NOTES["constant"]
    numerator = sp.numer(sp.together(delta))
    g_numerator, g_denominator = sp.fraction(sp.together(g_prime))
    common = _common_factor(numerator, g_numerator) * _common_factor(sp.denom(sp.together(delta)), g_denominator)
    if not (common.free_symbols & set(variables)):
        return True, _NOTES["cancels"]
    if cancel(g_prime / common).free_symbols & set(variables):
        return False, _NOTES["partial"]
    return False, _NOTES["whole"]


def _common_factor(first, second):
    """The greatest common factor of two expressions (functions of z act as polynomial generators;
    a case split is one opaque factor; 1 past the simplification budget)."""
    if first == 1 or second == 1:
        return sp.Integer(1)
    return shared_factor(first, second)


def _coupled_cancellation(delta_index: sp.Expr) -> bool:
    """The coupled activation's Jacobian cancelled when no Σ_k and no overall factor a^L_i is left."""
    if delta_index == 0 or delta_index.has(sp.Sum):
        return False
    return not sp.cancel(delta_index / a_L_i).is_polynomial(a_L_i)


def _apply_target_assumptions(delta_index: sp.Expr, loss: Loss):
    """Use what the targets are -- only where the expression needs it, and as an explicit step."""
    steps, assumptions = [], []
    step = lambda statement, rule, note: Step("output_delta", statement, rule, note, L)
    sum_y = sp.Sum(y_k, (k, 1, n_L))
    if loss.target_encoding == "one-hot":
        c = S.label
        replaced = delta_index.replace(lambda e: isinstance(e, sp.KroneckerDelta) and e.free_symbols == {i, c},
                                       lambda e: y_i)
        if replaced != delta_index:
            fact = equation(y_i, sp.KroneckerDelta(i, c))
            assumptions.append(Assumption("one-hot target", fact,
                                          "y is the one-hot code of the true class c: y_i = 1 if i = c, else 0"))
            steps.append(step(fact, Rule.ASSUMPTION, "y is the one-hot code of the true class c"))
            delta_index = replaced
    if delta_index.has(sum_y):
        fact = equation(sum_y, 1)
        assumptions.append(Assumption("targets sum to one", fact,
                                      "the targets form a probability distribution (e.g. one-hot): Σ_k y_k = 1"))
        steps.append(step(fact, Rule.ASSUMPTION, "the targets are a probability distribution over the classes"))
        delta_index = sp.expand(delta_index.subs(sum_y, 1))
    return delta_index, tuple(assumptions), steps


# In a unit form, Σ_k runs over the output units as a[k], y[k] (one index: the layer is implied).
_unit_bases = {"a": S.base("a"), "y": S.base("y")}


def _unit_from_indexed(expr: sp.Expr) -> sp.Expr:
    """a^L_i -> a, y_i -> y, z^L_i -> z; summed units a^L_k -> a[k] (the unit form keeps Σ_k)."""
    expr = expr.xreplace({a_L_i: S.a, y_i: S.y, z_L_i: S.z})
    return expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == S.base("a") and len(e.indices) == 2,
                        lambda e: _unit_bases["a"][e.indices[1]]).replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == S.base("y"), lambda e: _unit_bases["y"][e.indices[0]])


def _indexed_from_unit(expr: sp.Expr) -> sp.Expr:
    expr = expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == _unit_bases["a"] and len(e.indices) == 1,
                        lambda e: S.unit("a", L, e.indices[0])).replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == _unit_bases["y"], lambda e: S.target(e.indices[0]))
    # The symbol a also labels the base of a^L_k: the summed units stand aside while a, y, z are replaced.
    aside = {atom: sp.Dummy() for atom in expr.atoms(sp.Indexed)}
    expr = expr.xreplace(aside).xreplace({S.a: a_L_i, S.y: y_i, S.z: z_L_i})
    return expr.xreplace({dummy: atom for atom, dummy in aside.items()})


def _vector_form(delta_unit: sp.Expr):
    vectors = {S.a: S.vector("a", L), S.y: S.vector("y", L), S.z: S.vector("z", L)}
    return vectorise(delta_unit, vectors, n_L, {_unit_bases["a"]: S.vector("a", L), _unit_bases["y"]: S.vector("y", L)})



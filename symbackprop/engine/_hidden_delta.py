"""δ^l of a hidden layer, by the chain rule through z^{l+1} = W^{l+1} a^l + b^{l+1}, at a generic unit i.

The engine differentiates z^{l+1}_k with respect to z^l_i (a sum over the units j of layer l),
contracts the Kronecker delta, and assembles the vector form ((W^{l+1})^T δ^{l+1}) ⊙ g'(z^l).
With Ng's bias column the unit j = 0 is the constant bias unit a_0 = 1: it has no
pre-activation, so the row δ_0 that (Θ^{(l)})^T δ^{(l+1)} produces is dropped.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import HadamardProduct, MatMul, Transpose, ZeroMatrix

from .. import symbols as S
from ..catalogue import Activation
from ..derivation import Quantity, Rule, Step
from ..errors import InternalError
from ._activation_derivative import derivative_in_z, readable_derivative
from ._calculus import contract, positive_factors, equation
from ._kink import kink_note
from ._proof import prove_equal
from ._vectorise import unvectorise, vectorise

i, j, k = S.i, S.j, S.k


def next_preactivation(layer, bias: str) -> sp.Expr:
    """z^{layer+1}_k written out over the units j of ``layer`` (a_j = g(z_j) left symbolic as a^layer_j)."""
    upper = S.width[layer]
    terms = sp.Sum(S.weight(layer + 1, k, j) * S.unit("a", layer, j), (j, 1, upper))
    if bias == "column":
        return terms + S.weight(layer + 1, k, 0)   # W_k0 multiplies the bias unit a_0 = 1
    return terms + S.unit("b", layer + 1, k)


def derive_hidden_delta(activation: Activation, layer, bias: str) -> tuple[Quantity, tuple[Step, ...]]:
    """δ^layer for a hidden layer with this activation; ``layer`` is the symbol l or a number."""
    step = lambda statement, rule, note: Step("hidden_delta", statement, rule, note, layer)
    z_i, a_i = S.unit("z", layer, i), S.unit("a", layer, i)
    z_next_k = S.unit("z", layer + 1, k)
    delta_i, delta_next_k = S.unit("delta", layer, i), S.unit("delta", layer + 1, k)
    definition = activation.definition
    g_prime_z = derivative_in_z(definition)
    g_prime, in_a = readable_derivative(definition)

    z_next = next_preactivation(layer, bias)
    # Differentiate z^{l+1}_k with every a^l_j replaced by g(z^l_j): the engine, not a rule, finds W_ki g'(z_i).
    # ∂z^{l+1}_k/∂z^l_i: differentiate the weighted sum, each a^l_j = g(z^l_j) by the chain rule.
    z_next_in_z = z_next.replace(lambda e: isinstance(e, sp.Indexed) and e.base == S.base("a") and e.indices[0] == layer,
                                 lambda e: sp.Function("_g")(S.unit("z", layer, e.indices[1])))
    raw = sp.diff(z_next_in_z, z_i).replace(
        lambda e: isinstance(e, sp.Derivative) and e.expr.func == sp.Function("_g"),
        lambda e: derivative_in_z(definition).subs(S.z, e.variables[0]))
    raw = raw.replace(lambda e: isinstance(e, sp.Subs), lambda e: e.doit())
    dz_next = contract(raw)
    summed = contract(sp.Sum(delta_next_k * dz_next, (k, 1, S.width[layer + 1])))
    steps = [
        step(equation(delta_i, sp.Derivative(S.C, z_i)), Rule.DEFINITION,
             "the error of a hidden unit is the cost's sensitivity to its pre-activation"),
        step(equation(sp.Derivative(S.C, z_i), sp.Sum(sp.Derivative(S.C, z_next_k) * sp.Derivative(z_next_k, z_i),
                                                   (k, 1, S.width[layer + 1]))),
             Rule.CHAIN_RULE, "z^l_i reaches the cost only through the pre-activations z^{l+1}_k of the next layer"),
        step(equation(sp.Derivative(S.C, z_next_k), delta_next_k), Rule.DEFINITION,
             "those sensitivities are the next layer's errors"),
        step(equation(z_next_k, z_next), Rule.DEFINITION,
             "the next layer's pre-activation" + (", with the bias unit a_0 = 1 in column 0" if bias == "column" else "")),
        step(equation(sp.Derivative(z_next_k, z_i), raw), Rule.CHAIN_RULE,
             f"differentiate through a^l_j = {activation.spoken}(z^l_j): only the unit j = i depends on z^l_i"),
        step(equation(sp.Derivative(z_next_k, z_i), dz_next), Rule.KRONECKER, "the Kronecker delta keeps j = i"),
        step(equation(delta_i, summed), Rule.KRONECKER,
             "sum over k; g'(z^l_i) does not depend on k and comes out of the sum"),
    ]
    if in_a and g_prime.free_symbols:
        steps.append(step(equation(g_prime_z.subs(S.z, z_i), g_prime.subs(S.a, a_i)), Rule.ACTIVATION_DERIVATIVE,
                          f"the derivative of {activation.spoken}, written in its own output a = {activation.spoken}(z)"))
    back_sum = sp.Sum(S.weight(layer + 1, k, i) * delta_next_k, (k, 1, S.width[layer + 1]))
    # The contracted sum in unit symbols (the back-propagated sum is e); the readable e · g'(a) is proved equal to it.
    computed = _unit_from_contracted(summed, back_sum, z_i)
    unit = positive_factors(S.e * g_prime) if g_prime != 1 else S.e
    prove_equal(unit, computed, f"hidden delta δ^{layer} of {activation.spoken}", definition, (g_prime_z, g_prime))
    index_rhs = unit.xreplace({S.e: back_sum, S.a: a_i, S.z: z_i})
    steps.append(step(equation(delta_i, index_rhs), Rule.SIMPLIFICATION,
                      f"{activation.spoken} is constant on each side of its jumps, so g' = 0 and no error reaches "
                      "this layer: δ^l = 0, and the gradients of this layer and the layers below it are 0"
                      if g_prime == 0 else "the back-propagated sum times the activation's derivative"))

    W_next = S.matrix(layer + 1, cols=S.width[layer] + 1 if bias == "column" else None)
    back = MatMul(Transpose(W_next), S.vector("delta", layer + 1))
    if bias == "column":
        back = back[1:, :]
        steps.append(step(equation(S.vector("e", layer), back), Rule.BIAS_ROW,
                          "the transposed weights times the next layer's errors give a row 0 for the bias unit a_0 = 1, which has no pre-activation: drop it"))
    if g_prime == 0:
        vector = ZeroMatrix(S.width[layer], 1)
    else:
        g_vector = vectorise(g_prime, {S.a: S.vector("a", layer), S.z: S.vector("z", layer)}, S.width[layer])
        vector = back if g_prime == 1 else HadamardProduct(back, g_vector)
    # read back entry by entry, with (W^{l+1})^T δ^{l+1} as e, the vector form is δ^l again
    entry = unvectorise(vector, {back: S.e, S.vector("a", layer): S.a, S.vector("z", layer): S.z})
    prove_equal(entry, unit, f"vector form of δ^{layer}", definition)
    steps.append(step(equation(S.vector("delta", layer), vector), Rule.VECTORISATION,
                      "Σ_k W^{l+1}_{ki} δ^{l+1}_k is row i of (W^{l+1})^T δ^{l+1}; then multiply elementwise by g'(z^l)"))
    quantity = Quantity("hidden_delta", layer, unit, equation(delta_i, index_rhs), equation(S.vector("delta", layer), vector),
                        activation_derivative=g_prime, activation=activation,
                        note="bias row δ_0 dropped" if bias == "column" else "", kink_note=kink_note(definition))
    return quantity, tuple(steps)


def _unit_from_contracted(summed: sp.Expr, back_sum: sp.Sum, z_i: sp.Indexed) -> sp.Expr:
    """δ^l_i as contracted, in unit symbols: the back-propagated sum Σ_k W^{l+1}_ki δ^{l+1}_k becomes e, z^l_i z."""
    if summed == 0:         # g' = 0 (sign, a constant): no error reaches the layer through it
        return sp.S.Zero
    sums = summed.atoms(sp.Sum)
    if sums != {back_sum}:
        raise InternalError(f"symbackprop bug: the contracted hidden delta {summed} is not a multiple of {back_sum}")
    unit = summed.xreplace({back_sum: S.e, z_i: S.z})
    if unit.has(sp.Indexed):
        raise InternalError(f"symbackprop bug: the contracted hidden delta {summed} has units other than z_i left")
    return unit

"""The diagnosis: which nearby correct formula a wrong formula equals.

The family of a quantity is computed, never stored: the engine derives the same quantity for
neighbouring networks (the other losses and activations of the catalogue), and the checker
varies the engine's own result in the ways people get it wrong (a sign, a derivative factor added
or dropped, a transpose, the 1/m average, the λ term, the bias column). Re-reading the formula in
the other notations, or with the weight index shifted by one, finds formulas that are right in
another convention. The formula's values at the samples of :mod:`._assess` are compared with each
member's values at the very same samples.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

import numpy as np
import sympy as sp
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul, OneMatrix, Transpose
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .. import symbols as S
from ..catalogue import ACTIVATIONS, LOSSES
from ..engine import derive
from ..errors import SymbackpropError
from . import _conventions as C
from ._assess import Assessment, Trial, assess, close, draw, value_at
from ._expected import NotDerived, back_propagated, expected, to_batch
from ._numeric import NotEvaluable
from ._target import LOSS_GRADIENT


def diagnose(assessment: Assessment, formula, convention, network, derivation, seed: int) -> list[str]:
    """Descriptions of the nearby correct formulas this formula equals, best first."""
    found: list[str] = []
    if assessment.method == "numeric":
        for description, build in members(assessment, network, derivation):
            if _matches(assessment, _batched(build)):
                found.append(description)
                if len(found) >= 3:
                    break
    if assessment.method == "shape":
        transposed = _transposed(assessment, derivation, seed)
        if transposed:
            found.append(transposed)
    if not found:
        found.extend(_rereadings(formula, convention, network, derivation, seed))
    return found


# --- the members -----------------------------------------------------------------------------------
Member = tuple[str, Callable[[Trial], object]]


def members(assessment: Assessment, network, derivation) -> Iterator[Member]:
    quantity = assessment.trials[0].target.quantity if assessment.trials else None
    yield ("the negative of the correct formula: a sign error", lambda t: MatMul(-1, t.expected))
    if quantity == "output_delta":
        yield from _output_members(network, derivation)
    elif quantity == "hidden_delta":
        yield from _hidden_members(network, derivation)
    elif quantity in ("weight_gradient", "bias_gradient"):
        yield from _gradient_members(assessment, network, derivation)


def _derivative_factor(activation, layer) -> object:
    body = sp.diff(activation.concrete(), S.z)
    z = S.vector("z", layer)
    if not body.has(S.z):
        return MatMul(body, OneMatrix(*z.shape))
    return ElementwiseApplyFunction(sp.Lambda(S.z, body), z)


def _output_members(network, derivation) -> Iterator[Member]:
    output, loss = network.output, network.loss
    cancels = derivation.output_delta.cancels
    depth = network.depth
    if output.elementwise and not cancels:
        name = output.name
        yield (f"∂C/∂a^L alone: the factor {name}'(z^L) of the {name} output is missing",
               lambda t: S.LayerArray(LOSS_GRADIENT, S.width[depth], 1, depth))
        yield (f"∂C/∂a^L ⊙ a^L: the activation {name}(z^L) = a^L in place of its derivative {name}'(z^L)",
               lambda t: HadamardProduct(S.LayerArray(LOSS_GRADIENT, S.width[depth], 1, depth),
                                         S.vector("a", depth)))
    for other in LOSSES:
        if other.name == loss.name:
            continue
        neighbour = _neighbour(network, loss=other)
        if neighbour is not None:
            yield (_other_loss_text(neighbour, derivation), _expected_of(neighbour))
    for other in ACTIVATIONS:
        if other.name == output.name:
            continue
        neighbour = _neighbour(network, output=other)
        if neighbour is not None:
            yield (f"δ^L of the {other.name} output activation with the {loss.name} cost "
                   f"(per unit: {neighbour.output_delta.unit}); this network's output is {output.name}, "
                   f"where δ^L = {derivation.output_delta.unit}", _expected_of(neighbour))
    if output.elementwise:
        name = output.name
        yield (f"δ^L with an extra factor {name}'(z^L)" +
               (f"; under {loss.name} with a {name} output it cancels" if cancels else ""),
               lambda t: HadamardProduct(t.expected, _derivative_factor(output, depth)))


def _other_loss_text(neighbour, derivation) -> str:
    net, here = neighbour.network, derivation.network
    text = f"δ^L of the {net.loss.name} cost with a {net.output.name} output (per unit: {neighbour.output_delta.unit})"
    if derivation.output_delta.cancels and not neighbour.output_delta.cancels:
        return text + f"; under {here.loss.name} the {here.output.name}'(z^L) factor cancels: δ^L = {derivation.output_delta.unit}"
    if neighbour.output_delta.cancels and not derivation.output_delta.cancels:
        return text + (f", where {net.output.name}'(z^L) cancels; under {here.loss.name} it stays: "
                       f"δ^L = {derivation.output_delta.unit}")
    return text + f"; under {here.loss.name}, δ^L = {derivation.output_delta.unit}"


def _hidden_members(network, derivation) -> Iterator[Member]:
    def activation(t):
        return network.activation_of(int(t.target.layer))

    yield ("(W^{l+1})^T δ^{l+1} alone: the factor g'(z^l) of the hidden activation is missing",
           lambda t: back_propagated(derivation, int(t.target.layer)))
    yield ("δ^l with an extra factor g'(z^l)",
           lambda t: HadamardProduct(t.expected, _derivative_factor(activation(t), int(t.target.layer))))
    yield ("(W^{l+1})^T δ^{l+1} ⊙ a^l: the activation g(z^l) = a^l in place of its derivative g'(z^l)",
           lambda t: HadamardProduct(back_propagated(derivation, int(t.target.layer)),
                                     S.vector("a", int(t.target.layer))))
    names = {h.name for h in network.hidden}
    for other in ACTIVATIONS:
        if other.name in names or not other.elementwise:
            continue
        neighbour = _neighbour(network, hidden=other)
        if neighbour is not None:
            yield (f"δ^l of hidden layers with the {other.name} activation (per unit: "
                   f"{neighbour.hidden_deltas[0].unit if neighbour.hidden_deltas else '?'}); "
                   f"this network's hidden activation is {', '.join(sorted(names))}", _expected_of(neighbour))


def _gradient_members(assessment, network, derivation) -> Iterator[Member]:
    mode = assessment.target.mode
    quantity = assessment.target.quantity
    name = "∂C/∂W^l" if quantity == "weight_gradient" else "∂C/∂b^l"

    def of(mode_, lam=None, bias_regularised=False, no_average=False):
        def build(t):
            target = dataclasses.replace(t.target, mode=mode_)
            value = expected(derivation, target)
            if lam is not None:
                value = value.xreplace({S.lam: lam})
            if bias_regularised:
                value = value.replace(lambda e: isinstance(e, S.LayerArray) and e.role == "W_reg",
                                      lambda e: S.LayerArray("W", e.shape[0], e.shape[1], e.layer))
            if no_average:
                value = _without_average(value)
            return value
        return build

    if quantity == "weight_gradient":
        yield (f"the transpose of {name}", lambda t: Transpose(t.expected))
    variants = {
        "example": f"{name} of one example (no average over the batch, no λ term)",
        "mean": f"{name} averaged over the batch: (1/m) Σ over the examples" + (" plus (λ/m) W" if quantity == "weight_gradient" else ""),
        "sum": f"{name} summed over the batch without the 1/m average (Ng's Δ)",
    }
    if quantity == "weight_gradient":
        variants["example+reg"] = f"{name} of one example plus the L2 term λW (Goodfellow's J = L + λΩ)"
    for other, text in variants.items():
        if other != mode:
            yield (text, of(other))
    if mode == "mean" and quantity == "weight_gradient":
        yield (f"{name} averaged over the batch without the λ/m W term (the L2 term is missing)", of("mean", lam=0))
        if network.bias == "column":
            yield (f"{name} with the L2 term applied to the bias column too (Ng regularises columns j ≥ 1 only)",
                   of("mean", bias_regularised=True))
        yield (f"{name} with the data term summed, not averaged: the 1/m is missing", of("mean", no_average=True))
        yield (f"m times {name} averaged over the batch: the 1/m is missing from both terms",
               lambda t: MatMul(S.m, expected(derivation, dataclasses.replace(t.target, mode="mean"))))


def _without_average(value):
    """(1/m) D A^T + (λ/m) W -> D A^T + (λ/m) W: the data term without its 1/m."""
    if isinstance(value, MatAdd):
        return MatAdd(*[_without_average(arg) for arg in value.args])
    if isinstance(value, MatMul) and any(arg == 1 / S.m for arg in value.args):
        return MatMul(*[arg for arg in value.args if arg != 1 / S.m])
    return value


def _batched(build):
    """A member for a quantity written over a whole batch (ng-dls dZ): its vectors become batch arrays."""
    def batched(trial):
        form = build(trial)
        return to_batch(form) if trial.target.batch and form is not None else form
    return batched


def _neighbour(network, **change):
    """The derivation of the network with one part changed, or None where that network is invalid."""
    from ..network import Network
    spec = dict(sizes=network.sizes, hidden=list(network.hidden), output=network.output, loss=network.loss,
                l2=network.l2, bias=network.bias)
    if "hidden" in change:
        change["hidden"] = [change["hidden"]] * len(network.hidden)
        if not network.hidden:
            return None
    spec.update(change)
    try:
        return derive(Network(spec["sizes"], hidden=spec["hidden"] or "sigmoid", output=spec["output"],
                              loss=spec["loss"], l2=float(spec["l2"]) if spec["l2"] else 0, bias=spec["bias"]))
    except (SymbackpropError, TypeError, ValueError, NotImplementedError):
        return None


def _expected_of(neighbour):
    def build(t):
        return expected(neighbour, t.target)
    return build


def _matches(assessment: Assessment, build) -> bool:
    compared = False
    for trial in assessment.trials:
        try:
            form = build(trial)
        except (NotDerived, SymbackpropError, TypeError, ValueError, IndexError, AttributeError):
            return False
        if form is None:
            return False
        for sample, (user, _) in zip(trial.samples, trial.values):
            try:
                value = value_at(form, trial, sample)
            except (NotEvaluable, TypeError, ValueError, IndexError, KeyError):
                return False
            if not np.all(np.isfinite(value)) or not close(user, value):
                return False
            compared = True
    return compared


def _transposed(assessment: Assessment, derivation, seed: int) -> str:
    """A right-hand side of the transposed shape that equals the quantity transposed."""
    rng = np.random.default_rng(seed + 1)
    matched = False
    for trial in assessment.trials:
        if trial.user is None or trial.entry is not None or not hasattr(trial.user, "shape") or trial.expected is None:
            return ""
        for _ in range(3):
            sample = draw(derivation, rng)
            try:
                user = value_at(trial.user, trial, sample)
                wanted = value_at(Transpose(trial.expected), trial, sample)
            except (NotEvaluable, TypeError, ValueError, IndexError):
                return ""
            if not close(user, wanted):
                return ""
            matched = True
    if not matched:
        return ""
    return f"the transpose of {assessment.trials[0].target.describe()}"


def _rereadings(formula, convention, network, derivation, seed) -> list[str]:
    """The formula is right in another notation, or with the weight index shifted by one."""
    from ..errors import ParseError
    found = []
    others = [c for c in C.CONVENTIONS if c.name != convention.name]
    for other in others:
        try:
            outcome = assess(formula, other, network, derivation, seed=seed)
        except (ParseError, SymbackpropError):
            continue
        if outcome.status == "correct":
            found.append(f"correct in the {other.name} convention, where {other.describe_weights}; "
                         f"in {convention.name}, {convention.describe_weights}")
    if found:
        return found
    for shift in (1, -1):
        shifted = dataclasses.replace(convention, weight_shift=convention.weight_shift + shift,
                                      name=convention.name)
        try:
            outcome = assess(formula, shifted, network, derivation, seed=seed)
        except (ParseError, SymbackpropError):
            continue
        if outcome.status == "correct":
            direction = "one higher" if shift == 1 else "one lower"
            found.append(f"correct if every weight matrix's layer index were {direction} (a shifted layer "
                         f"index): in {convention.name}, {convention.describe_weights}")
    return found

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
from ..budget import simplifiable
from ..catalogue import ACTIVATIONS, LOSSES
from ..engine import derive, proofs_deferred
from ..errors import SymbackpropError
from . import _conventions as C
from ._assess import Assessment, Trial, assess, close, draw, value_at
from ._expected import NotDerived, back_propagated, expected, loss_derivative, to_batch
from ._numeric import NotEvaluable
from ._symbolic import typed
from ._target import LOSS_GRADIENT
from ._words import Words


def diagnose(assessment: Assessment, formula, convention, network, derivation, seed: int) -> list[str]:
    """Descriptions of the nearby correct formulas this formula equals, best first, in the notation's letters."""
    words = Words(convention, network.depth, l2=network.l2 != 0)
    found: list[str] = []
    from ..grammar import _ast as A
    rereadable = sum(1 for _ in A.walk(formula.rhs)) <= MAX_REREAD_NODES
    if assessment.method == "numeric":
        found.extend(_matching(assessment, network, derivation, words))
    if assessment.method == "shape":
        transposed = _transposed(assessment, derivation, seed, words)
        if transposed:
            found.append(transposed)
        if not found:
            found.extend(_without_bias_row(assessment, network, derivation, seed, words))
        if not found and rereadable:
            found.extend(_transpose_fixes(formula, convention, network, derivation, seed))
    if not found and rereadable:
        found.extend(_rereadings(formula, convention, network, derivation, seed))
    if not found and assessment.method == "numeric" and rereadable:
        found.extend(_transpose_fixes(formula, convention, network, derivation, seed, weights_only=True))
    return found


#: Formulas longer than this (syntax nodes on the right) are not re-read in other ways for a diagnosis.
MAX_REREAD_NODES = 120


def _matching(assessment, network, derivation, words) -> list[str]:
    found = []
    for description, build in members(assessment, network, derivation, words):
        if _matches(assessment, _batched(build)):
            neighbour = getattr(build, "neighbour", None)
            if neighbour is not None:       # derived with the proofs deferred: prove it before it is shown
                derive(neighbour.network)
            found.append(description)
            if len(found) >= 3:
                break
    return found


# --- the members -----------------------------------------------------------------------------------
Member = tuple[str, Callable[[Trial], object]]


def members(assessment: Assessment, network, derivation, words: Words) -> Iterator[Member]:
    quantity = assessment.trials[0].target.quantity if assessment.trials else None
    layer = assessment.target.layer if assessment.target.quantity != "delta" or quantity != "output_delta" \
        else (S.L if S.l in sp.sympify(assessment.target.layer, strict=True).free_symbols else assessment.target.layer)
    yield ("the negative of the correct formula: a sign error", lambda t: MatMul(-1, t.expected))
    if quantity == "output_delta":
        yield from _output_members(network, derivation, words, layer)
    elif quantity == "hidden_delta":
        yield from _hidden_members(network, derivation, words, layer)
    elif quantity in ("weight_gradient", "bias_gradient"):
        yield from _gradient_members(assessment, network, derivation, words, layer)
    if quantity in ("output_delta", "hidden_delta"):
        delta = words.vector("delta", layer)
        yield (f"{delta} with a stray 1/m: the error of one example has no 1/m; the average over the m examples "
               f"belongs to the gradients of the weights and biases", lambda t: MatMul(1 / S.m, t.expected))


def _derivative_factor(activation, layer) -> object:
    body = sp.diff(activation.concrete(), S.z)
    z = S.vector("z", layer)
    if not body.has(S.z):
        return MatMul(body, OneMatrix(*z.shape))
    return ElementwiseApplyFunction(sp.Lambda(S.z, body), z)


def _output_members(network, derivation, words, layer) -> Iterator[Member]:
    output, loss = network.output, network.loss
    cancels = derivation.output_delta.cancels
    depth = network.depth
    delta, z, a = words.vector("delta", layer), words.vector("z", layer), words.vector("a", layer)
    loss_gradient = f"∂{words.notation.cost.text}/∂{a}"
    here = words.text(derivation.output_delta.vector.rhs)
    if output.elementwise and not cancels:
        name = output.name
        yield (f"{loss_gradient} alone: the factor {name}'({z}) of the {name} output is missing",
               lambda t: S.LayerArray(LOSS_GRADIENT, S.width[depth], 1, depth))
        yield (f"{loss_gradient} ⊙ {a}: the activation {name}({z}) = {a} in place of its derivative {name}'({z})",
               lambda t: HadamardProduct(S.LayerArray(LOSS_GRADIENT, S.width[depth], 1, depth),
                                         S.vector("a", depth)))
    if not output.elementwise:
        a_L = S.vector("a", depth)
        yield (f"{delta} with an extra factor {a} ⊙ (1 - {a}): after {_a(output.name)} output with the {loss.name} "
               f"cost, {delta} = {here} already holds the {output.name}'s derivative",
               lambda t: HadamardProduct(t.expected, a_L, MatAdd(OneMatrix(*a_L.shape), MatMul(-1, a_L))))
    other_losses, other_outputs = neighbours_tried(derivation)
    for other in LOSSES if other_losses else ():
        if other.name == loss.name:
            continue
        neighbour = _neighbour(network, loss=other)
        if neighbour is not None:
            yield (_other_loss_text(neighbour, derivation, words, delta, z), _expected_of(neighbour))
    for other in ACTIVATIONS if other_outputs else ():
        if other.name == output.name:
            continue
        neighbour = _neighbour(network, output=other)
        if neighbour is not None:
            yield (f"{delta} of the {other.name} output activation with the {loss.name} cost "
                   f"({delta} = {words.text(neighbour.output_delta.vector.rhs)}); this network's output is "
                   f"{output.name}, where {delta} = {here}", _expected_of(neighbour))
    if output.elementwise:
        name = output.name
        yield (f"{delta} with an extra factor {name}'({z})" +
               (f"; {_cancellation(derivation, words, delta, z)}" if cancels else ""),
               lambda t: HadamardProduct(t.expected, _derivative_factor(output, depth)))


def neighbours_tried(derivation) -> tuple[bool, bool]:
    """(δ^L of the other losses, δ^L of the other output activations): whether each family is derived.

    A neighbour keeps one part of this network: the other losses keep its output activation g, the
    other activations keep its loss. Where the part kept was typed by the user and its derivative is past
    the simplification budget (:mod:`symbackprop.budget`; a nested max/min), each of those some twenty
    derivations rebuilds that derivative's cases (seconds each), and a formula that equals one of them is
    not a slip anyone makes: that family is not tried, and the diagnosis says so. The catalogue's records
    are always tried."""
    network = derivation.network
    g_prime = derivation.output_delta.activation_derivative if typed(network.output) else None
    try:   # in the unit symbols a, y, as the engine holds it (a Σ_k of a coupled loss keeps its indices)
        loss_part = loss_derivative(derivation).xreplace({S.unit("a", S.L, S.k): S.a, S.target(S.k): S.y}) \
            if typed(network.loss) else None
    except NotDerived:
        loss_part = None
    return (g_prime is None or simplifiable(g_prime), loss_part is None or simplifiable(loss_part))


def _other_loss_text(neighbour, derivation, words, delta, z) -> str:
    net, here = neighbour.network, derivation.network
    ours = words.text(derivation.output_delta.vector.rhs)
    text = (f"{delta} of the {net.loss.name} cost with {_a(net.output.name)} output "
            f"({delta} = {words.text(neighbour.output_delta.vector.rhs)})")
    if derivation.output_delta.cancels and not neighbour.output_delta.cancels:
        return text + f"; {_cancellation(derivation, words, delta, z)}"
    if neighbour.output_delta.cancels and not derivation.output_delta.cancels:
        return text + (f", where {net.output.name}'({z}) cancels; under {here.loss.name} it stays: "
                       f"{delta} = {ours}")
    return text + f"; under {here.loss.name}, {delta} = {ours}"


def _a(word: str) -> str:
    """``word`` with its indefinite article: 'a sigmoid', 'an identity', 'an elu'."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _cancellation(derivation, words, delta, z) -> str:
    """The one sentence that says this network's g'(z^L) cancels; the same words wherever it is said, so
    that a diagnosis that finds two matches says it once (see ``checker._api``)."""
    here = derivation.network
    return (f"under {here.loss.name} the {here.output.name}'({z}) factor cancels: "
            f"{delta} = {words.text(derivation.output_delta.vector.rhs)}")


def _hidden_members(network, derivation, words, layer) -> Iterator[Member]:
    def activation(t, shift=0):
        return network.activation_of(int(t.target.layer) + shift)

    delta, a = words.vector("delta", layer), words.vector("a", layer)
    back, derivative = words.back_propagated(layer), words.derivative(layer)
    function = words.notation.function.text
    yield (f"{back} alone: the factor {derivative} of the hidden activation is missing",
           lambda t: back_propagated(derivation, int(t.target.layer)))
    yield (f"{delta} with an extra factor {derivative}",
           lambda t: HadamardProduct(t.expected, _derivative_factor(activation(t), int(t.target.layer))))
    yield (f"{back} ⊙ {a}: the activation {function}({words.vector('z', layer)}) = {a} in place of its derivative "
           f"{derivative}",
           lambda t: HadamardProduct(back_propagated(derivation, int(t.target.layer)),
                                     S.vector("a", int(t.target.layer))))

    def next_derivative_too(t):
        here = int(t.target.layer)
        inner = S.vector("delta", here + 1)
        back_value = back_propagated(derivation, here).xreplace(
            {inner: HadamardProduct(inner, _derivative_factor(activation(t, 1), here + 1))})
        return HadamardProduct(back_value, _derivative_factor(activation(t), here))

    yield (f"{delta} with an extra factor {words.derivative(layer + 1)} applied to {words.vector('delta', layer + 1)}, "
           f"which already holds it: {delta} = {back} ⊙ {derivative}", next_derivative_too)
    names = {h.name for h in network.hidden}
    for other in ACTIVATIONS:
        if other.name in names or not other.elementwise:
            continue
        neighbour = _neighbour(network, hidden=other)
        if neighbour is not None and neighbour.hidden_deltas:
            yield (f"{delta} of hidden layers with the {other.name} activation "
                   f"({words.text(neighbour.hidden_deltas[0].vector.rhs)}); this network's hidden activation is "
                   f"{', '.join(sorted(names))}", _expected_of(neighbour))


def _gradient_members(assessment, network, derivation, words, layer) -> Iterator[Member]:
    mode = assessment.target.mode
    quantity = assessment.target.quantity
    name = words.gradient(quantity, layer, "mean" if mode in ("mean", "mean0") else "example")
    weights = words.weight(layer)

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
            if t.target.column is not None:    # one column X_{:,j} (Ng's j = 0 is the bias column)
                first = int(t.target.column) - (0 if network.bias == "column" else 1)
                value = value[:, first:first + 1]
            return value
        return build

    if quantity == "weight_gradient":
        yield (f"the transpose of {name}", lambda t: Transpose(t.expected))
    variants = {
        "example": f"{name} of one example (no average over the batch, no λ term)",
        "mean": f"{name} averaged over the batch: (1/m) Σ over the examples" +
                (f" plus (λ/m) {weights}" if quantity == "weight_gradient" else ""),
        "sum": f"{name} summed over the batch without the 1/m average (Ng's Δ)",
    }
    if quantity == "weight_gradient":
        variants["example+reg"] = f"{name} of one example plus the L2 term λ{weights} (Goodfellow's J = L + λΩ)"
    for other, text in variants.items():
        if other != mode:
            yield (text, of(other))
    if mode == "mean" and quantity == "weight_gradient":
        yield (f"{name} averaged over the batch without the (λ/m) {weights} term (the L2 term is missing)",
               of("mean", lam=0))
        if network.bias == "column" and assessment.target.column is None:   # a column: see _l2_on_bias
            yield (f"{name} with the L2 term applied to the bias column too (Ng regularises the columns j ≥ 1 "
                   f"only: write [zeros(...), Θ(:, 2:end)] or Θ̃)", of("mean", bias_regularised=True))
        yield (f"{name} with the data term summed, not averaged: the 1/m is missing", of("mean", no_average=True))
        yield (f"m times {name} averaged over the batch: the 1/m is missing from both terms",
               lambda t: MatMul(S.m, expected(derivation, dataclasses.replace(t.target, mode="mean"))))
    yield from _l2_on_bias(assessment, network, words, name, layer)


def _l2_on_bias(assessment, network, words, name, layer) -> Iterator[Member]:
    """A bias gradient (or Ng's bias column) with an L2 term added: no textbook regularises the biases.

    The term is added to the very quantity the formula is compared with, in its mode: (λ/m) b for a mean
    over the batch (Ng, DLS, Nielsen's λ/n), λ b for one example under J = L + λΩ (Goodfellow), and
    both tried for one example, where the texts differ."""
    target = assessment.target
    bias_column = target.quantity == "weight_gradient" and target.column is not None \
        and network.bias == "column" and int(target.column) == 0
    if target.quantity != "bias_gradient" and not bias_column:
        return
    if bias_column:
        name = f"{name}_{{:,0}}"
    scales = {"mean": [S.lam / S.m], "mean0": [S.lam / S.m], "sum": [S.lam],
              "example": [S.lam / S.m, S.lam], "example+reg": [S.lam / S.m, S.lam]}.get(target.mode, [])
    bias = f"{words.weight(layer)}'s bias column" if network.bias == "column" and words.convention.name == "ng-ml" \
        else words.bias(layer)

    def with_l2(scale):
        def build(t):
            at = int(t.target.layer)
            if network.bias == "column":    # Ng's bias: column 0 of Θ
                b = S.LayerArray("W", S.width[at], S.width[at - 1] + 1, at)[:, :1]
            else:
                b = S.LayerArray("b", S.width[at], 1, at)
            return MatAdd(t.expected, MatMul(scale, b))
        return build
    for scale in scales:
        term = f"({words.text(scale)})" if scale != S.lam else "λ"
        yield (f"{name} with the L2 term {term} {bias} added: the biases are not regularised", with_l2(scale))


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
        with proofs_deferred():     # only compared here; _matching proves the ones it shows
            return derive(Network(spec["sizes"], hidden=spec["hidden"] or "sigmoid", output=spec["output"],
                                  loss=spec["loss"], l2=float(spec["l2"]) if spec["l2"] else 0, bias=spec["bias"]))
    except (SymbackpropError, TypeError, ValueError, NotImplementedError):
        return None


def _expected_of(neighbour):
    def build(t):
        return expected(neighbour, t.target)
    build.neighbour = neighbour
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


def _transposed(assessment: Assessment, derivation, seed: int, words=None) -> str:
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
    target = assessment.trials[0].target
    return f"the transpose of {words.describe(target) if words else target.describe()}"


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


def _without_bias_row(assessment, network, derivation, seed, words) -> list[str]:
    """Ng's bias column: a right-hand side one row too long (the bias unit's row 0 not dropped) is
    compared, without that row, with the nearby formulas."""
    if network.bias != "column" or not assessment.trials:
        return []
    from sympy.matrices.expressions import MatrixExpr

    from ._assess import SAMPLES, _sample_values
    rng = np.random.default_rng(seed + 2)
    trials = []
    for trial in assessment.trials:
        user, wanted = trial.user, trial.expected
        if trial.problem is not None or trial.entry is not None or not isinstance(user, MatrixExpr) or wanted is None:
            return []
        if sp.expand(user.shape[0] - wanted.shape[0] - 1) != 0 or sp.expand(user.shape[1] - wanted.shape[1]) != 0:
            return []
        shadow = Trial(trial.layers, trial.target, wanted, user=user[1:, :])
        if not _sample_values(shadow, derivation, rng, SAMPLES):
            return []
        trials.append(shadow)
    shadow_assessment = dataclasses.replace(assessment, trials=trials, method="numeric")
    found = _matching(shadow_assessment, network, derivation, words)
    if not found or found[0].startswith("the negative"):
        return found[:1]
    return [f"{found[0]}; and row 0 (the bias unit's) is to be dropped"]


def _transpose_fixes(formula, convention, network, derivation, seed, weights_only=False) -> list[str]:
    """The formula is correct once one factor (a weight matrix, an array, the whole right-hand side) is
    transposed: "transpose Θ^(2)(:, 2:end)"."""
    from ..errors import ParseError
    from ..grammar import _ast as A
    from ._syntax import script_parts, strip_groups, text_of
    rhs = formula.rhs
    node = strip_groups(rhs)
    if isinstance(node, A.Binary) and node.op == "+" and text_of(node.left, 1000) == text_of(formula.lhs, 1000):
        rhs = node.right         # Δ := Δ + increment: transpose within the increment
    candidates = [] if weights_only else [rhs]
    roles = (C.WEIGHT,) if weights_only else (C.WEIGHT, C.ACTIVATION, C.DELTA, C.PREACTIVATION)
    for item in A.walk(rhs):
        name, _, _, _ = script_parts(item.base if isinstance(item, A.Index) else item)
        role = convention.letters.get(name) or convention.batch_letters.get(name)
        if role in roles and not any(item is c for c in candidates):
            candidates.append(item)
        if len(candidates) >= 8:
            break
    found = []
    for candidate in candidates[:8]:
        replacement = _toggled_transpose(candidate)
        changed = dataclasses.replace(formula, rhs=_replaced(formula.rhs, candidate, replacement))
        try:
            outcome = assess(changed, convention, network, derivation, seed=seed)
        except (ParseError, SymbackpropError, RecursionError):
            continue
        if outcome.status == "correct":
            what = "the right-hand side" if candidate is rhs else f"'{text_of(candidate)}'"
            found.append(f"correct once {what} is transposed: transpose it, writing '{text_of(replacement)}'")
            break
    return found


def _toggled_transpose(node):
    from ..grammar import _ast as A
    if isinstance(node, A.Binary) and node.op == "^" and isinstance(node.right, A.Name) and node.right.name == "T":
        return node.left
    if isinstance(node, A.Prime) and node.count == 1:
        return node.operand
    if isinstance(node, A.Script) and isinstance(node.sup, A.Name) and node.sup.name == "T" and not node.sup_style:
        return dataclasses.replace(node, sup=None)
    group = node if isinstance(node, A.Group) else A.Group(node.column, node, "(")
    return A.Binary(node.column, "^", group, A.Name(node.column, "T"))


def _replaced(tree, old, new):
    """``tree`` with the very node ``old`` (by identity) replaced by ``new``."""
    from ..grammar import _ast as A
    if tree is old:
        return new
    if not isinstance(tree, A.Node):
        return tree
    changes = {}
    for field in dataclasses.fields(tree):
        value = getattr(tree, field.name)
        if isinstance(value, A.Node):
            replaced = _replaced(value, old, new)
            if replaced is not value:
                changes[field.name] = replaced
    return dataclasses.replace(tree, **changes) if changes else tree

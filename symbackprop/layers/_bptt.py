"""derive_recurrent(layer) -> RecurrentDerivation: backpropagation through time, from the cell's derivation.

The engine derives one step (the cell, :mod:`._recurrence`) at a generic t, at symbolic sizes. Through
time the cell is the δ^l recursion again, with the same weights at every step:

* a state h⟨t⟩ is read by the layer's output at t and by the cell at t+1 (as ``h_prev``), so
  ∂C/∂h⟨t⟩ = dh⟨t⟩ + dh_prev⟨t+1⟩, where dh_prev⟨t+1⟩ is the cell's own gradient of its input
  ``h_prev`` at step t+1 (zero after the last step): this is the cell's upstream gradient at t;
* a sequence input x⟨t⟩ is read at step t only: dx⟨t⟩ is the cell's dx at t;
* a parameter is read at every step: its gradient is the sum over t of the cell's;
* the initial state h0 is ``h_prev`` of the first step: dh0 = dh_prev⟨0⟩.

Nothing is stored: every right-hand side is the cell's derived gradient with the time index put
back. Elementwise definitions y = g(z) let the cell's dz be written in y (tanh: 1 - h², sigmoid:
σ (1 - σ)) when g can be solved for its function of z, as a textbook writes it and as the exported
step computes it (no exp or tanh recomputed in backward).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import sympy as sp

from ..derivation import Rule, Step
from ._derivation import Gradient, LayerDerivation, gradient_base, gradient_name
from ._recurrence import RecurrentLayer


@dataclass(frozen=True)
class RecurrentDerivation:
    """The cell's derivation, the gradients one step computes, and the steps back through time."""

    layer: RecurrentLayer
    cell: LayerDerivation
    #: cell array name -> ∂C/∂(it) at one step, over the cell's arrays and gradients (dz in h: (1 - h²) dh)
    step_gradients: Mapping
    steps: tuple                 #: the cell's steps, then those through time
    time_index: sp.Symbol

    def __repr__(self) -> str:
        """One line for a REPL: the layer, the gradients through time and the number of steps."""
        returned = ", ".join(gradient_name(name) for name in self.results)
        return f"<RecurrentDerivation of the {self.layer.describe()}: {returned} through time; {len(self.steps)} steps>"

    @property
    def results(self) -> tuple:
        return tuple(array.name for array in self.layer.differentiable)

    def as_layer_derivation(self) -> LayerDerivation:
        """The cell's LayerDerivation with every step (through time included), for the layer renderers; its
        results are the gradients through time (dx⟨t⟩, what step t+1 sends back, Σ_t for the weights)."""
        cell = self.cell
        gradients = dict(cell.gradients)
        for step in self.steps:
            statement = step.statement
            if step.rule in (Rule.THROUGH_TIME, Rule.SHARED_WEIGHTS) and step.quantity in gradients and \
                    isinstance(statement.lhs, sp.Indexed):
                old = gradients[step.quantity]
                gradients[step.quantity] = Gradient(old.of, old.kind, tuple(statement.lhs.indices), statement.rhs)
        return LayerDerivation(cell.layer, gradients, self.steps, cell.identities)


@lru_cache(maxsize=16)
def derive_recurrent(layer: RecurrentLayer) -> RecurrentDerivation:
    return _Through(layer).run()


class _Through:
    def __init__(self, layer: RecurrentLayer):
        from ._derive import derive_layer
        from ._validate import index_symbol
        self.layer = layer
        self.cell = derive_layer(layer.cell)
        self.t = index_symbol(layer.time_index)
        self.steps = list(self.cell.steps)

    def run(self) -> RecurrentDerivation:
        cell, layer, t = self.cell, self.layer, self.t
        gradients = {}
        quantities = set(cell.layer.quantities)
        for name, gradient in cell.gradients.items():
            expr = gradient.staged
            if name in quantities and gradient.kind != "output":
                rewritten, notes = in_forward_quantities(expr, cell.layer)
                if notes:
                    self._step(name, gradient.indices, rewritten, Rule.REWRITE,
                               "; ".join(notes) + ": the derivative in the forward quantity, as a textbook writes it")
                    expr = rewritten
            gradients[name] = expr
        T = layer.time
        for state in layer.states:
            indices = cell.gradients[state.carried].indices
            total = sp.Derivative(sp.Symbol("C"), layer.arrays[state.name].base[(t, *indices)])
            sent = gradient_base(state.previous)[(t + 1, *indices)]
            if state.name in layer.outputs:
                rhs = gradient_base(state.name)[(t, *indices)] + sent
                note = (f"{state.name}⟨t⟩ is read by the output at t (the upstream gradient {gradient_name(state.name)}"
                        f"⟨t⟩) and by the cell at t+1 as {state.previous}, which sends back {gradient_name(state.previous)}"
                        f"⟨t+1⟩ (zero after the last step, t = {T - 1}): the time analogue of δ^l = (W^(l+1))ᵀ δ^(l+1) "
                        f"⊙ g'(z^l), run from t = {T - 1} down to 0 with the same weights; it is the cell's upstream "
                        f"gradient {gradient_name(state.carried)} at t")
            else:
                rhs = sent
                note = (f"{state.name}⟨t⟩ is read by the cell at t+1 as {state.previous}, which sends back "
                        f"{gradient_name(state.previous)}⟨t+1⟩; after the last step it is the given "
                        f"{gradient_name(state.name)}_last (zero if none): the cell's upstream gradient "
                        f"{gradient_name(state.carried)} at t")
            self.steps.append(Step(state.name, sp.Eq(total, rhs, evaluate=False), Rule.THROUGH_TIME, note))
            prev = cell.gradients[state.previous]
            sent_value = self.timed(gradients[state.previous]).xreplace({t: t + 1})
            self.steps.append(Step(state.previous, sp.Eq(gradient_base(state.previous)[(t + 1, *prev.indices)],
                                                         sent_value, evaluate=False), Rule.THROUGH_TIME,
                                   f"what the cell at t+1 sends back to its previous state: its "
                                   f"{gradient_name(state.previous)}, derived above, at step t+1"))
        for name in layer.sequences:
            gradient = cell.gradients[name]
            self.steps.append(Step(name, sp.Eq(gradient_base(name)[(t, *gradient.indices)],
                                               self.timed(gradients[name]), evaluate=False), Rule.THROUGH_TIME,
                                   f"{name}⟨t⟩ is read by the cell at step t only: its gradient is that step's"))
        for param in layer.params:
            gradient = cell.gradients[param.name]
            summed = sp.Sum(self.timed(gradients[param.name]), (t, 0, T - 1))
            self.steps.append(Step(param.name, sp.Eq(gradient_base(param.name)[gradient.indices], summed,
                                                     evaluate=False), Rule.SHARED_WEIGHTS,
                                   f"{param.name} is the same at every step t = 0 .. {T - 1}: its gradient is the sum "
                                   f"of the cell's at each step"))
        for state in layer.states:
            gradient = cell.gradients[state.previous]
            self.steps.append(Step(state.initial, sp.Eq(gradient_base(state.initial)[gradient.indices],
                                                        gradient_base(state.previous)[(0, *gradient.indices)],
                                                        evaluate=False), Rule.INITIAL_STATE,
                                   f"{state.initial} is {state.previous} of the first step (t = 0): its gradient is "
                                   f"what that step sends back"))
        return RecurrentDerivation(layer, cell, gradients, tuple(self.steps), t)

    def _step(self, name, indices, rhs, rule, note):
        self.steps.append(Step(name, sp.Eq(gradient_base(name)[indices], rhs, evaluate=False), rule, note))

    def timed(self, expr):
        """The cell's expression at step t: x[n, d] -> x[t, n, d], h_prev[n, q] -> h[t-1, n, q]."""
        return timed(expr, self.layer, self.t)


def timed(expr, layer: RecurrentLayer, t, previous_as_state=True):
    per_step = set(layer.sequences) | set(layer.cell.quantities)
    per_step |= {gradient_name(name) for name in per_step}
    per_step |= {gradient_name(s.previous) for s in layer.states}
    previous = {s.previous: s.name for s in layer.states} if previous_as_state else {}
    if not previous_as_state:
        per_step |= {s.previous for s in layer.states}

    def at(ref):
        name = ref.base.label.name
        if name in previous:
            return sp.IndexedBase(previous[name], real=True)[(t - 1, *ref.indices)]
        return ref.base[(t, *ref.indices)]

    return expr.replace(lambda e: isinstance(e, sp.Indexed) and (e.base.label.name in per_step
                                                                 or e.base.label.name in previous), at)


def in_forward_quantities(expr, cell):
    """``expr`` with g'(z) written in y for each elementwise definition y = g(z) whose function of z can be
    solved for (tanh(z) = h; exp(-z) = (1 - a)/a for a = σ(z)); (expression, notes), notes empty if unchanged."""
    notes = []
    for definition in cell.definitions:
        rhs = definition.rhs
        refs = rhs.atoms(sp.Indexed)
        if rhs.has(sp.Sum) or len(refs) != 1:
            continue
        (ref,) = refs
        if set(ref.indices) != set(definition.indices) or ref.base not in {r.base for r in expr.atoms(sp.Indexed)}:
            continue
        holders = [f for f in rhs.atoms(sp.Function) if f.has(ref)]
        if len(holders) != 1:
            continue
        (holder,) = holders
        w, y = sp.Dummy("w", real=True), sp.Dummy("y", real=True)
        try:
            solutions = sp.solve(rhs.xreplace({holder: w}) - y, w)
        except (NotImplementedError, ValueError, TypeError):      # pragma: no cover
            continue
        if len(solutions) != 1:
            continue
        u = sp.Dummy("u", real=True)
        pattern = holder.xreplace({ref: u})
        positions = [list(ref.indices).index(i) for i in definition.indices]
        lhs_base = sp.IndexedBase(definition.name, real=True)
        mapping = {}
        for candidate in expr.atoms(type(holder)):
            inner = [r for r in candidate.atoms(sp.Indexed) if r.base == ref.base]
            if len(inner) == 1 and candidate == pattern.xreplace({u: inner[0]}):
                value_at = lhs_base[tuple(inner[0].indices[p] for p in positions)]
                mapping[candidate] = solutions[0].xreplace({y: value_at})
        if not mapping:
            continue
        new = expr.xreplace(mapping)
        if not new.has(sp.Sum):
            new = min((new, sp.cancel(new), sp.factor(new), sp.factor_terms(sp.expand(new))), key=sp.count_ops)
        if new.has(ref.base) or sp.count_ops(new) > sp.count_ops(expr) + 2:
            continue
        from ._printing import text
        notes.append(f"{text(holder)} = {text(solutions[0].xreplace({y: definition.lhs}))}, from the definition "
                     f"of {definition.name}")
        expr = new
    return expr, notes


__all__ = ["RecurrentDerivation", "derive_recurrent", "in_forward_quantities", "timed"]

"""derive_layer(layer) -> LayerDerivation: the backward pass of a layer, by differentiating its equations.

Given the upstream gradient dy = ∂C/∂y of each output, the engine walks the equations backwards.
For each array Q it applies the chain rule through every equation E that uses Q,

    dQ[t] = Σ_{indices of E} dE[...] · ∂E[...]/∂Q[t],

where SymPy forms ∂E/∂Q[t] (a Kronecker delta per index), :mod:`._calculus` contracts the deltas
and simplifies the sums with the identities the definitions state. For each input and parameter
it then substitutes the staged gradients, writes the result in the forward quantities where a
definition can be solved for the input (x - μ = x̂ √(var + ε)), and takes the common factor out:
for batch norm this reaches CS231n's alt form by the algebra. Everything is at symbolic sizes, so
the cost does not depend on N or D.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..derivation import Rule, Step
from ..errors import LayerSpecError
from . import _calculus as C
from ._coupling import CouplingMixin
from ._derivation import Gradient, LayerDerivation, gradient_base, gradient_name
from ._layer import Layer
from ._window_steps import WindowMixin

MAX_SOLVE_OPS = 30     #: definitions larger than this are not solved for an input (keeps sympy.solve cheap)


def derive_layer(layer) -> LayerDerivation:
    """The backward pass of ``layer`` (a :class:`Layer`, a built-in name, or layer text); a recurrent layer's
    is a :class:`~._bptt.RecurrentDerivation` (backpropagation through time)."""
    layer = _as_layer(layer)
    if getattr(layer, "recurrent", False):
        from ._bptt import derive_recurrent
        return derive_recurrent(layer)
    return _derive(layer)


def _as_layer(layer) -> Layer:
    if isinstance(layer, Layer) or getattr(layer, "recurrent", False):
        return layer
    if isinstance(layer, str):
        from .records import BY_NAME, layer_record
        if layer.strip() in BY_NAME or "\n" not in layer and "[" not in layer:
            return layer_record(layer.strip()).layer()
        return Layer.parse(layer)
    raise LayerSpecError(f"a layer is a Layer, a built-in name or layer text, not {type(layer).__name__}")


@lru_cache(maxsize=64)
def _derive(layer: Layer) -> LayerDerivation:
    return _Engine(layer).run()


class _Engine(CouplingMixin, WindowMixin):
    def __init__(self, layer: Layer):
        self.layer = layer
        self.identities = C.identities_of(layer.definitions) + list(layer.facts)
        self.consumers = {name: [] for name in layer.arrays}
        for definition in layer.definitions:
            for name in sorted({ref.base.label.name for ref in definition.rhs.atoms(sp.Indexed)}):
                self.consumers[name].append(definition)
        for output in layer.outputs:
            if self.consumers[output]:
                users = ", ".join(d.name for d in self.consumers[output])
                raise LayerSpecError(f"output {output} is also used by {users}; an output must be a final "
                                     f"quantity (name the intermediate and the output differently)")
        self.targets = {name: self._target(name) for name in layer.arrays}
        self.gradients: dict[str, Gradient] = {}
        self.steps: list[Step] = []
        self.used_identities: list = []
        self.window_auxiliary: dict = {}      #: name -> arrays its gradient reads that backward makes (dilations)

    def _target(self, name):
        """The indices ∂C/∂name is written with: those of its equation, or of its first use."""
        array = self.layer.arrays[name]
        if array.kind == "quantity":
            return self.layer.definition(name).indices
        uses = [(not set(ref.indices) <= set(definition.indices), definition.line, ref)
                for definition in self.layer.definitions
                for ref in sorted(definition.rhs.atoms(sp.Indexed), key=sp.default_sort_key)
                if ref.base.label.name == name]
        if uses:
            return self._window_target(tuple(min(uses, key=lambda use: use[:2])[2].indices))
        return tuple(C.index(letter) for letter in "ijklm"[:len(array.sizes)])

    def kind(self, name):
        if name in self.layer.outputs:
            return "output"
        return self.layer.arrays[name].kind

    # ---- the staged chain
    def run(self) -> LayerDerivation:
        order = [d.name for d in reversed(self.layer.definitions)] + [a.name for a in self.layer.differentiable]
        for name in order:
            self._staged(name)
        for name in list(self.layer.closed_for) + [a.name for a in self.layer.differentiable]:
            self._closed(name)
        ordered = {name: self.gradients[name] for name in order}
        return LayerDerivation(self.layer, ordered, tuple(self.steps), tuple(self.used_identities))

    def step(self, name, rhs, rule, note):
        if rule not in (Rule.CHAIN_RULE, Rule.CLOSED_FORM, Rule.COUPLING):
            rhs = C.plain_bound(rhs)
        self.steps.append(Step(name, sp.Eq(gradient_base(name)[self.targets[name]], rhs, evaluate=False), rule, note))

    def _staged(self, name):
        target = self.targets[name]
        if name in self.layer.outputs:
            upstream = gradient_base(name)[target]
            self.gradients[name] = Gradient(name, "output", target, upstream)
            given = sp.Derivative(sp.Symbol("C"), self.layer.arrays[name].base[target])
            self.step(name, given, Rule.UPSTREAM,
                      f"the upstream gradient {gradient_name(name)} = ∂C/∂{name} is given")
            return
        raw_terms, through = [], []
        base = self.layer.arrays[name].base
        for definition in self.consumers[name]:
            if definition.name not in self.gradients:
                continue
            mapping, taken = {}, {str(t) for t in target}
            for i in definition.indices:
                new = C.fresh(taken, str(i)) if str(i) in taken else i
                taken.add(str(new))
                mapping[i] = new
            indices = tuple(mapping[i] for i in definition.indices)
            rhs = C.rename_apart(definition.rhs.xreplace(mapping), set(target) | set(indices))
            local = sp.diff(rhs, base[target])
            if local == 0:
                continue
            term = gradient_base(definition.name)[indices] * local
            for i, size in reversed(list(zip(indices, self.layer.arrays[definition.name].sizes))):
                term = sp.Sum(term, (i, 0, size - 1))
            raw_terms.append(term)
            through.append(definition.name)
        if not raw_terms:
            self.gradients[name] = Gradient(name, self.kind(name), target, sp.Integer(0))
            self.step(name, sp.Integer(0), Rule.CHAIN_RULE, f"no output depends on {name}, so its gradient is zero")
            return
        raw = sp.Add(*raw_terms)
        self.step(name, raw, Rule.CHAIN_RULE,
                  f"chain rule through {_words(through)}, the quantit{'y' if len(through) == 1 else 'ies'} "
                  f"computed from {name}; each ∂/∂{name} is a product of Kronecker deltas")
        contracted = C.contract(raw)
        if contracted != raw:
            self.step(name, contracted, Rule.KRONECKER,
                      "each sum over an index pinned by a Kronecker delta keeps that one term; factors that do "
                      "not depend on a summed index leave the sum")
        if contracted.atoms(sp.KroneckerDelta):        # deltas of shifted indices (convolution): windows
            contracted = self._window_contraction(name, contracted)
        used = []
        simplified = contracted if name in self.window_auxiliary else C.simplify_sums(contracted, self.identities, used)
        if simplified != contracted:
            self._identity_step(name, simplified, used)
        if self.kind(name) == "quantity":
            simplified = self._couple(name, simplified)
        self.gradients[name] = Gradient(name, self.kind(name), target, C.plain_bound(simplified),
                                        auxiliary=self.window_auxiliary.get(name, ()))

    def _identity_step(self, name, expr, used):
        facts = "; ".join(_identity_words(identity) for identity in used) or "sums split by linearity"
        self.step(name, expr, Rule.SUM_IDENTITY, facts)
        self.used_identities.extend(i for i in used if i not in self.used_identities)

    # ---- the closed form of an input's or a parameter's gradient
    def _closed(self, name):
        gradient = self.gradients[name]
        staged = gradient.staged
        intermediates = self._adjoints_in(staged)
        if not intermediates:
            rewritten = self._rewrite(name, staged, solve_for=self._solvable(name))
            if rewritten is not None and sp.count_ops(rewritten[0]) < sp.count_ops(staged):
                self._rewrite_step(name, *rewritten)
                self.gradients[name] = Gradient(name, gradient.kind, gradient.indices, staged, C.plain_bound(rewritten[0]),
                                                auxiliary=gradient.auxiliary)
            return
        inlined, used_stages = self._inline(staged)
        mark = len(self.steps)
        self.step(name, inlined, Rule.SUBSTITUTION,
                  f"the staged gradients {_words(gradient_name(q) for q in used_stages)} substituted, down to the "
                  f"upstream gradient")
        used = []
        current = C.simplify_sums(inlined, self.identities, used)
        if current != inlined:
            self._identity_step(name, current, used)
        rewritten = self._rewrite(name, current, shortest=False, solve_for=self._solvable(name))
        if rewritten is not None:
            self._rewrite_step(name, *rewritten)
            current = rewritten[0]
        if name in self.layer.closed_for and not current.has(sp.Sum):
            # a model's logits: the rewrite leaves σ'(z) = a (1 - a) against the loss's 1/(a (1 - a)); they cancel
            # (sigmoid + cross-entropy: dz = dL (a - Y)) only when the whole expression is factored
            factored = sp.factor(current)
            if sp.count_ops(factored) < sp.count_ops(current):
                current = factored
        display = _factored(C.plain_bound(current))
        if display is not None:
            self.step(name, display, Rule.CLOSED_FORM, "the common factor taken out: the closed form, in the "
                      "upstream gradient and the forward quantities only")
            current = _shortest(current)
        budget = sp.count_ops(staged) + sum(sp.count_ops(self.gradients[q].final) for q in used_stages)
        closed = C.plain_bound(current) if sp.count_ops(current) <= budget else None
        chain = (staged, *(self.gradients[q].final for q in used_stages))
        if closed is None or _passes(closed) > _passes(*chain) or _depth(closed) > max(map(_depth, chain)):
            # longer, or it would redo a reduction the staged chain computes once (attention's dQ = dS K / √D
            # inlined nests dS's row sum inside the sum over keys): the staged chain is the result, as a
            # textbook writes it
            del self.steps[mark:]
            return
        self.gradients[name] = Gradient(name, gradient.kind, gradient.indices, staged, closed,
                                        display if closed is not None else None, gradient.auxiliary)

    def _solvable(self, name) -> tuple:
        """A quantity asked for in closed form may be written through the definitions computed from it, as an
        input is (a model's logits z = log(a / (1 - a)) from a = σ(z): σ'(z) = a (1 - a))."""
        return (name,) if name in self.layer.closed_for else ()

    def _rewrite_step(self, name, expr, notes):
        self.step(name, expr, Rule.REWRITE, "; ".join(notes))

    def _adjoints_in(self, expr) -> list:
        names = {gradient_name(q): q for q in self.layer.quantities
                 if q not in self.layer.outputs and q not in self.layer.boundaries}
        return sorted({names[ref.base.label.name] for ref in expr.atoms(sp.Indexed) if ref.base.label.name in names})

    def _inline(self, expr):
        seen = []
        for _ in range(len(self.layer.definitions) + 1):
            found = self._adjoints_in(expr)
            if not found:
                break
            seen.extend(q for q in found if q not in seen)
            bases = {gradient_name(q): q for q in found}

            def value(ref, host=expr):
                quantity = bases[ref.base.label.name]
                gradient = self.gradients[quantity]
                return C.instantiate(gradient.final, gradient.indices, tuple(ref.indices), C.all_symbols(host))

            expr = expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base.label.name in bases, value)
        return C.contract(expr), seen

    def _rewrite(self, name, expr, shortest=True, solve_for=()):
        """``expr`` with the differentiated inputs written through a forward quantity whose definition can be
        solved for them (x = μ + x̂ √(var + ε)), when that makes it shorter; (expression, notes) or None."""
        best, best_notes, best_ops = None, None, None
        for definition in self.layer.definitions:
            for solved, rule in self._solutions(definition, solve_for):
                ref = solved if isinstance(solved, sp.Indexed) else solved.args[0]
                occurrences = [r for r in expr.atoms(sp.Indexed) if r.base == ref.base]
                if not occurrences:
                    continue
                positions = [list(ref.indices).index(i) for i in definition.indices]

                def value(found, rule=rule, positions=positions, host=expr, ref=ref):
                    inner = found if isinstance(found, sp.Indexed) else found.args[0]
                    args = tuple(inner.indices[p] for p in positions)
                    return C.instantiate(rule, definition.indices, args, C.all_symbols(host))

                def query(e, solved=solved, ref=ref):
                    if isinstance(solved, sp.Indexed):
                        return isinstance(e, sp.Indexed) and e.base == ref.base
                    return e.func == solved.func and isinstance(e.args[0], sp.Indexed) and e.args[0].base == ref.base

                candidate = expr.replace(query, value)
                used = []
                candidate = C.simplify_sums(_tidy(candidate), self.identities, used)
                candidate = _tidy(candidate)
                short = _shortest(candidate)
                if shortest:
                    candidate = short
                if (isinstance(solved, sp.Indexed) and candidate.has(ref.base)) or not _elementary(candidate):
                    continue
                if not _denominators(short) <= _denominators(expr):
                    continue      # never divide by what the layer did not divide by (1/gamma is not safe)
                if best is None or sp.count_ops(short) < best_ops:
                    best_ops = sp.count_ops(short)
                    note = (f"{_plain(solved)} = {_plain(rule)}, from the definition of {definition.name} "
                            f"({_plain(definition.lhs)} = {_plain(definition.rhs)})")
                    best, best_notes = candidate, [note] + [_identity_words(i) for i in used]
                    self.used_identities.extend(i for i in used if i not in self.used_identities)
        if best is None or best_ops >= sp.count_ops(expr):
            return None
        return best, best_notes

    def _solutions(self, definition, solve_for=()):
        """(reference, its value) for each differentiated array (and each of ``solve_for``) the definition
        can be solved for."""
        rhs = definition.rhs
        if rhs.has(sp.Sum) or rhs.has(sp.Piecewise) or sp.count_ops(rhs) > MAX_SOLVE_OPS:
            return []
        found = []
        if isinstance(rhs, sp.Function) and len(rhs.args) == 1 and isinstance(rhs.args[0], sp.Indexed):
            # y = g(x): g(x) is y wherever it appears (1 - tanh(x)^2 = 1 - y^2); no inverse needed
            found.append((rhs, definition.lhs))
        differentiable = {a.name for a in self.layer.differentiable} | set(solve_for)
        for ref in sorted(rhs.atoms(sp.Indexed), key=sp.default_sort_key):
            if ref.base.label.name not in differentiable or set(ref.indices) != set(definition.indices):
                continue
            unknown = sp.Dummy("u", real=True)
            equation = rhs.xreplace({ref: unknown}) - definition.lhs
            if ref in equation.atoms(sp.Indexed) or _transcendental(equation, unknown):
                continue
            try:
                solutions = sp.solve(equation, unknown, dict=False)
            except (NotImplementedError, ValueError, TypeError):
                continue
            if len(solutions) != 1:
                continue
            found.append((ref, solutions[0]))
        return found


def _transcendental(equation, unknown) -> bool:
    """Whether ``unknown`` is both inside a function (tanh, exp, erf, |.|) and elsewhere, or inside two:
    x (1 + tanh(c (x + a x^3))) / 2 = y has no closed inverse, and sympy.solve can search for minutes
    (gelu-tanh, mish, softsign) before giving up."""
    holders = [f for f in equation.atoms(sp.Function) if unknown in f.free_symbols]
    if not holders:
        return False
    outermost = [f for f in holders if not any(f is not g and g.has(f) for g in holders)]
    rest = equation.xreplace({f: sp.Dummy() for f in outermost})
    return len(outermost) > 1 or unknown in rest.free_symbols


def _passes(*exprs) -> int:
    """The number of distinct sums (passes over the data) needed to evaluate all of ``exprs``."""
    return len(set().union(*(expr.atoms(sp.Sum) for expr in exprs)))


def _depth(expr) -> int:
    """How deeply sums nest in ``expr`` (0: no sum; 2: a sum inside a sum's body)."""
    if isinstance(expr, sp.Sum):
        return 1 + _depth(expr.function)
    return max((_depth(arg) for arg in expr.args), default=0)


def _elementary(expr) -> bool:
    """No inverse functions or complex numbers left (the rewrite must stay in what forward computed)."""
    allowed = (sp.exp, sp.log, sp.tanh, sp.Piecewise, sp.KroneckerDelta)
    return all(isinstance(f, allowed) for f in expr.atoms(sp.Function)) and not expr.has(sp.I)


def _shortest(expr):
    """The shortest of a few equivalent forms; sympy.simplify only where there is no sum (it is cheap there)."""
    forms = [expr, sp.factor_terms(sp.together(expr))]
    if not expr.has(sp.Sum) and sp.count_ops(expr) < 40:
        forms.append(sp.factor(sp.simplify(expr)))
    return min(forms, key=sp.count_ops)


def _denominators(expr) -> set:
    """The arrays that appear in a denominator of ``expr``."""
    found = set()
    for power in expr.atoms(sp.Pow):
        if power.exp.is_number and power.exp < 0:
            found |= {ref.base for ref in power.base.atoms(sp.Indexed)}
    return found


def _tidy(expr):
    """Products distributed and like terms collected, each sum's body kept as it is."""
    return sp.expand(expr, deep=False, mul=True, multinomial=False, power_exp=False, power_base=False, log=False)


def _factored(expr):
    """expr as (common factor) · (bracket), as a textbook writes it; None when nothing is common."""
    together = sp.together(expr)
    numerator, denominator = sp.fraction(together)
    content, primitive = sp.factor_terms(sp.expand(numerator, deep=False)).as_independent(sp.Add, as_Add=False)
    if not isinstance(primitive, sp.Add) or (content == 1 and denominator == 1):
        return None
    factor = content / denominator
    return sp.Mul(factor, primitive, evaluate=False)


def _words(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _plain(expr) -> str:
    from ._printing import text
    return text(expr)


def _identity_words(identity) -> str:
    from ._printing import text
    statement = f"Σ_{identity.index} {text(identity.body)} = {text(identity.value)}"
    if identity.given:
        return f"{statement} ({identity.source})"
    if identity.derived:
        return f"{statement} (summing the definition of {identity.source})"
    return f"{statement} (the definition of {identity.source})"

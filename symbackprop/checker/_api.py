"""``check(formula, network, notation=...)``: the formula checker's one entry point."""
from __future__ import annotations

import dataclasses

from ..engine import derive
from ..errors import NetworkSpecError, ParseError
from ..grammar import parse_formula
from . import _conventions as C
from ._assess import assess
from ._code import FUNCTIONS as CODE_FUNCTIONS, rewrite
from ._family import diagnose, neighbours_tried
from ._verdict import Verdict
from ._words import Words


def check(formula: str, network, notation: str = C.DEFAULT, *, seed: int = 0) -> Verdict:
    r"""Check a hand-derived backpropagation formula against what the engine derives for ``network``.

    >>> from symbackprop import Network
    >>> net = Network((4, 3, 2), hidden="sigmoid", output="sigmoid", loss="quadratic")
    >>> check(r"\delta^L = (a^L - y) \odot \sigma'(z^L)", net).verdict
    'correct'

    ``notation`` says how to read the letters and layer indices: 'ng-ml', 'ng-dls', 'nielsen',
    'goodfellow' or 'bishop'. Raises :class:`~symbackprop.errors.ParseError` (with the column)
    when the formula cannot be read; every other outcome is a :class:`Verdict`.
    """
    from ..network import Network
    if not isinstance(network, Network):
        raise NetworkSpecError(f"check() takes a symbackprop.Network, not {type(network).__name__}")
    convention = C.convention(notation)
    parsed = read_formula(formula, convention)
    derivation = derive(network)
    try:
        return _decide(formula, parsed, convention, network, derivation, seed)
    except RecursionError:
        return Verdict("undecided", formula, convention.name, "", None,
                       "the formula is nested too deeply to evaluate; write it more simply")


def read_formula(formula: str, convention):
    """The parsed formula with program code (Octave, NumPy) written as the notation's formulas."""
    parsed = parse_formula(formula, convention.name, functions=CODE_FUNCTIONS, arrays=convention.arrays)
    try:
        return dataclasses.replace(parsed, lhs=rewrite(parsed.lhs, convention.name),
                                   rhs=rewrite(parsed.rhs, convention.name),
                                   condition=rewrite(parsed.condition, convention.name))
    except ParseError as error:      # the rewriting knows the node, not the text: add the text for the caret
        if error.text:
            raise
        raise ParseError(error.message, formula, error.column) from None


def _decide(formula, parsed, convention, network, derivation, seed) -> Verdict:
    outcome = assess(parsed, convention, network, derivation, seed=seed)
    words = Words(convention, network.depth, l2=network.l2 != 0)
    quantity = f"{outcome.target.written}: {words.describe(outcome.target)}"
    if outcome.status == "correct":
        how = ("proved symbolically for every layer size" if outcome.method == "symbolic"
               else "equal at random layer sizes and values (simplification did not prove it)")
        layers = _layers_text(outcome, words)
        return Verdict("correct", formula, convention.name, quantity, outcome.method,
                       f"correct: {how}{layers}", None, tuple(outcome.notes))
    if outcome.status == "undecided":
        return Verdict("undecided", formula, convention.name, quantity, outcome.method,
                       outcome.message or "could not decide", None, tuple(outcome.notes))
    # a derivative applied to a or h is the diagnosis itself; else the nearby formulas it equals
    matches = [] if outcome.misapplied else diagnose(outcome, parsed, convention, network, derivation, seed)
    parts = list(outcome.misapplied) + ([outcome.message] if outcome.message else [])
    if matches:
        parts.append(f"this is {matches[0]}" if not matches[0].startswith("correct") else matches[0])
        if len(matches) > 1:
            parts.append(f"equivalently, {_unsaid(matches[1], matches[0])}")
    elif outcome.method == "numeric" and not outcome.misapplied:
        tried, skipped = _neighbours(outcome, derivation)
        parts.append(f"it matches none of the nearby formulas tried ({tried}a sign, a derivative factor, a transpose, "
                     f"1/m, the λ term, other notations{skipped}); see the counterexample")
    diagnosis = "; ".join(parts) if parts else "incorrect"
    return Verdict("incorrect", formula, convention.name, quantity, outcome.method, diagnosis,
                   outcome.counterexample, tuple(outcome.notes), tuple(matches))


def _unsaid(text: str, said: str) -> str:
    """``text`` without the '; '-separated clauses ``said`` already holds (the cancellation of g'(z^L))."""
    before = set(said.split("; "))
    return "; ".join(clause for clause in text.split("; ") if clause not in before)


def _neighbours(outcome, derivation) -> tuple[str, str]:
    """The neighbouring networks the diagnosis derived, and those it did not, for the message that none matched."""
    if not outcome.trials or outcome.trials[0].target.quantity != "output_delta":
        return "other losses and activations, ", ""
    losses, activations = neighbours_tried(derivation)
    tried = [name for name, done in (("other losses", losses), ("other output activations", activations)) if done]
    skipped = [name for name, done in (("other losses", losses), ("other output activations", activations)) if not done]
    if not skipped:
        return "other losses and activations, ", ""
    kept = {"other losses": "output activation's", "other output activations": "loss's"}
    return ("".join(f"{name}, " for name in tried),
            "; not " + " nor ".join(f"{name} (this {kept[name]} derivative is past the simplification budget)"
                                    for name in skipped))


def _layers_text(outcome, words) -> str:
    """The layers a generic formula was checked at, numbered and named as the notation does."""
    values = [trial.layers for trial in outcome.trials]
    from .. import symbols as S
    generic = [words.layer_value(int(v[S.l])) for v in values if S.l in v]
    if generic:
        return f" (checked at {words.notation.layer_name('l')} = {', '.join(map(str, generic))})"
    return ""

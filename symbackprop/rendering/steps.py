"""The layout of a derivation, independent of the output format: sections, numbered steps, results.

This module owns *what* a rendered derivation says and in which order: one section per derived
quantity (the cost, δ^L, the δ^l recursion, ∂C/∂W, ∂C/∂b), every step numbered and printed in
both LaTeX and text in one notation, with its rule and note; then the results in vector form.
The format modules (text, LaTeX, .tex, HTML) only lay this out. Nothing here re-derives: every
formula is a statement or quantity of the :class:`~symbackprop.derivation.Derivation`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


from .. import symbols as S
from ..derivation import Derivation, Quantity, Step
from ..errors import NetworkSpecError
from ._latex_printer import NotationLatexPrinter
from ._notes import note_latex, note_text
from ._text_printer import NotationTextPrinter
from .notations import Notation, notation as _notation

QUANTITIES = ("cost", "output_delta", "hidden_delta", "weight_gradient", "bias_gradient")


@dataclass(frozen=True)
class Formula:
    """One expression in the two printed forms."""

    latex: str
    text: str


@dataclass(frozen=True)
class RenderedStep:
    number: int
    quantity: str
    rule: str
    note: Formula          #: the note, as LaTeX text-mode source and as terminal text
    note_raw: str          #: the note as the engine wrote it (HTML translates it itself)
    statement: Formula
    batch: bool            #: a statement about the whole batch (J, m examples)
    step: Step


@dataclass(frozen=True)
class Section:
    key: str
    title: str             #: words
    symbol: Formula        #: the quantity the section derives, e.g. delta^L
    steps: tuple[RenderedStep, ...]


@dataclass(frozen=True)
class Result:
    label: str
    formula: Formula
    quantity: str


@dataclass(frozen=True)
class Layout:
    """Everything a format module needs, already printed."""

    derivation: Derivation
    notation: Notation
    network: str
    sections: tuple[Section, ...]
    results: tuple[Result, ...]
    assumptions: tuple[tuple[Formula, str], ...]
    latex_printer: NotationLatexPrinter
    text_printer: NotationTextPrinter

    def printers(self, batch: bool):
        """(latex printer, text printer) for a statement of one example or of the batch."""
        return _printers(self.notation, self.derivation.network.depth, batch)


def _printers(notation: Notation, depth: int, batch: bool):
    settings = {"notation": notation, "depth": depth, "batch": batch}
    return NotationLatexPrinter(settings), NotationTextPrinter(settings)


def is_batch(statement) -> bool:
    """A statement about the batch: it mentions the batch cost J or the number of examples m."""
    free = getattr(statement, "free_symbols", set())
    return S.J in free or S.m in free or bool(statement.has(S.J))


def formula(expr, latex_printer, text_printer) -> Formula:
    return Formula(latex_printer.doprint(expr), text_printer.doprint(expr))


def layout(derivation: Derivation, notation="nielsen") -> Layout:
    """Print every step and result of ``derivation`` in ``notation``."""
    notation = _notation(notation)
    check_size_names(derivation.network, notation)
    depth = derivation.network.depth
    one = _printers(notation, depth, False)
    both = {False: one, True: _printers(notation, depth, True)}
    sections, number = [], 0
    for key, layer, steps in _groups(derivation):
        rendered = []
        for step in steps:
            number += 1
            batch = is_batch(step.statement)
            latex_printer, text_printer = both[batch]
            rendered.append(RenderedStep(
                number=number, quantity=step.quantity, rule=step.rule.value,
                note=Formula(note_latex(step.note, latex_printer), note_text(step.note, text_printer)),
                note_raw=step.note, statement=formula(step.statement, latex_printer, text_printer),
                batch=batch, step=step))
        title, symbol = _title(key, layer, derivation)
        sections.append(Section(key, title, formula(symbol, *one) if symbol is not None else Formula("", ""),
                                tuple(rendered)))
    return Layout(derivation=derivation, notation=notation, network=derivation.network.describe(),
                  sections=tuple(sections), results=tuple(_results(derivation, both)),
                  assumptions=tuple((formula(a.statement, *one), a.note) for a in derivation.assumptions),
                  latex_printer=one[0], text_printer=one[1])


def check_size_names(network, notation: Notation) -> None:
    """Refuse a symbolic layer width named like a letter of ``notation`` (a width 'a' beside the
    activations a^l cannot be read)."""
    reserved = notation.letters()
    for position, size in enumerate(network.sizes, start=1):
        name = getattr(size, "name", None)
        if name is not None and name in reserved:
            raise NetworkSpecError(
                f"layer size {name!r} (layer {position}) is also a letter of the {notation.name} notation, where "
                f"it already names something else; rename the size (e.g. n{position}); letters taken: "
                f"{', '.join(sorted(reserved))}")


def _groups(derivation: Derivation):
    """(quantity, layer, steps) in the order of the derivation; hidden steps per layer when they differ."""
    groups: list[tuple[str, object, list]] = []
    for step in derivation.steps:
        layer = step.layer if step.quantity == "hidden_delta" else None
        if groups and groups[-1][0] == step.quantity and groups[-1][1] == layer:
            groups[-1][2].append(step)
        else:
            groups.append((step.quantity, layer, [step]))
    return groups


_TITLES = {
    "cost": "The cost",
    "output_delta": "The error of the output layer",
    "hidden_delta": "The error of a hidden layer: the recursion",
    "weight_gradient": "The gradient with respect to the weights",
    "bias_gradient": "The gradient with respect to the biases",
}


def _title(key: str, layer, derivation: Derivation):
    network = derivation.network
    title = _TITLES.get(key, key.replace("_", " "))
    if key == "cost":
        return title, None
    if key == "output_delta":
        return title, S.vector("delta", S.L)
    if key == "hidden_delta":
        layer = S.l if layer is None else layer
        if layer != S.l:
            title = "The error of hidden layer %s" % layer
        return title, S.vector("delta", layer)
    if key == "weight_gradient":
        return title, S.LayerArray("grad_W", S.width[S.l], S.width[S.l - 1], S.l)
    if key == "bias_gradient":
        if network.bias == "column":
            title = "The gradient with respect to the biases (column 0 of the weights)"
        return title, S.LayerArray("grad_b", S.width[S.l], 1, S.l)
    return title, None


def _results(derivation: Derivation, printers):
    """The derived formulas in vector form: what a reader takes away."""
    out = []

    def add(label: str, quantity: Optional[Quantity], attribute: str, key: str):
        if quantity is None:
            return
        expr = getattr(quantity, attribute)
        if expr is None:
            return
        latex_printer, text_printer = printers[attribute == "batch_vector"]
        out.append(Result(label, formula(expr, latex_printer, text_printer), key))

    add("output layer", derivation.output_delta, "vector", "output_delta")
    if derivation.hidden_delta is not None:
        add("hidden layers", derivation.hidden_delta, "vector", "hidden_delta")
    else:
        for quantity in derivation.hidden_deltas:
            add("hidden layer %s" % quantity.layer, quantity, "vector", "hidden_delta")
    add("weights, one example", derivation.weight_gradient, "vector", "weight_gradient")
    add("weights, batch of m", derivation.weight_gradient, "batch_vector", "weight_gradient")
    add("biases, one example", derivation.bias_gradient, "vector", "bias_gradient")
    add("biases, batch of m", derivation.bias_gradient, "batch_vector", "bias_gradient")
    return out

"""The layout of a derivation, independent of the output format: sections, numbered steps, results.

This module owns *what* a rendered derivation says and in which order: one section per derived
quantity (the cost, δ^L, the δ^l recursion, ∂C/∂W, ∂C/∂b), every step numbered and printed in
both LaTeX and text in one notation, with its rule and note; then the results in vector form.
The format modules (text, LaTeX, .tex, HTML) only lay this out. Nothing here re-derives: every
formula is a statement or quantity of the :class:`~symbackprop.derivation.Derivation`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import sympy as sp

from .. import symbols as S
from ..derivation import Derivation, Quantity, Rule, Step
from ..errors import NetworkSpecError
from ._accumulator import accumulator_steps
from ._code import Code, code as _code
from ._function_letter import activation_glyph, layers_glyph, own_glyph
from ._latex_printer import NotationLatexPrinter
from ._notes import note_prose
from ._prose import Formula, Prose, prose_latex, prose_text
from ._text_printer import NotationTextPrinter
from .notations import Glyph, Notation, notation as _notation

QUANTITIES = ("cost", "output_delta", "hidden_delta", "weight_gradient", "bias_gradient")
__all__ = ["Formula", "Prose", "RenderedStep", "Section", "Result", "Layout", "layout", "formula", "is_batch"]


@dataclass(frozen=True)
class RenderedStep:
    number: int
    quantity: str
    rule: str
    note: Formula          #: the note, as LaTeX text-mode source and as terminal text
    note_raw: str          #: the note as the engine wrote it
    note_prose: Prose      #: the note as words and formulas (HTML typesets it from this)
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
    assumptions: tuple[tuple[Formula, Prose], ...]
    latex_printer: NotationLatexPrinter
    text_printer: NotationTextPrinter
    header: tuple = ()     #: sentences (Prose) that define the notation's letters, before any step uses them
    conclusion: Prose = ()  #: one sentence after the results: did the activation's derivative cancel?
    code: Optional[Code] = None  #: the result as the course's code (Octave for ng-ml, numpy for ng-dls)

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
    groups = _groups(derivation)
    if notation.accumulator_form and accumulator_steps(derivation):
        groups.append(("ng_form", None, list(accumulator_steps(derivation))))
    for key, layer, steps in groups:
        rendered = []
        steps = _using_definitions(steps)
        for step in steps:
            number += 1
            batch = is_batch(step.statement)
            latex_printer, text_printer = both[batch]
            function = _step_function(step, derivation.network, notation)
            prose = note_prose(step.note, latex_printer, text_printer, function) if step.note else ()
            statement = formula(step.statement, latex_printer, text_printer)
            if _is_assignment(step):
                statement = Formula(statement.latex.replace(" = ", " := ", 1), statement.text.replace(" = ", " := ", 1))
            rendered.append(RenderedStep(
                number=number, quantity=step.quantity, rule=step.rule.value,
                note=Formula(prose_latex(prose), prose_text(prose)), note_raw=step.note, note_prose=prose,
                statement=statement, batch=batch, step=step))
        title, symbol = _title(key, layer, derivation)
        sections.append(Section(key, title, formula(symbol, *one) if symbol is not None else Formula("", ""),
                                tuple(rendered)))
    results = tuple(_results(derivation, both))
    return Layout(derivation=derivation, notation=notation, network=derivation.network.describe(),
                  sections=tuple(sections), results=results,
                  assumptions=tuple((formula(a.statement, *one), note_prose(a.note, *one))
                                    for a in derivation.assumptions),
                  latex_printer=one[0], text_printer=one[1], header=_header(derivation, notation, both),
                  conclusion=_conclusion(derivation, one),
                  code=_code(derivation, notation.code_language) if notation.code_language else None)


def _step_function(step: Step, network, notation: Notation):
    """The letter of the activation a step's note differentiates: the output's, the layer's, or one letter
    for every hidden layer (f, each layer's own, where one letter cannot say them all)."""
    if step.quantity == "output_delta":
        return activation_glyph(notation, network.output)
    if isinstance(step.layer, (int, sp.Integer)) and 2 <= step.layer <= network.depth:
        return activation_glyph(notation, network.activation_of(int(step.layer)))
    return layers_glyph(notation, network.hidden or (network.output,)) or _EACH_LAYERS


#: the letter of "each layer's own activation" where a notation's letter names one function and the
#: hidden layers have different ones (the forward-pass sentence says so)
_EACH_LAYERS = Glyph("f", "f")


def _is_assignment(step: Step) -> bool:
    """Ng's Δ := Δ + δ a^T is an update over the examples, not an equation."""
    lhs = getattr(step.statement, "lhs", None)
    return step.quantity == "ng_form" and isinstance(lhs, S.LayerArray) and lhs.role == "acc"


def _using_definitions(steps):
    """Steps where a symbol defined by one step (e^l, the back-propagated error with the bias row
    dropped) is written as that symbol in the next, so that the definition is used where it is made."""
    out = list(steps)
    for position, step in enumerate(out[:-1]):
        if step.rule is Rule.BIAS_ROW and isinstance(step.statement, sp.Eq) and isinstance(step.statement.lhs, S.LayerArray):
            following = out[position + 1]
            replaced = following.statement.xreplace({step.statement.rhs: step.statement.lhs})
            if replaced != following.statement:
                out[position + 1] = replace(following, statement=replaced)
    return out


def _header(derivation: Derivation, notation: Notation, printers) -> tuple:
    """The notation's remarks, then a definition of every symbol the steps use that no step defines:
    the Kronecker delta's bracket, the batch cost, the batch matrices and the regularised weights."""
    latex_printer, text_printer = printers[False]
    batch_latex, batch_text = printers[True]
    one = lambda expr: formula(expr, latex_printer, text_printer)  # noqa: E731
    many = lambda expr: formula(expr, batch_latex, batch_text)  # noqa: E731
    network = derivation.network
    lines = list(notation.remarks)
    lines.append(_forward_pass(network, latex_printer, text_printer))
    kronecker = sp.KroneckerDelta(S.i, S.k, evaluate=False)
    lines.append((one(kronecker), " is 1 when ", one(sp.Eq(S.i, S.k, evaluate=False)), " and 0 otherwise ("
                  + ("the Iverson bracket, written for the Kronecker delta so that no letter has two meanings)."
                     if notation.kronecker is None else "the Kronecker delta, as the book writes it).")))
    example = sp.Indexed(sp.IndexedBase("C"), S.x_index)
    cost = [many(S.J), " is the cost of a batch of ", many(S.m), " examples: the mean of the costs ",
            many(example), " of its examples ", many(S.x_index)]
    if network.l2 != 0:
        cost += [", plus the L2 penalty of strength ", many(S.lam), " on the weights"]
    lines.append(tuple(cost) + (".",))
    lines.append(_batch_layout(notation, latex_printer, text_printer))
    batch_vector = derivation.weight_gradient.batch_vector
    regularised = [a for a in batch_vector.atoms(S.LayerArray) if a.role == "W_reg"] if batch_vector is not None else []
    if regularised:
        tilde = regularised[0]
        weights = S.LayerArray("W", tilde.shape[0], tilde.shape[1], tilde.layer)
        lines.append((many(tilde), " is ", many(weights), " with its column 0 (the bias column) replaced by zeros: "
                      "the bias is not regularised."))
    bias_vector = derivation.bias_gradient.batch_vector
    if bias_vector is not None and any(a.role == "ones" for a in bias_vector.atoms(S.LayerArray)):
        ones = next(a for a in bias_vector.atoms(S.LayerArray) if a.role == "ones")
        lines.append((many(ones), " is a column of ", many(S.m), " ones: multiplying by it sums over the examples."))
    return tuple(lines)


def _forward_pass(network, latex_printer, text_printer):
    """The forward pass of layer l in the notation's letters: every letter a step uses is named here."""
    one = lambda expr: formula(expr, latex_printer, text_printer)  # noqa: E731
    l = S.l
    if network.bias == "column":
        width = S.width[l - 1] + 1
        affine = sp.MatMul(S.matrix(l, cols=width), S.vector("a", l - 1, size=width))
        bias_words = ", with the bias unit 1 on top of "
    else:
        affine = sp.MatAdd(sp.MatMul(S.matrix(l), S.vector("a", l - 1)), S.vector("b", l))
        bias_words = ""
    z, pre = one(S.vector("z", l)), one(affine)
    activation = _activation_words(network, latex_printer.notation, one)
    out = ["Layer ", one(l), " computes ", Formula(z.latex + " = " + pre.latex, z.text + " = " + pre.text)]
    if bias_words:
        out += [bias_words, one(S.vector("a", l - 1))]
        if latex_printer.notation.bias_place != "column":
            out += [" (so column 0 of ", one(S.matrix(l)), ", written ", one(S.vector("b", l)), ", is the bias)"]
        out += [","]
    out += [" and ", *activation, "; ", one(S.vector("y", S.L)), " is the target and ", one(S.C),
            " the cost of one example."]
    return tuple(out)


def _activation_words(network, notation: Notation, one) -> tuple:
    """a^l = g(z^l), with the letter of the network's activation: one letter for all layers where it can,
    else the hidden layers' and the output layer's apart."""
    def applied(g: Glyph, layer) -> Formula:
        a, z = one(S.vector("a", layer)), one(S.vector("z", layer))
        return Formula(r"%s = %s(%s)" % (a.latex, g.latex, z.latex), "%s = %s(%s)" % (a.text, g.text, z.text))

    every = layers_glyph(notation, (*network.hidden, network.output))
    if every is not None:
        return (applied(every, S.l),)
    output = (" in a hidden layer and ", applied(activation_glyph(notation, network.output), S.L),
              " in the output layer")
    hidden = layers_glyph(notation, network.hidden)
    if hidden is not None:
        return (applied(hidden, S.l), *output)
    names = ", ".join(own_glyph(h).text for h in dict.fromkeys(network.hidden))
    return (applied(_EACH_LAYERS, S.l), ", ", Formula(_EACH_LAYERS.latex, _EACH_LAYERS.text),
            " being the activation of layer ", one(S.l), f" ({names})", *output)


def _batch_layout(notation: Notation, latex_printer, text_printer):
    """One sentence on how a batch is stacked, with the notation's own batch letters."""
    namer = latex_printer.namer
    parts = []
    for role in ("a", "delta"):
        unit = formula(S.vector(role, S.l), latex_printer, text_printer)
        name = namer.array(S.LayerArray(role, S.width[S.l], S.m, S.l))
        parts.append((Formula(latex_printer.decorate(name), text_printer.decorate(name)), unit))
    (A, a), (D, d) = parts
    layout = "one example per row" if notation.examples == "rows" else "one example per column"
    return ("In a batch, ", A, " and ", D, " stack ", a, " and ", d, " of the ", formula(S.m, latex_printer, text_printer),
            " examples, " + layout + ".")


def _conclusion(derivation: Derivation, printers) -> Prose:
    output = derivation.output_delta
    if output.cancels is None or output.activation is None:
        return ()
    latex_printer, text_printer = printers
    delta = formula(S.vector("delta", S.L), latex_printer, text_printer)
    g = activation_glyph(latex_printer.notation, output.activation)
    z = formula(S.vector("z", S.L), latex_printer, text_printer)
    prime = Formula(r"%s'(%s)" % (g.latex, z.latex), "%s'(%s)" % (g.text, z.text))
    name = output.activation.name
    if output.cancels:
        return ("The derivative of %s cancelled: " % name, delta, " has no factor ", prime, ".")
    return ("The derivative of %s did not cancel: it stays a factor of " % name, delta, ".")


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
    "ng_form": "Ng's form: accumulate over the examples, then average",
}


def _title(key: str, layer, derivation: Derivation):
    network = derivation.network
    title = _TITLES.get(key, key.replace("_", " "))
    if key == "cost":
        return title, None
    if key == "ng_form":
        return title, S.LayerArray("acc", S.width[S.l + 1], S.width[S.l] + 1, S.l + 1)
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

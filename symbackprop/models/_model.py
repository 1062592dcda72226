"""A model: built-in layers in sequence, with residual branches, ending in a loss; composed into one layer.

:func:`build_model` reads a model string (:mod:`._syntax`), takes each stage's equations from its
layer record (each record's own text in the layer language, its arrays renamed per stage), and adds
the loss as one more equation ``L[n] = ...`` per example, the cost being C = (1/N) Σ_n L[n]. The
result is a :class:`Model` whose ``layer`` is an ordinary :class:`~symbackprop.layers.Layer`: the
layer engine derives it (how the error passes back through each stage), its renderers print it and
its exporter writes it. Nothing here knows any layer's mathematics.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from ..errors import LayerSpecError, ParseError, UnknownNameError
from ..layers import _calculus as C
from ..layers._layer import Layer
from ..layers.records import BY_NAME
from . import _images as images
from ._syntax import Residual, Use, parse_model

#: the losses a model can end in, per example, in the layer language (A: the model's output, Y: targets)
LOSSES: Mapping[str, str] = {
    "categorical-cross-entropy": "-sum(Y[n, k] * log(A[n, k]), k)",
    "cross-entropy": "-sum(Y[n, k] * log(A[n, k]) + (1 - Y[n, k]) * log(1 - A[n, k]), k)",
    "quadratic": "sum((A[n, k] - Y[n, k])^2, k) / 2",
}
#: the losses whose targets are one-hot (or probabilities): each row of Y sums to 1
ONE_HOT = ("categorical-cross-entropy",)
#: after log-softmax, the categorical cross-entropy reads its logarithms as they are
LOG_OUTPUT = {"log-softmax": {"categorical-cross-entropy": "-sum(Y[n, k] * A[n, k], k)"}}

#: the name each stage's output gets (with the stage number): z for affine, a for an activation
_OUTPUT_LETTER = {"affine": "z", "batchnorm": "u", "layernorm": "u", "softmax": "p", "log-softmax": "q",
                  "attention": "o", "multihead-attention": "o",
                  "add": "r"}
_SIZES = ("D", "H", "K", "M", "P", "Q", "R", "T", "U", "V", "G")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = ("input", "param", "const", "output", "size")   # a stage's sizes are the model's (numbers)


#: the last stages whose output is a probability vector: the model's loss is then the categorical one
_DISTRIBUTIONS = ("softmax", "log-softmax")


def default_loss(spec: str) -> str:
    """The loss of a model string when none is named: the categorical cross-entropy after softmax or
    log-softmax (the binary one per unit would read a distribution as independent probabilities), the
    cross-entropy otherwise."""
    last = parse_model(spec)[-1]
    return "categorical-cross-entropy" if isinstance(last, Use) and last.name in _DISTRIBUTIONS else "cross-entropy"


@dataclass(frozen=True)
class Model:
    """A model string read and composed: its stages, its loss, its sizes and the composed layer."""

    spec: str
    loss: str
    input_size: object           #: the width of each example, or (height, width, channels) for images
    layer: Layer                 #: the whole model as one layer: inputs X, Y; output L (the per-example loss)
    widths: Mapping              #: size name ('D', 'H') -> its number in this model
    params: tuple                #: the parameters, in stage order: what cost_and_gradients takes and returns
    stages: tuple                #: one line per stage, 'z1 = affine(X)', for the docstring and the derivation

    def describe(self) -> str:
        return f"model {self.spec} with loss {self.loss}, input size {self.input_size}"

    def shape(self, name: str) -> tuple:
        """The numeric shape of a parameter, or of X or Y with N examples ('N' stays a name)."""
        sizes = self.layer.arrays[name].sizes
        return tuple(self.widths.get(str(size), str(size)) for size in sizes)


def build_model(spec: str, loss: str, input_size: int) -> Model:
    """The :class:`Model` the model string ``spec`` describes, ending in ``loss``, on inputs of ``input_size``."""
    if loss not in LOSSES:
        raise UnknownNameError("model loss", loss, LOSSES)
    shape = images.input_shape(input_size)
    if spec.strip() in NAMED:
        if len(shape) != 1:
            raise LayerSpecError(f"--model {spec.strip()} reads rows: --input-size is one width, e.g. 8")
        spec = NAMED[spec.strip()](shape[0])
    chain = parse_model(spec)
    composer = _Composer(spec)
    output = composer.chain(chain, "X", tuple(composer.size(width) for width in shape))
    if len(composer.shapes[output]) != 2:
        raise composer.error("the model ends in an image; add flatten > affine(K) before the loss", len(spec))
    last = _last_use(chain)
    loss_text = LOSSES[loss]
    if last is not None:
        loss_text = LOG_OUTPUT.get(last.name, {}).get(loss, loss_text)
    loss_text = _rename(loss_text, {"A": output})
    target_size = composer.shapes[output][1]
    pads = composer.pads.get("X", {})
    axes = [f"{name} pad {pads[k]}" if k in pads else name for k, name in enumerate(composer.shapes["X"][1:])]
    lines = [f"# {spec}  (loss {loss}, input size {input_size})",
             "input  " + ", ".join([f"X[N, {', '.join(axes)}]", f"Y[N, {target_size}]", *composer.extra_inputs])]
    if composer.params:
        lines.append("param  " + ", ".join(composer.params))
    if composer.constants:
        lines.append("const  " + ", ".join(composer.constants))
    declared = _declared_sizes(lines)
    derived = [f"{name} = {value}" for name, value in composer.derived.items() if name not in declared]
    if derived:     # an image size no input or parameter has (a convolution's output read only by a pooling)
        lines.append("size   " + ", ".join(derived))
    lines += composer.lines
    lines += [f"# the loss {loss}, per example; the cost is C = (1/N) Σ_n L[n], so dL[n] = 1/N",
              f"L[n] = {loss_text}", "output L"]
    text = "\n".join(lines) + "\n"
    try:
        layer = Layer.parse(text, name="model", description=spec)
    except (ParseError, LayerSpecError) as error:      # a bug in the composition, not in the user's string
        from ..errors import InternalError
        raise InternalError(f"the composed model does not parse: {error}\n{text}") from None
    facts = ()
    if loss in ONE_HOT:
        n, k = C.index("n"), C.index("k")
        facts = (C.SumIdentity(k, sp.IndexedBase("Y", real=True)[n, k], sp.Integer(1), (n,),
                               "given: each row of the targets Y sums to 1 (one-hot or probabilities)", given=True),)
    boundaries = tuple(composer.outputs[:-1])
    closed_for = tuple(name for name in dict.fromkeys(composer.stage_inputs) if name != "X")
    layer = dataclasses.replace(layer, facts=facts, closed_for=closed_for, boundaries=boundaries)
    widths = {name: width for width, name in composer.sizes.items()}
    params = tuple(a.name for a in layer.params)
    return Model(spec, loss, input_size, layer, widths, params, tuple(composer.stages))


def _chainable(record) -> bool:
    """A layer that can be a stage: one input, or attention's additive mask besides (a model input)."""
    inputs = record.layer().inputs
    return len(inputs) == 1 or (len(inputs) == 2 and inputs[1].name == "mask" and "attention" in record.name)


def _transformer_block(width: int) -> str:
    """Pre-norm transformer block (issue 16): x + MHA(LN(x)), then h + W2 gelu(W1 LN(h)) with 4x hidden width."""
    heads = 2 if width % 2 == 0 else 1
    return (f"residual(layernorm > multihead-attention({heads}, {width // heads})) > "
            f"residual(layernorm > affine({4 * width}) > gelu > affine({width}))")


#: models with a name: --model transformer-block --input-size 8
NAMED = {"transformer-block": _transformer_block}


def _declared_sizes(lines) -> set:
    """The size names the composed text's input and param lines give slots to."""
    slots = (slot for line in lines for slot in re.findall(r"\[([^\]]*)\]", line))
    return {size.split()[0] for slot in slots for size in slot.split(",") if size.strip()}


def _size_definitions(text: str) -> dict:
    """``size Ho = (Hp - K)/S + 1, Wo = ...`` lines of a record -> {'Ho': '(Hp - K)/S + 1', ...}."""
    found = {}
    for line in text.splitlines():
        body = line.split("#", 1)[0].strip()
        if body.split()[:1] != ["size"]:
            continue
        depth, start, parts, rest = 0, 0, [], body[len("size"):]
        for position, character in enumerate(rest):
            depth += {"(": 1, ")": -1}.get(character, 0)
            if character == "," and depth == 0:
                parts.append(rest[start:position])
                start = position + 1
        parts.append(rest[start:])
        for part in parts:
            name, value = part.split("=", 1)
            found[name.strip()] = value.strip()
    return found


def _last_use(chain):
    last = chain[-1]
    return last if isinstance(last, Use) else None


def _rename(text: str, names: Mapping) -> str:
    return _IDENTIFIER.sub(lambda m: names.get(m.group(0), m.group(0)), text)


class _Composer:
    """Stage by stage: the renamed equations, the parameter and constant declarations, the sizes."""

    def __init__(self, spec):
        self.spec = spec
        self.sizes: dict = {}        # width -> size name
        self.shapes = {"X": None}    # array -> (N, size name)
        self.params, self.constants, self.lines, self.stages = [], [], [], []
        self.count = 0
        self.outputs, self.stage_inputs, self.extra_inputs = [], [], []
        self.pads: dict = {}         # a model input read with index arithmetic -> {axis: padding}
        self.derived: dict = {}      # a size a stage derives -> its formula in the model's names

    def size(self, width: int) -> str:
        if width not in self.sizes:
            if len(self.sizes) == len(_SIZES):
                raise LayerSpecError(f"--model: more than {len(_SIZES)} different widths; use fewer")
            self.sizes[width] = _SIZES[len(self.sizes)]
        return self.sizes[width]

    def error(self, message, column):
        return ParseError(f"--model: {message}", self.spec, column)

    def chain(self, chain, current, shape):
        self.shapes[current] = ("N", *shape)
        previous = None
        for item in chain:
            if isinstance(item, Residual):
                branch = self.chain(item.chain, current, shape)
                if self.shapes[branch][1:] != tuple(shape) or len(shape) != 1:
                    widths = {v: k for k, v in self.sizes.items()}
                    raise self.error(f"the residual branch ends at width "
                                     f"{'x'.join(str(widths[s]) for s in self.shapes[branch][1:])} but its input has "
                                     f"width {'x'.join(str(widths[s]) for s in shape)}; a residual branch must keep "
                                     f"the width (of rows)", item.column)
                current = self.stage(BY_NAME["add"], (), {"x": current, "r": branch}, item.column)
            else:
                rank = len(self.shapes[current])
                found = images.image_stage(item, rank, self.error)
                record, widths = found if found is not None else (images.ranked(self.record(item), rank), item.widths)
                if found is None and item.options:
                    raise self.error(f"{item.name} takes no option {item.options[0][0]}=", item.options[0][2])
                first = record.layer().inputs[0].name
                if record.name == "affine" and rank > 2 and not (previous and previous.name == "flatten"):
                    raise self.error("affine reads rows (N, D); its input here is an image: add flatten before it",
                                     item.column)
                if len(record.layer().inputs[0].sizes) != rank:
                    raise self.error(f"{item.name} reads rows (N, D); its input here is an image: add flatten "
                                     f"before it", item.column)
                current = self.stage(record, widths, {first: current}, item.column, item.name)
            shape = self.shapes[current][1:]
            previous = item if isinstance(item, Use) else None
        return current

    def record(self, use):
        record = BY_NAME.get(use.name)
        accepted = [name for name, r in BY_NAME.items() if _chainable(r)]
        if record is None:
            raise self.error(f"unknown layer {use.name!r}; accepted: {', '.join(accepted)}, residual(...)",
                             use.column)
        if not _chainable(record):
            raise self.error(f"the layer {use.name!r} takes {len(record.layer().inputs)} inputs and cannot be a "
                             f"stage of a chain; accepted: {', '.join(accepted)}, residual(...)", use.column)
        return record

    def stage(self, record, widths, inputs, column, written=None):
        layer = record.layer()
        self.count += 1
        number = self.count
        written = written or record.name
        sizes = {}
        for array in layer.inputs:
            for size, model_size in zip(array.sizes, self.shapes.get(inputs.get(array.name), ())):
                sizes[size] = model_size
        extra = [a for a in layer.inputs if a.name not in inputs]      # an attention mask: a model input
        for array in extra:
            for size in array.sizes:
                if size not in sizes:
                    raise self.error(f"{written}: its input {array.name} has a size the chain does not fix", column)
        free = [s for s in layer.sizes if s not in sizes and s not in layer.derived_sizes]
        if len(widths) != len(free):
            if not free:
                raise self.error(f"{written} takes no width (its output has the width of its input); write "
                                 f"{written}", column)
            if len(free) == 1:
                raise self.error(f"{written} needs its output width, e.g. {written}(64)", column)
            raise self.error(f"{written} needs {len(free)} widths (its sizes {', '.join(map(str, free))}), e.g. "
                             f"{written}({', '.join(['2', '16', '8'][:len(free)])})", column)
        for size, width in zip(free, widths):
            sizes[size] = self.size(width)
        for size, value in layer.derived_sizes.items():       # an output image's height: from the numbers
            numbers = {name: width for width, name in self.sizes.items()}
            given = {s: numbers[sizes[s]] for s in value.free_symbols if s in sizes}
            length = value.xreplace(given)
            if not length.is_Integer or length < 1:
                raise self.error(f"{written}: its output would have size {length} (the input is too small for "
                                 f"its window)", column)
            sizes[size] = self.size(int(length))
        for array in layer.inputs:
            if any(pad is not None for pad in array.pads) and inputs.get(array.name) == "X":
                self.pads.setdefault("X", {}).update({k - 1: pad for k, pad in enumerate(array.pads)
                                                      if pad is not None and k > 0})
        names = {str(s): v for s, v in sizes.items()}
        for symbol in layer.constants:
            names[str(symbol)] = f"{symbol}{number}"
        for size, formula in _size_definitions(record.text).items():
            # the first formula that gives a size its number declares it (if no input or parameter does)
            self.derived.setdefault(names[size], _rename(formula, names))
        inputs = {**inputs, **{a.name: f"{a.name}{number}" for a in extra}}
        for array in extra:
            self.extra_inputs.append(f"{array.name}{number}[{', '.join(names[str(s)] for s in array.sizes)}]")
        names.update(inputs)
        for array in layer.params:
            names[array.name] = f"{array.name}{number}"
        letter = _OUTPUT_LETTER.get(record.name, "a")
        for quantity in layer.quantities:
            names[quantity] = f"{letter}{number}" if quantity in layer.outputs else f"{quantity}{number}"
        for array in layer.params:
            slots = ", ".join(names[str(s)] for s in array.sizes)
            self.params.append(f"{names[array.name]}[{slots}]")
        for symbol, value in layer.constants.items():
            self.constants.append(f"{names[str(symbol)]} = {float(value)!r}")
        self.lines.append(f"# stage {number}: {written}{f'({chr(44).join(map(str, widths))})' if widths else ''}")
        for line in record.text.splitlines():
            body = line.split("#", 1)[0].strip()
            if not body or body.split()[0] in _KEYWORDS:
                continue
            self.lines.append(_rename(body, names))
        (output,) = layer.outputs
        out = names[output]
        self.outputs.append(out)
        self.stage_inputs.extend(v for k, v in inputs.items() if k not in {a.name for a in extra})
        self.shapes[out] = tuple(names[str(s)] for s in layer.arrays[output].sizes)
        arguments = ", ".join(inputs[a.name] for a in layer.inputs)
        params = ", ".join(names[a.name] for a in layer.params)
        self.stages.append(f"{out} = {written}({arguments}{'; ' + params if params else ''})")
        return out

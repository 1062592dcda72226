"""The image stages of a model: ``conv2d``, ``maxpool``, ``avgpool`` and ``flatten``, and the stages that act
on an image as on a row: activations (every entry) and ``affine`` (after ``flatten``: it contracts every axis).

Images are channels last, (N, H, W, C), the Deep Learning Specialization's layout. ``flatten`` is the identity
on the entries; the ``affine`` after it contracts all of the image's axes, ``z[n, m] = Σ_{h,w,c} x[n, h, w, c]
W[h, w, c, m] + b[m]``, which is row-major flattening followed by an affine layer whose weight is W reshaped
to (H·W·C, M). Nothing here knows any layer's mathematics: each stage is a record in the layer language.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..errors import LayerSpecError
from ..layers._window_records import window_record

WINDOWS = ("conv2d", "maxpool", "avgpool")
IMAGE = (*WINDOWS, "flatten")
_OPTIONS = {"conv2d": ("k", "pad", "stride", "dilation"), "maxpool": ("stride",), "avgpool": ("stride",), "flatten": ()}


@dataclass(frozen=True)
class StageRecord:
    """A stage written for its input's rank: a name and a text in the layer language (like a LayerRecord)."""

    name: str
    text: str

    def layer(self):
        return _parse(self)


@lru_cache(maxsize=None)
def _parse(record: StageRecord):
    from ..layers._layer import Layer
    return Layer.parse(record.text, record.name)


def input_shape(value) -> tuple:
    """``32`` or ``'8x8x1'`` (height x width x channels) -> a tuple of positive integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        parts = (value,)
    elif isinstance(value, tuple):
        parts = value
    elif isinstance(value, str):
        pieces = value.strip().lower().split("x")
        if not all(piece.strip().isdigit() for piece in pieces):
            raise LayerSpecError(f"--input-size {value!r}: expected a positive integer (32) or an image size "
                                 f"height x width x channels (28x28x1)")
        parts = tuple(int(piece) for piece in pieces)
    else:
        raise LayerSpecError(f"--input-size {value!r}: expected a positive integer, the width of each example")
    if len(parts) not in (1, 3) or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in parts):
        raise LayerSpecError(f"--input-size {value!r}: expected a positive integer (32) or height x width x "
                             f"channels (28x28x1)")
    return parts


def _letters(rank):
    return ["h", "w", "c", "e", "f", "g"][:rank - 1]


def image_stage(use, rank, error):
    """(record, widths for its free sizes in first-use order) for an image stage, or None for another layer."""
    if use.name not in IMAGE:
        return None
    options = {}
    for option, value, column in use.options:
        if option not in _OPTIONS[use.name]:
            accepted = ", ".join(f"{o}=" for o in _OPTIONS[use.name]) or "no option"
            raise error(f"{use.name} takes {accepted}, not {option}=", column)
        options[option] = value
    if use.name != "flatten" and rank != 4:
        raise error(f"{use.name} reads an image (N, height, width, channels); its input here has "
                    f"{rank - 1} ax{'is' if rank == 2 else 'es'} besides the examples (give --input-size HxWxC)",
                    use.column)
    if use.name == "conv2d":
        if len(use.widths) != 1:
            raise error("conv2d needs its number of filters, e.g. conv2d(8, k=3, pad=1)", use.column)
        record = window_record("conv2d", options.get("stride", 1), options.get("pad", 0), layout="ng-dls",
                               dilation=options.get("dilation", 1))
        return record, (options.get("k", 3), use.widths[0])            # free sizes: the kernel Fk, the filters Co
    if use.name in ("maxpool", "avgpool"):
        if len(use.widths) != 1:
            raise error(f"{use.name} needs its window size, e.g. {use.name}(2)", use.column)
        size = use.widths[0]
        return window_record(use.name, options.get("stride", size), 0, size, layout="ng-dls"), ()
    if use.widths:
        raise error("flatten takes no width", use.column)
    letters = _letters(rank)
    sizes = ["S" + str(k) for k in range(1, rank)]
    text = (f"# flatten: the identity on the entries; the next affine contracts every axis\n"
            f"input  x[N, {', '.join(sizes)}]\ny[n, {', '.join(letters)}] = x[n, {', '.join(letters)}]\noutput y\n")
    return StageRecord("flatten", text), ()


def ranked(record, rank):
    """``record`` written for an input of ``rank`` axes: an activation on every entry, an affine contracting every
    axis but the examples'; the record itself for rank 2 or another layer."""
    if rank == 2 or record.name in IMAGE:
        return record
    layer = record.layer()
    letters = _letters(rank)
    sizes = ["S" + str(k) for k in range(1, rank)]
    if record.name == "affine":
        text = (f"input  x[N, {', '.join(sizes)}]\nparam  W[{', '.join(sizes)}, M], b[M]\n"
                f"y[n, m] = sum(x[n, {', '.join(letters)}] * W[{', '.join(letters)}, m], {', '.join(letters)}) + b[m]\n"
                f"output y\n")
        return StageRecord("affine", text)
    (definition,) = layer.definitions
    function = record.text.split("y[n, d] = ", 1)[1].split("(", 1)[0] if "y[n, d] = " in record.text else None
    if function is None or len(layer.inputs) != 1 or layer.params or len(layer.definitions) != 1:
        return record                  # not an elementwise activation: the composer reports the rank mismatch
    text = (f"input  x[N, {', '.join(sizes)}]\ny[n, {', '.join(letters)}] = {function}(x[n, {', '.join(letters)}])\n"
            f"output y\n")
    return StageRecord(record.name, text)

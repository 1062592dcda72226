"""The built-in layers: each one record, written in the layer language.

Adding a layer is adding one :class:`LayerRecord`; the engine derives it and the exporter prints
it, and the tests pick it up by parametrising over :data:`LAYERS`. Each catalogue activation is a
layer too (``relu``, ``tanh``, ...), made from its catalogue record.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..catalogue.activations import ACTIVATIONS
from ..errors import UnknownNameError


@dataclass(frozen=True)
class LayerRecord:
    """A built-in layer: its name, one line for --help, and its text in the layer language."""

    name: str
    description: str
    text: str

    def layer(self):
        return _parse(self)


@lru_cache(maxsize=None)
def _parse(record: LayerRecord):
    from ._layer import Layer
    return Layer.parse(record.text, record.name, record.description)


_BATCHNORM = """\
# batch normalisation, training mode: statistics over the batch (rows), biased variance (CS231n)
input  x[N, D]
param  gamma[D], beta[D]
const  eps = 1e-5
mu[d] = sum(x[n, d], n) / N
var[d] = sum((x[n, d] - mu[d])^2, n) / N
xhat[n, d] = (x[n, d] - mu[d]) / sqrt(var[d] + eps)
y[n, d] = gamma[d] * xhat[n, d] + beta[d]
output y
"""

_LAYERNORM = """\
# layer normalisation: statistics over the features of each example (row), biased variance
input  x[N, D]
param  gamma[D], beta[D]
const  eps = 1e-5
mu[n] = sum(x[n, d], d) / D
var[n] = sum((x[n, d] - mu[n])^2, d) / D
xhat[n, d] = (x[n, d] - mu[n]) / sqrt(var[n] + eps)
y[n, d] = gamma[d] * xhat[n, d] + beta[d]
output y
"""

_AFFINE = """\
# affine (dense) layer, examples as rows: y = x W + b
input  x[N, D]
param  W[D, M], b[M]
y[n, m] = sum(x[n, d] * W[d, m], d) + b[m]
output y
"""

_SOFTMAX = """\
# softmax over the last axis (k), each example a row
input  x[N, K]
s[n] = sum(exp(x[n, j]), j)
y[n, k] = exp(x[n, k]) / s[n]
output y
"""

_LOG_SOFTMAX = """\
# log-softmax over the last axis (k), each example a row
input  x[N, K]
s[n] = sum(exp(x[n, j]), j)
y[n, k] = x[n, k] - log(s[n])
output y
"""

_DROPOUT = """\
# inverted dropout: the mask (0 or 1) is an input, p the probability of keeping a unit
input  x[N, D], mask[N, D]
const  p = 0.5
y[n, d] = x[n, d] * mask[n, d] / p
output y
"""

_ADD = """\
# residual connection: the sum of two branches
input  x[N, D], r[N, D]
y[n, d] = x[n, d] + r[n, d]
output y
"""


def _activation_record(activation) -> LayerRecord:
    function = activation.name.replace("-", "_")
    return LayerRecord(activation.name, f"{activation.description}, elementwise",
                       f"# the activation {activation.name}, elementwise\ninput  x[N, D]\n"
                       f"y[n, d] = {function}(x[n, d])\noutput y\n")


LAYERS: tuple[LayerRecord, ...] = (
    LayerRecord("affine", "affine (dense) layer y = x W + b, examples as rows", _AFFINE),
    LayerRecord("batchnorm", "batch normalisation, training mode, biased variance (CS231n)", _BATCHNORM),
    LayerRecord("layernorm", "layer normalisation over the features of each example", _LAYERNORM),
    LayerRecord("softmax", "softmax over the last axis", _SOFTMAX),
    LayerRecord("log-softmax", "log-softmax over the last axis", _LOG_SOFTMAX),
    LayerRecord("dropout", "inverted dropout with the mask as an input, keep probability p = 0.5", _DROPOUT),
    LayerRecord("add", "residual connection y = x + r", _ADD),
    *(_activation_record(a) for a in ACTIVATIONS if a.elementwise),
)

BY_NAME = {record.name: record for record in LAYERS}


def layer_record(name: str) -> LayerRecord:
    """The built-in layer called ``name``; :class:`UnknownNameError` lists the others."""
    if name not in BY_NAME:
        raise UnknownNameError("layer", name, BY_NAME)
    return BY_NAME[name]

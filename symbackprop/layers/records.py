"""The built-in layers: each one record, written in the layer language.

Adding a layer is adding one :class:`LayerRecord`; the engine derives it and the exporter prints
it, and the tests pick it up by parametrising over :data:`LAYERS`. Each catalogue activation is a
layer too (``relu``, ``tanh``, ...), made from its catalogue record.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..catalogue.activations import ACTIVATIONS
from ..errors import LayerSpecError, UnknownNameError
from ._recurrent_records import recurrent_records


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


_ATTENTION = """\
# scaled dot-product attention, one head: N queries, M keys and values, width D (values: F).
# mask is added to the scores: zeros for none; 0 on and below the diagonal and -inf above it for a
# causal mask (N = M). The export subtracts each row's maximum before exp.
input  Q[N, D], K[M, D], V[M, F], mask[N, M]
S[n, m] = sum(Q[n, d] * K[m, d], d) / sqrt(D) + mask[n, m]
s[n] = sum(exp(S[n, j]), j)
A[n, m] = exp(S[n, m]) / s[n]
O[n, f] = sum(A[n, m] * V[m, f], m)
output O
"""


_MULTIHEAD_ATTENTION = """\
# multi-head self-attention: H heads of width E, projections W_Q, W_K, W_V (D -> H x E) and W_O (H x E -> D).
# mask as in attention (zeros for none, -inf above the diagonal for a causal mask), shared by the heads.
input  X[N, D], mask[N, N]
param  W_Q[D, H, E], W_K[D, H, E], W_V[D, H, E], W_O[H, E, D]
Qh[h, n, e] = sum(X[n, d] * W_Q[d, h, e], d)
Kh[h, m, e] = sum(X[m, d] * W_K[d, h, e], d)
Vh[h, m, e] = sum(X[m, d] * W_V[d, h, e], d)
S[h, n, m] = sum(Qh[h, n, e] * Kh[h, m, e], e) / sqrt(E) + mask[n, m]
s[h, n] = sum(exp(S[h, n, j]), j)
A[h, n, m] = exp(S[h, n, m]) / s[h, n]
C[h, n, e] = sum(A[h, n, m] * Vh[h, m, e], m)
Y[n, d] = sum(C[h, n, e] * W_O[h, e, d], h, e)
output Y
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
    LayerRecord("attention", "scaled dot-product attention, one head, with an additive (e.g. causal) mask",
                _ATTENTION),
    LayerRecord("multihead-attention", "multi-head self-attention with projections W_Q, W_K, W_V, W_O and H heads",
                _MULTIHEAD_ATTENTION),
    *(_activation_record(a) for a in ACTIVATIONS if a.elementwise),
)

#: The recurrent layers (rnn, lstm, gru): records in the same language, derived through time
#: (layers/_bptt.py) and exported by export/_recurrent_module.py.
RECURRENT_LAYERS: tuple[LayerRecord, ...] = recurrent_records(LayerRecord)

BY_NAME = {record.name: record for record in LAYERS + RECURRENT_LAYERS}


#: the layers that normalise over one axis, and the text of each over the first axis (each column a distribution)
_OVER_FIRST_AXIS = {
    "softmax": """\
# softmax over the first axis (n): each column a distribution
input  x[N, K]
s[k] = sum(exp(x[j, k]), j)
y[n, k] = exp(x[n, k]) / s[k]
output y
""",
    "log-softmax": """\
# log-softmax over the first axis (n): each column a distribution
input  x[N, K]
s[k] = sum(exp(x[j, k]), j)
y[n, k] = x[n, k] - log(s[k])
output y
""",
}
AXIS_LAYERS = tuple(_OVER_FIRST_AXIS)


def axis_record(name: str, axis) -> LayerRecord:
    """``softmax`` or ``log-softmax`` over the given axis of x[N, K]: 1 or -1 (the last, each row a distribution:
    the built-in record) or 0 (the first, each column a distribution)."""
    if name not in _OVER_FIRST_AXIS:
        raise LayerSpecError(f"--axis applies to --layer {' or '.join(AXIS_LAYERS)} only, not {name!r}")
    text = str(axis).strip()
    if text not in ("0", "1", "-1", "-2"):
        raise LayerSpecError(f"--axis {axis!r}: {name} of x[N, K] runs over axis 0 (each column a distribution) "
                             f"or 1 (= -1, each row a distribution, the default)")
    if text in ("1", "-1"):
        return BY_NAME[name]
    return LayerRecord(name, f"{name} over the first axis", _OVER_FIRST_AXIS[name])


def layer_names() -> tuple[str, ...]:
    """Every name :func:`layer_record` accepts: the records, the recurrent ones and the window layers
    (conv2d, avgpool, maxpool), for messages and --help."""
    from ._window_records import NAMES
    return (*BY_NAME, *NAMES)


def layer_record(name: str) -> LayerRecord:
    """The built-in layer called ``name``; :class:`UnknownNameError` lists the others."""
    from ._window_records import NAMES, window_record
    if name in NAMES:                   # conv2d, avgpool: records with a stride, a padding and a layout
        return window_record(name)
    if name not in BY_NAME:
        raise UnknownNameError("layer", name, layer_names())
    return BY_NAME[name]

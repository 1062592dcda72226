"""The built-in window layers: ``conv2d``, ``avgpool`` and ``maxpool``, each one record in the layer language whose text
depends on its stride and padding (the structural constants of its subscripts) and on the course whose
names and index order it uses.

Layouts (the index order is all that differs; the engine and the exporter are the same):

* ``ng-dls`` (the Deep Learning Specialization, course 4): A_prev (m, n_H_prev, n_W_prev, n_C_prev),
  W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C) as the course passes it (the equations read b[c]; the layer's
  ``shapes`` tells the exporter to take and return b, db in the course's shape), output Z, upstream dZ;
* ``cs231n``: x (N, C, H, W), w (F, C, HH, WW), b (F,), output out, upstream dout.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from ..errors import LayerSpecError

LAYOUTS = ("ng-dls", "cs231n")
NAMES = ("conv2d", "avgpool", "maxpool")

_CONV = {
    "ng-dls": """\
# 2-D convolution (cross-correlation, as every framework), channels last (the Deep Learning Specialization):
# stride S, zero padding P on both spatial axes, n_C_prev channels in, n_C filters out, one bias per filter
input  A_prev[M, Hp pad P, Wp pad P, Cp]
param  W[Fk, Fk, Cp, Co], b[Co]
const  S = {stride}, P = {pad}
size   Ho = (Hp + 2*P - Fk)/S + 1, Wo = (Wp + 2*P - Fk)/S + 1
Z[m, h in Ho, w in Wo, c] = sum(A_prev[m, h*S + i - P, w*S + j - P, k] * W[i, j, k, c], i, j, k) + b[c]
output Z
""",
    "cs231n": """\
# 2-D convolution (cross-correlation), channels first (CS231n's conv_forward_naive): stride S, zero padding P
input  x[N, C, H pad P, W pad P]
param  w[F, C, HH, WW], b[F]
const  S = {stride}, P = {pad}
size   Ho = (H + 2*P - HH)/S + 1, Wo = (W + 2*P - WW)/S + 1
out[n, f, p in Ho, q in Wo] = sum(x[n, c, p*S + i - P, q*S + j - P] * w[f, c, i, j], c, i, j) + b[f]
output out
""",
}

#: a dilated convolution (dilation R > 1: the kernel's taps R apart, torch's dilation=R); with R = 1 the text
#: above, unchanged
_DILATED_CONV = {
    "ng-dls": """\
# 2-D convolution with dilation R (the kernel's taps R apart), channels last: stride S, zero padding P
input  A_prev[M, Hp pad P, Wp pad P, Cp]
param  W[Fk, Fk, Cp, Co], b[Co]
const  S = {stride}, P = {pad}, R = {dilation}
size   Ho = (Hp + 2*P - R*(Fk - 1) - 1)/S + 1, Wo = (Wp + 2*P - R*(Fk - 1) - 1)/S + 1
Z[m, h in Ho, w in Wo, c] = sum(A_prev[m, h*S + i*R - P, w*S + j*R - P, k] * W[i, j, k, c], i, j, k) + b[c]
output Z
""",
    "cs231n": """\
# 2-D convolution with dilation R (the kernel's taps R apart), channels first: stride S, zero padding P
input  x[N, C, H pad P, W pad P]
param  w[F, C, HH, WW], b[F]
const  S = {stride}, P = {pad}, R = {dilation}
size   Ho = (H + 2*P - R*(HH - 1) - 1)/S + 1, Wo = (W + 2*P - R*(WW - 1) - 1)/S + 1
out[n, f, p in Ho, q in Wo] = sum(x[n, c, p*S + i*R - P, q*S + j*R - P] * w[f, c, i, j], c, i, j) + b[f]
output out
""",
}

_AVGPOOL = {
    "ng-dls": """\
# average pooling over K x K windows with stride S, channels last (the Deep Learning Specialization)
input  A_prev[M, Hp pad 0, Wp pad 0, C]
const  S = {stride}, K = {size}
size   Ho = (Hp - K)/S + 1, Wo = (Wp - K)/S + 1
A[m, h in Ho, w in Wo, c] = mean(A_prev[m, h*S + i, w*S + j, c], i in K, j in K)
output A
""",
    "cs231n": """\
# average pooling over K x K windows with stride S, channels first (CS231n)
input  x[N, C, H pad 0, W pad 0]
const  S = {stride}, K = {size}
size   Ho = (H - K)/S + 1, Wo = (W - K)/S + 1
out[n, c, p in Ho, q in Wo] = mean(x[n, c, p*S + i, q*S + j], i in K, j in K)
output out
""",
}

_MAXPOOL = {layout: text.replace("average pooling", "max pooling").replace("mean(", "max(")
            for layout, text in _AVGPOOL.items()}


@dataclass(frozen=True)
class WindowRecord:
    """A window layer with its structural constants: which layer, stride, padding (conv) or window size
    (pooling), and layout."""

    name: str
    stride: int = 1
    pad: int = 0
    size: int = 2
    layout: str = "ng-dls"
    dilation: int = 1

    @property
    def description(self) -> str:
        if self.name == "conv2d":
            dilated = f", dilation {self.dilation}" if self.dilation != 1 else ""
            return f"2-D convolution, stride {self.stride}, zero padding {self.pad}{dilated} ({self.layout} layout)"
        kind = "average" if self.name == "avgpool" else "max"
        return f"{kind} pooling over {self.size}x{self.size} windows, stride {self.stride} ({self.layout} layout)"

    @property
    def text(self) -> str:
        table = {"conv2d": _CONV if self.dilation == 1 else _DILATED_CONV, "avgpool": _AVGPOOL,
                 "maxpool": _MAXPOOL}[self.name]
        return table[self.layout].format(stride=self.stride, pad=self.pad, size=self.size, dilation=self.dilation)

    def layer(self):
        return _parse(self)


@lru_cache(maxsize=None)
def _parse(record: WindowRecord):
    from ._layer import Layer
    layer = Layer.parse(record.text, record.name, record.description)
    if record.name == "conv2d" and record.layout == "ng-dls":
        (size,) = layer.arrays["b"].sizes
        layer = replace(layer, shapes=(("b", (1, 1, 1, size)),))
    return layer


def window_record(name: str, stride=None, pad=None, size=None, layout=None, dilation=None) -> WindowRecord:
    """The window layer ``name`` with the given stride, padding, pooling size, layout and (conv2d) dilation
    (checked)."""
    if name not in NAMES:
        raise LayerSpecError(f"unknown window layer {name!r}; accepted: {', '.join(NAMES)}")
    layout = layout or "ng-dls"
    if layout not in LAYOUTS:
        raise LayerSpecError(f"--notation {layout!r}: {name} is written in one of the layouts {', '.join(LAYOUTS)}")
    values = {}
    for option, value, default, least in (("size", size, 2, 1), ("stride", stride, None, 1), ("pad", pad, 0, 0),
                                          ("dilation", dilation, 1, 1)):
        if value is None:
            value = default if option != "stride" else (1 if name == "conv2d" else values["size"])
        if isinstance(value, str):
            if not value.strip().isdigit():
                raise LayerSpecError(f"--{option} {value!r}: expected a whole number >= {least}")
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise LayerSpecError(f"--{option} {value!r}: expected a whole number >= {least}")
        values[option] = value
    if name != "conv2d" and values["pad"]:
        raise LayerSpecError(f"--pad {values['pad']}: {name} takes no padding here (pad 0)")
    if name != "conv2d" and values["dilation"] != 1:
        raise LayerSpecError(f"dilation {values['dilation']}: {name} takes no dilation here (dilation 1)")
    return WindowRecord(name, values["stride"], values["pad"], values["size"], layout, values["dilation"])

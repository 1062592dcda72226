"""The built-in recurrent layers, each one record in the layer language (time first, examples as rows).

``rnn`` is CS231n's rnn_step_forward and the Deep Learning Specialization's rnn_cell_forward (tanh);
``lstm`` the Specialization's cell (gates Γ_f, Γ_u, Γ_o and the candidate c̃, no peepholes; states a and
c), with one weight matrix per gate for the input and one for the previous state instead of one for
their concatenation (the same products, split); ``gru`` torch.nn.GRU's cell, the reset gate multiplying
W_hn h + b_hn. Exported in a notation's layout (``--notation cs231n | ng-dls``) by
:mod:`symbackprop.export._recurrent_module`.
"""
from __future__ import annotations

_RNN = """\
# vanilla RNN, tanh (CS231n rnn_step_forward; DLS rnn_cell_forward): time first, examples as rows
input  x[T, N, D], h0[N, H]
param  Wx[D, H], Wh[H, H], b[H]
init   h = h0
z[t, n, k] = sum(x[t, n, j] * Wx[j, k], j) + sum(h[t-1, n, q] * Wh[q, k], q) + b[k]
h[t, n, k] = tanh(z[t, n, k])
output h
"""

_LSTM = """\
# LSTM (DLS lstm_cell_forward, no peepholes): forget f, update u, output o gates, candidate cc, states h and c
input  x[T, N, D], h0[N, H], c0[N, H]
param  Wfx[D, H], Wfh[H, H], bf[H], Wux[D, H], Wuh[H, H], bu[H]
param  Wcx[D, H], Wch[H, H], bc[H], Wox[D, H], Woh[H, H], bo[H]
init   h = h0, c = c0
zf[t, n, k] = sum(x[t, n, j] * Wfx[j, k], j) + sum(h[t-1, n, q] * Wfh[q, k], q) + bf[k]
zu[t, n, k] = sum(x[t, n, j] * Wux[j, k], j) + sum(h[t-1, n, q] * Wuh[q, k], q) + bu[k]
zc[t, n, k] = sum(x[t, n, j] * Wcx[j, k], j) + sum(h[t-1, n, q] * Wch[q, k], q) + bc[k]
zo[t, n, k] = sum(x[t, n, j] * Wox[j, k], j) + sum(h[t-1, n, q] * Woh[q, k], q) + bo[k]
f[t, n, k] = sigmoid(zf[t, n, k])
u[t, n, k] = sigmoid(zu[t, n, k])
cc[t, n, k] = tanh(zc[t, n, k])
o[t, n, k] = sigmoid(zo[t, n, k])
c[t, n, k] = f[t, n, k] * c[t-1, n, k] + u[t, n, k] * cc[t, n, k]
h[t, n, k] = o[t, n, k] * tanh(c[t, n, k])
output h
"""

_GRU = """\
# GRU as torch.nn.GRU: reset r, update z, candidate g = tanh(W_in x + b_in + r * (W_hn h + b_hn))
input  x[T, N, D], h0[N, H]
param  Wir[D, H], Whr[H, H], bir[H], bhr[H], Wiz[D, H], Whz[H, H], biz[H], bhz[H]
param  Win[D, H], Whn[H, H], bin[H], bhn[H]
init   h = h0
ar[t, n, k] = sum(x[t, n, j] * Wir[j, k], j) + bir[k] + sum(h[t-1, n, q] * Whr[q, k], q) + bhr[k]
az[t, n, k] = sum(x[t, n, j] * Wiz[j, k], j) + biz[k] + sum(h[t-1, n, q] * Whz[q, k], q) + bhz[k]
r[t, n, k] = sigmoid(ar[t, n, k])
z[t, n, k] = sigmoid(az[t, n, k])
hn[t, n, k] = sum(h[t-1, n, q] * Whn[q, k], q) + bhn[k]
an[t, n, k] = sum(x[t, n, j] * Win[j, k], j) + bin[k] + r[t, n, k] * hn[t, n, k]
g[t, n, k] = tanh(an[t, n, k])
h[t, n, k] = (1 - z[t, n, k]) * g[t, n, k] + z[t, n, k] * h[t-1, n, k]
output h
"""


def recurrent_records(record_type) -> tuple:
    """The recurrent layers as records of ``record_type`` (records.LayerRecord)."""
    return (
        record_type("rnn", "vanilla recurrent layer, tanh (CS231n, DLS), backpropagation through time", _RNN),
        record_type("lstm", "LSTM layer (DLS's gates, no peepholes), states h and c, through time", _LSTM),
        record_type("gru", "GRU layer as torch.nn.GRU (reset gate on W_hn h + b_hn), through time", _GRU),
    )

"""Row reductions over the units of one layer, as SymPy nodes.

A coupled activation (softmax) makes a unit's value depend on every unit of its layer. With one
example per row, such a layer is an (m, n) array and a sum over its units is a reduction along
axis 1 that keeps a column, broadcasting back over the row. These nodes stand for those
reductions inside otherwise elementwise expressions; the printers print them as calls of the
helpers ``row_sum``, ``row_max``, ``row_logsumexp``, ``row_log1m_softmax`` and ``row_pairwise_others``.

The logsumexp node is *shifted* by the row maximum M: it is log Σ exp(x_p - M), a number
between 0 and log n, so that log a_k = (z_k - M) - row_logsumexp(z) keeps the tiny
log(1 + rest) of a unit that dominates its row instead of losing it against M.
"""
from __future__ import annotations

import sympy as sp


class RowSum(sp.Function):
    """Σ_p x_p over the units of the row."""
    nargs = 1


class RowMax(sp.Function):
    """max_p x_p over the units of the row."""
    nargs = 1


class RowShift(sp.Function):
    """x_k - max_p x_p."""
    nargs = 1


class RowLogSumExp(sp.Function):
    """log Σ_p exp(x_p - M), M the row maximum."""
    nargs = 1


class RowLog1mSoftmax(sp.Function):
    """log(1 - softmax_k(x)) at unit k, without forming 1 - softmax_k (which rounds to 0 where unit k
    dominates its row): -log1p(e_k / Σ_{p≠k} e_p) for a unit below the row maximum, log R - log1p(R)
    with R = Σ_{p≠k} exp(x_p - x_k) at the maximum."""
    nargs = 1


class RowPairwiseOthers(sp.Function):
    """Σ_{k != i} h_k a_i / (1 - a_k) at unit i, for a = softmax(z): each a_i / (1 - a_k) is
    exp(z_i - M - log Σ_{p≠k} exp(z_p - M)), at most 1, so nothing overflows where one unit
    dominates (the odds a_k / (1 - a_k) themselves would). Arguments: (h, z)."""
    nargs = 2

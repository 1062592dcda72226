"""Matrix products printed as ``@``: a sum of two factors that is a (batched) matrix product.

``Σ_m dS[n, m] K[m, d]`` is ``dS @ K``, ``Σ_n Q[n, d] dS[n, m]`` is ``Q.T @ dS`` with the output's
axes in order. NumPy's ``@`` hands a transposed 2-D operand to BLAS without copying it, and costs
nothing to plan, where ``np.einsum(..., optimize=True)`` spends tens of microseconds choosing a path
each call (measured 1.3 ms against 1.5-2.1 ms for a 512 x 64 x 512 product). Batch axes (those of
both operands kept in the output, e.g. the heads of multi-head attention) lead, as ``np.matmul``
broadcasts them.
"""
from __future__ import annotations


def matmul_code(terms, out, permuted=None) -> str | None:
    """``left @ right`` for two Terms whose sum over their one shared, dropped axis gives ``out``; else None.
    ``permuted(code, permutation)``: the backend's transpose of more than two axes (default NumPy's)."""
    if len(terms) != 2:
        return None
    left, right = terms
    shared = set(left.axes) & set(right.axes)
    contracted = [a for a in shared if a not in out]
    batch = [a for a in out if a in shared]
    own_left = [a for a in left.axes if a not in shared]
    own_right = [a for a in right.axes if a not in shared]
    if len(contracted) != 1 or len(own_left) != 1 or len(own_right) != 1:
        return None
    if len(out) != len(batch) + 2 or tuple(out[:len(batch)]) != tuple(batch):
        return None
    if set(left.axes) | set(right.axes) != set(out) | set(contracted):
        return None
    c, a, b = contracted[0], own_left[0], own_right[0]
    if tuple(out[len(batch):]) == (b, a):
        left, right, a, b = right, left, b, a
    permuted = permuted or (lambda code, permutation: f"np.transpose({code}, {permutation})")
    return f"{_arranged(left, (*batch, a, c), permuted)} @ {_arranged(right, (*batch, c, b), permuted)}"


def _arranged(term, axes, permuted) -> str:
    """The code of ``term`` with its axes in the order ``axes`` (a view: .T or np.transpose)."""
    if tuple(term.axes) == tuple(axes):
        return term.wrapped()
    if len(axes) == 2:
        return f"{term.wrapped()}.T"
    return permuted(term.code, tuple(term.axes.index(a) for a in axes))

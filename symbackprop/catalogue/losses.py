"""The loss catalogue: one record per per-example loss, as a SymPy definition.

Separable losses give the loss of one output unit in the unit symbols ``a`` (the output
activation) and ``y`` (the target); the cost of an example sums it over the output units.
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ._records import Loss

a, y = S.a, S.y
_a = S.base("a")

LOSSES: tuple[Loss, ...] = (
    Loss("quadratic", r"\tfrac12\lVert a-y\rVert^2", "quadratic (mean squared error) 1/2 (a-y)^2 per unit",
         per_unit=sp.Rational(1, 2) * (a - y) ** 2),
    Loss("cross-entropy", r"-\sum_k\left[y_k\ln a_k+(1-y_k)\ln(1-a_k)\right]",
         "binary cross-entropy -y ln a - (1-y) ln(1-a) per unit",
         per_unit=-y * sp.log(a) - (1 - y) * sp.log(1 - a)),
    Loss("categorical-cross-entropy", r"-\sum_k y_k\ln a_k", "categorical cross-entropy -y ln a per unit",
         per_unit=-y * sp.log(a)),
    Loss("log-likelihood", r"-\ln a_c", "log-likelihood -ln a_c of the true class c (Nielsen ch. 3); y is its one-hot code",
         per_example=-sp.log(_a[S.label]), target_encoding="one-hot"),
    Loss("poisson", r"\sum_k\left(a_k-y_k\ln a_k\right)", "Poisson negative log-likelihood a - y ln a per unit",
         per_unit=a - y * sp.log(a)),
)

BY_NAME = {record.name: record for record in LOSSES}

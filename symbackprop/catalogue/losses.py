"""The loss catalogue: one record per per-example loss, as a SymPy definition.

Separable losses give the loss of one output unit in the unit symbols ``a`` (the output
activation) and ``y`` (the target); the cost of an example sums it over the output units.
A loss with a parameter (huber's delta, focal's gamma) keeps it as a symbol, as an activation does;
its value is substituted where numbers are needed (exported code, the checker's numeric test).

Sources: Huber (1964) as torch.nn.HuberLoss writes it; the hinge and squared hinge of the SVM
(targets +-1, output a the score); the focal loss of Lin et al. (2017), binary, without the
alpha weighting; the Kullback-Leibler divergence KL(y || a) = sum_k y_k log(y_k / a_k), which
torch.nn.functional.kl_div computes from log a.
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ._records import Loss

a, y = S.a, S.y
_a = S.base("a")
#: Huber's threshold. Named delta as torch names it; it is a different symbol from the error delta
#: of a unit (S.delta), and the derivation writes it as a parameter of the loss.
huber_delta = sp.Symbol("delta", positive=True)
gamma = sp.Symbol("gamma", positive=True)
_residual = a - y

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
    Loss("huber", r"\sum_k\operatorname{huber}_\delta(a_k-y_k)",
         "Huber: (a-y)^2/2 where |a-y| <= delta, else delta*(|a-y| - delta/2); delta default 1, "
         "set with huber:delta=0.5",
         per_unit=sp.Piecewise((_residual ** 2 / 2, sp.Abs(_residual) <= huber_delta),
                               (huber_delta * (sp.Abs(_residual) - huber_delta / 2), True)),
         parameters={huber_delta: sp.Integer(1)},
         note="quadratic near the target, linear beyond delta: the gradient is a - y clipped to [-delta, delta]"),
    Loss("hinge", r"\sum_k\max(0, 1-y_k a_k)", "hinge max(0, 1 - y a) per unit, targets y = +1 or -1",
         per_unit=sp.Max(0, 1 - y * a),
         note="targets are +1 or -1 and a is a score; the gradient is -y where the margin y a < 1, else 0"),
    Loss("squared-hinge", r"\sum_k\max(0, 1-y_k a_k)^2", "squared hinge max(0, 1 - y a)^2 per unit, targets +1 or -1",
         per_unit=sp.Max(0, 1 - y * a) ** 2,
         note="targets are +1 or -1; the gradient -2y(1 - y a) where the margin y a < 1 is continuous"),
    Loss("focal", r"-\sum_k\left[y_k(1-a_k)^\gamma\ln a_k+(1-y_k)a_k^\gamma\ln(1-a_k)\right]",
         "binary focal loss -y (1-a)^gamma ln a - (1-y) a^gamma ln(1-a) per unit (Lin et al. 2017), gamma "
         "default 2, set with focal:gamma=1; for a sigmoid output",
         per_unit=-y * (1 - a) ** gamma * sp.log(a) - (1 - y) * a ** gamma * sp.log(1 - a),
         parameters={gamma: sp.Integer(2)},
         note="with a sigmoid output the factors a and 1 - a of the log terms cancel sigma' = a(1 - a), "
              "as in cross-entropy; the modulating factors (1 - a)^gamma and a^gamma do not cancel, and "
              "their own derivatives add the terms in ln a and ln(1 - a) that stay in delta^L"),
    Loss("kl-divergence", r"\sum_k y_k\ln\frac{y_k}{a_k}", "Kullback-Leibler divergence y ln(y/a) per unit, "
         "KL(y || a) for a probability vector a (softmax output)",
         per_unit=y * sp.log(y / a),
         note="it differs from the categorical cross-entropy by sum_k y_k ln y_k, which does not depend on "
              "the network: the same gradient"),
)

BY_NAME = {record.name: record for record in LOSSES}

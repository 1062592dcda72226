"""The activation catalogue: one record per activation, its SymPy definition and its written name.

Kinks (relu, leaky-relu, elu) are written as Piecewise with the branch ``z <= 0`` first, so the
derivative the engine forms at the kink is the *left* derivative; the engine computes g'(0) and says so
(``Quantity.kink_note``). The tests check these activations away from the kink.
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ._records import Activation

z = S.z
alpha = sp.Symbol("alpha", positive=True)
COUPLED_INDEX = S.k          #: the unit whose activation a coupled definition gives
COUPLED_SUM_INDEX = S.p      #: the dummy index of the normalising sum
OUTPUT_WIDTH = S.width[S.L]  #: units in the layer a coupled activation normalises over

_z = S.base("z")
_softmax = sp.exp(_z[COUPLED_INDEX]) / sp.Sum(sp.exp(_z[COUPLED_SUM_INDEX]), (COUPLED_SUM_INDEX, 1, OUTPUT_WIDTH))

ACTIVATIONS: tuple[Activation, ...] = (
    Activation("sigmoid", 1 / (1 + sp.exp(-z)), r"\sigma", "logistic sigmoid 1/(1+e^-z)"),
    Activation("tanh", sp.tanh(z), r"\tanh", "hyperbolic tangent"),
    Activation("relu", sp.Piecewise((0, z <= 0), (z, True)), r"\operatorname{ReLU}",
               "rectified linear unit max(0, z)"),
    Activation("leaky-relu", sp.Piecewise((alpha * z, z <= 0), (z, True)), r"\operatorname{LReLU}",
               "leaky ReLU, slope alpha (default 0.01) for z <= 0; set with leaky-relu:alpha=0.2",
               parameters={alpha: sp.Rational(1, 100)}),
    Activation("softplus", sp.log(1 + sp.exp(z)), r"\operatorname{softplus}", "softplus ln(1+e^z)"),
    Activation("identity", z, r"\operatorname{id}", "identity (linear unit)"),
    Activation("exp", sp.exp(z), r"\exp", "exponential (Poisson regression's inverse link)"),
    Activation("elu", sp.Piecewise((alpha * (sp.exp(z) - 1), z <= 0), (z, True)), r"\operatorname{ELU}",
               "exponential linear unit, alpha (default 1) for z <= 0; set with elu:alpha=0.5",
               parameters={alpha: sp.Integer(1)}),
    Activation("silu", z / (1 + sp.exp(-z)), r"\operatorname{SiLU}", "sigmoid-weighted linear unit z*sigmoid(z)"),
    Activation("softmax", _softmax, r"\operatorname{softmax}",
               "softmax e^{z_k}/sum_p e^{z_p} (couples the units of its layer)", elementwise=False),
)

BY_NAME = {record.name: record for record in ACTIVATIONS}

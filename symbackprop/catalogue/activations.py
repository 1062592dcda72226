"""The activation catalogue: one record per activation, its SymPy definition and its written name.

Kinks (relu, leaky-relu, elu, selu) are written as Piecewise with the branch ``z <= 0`` first, so the
derivative the engine forms at the kink is the *left* derivative; the engine computes g'(0) and says so
(``Quantity.kink_note``). The tests check these activations away from the kink. The hard activations
(hard-sigmoid, hard-tanh) have two kinks: three branches, each condition ``z <= kink``, so again the
left derivative at each kink.

Sources of the definitions: GELU and its tanh approximation, Hendrycks & Gimpel (2016); SELU,
Klambauer et al. (2017), its two constants as torch.nn.SELU writes them; Mish, Misra (2019);
softsign, Bergstra et al. (2009); swish, Ramachandran, Zoph & Le (2017) (β = 1 is SiLU);
hard-sigmoid relu6(z + 3)/6 and hard-tanh clip(z, -1, 1), torch.nn.Hardsigmoid and Hardtanh.
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as S
from ._records import Activation

z = S.z
alpha = sp.Symbol("alpha", positive=True)
beta = sp.Symbol("beta", positive=True)
COUPLED_INDEX = S.k          #: the unit whose activation a coupled definition gives
COUPLED_SUM_INDEX = S.p      #: the dummy index of the normalising sum
OUTPUT_WIDTH = S.width[S.L]  #: units in the layer a coupled activation normalises over

_z = S.base("z")
_softmax = sp.exp(_z[COUPLED_INDEX]) / sp.Sum(sp.exp(_z[COUPLED_SUM_INDEX]), (COUPLED_SUM_INDEX, 1, OUTPUT_WIDTH))

# SELU's constants (Klambauer et al. 2017), to the digits torch.nn.SELU writes them, kept exact;
# they are the record's parameters, so the derivation shows alpha and scale rather than 30 digits.
SELU_ALPHA = sp.Rational("1.6732632423543772848170429916717")
SELU_SCALE = sp.Rational("1.0507009873554804934193349852946")
scale = sp.Symbol("scale", positive=True)
_GELU_TANH_CUBIC = sp.Rational(44715, 10 ** 6)

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
    Activation("gelu", z * (1 + sp.erf(z / sp.sqrt(2))) / 2, r"\operatorname{GELU}",
               "Gaussian error linear unit z*Phi(z) = z*(1 + erf(z/sqrt(2)))/2"),
    Activation("gelu-tanh", z * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (z + _GELU_TANH_CUBIC * z ** 3))) / 2,
               r"\operatorname{GELU}_{\tanh}",
               "GELU's tanh approximation z/2*(1 + tanh(sqrt(2/pi)*(z + 0.044715 z^3)))"),
    Activation("selu", sp.Piecewise((scale * alpha * (sp.exp(z) - 1), z <= 0), (scale * z, True)),
               r"\operatorname{SELU}",
               "scaled exponential linear unit scale*elu(z), torch's constants scale = 1.0507..., alpha = 1.6733...",
               parameters={alpha: SELU_ALPHA, scale: SELU_SCALE}),
    Activation("mish", z * sp.tanh(sp.log(1 + sp.exp(z))), r"\operatorname{Mish}", "Mish z*tanh(softplus(z))"),
    Activation("softsign", z / (1 + sp.Abs(z)), r"\operatorname{softsign}", "softsign z/(1 + |z|)"),
    Activation("hard-sigmoid", sp.Piecewise((0, z <= -3), (z / 6 + sp.Rational(1, 2), z <= 3), (1, True)),
               r"\operatorname{hardsigmoid}", "hard sigmoid relu6(z + 3)/6 (0 below -3, 1 above 3), as torch defines it"),
    Activation("hard-tanh", sp.Piecewise((-1, z <= -1), (z, z <= 1), (1, True)), r"\operatorname{hardtanh}",
               "hard tanh clip(z, -1, 1)"),
    Activation("swish", z / (1 + sp.exp(-beta * z)), r"\operatorname{swish}",
               "swish z*sigmoid(beta*z), beta (default 1: SiLU); set with swish:beta=1.702",
               parameters={beta: sp.Integer(1)}),
    Activation("softmax", _softmax, r"\operatorname{softmax}",
               "softmax e^{z_k}/sum_p e^{z_p} (couples the units of its layer)", elementwise=False),
)

BY_NAME = {record.name: record for record in ACTIVATIONS}

"""The product of the engine: an immutable :class:`Derivation` and its parts.

Renderers, the formula checker and the exporter consume a Derivation; none of them
re-derives anything. Every expression here was obtained by differentiating the cost
(see :mod:`symbackprop.engine`).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Optional

import sympy as sp

if TYPE_CHECKING:  # pragma: no cover
    from .catalogue import Activation
    from .network import Network


class Rule(str, Enum):
    """What justifies a step."""

    DEFINITION = "definition"
    CHAIN_RULE = "chain rule"
    KRONECKER = "Kronecker contraction"
    LOSS_DERIVATIVE = "derivative of the loss"
    ACTIVATION_DERIVATIVE = "derivative of the activation"
    SIMPLIFICATION = "simplification"
    CANCELLATION = "cancellation"
    ASSUMPTION = "assumption"
    VECTORISATION = "vectorisation"
    BIAS_ROW = "bias row dropped"
    BATCH_AVERAGE = "average over the batch"
    REGULARISATION = "L2 regularisation"
    UPSTREAM = "upstream gradient"                       #: layers: dy = ∂C/∂y is given
    SUM_IDENTITY = "sum identity from a definition"      #: layers: Σ_n x[n, d] = N μ[d], hence Σ_n (x - μ) = 0
    SUBSTITUTION = "substitution of the staged gradients"  #: layers: the chain inlined down to dy
    REWRITE = "written in the forward quantities"         #: layers: x - μ = x̂ √(var + ε)
    CLOSED_FORM = "closed form"                           #: layers: a common factor taken out (CS231n's alt form)
    COUPLING = "normaliser's Jacobian contracted"          #: layers: dS = A ⊙ (dA − rowsum(A ⊙ dA)) (softmax)
    WINDOW = "shifted deltas solved, window limits kept"   #: layers: i = a + P − pS, with [0 ≤ a + P − pS ≤ K − 1]
    DILATION = "upstream gradient dilated by the stride"   #: layers: dy with S − 1 zeros between entries
    FLIP = "full convolution with the flipped kernel"      #: layers: W[a − p] is W flipped, read at a window
    ROUTING = "routed to the window's maximum"             #: layers: max pooling's dy goes to the first argmax
    THROUGH_TIME = "backpropagation through time"          #: recurrent: dh⟨t⟩ = upstream at t + what t+1 sends back
    SHARED_WEIGHTS = "shared weights summed over time"     #: recurrent: dW = Σ_t (the cell's dW at t)
    INITIAL_STATE = "initial state"                        #: recurrent: dh0 is what the first step sends back
    R_OPERATOR = "R-operator"                              #: second order: R{q} = d/dε q[W -> W + ε RW] at ε = 0
    LOSS_HESSIAN = "second derivative of the loss"        #: second order: ∂²L/∂z∂zᵀ, from ∂L/∂z


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``statement`` (a SymPy ``Eq``) justified by ``rule``."""

    quantity: str          #: 'cost', 'output_delta', 'hidden_delta', 'weight_gradient', 'bias_gradient'
    statement: sp.Basic    #: usually ``sp.Eq(lhs, rhs)`` over layer-indexed symbols
    rule: Rule
    note: str              #: one line, in words
    layer: sp.Basic = None  #: the layer the step is about (L, l, or a number); None for the whole network


@dataclass(frozen=True)
class Assumption:
    """A fact the derivation used that does not follow from the definitions (e.g. sum_k y_k = 1)."""

    name: str
    statement: sp.Basic
    note: str


@dataclass(frozen=True)
class Quantity:
    """One derived quantity in three forms.

    * ``unit``: per-unit form over the scalar symbols of :mod:`symbackprop.symbols`
      (``a - y``); where units are coupled it also holds ``Sum`` over indexed output units.
    * ``index``: ``Eq(lhs, rhs)`` over layer-indexed ``Indexed`` symbols (delta^L_i = a^L_i - y_i).
    * ``vector``: ``Eq(lhs, rhs)`` over :class:`~symbackprop.symbols.LayerArray` matrix expressions.
    ``batch`` and ``batch_vector`` give the batch form (average over m examples, L2 term) where
    the quantity has one.
    """

    name: str
    layer: sp.Basic
    unit: sp.Expr
    index: sp.Eq
    vector: sp.Eq
    cancels: Optional[bool] = None          #: output delta: did the activation's derivative cancel?
    activation_derivative: Optional[sp.Expr] = None  #: g' in readable unit form (in a where it can, else z)
    activation: Optional["Activation"] = None
    batch: Optional[sp.Eq] = None
    batch_vector: Optional[sp.Eq] = None
    note: str = ""
    kink_note: str = ""   #: output and hidden delta: g'(0) at a kink of the activation, computed by the engine


@dataclass(frozen=True)
class Derivation:
    """Everything derived for one network: the quantities, the assumptions, and the steps in order."""

    network: "Network"
    cost: Quantity
    output_delta: Quantity
    hidden_deltas: tuple[Quantity, ...]   #: one per hidden layer, layers 2..L-1 in order
    weight_gradient: Quantity             #: generic layer l
    bias_gradient: Quantity               #: generic layer l (None-like zero when the bias is a column of W)
    assumptions: tuple[Assumption, ...]
    steps: tuple[Step, ...]
    hidden_delta: Optional[Quantity] = None  #: the generic hidden layer l, when every hidden layer has one activation

    def __repr__(self) -> str:
        """One line for a REPL (the dataclass's own repr prints every formula: 11,000 characters)."""
        return (f"<Derivation of the {self.network.describe()}: {len(self.steps)} steps; "
                f"print(sb.render(d, notation=...)) shows them>")

    def steps_for(self, quantity: str) -> tuple[Step, ...]:
        """The steps that derive one quantity ('cost', 'output_delta', 'hidden_delta', ...)."""
        return tuple(step for step in self.steps if step.quantity == quantity)

"""The record types of the catalogue: an activation and a loss are data, not code."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import sympy as sp



@dataclass(frozen=True)
class Activation:
    """An activation function g, as data.

    ``definition`` is a SymPy expression in the unit symbol ``z`` for an elementwise activation,
    or, for a coupled one (softmax), in the indexed pre-activations ``z[k]`` of the output units
    ``1..n`` (see :data:`symbackprop.catalogue.activations.COUPLED_INDEX`). The engine
    differentiates the definition; nothing here states a derivative.
    """

    name: str
    definition: sp.Expr
    latex: str                      #: how the function is written, e.g. r"\sigma"
    description: str                #: one line for --help
    elementwise: bool = True
    parameters: Mapping[sp.Symbol, sp.Expr] = field(default_factory=dict)  #: symbol -> default value

    def __post_init__(self):
        object.__setattr__(self, "parameters", dict(self.parameters))

    def __hash__(self):
        return hash((self.name, self.definition, tuple(self.parameters.items())))

    def __eq__(self, other):
        return (isinstance(other, Activation) and self.name == other.name
                and self.definition == other.definition and self.parameters == other.parameters)

    @property
    def spoken(self) -> str:
        """How notes name it: the catalogue name, or "g" for an activation given as an expression."""
        return "g" if self.latex == "g" else self.name

    def with_parameters(self, **values) -> "Activation":
        """A copy with new default values for its parameters, e.g. ``with_parameters(alpha=0.2)``."""
        from ..errors import NetworkSpecError
        by_name = {str(s): s for s in self.parameters}
        new = dict(self.parameters)
        for key, value in values.items():
            if key not in by_name:
                accepted = ", ".join(by_name) or "none"
                raise NetworkSpecError(f"activation {self.name!r} has no parameter {key!r}; its parameters: {accepted}")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                new[by_name[key]] = sp.nsimplify(value, rational=True)
            elif isinstance(value, sp.Expr):
                new[by_name[key]] = value
            else:   # never sympify text: it executes code
                raise NetworkSpecError(f"parameter {key!r} of {self.name!r}: {value!r} is not a number; "
                                       f"give a number (e.g. {key}=0.2) or a SymPy expression")
        return Activation(self.name, self.definition, self.latex, self.description,
                          self.elementwise, new)

    def concrete(self) -> sp.Expr:
        """The definition with the parameters replaced by their values (for numbers and code)."""
        return self.definition.subs(self.parameters)


@dataclass(frozen=True)
class Loss:
    """A per-example loss, as data.

    A separable loss sums ``per_unit`` (an expression in ``a`` and ``y``) over the output units.
    A loss that is not a sum over units (Nielsen's log-likelihood -ln a_c) gives ``per_example``
    in the indexed activations ``a[k]`` and a label symbol, with ``target_encoding`` saying how
    the label becomes the target vector y.
    """

    name: str
    latex: str
    description: str
    per_unit: sp.Expr | None = None
    per_example: sp.Expr | None = None
    target_encoding: str = ""   #: for per_example losses: how y encodes the label ('one-hot')

    @property
    def separable(self) -> bool:
        return self.per_unit is not None

    def __hash__(self):
        return hash((self.name, self.per_unit, self.per_example))

"""The checker's answer: an immutable :class:`Verdict`, and its JSON form."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Optional

VERDICTS = ("correct", "incorrect", "undecided")
METHODS = ("symbolic", "numeric", "shape", "layer", "ambiguous", None)


@dataclass(frozen=True)
class Verdict:
    """Whether a hand-derived formula is what the engine derives for a network, and if not, what it is.

    * ``verdict``: 'correct', 'incorrect' or 'undecided';
    * ``quantity``: the quantity the left-hand side was read as, in words;
    * ``method``: what decided -- 'symbolic' (proved for every layer size), 'numeric' (evaluation at
      random sizes and values), 'shape' (factors that cannot be multiplied), 'layer' (a layer that
      does not exist), 'ambiguous' (an operator the shapes leave open), or None;
    * ``diagnosis``: one or two sentences; for an incorrect formula, the nearby correct formula it equals;
    * ``counterexample``: for an incorrect formula decided by numbers, the sizes, the values and
      both results;
    * ``notes``: how the formula was read where a convention was applied (Ng's dropped bias row).
    """

    verdict: str
    formula: str
    notation: str
    quantity: str
    method: Optional[str]
    diagnosis: str
    counterexample: Optional[Mapping] = None
    notes: tuple = ()
    matches: tuple = field(default=())   #: descriptions of every nearby formula the input equals

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {', '.join(VERDICTS)}")
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is not one of {METHODS}")
        if self.counterexample is not None:
            object.__setattr__(self, "counterexample", MappingProxyType(dict(self.counterexample)))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "matches", tuple(self.matches))

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    @property
    def exit_code(self) -> int:
        """0 correct, 1 incorrect, 3 undecided (2 is for input that could not be read)."""
        return {"correct": 0, "incorrect": 1, "undecided": 3}[self.verdict]

    def to_dict(self) -> dict:
        """A JSON-ready dictionary with the same content."""
        return {
            "verdict": self.verdict,
            "formula": self.formula,
            "notation": self.notation,
            "quantity": self.quantity,
            "method": self.method,
            "diagnosis": self.diagnosis,
            "counterexample": _plain(self.counterexample),
            "notes": list(self.notes),
            "matches": list(self.matches),
        }

    def summary(self) -> str:
        """Two or three lines for a terminal."""
        method = f" ({self.method})" if self.method else ""
        lines = [f"{self.verdict}{method}: {self.quantity}", self.diagnosis]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(line for line in lines if line)


def _plain(value):
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float):
        return round(value, 12)
    return value

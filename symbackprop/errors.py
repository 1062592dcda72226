"""The exceptions symbackprop raises: one base class and a few specific kinds.

Every message names the bad value, where it is, and what would be accepted.
The CLI turns any :class:`SymbackpropError` into a one-line message and exit code 2.
"""
from __future__ import annotations


class SymbackpropError(Exception):
    """Base class of every error symbackprop raises on bad input."""


class UnknownNameError(SymbackpropError, KeyError):
    """A name (activation, loss, notation, ...) that is not in its catalogue."""

    def __init__(self, kind: str, name: str, accepted):
        self.kind, self.name, self.accepted = kind, name, tuple(accepted)
        super().__init__(f"unknown {kind} {name!r}; accepted: {', '.join(self.accepted)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class NetworkSpecError(SymbackpropError, ValueError):
    """A network description that cannot describe a network."""


class ParseError(SymbackpropError, ValueError):
    """Text that the project's grammar cannot read; carries the column of the problem."""

    def __init__(self, message: str, text: str = "", column: int | None = None):
        self.message, self.text, self.column = message, text, column
        super().__init__(self.render())

    def render(self) -> str:
        """The message, and for a known column the text with a caret under it."""
        if self.column is None or not self.text:
            return self.message
        return f"{self.message} (column {self.column + 1})\n  {self.text}\n  {' ' * self.column}^"


class NotDifferentiableError(SymbackpropError, ValueError):
    """An expression whose derivative SymPy cannot form or that is identically constant where it must not be."""


class ShapeError(SymbackpropError, ValueError):
    """Arrays or matrix factors whose shapes do not fit; names the argument and both shapes."""


class ExportError(SymbackpropError, ValueError):
    """A network, layout, backend or file the exporter cannot produce code for."""


class InternalError(RuntimeError):
    """A bug in symbackprop, not in its input: a form the engine chose for display differs from the one it
    computed. Deliberately not a :class:`SymbackpropError`, so that it is never reported as bad input."""


class LayerSpecError(SymbackpropError, ValueError):
    """A layer written in the layer language that does not describe a layer: an undefined name, an
    index the right-hand side does not bind, sizes that disagree, a cycle among the equations."""

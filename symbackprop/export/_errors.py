"""The export's own error kind (to move into :mod:`symbackprop.errors` with the other kinds)."""
from __future__ import annotations

from ..errors import SymbackpropError


class ExportError(SymbackpropError, ValueError):
    """A network, layout, backend or file the exporter cannot produce code for."""

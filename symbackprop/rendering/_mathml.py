"""LaTeX to MathML, through latex2mathml (the one place that calls it)."""
from __future__ import annotations

from latex2mathml.converter import convert


def mathml(latex: str, display: bool = False) -> str:
    """The MathML of a LaTeX formula; ``display`` for a block of its own."""
    return convert(latex, display="block" if display else "inline")

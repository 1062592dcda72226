"""The terminal rendering of a derivation: numbered steps, each with its rule and note, then the results.

This module owns only the plain-text layout; the content comes from :mod:`.steps`.
"""
from __future__ import annotations

import textwrap

from .steps import Layout

_WIDTH = 100


def render_text(layout: Layout) -> str:
    notation, derivation = layout.notation, layout.derivation
    lines = [f"Backpropagation derived for a {layout.network}",
             f"Notation: {notation.name} ({notation.source})"]
    for remark in notation.remarks:
        lines += textwrap.wrap(remark, _WIDTH, initial_indent="  ", subsequent_indent="  ")
    for position, section in enumerate(layout.sections, start=1):
        heading = f"{position}. {section.title}"
        if section.symbol.text:
            heading += f": {section.symbol.text}"
        lines += ["", heading]
        for step in section.steps:
            label = f"  ({step.number}) "
            lines.append(label + step.statement.text)
            why = f"{step.rule}: {step.note.text}" if step.note.text else step.rule
            lines += textwrap.wrap(why, _WIDTH, initial_indent=" " * len(label) + "[", subsequent_indent=" " * (len(label) + 1))
            lines[-1] += "]"
    if layout.assumptions:
        lines += ["", "Assumptions used"]
        for statement, note in layout.assumptions:
            lines.append(f"  {statement.text}    ({note})")
    lines += ["", "Result"]
    width = max((len(result.label) for result in layout.results), default=0)
    for result in layout.results:
        lines.append(f"  {result.label:<{width}}  {result.formula.text}")
    output = derivation.output_delta
    if output.cancels is not None and output.activation is not None:
        name = output.activation.name
        if output.cancels:
            lines.append(f"  The derivative of {name} cancelled: δ^L has no factor g'(z^L).")
        else:
            lines.append(f"  The derivative of {name} did not cancel: it stays a factor of δ^L.")
    return "\n".join(lines) + "\n"

"""The terminal rendering of a derivation: numbered steps, each with its rule and note, then the results.

This module owns only the plain-text layout; the content comes from :mod:`.steps`.
"""
from __future__ import annotations

import textwrap

from ._prose import plain, prose_text
from .steps import Layout

_WIDTH = 100


def wrap(text: str, initial: str, subsequent: str) -> list:
    """Lines of at most _WIDTH characters; a formula (its spaces are non-breaking) is never split,
    so no bracket or operator of it lands on a line of its own."""
    lines = textwrap.wrap(text, _WIDTH, initial_indent=initial, subsequent_indent=subsequent,
                          break_long_words=False, break_on_hyphens=False)
    return [plain(line) for line in lines]


def render_text(layout: Layout) -> str:
    notation = layout.notation
    lines = [f"Backpropagation derived for a {layout.network}",
             f"Notation: {notation.name} ({notation.source})"]
    for remark in layout.header:
        lines += wrap(prose_text(remark), "  ", "  ")
    for position, section in enumerate(layout.sections, start=1):
        heading = f"{position}. {section.title}"
        if section.symbol.text:
            heading += f": {section.symbol.text}"
        lines += ["", heading]
        for step in section.steps:
            label = f"  ({step.number}) "
            lines.append(label + step.statement.text)
            why = f"{step.rule}: {step.note.text}" if step.note.text else step.rule
            lines += wrap(why, " " * len(label) + "[", " " * (len(label) + 1))
            lines[-1] += "]"
    if layout.assumptions:
        lines += ["", "Assumptions used"]
        for statement, note in layout.assumptions:
            lines.append(f"  {statement.text}    ({plain(prose_text(note))})")
    lines += ["", "Result"]
    width = max((len(result.label) for result in layout.results), default=0)
    for result in layout.results:
        lines.append(f"  {result.label:<{width}}  {result.formula.text}")
    if layout.conclusion:
        lines += wrap(prose_text(layout.conclusion), "  ", "  ")
    if layout.code is not None:
        lines += ["", layout.code.title]
        lines += ["  " + line for line in layout.code.lines]
    return "\n".join(lines) + "\n"

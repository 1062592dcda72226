"""Printers over a Derivation: text, JSON, LaTeX, .tex, HTML+MathML; notations; compare."""
from .api import FORMATS, render, render_quantity
from .compare import compare, Comparison
from .jupyter import Rendered, render_html_fragment, render_latex_display, show
from .notations import Notation, PRESETS, notation

__all__ = ["FORMATS", "render", "render_quantity", "compare", "Comparison", "Rendered", "render_html_fragment",
           "render_latex_display", "show", "Notation", "PRESETS", "notation"]

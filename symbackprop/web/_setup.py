"""The page's setup (what the URL holds) read into what the CLI reads: the same options, the same messages.

A setup is a flat dictionary of strings: ``mode`` ('network', 'layer', 'model' or 'text') and the
fields of that mode, named as the CLI's options are (``layers``, ``hidden``, ``output``, ``loss``,
``l2``, ``bias``; ``layer``, ``stride``, ``pad``, ``window``, ``axis``; ``model``, ``input_size``;
``text``, a layer in the layer language). Nothing here parses a formula: the CLI's option readers
and the layer language do, so a bad entry gets the message the CLI prints.
"""
from __future__ import annotations

import argparse
import re

from ..cli._options import DEFAULTS
from ..errors import LayerSpecError, SymbackpropError

MODES = ("network", "layer", "model", "text")
#: every field a setup may hold, with its default (the CLI's, so that an empty URL is ex4's network)
#: an empty loss, l2 or bias is an option left out: it follows the notation's course (ex4's network without one)
FIELDS = {"mode": "network", **DEFAULTS, "loss": "", "l2": "", "bias": "", "layer": "", "stride": "", "pad": "", "window": "", "axis": "",
          "model": "", "input_size": "", "text": "", "notation": ""}
#: the longest value a field may hold (a layer text is the longest: the CLI reads --layer-def files up to 100 kB)
MAX_FIELD = {"text": 20_000}
DEFAULT_MAX_FIELD = 2_000

#: the CLI option a message starts with -> the field of the page it is about
_OPTION_FIELD = {"--layers": "layers", "--hidden": "hidden", "--output": "output", "--loss": "loss", "--l2": "l2",
                 "--bias": "bias", "--model": "model", "--input-size": "input_size", "--layer-def": "text",
                 "--layer": "layer", "--stride": "stride", "--pad": "pad", "--window": "window", "--axis": "axis",
                 "--notation": "notation"}
_OPTION = re.compile(r"^(--[a-z0-9-]+)")
#: how symbackprop.Network's own messages begin -> the field they are about
_NETWORK_MESSAGES = tuple((re.compile(pattern), field) for pattern, field in (
    (r"layer (\d+ )?sizes?\b|layer \d+ (has )?size|a network needs", "layers"), (r"L2 strength", "l2"),
    (r"\d+ hidden activations|hidden activation", "hidden"), (r"output activation", "output"),
    (r"loss ", "loss"), (r"bias ", "bias")))


def clean(setup) -> dict:
    """The setup with every known field a string (defaults filled in); an unknown field or a value that is
    not text is bad input."""
    if not isinstance(setup, dict):
        raise SymbackpropError("the setup must be an object of fields, e.g. {\"mode\": \"network\"}")
    unknown = sorted(set(setup) - set(FIELDS))
    if unknown:
        raise SymbackpropError(f"unknown setup field {unknown[0]!r}; accepted: {', '.join(FIELDS)}")
    values = {}
    for name, default in FIELDS.items():
        value = setup.get(name, default)
        if value is None:
            value = default
        if not isinstance(value, str):
            raise SymbackpropError(f"setup field {name!r} must be text, not {type(value).__name__}")
        limit = MAX_FIELD.get(name, DEFAULT_MAX_FIELD)
        if len(value) > limit:
            raise SymbackpropError(f"setup field {name!r} is longer than {limit} characters")
        values[name] = value
    if values["mode"] not in MODES:
        raise SymbackpropError(f"unknown mode {values['mode']!r}; accepted: {', '.join(MODES)}")
    return values


def arguments(setup: dict) -> argparse.Namespace:
    """The CLI's argument namespace for the setup (``derive``, ``check`` and ``export`` read it)."""
    blank = lambda name: setup[name].strip() or None
    mode = setup["mode"]
    return argparse.Namespace(
        layers=setup["layers"], hidden=setup["hidden"], output=setup["output"], loss=blank("loss"), l2=blank("l2"),
        bias=_bias(setup["bias"].strip()),
        layer=blank("layer") if mode == "layer" else None, layer_def=None,
        model=setup["model"] if mode == "model" else None, input_size=blank("input_size"),
        stride=blank("stride"), pad=blank("pad"), window=blank("window"), axis=blank("axis"),
        notation=blank("notation"), format="html", output_file=None)


def layer_text(setup: dict):
    """The Layer written in the setup's text (mode 'text'), read by the layer language."""
    from ..layers import Layer
    if not setup["text"].strip():
        raise LayerSpecError("--layer-def: the layer text is empty; write a layer in the layer language "
                             "(docs/layer-language.md), e.g. 'input x[N, D]' and an equation")
    return Layer.parse(setup["text"], name="layer")


def field_of(message: str, setup: dict) -> str | None:
    """The field of the page a message is about: the CLI option it names first, else the mode's main field."""
    found = _OPTION.match(message)
    if found and found.group(1) in _OPTION_FIELD:
        return _OPTION_FIELD[found.group(1)]
    if setup["mode"] == "network":
        for pattern, field in _NETWORK_MESSAGES:
            if pattern.match(message):
                return field
    if message.startswith("line ") and setup["mode"] == "text":
        return "text"
    return {"layer": "layer", "model": "model", "text": "text"}.get(setup["mode"])


def _bias(value: str):
    if not value:
        return None          # left out: the notation's course decides, as the CLI's --bias left out
    if value not in ("separate", "column"):
        raise SymbackpropError(f"--bias: {value!r} is not a bias mode; accepted: separate, column")
    return value

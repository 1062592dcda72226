"""The work a page asks for, run in a worker process: derive, check one line, export. Plain data in and out.

Each job takes the page's setup (see :mod:`._setup`) and returns a dictionary that JSON can carry:
the result, or ``{"error": message, "field": name}`` for bad input, with the message the CLI prints
(a caret under the column of a formula or of a layer text). An exception no code path anticipated
comes back as one line naming it, never as a traceback.
"""
from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import LayerSpecError, ParseError, SymbackpropError
from . import _setup

EXPORTS = ("numpy", "jax", "torch", "tex", "pdf")


def run(kind: str, payload: dict) -> dict:
    """Run job ``kind`` ('derive', 'check', 'export') on ``payload``; every outcome is a dictionary."""
    if kind == "options":
        return options()
    job = {"derive": derive, "check": check, "export": export}.get(kind)
    if job is None:
        return {"error": f"unknown job {kind!r}; accepted: derive, check, export"}
    setup = {}
    try:
        setup = _setup.clean(payload.get("setup", {}))
        return job(setup, payload)
    except SymbackpropError as error:
        message = _message(error)
        return {"error": message, "field": _setup.field_of(message, setup) if setup else None}
    except RecursionError:
        return {"error": "the input is nested too deeply to work with; write it more simply"}
    except MemoryError:
        return {"error": "ran out of memory: the worker's memory limit was reached; try a smaller input"}
    except Exception as error:   # a bug of symbackprop, not bad input: one line, as the CLI's exit 70 says it
        from .. import __version__
        detail = str(error).splitlines()[0][:200] if str(error) else ""
        return {"error": f"internal error in symbackprop {__version__}: {type(error).__name__}"
                         f"{': ' + detail if detail else ''}; please report it with this setup", "internal": True}


def warm() -> None:
    """Import what the jobs use, so that a job's budget is spent on its own work, not on a worker's imports."""
    import importlib
    for name in ("engine", "rendering.html", "rendering.layer", "rendering.steps", "checker", "export", "layers",
                 "models", "cli.check", "cli._layer"):
        importlib.import_module(f"{__package__.rpartition('.')[0]}.{name}")


def options() -> dict:
    """What the page offers in its menus: the catalogue, the built-in layers, the notations, the exports."""
    from ..catalogue import ACTIVATIONS, LOSSES
    from ..layers._window_records import NAMES as WINDOW_LAYERS
    from ..layers.records import BY_NAME
    from ..models import LOSSES as MODEL_LOSSES
    from ..rendering.notations import PRESETS
    return {"activations": [a.name for a in ACTIVATIONS], "losses": [l.name for l in LOSSES],
            "layers": [*BY_NAME, *(n for n in WINDOW_LAYERS if n not in BY_NAME)], "model_losses": list(MODEL_LOSSES),
            "notations": [n.name for n in PRESETS], "layer_notations": ["ng-dls", "cs231n"],
            "exports": [e for e in EXPORTS if e != "pdf" or pdflatex()], "defaults": dict(_setup.FIELDS)}


def _message(error: SymbackpropError) -> str:
    """The line the CLI prints for ``error``, and under it, for a text with a known column, the text and a caret."""
    from ..cli import one_line
    message = one_line(error)
    if isinstance(error, ParseError) and error.column is not None and error.text and "\n" not in message:
        message += f"\n  {error.text}\n  {' ' * error.column}^"
    return message


# --- the subject of a setup: a network, a layer (built in or written) or a model -----------------------------------

def _network(args):
    from ..cli._options import network_from_args
    return network_from_args(args)


def _layer(setup, args):
    from ..cli._layer import layer_from_args
    if setup["mode"] == "text":
        args.layer_def = "layer text"
        return _setup.layer_text(setup)
    if not args.layer:
        raise LayerSpecError("--layer: choose a built-in layer")
    return layer_from_args(args)


def _model(args):
    from ..cli._layer import model_from_args
    if not (args.model or "").strip():
        raise LayerSpecError("--model: the model is empty; write layers joined by '>', e.g. "
                             "'affine(64) > relu > affine(10) > softmax'")
    return model_from_args(args)


# --- derive ---------------------------------------------------------------------------------------------------------

def derive(setup: dict, payload: dict) -> dict:
    """The derivation as the HTML export's content, and the expansion of each chain-rule or contraction step."""
    args = _setup.arguments(setup)
    if setup["mode"] == "network":
        return _derive_network(args)
    from ..rendering.layer import latex, render_layer
    derivation = _layer_derivation(setup, args)
    page = render_layer(derivation, "html")
    content = page[page.index("<body>") + len("<body>"):page.rindex("</body>")].strip()
    from ..rendering.layer import _sections
    from ._expand import expansions
    numbered = [step for _, steps in _sections(derivation) for step in steps]
    return {"html": content, "expansions": expansions(list(enumerate(numbered, start=1)), lambda n: latex),
            "title": _title(content), "notation": args.notation or ""}


def _derive_network(args) -> dict:
    from ..cli._options import default_notation
    from ..engine import derive as derive_network
    from ..rendering.html import body
    from ..rendering.steps import layout
    from ._expand import expansions
    network = _network(args)
    notation = args.notation or default_notation(network)
    page = layout(derive_network(network), notation)
    steps = [rendered for section in page.sections for rendered in section.steps]
    printers = {batch: page.printers(batch)[0].doprint for batch in (False, True)}
    batch = {rendered.number: rendered.batch for rendered in steps}
    found = expansions([(rendered.number, rendered.step) for rendered in steps], lambda n: printers[batch[n]])
    content = body(page)
    return {"html": content, "expansions": found, "title": network.describe(), "notation": notation}


def _layer_derivation(setup, args):
    """The LayerDerivation ``derive`` prints for a layer, a layer text or a model (cli/derive.py's choices)."""
    from ..layers import derive_layer
    if setup["mode"] == "model":
        from ..models import derive_model
        return derive_model(_model(args))
    layer = _layer(setup, args)
    if getattr(layer, "recurrent", False):
        from ..rendering._recurrent_letters import in_letters
        return derive_layer(in_letters(layer, args.notation)).as_layer_derivation()
    if args.notation is not None and getattr(args, "window_layout", None) is None:
        from ..rendering.layer_notations import layer_notation
        layer = layer_notation(args.notation).apply(layer)
    return derive_layer(layer)


def _title(content: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", content)
    return html.unescape(found.group(1)) if found else ""


# --- check ----------------------------------------------------------------------------------------------------------

def check(setup: dict, payload: dict) -> dict:
    """The verdict on one line (a formula, or a line of Octave or NumPy), as ``check --json`` prints it."""
    from ..cli import check as cli_check
    formula = payload.get("formula")
    if not isinstance(formula, str) or not formula.strip():
        raise SymbackpropError("give a formula to check, e.g. delta^(L) = a^(L) - y")
    args = _setup.arguments(setup)
    args.seed = 0
    if setup["mode"] == "model":
        raise SymbackpropError("check reads a network's or a layer's gradients; choose a network or a layer to check "
                               "against")
    if setup["mode"] in ("layer", "text"):
        args.layer_object = _layer(setup, args)
        if getattr(args.layer_object, "recurrent", False) and args.notation == "ng-dls":
            from ..rendering._recurrent_letters import in_letters
            args.layer_object = in_letters(args.layer_object, "ng-dls")
        args.layout = args.notation or "cs231n"
        args.notation = "cs231n"
        network = None
    else:
        named = args.notation        # the course whose network the fields left empty follow, as in the CLI
        if args.notation is None:    # the notation the page shows the network's derivation in
            from ..cli._options import default_notation
            args.notation = default_notation(_network(args))
        if args.notation == "cs231n":
            raise SymbackpropError("--notation cs231n reads a layer's gradients: choose a layer")
        network = cli_check._network_and_names(args, named)
    code, result = cli_check._check_one(formula.strip(), network, args)
    result["exit_code"] = code
    return {"result": result}


# --- export ---------------------------------------------------------------------------------------------------------

def export(setup: dict, payload: dict) -> dict:
    """A file to download: the module for a backend, or the derivation as .tex or .pdf."""
    what = payload.get("what")
    if what not in EXPORTS:
        raise SymbackpropError(f"unknown export {what!r}; accepted: {', '.join(EXPORTS)}")
    args = _setup.arguments(setup)
    if what in ("tex", "pdf"):
        tex = _tex(setup, args)
        if what == "tex":
            return {"filename": "derivation.tex", "media": "application/x-tex", "text": tex}
        return {"filename": "derivation.pdf", "media": "application/pdf", "base64": _pdf(tex)}
    source = _module_source(setup, args, what)
    return {"filename": f"gradients_{what}.py", "media": "text/x-python", "text": source}


def _tex(setup, args) -> str:
    if setup["mode"] == "network":
        from ..cli._options import default_notation
        from ..engine import derive as derive_network
        from ..rendering import render
        network = _network(args)
        return render(derive_network(network), "tex", args.notation or default_notation(network))
    from ..rendering.layer import render_layer
    return render_layer(_layer_derivation(setup, args), "tex")


def _module_source(setup, args, backend) -> str:
    from ..errors import ExportError
    from ..layers import derive_layer
    if setup["mode"] == "network":
        from ..cli._options import default_layout
        from ..export import export_module
        network = _network(args)
        return export_module(network, backend=backend, layout=default_layout(network))
    if setup["mode"] == "model":
        from ..export._model_module import model_source
        from ..models import derive_model
        model = _model(args)
        return model_source(model, derive_model(model), backend=backend)
    layer = _layer(setup, args)
    if getattr(layer, "recurrent", False):
        from ..export._recurrent_module import recurrent_source
        return recurrent_source(derive_layer(layer), notation=args.notation, backend=backend)
    if args.notation is not None and getattr(args, "window_layout", None) is None:
        raise ExportError(f"--notation {args.notation}: only a recurrent (rnn, lstm, gru) or window layer (conv2d, "
                          f"avgpool) is exported in a notation's layout")
    from ..export._layer_module import layer_source
    return layer_source(derive_layer(layer), backend=backend)


def pdflatex() -> str | None:
    return shutil.which("pdflatex")


def _pdf(tex: str) -> str:
    program = pdflatex()
    if program is None:
        raise SymbackpropError("pdflatex is not installed here (Debian: texlive-latex-base); download the .tex instead")
    with tempfile.TemporaryDirectory(prefix="symbackprop-serve-") as folder:
        source = Path(folder) / "derivation.tex"
        source.write_text(tex, encoding="utf-8")
        run = subprocess.run([program, "-halt-on-error", "-interaction=nonstopmode", "-no-shell-escape", source.name],
                             cwd=folder, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        pdf = source.with_suffix(".pdf")
        if run.returncode != 0 or not pdf.exists():
            last = [line for line in run.stdout.splitlines() if line.startswith("!")][:1]
            raise SymbackpropError(f"pdflatex could not typeset the derivation{': ' + last[0] if last else ''}; "
                                   f"download the .tex instead")
        return base64.b64encode(pdf.read_bytes()).decode("ascii")

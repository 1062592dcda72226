"""The network options every subcommand shares (--layers --hidden --output --loss --l2 --bias),
and the defaults that follow the network (the notation of a derivation, the layout of an export)."""
from __future__ import annotations

import argparse
import re

from ..catalogue import ACTIVATIONS, LOSSES
from ..catalogue import activation, loss
from ..errors import NetworkSpecError, ParseError, SymbackpropError
from ..network import Network

#: With no options, symbackprop describes Andrew Ng's ex4 network.
DEFAULTS = dict(layers="400,25,10", hidden="sigmoid", output="sigmoid", loss="cross-entropy", l2="1", bias="column")


def catalogue_help() -> str:
    """The catalogue, for --help epilogues."""
    lines = ["activations (--hidden, --output; or an expression in z such as 'tanh(z)'):"]
    lines += [f"  {a.name:<26} {a.description}" for a in ACTIVATIONS]
    lines += ["losses (--loss; or an expression in a and y such as '(a-y)^2/2'):"]
    lines += [f"  {l.name:<26} {l.description}" for l in LOSSES]
    return "\n".join(lines)


def network_parent() -> argparse.ArgumentParser:
    """A parent parser holding the shared network options."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("network (default: Andrew Ng's ex4 network)")
    group.add_argument("--layers", default=DEFAULTS["layers"], metavar="N,N,...",
                       help="layer sizes from input to output (default %(default)s)")
    group.add_argument("--hidden", default=DEFAULTS["hidden"], metavar="ACT[;ACT...]",
                       help="hidden activation: a name or an expression in z; one per hidden layer "
                            "separated by ';' where they differ (default %(default)s)")
    group.add_argument("--output", default=DEFAULTS["output"], metavar="ACT",
                       help="output ACTIVATION: a name or an expression in z (default %(default)s); "
                            "to write a file use -o FILE")
    group.add_argument("--loss", default=DEFAULTS["loss"], metavar="LOSS",
                       help="loss: a name or an expression in a and y (default %(default)s)")
    group.add_argument("--l2", default=DEFAULTS["l2"], metavar="LAMBDA",
                       help="L2 strength lambda >= 0; biases are never regularised (default %(default)s)")
    group.add_argument("--bias", default=DEFAULTS["bias"], choices=("separate", "column"),
                       help="separate vectors b^l, or Ng's bias column in Theta with a bias unit (default %(default)s)")
    return parent


def parse_layers(text: str) -> tuple:
    """'400,25,10' -> (400, 25, 10); a name such as 'n' stands for a symbolic size."""
    import sympy as sp
    parts = [part.strip() for part in text.split(",")]
    sizes = []
    for position, part in enumerate(parts, start=1):
        if part.lstrip("-").isdigit():
            sizes.append(int(part))
        elif part.isidentifier() and part.isascii() and len(part) <= 20:
            sizes.append(sp.Symbol(part, integer=True, positive=True))
        else:
            raise NetworkSpecError(f"--layers: {part!r} (layer {position}) is not a whole number or a name; "
                                   f"accepted: sizes separated by commas, e.g. 400,25,10 or n,h,k")
    return tuple(sizes)


def parse_l2(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise NetworkSpecError(f"--l2: {text!r} is not a number; accepted: a number >= 0, e.g. 1 or 0.5") from None


def network_from_args(args: argparse.Namespace) -> Network:
    """The Network the shared options describe; an error names the option it came from."""
    sizes = parse_layers(args.layers)
    hidden = [_option("--hidden", activation, part.strip()) for part in args.hidden.split(";")]
    output = _option("--output", activation, args.output)
    loss_record = _option("--loss", loss, args.loss)
    l2 = parse_l2(args.l2)
    if l2 == int(l2) and abs(l2) < 1e15:
        l2 = int(l2)
    hidden_spec = hidden if len(hidden) > 1 else hidden[0]
    return Network(sizes, hidden=hidden_spec, output=output, loss=loss_record, l2=l2, bias=args.bias)


#: a value of --output that is a file name, not an activation: a user who meant -o FILE
_FILE_NAME = re.compile(r"^[\w./\\~-]*\.(?:html?|tex|json|txt|md|pdf|py|png|svg|csv|out)$", re.IGNORECASE)


def default_notation(network: Network) -> str:
    """The notation a derivation is printed in when none is asked for: Ng's for a network with his
    bias column (the default ex4 network), Nielsen's otherwise."""
    return "ng-ml" if network.bias == "column" else "nielsen"


def default_layout(network: Network) -> str:
    """The parameter layout of an export when none is asked for: Ng's Theta list for a bias-column network."""
    return "ng" if network.bias == "column" else "rows"


NOTATION_DEFAULT_HELP = "default: ng-ml for a network with --bias column (the default), nielsen otherwise"


def _option(flag: str, lookup, value):
    if flag == "--output" and _FILE_NAME.match(value):
        raise NetworkSpecError(f"--output {value!r}: --output is the output activation (e.g. sigmoid, softmax, "
                               f"or an expression in z); to write a file use -o {value} or --output-file {value}")
    hint = "; --output is the output activation, -o FILE writes a file" if flag == "--output" else ""
    try:
        return lookup(value)
    except ParseError as error:
        raise ParseError(f"{flag} {value!r}: {error.message}", error.text, error.column) from None
    except SymbackpropError as error:
        raise NetworkSpecError(f"{flag}: {error}{hint}") from None

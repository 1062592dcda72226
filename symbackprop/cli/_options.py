"""The network options every subcommand shares (--layers --hidden --output --loss --l2 --bias),
the defaults a notation brings (its course's network: where the bias lives, λ, the loss), and the
defaults that follow the network (the notation of a derivation, the layout of an export)."""
from __future__ import annotations

import argparse
import re
import sys

from ..catalogue import ACTIVATIONS, LOSSES
from ..catalogue import activation, loss
from ..errors import NetworkSpecError, ParseError, SymbackpropError
from ..network import Network

#: With no options, symbackprop describes Andrew Ng's ex4 network. --loss, --l2 and --bias left out
#: follow the --notation's course instead (:func:`course_network`); a softmax output takes the categorical loss.
DEFAULTS = dict(layers="400,25,10", hidden="sigmoid", output="sigmoid")

#: the loss a softmax output takes when --loss is left out (the binary one per unit would be a silent mistake)
SOFTMAX_LOSS = "categorical-cross-entropy"


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
    group.add_argument("--loss", default=None, metavar="LOSS",
                       help="loss: a name or an expression in a and y (default: categorical-cross-entropy for a "
                            "softmax output, cross-entropy otherwise)")
    group.add_argument("--l2", default=None, metavar="LAMBDA",
                       help="L2 strength lambda >= 0; biases are never regularised (default: the --notation's "
                            "course, see below; 1 without --notation)")
    group.add_argument("--bias", default=None, choices=("separate", "column"),
                       help="separate vectors b^l, or Ng's bias column in Theta with a bias unit (default: the "
                            "--notation's course, see below; column without --notation)")
    return parent


def network_notations_help() -> str:
    """'ng-ml, ng-dls, nielsen, goodfellow or bishop', from the notation records."""
    from ..rendering.notations import PRESETS
    names = [preset.name for preset in PRESETS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def course_defaults_help() -> str:
    """What --notation assumes for the network options left out, for --help epilogues."""
    from ..rendering.notations import PRESETS
    lines = ["network options left out (--bias, --l2, --loss) follow the --notation's course, and one line on "
             "stderr says what was assumed:"]
    for preset in PRESETS:
        course = preset.course_network
        lines.append(f"  {preset.name:<11} {course.label}: bias {course.bias}, lambda = {course.l2}, loss {course.loss}")
    lines.append("  without --notation, Ng's ex4 network (as ng-ml); after a softmax output the loss is "
                 f"{SOFTMAX_LOSS}")
    return "\n".join(lines)


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


def course_network(notation: str | None):
    """The network options a user of ``notation`` leaves out (None: Ng's ex4 network, the default)."""
    from ..rendering.notations import EX4_NETWORK, notation as preset
    if notation is None:
        return EX4_NETWORK
    try:
        return preset(notation).course_network
    except SymbackpropError as error:
        raise NetworkSpecError(f"--notation {notation!r}: {error}; a network is written in one of these "
                               f"(cs231n names a layer's gradients: derive, check and export take it with --layer)") from None


#: network_from_args's notation when the caller names none: the --notation given, if any
FROM_ARGS = "--notation"


def network_from_args(args: argparse.Namespace, notation: str | None = FROM_ARGS, *, announce: bool = True) -> Network:
    """The Network the shared options describe; an error names the option it came from.

    An option left out (None) follows ``notation``'s course (by default the --notation given, if any), and
    a softmax output takes the categorical cross-entropy; when that assumed something the user may not
    expect, one line on stderr says what (``announce``), so that piped output stays clean."""
    if notation is FROM_ARGS:
        notation = getattr(args, "notation", None)
    course = course_network(notation)
    sizes = parse_layers(args.layers)
    hidden = [_option("--hidden", activation, part.strip()) for part in args.hidden.split(";")]
    output = _option("--output", activation, args.output)
    loss_name = args.loss if args.loss is not None else SOFTMAX_LOSS if not output.elementwise else course.loss
    loss_record = _option("--loss", loss, loss_name)
    bias = args.bias if args.bias is not None else course.bias
    l2 = parse_l2(args.l2) if args.l2 is not None else course.l2
    if l2 == int(l2) and abs(l2) < 1e15:
        l2 = int(l2)
    hidden_spec = hidden if len(hidden) > 1 else hidden[0]
    network = Network(sizes, hidden=hidden_spec, output=output, loss=loss_record, l2=l2, bias=bias)
    line = assumed_line(args, notation, network)
    if announce and line:
        print(line, file=sys.stderr)
    return network


def assumed_line(args: argparse.Namespace, notation: str | None, network: Network) -> str | None:
    """'assuming the DLS network: bias separate, λ = 0; change with --bias/--l2', naming only what was
    left out; None when nothing was assumed beyond the documented ex4 defaults."""
    course = course_network(notation)
    parts, flags = [], []
    if notation is not None and args.bias is None:
        parts.append(f"bias {network.bias}")
        flags.append("--bias")
    if notation is not None and args.l2 is None:
        parts.append(f"λ = {network.l2}")
        flags.append("--l2")
    softmax = not network.output.elementwise
    if args.loss is None and (notation is not None or softmax):
        parts.append(f"loss {network.loss.name}" + (f" for the {network.output.name} output" if softmax else ""))
        flags.append("--loss")
    if not parts:
        return None
    subject = f"{course.label}: " if notation is not None else ""
    return f"assuming {subject}{', '.join(parts)}; change with {'/'.join(flags)}"


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

"""``symbackprop derive``: derive and print (or write) the derivation of one network."""
from __future__ import annotations

import argparse
from pathlib import Path

from ._layer import LAYER_NOTATION_HELP, add_layer_options, layer_from_args, model_from_args, wants_layer, wants_model
from ._options import NOTATION_DEFAULT_HELP, catalogue_help, default_notation, network_from_args, network_notations_help

FORMATS = ("text", "json", "latex", "tex", "html")


def add_parser(subparsers, network_parent) -> None:
    parser = subparsers.add_parser(
        "derive", parents=[network_parent], help="derive delta^L, the delta^l recursion and the gradients",
        description="Derive delta^L = dC/dz^L, the hidden delta^l recursion, dC/dW and dC/db by differentiating "
                    "the cost, and print the derivation step by step.",
        epilog=catalogue_help() + "\n\nexamples:\n  symbackprop derive\n"
               "  symbackprop derive --layers 784,30,10 --loss quadratic --bias separate --notation nielsen\n"
               "  symbackprop derive --output softmax --loss categorical-cross-entropy --format json\n"
               "  symbackprop derive --format html -o derivation.html\n"
               "  symbackprop derive --layer batchnorm\n"
               "  symbackprop derive --layer-def my_layer.txt --format json\n"
               "  symbackprop derive --model 'affine(64) > batchnorm > relu > affine(10) > softmax' "
               "--loss categorical-cross-entropy --input-size 32",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (terminal), json, latex (align* body), tex (full document), html (default %(default)s)")
    parser.add_argument("--notation", default=None, metavar="NAME",
                        help=f"a network: {network_notations_help()} ({NOTATION_DEFAULT_HELP}); the network "
                             f"options left out follow the notation's course (see below); {LAYER_NOTATION_HELP}")
    add_output_file_options(parser)
    parser.add_argument("--second-order", action="store_true",
                        help="--model: add the R-operator (R{z}, R{a}, R{delta}, R{dC/dW} = H v) and the Hessian of "
                             "the loss with respect to the logits (softmax + cross-entropy: diag(p) - p p^T); "
                             "--layer: the R-operator of its backward pass")
    add_layer_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.second_order:
        return run_second_order(args)
    if wants_model(args):
        from ..models import derive_model
        from ..rendering.layer import render_layer
        write(render_layer(derive_model(model_from_args(args)), args.format), args.output_file, args.force)
        return 0
    if wants_layer(args):
        from ..layers import derive_layer
        from ..rendering.layer import render_layer
        layer = layer_from_args(args)
        if getattr(layer, "recurrent", False):      # backpropagation through time, in a course's letters
            from ..rendering._recurrent_letters import in_letters
            derivation = derive_layer(in_letters(layer, args.notation))
            write(render_layer(derivation.as_layer_derivation(), args.format), args.output_file, args.force)
            return 0
        if args.notation is not None and getattr(args, "window_layout", None) is None:   # cs231n: out, dout
            from ..rendering.layer_notations import layer_notation
            layer = layer_notation(args.notation).apply(layer)
        write(render_layer(derive_layer(layer), args.format), args.output_file, args.force)
        return 0
    from ..engine import derive
    from ..rendering import render
    network = network_from_args(args)
    notation = args.notation if args.notation is not None else default_notation(network)
    text = render(derive(network), format=args.format, notation=notation)
    write(text, args.output_file, args.force)
    return 0


def run_second_order(args) -> int:
    from ..errors import SymbackpropError
    from ..rendering.layer import render_layer
    if wants_layer(args) and not wants_model(args):
        from ..models._second_order import derive_layer_second_order
        layer = layer_from_args(args)
        if getattr(layer, "recurrent", False) or len(layer.outputs) != 1:
            raise SymbackpropError(f"--second-order: {layer.name} has no R{{backward}} yet (recurrent layers and "
                                   f"layers with several outputs); e.g. --layer layernorm")
        write(render_layer(derive_layer_second_order(layer), args.format), args.output_file, args.force)
        return 0
    if not wants_model(args):
        raise SymbackpropError("--second-order: give --model SPEC or --layer NAME; a network's second order is its "
                               "model's, e.g. --model 'affine(30) > sigmoid > affine(10) > sigmoid' --loss cross-entropy")
    from ..models._second_order import derive_second_order
    write(render_layer(derive_second_order(model_from_args(args)), args.format), args.output_file, args.force)
    return 0


#: the one rule of every subcommand that writes a file (derive, compare, export): an existing file is kept
OVERWRITE_HELP = "an existing FILE is refused unless --force"


def add_output_file_options(parser) -> None:
    """-o FILE and --force, with the rule every subcommand that writes a file follows."""
    parser.add_argument("-o", "--output-file", dest="output_file", metavar="FILE",
                        help=f"write to FILE instead of standard output; {OVERWRITE_HELP} "
                             f"(--output is the output activation)")
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")


def write(text: str, path: str | None, force: bool = False) -> None:
    """Print ``text``, or write it to ``path`` (an existing file only with ``force``) and say where."""
    if path is None:
        print(text)
        return
    from ..errors import SymbackpropError
    target = Path(path)
    if target.is_dir():
        raise SymbackpropError(f"-o {path}: is a directory; give a file name")
    if target.exists() and not force:
        raise SymbackpropError(f"-o {path}: exists; pass --force to overwrite it")
    try:
        target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as error:
        raise SymbackpropError(f"-o {path}: cannot write: {error.strerror}") from None
    print(f"wrote {target}")

"""``symbackprop compare``: two setups (or one setup in two notations) side by side, and why they differ."""
from __future__ import annotations

import argparse
import copy
import sys

from ._options import (NOTATION_DEFAULT_HELP, catalogue_help, default_notation,
                       network_from_args, network_notations_help)

FORMATS = ("text", "latex", "html")
_B_OPTIONS = ("layers", "hidden", "output", "loss", "l2", "bias")


def add_parser(subparsers, network_parent) -> None:
    parser = subparsers.add_parser(
        "compare", parents=[network_parent], help="compare two setups and say where and why they differ",
        description="Derive two setups and show them side by side: the network options describe setup A; "
                    "--b-OPTION changes that option for setup B (the others are the same as A's). "
                    "--b-notation shows B in another notation.",
        epilog=catalogue_help() + "\n\nexamples:\n"
               "  symbackprop compare --layers 4,3,2 --bias separate --loss cross-entropy --b-loss quadratic\n"
               "  symbackprop compare --notation ng-ml --b-notation nielsen\n"
               "  symbackprop compare --output softmax --loss categorical-cross-entropy --b-output sigmoid "
               "--b-loss quadratic --format html -o compare.html",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_argument_group("setup B (each defaults to setup A's value)")
    for option in _B_OPTIONS:
        group.add_argument(f"--b-{option}", dest=f"b_{option}", default=None, metavar=option.upper(),
                           help=f"--{option} of setup B")
    parser.add_argument("--notation", default=None, metavar="NAME",
                        help=f"notation of setup A, whose course the network options left out follow (of both setups): "
                             f"{network_notations_help()} ({NOTATION_DEFAULT_HELP})")
    parser.add_argument("--b-notation", dest="b_notation", default=None, metavar="NAME",
                        help="notation of setup B (default: A's)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="text, latex or html (default %(default)s)")
    from .derive import add_output_file_options
    add_output_file_options(parser)
    parser.set_defaults(run=run)


def setup_b(args: argparse.Namespace) -> argparse.Namespace:
    """The options of setup B: A's, with every --b-OPTION given replacing A's value."""
    b = copy.copy(args)
    for option in _B_OPTIONS:
        value = getattr(args, f"b_{option}")
        if value is not None:
            setattr(b, option, value)
    return b


def run(args) -> int:
    from ..engine import derive
    from ..rendering import compare
    from .derive import write
    left = derive(network_from_args(args))
    b = setup_b(args)
    right_network = network_from_args(b, announce=False)    # A's course; B's own output may change its loss
    if b.loss is None and right_network.loss != left.network.loss:
        print(f"setup B: assuming loss {right_network.loss.name} for the {right_network.output.name} output; "
              f"change with --b-loss", file=sys.stderr)
    right = derive(right_network)
    notation = args.notation if args.notation is not None else default_notation(left.network)
    comparison = compare(left, right, notation=notation, right_notation=args.b_notation)
    write(comparison.render(args.format), args.output_file, args.force)
    return 0

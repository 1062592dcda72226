"""``symbackprop gradcheck``: compare the exported gradient with central differences on a random instance."""
from __future__ import annotations

import argparse

from ._options import catalogue_help, network_from_args, network_notations_help


def add_parser(subparsers, network_parent) -> None:
    parser = subparsers.add_parser(
        "gradcheck", parents=[network_parent], help="check the exported gradient against central differences",
        description="Compile the network's gradient and compare it with central differences of its own cost "
                    "(Ng's checkNNGradients) on a random instance: layers cut to --max-width units, --m examples. "
                    "Prints the relative difference norm(num - grad)/norm(num + grad); exit code 0 when it is "
                    "below --threshold, 1 otherwise.",
        epilog=catalogue_help() + "\n\nexamples:\n  symbackprop gradcheck\n"
               "  symbackprop gradcheck --hidden relu --output softmax --loss categorical-cross-entropy\n"
               "  symbackprop gradcheck --output 'tanh(z)' --loss '(a-y)^2/2' --threshold 1e-9",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notation", default=None, metavar="NAME",
                        help=f"the course whose network the options left out follow: {network_notations_help()}")
    parser.add_argument("--layout", choices=("rows", "ng"), default="rows", help="parameter layout (default %(default)s)")
    parser.add_argument("--m", type=int, default=5, help="examples in the random instance (default %(default)s)")
    parser.add_argument("--max-width", type=int, default=5, dest="max_width",
                        help="cut every layer to at most this many units (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random instance (default %(default)s)")
    parser.add_argument("--epsilon", type=float, default=1e-4, help="central-difference step (default %(default)s)")
    parser.add_argument("--threshold", type=float, default=1e-7,
                        help="largest relative difference that passes (default %(default)s)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..errors import SymbackpropError
    from ..export import gradcheck
    if args.m < 1 or args.max_width < 1:
        raise SymbackpropError(f"--m and --max-width must be at least 1, got --m {args.m} --max-width {args.max_width}")
    if not args.epsilon > 0:
        raise SymbackpropError(f"--epsilon must be positive, got {args.epsilon}")
    network = network_from_args(args)
    result = gradcheck(network, layout=args.layout, epsilon=args.epsilon, m=args.m, seed=args.seed,
                       max_width=args.max_width)
    passed = result.passed(args.threshold)
    print(f"checked: {result.description}")
    print(f"relative difference: {result.relative_difference:.3e}  (threshold {args.threshold:g}): "
          f"{'OK' if passed else 'FAILED'}")
    if not passed and not (result.relative_difference == result.relative_difference):   # NaN
        print("the cost is not finite at this instance: the loss may be undefined for these activations "
              "(e.g. log of a value outside (0, 1)); try another --seed or output activation")
    return 0 if passed else 1

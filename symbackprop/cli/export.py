"""``symbackprop export``: write the network's cost-and-gradient code as a standalone module."""
from __future__ import annotations

import argparse

from ._layer import LAYER_NOTATION_HELP, add_layer_options, layer_from_args, model_from_args, wants_layer, wants_model
from ._options import catalogue_help, default_layout, network_from_args, network_notations_help
from .derive import OVERWRITE_HELP


def add_parser(subparsers, network_parent) -> None:
    parser = subparsers.add_parser(
        "export", parents=[network_parent], help="write a standalone NumPy, JAX or PyTorch gradient module",
        description="Write a Python module that imports only numpy (or jax, or torch) and defines "
                    "cost_and_gradients(params, X, Y) and predict(params, X) for the network, printed from its "
                    "derivation. The module's docstring states the network, the shapes and the formulas.",
        epilog=catalogue_help() + "\n\nexamples:\n  symbackprop export -o grad.py\n"
               "  symbackprop export --layers 784,256,128,10 --hidden tanh --output softmax "
               "--loss categorical-cross-entropy --bias separate -o mnist_grad.py\n"
               "  symbackprop export --backend torch --layout ng --force -o grad_torch.py\n"
               "  symbackprop export --layer batchnorm -o batchnorm.py   (forward/backward, NumPy)\n"
               "  symbackprop export --model 'affine(64) > relu > affine(10) > softmax' "
               "--loss categorical-cross-entropy --input-size 32 -o model.py",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("numpy", "jax", "torch"), default="numpy",
                        help="the array library the module imports (default %(default)s)")
    parser.add_argument("--layout", choices=("rows", "ng"), default=None,
                        help="params as [W2, b2, W3, b3, ...] (rows) or Ng's [Theta1, Theta2, ...] with the bias "
                             "column (ng) (default: ng for a network with --bias column, the default; rows otherwise)")
    parser.add_argument("-o", "--output-file", dest="output_file", metavar="FILE", required=True,
                        help=f"the module to write, e.g. grad.py; {OVERWRITE_HELP}")
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    parser.add_argument("--notation", default=None, metavar="NAME",
                        help=f"a network: the course whose network the options left out follow ({network_notations_help()}); "
                             f"{LAYER_NOTATION_HELP}")
    add_layer_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    if wants_model(args):
        return run_model(args)
    if wants_layer(args):
        return run_layer(args)
    from ..export import export_module
    network = network_from_args(args)
    if args.layout is None:
        args.layout = default_layout(network)
    export_module(network, args.output_file, backend=args.backend, layout=args.layout, force=args.force)
    print(f"wrote {args.output_file}: cost_and_gradients(params, X, Y) and predict(params, X) for the "
          f"{network.describe()} ({args.backend}, layout {args.layout})")
    return 0


def run_layer(args) -> int:
    from ..errors import ExportError
    from ..export._layer_module import export_layer_module
    from ..layers import derive_layer
    if args.backend != "numpy":
        raise ExportError(f"--backend {args.backend}: layers are exported for numpy only so far")
    layer = layer_from_args(args)
    if getattr(layer, "recurrent", False):
        return run_recurrent(args, layer)
    if args.notation is not None and getattr(args, "window_layout", None) is None:   # cs231n: out, dout
        from ..rendering.layer_notations import layer_notation
        layer = layer_notation(args.notation).apply(layer)
    export_layer_module(derive_layer(layer), args.output_file, force=args.force)
    inputs = ", ".join(a.name for a in layer.differentiable)
    print(f"wrote {args.output_file}: forward({inputs}) -> (out, cache) and backward(dout, cache) -> "
          f"({', '.join('d' + a.name for a in layer.differentiable)}) for the {layer.describe()}")
    return 0


def run_recurrent(args, layer) -> int:
    from ..export._recurrent_module import export_recurrent_module, layout_of
    from ..layers import derive_layer
    layout = layout_of(args.notation)
    export_recurrent_module(derive_layer(layer), args.output_file, force=args.force, notation=args.notation)
    names = layout.names.get(layer.name, {})
    inputs = ", ".join(names.get(a.name, a.name) for a in layer.differentiable)
    print(f"wrote {args.output_file}: forward({inputs}) -> (out, cache) over every step and backward(dout, cache) "
          f"through time for the {layer.describe()} (layout {layout.name})")
    return 0


def run_model(args) -> int:
    from ..errors import ExportError
    from ..export._model_module import export_model_module
    from ..models import derive_model
    if args.backend != "numpy":
        raise ExportError(f"--backend {args.backend}: models are exported for numpy only so far")
    model = model_from_args(args)
    export_model_module(model, derive_model(model), args.output_file, force=args.force)
    print(f"wrote {args.output_file}: cost_and_gradients(params, X, Y) with params = [{', '.join(model.params)}] "
          f"for the {model.describe()}")
    return 0

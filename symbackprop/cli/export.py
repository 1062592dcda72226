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
               "  symbackprop export --layer batchnorm --backend torch --op -o batchnorm_op.py\n"
               "  symbackprop export --layer lstm --notation cs231n --backend torch --op -o lstm_op.py\n"
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
    parser.add_argument("--op", action="store_true",
                        help="--layer, --layer-def or --model with --backend torch or jax: write a drop-in autograd op "
                             "(a torch.autograd.Function and an nn.Module holding the parameters, or a jax.custom_vjp "
                             "function) whose backward is the derived one")
    parser.add_argument("--second-order", action="store_true",
                        help="--model: add hvp(params, X, Y, V), ggn_vp(params, X, Y, V) and diag_ggn(params, X, Y) "
                             "beside cost_and_gradients (the Hessian and the generalised Gauss-Newton matrix of the "
                             "mean cost times V, and the GGN's exact diagonal), from the R-operator")
    add_layer_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.second_order:
        return run_second_order(args)
    if args.op:
        return run_op(args)
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
    from ..export._layer_module import export_layer_module
    from ..layers import derive_layer
    layer = layer_from_args(args)
    if getattr(layer, "recurrent", False):
        return run_recurrent(args, layer)
    layer = _in_notation(args, layer)
    export_layer_module(derive_layer(layer), args.output_file, force=args.force, backend=args.backend)
    inputs = ", ".join(a.name for a in layer.differentiable)
    print(f"wrote {args.output_file}: forward({inputs}) -> (out, cache) and backward(dout, cache) -> "
          f"({', '.join('d' + a.name for a in layer.differentiable)}) for the {layer.describe()} ({args.backend})")
    return 0


def _in_notation(args, layer):
    """The layer in the names of --notation (cs231n: out, dout), unless it is a window layer (whose record is
    written in the layout)."""
    if args.notation is not None and getattr(args, "window_layout", None) is None:
        from ..rendering.layer_notations import layer_notation
        return layer_notation(args.notation).apply(layer)
    return layer


def run_op(args) -> int:
    from ..errors import ExportError
    from ..export._op_module import OP_BACKENDS, export_op_module, layer_op_source, model_op_source
    if args.backend not in OP_BACKENDS:
        raise ExportError(f"--op --backend {args.backend}: an op is written for --backend torch "
                          f"(autograd.Function) or jax (custom_vjp)")
    if wants_model(args):
        from ..models import derive_model
        model = model_from_args(args)
        source, subject = model_op_source(model, derive_model(model), args.backend), model.describe()
        use = "model(X, Y, *params) -> L"
    elif wants_layer(args):
        from ..layers import derive_layer
        layer = layer_from_args(args)
        names = [a.name for a in layer.differentiable]
        if getattr(layer, "recurrent", False):         # --notation is a layout for a recurrent layer
            from ..export._recurrent_module import forward_arguments
            from ..export._recurrent_op import recurrent_op_source
            source = recurrent_op_source(derive_layer(layer), args.backend, args.notation)
            names = forward_arguments(layer, args.notation)
        else:
            layer = _in_notation(args, layer)
            source = layer_op_source(derive_layer(layer), args.backend)
        subject = layer.describe()
        use = f"{layer.name.replace('-', '_')}({', '.join(names)})"
    else:
        raise ExportError("--op: give --layer NAME, --layer-def FILE or --model SPEC (a network is exported "
                          "without --op)")
    export_op_module(source, args.output_file, force=args.force)
    kind = "a torch.autograd.Function and an nn.Module" if args.backend == "torch" else "a jax.custom_vjp function"
    print(f"wrote {args.output_file}: {use} as {kind}, backward derived, for the {subject}")
    return 0


def run_recurrent(args, layer) -> int:
    from ..export._recurrent_module import export_recurrent_module, forward_arguments, idioms_of, layout_of
    from ..layers import derive_layer
    layout = layout_of(args.notation)
    idioms_of(args.backend)          # refuses a backend the recurrent modules are not written for, before deriving
    export_recurrent_module(derive_layer(layer), args.output_file, force=args.force, notation=args.notation,
                            backend=args.backend)
    inputs = ", ".join(forward_arguments(layer, args.notation))
    print(f"wrote {args.output_file}: forward({inputs}) -> (out, cache) over every step and backward(dout, cache) "
          f"through time for the {layer.describe()} (layout {layout.name}, {args.backend})")
    return 0


def run_model(args) -> int:
    from ..export._model_module import export_model_module
    from ..models import derive_model
    model = model_from_args(args)
    export_model_module(model, derive_model(model), args.output_file, force=args.force, backend=args.backend)
    print(f"wrote {args.output_file}: cost_and_gradients(params, X, Y) with params = [{', '.join(model.params)}] "
          f"for the {model.describe()} ({args.backend})")
    return 0


def run_second_order(args) -> int:
    from ..errors import ExportError
    if args.op:
        raise ExportError("--second-order: give --model SPEC, --layer NAME or a network, without --op")
    if wants_layer(args) and not wants_model(args):
        return run_layer_second_order(args)
    if not wants_model(args):
        from ..export._files import write_module
        from ..export._network_second_order import network_second_order_source
        network = network_from_args(args)
        layout = args.layout or default_layout(network)
        write_module(network_second_order_source(network, layout, args.backend), args.output_file, args.force)
        print(f"wrote {args.output_file}: cost_and_gradients(params, X, Y), predict(params, X), hvp(params, X, Y, V), "
              f"ggn_vp(params, X, Y, V) and diag_ggn(params, X, Y) for the {network.describe()} ({args.backend}, "
              f"layout {layout})")
        return 0
    from ..export._second_order_module import export_second_order_module
    from ..models import derive_model
    model = model_from_args(args)
    export_second_order_module(model, derive_model(model), args.output_file, force=args.force, backend=args.backend)
    print(f"wrote {args.output_file}: cost_and_gradients(params, X, Y), hvp(params, X, Y, V), ggn_vp(params, X, Y, V) "
          f"and diag_ggn(params, X, Y) with params = [{', '.join(model.params)}] for the {model.describe()} "
          f"({args.backend})")
    return 0


def run_layer_second_order(args) -> int:
    from ..errors import ExportError
    from ..export._files import write_module
    from ..export._second_order_module import layer_second_order_source
    from ..layers import derive_layer
    layer = layer_from_args(args)
    if getattr(layer, "recurrent", False):
        raise ExportError(f"--second-order: the recurrent layer {layer.name} has no r_backward yet; the layers "
                          f"without a recurrence have (e.g. --layer layernorm)")
    layer = _in_notation(args, layer)
    write_module(layer_second_order_source(derive_layer(layer), args.backend), args.output_file, args.force)
    names = [a.name for a in layer.differentiable]
    print(f"wrote {args.output_file}: forward, backward and r_backward({', '.join(names)}, "
          f"{', '.join('R' + n for n in names)}, dout, Rdout) -> R{{({', '.join('d' + n for n in names)})}} for the "
          f"{layer.describe()} ({args.backend})")
    return 0

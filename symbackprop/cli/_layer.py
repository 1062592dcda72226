"""The layer options of ``derive`` and ``export`` (--layer NAME, --layer-def FILE): reading them only."""
from __future__ import annotations

from pathlib import Path

from ..errors import LayerSpecError, SymbackpropError

MAX_BYTES = 100_000

#: what --notation means with --layer, for every subcommand's --help
LAYER_NOTATION_HELP = ("with --layer or --layer-def: cs231n (CS231n's names: out, dout, dx), and for conv2d, avgpool, "
                       "rnn, lstm and gru also ng-dls (the DLS course's layout: A_prev, W, b; x (n_x, m, T_x), a0, "
                       "Wax); default: the layer's own names")


def add_layer_options(parser) -> None:
    group = parser.add_argument_group("layer (instead of a network)")
    choice = group.add_mutually_exclusive_group()
    from ..layers.records import layer_names
    choice.add_argument("--layer", metavar="NAME", help=f"a built-in layer: {', '.join(layer_names())}")
    choice.add_argument("--layer-def", dest="layer_def", metavar="FILE",
                        help="a layer written in the layer language (docs/layer-language.md)")
    choice.add_argument("--model", metavar="MODEL",
                        help="layers joined by '>', with residual(...) branches, ending in --loss, e.g. "
                             "'affine(64) > batchnorm > relu > affine(10) > softmax' (docs/models.md)")
    group.add_argument("--input-size", dest="input_size", metavar="N",
                       help="the width of each example the --model reads, e.g. 32")
    group.add_argument("--stride", metavar="S", help="--layer conv2d or avgpool: the stride (default 1 for conv2d, "
                       "the window size for avgpool)")
    group.add_argument("--pad", metavar="P", help="--layer conv2d: the zero padding on each spatial side (default 0)")
    group.add_argument("--axis", metavar="A", help="--layer softmax or log-softmax: the axis of x[N, K] it normalises "
                       "over, 1 (each row a distribution, the default) or 0 (each column)")
    group.add_argument("--window", metavar="K", help="--layer avgpool: the window size K x K (default 2)")


def wants_model(args) -> bool:
    return getattr(args, "model", None) is not None


def model_from_args(args):
    """The Model the --model, --loss and --input-size options describe; without --loss, the loss that fits
    the model's last stage (one line on stderr says which)."""
    import sys
    from ..models import LOSSES, build_model, default_loss
    if args.input_size is None:
        raise LayerSpecError("--model needs --input-size N, the width of each example (e.g. --input-size 32)")
    text = args.input_size.strip()
    if "x" in text.lower():            # an image: height x width x channels (conv2d, pooling)
        from ..models._images import input_shape
        size = input_shape(text)
    elif not text.isdigit() or int(text) < 1:
        raise LayerSpecError(f"--input-size {args.input_size!r}: expected a positive integer, e.g. 32, or an "
                             f"image size height x width x channels, e.g. 28x28x1")
    else:
        size = int(text)
    loss = args.loss if args.loss is not None else default_loss(args.model)
    if loss not in LOSSES:
        raise LayerSpecError(f"--loss {args.loss!r}: a model ends in one of {', '.join(LOSSES)}")
    model = build_model(args.model, loss, size)
    if args.loss is None:
        print(f"assuming the loss {loss} after the model's last stage; change with --loss", file=sys.stderr)
    return model


def wants_layer(args) -> bool:
    return bool(getattr(args, "layer", None) or getattr(args, "layer_def", None))


def layer_from_args(args):
    """The Layer the options name; errors say which option and where in the file."""
    from ..layers import Layer, layer_record
    from ..layers._window_records import NAMES, window_record
    if args.layer in NAMES:        # a window layer: its stride, padding and layout (--notation ng-dls | cs231n)
        layout = getattr(args, "notation", None)       # None when not given: the layer's own (ng-dls) names
        if layout is not None and layout not in ("ng-dls", "cs231n"):
            raise LayerSpecError(f"--notation {layout}: {args.layer} is written in the layout ng-dls or cs231n")
        if getattr(args, "axis", None) is not None:
            raise LayerSpecError("--axis applies to --layer softmax or log-softmax only")
        args.window_layout = layout or "ng-dls"
        return window_record(args.layer, args.stride, args.pad, args.window, layout).layer()
    for option in ("stride", "pad", "window"):
        if getattr(args, option, None) is not None:
            raise LayerSpecError(f"--{option} applies to --layer conv2d or avgpool only")
    if getattr(args, "axis", None) is not None:
        from ..layers.records import axis_record
        if not args.layer:
            raise LayerSpecError("--axis applies to --layer softmax or log-softmax; in a --layer-def the sum's index "
                                 "is the axis")
        return axis_record(args.layer, args.axis).layer()
    if args.layer:
        return layer_record(args.layer).layer()
    path = Path(args.layer_def)
    if not path.is_file():
        raise SymbackpropError(f"--layer-def {args.layer_def}: no such file; give the path of a layer text file")
    try:
        data = path.read_bytes()[:MAX_BYTES + 1]
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LayerSpecError(f"--layer-def {args.layer_def}: not UTF-8 text") from None
    except OSError as error:
        raise SymbackpropError(f"--layer-def {args.layer_def}: cannot read: {error.strerror}") from None
    if len(data) > MAX_BYTES:
        raise LayerSpecError(f"--layer-def {args.layer_def}: larger than {MAX_BYTES} bytes")
    return Layer.parse(text, name=path.stem)

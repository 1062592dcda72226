"""``symbackprop check``: check hand-derived formulas against the derivation of a network.

Exit codes: 0 correct, 1 incorrect, 2 a formula (or option) that could not be understood -- the
message shows the column with a caret --, 3 undecided. With ``--file``, one formula per line
(blank lines and lines starting with ``#`` are skipped), a summary at the end, and the exit code
of the worst line (2, then 1, then 3, then 0).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..checker import DEFAULT, NOTATIONS
from ..errors import ParseError, SymbackpropError
from ._options import catalogue_help, network_from_args

UNREADABLE = 2
_SEVERITY = {2: 3, 1: 2, 3: 1, 0: 0}   # exit code -> rank, for the worst line of a file

EXAMPLES = r"""
examples:
  symbackprop check 'delta^(L) = a^(L) - y' --notation ng-ml
  symbackprop check --loss quadratic --bias separate --l2 0 "delta^L = (a^L - y) .* sigma'(z^L)"
  symbackprop check --notation ng-dls 'dW^[l] = 1/m dZ^[l] A^[l-1]T' --json
  symbackprop check --notation nielsen --file formulas.txt
  symbackprop check --layer batchnorm --notation cs231n 'dgamma = np.sum(dout * xhat, axis=0)'
  symbackprop check --layer attention 'dS = A * (dA - (A * dA).sum(axis=1, keepdims=True))'
  symbackprop check --model 'affine(25) > sigmoid > affine(10) > softmax' --loss categorical-cross-entropy \
      --input-size 400 'dz3 = (p4 - Y) / N'
"""


def add_parser(subparsers, network_parent) -> None:
    parser = subparsers.add_parser(
        "check", parents=[network_parent], help="check a hand-derived formula",
        description="Check a backpropagation formula LHS = RHS (LaTeX or plain text) against what symbackprop "
                    "derives for the network: correct (proved symbolically, or by evaluation at random sizes and "
                    "values), or incorrect with the nearby correct formula it equals and a counterexample.",
        epilog=catalogue_help() + "\n" + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("formula", nargs="?", metavar="FORMULA",
                        help="the formula, e.g. \"delta^L = (a^L - y) .* sigma'(z^L)\"")
    parser.add_argument("--notation", default=None, choices=(*NOTATIONS, "cs231n"), metavar="NAME",
                        help="how to read letters and layer indices: " + ", ".join(NOTATIONS) + f" (default {DEFAULT}); "
                             "with --layer the layer's own names, CS231n's convention (cs231n): dx, dgamma, dout")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument("--file", metavar="FILE", help="check every line of FILE (one formula per line)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random values (default %(default)s)")
    from ._layer import add_layer_options
    add_layer_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    if (args.formula is None) == (args.file is None):
        raise SymbackpropError("give either a FORMULA or --file FILE (one of them)")
    from ._layer import layer_from_args, model_from_args, wants_layer, wants_model
    if wants_model(args):
        if args.notation is not None:
            raise SymbackpropError(f"--notation {args.notation}: a --model formula is written in the names of the "
                                   f"composed model that 'symbackprop derive --model ...' prints (dz3, W3, p4, Y); "
                                   f"drop --notation")
        args.model_object = model_from_args(args)
        args.notation = "model"
        network = None
    elif wants_layer(args):
        args.layer_object = layer_from_args(args)     # the layer's names, and CS231n's dout for the upstream
        if getattr(args.layer_object, "recurrent", False) and args.notation == "ng-dls":
            from ..rendering._recurrent_letters import in_letters      # a, da, da_prev, W_aa: DLS's letters
            args.layer_object = in_letters(args.layer_object, "ng-dls")
        args.layout = args.notation or "cs231n"       # a recurrent layer's formulas: DLS's columns or CS231n's rows
        args.notation = "cs231n"
        network = None
    else:
        named = args.notation                         # the course whose network the options left out follow
        args.notation = args.notation or DEFAULT
        if args.notation == "cs231n":
            raise SymbackpropError("--notation cs231n reads a layer's gradients: give --layer NAME or --layer-def FILE")
        network = _network_and_names(args, named)
    if args.file is not None:
        return _run_file(args, network)
    code, result = _check_one(args.formula, network, args)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    elif code == UNREADABLE:
        print(f"symbackprop check: error: {result['error']}", file=sys.stderr)
    else:
        print(_text(result))
    return code


def _network_and_names(args, named):
    network = network_from_args(args, named)
    from ..rendering import notation
    from ..rendering.steps import check_size_names
    check_size_names(network, notation(args.notation))   # a width named 'a' cannot be read beside a^l
    return network


def _check_one(formula: str, network, args) -> tuple[int, dict]:
    from ..checker import check
    from ..checker._loss_hessian_check import check_loss_hessian, is_loss_hessian
    try:
        if network is not None and is_loss_hessian(formula):     # d2L/dz2 = diag(p) - p p^T (issue 27)
            verdict = check_loss_hessian(formula, network.output.name, network.loss.name, seed=args.seed)
        elif network is None and getattr(args, "model_object", None) is not None:
            from ..checker._model_check import check_model
            verdict = check_model(formula, args.model_object, seed=args.seed)
        elif network is None and getattr(args.layer_object, "recurrent", False):
            from ..checker._recurrent_check import check_recurrent
            verdict = check_recurrent(formula, args.layer_object, seed=args.seed, notation=args.layout)
        elif network is None:
            from ..checker._layer_check import check_layer
            verdict = check_layer(formula, args.layer_object, notation=args.notation, seed=args.seed)
        else:
            verdict = check(formula, network, notation=args.notation, seed=args.seed)
    except ParseError as error:
        return UNREADABLE, {"verdict": "unreadable", "formula": formula, "notation": args.notation,
                            "error": error.render(), "column": error.column}
    return verdict.exit_code, verdict.to_dict()


def _run_file(args, network) -> int:
    path = Path(args.file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SymbackpropError(f"--file {args.file}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    results, worst = [], 0
    for number, line in enumerate(lines, start=1):
        formula = line.strip()
        if not formula or formula.startswith("#"):
            continue
        code, result = _check_one(formula, network, args)
        result["line"] = number
        results.append(result)
        if _SEVERITY[code] > _SEVERITY[worst]:
            worst = code
    counts = {kind: sum(1 for r in results if r["verdict"] == kind)
              for kind in ("correct", "incorrect", "undecided", "unreadable")}
    if args.json:
        print(json.dumps({"results": results, "summary": counts}, ensure_ascii=False, indent=2))
        return worst
    for result in results:
        head = f"line {result['line']}: {result['formula']}"
        if result["verdict"] == "unreadable":
            print(f"{head}\n  unreadable: {result['error']}".replace("\n", "\n  ").rstrip())
        else:
            print(f"{head}\n  " + _text(result).replace("\n", "\n  "))
    print(f"summary: {counts['correct']} correct, {counts['incorrect']} incorrect, "
          f"{counts['undecided']} undecided, {counts['unreadable']} unreadable ({len(results)} formulas)")
    return worst


def _text(result: dict) -> str:
    method = f" ({result['method']})" if result.get("method") else ""
    lines = [f"{result['verdict']}{method}: {result['quantity']}", result["diagnosis"]]
    lines += [f"note: {note}" for note in result.get("notes", [])]
    example = result.get("counterexample")
    if example:
        lines += _counterexample_lines(example)
    return "\n".join(line for line in lines if line)


#: a counterexample shows at most this many entries of a vector, and rows x columns of a matrix
SHOWN_ENTRIES, SHOWN_ROWS, SHOWN_COLUMNS = 4, 2, 3


def _counterexample_lines(example) -> list:
    """The sizes and scalars the formula uses, and a few entries of the expected and the formula's values."""
    sizes = ", ".join(f"{k} = {v}" for k, v in example["sizes"].items())
    scalars = "".join(f", {name} = {example[name]}" for name in ("m", "lambda") if name in example)
    expected, formula = example["expected"], example["formula"]
    rows, columns = len(expected), max(map(len, expected), default=0)
    whole = list(example.get("shape") or [rows, columns])
    count = math.prod(whole)
    if columns == 1 or rows == 1 or len(whole) == 1:          # a vector: a few of its entries, on one line
        shown = min(SHOWN_ENTRIES, count)
        part = f" (the first {shown} of its {count} entries)" if count > shown else ""
        texts = [_entries([value for row in matrix for value in row][:shown], count > shown) for matrix in
                 (expected, formula)]
    else:
        shown = min(SHOWN_ROWS, rows), min(SHOWN_COLUMNS, columns)
        part = f" (the first {shown[0]} × {shown[1]} entries of the {' × '.join(map(str, whole))} array)" \
            if count > shown[0] * shown[1] else ""
        texts = ["[" + ", ".join(_entries(row[:shown[1]], len(row) > shown[1]) for row in matrix[:shown[0]]) +
                 (", ...]" if rows > shown[0] else "]") for matrix in (expected, formula)]
    lines = [f"counterexample at {sizes}{scalars}{part}:", f"  expected {texts[0]}", f"  formula  {texts[1]}"]
    if part and rows * columns == count:      # every entry at hand (a layer's JSON keeps only the first 4 × 4)
        lines.append(_largest_difference(expected, formula, vector=columns == 1 or rows == 1 or len(whole) == 1))
    return lines


def _largest_difference(expected, formula, vector: bool) -> str:
    """Where the two differ most among the entries at hand (numbered from 1), which the first few may not show."""
    pairs = [((i, j), want, got) for i, (row, other) in enumerate(zip(expected, formula))
             for j, (want, got) in enumerate(zip(row, other))]
    (i, j), want, got = max(pairs, key=lambda pair: abs(pair[1] - pair[2]))
    where = f"entry {max(i, j) + 1}" if vector else f"entry ({i + 1}, {j + 1})"
    return f"  largest difference at {where}: expected {want:.4g}, formula {got:.4g}"


def _entries(values, more: bool) -> str:
    return "[" + ", ".join(f"{value:.4g}" for value in values) + (", ...]" if more else "]")

"""The ``symbackprop`` command: argparse front end. Each subcommand lives in its own module with
``add_parser(subparsers, network_parent)`` and ``run(args) -> int``; none holds logic of its own.

Exit codes (:data:`EXIT_CODES`): 0 success; 1 a negative answer (check: incorrect; gradcheck:
above threshold); 2 bad input (one line on stderr, never a traceback); 3 undecided (check);
70 an internal error (sysexits' EX_SOFTWARE: a bug of symbackprop, one line asking for a report);
130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import LayerSpecError, ParseError, SymbackpropError
from ._options import catalogue_help, course_defaults_help, network_parent

SUBCOMMANDS = ("derive", "compare", "check", "export", "gradcheck", "serve")

#: sysexits' EX_SOFTWARE: an exception symbackprop did not anticipate (never 1 or 2, which are answers)
INTERNAL_ERROR = 70

_BAD_INPUT = "2    bad input: an option, expression or formula that cannot be used (one line on stderr)"
_COMMON = (f"{INTERNAL_ERROR}   internal error in symbackprop (one line on stderr; please report it)",
           "130  interrupted")
#: what each subcommand's exit code means, for its --help and the README
EXIT_CODES = {
    "derive": ("0    derived and printed", _BAD_INPUT, *_COMMON),
    "compare": ("0    compared and printed", _BAD_INPUT, *_COMMON),
    "check": ("0    correct", "1    incorrect", "2    a formula or option that could not be understood",
              "3    undecided", *_COMMON),
    "export": ("0    module written", _BAD_INPUT, *_COMMON),
    "gradcheck": ("0    relative difference below the threshold", "1    above the threshold (or not finite)",
                  _BAD_INPUT, *_COMMON),
    "serve": ("0    stopped", "2    bad input: a --host, --port or --time-limit that cannot be used, or the serve extra "
              "missing", *_COMMON),
}

DESCRIPTION = """\
Backpropagation derived by SymPy: delta^L, the delta^l recursion and the gradients, by
differentiating the cost of your network; rendered in your textbook's notation; your own
formula checked; NumPy gradient code exported. With no options every command uses
Andrew Ng's ex4 network (400-25-10, sigmoid, cross-entropy, lambda = 1, bias column); with
--notation NAME, the options left out follow that course's network instead (DLS and Nielsen:
separate biases, lambda = 0), and one line on stderr says what was assumed."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit code 2, as argparse does, but with our prefix
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbackprop", description=DESCRIPTION, epilog=catalogue_help(),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parent = network_parent()
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers, parent)
        command = subparsers.choices[name]
        command.epilog = (command.epilog or "") + "\n\n" + course_defaults_help() + "\n\nexit codes:\n" + "\n".join(f"  {line}" for line in EXIT_CODES[name])
    parser.set_defaults(subcommands=subparsers.choices)
    return parser


def unrecognized(extras: list, parser: argparse.ArgumentParser) -> str:
    """'unrecognized arguments: --notaton nielsen; did you mean --notation?', the suggestions taken
    (difflib) from the options ``parser`` -- the subcommand's -- accepts."""
    import difflib
    options = [option for action in parser._actions for option in action.option_strings if option.startswith("--")]
    hints = []
    for extra in extras:
        name = extra.split("=", 1)[0]
        if name.startswith("--"):
            close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
            if close and close[0] not in hints:
                hints.append(close[0])
    message = f"unrecognized arguments: {' '.join(extras)}"
    if hints:
        message += "; did you mean " + " or ".join(hints) + "?"
    return message


def one_line(error: SymbackpropError) -> str:
    """The message on one line; a parse error says its column instead of drawing a caret."""
    if isinstance(error, LayerSpecError) or isinstance(error, ParseError) and error.message.startswith("line "):
        return str(error)    # a layer text: the line, a caret under the problem, what was expected
    if isinstance(error, ParseError) and error.column is not None:
        return f"{error.message} (column {error.column + 1} of {error.text!r})"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def main(argv=None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:          # the subcommand's usage and its closest option, not the top-level usage
        command = args.subcommands.get(args.command, parser) if args.command else parser
        command.error(unrecognized(extras, command))
    if args.command is None:
        parser.print_help()
        return 2
    original = sys.stdout
    sys.stdout = _PipeSafe(original)
    try:
        return args.run(args)
    except SymbackpropError as error:
        print(f"symbackprop {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:   # the one guard for what no code path anticipated: a bug, not bad input
        return internal_error(error)
    finally:
        sys.stdout = original


def internal_error(error: BaseException) -> int:
    """One line naming the exception and asking for a report; exit code 70 (EX_SOFTWARE)."""
    from .. import __version__
    detail = str(error).splitlines()[0][:200] if str(error) else ""
    print(f"internal error in symbackprop {__version__}: {type(error).__name__}"
          f"{': ' + detail if detail else ''}; please report it with this command", file=sys.stderr)
    return INTERNAL_ERROR


class _PipeSafe:
    """stdout that survives a reader that went away (``symbackprop check ... | head -1``): the rest of the
    output is dropped and the command still returns its own exit code (1 for an incorrect verdict),
    never 0 because a pipe closed."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()

    def _drop(self):
        import os
        try:   # point the descriptor at /dev/null so that no later flush (at exit) fails again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)

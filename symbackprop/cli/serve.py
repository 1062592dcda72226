"""``symbackprop serve``: the derivation, the checker and the exporter on a local web page."""
from __future__ import annotations

import argparse
import sys

from ..errors import SymbackpropError

EXAMPLES = """
examples:
  symbackprop serve
  symbackprop serve --port 8765 --no-browser
"""


def add_parser(subparsers, network_parent) -> None:
    parser = subparsers.add_parser(
        "serve", help="open the derivation, the checker and the exporter in a web page (local server)",
        description="Start a local web server and open its page in the browser: choose a network, a layer or a "
                    "model, read its derivation in your textbook's notation, check your formulas, download the "
                    "gradient module. Works offline. Needs the serve extra: pip install 'symbackprop[serve]'.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default %(default)s: this machine only)")
    parser.add_argument("--port", default="0", help="the port to listen on (default 0: a free port, printed)")
    parser.add_argument("--no-browser", dest="browser", action="store_false", help="do not open the page in a browser")
    parser.add_argument("--time-limit", dest="time_limit", default="30", metavar="SECONDS",
                        help="the time one derivation, check or export may take before it is stopped "
                             "(default %(default)s)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..web import serve
    from ..web._server import is_loopback
    port = _number("--port", args.port, int, "a whole number from 0 to 65535, e.g. 8765 (0: a free port)")
    if not 0 <= port <= 65535:
        raise SymbackpropError(f"--port {args.port}: not a port; accepted: a whole number from 0 to 65535")
    limit = _number("--time-limit", args.time_limit, float, "a number of seconds from 1 to 3600, e.g. 30")
    if not 1 <= limit <= 3600:
        raise SymbackpropError(f"--time-limit {args.time_limit}: accepted: a number of seconds from 1 to 3600")
    if not is_loopback(args.host):
        print(f"symbackprop serve: warning: --host {args.host} lets other machines reach the page", file=sys.stderr)
    serve(args.host, port, open_browser=args.browser, budget=limit)
    return 0


def _number(flag, text, kind, accepted):
    try:
        return kind(text)
    except ValueError:
        raise SymbackpropError(f"{flag} {text!r}: not a number; accepted: {accepted}") from None

"""``symbackprop serve``: the derivation, the checker and the exporter on a local web page.

:func:`serve` starts a Starlette application under uvicorn on the loopback address; the page
(``static/``) is plain HTML, CSS and JavaScript served by it, with MathML typeset by the browser
(no CDN, no network fetch). Every derivation, check and export runs in a bounded pool of worker
processes with a time budget (:mod:`._pool`); the jobs themselves (:mod:`._jobs`) call the same
functions as the CLI. Needs the ``serve`` extra: ``pip install 'symbackprop[serve]'``.
"""
from ._server import LOOPBACK, serve

__all__ = ["serve", "LOOPBACK"]

"""export_module: the standalone module's text, and writing it to a file."""
from __future__ import annotations

from pathlib import Path

from ._compile import derivation_of
from ..errors import ExportError
from ._source import module_source


def export_module(network_or_derivation, path=None, *, backend: str = "numpy", layout: str = "rows",
                  l2=None, force: bool = False) -> str:
    """The source of a standalone module computing the network's cost and gradients.

    The module imports only ``backend`` (numpy, jax or torch) and defines
    ``cost_and_gradients(params, X, Y)``, ``predict(params, X)`` and ``check_arguments``, with a
    docstring stating the network, the shapes and the formulas. With ``path`` the source is also
    written there; an existing file is refused unless ``force``.
    """
    source = module_source(derivation_of(network_or_derivation), backend=backend, layout=layout, l2=l2)
    if path is not None:
        target = Path(path)
        if target.is_dir():
            raise ExportError(f"{path}: is a directory; give a file name such as grad.py")
        if target.exists() and not force:
            raise ExportError(f"{path}: exists; refusing to overwrite it (use --force, or force=True)")
        if target.suffix != ".py":
            raise ExportError(f"{path}: a Python module's name must end in .py")
        try:
            target.write_text(source, encoding="utf-8")
        except OSError as error:
            raise ExportError(f"{path}: cannot write: {error.strerror}") from None
    return source

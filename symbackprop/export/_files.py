"""Writing a generated module to a file and loading one in this process: shared by the layer, model and
recurrent exporters (the network exporter, ``_module.py``, keeps its own messages)."""
from __future__ import annotations

import types
from pathlib import Path

from ..errors import ExportError
from ._bound_names import check_bound


def write_module(source: str, path, force: bool = False) -> Path:
    """Write ``source`` to ``path`` (a .py file); an existing file is refused unless ``force``."""
    target = Path(path)
    check_bound(source, f"-o {path}")
    if target.suffix != ".py":
        raise ExportError(f"-o {path}: the module must be a .py file")
    if target.is_dir():
        raise ExportError(f"-o {path}: is a directory; give a file name")
    if target.exists() and not force:
        raise ExportError(f"{path} exists; pass --force (force=True) to overwrite it")
    try:
        target.write_text(source, encoding="utf-8")
    except OSError as error:
        raise ExportError(f"-o {path}: cannot write: {error.strerror}") from None
    return target


def load_module(source: str, name: str) -> types.ModuleType:
    """``source`` (code this package generated, never user text) loaded as a module called ``name``."""
    check_bound(source, name)
    module = types.ModuleType(name)
    exec(compile(source, module.__name__, "exec"), module.__dict__)
    return module

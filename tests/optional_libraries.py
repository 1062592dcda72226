"""The optional libraries some tests compare against: torch, jax, autograd (the ``autodiff`` extra).

``require(name, purpose)`` returns the module. Without it the test (or, called at module level, the whole
file) skips, saying which library is missing and what it is for, so a venv made with the README's
``pip install -e '.[test,examples]'`` has no failures. Under ``CI=true`` a missing library is a failure
instead: CI installs every extra, and a silent skip there would drop a whole kind of evidence (the
pdflatex and Chromium tests do the same).
"""
from __future__ import annotations

import importlib
import os

import pytest

INSTALL = "pip install -e '.[autodiff]'"


def require(name: str, purpose: str):
    """The module ``name`` (e.g. 'torch', 'jax.numpy'), or skip (fail under CI=true) naming it and ``purpose``."""
    try:
        return importlib.import_module(name)
    except ImportError:
        pass            # outside the handler: the skip or failure is reported without the ImportError's traceback
    reason = f"{name.split('.')[0]} is not installed; {purpose} needs it ({INSTALL})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

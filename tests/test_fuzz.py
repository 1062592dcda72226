"""Random activations, losses and formulas through the Python API: derive, render (every format),
check and compile end in a result or in one of symbackprop's own errors, never another exception.

The grammar of the random expressions is the one of ``benchmarks/fuzz.py`` (which drives the CLI
and holds the time limits); hypothesis draws its choices, so a failure shrinks to a small case.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import symbackprop as sb
from symbackprop.errors import SymbackpropError
from symbackprop.export import random_instance
from symbackprop.rendering.api import FORMATS

_spec = importlib.util.spec_from_file_location("fuzz_benchmark", Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)
NAMES = fuzz.known_names()


def _drawer(data):
    return lambda options: data.draw(st.sampled_from(list(options)))


def _through_everything(hidden: str, output: str, loss: str, formula: str):
    """Every stage a user reaches; returns the stage that refused, or None."""
    try:
        network = sb.Network((3, 2, 2), hidden=hidden, output=output, loss=loss, l2=0, bias="separate")
        derivation = sb.derive(network)
    except SymbackpropError:
        return "network"
    for format in FORMATS:
        try:
            assert sb.render(derivation, format)
        except SymbackpropError:
            pass
    try:
        sb.check(formula, network)
    except SymbackpropError:
        pass
    try:
        function = sb.compile(derivation)
    except SymbackpropError:
        return "compile"
    params, X, Y = random_instance(network)
    with np.errstate(all="ignore"):     # outside a typed function's domain the values are NaN
        cost, gradients = function(params, X, Y)
    assert len(gradients) == len(params)
    return None


# No shrinking phase: one run of the pipeline takes seconds, and an unshrunk case is readable here.
# Derandomised, without the example database: every run of the suite tries the same networks.
@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow], phases=[Phase.explicit, Phase.generate])
@given(st.data())
def test_random_networks_end_in_a_result_or_a_symbackprop_error(data):
    choose = _drawer(data)
    _through_everything(fuzz.activation(choose, NAMES), fuzz.activation(choose, NAMES),
                        fuzz.loss(choose, NAMES), fuzz.formula(choose, NAMES))


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow], phases=[Phase.explicit, Phase.generate])
@given(st.data())
def test_random_piecewise_losses_of_a_and_y_end_in_a_result_or_a_symbackprop_error(data):
    # relu, leaky_relu and elu around an expression of a and y (issue 25: relu(1 - y*a) was exit 70)
    choose = _drawer(data)
    _through_everything("sigmoid", fuzz.activation(choose, NAMES, depth=2), fuzz.piecewise_loss(choose, NAMES),
                        fuzz.formula(choose, NAMES))


@pytest.mark.parametrize("options", [options for command, options in fuzz.KNOWN_SLOW if "--output" in options
                                     or "--hidden" in options or "--loss" in options],
                         ids=lambda options: " ".join(options)[:40])
def test_the_cases_of_the_issue_end_in_a_result_or_a_symbackprop_error(options):
    chosen = dict(zip(options[::2], options[1::2]))
    formula = options[-1] if len(options) % 2 else "delta^L = a^L - y"
    _through_everything(chosen.get("--hidden", "sigmoid"), chosen.get("--output", "sigmoid"),
                        chosen.get("--loss", "cross-entropy"), formula)

"""Property-based fuzzing of the grammar: any text ends in a result or a ParseError, quickly, and runs no code.

The formula checker's own fuzz test (the whole ``check`` pipeline and its exit codes) lives in
``tests/test_cli_check.py``.
"""
import os
import time

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.errors import ParseError
from symbackprop.grammar import parse_expression, parse_formula

#: far above any answer's time on a loaded 2-core machine: only a hang reaches it
HANG_SECONDS = 120

a, y, z = sp.symbols("a y z", real=True)
VARS = {"a": a, "y": y, "z": z}
SENTINEL = "/tmp/symbackprop_fuzz_sentinel"

GRAMMAR_PIECES = ["a", "y", "z", "1", "2", "0", "9", "0.5", "1e-3", "1e300", "9" * 50, "+", "-", "*", "/",
                  "^", "**", "(", ")", "exp", "log", "ln", "sqrt", "tanh", "sinh", "cosh", "abs", " ",
                  "sigmoid", ".*", "'", "_", "{", "}", "[", "]", "=", "@", "\\", "\\odot", "\\frac",
                  "\\sum_k", "\\delta", "^{(l)}", "^T", "·", "−", "×", "σ", "⊙", "é", "\x00", ",", ";"]

HOSTILE = [
    f"__import__('os').system('touch {SENTINEL}')",
    f"exec(\"open('{SENTINEL}','w')\")",
    f"eval(\"__import__('os').system('touch {SENTINEL}')\")",
    f"$(touch {SENTINEL})",
    f"`touch {SENTINEL}`",
    f"a; touch {SENTINEL}",
    f"a && touch {SENTINEL} || true",
    "lambda: 0",
    "().__class__.__bases__[0].__subclasses__()",
    "a.__class__",
    "9**9**9**9",
    "9^9^9^9^9",
    "2^99999999",
    "(2^1000)^1000^1000",
    "10^1000^1000",
    "exp(exp(exp(exp(1e300))))",
    "1e300^1e300",
    "0.1^-1000",
    "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((",
    ")))))))))))))))))))",
    "(" * 5000,
    "-" * 3999 + "a",
    "\\frac{" * 300 + "1" + "}{2}" * 300,
    "{" * 1000 + "}" * 1000,
    "a" + "^a" * 1999,
    "\u202e a \u202d",
    "\ud7ff\ue000",
    "a\x00b",
    "ｅｘｐ(ａ)",
]

pieces = st.lists(st.sampled_from(GRAMMAR_PIECES), max_size=40).map("".join)
any_text = st.text(max_size=80)


def setup_module():
    if os.path.exists(SENTINEL):
        os.remove(SENTINEL)


def teardown_module():
    assert not os.path.exists(SENTINEL), "a fuzz input executed code"


def _parse_expression_or_error(text):
    start = time.perf_counter()
    try:
        result = parse_expression(text, VARS, {"sigmoid": lambda arg: 1 / (1 + sp.exp(-arg))})
    except ParseError as err:
        assert isinstance(err.message, str) and err.message
        assert err.column is None or 0 <= err.column <= len(text)
        str(err)
    else:
        assert isinstance(result, sp.Basic)
    assert time.perf_counter() - start < HANG_SECONDS   # a hang guard; timings are benchmarks' business
    assert not os.path.exists(SENTINEL)


def _parse_formula_or_error(text):
    start = time.perf_counter()
    try:
        parse_formula(text)
    except ParseError as err:
        assert err.column is None or 0 <= err.column <= len(text)
        str(err)
    assert time.perf_counter() - start < HANG_SECONDS   # a hang guard; timings are benchmarks' business
    assert not os.path.exists(SENTINEL)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings(text):
    _parse_expression_or_error(text)
    _parse_formula_or_error(text)
    _parse_formula_or_error("delta^L = " + text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces)
def test_expression_from_grammar_pieces(text):
    _parse_expression_or_error(text)


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_expression_from_any_text(text):
    _parse_expression_or_error(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces, pieces)
def test_formula_from_grammar_pieces(left, right):
    _parse_formula_or_error(left + "=" + right)


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_formula_from_any_text(text):
    _parse_formula_or_error(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.sampled_from(["(", "{", "[", "-", "exp(", "\\frac{1}{"]))
def test_nesting_of_any_depth(depth, opener):
    closer = {"(": ")", "{": "}", "[": "]", "-": "", "exp(": ")", "\\frac{1}{": "}"}[opener]
    text = opener * depth + "a" + closer * depth
    _parse_expression_or_error(text)
    _parse_formula_or_error("delta^L = " + text)

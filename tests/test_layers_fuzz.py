"""Property-based fuzzing of the layer language: any text is a Layer or a SymbackpropError (ParseError or
LayerSpecError), quickly; and every Layer that parses derives without an unexpected exception."""
from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.errors import SymbackpropError
from symbackprop.layers import Layer

#: far above any answer's time on a loaded 2-core machine: only a hang reaches it
HANG_SECONDS = 120

PIECES = ["input ", "param ", "const ", "output ", "x", "y", "w", "b", "h", "n", "d", "k", "N", "D", "[", "]", ",", "=",
          "(", ")", "+", "-", "*", "/", "^", "**", "sum(", "exp(", "sqrt(", "relu(", "tanh(", "1", "0", "2.5", "1e-5",
          "\n", " ", "#", "x[n, d]", "w[d]", "y[n, d] = ", "sum(x[n, d], n)", "\x00", "é", "$", "__import__"]

PREFIX = "input x[N, D]\nparam w[D]\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_any_text_parses_or_raises_a_symbackprop_error(pieces):
    text = "".join(pieces)
    for candidate in (text, PREFIX + text, PREFIX + "y[n, d] = " + text + "\noutput y"):
        start = time.perf_counter()
        try:
            Layer.parse(candidate)
        except SymbackpropError:
            pass
        assert time.perf_counter() - start < HANG_SECONDS   # a hang guard; timings are benchmarks' business


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["x[n, d]", "w[d]", "2", "exp(x[n, d])", "sum(x[k, d], k)", "sum(w[e], e)",
                                 "tanh(x[n, d])", "(x[n, d] - w[d])"]), min_size=1, max_size=4),
       st.lists(st.sampled_from(["+", "-", "*", "/"]), min_size=3, max_size=3))
def test_well_formed_layers_derive(terms, ops):
    from symbackprop.layers import derive_layer
    expression = terms[0] + "".join(f" {op} {term}" for op, term in zip(ops, terms[1:]))
    text = f"{PREFIX}y[n, d] = x[n, d] + {expression}\noutput y"
    layer = Layer.parse(text)
    derivation = derive_layer(layer)
    assert [g.of for g in derivation.results] == ["x", "w"]

"""Every formula ``derive`` prints, in every notation and in both text and LaTeX, is read back by
``check`` in that notation as correct: the checker reads what the tool itself writes."""
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import symbackprop as sb
from symbackprop.checker import NOTATIONS, check
from symbackprop.rendering.steps import layout

#: (output activation, loss) pairs the catalogue accepts together
OUTPUTS = [("sigmoid", "cross-entropy"), ("sigmoid", "quadratic"), ("softmax", "categorical-cross-entropy"),
           ("identity", "quadratic"), ("tanh", "quadratic")]
#: hidden activations; derive prints elu's and leaky-relu's derivatives as cases ({α e^z if z ≤ 0; 1 otherwise},
#: \begin{cases} ... \end{cases})
HIDDEN = ["sigmoid", "tanh", "relu", "softplus", "silu", "identity", "elu", "leaky-relu"]


def _printed(network, notation):
    """(label, text) of every result formula derive prints for ``network`` in ``notation``, text and LaTeX."""
    for result in layout(sb.derive(network), notation).results:
        yield result.label, result.formula.text
        yield result.label, result.formula.latex


def _assert_read_back(network, notation):
    for label, formula in _printed(network, notation):
        verdict = check(formula, network, notation=notation)
        assert verdict.verdict == "correct", f"{notation} {label}: {formula}\n{verdict.summary()}"


@pytest.mark.parametrize("notation", NOTATIONS)
def test_ex4_network_reads_back_in_every_notation(notation):
    _assert_read_back(sb.Network((400, 25, 10), l2=1, bias="column"), notation)


@pytest.mark.parametrize("notation", NOTATIONS)
def test_case_split_derivatives_read_back(notation):
    """elu's derivative is printed as cases; α away from its default so that a dropped α shows."""
    _assert_read_back(sb.Network((4, 3, 2), hidden="elu:alpha=0.5", l2=1, bias="column"), notation)


networks = st.builds(
    lambda sizes, hidden, pair, l2, bias: sb.Network(sizes, hidden=hidden, output=pair[0], loss=pair[1],
                                                     l2=l2, bias=bias),
    sizes=st.lists(st.integers(2, 5), min_size=3, max_size=4).map(tuple),
    hidden=st.sampled_from(HIDDEN),
    pair=st.sampled_from(OUTPUTS),
    l2=st.sampled_from([0, 1, 0.5]),
    bias=st.sampled_from(["separate", "column"]),
)


# no shrinking: each example checks a dozen formulas, and a failure prints the network and the formula
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(network=networks, notation=st.sampled_from(NOTATIONS))
def test_every_printed_formula_reads_back_as_correct(network, notation):
    _assert_read_back(network, notation)

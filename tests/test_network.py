"""Network descriptions: what is accepted, and the message for what is refused."""
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import symbols as S


def test_defaults_describe_a_valid_network():
    network = sb.Network()
    assert network.sizes == (400, 25, 10) and network.depth == 3
    assert network.hidden[0].name == "sigmoid" and network.loss.name == "cross-entropy"


def test_per_layer_hidden_activations():
    network = sb.Network((4, 5, 6, 2), hidden=["tanh", "relu"])
    assert [h.name for h in network.hidden] == ["tanh", "relu"]
    assert network.activation_of(2).name == "tanh" and network.activation_of(4).name == "sigmoid"


def test_symbolic_sizes_are_accepted():
    n = sp.Symbol("n", integer=True, positive=True)
    assert sb.Network((n, 3, 2)).sizes[0] == n


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(sizes=(400, 0, 10)), "layer 2 has size 0"),
    (dict(sizes=(400,)), "at least 2 layers"),
    (dict(sizes="400,25"), "must be a sequence"),
    (dict(sizes=(4, 2.5, 1)), "layer 2 size 2.5"),
    (dict(sizes=(4, True, 1)), "layer 2 size True"),
    (dict(hidden="sigmod"), "unknown activation 'sigmod'; accepted: sigmoid, tanh"),
    (dict(loss="triplet"), "unknown loss 'triplet'; accepted: quadratic, cross-entropy"),
    (dict(sizes=(3, 2, 1), output="softmax"), "needs at least 2 output units"),
    (dict(l2=-1), "L2 strength -1 is negative; accepted: a number >= 0"),
    (dict(l2=float("nan")), "not finite"),
    (dict(l2="one"), "is not a number"),
    (dict(bias="row"), "bias 'row' is not accepted; accepted: separate, column"),
    (dict(loss="y^2"), "does not depend on a"),
    (dict(output="2*y"), "unknown name 'y'; accepted variables: z"),
    (dict(hidden="3"), "does not depend on z"),
    (dict(loss="(a-y"), "column"),
    (dict(hidden="softmax"), "supports it as the output activation only"),
    (dict(output="sigmoid", loss="log-likelihood"), "use it with the softmax output"),
    (dict(sizes=(4, 3, 3, 2), hidden=["tanh"]), "1 hidden activations given for 2 hidden layer(s)"),
    (dict(hidden="leaky-relu:beta=2"), "has no parameter 'beta'; its parameters: alpha"),
    (dict(hidden="leaky-relu:alpha=x"), "write NAME:PARAM=NUMBER"),
])
def test_invalid_descriptions_are_refused_with_a_message_naming_the_value(kwargs, fragment):
    with pytest.raises(sb.SymbackpropError) as error:
        sb.Network(**kwargs)
    assert fragment in str(error.value)


def test_parse_errors_point_at_the_column():
    with pytest.raises(sb.ParseError) as error:
        sb.Network(loss="(a - y))^2")
    assert error.value.column == 7
    assert "^" in str(error.value)


def test_activation_parameters_can_be_set():
    network = sb.Network((3, 2, 1), hidden="leaky-relu:alpha=0.2")
    (alpha,) = network.hidden[0].parameters
    assert network.hidden[0].parameters[alpha] == sp.Rational(1, 5)


def test_expressions_may_use_catalogue_activations_as_functions():
    network = sb.Network((3, 2, 1), output="2*sigmoid(z) - 1")
    assert sp.simplify(network.output.definition - (2 / (1 + sp.exp(-S.z)) - 1)) == 0


def test_derive_refuses_what_is_not_a_network():
    with pytest.raises(sb.NetworkSpecError, match="derive\\(\\) takes a symbackprop.Network"):
        sb.derive("400,25,10")


def test_public_functions_stay_callable_after_their_packages_are_imported():
    """symbackprop.render/check/compile are functions; importing their packages must not shadow them."""
    import importlib
    for package in ("symbackprop.rendering", "symbackprop.checker", "symbackprop.export"):
        importlib.import_module(package)
    for _ in range(2):
        assert callable(sb.render) and callable(sb.check) and callable(sb.compile) and callable(sb.compare)
    from symbackprop import check, render
    assert callable(check) and callable(render)
    net = sb.Network((3, 2, 2))
    assert sb.check("delta^L = a^L - y", net).verdict == sb.check("delta^L = a^L - y", net).verdict == "correct"


def test_activation_parameters_never_sympify_text():
    from symbackprop.catalogue import lookup
    leaky = lookup.activation("leaky-relu")
    assert str(leaky.with_parameters(alpha=0.25).parameters[next(iter(leaky.parameters))]) == "1/4"
    with pytest.raises(sb.errors.NetworkSpecError, match="is not a number"):
        leaky.with_parameters(alpha="__import__('os').system('true')")

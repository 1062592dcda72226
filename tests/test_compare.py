"""compare(): the first step where two setups differ and why, computed from the two derivations."""
import pytest

from symbackprop import Network, derive
from symbackprop.cli import main
from symbackprop.errors import UnknownNameError
from symbackprop.rendering import compare
from symbackprop.rendering.compare import loss_derivative


@pytest.fixture(scope="module")
def ng():
    return derive(Network((4, 3, 2), output="sigmoid", loss="cross-entropy"))


@pytest.fixture(scope="module")
def nielsen():
    return derive(Network((4, 3, 2), output="sigmoid", loss="quadratic"))


def test_cross_entropy_against_quadratic(ng, nielsen):
    c = compare(ng, nielsen)
    assert c.differ and c.first_difference.quantity == "cost" and c.first_difference.left_number == 1
    assert c.reason == (
        "δ^L differs by the factor σ'(z^L) = a (1 - a): under sigmoid + cross-entropy ∂C/∂a = (a - y)/(a (1 - a)), "
        "which cancels σ'(z^L) = a (1 - a), so δ^L = a - y; under sigmoid + quadratic ∂C/∂a = a - y, which does not, "
        "so δ^L = a (1 - a) (a - y).")
    rows = {row.label: row for row in c.rows}
    assert not rows["output layer δ^L"].same and rows["hidden layer δ^l"].same
    assert rows["output layer δ^L"].right.text == "δ^L = a^L ⊙ (1 - a^L) ⊙ (a^L - y)"


def test_the_order_does_not_matter_for_the_reason(ng, nielsen):
    assert "under sigmoid + cross-entropy ∂C/∂a = (a - y)/(a (1 - a)), which cancels" in compare(nielsen, ng).reason


def test_exp_and_poisson_cancel_too():
    poisson = derive(Network((3, 2), output="exp", loss="poisson"))
    quadratic = derive(Network((3, 2), output="exp", loss="quadratic"))
    assert compare(poisson, quadratic).reason.startswith(
        "δ^L differs by the factor exp'(z^L) = a: under exp + poisson ∂C/∂a = (a - y)/a, which cancels")


def test_different_output_activations_are_named_plainly(nielsen):
    softmax = derive(Network((4, 3, 2), output="softmax", loss="categorical-cross-entropy"))
    assert compare(softmax, nielsen).reason.startswith(
        "δ^L differs: δ^L = a - y under softmax + categorical-cross-entropy, δ^L = a (1 - a) (a - y) under sigmoid + quadratic")


def test_one_setup_in_two_notations(ng):
    c = compare(ng, ng, "ng-ml", "nielsen")
    assert not c.differ and all(row.same for row in c.rows)
    assert "ng-ml writes the weights into layer l as Θ^(l-1)" in c.reason
    assert "nielsen as w^l" in c.reason


def test_loss_derivative_is_read_from_the_steps(ng, nielsen):
    assert str(loss_derivative(ng)) == "(a - y)/(a*(1 - a))"
    assert str(loss_derivative(nielsen)) == "a - y"


def test_formats(ng, nielsen):
    c = compare(ng, nielsen)
    assert "First difference: cost, step (1) of A against step (1) of B" in c.render("text")
    assert r"which cancels $\sigma'(z^{L}) = a \left(1 - a\right)$" in c.render("latex")
    page = c.render("html")
    assert "<math" in page and "<script" not in page
    with pytest.raises(UnknownNameError):
        c.render("pdf")


def test_cli(capsys, tmp_path):
    assert main(["compare", "--layers", "4,3,2", "--l2", "0", "--bias", "separate", "--b-loss", "quadratic"]) == 0
    out = capsys.readouterr().out
    assert "Why: δ^L differs by the factor σ'(z^L)" in out
    target = tmp_path / "c.html"
    assert main(["compare", "--notation", "ng-ml", "--b-notation", "nielsen", "--format", "html", "-o", str(target)]) == 0
    assert "<math" in target.read_text()
    assert main(["compare", "--b-notation", "nope"]) == 2
    assert "unknown notation 'nope'" in capsys.readouterr().err

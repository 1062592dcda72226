"""What a newcomer meets first: the network a notation assumes, the loss a softmax output takes, help
that lists what is accepted, messages for a mistyped option, short reprs, and files never overwritten
silently (issue 25, part C).

Expected values come from the courses' own formulas (DLS course 1's dW^[1] = (1/m) dZ^[1] X^T has no L2
term; with a softmax output and the categorical cross-entropy δ^L = a^L - y, Nielsen chapter 3), or
from a run with the options written out in full."""
import json

import pytest

import symbackprop as sb
from symbackprop.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. a notation brings its course's network -------------------------------------------------------

DLS_LINE = "dW1 = 1/m * np.dot(dZ1, X.T)"     # DLS course 1, week 4, linear_backward


@pytest.mark.parametrize("line", [DLS_LINE, "db1 = 1/m * np.sum(dZ1, axis=1, keepdims=True)"])
def test_the_dls_courses_own_line_is_correct_under_its_notation(capsys, line):
    code, out, err = run(capsys, "check", "--notation", "ng-dls", line)
    assert code == 0 and out.startswith("correct")
    assert err.strip() == ("assuming the DLS network: bias separate, λ = 0, loss cross-entropy; "
                           "change with --bias/--l2/--loss")


def test_an_explicit_l2_still_wins_and_is_not_claimed_as_assumed(capsys):
    code, out, err = run(capsys, "check", "--notation", "ng-dls", "--l2", "1", DLS_LINE)
    assert code == 1 and "the L2 term is missing" in out
    assert err.strip() == "assuming the DLS network: bias separate, loss cross-entropy; change with --bias/--loss"


@pytest.mark.parametrize("notation,bias,l2,loss", [
    ("ng-ml", "column", 1, "cross-entropy"), ("ng-dls", "separate", 0, "cross-entropy"),
    ("nielsen", "separate", 0, "quadratic"),     # chapter 2's cost, under which BP1 keeps σ'(z^L)
    ("goodfellow", "separate", 0, "cross-entropy"), ("bishop", "column", 0, "cross-entropy"),
])
def test_derive_takes_the_notations_network(capsys, notation, bias, l2, loss):
    code, out, err = run(capsys, "derive", "--layers", "3,2,2", "--notation", notation, "--format", "json")
    network = json.loads(out)["network"]
    assert code == 0 and (network["bias"], network["l2"], network["loss"]) == (bias, l2, loss)
    assert err.count("\n") == 1 and f"bias {bias}, λ = {l2}," in err


def test_nielsen_shows_no_bias_column(capsys):
    code, out, _ = run(capsys, "derive", "--layers", "3,2,2", "--notation", "nielsen")
    assert code == 0
    assert "k0" not in out and "rows 1.." not in out and "bias unit" not in out
    assert "∂C/∂b^l" in out


def test_every_option_given_means_nothing_assumed(capsys):
    code, _, err = run(capsys, "derive", "--layers", "3,2,2", "--notation", "nielsen", "--bias", "column",
                       "--l2", "0", "--loss", "quadratic", "--format", "json")
    assert code == 0 and err == ""


def test_no_notation_is_still_ex4_and_silent(capsys):
    code, out, err = run(capsys, "derive", "--layers", "3,2,2", "--format", "json")
    network = json.loads(out)["network"]
    assert code == 0 and err == "" and (network["bias"], network["l2"]) == ("column", 1)


def test_export_gradcheck_and_compare_follow_the_notation(tmp_path, capsys):
    target = tmp_path / "grad.py"
    code, out, err = run(capsys, "export", "--layers", "3,2,2", "--notation", "ng-dls", "-o", str(target))
    assert code == 0 and "bias separate" in out and "layout rows" in out and "no L2 penalty" in out
    assert "assuming the DLS network" in err
    code, out, err = run(capsys, "gradcheck", "--layers", "3,2,2", "--notation", "nielsen")
    assert code == 0 and "no L2 penalty, bias separate" in out and "assuming Nielsen's network" in err
    code, out, err = run(capsys, "compare", "--layers", "3,2,2", "--notation", "ng-dls", "--b-loss", "quadratic")
    assert code == 0 and "bias separate" in out and err.count("\n") == 1


def test_a_layer_notation_for_a_network_is_refused_in_one_line(capsys):
    code, out, err = run(capsys, "gradcheck", "--layers", "3,2,2", "--notation", "cs231n")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--notation 'cs231n'" in err and "ng-ml, ng-dls, nielsen, goodfellow, bishop" in err


def test_the_assumed_line_leaves_piped_json_clean():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "symbackprop", "check", "--notation", "ng-dls", "--json", DLS_LINE],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and json.loads(result.stdout)["verdict"] == "correct"
    assert result.stderr.startswith("assuming the DLS network: ") and result.stderr.count("\n") == 1


# --- 2. a softmax output takes the categorical cross-entropy ------------------------------------------

def test_softmax_output_without_loss_takes_the_categorical_cross_entropy(capsys):
    code, out, err = run(capsys, "derive", "--layers", "3,2,2", "--output", "softmax", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["network"]["loss"] == "categorical-cross-entropy"
    assert data["output_delta"]["expr"] == "a - y"          # Nielsen ch. 3: softmax with log-likelihood
    assert err.strip() == ("assuming loss categorical-cross-entropy for the softmax output; change with --loss")


def test_python_api_softmax_network_takes_the_categorical_cross_entropy():
    assert sb.Network((4, 3), output="softmax").loss.name == "categorical-cross-entropy"
    assert sb.Network((4, 3), output="sigmoid").loss.name == "cross-entropy"


def test_model_ending_in_softmax_takes_the_categorical_cross_entropy(capsys):
    model = ("derive", "--model", "affine(3) > softmax", "--input-size", "2", "--format", "json")
    code, assumed, err = run(capsys, *model)
    assert code == 0 and "categorical-cross-entropy" in err
    code, explicit, err = run(capsys, *model, "--loss", "categorical-cross-entropy")
    assert code == 0 and err == "" and assumed == explicit
    code, binary, _ = run(capsys, *model, "--loss", "cross-entropy")
    assert binary != assumed


def test_compare_says_when_setup_b_takes_another_loss(capsys):
    code, out, err = run(capsys, "compare", "--layers", "3,2,2", "--bias", "separate", "--l2", "0",
                         "--b-output", "softmax")
    assert code == 0 and "categorical-cross-entropy" in out
    assert err.strip() == ("setup B: assuming loss categorical-cross-entropy for the softmax output; "
                           "change with --b-loss")


# --- 3. the page names the network's activation, σ only over a sigmoid ---------------------------------

@pytest.fixture(scope="module")
def relu_softmax():
    return sb.derive(sb.Network((3, 2, 2), hidden="relu", output="softmax"))


@pytest.mark.parametrize("fmt,sigma", [("text", "σ"), ("latex", r"\sigma"), ("html", "σ"), ("json", "σ")])
def test_nielsen_relu_softmax_page_never_writes_sigma(relu_softmax, fmt, sigma):
    page = sb.render(relu_softmax, format=fmt, notation="nielsen")
    if fmt == "json":
        page = json.dumps(json.loads(page), ensure_ascii=False)
    assert sigma not in page


def test_nielsen_relu_softmax_page_names_relu_and_softmax(relu_softmax):
    page = " ".join(sb.render(relu_softmax, format="text", notation="nielsen").split())   # unwrapped
    assert "a^l = ReLU(z^l) in a hidden layer and a^L = softmax(z^L) in the output layer" in page
    assert "ReLU'(z^l_i) does not depend on k" in page
    assert "no factor softmax'(z^L)" in page
    latex = sb.render(relu_softmax, format="latex", notation="nielsen")
    assert r"\operatorname{ReLU}'(z^{l}_{i})" in latex


def test_sigma_stays_over_a_sigmoid_and_a_generic_letter_stays_generic():
    sigmoid = sb.derive(sb.Network((3, 2, 2), hidden="sigmoid", output="sigmoid", loss="quadratic"))
    page = " ".join(sb.render(sigmoid, format="text", notation="nielsen").split())
    assert "a^l = σ(z^l)" in page and "σ'(z^l_i) does not depend on k" in page
    relu = sb.derive(sb.Network((3, 2, 2), hidden="relu", output="sigmoid"))
    dls = sb.render(relu, format="text", notation="ng-dls")
    assert "= g(z^[l])" in dls and "ReLU" not in dls.split("1.")[0]


# --- 4. --notation cs231n wherever a layer is; 5. --layer's help from the catalogue -------------------

def _load(path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_batchnorm_in_cs231n_names_matches_central_differences(tmp_path, capsys):
    import numpy as np
    target = tmp_path / "bn_cs231n.py"
    code, out, err = run(capsys, "export", "--layer", "batchnorm", "--notation", "cs231n", "-o", str(target))
    assert code == 0 and err == "" and "backward(dout, cache) -> (dx, dgamma, dbeta)" in out
    assert "out[n, d] = gamma[d]*xhat[n, d] + beta[d]" in target.read_text()
    bn = _load(target)
    rng = np.random.default_rng(0)
    x, gamma, beta, dout = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=(4, 3))
    _, cache = bn.forward(x, gamma, beta)
    dx, dgamma, dbeta = bn.backward(dout, cache)

    def numeric(array, index, h=1e-6):   # d/d array[index] of sum(out * dout), central differences
        values = []
        for step in (h, -h):
            moved = array.copy()
            moved[index] += step
            arrays = {"x": x, "gamma": gamma, "beta": beta}
            arrays.update({name: moved for name, value in arrays.items() if value is array})
            values.append(np.sum(bn.forward(arrays["x"], arrays["gamma"], arrays["beta"])[0] * dout))
        return (values[0] - values[1]) / (2 * h)

    for array, gradient in ((x, dx), (gamma, dgamma), (beta, dbeta)):
        expected = np.array([numeric(array, index) for index in np.ndindex(array.shape)]).reshape(array.shape)
        assert np.allclose(gradient, expected, atol=1e-6)


def test_a_network_notation_for_a_plain_layer_export_names_what_is_accepted(tmp_path, capsys):
    code, out, err = run(capsys, "export", "--layer", "batchnorm", "--notation", "nielsen", "-o",
                         str(tmp_path / "bn.py"))
    assert code == 2 and err.count("\n") == 1 and "'nielsen'" in err and "cs231n" in err


@pytest.mark.parametrize("command", ["derive", "check", "export"])
def test_help_lists_cs231n_and_every_layer_of_the_catalogue(capsys, command):
    from symbackprop.layers import layer_record
    from symbackprop.layers.records import layer_names
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    import re
    notation_help = re.search(r"(?<!\[)--notation NAME (.{0,500})", out).group(1)
    assert "cs231n" in notation_help
    listed = out.split("--layer NAME a built-in layer: ")[1].split(" --layer-def")[0].split(", ")
    assert {"conv2d", "maxpool", "avgpool", "batchnorm", "lstm"} <= set(listed)
    assert listed == list(layer_names())
    for name in listed:
        layer_record(name)          # every name the help lists is accepted


def test_an_unknown_layer_lists_the_same_names_as_the_help(capsys):
    from symbackprop.layers.records import layer_names
    code, _, err = run(capsys, "derive", "--layer", "conv3d")
    assert code == 2 and ", ".join(layer_names()) in err


# --- 6. a mistyped option: the subcommand's usage and the closest option ---------------------------

@pytest.mark.parametrize("argv,suggestion", [
    (["derive", "--notaton", "nielsen"], "--notation"),
    (["derive", "--hiden", "relu"], "--hidden"),
    (["check", "--notaton=ng-dls", "dW1 = 1/m * np.dot(dZ1, X.T)"], "--notation"),
    (["export", "--layer", "batchnorm", "--forse", "-o", "x.py"], "--force"),
    (["gradcheck", "--threshhold", "1e-9"], "--threshold"),
    (["compare", "--b-notaton", "nielsen"], "--b-notation"),
])
def test_a_mistyped_option_shows_the_subcommands_usage_and_the_closest_option(capsys, argv, suggestion):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ""
    assert err.startswith(f"usage: symbackprop {argv[0]} ")
    assert err.strip().splitlines()[-1].endswith(f"; did you mean {suggestion}?")


def test_an_unknown_word_is_named_without_a_guess(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["derive", "--zzzzzz"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.strip().endswith("error: unrecognized arguments: --zzzzzz")


# --- 7. short reprs ----------------------------------------------------------------------------------

def test_derivation_repr_is_one_short_line(relu_softmax):
    text = repr(relu_softmax)
    assert "\n" not in text and len(text) < 250
    assert text.startswith("<Derivation of the 3-2-2 network, hidden relu, output softmax, "
                           "loss categorical-cross-entropy")
    assert f": {len(relu_softmax.steps)} steps;" in text and "sb.render(" in text


@pytest.mark.parametrize("name,returned,kind", [
    ("batchnorm", "dx, dgamma, dbeta", "LayerDerivation"),
    ("rnn", "dx, dh0, dWx, dWh, db through time", "RecurrentDerivation"),
])
def test_layer_and_recurrent_derivation_reprs_are_one_line(name, returned, kind):
    from symbackprop.layers import layer_record
    derivation = sb.derive_layer(layer_record(name).layer())
    text = repr(derivation)
    assert "\n" not in text and len(text) < 400 and text.startswith(f"<{kind} of the ")
    assert f": {returned}; {len(derivation.steps)} steps>" in text


# --- 8. sb.derive of a layer points to the layer API ---------------------------------------------------

@pytest.mark.parametrize("name", ["batchnorm", "conv2d", "lstm"])
def test_derive_of_a_layer_name_names_the_call_that_derives_it(name):
    with pytest.raises(sb.NetworkSpecError) as error:
        sb.derive(name)
    message = str(error.value)
    assert "\n" not in message and f"is a layer; derive it with symbackprop.derive_layer({name!r})" in message


def test_the_named_call_derives_the_layer():
    derivation = sb.derive_layer("batchnorm")
    assert set(derivation.gradients) >= {"x", "gamma", "beta"}


def test_derive_of_a_layer_or_a_model_string_names_its_call():
    from symbackprop.layers import layer_record
    with pytest.raises(sb.NetworkSpecError, match=r"derive_layer\(layer\)"):
        sb.derive(layer_record("affine").layer())
    with pytest.raises(sb.NetworkSpecError, match=r"derive_model\(build_model\('affine\(3\) > relu'"):
        sb.derive("affine(3) > relu")
    with pytest.raises(sb.NetworkSpecError, match=r"symbackprop.Network\(sizes"):
        sb.derive((3, 2, 2))


# --- 9. one rule for every file a subcommand writes: an existing file is kept unless --force -----------

@pytest.mark.parametrize("argv", [
    ["derive", "--layers", "3,2,2", "--format", "json"],
    ["compare", "--layers", "3,2,2", "--b-loss", "quadratic"],
    ["export", "--layers", "3,2,2"],
])
def test_an_existing_file_is_refused_unless_force(tmp_path, capsys, argv):
    target = tmp_path / "existing.py"      # export writes a .py module; derive and compare take any name
    target.write_text("keep me\n")
    code, out, err = run(capsys, *argv, "-o", str(target))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "exists" in err and "--force" in err and str(target) in err
    assert target.read_text() == "keep me\n"
    code, out, _ = run(capsys, *argv, "-o", str(target), "--force")
    assert code == 0 and "wrote" in out and target.read_text() != "keep me\n"


@pytest.mark.parametrize("command", ["derive", "compare", "export"])
def test_help_states_the_overwrite_rule(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "an existing FILE is refused unless --force" in out and "--force overwrite FILE if it exists" in out


"""``symbackprop derive``: defaults, formats, files, help, and bad input (exit 2, one line, no traceback)."""
import json
import subprocess
import sys

import pytest

from symbackprop.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_options_derives_ng_ex4(capsys):
    code, out, err = run(capsys, "derive", "--format", "json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["network"]["sizes"] == [400, 25, 10]
    assert data["output_delta"]["expr"] == "a - y" and data["output_delta"]["cancels"] is True


def test_text_output_is_readable(capsys):
    code, out, _ = run(capsys, "derive")
    assert code == 0
    assert "chain rule" in out and "Kronecker" in out
    assert "Piecewise" not in out and "Indexed" not in out and "KroneckerDelta" not in out


def test_json_contract_for_nielsen_quadratic(capsys):
    code, out, _ = run(capsys, "derive", "--layers", "784,30,10", "--loss", "quadratic", "--bias", "separate",
                       "--l2", "0", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["output_delta"]["cancels"] is False
    for key in ("network", "output_delta", "hidden_delta", "weight_gradient", "bias_gradient", "assumptions", "steps"):
        assert key in data
    for key in ("expr", "vector", "latex", "cancels"):
        assert key in data["output_delta"]
    import sympy as sp
    a, y = sp.symbols("a y", real=True)
    from symbackprop import symbols as S
    # The expr string is SymPy syntax over a, y, z: parse it here (our own trusted string) and compare.
    parsed = sp.parse_expr(data["output_delta"]["expr"], local_dict={"a": S.a, "y": S.y, "z": S.z})
    assert sp.expand(parsed - (S.a - S.y) * S.a * (1 - S.a)) == 0


def test_softmax_assumption_appears_in_json(capsys):
    code, out, _ = run(capsys, "derive", "--output", "softmax", "--loss", "categorical-cross-entropy", "--format", "json")
    data = json.loads(out)
    assert code == 0 and len(data["assumptions"]) == 1


def test_output_file(tmp_path, capsys):
    target = tmp_path / "d.json"
    code, out, _ = run(capsys, "derive", "--format", "json", "-o", str(target))
    assert code == 0 and "wrote" in out
    assert json.loads(target.read_text())["output_delta"]["expr"] == "a - y"


def test_expression_options(capsys):
    code, out, _ = run(capsys, "derive", "--output", "tanh(z)", "--loss", "-(y*log(a) + (1-y)*log(1-a))",
                       "--format", "json")
    assert code == 0
    assert json.loads(out)["output_delta"]["cancels"] is False


def test_help_lists_the_catalogue(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["derive", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for name in ("sigmoid", "leaky-relu", "softmax", "categorical-cross-entropy", "log-likelihood", "poisson"):
        assert name in out


@pytest.mark.parametrize("argv,fragment", [
    (["--layers", "400,0,10"], "layer 2 has size 0"),
    (["--layers", "400"], "at least 2 layers"),
    (["--layers", "400,2.5,10"], "'2.5' (layer 2) is not a whole number or a name"),
    (["--hidden", "sigmod"], "--hidden: unknown activation 'sigmod'"),
    (["--loss", "(a-y"], "--loss '(a-y'"),
    (["--loss", "y^2"], "does not depend on a"),
    (["--l2", "-1"], "negative"),
    (["--l2", "big"], "--l2: 'big' is not a number"),
    (["--output", "softmax", "--layers", "3,2,1"], "needs at least 2 output units"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, fragment):
    code, out, err = run(capsys, "derive", *argv)
    assert code == 2 and out == ""
    assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unknown_choice_is_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["derive", "--bias", "row"])
    assert exit_.value.code == 2


def test_console_script_runs_in_a_fresh_process():
    result = subprocess.run([sys.executable, "-m", "symbackprop", "derive", "--layers", "3,2,2", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["network"]["sizes"] == [3, 2, 2]


def test_symbolic_layer_sizes(capsys):
    code, out, _ = run(capsys, "derive", "--layers", "n_in,n_hid,n_out", "--format", "json")
    assert code == 0
    assert json.loads(out)["network"]["sizes"] == ["n_in", "n_hid", "n_out"]

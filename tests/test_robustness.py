"""The classes of issue 18 and the simplification budget of issue 17, one small case each.

Expected values come from sympy.diff of the composed cost (δ^L = dC/dz), central differences
(gradcheck), or the definitions themselves; never from the code's own output.
"""
from __future__ import annotations

import random
import re

import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import budget
from symbackprop import symbols as S
from symbackprop.catalogue import activation
from symbackprop.cli import EXIT_CODES, INTERNAL_ERROR, SUBCOMMANDS, build_parser, main
from symbackprop.engine._calculus import contract, positive_factors, real_domain
from symbackprop.errors import NetworkSpecError

z = S.z
SMALL = dict(l2=0, bias="separate")


# --- the budget ------------------------------------------------------------------------------
def test_the_degree_is_read_off_the_exponents():
    # exp(-851 z/500) is t^851 in t = exp(z/500); exp(-314159/100000) is E^(1/100000) to the 314159
    assert max(budget._degrees(1 / (1 + sp.exp(-sp.Rational(851, 500) * z))).values()) == 851
    assert max(budget._degrees(sp.exp(-sp.Rational(314159, 100000)) * sp.cosh(z)).values()) == 314159
    assert max(budget._degrees(sp.exp(-sp.Rational(3, 2) * z) + sp.exp(z)).values()) == 3   # t^-3 and t^2, t = e^(z/2)


@pytest.mark.parametrize("text, within", [("z*sigmoid(1.702*z)", False), ("sigmoid(3.14159)*sinh(z)", False),
                                          ("z*sigmoid(1.5*z)", True), ("tanh(z)", True), ("softplus(z)", True),
                                          ("tanh(tanh(tanh(tanh(tanh(tanh(z))))))", False)])
def test_which_derivatives_a_simplifier_is_given(text, within):
    assert budget.simplifiable(sp.diff(activation(text).definition, z)) is within


def test_past_the_budget_the_form_is_kept_and_the_step_says_so():
    derivation = sb.derive(sb.Network((3, 2, 2), hidden="z*sigmoid(1.702*z)", **SMALL))
    g = activation("z*sigmoid(1.702*z)").definition
    shown = derivation.hidden_deltas[0].activation_derivative
    assert sp.simplify(shown - sp.diff(g, z)) == 0 or all(
        abs(complex(shown.subs(z, x)) - complex(sp.diff(g, z).subs(z, x))) < 1e-12 for x in (-2.1, 0.3, 1.7))
    notes = [step.note for step in derivation.steps if step.quantity == "hidden_delta"]
    assert any(budget.NOT_SHORTENED in note for note in notes)


def test_an_expression_nested_past_the_limit_is_refused_in_the_users_text():
    text = "sigmoid(" * 30 + "z" + ")" * 30
    with pytest.raises(NetworkSpecError, match=r"activation 'sigmoid\(sigmoid.*nests more than 40"):
        activation(text)


# --- the engine's classes --------------------------------------------------------------------------
def _output_delta_against_diff(output: str, loss: str, points):
    """δ^L of one output unit against d/dz of loss(g(z), y), by sympy.diff of the composition."""
    derivation = sb.derive(sb.Network((3, 2, 2), output=output, loss=loss, **SMALL))
    g = activation(output).definition
    composed = sb.catalogue.loss(loss).per_unit.subs(S.a, g)
    expected = sp.diff(composed, z)
    unit = derivation.output_delta.unit.subs(S.a, g)
    for x, t in points:
        got, want = complex(unit.subs({z: x, S.y: t})), complex(expected.subs({z: x, S.y: t}))
        assert abs(got - want) <= 1e-12 * (1 + abs(want)), (x, t, got, want)
    return derivation


@pytest.mark.parametrize("output", ["sqrt(z)", "log(z)", "z^0.5"])
def test_activations_real_on_part_of_the_line_derive_and_say_where(output):
    derivation = _output_delta_against_diff(output, "quadratic", [(0.7, 0.2), (1.9, 0.6), (3.3, 0.1)])
    stated = [a.statement for a in derivation.assumptions if a.name.startswith("domain")]
    assert stated and all(s.lhs == S.unit("z", S.L, S.i) for s in stated)


@pytest.mark.parametrize("output, loss, points", [
    # the proof's numeric test at 30 digits: sin(e^(e^(π - z))) needs more digits to reduce its argument
    ("sigmoid(sin(exp(exp(pi-z))))", "cross-entropy", [(1.9, 0.3), (2.6, 0.8), (3.1, 0.5)]),
    # ... and the step form f1 + (f2 - f1) H lost f2 to rounding where f1 is e^2700 times larger
    ("exp(sinh(exp(cosh(z)))^cos(atan(max(0.5,z))))", "cross-entropy", [(-0.4, 0.3), (0.2, 0.8), (0.7, 0.4)]),
    # the contraction pulled a shared factor out of the cases again and again (exp(u) exp(v) -> exp(u + v))
    ("sigmoid", "relu(expm1(e^(0.5+a)))", [(-1.3, 0.4), (0.2, 0.9), (2.1, 0.3)]),
])
def test_once_internal_errors_now_derive(output, loss, points):
    """Issue 18's remaining exit-70 classes: each derives, and δ^L is d/dz of the composed loss."""
    _output_delta_against_diff(output, loss, points)


@pytest.mark.parametrize("argv", [
    ["export", "--hidden", "sigmoid(sin(exp(exp(pi-z))))"],     # mpmath recursed for cos(e^(e^703))
    ["check", "--output", "exp(sinh(exp(cosh(z)))^cos(atan(max(0.5,z))))", "delta^L = a^L - y"],
    ["export", "--loss", "relu(expm1(e^(0.5+a)))"],
])
def test_once_internal_errors_now_answer_on_the_command_line(argv, tmp_path, capsys):
    if argv[0] == "export":
        argv = argv + ["-o", str(tmp_path / "module.py")]
    code = main(argv + ["--layers", "4,3,2", "--l2", "0", "--bias", "separate"])
    err = capsys.readouterr().err
    assert code in (0, 1) and "internal error" not in err and "Traceback" not in err, err


@pytest.mark.parametrize("options, constant", [(dict(output="z*exp(1000)"), "exp(1000)"),
                                               (dict(hidden="z*17^300"), "17**300"),
                                               (dict(loss="(a-y)*exp(800)"), "exp(800)")])
def test_a_constant_beyond_float64_is_refused_by_the_exporter(options, constant, tmp_path, capsys):
    """exp(1000) was printed as inf: a NameError in the module (issue 18's fuzz), or inf in every gradient."""
    with pytest.raises(sb.SymbackpropError, match="beyond float64's range") as refused:
        sb.compile(sb.Network((4, 3, 2), **options, **SMALL))
    assert constant in str(refused.value)
    option, value = next(iter(options.items()))
    assert main(["export", f"--{option}", value, "-o", str(tmp_path / "m.py"), "--layers", "4,3,2"]) == 2
    assert "beyond float64's range" in capsys.readouterr().err


def test_real_domain_reads_logs_and_roots():
    assert real_domain(sp.sqrt(z)) == (sp.Ge(z, 0),)
    assert real_domain(sp.log(z)) == (sp.Gt(z, 0),)
    assert real_domain(sp.log(1 + sp.exp(z))) == ()


@pytest.mark.parametrize("loss", ["relu(a)", "elu(a)", "relu(a)-y", "y/leaky_relu(a)", "exp(a*y)"])
def test_losses_with_kinks_and_in_a_and_y_derive_and_render(loss):
    derivation = _output_delta_against_diff("sigmoid", loss, [(-1.3, 0.4), (0.2, 0.9), (2.1, 0.3)])
    for format in ("text", "latex", "json", "tex", "html"):
        assert sb.render(derivation, format)


def test_contraction_reaches_a_delta_inside_the_cases():
    p, k, n = S.p, S.k, sp.Symbol("n", integer=True, positive=True)
    a_p, a_k = S.unit("a", S.L, p), S.unit("a", S.L, k)
    relu_cost = sp.Sum(sp.Piecewise((0, a_p <= 0), (a_p, True)), (p, 1, n))
    got = contract(sp.diff(relu_cost, a_k))
    for value in (-0.5, 0.5):
        assert got.subs(a_k, value) == (0 if value <= 0 else 1)


def test_a_constant_two_term_factor_keeps_its_value():
    constant = sp.log(851) / 2 - sp.log(500) / 2
    assert sp.simplify(positive_factors(constant * z) - constant * z) == 0


@pytest.mark.parametrize("options", [dict(hidden="relu(relu(z))"), dict(hidden="abs(relu(z)-z)"),
                                     dict(loss="relu(a)-y"), dict(output="identity", loss="elu(17/a)"),
                                     dict(loss="exp(a*y)"), dict(output="2^sqrt((z+3.14159)/2)", hidden="softplus(z)", loss="quadratic")])
def test_the_exported_gradient_of_nested_kinks_matches_central_differences(options):
    check = sb.gradcheck(sb.Network((4, 3, 2), **options, **SMALL))
    assert check.passed(1e-7), check.relative_difference


# --- the CLI -----------------------------------------------------------------------------------------
def test_an_unanticipated_exception_is_one_line_and_exit_70(monkeypatch, capsys):
    import symbackprop.cli.derive as derive_command

    def broken(args):
        raise RuntimeError(f"boom {random.random()}\nsecond line")
    monkeypatch.setattr(derive_command, "run", broken)
    assert main(["derive"]) == INTERNAL_ERROR == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"internal error in symbackprop {sb.__version__}: RuntimeError: boom")
    assert err.rstrip().endswith("please report it with this command")


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_lists_its_exit_codes(command):
    text = build_parser()._subparsers._group_actions[0].choices[command].format_help()
    assert "exit codes:" in text
    for line in EXIT_CODES[command]:
        assert line.split()[0] in text and "70" in text


# ---- a number longer than Python's int-to-text limit (issue 18: the kink z = 3.14159^1000) -----------------

HUGE_KINK = ["--hidden", "max(17, sqrt(z))", "--output", "(z+erfc((max(3.14159, (z^1e-3))+z)))",
             "--loss", "max((3.14159*abs((log1p(a)*atan(a)))), (2/a))"]


@pytest.mark.parametrize("fmt", ["text", "latex", "json"])
def test_a_max_with_a_high_root_of_z_derives_in_every_format(capsys, fmt):
    """max(3.14159, z^(1/1000)) has its kink at z = (314159/100000)^1000, a rational of ~5000 digits that Python
    refuses to print (an internal error once), and that SymPy's inequality solver took 3 to 18 s to reach. Its cases
    are kept as SymPy's max gives them, the step at z^(1/1000) = 3.14159: no 5000-digit number is formed."""
    assert main(["derive", *HUGE_KINK, "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "internal error" not in out and max(len(n) for n in re.findall(r"[0-9]+", out)) < 100


def test_a_max_with_a_high_root_of_z_exports(capsys, tmp_path):
    """Its export computes the step from z^(1/1000) itself, a float64 number (it was refused when the kink was the
    5000-digit power, beyond float64)."""
    assert main(["export", *HUGE_KINK, "-o", str(tmp_path / "m.py")]) == 0
    assert (tmp_path / "m.py").exists()


def test_short_forms_of_long_numbers():
    from symbackprop.big_numbers import code_form, is_big, short_form
    power = sp.Rational(314159, 100000) ** 1000
    assert is_big(power) and not is_big(sp.Rational(314159, 100000))
    assert short_form(power, latex=False) == "(314159/100000)^1000"
    odd = sp.Integer(17) ** 300 + 1                       # no power: leading digits, marked as cut
    assert short_form(odd, latex=False) == "1.36356…·10^369"   # 17^300 = 1.3635668...e369 (mpmath below)
    assert str(sp.N(odd, 6)).startswith("1.36357")
    assert code_form(-odd, "**") == "-1e999" and code_form(power, "^") == "((314159/100000)^1000)"


# ---- the random-network fuzz (tests/test_fuzz.py), once it ran: one small case per class ----------------

def test_a_loss_whose_delta_sits_in_a_sum_inside_its_cases_derives():
    """cos(relu(max(erfc(σ(a)), a + 1))): the contraction took the bracket holding δ_kp out of the cases,
    multiplied it back in, and recursed until RecursionError (exit 70)."""
    _output_delta_against_diff("sigmoid", "cos(relu(max(erfc(sigmoid(a)), (a+(y/y)))))",
                               [(-1.3, 0.4), (0.2, 0.9), (2.1, 0.3)])


def test_a_kink_note_where_the_derivative_is_infinite_at_zero_is_left_out():
    """max(|z|, 1e-3/z) has g'(0) = zoo inside a max: "the argument 'zoo' is not comparable" (exit 70)."""
    text = "relu(z)*max(abs(z), 1e-3/z)"
    derivation = sb.derive(sb.Network((3, 2, 2), hidden=text, **SMALL))
    assert derivation.hidden_deltas[0].kink_note == ""
    shown, g = derivation.hidden_deltas[0].activation_derivative, activation(text).definition
    for x in (0.02, 0.5, 1.7):      # away from the kinks z = 0 and z = 1e-3^(1/2)
        want = complex(sp.diff(g, z).subs(z, x))
        assert abs(complex(shown.subs({z: x, S.a: g.subs(z, x)})) - want) <= 1e-12 * (1 + abs(want))


@pytest.mark.parametrize("at_zero", [0, 1, sp.Rational(1, 2)])
def test_the_exporters_heaviside_is_numpys(at_zero):
    """H is printed as where() from its argument: SymPy's printers rewrote it as a Piecewise, whose
    construction asked SymPy's solvers about the conditions (38 s for one nested max/min)."""
    import numpy as np
    from symbackprop.export._printing import printer
    points = np.array([-2.0, -1e-300, 0.0, 1e-300, 0.5, 3.0])
    text = printer("numpy").doprint(sp.Heaviside(z - sp.Rational(1, 2), at_zero))
    got = eval(f"lambda z: {text}", {"np": np})(points)    # printed from a SymPy tree, not user text
    np.testing.assert_array_equal(got, np.heaviside(points - 0.5, float(at_zero)))


def test_a_value_that_is_complex_is_not_cut_to_its_real_part():
    """d/dz (1.702 - 2)^atan(z) = (-0.298)^atan(z) log(-0.298)/(1 + z²) is complex (log of a negative number,
    here at z = 0): the checker's evaluation cast it to float, with a ComplexWarning, and took the real part."""
    import cmath

    import numpy as np
    from symbackprop.checker._numeric import _apply
    assert cmath.log(1.702 - 2).imag != 0
    derivative = sp.diff(activation("(1.702-2)^atan(z)").definition, z)
    values = _apply(derivative, z, np.array([[0.0]]))
    assert np.isnan(values[0, 0])
    assert _apply(sp.exp(z), z, np.array([[0.0]]))[0, 0] == 1.0


def test_a_typed_nested_kink_is_checked_without_the_neighbours_past_the_budget():
    """The neighbours of a typed loss and output past the simplification budget are not derived (each
    rebuilt the nested max/min for seconds); the verdicts stay right and the diagnosis says what was not tried."""
    network = sb.Network((3, 2, 2), hidden="sigmoid", output="cosh(((tanh(0.1)+max(min(z, pi), log(0.1)))^2))",
                         loss="min(silu(expm1(max(max(0.5, pi), a))), exp(y))", **SMALL)
    wrong = sb.check("delta^L = a^L - y", network)
    assert wrong.verdict == "incorrect"
    assert "not other losses" in wrong.diagnosis and "past the simplification budget" in wrong.diagnosis
    assert sb.check("delta^l = (W^(l+1)^T delta^(l+1)) .* sigma'(z^l)", network).verdict == "correct"


def test_the_stable_export_of_a_power_with_a_min_in_its_exponent():
    """(3.14159 e^z)^min(elu(z), z): the stable exporter's two sign branches folded into one, which it
    unpacked as two (ValueError, exit 70)."""
    check = sb.gradcheck(sb.Network((4, 3, 2), hidden="sigmoid", output="((3.14159*exp(z))^min(elu(z), z))",
                                    loss="atan((17+tanh(a)))", **SMALL))
    assert check.passed(1e-7), check.relative_difference


@pytest.mark.parametrize("argv, code, words", [
    # max(sqrt(sign(z)), ...): SymPy's ordering of the max's cases compared I ("Invalid comparison of non-real I")
    (["check", "--hidden", "max(sqrt(sign(z)), silu((sign(leaky_relu(e))/(0.1*sigmoid(z)))))", "--output",
      "relu(sinh(z))", "--loss", "(a-y)*pi", "delta^L = (1 - a^L) - 1.702 .* 1.702"], 1, "incorrect"),
    # relu(z)^silu(z) is 0^u on z <= 0: a NaN derivative reached every z, and the proof of δ^L (exit 70)
    (["derive", "--output", "(min(3.14159, ((relu(z)^silu(z))/relu(erfc(17))))+min(tanh(e), (z-0.5)))"], 2,
     "output activation (min(3.14159, ((relu(z)^silu(z))/relu(erfc(17))))+min(tanh(e), (z-0.5))): this activation "
     "has a derivative that is NaN (undefined) in one of its cases"),
    # log(log(a^(1 - a))) is complex for every a in (0, 1): no point to prove δ^L at (exit 70)
    (["derive", "--output", "sigmoid", "--loss", "relu(log(log((a/(a^a)))))"], 2, "not real or not finite"),
])
def test_benchmark_internal_errors_answer_or_are_refused(argv, code, words, capsys):
    """The three exit-70 runs of benchmarks/fuzz.py (seed 0, after the fuzz test ran)."""
    assert main(argv + ["--layers", "4,3,2", "--l2", "0", "--bias", "separate"]) == code
    captured = capsys.readouterr()
    assert words in captured.out + captured.err and "internal error" not in captured.err
    assert "Piecewise" not in captured.err and "**" not in captured.err      # the user's terms, not SymPy's


def test_cases_whose_condition_holds_a_high_root_of_z_are_kept_as_they_are():
    """SymPy solves z^(1/1000) > c by raising c to the 1000th power and testing its digits for primality: 3 s in
    some runs, 18 s in others (benchmarks/fuzz.py, derive of max(3.14159, z^1e-3)). Such cases are not reordered;
    the derivative is still right."""
    from symbackprop.engine._activation_derivative import _ordered_cases, _solvable_conditions
    root = sp.Piecewise((sp.Rational(314159, 100000), S.z ** sp.Rational(1, 1000) <= sp.Rational(314159, 100000)),
                        (S.z ** sp.Rational(1, 1000), True))
    assert not _solvable_conditions(root)
    assert _ordered_cases(root) is root
    assert _solvable_conditions(sp.Piecewise((0, S.z <= 0), (S.z, True)))
    from symbackprop.engine._activation_derivative import derivative_in_z
    derivative = derivative_in_z(activation("max(3.14159, z^1e-3)").definition)
    exact = sp.diff(sp.Max(sp.Rational(314159, 100000), S.z ** sp.Rational(1, 1000)), S.z)
    for point in (sp.Rational(1, 2), sp.Integer(10) ** 600, 3 * sp.Integer(10) ** 500):
        assert abs(sp.N(derivative.subs(S.z, point) - exact.subs(S.z, point), 50)) <= 1e-40 * abs(sp.N(exact.subs(S.z, point), 50)) + 1e-300

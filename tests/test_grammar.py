"""The project's grammar: scalar expressions (parse_expression) and formulas (parse_formula).

Expected values are written by hand as SymPy expressions; identities are checked as
``simplify(result - expected) == 0`` or by structural equality.
"""
import pytest
import sympy as sp

from symbackprop.errors import ParseError
from symbackprop.grammar import parse_expression, parse_formula
from symbackprop.grammar import _ast as A

a, y, z = sp.symbols("a y z", real=True)
VARS = {"a": a, "y": y, "z": z}
SIGMOID = {"sigmoid": lambda arg: 1 / (1 + sp.exp(-arg)),
           "leaky_relu": lambda arg: sp.Piecewise((arg / 100, arg <= 0), (arg, True))}


def parse(text, **kw):
    return parse_expression(text, VARS, **kw)


def same(result, expected):
    return sp.simplify(result - expected) == 0


# --- values ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("1", sp.Integer(1)),
    ("42", sp.Integer(42)),
    ("0.5", sp.Rational(1, 2)),
    (".25", sp.Rational(1, 4)),
    ("1e-3", sp.Rational(1, 1000)),
    ("2.5E2", sp.Integer(250)),
    ("a", a),
    ("a + y", a + y),
    ("a - y - z", a - y - z),          # left-associative
    ("a / y / z", a / y / z),
    ("a * y", a * y),
    ("a ** 2", a ** 2),
    ("a^2", a ** 2),
    ("a^y^z", a ** (y ** z)),          # right-associative
    ("a**y**z", a ** (y ** z)),
    ("-a^2", -(a ** 2)),               # ^ binds tighter than unary minus
    ("-a**2", -(a ** 2)),
    ("(-a)^2", a ** 2),
    ("2^-a", 2 ** (-a)),
    ("-a*y", -a * y),
    ("+a", a),
    ("--a", a),
    ("a + y*z", a + y * z),
    ("(a + y)*z", (a + y) * z),
    ("a - (y - z)", a - y + z),
    ("2a", 2 * a),
    ("2(a+1)", 2 * (a + 1)),
    ("a(1-a)", a * (1 - a)),           # a is a variable, so this is a product, not a call
    ("a (1 - a)", a * (1 - a)),
    ("(a)(y)", a * y),
    ("a y", a * y),
    ("2a^2", 2 * a ** 2),
    ("1/2a", a / 2),                   # juxtaposition binds like '*': (1/2)*a
    ("a/2y", a * y / 2),
    ("exp(z)", sp.exp(z)),
    ("log(a)", sp.log(a)),
    ("ln(a)", sp.log(a)),
    ("sqrt(a)", sp.sqrt(a)),
    ("tanh(z)", sp.tanh(z)),
    ("sinh(z) + cosh(z)", sp.sinh(z) + sp.cosh(z)),
    ("abs(z)", sp.Abs(z)),
    ("2exp(z)", 2 * sp.exp(z)),
    ("a exp(z)", a * sp.exp(z)),
    ("exp(z)(1 - a)", sp.exp(z) * (1 - a)),
    ("-(y*log(a) + (1-y)*log(1-a))", -(y * sp.log(a) + (1 - y) * sp.log(1 - a))),
    ("1/2*(a-y)^2", (a - y) ** 2 / 2),
    ("a·y", a * y),
    ("a×y", a * y),
    ("a − y", a - y),
    ("2.*a", 2 * a),
    ("  a\t+\ny ", a + y),
])
def test_values(text, expected):
    result = parse(text)
    assert result == expected or same(result, expected)


def test_functions_passed_in():
    result = parse_expression("sigmoid(z)", {"z": z}, SIGMOID)
    assert same(result, 1 / (1 + sp.exp(-z)))
    assert same(parse_expression("leaky_relu(z) + 1", {"z": z}, SIGMOID) - 1,
                sp.Piecewise((z / 100, z <= 0), (z, True)))


def test_functions_compose():
    result = parse_expression("sigmoid(z)(1 - sigmoid(z))", {"z": z}, SIGMOID)
    s = 1 / (1 + sp.exp(-z))
    assert same(result, s * (1 - s))


def test_result_is_exact_and_differentiable():
    loss = parse("1/2 (a - y)^2")
    assert sp.diff(loss, a) == a - y


def test_symbols_are_the_given_ones():
    result = parse("a + y")
    assert result.free_symbols == {a, y}


# --- errors, with the column of the problem (0-based) ---------------------------------------------
@pytest.mark.parametrize("text, column, words", [
    ("", 0, "empty input"),
    ("   ", 0, "empty input"),
    (")", 0, "unbalanced ')'"),
    ("a)", 1, "unbalanced ')'"),
    ("(a + y", 0, "never closed"),
    ("((a)", 0, "never closed"),
    ("a +", 3, "nothing after '+'"),
    ("a * * y", 4, "unexpected '*'"),
    ("*a", 0, "unexpected '*'"),
    ("a + )", 4, "unbalanced ')'"),
    ("()", 0, "empty ()"),
    ("b", 0, "unknown name 'b'"),
    ("a + sigma(z)", 4, "unknown name 'sigma'"),
    ("exp z", 0, "needs its argument in parentheses"),
    ("2 3", 2, "a number cannot follow"),
    ("a 2", 2, "a number cannot follow"),
    ("a = y", 2, "unexpected '='"),
    ("a $ y", 2, "unexpected character '$'"),
    ("a + é", 4, "only ASCII"),
    ("σ(z)", 0, "only ASCII"),
    ("1" * 51, 0, "51 digits"),
    ("1e400", 0, "exponent"),
    ("9**9**9**9", 7, "exponent 387420489 is too large"),
    ("2^99999999", 2, "too large"),
    ("(2^1000)^1000", 8, "too large"),
    ("a^1001", 2, "too large"),
    ("1/0", 1, "division by zero"),
    ("a/(1-1)", 1, "division by zero"),
    ("0^-1", 1, "division by zero"),
    ("log(0)", 0, "not finite"),
    ("a[1]", 1, "unexpected"),
    ("a_1", 0, "unknown name 'a_1'"),
    ("__import__('os').system('touch /tmp/x')", 0, "unknown name '__import__'"),
    ("a\\odot y", 1, "unexpected character"),
])
def test_errors(text, column, words):
    with pytest.raises(ParseError) as info:
        parse(text)
    err = info.value
    assert words in err.message
    assert err.column == column
    assert err.text == text or len(text) > 1000


def test_error_names_what_is_accepted():
    with pytest.raises(ParseError) as info:
        parse_expression(")", {"a": a, "y": y})
    assert info.value.message == ("unbalanced ')': nothing to close")
    with pytest.raises(ParseError) as info:
        parse_expression("a + *", {"a": a, "y": y})
    assert info.value.message.startswith("unexpected '*'; expected a number, a variable (a, y) or a function")
    with pytest.raises(ParseError) as info:
        parse_expression("q", {"a": a, "y": y})
    assert "accepted variables: a, y" in info.value.message and "exp" in info.value.message


def test_error_shows_a_caret_under_the_column():
    with pytest.raises(ParseError) as info:
        parse("a + )")
    lines = str(info.value).splitlines()
    assert lines[0].endswith("(column 5)")
    assert lines[1] == "  a + )"
    assert lines[2] == "      ^"


@pytest.mark.parametrize("text", [
    "(" * 250 + "a" + ")" * 250,
    "-" * 500 + "a",
    "a^" * 300 + "a",
    "exp(" * 250 + "a" + ")" * 250,
])
def test_deep_nesting_is_a_parse_error_not_a_recursion_error(text):
    with pytest.raises(ParseError) as info:
        parse(text)
    assert "nest" in info.value.message


def test_moderate_nesting_is_fine():
    assert parse("(" * 150 + "a" + ")" * 150) == a


def test_long_flat_input_is_fine():
    assert parse("+".join(["a"] * 1500)) == 1500 * a


def test_overlong_input_is_refused():
    with pytest.raises(ParseError, match="characters long"):
        parse("a+" * 3000 + "a")


def test_variable_and_function_with_one_name_is_refused():
    with pytest.raises(ParseError, match="both as a variable and as a function"):
        parse_expression("exp", {"exp": a})


# --- the formula dialect --------------------------------------------------------------------------------
def lhs_rhs(text):
    formula = parse_formula(text)
    return formula.lhs, formula.rhs


def test_formula_latex_layer_superscripts():
    lhs, rhs = lhs_rhs(r"\delta^{(L)} = a^{(L)} - y")
    assert lhs == A.Script(0, A.Name(0, "delta", True), None, A.Name(9, "L"), "(")
    assert isinstance(rhs, A.Binary) and rhs.op == "-"
    assert rhs.left.sup_style == "(" and rhs.right == A.Name(25, "y")


@pytest.mark.parametrize("text, style, layer", [
    ("a^l", "", "l"), ("a^{l}", "", "l"), ("a^{(l)}", "(", "l"), ("a^(l)", "(", "l"), ("a^{[l]}", "[", "l"),
    ("a^[l]", "[", "l"),
])
def test_formula_layer_styles(text, style, layer):
    lhs, _ = lhs_rhs(text + " = 0")
    assert isinstance(lhs, A.Script) and lhs.sup_style == style and lhs.sup.name == layer


def test_formula_sub_and_superscripts_in_either_order():
    one, _ = lhs_rhs(r"w_{kj}^{l+1} = 0")
    two, _ = lhs_rhs(r"w^{l+1}_{kj} = 0")
    assert one.sub.name == two.sub.name == "kj"
    assert isinstance(one.sup, A.Binary) and one.sup.op == "+"


@pytest.mark.parametrize("text, op", [
    (r"x = a \odot b", ".*"), (r"x = a \circ b", ".*"), ("x = a .* b", ".*"), ("x = a ⊙ b", ".*"),
    ("x = a * b", "*"), (r"x = a \cdot b", "*"), ("x = a @ b", "@"), ("x = a b", "juxt"), ("x = a/b", "/"),
    (r"x = \frac{a}{b}", "frac"),
])
def test_formula_operators(text, op):
    _, rhs = lhs_rhs(text)
    assert isinstance(rhs, A.Binary) and rhs.op == op


def test_formula_prime_is_a_derivative_call_or_an_octave_transpose():
    _, rhs = lhs_rhs(r"x = \sigma'(z^L)")
    assert isinstance(rhs, A.Call) and isinstance(rhs.function, A.Prime)
    assert rhs.function.operand == A.Name(4, "sigma", True)
    _, rhs = lhs_rhs("x = Theta' * d")
    assert isinstance(rhs.left, A.Prime) and rhs.left.operand.name == "Theta"
    _, rhs = lhs_rhs("x = a(1 - a)")      # a is no function: a product
    assert isinstance(rhs, A.Binary) and rhs.op == "juxt"
    _, rhs = lhs_rhs("x = g^[l]'(Z^[l])")  # Ng's g^[l]': the layer, then the derivative
    assert isinstance(rhs, A.Call) and isinstance(rhs.function, A.Prime)


def test_formula_transposes():
    _, rhs = lhs_rhs("x = (W^l)^T d")
    assert rhs.left.op == "^" and rhs.left.right.name == "T"
    _, rhs = lhs_rhs(r"x = W^{[l]T}")
    assert isinstance(rhs.sup, A.Binary) and rhs.sup.right.name == "T"
    _, rhs = lhs_rhs("x = A^[l-1]T")
    assert isinstance(rhs.sup, A.Binary) and rhs.sup.right.name == "T"
    _, rhs = lhs_rhs(r"x = W^\top")
    assert rhs.sup.name == "T"


def test_formula_sum_partial_nabla():
    _, rhs = lhs_rhs(r"x = \sum_k w_{kj} \delta_k + 1")
    assert rhs.op == "+" and isinstance(rhs.left, A.Sum)     # the sum's body stops at '+'
    assert rhs.left.index.name == "k"
    _, rhs = lhs_rhs(r"x = \sum_{k=1}^{n} w_{kj}")
    assert rhs.lower == A.Number(12, "1") and rhs.upper.name == "n"
    lhs, _ = lhs_rhs(r"\frac{\partial C}{\partial w^l_{jk}} = 0")
    assert lhs.op == "frac" and isinstance(lhs.left, A.Partial) and isinstance(lhs.right, A.Partial)
    lhs, _ = lhs_rhs(r"\nabla_{W^{(k)}} J = 0")
    assert isinstance(lhs, A.Nabla) and lhs.operand.name == "J"


def test_formula_latex_spacing_and_fonts_are_ignored():
    one = parse_formula(r"\delta^L = \left( a^L - y \right) \, \odot \mathbf{x}")
    two = parse_formula(r"\delta^L = ( a^L - y ) \odot x")
    assert A.walk and type(one.rhs) is type(two.rhs) and one.rhs.op == two.rhs.op


@pytest.mark.parametrize("text, column, words", [
    ("", 0, "empty formula"),
    ("delta^L", 7, "no '='"),
    ("delta^L = ", 10, "nothing after '='"),
    ("a = b = c", 6, "a second '='"),
    (r"\delta^L = \odot", 11, "unexpected '.*'"),
    (r"\delta^L = \foo + 1", 11, "unknown LaTeX command '\\\\foo'"),
    (r"\delta^{L = 1", 10, "unexpected '=' inside '{'"),
    (r"\delta^{L", 7, "never closed"),
    (r"\delta^L = (a]", 13, "does not match"),
    (r"\delta^L = a^", 13, "nothing after '^'"),
    (r"\delta^L = \frac{1}", 19, "expects an argument in braces"),
    (r"\delta^L = \sum a", 11, "needs its index"),
    ("δ^L = a ☃ y", 8, "unexpected character '☃'"),
    ("x = a_1_2", 7, "a second subscript"),
])
def test_formula_errors(text, column, words):
    with pytest.raises(ParseError) as info:
        parse_formula(text)
    assert words in info.value.message
    assert info.value.column == column

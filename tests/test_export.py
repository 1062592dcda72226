"""symbackprop.compile and export_module: the contract of the generated code, its layouts, its refusals,
the standalone module (run with sympy and symbackprop unimportable) and ``symbackprop export``.

Expected values come from independent sources: a cost written out here in NumPy from the
catalogue's formulas, central differences, or the other layout of the same parameters.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symbackprop as sb
from symbackprop.cli import main
from symbackprop.export import ExportError, export_module, numerical_gradient, random_instance


def _network(**changes):
    options = dict(sizes=(4, 5, 3), hidden="tanh", output="sigmoid", loss="cross-entropy", l2=0.7, bias="separate")
    options.update(changes)
    return sb.Network(options.pop("sizes"), **options)


def _rows_to_ng(params):
    """[W2, b2, W3, b3] -> [Theta1, Theta2]: the bias as column 0."""
    return [np.column_stack([b, W]) for W, b in zip(params[0::2], params[1::2])]


# --- the contract ----------------------------------------------------------------------------------------
def test_cost_is_the_mean_loss_plus_the_l2_term_on_weights_only():
    network = _network()
    params, X, Y = random_instance(network, "rows", m=7, seed=3)
    cost, grads = sb.compile(network)(params, X, Y)
    W2, b2, W3, b3 = params
    a2 = np.tanh(X @ W2.T + b2)
    a3 = 1 / (1 + np.exp(-(a2 @ W3.T + b3)))
    expected = -np.sum(Y * np.log(a3) + (1 - Y) * np.log(1 - a3)) / 7 + 0.7 / 14 * (np.sum(W2 ** 2) + np.sum(W3 ** 2))
    assert isinstance(cost, float)
    assert abs(cost - expected) <= 1e-13 * abs(expected)
    assert [g.shape for g in grads] == [p.shape for p in params]
    assert all(g.dtype == np.float64 for g in grads)


def test_biases_are_not_regularised():
    network = _network(l2=5)
    params, X, Y = random_instance(network, "rows", m=4, seed=1)
    f, f0 = sb.compile(network), sb.compile(network, l2=0)
    (_, g), (_, g0) = f(params, X, Y), f0(params, X, Y)
    for position, (with_l2, without) in enumerate(zip(g, g0)):
        if position % 2:   # biases
            np.testing.assert_array_equal(with_l2, without)
        else:
            np.testing.assert_allclose(with_l2 - without, 5 / 4 * params[position], rtol=1e-12, atol=1e-15)


def test_ng_layout_is_the_rows_layout_with_the_bias_as_column_zero():
    network = _network(bias="column")
    params, X, Y = random_instance(network, "rows", m=6, seed=2)
    cost_rows, grads_rows = sb.compile(network, "rows")(params, X, Y)
    cost_ng, grads_ng = sb.compile(network, "ng")(_rows_to_ng(params), X, Y)
    assert abs(cost_rows - cost_ng) <= 1e-14 * abs(cost_rows)
    for got, expected in zip(grads_ng, _rows_to_ng(grads_rows)):
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-16)


def test_gradients_match_central_differences_in_both_layouts():
    for layout in ("rows", "ng"):
        network = _network(sizes=(3, 4, 4, 2), hidden=["sigmoid", "softplus"], output="softmax",
                           loss="categorical-cross-entropy")
        params, X, Y = random_instance(network, layout, m=5, seed=4)
        f = sb.compile(network, layout)
        numerical = numerical_gradient(f, params, X, Y, 1e-5)
        for got, expected in zip(f(params, X, Y)[1], numerical):
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_predict_is_the_forward_pass():
    network = _network(output="softmax", loss="categorical-cross-entropy")
    params, X, _ = random_instance(network, "rows", m=3, seed=0)
    probabilities = sb.compile(network).predict(params, X)
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-14)


def test_the_function_does_not_modify_its_arguments():
    network = _network(sizes=(3, 4, 4, 2), hidden="relu")
    params, X, Y = random_instance(network, "rows", m=5, seed=5)
    copies = [p.copy() for p in params], X.copy(), Y.copy()
    f = sb.compile(network)
    f(params, X, Y)
    f.predict(params, X)
    for before, after in zip(copies[0] + [copies[1], copies[2]], params + [X, Y]):
        np.testing.assert_array_equal(before, after)


def test_a_custom_activation_and_loss_export_like_catalogue_ones():
    network = _network(hidden="z/(1 + abs(z))", output="tanh(z)", loss="(a - y)^4/4")
    params, X, Y = random_instance(network, "rows", m=5, seed=6)
    f = sb.compile(network)
    for got, expected in zip(f(params, X, Y)[1], numerical_gradient(f, params, X, Y, 1e-5)):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-10)
    assert "(a - y)**4/4" in sb.export_module(network)


# --- refusals ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mutate, message", [
    (lambda p, X, Y: ([p[0].T] + p[1:], X, Y), r"params\[0\] \(W2\): shape \(4, 5\) received, \(5, 4\) expected"),
    (lambda p, X, Y: (p[:3], X, Y), r"params: expected 4 arrays \(W2, b2, W3, b3\), got 3"),
    (lambda p, X, Y: (p, X[:, :3], Y), r"X: shape \(6, 3\) received, \(6, 4\) expected"),
    (lambda p, X, Y: (p, X, Y[:5]), r"Y: shape \(5, 3\) received, \(6, 3\) expected"),
    (lambda p, X, Y: (p, X.astype(np.float32), Y), r"X: dtype float32 received, float64 expected"),
    (lambda p, X, Y: (p, X, Y.astype(int)), r"Y: dtype int64 received, float64 expected"),
    (lambda p, X, Y: ([p[0].tolist()] + p[1:], X, Y), r"params\[0\] \(W2\): expected a np.ndarray of shape \(5, 4\), got list"),
    (lambda p, X, Y: (p, X[:0], Y[:0]), r"X: shape \(0, 4\) received.*at least one example"),
])
def test_wrong_shapes_and_dtypes_are_refused_naming_the_argument(mutate, message):
    network = _network()
    params, X, Y = random_instance(network, "rows", m=6, seed=0)
    with pytest.raises(sb.ShapeError, match=message):
        sb.compile(network)(*mutate(params, X, Y))


def test_ng_layout_shapes_are_named_theta():
    network = _network(bias="column")
    params, X, Y = random_instance(network, "ng", m=2, seed=0)
    with pytest.raises(sb.ShapeError, match=r"params\[1\] \(Theta2\): shape \(3, 5\) received, \(3, 6\) expected"):
        sb.compile(network, "ng")([params[0], params[1][:, 1:]], X, Y)


def test_unknown_layout_backend_and_symbolic_sizes_are_refused():
    with pytest.raises(ExportError, match="layout 'columns' is not accepted; accepted: rows, ng"):
        sb.compile(_network(), "columns")
    with pytest.raises(ExportError, match="backend 'tensorflow' is not accepted"):
        export_module(_network(), backend="tensorflow")
    import sympy
    with pytest.raises(ExportError, match="concrete layer sizes"):
        sb.compile(sb.Network((sympy.Symbol("n"), 3, 2)))
    with pytest.raises(ExportError, match="expected a symbackprop.Network or Derivation, got str"):
        sb.compile("400,25,10")


# --- generated code ---------------------------------------------------------------------------------------
def test_generated_code_has_no_loops_and_states_the_formulas():
    network = sb.Network((400, 25, 10), l2=1, bias="column")
    source = export_module(network, layout="ng")
    tree = ast.parse(source)
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.For, ast.While, ast.ListComp))
                if _inside(tree, node, "cost_and_gradients")]
    docstring = ast.get_docstring(tree)
    for text in ("400-25-10", "Theta1: shape (25, 401)", "Theta2: shape (10, 26)", "X: shape (m, 400)",
                 "delta^L = dC/dz^L = a - y", "delta^2 = a*e*(1 - a)", "bias unit"):
        assert text in docstring, text
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imports |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imports == {"numpy"}


def _inside(tree, target, function_name):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function_name:
            return any(child is target for child in ast.walk(node))
    return False


@pytest.mark.parametrize("backend, module", [("numpy", {"numpy"}), ("jax", {"jax", "jax.numpy"}), ("torch", {"torch"})])
def test_each_backend_imports_only_its_library(backend, module):
    tree = ast.parse(export_module(_network(output="softmax", loss="categorical-cross-entropy"), backend=backend))
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imports == module


def test_the_standalone_module_runs_without_sympy_or_symbackprop(tmp_path):
    network = _network(sizes=(3, 4, 2), hidden="elu", output="softmax", loss="log-likelihood", l2=0.3)
    path = tmp_path / "grad.py"
    export_module(network, path)
    params, X, Y = random_instance(network, "rows", m=4, seed=8)
    expected_cost, expected_grads = sb.compile(network)(params, X, Y)
    np.savez(tmp_path / "data.npz", *params, X=X, Y=Y)
    script = textwrap.dedent(f"""
        import sys
        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('sympy', 'symbackprop', 'mpmath'):
                    raise ImportError('no ' + name + ' here')
        sys.meta_path.insert(0, Refuse())
        for name in list(sys.modules):
            if name.split('.')[0] in ('sympy', 'symbackprop', 'mpmath'):
                del sys.modules[name]
        import numpy as np
        sys.path.insert(0, {str(tmp_path)!r})
        import grad
        data = np.load({str(tmp_path / 'data.npz')!r})
        params = [data['arr_%d' % i] for i in range(4)]
        cost, grads = grad.cost_and_gradients(params, data['X'], data['Y'])
        print(repr(cost))
        np.savez({str(tmp_path / 'out.npz')!r}, *grads)
        try:
            import sympy
        except ImportError:
            print('sympy refused')
        print(sorted(name for name in sys.modules if name.split('.')[0] in ('sympy', 'symbackprop')))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": ""}, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert float(lines[0]) == pytest.approx(expected_cost, rel=1e-15)
    assert lines[1:] == ["sympy refused", "[]"]
    out = np.load(tmp_path / "out.npz")
    for position, expected in enumerate(expected_grads):
        np.testing.assert_array_equal(out[f"arr_{position}"], expected)


def test_export_module_refuses_to_overwrite_unless_forced(tmp_path):
    path = tmp_path / "grad.py"
    path.write_text("# mine\n")
    with pytest.raises(ExportError, match="exists; refusing to overwrite it"):
        export_module(_network(), path)
    assert path.read_text() == "# mine\n"
    export_module(_network(), path, force=True)
    assert "def cost_and_gradients" in path.read_text()


# --- the command line ---------------------------------------------------------------------------------------
def test_cli_export_writes_and_refuses_to_overwrite(tmp_path, capsys):
    path = tmp_path / "grad.py"
    assert main(["export", "--layers", "3,4,2", "--loss", "quadratic", "-o", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    first = path.read_text()
    assert main(["export", "--layers", "3,4,2", "-o", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "refusing to overwrite" in error and "--force" in error
    assert path.read_text() == first
    assert main(["export", "--layers", "3,4,2", "--backend", "torch", "--layout", "ng", "--force", "-o", str(path)]) == 0
    assert "import torch" in path.read_text()


def test_cli_export_bad_network_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["export", "--layers", "3,0,2", "-o", str(tmp_path / "g.py")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "layer 2 has size 0" in error
    assert not (tmp_path / "g.py").exists()

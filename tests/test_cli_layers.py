"""``derive --layer`` / ``--layer-def`` and ``export --layer`` from the command line: every format,
bad layer text (exit 2, the line and a caret, no traceback), and a working exported module."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from symbackprop.cli import main
from optional_libraries import require

RMS = "input x[N, D]\nparam g[D]\nconst eps = 1e-6\nms[n] = sum(x[n, d]^2, d) / D\ny[n, d] = g[d] * x[n, d] / sqrt(ms[n] + eps)\noutput y\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_derive_layer_text_shows_the_closed_form(capsys):
    code, out, err = run(capsys, "derive", "--layer", "batchnorm")
    assert code == 0 and err == ""
    assert "[closed form]" in out and "[sum identity from a definition]" in out
    assert "dx[n, d] = (γ[d]/(N √(ε + σ²[d]))) (" in out
    assert "KroneckerDelta" not in out and "Indexed" not in out


def test_derive_layer_json(capsys):
    code, out, _ = run(capsys, "derive", "--layer", "softmax", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "symbackprop.layer-derivation/1"
    assert data["results"] == ["dx"] and data["gradients"]["x"]["closed_form"] is True
    assert data["layer"]["equations"][0] == "s[n] = sum(exp(x[n, j]), j)"


@pytest.mark.parametrize("fmt, marker", [("latex", r"\begin{align*}"), ("tex", r"\documentclass"), ("html", "<math")])
def test_derive_layer_other_formats(capsys, fmt, marker):
    code, out, _ = run(capsys, "derive", "--layer", "layernorm", "--format", fmt)
    assert code == 0 and marker in out
    if fmt != "html":
        assert r"\hat{x}_{n,d}" in out and r"\sum_{" in out


def test_tex_document_compiles(tmp_path, capsys):
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdflatex is missing; CI=true requires it")
        pytest.skip("pdflatex is not installed")
    code, out, _ = run(capsys, "derive", "--layer", "batchnorm", "--format", "tex")
    (tmp_path / "bn.tex").write_text(out, encoding="utf-8")
    result = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "bn.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]


def test_layer_def_file(tmp_path, capsys):
    path = tmp_path / "rms.txt"
    path.write_text(RMS, encoding="utf-8")
    code, out, _ = run(capsys, "derive", "--layer-def", str(path))
    assert code == 0 and "Backward pass of the layer rms" in out and "dg[d] =" in out


@pytest.mark.parametrize("text, message", [
    ("input x[N, D]\ny[n, d] = x[n, d] +* 2\noutput y\n", "line 2: expected a number, a name"),
    ("input x[N, D]\nparam b[N]\ny[n, d] = x[n, d] + b[d]\noutput y\n", "line 3: size mismatch"),
    ("input x[N, D]\na[n, d] = b[n, d] + x[n, d]\nb[n, d] = a[n, d]\noutput b\n", "cycle"),
])
def test_bad_layer_text_exits_2_with_line_and_caret(tmp_path, capsys, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    for command in ("derive", "export"):
        argv = [command, "--layer-def", str(path)] + (["-o", str(tmp_path / "m.py")] if command == "export" else [])
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == ""
        assert message in err and "^" in err.splitlines()[-1] and "Traceback" not in err


def test_unknown_layer_and_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "derive", "--layer", "batchnorn")
    assert code == 2 and "unknown layer 'batchnorn'; accepted: affine, batchnorm" in err
    code, _, err = run(capsys, "derive", "--layer-def", str(tmp_path / "nope.txt"))
    assert code == 2 and "no such file" in err


def test_export_layer_writes_a_working_module(tmp_path, capsys):
    target = tmp_path / "bn.py"
    code, out, _ = run(capsys, "export", "--layer", "batchnorm", "-o", str(target))
    assert code == 0 and "backward(dout, cache) -> (dx, dgamma, dbeta)" in out
    spec = importlib.util.spec_from_file_location("bn", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.random.default_rng(1).standard_normal((6, 4))
    out_, cache = module.forward(x, np.ones(4), np.zeros(4))
    dx, dgamma, dbeta = module.backward(np.ones_like(out_), cache)
    assert np.allclose(dx, 0, atol=1e-10) and np.allclose(dbeta, 6)   # a constant upstream gradient is normalised away
    code, _, err = run(capsys, "export", "--layer", "batchnorm", "-o", str(target))
    assert code == 2 and "exists" in err


def test_module_entry_point_has_no_traceback(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("input x[N, D]\ny[n] = x[n, d]\noutput y\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-m", "symbackprop", "derive", "--layer-def", str(path)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "index d on the right of y is neither on the left nor summed" in result.stderr


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("layer, axis", [("softmax", "0"), ("log-softmax", "0"), ("softmax", "-1"),
                                         ("log-softmax", "1")])
def test_softmax_over_a_given_axis_equals_torch_and_is_stable(tmp_path, capsys, layer, axis):
    """--axis 0 normalises each column, 1 / -1 each row (the default); the export equals torch's softmax /
    log_softmax over that dim, at logits of ±1000 too."""
    torch = require("torch", "comparing the exported softmax with torch's")
    path = tmp_path / "m.py"
    code, _, err = run(capsys, "export", "--layer", layer, "--axis", axis, "-o", str(path))
    assert code == 0, err
    module = _load(path)
    function = torch.softmax if layer == "softmax" else torch.log_softmax
    rng = np.random.default_rng(7)
    for scale in (1.0, 1000.0):
        x, upstream = rng.standard_normal((5, 3)) * scale, rng.standard_normal((5, 3))
        out, cache = module.forward(x)
        (dx,) = module.backward(upstream, cache)
        t = torch.tensor(x, requires_grad=True)
        reference = function(t, dim=int(axis))
        reference.backward(torch.tensor(upstream))
        assert np.allclose(out, reference.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert np.all(np.isfinite(dx)) and np.allclose(dx, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_softmax_over_the_first_axis_derives_the_column_sum(capsys):
    code, out, _ = run(capsys, "derive", "--layer", "softmax", "--axis", "0")
    assert code == 0 and "dx[n, k] = y[n, k] (dy[n, k] - Σ_j (dy[j, k] y[j, k]))" in out


@pytest.mark.parametrize("argv, message", [
    (("--layer", "affine", "--axis", "0"), "--axis applies to --layer softmax or log-softmax only, not 'affine'"),
    (("--layer", "softmax", "--axis", "2"), "--axis '2': softmax of x[N, K] runs over axis 0"),
    (("--layer", "conv2d", "--axis", "0"), "--axis applies to --layer softmax or log-softmax only")])
def test_a_bad_axis_is_refused(capsys, argv, message):
    code, _, err = run(capsys, "derive", *argv)
    assert code == 2 and message in err and "Traceback" not in err

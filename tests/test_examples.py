"""Every example in examples/ runs, and prints what it promises.

Each example runs in a subprocess, as a reader would start it (``python examples/NAME.py``), with
``SYMBACKPROP_QUICK=1`` (smaller sizes, fewer iterations) and ``--out`` in a temporary directory;
the test checks the exit code, the key lines of the output (the published numbers, the verdicts,
the accuracy) and the files written. The examples need the ``examples`` extra (scipy,
scikit-learn, matplotlib); pdflatex is used when present and never required.
"""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = ("ng_vs_nielsen", "hidden_delta_derivation", "ex4_reference", "train_digits", "custom_loss",
            "sklearn_agreement", "dls_conv_backward", "dls_rnn_backward", "dls_lstm_backward")
NEEDS = {"ex4_reference": ("scipy",), "train_digits": ("scipy", "sklearn", "matplotlib"),
         "sklearn_agreement": ("sklearn",)}
EX4_WEIGHTS = Path(__file__).resolve().parents[2] / "shared/data/ng-ex4/ex4weights.mat"


def run(name, tmp_path, *arguments, quick=True):
    for module in NEEDS.get(name, ()):
        pytest.importorskip(module, reason=f"examples/{name}.py needs {module}: pip install -e '.[examples]'")
    env = dict(os.environ, PYTHONIOENCODING="utf-8", MPLBACKEND="Agg")
    if quick:
        env["SYMBACKPROP_QUICK"] = "1"
    out = tmp_path / "out"
    process = subprocess.run([sys.executable, str(EXAMPLES_DIR / f"{name}.py"), "--out", str(out), *arguments],
                             cwd=tmp_path, env=env, check=False, capture_output=True, text=True, encoding="utf-8",
                             timeout=300)
    return process, out


def assert_ran(process):
    assert process.returncode == 0, f"exit {process.returncode}\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"


def test_every_example_is_tested():
    assert sorted(path.stem for path in EXAMPLES_DIR.glob("*.py")) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_help_and_docstring(name):
    source = (EXAMPLES_DIR / f"{name}.py").read_text(encoding="utf-8")
    assert source.startswith('"""'), "an example starts with its module docstring"
    process = subprocess.run([sys.executable, str(EXAMPLES_DIR / f"{name}.py"), "--help"],
                             check=False, capture_output=True, text=True, encoding="utf-8", timeout=120,
                             env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    assert_ran(process)
    assert "--out" in process.stdout


def test_ng_vs_nielsen(tmp_path):
    process, out = run("ng_vs_nielsen", tmp_path)
    assert_ran(process)
    text = process.stdout
    assert "derived   δ^(L) = a^(L) - y" in text
    assert "derived   δ^L = a^L ⊙ (1 - a^L) ⊙ (a^L - y)" in text
    assert "δ^(L) differs by the factor σ'(z^(L))" in text
    verdicts = re.findall(r"^  (\w+)'s formula .* on (\w+)'s setup \([\w-]+\): (\w+) \((\w+)\)$", text, re.MULTILINE)
    assert verdicts == [("Ng", "Ng", "correct", "symbolic"), ("Ng", "Nielsen", "incorrect", "numeric"),
                        ("Nielsen", "Ng", "incorrect", "numeric"), ("Nielsen", "Nielsen", "correct", "symbolic")]
    assert "the factor sigmoid'(z^(L)) of the sigmoid output is missing" in text   # in Ng's notation
    page = out / "ng_vs_nielsen.html"
    assert f"wrote {page}" in text
    assert "<math" in page.read_text(encoding="utf-8")


def test_hidden_delta_derivation(tmp_path):
    process, out = run("hidden_delta_derivation", tmp_path)
    assert_ran(process)
    text = process.stdout
    assert "(22) e^(l) = [(Θ^(l))^T δ^(l+1)]_(rows 1..)" in text
    assert "(23) δ^(l) = e^(l) .* (a^(l) .* (1 - a^(l)))" in text
    assert "ng-ml    δ^(3) = [(Θ^(3))^T δ^(4)]_(rows 1..) .* (a^(3) .* (1 - a^(3)))" in text
    assert "ng-ml    δ^(2) = [(Θ^(2))^T δ^(3)]_(rows 1..) .* (a^(2) .* (1 - a^(2)))" in text
    assert "nielsen  δ^2 = [(w^3)^T δ^3]_(rows 1..) ⊙ (a^2 ⊙ (1 - a^2))" in text
    assert text.count(": correct (symbolic)") == 2
    for notation in ("ng-ml", "nielsen"):
        tex, html = out / f"hidden_delta_{notation}.tex", out / f"hidden_delta_{notation}.html"
        assert f"wrote {tex}" in text and f"wrote {html}" in text
        assert tex.read_text(encoding="utf-8").startswith(r"\documentclass")
        assert "<math" in html.read_text(encoding="utf-8")
    # pdflatex is used where it is installed, and its absence is reported, not an error.
    assert "PDF: compiled" in text or "PDF: pdflatex is not on the PATH" in text


def test_ex4_reference(tmp_path):
    process, out = run("ex4_reference", tmp_path)
    text = process.stdout
    costs = dict(re.findall(r"J, lambda = \d +(\S+) +(\S+) +agrees", text))
    assert costs.keys() == {"2.10095057", "2.146359815"}, text
    for published, computed in costs.items():
        assert abs(float(computed) - float(published)) < 1e-9
    checks = [float(value) for value in re.findall(r"gradient check +< 1e-9 +(\S+) +agrees", text)]
    assert len(checks) == 2 and max(checks) < 1e-9
    if not EX4_WEIGHTS.is_file():
        assert process.returncode == 2 and "not found" in process.stderr
        pytest.skip(f"{EX4_WEIGHTS} is missing: the regularisation number is not reproduced")
    assert_ran(process)
    assert re.search(r"published 0\.0961407, computed 0\.096140\d+ +agrees", text), text
    assert "published costs 0.383770 - 0.287629 = 0.096141, computed 0.096141   agrees" in text
    assert "ex4data1.mat (5000 digits) is not available" in text
    assert "all published numbers reproduced" in text
    assert (out / "ex4_reference.json").is_file()


def test_ex4_reference_without_weights(tmp_path):
    process, _ = run("ex4_reference", tmp_path, "--weights", str(tmp_path / "missing.mat"))
    assert process.returncode == 2
    assert "missing.mat: not found" in process.stderr and "--weights PATH" in process.stderr


def test_train_digits(tmp_path):
    process, out = run("train_digits", tmp_path)
    assert_ran(process)
    text = process.stdout
    assert "64-32-10 network, hidden tanh, output softmax, loss categorical-cross-entropy" in text
    assert "derived output error: δ^L = a^L - y" in text
    assert re.search(r"training: iteration +\d+/60 +cost \d", text)
    accuracy = float(re.search(r"^held-out accuracy: (\d\.\d+)", text, re.MULTILINE).group(1))
    assert accuracy >= 0.95, text
    plot = out / "train_digits.png"
    assert f"wrote {plot}" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_custom_loss(tmp_path):
    process, out = run("custom_loss", tmp_path)
    assert_ran(process)
    text = process.stdout
    assert "loss log(cosh(a - y)): in the catalogue? False" in text
    assert "δ^L indexed       δ^L_i = tanh(a^L_i - y_i)" in text
    assert r"\delta^L = \tanh(a^L - y): correct (symbolic)" in text
    assert r"\delta^L = a^L - y: incorrect (numeric)" in text
    assert "this is δ^L of the quadratic cost" in text
    assert re.search(r"gradient check of the written module: relative difference \S+ \(below 1e-07: passed\)", text)
    for name in ("custom_loss.txt", "custom_loss.html", "logcosh_grad.py"):
        assert f"wrote {out / name}" in text and (out / name).stat().st_size > 0
    assert "import numpy as np" in (out / "logcosh_grad.py").read_text(encoding="utf-8")


def test_dls_rnn_backward_example(tmp_path):
    process, out = run("dls_rnn_backward", tmp_path)
    assert_ran(process)
    text = process.stdout
    assert "dx[1][2]    = [-2.0710168868" in text and "dWax[3][1]  = 11.264104496" in text
    assert re.search(r"largest difference to the published values: \S+ \(reproduced\)", text)
    assert "∂C/∂a[t, n, k] = da[t, n, k] + da_prev[t + 1, n, k]" in text
    assert (out / "rnn_dls.py").stat().st_size > 0


def test_dls_lstm_backward_example(tmp_path):
    process, out = run("dls_lstm_backward", tmp_path)
    assert_ran(process)
    text = process.stdout
    assert "dxt[1][2]      = 3.2305591151" in text and "dWf[3][1]      = -0.147954838164" in text
    assert "da0[2][3]      = 0.312770310257" in text
    assert re.search(r"largest difference to the published values: \S+ \(reproduced\)", text)
    assert "dzf[n, k] = (1 - f[n, k])*df[n, k]*f[n, k]" in text
    assert "def forward(x, a0, c0, Wf, bf, Wi, bi, Wc, bc, Wo, bo)" in (out / "lstm_dls.py").read_text(encoding="utf-8")


def test_sklearn_agreement_example(tmp_path):
    process, out = run("sklearn_agreement", tmp_path)
    assert_ran(process)
    text = process.stdout
    rows = re.findall(r"^  (64-\S+) (\w+) hidden, softmax output .* (agree|DISAGREE)$", text, re.MULTILINE)
    assert [(sizes, activation) for sizes, activation, _ in rows] == [
        ("64-32-10", "tanh"), ("64-20-15-10", "relu"), ("64-16-10", "logistic")]
    assert all(verdict == "agree" for *_, verdict in rows)
    assert "cost and every gradient entry agree to 1e-12" in text
    assert (out / "sklearn_agreement.json").is_file()


@pytest.mark.parametrize("activation, hidden, alpha", [("tanh", (12,), 0.7), ("relu", (9, 7), 0.0)])
def test_exported_gradient_equals_sklearn_backprop(activation, hidden, alpha):
    """The assertion itself, in process: scikit-learn's _backprop and symbackprop.compile to 1e-12."""
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    spec = importlib.util.spec_from_file_location("sklearn_agreement", EXAMPLES_DIR / "sklearn_agreement.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    images, labels = load_digits(return_X_y=True)
    row = example.compare_with_sklearn(activation, hidden, alpha, images[:150] / 16.0, labels[:150], seed=3)
    assert row["cost_difference"] <= 1e-12
    assert row["gradient_difference"] <= 1e-12
    assert row["gradient_norm"] > 1e-3          # a real gradient, not two zeros


def test_dls_conv_backward(tmp_path):
    process, out = run("dls_conv_backward", tmp_path)
    assert_ran(process)
    text = process.stdout
    for line in ("dA_mean = 1.45243777754   published 1.45243777754   agrees",
                 "dW_mean = 1.72699145831   published 1.72699145831   agrees",
                 "db_mean = 7.83923256462   published 7.83923256462   agrees"):
        assert line in text
    assert text.count("agrees") == 5 and "DISAGREES" not in text          # and pool_backward, max and average
    assert "[full convolution with the flipped kernel]" in text and "[upstream gradient dilated by the stride]" in text
    assert (out / "conv2d_s2_p2.py").is_file()

"""benchmarks/layers.py's implementations agree with each other (tests/test_benchmarks_smoke.py runs the script)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from optional_libraries import require

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "layers.py"


def _load():
    spec = importlib.util.spec_from_file_location("layers_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hand_written_alt_forms_agree_with_the_exported_modules():
    bench = _load()
    rng = np.random.default_rng(2)
    x = 5 * rng.standard_normal((32, 8)) + 12
    gamma, beta, dout = rng.standard_normal(8), rng.standard_normal(8), rng.standard_normal((32, 8))
    for name in ("batchnorm", "layernorm"):
        assert bench.agreement(bench.implementations(name, x, gamma, beta, dout)) < 1e-12


def test_conv_implementations_agree_and_the_table_prints(capsys):
    _load()
    import _conv      # benchmarks/ is on sys.path once layers.py is loaded
    found = _conv.implementations(*_conv.data(2, 6, 3, 4))
    assert _conv.agreement(found) < 1e-12
    _conv.section(1, quick=True)
    out = capsys.readouterr().out
    base = "time / torch eager" if "torch eager" in found else "time / hand im2col"     # torch is optional
    assert "conv2d forward + backward" in out and "| symbackprop |" in out and base in out


def _recurrent_module():
    import sys
    sys.path.insert(0, str(BENCHMARK.parent))
    import _recurrent
    return _recurrent


def test_hand_written_bptt_agrees_with_the_exported_modules():
    _recurrent = _recurrent_module()
    for name in ("rnn", "lstm"):
        arrays, dh = _recurrent.data(name, T=4, D=3, H=5, N=2)
        found = _recurrent.implementations(name, arrays, dh)
        results = {key: found[key]() for key in ("symbackprop", "numpy by hand")}
        for a, b in zip(results["symbackprop"], results["numpy by hand"]):      # every gradient, per parameter
            assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max()


def test_torch_eager_bptt_agrees_with_the_hand_written():
    require("torch", "the benchmark's torch.nn.RNN/LSTM row")
    _recurrent = _recurrent_module()
    for name in ("rnn", "lstm"):
        arrays, dh = _recurrent.data(name, T=4, D=3, H=5, N=2)
        found = _recurrent.implementations(name, arrays, dh)
        assert "torch eager" in found
        assert _recurrent.agreement(found) < 1e-12

"""benchmarks/ops.py runs in its smoke mode: the implementations agree, and it prints the SIMD level and the table."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from optional_libraries import require  # noqa: E402
require("torch", "the benchmark compares torch implementations")

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "ops.py"


def _load():
    spec = importlib.util.spec_from_file_location("ops_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_implementations_agree_in_float64():
    import torch
    bench = _load()
    for layer, (inputs, forwards, _) in bench.cases(True, torch.float64).items():
        dout = torch.randn(forwards["symbackprop op"](*inputs).shape, dtype=torch.float64)
        assert bench.agreement(forwards, inputs, dout) < 1e-10, layer


def test_the_benchmark_runs_in_smoke_mode(capsys):
    assert _load().main(["--smoke"]) == 0
    out = capsys.readouterr().out
    assert "SIMD:" in out and "(torch: " in out
    for row in ("| batchnorm (N = 8, D = 6) | symbackprop op |", "native F.layer_norm",
                "native F.scaled_dot_product_attention", "| saved (KiB) |"):
        assert row in out

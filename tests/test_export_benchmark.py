"""benchmarks/gradient.py runs, and every implementation it times computes the same gradient."""
from __future__ import annotations

import importlib.util
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "gradient.py"


def test_the_benchmark_runs_and_its_implementations_agree(capsys):
    spec = importlib.util.spec_from_file_location("gradient_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--cases", "D,B", "--no-cold", "--rounds", "2", "--budget", "0.005"])
    out = capsys.readouterr().out
    for case in ("D", "B"):
        assert results[case]["agreement"] < 1e-12
        assert {"symbackprop", "numpy by hand"} <= set(results[case]["times"])
    assert "| symbackprop |" in out and "time / hand-written NumPy" in out

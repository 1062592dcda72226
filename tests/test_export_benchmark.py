"""The benchmarks run, and every implementation or schedule they time computes the same gradient."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sb

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "gradient.py"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", BENCHMARK.with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_runs_and_its_implementations_agree(capsys):
    results = _load("gradient").main(["--cases", "D,B", "--no-cold", "--rounds", "2", "--budget", "0.005"])
    out = capsys.readouterr().out
    for case in ("D", "B"):
        assert results[case]["agreement"] < 1e-12
        assert {"symbackprop", "numpy by hand"} <= set(results[case]["times"])
    assert "| symbackprop |" in out and "time / hand-written NumPy" in out


def test_cpu_floor_sharded_schedule_computes_the_whole_batch_gradient():
    """benchmarks/cpu_floor.py times a two-thread, half-batch schedule: it must be the same gradient
    (an odd m, so the halves differ in size and their weighting back to the batch matters)."""
    pytest.importorskip("threadpoolctl", reason="cpu_floor.py holds OpenBLAS to one thread with threadpoolctl "
                        "(it comes with scikit-learn: pip install -e '.[examples]')")
    floor = _load("cpu_floor")
    case = dict(floor.gradient.CASES["B"], sizes=(7, 6, 5, 4), m=37)
    params, X, Y = floor.gradient.data_of(case)
    J, grads = floor.sharded(case, params, X, Y, floor.OneBlasThread())()
    J_whole, grads_whole = sb.compile(floor.gradient.network_of(case))(params, X, Y)
    assert abs(J - J_whole) <= 1e-13 * abs(J_whole)
    for got, expected in zip(grads, grads_whole):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)

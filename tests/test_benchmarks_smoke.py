"""Every script in benchmarks/ runs, as a user runs it, in its --smoke mode (tiny sizes, one round: seconds),
so that none can rot unnoticed; each table states the CPU's SIMD level; what a smoke run can check beyond
"it ran" (the implementations agree, the mutant is caught, no internal error) is asserted.

Timings are printed, never asserted: tests assert correctness (benchmarks/ measures speed)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from optional_libraries import require

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(path.name for path in (ROOT / "benchmarks").glob("[!_]*.py"))
SIMD = re.compile(r"SIMD:? (AVX512\w*|AVX2|AVX|SSE42|ASIMD|NEON|none detected)")


def _run(script: str, *options: str) -> str:
    """stdout of ``python benchmarks/SCRIPT --smoke OPTIONS``, which must exit 0."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}    # a smoke run shares 2 cores
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--smoke", *options], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, f"{script} --smoke exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert SIMD.search(done.stdout), f"{script} does not state the CPU's SIMD level:\n{done.stdout[:500]}"
    return done.stdout


def _agreements(out: str) -> list[float]:
    return [float(value) for value in re.findall(r"all agree to ([0-9.e+-]+)", out)]


def test_every_benchmark_script_has_a_smoke_test():
    tested = {"derive.py", "gradient.py", "cpu_floor.py", "layers.py", "fuzz.py", "mutants.py"}
    assert set(SCRIPTS) == tested, "a new script in benchmarks/ needs a --smoke run here"


def test_derive_benchmark_times_both_networks():
    out = _run("derive.py")
    rows = re.findall(r"^(ex4 400-25-10|depth 3 \(width 4\))\s+([0-9.]+)\s+([0-9.]+)$", out, re.M)
    assert [row[0] for row in rows] == ["ex4 400-25-10", "depth 3 (width 4)"], out
    assert all(float(cold) > 0 and float(warm) > 0 for _, cold, warm in rows)


def test_gradient_benchmark_implementations_agree():
    out = _run("gradient.py")
    assert "## D: 2-3-1 sigmoid" in out and "| symbackprop |" in out and "| numpy by hand |" in out
    found = _agreements(out)
    assert found and max(found) < 1e-12, out


def test_cpu_floor_benchmark_runs():
    require("jax", "benchmarks/cpu_floor.py's JAX column")
    pytest.importorskip("threadpoolctl", reason="cpu_floor.py holds OpenBLAS to one thread with threadpoolctl "
                        "(it comes with scikit-learn: pip install -e '.[examples]')")
    out = _run("cpu_floor.py")
    assert re.search(r"^\| B \| [0-9.]+ \| [0-9.]+ \|", out, re.M), out


def test_layers_benchmark_prints_every_table_and_its_implementations_agree():
    out = _run("layers.py")
    for title in ("attention forward + backward", "rnn forward + backpropagation through time",
                  "lstm forward + backpropagation through time", "conv2d forward + backward", "batchnorm backward",
                  "layernorm backward", "Derivation time (symbolic sizes"):
        assert title in out, title
    found = _agreements(out)
    assert len(found) == 6 and max(found) < 1e-10, found


def test_fuzz_benchmark_has_no_internal_error():
    out = _run("fuzz.py")
    assert "exit codes:" in out and out.rstrip().endswith("OK"), out


def test_mutants_benchmark_catches_its_smoke_mutant():
    out = _run("mutants.py")
    assert "| yes " in out and "1 of 1 caught" in out, out

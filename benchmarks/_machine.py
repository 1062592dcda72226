"""What every benchmark table states about the machine, and the one way the benchmarks clear symbackprop's caches.

``simd_level()`` names the SIMD extensions NumPy dispatches to (AVX-512, AVX2, ...), and torch's where torch
is already imported: a table measured on an AVX-512 machine is not comparable with one from an AVX2 machine.
``clear_caches()`` empties every ``functools`` cache of the loaded symbackprop modules, found by looking, so a
"warm" timing measures the derivation and not a cache hit, and a renamed cached function cannot break a
benchmark (benchmarks/derive.py named five functions, and stopped when one lost its cache).
"""
from __future__ import annotations

import sys

import numpy as np

#: highest first; NumPy's names for its dispatch targets (x86 and Arm)
SIMD_ORDER = ("AVX512_SPR", "AVX512_ICL", "AVX512_SKX", "AVX512F", "AVX2", "FMA3", "AVX", "SSE42", "ASIMD", "NEON")


def _numpy_features() -> dict:
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:   # NumPy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return features


def simd_level(with_torch: bool = False) -> str:
    """E.g. 'AVX2 FMA3 AVX SSE42 (torch: AVX2)': NumPy's SIMD extensions, and torch's level when ``with_torch``
    and torch is installed (or already imported: then it costs nothing to ask)."""
    features = _numpy_features()
    found = [name for name in SIMD_ORDER if features.get(name)]
    if with_torch or "torch" in sys.modules:
        try:
            import torch
            found.append(f"(torch: {torch.backends.cpu.get_cpu_capability()})")
        except ImportError:
            pass
    return " ".join(found) or "none detected"


def machine_line() -> str:
    """The header line of a benchmark table: Python, NumPy, cores, architecture and SIMD level."""
    import os
    import platform
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"Python {platform.python_version()}, NumPy {np.__version__}, {cores} cores, {platform.machine()}, "
            f"SIMD: {simd_level()}")


def clear_caches() -> int:
    """Empty every functools cache (lru_cache, cache) of the loaded symbackprop modules; returns how many."""
    cleared = 0
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "symbackprop" or name.startswith("symbackprop.")):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == name:
                clear()
                cleared += 1
    return cleared

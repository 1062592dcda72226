"""Second order of a network (issue 27): ``export --second-order`` of a network, in rows and Ng's bias-column
layouts, with L2: hvp, ggn_vp and diag_ggn against torch.func of benchmarks/_reference.py's torch cost (the
network as a torch user writes it), float64, 1e-10 of the largest entry."""
from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from symbackprop.cli import main
from optional_libraries import require

torch = require("torch", "comparing the network's second-order functions with torch.func")
from torch.func import grad, hessian, jacrev, jvp  # noqa: E402

with warnings.catch_warnings():     # torch's forward-mode decompositions, loaded on the first jvp, call the
    warnings.simplefilter("ignore", DeprecationWarning)      # deprecated torch.jit.script (torch's own warning)
    import torch._decomp.decompositions_for_jvp  # noqa: E402,F401

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from _reference import torch_loss  # noqa: E402

#: (kind of benchmarks/_reference.py's torch cost, the CLI options)
NETWORKS = {"sigmoid": ["--hidden", "sigmoid", "--output", "sigmoid", "--loss", "cross-entropy"],
            "softmax": ["--hidden", "tanh", "--output", "softmax", "--loss", "categorical-cross-entropy"]}
SIZES = (3, 5, 4, 2)
LAMBDA = 0.7


def _export(tmp_path, kind, layout):
    path = tmp_path / f"{kind}_{layout}.py"
    bias = "column" if layout == "ng" else "separate"
    assert main(["export", "--layers", ",".join(map(str, SIZES)), *NETWORKS[kind], "--bias", bias,
                 "--l2", str(LAMBDA), "--layout", layout, "--second-order", "-o", str(path)]) == 0
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(rng):
    params = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        params += [rng.standard_normal((n_out, n_in)) * 0.8, rng.standard_normal(n_out) * 0.5]
    return params


def _ng(rows):
    return [np.concatenate([b[:, None], W], axis=1) for W, b in zip(rows[0::2], rows[1::2])]


def _data(kind, rng, m=6):
    X = rng.standard_normal((m, SIZES[0]))
    Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], m)] if kind == "softmax" else rng.uniform(0.1, 0.9, (m, SIZES[-1]))
    return X, Y


def _reference(kind, rows, X, Y, V):
    """H v, G v and diag(G) in rows layout, from torch.func; G includes the L2 term's Hessian (λ/m on weights)."""
    cost = torch_loss(kind)
    tX, tY = torch.tensor(X), torch.tensor(Y)
    tp, tv = tuple(map(torch.tensor, rows)), tuple(map(torch.tensor, V))
    argnums = tuple(range(len(rows)))
    hv = jvp(lambda *ps: grad(lambda *qs: cost(list(qs), tX, tY, LAMBDA), argnums=argnums)(*ps), tp, tv)[1]

    def logits(*ps):
        a = tX
        for W, b in zip(ps[0:-2:2], ps[1:-2:2]):
            z = a @ W.T + b
            a = torch.sigmoid(z) if kind == "sigmoid" else torch.tanh(z)
        return a @ ps[-2].T + ps[-1]

    def head(z):
        return _head(kind, z, tY)
    z = logits(*tp)
    H = hessian(head)(z).reshape(z.numel(), z.numel())
    J = [j.reshape(z.numel(), -1) for j in jacrev(logits, argnums=argnums)(*tp)]
    m = X.shape[0]
    Jv = sum(j @ v.reshape(-1) for j, v in zip(J, tv))
    gv, diag = [], []
    for k, (j, v) in enumerate(zip(J, tv)):
        reg = LAMBDA / m if k % 2 == 0 else 0.0
        gv.append((j.T @ H @ Jv).reshape(v.shape).numpy() + reg * v.numpy())
        diag.append(torch.diagonal(j.T @ H @ j).reshape(v.shape).numpy() + reg)
    return [h.numpy() for h in hv], gv, diag


def _head(kind, z, Y):
    m = z.shape[0]
    if kind == "sigmoid":
        return torch.nn.functional.binary_cross_entropy_with_logits(z, Y, reduction="sum") / m
    return -(Y * torch.log_softmax(z, 1)).sum() / m


def _close(mine, theirs):
    scale = max(float(np.max(np.abs(t))) for t in theirs)
    for a, b in zip(mine, theirs):
        assert np.shape(a) == np.shape(b)
        assert np.max(np.abs(np.asarray(a) - b)) <= 1e-10 * scale


@pytest.mark.parametrize("layout", ["rows", "ng"])
@pytest.mark.parametrize("kind", sorted(NETWORKS))
def test_network_second_order_matches_torch_func(tmp_path, kind, layout):
    module = _export(tmp_path, kind, layout)
    rng = np.random.default_rng(0)
    rows, (X, Y) = _rows(rng), _data(kind, rng)
    V = [rng.standard_normal(p.shape) for p in rows]
    hv, gv, diag = _reference(kind, rows, X, Y, V)
    params, directions = (rows, V) if layout == "rows" else (_ng(rows), _ng(V))
    if layout == "ng":
        hv, gv, diag = _ng(hv), _ng(gv), _ng(diag)
    _close(module.hvp(params, X, Y, directions), hv)
    _close(module.ggn_vp(params, X, Y, directions), gv)
    _close(module.diag_ggn(params, X, Y), diag)
    cost, gradients = module.cost_and_gradients(params, X, Y)      # the network's own functions are untouched
    assert np.isfinite(cost) and len(gradients) == len(params)


def test_negative_control_without_the_l2_term_the_hvp_differs(tmp_path):
    module = _export(tmp_path, "softmax", "rows")
    rng = np.random.default_rng(1)
    rows, (X, Y) = _rows(rng), _data("softmax", rng)
    V = [rng.standard_normal(p.shape) for p in rows]
    hv, _, _ = _reference("softmax", rows, X, Y, V)
    without = [h - (LAMBDA / len(X) * v if k % 2 == 0 else 0) for k, (h, v) in enumerate(zip(hv, V))]
    with pytest.raises(AssertionError):
        _close(module.hvp(rows, X, Y, V), without)

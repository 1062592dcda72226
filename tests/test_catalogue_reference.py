"""Every catalogue definition against an outside reference: torch.nn.functional, values and derivatives.

The engine differentiates the catalogue's definitions, so a definition that is not the function its
name promises (a wrong slope, a sign in an exponent, a missing ½) would be derived faithfully and
wrongly. Here each record's definition, and its derivative by ``sympy.diff`` (mpmath at 30 digits),
is compared with torch's implementation and torch autograd (float64) at many points, tails
included. :data:`ACTIVATION_REFERENCES` and :data:`LOSS_REFERENCES` map catalogue names to the
reference; a record without one must be listed in :data:`NO_REFERENCE` with the reason.

Needs torch; without it the tests skip, except under CI=true, where they fail.
"""
from __future__ import annotations


import mpmath
import numpy as np
import pytest
import sympy as sp

from symbackprop import symbols as S
from symbackprop.catalogue import ACTIVATIONS, LOSSES
from symbackprop.catalogue.activations import COUPLED_INDEX, COUPLED_SUM_INDEX, OUTPUT_WIDTH
from optional_libraries import require

try:
    import torch
    import torch.nn.functional as F
except ImportError:          # pragma: no cover - depends on the machine
    torch = F = None

# name -> f(z: float64 tensor, **parameters) -> tensor (for a coupled activation, z is one vector of units)
ACTIVATION_REFERENCES = {
    "sigmoid": lambda z: torch.sigmoid(z),
    "tanh": lambda z: torch.tanh(z),
    "relu": lambda z: F.relu(z),
    "leaky-relu": lambda z, alpha: F.leaky_relu(z, negative_slope=alpha),
    "softplus": lambda z: F.softplus(z, threshold=60),   # torch returns z above its default threshold 20
    "identity": lambda z: torch.nn.Identity()(z),
    "exp": lambda z: torch.exp(z),
    "elu": lambda z, alpha: F.elu(z, alpha=alpha),
    "silu": lambda z: F.silu(z),
    "softmax": lambda z: F.softmax(z, dim=-1),
    "log-softmax": lambda z: F.log_softmax(z, dim=-1),
    "gelu": lambda z: F.gelu(z),
    "gelu-tanh": lambda z: F.gelu(z, approximate="tanh"),
    "selu": lambda z, alpha, scale: scale * F.elu(z, alpha=alpha),    # F.selu(z) at the default constants
    "mish": lambda z: F.mish(z),
    "softsign": lambda z: F.softsign(z),
    "hard-sigmoid": lambda z: F.hardsigmoid(z),
    "hard-tanh": lambda z: F.hardtanh(z),
    "swish": lambda z, beta: z * torch.sigmoid(beta * z),             # F.silu(z) at beta = 1
}
# name -> (how the loss is fed, f(input, y, **parameters) -> summed loss). 'a': activations in (0, 1) and
# targets in [0, 1]; 'a+': the same with targets > 0 (y ln y); 'score': scores in (-2, 2) and targets ±1
# (residuals up to 3: both sides of huber's delta);
# 'logits': the loss composed with softmax, compared as a function of z (torch's cross_entropy takes logits);
# 'label': a probability vector and the class c (one-hot y).
LOSS_REFERENCES = {
    "quadratic": ("a", lambda a, y: F.mse_loss(a, y, reduction="sum") / 2),
    "cross-entropy": ("a", lambda a, y: F.binary_cross_entropy(a, y, reduction="sum")),
    "poisson": ("a", lambda a, y: F.poisson_nll_loss(torch.log(a), y, log_input=True, full=False, reduction="sum")),
    "categorical-cross-entropy": ("logits", lambda z, y: F.cross_entropy(z[None], y[None], reduction="sum")),
    "log-likelihood": ("label", lambda a, c: F.nll_loss(torch.log(a)[None], c[None], reduction="sum")),
    "huber": ("score", lambda a, y, delta: F.huber_loss(a, y, delta=delta, reduction="sum")),
    "hinge": ("score", lambda a, y: torch.clamp(1 - y * a, min=0).sum()),
    "squared-hinge": ("score", lambda a, y: (torch.clamp(1 - y * a, min=0) ** 2).sum()),
    "focal": ("a", lambda a, y, gamma: -(y * (1 - a) ** gamma * torch.log(a)
                                          + (1 - y) * a ** gamma * torch.log1p(-a)).sum()),   # Lin et al. 2017, eq. 4
    "kl-divergence": ("a+", lambda a, y: F.kl_div(torch.log(a), y, reduction="sum")),
}
NO_REFERENCE: dict[str, str] = {}     # catalogue name -> why nothing outside can be compared

# The tails on both sides, and points near (never at) a kink.
Z = np.concatenate([np.linspace(-30.0, 30.0, 61) + 0.137, [-1e-3, 1e-3, -0.5, 0.5, 2.5, -2.5, 1e-7, -1e-7]])
DIGITS = 30


def _need_torch():
    if torch is None:
        require("torch", "comparing the catalogue's records with torch's functions")


def _close(mine, theirs, rtol=1e-9, atol=1e-12):
    mine, theirs = np.asarray(mine, dtype=float), np.asarray(theirs, dtype=float)
    return np.allclose(mine, theirs, rtol=rtol, atol=atol), np.max(np.abs(mine - theirs)) if mine.size else 0.0


def _mp(expr, values: dict) -> float:
    with mpmath.workdps(DIGITS):
        return float(sp.N(expr.xreplace({s: sp.Float(v, DIGITS) for s, v in values.items()}), DIGITS))


def _parameter_sets(record):
    """The record's defaults, and (for a parametrised record) one other value of each parameter."""
    parameters = dict(getattr(record, "parameters", {}) or {})      # losses have parameters on some branches
    sets = [parameters]
    if parameters:
        sets.append({symbol: sp.Rational(37, 100) for symbol in parameters})
    return sets


def _coupled_units(record, width: int, z_symbols):
    """The coupled definition written out for `width` units over the symbols z_1..z_width."""
    units = []
    for k in range(1, width + 1):
        expr = record.concrete().xreplace({COUPLED_INDEX: k, OUTPUT_WIDTH: width})
        expr = expr.replace(lambda e: isinstance(e, sp.Sum),
                            lambda e: sp.Add(*[e.function.xreplace({COUPLED_SUM_INDEX: p}) for p in range(1, width + 1)]))
        units.append(expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == S.base("z"),
                                  lambda e: z_symbols[int(e.indices[0]) - 1]))
    return units


def test_every_record_has_a_reference_or_a_reason():
    names = [r.name for r in ACTIVATIONS] + [r.name for r in LOSSES]
    missing = [n for n in names if n not in ACTIVATION_REFERENCES and n not in LOSS_REFERENCES and n not in NO_REFERENCE]
    assert not missing, f"catalogue records with no outside reference and no reason: {missing}"
    assert all(reason.strip() for reason in NO_REFERENCE.values())


@pytest.mark.parametrize("name", [r.name for r in ACTIVATIONS if r.name not in NO_REFERENCE])
def test_activation_matches_torch(name):
    _need_torch()
    record = next(r for r in ACTIVATIONS if r.name == name)
    reference = ACTIVATION_REFERENCES[name]
    for parameters in _parameter_sets(record):
        kwargs = {str(s): float(v) for s, v in parameters.items()}
        tuned = record.with_parameters(**kwargs) if kwargs else record
        if record.elementwise:
            g = tuned.concrete()
            dg = sp.diff(g, S.z)
            mine = [_mp(g, {S.z: v}) for v in Z]
            mine_d = [_mp(dg, {S.z: v}) for v in Z]
            z = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
            out = reference(z, **kwargs)
            out.sum().backward()
            theirs, theirs_d = out.detach().numpy(), z.grad.numpy()
        else:
            width = 4
            symbols = sp.symbols(f"z1:{width + 1}", real=True)
            units = _coupled_units(tuned, width, symbols)
            rng = np.random.default_rng(5)
            mine, mine_d, theirs, theirs_d = [], [], [], []
            for scale in (1.0, 10.0, 40.0):       # well spread logits: the tails of the normalisation
                point = rng.normal(0, scale, width)
                values = dict(zip(symbols, point))
                mine += [_mp(u, values) for u in units]
                mine_d += [_mp(sp.diff(u, v), values) for u in units for v in symbols]
                z = torch.tensor(point, dtype=torch.float64, requires_grad=True)
                out = reference(z, **kwargs)
                theirs += out.detach().tolist()
                theirs_d += torch.autograd.functional.jacobian(lambda t: reference(t, **kwargs), z).flatten().tolist()
        ok, worst = _close(mine, theirs)
        assert ok, f"{name} {kwargs or ''}: the definition differs from torch by up to {worst}"
        ok, worst = _close(mine_d, theirs_d, rtol=1e-7, atol=1e-8)     # torch's hardsigmoid slope is 1/6 to 5e-9
        assert ok, f"{name} {kwargs or ''}: sympy.diff of the definition differs from torch autograd by up to {worst}"


def _loss_points(kind: str, rng):
    """(a or z, y or c) points: a near 0 and 1 (the tails of the logs), y in [0, 1]."""
    points = []
    if kind in ("a", "a+"):
        low = 0.05 if kind == "a+" else 0.0
        for a0 in (1e-6, 1e-3, 0.2, 0.5, 0.8, 0.999, 1 - 1e-6):
            points.append((np.array([a0, 1 - a0, 0.5 * a0 + 0.25]), rng.uniform(low, 1, 3)))
        if kind == "a":
            points.append((np.array([0.3, 0.6, 0.9]), np.array([0.0, 1.0, 0.5])))
    elif kind == "score":
        for _ in range(6):
            points.append((rng.uniform(-2, 2, 4), rng.choice([-1.0, 1.0], 4)))
    elif kind == "logits":
        for scale in (0.5, 3.0, 20.0):
            y = rng.uniform(0.05, 1, 4)
            points.append((rng.normal(0, scale, 4), y / y.sum()))
    else:
        for scale in (0.5, 3.0, 20.0):
            for c in (1, 3):
                z = rng.normal(0, scale, 4)
                points.append((np.exp(z) / np.exp(z).sum(), c))
    return points


@pytest.mark.parametrize("name", [r.name for r in LOSSES if r.name not in NO_REFERENCE])
def test_loss_matches_torch(name):
    _need_torch()
    record = next(r for r in LOSSES if r.name == name)
    kind, reference = LOSS_REFERENCES[name]
    rng = np.random.default_rng(11)
    for parameters in _parameter_sets(record):
        _compare_loss(name, record, kind, reference, parameters, rng)


def _compare_loss(name, record, kind, reference, parameters, rng):
    kwargs = {str(s): float(v) for s, v in parameters.items()}
    for point, target in _loss_points(kind, rng):
        n = len(point)
        a_symbols = sp.symbols(f"a1:{n + 1}", **({"real": True} if kind == "score" else {"positive": True}))
        variables = a_symbols
        if record.separable:
            per_unit = record.per_unit.xreplace(parameters)
            cost = sp.Add(*[per_unit.xreplace({S.a: a_k, S.y: sp.Float(y_k, DIGITS)})
                            for a_k, y_k in zip(a_symbols, target)])
        else:
            cost = record.per_example.xreplace({S.label: target}).replace(
                lambda e: isinstance(e, sp.Indexed) and e.base == S.base("a"), lambda e: a_symbols[int(e.indices[0]) - 1])
        if kind == "logits":                       # the loss of the softmax of z
            z_symbols = sp.symbols(f"z1:{n + 1}", real=True)
            total = sp.Add(*[sp.exp(v) for v in z_symbols])
            cost = cost.xreplace({a_k: sp.exp(z_k) / total for a_k, z_k in zip(a_symbols, z_symbols)})
            variables = z_symbols
        values = dict(zip(variables, point))
        mine = _mp(cost, values)
        mine_d = [_mp(sp.diff(cost, v), values) for v in variables]
        x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
        t = torch.tensor(target - 1, dtype=torch.long) if kind == "label" else torch.tensor(target, dtype=torch.float64)
        out = reference(x, t, **kwargs)
        out.backward()
        where = f"{kind} = {point.tolist()}, target {np.asarray(target).tolist()} {kwargs or ''}"
        ok, worst = _close([mine], [out.item()], rtol=1e-9)
        assert ok, f"{name}: the definition differs from torch by {worst} at {where}"
        ok, worst = _close(mine_d, x.grad.numpy(), rtol=1e-7)
        assert ok, f"{name}: sympy.diff of the definition differs from torch autograd by up to {worst} at {where}"

"""Helpers for the export tests: the catalogue pairs the Network accepts, instances whose output
pre-activations lie where the loss is defined, and an independent cost composed from the
catalogue's *definitions* (not from anything the exporter printed).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

import catalogue_pairs
import symbackprop as sb
from symbackprop import symbols as S
from symbackprop.catalogue import ACTIVATIONS, LOSSES

ELEMENTWISE = [activation for activation in ACTIVATIONS if activation.elementwise]


def accepted_pairs():
    """The (output activation, loss) pairs of tests/catalogue_pairs.py that Network accepts."""
    pairs = []
    for output, loss in catalogue_pairs.pairs():
        try:
            sb.Network((2, 3), output=output, loss=loss)
        except sb.SymbackpropError:
            continue
        pairs.append((output, loss))
    return pairs


def pair_id(pair) -> str:
    return f"{pair[0].name}+{pair[1].name}"


@lru_cache(maxsize=None)
def defined_interval(output_name: str, loss_name: str):
    """An interval of z^L on which ℓ(g(z), y) is finite for targets in [0.1, 0.9], found by evaluating
    the catalogue definitions (mpmath) on a grid; its longest run, shrunk a little at both ends."""
    output = next(a for a in ACTIVATIONS if a.name == output_name)
    loss = next(l for l in LOSSES if l.name == loss_name)
    if not output.elementwise:
        return (-3.0, 3.0)
    per_unit = loss.concrete()
    composed = per_unit.subs(S.a, output.concrete())
    f = sp.lambdify((S.z, S.y), composed, "mpmath")
    grid = np.linspace(-4, 4, 161)
    ok = []
    for z in grid:
        try:
            values = [f(float(z), y) for y in (0.1, 0.9)]   # a Python float: 1/0 raises, no warning
            ok.append(all(abs(complex(v).imag) == 0 and math.isfinite(float(complex(v).real)) for v in values)
                      and abs(z) > 0.02)
        except (ValueError, ZeroDivisionError, TypeError):
            ok.append(False)
    best, start = (0, 0), None
    for index, flag in enumerate(ok + [False]):
        if flag and start is None:
            start = index
        if not flag and start is not None:
            if index - start > best[1] - best[0]:
                best = (start, index)
            start = None
    low, high = grid[best[0]], grid[best[1] - 1]
    margin = 0.15 * (high - low)
    return (float(low + margin), float(high - margin))


def instance(network, layout="rows", m=5, seed=0):
    """(params, X, Y): random weights, the output layer's pre-activations inside the loss's domain
    (small output weights around a bias in the middle of the interval), targets the loss accepts."""
    rng = np.random.default_rng(seed)
    sizes = network.sizes
    low, high = defined_interval(network.output.name, network.loss.name)
    params = []
    for index, (previous, current) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = index == len(sizes) - 2
        scale = 1 / math.sqrt(previous)
        W = rng.normal(scale=scale, size=(current, previous))
        b = rng.normal(scale=0.3, size=current)
        if last:
            W *= 0.1 * (high - low) / 4
            b = rng.uniform(low + 0.3 * (high - low), high - 0.3 * (high - low), size=current)
        params += [W, b]
    X = rng.normal(size=(m, sizes[0]))
    if network.loss.separable and any(log.has(S.y) for log in network.loss.per_unit.atoms(sp.log)):
        Y = rng.uniform(0.1, 0.9, size=(m, sizes[-1]))     # y ln y: targets > 0 (a distribution for softmax)
        if not network.output.elementwise:
            Y /= Y.sum(axis=1, keepdims=True)
    elif not network.output.elementwise or not network.loss.separable:
        Y = np.zeros((m, sizes[-1]))
        Y[np.arange(m), rng.integers(0, sizes[-1], size=m)] = 1.0
    else:
        Y = rng.uniform(0.1, 0.9, size=(m, sizes[-1]))
    # the last hidden layer's activations can be large (exp then gelu reach 40): the output weights are
    # scaled by their size, so that the output pre-activations stay in the loss's domain
    params[-2] /= max(1.0, float(np.abs(_last_hidden_activations(network, params, X)).max()))
    if layout == "ng":
        params = [np.column_stack([b, W]) for W, b in zip(params[0::2], params[1::2])]
    return params, X, Y


def _last_hidden_activations(network, params, X):
    """a^(L-1) of the instance, from the catalogue's definitions (SciPy evaluates erf)."""
    a = X
    for activation, W, b in zip(network.hidden, params[0:-2:2], params[1:-2:2]):
        g = sp.lambdify(S.z, activation.concrete(), modules=["scipy", "numpy"])
        with np.errstate(all="ignore"):
            a = np.broadcast_to(g(a @ W.T + b), (X.shape[0], W.shape[0]))
    return np.nan_to_num(a, nan=0.0, posinf=1e300, neginf=-1e300)


def relative_difference(a, b) -> float:
    """norm(a - b) / norm(a + b) over all arrays (checkNNGradients' measure)."""
    a = np.concatenate([np.ravel(x) for x in a])
    b = np.concatenate([np.ravel(x) for x in b])
    return float(np.linalg.norm(a - b) / np.linalg.norm(a + b))


def reference_form(expr: sp.Expr) -> sp.Expr:
    """A catalogue definition as array libraries can evaluate it from lambdify: max, min and steps as
    Piecewise (torch.where), constant subexpressions such as sqrt(2/pi) as 30-digit numbers."""
    expr = expr.replace(lambda e: isinstance(e, (sp.Max, sp.Min, sp.Heaviside)), lambda e: e.rewrite(sp.Piecewise))
    return expr.replace(lambda e: e.is_number and not e.is_Number and not e.is_Relational, lambda e: e.evalf(30))


def _with_erf(module):
    """lambdify's modules for ``module`` with the library's own erf/erfc (lambdify's default is math.erf,
    which takes no arrays)."""
    if module == "jax":
        from jax.scipy import special
        return [{"erf": special.erf, "erfc": special.erfc}, "jax"]
    if module == "torch":
        import torch
        return [{"erf": torch.special.erf, "erfc": torch.special.erfc}, "torch"]
    return module


def composed_cost(network, module):
    """The cost of ``network`` as a function of (params, X, Y) built from the catalogue's definitions with
    ``module`` ('jax' or 'torch') array functions: the reference autodiff differentiates."""
    xp = {"jax": "jax.numpy", "torch": "torch"}[module]
    modules = _with_erf(module)
    activations = {}
    for layer in range(2, len(network.sizes) + 1):
        activation = network.activation_of(layer)
        if activation.elementwise:
            activations[layer] = sp.lambdify(S.z, reference_form(activation.concrete()), modules)
        else:
            activations[layer] = None   # softmax: written out below from its definition exp(z_k)/Σ exp(z_p)
    if network.loss.separable:
        loss = sp.lambdify((S.a, S.y), reference_form(network.loss.concrete()), modules)
    else:
        loss = None
    l2 = float(network.l2)

    def cost(params, X, Y):
        lib = __import__(xp, fromlist=["x"])
        a = X
        for position, layer in enumerate(range(2, len(network.sizes) + 1)):
            W, b = params[2 * position], params[2 * position + 1]
            z = a @ W.T + b
            if activations[layer] is None:
                e = lib.exp(z)
                a = e / e.sum(1, keepdims=True) if module == "jax" else e / e.sum(1, keepdim=True)
            else:
                a = activations[layer](z)
        per_example = loss(a, Y) if loss is not None else -(Y * lib.log(a))
        m = X.shape[0]
        penalty = sum((W ** 2).sum() for W in params[0::2])
        return per_example.sum() / m + l2 / (2 * m) * penalty

    return cost

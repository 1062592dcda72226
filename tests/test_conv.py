"""Convolution and pooling on the layer language: index arithmetic, padding and window sizes; the derived
backward pass (shifted deltas solved with their window limits, the dilated upstream gradient, the flipped
kernel) against sympy.diff of a small conv written out entry by entry; the exported module against torch
autograd (F.conv2d, F.avg_pool2d, float64), central differences and the Deep Learning Specialization's
published conv_backward check."""
from __future__ import annotations

import importlib.util
import itertools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.derivation import Rule
from symbackprop.export._layer_module import layer_module, layer_source
from symbackprop.layers import Layer, derive_layer, window_record
from symbackprop.layers._windows import InRange
from optional_libraries import require

ROOT = Path(__file__).resolve().parents[1]

CONV = """\
input  x[N, H pad P, V pad P, C]
param  W[K, K, C, F], b[F]
const  S = {S}, P = {P}
size   Ho = (H + 2*P - K)/S + 1, Vo = (V + 2*P - K)/S + 1
y[n, p in Ho, q in Vo, f] = sum(x[n, p*S + i - P, q*S + j - P, c] * W[i, j, c, f], i, j, c) + b[f]
output y
"""


# ---- the language -------------------------------------------------------------------------------------

def test_index_arithmetic_padding_and_sizes_are_read():
    layer = Layer.parse(CONV.format(S=2, P=1))
    (definition,) = layer.definitions
    n, p, q, i, j, c = (sp.Symbol(s, integer=True) for s in "npqijc")
    refs = {r.base.label.name: r for r in definition.rhs.atoms(sp.Indexed)}
    assert refs["x"].indices == (n, 2 * p + i - 1, 2 * q + j - 1, c)
    assert layer.arrays["x"].pads == (None, 1, 1, None)
    H, K = (sp.Symbol(s, integer=True, positive=True) for s in "HK")
    Ho = sp.Symbol("Ho", integer=True, positive=True)
    assert sp.expand(layer.derived_sizes[Ho] - (sp.floor((H + 2 - K) / 2) + 1)) == 0
    assert layer.arrays["y"].sizes[1] == Ho


def test_mean_over_a_window_divides_by_its_size():
    layer = window_record("avgpool", size=3, stride=2).layer()
    rhs = layer.definitions[0].rhs
    assert rhs.has(sp.Sum) and sp.Rational(1, 9) in sp.Mul.make_args(rhs)


BAD = [
    ("input x[N, D]\ny[n, d] = x[n + 1, d]\noutput y", "declare what such reads are", 2, "x[n + 1, d]"),
    ("input x[N, D pad 1]\ny[n, d] = x[n, d*d]\noutput y", "is not affine in d", 2, None),
    ("input x[N, D pad 1]\nparam w[K]\ny[n, p] = sum(x[n, p + i] * w[i], i)\noutput y",
     "index p appears only in index arithmetic", 3, None),
    ("input x[N, D pad Q]\ny[n, d] = x[n, d]\noutput y", "undefined constant Q after 'pad'", 1, None),
    ("input x[N, D pad 1]\nconst S = 1.5\ny[n, d] = x[n, d*S]\noutput y", "must be a whole number", 3, None),
    ("input x[N, D pad 0]\ny[n, p in Q] = x[n, p]\noutput y", "undefined size Q after 'in'", 2, None),
    ("input x[N, D]\nsize E = D / Z\ny[n, d] = x[n, d]\noutput y", "undefined size Z", 2, None),
]


@pytest.mark.parametrize("text, message, line, _", BAD)
def test_misuse_is_a_clear_error_with_line_and_caret(text, message, line, _):
    with pytest.raises(sb.LayerSpecError) as info:
        Layer.parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith(f"line {line}:")
    assert "^" in str(info.value)


def test_cli_layer_def_misuse_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(BAD[0][0])
    process = subprocess.run([sys.executable, "-m", "symbackprop", "derive", "--layer-def", str(bad)],
                             capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=120)
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert "pad" in process.stderr and "^" in process.stderr


# ---- the derivation -----------------------------------------------------------------------------------

def _rules(derivation, name):
    return [step.rule for step in derivation.steps_for(name)]


def test_stride_1_reaches_the_full_convolution_with_the_flipped_kernel():
    derivation = derive_layer(Layer.parse(CONV.format(S=1, P=0)))
    rules = _rules(derivation, "x")
    assert rules == [Rule.CHAIN_RULE, Rule.KRONECKER, Rule.WINDOW, Rule.FLIP]
    window = derivation.steps_for("x")[2].statement.rhs
    brackets = window.atoms(InRange)
    assert len(brackets) == 2              # the window limits, kept as Iverson brackets
    # the p − h pattern the flip is found from: W read at h − p
    assert any(sp.expand(ref.indices[0]).coeff(sp.Symbol("p", integer=True)) == -1
               for ref in window.atoms(sp.Indexed) if ref.base.label.name == "W")
    final = derivation.gradient("x").final
    assert {str(ref.indices[0]) for ref in final.atoms(sp.Indexed) if ref.base.label.name == "W"} == {"K - u - 1"}
    assert final.atoms(InRange)           # dy's own range stays explicit, as a bracket on its read


def test_stride_2_dilates_the_upstream_gradient_first():
    derivation = derive_layer(Layer.parse(CONV.format(S=2, P=1)))
    assert _rules(derivation, "x") == [Rule.CHAIN_RULE, Rule.KRONECKER, Rule.WINDOW, Rule.DILATION,
                                       Rule.DILATION, Rule.FLIP]
    (auxiliary,) = derivation.gradient("x").auxiliary
    assert auxiliary[0] == "dy_dil"
    assert derivation.gradient("W").final.has(sp.IndexedBase("x", real=True))     # correlation of x with dy
    assert not derivation.gradient("b").final.atoms(sp.KroneckerDelta)


def test_derivation_is_flat_in_image_size_and_channels():
    layer = Layer.parse(CONV.format(S=1, P=1))
    assert {str(s) for s in layer.sizes} >= {"N", "H", "V", "C", "K", "F"}   # symbols, never numbers


def _evaluate(expr, sizes, values):
    """An index expression at concrete sizes: sums expanded, reads outside an array's range zero (padding)."""
    expr = expr.xreplace({sp.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()})

    def read(ref):
        array = values[ref.base.label.name]
        index = tuple(int(i) for i in ref.indices)
        inside = all(0 <= k < s for k, s in zip(index, array.shape))
        return sp.Rational(array[index]) if inside else sp.Integer(0)

    expanded = expr.doit()
    return expanded.replace(lambda e: isinstance(e, sp.Indexed) and all(i.is_Integer for i in e.indices), read)


#: a dilated convolution (dilation R: the kernel's taps R apart), torch's F.conv2d(..., dilation=R)
DILATED = """\
input  x[N, H pad P, V pad P, C]
param  W[K, K, C, F], b[F]
const  S = {S}, P = {P}, R = {R}
size   Ho = (H + 2*P - R*(K - 1) - 1)/S + 1, Vo = (V + 2*P - R*(K - 1) - 1)/S + 1
y[n, p in Ho, q in Vo, f] = sum(x[n, p*S + i*R - P, q*S + j*R - P, c] * W[i, j, c, f], i, j, c) + b[f]
output y
"""


@pytest.mark.parametrize("S, P, R", [(1, 0, 1), (1, 1, 1), (2, 0, 1), (2, 1, 1), (1, 1, 2), (2, 1, 2), (2, 1, 3),
                                     (3, 2, 2)])
def test_derived_gradients_equal_sympy_diff_of_a_small_conv(S, P, R):
    """1 example, a 4x4 image, 2 channels in, 2 filters of 2x2 (taps R apart): the cost Σ y·G written out entry
    by entry (zero padding by hand), differentiated by sympy.diff; the derived index forms evaluated at the same
    point."""
    N, H, V, C, K, F = 1, 4, 4, 2, 2, 2
    Ho, Vo = (H + 2 * P - R * (K - 1) - 1) // S + 1, (V + 2 * P - R * (K - 1) - 1) // S + 1
    rng = np.random.default_rng(S * 10 + P + 100 * R)
    xs, ws = sp.symbols(f"x0:{N * H * V * C}"), sp.symbols(f"w0:{K * K * C * F}")
    x, w = sp.Array(xs, (N, H, V, C)), sp.Array(ws, (K, K, C, F))
    b = sp.symbols(f"b0:{F}")
    G = rng.integers(-3, 4, (N, Ho, Vo, F))

    def xpad(n, r, s, c):
        return x[n, r, s, c] if 0 <= r < H and 0 <= s < V else 0

    cost = sum(G[n, p, q, f] * (sum(xpad(n, p * S + i * R - P, q * S + j * R - P, c) * w[i, j, c, f]
                                    for i in range(K) for j in range(K) for c in range(C)) + b[f])
               for n, p, q, f in itertools.product(range(N), range(Ho), range(Vo), range(F)))
    point = {s: sp.Rational(int(rng.integers(-9, 10)), 7) for s in [*xs, *ws, *b]}
    values = {"x": np.array([[[[point[x[n, r, s, c]] for c in range(C)] for s in range(V)] for r in range(H)]
                             for n in range(N)], dtype=object),
              "W": np.array([[[[point[w[i, j, c, f]] for f in range(F)] for c in range(C)] for j in range(K)]
                             for i in range(K)], dtype=object),
              "b": np.array([point[v] for v in b], dtype=object), "dy": G.astype(object)}
    derivation = derive_layer(Layer.parse(CONV.format(S=S, P=P) if R == 1 else DILATED.format(S=S, P=P, R=R)))
    assert not derivation.gradient("x").final.has(sp.KroneckerDelta)     # every shifted delta solved
    sizes = {"N": N, "H": H, "V": V, "C": C, "K": K, "F": F, "Ho": Ho, "Vo": Vo}
    for record in derivation.gradient("x").auxiliary:      # the dilated dy, from its own definition
        name, dims, definition, shape = record[:4]
        concrete = tuple(int(sp.sympify(s).xreplace({sp.Symbol(k, integer=True, positive=True): v
                                                     for k, v in sizes.items()})) for s in shape)
        table = np.empty(concrete, dtype=object)
        for index in itertools.product(*map(range, concrete)):
            table[index] = _evaluate(definition.xreplace(dict(zip(dims, index))), sizes, values)
        values[name] = table
    for array, symbols in (("x", x), ("W", w)):
        gradient = derivation.gradient(array)
        points = [(0, 0, 0, 0), (0, 1, 2, 1), (0, 3, 1, 0), (0, 3, 3, 1)] if array == "x" else \
            [(0, 0, 0, 0), (1, 0, 1, 1), (1, 1, 0, 1)]
        for index in points:
            expected = sp.diff(cost, symbols[index]).xreplace(point)
            found = _evaluate(gradient.final.xreplace(dict(zip(gradient.indices, index))), sizes, values)
            assert found == expected, (array, index)
    gradient = derivation.gradient("b")
    for f in range(F):
        assert _evaluate(gradient.final.xreplace({gradient.indices[0]: f}), sizes, values) == sp.diff(cost, b[f])


# ---- the export ---------------------------------------------------------------------------------------

torch = require("torch", "comparing the exported conv2d and pooling modules with torch")
Fn = torch.nn.functional


def _relative(found, expected):
    return np.max(np.abs(found - expected)) / max(np.max(np.abs(expected)), 1e-300)


def _against_torch(record, values, torch_forward):
    module = layer_module(derive_layer(record.layer()))
    out, cache = module.forward(*values)
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    expected = torch_forward(*tensors)
    assert out.shape == tuple(expected.shape)
    assert _relative(out, expected.detach().numpy()) < 1e-12
    dout = np.random.default_rng(5).standard_normal(out.shape)
    (expected * torch.tensor(dout)).sum().backward()
    grads = module.backward(dout, cache)
    for found, tensor in zip(grads, tensors):
        assert found.shape == tensor.shape
        assert _relative(found, tensor.grad.numpy()) < 1e-10
    return module


CASES = [  # layout, stride, pad, image height, width, kernel
    ("ng-dls", 1, 0, 5, 6, 3), ("ng-dls", 2, 1, 7, 7, 3), ("ng-dls", 2, 2, 4, 4, 2), ("ng-dls", 1, 2, 6, 5, 2),
    ("cs231n", 1, 1, 6, 6, 3), ("cs231n", 2, 0, 8, 7, 3), ("cs231n", 2, 2, 5, 6, 2), ("cs231n", 3, 1, 9, 8, 2),
]


@pytest.mark.parametrize("layout, stride, pad, H, V, K", CASES)
def test_exported_conv2d_equals_torch_autograd(layout, stride, pad, H, V, K):
    rng = np.random.default_rng(H * V + stride + pad)
    record = window_record("conv2d", stride=stride, pad=pad, layout=layout)
    if layout == "cs231n":
        values = [rng.standard_normal((2, 3, H, V)), rng.standard_normal((4, 3, K, K)), rng.standard_normal(4)]
        _against_torch(record, values, lambda x, w, b: Fn.conv2d(x, w, b, stride=stride, padding=pad))
    else:
        values = [rng.standard_normal((3, H, V, 2)), rng.standard_normal((K, K, 2, 5)),
                  rng.standard_normal((1, 1, 1, 5))]          # the course's b (1, 1, 1, n_C)
        _against_torch(record, values, lambda x, w, b: Fn.conv2d(
            x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), b.reshape(-1), stride=stride, padding=pad
        ).permute(0, 2, 3, 1))


@pytest.mark.parametrize("layout, size, stride, H, V", [("ng-dls", 2, 2, 6, 7), ("cs231n", 3, 1, 5, 6),
                                                         ("cs231n", 2, 2, 8, 8)])
def test_exported_avgpool_equals_torch_autograd(layout, size, stride, H, V):
    rng = np.random.default_rng(size + stride)
    record = window_record("avgpool", size=size, stride=stride, layout=layout)
    if layout == "cs231n":
        _against_torch(record, [rng.standard_normal((2, 3, H, V))], lambda x: Fn.avg_pool2d(x, size, stride))
    else:
        _against_torch(record, [rng.standard_normal((2, H, V, 3))],
                       lambda x: Fn.avg_pool2d(x.permute(0, 3, 1, 2), size, stride).permute(0, 2, 3, 1))


def test_exported_conv2d_equals_central_differences():
    module = layer_module(derive_layer(window_record("conv2d", stride=2, pad=1, layout="cs231n").layer()))
    rng = np.random.default_rng(11)
    values = [rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2)]
    out, cache = module.forward(*values)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    h = 1e-6
    for position, found in enumerate(grads):
        numeric = np.zeros_like(values[position])
        for flat in range(numeric.size):
            plus = [v.copy() for v in values]
            minus = [v.copy() for v in values]
            plus[position].flat[flat] += h
            minus[position].flat[flat] -= h
            numeric.flat[flat] = (np.sum(module.forward(*plus)[0] * dout)
                                  - np.sum(module.forward(*minus)[0] * dout)) / (2 * h)
        assert _relative(found, numeric) < 1e-7


def test_ng_dls_bias_has_the_course_shape_and_a_wrong_shape_is_named():
    """DLS's conv_forward takes b (1, 1, 1, n_C); (n_C,) is refused with both shapes named (cs231n keeps b (F,))."""
    module = layer_module(derive_layer(window_record("conv2d", stride=1, pad=0, layout="ng-dls").layer()))
    rng = np.random.default_rng(2)
    x, W = rng.standard_normal((2, 4, 4, 3)), rng.standard_normal((2, 2, 3, 5))
    with pytest.raises(ValueError, match=r"b has shape \(5,\); expected \(1, 1, 1, Co\) = \(1, 1, 1, 5\)"):
        module.forward(x, W, rng.standard_normal(5))
    b = rng.standard_normal((1, 1, 1, 5))
    Z, cache = module.forward(x, W, b)
    dZ = rng.standard_normal(Z.shape)
    db = module.backward(dZ, cache)[2]
    assert db.shape == (1, 1, 1, 5) and np.allclose(db[0, 0, 0], dZ.sum(axis=(0, 1, 2)), rtol=1e-13)
    Z2, _ = module.forward(x, W, b + 1.0)                          # b broadcasts over every output position
    assert np.allclose(Z2 - Z, 1.0, rtol=1e-13)
    source = layer_source(derive_layer(window_record("conv2d", layout="cs231n").layer()))
    assert "expected (F,)" in source


def test_exported_module_has_no_python_loop_over_examples_or_pixels():
    source = layer_source(derive_layer(window_record("conv2d", stride=2, pad=1).layer()))
    for function in ("forward", "backward"):
        body = source.split(f"def {function}(")[1].split("\ndef ")[0]
        assert not re.search(r"^\s*(for|while)\b", body, re.MULTILINE), function
    assert "sliding_window_view" in source and "np.tensordot" in source


def test_dls_conv_backward_published_check():
    """Course 4, "Convolution model, step by step": seed 1, pad 2, stride 2, dZ = Z."""
    module = layer_module(derive_layer(window_record("conv2d", stride=2, pad=2, layout="ng-dls").layer()))
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, cache = module.forward(A_prev, W, b)                    # the course's shapes, b (1, 1, 1, n_C)
    dA, dW, db = module.backward(Z, cache)
    assert db.shape == (1, 1, 1, 8)
    assert abs(np.mean(Z) - 0.0489952035289) < 1e-12           # the course's conv_forward check
    assert abs(np.mean(dA) - 1.45243777754) < 1e-10
    assert abs(np.mean(dW) - 1.72699145831) < 1e-10
    assert abs(np.mean(db) - 7.83923256462) < 1e-10


# ---- the CLI ------------------------------------------------------------------------------------------

def _cli(*arguments, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "symbackprop", *arguments], capture_output=True, text=True,
                          cwd=cwd, env={"PYTHONPATH": str(ROOT)}, timeout=300)


def test_cli_exports_conv2d_with_stride_pad_and_layout(tmp_path):
    target = tmp_path / "conv.py"
    process = _cli("export", "--layer", "conv2d", "--stride", "2", "--pad", "1", "--notation", "cs231n",
                   "-o", str(target))
    assert process.returncode == 0, process.stderr
    assert "forward(x, w, b)" in process.stdout
    assert "def backward(dout, cache)" in target.read_text()


@pytest.mark.parametrize("arguments, message", [
    (("--layer", "conv2d", "--stride", "0"), "--stride 0: expected a whole number >= 1"),
    (("--layer", "conv2d", "--pad", "x"), "--pad 'x': expected a whole number >= 0"),
    (("--layer", "conv2d", "--notation", "nielsen"), "ng-dls or cs231n"),
    (("--layer", "batchnorm", "--stride", "2"), "--stride applies to --layer conv2d or avgpool only"),
])
def test_cli_bad_window_options_exit_2(tmp_path, arguments, message):
    process = _cli("export", *arguments, "-o", str(tmp_path / "m.py"))
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert message in process.stderr


# ---- max pooling ----------------------------------------------------------------------------------------

def test_max_pooling_routes_to_the_first_maximum():
    derivation = derive_layer(window_record("maxpool", size=2, stride=2).layer())
    rules = _rules(derivation, "A_prev")
    assert rules == [Rule.CHAIN_RULE, Rule.KRONECKER, Rule.WINDOW, Rule.ROUTING]   # no flip: the mask is per window
    assert derivation.gradient("A_prev").final.atoms(InRange)


@pytest.mark.parametrize("layout, size, stride, H, V, ties", [
    ("cs231n", 2, 2, 6, 7, False), ("cs231n", 3, 1, 5, 6, True), ("ng-dls", 2, 1, 5, 5, True),
    ("ng-dls", 3, 2, 7, 8, False)])
def test_exported_maxpool_equals_torch_autograd_ties_included(layout, size, stride, H, V, ties):
    """Integer inputs in -2..2 make many windows with tied maxima: torch's CPU max pooling routes to the first
    maximum in row-major order, and so does the exported module."""
    rng = np.random.default_rng(size * 10 + stride)
    shape = (2, 3, H, V) if layout == "cs231n" else (2, H, V, 3)
    x = rng.integers(-2, 3, shape).astype(float) if ties else rng.standard_normal(shape)
    record = window_record("maxpool", size=size, stride=stride, layout=layout)
    if layout == "cs231n":
        _against_torch(record, [x], lambda t: Fn.max_pool2d(t, size, stride))
    else:
        _against_torch(record, [x], lambda t: Fn.max_pool2d(t.permute(0, 3, 1, 2), size, stride).permute(0, 2, 3, 1))


@pytest.mark.parametrize("mode, expected", [
    ("maxpool", [[0, 0], [5.05844394, -1.68282702], [0, 0]]),
    ("avgpool", [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]])])
def test_dls_pool_backward_published_check(mode, expected):
    """Course 4: seed 1, A_prev = randn(5, 5, 3, 2), f = 2, stride 1, dA = randn(5, 4, 2, 2); dA_prev[1, 1]."""
    module = layer_module(derive_layer(window_record(mode, size=2, stride=1, layout="ng-dls").layer()))
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    A, cache = module.forward(A_prev)
    dA = np.random.randn(5, 4, 2, 2)
    assert abs(np.mean(dA) - 0.145713902729) < 1e-11
    (dA_prev,) = module.backward(dA, cache)
    assert dA_prev.shape == (5, 5, 3, 2)
    assert np.allclose(dA_prev[1, 1], expected, atol=1e-8, rtol=0)


# ---- convolutional models -------------------------------------------------------------------------------

def _torch_cnn(spec, X, Y, params):
    """The two models of the tests, written in torch (channels last in, NHWC flattening as the model's affine)."""
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    W1, b1, W5, b5 = tensors
    x = torch.tensor(X).permute(0, 3, 1, 2)
    if spec == CNN_MODELS[0]:
        a = Fn.max_pool2d(torch.relu(Fn.conv2d(x, W1.permute(3, 2, 0, 1), b1, padding=1)), 2)
    else:
        a = Fn.avg_pool2d(torch.tanh(Fn.conv2d(x, W1.permute(3, 2, 0, 1), b1, stride=2)), 2)
    flat = a.permute(0, 2, 3, 1).reshape(X.shape[0], -1)
    logits = flat @ W5.reshape(-1, W5.shape[-1]) + b5
    loss = -(torch.tensor(Y) * torch.log_softmax(logits, 1)).sum(1).mean()
    loss.backward()
    return loss.item(), [t.grad.numpy() for t in tensors]


CNN_MODELS = ("conv2d(8, k=3, pad=1) > relu > maxpool(2) > flatten > affine(10) > softmax",
              "conv2d(4, k=3, stride=2) > tanh > avgpool(2) > flatten > affine(3) > softmax")


@pytest.mark.parametrize("spec, image", [(CNN_MODELS[0], (8, 8, 1)), (CNN_MODELS[1], (9, 9, 2))])
def test_cnn_model_derives_exports_and_equals_torch(spec, image):
    from symbackprop.export._model_module import model_module
    from symbackprop.models import build_model, derive_model
    model = build_model(spec, "categorical-cross-entropy", image)
    module = model_module(model, derive_model(model))
    rng = np.random.default_rng(4)
    params = [rng.standard_normal(model.shape(name)) for name in model.params]
    X = rng.standard_normal((5, *image))
    classes = model.shape(model.params[-1])[0]
    Y = np.eye(classes)[rng.integers(0, classes, 5)]
    cost, grads = module.cost_and_gradients(params, X, Y)
    expected_cost, expected = _torch_cnn(spec, X, Y, params)
    assert abs(cost - expected_cost) < 1e-12 * abs(expected_cost)
    for found, want in zip(grads, expected):
        assert found.shape == want.shape and _relative(found, want) < 1e-10


@pytest.mark.parametrize("spec, message", [
    ("conv2d(8, q=3) > flatten > affine(2) > softmax", "conv2d takes k=, pad=, stride=, dilation=, not q="),
    ("conv2d(8) > affine(2) > softmax", "affine reads rows (N, D); its input here is an image: add flatten"),
    ("conv2d(8) > relu", "the model ends in an image"),
    ("conv2d(8, k=9) > flatten > affine(2) > softmax", "its output would have size"),
    ("affine(4) > maxpool(2) > softmax", "maxpool reads an image"),
    ("conv2d(8) > flatten > affine(2) > softmax", "--input-size '8x8': expected a positive integer"),
])
def test_bad_cnn_models_exit_2(spec, message):
    size = "8" if spec.startswith("affine") else "8x8" if "input-size" in message else "8x8x1"
    process = _cli("derive", "--model", spec, "--loss", "categorical-cross-entropy", "--input-size", size)
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr
    assert message in process.stderr


def test_cli_derives_a_cnn_model():
    process = _cli("derive", "--model", CNN_MODELS[0], "--loss", "categorical-cross-entropy", "--input-size", "8x8x1")
    assert process.returncode == 0, process.stderr
    assert "routed to the window's maximum" in process.stdout


# ---- check --layer conv2d -------------------------------------------------------------------------------

def test_check_reads_the_index_form_of_conv2d():
    """The flipped-kernel full convolution written by hand in the index form is correct; dW without the
    padding offset is not (and gets a counterexample)."""
    from symbackprop.checker._layer_check import check_layer
    layer = window_record("conv2d", stride=1, pad=0).layer()
    right = check_layer("dA_prev[m, a, r, k] = sum(dZ[m, a + u - Fk + 1, r + v - Fk + 1, c] * "
                        "W[Fk - 1 - u, Fk - 1 - v, k, c], u in Fk, v in Fk, c)", layer)
    assert right.correct, right
    layer = window_record("conv2d", stride=1, pad=1).layer()
    wrong = check_layer("dW[i, j, k, c] = sum(A_prev[m, h + i, w + j, k] * dZ[m, h, w, c], m, h, w)", layer)
    assert not wrong.correct


@pytest.mark.parametrize("fmt", ["text", "json", "latex", "html"])
def test_conv2d_derivation_renders_in_every_format(fmt):
    from symbackprop.rendering.layer import render_layer
    out = render_layer(derive_layer(window_record("conv2d", stride=2, pad=1).layer()), fmt)
    assert "A" in out and len(out) > 1000
    if fmt == "latex":
        assert r"{A_{\mathrm{prev}}}_{" in out and r"\left[0 \le" in out      # braced name; the window bracket


@pytest.mark.parametrize("formula, correct", [("dA_prev = conv(pad(dZ), rot180(W))", True),
                                              ("dA_{prev} = conv(pad(dZ), W)", False),
                                              (r"dA_{prev} = \operatorname{conv}(\operatorname{pad}(dZ), "
                                               r"\operatorname{rot180}(W))", True),
                                              (r"dA_{prev} = \mathrm{conv}(\mathrm{pad}(dZ), W)", False)])
def test_check_reads_the_full_convolution_with_the_flipped_kernel(formula, correct):
    """NumPy-like and LaTeX: pad(dZ) pads by f − 1 − P; without rot180 the kernel is not flipped: incorrect."""
    from symbackprop.checker._layer_check import check_layer
    verdict = check_layer(formula, window_record("conv2d", stride=1, pad=1).layer())
    assert verdict.correct is correct, verdict
    if not correct:          # named by the user's own formula evaluated with the kernel flipped: rot180 missing
        assert "the kernel W not flipped" in verdict.diagnosis and "rot180(W)" in verdict.diagnosis


def test_conv2d_derivation_never_sees_a_concrete_size():
    """Derivation flat in image size and channel counts: every sum limit and every array index range of the
    derived gradients is a size symbol of the layer (or a number from the stride and padding), never an image
    size or a channel count; the layer has no number among its sizes."""
    layer = window_record("conv2d", stride=2, pad=1, layout="cs231n").layer()
    sizes = set(layer.sizes) | set(layer.derived_sizes)
    assert all(isinstance(s, sp.Symbol) for s in sizes)
    assert {str(s) for s in layer.arrays["x"].sizes} == {"N", "C", "H", "W"}
    derivation = derive_layer(layer)
    for name in ("x", "w", "b"):
        final = derivation.gradient(name).final
        limits = [limit for s in final.atoms(sp.Sum) for limit in s.limits]
        assert limits, name
        for _, lo, hi in limits:
            assert lo == 0 and hi.free_symbols and hi.free_symbols <= sizes, (name, hi)
        assert final.free_symbols - {s for ref in final.atoms(sp.Indexed) for s in ref.free_symbols} <= sizes


@pytest.mark.parametrize("channels, filters, scatters", [(2, 6, True), (6, 2, False)])
def test_dx_is_evaluated_the_cheaper_way_and_both_ways_equal_torch(channels, filters, scatters):
    """The derived dA_prev (a full convolution with the flipped kernel) is also printed transposed, a scatter of
    dZ·Wᵀ over the window offsets (col2im); the module takes the one its operation count finds cheaper at the
    arrays' sizes (stride 1: scatter when 3·n_C_prev < 2·n_C at equal image sizes), and both equal torch."""
    record = window_record("conv2d", stride=1, pad=1, layout="ng-dls")
    module = layer_module(derive_layer(record.layer()))
    source = layer_source(derive_layer(record.layer()))
    assert "_unwindow(" in source and "_scatter_dA_prev = " in source
    calls = []
    original = module._unwindow
    module._unwindow = lambda *args: calls.append(1) or original(*args)
    rng = np.random.default_rng(channels)
    values = [rng.standard_normal((2, 5, 6, channels)), rng.standard_normal((3, 3, channels, filters)),
              rng.standard_normal((1, 1, 1, filters))]
    out, cache = module.forward(*values)
    dout = rng.standard_normal(out.shape)
    grads = module.backward(dout, cache)
    assert bool(calls) == scatters
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    expected = Fn.conv2d(tensors[0].permute(0, 3, 1, 2), tensors[1].permute(3, 2, 0, 1), tensors[2].reshape(-1),
                         padding=1).permute(0, 2, 3, 1)
    (expected * torch.tensor(dout)).sum().backward()
    for found, tensor in zip(grads, tensors):
        assert _relative(found, tensor.grad.numpy()) < 1e-10


def test_the_forward_window_is_kept_for_dw():
    """dW contracts the forward pass's window view of the input (cached), not a second window of it."""
    source = layer_source(derive_layer(window_record("conv2d", stride=2, pad=1, layout="cs231n").layer()))
    backward = source.split("def backward(")[1].split("\ndef ")[0]
    assert "cache['f1']" in backward and "_window(x," not in backward


@pytest.mark.parametrize("layout, stride, pad", [("ng-dls", 1, 1), ("cs231n", 2, 1)])
def test_checker_evaluates_derived_gradients_over_whole_arrays_as_entry_by_entry(layout, stride, pad):
    """The checker's numbers for the derived gradients (brackets, padded reads, the dilated upstream gradient)
    come from a whole-array evaluation; it equals the entry-by-entry evaluation, and the exported module."""
    from symbackprop.checker import _layer_values as lv
    derivation = derive_layer(window_record("conv2d", stride=stride, pad=pad, layout=layout).layer())
    layer = derivation.layer
    values = lv.sample(layer, derivation, np.random.default_rng(3))
    sizes = lv.concrete_sizes(layer)
    for gradient in [g for g in derivation.gradients.values() if g.kind != "output"]:
        table = values[gradient.name].array
        for position in itertools.islice(itertools.product(*(range(n) for n in table.shape)), 0, None, 7):
            env = {str(index): value for index, value in zip(gradient.indices, position)}
            assert table[position] == pytest.approx(lv._value(gradient.final, env, values), rel=1e-12, abs=1e-12)
    module = layer_module(derivation)
    inputs = [values[a.name].array for a in layer.differentiable]
    if layer.shapes:
        inputs[-1] = inputs[-1].reshape(1, 1, 1, -1)
    out, cache = module.forward(*inputs)
    output = layer.outputs[0]
    grads = module.backward(values["d" + output].array, cache)
    for array, found in zip(layer.differentiable, grads):
        assert _relative(found.reshape(values["d" + array.name].array.shape), values["d" + array.name].array) < 1e-12
    assert set(sizes) >= {str(s) for s in layer.sizes}


# ---- image models whose sizes equal no other width (issue 25, part B, item 2) ----------------------------

def _torch_image_model(model, X, Y, params):
    """Any chain of conv2d, avgpool, maxpool, activations, flatten, affine and softmax, read from the model
    string and written in torch (F.conv2d, F.avg_pool2d, F.max_pool2d; NHWC flattening as the model's affine)."""
    from symbackprop.models import parse_model
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    remaining = list(tensors)
    x = torch.tensor(X).permute(0, 3, 1, 2)
    for use in parse_model(model.spec):
        options = {name: value for name, value, _ in use.options}
        if use.name == "conv2d":
            W, b = remaining.pop(0), remaining.pop(0)
            x = Fn.conv2d(x, W.permute(3, 2, 0, 1), b, stride=options.get("stride", 1), padding=options.get("pad", 0),
                          dilation=options.get("dilation", 1))
        elif use.name in ("avgpool", "maxpool"):
            pool = Fn.avg_pool2d if use.name == "avgpool" else Fn.max_pool2d
            x = pool(x, use.widths[0], stride=options.get("stride", use.widths[0]))
        elif use.name == "flatten":
            x = x.permute(0, 2, 3, 1).reshape(X.shape[0], -1)
        elif use.name == "affine":
            W, b = remaining.pop(0), remaining.pop(0)
            x = x @ W.reshape(-1, W.shape[-1]) + b
        elif use.name == "softmax":
            x = torch.log_softmax(x, 1)
        else:
            x = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[use.name](x)
    assert not remaining
    loss = -(torch.tensor(Y) * x).sum(1).mean()
    loss.backward()
    return loss.item(), [t.grad.numpy() for t in tensors]


SIZED_MODELS = [  # (model, image): every derived size differs from the widths the inputs and parameters have
    ("conv2d(2, k=3) > avgpool(2) > flatten > affine(3) > softmax", "8x8x2"),
    ("conv2d(4, k=3, stride=2, pad=1) > avgpool(2) > flatten > affine(3) > softmax", "11x11x3"),
    ("conv2d(3, k=3) > relu > conv2d(2, k=3) > flatten > affine(3) > softmax", "8x8x2"),
    ("conv2d(3, k=3, pad=1) > tanh > conv2d(2, k=2, pad=1) > maxpool(2) > flatten > affine(4) > softmax", "7x9x2"),
    # a strided convolution after another: its upstream gradient is a stage's, not the model's output's
    ("conv2d(3, k=3) > conv2d(2, k=2, stride=2) > flatten > affine(3) > softmax", "8x8x2"),
    ("conv2d(3, k=3) > relu > conv2d(2, k=3, stride=2, pad=1) > flatten > affine(3) > softmax", "8x9x2"),
    # dilated convolutions (the record's dilation=), one strided, after another
    ("conv2d(3, k=3, pad=2, dilation=2) > tanh > conv2d(2, k=2, stride=2, dilation=3) > flatten > affine(3) > softmax",
     "9x8x2"),
]


@pytest.mark.parametrize("spec, image", SIZED_MODELS)
def test_a_model_whose_window_sizes_equal_no_other_width_derives_exports_and_equals_torch(spec, image, tmp_path):
    process = _cli("derive", "--model", spec, "--loss", "categorical-cross-entropy", "--input-size", image)
    assert process.returncode == 0, process.stderr
    path = tmp_path / "model.py"
    process = _cli("export", "--model", spec, "--loss", "categorical-cross-entropy", "--input-size", image,
                   "-o", str(path))
    assert process.returncode == 0, process.stderr
    spec_ = importlib.util.spec_from_file_location("model", path)
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)
    from symbackprop.models import build_model
    model = build_model(spec, "categorical-cross-entropy", image)
    shape = tuple(int(side) for side in image.split("x"))
    rng = np.random.default_rng(25)
    params = [rng.standard_normal(model.shape(name)) for name in model.params]
    X = rng.standard_normal((4, *shape))
    classes = model.shape(model.params[-1])[0]
    Y = np.eye(classes)[rng.integers(0, classes, 4)]
    cost, grads = module.cost_and_gradients(params, X, Y)
    expected_cost, expected = _torch_image_model(model, X, Y, params)
    assert abs(cost - expected_cost) < 1e-10 * abs(expected_cost)
    for name, found, want in zip(model.params, grads, expected):
        assert found.shape == want.shape and _relative(found, want) < 1e-10, name


# ---- dilated and depthwise convolutions (issue 25, part B, item 3) ---------------------------------------

#: depthwise: one K x K filter per channel (torch's groups = C), taps R apart
DEPTHWISE = """\
input  x[N, H pad P, V pad P, C]
param  W[K, K, C], b[C]
const  S = {S}, P = {P}, R = {R}
size   Ho = (H + 2*P - R*(K - 1) - 1)/S + 1, Vo = (V + 2*P - R*(K - 1) - 1)/S + 1
y[n, p in Ho, q in Vo, c] = sum(x[n, p*S + i*R - P, q*S + j*R - P, c] * W[i, j, c], i, j) + b[c]
output y
"""


class _Text:
    """A layer text standing where a record is expected (``layer()``)."""

    def __init__(self, text):
        self.text = text

    def layer(self):
        return Layer.parse(self.text)


@pytest.mark.parametrize("S, P, R, H, V, K", [(1, 1, 2, 9, 8, 3), (1, 0, 2, 7, 7, 2), (2, 1, 2, 9, 10, 3),
                                              (2, 0, 3, 11, 9, 2), (3, 2, 2, 12, 11, 3)])
def test_exported_dilated_conv2d_equals_torch_autograd(S, P, R, H, V, K):
    rng = np.random.default_rng(S + 10 * P + 100 * R)
    values = [rng.standard_normal((2, H, V, 3)), rng.standard_normal((K, K, 3, 4)), rng.standard_normal(4)]
    _against_torch(_Text(DILATED.format(S=S, P=P, R=R)), values, lambda x, W, b: Fn.conv2d(
        x.permute(0, 3, 1, 2), W.permute(3, 2, 0, 1), b, stride=S, padding=P, dilation=R).permute(0, 2, 3, 1))


@pytest.mark.parametrize("layout, S, P, R", [("ng-dls", 1, 1, 2), ("ng-dls", 2, 0, 3), ("cs231n", 1, 2, 2),
                                              ("cs231n", 3, 1, 2)])
def test_the_conv2d_record_with_a_dilation_equals_torch_autograd(layout, S, P, R):
    record = window_record("conv2d", stride=S, pad=P, layout=layout, dilation=R)
    assert "dilation" in record.description and f"R = {R}" in record.text
    rng = np.random.default_rng(R * 7 + S)
    if layout == "ng-dls":
        values = [rng.standard_normal((2, 10, 9, 3)), rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(4)]
        forward = lambda x, W, b: Fn.conv2d(x.permute(0, 3, 1, 2), W.permute(3, 2, 0, 1), b.reshape(-1), stride=S,
                                            padding=P, dilation=R).permute(0, 2, 3, 1)
    else:
        values = [rng.standard_normal((2, 3, 10, 9)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)]
        forward = lambda x, w, b: Fn.conv2d(x, w, b, stride=S, padding=P, dilation=R)
    if layout == "ng-dls":
        values[2] = values[2].reshape(1, 1, 1, 4)
    _against_torch(record, values, forward)


def test_a_dilation_is_refused_for_pooling_and_below_1():
    with pytest.raises(sb.SymbackpropError, match="takes no dilation"):
        window_record("maxpool", dilation=2)
    with pytest.raises(sb.SymbackpropError, match="expected a whole number >= 1"):
        window_record("conv2d", dilation=0)


@pytest.mark.parametrize("S, P, R, H, V, K", [(1, 2, 2, 9, 8, 3), (2, 1, 2, 10, 9, 3), (1, 0, 3, 8, 8, 2)])
def test_exported_depthwise_dilated_conv2d_equals_torch_autograd_with_groups(S, P, R, H, V, K):
    rng = np.random.default_rng(S + 10 * P + 100 * R + 1)
    C = 3
    values = [rng.standard_normal((2, H, V, C)), rng.standard_normal((K, K, C)), rng.standard_normal(C)]
    _against_torch(_Text(DEPTHWISE.format(S=S, P=P, R=R)), values, lambda x, W, b: Fn.conv2d(
        x.permute(0, 3, 1, 2), W.permute(2, 0, 1)[:, None], b, stride=S, padding=P, dilation=R,
        groups=C).permute(0, 2, 3, 1))


@pytest.mark.parametrize("S, R", [(1, 2), (2, 2), (2, 3)])
def test_dilated_dx_is_a_full_convolution_with_the_flipped_kernel_and_no_delta(S, R):
    derivation = derive_layer(Layer.parse(DILATED.format(S=S, P=1, R=R)))
    gradient = derivation.gradient("x")
    assert not gradient.final.has(sp.KroneckerDelta)
    rules = _rules(derivation, "x")
    assert Rule.FLIP in rules and (Rule.DILATION in rules) == (S > 1)
    reads = [ref for ref in gradient.final.atoms(sp.Indexed) if ref.base.label.name == "W"]
    assert reads and all(sp.expand(i).coeff(u) == -1 for ref in reads for i in ref.indices[:2]
                         for u in sp.expand(i).free_symbols if str(u) not in ("K",))


def test_cli_derives_and_exports_a_dilated_depthwise_layer(tmp_path):
    text = tmp_path / "depthwise.layer"
    text.write_text(DEPTHWISE.format(S=2, P=1, R=2))
    process = _cli("derive", "--layer-def", str(text))
    assert process.returncode == 0, process.stderr
    assert "δ(" not in process.stdout.split("Result:")[1]
    path = tmp_path / "depthwise.py"
    process = _cli("export", "--layer-def", str(text), "-o", str(path))
    assert process.returncode == 0, process.stderr
    from symbackprop.export._bound_names import unbound_names
    assert unbound_names(path.read_text()) == []


@pytest.mark.parametrize("text", [
    "input  x[N, H pad 0]\nsize   Ho = H/2\ny[n, p in Ho] = x[n, 2*p] * x[n, 2*p + 1]\noutput y\n",
    "input  x[N, H pad 0, C]\nsize   Ho = (H - 1)/2 + 1\ny[n, p in Ho, c] = 3 * x[n, 2*p, c]\noutput y\n",
], ids=["read twice", "no window index"])
def test_a_strided_read_the_engine_cannot_solve_is_refused_with_exit_2(text, tmp_path):
    layer = tmp_path / "strided.layer"
    layer.write_text(text)
    for command in (["derive"], ["export", "-o", str(tmp_path / "strided.py")]):
        process = _cli(*command, "--layer-def", str(layer))
        assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr
        assert "dx: the Kronecker delta δ(h, 2*p)" in process.stderr and "cannot be solved" in process.stderr
    assert not (tmp_path / "strided.py").exists()


def test_generated_code_that_reads_an_unbound_name_is_never_written(tmp_path):
    from symbackprop.errors import ExportError
    from symbackprop.export._bound_names import unbound_names
    from symbackprop.export._files import load_module, write_module
    source = ("import numpy as np\nS = 1.0\n\ndef backward(dout, cache):\n    t = [k * S for k in range(2)]\n"
              "    mask = (1 if h == 2*i + p - 1 else 0)\n    return np.sum(dout) * mask + len(t) + _helper()\n\n"
              "def _helper():\n    return 0\n")
    assert unbound_names(source) == ["h", "i", "p"]
    with pytest.raises(ExportError, match="reads h, i, p, which it never defines"):
        write_module(source, tmp_path / "broken.py")
    with pytest.raises(ExportError, match="reads h, i, p"):
        load_module(source, "broken")
    assert not (tmp_path / "broken.py").exists()
    # a local read before the statement that assigns it (a dilated gradient made before its source)
    ordered = ("import numpy as np\n\ndef backward(dout):\n    d_dil = np.zeros(3)\n    d_dil[::2] = dz\n"
               "    dz = 2 * dout\n    for k in range(2):\n        if k:\n            acc += k\n        acc = k\n"
               "    return d_dil, acc\n")
    assert unbound_names(ordered) == ["dz"]


@pytest.mark.parametrize("name, make", [
    ("dilated S1 R2", lambda: Layer.parse(DILATED.format(S=1, P=1, R=2))),
    ("dilated S2 R3", lambda: Layer.parse(DILATED.format(S=2, P=1, R=3))),
    ("depthwise S2 R2", lambda: Layer.parse(DEPTHWISE.format(S=2, P=1, R=2))),
    ("model: strided conv after conv", lambda: __import__("symbackprop.models", fromlist=["build_model"]).build_model(
        "conv2d(1, k=2) > relu > conv2d(2, k=2, stride=2, dilation=2) > flatten > affine(2) > softmax",
        "categorical-cross-entropy", (7, 6, 1)).layer),
], ids=lambda value: value if isinstance(value, str) else "")
def test_every_displayed_step_of_a_dilated_convolution_equals_the_computed_gradient(name, make):
    from test_layer_steps_values import _step_values
    layer = make()
    checked = 0
    for step, shown, computed in _step_values(layer, derive_layer(layer)):
        assert np.allclose(shown, computed, rtol=1e-9, atol=1e-12), (name, step.rule.value, str(step.statement))
        checked += 1
    assert checked

"""check 'd2L/dz2 = diag(p) - p p^T': a hand-derived loss Hessian against the derived one (issue 27).

The formula is read by the project's grammar; its right-hand side is evaluated on one example's vectors
(p or a: the output activation, y: the targets, z: the logits, I: the identity) at random logits, and
compared with H_L = ∂²L/∂z∂zᵀ as :mod:`symbackprop.layers._loss_hessian` derives it for the network's
output activation and loss. When they differ, the nearby diagnosis names the term of the derived matrix
that is missing or has the wrong sign (``a missing - p pᵀ``), or the constant factor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import ParseError
from ..grammar import _ast as A
from ..grammar import parse_formula

_EXIT = {"correct": 0, "incorrect": 1}


@dataclass(frozen=True)
class LossHessianVerdict:
    verdict: str
    formula: str
    diagnosis: str
    quantity: str = "d2L/dz2 (the Hessian of one example's loss with respect to the logits z)"

    @property
    def exit_code(self) -> int:
        return _EXIT[self.verdict]

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "formula": self.formula, "quantity": self.quantity,
                "diagnosis": self.diagnosis, "method": "numeric, three random draws of the logits"}


def is_loss_hessian(text: str) -> bool:
    """Whether the formula's left-hand side reads d2L/dz2 (or H_L): a second derivative of the loss."""
    head = text.split("=", 1)[0].replace(" ", "")
    return head in ("d2L/dz2", "d^2L/dz^2", "H_L", "d2L/dz^2")


def check_loss_hessian(text: str, output: str, loss: str, seed: int = 0) -> LossHessianVerdict:
    """The verdict on ``text`` for the network's ``output`` activation and ``loss``."""
    from ..layers._loss_hessian import loss_hessian
    from ..models import build_model
    from ..models._second_order import logits_of, loss_head
    formula = parse_formula(text, functions=("diag",))
    model = build_model(f"affine(4) > {output}", loss, 3)
    logits = logits_of(model)
    hessian = loss_hessian(loss_head(model), logits)
    rng = np.random.default_rng(seed)
    K = 4
    results = []
    for _ in range(3):
        z = rng.standard_normal(K) * 1.5
        y = np.eye(K)[rng.integers(0, K)] if loss == "categorical-cross-entropy" else rng.uniform(0.1, 0.9, K)
        values = _values(model, z, y)
        user = {"z": z, "y": y, "I": np.eye(K), output_letter(output): values["output"]}
        candidate = _Evaluator(text, user).matrix(formula.rhs, K)
        terms = [_evaluate(term, hessian.indices, values["arrays"], K)
                 for term in sp.Add.make_args(sp.expand(hessian.index_form))]
        results.append((candidate, terms))
    expected = [sum(terms) for _, terms in results]
    if all(np.allclose(c, e, rtol=1e-9, atol=1e-12) for (c, _), e in zip(results, expected)):
        return LossHessianVerdict("correct", text, f"equals ∂²L/∂z∂zᵀ = {_matrix_text(hessian, output)} for {output} "
                                                   f"with {loss}")
    return LossHessianVerdict("incorrect", text, _diagnosis(results, expected, hessian, output, loss))


def output_letter(output: str) -> str:
    return "p" if output in ("softmax", "log-softmax") else "a"


def _values(model, z, y):
    """The forward quantities of the loss head for one example: name -> array (1, K)."""
    if "softmax" in model.spec:
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        arrays = {"Y": y[None], "z1": z[None], "s2": np.array([np.exp(z).sum()]), "p2": p[None]}
        return {"arrays": arrays, "output": p}
    a = {"sigmoid": lambda t: 1 / (1 + np.exp(-t)), "identity": lambda t: t, "tanh": np.tanh}[
        model.spec.split("> ")[-1]](z)
    return {"arrays": {"Y": y[None], "z1": z[None], "a2": a[None]}, "output": a}     # identity: a2 is the logits


def _evaluate(index_form, indices, values, K):
    n, k, m = indices
    matrix = np.zeros((K, K))
    for r in range(K):
        for c in range(K):
            entry = index_form.xreplace({n: 0, k: r, m: c}).doit()
            entry = entry.replace(lambda e: isinstance(e, sp.Indexed),
                                  lambda e: sp.Float(values[e.base.label.name][tuple(int(i) for i in e.indices)]))
            matrix[r, c] = float(entry)
    return matrix


def _matrix_text(hessian, output) -> str:
    from ..layers._printing import text
    if hessian.matrix_form is None:
        return text(hessian.index_form)
    written = text(hessian.matrix_form)
    for name in ("p2", "a2"):
        written = written.replace(name, output_letter(output))
    return written


def _diagnosis(results, expected, hessian, output, loss) -> str:
    from ..layers._loss_hessian import _matrix_form
    from ..layers._printing import text
    n, k, m = hessian.indices
    pieces = sp.Add.make_args(sp.expand(hessian.index_form))
    for position, piece in enumerate(pieces):
        shown = _matrix_form(piece, n, k, m)
        words = text(shown) if shown is not None else text(piece)
        for name in ("p2", "a2"):
            words = words.replace(name, output_letter(output))
        for change, factor in (("is missing", 0.0), ("has the wrong sign", -1.0)):
            if all(np.allclose(c, e - t[position] + factor * t[position], rtol=1e-9, atol=1e-12)
                   for (c, t), e in zip(results, expected)):
                return (f"the term {words} {change}: the derived ∂²L/∂z∂zᵀ for {output} with {loss} is "
                        f"{_matrix_text(hessian, output)}")
    ratios = [np.sum(c * e) / np.sum(e * e) for (c, _), e in zip(results, expected)]
    if all(np.allclose(c, ratios[0] * e, rtol=1e-9, atol=1e-12) for (c, _), e in zip(results, expected)):
        return f"the derived ∂²L/∂z∂zᵀ times {ratios[0]:.6g}: it is {_matrix_text(hessian, output)}"
    return f"not the derived ∂²L/∂z∂zᵀ = {_matrix_text(hessian, output)}, nor it with one term dropped or negated"


class _Evaluator:
    """The right-hand side on one example's vectors: column vectors (K, 1), matrices (K, K), numbers."""

    def __init__(self, text, values):
        self.text, self.values = text, values

    def fail(self, message, node):
        return ParseError(message, self.text, node.column)

    def matrix(self, node, K):
        value = self.value(node)
        value = np.asarray(value, dtype=float)
        if value.shape != (K, K):
            raise self.fail(f"the right-hand side is {'a number' if value.ndim == 0 else 'a vector'}, not a K × K "
                            f"matrix; write diag(v) for a diagonal, v v^T for an outer product", node)
        return value

    def value(self, node):
        if isinstance(node, A.Number):
            return float(node.text)
        if isinstance(node, A.Group):
            return self.value(node.inner)
        if isinstance(node, A.Name):
            if node.name not in self.values:
                raise self.fail(f"unknown name {node.name!r}; accepted: {', '.join(sorted(self.values))} (one "
                                f"example's vectors), diag(...)", node)
            value = self.values[node.name]
            return value if value.ndim == 2 else value[:, None]
        if isinstance(node, A.Script) and node.sub is None and isinstance(node.sup, A.Name) and node.sup.name == "T":
            return np.asarray(self.value(node.base)).T
        if isinstance(node, A.Unary):
            return -self.value(node.operand) if node.op == "-" else self.value(node.operand)
        if isinstance(node, A.Call) and isinstance(node.function, A.Name) and node.function.name == "diag":
            inner = np.asarray(self.value(node.argument))
            if inner.ndim != 2 or inner.shape[1] != 1:
                raise self.fail("diag(...) takes a vector", node)
            return np.diag(inner[:, 0])
        if isinstance(node, A.Binary):
            left, right = np.asarray(self.value(node.left)), np.asarray(self.value(node.right))
            if node.op in ("+", "-"):
                return left + right if node.op == "+" else left - right
            if node.op == ".*":
                return left * right
            if node.op in ("*", "juxt", "@"):
                if left.ndim == 0 or right.ndim == 0 or left.shape == right.shape and left.shape[1] == 1:
                    return left * right        # a number, or two vectors elementwise (a(1 - a))
                if left.shape[1] == right.shape[0]:
                    return left @ right
            if node.op in ("/", "frac") and right.ndim == 0:
                return left / right
        raise self.fail("not read as one example's loss Hessian: use numbers, p or a, y, z, I, + - *, "
                        "juxtaposition, ^T and diag(...)", node)

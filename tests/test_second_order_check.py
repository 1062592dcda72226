"""check 'd2L/dz2 = ...' (issue 27): hand-derived loss Hessians judged against the derived one, with the nearby
diagnosis (a missing - p pᵀ, a wrong sign, a constant factor); unreadable right-hand sides exit 2."""
from __future__ import annotations

import pytest

from symbackprop.cli import main

SOFTMAX = ["--output", "softmax", "--loss", "categorical-cross-entropy"]
SIGMOID = ["--output", "sigmoid", "--loss", "cross-entropy"]
QUADRATIC = ["--output", "identity", "--loss", "quadratic"]


def _check(capsys, options, formula):
    code = main(["check", *options, formula])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("options, formula", [
    (SOFTMAX, "d2L/dz2 = diag(p) - p p^T"), (SOFTMAX, "d2L/dz2 = diag(p) - p*p^T"),
    (SIGMOID, "d2L/dz2 = diag(a .* (1 - a))"), (SIGMOID, "d2L/dz2 = diag(a(1 - a))"), (QUADRATIC, "d2L/dz2 = I")])
def test_correct_loss_hessians(capsys, options, formula):
    code, out = _check(capsys, options, formula)
    assert code == 0 and out.startswith("correct"), out


@pytest.mark.parametrize("formula, words", [
    ("d2L/dz2 = diag(p)", "the term -p pᵀ is missing"),
    ("d2L/dz2 = diag(p) + p p^T", "the term -p pᵀ has the wrong sign"),
    ("d2L/dz2 = -p p^T", "the term diag(p) is missing"),
    ("d2L/dz2 = 2 diag(p) - 2 p p^T", "times 2"),
    ("d2L/dz2 = diag(p) - y y^T", "nor it with one term dropped or negated")])
def test_wrong_softmax_hessians_get_the_nearby_diagnosis(capsys, formula, words):
    code, out = _check(capsys, SOFTMAX, formula)
    assert code == 1 and out.startswith("incorrect") and words in out, out


def test_the_softmax_answer_is_wrong_for_sigmoid(capsys):
    code, out = _check(capsys, SIGMOID, "d2L/dz2 = diag(a) - a a^T")
    assert code == 1 and "diag(a*(1 - a))" in out, out


@pytest.mark.parametrize("formula, words", [("d2L/dz2 = diag(q)", "unknown name 'q'"),
                                            ("d2L/dz2 = p", "not a K × K matrix")])
def test_unreadable_right_hand_sides_exit_2(capsys, formula, words):
    code, out = _check(capsys, SOFTMAX, formula)
    assert code == 2 and words in out and "Traceback" not in out, out

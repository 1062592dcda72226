"""The network derivations against the golden grid recorded before the engines are merged (issue 24).

See ``tests/golden/network_grid.py`` for what the grid holds and how to re-record it deliberately.
Per-unit and index forms must agree by exact difference zero; vector and batch forms and the steps
structurally; a refused network by its error class.
"""
from __future__ import annotations

import json
import pathlib
import sys

import pytest
import sympy as sp

sys.path.insert(0, str(pathlib.Path(__file__).with_name("golden")))
import network_grid as golden  # noqa: E402

RECORD = json.loads(golden.RECORD.read_text())
SPECS = {golden.key(spec): spec for spec in golden.grid()}


def test_the_record_covers_the_grid():
    assert set(RECORD) == set(SPECS)
    assert sum("derived" in entry for entry in RECORD.values()) > 200


def _rebuild(text: str):
    """A form of the project's own record back as SymPy (srepr text written by network_grid.py, not user text)."""
    return eval(text, {**vars(sp), "Integer": sp.Integer, "Rational": sp.Rational})  # noqa: S307


def _equal_by_difference(old, new) -> bool:
    if isinstance(old, sp.Eq) or isinstance(new, sp.Eq):
        return (isinstance(old, sp.Eq) and isinstance(new, sp.Eq)
                and _equal_by_difference(old.lhs, new.lhs) and _equal_by_difference(old.rhs, new.rhs))
    difference = sp.expand(old - new)
    return difference == 0 or sp.simplify(difference) == 0


def _compare_quantity(name, old, new, failures):
    if old is None or new is None:
        if (old is None) != (new is None):
            failures.append(f"{name}: recorded {'nothing' if old is None else 'a quantity'}, derived "
                            f"{'nothing' if new is None else 'a quantity'}")
        return
    for field in ("name", "layer", "cancels", "kink_note"):
        if old[field] != new[field]:
            failures.append(f"{name}.{field}: recorded {old[field]!r}, derived {new[field]!r}")
    for form in golden.EXACT_FORMS:
        if old[form] == new[form]:
            continue
        if old[form] is None or new[form] is None or not _equal_by_difference(_rebuild(old[form]), _rebuild(new[form])):
            failures.append(f"{name}.{form}: the difference from the record is not zero")
    for form in golden.STRUCTURAL_FORMS:
        if (old[form] or [None])[0] != (new[form] or [None])[0]:
            failures.append(f"{name}.{form}: recorded {old[form] and old[form][1]}, derived {new[form] and new[form][1]}")


@pytest.mark.parametrize("key", sorted(SPECS))
def test_network_derivation_equals_the_golden_grid(key):
    recorded, now = RECORD[key], golden.outcome(SPECS[key])
    if "refused" in recorded or "refused" in now:
        assert recorded == now
        return
    old, new, failures = recorded["derived"], now["derived"], []
    for name in ("cost", "output_delta", "hidden_delta", "weight_gradient", "bias_gradient"):
        _compare_quantity(name, old[name], new[name], failures)
    if len(old["hidden_deltas"]) != len(new["hidden_deltas"]):
        failures.append("hidden_deltas: a different number of hidden layers")
    for number, (o, n) in enumerate(zip(old["hidden_deltas"], new["hidden_deltas"])):
        _compare_quantity(f"hidden_deltas[{number}]", o, n, failures)
    if old["assumptions"] != new["assumptions"]:
        failures.append("assumptions differ")
    old_steps = [tuple(step[:4]) for step in old["steps"]]
    new_steps = [tuple(step[:4]) for step in new["steps"]]
    if old_steps != new_steps:
        first = next((n for n, (o, s) in enumerate(zip(old_steps, new_steps)) if o != s), min(len(old_steps), len(new_steps)))
        show = lambda steps, n: (steps[n][:2] + (steps[n][4],)) if n < len(steps) else "(none)"
        failures.append(f"steps differ from step {first + 1}: recorded {show(old['steps'], first)}, "
                        f"derived {show(new['steps'], first)} ({len(old_steps)} recorded, {len(new_steps)} derived)")
    assert not failures, "\n".join(failures)


def test_the_comparison_can_fail():
    """A negative control: a changed form, a changed step and a dropped step are each reported."""
    key = golden.key(dict(sizes=(3, 4, 2), hidden="tanh", output="sigmoid", loss="quadratic", l2=0, bias="separate"))
    derived = golden.outcome(SPECS[key])["derived"]
    failures = []
    steps = [step[:4] for step in derived["steps"]]
    assert steps[:-1] != steps and steps[::-1] != steps   # the step comparison is by sequence
    changed = dict(derived["output_delta"], unit=golden.canonical_srepr(2 * _rebuild(derived["output_delta"]["unit"])))
    _compare_quantity("output_delta", derived["output_delta"], changed, failures)
    assert failures == ["output_delta.unit: the difference from the record is not zero"]
    rewritten = sp.expand(_rebuild(derived["output_delta"]["unit"]))
    assert golden.canonical_srepr(rewritten) != derived["output_delta"]["unit"]   # a(1 - a)(a - y) multiplied out
    failures = []
    _compare_quantity("output_delta", derived["output_delta"],
                      dict(derived["output_delta"], unit=golden.canonical_srepr(rewritten)), failures)
    assert failures == []   # the same form written differently is equal by difference

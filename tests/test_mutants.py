"""benchmarks/mutants.py: every deliberate bug still has its target text, exactly once, in the tree.

A refactor that moves a target would otherwise silently drop that mutant from the list; here it
fails, naming the mutant. The mutants themselves run with ``python benchmarks/mutants.py``.
"""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("mutants", ROOT / "benchmarks" / "mutants.py")
mutants = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("mutants", mutants)     # dataclasses look their module up by name
_spec.loader.exec_module(mutants)


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=[m.name for m in mutants.MUTANTS])
def test_target_text_occurs_exactly_once(mutant):
    mutants.check_target(mutant)
    assert mutant.old != mutant.new
    for argument in mutant.tests:
        if argument.startswith("tests/"):
            assert (ROOT / argument).is_file(), f"{mutant.name}: no test file {argument}"


def test_a_missing_target_is_refused_loudly():
    missing = mutants.Mutant("nowhere", "symbackprop/symbols.py", "this text is not in the file", "x", ("tests",))
    with pytest.raises(SystemExit, match="occurs 0 times"):
        mutants.check_target(missing)


def test_the_issue_s_kinds_of_bug_are_listed():
    names = " ".join(m.name for m in mutants.MUTANTS)
    for kind in ("sign flip in a displayed contraction", "1/m missing in the bias gradient", "bias column regularised",
                 "checker tolerance x2", "wrong g' in a catalogue record", "checker also accepts 2 x RHS",
                 "exported backward pass missing lambda", "dS step shown without its row-sum term",
                 "window limits dropped", "layer checker tolerance x100", "layer checker also accepts -1 x the gradient",
                 "recurrent checker tolerance x100"):
        assert kind in names

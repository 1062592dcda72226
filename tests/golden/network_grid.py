"""The golden grid of network derivations: today's results, frozen before the engines are merged.

Issue 24 replaces the network engine (``engine/``) by the layer engine, with the textbook derivation as
a view. Before anything moves, this module records what ``derive(network)`` gives over a grid of
networks, and the test (``tests/test_golden_grid.py``) compares the new path against the record:

* every quantity's per-unit and index forms by exact difference zero (after ``expand``/``simplify``);
* vector and batch forms structurally (``srepr`` equality);
* the steps by their sequence of (quantity, rule, statement), statements structurally;
* a refused network by its error class.

The record is a regression guard, not evidence: the evidence that the recorded forms are right is the
rest of the suite (sympy.diff of the composed cost, finite differences, autodiff). A deliberate change
to a form or a step is reviewed by re-recording (``python tests/golden/network_grid.py --record``) and
reading the diff of ``network_grid.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys

import sympy as sp

RECORD = pathlib.Path(__file__).with_name("network_grid.json")

_PAIRS = (("sigmoid", "cross-entropy"), ("softmax", "categorical-cross-entropy"), ("identity", "quadratic"),
          ("tanh", "quadratic"), ("softmax", "log-likelihood"))
_MIXED = (("relu", "tanh"), ("sigmoid", "leaky-relu"), ("elu", "softplus"))


def grid() -> list[dict]:
    """The networks of the grid, as keyword arguments of :class:`symbackprop.Network`."""
    from symbackprop import ACTIVATIONS, LOSSES
    elementwise = [a.name for a in ACTIVATIONS if a.elementwise]
    specs = []
    # every catalogue activation (as the output) x every loss, at one generic structure
    for output in (a.name for a in ACTIVATIONS):
        for loss in (l.name for l in LOSSES):
            specs.append(dict(sizes=(3, 4, 2), hidden="tanh", output=output, loss=loss, l2=0, bias="separate"))
    # every elementwise activation as the hidden one, with Ng's bias column and lambda > 0
    for hidden in elementwise:
        specs.append(dict(sizes=(3, 4, 2), hidden=hidden, output="sigmoid", loss="cross-entropy", l2=1, bias="column"))
    # both bias modes x lambda = 0, 1/2 x depths 2-4, for the textbook output blocks
    for output, loss in _PAIRS:
        for bias in ("separate", "column"):
            for l2 in (0, sp.Rational(1, 2)):
                for sizes in ((3, 2), (3, 4, 2), (3, 4, 5, 2)):
                    specs.append(dict(sizes=sizes, hidden="sigmoid", output=output, loss=loss, l2=l2, bias=bias))
    # mixed hidden activations
    for hidden in _MIXED:
        for bias in ("separate", "column"):
            specs.append(dict(sizes=(3, 4, 5, 2), hidden=hidden, output="softmax", loss="categorical-cross-entropy",
                              l2=1, bias=bias))
    return specs


def key(spec: dict) -> str:
    """One line naming a network of the grid."""
    hidden = spec["hidden"] if isinstance(spec["hidden"], str) else "+".join(spec["hidden"])
    sizes = "-".join(str(s) for s in spec["sizes"])
    return f"{sizes} {hidden}>{spec['output']} {spec['loss']} l2={spec['l2']} {spec['bias']}"


#: forms kept whole (``srepr``), to be compared by exact difference zero
EXACT_FORMS = ("unit", "index", "activation_derivative")
#: forms kept as a structural fingerprint beside their readable text
STRUCTURAL_FORMS = ("vector", "batch", "batch_vector")


def canonical_srepr(expr) -> str:
    """``srepr`` with each Dummy renamed by its order of appearance (a Dummy's number differs between runs)."""
    dummies = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Dummy) and node not in dummies:
            dummies.append(node)
    renamed = {dummy: sp.Symbol(f"_dummy{number}", **dummy.assumptions0) for number, dummy in enumerate(dummies)}
    return sp.srepr(expr.xreplace(renamed) if renamed else expr)


def fingerprint(expr) -> list:
    """A structural fingerprint of an expression: the hash of its canonical ``srepr``, and its text to read in a diff."""
    if expr is None:
        return None
    return [hashlib.sha1(canonical_srepr(expr).encode()).hexdigest()[:16], sp.sstr(expr)[:200]]


def _quantity(quantity) -> dict:
    if quantity is None:
        return None
    exact = {form: (None if getattr(quantity, form) is None else canonical_srepr(getattr(quantity, form)))
             for form in EXACT_FORMS}
    structural = {form: fingerprint(getattr(quantity, form)) for form in STRUCTURAL_FORMS}
    return dict(name=quantity.name, layer=sp.srepr(quantity.layer), cancels=quantity.cancels,
                kink_note=quantity.kink_note, **exact, **structural)


def summary(derivation) -> dict:
    """What the record keeps of one derivation."""
    return dict(
        cost=_quantity(derivation.cost),
        output_delta=_quantity(derivation.output_delta),
        hidden_deltas=[_quantity(q) for q in derivation.hidden_deltas],
        hidden_delta=_quantity(derivation.hidden_delta),
        weight_gradient=_quantity(derivation.weight_gradient),
        bias_gradient=_quantity(derivation.bias_gradient),
        assumptions=[[a.name, sp.srepr(a.statement)] for a in derivation.assumptions],
        steps=[[s.quantity, s.rule.value, None if s.layer is None else sp.srepr(s.layer), *fingerprint(s.statement)]
               for s in derivation.steps],
    )


def outcome(spec: dict) -> dict:
    """The summary of ``derive(Network(**spec))``, or the class of the error that refused it."""
    from symbackprop import Network, SymbackpropError, derive
    try:
        return dict(derived=summary(derive(Network(**spec))))
    except SymbackpropError as error:
        return dict(refused=type(error).__name__)


def record() -> None:
    specs = grid()
    entries = {}
    for number, spec in enumerate(specs, 1):
        print(f"[{number}/{len(specs)}] {key(spec)}", file=sys.stderr, flush=True)
        entries[key(spec)] = outcome(spec)
    RECORD.write_text(json.dumps(entries, indent=0, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"recorded {len(entries)} networks in {RECORD}", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="derive the grid and overwrite the record")
    if parser.parse_args().record:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
        record()
    else:
        parser.print_help()

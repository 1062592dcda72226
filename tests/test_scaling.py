"""The derivation happens on a generic unit: its result does not depend on the layer widths."""

import symbackprop as sb


def test_wide_network_derives_the_same_formulas_as_a_narrow_one():
    narrow = sb.derive(sb.Network((400, 25, 10), l2=1, bias="column"))
    wide = sb.derive(sb.Network((4000, 2500, 1000), l2=1, bias="column"))
    assert narrow.steps == wide.steps
    assert narrow.output_delta == wide.output_delta and narrow.hidden_deltas == wide.hidden_deltas


def test_depth_adds_one_instantiated_hidden_delta_per_layer():
    deep = sb.derive(sb.Network((8,) * 10, hidden="tanh"))
    assert [int(q.layer) for q in deep.hidden_deltas] == list(range(2, 10))
    assert all(q.unit == deep.hidden_delta.unit for q in deep.hidden_deltas)

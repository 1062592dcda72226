"""export/_loop_buffers.py: a time loop's statements rewritten to write into arrays made once. The reference is
the loop as printed, executed as it stands: the rewritten loop must leave every array equal, bit for bit."""
from __future__ import annotations

import numpy as np

from symbackprop.export._loop_buffers import buffered_block, buffered_loop

T, N, H = 6, 3, 4
SHAPES = {"x_seq": ("T", "N", "H"), "up": ("T", "N", "H"), "W": ("H", "H"), "b": ("H",),
          "h_steps": ("T + 1", "N", "H"), "dz_seq": ("T", "N", "H"), "carry": ("N", "H")}


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {"T": T, "N": N, "H": H, "np": np, "x_seq": rng.standard_normal((T, N, H)),
            "up": rng.standard_normal((T, N, H)), "W": rng.standard_normal((H, H)) / 2,
            "b": rng.standard_normal(H), "carry": np.zeros((N, H)), "acc": np.zeros((N, H))}


def _run(before, body, names):
    """Execute ``before`` then ``for t in range(T): body``; the namespace afterwards."""
    source = "\n".join([*before, "for t in range(T):", *(f"    {line}" for line in body)])
    exec(compile(source, "<loop>", "exec"), names)      # code built by this test from the exporter's output
    return names


def _both(body, stores=(), shapes=SHAPES, **extra):
    printed = _run([], body, {**_arrays(), **extra, "h_steps": np.zeros((T + 1, N, H)), "dz_seq": np.zeros((T, N, H))})
    before, rewritten = buffered_loop(body, shapes, stores)
    buffered = _run(before, rewritten, {**_arrays(), **extra, "h_steps": np.zeros((T + 1, N, H)),
                                        "dz_seq": np.zeros((T, N, H))})
    return printed, buffered, before, rewritten


def test_an_rnn_step_writes_into_its_slots_and_buffers_and_computes_what_was_printed():
    body = ["h_prev = h_steps[t]", "f1 = h_prev @ W", "z = x_seq[t] + f1 + b", "h = np.tanh(z)",
            "h_steps[t + 1] = h", "dh = up[t] + carry", "dz = ((-(h**2)) + 1) * dh", "g1 = dz @ W.T",
            "carry = g1", "dz_seq[t] = dz"]
    printed, buffered, before, rewritten = _both(body, stores={"h_steps[t + 1]", "dz_seq[t]"})
    for name in ("h_steps", "dz_seq", "carry"):
        np.testing.assert_array_equal(buffered[name], printed[name])
    assert "np.tanh(z, out=h_steps[t + 1])" in rewritten           # computed where it is kept: no copy
    assert "h_steps[t + 1] = h" not in rewritten and "dz_seq[t] = dz" not in rewritten
    assert "np.subtract(1, dz_seq[t], out=dz_seq[t])" in rewritten  # -a + 1 as 1 - a
    assert all(line.endswith("))") and "np.empty" in line for line in before)


def test_a_buffer_still_holding_a_value_to_be_read_is_not_reused():
    # 'last' holds the previous step's acc; writing acc's buffer in place would change it before it is read
    body = ["last = acc", "acc = x_seq[t] * 2.0", "total = last + acc", "dz_seq[t] = total"]
    printed, buffered, _, rewritten = _both(body, stores={"dz_seq[t]"}, shapes={**SHAPES, "acc": ("N", "H")})
    np.testing.assert_array_equal(buffered["dz_seq"], printed["dz_seq"])
    assert "acc = x_seq[t] * 2.0" in rewritten


def test_a_value_that_reads_itself_is_left_as_printed():
    body = ["acc = acc * 0.5 + x_seq[t]", "dz_seq[t] = acc"]
    printed, buffered, _, rewritten = _both(body, shapes={**SHAPES, "acc": ("N", "H")})
    np.testing.assert_array_equal(buffered["dz_seq"], printed["dz_seq"])
    assert "acc = acc * 0.5 + x_seq[t]" in rewritten


def test_a_statement_of_unknown_shape_is_left_as_printed():
    body = ["y = np.sort(x_seq[t], axis=0) + 1.0", "dz_seq[t] = y"]
    printed, buffered, _, rewritten = _both(body, stores={"dz_seq[t]"})
    np.testing.assert_array_equal(buffered["dz_seq"], printed["dz_seq"])
    assert "dz_seq[t] = y" in rewritten


def test_a_block_reuses_a_temporary_read_for_the_last_time():
    lines = ["p1 = x_flat @ W", "z_flat = p1 + b", "s = z_flat * 2.0", "q = p1_keep + s"]
    shapes = {"x_flat": ("M", "H"), "W": ("H", "H"), "b": ("H",), "p1_keep": ("M", "H")}
    rng = np.random.default_rng(3)
    names = {"np": np, "x_flat": rng.standard_normal((7, H)), "W": rng.standard_normal((H, H)),
             "b": rng.standard_normal(H), "p1_keep": rng.standard_normal((7, H))}
    rewritten = buffered_block(lines, shapes)
    printed = dict(names)
    exec("\n".join(lines), printed)
    buffered = dict(names)
    exec("\n".join(rewritten), buffered)
    np.testing.assert_array_equal(buffered["q"], printed["q"])
    assert "np.add(p1, b, out=p1)" in rewritten
    assert not any("out=p1_keep" in line or "out=x_flat" in line for line in rewritten)   # never an input array


def test_a_value_assigned_twice_in_a_step_is_not_computed_into_its_slot():
    body = ["h = x_seq[t] * 3.0", "h = (h + 1.0) * (h - 1.0)", "dz_seq[t] = h"]
    printed, buffered, _, rewritten = _both(body, stores={"dz_seq[t]"})
    np.testing.assert_array_equal(buffered["dz_seq"], printed["dz_seq"])
    assert "dz_seq[t] = h" in rewritten


def test_a_view_of_a_buffer_carried_to_the_next_step_keeps_the_buffer_from_being_reused():
    # 'last' is a view of the previous step's y; writing y's buffer in place would change it before it is read
    body = ["last = y[..., 0:2]", "y = x_seq[t] * 2.0", "dz_seq[t, :, 0:2] = last + y[..., 2:4]"]
    printed, buffered, _, rewritten = _both(body, shapes={**SHAPES, "y": ("N", "H")}, y=np.ones((N, H)))
    np.testing.assert_array_equal(buffered["dz_seq"], printed["dz_seq"])
    assert "y = x_seq[t] * 2.0" in rewritten


def test_a_block_never_overwrites_a_temporary_a_view_still_shows():
    lines = ["p1 = x_flat @ W", "p1_seq = p1.reshape(7, 2, 2)", "q = p1 * 2.0", "r = p1_seq + 1.0"]
    rng = np.random.default_rng(4)
    names = {"np": np, "x_flat": rng.standard_normal((7, H)), "W": rng.standard_normal((H, H))}
    rewritten = buffered_block(lines, {"x_flat": ("M", "H"), "W": ("H", "H")})
    printed, buffered = dict(names), dict(names)
    exec("\n".join(lines), printed)
    exec("\n".join(rewritten), buffered)
    np.testing.assert_array_equal(buffered["r"], printed["r"])
    assert "out=p1" not in "\n".join(rewritten)


def test_a_store_of_a_name_bound_before_its_origin_is_computed_keeps_the_previous_value():
    """The lstm's 'dc_next = dc_prev' (the value the next step sent), then dc_prev of this step computed, then both
    stored: dc_next's store holds the previous step's value, not the one computed after the binding."""
    body = ["c_next = carry", "carry = x_seq[t] * 2.0", "h_steps[t + 1] = c_next", "dz_seq[t] = carry"]
    printed, buffered, _, rewritten = _both(body, stores={"dz_seq[t]", "h_steps[t + 1]"})
    for name in ("dz_seq", "h_steps"):
        np.testing.assert_array_equal(buffered[name], printed[name])
    assert "h_steps[t + 1] = c_next" in rewritten

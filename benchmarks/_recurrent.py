"""The recurrent section of benchmarks/layers.py (issue 15): forward over a sequence + backpropagation
through time of the exported ``rnn`` and ``lstm`` (CS231n layout, float64) against a hand-written NumPy
version and torch eager, in one process.

The hand-written versions are CS231n's rnn_forward / rnn_backward and lstm_forward / lstm_backward as a
student writes them: a loop over time in each direction, every weight gradient accumulated step by step
(dWx += x⟨t⟩ᵀ dz), the LSTM's four gates in one (D, 4H) and one (H, 4H) matrix. torch eager is
``torch.nn.RNN`` / ``torch.nn.LSTM`` (batch_first, float64) with ``torch.autograd.grad``, forward and
backward both timed. The exported module finds from the derivation that the LSTM's four gates are affine maps
of the same inputs and stacks them as the hand version does (one (N, 4H) pre-activation per step); it computes
x's part of the pre-activations before the loop and dx and every weight's Σ_t after it, each as one product
over all steps (the derivation's Σ_t), and its loops write into arrays made once (ufuncs with ``out=``).
"""
from __future__ import annotations

import statistics
import time

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def rnn_hand(x, h0, Wx, Wh, b, dh):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H))
    prev = h0
    for t in range(T):
        prev = np.tanh(x[:, t, :] @ Wx + prev @ Wh + b)
        h[:, t, :] = prev
    dx = np.empty_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dprev = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        h_prev = h[:, t - 1, :] if t > 0 else h0
        dz = (1 - h[:, t, :] ** 2) * (dh[:, t, :] + dprev)
        dx[:, t, :] = dz @ Wx.T
        dWx += x[:, t, :].T @ dz
        dWh += h_prev.T @ dz
        db += dz.sum(axis=0)
        dprev = dz @ Wh.T
    return h, dx, dprev, dWx, dWh, db


def lstm_hand(x, h0, c0, Wx, Wh, b, dh):
    """CS231n's LSTM: gates i, f, o, g from one (D, 4H) and one (H, 4H) matrix."""
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H))
    caches = []
    prev_h, prev_c = h0, c0
    for t in range(T):
        a = x[:, t, :] @ Wx + prev_h @ Wh + b
        i, f, o, g = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
        c = f * prev_c + i * g
        tc = np.tanh(c)
        prev_h = o * tc
        caches.append((prev_c, i, f, o, g, tc))
        prev_c = c
        h[:, t, :] = prev_h
    dx = np.empty_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dnext_h, dnext_c = np.zeros((N, H)), np.zeros((N, H))
    da = np.empty((N, 4 * H))
    for t in range(T - 1, -1, -1):
        prev_c, i, f, o, g, tc = caches[t]
        h_prev = h[:, t - 1, :] if t > 0 else h0
        dht = dh[:, t, :] + dnext_h
        dc = dnext_c + dht * o * (1 - tc ** 2)
        da[:, :H] = dc * g * i * (1 - i)
        da[:, H:2 * H] = dc * prev_c * f * (1 - f)
        da[:, 2 * H:3 * H] = dht * tc * o * (1 - o)
        da[:, 3 * H:] = dc * i * (1 - g ** 2)
        dx[:, t, :] = da @ Wx.T
        dWx += x[:, t, :].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dnext_h = da @ Wh.T
        dnext_c = dc * f
    return h, dx, dnext_h, dnext_c, dWx, dWh, db


def implementations(name, arrays, dh) -> dict:
    """name -> a function of no arguments: forward then backward through time, returning (h, grads...)
    in the record's parameter order (the hand-written LSTM's stacked gates split back per gate); torch eager's
    where torch is installed."""
    from symbackprop.export._recurrent_module import recurrent_module
    from symbackprop.layers import derive_layer
    module = recurrent_module(derive_layer(name), "cs231n")
    x, *states = arrays[:3 if name == "lstm" else 2]
    params = arrays[len(states) + 1:]
    H = states[0].shape[1]

    def generated():
        h, cache = module.forward(*arrays)
        return (h, *module.backward(dh, cache))

    if name == "rnn":
        def hand():
            h, dx, dh0, dWx, dWh, db = rnn_hand(*arrays, dh)
            return h, dx, dh0, dWx, dWh, db
    else:
        p = dict(zip("Wfx Wfh bf Wux Wuh bu Wcx Wch bc Wox Woh bo".split(), params))
        Wx = np.concatenate([p["Wux"], p["Wfx"], p["Wox"], p["Wcx"]], axis=1)
        Wh = np.concatenate([p["Wuh"], p["Wfh"], p["Woh"], p["Wch"]], axis=1)
        b = np.concatenate([p["bu"], p["bf"], p["bo"], p["bc"]])

        def hand():
            h, dx, dh0, dc0, dWx, dWh, db = lstm_hand(x, *states, Wx, Wh, b, dh)
            split = {}
            for gate, k in zip("ufoc", range(4)):
                cut = slice(k * H, (k + 1) * H)
                split.update({f"W{gate}x": dWx[:, cut], f"W{gate}h": dWh[:, cut], f"b{gate}": db[cut]})
            return (h, dx, dh0, dc0, *(split[n] for n in "Wfx Wfh bf Wux Wuh bu Wcx Wch bc Wox Woh bo".split()))
    found = {"numpy by hand": hand, "symbackprop": generated}
    try:
        import torch
    except ImportError:
        return found
    if name == "rnn":
        torch_module = torch.nn.RNN(x.shape[2], H, batch_first=True).double()
        Wx, Wh, b = params
        with torch.no_grad():
            torch_module.weight_ih_l0.copy_(torch.tensor(Wx.T))
            torch_module.weight_hh_l0.copy_(torch.tensor(Wh.T))
            torch_module.bias_ih_l0.copy_(torch.tensor(b))
            torch_module.bias_hh_l0.zero_()
    else:
        torch_module = torch.nn.LSTM(x.shape[2], H, batch_first=True).double()
        with torch.no_grad():     # torch's gate order: i (update), f, g (candidate), o
            torch_module.weight_ih_l0.copy_(torch.tensor(np.concatenate([p[f"W{g}x"] for g in "ufco"], 1).T))
            torch_module.weight_hh_l0.copy_(torch.tensor(np.concatenate([p[f"W{g}h"] for g in "ufco"], 1).T))
            torch_module.bias_ih_l0.copy_(torch.tensor(np.concatenate([p[f"b{g}"] for g in "ufco"])))
            torch_module.bias_hh_l0.zero_()
    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s[None], requires_grad=True) for s in states]
    tdh = torch.tensor(dh)

    def eager():
        hidden = tuple(ts) if name == "lstm" else ts[0]
        out, _ = torch_module(tx, hidden)
        grads = torch.autograd.grad(out, [tx, *ts, *torch_module.parameters()], tdh)
        return (out.detach().numpy(), *(g.numpy() for g in grads))

    found["torch eager"] = eager
    return found


def agreement(found) -> float:
    """The worst relative difference of the outputs and input gradients (x, then the states) to the hand-written."""
    results = {name: call() for name, call in found.items()}
    reference = results["numpy by hand"]
    worst = 0.0
    for name, result in results.items():
        count = len(reference) if name != "torch eager" else 2    # torch's parameters are stacked differently
        for a, b in zip(result[:count], reference[:count]):
            worst = max(worst, float(np.max(np.abs(np.squeeze(a) - b)) / np.max(np.abs(b))))
    return worst


def data(name, T, D, H, N, seed=0):
    rng = np.random.default_rng(seed)
    from symbackprop.layers import layer_record
    layer = layer_record(name).layer()
    x = rng.standard_normal((N, T, D))
    states = [rng.standard_normal((N, H)) for _ in layer.states]
    params = [rng.standard_normal(tuple({"D": D, "H": H}[str(s)] for s in a.sizes)) / np.sqrt(H) for a in layer.params]
    return [x, *states, *params], rng.standard_normal((N, T, H))


def time_shuffled(found, rounds, seed=0) -> tuple:
    """(name -> median wall time, name -> median CPU time of this thread), each implementation once per round
    in a shuffled order."""
    order = np.random.default_rng(seed)
    names = list(found)
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    for _ in range(rounds):
        for index in order.permutation(len(names)):
            start, start_cpu = time.perf_counter(), time.thread_time()
            found[names[index]]()
            cpu[names[index]].append(time.thread_time() - start_cpu)
            wall[names[index]].append(time.perf_counter() - start)
    return ({name: statistics.median(times) for name, times in wall.items()},
            {name: statistics.median(times) for name, times in cpu.items()})


def section(rounds: int, quick: bool) -> None:
    """The tables. Beside the wall time, the CPU time of the calling thread: with one BLAS thread the NumPy
    implementations run on it alone, and it leaves out the time other processes of a shared machine take the
    core (torch eager's worker threads are not on it: n/a)."""
    T, D, H, N = (10, 8, 16, 4) if quick else (100, 64, 128, 64)
    for name in ("rnn", "lstm"):
        arrays, dh = data(name, T, D, H, N)
        found = implementations(name, arrays, dh)
        worst = agreement(found)
        times, cpu = time_shuffled(found, rounds)
        base, base_cpu = times["numpy by hand"], cpu["numpy by hand"]
        print(f"## {name} forward + backpropagation through time, T = {T}, n_x = {D}, n_a = {H}, m = {N} "
              f"(all agree to {worst:.1e} relative)\n")
        print("| implementation | median time | time / hand-written NumPy | thread CPU time / hand-written NumPy |")
        print("|---|---|---|---|")
        for implementation, seconds in times.items():
            ratio = "n/a" if implementation == "torch eager" else f"{cpu[implementation] / base_cpu:.2f}"
            print(f"| {implementation} | {seconds * 1e3:.1f} ms | {seconds / base:.2f} | {ratio} |")
        print()

"""Hand-written vectorised NumPy backprop: the baseline of benchmarks/gradient.py.

Written the way the textbooks (Ng's ex4, Nielsen's network.py, cs231n) teach it: a forward pass
keeping the activations, the cost, then δ^L and the recursion δ^l = (δ^{l+1} W^{l+1}) ⊙ g'(z^l),
one matrix product per layer over the whole batch (one example per row). Idiomatic NumPy, no
tricks in either direction: temporaries where the formula has them, the sigmoid as
1/(1 + exp(-z)), the softmax with the row maximum subtracted and log(p) for its cost.

Parameters in the 'rows' layout of symbackprop.compile: [W2, b2, W3, b3, ...], W of shape
(n_l, n_(l-1)), b of shape (n_l,); X (m, n_in); Y (m, n_out).
"""
from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_cross_entropy(params, X, Y, lam):
    """Sigmoid hidden layers, sigmoid output, binary cross-entropy (Ng's ex4, any depth)."""
    weights, biases = params[0::2], params[1::2]
    m = X.shape[0]
    activations = [X]
    for W, b in zip(weights, biases):
        activations.append(sigmoid(activations[-1] @ W.T + b))
    h = activations[-1]
    J = -np.sum(Y * np.log(h) + (1 - Y) * np.log(1 - h)) / m
    J += lam / (2 * m) * sum(np.sum(W ** 2) for W in weights)
    delta = (h - Y) / m
    grads = []
    for layer in reversed(range(len(weights))):
        a_prev = activations[layer]
        grads.append(delta.sum(axis=0))
        grads.append(delta.T @ a_prev + (lam / m) * weights[layer])
        if layer > 0:
            delta = (delta @ weights[layer]) * a_prev * (1 - a_prev)
    return J, grads[::-1]


def tanh_softmax_cross_entropy(params, X, Y, lam):
    """Tanh hidden layers, softmax output, categorical cross-entropy (one-hot Y)."""
    weights, biases = params[0::2], params[1::2]
    m = X.shape[0]
    activations = [X]
    for W, b in zip(weights[:-1], biases[:-1]):
        activations.append(np.tanh(activations[-1] @ W.T + b))
    z = activations[-1] @ weights[-1].T + biases[-1]
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    J = -np.sum(Y * np.log(p)) / m
    J += lam / (2 * m) * sum(np.sum(W ** 2) for W in weights)
    delta = (p - Y) / m
    grads = []
    for layer in reversed(range(len(weights))):
        a_prev = activations[layer]
        grads.append(delta.sum(axis=0))
        grads.append(delta.T @ a_prev + (lam / m) * weights[layer])
        if layer > 0:
            delta = (delta @ weights[layer]) * (1 - a_prev ** 2)
    return J, grads[::-1]


# --- the same two networks in the autodiff libraries, written the way each library's users write them ---
def torch_loss(kind):
    """A PyTorch (eager) cost function of (params, X, Y, lam) for kind 'sigmoid' or 'softmax'."""
    import torch
    import torch.nn.functional as F

    def cost(params, X, Y, lam):
        weights, biases = params[0::2], params[1::2]
        m = X.shape[0]
        a = X
        for W, b in zip(weights[:-1], biases[:-1]):
            z = a @ W.T + b
            a = torch.sigmoid(z) if kind == "sigmoid" else torch.tanh(z)
        z = a @ weights[-1].T + biases[-1]
        if kind == "sigmoid":
            J = F.binary_cross_entropy_with_logits(z, Y, reduction="sum") / m
        else:
            J = -(Y * F.log_softmax(z, dim=1)).sum() / m
        return J + lam / (2 * m) * sum((W * W).sum() for W in weights)

    return cost


def jax_loss(kind):
    """A JAX cost function of (params, X, Y, lam)."""
    import jax
    import jax.numpy as jnp

    def cost(params, X, Y, lam):
        weights, biases = params[0::2], params[1::2]
        m = X.shape[0]
        a = X
        for W, b in zip(weights[:-1], biases[:-1]):
            z = a @ W.T + b
            a = jax.nn.sigmoid(z) if kind == "sigmoid" else jnp.tanh(z)
        z = a @ weights[-1].T + biases[-1]
        if kind == "sigmoid":
            J = -jnp.sum(Y * jax.nn.log_sigmoid(z) + (1 - Y) * jax.nn.log_sigmoid(-z)) / m
        else:
            J = -jnp.sum(Y * jax.nn.log_softmax(z, axis=1)) / m
        return J + lam / (2 * m) * sum(jnp.sum(W * W) for W in weights)

    return cost


def autograd_loss(kind):
    """A HIPS autograd cost function of (params, X, Y, lam), NumPy-style as in the library's examples."""
    import autograd.numpy as anp

    def cost(params, X, Y, lam):
        weights, biases = params[0::2], params[1::2]
        m = X.shape[0]
        a = X
        for W, b in zip(weights[:-1], biases[:-1]):
            z = anp.dot(a, W.T) + b
            a = 1 / (1 + anp.exp(-z)) if kind == "sigmoid" else anp.tanh(z)
        z = anp.dot(a, weights[-1].T) + biases[-1]
        if kind == "sigmoid":
            # log sigmoid(z) = -logaddexp(0, -z): the stable form autograd supports
            J = -anp.sum(Y * -anp.logaddexp(0, -z) + (1 - Y) * -anp.logaddexp(0, z)) / m
        else:
            shifted = z - anp.max(z, axis=1, keepdims=True)
            log_p = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
            J = -anp.sum(Y * log_p) / m
        return J + lam / (2 * m) * sum(anp.sum(W * W) for W in weights)

    return cost

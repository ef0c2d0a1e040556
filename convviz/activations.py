"""Keras activations by name, in NumPy (elementwise, dtype kept).

``get(None)`` and ``get("linear")`` are the identity; a callable is used as is.
``softmax`` and ``log_softmax`` act on the last axis, as Keras's do.
"""

from __future__ import annotations

import math

import numpy as np


def linear(x):
    return x


def relu(x):
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu6(x):
    return np.clip(x, 0, 6).astype(x.dtype, copy=False)


def leaky_relu(x, negative_slope=0.2):
    return np.where(x >= 0, x, negative_slope * x).astype(x.dtype, copy=False)


def sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1 + ex)
    return out


def hard_sigmoid(x):
    return np.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)


def hard_silu(x):
    return (x * hard_sigmoid(x)).astype(x.dtype, copy=False)


def tanh(x):
    return np.tanh(x)


def softplus(x):
    return (np.logaddexp(0, x)).astype(x.dtype, copy=False)


def softsign(x):
    return (x / (1 + np.abs(x))).astype(x.dtype, copy=False)


def silu(x):
    return (x * sigmoid(x)).astype(x.dtype, copy=False)


def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def selu(x):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return (scale * elu(x, alpha)).astype(x.dtype, copy=False)


def gelu(x, approximate=False):
    if approximate:
        c = math.sqrt(2 / math.pi)
        y = 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3)))
    else:
        erf = np.vectorize(math.erf, otypes=[np.float64])
        y = 0.5 * x * (1 + erf(x / math.sqrt(2)))
    return y.astype(x.dtype, copy=False)


def exponential(x):
    return np.exp(x)


def mish(x):
    return (x * np.tanh(softplus(x))).astype(x.dtype, copy=False)


def log_sigmoid(x):
    return (-np.logaddexp(0, -x)).astype(x.dtype, copy=False)


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(x.dtype, copy=False)


def log_softmax(x, axis=-1):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return (shifted - lse).astype(x.dtype, copy=False)


ALL = {
    f.__name__: f
    for f in (
        linear, relu, relu6, leaky_relu, sigmoid, hard_sigmoid, hard_silu, tanh, softplus,
        softsign, silu, elu, selu, gelu, exponential, mish, log_sigmoid, softmax, log_softmax,
    )
}
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}


def get(identifier):
    """Resolve ``None``, a Keras activation name or a callable to a function."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        name = ALIASES.get(identifier, identifier)
        if name in ALL:
            return ALL[name]
        raise ValueError(
            f"Could not interpret activation function identifier: {identifier!r}. "
            f"Allowed names: {sorted(ALL) + sorted(ALIASES)}, None, or a callable."
        )
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret activation function identifier: {identifier!r}. "
        "Expected a name, None, or a callable."
    )


def serialize(fn):
    """The Keras name of an activation (the callable itself if it is not a named one)."""
    for name, f in ALL.items():
        if f is fn:
            return name
    return fn

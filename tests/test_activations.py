"""Activations (convviz/activations.py): every name against its formula, applied after the
bias in every windowed layer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from layer_helpers import WEIGHTED, ids, make, rnd, sample

import convviz


# ----------------------------------------------------------------------------- activations
def _erf(z):
    return np.vectorize(math.erf)(z)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softplus(z):
    return np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0)


_SELU_A, _SELU_S = 1.6732632423543772, 1.0507009873554805
ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True))
    / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "selu": lambda z: _SELU_S * np.where(z > 0, z, _SELU_A * np.expm1(np.minimum(z, 0))),
    "gelu": lambda z: 0.5 * z * (1 + _erf(z / math.sqrt(2))),
    "silu": lambda z: z * _sigmoid(z),
    "swish": lambda z: z * _sigmoid(z),
    "softplus": _softplus,
    "softsign": lambda z: z / (1 + np.abs(z)),
    "relu6": lambda z: np.minimum(np.maximum(z, 0), 6),
    "leaky_relu": lambda z: np.where(z >= 0, z, 0.2 * z),
    "hard_sigmoid": lambda z: np.clip(z / 6 + 0.5, 0, 1),
    "mish": lambda z: z * np.tanh(_softplus(z)),
    "exponential": np.exp,
    "log_softmax": lambda z: z - z.max(-1, keepdims=True)
    - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)),
}


def _identity_conv(activation, channels=5, bias=None, **kwargs):
    """A 1x1 Conv1D whose pre-activation output is ``x + bias``."""
    layer = convviz.Conv1D(channels, 1, activation=activation, **kwargs)
    layer.build((1, 1, channels))
    bias = np.linspace(-1.5, 2.5, channels) if bias is None else bias
    layer.set_weights([np.eye(channels)[None], bias])
    return layer, bias


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_by_name_applied_after_bias(name, dtype):
    layer, bias = _identity_conv(name)
    x = np.linspace(-9, 9, 3 * 7 * 5).reshape(3, 7, 5).astype(dtype)
    y = layer(x)
    assert y.dtype == dtype
    expected = ACTIVATIONS[name](x.astype(np.float64) + bias.astype(dtype))
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(y, expected, rtol=tol, atol=tol)
    assert layer.get_config()["activation"] == name or (name == "swish" and
                                                         layer.get_config()["activation"]
                                                         in ("silu", "swish"))


def test_activation_callable_applied_after_bias():
    layer, bias = _identity_conv(lambda z: z**2 - 1)
    x = rnd((2, 4, 5), dtype=np.float64)
    np.testing.assert_allclose(layer(x), (x + bias) ** 2 - 1, rtol=1e-12)


@pytest.mark.parametrize("cls", WEIGHTED, ids=ids(WEIGHTED))
def test_activation_order_in_every_windowed_layer(cls):
    x = sample(cls, dtype=np.float64)
    plain = make(cls, bias_initializer="random_normal")
    z = plain(x)
    act = make(cls, activation="relu")
    act.build(x.shape)
    act.set_weights(plain.get_weights())
    np.testing.assert_allclose(act(x), np.maximum(z, 0), rtol=1e-12, atol=1e-12)


def test_softmax_uses_last_axis_with_channels_first():
    layer = convviz.Conv1D(3, 1, data_format="channels_first", activation="softmax")
    y = layer(rnd((1, 3, 4)))
    # Keras applies `activation` to the output as laid out: softmax acts on the LAST axis,
    # a spatial one with channels_first
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-6)
    assert not np.allclose(y.sum(axis=1), 1.0)


@pytest.mark.parametrize("name", ["relux", "Relu", "soft_max", ""])
def test_unknown_activation_name(name):
    with pytest.raises(ValueError, match=f"Could not interpret activation.*{name!r}"):
        convviz.Conv2D(2, 3, activation=name)

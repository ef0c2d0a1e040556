"""Initializers (convviz/initializers.py): Keras's statistics and fans, seeds and
reproducibility, by name and through the layers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from layer_helpers import WEIGHTED, ids, make, sample

import convviz
from convviz import initializers

# ----------------------------------------------------------------------------- initializers
KERNEL_SHAPE = (3, 3, 16, 32)
FAN_IN, FAN_OUT = 3 * 3 * 16, 3 * 3 * 32
TRUNC = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]
INIT_STATS = {  # name: (kind, parameter) ; uniform -> limit, normal -> std of the samples
    "glorot_uniform": ("uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "glorot_normal": ("truncated", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    "he_uniform": ("uniform", math.sqrt(6 / FAN_IN)),
    "he_normal": ("truncated", math.sqrt(2 / FAN_IN)),
    "lecun_uniform": ("uniform", math.sqrt(3 / FAN_IN)),
    "lecun_normal": ("truncated", math.sqrt(1 / FAN_IN)),
    "zeros": ("const", 0.0),
    "ones": ("const", 1.0),
    "random_normal": ("normal", 0.05),
    "random_uniform": ("uniform", 0.05),
    "truncated_normal": ("truncated", 0.05 * TRUNC),
}


def check_stats(w, kind, param):
    w = np.asarray(w, dtype=np.float64)
    if kind == "const":
        np.testing.assert_array_equal(w, param)
        return
    assert abs(w.mean()) < 0.1 * max(param, 1e-12) + 4 * w.std() / math.sqrt(w.size)
    if kind == "uniform":
        assert np.abs(w).max() <= param
        assert np.abs(w).max() > 0.97 * param
        assert w.std() == pytest.approx(param / math.sqrt(3), rel=0.05)
    elif kind == "normal":
        assert w.std() == pytest.approx(param, rel=0.05)
        assert np.abs(w).max() > 2.5 * param  # untruncated tails
    else:  # truncated at two (pre-truncation) standard deviations
        bound = 2 * param / TRUNC
        assert np.abs(w).max() <= bound * (1 + 1e-6)
        assert np.abs(w).max() > 0.95 * bound
        assert w.std() == pytest.approx(param, rel=0.05)


@pytest.mark.parametrize("name", sorted(INIT_STATS))
def test_initializers_by_name_through_a_layer(name):
    convviz.set_random_seed(7)
    layer = convviz.Conv2D(32, 3, kernel_initializer=name, bias_initializer=name)
    layer.build((1, 5, 5, 16))
    kernel, bias = layer.get_weights()
    assert kernel.shape == KERNEL_SHAPE and kernel.dtype == np.float32
    assert bias.shape == (32,)
    check_stats(kernel, *INIT_STATS[name])
    init = initializers.get(name)
    assert isinstance(init, initializers.Initializer)
    check_stats(init(KERNEL_SHAPE), *INIT_STATS[name])


@pytest.mark.parametrize("factory,shape,fan_in,fan_out", [
    (lambda **k: convviz.DepthwiseConv2D(3, depth_multiplier=8, **k), (1, 5, 5, 16), 144, 72),
    (lambda **k: convviz.Conv1D(8, 5, **k), (1, 6, 4), 20, 40),
    (lambda **k: convviz.Conv2DTranspose(8, 3, **k), (1, 4, 4, 32), 9 * 8, 9 * 32),
], ids=["depthwise", "conv1d", "transpose"])
def test_glorot_uses_keras_fans(factory, shape, fan_in, fan_out):
    convviz.set_random_seed(1)
    key = "depthwise_initializer" if "Depthwise" in repr(factory()) else "kernel_initializer"
    layer = factory(**{key: "glorot_uniform"})
    layer.build(shape)
    limit = math.sqrt(6 / (fan_in + fan_out))
    w = layer.get_weights()[0]
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    he = factory(**{key: "he_uniform"})
    he.build(shape)
    assert np.abs(he.get_weights()[0]).max() <= math.sqrt(6 / fan_in)
    assert np.abs(he.get_weights()[0]).max() > 0.9 * math.sqrt(6 / fan_in)


def test_initializer_compute_fans():
    assert initializers.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert initializers.compute_fans((5, 4, 8)) == (20, 40)
    assert initializers.compute_fans((7, 9)) == (7, 9)


SEEDED = [initializers.GlorotUniform, initializers.GlorotNormal, initializers.HeUniform,
          initializers.HeNormal, initializers.LecunUniform, initializers.LecunNormal,
          initializers.RandomNormal, initializers.RandomUniform, initializers.TruncatedNormal]


@pytest.mark.parametrize("cls", SEEDED, ids=ids(SEEDED))
def test_seeded_initializers_are_reproducible(cls):
    a = cls(seed=0)((3, 3, 4, 8))
    convviz.set_random_seed(99)  # the global seed does not affect seeded initializers
    b = cls(seed=0)((3, 3, 4, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, cls(seed=1)((3, 3, 4, 8)))
    assert a.dtype == np.float32
    l1 = convviz.Conv2D(8, 3, kernel_initializer=cls(seed=0))
    l2 = convviz.Conv2D(8, 3, kernel_initializer=cls(seed=0))
    l1.build((1, 5, 5, 4))
    l2.build((1, 5, 5, 4))
    np.testing.assert_array_equal(l1.get_weights()[0], l2.get_weights()[0])


@pytest.mark.parametrize("cls", [initializers.GlorotUniform, initializers.RandomNormal],
                         ids=lambda c: c.__name__)
def test_seeded_initializer_instance_repeats_across_calls(cls):
    init = cls(seed=0)
    np.testing.assert_array_equal(init((3, 3, 4, 8)), init((3, 3, 4, 8)))


@pytest.mark.parametrize("cls", WEIGHTED, ids=ids(WEIGHTED))
def test_set_random_seed_makes_unseeded_layers_reproducible(cls):
    shape = sample(cls).shape

    def weights(seed):
        convviz.set_random_seed(seed)
        layer = make(cls, bias_initializer="random_uniform")
        layer.build(shape)
        return layer.get_weights()

    a, b, c = weights(123), weights(123), weights(124)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert not all(np.array_equal(wa, wc) for wa, wc in zip(a, c))

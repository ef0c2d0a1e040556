"""Regularizers and constraints (convviz/regularizers.py): the penalties the layers report,
and constraints accepted, in the configs and leaving the forward pass alone."""

from __future__ import annotations

import numpy as np
import pytest
from layer_helpers import CLASSES, WEIGHTED, family, ids, make, rnd, sample

import convviz
from convviz import regularizers

# ----------------------------------------------------------------------------- regularizers
KERNEL_REG_ARG = {"Conv": "kernel_regularizer", "ConvTranspose": "kernel_regularizer",
                  "DepthwiseConv": "depthwise_regularizer",
                  "SeparableConv": "depthwise_regularizer"}


@pytest.mark.parametrize("cls", WEIGHTED, ids=ids(WEIGHTED))
def test_kernel_l2_and_bias_l1_regularizers(cls):
    layer = make(cls, **{KERNEL_REG_ARG[family(cls)]: "l2", "bias_regularizer": "l1"})
    x = sample(cls)
    assert layer.losses == []
    layer.build(x.shape)
    weights = layer.get_weights()
    weights[-1] = np.linspace(-2, 3, weights[-1].size).astype(np.float32)
    layer.set_weights(weights)
    kernel, bias = weights[0].astype(np.float64), weights[-1].astype(np.float64)
    expected = [0.01 * np.sum(kernel**2), 0.01 * np.sum(np.abs(bias))]
    np.testing.assert_allclose(sorted(layer.losses), sorted(expected), rtol=1e-6)
    layer(x)
    layer(x)  # weight penalties do not accumulate over calls
    np.testing.assert_allclose(sorted(layer.losses), sorted(expected), rtol=1e-6)


def test_regularizer_instances_and_pointwise():
    layer = convviz.SeparableConv1D(4, 3, pointwise_regularizer=regularizers.L2(0.5),
                                    depthwise_regularizer=regularizers.L1L2(l1=0.1, l2=0.2))
    layer.build((1, 5, 3))
    dw, pw, _ = layer.get_weights()
    dw, pw = dw.astype(np.float64), pw.astype(np.float64)
    expected = sorted([0.5 * np.sum(pw**2), 0.1 * np.sum(np.abs(dw)) + 0.2 * np.sum(dw**2)])
    np.testing.assert_allclose(sorted(layer.losses), expected, rtol=1e-6)


def test_regularizer_follows_set_weights():
    layer = convviz.Conv2D(2, 1, kernel_regularizer="l2", use_bias=False)
    layer.build((1, 2, 2, 3))
    layer.set_weights([np.full((1, 1, 3, 2), 2.0)])
    assert layer.losses == [pytest.approx(0.01 * 4.0 * 6)]


@pytest.mark.parametrize("cls", CLASSES, ids=ids(CLASSES))
def test_activity_regularizer_penalizes_the_last_output(cls):
    layer = make(cls, activity_regularizer="l2")
    x1, x2 = sample(cls, batch=1, seed=1), sample(cls, batch=1, seed=2) * 3
    layer.build(x1.shape)
    assert layer.losses == []  # no call yet
    y1 = layer(x1).astype(np.float64)
    np.testing.assert_allclose(layer.losses, [0.01 * np.sum(y1**2)], rtol=1e-5)
    y2 = layer(x2).astype(np.float64)  # replaced, not accumulated
    np.testing.assert_allclose(layer.losses, [0.01 * np.sum(y2**2)], rtol=1e-5)


def test_activity_regularizer_is_normalized_by_batch_size():
    layer = convviz.Conv2D(3, 2, activity_regularizer="l1")
    y = layer(rnd((4, 5, 5, 2))).astype(np.float64)
    np.testing.assert_allclose(layer.losses, [0.01 * np.sum(np.abs(y)) / 4], rtol=1e-5)


# ----------------------------------------------------------------------------- constraints
CONSTRAINT_ARGS = {
    "Conv": ["kernel_constraint", "bias_constraint"],
    "ConvTranspose": ["kernel_constraint", "bias_constraint"],
    "DepthwiseConv": ["depthwise_constraint", "bias_constraint"],
    "SeparableConv": ["depthwise_constraint", "pointwise_constraint", "bias_constraint"],
}


@pytest.mark.parametrize("cls", WEIGHTED, ids=ids(WEIGHTED))
def test_constraints_accepted_and_in_config(cls):
    args = CONSTRAINT_ARGS[family(cls)]
    values = ["max_norm", regularizers.NonNeg(), "unit_norm"]
    kwargs = dict(zip(args, values))
    layer = make(cls, **kwargs)
    config = layer.get_config()
    names = {"max_norm": "MaxNorm", "unit_norm": "UnitNorm"}
    for arg, value in kwargs.items():
        expected = names.get(value, type(value).__name__)
        assert config[arg]["class_name"] == expected
    clone = cls.from_config(config)
    assert clone.get_config() == config
    # constraints do not change the forward pass
    x = sample(cls)
    plain = make(cls)
    y = plain(x)
    layer.build(x.shape)
    layer.set_weights(plain.get_weights())
    np.testing.assert_array_equal(layer(x), y)


def test_constraint_instance_config_round_trip():
    layer = convviz.Conv2D(2, 3, kernel_constraint=regularizers.MaxNorm(max_value=3, axis=0))
    config = layer.get_config()
    assert config["kernel_constraint"] == {"class_name": "MaxNorm",
                                           "config": {"max_value": 3, "axis": 0}}
    assert convviz.Conv2D.from_config(config).get_config() == config

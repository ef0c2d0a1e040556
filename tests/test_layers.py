"""The layers' public API contract (convviz/layers.py): Keras 3 names, signatures, defaults,
weights, configs, output shapes and dtypes."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from layer_helpers import (
    CLASSES,
    KERAS_NAMES,
    RESHAPING,
    WEIGHTED,
    family,
    ids,
    make,
    rnd,
    sample,
)

import convviz
import convviz.layers
from convviz import initializers, regularizers

ALIASES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "Convolution1DTranspose": "Conv1DTranspose", "Convolution2DTranspose": "Conv2DTranspose",
    "Convolution3DTranspose": "Conv3DTranspose",
    "SeparableConvolution1D": "SeparableConv1D", "SeparableConvolution2D": "SeparableConv2D",
}


# ----------------------------------------------------------------------------- names
@pytest.mark.parametrize("name", KERAS_NAMES)
def test_keras_names_importable(name):
    cls = getattr(convviz, name)
    assert cls is getattr(convviz.layers, name)
    assert cls.__name__ == name
    assert issubclass(cls, convviz.Layer)
    assert name in convviz.__all__
    assert convviz.LAYERS[name] is cls


@pytest.mark.parametrize("alias,name", sorted(ALIASES.items()))
def test_keras_aliases(alias, name):
    assert getattr(convviz, alias) is getattr(convviz, name)
    assert getattr(convviz.layers, alias) is getattr(convviz.layers, name)
    assert alias in convviz.__all__


def test_registry_has_exactly_the_19_layers():
    assert sorted(convviz.LAYERS) == sorted(KERAS_NAMES)
    exec("from convviz import *", ns := {})
    assert set(KERAS_NAMES) | set(ALIASES) <= set(ns)


@pytest.mark.parametrize("cls", [convviz.Conv2D, convviz.Conv2DTranspose,
                                 convviz.DepthwiseConv2D, convviz.SeparableConv1D,
                                 convviz.UpSampling2D, convviz.Cropping3D],
                         ids=lambda c: c.__name__)
def test_auto_names_are_keras_snake_case_and_unique(cls):
    expected = {"Conv2D": "conv2d", "Conv2DTranspose": "conv2d_transpose",
                "DepthwiseConv2D": "depthwise_conv2d", "SeparableConv1D": "separable_conv1d",
                "UpSampling2D": "up_sampling2d", "Cropping3D": "cropping3d"}[cls.__name__]
    a, b = make(cls), make(cls)
    for layer in (a, b):
        assert layer.name == expected or layer.name.startswith(expected + "_")
    assert a.name != b.name
    assert make(cls, name="mine").name == "mine"


# ----------------------------------------------------------------------------- signatures
_CONV = ["filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
         "groups", "activation", "use_bias", "kernel_initializer", "bias_initializer",
         "kernel_regularizer", "bias_regularizer", "activity_regularizer",
         "kernel_constraint", "bias_constraint"]
_TRANSPOSE = ["filters", "kernel_size", "strides", "padding", "output_padding", "data_format",
              "dilation_rate", "activation", "use_bias", "kernel_initializer",
              "bias_initializer", "kernel_regularizer", "bias_regularizer",
              "activity_regularizer", "kernel_constraint", "bias_constraint"]
_DEPTHWISE = ["kernel_size", "strides", "padding", "depth_multiplier", "data_format",
              "dilation_rate", "activation", "use_bias", "depthwise_initializer",
              "bias_initializer", "depthwise_regularizer", "bias_regularizer",
              "activity_regularizer", "depthwise_constraint", "bias_constraint"]
_SEPARABLE = ["filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
              "depth_multiplier", "activation", "use_bias", "depthwise_initializer",
              "pointwise_initializer", "bias_initializer", "depthwise_regularizer",
              "pointwise_regularizer", "bias_regularizer", "activity_regularizer",
              "depthwise_constraint", "pointwise_constraint", "bias_constraint"]
KERAS_SIGNATURES = {
    "Conv1D": _CONV, "Conv2D": _CONV, "Conv3D": _CONV,
    "Conv1DTranspose": _TRANSPOSE, "Conv2DTranspose": _TRANSPOSE,
    "Conv3DTranspose": _TRANSPOSE,
    "DepthwiseConv1D": _DEPTHWISE, "DepthwiseConv2D": _DEPTHWISE,
    "SeparableConv1D": _SEPARABLE, "SeparableConv2D": _SEPARABLE,
    "Cropping1D": ["cropping"], "Cropping2D": ["cropping", "data_format"],
    "Cropping3D": ["cropping", "data_format"],
    "UpSampling1D": ["size"], "UpSampling2D": ["size", "data_format", "interpolation"],
    "UpSampling3D": ["size", "data_format"],
    "ZeroPadding1D": ["padding", "data_format"], "ZeroPadding2D": ["padding", "data_format"],
    "ZeroPadding3D": ["padding", "data_format"],
}
REQUIRED = {"filters", "kernel_size"}


@pytest.mark.parametrize("cls", CLASSES, ids=ids(CLASSES))
def test_constructor_parameter_order_matches_keras(cls):
    params = [p for p in inspect.signature(cls).parameters.values()
              if p.kind is p.POSITIONAL_OR_KEYWORD]
    expected = KERAS_SIGNATURES[cls.__name__]
    assert [p.name for p in params[: len(expected)]] == expected
    for p in params[: len(expected)]:
        assert (p.default is p.empty) == (p.name in REQUIRED), p.name
    assert any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values())


def test_conv2d_defaults():
    layer = convviz.Conv2D(32, 3)
    assert layer.filters == 32 and layer.kernel_size == (3, 3)
    assert layer.strides == (1, 1)
    assert layer.padding == "valid"
    assert layer.data_format == "channels_last"
    assert layer.dilation_rate == (1, 1)
    assert layer.groups == 1
    assert layer.use_bias is True
    assert layer.activation is convviz.activations.linear
    assert isinstance(layer.kernel_initializer, initializers.GlorotUniform)
    assert isinstance(layer.bias_initializer, initializers.Zeros)
    assert layer.kernel_regularizer is None and layer.bias_regularizer is None
    assert layer.activity_regularizer is None
    assert layer.kernel_constraint is None and layer.bias_constraint is None


@pytest.mark.parametrize("cls", WEIGHTED, ids=ids(WEIGHTED))
def test_windowed_defaults(cls):
    layer = make(cls)
    r = cls.rank
    assert layer.strides == (1,) * r and layer.dilation_rate == (1,) * r
    assert layer.padding == "valid" and layer.data_format == "channels_last"
    assert layer.use_bias is True
    if family(cls) == "ConvTranspose":
        assert layer.output_padding is None
    if family(cls) in ("DepthwiseConv", "SeparableConv"):
        assert layer.depth_multiplier == 1
        assert isinstance(layer.depthwise_initializer, initializers.GlorotUniform)
    if family(cls) == "SeparableConv":
        assert isinstance(layer.pointwise_initializer, initializers.GlorotUniform)
    if family(cls) in ("Conv", "ConvTranspose"):
        assert isinstance(layer.kernel_initializer, initializers.GlorotUniform)
    assert isinstance(layer.bias_initializer, initializers.Zeros)


RESHAPE_DEFAULTS = [  # (class, input shape, output shape of the default layer)
    ("Cropping1D", (1, 5, 2), (1, 3, 2)),
    ("Cropping2D", (1, 5, 4, 2), (1, 5, 4, 2)),
    ("Cropping3D", (1, 5, 4, 3, 2), (1, 3, 2, 1, 2)),
    ("ZeroPadding1D", (1, 5, 2), (1, 7, 2)),
    ("ZeroPadding2D", (1, 5, 4, 2), (1, 7, 6, 2)),
    ("ZeroPadding3D", (1, 5, 4, 3, 2), (1, 7, 6, 5, 2)),
    ("UpSampling1D", (1, 5, 2), (1, 10, 2)),
    ("UpSampling2D", (1, 5, 4, 2), (1, 10, 8, 2)),
    ("UpSampling3D", (1, 5, 4, 3, 2), (1, 10, 8, 6, 2)),
]


@pytest.mark.parametrize("name,shape,out", RESHAPE_DEFAULTS, ids=[r[0] for r in RESHAPE_DEFAULTS])
def test_reshaping_defaults(name, shape, out):
    layer = getattr(convviz, name)()
    assert layer(rnd(shape)).shape == out
    assert layer.compute_output_shape(shape) == out
    if name == "UpSampling2D":
        assert layer.interpolation == "nearest"


def test_positional_arguments_follow_keras():
    layer = convviz.Conv3DTranspose(32, 2, 2, activation="relu")
    assert layer.strides == (2, 2, 2) and layer.kernel_size == (2, 2, 2)
    assert layer(np.zeros((4, 10, 8, 12, 128), np.float32)).shape == (4, 20, 16, 24, 32)

    layer = convviz.Conv2D(6, 3, 2, "same", "channels_first", 1, 2)
    assert (layer.strides, layer.padding, layer.data_format, layer.groups) == (
        (2, 2), "same", "channels_first", 2)
    layer = convviz.Conv1D(4, 3, 1, "causal", None, 2)
    assert layer.dilation_rate == (2,) and layer.padding == "causal"
    layer = convviz.Conv2DTranspose(4, 3, 2, "same", 1, "channels_first", 1)
    assert layer.output_padding == (1, 1) and layer.data_format == "channels_first"
    layer = convviz.DepthwiseConv2D(3, 2, "same", 5)
    assert layer.depth_multiplier == 5 and layer.strides == (2, 2)
    layer = convviz.SeparableConv2D(4, 3, 1, "valid", None, 2, 3)
    assert layer.dilation_rate == (2, 2) and layer.depth_multiplier == 3
    layer = convviz.DepthwiseConv1D(3, 1, "valid", 1, "channels_first", 2, "relu", False)
    assert layer.dilation_rate == (2,) and layer.use_bias is False
    layer = convviz.UpSampling2D((2, 3), "channels_first", "bilinear")
    assert layer.data_format == "channels_first" and layer.interpolation == "bilinear"
    assert convviz.Cropping2D(((1, 0), (0, 2)), "channels_first").data_format == "channels_first"
    assert convviz.ZeroPadding2D((1, 2), "channels_first").data_format == "channels_first"
    assert convviz.ZeroPadding1D(2, "channels_first").data_format == "channels_first"
    assert convviz.UpSampling3D(3, "channels_first").size == (3, 3, 3)


# ----------------------------------------------------------------------------- weights
WEIGHT_SHAPES = [  # (factory, Cin, expected shapes in order)
    (lambda **k: convviz.Conv1D(4, 3, groups=2, **k), 6, [(3, 3, 4), (4,)]),
    (lambda **k: convviz.Conv2D(4, (2, 3), **k), 6, [(2, 3, 6, 4), (4,)]),
    (lambda **k: convviz.Conv3D(4, (1, 2, 3), groups=2, **k), 6, [(1, 2, 3, 3, 4), (4,)]),
    (lambda **k: convviz.Conv1DTranspose(4, 3, **k), 6, [(3, 4, 6), (4,)]),
    (lambda **k: convviz.Conv2DTranspose(4, (2, 3), **k), 6, [(2, 3, 4, 6), (4,)]),
    (lambda **k: convviz.Conv3DTranspose(4, (1, 2, 3), **k), 6, [(1, 2, 3, 4, 6), (4,)]),
    (lambda **k: convviz.DepthwiseConv1D(3, depth_multiplier=2, **k), 6, [(3, 6, 2), (12,)]),
    (lambda **k: convviz.DepthwiseConv2D((2, 3), depth_multiplier=2, **k), 6,
     [(2, 3, 6, 2), (12,)]),
    (lambda **k: convviz.SeparableConv1D(4, 3, depth_multiplier=2, **k), 6,
     [(3, 6, 2), (1, 12, 4), (4,)]),
    (lambda **k: convviz.SeparableConv2D(4, (2, 3), depth_multiplier=2, **k), 6,
     [(2, 3, 6, 2), (1, 1, 12, 4), (4,)]),
]
WS_IDS = KERAS_NAMES[:10]


@pytest.mark.parametrize("factory,cin,shapes", WEIGHT_SHAPES, ids=WS_IDS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_weight_shapes_and_order(factory, cin, shapes, data_format, use_bias):
    layer = factory(data_format=data_format, use_bias=use_bias)
    rank = len(shapes[0]) - 2
    shape = (2, *(4,) * rank, cin) if data_format == "channels_last" else (2, cin, *(4,) * rank)
    assert layer.get_weights() == []
    layer(np.zeros(shape, np.float32))
    expected = shapes if use_bias else shapes[:-1]
    assert [w.shape for w in layer.get_weights()] == expected
    assert [w.shape for w in layer.weights] == expected
    assert all(w.dtype == np.float32 for w in layer.get_weights())
    if use_bias:
        np.testing.assert_array_equal(layer.get_weights()[-1], 0.0)  # zeros bias


@pytest.mark.parametrize("cls", RESHAPING, ids=ids(RESHAPING))
def test_reshaping_layers_have_no_weights(cls):
    layer = cls()
    layer(sample(cls))
    assert layer.get_weights() == [] and layer.count_params() == 0


def test_separable_weight_order_is_depthwise_pointwise_bias():
    layer = convviz.SeparableConv1D(2, 1, use_bias=True)
    layer.build((1, 3, 1))
    depthwise, pointwise, bias = np.full((1, 1, 1), 2.0), np.array([[[3.0, 5.0]]]), [1.0, -1.0]
    layer.set_weights([depthwise, pointwise, bias])
    out = layer(np.ones((1, 3, 1), np.float32))
    np.testing.assert_allclose(out[0, 0], [2 * 3 + 1, 2 * 5 - 1])


def test_depthwise_output_channel_is_c_times_m_plus_m():
    layer = convviz.DepthwiseConv1D(1, depth_multiplier=3, use_bias=False)
    layer.build((1, 1, 2))
    kernel = np.array([[[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]]])  # (1, Cin=2, M=3)
    layer.set_weights([kernel])
    out = layer(np.array([[[1.0, -1.0]]], np.float32))
    np.testing.assert_array_equal(out[0, 0], [1, 2, 3, -10, -20, -30])


@pytest.mark.parametrize("cls", WEIGHTED, ids=ids(WEIGHTED))
def test_get_weights_returns_copies_and_set_weights_copies_in(cls):
    layer = make(cls)
    x = sample(cls)
    y0 = layer(x)
    weights = layer.get_weights()
    for w in weights:
        w[...] = 123.0
    np.testing.assert_array_equal(layer(x), y0)
    assert not any(np.all(w == 123.0) for w in layer.get_weights())

    new = [rnd(w.shape, seed=i + 1) for i, w in enumerate(weights)]
    layer.set_weights(new)
    y1 = layer(x)
    for w in new:
        w[...] = 0.0
    np.testing.assert_array_equal(layer(x), y1)


@pytest.mark.parametrize("cls", WEIGHTED, ids=ids(WEIGHTED))
def test_set_weights_get_weights_round_trip(cls):
    layer = make(cls)
    layer.build(sample(cls).shape)
    new = [rnd(w.shape, seed=10 + i, dtype=np.float64) for i, w in enumerate(layer.weights)]
    layer.set_weights(new)
    got = layer.get_weights()
    assert [g.dtype for g in got] == [np.dtype("float32")] * len(new)
    for g, w in zip(got, new):
        np.testing.assert_array_equal(g, w.astype(np.float32))
    layer.set_weights([w.tolist() for w in got])  # nested lists are accepted too
    for g, w in zip(layer.get_weights(), got):
        np.testing.assert_array_equal(g, w)


COUNT_PARAMS = [
    (lambda: convviz.Conv2D(32, 3), (4, 10, 10, 128), 3 * 3 * 128 * 32 + 32),
    (lambda: convviz.Conv2D(32, 3, use_bias=False), (4, 10, 10, 128), 3 * 3 * 128 * 32),
    (lambda: convviz.Conv2D(32, 3, groups=4), (1, 5, 5, 128), 3 * 3 * 32 * 32 + 32),
    (lambda: convviz.Conv1D(5, 2), (3, 5, 4), 2 * 4 * 5 + 5),
    (lambda: convviz.Conv3D(2, 2, data_format="channels_first"), (1, 3, 4, 4, 4), 8 * 3 * 2 + 2),
    (lambda: convviz.Conv2DTranspose(16, 3), (1, 4, 4, 8), 9 * 16 * 8 + 16),
    (lambda: convviz.Conv1DTranspose(6, 2, strides=3), (2, 8, 4), 2 * 6 * 4 + 6),
    (lambda: convviz.DepthwiseConv2D(3), (1, 5, 5, 8), 9 * 8 + 8),
    (lambda: convviz.DepthwiseConv2D(3, depth_multiplier=2), (1, 5, 5, 8), 9 * 8 * 2 + 16),
    (lambda: convviz.DepthwiseConv1D(2, depth_multiplier=5, use_bias=False), (3, 5, 4), 40),
    (lambda: convviz.SeparableConv2D(64, 3), (1, 5, 5, 16), 9 * 16 + 16 * 64 + 64),
    (lambda: convviz.SeparableConv2D(64, 3, depth_multiplier=2, use_bias=False), (1, 5, 5, 16),
     9 * 16 * 2 + 32 * 64),
    (lambda: convviz.SeparableConv1D(8, 3), (1, 6, 4), 3 * 4 + 4 * 8 + 8),
    (lambda: convviz.ZeroPadding2D(), (1, 3, 3, 2), 0),
]


@pytest.mark.parametrize("factory,shape,count", COUNT_PARAMS,
                         ids=[f"case{i}" for i in range(len(COUNT_PARAMS))])
def test_count_params(factory, shape, count):
    layer = factory()
    layer.build(shape)
    assert layer.count_params() == count
    assert sum(w.size for w in layer.get_weights()) == count


# ----------------------------------------------------------------------------- config
def _config_factories():
    seeded = initializers.GlorotUniform(seed=3)
    return {
        "Conv1D": (lambda: convviz.Conv1D(
            4, 3, padding="causal", dilation_rate=2, groups=2, activation="tanh",
            kernel_initializer=seeded, bias_initializer="ones", kernel_regularizer="l2",
            bias_regularizer=regularizers.L1(0.5), activity_regularizer="l1",
            kernel_constraint="max_norm", bias_constraint="non_neg", name="c1"), (2, 7, 4)),
        "Conv2D": (lambda: convviz.Conv2D(
            6, (2, 3), strides=(2, 1), padding="same", data_format="channels_first",
            use_bias=False, activation="relu"), (2, 3, 5, 6)),
        "Conv3D": (lambda: convviz.Conv3D(2, (1, 2, 2), dilation_rate=(1, 2, 1),
                                          kernel_initializer="he_normal"), (1, 3, 5, 4, 2)),
        "Conv1DTranspose": (lambda: convviz.Conv1DTranspose(
            6, 2, strides=3, padding="same", output_padding=2, activation="sigmoid"),
            (2, 8, 4)),
        "Conv2DTranspose": (lambda: convviz.Conv2DTranspose(
            6, (2, 3), strides=(2, 1), data_format="channels_first",
            kernel_regularizer=regularizers.L1L2(l1=0.1, l2=0.2)), (2, 4, 5, 5)),
        "Conv3DTranspose": (lambda: convviz.Conv3DTranspose(
            3, 2, dilation_rate=2, padding="same", bias_initializer="random_normal"),
            (1, 3, 3, 3, 2)),
        "DepthwiseConv1D": (lambda: convviz.DepthwiseConv1D(
            2, depth_multiplier=6, padding="same", dilation_rate=2,
            data_format="channels_first", depthwise_regularizer="l2"), (3, 4, 10)),
        "DepthwiseConv2D": (lambda: convviz.DepthwiseConv2D(
            (2, 2), strides=(2, 2), depth_multiplier=3, activation="elu",
            depthwise_constraint="unit_norm"), (3, 5, 5, 4)),
        "SeparableConv1D": (lambda: convviz.SeparableConv1D(
            5, 3, strides=2, dilation_rate=2, depth_multiplier=2,
            pointwise_initializer="lecun_uniform", pointwise_regularizer="l1",
            pointwise_constraint="max_norm"), (2, 9, 3)),
        "SeparableConv2D": (lambda: convviz.SeparableConv2D(
            4, 3, padding="same", data_format="channels_first", activation="softplus"),
            (1, 2, 5, 4)),
        "Cropping1D": (lambda: convviz.Cropping1D((1, 2)), (2, 6, 3)),
        "Cropping2D": (lambda: convviz.Cropping2D(((2, 2), (1, 0)), "channels_first"),
                       (1, 2, 6, 5)),
        "Cropping3D": (lambda: convviz.Cropping3D(1), (1, 4, 4, 4, 2)),
        "ZeroPadding1D": (lambda: convviz.ZeroPadding1D((2, 1)), (2, 3, 2)),
        "ZeroPadding2D": (lambda: convviz.ZeroPadding2D(((1, 2), (0, 1))), (1, 3, 3, 2)),
        "ZeroPadding3D": (lambda: convviz.ZeroPadding3D(2, "channels_first"), (1, 2, 2, 2, 2)),
        "UpSampling1D": (lambda: convviz.UpSampling1D(3), (2, 3, 2)),
        "UpSampling2D": (lambda: convviz.UpSampling2D((2, 3), interpolation="bilinear"),
                         (1, 4, 5, 2)),
        "UpSampling3D": (lambda: convviz.UpSampling3D((1, 2, 3), "channels_first"),
                         (1, 2, 2, 2, 2)),
    }


CONFIG_FACTORIES = _config_factories()


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_get_config_from_config_round_trip(name):
    factory, shape = CONFIG_FACTORIES[name]
    layer = factory()
    x = rnd(shape, seed=5)
    y = layer(x)
    config = layer.get_config()
    assert config["name"] == layer.name and config["trainable"] is True
    assert config["dtype"] == "float32"
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert not clone.built
    clone.build(shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), y)


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_get_config_holds_the_constructor_arguments(name):
    factory, _ = CONFIG_FACTORIES[name]
    layer = factory()
    config = layer.get_config()
    params = KERAS_SIGNATURES[name]
    for key in params:
        assert key in config, key
    if "data_format" not in params:
        assert "data_format" not in config


def test_get_config_values_conv2d():
    layer = convviz.Conv2D(6, (2, 3), strides=(2, 1), padding="SAME", activation="relu",
                           kernel_regularizer="l2", kernel_constraint="max_norm")
    config = layer.get_config()
    assert config["filters"] == 6 and config["kernel_size"] == (2, 3)
    assert config["strides"] == (2, 1) and config["padding"] == "same"
    assert config["dilation_rate"] == (1, 1) and config["groups"] == 1
    assert config["activation"] == "relu" and config["use_bias"] is True
    assert config["data_format"] == "channels_last"
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["bias_initializer"]["class_name"] == "Zeros"
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    assert config["kernel_constraint"]["class_name"] == "MaxNorm"
    assert config["bias_regularizer"] is None and config["bias_constraint"] is None


def test_config_round_trip_with_callable_activation():
    def square(z):
        return z * z

    layer = convviz.Conv1D(2, 1, activation=square)
    x = rnd((1, 3, 2))
    y = layer(x)
    clone = convviz.Conv1D.from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), y)


# ----------------------------------------------------------------------------- output shapes
COS = [
    (lambda: convviz.Conv2D(4, 3), (None, None, 7, 3), (None, None, 5, 4)),
    (lambda: convviz.Conv2D(4, 3, strides=2, padding="same", data_format="channels_first"),
     (None, 3, 7, None), (None, 4, 4, None)),
    (lambda: convviz.Conv1D(4, 3, padding="causal"), (None, None, 2), (None, None, 4)),
    (lambda: convviz.Conv3D(1, 2), (None, 4, None, 6, 2), (None, 3, None, 5, 1)),
    (lambda: convviz.Conv1DTranspose(6, 2, strides=3, padding="same", output_padding=2),
     (None, 8, 4), (None, 23, 6)),
    (lambda: convviz.Conv2DTranspose(6, (2, 3), strides=(2, 1),
                                     data_format="channels_first"),
     (None, 4, None, 8), (None, 6, None, 10)),
    (lambda: convviz.Conv3DTranspose(6, (2, 2, 3), strides=(2, 1, 2)), (None, 8, 8, None, 4),
     (None, 16, 9, None, 6)),
    (lambda: convviz.DepthwiseConv1D(2, depth_multiplier=5), (None, None, 4),
     (None, None, 20)),
    (lambda: convviz.DepthwiseConv2D((2, 2), strides=(2, 2), depth_multiplier=6),
     (None, 5, None, 4), (None, 2, None, 24)),
    (lambda: convviz.SeparableConv1D(7, 3, padding="same"), (None, None, 3), (None, None, 7)),
    (lambda: convviz.SeparableConv2D(7, 3), (None, 5, None, 3), (None, 3, None, 7)),
    (lambda: convviz.Cropping1D((1, 2)), (None, None, 3), (None, None, 3)),
    (lambda: convviz.Cropping2D(((2, 2), (4, 4))), (None, 28, None, 3), (None, 24, None, 3)),
    (lambda: convviz.Cropping3D(), (None, None, 4, 5, 2), (None, None, 2, 3, 2)),
    (lambda: convviz.ZeroPadding1D(2), (None, None, 3), (None, None, 3)),
    (lambda: convviz.ZeroPadding2D((1, 2), "channels_first"), (None, 3, None, 4),
     (None, 3, None, 8)),
    (lambda: convviz.ZeroPadding3D(), (None, 1, None, 1, 2), (None, 3, None, 3, 2)),
    (lambda: convviz.UpSampling1D(3), (None, None, 2), (None, None, 2)),
    (lambda: convviz.UpSampling2D((2, 3)), (None, None, 5, 2), (None, None, 15, 2)),
    (lambda: convviz.UpSampling3D(2, "channels_first"), (None, 2, 3, None, 4),
     (None, 2, 6, None, 8)),
]


@pytest.mark.parametrize("factory,shape,expected", COS, ids=[f"case{i}" for i in range(len(COS))])
def test_compute_output_shape_with_none(factory, shape, expected):
    layer = factory()
    assert layer.compute_output_shape(shape) == expected
    assert not layer.built
    # filling the None dims gives what a call returns
    concrete = tuple(3 if v is None and i == 0 else (12 if v is None else v)
                     for i, v in enumerate(shape))
    out = layer(np.zeros(concrete, np.float32)).shape
    filled = layer.compute_output_shape(concrete)
    assert out == filled
    assert all(e is None or e == o for e, o in zip(expected, out))


# ----------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("cls", CLASSES, ids=ids(CLASSES))
def test_dtypes(cls):
    layer = make(cls)
    x64 = sample(cls, dtype=np.float64)
    y64 = layer(x64)
    assert y64.dtype == np.float64
    y32 = layer(x64.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-5)
    xi = np.arange(x64.size).reshape(x64.shape) % 7 - 3
    yi = layer(xi.astype(np.int64))
    assert yi.dtype == np.float32
    np.testing.assert_allclose(yi, layer(xi.astype(np.float64)), rtol=1e-5, atol=1e-4)
    assert layer(xi.astype(np.int32)).dtype == np.float32


def test_float64_layer_computes_in_float64():
    layer = convviz.Conv2D(2, 3, dtype="float64")
    assert layer(rnd((1, 5, 5, 2))).dtype == np.float64


def test_building_again_makes_fresh_weights_for_the_new_input():
    layer = convviz.Conv2D(2, 3)
    layer.build((None, 5, 5, 3))
    layer.build((None, 5, 5, 4))  # a second build: one kernel and one bias, for 4 channels
    assert [w.shape for w in layer.get_weights()] == [(3, 3, 4, 2), (2,)]
    layer.set_weights([np.ones((3, 3, 4, 2), np.float32), np.zeros(2, np.float32)])
    assert layer(np.ones((1, 5, 5, 4), np.float32))[0, 0, 0].tolist() == [36.0, 36.0]

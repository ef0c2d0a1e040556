"""convviz layers vs the slow loop reference in ``tests/reference.py``.

The first section checks the reference itself against hand-computed numbers and against an
independent formulation, so that a bug shared by reference and engine is unlikely.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference import (
    as_tuple,
    conv_ref,
    conv_transpose_gather_ref,
    conv_transpose_ref,
    crop_ref,
    depthwise_ref,
    resize_ref,
    separable_ref,
    upsample_nearest_ref,
    zero_pad_ref,
)

import convviz

RTOL, ATOL = 1e-4, 1e-5


def col(values):
    """A (1, n, 1) channels_last 1D signal."""
    return np.asarray(values, dtype=np.float64).reshape(1, -1, 1)


def k1(values):
    """A (k, 1, 1) 1D kernel."""
    return np.asarray(values, dtype=np.float64).reshape(-1, 1, 1)


# =============================================================== reference self-checks


class TestReferenceByHand:
    def test_conv_valid_is_cross_correlation(self):
        y = conv_ref(col([1, 2, 3, 4]), k1([1, 0, -1]))
        np.testing.assert_array_equal(y.ravel(), [1 - 3, 2 - 4])

    def test_conv_same_symmetric(self):
        y = conv_ref(col([1, 2, 3, 4]), k1([1, 0, -1]), padding="same")
        np.testing.assert_array_equal(y.ravel(), [-2, -2, -2, 3])

    def test_conv_same_odd_extra_cell_at_end(self):
        # n=4, k=2: p=1 -> lo=0, hi=1
        y = conv_ref(col([1, 2, 3, 4]), k1([1, 10]), padding="same")
        np.testing.assert_array_equal(y.ravel(), [21, 32, 43, 4])

    def test_conv_same_strided_odd(self):
        # n=6, k=3, s=2: out=3, p=1 -> lo=0, hi=1
        y = conv_ref(col([1, 2, 3, 4, 5, 6]), k1([1, 10, 100]), strides=2, padding="same")
        np.testing.assert_array_equal(y.ravel(), [321, 543, 65])

    def test_conv_same_strided_even(self):
        # n=5, k=3, s=2: out=3, p=2 -> lo=1, hi=1
        y = conv_ref(col([1, 2, 3, 4, 5]), k1([1, 10, 100]), strides=2, padding="same")
        np.testing.assert_array_equal(y.ravel(), [0 + 10 + 200, 2 + 30 + 400, 4 + 50 + 0])

    def test_conv_causal_dilated(self):
        # pad d*(k-1)=2 on the left: [0,0,1,2,3]; y[o] = z[o] + 10 z[o+2]
        y = conv_ref(col([1, 2, 3]), k1([1, 10]), padding="causal", dilation_rate=2)
        np.testing.assert_array_equal(y.ravel(), [10, 20, 31])

    def test_conv_valid_dilated_strided(self):
        y = conv_ref(col(range(1, 8)), k1([1, 10]), strides=3, dilation_rate=1)
        np.testing.assert_array_equal(y.ravel(), [1 + 20, 4 + 50])
        y = conv_ref(col(range(1, 8)), k1([1, 10]), dilation_rate=3)
        np.testing.assert_array_equal(y.ravel(), [1 + 40, 2 + 50, 3 + 60, 4 + 70])

    def test_conv_too_short_raises(self):
        with pytest.raises(ValueError):
            conv_ref(col([1, 2]), k1([1, 1, 1]))

    def test_bias_then_activation(self):
        y = conv_ref(col([1, -5]), k1([1]), bias=[2.0], activation="relu")
        np.testing.assert_array_equal(y.ravel(), [3, 0])

    def test_transpose_valid_scatter(self):
        # full[i*3 + j] += x[i] W[j]; out = (n-1)s + ke + (max(ke, s) - ke) = 6
        y = conv_transpose_ref(col([1, 2]), k1([1, 10]), strides=3)
        np.testing.assert_array_equal(y.ravel(), [1, 10, 0, 2, 20, 0])

    def test_transpose_same_crops(self):
        # k=3, s=1, same: full = [1, 12, 23, 30] -> crop 1 -> n*s = 2 cells
        y = conv_transpose_ref(col([1, 2]), k1([1, 10, 0]), padding="same")
        np.testing.assert_array_equal(y.ravel(), [10 + 2, 20])
        y = conv_transpose_ref(col([1, 2]), k1([1, 10, 100]), padding="same")
        np.testing.assert_array_equal(y.ravel(), [10 + 2, 100 + 20])

    def test_transpose_output_padding_extends_with_zeros(self):
        # valid, s=3, op=2: out = (2-1)*3 + 2 + 2 = 7, full has 5 cells
        y = conv_transpose_ref(col([1, 2]), k1([1, 10]), strides=3, output_padding=2)
        np.testing.assert_array_equal(y.ravel(), [1, 10, 0, 2, 20, 0, 0])

    def test_transpose_channel_layout(self):
        # kernel (k, filters, Cin): filter f gets sum_c x[c] W[j, f, c]
        x = np.array([[[1.0, 2.0]]])  # n=1, Cin=2
        w = np.array([[[1.0, 10.0], [100.0, 1000.0], [0.0, 1.0]]])  # (1, 3, 2)
        y = conv_transpose_ref(x, w)
        np.testing.assert_array_equal(y.ravel(), [21, 2100, 2])

    def test_depthwise_channel_order(self):
        x = np.array([[[1.0, 2.0]]])  # n=1, Cin=2
        w = np.array([[[1.0, 10.0, 100.0], [-1.0, -10.0, -100.0]]])  # (1, Cin=2, M=3)
        y = depthwise_ref(x, w)
        np.testing.assert_array_equal(y.ravel(), [1, 10, 100, -2, -20, -200])

    def test_groups_channel_mapping(self):
        # Cin=2, F=2, groups=2: output 0 sees only input 0, output 1 only input 1
        x = np.array([[[1.0, 2.0]]])
        w = np.array([[[3.0, 5.0]]])  # (1, Cin/G=1, F=2)
        y = conv_ref(x, w, groups=2)
        np.testing.assert_array_equal(y.ravel(), [3, 10])

    def test_crop_pad_upsample(self):
        x = col([1, 2, 3, 4])
        np.testing.assert_array_equal(crop_ref(x, [(1, 2)]).ravel(), [2])
        np.testing.assert_array_equal(zero_pad_ref(x, [(2, 1)]).ravel(), [0, 0, 1, 2, 3, 4, 0])
        np.testing.assert_array_equal(
            upsample_nearest_ref(col([1, 2]), 3).ravel(), [1, 1, 1, 2, 2, 2]
        )

    def test_bilinear_half_pixel(self):
        y = resize_ref(col([0, 1]), 2, "bilinear")
        np.testing.assert_allclose(y.ravel(), [0, 0.25, 0.75, 1])

    def test_bicubic_keys_by_hand(self):
        # o=1 of a 2x upsampling: sample_f = 0.25; distances 0.25, 0.75, 1.75, 2.75
        def keys(t):
            t = abs(t)
            if t < 1:
                return 1.5 * t**3 - 2.5 * t**2 + 1
            if t < 2:
                return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
            return 0.0

        x = np.array([1.0, -2.0, 4.0, 3.0])
        w = np.array([keys(0.25 - i) for i in range(4)])
        y = resize_ref(col(x), 2, "bicubic")
        assert y.shape == (1, 8, 1)
        np.testing.assert_allclose(y.ravel()[1], (w @ x) / w.sum())

    @pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "lanczos3", "lanczos5"])
    def test_resize_preserves_constants(self, interpolation):
        y = resize_ref(np.full((1, 3, 4, 2), 7.0), (3, 2), interpolation)
        assert y.shape == (1, 9, 8, 2)
        np.testing.assert_allclose(y, 7.0)

    def test_lanczos_differs_from_bicubic(self):
        x = col([0, 0, 1, 0, 0, 0])
        assert not np.allclose(resize_ref(x, 2, "lanczos3"), resize_ref(x, 2, "bicubic"))
        assert not np.allclose(resize_ref(x, 2, "lanczos3"), resize_ref(x, 2, "lanczos5"))


GATHER_CASES = [
    # spatial, kernel_size, strides, padding, output_padding, dilation
    ((5,), (3,), (2,), "valid", None, (1,)),
    ((5,), (3,), (2,), "same", None, (1,)),
    ((4,), (2,), (3,), "same", (2,), (1,)),
    ((4,), (2,), (3,), "valid", (1,), (1,)),
    ((4,), (5,), (2,), "same", (1,), (1,)),
    ((4,), (4,), (2,), "same", (0,), (1,)),
    ((3,), (1,), (3,), "valid", None, (1,)),
    ((4,), (3,), (1,), "same", None, (2,)),
    ((4,), (3,), (1,), "valid", (0,), (3,)),
    ((3,), (7,), (16,), "same", None, (1,)),
    ((3, 4), (3, 2), (2, 3), "same", None, (1, 1)),
    ((3, 4), (2, 4), (3, 2), "same", (2, 1), (1, 1)),
    ((3, 3), (2, 2), (1, 1), "same", None, (2, 3)),
    ((2, 3, 2), (3, 2, 1), (1, 2, 3), "same", (0, 1, 2), (1, 1, 1)),
]


@pytest.mark.parametrize("spatial,ks,s,padding,op,d", GATHER_CASES)
def test_reference_transpose_scatter_equals_gather(spatial, ks, s, padding, op, d):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2,) + spatial + (3,))
    w = rng.standard_normal(ks + (2, 3))
    b = rng.standard_normal(2)
    scatter = conv_transpose_ref(x, w, b, s, padding, op, d)
    gather = conv_transpose_gather_ref(x, w, b, s, padding, op, d)
    assert scatter.shape == gather.shape
    np.testing.assert_allclose(scatter, gather, rtol=1e-12, atol=1e-12)


def test_reference_transpose_is_adjoint_of_conv():
    """<conv(x), y> == <x, convT(y)> for valid padding, s=2 (the transpose really transposes)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 7, 6, 3))
    w = rng.standard_normal((3, 2, 3, 4))  # conv layout (kh, kw, Cin, F)
    y = conv_ref(x, w, strides=2)  # (1, 3, 3, 4)
    g = rng.standard_normal(y.shape)
    # the transpose layout kernel_size + (filters, Cin) is exactly the conv kernel here
    xt = conv_transpose_ref(g, w, strides=2)
    assert xt.shape == x.shape
    np.testing.assert_allclose(np.sum(y * g), np.sum(x * xt), rtol=1e-10)


def test_reference_depthwise_equals_grouped_conv():
    rng = np.random.default_rng(3)
    cin, mult = 3, 2
    x = rng.standard_normal((2, 5, 6, cin))
    dw = rng.standard_normal((3, 2, cin, mult))
    grouped = dw.reshape(3, 2, 1, cin * mult)  # channel c*M + m
    np.testing.assert_allclose(
        depthwise_ref(x, dw, strides=(2, 1), padding="same"),
        conv_ref(x, grouped, strides=(2, 1), padding="same", groups=cin),
        rtol=1e-12,
    )


def test_reference_grouped_conv_equals_split_convs():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 4))
    w = rng.standard_normal((3, 2, 6))  # groups=2, Cin/G=2, F=6
    y = conv_ref(x, w, padding="same", groups=2)
    y0 = conv_ref(x[..., :2], w[..., :3], padding="same")
    y1 = conv_ref(x[..., 2:], w[..., 3:], padding="same")
    np.testing.assert_allclose(y, np.concatenate([y0, y1], axis=-1), rtol=1e-12)


# ===================================================================== engine harness


def to_cf(x):
    return np.moveaxis(x, -1, 1)


def from_cf(y):
    return np.moveaxis(y, 1, -1)


def run(layer, x_cl, data_format, weights):
    """Build the layer on x (channels_last given), load weights, run, return channels_last."""
    x = to_cf(x_cl) if data_format == "channels_first" else x_cl
    x = np.ascontiguousarray(x)
    layer.build(x.shape)
    current = layer.get_weights()
    assert [tuple(w.shape) for w in current] == [w.shape for w in weights]
    layer.set_weights(weights)
    for got, want in zip(layer.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    y = np.asarray(layer(x))
    assert y.dtype == x.dtype
    assert tuple(y.shape) == tuple(layer.compute_output_shape(x.shape))
    return from_cf(y) if data_format == "channels_first" else y


def randn(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def check(got, want):
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


FORMATS = ["channels_last", "channels_first"]
BIAS_ACT = [(False, None), (True, None), (True, "relu")]


# ============================================================================= Conv*D

CONV_CASES = [
    # spatial, cin, filters, kernel_size, strides, padding, dilation, groups
    ((7,), 3, 4, 3, 1, "valid", 1, 1),
    ((6,), 2, 3, 2, 1, "same", 1, 1),
    ((6,), 2, 3, 3, 2, "same", 1, 1),
    ((7,), 2, 3, (3,), (2,), "SAME", 1, 1),
    ((5,), 2, 3, 3, 1, "causal", 2, 1),
    ((7,), 2, 3, 3, 2, "causal", 1, 1),
    ((6,), 4, 6, 2, 1, "same", 2, 2),
    ((9,), 3, 2, 2, 3, "valid", 1, 1),
    ((8,), 6, 3, 2, 1, "valid", 3, 3),
    ((6, 5), 3, 4, (3, 2), (2, 1), "same", 1, 1),
    ((7, 6), 2, 3, 3, 1, "valid", (2, 1), 1),
    ((5, 5), 6, 3, 3, 1, "same", 1, 3),
    ((7, 6), 2, 2, 2, 2, "valid", 1, 1),
    ((4, 7), 2, 3, (1, 3), (1, 3), "same", 1, 1),
    ((5, 4), 4, 4, (2, 3), 1, "same", (2, 2), 4),
    ((4, 5, 3), 2, 3, 2, 1, "valid", 1, 1),
    ((5, 3, 4), 2, 3, (3, 1, 2), (2, 1, 2), "same", 1, 1),
    ((4, 5, 4), 4, 2, 2, 1, "same", (1, 2, 1), 2),
]


@pytest.mark.parametrize("use_bias,activation", BIAS_ACT)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("spatial,cin,filters,ks,s,padding,d,groups", CONV_CASES)
def test_conv(spatial, cin, filters, ks, s, padding, d, groups, data_format, use_bias, activation):
    rank = len(spatial)
    rng = np.random.default_rng(10)
    x = randn(rng, (2,) + spatial + (cin,))
    weights = [randn(rng, as_tuple(ks, rank) + (cin // groups, filters))]
    if use_bias:
        weights.append(randn(rng, (filters,)))
    layer = getattr(convviz, f"Conv{rank}D")(
        filters,
        ks,
        strides=s,
        padding=padding,
        data_format=data_format,
        dilation_rate=d,
        groups=groups,
        activation=activation,
        use_bias=use_bias,
    )
    got = run(layer, x, data_format, weights)
    bias = weights[1] if use_bias else None
    want = conv_ref(x, weights[0], bias, s, padding, d, groups, activation)
    check(got, want)


def test_conv_float64_keeps_dtype_and_precision():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 6, 5, 3))
    # weights exactly representable in float32, so the storage dtype of the variables
    # (float32 in Keras by default) does not matter; the float64 input must stay float64
    weights = [
        rng.standard_normal((3, 2, 3, 4)).astype(np.float32).astype(np.float64),
        rng.standard_normal(4).astype(np.float32).astype(np.float64),
    ]
    layer = convviz.Conv2D(4, (3, 2), strides=(2, 1), padding="same")
    got = run(layer, x, "channels_last", weights)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, conv_ref(x, *weights, (2, 1), "same"), rtol=1e-10, atol=1e-12)


def test_float32_in_float32_out():
    rng = np.random.default_rng(12)
    x = randn(rng, (1, 5, 5, 2))
    y = np.asarray(convviz.Conv2D(3, 2)(x))
    assert y.dtype == np.float32
    assert y.shape == (1, 4, 4, 3)


def test_conv_call_builds_with_default_initializers():
    """Unbuilt layer called directly: glorot_uniform kernel, zero bias (Keras defaults)."""
    rng = np.random.default_rng(13)
    layer = convviz.Conv2D(8, 3)
    y = np.asarray(layer(randn(rng, (1, 6, 6, 5))))
    assert y.shape == (1, 4, 4, 8)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 5, 8)
    np.testing.assert_array_equal(bias, np.zeros(8))
    limit = math.sqrt(6.0 / (9 * 5 + 9 * 8))
    assert np.all(np.abs(kernel) <= limit + 1e-7)
    assert np.abs(kernel).max() > limit / 2  # not all zero / not a tiny-scale initializer
    assert np.unique(kernel).size > 100


# ============================================================= Conv*DTranspose

TRANSPOSE_CASES = [
    # spatial, cin, filters, kernel_size, strides, padding, output_padding, dilation
    ((5,), 3, 2, 3, 2, "valid", None, 1),
    ((5,), 3, 2, 3, 2, "same", None, 1),
    ((4,), 2, 3, 2, 3, "same", 2, 1),
    ((4,), 2, 3, 2, 3, "valid", 1, 1),
    ((4,), 2, 3, 5, 2, "same", 1, 1),
    ((4,), 2, 3, 4, 2, "same", 0, 1),
    ((4,), 2, 3, 4, 2, "same", None, 1),
    ((3,), 2, 2, 1, 3, "valid", None, 1),
    ((4,), 2, 2, 3, 1, "same", None, 2),
    ((4,), 2, 2, 3, 1, "valid", 0, 3),
    ((3,), 1, 2, 7, 4, "same", None, 1),
    ((4, 3), 2, 3, (3, 2), (2, 3), "same", None, 1),
    ((3, 4), 3, 2, 3, 2, "valid", (1, 0), 1),
    ((3, 3), 2, 2, 2, 1, "same", None, 2),
    ((3, 4), 2, 3, (2, 4), (3, 2), "same", (2, 1), 1),
    ((2, 3, 2), 2, 3, 2, 2, "valid", None, 1),
    ((2, 3, 3), 2, 2, (3, 2, 1), (1, 2, 3), "same", (0, 1, 2), 1),
    ((3, 2, 3), 2, 2, 2, 1, "same", None, (1, 2, 1)),
]


@pytest.mark.parametrize("use_bias,activation", BIAS_ACT)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("spatial,cin,filters,ks,s,padding,op,d", TRANSPOSE_CASES)
def test_conv_transpose(spatial, cin, filters, ks, s, padding, op, d, data_format, use_bias,
                        activation):
    rank = len(spatial)
    rng = np.random.default_rng(20)
    x = randn(rng, (2,) + spatial + (cin,))
    weights = [randn(rng, as_tuple(ks, rank) + (filters, cin))]
    if use_bias:
        weights.append(randn(rng, (filters,)))
    layer = getattr(convviz, f"Conv{rank}DTranspose")(
        filters,
        ks,
        strides=s,
        padding=padding,
        data_format=data_format,
        dilation_rate=d,
        activation=activation,
        use_bias=use_bias,
        output_padding=op,
    )
    got = run(layer, x, data_format, weights)
    bias = weights[1] if use_bias else None
    want = conv_transpose_ref(x, weights[0], bias, s, padding, op, d, activation)
    check(got, want)


# ==================================================================== DepthwiseConv*D

DEPTHWISE_CASES = [
    # spatial, cin, kernel_size, strides, padding, depth_multiplier, dilation
    ((7,), 3, 3, 1, "valid", 1, 1),
    ((6,), 2, 2, 1, "same", 3, 1),
    ((7,), 2, 3, 2, "same", 2, 1),
    ((8,), 3, 2, 1, "same", 2, 3),
    ((9,), 2, 3, 2, "valid", 1, 2),  # strides and dilation together: allowed here
    ((6, 5), 3, (3, 2), (2, 1), "same", 2, 1),
    ((7, 6), 2, 2, 1, "valid", 3, (2, 1)),
    ((6, 6), 2, 3, 2, "same", 1, 2),
    ((5, 6), 4, (1, 3), (1, 2), "valid", 1, 1),
]


@pytest.mark.parametrize("use_bias,activation", BIAS_ACT)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("spatial,cin,ks,s,padding,mult,d", DEPTHWISE_CASES)
def test_depthwise(spatial, cin, ks, s, padding, mult, d, data_format, use_bias, activation):
    rank = len(spatial)
    rng = np.random.default_rng(30)
    x = randn(rng, (2,) + spatial + (cin,))
    weights = [randn(rng, as_tuple(ks, rank) + (cin, mult))]
    if use_bias:
        weights.append(randn(rng, (cin * mult,)))
    layer = getattr(convviz, f"DepthwiseConv{rank}D")(
        ks,
        strides=s,
        padding=padding,
        depth_multiplier=mult,
        data_format=data_format,
        dilation_rate=d,
        activation=activation,
        use_bias=use_bias,
    )
    got = run(layer, x, data_format, weights)
    bias = weights[1] if use_bias else None
    want = depthwise_ref(x, weights[0], bias, s, padding, d, activation)
    check(got, want)


# ==================================================================== SeparableConv*D

SEPARABLE_CASES = [
    # spatial, cin, filters, kernel_size, strides, padding, depth_multiplier, dilation
    ((7,), 3, 4, 3, 1, "valid", 1, 1),
    ((6,), 2, 3, 2, 1, "same", 3, 1),
    ((7,), 2, 5, 3, 2, "same", 2, 1),
    ((8,), 3, 2, 2, 1, "valid", 2, 3),
    ((6, 5), 3, 4, (3, 2), (2, 1), "same", 2, 1),
    ((7, 6), 2, 3, 2, 1, "valid", 1, (2, 1)),
    ((6, 7), 2, 3, 3, 2, "same", 2, 2),
]


@pytest.mark.parametrize("use_bias,activation", BIAS_ACT)
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("spatial,cin,filters,ks,s,padding,mult,d", SEPARABLE_CASES)
def test_separable(spatial, cin, filters, ks, s, padding, mult, d, data_format, use_bias,
                   activation):
    rank = len(spatial)
    rng = np.random.default_rng(40)
    x = randn(rng, (2,) + spatial + (cin,))
    weights = [
        randn(rng, as_tuple(ks, rank) + (cin, mult)),
        randn(rng, (1,) * rank + (cin * mult, filters)),
    ]
    if use_bias:
        weights.append(randn(rng, (filters,)))
    layer = getattr(convviz, f"SeparableConv{rank}D")(
        filters,
        ks,
        strides=s,
        padding=padding,
        data_format=data_format,
        dilation_rate=d,
        depth_multiplier=mult,
        activation=activation,
        use_bias=use_bias,
    )
    got = run(layer, x, data_format, weights)
    bias = weights[2] if use_bias else None
    want = separable_ref(x, weights[0], weights[1], bias, s, padding, d, activation)
    check(got, want)


# ================================================================== reshaping layers


def run_plain(layer, x_cl, data_format):
    x = to_cf(x_cl) if data_format == "channels_first" else x_cl
    x = np.ascontiguousarray(x)
    y = np.asarray(layer(x))
    assert y.dtype == x.dtype
    assert tuple(y.shape) == tuple(layer.compute_output_shape(x.shape))
    assert layer.get_weights() == []
    return from_cf(y) if data_format == "channels_first" else y


CROP_1D = [(1, [(1, 1)]), ((0, 2), [(0, 2)]), ((2, 1), [(2, 1)]), (0, [(0, 0)])]


@pytest.mark.parametrize("cropping,pairs", CROP_1D)
def test_cropping1d(cropping, pairs):
    x = randn(np.random.default_rng(50), (2, 6, 3))
    y = run_plain(convviz.Cropping1D(cropping=cropping), x, "channels_last")
    check(y, crop_ref(x, pairs))


CROP_ND = [
    ((0, 0), [(0, 0), (0, 0)]),
    (1, [(1, 1), (1, 1)]),
    ((1, 2), [(1, 1), (2, 2)]),
    (((0, 2), (3, 1)), [(0, 2), (3, 1)]),
    (((1, 1), (1, 1), (1, 1)), [(1, 1), (1, 1), (1, 1)]),
    ((0, 1, 2), [(0, 0), (1, 1), (2, 2)]),
    (((2, 0), (0, 1), (1, 3)), [(2, 0), (0, 1), (1, 3)]),
    (1, [(1, 1), (1, 1), (1, 1)]),
]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("cropping,pairs", CROP_ND)
def test_cropping_nd(cropping, pairs, data_format):
    rank = len(pairs)
    x = randn(np.random.default_rng(51), (2,) + (5, 6, 7)[:rank] + (3,))
    layer = getattr(convviz, f"Cropping{rank}D")(cropping=cropping, data_format=data_format)
    check(run_plain(layer, x, data_format), crop_ref(x, pairs))


PAD_CASES = [
    (1, [(1, 1)]),
    ((0, 2), [(0, 2)]),
    ((3, 1), [(3, 1)]),
    ((1, 1), [(1, 1), (1, 1)]),
    (2, [(2, 2), (2, 2)]),
    ((1, 2), [(1, 1), (2, 2)]),
    (((0, 2), (3, 1)), [(0, 2), (3, 1)]),
    (((1, 1), (1, 1), (1, 1)), [(1, 1), (1, 1), (1, 1)]),
    ((0, 1, 2), [(0, 0), (1, 1), (2, 2)]),
    (((2, 0), (0, 1), (1, 3)), [(2, 0), (0, 1), (1, 3)]),
]


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("padding,pairs", PAD_CASES)
def test_zero_padding(padding, pairs, data_format):
    rank = len(pairs)
    x = randn(np.random.default_rng(52), (2,) + (3, 4, 2)[:rank] + (3,))
    layer = getattr(convviz, f"ZeroPadding{rank}D")(padding=padding, data_format=data_format)
    check(run_plain(layer, x, data_format), zero_pad_ref(x, pairs))


@pytest.mark.parametrize("size", [1, 2, 3])
def test_upsampling1d(size):
    x = randn(np.random.default_rng(53), (2, 4, 3))
    y = run_plain(convviz.UpSampling1D(size=size), x, "channels_last")
    check(y, upsample_nearest_ref(x, size))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize(
    "interpolation", ["nearest", "bilinear", "bicubic", "lanczos3", "lanczos5"]
)
@pytest.mark.parametrize("size", [(2, 2), (2, 3), (3, 1), 2])
def test_upsampling2d(size, interpolation, data_format):
    x = randn(np.random.default_rng(54), (2, 4, 5, 3))
    layer = convviz.UpSampling2D(size=size, data_format=data_format, interpolation=interpolation)
    check(run_plain(layer, x, data_format), resize_ref(x, size, interpolation))


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("size", [(2, 2, 2), (1, 2, 3), 2])
def test_upsampling3d(size, data_format):
    x = randn(np.random.default_rng(55), (2, 3, 2, 4, 3))
    layer = convviz.UpSampling3D(size=size, data_format=data_format)
    check(run_plain(layer, x, data_format), upsample_nearest_ref(x, size))

"""Hypothesis property tests: spec length formulas and the loop reference vs the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import conv_ref, conv_transpose_ref, depthwise_ref, resize_ref, separable_ref

import convviz

FAST = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
NUMERIC = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# ------------------------------------------------------------- the spec's formulas, verbatim


def spec_conv_len(n, k, s, d, padding):
    ke = d * (k - 1) + 1
    if padding == "valid":
        return (n - ke) // s + 1
    return math.ceil(n / s)  # same and causal


def spec_transpose_len(n, k, s, d, padding, op):
    ke = d * (k - 1) + 1
    if padding == "valid":
        return (n - 1) * s + ke + (max(ke, s) - ke if op is None else op)
    return n * s if op is None else (n - 1) * s + ke % 2 + op


# ----------------------------------------------------------------------- strategies


@st.composite
def stride_dilation(draw, max_s=4, max_d=3):
    """s > 1 and d > 1 are mutually exclusive for Conv* and Conv*Transpose."""
    if draw(st.booleans()):
        return draw(st.integers(1, max_s)), 1
    return 1, draw(st.integers(1, max_d))


@st.composite
def output_padding(draw, s):
    return draw(st.one_of(st.none(), st.integers(0, s - 1)))


@st.composite
def stride_dilation_2d(draw, max_s=3, max_d=3):
    """Keras rejects any stride > 1 together with any dilation > 1 (over the whole tuple)."""
    if draw(st.booleans()):
        return draw(st.tuples(st.integers(1, max_s), st.integers(1, max_s))), (1, 1)
    return (1, 1), draw(st.tuples(st.integers(1, max_d), st.integers(1, max_d)))


def assert_shape_or_error(layer, input_shape, expected, out_channels=1):
    """expected > 0 for every axis: check shapes; otherwise the engine must raise ValueError."""
    x = np.zeros(input_shape, dtype=np.float32)
    if all(e > 0 for e in expected):
        want = input_shape[:1] + tuple(expected) + (out_channels,)
        assert tuple(layer.compute_output_shape(input_shape)) == want
        assert np.asarray(layer(x)).shape == want
    else:
        with pytest.raises(ValueError):
            layer(x)


# --------------------------------------------------------------------- shape properties


@FAST
@given(
    n=st.integers(1, 14),
    k=st.integers(1, 5),
    sd=stride_dilation(),
    padding=st.sampled_from(["valid", "same", "causal"]),
)
def test_conv1d_length_formula(n, k, sd, padding):
    s, d = sd
    layer = convviz.Conv1D(1, k, strides=s, padding=padding, dilation_rate=d)
    assert_shape_or_error(layer, (1, n, 1), [spec_conv_len(n, k, s, d, padding)])


@FAST
@given(
    n=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    sd=stride_dilation_2d(),
    padding=st.sampled_from(["valid", "same"]),
)
def test_conv2d_length_formula(n, k, sd, padding):
    s, d = sd
    layer = convviz.Conv2D(1, k, strides=s, padding=padding, dilation_rate=d)
    expected = [spec_conv_len(*args, padding) for args in zip(n, k, s, d, strict=True)]
    assert_shape_or_error(layer, (1,) + n + (1,), expected)


@FAST
@given(
    n=st.integers(1, 8),
    k=st.integers(1, 5),
    sd=stride_dilation(),
    padding=st.sampled_from(["valid", "same"]),
    data=st.data(),
)
def test_conv1d_transpose_length_formula(n, k, sd, padding, data):
    s, d = sd
    op = data.draw(output_padding(s))
    layer = convviz.Conv1DTranspose(1, k, strides=s, padding=padding, dilation_rate=d,
                                    output_padding=op)
    assert_shape_or_error(layer, (1, n, 1), [spec_transpose_len(n, k, s, d, padding, op)])


@FAST
@given(
    n=st.integers(1, 14),
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    d=st.integers(1, 3),  # strides and dilation together are allowed for depthwise
    padding=st.sampled_from(["valid", "same"]),
)
def test_depthwise1d_length_formula(n, k, s, d, padding):
    layer = convviz.DepthwiseConv1D(k, strides=s, padding=padding, dilation_rate=d,
                                    depth_multiplier=2)
    assert_shape_or_error(layer, (1, n, 1), [spec_conv_len(n, k, s, d, padding)], 2)


# ---------------------------------------------------------------- numeric properties


def load(layer, x, weights):
    layer.build(x.shape)
    layer.set_weights(weights)
    return np.asarray(layer(x))


def close(got, want):
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@NUMERIC
@given(
    n=st.integers(1, 10),
    k=st.integers(1, 4),
    sd=stride_dilation(3, 3),
    padding=st.sampled_from(["valid", "same", "causal"]),
    groups=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_conv1d_matches_reference(n, k, sd, padding, groups, seed):
    s, d = sd
    assume(spec_conv_len(n, k, s, d, padding) > 0)
    rng = np.random.default_rng(seed)
    cin, filters = 2 * groups, 2 * groups
    x = rng.standard_normal((2, n, cin)).astype(np.float32)
    w = [rng.standard_normal((k, cin // groups, filters)).astype(np.float32),
         rng.standard_normal(filters).astype(np.float32)]
    layer = convviz.Conv1D(filters, k, strides=s, padding=padding, dilation_rate=d,
                           groups=groups)
    close(load(layer, x, w), conv_ref(x, w[0], w[1], s, padding, d, groups))


@NUMERIC
@given(
    n=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.sampled_from(["valid", "same"]),
    channels_first=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_conv2d_matches_reference(n, k, s, padding, channels_first, seed):
    assume(all(spec_conv_len(a, b, c, 1, padding) > 0 for a, b, c in zip(n, k, s, strict=True)))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1,) + n + (2,)).astype(np.float32)
    w = [rng.standard_normal(k + (2, 3)).astype(np.float32),
         rng.standard_normal(3).astype(np.float32)]
    fmt = "channels_first" if channels_first else "channels_last"
    layer = convviz.Conv2D(3, k, strides=s, padding=padding, data_format=fmt)
    xin = np.ascontiguousarray(np.moveaxis(x, -1, 1)) if channels_first else x
    got = load(layer, xin, w)
    if channels_first:
        got = np.moveaxis(got, 1, -1)
    close(got, conv_ref(x, w[0], w[1], s, padding))


@NUMERIC
@given(
    n=st.integers(1, 6),
    k=st.integers(1, 5),
    sd=stride_dilation(4, 3),
    padding=st.sampled_from(["valid", "same"]),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_conv1d_transpose_matches_reference(n, k, sd, padding, data, seed):
    s, d = sd
    op = data.draw(output_padding(s))
    assume(spec_transpose_len(n, k, s, d, padding, op) > 0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, n, 3)).astype(np.float32)
    w = [rng.standard_normal((k, 2, 3)).astype(np.float32),
         rng.standard_normal(2).astype(np.float32)]
    layer = convviz.Conv1DTranspose(2, k, strides=s, padding=padding, dilation_rate=d,
                                    output_padding=op)
    close(load(layer, x, w), conv_transpose_ref(x, w[0], w[1], s, padding, op, d))


@NUMERIC
@given(
    n=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.sampled_from(["valid", "same"]),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_conv2d_transpose_matches_reference(n, k, s, padding, data, seed):
    op = data.draw(st.one_of(st.none(), st.tuples(*(st.integers(0, si - 1) for si in s))))
    ops = (None, None) if op is None else op
    assume(all(spec_transpose_len(*a, 1, padding, o) > 0
               for a, o in zip(zip(n, k, s, strict=True), ops, strict=True)))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1,) + n + (2,)).astype(np.float32)
    w = [rng.standard_normal(k + (3, 2)).astype(np.float32),
         rng.standard_normal(3).astype(np.float32)]
    layer = convviz.Conv2DTranspose(3, k, strides=s, padding=padding, output_padding=op)
    close(load(layer, x, w), conv_transpose_ref(x, w[0], w[1], s, padding, op))


@NUMERIC
@given(
    n=st.integers(1, 10),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    d=st.integers(1, 3),
    mult=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
    seed=st.integers(0, 2**16),
)
def test_depthwise1d_matches_reference(n, k, s, d, mult, padding, seed):
    assume(spec_conv_len(n, k, s, d, padding) > 0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, n, 3)).astype(np.float32)
    w = [rng.standard_normal((k, 3, mult)).astype(np.float32),
         rng.standard_normal(3 * mult).astype(np.float32)]
    layer = convviz.DepthwiseConv1D(k, strides=s, padding=padding, dilation_rate=d,
                                    depth_multiplier=mult)
    close(load(layer, x, w), depthwise_ref(x, w[0], w[1], s, padding, d))


@NUMERIC
@given(
    n=st.integers(1, 10),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    d=st.integers(1, 3),
    mult=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same"]),
    seed=st.integers(0, 2**16),
)
def test_separable1d_matches_reference(n, k, s, d, mult, padding, seed):
    assume(spec_conv_len(n, k, s, d, padding) > 0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, n, 2)).astype(np.float32)
    w = [rng.standard_normal((k, 2, mult)).astype(np.float32),
         rng.standard_normal((1, 2 * mult, 3)).astype(np.float32),
         rng.standard_normal(3).astype(np.float32)]
    layer = convviz.SeparableConv1D(3, k, strides=s, padding=padding, dilation_rate=d,
                                    depth_multiplier=mult)
    close(load(layer, x, w), separable_ref(x, w[0], w[1], w[2], s, padding, d))


@NUMERIC
@given(
    n=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    size=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    interpolation=st.sampled_from(["nearest", "bilinear", "bicubic", "lanczos3", "lanczos5"]),
    seed=st.integers(0, 2**16),
)
def test_upsampling2d_matches_reference(n, size, interpolation, seed):
    x = np.random.default_rng(seed).standard_normal((1,) + n + (2,)).astype(np.float32)
    layer = convviz.UpSampling2D(size=size, interpolation=interpolation)
    close(np.asarray(layer(x)), resize_ref(x, size, interpolation))

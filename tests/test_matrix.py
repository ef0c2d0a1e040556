"""Convolution as a matrix: ``x @ M.T`` is the layer, the partner's matrix is ``M.T``."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from layer_helpers import KERAS_NAMES
from reference import (
    conv_ref,
    conv_transpose_gather_ref,
    conv_transpose_ref,
    crop_ref,
    depthwise_ref,
    resize_ref,
    separable_ref,
    zero_pad_ref,
)

import convviz
from convviz import layers, layout, matrix
from convviz.matrix import as_matrix, sparse_matrix, transpose_partner

PROPERTY = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
CF = "channels_first"


# ----------------------------------------------------------------------------- helpers
def built(cls, shape, seed=0, **kwargs):
    """``cls(**kwargs)`` built on ``shape`` with random kernels and a zero bias."""
    layer = cls(**kwargs)
    layer.build(shape)
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(w.shape) for w in layer.get_weights()]
    if getattr(layer, "use_bias", False):
        weights[-1] = np.zeros_like(weights[-1])
    layer.set_weights(weights)
    return layer


def flat(a):
    return np.asarray(a, dtype=np.float64).reshape(a.shape[0], -1)


def assert_close(got, want, rtol=1e-5):
    """Relative to the largest value of ``want`` (so near-zero cells do not dominate)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    assert float(np.abs(got - want).max(initial=0.0)) <= rtol * scale


def reference(layer, x):
    """tests/reference.py's loop for ``layer`` on ``x`` (in the layer's layout), no bias."""
    fmt = layer.data_format
    last = np.ascontiguousarray(layout.to_last(np.asarray(x, dtype=np.float64), fmt))
    if isinstance(layer, layers.BaseConv):
        y = conv_ref(last, layer.kernel, None, layer.strides, layer.padding,
                     layer.dilation_rate, layer.groups)
    elif isinstance(layer, layers.BaseConvTranspose):
        args = (layer.kernel, None, layer.strides, layer.padding, layer.output_padding,
                layer.dilation_rate)
        y = conv_transpose_ref(last, *args)
        assert_close(conv_transpose_gather_ref(last, *args), y, 1e-9)
    elif isinstance(layer, layers.BaseDepthwiseConv):
        y = depthwise_ref(last, layer.kernel, None, layer.strides, layer.padding,
                          layer.dilation_rate)
    elif isinstance(layer, layers.BaseSeparableConv):
        y = separable_ref(last, layer.depthwise_kernel, layer.pointwise_kernel, None,
                          layer.strides, layer.padding, layer.dilation_rate)
    elif isinstance(layer, layers.BaseCropping):
        y = crop_ref(last, layer.cropping)
    elif isinstance(layer, layers.BaseZeroPadding):
        y = zero_pad_ref(last, layer.padding)
    else:
        y = resize_ref(last, layer.size, layer.interpolation)
    return layout.from_last(y, fmt)


def check_layer(layer, shape, seed=1):
    """``x @ M.T`` equals the forward pass and the loop reference; so does the sparse form."""
    x = np.random.default_rng(seed).standard_normal(shape)
    m = as_matrix(layer, shape)
    y = layer(x)
    assert m.dtype == np.float64
    assert m.shape == (flat(y).shape[1], flat(x).shape[1])
    got = flat(x) @ m.T
    assert_close(got, flat(y))
    assert_close(got, flat(reference(layer, x)))
    assert_close(sparse_matrix(layer, shape).matvec(flat(x)), flat(y))
    return m


# ----------------------------------------------------------------------------- a hand-written M
def test_conv1d_by_hand():
    """Conv1D, kernel [a, b], 3 cells: y0 = a x0 + b x1, y1 = a x1 + b x2."""
    a, b = 0.5, -2.0
    conv = convviz.Conv1D(1, 2, use_bias=False)
    conv.build((None, 3, 1))
    conv.set_weights([np.array([a, b]).reshape(2, 1, 1)])
    want = np.array([[a, b, 0.0], [0.0, a, b]])
    np.testing.assert_array_equal(as_matrix(conv, (None, 3, 1)), want)
    sp = sparse_matrix(conv, (None, 3, 1))
    assert sorted(zip(sp.rows.tolist(), sp.cols.tolist(), sp.values.tolist())) == [
        (0, 0, a), (0, 1, b), (1, 1, a), (1, 2, b)]
    assert sp.matvec([1.0, 10.0, 100.0]).tolist() == [a + 10 * b, 10 * a + 100 * b]
    # its partner scatters back: M.T = [[a, 0], [b, a], [0, b]]
    partner = transpose_partner(conv, (None, 3, 1))
    np.testing.assert_array_equal(as_matrix(partner, (None, 2, 1)), want.T)


# ----------------------------------------------------------------------------- all 19 layers
CASES = [
    ("Conv1D", dict(filters=4, kernel_size=3, strides=2, padding="same", groups=2,
                    data_format=CF), (2, 4, 7)),
    ("Conv1D", dict(filters=3, kernel_size=2, dilation_rate=2, padding="causal"), (2, 6, 2)),
    ("Conv1D", dict(filters=2, kernel_size=3, dilation_rate=3), (2, 9, 3)),
    ("Conv2D", dict(filters=6, kernel_size=(2, 3), strides=(2, 1), groups=2), (2, 5, 5, 4)),
    ("Conv2D", dict(filters=4, kernel_size=3, dilation_rate=(2, 1), padding="same",
                    data_format=CF), (2, 3, 6, 5)),
    ("Conv3D", dict(filters=4, kernel_size=(2, 1, 3), strides=(1, 2, 2), padding="same",
                    groups=2, data_format=CF), (1, 4, 3, 4, 5)),
    ("Conv3D", dict(filters=2, kernel_size=2, dilation_rate=2), (1, 5, 4, 5, 3)),
    ("Conv1DTranspose", dict(filters=6, kernel_size=2, strides=3, padding="same",
                             output_padding=2), (2, 8, 4)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, dilation_rate=2, data_format=CF),
     (2, 2, 5)),
    ("Conv2DTranspose", dict(filters=6, kernel_size=(2, 3), strides=(2, 1), data_format=CF),
     (2, 4, 3, 3)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=4, strides=(3, 2), output_padding=(2, 1)),
     (1, 3, 4, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same"), (1, 3, 4, 2)),
    ("Conv3DTranspose", dict(filters=3, kernel_size=(2, 2, 3), strides=(2, 1, 2)),
     (1, 2, 3, 2, 2)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=3, padding="same", dilation_rate=(1, 2, 1),
                             data_format=CF), (1, 2, 3, 3, 2)),
    ("DepthwiseConv1D", dict(kernel_size=2, depth_multiplier=3, padding="same",
                             dilation_rate=2, data_format=CF), (2, 3, 6)),
    ("DepthwiseConv1D", dict(kernel_size=3, strides=2, dilation_rate=2), (2, 9, 2)),
    ("DepthwiseConv2D", dict(kernel_size=(2, 2), strides=(2, 2), depth_multiplier=2),
     (2, 5, 5, 3)),
    ("DepthwiseConv2D", dict(kernel_size=3, padding="same", dilation_rate=2, data_format=CF),
     (1, 2, 5, 6)),
    ("SeparableConv1D", dict(filters=4, kernel_size=3, strides=2, padding="same",
                             depth_multiplier=2), (2, 9, 3)),
    ("SeparableConv1D", dict(filters=2, kernel_size=2, dilation_rate=2, data_format=CF),
     (2, 3, 6)),
    ("SeparableConv2D", dict(filters=3, kernel_size=(2, 3), strides=(1, 2), depth_multiplier=2,
                             data_format=CF), (1, 2, 5, 6)),
    ("SeparableConv2D", dict(filters=2, kernel_size=2, padding="same", dilation_rate=(2, 1)),
     (2, 4, 5, 2)),
    ("Cropping1D", dict(cropping=(1, 2)), (2, 6, 3)),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1)), data_format=CF), (2, 3, 5, 5)),
    ("Cropping3D", dict(), (1, 4, 3, 4, 2)),
    ("Cropping3D", dict(cropping=((0, 1), (1, 0), (2, 0)), data_format=CF), (1, 2, 3, 3, 4)),
    ("ZeroPadding1D", dict(padding=(2, 1)), (2, 3, 2)),
    ("ZeroPadding2D", dict(padding=((1, 2), (0, 1)), data_format=CF), (2, 2, 3, 3)),
    ("ZeroPadding3D", dict(padding=1), (1, 2, 2, 3, 2)),
    ("ZeroPadding3D", dict(padding=((0, 1), (2, 0), (1, 1)), data_format=CF), (1, 2, 2, 2, 3)),
    ("UpSampling1D", dict(size=3), (2, 4, 2)),
    ("UpSampling2D", dict(size=(2, 3), data_format=CF), (2, 2, 3, 2)),
    ("UpSampling2D", dict(size=(2, 3), interpolation="bilinear"), (1, 4, 5, 2)),
    ("UpSampling2D", dict(size=(3, 2), interpolation="bicubic", data_format=CF), (1, 2, 4, 3)),
    ("UpSampling2D", dict(size=2, interpolation="lanczos3"), (1, 3, 5, 2)),
    ("UpSampling2D", dict(size=(2, 3), interpolation="lanczos5"), (1, 6, 4, 1)),
    ("UpSampling3D", dict(size=(1, 2, 3), data_format=CF), (1, 2, 2, 3, 2)),
]


def test_the_table_covers_all_19_layers():
    assert sorted({name for name, _, _ in CASES}) == sorted(KERAS_NAMES)


@pytest.mark.parametrize(("name", "kwargs", "shape"), CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_matrix_is_the_layer(name, kwargs, shape):
    layer = built(getattr(convviz, name), shape, **kwargs)
    check_layer(layer, shape)


def test_reshaping_layers_are_selections_and_resizes_average():
    for name, kwargs, shape in CASES:
        layer = built(getattr(convviz, name), shape, **kwargs)
        m = as_matrix(layer, shape)
        if isinstance(layer, (layers.BaseCropping, layers.BaseZeroPadding)) or (
                isinstance(layer, layers.BaseUpSampling) and layer.interpolation == "nearest"):
            assert set(np.unique(m)) <= {0.0, 1.0}
            assert (m.sum(axis=0) <= 1).all() or isinstance(layer, layers.BaseUpSampling)
            assert (m.sum(axis=1) <= 1).all()
        elif isinstance(layer, layers.BaseUpSampling):
            np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)


def test_padding_and_inserted_zeros_give_no_entries():
    # 'same', k=3 on 4 cells: 4 windows x 3 taps, minus one padding tap at each end
    conv = built(convviz.Conv1D, (1, 4, 2), filters=3, kernel_size=3, padding="same")
    assert len(sparse_matrix(conv, (1, 4, 2))) == (4 * 3 - 2) * 2 * 3
    # a transposed conv has one entry per (input cell, tap) that lands inside the output
    tconv = built(convviz.Conv1DTranspose, (1, 3, 1), filters=1, kernel_size=2, strides=3)
    sp = sparse_matrix(tconv, (1, 3, 1))
    assert len(sp) == 3 * 2 and sp.shape == (9, 3)
    assert (as_matrix(tconv, (1, 3, 1)).sum(axis=1) != 0).tolist() == [True, True, False] * 3


def test_groups_and_depth_multiplier_blocks():
    conv = built(convviz.Conv1D, (1, 3, 4), filters=4, kernel_size=1, groups=2)
    m = as_matrix(conv, (1, 3, 4))[:4, :4]  # cell 0 -> cell 0, channels-last
    assert (m[:2, 2:] == 0).all() and (m[2:, :2] == 0).all() and (m[:2, :2] != 0).all()
    dw = built(convviz.DepthwiseConv1D, (1, 2, 2), kernel_size=1, depth_multiplier=3)
    block = as_matrix(dw, (1, 2, 2))[:6, :2]
    assert ((block != 0) == (np.arange(6)[:, None] // 3 == np.arange(2))).all()


def test_separable_is_pointwise_times_depthwise():
    shape = (1, 6, 5, 3)
    sep = built(convviz.SeparableConv2D, shape, filters=4, kernel_size=(3, 2), strides=(2, 1),
                padding="same", depth_multiplier=2)
    dw = convviz.DepthwiseConv2D((3, 2), strides=(2, 1), padding="same", depth_multiplier=2,
                                 use_bias=False)
    dw.build(shape)
    dw.set_weights([sep.depthwise_kernel])
    mid_shape = dw.compute_output_shape(shape)
    pw = convviz.Conv2D(4, 1, use_bias=False)
    pw.build(mid_shape)
    pw.set_weights([sep.pointwise_kernel])
    want = as_matrix(pw, mid_shape) @ as_matrix(dw, shape)
    np.testing.assert_allclose(as_matrix(sep, shape), want, rtol=1e-12, atol=1e-12)
    # the depth_multiplier terms of one (output, input) pair are separate entries that add
    sp = sparse_matrix(sep, shape)
    assert len(sp) > np.count_nonzero(sp.dense())


def test_bias_and_activation_are_left_out():
    shape = (2, 5, 3)
    plain = built(convviz.Conv1D, shape, filters=2, kernel_size=2)
    busy = convviz.Conv1D(2, 2, activation="relu", bias_initializer="ones")
    busy.build(shape)
    busy.set_weights([plain.kernel, np.array([3.0, -1.0])])
    np.testing.assert_array_equal(as_matrix(busy, shape), as_matrix(plain, shape))


# ----------------------------------------------------------------------------- property
def _stride_dilation(draw, rank, exclusive):
    strides = draw(st.tuples(*[st.integers(1, 3)] * rank))
    dilation = draw(st.tuples(*[st.integers(1, 2)] * rank))
    if exclusive and max(strides) > 1 and max(dilation) > 1:
        dilation = (1,) * rank if draw(st.booleans()) else dilation
        strides = (1,) * rank if max(dilation) > 1 else strides
    return strides, dilation


@st.composite
def layer_cases(draw):
    """A small random layer of any of the 19 classes and an input shape it accepts."""
    cls = getattr(convviz, draw(st.sampled_from(KERAS_NAMES)))
    rank = cls.rank
    kw = {}
    if cls.has_data_format:
        kw["data_format"] = draw(st.sampled_from(layout.DATA_FORMATS))
    channels = draw(st.integers(1, 3))
    top = 4 if rank == 3 else 7
    spatial = draw(st.tuples(*[st.integers(1, top)] * rank))
    if issubclass(cls, layers._WindowedConv):
        kw["kernel_size"] = draw(st.tuples(*[st.integers(1, 3)] * rank))
        kw["strides"], kw["dilation_rate"] = _stride_dilation(
            draw, rank, cls.forbid_strided_dilation)
        paddings = ["valid", "same"] + (["causal"] if cls is convviz.Conv1D else [])
        kw["padding"] = draw(st.sampled_from(paddings))
    if issubclass(cls, layers.BaseConv):
        groups = draw(st.integers(1, 2))
        kw["groups"] = groups
        kw["filters"] = groups * draw(st.integers(1, 2))
        channels = groups * draw(st.integers(1, 2))
    if issubclass(cls, (layers.BaseConvTranspose, layers.BaseSeparableConv)):
        kw["filters"] = draw(st.integers(1, 3))
    if issubclass(cls, (layers.BaseDepthwiseConv, layers.BaseSeparableConv)):
        kw["depth_multiplier"] = draw(st.integers(1, 2))
    if issubclass(cls, layers.BaseConvTranspose) and draw(st.booleans()):
        kw["output_padding"] = tuple(draw(st.integers(0, s - 1)) for s in kw["strides"])
    if issubclass(cls, (layers.BaseCropping, layers.BaseZeroPadding)):
        pairs = tuple(draw(st.tuples(st.integers(0, 2), st.integers(0, 2))) for _ in range(rank))
        name = "cropping" if issubclass(cls, layers.BaseCropping) else "padding"
        kw[name] = pairs[0] if rank == 1 else pairs
    if issubclass(cls, layers.BaseUpSampling):
        size = draw(st.tuples(*[st.integers(1, 3)] * rank))
        kw["size"] = size[0] if rank == 1 else size
        if cls is convviz.UpSampling2D:
            kw["interpolation"] = draw(st.sampled_from(convviz.geometry.INTERPOLATIONS))
    shape = layout.join(draw(st.integers(1, 2)), spatial, channels,
                        kw.get("data_format", "channels_last"))
    return cls, kw, shape


@PROPERTY
@given(case=layer_cases(), seed=st.integers(0, 2**16))
def test_property_matrix_is_the_layer(case, seed):
    cls, kw, shape = case
    try:
        layer = built(cls, shape, seed=seed, **kw)
    except ValueError:
        assume(False)  # e.g. a window longer than the input, a crop of the whole axis
    check_layer(layer, shape, seed=seed + 1)


# ----------------------------------------------------------------------------- transposes
def out_shape_of(layer, shape):
    return layer.compute_output_shape(shape)


def assert_partner(conv, shape):
    partner = transpose_partner(conv, shape)
    out = out_shape_of(conv, shape)
    assert isinstance(partner, layers.BaseConvTranspose) and partner.rank == conv.rank
    assert partner.compute_output_shape(out) == shape
    assert not partner.use_bias and partner.data_format == conv.data_format
    assert partner.strides == conv.strides and partner.dilation_rate == conv.dilation_rate
    m = as_matrix(conv, shape)
    mt = as_matrix(partner, out)
    if isinstance(conv, layers.BaseSeparableConv):  # its kernel is a product, rounded
        np.testing.assert_allclose(mt, m.T, rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_array_equal(mt, m.T)
    return partner


TRANSPOSE_CASES = [
    # (class, kwargs, conv input shape, expected partner (padding, output_padding))
    (convviz.Conv1D, dict(filters=2, kernel_size=3), (1, 7, 3), ("valid", None)),
    (convviz.Conv1D, dict(filters=2, kernel_size=3, strides=2), (1, 8, 3), ("valid", (1,))),
    (convviz.Conv1D, dict(filters=2, kernel_size=2, strides=3), (1, 8, 3), ("valid", (0,))),
    (convviz.Conv1D, dict(filters=2, kernel_size=2, strides=3), (1, 9, 3), ("valid", None)),
    (convviz.Conv1D, dict(filters=3, kernel_size=3, dilation_rate=2, padding="same",
                          data_format=CF), (2, 2, 6), ("same", None)),
    (convviz.Conv1D, dict(filters=2, kernel_size=3, strides=2, padding="same"), (1, 8, 2),
     ("same", None)),
    (convviz.Conv1D, dict(filters=2, kernel_size=3, strides=2, padding="same"), (1, 7, 2),
     ("same", (0,))),
    (convviz.Conv1D, dict(filters=2, kernel_size=4, strides=3, padding="same"), (1, 7, 2),
     ("same", (1,))),
    (convviz.Conv1D, dict(filters=4, kernel_size=1, padding="causal", groups=2), (1, 5, 2),
     ("valid", None)),
    (convviz.Conv2D, dict(filters=4, kernel_size=(3, 2), strides=(2, 3), groups=2),
     (1, 8, 7, 2), ("valid", (1, 2))),
    (convviz.Conv2D, dict(filters=3, kernel_size=3, strides=2, padding="same", data_format=CF),
     (2, 2, 7, 5), ("same", (0, 0))),
    (convviz.Conv2D, dict(filters=3, kernel_size=(2, 3), dilation_rate=(2, 3), padding="same"),
     (1, 5, 7, 2), ("same", None)),
    (convviz.Conv3D, dict(filters=2, kernel_size=(2, 3, 1), strides=(2, 1, 3)),
     (1, 5, 4, 5, 2), ("valid", (1, 0, 1))),
    (convviz.Conv3D, dict(filters=4, kernel_size=3, dilation_rate=(1, 2, 1), padding="same",
                          groups=2, data_format=CF), (1, 2, 3, 5, 4), ("same", None)),
    (convviz.Conv3D, dict(filters=2, kernel_size=3, strides=(2, 3, 1), padding="same"),
     (1, 5, 7, 3, 1), ("same", (0, 0, 0))),
    (convviz.DepthwiseConv2D, dict(kernel_size=(3, 2), strides=(1, 2), depth_multiplier=2),
     (1, 5, 6, 2), ("valid", None)),
    (convviz.DepthwiseConv1D, dict(kernel_size=3, dilation_rate=2, padding="same",
                                   depth_multiplier=2, data_format=CF), (1, 2, 7),
     ("same", None)),
    (convviz.SeparableConv1D, dict(filters=3, kernel_size=3, strides=2, depth_multiplier=2),
     (1, 8, 2), ("valid", (1,))),
    (convviz.SeparableConv2D, dict(filters=2, kernel_size=2, padding="same"), (1, 4, 5, 3),
     ("same", None)),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape", "expected"), TRANSPOSE_CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, *_) in enumerate(TRANSPOSE_CASES)])
def test_transpose_identity(cls, kwargs, shape, expected):
    conv = built(cls, shape, **kwargs)
    partner = assert_partner(conv, shape)
    if expected is not None:
        assert (partner.padding, partner.output_padding) == expected
    # the partner is an ordinary layer: its forward pass is M.T, and Keras's arithmetic
    g = np.random.default_rng(5).standard_normal(out_shape_of(conv, shape))
    assert_close(flat(partner(g)), flat(g) @ as_matrix(conv, shape))
    assert_close(flat(partner(g)), flat(reference(partner, g)))


def test_transpose_partner_keeps_the_kernel_array():
    conv = built(convviz.Conv2D, (1, 6, 6, 3), filters=5, kernel_size=(3, 2), strides=2)
    partner = transpose_partner(conv, (1, 6, 6, 3))
    # Keras's transposed layout (*k, filters, in) is the conv's (*k, in, out) read as-is
    assert partner.filters == 3 and partner.kernel.shape == (3, 2, 3, 5)
    np.testing.assert_array_equal(partner.kernel, conv.kernel)


def _partner_exists(n, k, s, d, padding):
    """Independent of the module: which of the four Keras choices fits one axis."""
    ke = d * (k - 1) + 1
    if padding == "causal":
        padding = "valid" if ke == 1 else None
    if padding is None:
        return set()
    if padding == "valid":
        r = (n - ke) % s
        fits = {("valid", True)}
        if r == max(ke, s) - ke:
            fits.add(("valid", False))
        return fits
    out = -(-n // s)
    m = n - (out - 1) * s  # cells the last window starts before the end, 1..s
    fits = set()
    if n % s == 0:
        fits.add(("same", False))
    if ke % 2 == 1 or m < s:
        fits.add(("same", True))
    if m == s and ke <= s:
        fits.add(("valid", False))
    if m >= ke:
        fits.add(("valid", True))
    return fits


@st.composite
def conv_cases(draw):
    cls = draw(st.sampled_from([convviz.Conv1D, convviz.Conv2D, convviz.Conv3D]))
    rank = cls.rank
    fmt = draw(st.sampled_from(layout.DATA_FORMATS))
    kernel = draw(st.tuples(*[st.integers(1, 4)] * rank))
    strides, dilation = _stride_dilation(draw, rank, True)
    padding = draw(st.sampled_from(["valid", "same"] + (["causal"] if rank == 1 else [])))
    groups = draw(st.integers(1, 2))
    top = 5 if rank == 3 else 9
    spatial = draw(st.tuples(*[st.integers(1, top)] * rank))
    shape = layout.join(1, spatial, groups * draw(st.integers(1, 2)), fmt)
    kw = dict(filters=groups * draw(st.integers(1, 2)), kernel_size=kernel, strides=strides,
              dilation_rate=dilation, padding=padding, groups=groups, data_format=fmt)
    return cls, kw, shape


@PROPERTY
@given(case=conv_cases())
def test_property_transpose_identity(case):
    cls, kw, shape = case
    try:
        conv = built(cls, shape, **kw)
    except ValueError:
        assume(False)
    spatial = layout.spatial(shape, kw["data_format"])
    fits = [_partner_exists(n, k, s, d, kw["padding"]) for n, k, s, d in
            zip(spatial, kw["kernel_size"], kw["strides"], kw["dilation_rate"])]
    if set.intersection(*fits):
        assert_partner(conv, shape)
    else:
        with pytest.raises(ValueError, match="No Conv.DTranspose reproduces"):
            transpose_partner(conv, shape)


def test_transpose_partner_refusals():
    with pytest.raises(ValueError, match=r"'causal' pads d\*\(k-1\) cells"):
        transpose_partner(convviz.Conv1D(2, 2, padding="causal"), (1, 4, 2))
    # axis 0 needs output_padding=None (s divides n, even kernel), axis 1 needs one
    with pytest.raises(ValueError, match=re.escape("on input spatial shape (4, 5)")):
        transpose_partner(convviz.Conv2D(2, 2, strides=2, padding="same"), (1, 4, 5, 2))
    with pytest.raises(ValueError, match="strides=.* and dilation_rate="):
        transpose_partner(convviz.DepthwiseConv1D(3, strides=2, dilation_rate=2), (1, 9, 2))
    with pytest.raises(TypeError, match="transpose_partner needs"):
        transpose_partner(convviz.ZeroPadding1D(), (1, 4, 2))


GRADIENT_CASES = [
    (convviz.Conv1D, dict(filters=2, kernel_size=3, strides=3), (1, 8, 2)),
    (convviz.Conv2D, dict(filters=4, kernel_size=(3, 2), strides=2, padding="same", groups=2,
                          data_format=CF), (1, 2, 5, 5)),
    (convviz.Conv3D, dict(filters=2, kernel_size=2, dilation_rate=(2, 1, 1), padding="same"),
     (1, 3, 3, 2, 2)),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape"), GRADIENT_CASES,
                         ids=[c.__name__ for c, *_ in GRADIENT_CASES])
def test_transposed_conv_is_the_gradient(cls, kwargs, shape):
    """d/dx sum(conv(x) * g) = M.T @ g = partner(g), against central differences."""
    conv = built(cls, shape, dtype="float64", **kwargs)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(out_shape_of(conv, shape))

    def loss(v):
        return float(np.sum(conv(v) * g))

    h = 1e-3
    numeric = np.zeros(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        numeric[i] = (loss(x + e.reshape(shape)) - loss(x - e.reshape(shape))) / (2 * h)
    m = as_matrix(conv, shape)
    explicit = m.T @ g.reshape(-1)
    assert_close(numeric, explicit, 1e-7)
    assert_close(sparse_matrix(conv, shape).T.matvec(g.reshape(-1)), explicit, 1e-12)
    partner = transpose_partner(conv, shape)
    assert partner.dtype == "float64"
    assert_close(partner(g).reshape(-1), explicit, 1e-12)


# ----------------------------------------------------------------------------- caps and edges
def test_dense_cap_names_the_sizes():
    conv = convviz.Conv2D(1, 1)
    shape = (None, 4097, 4096, 1)
    cells = 4097 * 4096
    with pytest.raises(ValueError) as err:
        as_matrix(conv, shape)
    text = str(err.value)
    assert f"{cells} x {cells} = {cells * cells} entries" in text
    assert f"MAX_DENSE_ENTRIES = {16 * 2**20}" in text and "sparse_matrix" in text
    assert matrix.MAX_DENSE_ENTRIES == 16 * 2**20


def test_dense_cap_boundary(monkeypatch):
    conv = built(convviz.Conv1D, (1, 6, 2), filters=3, kernel_size=2)  # 15 x 12
    monkeypatch.setattr(matrix, "MAX_DENSE_ENTRIES", 15 * 12)
    assert as_matrix(conv, (1, 6, 2)).shape == (15, 12)
    monkeypatch.setattr(matrix, "MAX_DENSE_ENTRIES", 15 * 12 - 1)
    with pytest.raises(ValueError, match=re.escape("15 x 12 = 180 entries")):
        as_matrix(conv, (1, 6, 2))
    with pytest.raises(ValueError, match="MAX_DENSE_ENTRIES = 179"):
        sparse_matrix(conv, (1, 6, 2)).dense()


def test_sparse_cap_names_the_count():
    conv = convviz.Conv2D(64, 3)
    entries = (254 * 3) ** 2 * 64 * 64
    with pytest.raises(ValueError) as err:
        sparse_matrix(conv, (1, 256, 256, 64))
    text = str(err.value)
    assert f"{254 * 254 * 64} x {256 * 256 * 64}" in text and f"{entries} entries" in text
    assert f"MAX_SPARSE_ENTRIES = {matrix.MAX_SPARSE_ENTRIES}" in text
    assert entries > matrix.MAX_SPARSE_ENTRIES == 2**25


def test_sparse_cap_boundary(monkeypatch):
    conv = built(convviz.Conv1D, (1, 4, 2), filters=3, kernel_size=3, padding="same")
    count = (4 * 3 - 2) * 2 * 3
    monkeypatch.setattr(matrix, "MAX_SPARSE_ENTRIES", count)
    assert len(sparse_matrix(conv, (1, 4, 2))) == count
    monkeypatch.setattr(matrix, "MAX_SPARSE_ENTRIES", count - 1)
    with pytest.raises(ValueError, match=f"would have {count} entries"):
        sparse_matrix(conv, (1, 4, 2))


def test_sparse_form():
    shape = (3, 2, 5, 4)
    conv = built(convviz.Conv2D, shape, filters=3, kernel_size=2, strides=(1, 2),
                 data_format=CF)
    sp = sparse_matrix(conv, shape)
    assert sp.rows.dtype == sp.cols.dtype == np.int64 and sp.values.dtype == np.float64
    m = as_matrix(conv, shape)
    assert sp.shape == m.shape and sp.T.shape == m.shape[::-1]
    np.testing.assert_array_equal(sp.dense(), m)
    np.testing.assert_array_equal(sp.T.dense(), m.T)
    x = np.random.default_rng(0).standard_normal(shape).reshape(3, -1)
    assert_close(sp.matvec(x), x @ m.T, 1e-12)
    assert_close(sp.matvec(x[0]), m @ x[0], 1e-12)
    with pytest.raises(ValueError, match=re.escape(f"({m.shape[1]},) or (batch, {m.shape[1]})")):
        sp.matvec(np.zeros(m.shape[1] + 1))


def test_builds_and_validates():
    conv = convviz.Conv1D(2, 2)
    assert not conv.built
    assert as_matrix(conv, (None, 4, 3)).shape == (6, 12)
    assert conv.built and conv.input_channels == 3
    with pytest.raises(ValueError, match="built for 3 input channels"):
        as_matrix(conv, (None, 4, 2))
    with pytest.raises(ValueError, match="concrete spatial sizes"):
        as_matrix(convviz.Conv1D(2, 2), (None, None, 3))
    with pytest.raises(ValueError, match="expected ndim=3"):
        as_matrix(convviz.Conv1D(2, 2), (None, 4, 4, 3))
    with pytest.raises(TypeError, match="convviz layer"):
        as_matrix(object(), (1, 2, 3))
    # a reshaping layer has no weights: any channel count will do
    crop = convviz.Cropping1D((1, 0))
    assert as_matrix(crop, (1, 3, 2)).shape == (4, 6)
    assert as_matrix(crop, (1, 3, 1)).tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def test_exported():
    for name in ("as_matrix", "sparse_matrix", "transpose_partner"):
        assert getattr(convviz, name) is getattr(matrix, name)
        assert name in convviz.__all__


@pytest.mark.parametrize("kw, n", [
    ({"kernel_size": 3, "strides": 2}, 3),
    ({"kernel_size": 3, "strides": 2, "padding": "same"}, 3),
    ({"kernel_size": 4, "strides": 2, "padding": "same"}, 4),
    ({"kernel_size": 3, "strides": 2, "output_padding": 1}, 3),
    ({"kernel_size": 2, "dilation_rate": 2}, 4),
])
def test_conv_partner_is_the_convolution_a_transposed_layer_is_the_transpose_of(kw, n):
    t = convviz.Conv2DTranspose(2, **kw)
    shape = (None, n, n, 3)
    t.build(shape)
    conv = matrix.conv_partner(t, shape)
    out_shape = t.compute_output_shape(shape)
    assert np.allclose(as_matrix(conv, out_shape).T, as_matrix(t, shape))
    assert conv.compute_output_shape(out_shape) == (None, n, n, 3)
    # and back: the transposed layer is the conv's transpose partner again
    back = transpose_partner(conv, out_shape)
    assert np.allclose(as_matrix(back, shape), as_matrix(t, shape))


def test_conv_partner_of_a_1d_example_by_hand():
    # Conv1DTranspose k=2, s=1 on 2 cells, weights [a, b]: full[o + j] += x[o] * W[j],
    # so M = [[a, 0], [b, a], [0, b]]; its conv partner reads [a, b]: [[a, b, 0], [0, a, b]]
    t = convviz.Conv1DTranspose(1, 2, use_bias=False)
    t.build((None, 2, 1))
    t.set_weights([np.array([[[2.0]], [[5.0]]], np.float32)])
    assert as_matrix(t, (None, 2, 1)).tolist() == [[2, 0], [5, 2], [0, 5]]
    conv = matrix.conv_partner(t, (None, 2, 1))
    assert as_matrix(conv, (None, 3, 1)).tolist() == [[2, 5, 0], [0, 2, 5]]

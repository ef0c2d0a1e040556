"""Traces: the recorded geometry must agree with what the forward pass actually does."""

import numpy as np
import pytest

import convviz
from convviz.trace import ScatterTrace, Trace

RNG = np.random.default_rng(1234)

# (factory, input shape) for every layer class and rank, with the interesting options on.
CASES = [
    (lambda: convviz.Conv1D(2, 3, padding="causal", dilation_rate=2), (2, 7, 2)),
    (lambda: convviz.Conv1D(2, 2, strides=2, padding="same"), (2, 7, 2)),
    (lambda: convviz.Conv2D(4, 3, strides=2, padding="same", groups=2), (2, 6, 5, 2)),
    (lambda: convviz.Conv2D(2, (2, 3), dilation_rate=(2, 1), data_format="channels_first"),
     (1, 2, 6, 5)),
    (lambda: convviz.Conv3D(2, 2, strides=(1, 2, 1), padding="same"), (1, 3, 4, 3, 2)),
    (lambda: convviz.Conv1DTranspose(2, 4, strides=3), (2, 4, 2)),
    (lambda: convviz.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1),
     (1, 3, 4, 2)),
    (lambda: convviz.Conv2DTranspose(2, 2, dilation_rate=2, padding="same"), (1, 3, 3, 1)),
    (lambda: convviz.Conv3DTranspose(1, 2, strides=(2, 1, 2), data_format="channels_first"),
     (1, 2, 2, 3, 2)),
    (lambda: convviz.DepthwiseConv1D(3, depth_multiplier=2, padding="same"), (2, 6, 2)),
    (lambda: convviz.DepthwiseConv2D(3, strides=2, dilation_rate=2, padding="same"),
     (1, 7, 6, 2)),
    (lambda: convviz.SeparableConv1D(3, 3, strides=2, depth_multiplier=2), (2, 9, 2)),
    (lambda: convviz.SeparableConv2D(2, 2, padding="same"), (1, 5, 4, 3)),
    (lambda: convviz.Cropping1D((2, 1)), (2, 6, 2)),
    (lambda: convviz.Cropping2D(((1, 0), (0, 2))), (1, 5, 6, 2)),
    (lambda: convviz.Cropping3D(((1, 0), (0, 1), (1, 1)), data_format="channels_first"),
     (1, 2, 3, 3, 4)),
    (lambda: convviz.ZeroPadding1D((2, 1)), (2, 4, 3)),
    (lambda: convviz.ZeroPadding2D(((1, 2), (0, 1))), (1, 3, 4, 2)),
    (lambda: convviz.ZeroPadding3D(1), (1, 2, 2, 3, 1)),
    (lambda: convviz.UpSampling1D(3), (2, 4, 2)),
    (lambda: convviz.UpSampling2D((2, 3)), (1, 3, 4, 2)),
    (lambda: convviz.UpSampling2D(2, interpolation="bilinear"), (1, 3, 4, 2)),
    (lambda: convviz.UpSampling2D(3, interpolation="bicubic"), (1, 4, 3, 1)),
    (lambda: convviz.UpSampling2D(2, interpolation="lanczos3"), (1, 4, 5, 1)),
    (lambda: convviz.UpSampling3D((1, 2, 2), data_format="channels_first"), (1, 2, 2, 3, 2)),
]
IDS = [f"{f().__class__.__name__}-{i}" for i, (f, _) in enumerate(CASES)]


def _spatial_index(layer, idx):
    if layer.data_format == "channels_last":
        return (slice(None), *idx, slice(None))
    return (slice(None), slice(None), *idx)


def _perturbed_dependency(layer, shape):
    """Which output cells change when each input cell (all channels) is perturbed."""
    x = RNG.standard_normal(shape)
    y = layer(x)
    tr = layer.trace(shape)
    dep = np.zeros(tr.out_shape + tr.in_shape, dtype=bool)
    channel_axes = (0, -1) if layer.data_format == "channels_last" else (0, 1)
    for i in np.ndindex(*tr.in_shape):
        x2 = x.copy()
        cell = _spatial_index(layer, i)
        x2[cell] += RNG.uniform(0.5, 1.5, size=x2[cell].shape)
        changed = np.abs(layer(x2) - y).max(axis=channel_axes) > 1e-9
        dep[(slice(None),) * len(tr.out_shape) + i] = changed
    return dep, tr


@pytest.mark.parametrize("factory,shape", CASES, ids=IDS)
def test_dependency_matches_perturbation(factory, shape):
    layer = factory()
    dep, tr = _perturbed_dependency(layer, shape)
    np.testing.assert_array_equal(tr.dependency(), dep)
    assert tr.dependency().any()


@pytest.mark.parametrize("factory,shape", CASES, ids=IDS)
def test_trace_shapes_steps_and_independence(factory, shape):
    layer = factory()
    tr = layer.trace(shape)
    out = layer.compute_output_shape(shape)
    spatial_out = out[1:-1] if layer.data_format == "channels_last" else out[2:]
    assert tr.out_shape == tuple(spatial_out)
    assert len(tr) == int(np.prod(spatial_out))
    for i in (0, len(tr) // 2, len(tr) - 1):
        st = tr.step(i)
        assert st.out_index == tuple(int(v) for v in np.unravel_index(i, tr.out_shape))
        assert st.coords.shape[1] == len(tr.in_shape)
        assert st.coords.shape == st.kernel_index.shape == st.source.shape
    # geometry only: another batch size and channel count give the same arrays
    other = list(shape)
    other[0] = 5
    other[-1 if layer.data_format == "channels_last" else 1] *= 3
    tr2 = factory().trace(tuple(other))
    for a, b in zip(tr.axes, tr2.axes):
        for name in ("coords", "kernel", "source", "weight"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # stored per axis, never per cell
    for a in tr.axes:
        assert a.coords.ndim == 2 and a.coords.dtype == np.int64
    with pytest.raises(IndexError):
        tr.step(len(tr))


@pytest.mark.parametrize("factory,shape", CASES, ids=IDS)
def test_explain_equals_forward(factory, shape):
    layer = factory()
    x = RNG.standard_normal(shape)
    if hasattr(layer, "bias") or hasattr(layer, "use_bias"):
        layer.build(shape)
        if getattr(layer, "use_bias", False):
            w = layer.get_weights()
            w[-1] = RNG.standard_normal(w[-1].shape)
            layer.set_weights(w)
    y = layer(x)
    for flat in (0, y.size // 3, y.size - 1):
        idx = np.unravel_index(flat, y.shape)
        e = layer.explain(x, idx)
        assert e.value == pytest.approx(float(y[idx]), rel=1e-4, abs=1e-5)
        assert e.pre_activation == pytest.approx(e.total + e.bias)
        assert len(e.rows()) == len(e)
        padding = e.columns["padding"] | e.columns["inserted"]
        assert np.all(e.columns["value"][padding] == 0)


@pytest.mark.parametrize("activation", ["relu", "softmax", "tanh"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_explain_activation_and_bias(activation, data_format):
    layer = convviz.Conv2D(3, 3, padding="same", activation=activation, data_format=data_format)
    shape = (2, 4, 5, 4) if data_format == "channels_last" else (2, 4, 4, 5)
    x = RNG.standard_normal(shape)
    layer.build(shape)
    layer.set_weights([layer.kernel, RNG.standard_normal(3)])
    y = layer(x)
    idx = (1, 2, 3, 1) if data_format == "channels_last" else (1, 1, 2, 3)
    e = layer.explain(x, idx)
    assert e.activation == activation
    assert e.bias == pytest.approx(float(layer.bias[idx[-1] if data_format == "channels_last"
                                                      else idx[1]]))
    assert e.value == pytest.approx(float(y[idx]), rel=1e-4)
    # 3x3 window x 4 input channels
    assert len(e) == 9 * 4


def test_explain_rejects_bad_index():
    layer = convviz.Conv1D(1, 3)
    with pytest.raises(ValueError, match=r"out_index.*\(1, 3, 1\)"):
        layer.explain(np.zeros((1, 5, 1)), (0, 3, 0))


@pytest.mark.parametrize(
    "n,k,s,expected",
    [(5, 2, 1, (0, 1)), (5, 4, 1, (1, 2)), (6, 3, 2, (0, 1)), (7, 4, 2, (1, 2)), (5, 3, 1, (1, 1))],
)
def test_same_padding_odd_total_puts_extra_cell_at_the_end(n, k, s, expected):
    tr = convviz.Conv1D(1, k, strides=s, padding="same").trace((None, n, 1))
    assert tr.pads == (expected,)
    lo, hi = expected
    # padding cells actually visited by the windows
    first, last = tr.step(0), tr.step(len(tr) - 1)
    assert first.padding.sum() == lo
    assert last.padding.sum() == hi
    mask = tr.padding_mask()
    assert mask.shape == (n + lo + hi,)
    assert mask[:lo].all() and mask[n + lo:].all() and not mask[lo:n + lo].any()


def test_same_padding_2d_uneven_and_causal_left():
    tr = convviz.Conv2D(1, (4, 2), padding="same").trace((None, 5, 5, 1))
    assert tr.pads == ((1, 2), (0, 1))
    assert tr.padding_mask().sum() == 8 * 6 - 25
    tr = convviz.Conv1D(1, 3, padding="causal", dilation_rate=2).trace((None, 5, 1))
    assert tr.pads == ((4, 0),)
    assert tr.step(0).padding.tolist() == [True, True, False]


@pytest.mark.parametrize("d,gaps_1d", [(1, 0), (2, 2), (3, 4)])
def test_dilation_gaps(d, gaps_1d):
    tr = convviz.Conv1D(1, 3, dilation_rate=d).trace((None, 12, 1))
    st = tr.step(1)
    assert st.gaps.shape == (gaps_1d, 1)
    taps = set(st.coords[:, 0].tolist())
    span = set(range(min(taps), max(taps) + 1))
    assert set(st.gaps[:, 0].tolist()) == span - taps
    tr2 = convviz.Conv2D(1, 3, dilation_rate=d).trace((None, 12, 12, 1))
    ke = d * 2 + 1
    assert tr2.step(0).gaps.shape == (ke * ke - 9, 2)


def test_read_count_and_padding_counts():
    tr = convviz.Conv1D(1, 3, padding="same").trace((None, 4, 1))
    # padded space of 6: each cell read by as many windows as cover it
    assert tr.read_count().tolist() == [1, 2, 3, 3, 2, 1]


def _scatter_forward(layer, x):
    """Rebuild a transposed conv from the scatter view's steps (channels_last, no bias)."""
    tr = layer.trace(x.shape, view="scatter")
    assert isinstance(tr, ScatterTrace)
    assert len(tr) == int(np.prod(tr.in_shape))
    y = np.zeros((x.shape[0], *tr.out_shape, layer.filters))
    for i in range(len(tr)):
        st = tr.step(i)
        for oc, kj in zip(st.out_coords[st.inside], st.kernel_index[st.inside]):
            y[(slice(None), *oc)] += x[(slice(None), *st.in_index)] @ layer.kernel[tuple(kj)].T
    return y


def _gather_forward(layer, x):
    """Rebuild it from the gather view: zero-insert, pad, stride-1 conv with the flipped kernel."""
    tr = layer.trace(x.shape)
    assert isinstance(tr, Trace)
    z = np.zeros((x.shape[0], *tr.space_shape, x.shape[-1]))
    z[(slice(None), *(slice(None, None, s) for s in layer.strides))] = x
    assert not tr.inserted_mask()[tuple(slice(None, None, s) for s in layer.strides)].any()
    assert tr.inserted_mask().sum() == np.prod(tr.space_shape) - np.prod(tr.in_shape)
    y = np.zeros((x.shape[0], *tr.out_shape, layer.filters))
    for i in range(len(tr)):
        st = tr.step(i)
        for c, kj, pad, ins in zip(st.coords, st.kernel_index, st.padding, st.inserted):
            if pad:
                continue
            v = z[(slice(None), *c)]
            assert ins == (np.count_nonzero(v) == 0 and bool((c % layer.strides).any()))
            y[(slice(None), *st.out_index)] += v @ layer.kernel[tuple(kj)].T
    return y


@pytest.mark.parametrize(
    "factory,shape",
    [
        (lambda: convviz.Conv1DTranspose(2, 3, strides=2, output_padding=1), (2, 4, 3)),
        (lambda: convviz.Conv1DTranspose(2, 2, strides=3, padding="same", output_padding=2),
         (1, 4, 2)),
        (lambda: convviz.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1),
         (2, 3, 3, 2)),
        (lambda: convviz.Conv2DTranspose(2, (4, 3), strides=(2, 3), padding="same"), (1, 3, 2, 2)),
        (lambda: convviz.Conv2DTranspose(1, 3, dilation_rate=2), (1, 3, 3, 2)),
        (lambda: convviz.Conv3DTranspose(2, 2, strides=2, output_padding=(1, 0, 1)),
         (1, 2, 2, 2, 2)),
    ],
)
def test_transpose_scatter_and_gather_views_give_the_forward_numbers(factory, shape):
    layer = factory()
    layer.use_bias = False
    layer.build(shape)
    x = RNG.standard_normal(shape)
    y = layer(x)
    np.testing.assert_allclose(_scatter_forward(layer, x), y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_gather_forward(layer, x), y, rtol=1e-4, atol=1e-5)


def test_transpose_overlap_count_is_the_checkerboard():
    tr = convviz.Conv1DTranspose(1, 3, strides=2).trace((None, 4, 1))
    assert tr.overlap_count().tolist() == [1, 1, 2, 1, 2, 1, 2, 1, 1]
    even = convviz.Conv1DTranspose(1, 4, strides=2, padding="same").trace((None, 4, 1))
    # kernel divisible by the stride: an even interior, only the borders see fewer writes
    assert even.overlap_count().tolist() == [1, 2, 2, 2, 2, 2, 2, 1]
    two_d = convviz.Conv2DTranspose(1, 3, strides=2).trace((None, 3, 3, 1)).overlap_count()
    assert two_d.max() == 4 and two_d.min() == 1
    scatter = convviz.Conv1DTranspose(1, 3, strides=2).trace((None, 4, 1), view="scatter")
    np.testing.assert_array_equal(scatter.overlap_count(), tr.overlap_count())


def test_transpose_scatter_step_paints_kernel_patch_with_crop():
    layer = convviz.Conv1DTranspose(1, 4, strides=2, padding="same")
    tr = layer.trace((None, 3, 1), view="scatter")
    assert tr.full_shape == (8,)
    st = tr.step(0)
    # crop = (4 - 2) // 2 = 1: tap 0 of input 0 lands before the output starts
    assert st.full_coords[:, 0].tolist() == [0, 1, 2, 3]
    assert st.out_coords[:, 0].tolist() == [-1, 0, 1, 2]
    assert st.inside.tolist() == [False, True, True, True]
    with pytest.raises(ValueError, match="view"):
        layer.trace((None, 3, 1), view="sideways")
    with pytest.raises(ValueError, match="gather"):
        convviz.Conv1D(1, 2).trace((None, 3, 1), view="scatter")


def test_channel_maps():
    conv = convviz.Conv2D(6, 3, groups=3).trace((None, 5, 5, 6))
    cmap = conv.channel_map(6)
    assert cmap.shape == (6, 6)
    assert cmap.sum() == 3 * 2 * 2 and cmap[0, 0] and cmap[0, 1] and not cmap[0, 2]
    dw = convviz.DepthwiseConv1D(3, depth_multiplier=2).trace((None, 5, 3)).channel_map(3)
    assert dw.shape == (6, 3)
    assert [int(np.flatnonzero(r)[0]) for r in dw] == [0, 0, 1, 1, 2, 2]
    sep = convviz.SeparableConv1D(4, 3).trace((None, 5, 3)).channel_map(3)
    assert sep.shape == (4, 3) and sep.all()
    crop = convviz.Cropping1D().trace((None, 5, 3)).channel_map(3)
    np.testing.assert_array_equal(crop, np.eye(3, dtype=bool))


def test_channel_map_matches_channel_perturbation():
    layer = convviz.Conv1D(4, 2, groups=2)
    x = RNG.standard_normal((1, 4, 6))
    y = layer(x)
    cmap = layer.trace(x.shape).channel_map(6)
    for c in range(6):
        x2 = x.copy()
        x2[..., c] += 1.0
        changed = np.abs(layer(x2) - y).max(axis=(0, 1)) > 1e-9
        np.testing.assert_array_equal(changed, cmap[:, c])


def test_upsampling_sources_and_weights():
    tr = convviz.UpSampling2D(2, interpolation="bilinear").trace((None, 3, 4, 1))
    for a in tr.axes:
        np.testing.assert_allclose(a.weight.sum(axis=1), 1.0)
        assert (a.source >= 0).sum(axis=1).max() == 2
    st = tr.step(len(tr) // 2)
    assert 1 <= (st.source >= 0).all(axis=1).sum() <= 4
    assert st.weight.sum() == pytest.approx(1.0)
    near = convviz.UpSampling1D(3).trace((None, 4, 1))
    assert near.axes[0].source[:, 0].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_crop_kept_region_and_zero_padding_added_cells():
    crop = convviz.Cropping2D(((1, 2), (0, 1))).trace((None, 6, 5, 1))
    assert crop.pads == ((-1, -2), (0, -1))
    assert crop.axes[0].source[:, 0].tolist() == [1, 2, 3]
    assert crop.axes[1].source[:, 0].tolist() == [0, 1, 2, 3]
    pad = convviz.ZeroPadding2D(((1, 0), (2, 1))).trace((None, 2, 2, 1))
    assert pad.pads == ((1, 0), (2, 1))
    added = sum(pad.step(i).padding.all() for i in range(len(pad)))
    assert added == 3 * 5 - 4


def test_trace_requires_concrete_sizes_and_refuses_huge_dependency():
    with pytest.raises(ValueError, match="concrete"):
        convviz.Conv2D(1, 3).trace((None, None, 5, 1))
    big = convviz.Conv2D(1, 3, padding="same").trace((None, 224, 224, 3))
    assert len(big) == 224 * 224
    with pytest.raises(ValueError, match="dependency matrix"):
        big.dependency()
    field = big.receptive_field((0, 0))
    assert field.sum() == 4 and field[:2, :2].all()

"""convviz.realdata.kernels: named kernels, their weight layouts and their responses.

Expected values come from outside the code under test: hand-written kernels, closed-form
responses (a Sobel derivative of a row-only image, a Laplacian of x^2), window means by
NumPy's sliding_window_view and the loop references in tests/reference.py (written from
KERAS_SEMANTICS.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from reference import conv_ref

from convviz import realdata as rd

SETTINGS = settings(deadline=None, max_examples=40)


@pytest.fixture(scope="module")
def photo_small():
    return rd.fit(rd.load_asset("photo"), 12)


# ----------------------------------------------------------------------------- kernels
def test_named_kernels_by_hand():
    assert rd.taps("sobel_y", (3, 3)).tolist() == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    assert rd.taps("laplacian", (3, 3)).tolist() == [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    assert rd.taps("sharpen", (3, 3)).tolist() == [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    assert rd.taps("gaussian", (3, 3)).tolist() == (np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]])
                                                    / 16).tolist()
    assert rd.taps("sobel_x", (3,)).tolist() == [-1, 0, 1]
    assert rd.taps("sobel_x", (5,)).tolist() == [-1, -2, 0, 2, 1]
    assert rd.taps("sobel_x", (2,)).tolist() == [-1, 1]
    assert rd.taps("identity", (4,)).tolist() == [0, 1, 0, 0]  # 'same' pads 1 before, 2 after
    lap3 = rd.taps("laplacian", (3, 3, 3))
    assert lap3[1, 1, 1] == -6 and lap3.sum() == 0 and (lap3 != 0).sum() == 7
    sob3 = rd.taps("sobel_x", (3, 3, 3))
    np.testing.assert_array_equal(sob3[1], 2 * rd.taps("sobel_x", (3, 3)))
    assert sob3.sum() == 0 and not sob3[:, :, 1].any()  # the derivative's centre tap
    for name in rd.KERNELS:
        assert rd.taps(name, (3, 3)).shape == (3, 3)


def test_kernel_errors_name_what_was_received():
    with pytest.raises(ValueError, match="'sobel_y' differentiates along rows.*1-D"):
        rd.taps("sobel_y", (3,))
    with pytest.raises(ValueError, match="kernel_size >= 2 along the axis it differentiates"):
        rd.taps("sobel_x", (3, 1))
    with pytest.raises(ValueError, match=r"kernel_size >= 3 on every axis.*\(3, 2\)"):
        rd.taps("laplacian", (3, 2))
    with pytest.raises(ValueError, match="Unknown kernel 'blur'.*box_blur"):
        rd.kernel("blur", 3, 2)
    with pytest.raises(ValueError, match="`channels` must be one of"):
        rd.kernel("identity", 3, 2, channels="all")
    with pytest.raises(ValueError, match="`layout` must be one of"):
        rd.kernel("identity", 3, 2, layout="pointwise")
    with pytest.raises(ValueError, match="divide by `groups`"):
        rd.kernel("identity", 3, 2, in_channels=3, filters=4, groups=2)
    with pytest.raises(ValueError, match="needs `rank`"):
        rd.kernel("identity", 3)
    with pytest.raises(ValueError, match="kernel_size"):
        rd.kernel("identity", (3, 3), rank=3)


def test_kernel_layouts_and_channel_rules():
    k = rd.kernel("sobel_x", 3, 2, in_channels=4, filters=6, groups=2)
    assert k.shape == (3, 3, 2, 6) and k.dtype == np.float32
    # filter f of group g takes the local channel (f mod 3) mod 2
    picks = [int(np.flatnonzero(k[1, 2, :, f])[0]) for f in range(6)]
    assert picks == [0, 1, 0, 0, 1, 0]
    t = rd.kernel("identity", (3, 3), in_channels=3, filters=5, layout="transpose")
    assert t.shape == (3, 3, 5, 3)
    assert [int(np.flatnonzero(t[1, 1, f])[0]) for f in range(5)] == [0, 1, 2, 0, 1]
    d = rd.kernel("laplacian", (3, 3), in_channels=3, filters=2, layout="depthwise")
    assert d.shape == (3, 3, 3, 2) and (d[..., 2, 1] == rd.taps("laplacian", (3, 3))).all()
    m = rd.kernel("box_blur", 3, 1, in_channels=4, filters=2, channels="mean")
    np.testing.assert_allclose(m, 1 / 12)


def test_random_kernel_is_seeded_glorot():
    a = rd.kernel("random", (3, 3), in_channels=3, filters=8, seed=7)
    np.testing.assert_array_equal(a, rd.kernel("random", (3, 3), in_channels=3, filters=8,
                                                seed=7))
    assert not np.array_equal(a, rd.kernel("random", (3, 3), in_channels=3, filters=8, seed=8))
    limit = np.sqrt(6 / (3 * 9 + 8 * 9))  # Glorot: fans of (3, 3, 3, 8)
    assert np.abs(a).max() <= limit and np.abs(a).max() > 0.8 * limit


# ------------------------------------------------------------------ named kernel responses
@SETTINGS
@given(rank=st.integers(1, 3), k=st.integers(2, 5), data=st.data())
def test_sobel_x_is_exactly_zero_without_change_along_x(rank, k, data):
    """Intensity varies along every axis but x (for a 2-D image: with the row only)."""
    shape = tuple(data.draw(st.integers(k, k + 4)) for _ in range(rank))
    values = data.draw(st.lists(st.integers(0, 255), min_size=prod_(shape[:-1]),
                                max_size=prod_(shape[:-1])))
    x = np.broadcast_to((np.array(values, dtype=np.float32) / 64).reshape(shape[:-1] + (1,)),
                        shape)
    name = {1: "Conv1D", 2: "Conv2D", 3: "Conv3D"}[rank]
    out = rd.apply(name, x, kernel="sobel_x", filters=1, kernel_size=k).feature_maps
    assert out.shape[1:] == tuple(n - k + 1 for n in shape)
    assert (out == 0).all()


def prod_(shape):
    return int(np.prod(shape, dtype=np.int64))


def test_sobel_responses_on_ramps_have_the_expected_sign_and_size():
    rows = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 8), np.float32)  # y ramp
    y = rd.apply("Conv2D", rows, kernel="sobel_y", filters=1).feature_maps[0]
    np.testing.assert_array_equal(y, 8.0)  # (1 + 2 + 1) * (x[r+1] - x[r-1]) = 4 * 2
    x = rd.apply("Conv2D", rows.T.copy(), kernel="sobel_x", filters=1).feature_maps[0]
    np.testing.assert_array_equal(x, 8.0)
    same = rd.apply("Conv2D", rows, kernel="sobel_x", filters=1, padding="same").feature_maps[0]
    assert (same[:, 1:-1] == 0).all() and (same[1:, 0] > 0).all() and (same[1:, -1] < 0).all()


def test_sobel_x_matches_the_textbook_kernel_through_the_reference(photo_small):
    gray = photo_small.mean(axis=-1)
    r = rd.apply("Conv2D", gray, kernel="sobel_x", filters=1, padding="same", strides=2)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    expected = conv_ref(gray[None, ..., None], sobel[..., None, None], strides=2,
                        padding="same")
    np.testing.assert_allclose(r.feature_maps[0], expected[0, ..., 0], rtol=1e-5, atol=1e-6)


@SETTINGS
@given(k=st.integers(2, 5), data=st.data())
def test_box_blur_is_the_window_mean(k, data):
    h, w = data.draw(st.integers(k, 12)), data.draw(st.integers(k, 12))
    seed = data.draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    out = rd.apply("Conv2D", x, kernel="box_blur", filters=1, kernel_size=k).feature_maps[0]
    np.testing.assert_allclose(out, sliding_window_view(x, (k, k)).mean(axis=(-1, -2)),
                               rtol=1e-5, atol=1e-6)


def test_blurs_keep_a_flat_image_flat_away_from_the_borders():
    flat = np.full((12, 12), 0.75, dtype=np.float32)
    for name in ("box_blur", "gaussian", "sharpen"):
        out = rd.apply("Conv2D", flat, kernel=name, filters=1, kernel_size=5,
                       padding="same").feature_maps[0]
        np.testing.assert_allclose(out[2:-2, 2:-2], 0.75, rtol=1e-6)
        if name != "sharpen":
            assert (out[0] < 0.75).all()  # the zero padding darkens the border
    img = rd.fit(rd.load_asset("zone_plate"), 64)
    out = rd.apply("Conv2D", img, kernel="box_blur", filters=1, kernel_size=5).feature_maps[0]
    assert abs(out.mean() - img[2:-2, 2:-2].mean()) < 0.01  # mean kept away from the borders


def test_laplacian_of_quadratics_and_ramps():
    for rank in (1, 2, 3):
        grids = np.meshgrid(*[np.arange(7.0)] * rank, indexing="ij")
        name = f"Conv{rank}D"
        quad = sum(g**2 for g in grids).astype(np.float32)
        out = rd.apply(name, quad, kernel="laplacian", filters=1).feature_maps[0]
        np.testing.assert_array_equal(out, 2.0 * rank)
        ramp = sum((a + 1) * g for a, g in enumerate(grids)).astype(np.float32)
        np.testing.assert_array_equal(
            rd.apply(name, ramp, kernel="laplacian", filters=1).feature_maps[0], 0.0)


_IDENTITY_LAYERS = {
    1: ("Conv1D", "Conv1DTranspose", "DepthwiseConv1D", "SeparableConv1D"),
    2: ("Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D"),
    3: ("Conv3D", "Conv3DTranspose"),
}


@SETTINGS
@given(rank=st.integers(1, 3), channels=st.integers(1, 3), data=st.data())
def test_identity_returns_the_input(rank, channels, data):
    name = data.draw(st.sampled_from(_IDENTITY_LAYERS[rank]))
    ks = tuple(data.draw(st.integers(1, 4)) for _ in range(rank))
    shape = tuple(data.draw(st.integers(1, 6)) for _ in range(rank)) + (channels,)
    fmt = data.draw(st.sampled_from(["channels_last", "channels_first"]))
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    kw = {"kernel_size": ks, "padding": "same", "data_format": fmt}
    if "Depthwise" not in name:
        kw["filters"] = channels
    r = rd.apply(name, x, kernel="identity", **kw)
    np.testing.assert_array_equal(np.moveaxis(r.feature_maps, 0, -1), x)


def test_identity_with_mean_channels_is_the_channel_mean(photo_small):
    r = rd.apply("Conv2D", photo_small, kernel="identity", channels="mean", filters=2,
                 padding="same")
    for f in range(2):
        np.testing.assert_allclose(r.feature_maps[f], photo_small.mean(axis=-1), rtol=1e-6)

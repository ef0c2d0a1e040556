"""convviz.realdata.demos: the checkerboard of a transposed convolution, a WaveNet field.

Expected values come from outside the code under test: engine runs on all-ones inputs
(the overlap count of a transposed convolution), the loop reference of a transposed
convolution in tests/reference.py, and unit impulses through a Conv1D stack.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference import conv_transpose_ref

import convviz
from convviz import realdata as rd


# ----------------------------------------------------------------------------- checkerboard
def _ones_run(layers, shape):
    y = np.ones(shape)
    for layer in layers:
        layer.build(y.shape)
        layer.set_weights([np.ones_like(w) if w.ndim > 1 else np.zeros_like(w)
                           for w in layer.get_weights()])
        y = layer(y.astype(np.float64))
    return np.rint(y[0, ..., 0]).astype(np.int64)


@pytest.mark.parametrize("k, s", [(3, 2), (4, 2), (5, 3), ((3, 4), (2, 2))])
def test_checkerboard_overlap_counts_on_a_real_image(k, s):
    img = rd.fit(rd.load_asset("photo", mode="gray"), 40)
    cb = rd.checkerboard_demo(img, kernel_size=k, strides=s)
    ks = k if isinstance(k, tuple) else (k, k)
    ss = s if isinstance(s, tuple) else (s, s)
    out = (40 * ss[0], 40 * ss[1])
    assert cb.transposed.shape == cb.resize_conv.shape == cb.overlap_transposed.shape == out
    # the counts convviz already offers (trace and stack) ...
    layer = convviz.Conv2DTranspose(1, k, strides=s, padding="same")
    np.testing.assert_array_equal(cb.overlap_transposed,
                                  layer.trace((None, 40, 40, 1)).overlap_count())
    # ... equal the engine's numbers: all-ones kernels on an all-ones image
    np.testing.assert_array_equal(
        cb.overlap_transposed,
        _ones_run([convviz.Conv2DTranspose(1, k, strides=s, padding="same")], (1, 40, 40, 1)))
    np.testing.assert_array_equal(
        cb.overlap_resize_conv,
        _ones_run([convviz.UpSampling2D(s), convviz.Conv2D(1, k, padding="same")],
                  (1, 40, 40, 1)))
    divisible = all(a % b == 0 for a, b in zip(ks, ss))
    assert cb.checkerboard is (not divisible)
    assert cb.interior_resize_conv == (ks[0] * ks[1],)
    # the transposed output is the scatter with box weights s*s/(k*k), by the reference
    w = np.full(ks + (1, 1), ss[0] * ss[1] / (ks[0] * ks[1]))
    expected = conv_transpose_ref(img[None, ..., None], w, strides=ss, padding="same")
    np.testing.assert_allclose(cb.transposed, expected[0, ..., 0], rtol=1e-5, atol=1e-6)


def test_checkerboard_demo_on_a_full_size_image():
    zone = rd.load_asset("zone_plate")  # 256 -> 512: larger than the stack page's heatmaps
    cb = rd.checkerboard_demo(zone, 3, 2)
    assert cb.transposed.shape == cb.resize_conv.shape == (512, 512) and cb.checkerboard
    trace = convviz.Conv2DTranspose(1, 3, strides=2, padding="same").trace((None, 256, 256, 1))
    np.testing.assert_array_equal(cb.overlap_transposed, trace.overlap_count())
    inner = (slice(8, -8), slice(8, -8))
    assert tuple(np.unique(cb.overlap_transposed[inner])) == cb.interior_transposed == (1, 2, 4)
    assert tuple(np.unique(cb.overlap_resize_conv[inner])) == cb.interior_resize_conv == (9,)
    assert "keras.Input(shape=(256, 256, 1))" in cb.code_transposed


def test_checkerboard_shows_on_a_flat_image_only_for_the_transposed_conv():
    flat = np.full((16, 16), 0.5, dtype=np.float32)
    cb = rd.checkerboard_demo(flat, 3, 2)
    inner = (slice(4, -4), slice(4, -4))
    assert len(np.unique(cb.transposed[inner])) == 3  # 1, 2 and 4 taps: the checkerboard
    np.testing.assert_allclose(cb.resize_conv[inner], 0.5, rtol=1e-6)
    np.testing.assert_allclose(cb.transposed[inner].mean(), 0.5, rtol=0.01)
    assert "not divisible" in cb.explanation and "keras.Sequential" in cb.code_transposed
    even = rd.checkerboard_demo(flat, 4, 2)
    np.testing.assert_allclose(even.transposed[inner], 0.5, rtol=1e-6)
    rgb = rd.checkerboard_demo(rd.fit(rd.load_asset("photo"), 20), 3, 2)
    assert rgb.transposed.shape == (40, 40, 3) and rgb.layers[0].filters == 3
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\)"):
        rd.checkerboard_demo(np.zeros(4))


# ----------------------------------------------------------------------------- receptive field
def test_wavenet_receptive_field():
    rf = rd.receptive_field_1d(2, (1, 2, 4, 8))
    assert rf.size == rf.formula == 16 and rf.growth == (2, 4, 8, 16)
    assert rf.steps == 32 and rf.out_index == 31 and rf.span == (16, 31)
    assert rf.mask.tolist() == [False] * 16 + [True] * 16
    assert rf.paths[rf.mask].tolist() == [1] * 16 and not rf.paths[~rf.mask].any()
    assert "dilation_rate=8" in rf.code and 'padding="causal"' in rf.code
    # the engine agrees: a unit impulse at input i reaches output 31 exactly inside the field
    layers = [convviz.Conv1D(1, 2, dilation_rate=d, padding="causal") for d in (1, 2, 4, 8)]
    for layer in layers:
        layer.build((1, 32, 1))
        layer.set_weights([np.ones((2, 1, 1)), np.zeros(1)])
    reached = []
    for i in range(32):
        y = np.zeros((1, 32, 1))
        y[0, i, 0] = 1
        for layer in layers:
            y = layer(y)
        reached.append(bool(y[0, 31, 0] != 0))
    assert reached == rf.mask.tolist()


def test_receptive_field_other_stacks_and_errors():
    rf = rd.receptive_field_1d(3, (1, 2, 4), padding="valid")
    assert rf.size == rf.formula == 15 and rf.growth == (3, 7, 15)
    same = rd.receptive_field_1d(3, (1, 2), steps=20, padding="same")
    assert same.out_index == 10 and same.size == 7 and same.span == (7, 13)
    assert rd.receptive_field_1d(2, (1, 2, 4, 8), out_index=3).span == (0, 3)
    with pytest.raises(ValueError, match="out_index"):
        rd.receptive_field_1d(out_index=32)
    with pytest.raises(ValueError, match="does not fit"):
        rd.receptive_field_1d(3, (8,), steps=10, padding="valid")
    with pytest.raises(ValueError, match="empty"):
        rd.receptive_field_1d(2, ())

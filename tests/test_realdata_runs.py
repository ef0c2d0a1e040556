"""convviz.realdata.runs: apply and batch_run on real inputs, and their caps.

Expected values come from outside the code under test: the loop references in
tests/reference.py (written from KERAS_SEMANTICS.md) and single runs beside batched ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference import (
    conv_ref,
    conv_transpose_ref,
    crop_ref,
    depthwise_ref,
    resize_ref,
    separable_ref,
    upsample_nearest_ref,
    zero_pad_ref,
)

import convviz
from convviz import realdata as rd


@pytest.fixture(scope="module")
def photo_small():
    return rd.fit(rd.load_asset("photo"), 12)


# ----------------------------------------------------------------------------- runs
_REF_CASES = [
    ("Conv1D", 1, {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "causal"}),
    ("Conv2D", 2, {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}),
    ("Conv2D", 2, {"filters": 6, "kernel_size": (2, 3), "dilation_rate": 2, "groups": 3}),
    ("Conv3D", 3, {"filters": 2, "kernel_size": 2}),
    ("Conv1DTranspose", 1, {"filters": 2, "kernel_size": 3, "strides": 2}),
    ("Conv2DTranspose", 2, {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}),
    ("Conv3DTranspose", 3, {"filters": 2, "kernel_size": 2, "strides": (1, 2, 1)}),
    ("DepthwiseConv1D", 1, {"kernel_size": 3, "depth_multiplier": 2}),
    ("DepthwiseConv2D", 2, {"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}),
    ("SeparableConv1D", 1, {"filters": 4, "kernel_size": 3, "dilation_rate": 2}),
    ("SeparableConv2D", 2, {"filters": 4, "kernel_size": 3, "strides": 2}),
]


def _reference(name, x, weights, kw):
    """channels_last reference output of layer ``name`` with Keras-layout ``weights``."""
    common = {k: kw[k] for k in ("strides", "padding", "dilation_rate") if k in kw}
    if name.startswith("Conv") and "Transpose" in name:
        return conv_transpose_ref(x, *weights, **common)
    if name.startswith("Conv"):
        return conv_ref(x, *weights, groups=kw.get("groups", 1), **common)
    if name.startswith("Depthwise"):
        return depthwise_ref(x, *weights, **common)
    return separable_ref(x, *weights, **common)


def _input(rank, channels, seed=0):
    if rank == 2:
        return rd.fit(rd.load_asset("photo"), 9)[..., :channels]
    if rank == 1:
        return np.stack([rd.load_asset("chirp")[3000:3012]] * channels, axis=-1)
    return np.stack([rd.load_asset("sphere")[12:17, 12:17, 12:17]] * channels, axis=-1)


@pytest.mark.parametrize("name, rank, kw", _REF_CASES, ids=[c[0] for c in _REF_CASES])
@pytest.mark.parametrize("kernel", ["random", "sobel_x"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_feature_maps_equal_the_loop_reference(name, rank, kw, kernel, data_format):
    x = _input(rank, 3)
    r = rd.apply(name, x, kernel=kernel, seed=3, data_format=data_format, **kw)
    assert isinstance(r.layer, convviz.LAYERS[name]) and r.data_format == data_format
    weights = r.layer.get_weights()
    assert not weights[-1].any()  # zero bias
    expected = _reference(name, x[None].astype(np.float64), weights, kw)
    np.testing.assert_allclose(np.moveaxis(r.feature_maps, 0, -1), expected[0],
                               rtol=1e-5, atol=1e-6)
    assert r.output_shape == r.layer.compute_output_shape(r.input_shape)
    assert r.feature_maps.shape[0] == r.output_shape[1 if data_format == "channels_first"
                                                     else -1]
    assert r.seconds >= 0 and r.macs > 0 and r.call.startswith(f"keras.layers.{name}(")


@pytest.mark.parametrize("name, kw, ref", [
    ("Cropping2D", {"cropping": ((1, 2), (0, 3))},
     lambda x: crop_ref(x, [(1, 2), (0, 3)])),
    ("ZeroPadding2D", {"padding": (2, 1)}, lambda x: zero_pad_ref(x, [(2, 2), (1, 1)])),
    ("UpSampling2D", {"size": (2, 3)}, lambda x: upsample_nearest_ref(x, (2, 3))),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"},
     lambda x: resize_ref(x, 2, "bilinear")),
    ("Cropping1D", {"cropping": (2, 1)}, None),
    ("UpSampling3D", {"size": 2}, lambda x: upsample_nearest_ref(x, 2)),
])
def test_layers_without_weights_run_without_kernels(name, kw, ref, photo_small):
    rank = convviz.LAYERS[name].rank
    x = photo_small if rank == 2 else _input(rank, 2)
    r = rd.apply(name, x, kernel="laplacian", **kw)
    assert r.kernel is None and r.layer.get_weights() == []
    if ref is None:
        expected = x[None, 2:-1]
    else:
        expected = ref(x[None].astype(np.float64))
    np.testing.assert_allclose(np.moveaxis(r.feature_maps, 0, -1), expected[0], rtol=1e-6,
                               atol=1e-7)


def test_apply_defaults_and_errors(photo_small):
    r = rd.apply("Conv2D", photo_small)  # filters = channels, kernel_size = 3
    assert r.kwargs == {"filters": 3, "kernel_size": 3}
    assert r.call == "keras.layers.Conv2D(filters=3, kernel_size=3)"
    np.testing.assert_array_equal(r.input_maps, np.moveaxis(photo_small, -1, 0))
    with pytest.raises(ValueError, match="Unknown layer 'Conv4D'"):
        rd.apply("Conv4D", photo_small)
    with pytest.raises(ValueError, match=r"2 spatial axes.*Received shape \(5,\)"):
        rd.apply("Conv2D", np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        rd.apply("Conv2D", np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="causal"):  # Keras's own message
        rd.apply("Conv2D", photo_small, padding="causal")
    with pytest.raises(ValueError, match="Unknown kernel"):
        rd.apply("Conv2D", photo_small, kernel="emboss")


def test_run_caps():
    x = np.broadcast_to(np.float32(0.5), (1, 256, 256, 3))[0]
    with pytest.raises(ValueError, match="MAX_OUTPUT_ELEMENTS = 33,554,432"):
        rd.apply("Conv2DTranspose", x, filters=3, kernel_size=2, strides=16)
    with pytest.raises(ValueError, match="MAX_MACS"):
        # 16 * 256 * 256 * 16 * 13 * 13 * 3 = 8.5e9 multiply-adds, output 16.8e6 elements
        rd.batch_run("Conv2D", np.broadcast_to(np.float32(0), (16, 256, 256, 3)), filters=16,
                     kernel_size=13, padding="same")


# ----------------------------------------------------------------------------- batch
def test_batch_cap_is_refused_before_any_copy():
    too_many = np.broadcast_to(np.float32(0), (22, 256, 256, 3))  # 4,325,376 elements
    with pytest.raises(ValueError) as exc:
        rd.batch_run("Conv2D", too_many, filters=8)
    msg = str(exc.value)
    assert "4,325,376 elements" in msg and "MAX_BATCH_ELEMENTS = 4,194,304" in msg
    with pytest.raises(ValueError, match="MAX_BATCH_ELEMENTS"):
        rd.batch_run("Conv2D", [np.zeros((256, 256, 3), np.float32)] * 22, filters=8)


def test_batch_run_chunks_report_progress_and_match_single_runs():
    rng = np.random.default_rng(1)
    images = rng.random((5, 10, 12, 3)).astype(np.float32)
    seen = []
    b = rd.batch_run("SeparableConv2D", images, kernel="random", chunk=2, progress=seen.append,
                     filters=4, kernel_size=3, padding="same", data_format="channels_first")
    assert seen == [0.4, 0.8, 1.0] and len(b.chunk_seconds) == 3 and b.chunk == 2
    assert b.output.shape == (5, 4, 10, 12) and b.batch == 5
    assert b.seconds >= sum(b.chunk_seconds) * 0.99 and b.images_per_second > 0
    assert b.macs == 5 * rd.apply("SeparableConv2D", images[0], kernel="random", filters=4,
                                  kernel_size=3, padding="same").macs
    for i in range(5):
        one = rd.apply("SeparableConv2D", images[i], kernel="random", filters=4,
                       kernel_size=3, padding="same", data_format="channels_first")
        np.testing.assert_allclose(b.output[i], one.output[0], rtol=1e-5, atol=1e-6)
    default = rd.batch_run("Conv2D", list(images), filters=2)
    assert default.chunk == 5 and len(default.chunk_seconds) == 1  # light: one call


def test_a_heavy_batch_is_split_into_calls_of_about_chunk_macs(monkeypatch):
    images = np.ones((6, 8, 8), np.float32)
    # Conv2D(1, 3) on 8x8: 6x6 outputs x 9 taps = 324 multiply-adds a picture, 1944 in all
    monkeypatch.setattr(rd.runs, "CHUNK_MACS", 700)
    b = rd.batch_run("Conv2D", images, kernel="box_blur", filters=1)
    # ceil(1944 / 700) = 3 calls, of ceil(6 / 3) = 2 pictures
    assert b.macs == 1944 and b.chunk == 2 and len(b.chunk_seconds) == 3


def test_batch_run_argument_errors():
    imgs = np.zeros((2, 8, 8), np.float32)
    with pytest.raises(ValueError, match="one shape"):
        rd.batch_run("Conv2D", [np.zeros((8, 8)), np.zeros((8, 9))])
    with pytest.raises(ValueError, match="`chunk` must be an int >= 1"):
        rd.batch_run("Conv2D", imgs, chunk=0)
    with pytest.raises(ValueError, match="`progress` must be callable"):
        rd.batch_run("Conv2D", imgs, progress=0.5)
    with pytest.raises(ValueError, match=r"\(batch, \*spatial\)"):
        rd.batch_run("Conv2D", np.zeros((8, 8)))
    with pytest.raises(ValueError, match="empty"):
        rd.batch_run("Conv2D", [])

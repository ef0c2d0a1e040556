"""The real-data page's figures and arguments, without Streamlit, against hand values."""

from __future__ import annotations

import numpy as np
import pytest

import convviz
from convviz import realdata
from convviz.viz import page_fields
from convviz.viz import real_figures as rf

DEFAULTS = {k: f.default for k, f in page_fields.REAL_DATA.items()}


@pytest.mark.parametrize("layer, settings, arguments", [
    ("Conv2D", ("filters", "kernel_size", "strides", "dilation_rate", "groups", "padding"),
     {"filters": 1, "kernel_size": 3, "padding": "same"}),
    ("DepthwiseConv2D", ("kernel_size", "strides", "dilation_rate", "depth_multiplier",
                         "padding"), {"kernel_size": 3, "padding": "same"}),
    ("Cropping2D", ("amount",), {"cropping": 8}),
    ("ZeroPadding2D", ("amount",), {"padding": 8}),
    ("UpSampling2D", ("up", "interpolation"), {"size": 2}),
])
def test_each_layer_gets_the_arguments_its_class_takes(layer, settings, arguments):
    assert rf.image_settings(layer) == settings
    assert rf.image_arguments(layer, DEFAULTS) == arguments
    convviz.LAYERS[layer](**arguments)  # Keras-valid as written


def test_a_non_default_argument_is_written_and_a_default_one_left_out():
    values = {**DEFAULTS, "strides": 2, "padding": "valid", "up": 3, "interpolation": "bilinear"}
    assert rf.image_arguments("Conv2D", values) == {"filters": 1, "kernel_size": 3,
                                                    "strides": 2}
    assert rf.image_arguments("UpSampling2D", values) == {"size": 3,
                                                          "interpolation": "bilinear"}


def test_reads_names_the_input_rows_each_output_row_reads():
    # Conv2D k=3, s=2, 'same' on 5 cells: pads (1, 1); output o reads 2o-1..2o+1, clipped
    trace = convviz.Conv2D(1, 3, strides=2, padding="same").trace((None, 5, 5, 1))
    rows, cols = rf.reads(trace)
    assert rows.tolist() == ["0..1", "1..3", "3..4"] == cols.tolist()
    # a transposed gather: output 0 of Conv1DTranspose(k=3, s=2) reads only input 0
    t = convviz.Conv1DTranspose(1, 3, strides=2).trace((None, 3, 1))
    assert rf.reads(t)[0].tolist()[:3] == ["0", "0", "0..1"]


def test_range_text_and_value_range():
    assert rf.range_text(np.array([[-1.5, 2.0]])) == "min -1.5 · max 2"
    assert rf.range_text(np.zeros((2, 2))) == "constant 0"
    assert rf.value_range(np.array([np.nan, 3.0])) == (3.0, 3.0)


@pytest.mark.parametrize("layer, kwargs", [
    ("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2}),
    ("DepthwiseConv2D", {"kernel_size": 3, "padding": "same"}),
    ("SeparableConv2D", {"filters": 2, "kernel_size": 3}),
    ("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}),
])
def test_the_explained_pixel_adds_up_to_the_map(layer, kwargs):
    img = realdata.fit(realdata.load_asset("photo", mode="rgb"), 24)
    v = rf.image_view(img, layer, kernel="sobel_x", out_index=(5, 7), **kwargs)
    rows = v.rows()
    stage = "pointwise" if layer.startswith("Separable") else rows[0]["stage"]
    total = sum(r["product"] for r in rows if r["stage"] == stage)
    assert total == pytest.approx(float(v.result.feature_maps[0, 5, 7]), rel=1e-4, abs=1e-5)
    assert f"the map shows {float(v.result.feature_maps[0, 5, 7]):.4g}" in v.explained()


def test_the_image_figure_draws_the_input_and_every_channel_up_to_the_cap():
    img = realdata.fit(realdata.load_asset("zone_plate"), 32)
    v = rf.image_view(img, "Conv2D", kernel="random", filters=10, kernel_size=3,
                      out_index=(99, 99))
    assert v.out_index == (29, 29)  # clipped to the 30 x 30 output
    heatmaps = [t for t in v.figure.data if t.type == "heatmap"]
    assert len(heatmaps) == 1 + rf.MAX_MAPS
    assert "the first 8 drawn" in rf.heading(v.result)
    hover = heatmaps[1].customdata[29, 29]
    assert list(hover) == ["29..31", "29..31"]  # valid k=3: output 29 reads 29..31


def test_checkerboard_signal_and_volume_figures():
    img = realdata.fit(realdata.load_asset("zone_plate"), 32)
    cb = realdata.checkerboard_demo(img, 3, 2)
    fig = rf.checkerboard_figure(cb)
    assert len(fig.data) == 4 and fig.data[0].z.shape == (64, 64)
    sig, rate = realdata.load_signal("chirp", with_rate=True)
    field = realdata.receptive_field_1d(2, (1, 2, 4), steps=sig.size, out_index=100)
    fig = rf.signal_figure(sig, rate, field)
    assert field.span == (93, 100)  # causal: 1 + 1 + 2 + 4 = 8 steps ending at 100
    zoom = fig.data[1]
    assert list(zoom.x[zoom.marker.color == rf.WINDOW_COLOR]) == list(range(93, 101))
    result = realdata.apply("Conv3D", realdata.load_asset("sphere"), kernel="laplacian",
                            filters=1, kernel_size=3, padding="same")
    fig = rf.volume_figure(result, 16)
    assert len(fig.data) == 2 and "depth 16 of 32" in fig.layout.annotations[0].text


def test_a_dilated_pixel_reads_cells_with_gaps_and_each_is_boxed():
    img = realdata.fit(realdata.load_asset("zone_plate"), 32)
    v = rf.image_view(img, "Conv2D", kernel="box_blur", filters=1, kernel_size=3,
                      dilation_rate=4, padding="same", out_index=(10, 10))
    # k=3, d=4, 'same': output 10 reads 10-4, 10, 10+4
    rows, cols = rf.reads(v.window.trace)
    assert rows[10] == cols[10] == "6..14 every 4th"
    boxes = [s for s in v.figure.layout.shapes if s.xref == "x"]  # on the input
    assert len(boxes) == 9 and {(b.x0 + 0.5, b.y0 + 0.5) for b in boxes} == {
        (c, r) for r in (6, 10, 14) for c in (6, 10, 14)}


def test_explain_rows_name_what_a_tap_reads():
    img = realdata.fit(realdata.load_asset("photo", mode="rgb"), 16)
    v = rf.image_view(img, "SeparableConv2D", kernel="sobel_x", filters=1, kernel_size=3,
                      out_index=(0, 0))
    cells = {r["input cell"] for r in v.rows() if r["stage"] == "pointwise"}
    assert cells == {"depthwise map 0", "depthwise map 1", "depthwise map 2"}
    rgb = [t for t in v.figure.data if t.type == "image"][0]
    assert rgb.customdata.max() <= 1.0 and "R %{customdata[0]:.4f}" in rgb.hovertemplate


def test_the_checkerboard_counts_are_drawn_cell_by_cell_for_their_corner():
    cb = realdata.checkerboard_demo(realdata.fit(realdata.load_asset("zone_plate"), 64), 3, 2)
    fig = rf.checkerboard_figure(cb)
    assert fig.data[2].z.shape == (rf.OVERLAP_CORNER, rf.OVERLAP_CORNER)
    assert np.array_equal(fig.data[2].z, cb.overlap_transposed[:32, :32])

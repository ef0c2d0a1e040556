"""The shape calculator: catalog.shape_table without streamlit, then the page with AppTest."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import convviz
from convviz import catalog

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "app_pages" / "shape_calculator.py"
TIMEOUT = 30

NAMES_BY_RANK = {
    1: {"Conv1D", "Conv1DTranspose", "DepthwiseConv1D", "SeparableConv1D",
        "Cropping1D", "ZeroPadding1D", "UpSampling1D"},
    2: {"Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D",
        "Cropping2D", "ZeroPadding2D", "UpSampling2D"},
    3: {"Conv3D", "Conv3DTranspose", "Cropping3D", "ZeroPadding3D", "UpSampling3D"},
}


# ---------------------------------------------------------------- catalog, no streamlit


def test_catalog_lists_every_layer_once_with_its_family():
    names = [info.name for info in catalog.CATALOG]
    assert len(names) == len(set(names))
    assert set(names) == set().union(*NAMES_BY_RANK.values())
    for info in catalog.CATALOG:
        assert info.family in catalog.FAMILIES
        assert info.name in NAMES_BY_RANK[info.rank]
        assert hasattr(convviz, info.name), info.name


def test_catalog_does_not_import_streamlit():
    code = "import sys, convviz.catalog; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_keras_call_formats_arguments_as_python_source():
    assert catalog.keras_call("Conv2D", {"filters": 4, "kernel_size": 3}) == (
        "keras.layers.Conv2D(filters=4, kernel_size=3)"
    )
    assert catalog.keras_call(
        "Conv1D", {"filters": 2, "kernel_size": (3,), "padding": "causal"}
    ) == 'keras.layers.Conv1D(filters=2, kernel_size=(3,), padding="causal")'
    assert catalog.keras_call("Cropping2D", {}) == "keras.layers.Cropping2D()"


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_shape_table_rows_are_the_layers_of_that_rank(rank):
    rows = catalog.shape_table((8,) * rank, 3, None, "channels_last")
    assert [row["layer"] for row in rows] == [i.name for i in catalog.layers_of_rank(rank)]
    assert {row["layer"] for row in rows} == NAMES_BY_RANK[rank]
    for row in rows:
        assert row["error"] is None, row
        assert row["input_shape"] == (None, *(8,) * rank, 3)
        assert row["output_shape"][0] is None
        assert row["call"].startswith(f"keras.layers.{row['layer']}(")
        assert isinstance(row["params"], int) and row["params"] >= 0


@pytest.mark.parametrize("data_format", catalog.DATA_FORMATS)
def test_conv2d_row_is_n_minus_2_for_a_valid_3x3_kernel(data_format):
    rows = {r["layer"]: r for r in catalog.shape_table((10, 7), 128, 4, data_format)}
    conv = rows["Conv2D"]
    assert conv["error"] is None
    assert conv["call"] == catalog.keras_call(
        "Conv2D", {**catalog.BY_NAME["Conv2D"].example}
        | ({"data_format": data_format} if data_format == "channels_first" else {})
    )
    filters = catalog.BY_NAME["Conv2D"].example["filters"]
    if data_format == "channels_last":
        assert conv["input_shape"] == (4, 10, 7, 128)
        assert conv["output_shape"] == (4, 8, 5, filters)
    else:
        assert conv["input_shape"] == (4, 128, 10, 7)
        assert conv["output_shape"] == (4, filters, 8, 5)
    assert conv["params"] == 3 * 3 * 128 * filters + filters


def test_layers_without_data_format_stay_channels_last():
    rows = {r["layer"]: r for r in catalog.shape_table((6,), 5, 2, "channels_first")}
    for name in ("Cropping1D", "UpSampling1D"):
        assert rows[name]["input_shape"] == (2, 6, 5)
        assert "data_format" not in rows[name]["call"]
        assert rows[name]["error"] is None
    assert rows["Conv1D"]["input_shape"] == (2, 5, 6)
    assert rows["Cropping1D"]["output_shape"] == (2, 4, 5)
    assert rows["UpSampling1D"]["output_shape"] == (2, 12, 5)


def test_impossible_input_gives_error_strings_not_exceptions():
    rows = {r["layer"]: r for r in catalog.shape_table((1, 1), 3, None, "channels_last")}
    for name in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Cropping2D"):
        row = rows[name]
        assert isinstance(row["error"], str) and row["error"], name
        assert row["output_shape"] is None and row["params"] is None
    # Growing layers are fine with a 1x1 input.
    for name in ("Conv2DTranspose", "ZeroPadding2D", "UpSampling2D"):
        assert rows[name]["error"] is None, rows[name]


def test_unknown_data_format_lands_in_the_rows():
    rows = catalog.shape_table((8, 8), 3, None, "channels_middle")
    assert rows and all(isinstance(row["error"], str) for row in rows)


# ---------------------------------------------------------------- the page, with AppTest


def _app(path: Path = PAGE):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(path), default_timeout=TIMEOUT)
    at.run()
    _assert_clean(at)
    return at


def _assert_clean(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_page_loads_and_shows_the_table():
    at = _app()
    assert at.title[0].value == "Shape calculator"
    assert len(at.dataframe) == 1
    shown = at.dataframe[0].value
    assert list(shown["layer"]) == [i.name for i in catalog.layers_of_rank(2)]
    assert not at.error


def test_every_widget_has_a_key():
    at = _app()
    widgets = [*at.selectbox, *at.number_input, *at.checkbox]
    assert widgets and all(w.key for w in widgets)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", catalog.DATA_FORMATS)
def test_each_selectbox_option(rank, data_format):
    at = _app()
    at.selectbox(key="rank").set_value(rank)
    at.selectbox(key="data_format").set_value(data_format)
    at.run()
    _assert_clean(at)
    assert len([w for w in at.number_input if w.key.startswith("size_")]) == rank
    assert list(at.dataframe[0].value["layer"]) == [i.name for i in catalog.layers_of_rank(rank)]


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_every_number_input_at_its_min_and_max(rank):
    at = _app()
    at.selectbox(key="rank").set_value(rank)
    at.checkbox(key="batch_none").uncheck()
    at.run()
    _assert_clean(at)
    keys = [w.key for w in at.number_input]
    assert {"channels", "batch", *(f"size_{i}" for i in range(rank))} == set(keys)
    for key in keys:
        for bound in ("min", "max"):
            widget = at.number_input(key=key)
            widget.set_value(getattr(widget, bound)).run()
            _assert_clean(at)
            assert at.number_input(key=key).value == getattr(widget, bound)
            assert len(at.dataframe) == 1


def test_a_1x1_input_shows_the_rules_inline():
    at = _app()
    at.number_input(key="size_0").set_value(1)
    at.number_input(key="size_1").set_value(1)
    at.run()
    _assert_clean(at)
    # The page escapes markdown in messages; undo it to compare with the catalog's text.
    errors = " ".join(re.sub(r"\\(.)", r"\1", e.value) for e in at.error)
    assert "Conv2D" in errors
    rows = {r["layer"]: r for r in catalog.shape_table((1, 1), 3, None, "channels_last")}
    assert rows["Conv2D"]["error"] in errors


def test_batch_checkbox_toggles_none():
    at = _app()
    assert at.dataframe[0].value["input shape"][0].startswith("(None,")
    at.checkbox(key="batch_none").uncheck().run()  # the batch input is disabled until then
    _assert_clean(at)
    at.number_input(key="batch").set_value(7).run()
    _assert_clean(at)
    assert at.dataframe[0].value["input shape"][0].startswith("(7,")


def test_window_arguments_apply_to_every_layer_that_takes_them():
    rows = {r["layer"]: r for r in catalog.shape_table(
        (10, 10), 3, None, "channels_last",
        {"kernel_size": 5, "strides": 2, "padding": "same", "dilation_rate": 1})}
    conv = rows["Conv2D"]
    assert conv["output_shape"][1:3] == (5, 5)  # ceil(10 / 2)
    assert "kernel_size=5" in conv["call"] and "strides=2" in conv["call"]
    assert rows["Conv2DTranspose"]["output_shape"][1:3] == (20, 20)  # 10 * 2 with 'same'
    assert rows["DepthwiseConv2D"]["output_shape"][1:3] == (5, 5)
    untouched = catalog.shape_table((10, 10), 3, None, "channels_last")
    crop = {r["layer"]: r for r in untouched}["Cropping2D"]
    assert rows["Cropping2D"]["output_shape"] == crop["output_shape"]  # takes none of them
    # valid, dilation 2: 10 - (2*(5-1)+1) + 1 = 2
    dilated = {r["layer"]: r for r in catalog.shape_table(
        (10, 10), 3, None, "channels_last", {"kernel_size": 5, "dilation_rate": 2})}
    assert dilated["Conv2D"]["output_shape"][1:3] == (2, 2)
    causal = {r["layer"]: r for r in catalog.shape_table(
        (10, 10), 3, None, "channels_last", {"padding": "causal"})}
    assert causal["Conv2D"]["error"] and "causal" in causal["Conv2D"]["error"]
    one_d = {r["layer"]: r for r in catalog.shape_table(
        (10,), 3, None, "channels_last", {"padding": "causal", "kernel_size": 3})}
    assert one_d["Conv1D"]["output_shape"][1] == 10 and one_d["Conv1D"]["error"] is None


def test_page_sets_the_window_arguments_for_the_whole_table():
    at = _app()
    at.toggle(key="set_window").set_value(True).run()
    _assert_clean(at)
    at.number_input(key="kernel_size").set_value(5).run()
    at.number_input(key="strides").set_value(2).run()
    at.selectbox(key="padding").set_value("same").run()
    _assert_clean(at)
    table = at.dataframe[0].value
    row = table[table["layer"] == "Conv2D"].iloc[0]
    assert row["output shape"] == "(None, 4, 4, 4)"  # ceil(8 / 2); the example has 4 filters
    assert "strides=2" in row["Keras call"]
    assert at.query_params["strides"] in ("2", ["2"])
    for key in ("kernel_size", "strides", "dilation_rate"):
        for bound in ("min", "max"):
            widget = at.number_input(key=key)
            widget.set_value(getattr(widget, bound)).run()
            _assert_clean(at)
            assert len(at.dataframe) == 1

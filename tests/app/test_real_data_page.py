"""The "On real data" page through Streamlit's AppTest: every part loads clean with its
chart, every choice and every slider extreme of the image part runs or is refused inline
with the rule Keras (or the named kernel) gives, links open their values and hostile ones
fall back with a notice, the batch run reports the output shape Keras gives, and the
explain table adds up to the value the map shows."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from convviz.viz import page_fields

ROOT = Path(__file__).resolve().parents[2]
#: AppTest resolves a relative path against the calling file, so the page is given in full.
PAGE = str(ROOT / "app_pages" / "real_data.py")
TIMEOUT = 60
P = page_fields.REAL_DATA

#: The chart each part draws (its widget key).
CHARTS = {"image": "real.maps", "checkerboard": "real.checkerboard", "signal": "real.signal",
          "volume": "real.volume"}
#: The refusals the image part may show, each naming its rule (Keras's, the kernel's, a cap).
RULES = (
    "`strides > 1` not supported in conjunction with `dilation_rate > 1`",
    "must be evenly divisible by the number of groups",
    "needs kernel_size >= 2 along the axis it differentiates",
    "needs kernel_size >= 3",
    "Computed output size would be zero or negative",
    "Values in `cropping` argument should be smaller than the corresponding spatial dimension",
)
NOTICE = re.compile(r"\d+ link parameters? ignored: ")


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    at.run()
    _clean(at, query)
    return at


def _clean(at, where=""):
    assert not at.exception, (where, [e.value for e in at.exception])


def _charts(at) -> list[str]:
    """The widget keys of the page's Plotly charts (their element ids end with the key)."""
    return [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")]


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def _notices(at) -> list[str]:
    return [w.value for w in at.warning if NOTICE.match(w.value)]


def _shows_image(at, where=""):
    """The image part ran: no error, its chart, its explain table."""
    assert not _errors(at), (where, _errors(at))
    assert _charts(at) == ["real.maps"], (where, _charts(at))
    assert any(c.value.startswith("Output pixel") for c in at.caption), where


def _refused(at, where=""):
    """An inline refusal that names its rule, instead of the chart."""
    errors = _errors(at)
    assert len(errors) == 1, (where, errors)
    assert errors[0].startswith("**This layer cannot run on "), (where, errors)
    assert any(rule in errors[0] for rule in RULES), (where, errors)
    assert not _charts(at), where
    assert at.title and at.title[0].value == "On real data"


def _table(at, column: str):
    """The first shown dataframe with ``column`` (a pandas DataFrame), or None."""
    return next((d.value for d in at.dataframe if column in d.value.columns), None)


def _facts(at) -> dict:
    return dict(zip(_table(at, "value")[""], _table(at, "value")["value"]))


def _values(at) -> dict:
    return {w.key: w.value for w in (*at.slider, *at.selectbox, *at.toggle, *at.radio)}


def _slider(at, key):
    return next(s for s in at.slider if s.key == key)


# ---------------------------------------------------------------------- every part
@pytest.mark.parametrize("part", list(CHARTS))
def test_every_part_loads_clean_with_its_chart(part):
    at = _app({"part": part} if part != "image" else None)
    assert at.radio(key="real.part").value == part
    assert not _errors(at) and not _notices(at)
    assert _charts(at) == [CHARTS[part]]
    assert all(w.key for w in (*at.slider, *at.selectbox, *at.toggle, *at.radio, *at.button))


def test_the_part_radio_switches_between_all_parts():
    at = _app()
    for part in (*page_fields.REAL_PARTS, "image"):
        at.radio(key="real.part").set_value(part).run()
        _clean(at, part)
        assert not _errors(at), part
        assert _charts(at) == ([CHARTS[part]] if part in CHARTS else []), part


# ---------------------------------------------------------------------- the batch
def _conv_length(n, k, s, d, padding):
    """Keras's output length of a convolution (no output_padding)."""
    k = d * (k - 1) + 1
    return -(-n // s) if padding == "same" else (n - k) // s + 1


def _transpose_length(n, k, s, d, padding):
    """Keras's output length of a transposed convolution (output_padding None)."""
    k = d * (k - 1) + 1
    return n * s if padding == "same" else n * s + max(k - s, 0)


def _keras_batch_shape(query: dict) -> tuple:
    """The output shape Keras gives for the batch part's layer on its RGB batch, by hand."""
    v = {k: p.default for k, p in P.items()}
    v.update({k: (val if P[k].kind == "choice" else int(val)) for k, val in query.items()
              if k != "part"})
    n, layer = v["batch_size"], v["layer"]
    k, s, d, pad = v["kernel_size"], v["strides"], v["dilation_rate"], v["padding"]
    if layer == "Conv2DTranspose":
        side, c = _transpose_length(n, k, s, d, pad), v["filters"]
    elif layer in ("Conv2D", "SeparableConv2D"):
        side, c = _conv_length(n, k, s, d, pad), v["filters"]
    elif layer == "DepthwiseConv2D":
        side, c = _conv_length(n, k, s, d, pad), 3 * v["depth_multiplier"]
    elif layer == "Cropping2D":
        side, c = n - 2 * v["amount"], 3
    elif layer == "ZeroPadding2D":
        side, c = n + 2 * v["amount"], 3
    else:  # UpSampling2D
        side, c = n * v["up"], 3
    return (v["batch"], side, side, c)


BATCHES = [
    {},
    {"batch": "3", "batch_size": "64", "strides": "2", "padding": "valid", "kernel_size": "4",
     "filters": "2"},
    {"batch": "2", "batch_size": "33", "dilation_rate": "2", "padding": "valid",
     "kernel_size": "5", "kernel": "gaussian"},
    {"batch": "2", "batch_size": "32", "layer": "Conv2DTranspose", "strides": "3",
     "padding": "valid", "kernel_size": "2", "filters": "4"},
    {"batch": "2", "batch_size": "40", "layer": "DepthwiseConv2D", "depth_multiplier": "2",
     "strides": "3"},
    {"batch": "2", "batch_size": "48", "layer": "SeparableConv2D", "filters": "5",
     "kernel_size": "3", "padding": "valid"},
    {"batch": "1", "batch_size": "32", "layer": "Cropping2D", "amount": "5"},
    {"batch": "1", "batch_size": "32", "layer": "ZeroPadding2D", "amount": "3"},
    {"batch": "2", "batch_size": "32", "layer": "UpSampling2D", "up": "3"},
]


@pytest.mark.parametrize("query", BATCHES, ids=lambda q: "-".join(map(str, q.values()))
                         or "default")
def test_the_batch_run_shows_the_shapes_keras_gives(query):
    at = _app({"part": "batch", **query})
    assert not _notices(at) and not _errors(at)
    assert _table(at, "output shape") is None  # nothing runs before the button
    at.button(key="real.run").click().run()
    _clean(at, query)
    assert not _errors(at), _errors(at)
    table = _table(at, "output shape")
    assert table is not None and len(table) == 1
    (row,) = table.to_dict("records")
    v = {**{k: p.default for k, p in P.items()},
         **{k: int(x) for k, x in query.items() if P[k].kind == "int"}}
    assert row["input shape"] == str((v["batch"], v["batch_size"], v["batch_size"], 3))
    assert row["output shape"] == str(_keras_batch_shape(query))
    assert row["wall time"].endswith(" s") and float(row["images / s"]) > 0
    assert len(at.get("image")) == 1  # the first pictures' outputs


def test_the_batch_runs_the_arguments_the_image_part_set():
    at = _app({"batch": "2", "batch_size": "64"})
    at.slider(key="real.strides").set_value(2).run()
    at.selectbox(key="real.padding").set_value("valid").run()
    at.radio(key="real.part").set_value("batch").run()
    _clean(at)
    announced = next(m.value for m in at.markdown if "RGB pictures" in m.value)
    assert "strides=2" in announced  # the page says it will run strides=2, valid
    at.button(key="real.run").click().run()
    _clean(at)
    (row,) = _table(at, "output shape").to_dict("records")
    want = (2, _conv_length(64, 3, 2, 1, "valid"), _conv_length(64, 3, 2, 1, "valid"), 1)
    assert row["output shape"] == str(want), (row, at.query_params)


# ---------------------------------------------------------------------- the image part
@pytest.mark.parametrize("layer", page_fields.IMAGE_LAYERS)
def test_every_choice_of_the_image_part_runs(layer):
    """Each layer at its defaults, then every kernel, channel rule, colour and image."""
    at = _app()
    at.selectbox(key="real.layer").set_value(layer).run()
    _clean(at, layer)
    _shows_image(at, layer)
    assert at.markdown[1].value.startswith(f"`keras.layers.{layer}(")
    choices = [("real.kernel", "selectbox", P["kernel"].choices),
               ("real.channels", "selectbox", P["channels"].choices),
               ("real.rgb", "toggle", (True, False)),
               ("real.image", "selectbox", P["image"].choices)]
    for key, kind, options in choices:
        default = getattr(at, kind)(key=key).value
        for option in options:
            getattr(at, kind)(key=key).set_value(option).run()
            _clean(at, (layer, key, option))
            _shows_image(at, (layer, key, option))
        getattr(at, kind)(key=key).set_value(default).run()
    # colour on: per-channel layers give one map per colour
    at.toggle(key="real.rgb").set_value(True).run()
    _shows_image(at, layer)
    assert _facts(at)["input shape"] == "(1, 128, 128, 3)"
    if layer in ("DepthwiseConv2D", "Cropping2D", "ZeroPadding2D", "UpSampling2D"):
        assert _facts(at)["output shape"].endswith(", 3)")


@pytest.mark.parametrize("layer", page_fields.IMAGE_LAYERS)
def test_every_slider_extreme_runs_or_is_refused_inline_and_recovers(layer):
    at = _app()
    at.selectbox(key="real.layer").set_value(layer).run()
    _clean(at, layer)
    sliders = [s for s in at.slider]
    keys = {s.key for s in sliders}
    for name in ("size", "row", "col", *(k for k in ("filters", "kernel_size", "strides",
                 "dilation_rate", "groups", "depth_multiplier", "amount", "up")
                 if k in _settings(layer))):
        assert f"real.{name}" in keys, (layer, name)
    for s in sliders:
        default = s.value
        for extreme in (int(s.min), int(s.max)):
            at.slider(key=s.key).set_value(extreme).run()
            _clean(at, (layer, s.key, extreme))
            if _errors(at):
                _refused(at, (layer, s.key, extreme))
            else:
                _shows_image(at, (layer, s.key, extreme))
        at.slider(key=s.key).set_value(default).run()
        _clean(at, (layer, s.key, default))
        _shows_image(at, (layer, s.key, "back to", default))


def _settings(layer):
    from convviz.viz import real_figures

    return real_figures.image_settings(layer)


#: (link, words of the refusal, the fix: widget key and value, output shape after the fix)
REFUSALS = [
    ({"strides": "2", "dilation_rate": "2"},
     ("strides > 1", "dilation_rate > 1", "strides=(2, 2)"), ("real.dilation_rate", 1),
     "(1, 64, 64, 1)"),
    ({"layer": "Conv2DTranspose", "strides": "2", "dilation_rate": "2"},
     ("strides > 1", "dilation_rate > 1"), ("real.strides", 1), "(1, 128, 128, 1)"),
    ({"groups": "2", "filters": "2"},  # a grey picture has one channel
     ("input channels must be evenly divisible", "groups=2", "1 channels"),
     ("real.groups", 1), "(1, 128, 128, 2)"),
    ({"groups": "2", "filters": "2", "rgb": "1"},
     ("input channels must be evenly divisible", "3 channels"), ("real.groups", 1),
     "(1, 128, 128, 2)"),
    ({"groups": "3", "rgb": "1"}, ("filters must be evenly divisible", "groups=3, filters=1"),
     ("real.filters", 3), "(1, 128, 128, 3)"),
    ({"size": "16", "kernel_size": "9", "padding": "valid", "dilation_rate": "2"},
     ("zero or negative", "kernel_size=(9, 9)", "dilation_rate=(2, 2)"),
     ("real.dilation_rate", 1), "(1, 8, 8, 1)"),  # 16 - 9 + 1: Keras accepts k 9 on 16 px
    ({"layer": "Cropping2D", "size": "16", "amount": "64"},
     ("cropping", "smaller than the corresponding spatial dimension", "(16, 16)"),
     ("real.amount", 7), "(1, 2, 2, 1)"),
    ({"layer": "Cropping2D", "size": "16"},  # the default 8 per side crops all 16 px
     ("cropping", "((8, 8), (8, 8))"), ("real.size", 17), "(1, 1, 1, 1)"),
    ({"kernel_size": "1"},  # the Sobel kernel's own rule, not Keras's
     ("'sobel_x' needs kernel_size >= 2",), ("real.kernel_size", 2), "(1, 128, 128, 1)"),
]


@pytest.mark.parametrize(("query", "words", "fix", "shape"), REFUSALS,
                         ids=lambda v: "-".join(map(str, v.values())) if isinstance(v, dict)
                         else None)
def test_a_refused_setting_names_its_rule_and_a_valid_value_recovers(query, words, fix,
                                                                     shape):
    at = _app(query)
    assert not _notices(at)  # the link itself is valid: Keras refuses the combination
    _refused(at, query)
    for word in words:
        assert word in _errors(at)[0], (word, _errors(at))
    at.slider(key=fix[0]).set_value(fix[1]).run()
    _clean(at, fix)
    _shows_image(at, fix)
    if shape:
        assert _facts(at)["output shape"] == shape


def test_a_one_pixel_output_disables_the_pixel_sliders():
    # 16 px, kernel 6 dilated 3: a window of 16, one output pixel
    at = _app({"size": "16", "kernel_size": "6", "dilation_rate": "3", "padding": "valid"})
    _shows_image(at)
    assert _facts(at)["output shape"] == "(1, 1, 1, 1)"
    assert all(_slider(at, k).disabled and _slider(at, k).value == 0
               for k in ("real.row", "real.col"))


def test_the_pixel_sliders_follow_a_smaller_output():
    at = _app()
    # the sliders end at the output's last pixel (128 px, 'same', stride 1: 127)
    assert _slider(at, "real.row").max == _slider(at, "real.col").max == 127
    at.slider(key="real.row").set_value(127).run()
    at.slider(key="real.col").set_value(127).run()
    _shows_image(at)
    assert (_slider(at, "real.row").value, _slider(at, "real.col").value) == (127, 127)
    at.slider(key="real.strides").set_value(4).run()
    _shows_image(at)
    assert (_slider(at, "real.row").value, _slider(at, "real.col").value) == (31, 31)
    assert _slider(at, "real.row").max == 31
    assert next(c.value for c in at.caption if c.value.startswith("Output pixel")).startswith(
        "Output pixel (31, 31) of channel 0")


# ---------------------------------------------------------------------- links
LINK = {"part": "image", "layer": "DepthwiseConv2D", "rgb": "1", "image": "photo",
        "kernel": "sobel_y", "kernel_size": "5"}


def test_a_link_opens_its_values_without_a_notice():
    at = _app(LINK)
    assert not _notices(at) and not at.warning
    assert at.radio(key="real.part").value == "image"
    assert at.selectbox(key="real.layer").value == "DepthwiseConv2D"
    assert at.toggle(key="real.rgb").value is True
    assert at.selectbox(key="real.image").value == "photo"
    assert at.selectbox(key="real.kernel").value == "sobel_y"
    assert _slider(at, "real.kernel_size").value == 5
    _shows_image(at)
    assert at.markdown[1].value.startswith(
        "`keras.layers.DepthwiseConv2D(kernel_size=5, padding=\"same\")` on the sample photo")
    assert _facts(at)["output shape"] == "(1, 128, 128, 3)"  # one map per colour
    assert _charts(at) == ["real.maps"]
    # and the page writes the same link back (the defaults left out)
    query = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert {k: query.get(k) for k in LINK if k != "part"} == {k: v for k, v in LINK.items()
                                                              if k != "part"}


def test_every_field_survives_a_round_trip_through_the_url():
    at = _app({"layer": "SeparableConv2D", "filters": "3", "strides": "2",
               "depth_multiplier": "2", "padding": "valid", "channels": "mean", "size": "64",
               "row": "5", "col": "9"})
    assert not _notices(at)
    _shows_image(at)
    again = _app({k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()})
    assert not _notices(again)
    assert _values(again) == _values(at)
    assert _values(at)["real.col"] == 9 and _values(at)["real.channels"] == "mean"


@pytest.mark.parametrize(("query", "key", "default"), [
    ({"size": "1e9"}, "real.size", 128),
    ({"layer": "<script>"}, "real.layer", "Conv2D"),
    ({"part": "nope"}, "real.part", "image"),
    ({"kernel": "../../etc/passwd"}, "real.kernel", "sobel_x"),
    ({"row": "-1"}, "real.row", 64),
    ({"rgb": "maybe"}, "real.rgb", False),
    ({"strides": "x" * 5000}, "real.strides", 1),
    ({"size": ["16", "32"]}, "real.size", 128),
    ({"unknown": "1"}, None, None),
], ids=lambda v: str(v)[:30] if isinstance(v, dict) else None)
def test_a_hostile_link_falls_back_with_a_notice(query, key, default):
    at = _app(query)
    (notice,) = _notices(at)
    assert len(notice) < 600
    if key:
        kinds = {"real.part": at.radio, "real.rgb": at.toggle}
        widget = kinds[key](key=key) if key in kinds else next(
            w for w in (*at.slider, *at.selectbox) if w.key == key)
        assert widget.value == default
    _shows_image(at, query)
    at.slider(key="real.kernel_size").set_value(5).run()  # the notice is shown once
    assert not _notices(at)


# ---------------------------------------------------------------------- the explain table
def _caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Output pixel"))


_SHOWN = re.compile(r"the map shows (-?[0-9.e+-]+)\.$")
_SUM = re.compile(r"= sum of the products(?: of the pointwise stage)? = (-?[0-9.e+-]+) ")


def _close_at_4_digits(printed: str, value: float, scale: float) -> bool:
    """``printed`` (a ``:.4g`` number) is ``value`` to half a unit of its last digit; float32
    round-off (relative to ``scale``, the largest product) is allowed on top."""
    x = float(printed)
    digit = 10 ** (math.floor(math.log10(abs(x))) - 3) if x else 0.0
    return abs(x - value) <= digit / 2 + 1e-6 * max(scale, 1.0)


@pytest.mark.parametrize("query", [
    {},  # Conv2D, default settings
    {"row": "0", "col": "0"},  # a corner: padding taps
    {"strides": "2", "padding": "valid", "kernel_size": "4", "row": "10", "col": "40"},
    {"dilation_rate": "3", "kernel": "laplacian", "image": "checkerboard", "row": "31",
     "col": "33"},
    {"rgb": "1", "image": "photo", "channels": "mean", "kernel": "random", "filters": "2"},
    {"layer": "Conv2DTranspose", "strides": "2", "kernel_size": "3", "row": "7", "col": "8"},
    {"layer": "DepthwiseConv2D", "rgb": "1", "image": "photo", "kernel": "gaussian"},
], ids=lambda q: "-".join(map(str, q.values())) or "default")
def test_the_explain_caption_is_the_sum_of_the_shown_products(query):
    at = _app(query)
    _shows_image(at, query)
    caption = _caption(at)
    rows = _table(at, "product")
    total = float(rows["product"].astype(float).sum())
    scale = float(rows["product"].abs().max())
    shown = _SHOWN.search(caption)
    assert shown, caption
    assert _close_at_4_digits(shown[1], total, scale), (caption, total)
    assert _close_at_4_digits(_SUM.search(caption)[1], total, scale), (caption, total)
    # every row is its value times its weight, so the table is the whole arithmetic
    assert ((rows["value"] * rows["weight"] - rows["product"]).abs() < 1e-6).all()
    assert set(rows["stage"]) == {"taps"}
    if not query:  # Conv2D(1, 3, same) on one grey channel: nine taps, none on padding
        assert caption.startswith("Output pixel (64, 64) of channel 0 = ")
        assert len(rows) == 9 and "padding" not in set(rows["input cell"])
        assert abs(total) > 1e-3  # a real, non-zero response
    if query == {"row": "0", "col": "0"}:  # a 3x3 "same" window at a corner: 5 padding taps
        assert (rows["input cell"] == "padding").sum() == 5


@pytest.mark.parametrize(("query", "cell"), [
    ({"layer": "ZeroPadding2D", "amount": "3", "row": "1", "col": "1"}, "padding"),
    ({"layer": "ZeroPadding2D", "amount": "3", "row": "10", "col": "20"}, "(7, 17)"),
    ({"layer": "Cropping2D", "amount": "5", "row": "10", "col": "20"}, "(15, 25)"),
    ({"layer": "UpSampling2D", "up": "3", "row": "10", "col": "20"}, "(3, 6)"),
])
def test_a_layer_without_weights_copies_the_one_cell_it_reads(query, cell):
    """Padding, cropping and nearest upsampling: one tap of weight 1, on the cell the layer's
    geometry gives (worked out here: shifted by the amount, or divided by the size)."""
    at = _app(query)
    _shows_image(at)
    (row,) = _table(at, "product").to_dict("records")
    assert row["input cell"] == cell and row["weight"] == 1.0
    assert _close_at_4_digits(_SHOWN.search(_caption(at))[1], row["value"], 1.0)


def test_leaving_and_coming_back_keeps_the_image_parts_arguments():
    at = _app()
    at.slider(key="real.strides").set_value(3).run()
    at.radio(key="real.part").set_value("checkerboard").run()
    at.radio(key="real.part").set_value("image").run()
    _clean(at)
    assert at.slider(key="real.strides").value == 3
    assert at.query_params["strides"] in ("3", ["3"])


def test_every_part_the_picker_offers_has_a_drawing_and_no_other():
    from convviz.viz import real_page

    assert tuple(real_page.PARTS) == page_fields.REAL_PARTS
    assert set(CHARTS) | {"batch"} == set(page_fields.REAL_PARTS)


def test_the_png_link_names_the_maps_the_page_shows():
    """The download is a link to the server's route (never a file Streamlit may drop between
    the page and the GET): it names these maps, kept in this process, and what the route
    answers is their PNG; other settings make another link."""
    import asyncio
    import urllib.parse

    from convviz.realdata.pictures import to_png
    from convviz.viz import downloads

    def link(at):
        button, = [b.proto for b in at.get("link_button")
                   if b.proto.label == "Download the feature maps (PNG)"]
        return button.url

    at = _app({"layer": "Conv2D", "kernel": "sobel_x"})
    url = link(at)
    path, _, query = url.partition("?")
    assert path == "download/real-data/Conv2D_sobel_x.png"
    maps, name = downloads.RESULTS.get(urllib.parse.parse_qs(query)["id"][0])
    assert name == "Conv2D_sobel_x" and maps.shape[1:] == (128, 128)
    pool = downloads.RenderPool(workers=1)
    try:
        status, headers, body = asyncio.run(downloads.respond(
            "real-data", "Conv2D_sobel_x.png", urllib.parse.parse_qs(query), pool))
    finally:
        pool.shutdown()
    assert status == 200 and body == to_png(maps)
    at.slider(key="real.strides").set_value(2).run()
    _clean(at)
    assert link(at) != url and downloads.RESULTS.get(
        urllib.parse.parse_qs(link(at).partition("?")[2])["id"][0])[0].shape[1:] == (64, 64)

"""Every page through Streamlit's AppTest: loads clean, draws a chart, survives every widget's
extremes, explains invalid settings inline, and round-trips its state through the URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convviz.viz import player, schema

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
FAMILY_PAGES = {key: ROOT / "app_pages" / f"{key}.py" for key in schema.FAMILY_PAGES}


def _app(path, query: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(path), default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    at.run()
    _clean(at)
    return at


def _clean(at, where=""):
    assert not at.exception, (where, [e.value for e in at.exception])


def _charts(at):
    """Every picture on the page: the step players and the Plotly charts."""
    return [*at.get("bidi_component"), *at.get("plotly_chart")]


def _players(at) -> list[dict]:
    """The payloads of the page's step players, as the browser receives them."""
    return [player.read_message(json.loads(b.proto.json)) for b in at.get("bidi_component")]


def test_router_opens_the_home_page_with_a_live_example():
    at = _app(ROOT / "app.py")
    assert at.title[0].value.startswith("convviz")
    (example,) = _players(at)
    assert example["steps"] == 25 and len(example["steps_data"]) == 25  # 5x5, "same"
    assert example["explain"] and not at.error


@pytest.mark.parametrize("family", list(FAMILY_PAGES))
def test_page_loads_with_a_chart_and_no_error(family):
    at = _app(FAMILY_PAGES[family])
    assert len(_charts(at)) >= 1
    assert not at.error
    assert any("agree ✓" in m.value for m in at.markdown)
    keys = [w.key for w in (*at.slider, *at.selectbox, *at.toggle, *at.button)]
    assert all(keys), "every widget has an explicit key"


@pytest.mark.parametrize("family", list(FAMILY_PAGES))
def test_every_layer_and_every_widget_extreme(family):
    """Each layer of the page, then each slider at min and max and each choice: no exception."""
    fam = schema.FAMILY_PAGES[family]
    at = _app(FAMILY_PAGES[family])
    for layer in fam.layers:
        at.selectbox(key=f"{family}.layer").set_value(layer).run()
        _clean(at, layer)
        assert _players(at) and not at.error, layer  # every layer's defaults are valid
        sliders = [s for s in at.slider if s.key and not s.key.endswith(".step")]
        for s in sliders:
            default = s.value
            for extreme in (s.min, s.max):
                at.slider(key=s.key).set_value(extreme).run()
                _clean(at, (layer, s.key, extreme))
            at.slider(key=s.key).set_value(default).run()
        for box in at.selectbox:
            if box.key == f"{family}.layer":
                continue
            default = box.value
            for option in box.options:
                at.selectbox(key=box.key).set_value(option).run()
                _clean(at, (layer, box.key, option))
            at.selectbox(key=box.key).set_value(default).run()
        for toggle in at.toggle:
            at.toggle(key=toggle.key).set_value(not toggle.value).run()
            _clean(at, (layer, toggle.key))
            at.toggle(key=toggle.key).set_value(not toggle.value).run()
    _clean(at)


def _png_label(at) -> str:
    return next(b.proto.label for b in at.get("link_button") if "PNG" in b.proto.label)


def test_the_players_step_reaches_the_png_button_and_the_link_without_a_new_payload():
    """The step lives in the browser; its report moves the server-side displays only."""
    at = _app(FAMILY_PAGES["convolution"])
    (first,) = _players(at)
    assert first["start"] == 0 and first["steps"] == 9  # 5x5 input, 3x3 window: 3x3 outputs
    assert first["labels_step"][0] == "step 0 of 0..8" and first["explain"]
    assert "convolution.step" not in [s.key for s in at.slider]  # no second step control
    assert _png_label(at) == "Download step 0 as PNG"
    for step in (1, 8, 7):
        at.session_state["convolution.player"] = {"step": step}  # what the player reports
        at.run()
        _clean(at, step)
        assert _png_label(at) == f"Download step {step} as PNG"
        assert at.query_params["step"] in (str(step), [str(step)])
        (now,) = _players(at)
        assert now["id"] == first["id"]  # the same payload: nothing re-sent, nothing rebuilt
    at.session_state["convolution.player"] = {"step": 7, "speed": "fast"}
    at.run()
    assert at.query_params["speed"] in ("fast", ["fast"])
    assert _players(at)[0]["id"] == first["id"]  # the player already plays fast
    at.slider(key="convolution.k0").set_value(2).run()  # a new picture starts where we were
    (other,) = _players(at)
    assert other["start"] == 7 and other["speed"] == "fast" and other["id"] != first["id"]


def test_invalid_combination_is_explained_inline_and_the_page_recovers():
    at = _app(FAMILY_PAGES["convolution"])
    at.slider(key="convolution.s0").set_value(2).run()
    at.slider(key="convolution.d0").set_value(2).run()
    assert at.error and "dilation_rate" in at.error[0].value and "strides" in at.error[0].value
    assert not _charts(at)
    at.slider(key="convolution.d0").set_value(1).run()
    _clean(at)
    assert not at.error and _charts(at)


def test_oversized_output_is_refused_with_the_limit():
    """Inputs stop at the animation caps (sliders); an output past 8192 cells is refused."""
    at = _app(FAMILY_PAGES["upsampling"],
              {"layer": "UpSampling2D", "n0": "32", "n1": "32", "size0": "4", "size1": "4"})
    assert at.error and "at most 8192 can be animated" in at.error[0].value
    at.slider(key="upsampling.size0").set_value(1).run()
    _clean(at)
    assert not at.error and _charts(at)


def test_subsampled_animation_says_so():
    at = _app(FAMILY_PAGES["upsampling"],
              {"layer": "UpSampling2D", "n0": "16", "n1": "16", "size0": "2", "size1": "2"})
    assert any("of 1024 steps" in i.value for i in at.info)


def test_transposed_scatter_view():
    at = _app(FAMILY_PAGES["transposed"], {"view": "scatter"})
    assert [c.key for c in _charts(at)] == ["transposed.player"]
    # opened, the layer as a matrix with the step's input column outlined under the player
    at.session_state["transposed.scatter.matrix_open"] = True
    at.run()
    assert [c.key for c in _charts(at)] == ["transposed.player", "transposed.scatter.matrix"]
    assert not at.error


def test_query_parameters_open_the_same_layer_arguments_and_step():
    query = {"layer": "Conv1D", "n0": "9", "k0": "4", "padding": "causal", "step": "5"}
    at = _app(FAMILY_PAGES["convolution"], query)
    assert at.selectbox(key="convolution.layer").value == "Conv1D"
    assert at.slider(key="convolution.k0").value == 4
    assert _players(at)[0]["start"] == 5
    assert at.query_params["padding"] in ("causal", ["causal"])
    assert not at.warning


@pytest.mark.parametrize("query", [
    {"layer": "Conv9D"}, {"k0": "-3"}, {"n0": "1e9"}, {"step": "'; drop"},
    {"padding": "<script>"}, {"unknown": "1"}, {"n0": "x" * 5000},
])
def test_hostile_query_values_fall_back_with_a_notice(query):
    at = _app(FAMILY_PAGES["convolution"], query)
    assert at.warning, query
    assert _players(at) and not at.error  # the defaults took over: a picture, no error


def test_presenter_mode_hides_the_side_panels():
    at = _app(FAMILY_PAGES["convolution"], {"presenter": "1"})
    assert not at.dataframe  # no explain or data_format tables
    assert any("Output shape" == h.value for h in at.subheader)


def test_hundreds_of_unknown_parameters_make_one_short_notice():
    """300 junk parameters: one warning naming a few of them, and the figure right below."""
    at = _app(FAMILY_PAGES["convolution"], {f"junk{k}": "1" for k in range(300)})
    (notice,) = at.warning
    assert notice.value.startswith("100 link parameters ignored: ")  # at most 100 are read
    assert notice.value.endswith("and 95 more.") and len(notice.value) < 400
    assert _charts(at) and not at.error


def test_switching_from_causal_conv1d_lands_on_a_valid_configuration():
    at = _app(FAMILY_PAGES["convolution"], {"layer": "Conv1D", "padding": "causal"})
    assert "causal" in at.selectbox(key="convolution.padding").options
    at.selectbox(key="convolution.layer").set_value("Conv2D").run()
    _clean(at)
    padding = at.selectbox(key="convolution.padding")
    assert padding.value == "valid" and "causal" not in padding.options
    assert not at.error and _charts(at)


def test_a_causal_link_for_conv2d_falls_back_with_a_notice():
    at = _app(FAMILY_PAGES["convolution"], {"layer": "Conv2D", "padding": "causal"})
    assert at.selectbox(key="convolution.padding").value == "valid"
    assert at.warning and "not allowed for Conv2D" in at.warning[0].value
    assert not at.error and _charts(at)


@pytest.mark.parametrize(("layer", "top"), [("Conv1D", 64), ("Conv2D", 32), ("Conv3D", 12)])
def test_input_size_sliders_stop_at_what_can_be_animated(layer, top):
    at = _app(FAMILY_PAGES["convolution"], {"layer": layer})
    sizes = [s for s in at.slider if s.key.startswith("convolution.n")]
    assert sizes and all(s.max == top for s in sizes)
    sizes[0].set_value(top).run()
    _clean(at)
    assert not at.error and _charts(at)


def test_an_invalid_combination_shows_only_its_rule():
    at = _app(FAMILY_PAGES["convolution"], {"s0": "2", "d0": "2"})
    assert at.error and "dilation_rate" in at.error[0].value
    assert not [c for c in at.caption if "cells per axis" in c.value]


def test_every_animated_page_offers_gif_png_and_an_offline_html_player():
    at = _app(FAMILY_PAGES["convolution"], {"s0": "2", "padding": "same", "step": "2"})
    labels = [b.proto.label for b in at.get("link_button")]
    assert labels == ["Download GIF", "Download step 2 as PNG", "Download interactive HTML"]
    # files are named after the whole configuration (the shell command shows the name)
    (command,) = [c.value for c in at.code if c.value.startswith("convviz animate")]
    assert "-o Conv2D_5x5x1_f1_k3x3_s2x1_same_d1x1_g1.gif" in command


def test_the_shape_panel_has_the_keras_call_and_the_same_layer_in_pytorch():
    at = _app(FAMILY_PAGES["convolution"], {"layer": "Conv1D", "n0": "9", "k0": "3",
                                            "padding": "causal", "d0": "2"})
    assert [t.label for t in at.tabs] == ["Keras", "PyTorch"]
    codes = [c.value for c in at.code]
    assert any("keras.layers.Conv1D(" in c for c in codes)
    torch_code = next(c for c in codes if "import torch" in c)
    # causal, k=3, d=2: (k-1)*d = 4 zeros at the start only, then an unpadded conv
    assert "nn.ZeroPad1d((4, 0))" in torch_code
    assert "dilation=(2,)" in torch_code and "padding=(0,)" in torch_code


def test_the_matrix_expander_states_the_identities_with_the_pages_numbers():
    at = _app(FAMILY_PAGES["transposed"], {"step": "3"})
    assert [e.label for e in at.expander if "matrix" in e.label]
    assert not at.get("plotly_chart")  # closed: nothing built
    at.session_state["transposed.gather.matrix_open"] = True  # the student opens it
    at.run()
    assert len(at.get("plotly_chart")) == 1
    text = "\n".join(m.value for m in at.markdown)
    assert "largest difference is **0**" in text
    assert "`Conv2D(padding='valid')` with the same kernel array" in text
    assert any("step 3 of" in c.value for c in at.caption)

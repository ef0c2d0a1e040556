"""Shape lab, stacks and demystified pages through Streamlit's AppTest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from convviz import lab
from convviz.viz import player

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
PAGES = {name: ROOT / "app_pages" / f"{name}.py" for name in ("shape_lab", "stacks",
                                                               "demystified")}
PREFIX = {"shape_lab": "lab.", "stacks": "stacks.", "demystified": "demystified."}


def _app(page, query: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES[page]), default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    at.run()
    _clean(at)
    return at


def _clean(at, where=""):
    assert not at.exception, (where, [e.value for e in at.exception])


def _widgets(at):
    return [*at.slider, *at.selectbox, *at.button, *at.text_input]


def _extremes(at, where, skip=()):
    """Every keyed slider at min and max, every selectbox option; back to defaults."""
    for s in [s for s in at.slider if s.key not in skip]:
        default = s.value
        lo, hi = s.min, s.max
        targets = [(lo, lo), (lo, hi), (hi, hi)] if isinstance(default, tuple) else [lo, hi]
        for value in targets:
            at.slider(key=s.key).set_value(value).run()
            _clean(at, (where, s.key, value))
        at.slider(key=s.key).set_value(default).run()
    for box in [b for b in at.selectbox if b.key not in skip]:
        default = box.value
        for option in box.options:
            at.selectbox(key=box.key).set_value(option).run()
            _clean(at, (where, box.key, option))
        at.selectbox(key=box.key).set_value(default).run()


@pytest.mark.parametrize("page", list(PAGES))
def test_page_loads_with_a_chart_and_keyed_widgets(page):
    at = _app(page)
    assert len(at.get("plotly_chart")) >= 1
    assert not at.error
    keys = [w.key for w in _widgets(at)]
    assert keys and all(k and k.startswith(PREFIX[page]) for k in keys), keys


# ----------------------------------------------------------------------------- shape lab
def test_shape_lab_badge_formula_and_samples():
    at = _app("shape_lab")
    (verdict,) = [s.value for s in at.success if s.value.startswith("All 24 points agree")]
    # the same counts as the figure's key: lengths that agree, settings Keras refuses
    chart = at.get("plotly_chart")[0].proto.spec
    import re
    ok = int(re.search(r"length agrees \((\d+)\)", chart).group(1))
    refused = re.search(r"refused by Keras \((\d+)\)", chart)
    assert f": {ok} output lengths equal the formula" in verdict
    if refused:
        assert f"Keras refuses the other {refused.group(1)} setting" in verdict
    assert any("\\text{out}" in x.value for x in at.get("latex"))
    assert len(at.dataframe) == 1


def test_shape_lab_every_layer_loads():
    at = _app("shape_lab")
    for name in at.selectbox(key="lab.layer").options:
        at.selectbox(key="lab.layer").set_value(name).run()
        _clean(at, name)
        assert at.get("plotly_chart"), name
        assert any("agree with the engine" in s.value for s in at.success), name


@pytest.mark.parametrize("layer", ["Conv1D", "Conv2DTranspose", "DepthwiseConv2D",
                                   "Cropping3D", "ZeroPadding2D", "UpSampling1D"])
def test_shape_lab_widget_extremes(layer):
    at = _app("shape_lab")
    at.selectbox(key="lab.layer").set_value(layer).run()
    _extremes(at, layer, skip=("lab.layer", "lab.difficulty", "lab.kind"))
    _clean(at)


def test_quiz_right_answer_scores_and_wrong_answer_explains():
    at = _app("shape_lab")
    q = lab.generate(0, 1, None)
    assert q.text in " ".join(m.value for m in at.markdown)
    at.text_input(key="lab.answer").input(q.expected)
    at.button(key="lab.submit").click().run()
    _clean(at)
    assert any(s.value.startswith("Correct") for s in at.success)
    assert any("1 / 1" in m.value for m in at.markdown)
    at.button(key="lab.new").click().run()
    q2 = lab.generate(1, 1, None)
    assert q2.text in " ".join(m.value for m in at.markdown)
    assert not at.get("latex") or all(x.value not in q.derivation for x in at.get("latex"))
    wrong = next(t for t in ("(None, 1, 1)", "0 0", "(0, 0)", "1") if not lab.check(q2, t)
                 .correct and not lab.check(q2, t).message.startswith("Could not"))
    at.text_input(key="lab.answer").input(wrong)
    at.button(key="lab.submit").click().run()
    _clean(at)
    assert at.error and q2.expected in at.error[0].value, (wrong, at.error)
    shown = "\n".join(x.value for x in at.get("latex"))
    assert all(line in shown for line in q2.derivation)
    assert any("1 / 2" in m.value for m in at.markdown)


def test_quiz_every_difficulty_and_kind():
    at = _app("shape_lab")
    for difficulty in lab.DIFFICULTIES:
        for kind in ("any", *lab.KINDS):
            at.selectbox(key="lab.difficulty").set_value(difficulty)
            at.selectbox(key="lab.kind").set_value(kind).run()
            q = lab.generate(0, difficulty, None if kind == "any" else kind)
            at.text_input(key="lab.answer").input(q.expected)
            at.button(key="lab.submit").click().run()
            _clean(at, (difficulty, kind))
            assert any(s.value.startswith("Correct") for s in at.success), (difficulty, kind)


# ----------------------------------------------------------------------------- stacks
def _entries(at):
    return [name for name, _ in at.session_state["stacks.entries"]]


def test_stacks_default_summary_code_and_receptive_field():
    at = _app("stacks")
    table = at.dataframe[0].value
    assert list(table["output shape"]) == ["(None, 10, 10, 4)", "(None, 4, 4, 4)",
                                          "(None, 2, 2, 4)"]
    assert "keras.Sequential" in at.code[0].value
    assert at.slider(key="stacks.o0").max == 1


def test_stacks_add_remove_move():
    at = _app("stacks")
    at.selectbox(key="stacks.layer").set_value("UpSampling2D").run()
    assert at.text_input(key="stacks.kwargs").value == "size=(2, 2)"
    at.button(key="stacks.add").click().run()
    _clean(at)
    assert _entries(at) == ["Conv2D"] * 3 + ["UpSampling2D"]
    at.button(key="stacks.up.3").click().run()
    assert _entries(at) == ["Conv2D"] * 2 + ["UpSampling2D", "Conv2D"]
    at.button(key="stacks.down.0").click().run()
    at.button(key="stacks.remove.3").click().run()
    _clean(at)
    assert _entries(at) == ["Conv2D", "Conv2D", "UpSampling2D"]
    assert at.button(key="stacks.up.0").proto.disabled
    assert at.button(key="stacks.down.2").proto.disabled
    for _ in range(3):
        at.button(key="stacks.remove.0").click().run()
        _clean(at)
    assert _entries(at) == [] and at.info
    assert "Add a layer" in at.info[0].value and "sidebar" not in at.info[0].value
    at.selectbox(key="stacks.layer").set_value("Conv1D").run()
    at.text_input(key="stacks.kwargs").input("2, 5, padding='causal'").run()
    at.button(key="stacks.add").click().run()
    _clean(at)
    assert [s.key for s in at.slider if s.key.startswith("stacks.n")] == ["stacks.n0"]
    at.button(key="stacks.reset").click().run()
    assert _entries(at) == ["Conv2D"] * 3


def test_stacks_invalid_layer_is_an_error_not_an_exception():
    at = _app("stacks")
    at.selectbox(key="stacks.layer").set_value("Conv1D").run()
    at.button(key="stacks.add").click().run()
    _clean(at)
    assert any("Layer 3" in e.value and "does not fit" in e.value for e in at.error)
    assert not at.get("plotly_chart")
    at.text_input(key="stacks.kwargs").input("filters=4, kernel_size=0").run()
    at.button(key="stacks.add").click().run()
    _clean(at)
    at.button(key="stacks.remove.3").click().run()
    at.button(key="stacks.remove.3").click().run()
    _clean(at)
    assert not at.error and at.get("plotly_chart")


def test_stacks_refuse_an_unknown_argument_and_suggest_the_keras_name():
    at = _app("stacks")
    at.text_input(key="stacks.kwargs").input("4, 3, stride=2").run()
    at.button(key="stacks.add").click().run()
    _clean(at)
    assert _entries(at) == ["Conv2D"] * 3  # not added
    (error,) = [e.value for e in at.error]
    assert "Not added" in error and "no argument `stride`" in error
    assert "Did you mean `strides`?" in error
    assert "stride=" not in at.code[0].value  # the Keras code never shows the typo


@pytest.mark.parametrize("text", ["__import__('os')", "open('/etc/passwd').read()",
                                  "filters=10**9", "**{'filters': 4}", "x" * 400])
def test_stacks_parser_rejects_hostile_text(text):
    at = _app("stacks")
    at.text_input(key="stacks.kwargs").input(text).run()
    at.button(key="stacks.add").click().run()
    _clean(at, text)
    assert any("Not added" in e.value for e in at.error)
    assert len(_entries(at)) == 3


def test_stacks_too_large_is_refused_with_the_rule():
    at = _app("stacks")
    at.selectbox(key="stacks.layer").set_value("UpSampling2D").run()
    at.text_input(key="stacks.kwargs").input("size=64").run()
    at.button(key="stacks.add").click().run()
    for i in (3, 2, 1):  # first: 12 x 64 = 768 cells per axis
        at.button(key=f"stacks.up.{i}").click().run()
    _clean(at)
    assert any("Too large" in e.value for e in at.error)


def test_stacks_widget_extremes():
    at = _app("stacks")
    _extremes(at, "stacks", skip=("stacks.layer",))
    at.slider(key="stacks.n0").set_value(64).run()
    at.slider(key="stacks.n1").set_value(64).run()
    for key in ("stacks.o0", "stacks.o1"):
        s = at.slider(key=key)
        for value in (s.min, s.max):
            at.slider(key=key).set_value(value).run()
            _clean(at, (key, value))
    at.slider(key="stacks.n0").set_value(5).run()  # output shrinks below the chosen cell
    _clean(at)
    for name in at.selectbox(key="stacks.layer").options:
        at.selectbox(key="stacks.layer").set_value(name).run()
        at.button(key="stacks.add").click().run()
        _clean(at, name)
        at.button(key="stacks.remove.3").click().run()
        _clean(at, name)


# ----------------------------------------------------------------------------- demystified
def test_demystified_side_by_side():
    at = _app("demystified")
    assert sorted(c.key for c in at.get("plotly_chart")) == [
        "demystified.overlap.Blues", "demystified.overlap.Greens"]
    for view in ("gather", "scatter"):  # the student opens both matrices
        at.session_state[f"demystified.{view}.matrix_open"] = True
    at.run()
    # the two overlap heatmaps, and each view's matrix
    assert sorted(c.key for c in at.get("plotly_chart")) == [
        "demystified.gather.matrix", "demystified.overlap.Blues", "demystified.overlap.Greens",
        "demystified.scatter.matrix"]
    players = [player.read_message(json.loads(b.proto.json)) for b in at.get("bidi_component")]
    assert len(players) == 2  # the gather and the scatter view, stepping independently
    assert players[0]["steps"] == 8 * 8 and players[1]["steps"] == 4 * 4
    assert at.warning and "Checkerboard" in at.warning[0].value
    assert any("3 mod 2 = 1" in i.value for i in at.info)
    subheaders = [h.value for h in at.subheader]
    assert any(h.startswith("gather: the window slides") for h in subheaders)
    assert any(h.startswith("scatter: each input cell paints") for h in subheaders)
    at.slider(key="demystified.k").set_value(4).run()
    assert not at.warning and any("= 0: no checkerboard" in i.value for i in at.info)


def test_demystified_messages_describe_the_maps_they_sit_under():
    """Three stacked layers: the upsampling map is uneven at its borders; no box says even."""
    at = _app("demystified")
    at.slider(key="demystified.layers").set_value(3).run()
    _clean(at)
    boxes = [b.value for b in [*at.success, *at.info, *at.warning]]
    assert not any(v.startswith("Even: every") for v in boxes)
    from convviz import stack

    side = stack.compare_upsampling(4, 3, 2, layers=3)["upsample_conv"]
    shown = np.asarray(side["overlap"])
    span = f"{shown.min()}..{shown.max()}"
    assert shown.min() < shown.max()  # visibly uneven: lower counts near the borders
    assert any(f"This map shows {span}" in v for v in boxes), boxes


def test_demystified_widget_extremes():
    at = _app("demystified")
    _extremes(at, "demystified")
    for key, value in (("demystified.n", 12), ("demystified.s", 4), ("demystified.layers", 3)):
        at.slider(key=key).set_value(value).run()
        _clean(at, (key, value))
    assert any("at most 96" in e.value for e in at.error)


def test_demystified_links_carry_where_each_player_stands():
    at = _app("demystified", {"gather_step": "5"})
    gather, scatter = (player.read_message(json.loads(b.proto.json))
                       for b in at.get("bidi_component"))
    assert gather["start"] == 5 and scatter["start"] == 0  # the link reopens them there
    at.session_state["demystified.scatter.player"] = {"step": 3}  # what the player reports
    at.run()
    _clean(at)
    assert at.query_params["scatter_step"] in ("3", ["3"])
    assert at.query_params["gather_step"] in ("5", ["5"])
    labels = [b.proto.label for b in at.get("link_button") if "PNG" in b.proto.label]
    assert labels == ["Download step 5 as PNG", "Download step 3 as PNG"]

"""Shareable links of the shape calculator, shape lab, stacks and demystified pages: a link
opens the same state, the state round-trips through the URL, hostile values fall back to the
defaults with a notice and never raise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convviz.viz import links

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
PAGES = {name: ROOT / "app_pages" / f"{name}.py"
         for name in ("shape_calculator", "shape_lab", "stacks", "demystified")}

#: Per page: a link with non-default values, and the widget values it must open with.
LINKS = {
    "shape_calculator": ({"rank": "3", "data_format": "channels_first", "n0": "5", "n1": "6",
                          "n2": "7", "channels": "2", "batch_none": "0", "batch": "4"},
                         {"rank": 3, "data_format": "channels_first", "size_0": 5, "size_1": 6,
                          "size_2": 7, "channels": 2, "batch_none": False, "batch": 4}),
    "shape_lab": ({"layer": "Conv1D", "n": "20", "kernel": "5", "padding": "causal",
                   "arg": "strides", "range.strides": "2-5", "difficulty": "2",
                   "kind": "params", "question": "7"},
                  {"lab.layer": "Conv1D", "lab.n": 20, "lab.kernel": 5, "lab.padding": "causal",
                   "lab.arg": "strides", "lab.range.strides": (2, 5), "lab.difficulty": 2,
                   "lab.kind": "params"}),
    "stacks": ({"layers": "Conv1D(2,5);Conv1DTranspose(3,3,strides=2,padding='same')",
                "n0": "30", "channels": "5", "o0": "7"},
               {"stacks.n0": 30, "stacks.channels": 5, "stacks.o0": 7}),
    "demystified": ({"n": "6", "k": "4", "s": "3", "layers": "2"},
                    {"demystified.n": 6, "demystified.k": 4, "demystified.s": 3,
                     "demystified.layers": 2}),
}
#: Per page: widget changes (key -> value) made in the app, before reading the URL.
CHANGES = {
    "shape_calculator": {"rank": 1, "size_0": 33, "channels": 9, "batch_none": False},
    "shape_lab": {"lab.layer": "Cropping2D", "lab.n": 30, "lab.crop": 3,
                  "lab.difficulty": 3, "lab.kind": "reads"},
    "stacks": {"stacks.n0": 20, "stacks.n1": 9, "stacks.channels": 4},
    "demystified": {"demystified.n": 5, "demystified.k": 2, "demystified.s": 4},
}
HOSTILE = [{"n": "1e9"}, {"n0": "-3"}, {"layer": "<script>alert(1)</script>"},
           {"k": "x" * 5000}, {"unknown": "1"}, {"n": ["3", "4"]}, {"rank": "99999999999999"},
           {"layers": "__import__('os').system('ls')"}, {"layers": "Conv2D(4,3);" * 400},
           {"range.kernel_size": "9-1"}, {"question": "-1"}, {"batch_none": "maybe"},
           {"layers": ["Conv2D(4,3)", "Conv2D(8,3)"]}]


def _app(page, query: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES[page]), default_timeout=TIMEOUT)
    if query:
        at.query_params.update(query)
    at.run()
    _clean(at, query)
    return at


def _clean(at, where=""):
    assert not at.exception, (where, [e.value for e in at.exception])


def _values(at):
    widgets = [*at.slider, *at.selectbox, *at.checkbox, *at.number_input, *at.text_input]
    return {w.key: w.value for w in widgets if w.key}


def _notices(at):
    return [w.value for w in at.warning if re.match(r"\d+ link parameters? ignored: ", w.value)]


def _rendered(at):
    return bool(at.title) and (at.markdown or at.error)


def _layers(at):
    return [m.value for m in at.markdown if m.value.startswith("`") and "&nbsp;" in m.value]


@pytest.mark.parametrize("page", PAGES)
def test_a_link_opens_its_values(page):
    query, expected = LINKS[page]
    at = _app(page, query)
    values = _values(at)
    assert {k: values.get(k) for k in expected} == expected
    assert not _notices(at)
    if page == "stacks":
        assert _layers(at) == ["`0` &nbsp; `Conv1D(2, 5)`",
                               "`1` &nbsp; `Conv1DTranspose(3, 3, strides=2, padding='same')`"]
    if page == "shape_lab":
        assert any(m.value.startswith("**Question 8.**") for m in at.markdown)


def _set(at, key, value):
    widget = at.checkbox(key=key) if isinstance(value, bool) else (
        at.selectbox(key=key) if isinstance(value, str) or key.endswith(
            ("rank", "difficulty")) else None)
    if widget is None:
        found = [w for w in [*at.slider, *at.number_input] if w.key == key]
        widget = found[0]
    widget.set_value(value)
    at.run()
    _clean(at, key)


@pytest.mark.parametrize("page", PAGES)
def test_widget_changes_round_trip_through_the_url(page):
    at = _app(page)
    for key, value in CHANGES[page].items():
        _set(at, key, value)
    if page == "stacks":
        at.button(key="stacks.remove.1").click().run()
        at.selectbox(key="stacks.layer").set_value("Conv2DTranspose").run()
        at.text_input(key="stacks.kwargs").input("2, 3, strides=2").run()
        at.button(key="stacks.add").click().run()
        _clean(at)
    if page == "shape_lab":
        at.button(key="lab.new").click().run()
        at.button(key="lab.new").click().run()
    at.run()
    before = _values(at)
    for key, value in CHANGES[page].items():
        assert before[key] == value, key
    query = dict(at.query_params)
    assert query, page
    again = _app(page, query)
    assert not _notices(again)
    after = _values(again)
    keep = {k: v for k, v in before.items() if k not in ("stacks.kwargs", "stacks.layer",
                                                          "lab.answer")}
    assert {k: after.get(k) for k in keep} == keep
    if page == "stacks":
        assert _layers(again) == _layers(at) and len(_layers(at)) == 3
        assert "Conv2DTranspose" in query["layers"]
    if page == "shape_lab":
        question = [m.value for m in at.markdown if m.value.startswith("**Question")]
        assert question and question[0].startswith("**Question 3.**")
        assert [m.value for m in again.markdown if m.value.startswith("**Question")] == question


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_fall_back_with_a_notice(page, query):
    at = _app(page, query)
    assert _notices(at), query
    assert len(_notices(at)) == 1  # one compact notice, however many were ignored
    assert all(len(notice) < 600 for notice in _notices(at))
    assert _rendered(at)


def test_notices_are_shown_once_per_session():
    at = _app("demystified", {"n": "<script>"})
    assert _notices(at)
    at.slider(key="demystified.k").set_value(5).run()
    assert not _notices(at)
    assert dict(at.query_params) == {"k": "5"}


def test_invalid_layer_entries_are_dropped_and_the_rest_kept():
    at = _app("stacks", {"layers": "Conv2D(4,3);eval('1');Conv9D(2);Conv2D(2,3,strides=2)"})
    (notice,) = _notices(at)
    assert notice.startswith("2 link parameters ignored: ") and notice.count("layers") == 2
    assert _layers(at) == ["`0` &nbsp; `Conv2D(4, 3)`", "`1` &nbsp; `Conv2D(2, 3, strides=2)`"]


def test_layer_codec_round_trips_without_streamlit():
    entries = [("Conv2D", {"filters": 4, "kernel_size": 3}),
               ("DepthwiseConv2D", {"kernel_size": 3, "padding": "same"}),
               ("Cropping2D", {"cropping": ((1, 2), (0, 1))}),
               ("UpSampling2D", {"size": 2}), ("ZeroPadding2D", {"padding": 1}),
               ("SeparableConv2D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2})]
    text = links.encode_layers(entries)
    assert " " not in text
    back, dropped = links.parse_layers(text)
    assert not dropped and back == entries


_texts = st.one_of(st.text(max_size=30), st.integers(-10**12, 10**12).map(str),
                   st.sampled_from(["Conv2D(4,3)", "1-5", "5-1", "None", "true", "", "'; drop",
                                    "causal", "channels_first", "<script>"]))
_names = st.one_of(st.sampled_from(["n", "k", "s", "layers", "rank", "n0", "n1", "channels",
                                    "batch", "batch_none", "layer", "arg", "range.input",
                                    "question", "kind", "difficulty", "o0", "padding"]),
                   st.text(min_size=1, max_size=10))
_queries = st.dictionaries(_names, st.one_of(_texts, st.lists(_texts, min_size=1, max_size=3)),
                           max_size=5)


@pytest.mark.parametrize("page", PAGES)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(query=_queries)
def test_fuzzed_query_strings_never_raise(page, query):
    at = _app(page, query)
    assert _rendered(at)



@pytest.mark.parametrize("page", PAGES)
def test_a_link_driven_first_run_logs_no_session_state_warning(page, caplog, monkeypatch):
    """Widgets take their defaults from the session only: Streamlit's 'created with a default
    value but also had its value set via the Session State API' warning never fires."""
    import logging

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    with caplog.at_level(logging.WARNING):
        _app(page, LINKS[page][0])
    assert not [r.getMessage() for r in caplog.records if "default value" in r.getMessage()]

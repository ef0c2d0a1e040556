"""Links people have shared keep working: a link to a family page, written as the pages write
them today, opens the same sidebar and the page writes the same link back.

The table below is written by hand, per page: a link (its query parameters, as text) and the
values it must open with. For each link the page runs through Streamlit's AppTest with no
exception and no "link parameters ignored" warning; every sidebar widget holds the value the
link gives (the others their defaults); the player's speed and step are the link's; and the
URL the page writes back carries the same parameters and decodes to the same values. A pure
test round-trips every field of every family page through ``schema.encode`` and
``schema.decode``, for every layer it applies to.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from convviz.viz import player, schema

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
PAGES = {key: ROOT / "app_pages" / f"{key}.py" for key in schema.FAMILY_PAGES}
#: Values the page keeps in its session but draws no sidebar widget for.
NOT_WIDGETS = ("speed", "step")

#: Per family page: (a link's query parameters, the values it opens with), by hand.
LINKS = {
    "convolution": [
        ({"layer": "Conv3D", "n0": "6", "n1": "4", "n2": "3", "channels": "2",
          "data_format": "channels_first", "filters": "4", "groups": "2", "k0": "2", "k2": "2",
          "s0": "2", "s2": "2", "padding": "same", "filter": "3", "reveal": "1", "speed": "fast",
          "step": "3"},
         {"layer": "Conv3D", "n0": 6, "n1": 4, "n2": 3, "channels": 2,
          "data_format": "channels_first", "filters": 4, "groups": 2, "k0": 2, "k2": 2,
          "s0": 2, "s2": 2, "padding": "same", "filter": 3, "reveal": True, "speed": "fast",
          "step": 3}),
        ({"layer": "Conv1D", "n0": "12", "k0": "4", "d0": "2", "padding": "causal",
          "filters": "2", "numbers": "0", "step": "5"},
         {"layer": "Conv1D", "n0": 12, "k0": 4, "d0": 2, "padding": "causal", "filters": 2,
          "numbers": False, "step": 5}),
        ({"layer": "Conv2D", "n0": "7", "n1": "6", "channels": "3", "filters": "3",
          "groups": "3", "k1": "2", "s0": "2", "s1": "3", "presenter": "1", "speed": "slow"},
         {"layer": "Conv2D", "n0": 7, "n1": 6, "channels": 3, "filters": 3, "groups": 3,
          "k1": 2, "s0": 2, "s1": 3, "presenter": True, "speed": "slow"}),
        ({"layer": "Conv3D", "n0": "8", "n1": "7", "n2": "6", "k0": "2", "k2": "2", "d1": "2",
          "d2": "3", "numbers": "0"},
         {"layer": "Conv3D", "n0": 8, "n1": 7, "n2": 6, "k0": 2, "k2": 2, "d1": 2, "d2": 3,
          "numbers": False}),
    ],
    "transposed": [
        ({"layer": "Conv2DTranspose", "n0": "4", "k1": "2", "s1": "3", "padding": "same",
          "op_on": "1", "op0": "1", "op1": "2", "view": "scatter", "filters": "2",
          "filter": "1", "step": "4"},
         {"layer": "Conv2DTranspose", "n0": 4, "k1": 2, "s1": 3, "padding": "same",
          "op_on": True, "op0": 1, "op1": 2, "view": "scatter", "filters": 2, "filter": 1,
          "step": 4}),
        ({"layer": "Conv1DTranspose", "n0": "5", "k0": "4", "s0": "1", "d0": "2",
          "channels": "2", "data_format": "channels_first", "reveal": "1"},
         {"layer": "Conv1DTranspose", "n0": 5, "k0": 4, "s0": 1, "d0": 2, "channels": 2,
          "data_format": "channels_first", "reveal": True}),
        ({"layer": "Conv3DTranspose", "n0": "2", "n2": "2", "k0": "2", "k1": "2", "k2": "2",
          "s0": "1", "s1": "1", "s2": "1", "d1": "2", "d2": "3", "numbers": "0",
          "speed": "slow", "step": "6"},
         {"layer": "Conv3DTranspose", "n0": 2, "n2": 2, "k0": 2, "k1": 2, "k2": 2, "s0": 1,
          "s1": 1, "s2": 1, "d1": 2, "d2": 3, "numbers": False, "speed": "slow", "step": 6}),
        ({"layer": "Conv3DTranspose", "n1": "2", "k0": "2", "op_on": "1", "op0": "1",
          "op2": "1", "presenter": "1"},
         {"layer": "Conv3DTranspose", "n1": 2, "k0": 2, "op_on": True, "op0": 1, "op2": 1,
          "presenter": True}),
    ],
    "depthwise": [
        ({"layer": "SeparableConv2D", "n0": "6", "channels": "3",
          "data_format": "channels_first", "depth_multiplier": "2", "filters": "3", "k0": "2",
          "s1": "2", "padding": "same", "filter": "2", "reveal": "1"},
         {"layer": "SeparableConv2D", "n0": 6, "channels": 3, "data_format": "channels_first",
          "depth_multiplier": 2, "filters": 3, "k0": 2, "s1": 2, "padding": "same",
          "filter": 2, "reveal": True}),
        ({"layer": "DepthwiseConv1D", "n0": "9", "channels": "1", "depth_multiplier": "3",
          "k0": "4", "d0": "2", "presenter": "1", "step": "2"},
         {"layer": "DepthwiseConv1D", "n0": 9, "channels": 1, "depth_multiplier": 3, "k0": 4,
          "d0": 2, "presenter": True, "step": 2}),
        ({"layer": "SeparableConv1D", "n0": "8", "filters": "2", "depth_multiplier": "2",
          "s0": "2", "numbers": "0", "speed": "fast"},
         {"layer": "SeparableConv1D", "n0": 8, "filters": 2, "depth_multiplier": 2, "s0": 2,
          "numbers": False, "speed": "fast"}),
        ({"layer": "DepthwiseConv2D", "n1": "7", "k0": "2", "k1": "4", "d0": "2",
          "d1": "2", "padding": "same", "step": "10"},
         {"layer": "DepthwiseConv2D", "n1": 7, "k0": 2, "k1": 4, "d0": 2, "d1": 2,
          "padding": "same", "step": 10}),
    ],
    "cropping": [
        ({"layer": "Cropping2D", "n0": "7", "n1": "6", "channels": "2",
          "data_format": "channels_first", "lo0": "2", "hi0": "0", "lo1": "0", "hi1": "3",
          "reveal": "1", "step": "4"},
         {"layer": "Cropping2D", "n0": 7, "n1": 6, "channels": 2,
          "data_format": "channels_first", "lo0": 2, "hi0": 0, "lo1": 0, "hi1": 3,
          "reveal": True, "step": 4}),
        ({"layer": "Cropping1D", "n0": "10", "channels": "3", "lo0": "3", "hi0": "2",
          "numbers": "0"},
         {"layer": "Cropping1D", "n0": 10, "channels": 3, "lo0": 3, "hi0": 2,
          "numbers": False}),
        ({"layer": "Cropping3D", "n0": "6", "n2": "4", "hi0": "2", "lo1": "2", "hi1": "0",
          "lo2": "0", "hi2": "2", "presenter": "1", "speed": "slow"},
         {"layer": "Cropping3D", "n0": 6, "n2": 4, "hi0": 2, "lo1": 2, "hi1": 0, "lo2": 0,
          "hi2": 2, "presenter": True, "speed": "slow"}),
    ],
    "padding": [
        ({"layer": "ZeroPadding2D", "n0": "5", "n1": "3", "channels": "2",
          "data_format": "channels_first", "lo0": "2", "hi0": "0", "lo1": "0", "hi1": "3",
          "step": "7"},
         {"layer": "ZeroPadding2D", "n0": 5, "n1": 3, "channels": 2,
          "data_format": "channels_first", "lo0": 2, "hi0": 0, "lo1": 0, "hi1": 3, "step": 7}),
        ({"layer": "ZeroPadding1D", "n0": "6", "lo0": "4", "hi0": "2", "reveal": "1",
          "speed": "fast"},
         {"layer": "ZeroPadding1D", "n0": 6, "lo0": 4, "hi0": 2, "reveal": True,
          "speed": "fast"}),
        ({"layer": "ZeroPadding3D", "n0": "2", "n1": "3", "n2": "2", "lo2": "0", "hi2": "2",
          "numbers": "0", "presenter": "1"},
         {"layer": "ZeroPadding3D", "n0": 2, "n1": 3, "n2": 2, "lo2": 0, "hi2": 2,
          "numbers": False, "presenter": True}),
    ],
    "upsampling": [
        ({"layer": "UpSampling2D", "n0": "4", "channels": "2", "data_format": "channels_first",
          "size0": "3", "size1": "1", "interpolation": "bilinear", "reveal": "1", "step": "6"},
         {"layer": "UpSampling2D", "n0": 4, "channels": 2, "data_format": "channels_first",
          "size0": 3, "size1": 1, "interpolation": "bilinear", "reveal": True, "step": 6}),
        ({"layer": "UpSampling1D", "n0": "5", "channels": "3", "size0": "4",
          "presenter": "1"},
         {"layer": "UpSampling1D", "n0": 5, "channels": 3, "size0": 4, "presenter": True}),
        ({"layer": "UpSampling3D", "n0": "2", "n1": "2", "n2": "2", "size0": "1", "size2": "3",
          "data_format": "channels_first", "numbers": "0", "speed": "slow"},
         {"layer": "UpSampling3D", "n0": 2, "n1": 2, "n2": 2, "size0": 1, "size2": 3,
          "data_format": "channels_first", "numbers": False, "speed": "slow"}),
        ({"layer": "UpSampling2D", "n1": "2", "size1": "3", "interpolation": "lanczos3",
          "step": "11"},
         {"layer": "UpSampling2D", "n1": 2, "size1": 3, "interpolation": "lanczos3",
          "step": 11}),
    ],
}


CASES = [(page, query, expected) for page, links in LINKS.items()
         for query, expected in links]
IDS = [f"{page}-{i}-{query['layer']}" for page, links in LINKS.items()
       for i, (query, _) in enumerate(links)]


def _app(page, query):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES[page]), default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert not at.exception, (page, query, [e.value for e in at.exception])
    return at


def _notices(at):
    return [w.value for w in at.warning if re.match(r"\d+ link parameters? ignored: ", w.value)]


def _widgets(at, page):
    """``{field key: value}`` of the page's sidebar widgets."""
    side = at.sidebar
    prefix = f"{page}."
    return {w.key[len(prefix):]: w.value for w in (*side.slider, *side.selectbox, *side.toggle)
            if w.key and w.key.startswith(prefix)}


def _players(at) -> list[dict]:
    return [player.read_message(json.loads(b.proto.json)) for b in at.get("bidi_component")]


def test_the_table_has_links_for_every_page_and_every_field():
    """Each family page has links, and each of its fields is set (off its default) by one."""
    assert set(LINKS) == set(schema.FAMILY_PAGES)
    for page, fam in schema.FAMILY_PAGES.items():
        given = {key for query, _ in LINKS[page] for key in query}
        assert {f.key for f in fam.fields} <= given, (page, {f.key for f in fam.fields} - given)
        assert "step" in given, page
        for query, expected in LINKS[page]:
            assert set(query) == set(expected), (page, query)


@pytest.mark.parametrize("page,query,expected", CASES, ids=IDS)
def test_a_shared_link_opens_its_values_and_is_written_back(page, query, expected):
    fam = schema.FAMILY_PAGES[page]
    at = _app(page, query)
    assert not _notices(at), _notices(at)
    assert not at.error, [e.value for e in at.error]
    assert _players(at), "the page draws its player"

    # the sidebar: the link's values, every other widget at its default
    widgets = _widgets(at, page)
    wanted = {k: v for k, v in expected.items() if k not in NOT_WIDGETS}
    assert {k: widgets.get(k) for k in wanted} == wanted
    others = {k: v for k, v in widgets.items() if k not in wanted}
    assert others == {k: fam.field(k).default for k in others}

    # what the page keeps without a widget: the player's speed, and the step it starts at
    assert at.session_state[f"{page}.speed"] == expected.get("speed", "normal")
    assert at.session_state[f"{page}.step"] == expected.get("step", 0)
    assert [p["start"] for p in _players(at)] == [expected.get("step", 0)]

    # the URL the page writes back: the same parameters, decoding to the same values
    written = {k: at.query_params[k] for k in at.query_params}
    assert set(written) == set(query), written
    values, notices = schema.decode(fam, written)
    assert notices == []
    assert {k: values.get(k) for k in expected} == expected


def _non_defaults(f, layer):
    """Every valid value of ``f`` for ``layer`` that is not its default (for ints: both ends
    and one inside)."""
    if f.kind == "bool":
        return [not f.default]
    if f.kind == "choice":
        return [c for c in f.choices_for(layer) if c != f.default]
    hi = f.hi_for(layer)
    return sorted({f.lo, (f.lo + hi) // 2, hi} - {f.default})


FIELDS = [(page, f) for page, fam in schema.FAMILY_PAGES.items()
          for f in (*fam.fields, schema.STEP)]


@pytest.mark.parametrize("page,f", FIELDS, ids=[f"{page}.{f.key}" for page, f in FIELDS])
def test_every_field_round_trips_through_encode_and_decode(page, f):
    """For each layer the field applies to, each non-default value goes into the link as one
    parameter and comes back out equal, with no notice."""
    fam = schema.FAMILY_PAGES[page]
    if f.key == "layer":  # the value is the layer
        cases = [(layer, layer) for layer in _non_defaults(f, fam.layers[0])]
    else:
        cases = [(layer, value) for layer in fam.layers if f.key == "step" or f.applies(layer)
                 for value in _non_defaults(f, layer)]
    assert cases, "the field applies to some layer of the page"
    for layer, value in cases:
        values = {**fam.defaults(), "layer": layer, f.key: value}
        query = schema.encode(fam, values)
        expected_keys = {"layer"} if f.key == "layer" else {"layer", f.key}
        assert set(query) == expected_keys, (layer, value, query)
        decoded, notices = schema.decode(fam, query)
        assert notices == [], (layer, value, notices)
        assert decoded[f.key] == value and decoded["layer"] == layer, (layer, value)
        assert {k: decoded[k] for k in values} == values, (layer, value)
        assert schema.encode(fam, decoded) == query


def test_the_largest_step_a_link_may_carry_is_read():
    fam = schema.FAMILY_PAGES["convolution"]
    query = schema.encode(fam, {"layer": "Conv2D", "step": schema.STEP.hi})
    values, notices = schema.decode(fam, query)
    assert notices == [] and values["step"] == schema.STEP.hi

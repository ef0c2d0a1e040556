"""Figure builders, page schema and views, tested without Streamlit."""

from __future__ import annotations

import json

import numpy as np
import plotly.io as pio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convviz
from convviz.demo import Spec, run
from convviz.viz import figures, schema, view


def _frames(fig):
    return fig.to_dict()["frames"]


def _window_cells(frame_or_layout, ref="x"):
    """Cells outlined in subplot ``ref`` by the window rectangles (solid orange/purple)."""
    shapes = frame_or_layout["shapes"]
    return sorted(
        (round((s["x0"] + s["x1"]) / 2), round((s["y0"] + s["y1"]) / 2)) for s in shapes
        if s["xref"] == ref and s["line"].get("color") in
        (figures.COLORS["window"], figures.COLORS["window_pad"]) and s["line"].get("dash") is None
    )


CASES = [
    Spec("Conv2D", {"filters": 1, "kernel_size": 3, "padding": "same", "strides": 2}, (5, 6)),
    Spec("Conv1D", {"filters": 1, "kernel_size": 3, "dilation_rate": 2, "padding": "causal"},
         (7,)),
    Spec("Conv3D", {"filters": 1, "kernel_size": 2}, (3, 3, 4)),
    Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, (3, 3)),
    Spec("DepthwiseConv2D", {"kernel_size": 3, "dilation_rate": 2}, (6, 6), channels=2),
    Spec("Cropping2D", {"cropping": ((1, 0), (0, 2))}, (4, 5)),
    Spec("ZeroPadding1D", {"padding": (2, 1)}, (4,)),
    Spec("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, (3, 3)),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda s: s.name)
def test_one_frame_per_step_and_window_equals_trace(spec):
    sample = run(spec)
    trace = sample.trace
    fig = figures.animation_figure(trace, sample.channel_plane(sample.x))
    frames = _frames(fig)
    assert len(frames) == len(trace)
    lo = np.array([a.lo for a in trace.axes])
    for frame in frames:
        i = int(frame["name"])
        st_ = trace.step(i)
        keep = st_.weight != 0
        x, y = figures.plane(st_.coords[keep] + lo, trace.padded_shape)
        assert _window_cells(frame["layout"]) == sorted(zip(x.tolist(), y.tolist()))
        ox, oy = figures.plane(np.array([st_.out_index]), trace.out_shape)
        current = [s for s in frame["layout"]["shapes"]
                   if s["xref"] == "x2" and s["line"].get("width") == 4]
        assert [(round(s["x0"] + 0.5), round(s["y0"] + 0.5)) for s in current] == [(ox[0], oy[0])]


def test_dilation_gaps_are_drawn_as_dotted_cells():
    sample = run(Spec("Conv2D", {"filters": 1, "kernel_size": 2, "dilation_rate": 3}, (5, 5)))
    frame = _frames(figures.animation_figure(sample.trace))[0]
    dotted = [s for s in frame["layout"]["shapes"] if s["line"].get("dash") == "dot"]
    assert len(dotted) == len(sample.trace.step(0).gaps) == 16 - 4


def test_frames_are_subsampled_beyond_the_limit_with_first_and_last_kept():
    sample = run(Spec("UpSampling2D", {"size": 2}, (16, 16)))
    frames = _frames(figures.animation_figure(sample.trace, max_frames=50))
    names = [int(f["name"]) for f in frames]
    assert len(names) == 50 and names[0] == 0 and names[-1] == len(sample.trace) - 1
    assert names == sorted(set(names))


@given(st.integers(1, 5000), st.integers(2, 400))
@settings(max_examples=60, deadline=None)
def test_frame_indices(steps, limit):
    idx = figures.frame_indices(steps, limit)
    assert len(idx) == min(steps, limit)
    assert idx[0] == 0 and idx[-1] == steps - 1 and np.all(np.diff(idx) > 0)


def test_figure_serialises_and_at_step_moves_window_without_rebuilding_frames():
    sample = run(CASES[0])
    fig = figures.animation_figure(sample.trace)
    moved = fig.at_step(5)
    assert moved.raw_frames is fig.raw_frames
    d = moved.to_dict()
    assert d["layout"]["sliders"][0]["active"] == 5
    assert _window_cells(d["layout"]) == _window_cells(d["frames"][5]["layout"])
    json.loads(pio.to_json(d, validate=False))


def test_scatter_figure_has_one_frame_per_input_cell_and_the_overlap_counts():
    layer = convviz.Conv2DTranspose(1, 3, strides=2)
    scatter = layer.trace((1, 3, 3, 1), view="scatter")
    fig = figures.scatter_figure(scatter)
    assert len(_frames(fig)) == 9
    z = np.array(fig.data[1].z, dtype=float)
    assert np.array_equal(z, scatter.overlap_count())


def test_volume_figure_marks_the_window_taps():
    sample = run(Spec("Conv3D", {"filters": 1, "kernel_size": 2}, (3, 3, 3)))
    fig = figures.volume_figure(sample.trace, 0)
    assert len(fig.data[1].x) == 8


def test_numbers_mode_draws_inputs_outputs_and_weights():
    v = view.build(Spec("Conv1D", {"filters": 1, "kernel_size": 3}, (5,)))
    x, y = v.sample.channel_plane(v.sample.x), v.sample.channel_plane(v.sample.y)
    heat_in, heat_out, labels = v.figure.data
    assert [t for t in heat_in.text[0] if t] == [figures._fmt(a) for a in x]
    assert [t for t in heat_out.text[0] if t] == [figures._fmt(a) for a in y]
    w = v.sample.layer.kernel[:, 0, 0]
    assert list(labels.text) == ["×" + figures._fmt(a) for a in w]


def test_view_explain_matches_the_output_and_the_shape_panel_agrees():
    spec = Spec("SeparableConv2D", {"filters": 2, "kernel_size": 3, "padding": "same",
                                    "data_format": "channels_first"}, (4, 4), channels=2)
    v = view.build(spec)
    assert v.error is None and v.shape.agree
    for step in range(v.steps):
        rows, summary = v.explain(step)
        o = v.out_index(step)
        assert summary["value"] == pytest.approx(float(v.sample.y[(0, 0, *o)]), abs=1e-5)
    lay = {d["data_format"]: d for d in v.shape.layouts}
    assert lay["channels_first"]["input"] == (None, 2, 4, 4)
    assert lay["channels_last"]["output"] == (None, 4, 4, 2)
    assert lay["channels_first"]["window axes"] == (2, 3)


@pytest.mark.parametrize(("spec", "needle"), [
    (Spec("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
          (9, 9)), "dilation_rate"),
    (Spec("Conv2D", {"filters": 3, "kernel_size": 3, "groups": 2}, (5, 5), 2), "groups"),
    (Spec("Conv2D", {"filters": 1, "kernel_size": 7}, (5, 5)), "negative"),
    (Spec("Conv2D", {"filters": 1, "kernel_size": 3}, (40, 5)), "at most 32"),
    (Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2,
                              "output_padding": 2}, (3, 3)), "output_padding"),
    (Spec("Conv1D", {"filters": 1, "kernel_size": 3}, (5,)), None),
])
def test_invalid_specs_give_an_error_not_an_exception(spec, needle):
    v = view.build(spec)
    if needle is None:
        assert v.error is None
    else:
        assert v.error is not None and needle in v.error, v.error


# ---------------------------------------------------------------- schema and URL state
def test_every_layer_has_a_family_page():
    covered = {name for fam in schema.FAMILIES.values() for name in fam.layers}
    assert covered == set(convviz.LAYERS)


@pytest.mark.parametrize("family", list(schema.FAMILIES))
def test_defaults_build_and_are_small(family):
    fam = schema.FAMILIES[family]
    for layer in fam.layers:
        values = {**fam.defaults(), "layer": layer}
        spec = schema.spec_from_values(fam, values)
        v = view.build(spec)
        assert v.error is None, (layer, v.error)
        assert all(n <= 8 for n in spec.spatial)


@pytest.mark.parametrize("family", list(schema.FAMILIES))
def test_encode_decode_round_trip(family):
    fam = schema.FAMILIES[family]
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = fam.defaults()
        for f in fam.fields:
            if f.kind == "int":
                values[f.key] = int(rng.integers(f.lo, f.hi + 1))
            elif f.kind == "bool":
                values[f.key] = bool(rng.integers(2))
            else:
                values[f.key] = str(rng.choice(f.choices))
        values["step"] = int(rng.integers(0, 9))
        decoded, notices = schema.decode(fam, schema.encode(fam, values))
        assert notices == []
        active = {f.key for f in fam.active(values["layer"])}
        assert {k: decoded[k] for k in active} == {k: values[k] for k in active}
        assert decoded.get("step", 0) == values["step"]


@given(st.dictionaries(st.text(max_size=30), st.one_of(st.text(max_size=80),
                                                       st.lists(st.text(max_size=10)))))
@settings(max_examples=200, deadline=None)
def test_fuzzed_query_strings_never_raise(params):
    for fam in schema.FAMILIES.values():
        values, notices = schema.decode(fam, params)
        assert values["layer"] in fam.layers
        schema.spec_from_values(fam, values)  # always a well-formed spec


@pytest.mark.parametrize("family", list(schema.FAMILIES))
def test_the_pages_shell_command_reproduces_the_page(family, tmp_path, capsys):
    """The `convviz animate` line each page shows renders the same configuration."""
    import io
    import shlex

    from PIL import Image

    from convviz import cli, export

    fam = schema.FAMILIES[family]
    for layer in fam.layers:
        values = {**fam.defaults(), "layer": layer, "data_format": "channels_first"}
        spec = schema.spec_from_values(fam, values)
        out = tmp_path / f"{layer}.png"
        command = export.animate_command(spec, numbers=True, output=str(out))
        assert cli.main(shlex.split(command)[1:] + ["--step", "0"]) == 0, command
        with Image.open(out) as img:
            expected = Image.open(io.BytesIO(export.png_bytes(spec, 0, numbers=True)))
            assert img.size == expected.size

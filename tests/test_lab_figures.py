"""The shape-lab, stacks and demystified figure builders and helpers, without streamlit."""

from __future__ import annotations

import numpy as np
import pytest

from convviz import catalog, lab, stack
from convviz.viz import lab_figures as lf


def _markers(fig):
    return [t for t in fig.data if t.mode == "markers"]


def test_no_module_but_the_streamlit_glue_imports_streamlit():
    """Import every module of the package in a fresh interpreter, except the glue modules
    (``viz.controls``, ``viz.links``, ``viz.real_page``): streamlit must not be loaded by
    any."""
    import pkgutil
    import subprocess
    import sys

    import convviz

    glue = {"convviz.viz.controls", "convviz.viz.links", "convviz.viz.real_page"}
    names = [m.name for m in pkgutil.walk_packages(convviz.__path__, "convviz.")
             if m.name not in glue]
    assert "convviz.viz.scene" in names and "convviz.viz.player" in names
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'streamlit'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", out


@pytest.mark.parametrize(("name", "kwargs", "arg", "values"), [
    ("Conv1D", {"filters": 2, "kernel_size": 3, "strides": 2}, "input", range(1, 12)),
    ("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, "output_padding",
     range(0, 4)),
    ("Cropping2D", {"cropping": 1}, "cropping", range(0, 9)),
    ("UpSampling3D", {"size": 2}, "size", range(1, 5)),
])
def test_sweep_figure_marks_every_point_once(name, kwargs, arg, values):
    rank = catalog.BY_NAME[name].rank
    sw = lab.sweep(name, kwargs, (6,) * rank, 1, None, arg, values)
    fig = lf.sweep_figure(sw)
    markers = _markers(fig)
    assert sum(len(t.x) for t in markers) == len(sw)
    assert sorted(x for t in markers for x in t.x) == sorted(sw.values.tolist())
    line = [t for t in fig.data if t.mode == "lines"][0]
    assert len(line.x) == len(sw) and line.line.shape == "hv"
    assert "formula: out = " in line.name
    marks = lf.point_marks(sw)
    names = {"length agrees": "agree", "disagrees": "disagree", "refused by Keras": "invalid"}
    by_name = {names[t.name.rsplit(" (", 1)[0]]: t for t in markers}
    assert len(by_name["invalid"].x) == int((marks == "invalid").sum())
    assert len(by_name["agree"].x) == int((marks == "agree").sum())
    # the engine's real lengths, not the formula's, are plotted for valid points
    for x, y in zip(by_name["agree"].x, by_name["agree"].y):
        assert y == sw.actual[list(sw.values).index(x)]


def test_invalid_points_carry_their_error_on_hover():
    sw = lab.sweep("Conv1D", {"filters": 1, "kernel_size": 5}, (6,), 1, None, "input",
                   range(1, 8))
    invalid = [t for t in _markers(lf.sweep_figure(sw))
               if t.name.startswith("refused by Keras")][0]
    assert len(invalid.x) == 4 and all(y == 0 for y in invalid.y)
    assert all("refused:" in h for h in invalid.hovertext)


def test_the_sweep_legend_and_hover_read_the_formula_as_text():
    sw = lab.sweep("Conv1D", {"filters": 1, "kernel_size": 3, "strides": 2}, (9,), 1, None,
                   "strides", [1, 2])
    fig = lf.sweep_figure(sw)
    assert fig.data[0].name == "formula: out = floor((n - (d(k-1)+1)) / s) + 1"
    agree = next(t for t in fig.data if t.name.startswith("length agrees"))
    assert "formula: floor((9 - 3) / 2) + 1 = 4" in agree.hovertext[1]


def test_tile_every_rank():
    assert lf.tile(np.arange(3)).shape == (1, 3)
    assert lf.tile(np.ones((2, 3))).shape == (2, 3)
    t = lf.tile(np.arange(2 * 3 * 4).reshape(2, 3, 4))
    assert t.shape == (3, 9) and np.isnan(t[:, 4]).all()
    assert t[1, 5] == 16  # depth 1, row 1, col 0: 1*12 + 1*4 + 0


@pytest.mark.parametrize(("entries", "shape", "index"), [
    ([("Conv1D", {"filters": 1, "kernel_size": 3})] * 2, (None, 9, 1), (2,)),
    ([("Conv2D", {"filters": 4, "kernel_size": 3}),
      ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2}),
      ("Conv2D", {"filters": 4, "kernel_size": 3})], (None, 12, 12, 3), (1, 0)),
    ([("Conv3DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2})],
     (None, 3, 3, 3, 1), (2, 3, 4)),
])
def test_receptive_field_heatmap_values_are_the_path_counts(entries, shape, index):
    counts = stack.path_counts(entries, shape, index)
    out = stack.totals(stack.summary(entries, shape))["output_shape"][1:-1]
    fig = lf.receptive_field_figure(counts, out, index)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 2
    np.testing.assert_array_equal(np.asarray(heat[0].z, dtype=float), lf.tile(counts))
    marked = np.asarray(heat[1].z, dtype=float)
    assert np.nansum(marked) == 1
    assert f"{int((counts > 0).sum())} cells" in fig.layout.annotations[0].text


def test_overlap_figure_values_and_checkerboard():
    c = stack.compare_upsampling(4, 3, 2)
    fig = lf.overlap_figure(c["transposed"]["overlap"], "t")
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), c["transposed"]["overlap"])
    assert len(set(np.asarray(fig.data[0].z).ravel())) > 1
    big = lf.overlap_figure(np.ones((40, 40), dtype=int), "big")
    assert set(np.asarray(big.data[0].text).ravel()) == {""}  # no text on large grids


@pytest.mark.parametrize(("text", "name", "expected"), [
    ("4, 3", "Conv2D", {"filters": 4, "kernel_size": 3}),
    ("filters=4, kernel_size=(3, 1), padding='same'", "Conv2D",
     {"filters": 4, "kernel_size": (3, 1), "padding": "same"}),
    ("{'kernel_size': 3, 'depth_multiplier': 2}", "DepthwiseConv1D",
     {"kernel_size": 3, "depth_multiplier": 2}),
    ("3", "DepthwiseConv2D", {"kernel_size": 3}),
    ("((1, 2), (0, 0))", "Cropping2D", {"cropping": ((1, 2), (0, 0))}),
    ("size=2, interpolation='bilinear'", "UpSampling2D", {"size": 2, "interpolation": "bilinear"}),
    ("output_padding=None, strides=-1", "Conv1DTranspose", {"output_padding": None, "strides": -1}),
    ("  ", "Conv1D", {}),
])
def test_parse_kwargs_reads_literals(text, name, expected):
    assert lf.parse_kwargs(text, name) == expected


@pytest.mark.parametrize("text", [
    "__import__('os')", "__import__('os').system('touch /tmp/pwned')", "filters=os.sep",
    "filters=__import__('os').getpid()", "**{'filters': 4}", "*[4, 3]", "lambda: 0",
    "filters=(lambda: 4)()", "{'filters': open('/etc/passwd').read()}", "filters=4; import os",
    "filters=1e400**2", "kernel_size=9**9**9", "filters=10**6", "filters=1000",
    "filters=" + "9" * 5000, "x" * 500, "{1: 2}", "filters=4, filters=5",
    "4, 3, 2", "filters=" + "[" * 200 + "]" * 200, "filters={1, 2}", "filters=b'x'",
    "filters=4)\nimport os\nf(", "f'{1}'",
])
def test_parse_kwargs_rejects_hostile_text(text):
    with pytest.raises(ValueError):
        lf.parse_kwargs(text, "Conv2D")


def test_parse_kwargs_never_calls_anything(monkeypatch):
    import builtins

    calls = []
    monkeypatch.setattr(builtins, "__import__", lambda *a, **k: calls.append(a))
    with pytest.raises(ValueError):
        lf.parse_kwargs("__import__('os')", "Conv1D")
    monkeypatch.undo()
    assert not calls


def test_stack_limits():
    default = [("Conv2D", {"filters": 4, "kernel_size": 3})] * 3
    assert lf.stack_limits(default, (None, 12, 12, 3)) is None
    assert "layers" in lf.stack_limits(default * 3, (None, 12, 12, 3))
    assert "input cells" in lf.stack_limits(default, (None, 65, 12, 3))
    big = [("Conv3D", {"filters": 64, "kernel_size": 64})]
    assert "weights" in lf.stack_limits(big, (None, 64, 64, 64, 16))
    up = [("UpSampling2D", {"size": 8})] * 3
    assert "cells along an axis" in lf.stack_limits(up, (None, 12, 12, 3))
    # layers that do not fit are left to stack.summary
    assert lf.stack_limits([("Conv1D", {"filters": 1, "kernel_size": 3})],
                           (None, 12, 12, 3)) is None


def test_summary_table_and_input_shape():
    entries = [("Conv2D", {"filters": 4, "kernel_size": 3, "data_format": "channels_first"})]
    shape = lf.input_shape_for(entries, (8, 8), 3)
    assert shape == (None, 3, 8, 8)
    table = lf.summary_table(stack.summary(entries + [("Conv1D", {"filters": 1,
                                                                  "kernel_size": 3})], shape))
    assert table[0]["output shape"] == "(None, 4, 6, 6)" and table[0]["params"] == 112
    assert table[1]["status"].endswith("does not fit")


@pytest.mark.parametrize("name", [info.name for info in catalog.CATALOG])
def test_lab_kwargs_defaults_give_agreeing_sweeps(name):
    fields = {f.key: f.default for f in lf.fields_for(name)}
    if lf.paddings_for(name):
        fields["padding"] = lf.paddings_for(name)[-1]
    kwargs = lf.lab_kwargs(name, fields)
    rank = catalog.BY_NAME[name].rank
    for arg in lab.SWEEPABLE[name]:
        lo, hi = lf.SWEEP_DEFAULTS[arg]
        assert lf.SWEEP_BOUNDS[arg][0] <= lo <= hi <= lf.SWEEP_BOUNDS[arg][1]
        sw = lab.sweep(name, kwargs, (6,) * rank, 2, None, arg, range(lo, hi + 1))
        assert sw.all_agree, (name, arg)


@pytest.mark.parametrize(("text", "name", "wrong", "hint"), [
    ("4, 3, stride=2", "Conv2D", "stride", "`strides`"),
    ("kernel_size=3, dilation=2", "DepthwiseConv2D", "dilation", "`dilation_rate`"),
    ("size=2, interpolaton='bilinear'", "UpSampling2D", "interpolaton", "`interpolation`"),
    ("croping=1", "Cropping1D", "croping", "`cropping`"),
])
def test_parse_kwargs_refuses_unknown_arguments_with_the_keras_names(text, name, wrong, hint):
    with pytest.raises(ValueError, match=f"no argument `{wrong}`") as info:
        lf.parse_kwargs(text, name)
    assert f"Did you mean {hint}" in str(info.value)


def test_parse_kwargs_takes_the_base_layer_arguments():
    assert lf.parse_kwargs("4, 3, name='c1', trainable=False", "Conv2D") == {
        "filters": 4, "kernel_size": 3, "name": "c1", "trainable": False}

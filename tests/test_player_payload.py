"""The player's payload (convviz/viz/player.py, through LayerView.payload), tested without
Streamlit: one frame per step, the outlined cells equal the trace's window, gaps,
subsampling, numbers mode, covers, the lines under the grids, and the scatter view's
changed labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convviz.demo import Spec
from convviz.viz import player, scene, schema, view


def _frames(v, **options):
    """``(step, frame)`` of every frame the player gets (its JSON, as the browser reads it)."""
    d = json.loads(json.dumps(v.payload(**options)))
    return list(zip(d["frames"], d["steps_data"]))


def _boxes(frame, role):
    """Canvas cells of the boxes ``role`` in one frame of a payload."""
    xs, ys = frame["b"].get(role, [[], []])
    return sorted(zip(xs, ys))


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
def test_one_frame_per_step_and_window_equals_trace(spec, window_cells):
    v = view.build(spec)
    trace = v.sample.trace
    frames = _frames(v)
    assert len(frames) == len(trace) == v.steps
    for i, frame in frames:
        window = sorted(_boxes(frame, "tap") + _boxes(frame, "tap_pad"))
        assert window == sorted(window_cells(v.scene, i))
        o = trace.step(i).out_index
        current = []
        for p in v.scene.panels:
            if p.kind == "output":
                x, y = scene.plane(np.array([o]), p.shape)
                current.append((int(x[0] + p.origin[0]), int(y[0] + p.origin[1])))
        assert _boxes(frame, "current") == sorted(current)


def test_dilation_gaps_are_drawn_as_gap_cells():
    v = view.build(Spec("Conv2D", {"filters": 1, "kernel_size": 2, "dilation_rate": 3}, (5, 5)))
    _, frame = _frames(v)[0]
    assert len(_boxes(frame, "gap")) == len(v.sample.trace.step(0).gaps) == 16 - 4


def test_frames_are_subsampled_beyond_the_limit_with_first_and_last_kept():
    spec = Spec("UpSampling2D", {"size": 2}, (16, 16))
    v = view.build(spec, max_frames=50)
    names = [i for i, _ in _frames(v)]
    assert len(names) == 50 and names[0] == 0 and names[-1] == len(v.sample.trace) - 1
    assert names == sorted(set(names)) and v.subsampled
    assert any("50 of 1024 steps" in n for n in v.scene.notices)


def test_a_payload_at_another_step_shares_its_frames_and_changes_only_the_start():
    v = view.build(CASES[0])
    first = v.payload()
    made = dict(v.scene._cache)
    moved = v.payload(5)  # a frame of the animation: no frame made again
    assert moved["start"] == 5 and first["start"] == 0
    assert first["steps_data"] == moved["steps_data"] and v.scene._cache == made
    assert first["id"] != moved["id"] and v.payload(5)["id"] == moved["id"]
    assert v.payload(99)["start"] == v.steps - 1  # clipped to the animation
    json.loads(json.dumps(moved))


def test_scatter_figure_has_one_frame_per_input_cell_and_running_values():
    spec = Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, (3, 3))
    v = view.build(spec, view="scatter")
    frames = _frames(v)
    assert len(frames) == 9 == v.steps
    # the running values of the last frame are the layer's output
    last = player.labels(v.payload())[-1]
    out = v.scene.panel("out0")
    y = v.sample.channel_plane(v.sample.y)
    for x_, y_, text in zip(*last):
        r, c = int(y_ - out.origin[1]), int(x_ - out.origin[0])
        assert float(text) == pytest.approx(float(y[r, c]))
    # the patch of input (0, 0) is the kernel's 3x3 block at the output's corner
    patch = _boxes(frames[0][1], "patch")
    assert patch == sorted((out.origin[0] + c, out.origin[1] + r)
                           for r in range(3) for c in range(3))


def test_numbers_mode_draws_inputs_kernel_outputs_and_the_arithmetic():
    v = view.build(Spec("Conv1D", {"filters": 1, "kernel_size": 3}, (5,)))
    x, y = v.sample.channel_plane(v.sample.x), v.sample.channel_plane(v.sample.y)
    cells = v.payload()["cells"]
    at = {(a, b): t for a, b, t in zip(cells["x"], cells["y"], cells["t"])}
    texts = {}
    for p in v.scene.panels:
        row = p.origin[1]
        texts[p.kind] = [at[(p.origin[0] + k, row)] for k in range(p.size[0])]
    assert texts["input"] == [scene.fmt(a) for a in x]
    assert texts["output"] == [scene.fmt(a) for a in y]
    assert texts["kernel"] == [scene.fmt(a) for a in v.sample.layer.kernel[:, 0, 0]]
    assert texts["bias"] == [scene.fmt(v.sample.layer.bias[0])]
    lines = _frames(v)[0][1]["l"]
    assert lines[0].startswith("step 0 of 0..2: output (0)")
    assert lines[-1].endswith(f"= {scene.fmt(y[0])}")


def test_unwritten_outputs_are_covered_until_written_unless_revealed():
    spec = Spec("Conv2D", {"filters": 1, "kernel_size": 3}, (5, 5))
    hidden = _frames(view.build(spec))
    shown = _frames(view.build(spec, reveal=True))
    out = view.build(spec).scene.panel("out0")
    # step 0 covers every output cell but (0, 0): rows 1..2, and (0, 1..2)
    ox, oy = out.origin
    assert sorted(map(tuple, hidden[0][1]["c"])) == sorted(
        [(ox + 1, oy, ox + 2, oy), (ox, oy + 1, ox + 2, oy + 2)])
    assert hidden[-1][1]["c"] == []
    assert all(f["c"] == [] for _, f in shown)


@pytest.mark.parametrize("cell_px", [view.DEFAULT_CELL_PX, view.PRESENTER_CELL_PX])
@pytest.mark.parametrize("spec", [
    Spec("Conv2D", {"filters": 1, "kernel_size": 3}, (5, 5)),
    Spec("Conv3DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, (3, 3, 3)),
    Spec("SeparableConv2D", {"filters": 2, "kernel_size": 3, "depth_multiplier": 2}, (5, 5),
         channels=2),
    Spec("UpSampling2D", {"size": 2, "interpolation": "bicubic"}, (3, 3)),
], ids=lambda s: s.name if isinstance(s, Spec) else str(s))
def test_every_line_under_the_grids_lies_inside_the_figure(spec, cell_px):
    """The caption and arithmetic are wrapped to the figure and reserved room for (presenter
    mode's big cells included): no line may fall off the bottom or the right edge."""
    v = view.build(spec, cell_px=cell_px)
    d = v.payload()
    fonts = v.scene.fonts
    grids_bottom = d["top"] + v.scene.canvas[1] * d["cell"]
    for i, frame in _frames(v):
        assert frame["l"], i
        for k, text in enumerate(frame["l"]):
            y = d["lines_y0"] + k * d["line_px"]  # the line's centre, as the player draws it
            assert grids_bottom <= y - fonts["line_px"] / 2, (i, text)
            assert y + fonts["line_px"] / 2 <= d["height"], (i, text)
            assert d["left"] + len(text) * fonts["char_px"] <= d["width"], (i, text)


def test_figures_fit_a_1280_px_screen_with_the_sidebar_open():
    """About 820 px of page: every default figure, and the widest at the caps, fits it."""
    for family in schema.FAMILY_PAGES.values():
        for layer in family.layers:
            spec = schema.spec_from_values(family, {**family.defaults(), "layer": layer})
            assert view.build(spec).payload()["width"] <= 820, layer
    wide = Spec("Conv1D", {"filters": 1, "kernel_size": 3, "padding": "same"}, (64,))
    assert view.build(wide).payload()["width"] <= 820


def test_a_scatter_payload_sends_each_frames_changed_labels_only():
    """The running sums change one patch per step: the payload carries that patch, and the
    labels rebuilt from it are every frame's own."""
    spec = Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, (4, 4))
    v = view.build(spec, view="scatter")
    d = v.payload(5)  # step 5 is in the chain as well: nothing inserted
    rebuilt = player.labels(d)
    for k, i in enumerate(d["frames"]):
        tx, ty, tt = v.scene.frame(i).texts
        assert sorted(zip(*rebuilt[k])) == sorted(
            (float(a), float(b), t) for a, b, t in zip(tx, ty, tt)), i
        if k:  # the first frame labels the whole output; then one 3x3 patch per step
            assert len(d["steps_data"][k]["dx"][0]) <= 9, i


@pytest.mark.parametrize("spec,kind", [
    (Spec("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same"}, (9, 9), channels=2),
     "gather"),
    (Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, (3, 3)), "scatter"),
    (Spec("UpSampling1D", {"size": 2}, (5,)), "gather"),
])
def test_the_components_message_is_the_payload_as_json(spec, kind):
    """The app's message is put together from parts serialized once: whatever the start
    (a frame of the animation or a step between frames), speed or mode, it holds the
    frames the scene draws (without the explain table's rows and captions when it is
    off), and the id follows the picture, not the options."""
    v = view.build(spec, view=kind, max_frames=5)
    between = next(i for i in range(v.steps) if i not in set(v.scene.frames_at))
    texts = set()
    for start in (0, between, v.steps - 1):
        m = v.message(start)
        texts.add(m["json"])
        full = {**json.loads(m["json"]), "start": m["start"]}  # as the player reads it
        frames = sorted({*map(int, v.scene.frames_at), start})
        assert full["frames"] == frames and full["start"] == start
        assert full == {**v.payload(start), "id": full["id"]}
        for i, fr in zip(frames, full["steps_data"]):
            assert fr["caption"] == v.scene.frame(i).caption
            rows = [[full["texts"][k] for k in row] for row in fr["e"]]
            assert rows == [list(r) for r in v.scene.explain_table(i)]
        for options in ({"explain": False}, {"presenter": True, "speed": "slow"}):
            m = v.message(start, **options)
            d = {**json.loads(m["json"]), "start": m["start"]}
            assert d == {**v.payload(start, **options), "id": d["id"]}
            assert m["id"] == v.payload(start, **options)["id"]
            assert d["speed"] == options.get("speed", "normal")
            want = [{k: f[k] for k in f if not options.get("explain", 1) and k in ("e",
                     "caption")} for f in full["steps_data"]]
            got = [{k: f[k] for k in f if k not in d["steps_data"][n]}
                   for n, f in enumerate(full["steps_data"])]
            assert got == want, options  # the same frames, less what explain=False drops
            assert d["texts"] == ([] if "explain" in options else full["texts"])
    assert v.message(0)["id"] != v.message(between)["id"] != v.message(v.steps - 1)["id"]
    # a start on the animation's frames shares the text; one between frames has its own
    assert len(texts) == 2 and v.message(0)["json"] is v.message(v.steps - 1)["json"]
    assert player.picture_id(v.scene) == player.picture_id(view.build(spec, view=kind,
                                                                       max_frames=5).scene)
    other = view.build(spec, view=kind, max_frames=4)
    assert player.picture_id(v.scene) != player.picture_id(other.scene)


def test_the_scene_keeps_the_payload_text_not_its_frames():
    """Once the payload is text the scene forgets its frames (a cached view then holds
    the text only); a frame asked for later is made again, the same."""
    v = view.build(CASES[0])
    before = json.dumps(player._frame(v.scene, 3, {}))
    text = v.message()["json"]
    assert not v.scene._cache
    assert json.dumps(player._frame(v.scene, 3, {})) == before
    assert v.message()["json"] == text and json.loads(text)["steps"] == v.steps

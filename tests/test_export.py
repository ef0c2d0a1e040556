"""GIF/PNG/MP4 exports of traces (convviz.export): frame counts, formats, every layer."""

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import convviz
from convviz import catalog, demo, export
from convviz.demo import Spec
from convviz.viz import scene
from convviz.viz.painter import ScenePainter

SAME = Spec("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 2, "padding": "same"},
            spatial=(5, 5))


def n_frames(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "GIF"
        return im.n_frames


def gif_frames(data: bytes) -> list[np.ndarray]:
    out = []
    with Image.open(io.BytesIO(data)) as im:
        for k in range(im.n_frames):
            im.seek(k)
            out.append(np.asarray(im.convert("RGB")))
    return out


# ----------------------------------------------------------------------------- frame_steps
@pytest.mark.parametrize("n", [0, 1, 2, 9, 25])
def test_frame_steps_all_when_they_fit(n):
    assert export.frame_steps(n, 25).tolist() == list(range(n))


@pytest.mark.parametrize("n, m", [(10, 2), (10, 3), (26, 25), (100, 7), (8192, 120), (121, 120)])
def test_frame_steps_even_subsample(n, m):
    s = export.frame_steps(n, m)
    assert len(s) == m
    assert s[0] == 0 and s[-1] == n - 1
    assert (np.diff(s) > 0).all()
    ideal = np.arange(m) * (n - 1) / (m - 1)
    assert np.abs(s - ideal).max() <= 0.5


def test_frame_steps_limits():
    assert export.frame_steps(10, 1).tolist() == [0]
    with pytest.raises(ValueError, match="max_frames"):
        export.frame_steps(10, 0)


# ----------------------------------------------------------------------------- GIF
def test_gif_has_one_frame_per_step():
    data = export.gif_bytes(SAME)
    assert n_frames(data) == len(demo.run(SAME).trace) == 9


def test_gif_subsamples_long_traces():
    spec = Spec("Conv2D", {"filters": 1, "kernel_size": 3, "padding": "same"}, spatial=(5, 5))
    assert len(demo.run(spec).trace) == 25
    assert n_frames(export.gif_bytes(spec, max_frames=7)) == 7
    assert n_frames(export.gif_bytes(spec, max_frames=25)) == 25


def test_gif_frames_decode_to_the_rendered_frames():
    """The shared palette keeps flat colours exact; 'unchanged' transparency composes back."""
    spec = Spec("Conv2D", {"filters": 1, "kernel_size": 3}, spatial=(4, 4))
    raw = [im for _, im in export.render_frames(spec)]
    decoded = gif_frames(export.gif_bytes(spec))
    assert len(decoded) == len(raw) == 4
    for r, d in zip(raw, decoded):
        assert r.shape == d.shape
        assert (r == d).all(axis=-1).mean() > 0.97
    assert (decoded[0] != decoded[1]).any()
    assert (decoded[0][5, 5] == 255).all()  # white stays white


def test_gif_timing_and_loop():
    with Image.open(io.BytesIO(export.gif_bytes(SAME, fps=4))) as im:
        assert im.info.get("loop") == 0
        assert im.info["duration"] == 250
    with pytest.raises(ValueError, match="fps"):
        export.gif_bytes(SAME, fps=0)


def test_scatter_view_has_one_frame_per_input_cell():
    spec = Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2},
                spatial=(1, 3))
    assert n_frames(export.gif_bytes(spec, view="scatter")) == 3
    assert n_frames(export.gif_bytes(spec)) == len(demo.run(spec).trace) == 3 * 7


def test_scatter_view_only_for_transposed():
    with pytest.raises(ValueError, match="gather"):
        export.png_bytes(SAME, view="scatter")
    with pytest.raises(ValueError, match="view"):
        export.png_bytes(SAME, view="sideways")


# ----------------------------------------------------------------------------- PNG, ranks
def test_png_is_rgb_and_matches_the_frames():
    data = export.png_bytes(SAME, step=4)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        size = im.size
    (_, frame), = export.render_frames(SAME, steps=[4])
    assert size == (frame.shape[1], frame.shape[0])
    assert data != export.png_bytes(SAME, step=5)


@pytest.mark.parametrize("spec", [
    Spec("Conv1D", {"filters": 1, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
         spatial=(7,)),
    Spec("Conv2D", {"filters": 2, "kernel_size": (2, 3), "dilation_rate": (2, 1)},
         spatial=(5, 4), channels=2),
    Spec("Conv3D", {"filters": 1, "kernel_size": 2, "padding": "same"}, spatial=(2, 3, 3)),
    Spec("Conv3DTranspose", {"filters": 1, "kernel_size": 2, "strides": 2,
                             "data_format": "channels_first"}, spatial=(2, 2, 2)),
], ids=["rank1", "rank2", "rank3", "rank3-transpose"])
@pytest.mark.parametrize("numbers", [False, True], ids=["plain", "numbers"])
def test_every_rank_renders(spec, numbers):
    frames = list(export.render_frames(spec, numbers=numbers, max_frames=3))
    n = len(demo.run(spec).trace)
    assert [s for s, _ in frames] == export.frame_steps(n, 3).tolist()
    shapes = {im.shape for _, im in frames}
    assert len(shapes) == 1 and shapes.pop()[2] == 3
    assert frames[0][1].dtype == np.uint8


def test_numbers_mode_draws_numbers():
    plain = export.png_bytes(SAME, 4)
    numbers = export.png_bytes(SAME, 4, numbers=True)
    assert plain != numbers


@pytest.mark.parametrize("info", catalog.CATALOG, ids=lambda info: info.name)
def test_every_layer_renders_its_last_step(info):
    spatial = (5,) * info.rank if info.rank < 3 else (3, 3, 3)
    spec = Spec(info.name, info.kwargs, spatial=spatial, channels=2)
    last = len(demo.run(spec).trace) - 1
    data = export.png_bytes(spec, last, numbers=True)
    assert data.startswith(b"\x89PNG")


def test_scatter_numbers_are_running_sums():
    spec = Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2,
                                    "padding": "same"}, spatial=(3, 3), channels=2)
    sample = demo.run(spec)
    painter = ScenePainter(scene.build(sample, view="scatter", numbers=True))
    out = painter.scene.panel("out0")
    drawn = {}
    xs, ys, texts, *_ = painter.labels(len(painter) - 1)  # the last step: all scattered
    for x, y, t in zip(xs, ys, texts):
        if t and out.origin[0] <= x < out.origin[0] + 6 and out.origin[1] <= y < out.origin[1] + 6:
            drawn[(int(y - out.origin[1]), int(x - out.origin[0]))] = float(t)
    y = sample.channel_plane(sample.y)
    assert drawn == {(r, c): pytest.approx(float(y[r, c])) for r in range(6) for c in range(6)}


def test_pre_padding_is_zero_padding_then_the_layer():
    spec = Spec("Conv2D", {"filters": 1, "kernel_size": 4}, spatial=(5, 5))
    sample = export.padded_sample(spec, 2)
    x = demo.sample_input(spec)
    padded = convviz.ZeroPadding2D(2)(x)
    np.testing.assert_array_equal(sample.x, padded)
    np.testing.assert_allclose(sample.y, sample.layer(padded))
    assert sample.y.shape == (1, 6, 6, 1)


# ----------------------------------------------------------------------------- errors
def test_too_large_input_raises_before_rendering():
    big = Spec("Conv2D", {"filters": 1, "kernel_size": 3}, spatial=(40, 40))
    with pytest.raises(ValueError, match="too large"):
        export.render_frames(big)  # eager: no iteration needed
    with pytest.raises(ValueError, match="too large"):
        export.gif_bytes(big)


def test_invalid_configuration_raises_keras_message():
    bad = Spec("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 2, "dilation_rate": 2})
    with pytest.raises(ValueError, match="dilation_rate"):
        export.png_bytes(bad)


def test_step_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        export.png_bytes(SAME, step=9)
    with pytest.raises(ValueError, match="out of range"):
        export.png_bytes(SAME, step=-1)


def test_save_picks_the_format_from_the_suffix(tmp_path):
    assert export.save(SAME, tmp_path / "a.GIF", max_frames=3).read_bytes()[:6] == b"GIF89a"
    assert export.save(SAME, tmp_path / "a.png", step=2).read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"\.gif"):
        export.save(SAME, tmp_path / "a.jpg")


def test_mp4_without_ffmpeg_raises(monkeypatch):
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    assert not export.ffmpeg_available()
    with pytest.raises(RuntimeError, match="ffmpeg"):
        export.mp4_bytes(SAME)


@pytest.mark.skipif(not export.ffmpeg_available(), reason="ffmpeg not on PATH")
def test_mp4_with_ffmpeg():
    data = export.mp4_bytes(SAME, max_frames=3)
    assert data[4:8] == b"ftyp"


def test_no_pyplot_state():
    code = ("import sys; from convviz import export; from convviz.demo import Spec; "
            "export.gif_bytes(Spec('Conv1D', {'filters': 1, 'kernel_size': 3}, (5,))); "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_frames_do_not_depend_on_render_order():
    """Frames reuse the previous picture when steps increase; any order draws the same."""
    spec = Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2},
                spatial=(1, 2))
    for view in ("gather", "scatter"):
        forward = dict(export.render_frames(spec, view=view, numbers=True))
        steps = list(forward)[::-1]
        backward = dict(export.render_frames(spec, view=view, numbers=True, steps=steps))
        for s in steps:
            # Fills drawn in one batch or several differ only in antialiased shared edges.
            diff = np.abs(forward[s].astype(int) - backward[s].astype(int))
            assert diff.max() <= 3 and (diff > 0).mean() < 1e-3

"""Exports of a layer's animation: GIF, PNG and MP4 encoded from the frames of the
matplotlib painter, and the HTML step player.

What every frame shows is decided once, by :mod:`convviz.viz.scene` (every input channel,
the chosen filter's kernel slices and bias, every output channel, the window's boxes, the
covers over outputs not yet written, the caption and the arithmetic);
:class:`convviz.viz.painter.ScenePainter` paints it with matplotlib (Agg) for the GIF, PNG
and MP4, and the browser's step player (:mod:`convviz.viz.player`) for :func:`html_bytes`.
The step count, the frame cap (:data:`convviz.viz.scene.MAX_FRAMES`) and the step labels
("step 3 of 0..8") are the app's. This module only encodes: the palette and frames of a
GIF, a PNG, an MP4 through ``ffmpeg``, and :func:`save` by suffix. The gallery of classic
cases is :mod:`convviz.gallery`.

Every entry point takes a :class:`convviz.demo.Spec` and builds it with
:func:`convviz.demo.run`, so invalid or too-large configurations raise its
``ValueError`` before anything is drawn.

>>> frame_steps(9, 120).tolist(), frame_steps(10, 4).tolist()
([0, 1, 2, 3, 4, 5, 6, 7, 8], [0, 3, 6, 9])
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from . import demo, layout
from .catalog import format_shape, keras_call
from .demo import Sample, Spec
from .viz import scene as sc
from .viz.painter import ScenePainter
from .viz.scene import CELL_PX, MAX_FRAMES, frame_indices

#: Suffixes :func:`save` understands.
FORMATS = (".gif", ".png", ".mp4", ".html")
#: Palette size of exported GIFs (one more index is the "unchanged" transparent one).
GIF_COLORS = 48

# ----------------------------------------------------------------------------- frames
def frame_steps(n_steps: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """The steps an animation of ``n_steps`` steps shows, one per frame.

    :func:`convviz.viz.scene.frame_indices`: ``arange(n_steps)`` when that fits, otherwise
    ``max_frames`` evenly spaced steps, first and last kept (the app's own frames).

    >>> frame_steps(5, 3).tolist()
    [0, 2, 4]
    """
    return frame_indices(n_steps, max_frames)


# ----------------------------------------------------------------------------- samples
def _as_pairs(pre_padding, rank) -> tuple:
    if isinstance(pre_padding, int):
        return ((pre_padding, pre_padding),) * rank
    return tuple((int(lo), int(hi)) for lo, hi in pre_padding)


def padded_sample(spec: Spec, pre_padding=None) -> Sample:
    """:func:`demo.run` of ``spec``; with ``pre_padding`` (per axis ``(lo, hi)``) the layer
    runs on the input after ``ZeroPadding{rank}D(pre_padding)`` (the padded ring is zero)."""
    if pre_padding is None:
        return demo.run(spec)
    pads = _as_pairs(pre_padding, spec.rank)
    big = replace(spec, spatial=tuple(n + lo + hi for n, (lo, hi) in zip(spec.spatial, pads)))
    sample = demo.run(big)
    inner = demo.sample_input(spec)
    x = np.zeros_like(sample.x)
    core = tuple(slice(lo, lo + n) for n, (lo, _) in zip(spec.spatial, pads))
    x[layout.spatial_index(core, spec.data_format)] = inner
    return Sample(big, sample.layer, x, sample.layer(x), sample.trace)


def _description(spec: Spec, pre_padding=None) -> str:
    shape = format_shape((None, *spec.input_shape[1:]))
    call = keras_call(spec.name, spec.arguments)
    if pre_padding is not None:
        pads = _as_pairs(pre_padding, spec.rank)
        pad = pads[0][0] if len(set(pads)) == 1 and pads[0][0] == pads[0][1] else pads
        call = (keras_call(f"ZeroPadding{spec.rank}D", {"padding": pad}) + " then " + call)
    return f"{call} on {shape}"


# ----------------------------------------------------------------------------- public API
def _scene(spec, view, numbers, max_frames, cell_px, pre_padding, reveal, filter) -> sc.Scene:
    """The scene every export of ``spec`` paints (ValueError for an invalid configuration)."""
    sample = padded_sample(spec, pre_padding)
    ring = None if pre_padding is None else _as_pairs(pre_padding, spec.rank)
    return sc.build(sample, view=view, numbers=numbers, reveal=reveal, filter=filter,
                    cell_px=cell_px, max_frames=max_frames, ring=ring,
                    title=_description(spec, pre_padding) if pre_padding else None)


def _prepare(spec, view, numbers, max_frames, steps, cell_px, pre_padding, reveal=False,
             filter=0):
    """The painter of ``spec``'s scene and the steps to draw (ValueError for a bad step)."""
    picture = _scene(spec, view, numbers, max_frames, cell_px, pre_padding, reveal, filter)
    painter = ScenePainter(picture)
    if steps is None:
        return painter, picture.frames_at
    chosen = np.asarray(steps, dtype=int).reshape(-1)
    for s in chosen:
        picture.frame(int(s))  # ValueError names the range
    return painter, chosen


def render_frames(spec: Spec, *, view: str = "gather", numbers: bool = False,
                  max_frames: int | None = None, steps: Sequence[int] | None = None,
                  cell_px: int = CELL_PX, pre_padding=None, reveal: bool = False,
                  filter: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """Render an animation of ``spec`` frame by frame.

    The spec is built and validated first (``ValueError`` from :func:`convviz.demo.run`
    is raised by this call, not when iterating).

    Parameters
    ----------
    spec : convviz.demo.Spec
        The layer configuration.
    view : {"gather", "scatter"}
        ``"scatter"`` only for transposed convolutions (one frame per input cell).
    numbers : bool
        Write the sample values, weights and the step's arithmetic.
    max_frames : int, optional
        Most frames (default: the app's cap, :func:`convviz.viz.scene.default_max_frames`);
        the steps are :func:`frame_steps` ``(steps, max_frames)``.
    steps : sequence of int, optional
        Render exactly these steps instead (0-based, ``ValueError`` when out of range).
    cell_px : int
        Size of a cell in pixels (the scene shrinks it for large inputs).
    pre_padding : int or sequence of (lo, hi), optional
        Draw the layer applied after ``ZeroPadding{rank}D(pre_padding)`` (the gallery's
        "arbitrary padding" case); the zero-padded ring is drawn as padding.
    reveal : bool
        Show every output value from the first frame (otherwise cells fill in as written).
    filter : int
        The filter whose kernel and arithmetic are drawn.

    Returns
    -------
    iterator of (int, ndarray)
        ``(step, image)`` pairs, lazily; every image is RGB ``uint8`` of the same size.
    """
    painter, chosen = _prepare(spec, view, numbers, max_frames, steps, cell_px, pre_padding,
                               reveal, filter)
    return ((int(s), painter.frame(int(s))) for s in chosen)


def _durations(n: int, fps: float) -> list[int]:
    if fps <= 0:
        raise ValueError(f"`fps` must be positive. Received: fps={fps}")
    ms = max(20, int(round(1000 / fps)))
    # The last frame stays up a little longer before the animation loops.
    return [ms] * (n - 1) + [max(ms, 1500)] if n else []


def _pack(rgb: np.ndarray) -> np.ndarray:
    """RGB ``uint8`` (..., 3) -> one ``uint32`` per pixel."""
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


class _Palette:
    """A GIF palette of the most frequent colours of a few frames, mapped exactly.

    The most frequent colours are the flat fills, so they stay exact; antialiased edges
    and glyphs take the nearest of them (Pillow's approximate search).
    """

    def __init__(self, images: Sequence[np.ndarray]):
        values, counts = np.unique(_pack(np.concatenate(images, axis=0)), return_counts=True)
        self.top = values[np.argsort(counts, kind="stable")[::-1][:GIF_COLORS]]
        rgb = np.stack([(self.top >> 16) & 255, (self.top >> 8) & 255, self.top & 255], -1)
        rgb = np.concatenate([rgb, np.repeat(rgb[:1], 256 - len(rgb), axis=0)])
        self.image = Image.new("P", (1, 1))
        self.image.putpalette(rgb.astype(np.uint8).reshape(-1).tolist())
        colors = rgb[:GIF_COLORS].astype(int).reshape(-1).tolist()
        #: Written into the GIF: GIF_COLORS colours, then the "unchanged" index.
        self.colors = colors + [0] * (3 * GIF_COLORS - len(colors)) + [255, 0, 255]
        self.order = np.argsort(self.top)

    def indices(self, image: np.ndarray) -> np.ndarray:
        idx = np.asarray(Image.fromarray(image).quantize(palette=self.image,
                                                         dither=Image.Dither.NONE)).copy()
        idx[idx >= len(self.top)] = 0  # entries past the palette are copies of colour 0
        packed = _pack(image)
        ordered = self.top[self.order]
        pos = np.clip(np.searchsorted(ordered, packed), 0, len(ordered) - 1)
        exact = ordered[pos] == packed
        idx[exact] = self.order[pos[exact]]
        return idx.astype(np.uint8)


def _gif(renderer: ScenePainter, steps: np.ndarray, fps: float) -> bytes:
    """Encode the frames of ``steps`` as a looping GIF, one frame in memory at a time.

    One palette (:data:`GIF_COLORS` colours, from the first, middle and last frames) serves
    every frame, so colours never flicker; from the second frame on, pixels equal to the
    previous frame's are written as a transparent index, which LZW compresses to almost
    nothing (the decoded frames are unchanged: disposal 1 keeps the previous frame).
    """
    if not len(steps):
        raise ValueError("No frames to write.")
    durations = _durations(len(steps), fps)
    keys = sorted({int(steps[0]), int(steps[len(steps) // 2]), int(steps[-1])})
    palette = _Palette([renderer.frame(k) for k in keys])
    frames, previous = [], None
    for step in steps:
        idx = palette.indices(renderer.frame(int(step)))
        out = idx if previous is None else np.where(idx == previous, GIF_COLORS, idx)
        previous = idx
        frame = Image.fromarray(out.astype(np.uint8), "P")
        frame.putpalette(palette.colors)
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations, loop=0, optimize=False, disposal=1,
                   transparency=GIF_COLORS)
    return buf.getvalue()


def gif_bytes(spec: Spec, *, view: str = "gather", numbers: bool = False, fps: float = 2,
              max_frames: int | None = None, cell_px: int = CELL_PX, pre_padding=None,
              reveal: bool = False, filter: int = 0) -> bytes:
    """An animated, looping GIF of ``spec``: one frame per step (or per :func:`frame_steps`).

    The frame count equals ``len(trace)`` when that is at most ``max_frames``, else
    ``max_frames`` (an even subsample keeping the first and last steps). Frames last
    ``1/fps`` seconds; the last one at least 1.5 s. Parameters as in :func:`render_frames`.
    """
    _durations(1, fps)  # check fps before rendering
    renderer, steps = _prepare(spec, view, numbers, max_frames, None, cell_px, pre_padding,
                               reveal, filter)
    return _gif(renderer, steps, fps)


def png_bytes(spec: Spec, step: int = 0, *, view: str = "gather", numbers: bool = False,
              cell_px: int = CELL_PX, pre_padding=None, reveal: bool = False,
              filter: int = 0) -> bytes:
    """One frame (``step``, 0-based as everywhere: the app's slider, links, the CLI) as PNG."""
    (_, image), = render_frames(spec, view=view, numbers=numbers, steps=[step],
                                cell_px=cell_px, pre_padding=pre_padding, reveal=reveal,
                                filter=filter)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def html_bytes(spec: Spec, *, view: str = "gather", numbers: bool = False, fps: float = 2,
               max_frames: int | None = None, step: int = 0, cell_px: int = CELL_PX,
               pre_padding=None, reveal: bool = False, filter: int = 0) -> bytes:
    """One self-contained HTML player of ``spec`` (:func:`convviz.viz.player.html`):
    the app's step player (keyboard stepping, hover linking, the arithmetic and explain
    table), no plotly.js, no network."""
    from .viz import player

    _durations(1, fps)
    picture = _scene(spec, view, numbers, max_frames, cell_px, pre_padding, reveal, filter)
    picture.frame(int(step))  # ValueError names the range
    return player.html(picture, duration_ms=max(20, int(round(1000 / fps))),
                       start=int(step)).encode("utf-8")


def ffmpeg_available() -> bool:
    """True when an ``ffmpeg`` executable is on ``PATH`` (needed for MP4 only)."""
    return shutil.which("ffmpeg") is not None


def mp4_bytes(spec: Spec, *, view: str = "gather", numbers: bool = False, fps: float = 2,
              max_frames: int | None = None, cell_px: int = CELL_PX, pre_padding=None,
              reveal: bool = False, filter: int = 0) -> bytes:
    """An H.264 (or ffmpeg's default MP4 codec) video of ``spec``, encoded by ``ffmpeg``.

    Raises
    ------
    RuntimeError
        When ``ffmpeg`` is not on ``PATH`` (checked before rendering), or when it fails.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError(
            "MP4 export needs ffmpeg, which is not on PATH. Install it (e.g. "
            "`apt-get install ffmpeg`) or export a GIF instead.")
    if fps <= 0:
        raise ValueError(f"`fps` must be positive. Received: fps={fps}")
    renderer, steps = _prepare(spec, view, numbers, max_frames, None, cell_px, pre_padding,
                               reveal, filter)
    h, w = renderer.frame(int(steps[0])).shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        cmd = [ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white",
               "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out)]
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=log)
            try:
                for step in steps:  # one frame in memory at a time
                    proc.stdin.write(renderer.frame(int(step)).tobytes())
            except BrokenPipeError:
                pass
            finally:
                proc.stdin.close()
                code = proc.wait()
            log.seek(0)
            message = log.read().decode(errors="replace")[-500:]
        if code != 0 or not out.exists():
            raise RuntimeError(f"ffmpeg failed (exit code {code}): {message}")
        return out.read_bytes()


def save(spec: Spec, path, *, view: str = "gather", numbers: bool = False, fps: float = 2,
         max_frames: int | None = None, step: int = 0, cell_px: int = CELL_PX,
         pre_padding=None, reveal: bool = False, filter: int = 0) -> Path:
    """Write ``spec``'s animation to ``path``; the suffix picks the format.

    ``.gif`` (:func:`gif_bytes`), ``.mp4`` (:func:`mp4_bytes`, needs ffmpeg), ``.png``
    (:func:`png_bytes` of ``step``) or ``.html`` (:func:`html_bytes`, an offline player
    starting at ``step``). Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    common = dict(view=view, numbers=numbers, cell_px=cell_px, pre_padding=pre_padding,
                  reveal=reveal, filter=filter)
    if suffix == ".gif":
        data = gif_bytes(spec, fps=fps, max_frames=max_frames, **common)
    elif suffix == ".mp4":
        data = mp4_bytes(spec, fps=fps, max_frames=max_frames, **common)
    elif suffix == ".png":
        data = png_bytes(spec, step, **common)
    elif suffix == ".html":
        data = html_bytes(spec, fps=fps, max_frames=max_frames, step=step, **common)
    else:
        raise ValueError(
            f"Cannot tell the format of {str(path)!r}: use one of {', '.join(FORMATS)}.")
    path.write_bytes(data)
    return path

"""Exports of a layer's animation: GIF, PNG and MP4 painted with matplotlib (Agg), and the
HTML step player.

What every frame shows is decided once, by :mod:`convviz.viz.scene` (every input channel,
the chosen filter's kernel slices and bias, every output channel, the window's boxes, the
covers over outputs not yet written, the caption and the arithmetic); :class:`ScenePainter`
only paints that scene, as the browser's step player (:mod:`convviz.viz.player`) does in
the app and in :func:`html_bytes`. The step count, the frame cap
(:data:`convviz.viz.scene.MAX_FRAMES`) and the step labels ("step 3 of 0..8") are the app's.
Figures are plain :class:`matplotlib.figure.Figure` objects on a ``FigureCanvasAgg``:
pyplot and its global state are never touched.

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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image

from . import demo
from .catalog import format_shape, keras_call
from .demo import Sample, Spec
from .viz import scene as sc
from .viz.scene import BOX_ROLES, CELL_PX, MAX_FRAMES, frame_indices

#: Resolution of the figures: small, so GIFs stay small.
DPI = 80
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


def _boxes(x, y, inset: float = 0.0) -> np.ndarray:
    """``(M, 4, 2)`` square outlines around cell centres ``(x, y)``."""
    x = np.asarray(x, dtype=float).reshape(-1)[:, None]
    y = np.asarray(y, dtype=float).reshape(-1)[:, None]
    a = 0.5 - inset
    dx = np.array([-a, a, a, -a])[None, :]
    dy = np.array([-a, -a, a, a])[None, :]
    return np.stack([x + dx, y + dy], axis=-1)


def _rects(boxes) -> np.ndarray:
    """``(M, 4, 2)`` outlines of inclusive cell boxes ``(x0, y0, x1, y1)``."""
    out = [[(x0 - 0.5, y0 - 0.5), (x1 + 0.5, y0 - 0.5), (x1 + 0.5, y1 + 0.5),
            (x0 - 0.5, y1 + 0.5)] for x0, y0, x1, y1 in boxes]
    return np.array(out, dtype=float).reshape(-1, 4, 2)


# ----------------------------------------------------------------------------- samples
def _as_pairs(pre_padding, rank) -> tuple:
    if isinstance(pre_padding, int):
        return ((pre_padding, pre_padding),) * rank
    return tuple((int(lo), int(hi)) for lo, hi in pre_padding)


def _sample(spec: Spec, pre_padding=None) -> Sample:
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
    if spec.data_format == "channels_first":
        x[(slice(None), slice(None), *core)] = inner
    else:
        x[(slice(None), *core, slice(None))] = inner
    return Sample(big, sample.layer, x, sample.layer(x), sample.trace)


def _description(spec: Spec, pre_padding=None) -> str:
    shape = format_shape((None, *spec.input_shape[1:]))
    call = keras_call(spec.name, spec.arguments)
    if pre_padding is not None:
        pads = _as_pairs(pre_padding, spec.rank)
        pad = pads[0][0] if len(set(pads)) == 1 and pads[0][0] == pads[0][1] else pads
        call = (keras_call(f"ZeroPadding{spec.rank}D", {"padding": pad}) + " then " + call)
    return f"{call} on {shape}"


# ----------------------------------------------------------------------------- painter
def _pt(px: float) -> float:
    """Pixels to points at :data:`DPI` (matplotlib sizes text in points)."""
    return px * 72 / DPI


class ScenePainter:
    """The matplotlib painter of a :class:`~convviz.viz.scene.Scene` (it decides nothing).

    The static part (cells, values, titles, ticks, outlines, key) is drawn once; each
    frame restores it and draws only the frame's tints, covers, boxes, labels and text.
    """

    def __init__(self, scene: sc.Scene):
        self.scene = scene
        cell = self.cell = scene.cell_px
        cols, rows = scene.canvas
        width = scene.width_px
        fonts = self.fonts = scene.fonts
        head = scene.heading
        top = head["height"]
        block = scene.text_block
        text_rows = block["rows"]
        plot_cols = (width - 20) / cell
        canvas_h = (rows + text_rows) * cell
        height = top + canvas_h + 14
        self.fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.fig)
        ax = self.ax = self.fig.add_axes((10 / width, 14 / height, (width - 20) / width,
                                          canvas_h / height))
        ax.set_xlim(-0.5, plot_cols - 0.5)
        ax.set_ylim(rows - 0.5 + text_rows, -0.5)
        ax.set_axis_off()
        ax.set_autoscale_on(False)
        self.lines_y0, self.line_rows = block["y0"], block["step"]
        for k, line in enumerate(head["title"]):
            self.fig.text(10 / width, 1 - (10 + k * head["title_px"]) / height, line,
                          va="top", ha="left", fontsize=_pt(fonts["heading"]), color=sc.TEXT)
        y = 10 + len(head["title"]) * head["title_px"]
        for k, line in enumerate(head["sub"]):
            self.fig.text(10 / width, 1 - (y + k * head["sub_px"]) / height, line, va="top",
                          ha="left", fontsize=_pt(fonts["legend"]), color=sc.TEXT)
        if scene.legend:
            self.fig.legend(handles=[_legend_patch(*r) for r in scene.legend],
                            ncol=head["legend_cols"], loc="upper left", frameon=False,
                            fontsize=_pt(fonts["legend"]),
                            bbox_to_anchor=(0, 1 - head["legend_y"] / height),
                            handlelength=1.2, columnspacing=1.4, borderaxespad=0.2)
        self._static()
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def __len__(self) -> int:
        return self.scene.steps

    def _static(self):
        ax, scene = self.ax, self.scene
        x, y, fill, text, _, _ = scene.cells
        ax.add_collection(PolyCollection(_boxes(x, y), facecolors=list(fill),
                                         edgecolors="white", linewidths=1.0))
        size = _pt(self.fonts["value"])
        for xi, yi, t in zip(x, y, text):
            if t:
                ax.text(xi, yi, t, ha="center", va="center", fontsize=size, color=sc.TEXT)
        tick = _pt(self.fonts["tick"])
        for lx, ly, t, kind, anchor in scene.labels:
            ha = {"left": "left", "center": "center", "right": "right"}[anchor]
            if kind == "title":
                ax.text(lx, ly, t, ha="left", va="center", fontsize=_pt(self.fonts["title"]),
                        color=sc.TEXT,
                        clip_on=False)
            else:
                ax.text(lx, ly, t, ha=ha, va="center", fontsize=tick, color="#44506a",
                        clip_on=False)
        for x0, y0, x1, y1, r in scene.outlines:
            color, width, dash = sc.BOXES[r]
            ax.add_collection(PolyCollection(_rects([(x0, y0, x1, y1)]), facecolors="none",
                                             edgecolors=color, linewidths=_pt(width),
                                             linestyles="--" if dash else "-"))
        for p in scene.panels:
            if p.edge:
                cols, rows = p.size
                ax.add_collection(PolyCollection(
                    _rects([p.box((0, 0, cols - 1, rows - 1))]), facecolors="none",
                    edgecolors=p.edge, linewidths=_pt(3)))

    def artists(self, i: int) -> list:
        """The artists of step ``i``'s changing part (added to the axes; caller removes)."""
        fr, ax = self.scene.frame(i), self.ax
        out = []
        if fr.tints:
            out.append(PolyCollection(_rects(fr.tints), facecolors=[_rgba(sc.WRITTEN_TINT)],
                                      edgecolors="none"))
        if fr.covers:
            out.append(PolyCollection(_rects(fr.covers), facecolors=sc.COVER,
                                      edgecolors="none"))
        for role in BOX_ROLES:
            bx, by = fr.boxes.get(role, ((), ()))
            if not len(bx):
                continue
            color, width, dash = sc.BOXES[role]
            inset = (1 - (0.92 if role == "current" else 0.84)) / 2
            face = _rgba(sc.GAP_FILL) if role == "gap" else "none"
            out.append(PolyCollection(_boxes(bx, by, inset), facecolors=face,
                                      edgecolors=color, linewidths=_pt(width)))
        for a in out:
            a.set_animated(True)
            ax.add_collection(a)
        small = fr.text_kind == "tap"
        size = _pt(self.fonts["tap" if small else "value"])
        tx, ty, tt = fr.texts
        for xi, yi, t in zip(tx, ty, tt):
            if t:
                out.append(ax.text(xi, yi, t, ha="center", va="center", fontsize=size,
                                   color=sc.TAP_TEXT if small else sc.TEXT, animated=True))
        for k, line in enumerate(fr.lines):
            out.append(ax.text(-0.5, self.lines_y0 + k * self.line_rows, line, ha="left",
                               va="center", fontsize=_pt(self.fonts["line"]), color="#111111",
                               family="DejaVu Sans Mono", clip_on=False, animated=True))
        return out

    def frame(self, i: int) -> np.ndarray:
        """RGB ``uint8`` image (height, width, 3) of step ``i``."""
        self.canvas.restore_region(self.background)
        renderer = self.canvas.get_renderer()
        artists = self.artists(int(i))
        for a in artists:
            a.draw(renderer)
        image = np.asarray(self.canvas.buffer_rgba())[..., :3].copy()
        for a in artists:
            a.remove()
        return image


def _rgba(color: str):
    """``"rgba(r,g,b,a)"`` (the scene's CSS colours) as a matplotlib RGBA tuple."""
    if color.startswith("rgba("):
        r, g, b, a = (float(v) for v in color[5:-1].split(","))
        return (r / 255, g / 255, b / 255, a)
    return to_rgba(color)


def _legend_patch(role: str, label: str) -> Patch:
    style = sc.legend_style(role)
    return Patch(facecolor="none" if style["fill"] is None else _rgba(style["fill"]),
                 edgecolor=style["edge"], linewidth=_pt(style["width"]),
                 linestyle="--" if style["dash"] else "-", label=label)


# ----------------------------------------------------------------------------- public API
def _scene(spec, view, numbers, max_frames, cell_px, pre_padding, reveal, filter) -> sc.Scene:
    """The scene every export of ``spec`` paints (ValueError for an invalid configuration)."""
    sample = _sample(spec, pre_padding)
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


# ----------------------------------------------------------------------------- gallery
@dataclass(frozen=True)
class GalleryCase:
    """One case of the convolution-arithmetic guide (Dumoulin & Visin, 2016) as a Keras layer.

    Attributes
    ----------
    slug : str
        File stem, after the guide's animation names (``no_padding_no_strides``).
    title : str
    note : str
        One or two sentences: what it shows, and how it maps to Keras.
    spec : convviz.demo.Spec
    view : str
    pre_padding : int or None
        The layer runs after ``ZeroPadding2D(pre_padding)`` (Keras has no arbitrary
        ``padding=p`` argument on convolutions).
    """

    slug: str
    title: str
    note: str
    spec: Spec
    view: str = "gather"
    pre_padding: int | None = None

    @property
    def command(self) -> str | None:
        """The ``convviz animate`` command making this GIF (None when it needs two layers)."""
        if self.pre_padding is not None:
            return None
        return animate_command(self.spec, view=self.view, output=f"{self.slug}.gif")


#: Short names of layer arguments in file names (arguments not listed keep their own name).
_STEM_KEYS = {"filters": "f", "kernel_size": "k", "strides": "s", "padding": "",
              "dilation_rate": "d", "groups": "g", "depth_multiplier": "m",
              "output_padding": "op", "cropping": "crop", "size": "size", "interpolation": ""}


def _stem_value(value) -> str:
    if isinstance(value, tuple):
        return "x".join(_stem_value(v) if isinstance(v, tuple) else str(v) for v in value) \
            if not (value and isinstance(value[0], tuple)) else \
            "_".join("-".join(str(v) for v in pair) for pair in value)
    return str(value)


def file_stem(spec: Spec, *, view: str = "gather", filter: int = 0) -> str:
    """A file name (no suffix) naming the whole configuration, so no two differ only inside.

    >>> file_stem(Spec("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2,
    ...                           "padding": "same"}, (5, 5), channels=3), filter=1)
    'Conv2D_5x5x3_f2_k3_s2_same_filter1'
    """
    parts = [spec.name, "x".join(str(n) for n in (*spec.spatial, spec.channels))]
    for key, value in spec.arguments.items():
        if key == "data_format":
            if value == "channels_first":
                parts.append("cfirst")
            continue
        if value is None:
            continue
        text = _stem_value(value)
        tag = _STEM_KEYS.get(key, key)
        parts.append(f"{tag}{text}" if tag else text)
    if view != "gather":
        parts.append(view)
    if filter:
        parts.append(f"filter{int(filter)}")
    stem = "_".join(parts)
    return "".join(ch if ch.isalnum() or ch in "_-x" else "-" for ch in stem)


def _cli_value(name: str, key: str, value) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return ",".join(f"{lo}:{hi}" for lo, hi in value)  # per-axis (lo, hi) pairs
    if isinstance(value, tuple) and name[:-2] in ("Cropping", "ZeroPadding"):
        return f"{value[0]}:{value[1]}"  # the 1D (lo, hi) pair
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def animate_command(spec: Spec, *, view: str = "gather", numbers: bool = False,
                    reveal: bool = False, filter: int = 0, output: str = "out.gif") -> str:
    """The ``convviz animate`` command that renders ``spec``.

    >>> animate_command(Spec("Cropping2D", {"cropping": ((1, 0), (2, 2))}, (5, 6)))
    'convviz animate Cropping2D --input 5x6 --cropping 1:0,2:2 -o out.gif'
    """
    args = [f"convviz animate {spec.name}", "--input " + "x".join(str(n) for n in spec.spatial)]
    if spec.channels != 1:
        args.append(f"--channels {spec.channels}")
    for key, value in spec.arguments.items():
        if key == "filters" and value == 1:
            continue  # the animate command's default
        args.append(f"--{key.replace('_', '-')} {_cli_value(spec.name, key, value)}")
    if view != "gather":
        args.append(f"--view {view}")
    if numbers:
        args.append("--numbers")
    if reveal:
        args.append("--reveal")
    if filter:
        args.append(f"--filter {int(filter)}")
    args.append(f"-o {output}")
    return " ".join(args)


def _case(slug, title, note, name, spatial, view="gather", pre_padding=None, **kwargs):
    spec = Spec(name, {"filters": 1, **kwargs}, spatial=spatial)
    return GalleryCase(slug, title, note, spec, view, pre_padding)


#: The classic cases of "A guide to convolution arithmetic for deep learning", in order.
GALLERY: tuple[GalleryCase, ...] = (
    _case("no_padding_no_strides", "No padding, no strides",
          "Conv2D, kernel 3, padding='valid' on 4x4: output 2x2 = 4 - 3 + 1.",
          "Conv2D", (4, 4), kernel_size=3),
    _case("arbitrary_padding_no_strides", "Arbitrary padding, no strides",
          "Keras convolutions only take 'valid' or 'same', so padding p=2 is "
          "ZeroPadding2D(2) then Conv2D(kernel 4, 'valid'): 5x5 gives 5 + 2*2 - 4 + 1 = 6.",
          "Conv2D", (5, 5), pre_padding=2, kernel_size=4),
    _case("same_padding_no_strides", "Half ('same') padding, no strides",
          "Conv2D, kernel 3, padding='same' on 5x5: one zero on each side keeps 5x5.",
          "Conv2D", (5, 5), kernel_size=3, padding="same"),
    _case("full_padding_no_strides", "Full padding, no strides",
          "Keras has no padding='full'. Conv2DTranspose(kernel 3, strides 1, 'valid') is "
          "exactly a full-padding convolution (k-1 = 2 zeros per side, kernel flipped): "
          "5x5 gives 7x7.",
          "Conv2DTranspose", (5, 5), kernel_size=3),
    _case("no_padding_strides", "No padding, strides",
          "Conv2D, kernel 3, strides 2, 'valid' on 5x5: floor((5 - 3) / 2) + 1 = 2.",
          "Conv2D", (5, 5), kernel_size=3, strides=2),
    _case("padding_strides", "Padding ('same'), strides",
          "Conv2D, kernel 3, strides 2, 'same' on 5x5: ceil(5 / 2) = 3, one zero per side.",
          "Conv2D", (5, 5), kernel_size=3, strides=2, padding="same"),
    _case("padding_strides_odd", "Padding ('same'), strides, even input",
          "Conv2D, kernel 3, strides 2, 'same' on 6x6: ceil(6 / 2) = 3 needs one zero, "
          "and Keras puts it at the end (pads (0, 1)).",
          "Conv2D", (6, 6), kernel_size=3, strides=2, padding="same"),
    _case("no_padding_no_strides_transposed", "Transposed, no padding, no strides",
          "Conv2DTranspose, kernel 3, strides 1 on 2x2: the gather view is a full-padding "
          "convolution, output 4x4 = 2 + 3 - 1.",
          "Conv2DTranspose", (2, 2), kernel_size=3),
    _case("no_padding_strides_transposed", "Transposed, strides",
          "Conv2DTranspose, kernel 3, strides 2 on 2x2: one zero inserted between input "
          "cells, then full padding; output (2 - 1) * 2 + 3 = 5.",
          "Conv2DTranspose", (2, 2), kernel_size=3, strides=2),
    _case("no_padding_strides_transposed_scatter", "Transposed, strides (scatter view)",
          "Conv2DTranspose, kernel 3, strides 2 on 3x3, as each input cell sees it: it adds "
          "a 3x3 patch to the output. Kernel 3 with stride 2 overlaps unevenly (shade and "
          "numbers: writes per output cell): the checkerboard.",
          "Conv2DTranspose", (3, 3), view="scatter", kernel_size=3, strides=2),
    _case("dilation", "Dilation",
          "Conv2D, kernel 3, dilation_rate 2 on 7x7: the kernel spans 2 * (3 - 1) + 1 = 5 "
          "cells, output 3x3; the red cells are skipped.",
          "Conv2D", (7, 7), kernel_size=3, dilation_rate=2),
)


def gallery(outdir, *, cases: Sequence[GalleryCase] | None = None, fps: float = 2,
            max_frames: int | None = None) -> list[Path]:
    """Write one GIF per gallery case into ``outdir``, plus ``README.md`` listing them.

    Parameters
    ----------
    outdir : path
        Created if missing.
    cases : sequence of GalleryCase, optional
        Defaults to :data:`GALLERY`.

    Returns
    -------
    list of Path
        The GIFs written, in the order of ``cases`` (``README.md`` is written too).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    cases = GALLERY if cases is None else tuple(cases)
    paths = []
    for case in cases:
        path = outdir / f"{case.slug}.gif"
        path.write_bytes(gif_bytes(case.spec, view=case.view, fps=fps, max_frames=max_frames,
                                   pre_padding=case.pre_padding))
        paths.append(path)
    (outdir / "README.md").write_text(gallery_markdown(cases), encoding="utf-8")
    return paths


def gallery_markdown(cases: Sequence[GalleryCase] | None = None, prefix: str = "") -> str:
    """A Markdown list of the gallery (images at ``prefix + slug + ".gif"``)."""
    cases = GALLERY if cases is None else tuple(cases)
    lines = ["# Convolution arithmetic gallery", "",
             "The classic cases of Dumoulin & Visin, *A guide to convolution arithmetic for "
             "deep learning* (2016), as Keras 3 layers, drawn by convviz. Regenerate them all "
             "with `convviz gallery -o docs/gallery`.", ""]
    for case in cases:
        lines += [f"## {case.title}", "", f"![{case.title}]({prefix}{case.slug}.gif)", "",
                  case.note, ""]
        command = case.command or f"convviz gallery -o docs/gallery --only {case.slug}"
        lines += ["```bash", command, "```", ""]
    return "\n".join(lines)

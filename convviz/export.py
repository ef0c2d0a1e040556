"""Animated GIF / MP4 and PNG exports of a layer's trace, drawn with matplotlib (Agg).

The pictures follow the app's Plotly animation (:mod:`convviz.viz.figures`: same colours,
same mapping of N-d coordinates to a 2-D plane), frame for frame:

- **gather view** (every layer): one frame per output cell. Left (or top, for rank 1) the
  input, padded: padding cells grey, the zeros a transposed convolution inserts pale
  yellow; the window's taps outlined orange (purple where a tap reads padding or an
  inserted zero) and labelled with their kernel index (``k1,2``; interpolation weights for
  resizing layers); dilation gaps (cells inside the window's span that no tap reads) red,
  dotted and hatched. Right (or below) the output: cells already written blue, the cell
  being written outlined orange. Axis labels are coordinates relative to the real input,
  so padding sits at ``-1, -2, ...`` and ``n, n+1, ...``. For a transposed convolution the
  input panel shows the zero-inserted input, in its own coordinates.
- **scatter view** (transposed convolutions, ``view="scatter"``): one frame per input
  cell, outlined orange, and the output patch it writes (kernel index labels); the output
  is shaded by its overlap count (how many input-tap pairs write each cell).
- **numbers mode** (``numbers=True``): the integer sample values (channel 0 of batch item 0,
  see :class:`convviz.demo.Sample`) in the input cells (``0`` in padding and inserted
  zeros), and the output values (channel 0) in the output cells *already written*, so the
  output fills in as the animation plays. In the scatter view the output numbers are the
  running sums of output channel 0 (before bias and activation; the sample bias is 0) after
  the current input cell has scattered.

Rank 1 draws the input above the output; rank 2 draws the image plane; rank 3 draws the
depth slices side by side (the depth-slice view). Figures are plain
:class:`matplotlib.figure.Figure` objects on a ``FigureCanvasAgg``: pyplot and its global
state are never touched.

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
import textwrap
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
from .geometry import prod
from .viz.figures import COLORS, _canvas, _fmt, frame_indices, plane
from .viz.figures import _all_cells as _cells
from .viz.figures import _coord_text as _coord

#: Default largest number of frames of an animation; longer traces are subsampled.
MAX_FRAMES = 120
#: Default size of one grid cell, in pixels (presenter mode may ask for more).
CELL_PX = 40
#: Resolution of the figures: small, so GIFs stay small.
DPI = 80
#: Cells shrink (down to :data:`MIN_CELL_PX`) to keep a figure at most this wide and high.
MAX_WIDTH_PX = 1100
MIN_CELL_PX = 8
MAX_HEIGHT_PX = 1000
#: Suffixes :func:`save` understands.
FORMATS = (".gif", ".png", ".mp4")
#: Palette size of exported GIFs (one more index is the "unchanged" transparent one).
GIF_COLORS = 48

_WRITTEN = (*to_rgba(COLORS["written"])[:3], 0.45)
_TEXT = "#1f2a44"
_TAP_TEXT = "#7a3d00"


# ----------------------------------------------------------------------------- frames
def frame_steps(n_steps: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """The steps an animation of ``n_steps`` steps shows, one per frame.

    ``arange(n_steps)`` when ``n_steps <= max_frames``; otherwise exactly ``max_frames``
    steps spread evenly with the first and last kept: the same steps as the app's Plotly
    animation (:func:`convviz.viz.figures.frame_indices`), only with a smaller default.

    >>> frame_steps(5, 3).tolist()
    [0, 2, 4]
    """
    return frame_indices(n_steps, max_frames)


def _boxes(x, y, inset: float = 0.0) -> np.ndarray:
    """``(M, 4, 2)`` square outlines around cell centres ``(x, y)``."""
    x = np.asarray(x, dtype=float)[:, None]
    y = np.asarray(y, dtype=float)[:, None]
    a = 0.5 - inset
    dx = np.array([-a, a, a, -a])[None, :]
    dy = np.array([-a, -a, a, a])[None, :]
    return np.stack([x + dx, y + dy], axis=-1)


def _wrap_title(title: str, chars: int) -> list[str]:
    """Wrap ``"<call> on <shape>"``, keeping ``on <shape>`` whole."""
    chars = max(40, chars)
    call, sep, shape = title.rpartition(" on ")
    if not sep:
        return textwrap.wrap(title, chars) or [""]
    lines = textwrap.wrap(call, chars) or [""]
    tail = f"on {shape}"
    if len(lines[-1]) + 1 + len(tail) <= chars:
        lines[-1] += " " + tail
    else:
        lines.append(tail)
    return lines


def _polys(verts, **kwargs) -> PolyCollection:
    """Cell boxes redrawn every frame: animated (left out of the static draw), never clipped."""
    return PolyCollection(verts, animated=True, clip_on=False, **kwargs)


def _axis_names(rank: int) -> list[str]:
    return {1: ["length"], 2: ["height", "width"], 3: ["depth", "height", "width"]}[rank]


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


# ----------------------------------------------------------------------------- renderer
@dataclass
class _Panel:
    ax: object
    shape: tuple
    offsets: np.ndarray  # coordinate shown = grid index - offset, per axis


class _Renderer:
    """One figure whose static part is drawn once; each frame redraws only what changes."""

    def __init__(self, sample: Sample, *, view: str = "gather", numbers: bool = False,
                 cell_px: int = CELL_PX, pre_padding=None):
        if view not in ("gather", "scatter"):
            raise ValueError(f"`view` must be 'gather' or 'scatter'. Received: view={view!r}")
        self.sample, self.spec, self.view, self.numbers = sample, sample.spec, view, numbers
        self._acc = None  # (step, saved canvas): the picture of a step before its window
        self.pre = (np.zeros(self.spec.rank, int) if pre_padding is None
                    else np.array([lo for lo, _ in _as_pairs(pre_padding, self.spec.rank)]))
        self.pre_hi = (np.zeros(self.spec.rank, int) if pre_padding is None
                       else np.array([hi for _, hi in _as_pairs(pre_padding, self.spec.rank)]))
        self.title = _description(
            self.spec if pre_padding is None else replace(
                self.spec, spatial=tuple(np.array(self.spec.spatial) - self.pre - self.pre_hi)),
            pre_padding)
        if view == "scatter":
            self.trace = sample.layer.trace(self.spec.input_shape, view="scatter")
            self._setup_scatter(cell_px)
        else:
            self.trace = sample.trace
            self._setup_gather(cell_px)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def __len__(self) -> int:
        return len(self.trace)

    # --- layout -------------------------------------------------------------------
    def _layout(self, in_shape, out_shape, cell_px, legend_items, in_title, out_title):
        """Create the figure and the two panels; cells are squares of ``self.cell`` pixels.

        The panels sit side by side, or input above output for rank 1 and whenever that
        gives bigger cells (wide rank-3 slice rows); cells shrink to fit
        :data:`MAX_WIDTH_PX` x :data:`MAX_HEIGHT_PX`.
        """
        (ir, ic), (orow, oc) = _canvas(in_shape), _canvas(out_shape)
        left, right, gap, vgap = 58, 18, 74, 86
        fixed_h = 230  # titles, tick labels, legend: roughly

        def fit(stacked):
            cols = max(ic, oc) if stacked else ic + oc
            rows = ir + orow if stacked else max(ir, orow)
            w = (MAX_WIDTH_PX - left - right - (0 if stacked else gap)) / cols
            h = (MAX_HEIGHT_PX - fixed_h - (vgap if stacked else 0)) / rows
            return max(MIN_CELL_PX, min(float(cell_px), w, h))

        stacked = len(in_shape) == 1 or fit(True) > 1.15 * fit(False)
        cell = self.cell = fit(stacked)
        cols = max(ic, oc) if stacked else ic + oc
        panels_w = cols * cell + (0 if stacked else gap)
        width = max(560.0, left + panels_w + right)
        self.title_lines = _wrap_title(self.title, int((width - 16) / 6.0))
        x0 = left + (width - left - right - panels_w) / 2
        if stacked:
            w_in = w_out = width - x0 - right
        else:
            w_in, w_out = ic * cell + gap - 8, width - x0 - ic * cell - gap - right
        in_lines = textwrap.wrap(in_title, max(20, int(w_in / 5.6)))
        out_lines = textwrap.wrap(out_title, max(20, int(w_out / 5.6)))
        step_y = 12 + 15 * len(self.title_lines)
        top = step_y + 22 + 14 * max(len(in_lines), 1 if stacked else len(out_lines)) + 6
        ncol = max(1, min(len(legend_items), int(width // 200)))
        legend_h = 16 * -(-len(legend_items) // ncol) + 10
        bottom = 46 + legend_h
        out_top = top + ir * cell + vgap - 14 * (len(out_lines) - 1) if stacked else top
        panels_h = (out_top + orow * cell - top) if stacked else max(ir, orow) * cell
        height = top + panels_h + bottom
        fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
        self.fig, self.canvas = fig, FigureCanvasAgg(fig)

        def axes(px, py, rows, columns, title_lines):
            ax = fig.add_axes((px / width, 1 - (py + rows * cell) / height,
                               columns * cell / width, rows * cell / height))
            ax.set_xlim(-0.5, columns - 0.5)
            ax.set_ylim(rows - 0.5, -0.5)
            ax.set_autoscale_on(False)
            ax.set_facecolor("white")
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.tick_params(length=0, labelsize=7, pad=2, colors="#44506a")
            ax.set_title("\n".join(title_lines), fontsize=9, loc="left", color=_TEXT)
            return ax

        ax_in = axes(x0, top, ir, ic, in_lines)
        if stacked:
            ax_out = axes(x0, out_top, orow, oc, out_lines)
        else:
            ax_out = axes(x0 + ic * cell + gap, top, orow, oc, out_lines)
        fig.text(8 / width, 1 - 10 / height, "\n".join(self.title_lines), fontsize=9,
                 va="top", ha="left", color=_TEXT, family="monospace")
        self.step_text = fig.text(8 / width, 1 - step_y / height,
                                  "", fontsize=10, va="top", ha="left", color="black",
                                  weight="bold", animated=True)
        handles = [Patch(facecolor=face, edgecolor=edge, linewidth=lw, hatch=hatch,
                         linestyle=ls, label=label)
                   for label, face, edge, lw, hatch, ls in legend_items]
        if handles:
            fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8,
                       frameon=False, handlelength=1.4, columnspacing=1.2,
                       bbox_to_anchor=(0.5, 4 / height))
        return ax_in, ax_out

    def _ticks(self, panel: _Panel, axis_label: bool = True):
        ax, shape, off = panel.ax, panel.shape, panel.offsets
        rows, cols = _canvas(shape)
        names = _axis_names(len(shape))

        def thin(n):
            """Label every cell, or every k-th so labels stay at least 16 px apart."""
            return max(1, int(np.ceil(16 / self.cell)))

        if len(shape) == 3:
            d = np.arange(shape[0])
            ax.set_xticks(d * (shape[2] + 1) + (shape[2] - 1) / 2,
                          [f"d={v - off[0]}" for v in d])
            every = thin(rows)
            ax.set_yticks(np.arange(0, rows, every), [str(v - off[1]) for v in
                                                      range(0, rows, every)])
            if axis_label:
                ax.set_xlabel("depth slices (width left to right)", fontsize=8)
                ax.set_ylabel("height", fontsize=8)
            return
        every = thin(cols)
        ax.set_xticks(np.arange(0, cols, every),
                      [str(v - off[-1]) for v in range(0, cols, every)])
        if len(shape) == 2:
            every = thin(rows)
            ax.set_yticks(np.arange(0, rows, every),
                          [str(v - off[0]) for v in range(0, rows, every)])
            if axis_label:
                ax.set_xlabel("width", fontsize=8, labelpad=1)
                ax.set_ylabel("height", fontsize=8, labelpad=4)
        else:
            ax.set_yticks([])
            if axis_label:
                ax.set_xlabel(names[0], fontsize=8, labelpad=1)

    def _grid(self, ax, x, y, faces, lw=0.8):
        coll = PolyCollection(_boxes(x, y), facecolors=faces, edgecolors=COLORS["grid"],
                              linewidths=lw, clip_on=False)
        ax.add_collection(coll)
        return coll

    def _fit(self, size: float, label: str) -> float:
        """``size``, or less so that ``label`` fits across a cell."""
        return min(size, 0.85 * self.cell * 72 / DPI / (0.62 * max(len(label), 1)))

    def _font(self, scale: float) -> float:
        """A font size (points) proportional to the cell size."""
        return max(5.0, min(11.0, self.cell * 72 / DPI * scale))

    # --- gather -------------------------------------------------------------------
    def _setup_gather(self, cell_px):
        tr, spec = self.trace, self.spec
        self.lo = np.array([a.lo for a in tr.axes])
        self.pshape, self.oshape = tr.padded_shape, tr.out_shape
        space = np.array(tr.space_shape)
        steps_of = np.array([a.step for a in tr.axes])
        cells = _cells(self.pshape)
        wc = cells - self.lo
        padding = ((wc < 0) | (wc >= space)).any(axis=1)
        inserted = ~padding & (wc % steps_of != 0).any(axis=1)
        ring = ~padding & ((wc < self.pre) | (wc >= space - self.pre_hi)).any(axis=1)
        padding = padding | ring
        real = ~padding & ~inserted
        has_pad, has_ins = bool(padding.any()), bool(inserted.any())
        dilated = any(len(tr.step(int(i)).gaps) for i in frame_steps(len(tr), 6))
        items = [("window tap on an input cell", "none", COLORS["window"], 2.5, None, "-")]
        if has_pad or has_ins:
            items.append(("window tap on padding" + (" / inserted zero" if has_ins else ""),
                          "none", COLORS["window_pad"], 2.5, None, "-"))
        if has_pad:
            items.append(("padding cell (zero)", COLORS["padding"], COLORS["grid"], 0.8,
                          None, "-"))
        if has_ins:
            items.append(("inserted zero (transposed conv)", COLORS["inserted"],
                          COLORS["grid"], 0.8, None, "-"))
        if dilated:
            items.append(("dilation gap (skipped)", (*to_rgba(COLORS["gap"])[:3], 0.2),
                          COLORS["gap"], 1.5, "..", ":"))
        items += [("output cell being written", "none", COLORS["current"], 3, None, "-"),
                  ("output already written", _WRITTEN, COLORS["grid"], 0.8, None, "-")]

        in_title = self._gather_title()
        out_title = f"output {tuple(self.oshape)}"
        if self.numbers and spec.channels > 1:
            in_title += f", channel 0 of {spec.channels}"
        if self.numbers:
            out_title += ", channel 0"
        ax_in, ax_out = self._layout(self.pshape, self.oshape, cell_px, items,
                                     in_title, out_title)
        self.p_in = _Panel(ax_in, self.pshape, self.lo + self.pre)
        self.p_out = _Panel(ax_out, self.oshape, np.zeros(len(self.oshape), int))
        self._ticks(self.p_in)
        self._ticks(self.p_out)
        faces = np.where(padding, COLORS["padding"],
                         np.where(inserted, COLORS["inserted"], COLORS["cell"]))
        x, y = plane(cells, self.pshape)
        self._grid(ax_in, x, y, list(faces))
        self.pad_cells = {tuple(c) for c in cells[ring]}
        ocells = _cells(self.oshape)
        self.ox, self.oy = plane(ocells, self.oshape)
        self._grid(ax_out, self.ox, self.oy, [COLORS["unwritten"]] * len(ocells))
        self.show_labels = self.cell >= 26
        self.show_numbers = self.numbers and self.cell >= 18
        if self.show_numbers:
            vin = self.sample.channel_plane(self.sample.x)
            for xi, yi, r, c in zip(x, y, real, wc):
                v = _fmt(vin[tuple(c // steps_of)]) if r else "0"
                self._number(ax_in, xi, yi, v, color=_TEXT if r else "#6b7385",
                             animated=False)
            self.vout = self.sample.channel_plane(self.sample.y).reshape(-1)
        self._frame, self._progress = self._gather_frame, self._gather_progress

    def _number(self, ax, x, y, text, color="black", animated=True):
        """A cell's value, raised a little when a tap label sits below it."""
        return ax.text(x, y - (0.1 if self.show_labels else 0.0), text, ha="center",
                       va="center", fontsize=self._font(0.36), color=color, animated=animated)

    def _gather_progress(self, start: int, stop: int) -> list:
        """Artists turning the picture of step ``start`` into that of step ``stop``."""
        ax = self.p_out.ax
        cells = slice(start, stop)
        out = [_polys(_boxes(self.ox[cells], self.oy[cells]), facecolors=[_WRITTEN],
                      edgecolors="none")]
        ax.add_collection(out[0])
        if self.show_numbers:
            out += [self._number(ax, xi, yi, _fmt(v))
                    for xi, yi, v in zip(self.ox[cells], self.oy[cells], self.vout[cells])]
        return out

    def _gather_title(self) -> str:
        tr = self.trace
        pads = [tuple(int(v) for v in p) for p in tr.pads]
        pre = [(int(a), int(b)) for a, b in zip(self.pre, self.pre_hi)]
        if any(a.step > 1 for a in tr.axes):
            s = tuple(a.step for a in tr.axes)
            head = (f"input {tr.in_shape} with zeros inserted (strides {s}): "
                    f"{tuple(tr.space_shape)}")
        else:
            head = f"input {tuple(int(n) - a - b for n, (a, b) in zip(tr.in_shape, pre))}"
        if any(p != (0, 0) for p in pre):
            pads = [(a + c, b + d) for (a, b), (c, d) in zip(pads, pre)]
        if any(p != (0, 0) for p in pads):
            if all(a >= 0 and b >= 0 for a, b in pads):
                head += f", padded to {tuple(self.pshape)}: (lo, hi) {pads}"
            else:
                head += f", (lo, hi) {pads} (negative: cropped)"
        return head

    def _gather_frame(self, i: int) -> list:
        tr = self.trace
        st = tr.step(i)
        ax_in, ax_out = self.p_in.ax, self.p_out.ax
        keep = st.weight != 0
        grid = st.coords[keep] + self.lo
        x, y = plane(grid, self.pshape)
        on_pad = (st.padding | st.inserted)[keep]
        if self.pad_cells:
            on_pad = on_pad | np.array([tuple(c) in self.pad_cells for c in grid], dtype=bool)
        artists = []
        if len(st.gaps):
            gx, gy = plane(st.gaps + self.lo, self.pshape)
            artists.append(_polys(
                _boxes(gx, gy, 0.08), facecolors=[(*to_rgba(COLORS["gap"])[:3], 0.2)],
                edgecolors=COLORS["gap"], linewidths=1.5, linestyles=":", hatch=".."))
        edge = np.where(on_pad, COLORS["window_pad"], COLORS["window"])
        face = [(*to_rgba(e)[:3], 0.16) for e in edge]
        artists.append(_polys(_boxes(x, y, 0.06), facecolors=face, edgecolors=list(edge),
                              linewidths=max(1.5, self.cell / 16)))
        for a in artists:
            ax_in.add_collection(a)
        if self.show_labels:
            dy = 0.3 if self.show_numbers else 0.0
            size = self._font(0.24 if self.show_numbers else 0.28)
            for xi, yi, kidx, w in zip(x, y, st.kernel_index[keep], st.weight[keep]):
                if (kidx >= 0).all():
                    label = "k" + ",".join(str(int(v)) for v in kidx)
                elif w != 1:
                    label = f"{w:.2g}"
                else:
                    continue
                artists.append(ax_in.text(xi, yi + dy, label, ha="center", va="center",
                                          fontsize=self._fit(size, label), color=_TAP_TEXT,
                                          animated=True))
        cx, cy = plane(np.array([st.out_index]), self.oshape)
        current = _polys(_boxes(cx, cy, 0.04), facecolors="none",
                         edgecolors=COLORS["current"], linewidths=max(2.0, self.cell / 11))
        ax_out.add_collection(current)
        artists.append(current)
        if self.show_numbers:
            artists.append(self._number(ax_out, cx[0], cy[0], _fmt(self.vout[i])))
        n_real = int((~on_pad).sum())
        reads = f"reads {n_real} input cell{'s' * (n_real != 1)}"
        self.step_text.set_text(
            f"step {i + 1}/{len(tr)}: output {_coord(st.out_index)} {reads}")
        return artists

    # --- scatter ------------------------------------------------------------------
    def _setup_scatter(self, cell_px):
        sc, spec = self.trace, self.spec
        ishape, oshape = sc.in_shape, sc.out_shape
        count = sc.overlap_count().reshape(-1)
        self.oshape, self.ishape = oshape, ishape
        top = max(int(count.max()), 1)
        shade = (*to_rgba("#9ecae1")[:3], 1.0)
        items = [("input cell being scattered", "none", COLORS["current"], 3, None, "-"),
                 ("output cells it writes (kernel tap)", "none", COLORS["window"], 2.5,
                  None, "-"),
                 ("input already scattered", _WRITTEN, COLORS["grid"], 0.8, None, "-"),
                 ("darker output = more writes (overlap)", shade, COLORS["grid"], 0.8,
                  None, "-")]
        out_title = f"output {tuple(oshape)}: shade = writes per cell"
        in_title = f"input {tuple(ishape)}"
        if self.numbers:
            out_title = f"output {tuple(oshape)}, channel 0: running sums"
            if spec.channels > 1:
                in_title += f", channel 0 of {spec.channels}"
        ax_in, ax_out = self._layout(ishape, oshape, cell_px, items, in_title, out_title)
        self.p_in = _Panel(ax_in, ishape, np.zeros(len(ishape), int))
        self.p_out = _Panel(ax_out, oshape, np.zeros(len(oshape), int))
        self._ticks(self.p_in)
        self._ticks(self.p_out)
        icells, ocells = _cells(ishape), _cells(oshape)
        self.ix, self.iy = plane(icells, ishape)
        self.ox, self.oy = plane(ocells, oshape)
        self._grid(ax_in, self.ix, self.iy, [COLORS["cell"]] * len(icells))
        blues = _blues(count / top)
        self._grid(ax_out, self.ox, self.oy, blues)
        self.show_labels = self.cell >= 26
        self.show_numbers = self.numbers and self.cell >= 18
        self.shades = blues
        if self.show_numbers:
            vin = self.sample.channel_plane(self.sample.x).reshape(-1)
            for xi, yi, v in zip(self.ix, self.iy, vin):
                self._number(ax_in, xi, yi, _fmt(v), color=_TEXT, animated=False)
            self._scatter_sums()
        elif self.cell >= 14:
            for xi, yi, c in zip(self.ox, self.oy, count):
                self._number(ax_out, xi, yi, str(int(c)), animated=False,
                             color="white" if c / top > 0.6 else _TEXT)
        self._frame, self._progress = self._scatter_frame, self._scatter_progress

    def _scatter_sums(self):
        """Per input cell: flat output index and channel-0 value of every tap it writes."""
        sc, layer = self.trace, self.sample.layer
        x = self.sample.x[0]
        if self.spec.data_format == "channels_first":
            x = np.moveaxis(x, 0, -1)
        kernel = layer.kernel  # kernel_size + (filters, Cin)
        idx, val = [], []
        for i in range(len(sc)):
            st = sc.step(i)
            w = kernel[tuple(st.kernel_index.T)][:, 0, :]  # (K, Cin)
            v = w @ x[st.in_index]
            flat = np.where(st.inside, np.ravel_multi_index(
                tuple(np.clip(st.out_coords, 0, np.array(sc.out_shape) - 1).T), sc.out_shape),
                -1)
            idx.append(flat)
            val.append(v)
        self.s_idx, self.s_val = np.array(idx), np.array(val, dtype=float)

    def _sums(self, stop: int, cells: np.ndarray) -> list:
        """Boxes and running sums (after steps ``0 .. stop-1``) of output ``cells`` (flat)."""
        ax = self.p_out.ax
        flat = self.s_idx[:stop].reshape(-1)
        vals = self.s_val[:stop].reshape(-1)
        ok = flat >= 0
        sums = np.bincount(flat[ok], weights=vals[ok], minlength=prod(self.oshape))
        boxes = _polys(_boxes(self.ox[cells], self.oy[cells]),
                       facecolors=[self.shades[c] for c in cells], edgecolors=COLORS["grid"],
                       linewidths=0.8)
        ax.add_collection(boxes)
        return [boxes] + [self._number(ax, self.ox[c], self.oy[c], _fmt(sums[c]))
                          for c in cells]

    def _scatter_progress(self, start: int, stop: int) -> list:
        ax = self.p_in.ax
        done = _polys(_boxes(self.ix[start:stop], self.iy[start:stop]),
                      facecolors=[_WRITTEN], edgecolors="none")
        ax.add_collection(done)
        out = [done]
        if self.show_numbers:
            touched = np.unique(self.s_idx[start:stop])
            out += self._sums(stop, touched[touched >= 0])
        return out

    def _scatter_frame(self, i: int) -> list:
        sc = self.trace
        st = sc.step(i)
        ax_in, ax_out = self.p_in.ax, self.p_out.ax
        artists = []
        if self.show_numbers:
            cells = self.s_idx[i]
            artists += self._sums(i + 1, np.unique(cells[cells >= 0]))
        cx, cy = plane(np.array([st.in_index]), self.ishape)
        cur = _polys(_boxes(cx, cy, 0.04), facecolors="none", edgecolors=COLORS["current"],
                     linewidths=max(2.0, self.cell / 11))
        ax_in.add_collection(cur)
        artists.append(cur)
        px, py = plane(st.out_coords[st.inside], self.oshape)
        patch = _polys(_boxes(px, py, 0.06), facecolors="none", edgecolors=COLORS["window"],
                       linewidths=max(1.5, self.cell / 16))
        ax_out.add_collection(patch)
        artists.append(patch)
        if self.show_labels:
            size = self._font(0.24 if self.show_numbers else 0.28)
            for xi, yi, k in zip(px, py, st.kernel_index[st.inside]):
                label = "k" + ",".join(str(int(v)) for v in k)
                artists.append(ax_out.text(xi, yi + 0.3, label, ha="center", va="center",
                                           fontsize=self._fit(size, label), color=_TAP_TEXT,
                                           animated=True))
        n_in = int(st.inside.sum())
        cropped = len(st.inside) - n_in
        extra = f" ({cropped} more cropped away by the padding)" if cropped else ""
        self.step_text.set_text(
            f"step {i + 1}/{len(sc)}: input {_coord(st.in_index)} writes {n_in} output "
            f"cell{'s' * (n_in != 1)}{extra}")
        return artists

    # --- drawing ------------------------------------------------------------------
    def frame(self, i: int) -> np.ndarray:
        """RGB ``uint8`` image (height, width, 3) of step ``i``.

        What accumulates (written output cells, their numbers) is kept in a second
        background, so frames in increasing order cost only what changes.
        """
        i = int(i)
        renderer = self.canvas.get_renderer()
        if self._acc is not None and self._acc[0] <= i:
            start = self._acc[0]
            self.canvas.restore_region(self._acc[1])
        else:
            start = 0
            self.canvas.restore_region(self.background)
        if i > start:
            self._draw(self._progress(start, i), renderer)
            self._acc = (i, self.canvas.copy_from_bbox(self.fig.bbox))
        elif self._acc is None or start != i:
            self._acc = (i, self.canvas.copy_from_bbox(self.fig.bbox))
        artists = self._frame(i)
        self._draw([*artists, self.step_text], renderer, remove=False)
        image = np.asarray(self.canvas.buffer_rgba())[..., :3].copy()
        for a in artists:
            a.remove()
        return image

    @staticmethod
    def _draw(artists, renderer, remove=True):
        for a in artists:
            a.draw(renderer)
            if remove:
                a.remove()


def _blues(t) -> list:
    """Light-to-mid blues for overlap counts scaled to ``[0, 1]`` (0 stays near white)."""
    lo, hi = np.array(to_rgba("#f7fbff")), np.array(to_rgba("#4a90c8"))
    t = np.clip(np.asarray(t, dtype=float), 0, 1)[:, None]
    return list(lo + (hi - lo) * t)


# ----------------------------------------------------------------------------- public API
def _prepare(spec, view, numbers, max_frames, steps, cell_px, pre_padding):
    """The renderer of ``spec`` and the steps to draw (ValueError for a bad step)."""
    renderer = _Renderer(_sample(spec, pre_padding), view=view, numbers=numbers,
                         cell_px=cell_px, pre_padding=pre_padding)
    n = len(renderer)
    if steps is None:
        return renderer, frame_steps(n, max_frames)
    chosen = np.asarray(steps, dtype=int).reshape(-1)
    bad = [int(s) for s in chosen if not 0 <= s < n]
    if bad:
        raise ValueError(
            f"Step {bad[0]} is out of range: this animation has {n} steps (0..{n - 1}).")
    return renderer, chosen


def render_frames(spec: Spec, *, view: str = "gather", numbers: bool = False,
                  max_frames: int = MAX_FRAMES, steps: Sequence[int] | None = None,
                  cell_px: int = CELL_PX, pre_padding=None) -> Iterator[tuple[int, np.ndarray]]:
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
        Draw the sample values (channel 0) in the cells.
    max_frames : int
        Most frames; the steps are :func:`frame_steps` ``(len(trace), max_frames)``.
    steps : sequence of int, optional
        Render exactly these steps instead (0-based, ``ValueError`` when out of range).
    cell_px : int
        Size of a cell in pixels (smaller for inputs too wide for :data:`MAX_WIDTH_PX`).
    pre_padding : int or sequence of (lo, hi), optional
        Draw the layer applied after ``ZeroPadding{rank}D(pre_padding)`` (the gallery's
        "arbitrary padding" case); the zero-padded ring is drawn as padding.

    Returns
    -------
    iterator of (int, ndarray)
        ``(step, image)`` pairs, lazily; every image is RGB ``uint8`` of the same size.
    """
    renderer, chosen = _prepare(spec, view, numbers, max_frames, steps, cell_px, pre_padding)
    return ((int(s), renderer.frame(int(s))) for s in chosen)


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


def _gif(renderer: _Renderer, steps: np.ndarray, fps: float) -> bytes:
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
              max_frames: int = MAX_FRAMES, cell_px: int = CELL_PX, pre_padding=None) -> bytes:
    """An animated, looping GIF of ``spec``: one frame per step (or per :func:`frame_steps`).

    The frame count equals ``len(trace)`` when that is at most ``max_frames``, else
    ``max_frames`` (an even subsample keeping the first and last steps). Frames last
    ``1/fps`` seconds; the last one at least 1.5 s. Parameters as in :func:`render_frames`.
    """
    _durations(1, fps)  # check fps before rendering
    renderer, steps = _prepare(spec, view, numbers, max_frames, None, cell_px, pre_padding)
    return _gif(renderer, steps, fps)


def png_bytes(spec: Spec, step: int = 0, *, view: str = "gather", numbers: bool = False,
              cell_px: int = CELL_PX, pre_padding=None) -> bytes:
    """One frame (``step``, 0-based as in ``trace.step``) as an RGB PNG."""
    (_, image), = render_frames(spec, view=view, numbers=numbers, steps=[step],
                                cell_px=cell_px, pre_padding=pre_padding)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def ffmpeg_available() -> bool:
    """True when an ``ffmpeg`` executable is on ``PATH`` (needed for MP4 only)."""
    return shutil.which("ffmpeg") is not None


def mp4_bytes(spec: Spec, *, view: str = "gather", numbers: bool = False, fps: float = 2,
              max_frames: int = MAX_FRAMES, cell_px: int = CELL_PX, pre_padding=None) -> bytes:
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
    renderer, steps = _prepare(spec, view, numbers, max_frames, None, cell_px, pre_padding)
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
         max_frames: int = MAX_FRAMES, step: int = 0, cell_px: int = CELL_PX,
         pre_padding=None) -> Path:
    """Write ``spec``'s animation to ``path``; the suffix picks the format.

    ``.gif`` (:func:`gif_bytes`), ``.mp4`` (:func:`mp4_bytes`, needs ffmpeg) or ``.png``
    (:func:`png_bytes` of ``step``). Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    common = dict(view=view, numbers=numbers, cell_px=cell_px, pre_padding=pre_padding)
    if suffix == ".gif":
        data = gif_bytes(spec, fps=fps, max_frames=max_frames, **common)
    elif suffix == ".mp4":
        data = mp4_bytes(spec, fps=fps, max_frames=max_frames, **common)
    elif suffix == ".png":
        data = png_bytes(spec, step, **common)
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


def _cli_value(name: str, key: str, value) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return ",".join(f"{lo}:{hi}" for lo, hi in value)  # per-axis (lo, hi) pairs
    if isinstance(value, tuple) and name[:-2] in ("Cropping", "ZeroPadding"):
        return f"{value[0]}:{value[1]}"  # the 1D (lo, hi) pair
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def animate_command(spec: Spec, *, view: str = "gather", numbers: bool = False,
                    output: str = "out.gif") -> str:
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
            max_frames: int = MAX_FRAMES) -> list[Path]:
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

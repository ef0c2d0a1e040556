"""What every frame of a layer's animation shows, decided once (no plotting library here).

A :class:`Scene` is the whole picture of one configuration, as data: every panel (the
input's channels, the current filter's kernel slices and bias, a separable layer's
intermediate maps and pointwise weights, the output's channels), every cell's role,
fill, value text and hover text, the titles and tick labels, the legend, and for every
step a :class:`Frame`: the window's boxes, the cells not yet written (covered), the
running values, the caption and the step's arithmetic (:class:`Term` s, the same numbers
the explain table lists). The Plotly figure (:mod:`convviz.viz.figures`) and the
matplotlib exports (:mod:`convviz.export`) only paint it.

Everything sits on one canvas of square cells: ``x`` is the column, ``y`` the row (down).
Rank 1 grids are one row, rank 2 the image plane, rank 3 its depth slices as tiles.

>>> from convviz.demo import Spec, run
>>> s = build(run(Spec("Conv2D", {"filters": 2, "kernel_size": 3}, (4, 4), channels=2)))
>>> s.steps, [p.title for p in s.panels][:3]
(4, ['input channel 0 of 2', 'input channel 1 of 2', 'filter 0, ch 0'])
>>> s.frame(0).arithmetic[-1].startswith("out(0, 0) filter 0 = ")
True
"""

from __future__ import annotations

import functools
import math
import re
import textwrap
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .. import activations, layout
from ..demo import Sample
from ..geometry import prod

#: Most frames an animation carries (app and exports alike); longer ones are subsampled.
MAX_FRAMES = 300
#: Most frames of a 3-D layer's animation (each frame outlines a 3-D window).
MAX_FRAMES_3D = 120
#: Most channel panels drawn per stage (input channels, kernels, output channels).
MAX_PANELS = 8
#: The columns of a step's explain table (:meth:`Scene.explain_rows`).
EXPLAIN_COLUMNS = ("stage", "output", "channel", "cell", "value", "kernel tap", "weight",
                   "product")
#: The roles of the boxes a frame draws, in painting order.
BOX_ROLES = ("tap", "tap_pad", "gap", "current", "patch")
#: Default and presenter cell sizes in pixels; the scene shrinks cells to fit MAX_CANVAS_PX.
CELL_PX = 44
MIN_CELL_PX = 11
#: The picture's grids at most this wide and high (a 1280 px screen with the sidebar open
#: gives a page about 820 px; the figure adds 20 px of margins).
MAX_CANVAS_PX = (780, 1300)
#: Presenter mode's grids: wide and low, as a projector is (the player then scales the
#: whole picture to the screen: 1280x720 and 1920x1080 show it without scrolling).
PRESENTER_CANVAS_PX = (1240, 400)
#: The narrowest picture (room for the title and the key); a landscape canvas (presenter
#: mode) is drawn at its full width, so the title and the key take few lines.
MIN_WIDTH_PX = 640


def min_width_px(canvas_px) -> int:
    return int(canvas_px[0]) if canvas_px[0] > canvas_px[1] else MIN_WIDTH_PX

# ------------------------------------------------------------------ colours, one place
FILLS = {
    "real": "#f4f6fb",
    "padding": "#c9ced6",
    "inserted": "#fff3c4",
    "cropped": "#f2c9c9",
    "kernel": "#e6f2e1",
    "bias": "#efe3f6",
    "intermediate": "#f4f6fb",
    "output": "#ffffff",
}
#: Input cell tints of the channel groups (groups > 1): group g uses GROUP_FILLS[g % len].
GROUP_FILLS = ("#dce9f8", "#dff1dc", "#d8f0f0", "#efe6dc", "#e9e1f7", "#eeeeee",
               "#e3ecd0", "#f3e3ef")
#: Group outlines: no orange, red or purple, which mark the window and the current cell.
GROUP_EDGES = ("#4e79a7", "#59a14f", "#2f9e9e", "#9c755f", "#6a5acd", "#555555",
               "#7f9a3a", "#c06c9c")
BOXES = {
    # role: (edge colour, line width in px, dashed)
    "tap": ("#f28e2b", 3.0, False),
    "tap_pad": ("#b07aa1", 3.0, False),
    "gap": ("#e15759", 2.0, True),
    "current": ("#d62728", 4.0, False),
    "patch": ("#f28e2b", 3.0, False),
    "kept": ("#2f6f3e", 2.0, True),
}
WRITTEN_TINT = "rgba(78,121,167,0.22)"
#: Dynamic tap labels sit this far (in cells) below a cell's centre, under its value.
TAP_LABEL_DY = 0.32
#: Font sizes as fractions of the cell size: values, and the small tap labels.
VALUE_FONT, TAP_FONT = 0.36, 0.22
PRESENTER_VALUE_FONT = 0.5
COVER = "#ffffff"
TEXT = "#1f2a44"
TAP_TEXT = "#7a3d00"
TICK_TEXT = "#44506a"
GRID = "#8a94a6"
#: Hover linking: the cells a hovered cell reads or feeds (translucent gold, dark edge).
LINK_FILL = "rgba(255,215,0,0.35)"
LINK_EDGE = "#b8860b"

def overlap_fills(count) -> list[str]:
    """Light-to-mid blue per cell by overlap count (0 white): the scatter view's shade."""
    count = np.asarray(count, dtype=float)
    t = count / max(count.max(), 1.0)
    lo, hi = np.array([255, 255, 255]), np.array([107, 174, 214])
    rgb = (lo[None, :] + (hi - lo)[None, :] * t[:, None]).round().astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]


LEGEND_TEXT = {
    "tap": "window tap on an input cell",
    "tap_pad": "window tap on padding / an inserted zero",
    "padding": "padding cell (zero)",
    "inserted": "inserted zero (transposed conv)",
    "cropped": "cropped away (not in the output)",
    "gap": "dilation gap (skipped)",
    "current": "cell being written",
    "patch": "output cells this input cell adds to",
    "written": "already written",
    "kept": "kept region",
    "overlap": "darker: more patches add to the cell (the checkerboard)",
}


#: Translucent fill of a dilation-gap box (its edge is BOXES["gap"]).
GAP_FILL = "rgba(225,87,89,0.25)"


def legend_style(role: str) -> dict:
    """How the key draws ``role``: ``fill`` colour, ``edge`` colour, ``width`` px, ``dash``.

    Boxes are outlines (a gap's is also filled), cells and tints are fills; ``group<g>``
    is group g's outline colour.
    """
    if role.startswith("group"):
        g = int(role[5:])
        return {"fill": GROUP_FILLS[g % len(GROUP_FILLS)],
                "edge": GROUP_EDGES[g % len(GROUP_EDGES)], "width": 3.0, "dash": False}
    if role in BOXES:
        edge, width, dash = BOXES[role]
        return {"fill": GAP_FILL if role == "gap" else None, "edge": edge, "width": width,
                "dash": dash}
    if role == "overlap":
        return {"fill": overlap_fills([1, 2])[0], "edge": GRID, "width": 1.0, "dash": False}
    fill = WRITTEN_TINT if role == "written" else FILLS[role]
    return {"fill": fill, "edge": GRID, "width": 1.0, "dash": False}


def fonts_for(cell: float, longest: int = 2, type_cell: float | None = None) -> dict:
    """Font sizes in pixels for cells of ``cell`` px whose longest value has ``longest``
    characters: every painter uses these.

    Values and tap labels fit the cells; titles, ticks, the key and the caption/arithmetic
    lines follow ``type_cell``, the cell size asked for (presenter mode's 72 px gives big
    type even where cells had to shrink to fit). ``line_px`` is the spacing of the lines,
    ``char_px`` the width of one of their (monospace) characters.
    """
    t = max(cell, type_cell or cell)
    # presenter mode (big type asked for): digits as large as the cell allows
    frac = PRESENTER_VALUE_FONT if t > CELL_PX else VALUE_FONT
    value = min(max(8.0, cell * frac), cell * VALUE_FILL / (CHAR_EM * max(longest, 1)))
    line = max(14, min(20, int(t * 0.28)))
    return {"value": max(7, int(value)), "tap": max(7, int(cell * TAP_FONT)),
            "tick": max(9, min(16, int(t * 0.3), int(cell * 0.45))),
            "title": max(13, min(20, int(t * 0.3))),
            "heading": max(14, min(22, int(t * 0.3))),
            "legend": max(12, min(18, int(t * 0.25))), "line": line,
            "line_px": int(round(line * 1.35)), "char_px": line * 0.61}


def _fonts_of(panels, cell_px: float, type_px: float) -> dict:
    """:func:`fonts_for` the cells of ``panels``, sized for their longest text."""
    longest = max((len(t) for p in panels for t in p.text), default=1)
    return fonts_for(cell_px, longest, type_px)


#: Advance of the cells' font (DejaVu Sans) in em: digits and letters, "-", and ",.:".
CHAR_EM, MINUS_EM, NARROW_EM = 0.636, 0.338, 0.318
#: The values' font is sized so that the longest value, reckoned in :data:`CHAR_EM`-wide
#: characters, fills at most this share of a cell's width (minus signs and points are
#: narrower and leave more room).
VALUE_FILL = 0.955


def text_px(text: str, font_px: float) -> float:
    """The width in pixels of ``text`` written in a cell at ``font_px``."""
    narrow = sum(text.count(c) for c in ",.:")
    minus = text.count("-")
    return font_px * (CHAR_EM * (len(text) - narrow - minus) + MINUS_EM * minus
                      + NARROW_EM * narrow)


def legible(texts, font_px: float, cell_px: float) -> bool:
    """Whether each of ``texts`` fits in a cell of ``cell_px`` (a pixel over is allowed):
    labels that do not would run into their neighbours, so a scene leaves them out."""
    return all(text_px(t, font_px) <= cell_px + 1 for t in texts)


def fmt(v) -> str:
    """A value as drawn: integers plainly, others with up to 4 decimals (``3.3125``)."""
    return _fmt(float(v))


@functools.lru_cache(maxsize=1 << 16)  # a picture draws the same few values many times
def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return ""
    if v.is_integer() and abs(v) < 1e6:
        return str(int(v))
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def coord(c) -> str:
    """``(1, 2)``: a cell coordinate as drawn everywhere."""
    values = c.tolist() if isinstance(c, np.ndarray) and c.dtype.kind in "iu" else map(int, c)
    return "(" + ", ".join(map(str, values)) + ")"


def _coord(values: list) -> str:
    """:func:`coord` of a list of ints."""
    return "(" + ", ".join(map(str, values)) + ")"


def step_label(i: int, steps: int) -> str:
    """How a step is named in the app, the exports and the CLI: 0-based, with its range."""
    return f"step {int(i)} of 0..{int(steps) - 1}"


def frame_indices(steps: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Steps shown as frames: all of them, or ``max_frames`` evenly spaced.

    Frame ``k`` shows step ``round(k * (steps - 1) / (max_frames - 1))`` (half up, in exact
    integer arithmetic), so the first and last steps are always kept.

    >>> frame_indices(5, 3).tolist(), frame_indices(3, 10).tolist()
    ([0, 2, 4], [0, 1, 2])
    """
    n, m = int(steps), int(max_frames)
    if m < 1:
        raise ValueError(f"`max_frames` must be at least 1. Received: max_frames={max_frames}")
    if n <= m:
        return np.arange(max(n, 0))
    if m == 1:
        return np.zeros(1, dtype=int)
    k = np.arange(m)
    return (2 * k * (n - 1) + (m - 1)) // (2 * (m - 1))


def default_max_frames(rank: int) -> int:
    return MAX_FRAMES_3D if rank == 3 else MAX_FRAMES


# ------------------------------------------------------------------ grid geometry
def slices_per_row(shape) -> int:
    """How many depth slices of a rank-3 grid sit side by side before the next row.

    About a square: ``ceil(sqrt(D * (H + 1) / (W + 1)))``, at least 1, at most ``D``.
    """
    d, h, w = shape
    return int(min(d, max(1, math.ceil(math.sqrt(d * (h + 1) / (w + 1))))))


def plane(coords, shape) -> tuple[np.ndarray, np.ndarray]:
    """Map ``(M, rank)`` grid indices of ``shape`` to panel-local ``(x, y)``.

    Rank 1: ``x = i, y = 0``; rank 2: ``x = col, y = row``; rank 3: the depth slices
    as tiles, :func:`slices_per_row` to a row, one empty cell between tiles.
    """
    coords = np.asarray(coords).reshape(-1, len(shape))
    if len(shape) == 1:
        return coords[:, 0], np.zeros(len(coords), dtype=int)
    if len(shape) == 2:
        return coords[:, 1], coords[:, 0]
    per = slices_per_row(shape)
    d = coords[:, 0]
    return (d % per) * (shape[2] + 1) + coords[:, 2], (d // per) * (shape[1] + 1) + coords[:, 1]


def extent(shape) -> tuple[int, int]:
    """(columns, rows) a grid of ``shape`` takes on the canvas."""
    if len(shape) == 3:
        per = slices_per_row(shape)
        rows = math.ceil(shape[0] / per)
        return per * (shape[2] + 1) - 1, rows * (shape[1] + 1) - 1
    x, y = plane(np.array([np.array(shape) - 1]), shape)
    return int(x[0]) + 1, int(y[0]) + 1


def all_cells(shape) -> np.ndarray:
    return np.stack(np.unravel_index(np.arange(prod(shape)), shape), axis=-1)


def _order_boxes(o, shape, after: bool) -> list[tuple[int, int, int, int]]:
    """Cells before (or after) ``o`` in row-major order as a few local boxes.

    Each box is ``(x0, y0, x1, y1)`` of whole cells, inclusive: per axis ``k``, the cells
    that agree with ``o`` before ``k`` and come before (after) it on ``k``; a rank-3
    grid's whole depth slices are one box each (the tiles wrap into rows).
    """
    boxes = []
    r = len(shape)
    for k in range(r):
        lo_k, hi_k = (o[k] + 1, shape[k] - 1) if after else (0, o[k] - 1)
        if lo_k > hi_k:
            continue
        runs = [(v, v) for v in range(lo_k, hi_k + 1)] if (r == 3 and k == 0) \
            else [(lo_k, hi_k)]
        for a, b in runs:
            first = [*o[:k], a] + [0] * (r - k - 1)
            last = [*o[:k], b] + [n - 1 for n in shape[k + 1:]]
            boxes.append((*_plane_cell(first, shape), *_plane_cell(last, shape)))
    return boxes


def _plane_cell(c, shape) -> tuple[int, int]:
    """:func:`plane` of one grid index (plain ints: no arrays for a corner of a box)."""
    if len(shape) == 1:
        return int(c[0]), 0
    if len(shape) == 2:
        return int(c[1]), int(c[0])
    per = slices_per_row(shape)
    return (int(c[0]) % per) * (shape[2] + 1) + int(c[2]), \
        (int(c[0]) // per) * (shape[1] + 1) + int(c[1])


# ------------------------------------------------------------------ data
@dataclass
class Panel:
    """One grid on the canvas: a channel of the input, a kernel slice, an output channel...

    ``kind`` is ``"input"``, ``"kernel"``, ``"bias"``, ``"intermediate"``, ``"pointwise"``
    or ``"output"``; ``channel`` its channel (or filter) number; ``shape`` its N-d grid;
    ``origin`` the canvas (x, y) of its first cell; ``offsets`` what is subtracted from a
    grid index to give the coordinate written on the ticks (padding sits at -1).
    """

    key: str
    kind: str
    title: str
    channel: int
    shape: tuple
    origin: tuple = (0, 0)
    offsets: tuple = ()
    role: np.ndarray = None      # (cells,) str
    fill: np.ndarray = None      # (cells,) colour
    text: np.ndarray = None      # (cells,) str
    hover: list = None
    tick_names: tuple = ()
    edge: str | None = None      # a coloured outline (channel group)
    flip: bool = False           # kernel drawn flipped (transposed gather view)

    @property
    def size(self) -> tuple[int, int]:
        return extent(self.shape)

    def xy(self, grid) -> tuple[np.ndarray, np.ndarray]:
        """Canvas (x, y) of N-d grid indices ``grid`` (M, rank)."""
        x, y = plane(grid, self.shape)
        return x + self.origin[0], y + self.origin[1]

    def box(self, b) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = b
        ox, oy = self.origin
        return (x0 + ox, y0 + oy, x1 + ox, y1 + oy)


class Term(NamedTuple):
    """One multiplication of a step's arithmetic (one row of the explain table); a named
    tuple (a frame of a big window makes thousands: a frozen dataclass is 3x dearer)."""

    stage: str        # "taps", "depthwise", "pointwise", "copy", "interpolate", "scatter"
    channel: int      # channel read
    out_channel: int  # channel written
    cell: str         # "(1, 2)", "padding (-1, 0)", "inserted zero (1, 0)", "mid 3 (0, 1)"
    value: float
    weight: float
    kernel: str       # kernel tap "(0, 1)" or ""
    product: float


@dataclass(frozen=True)
class Sum:
    """One output value of a step: its terms summed per channel, plus bias, activation."""

    label: str            # "out(0, 0) filter 1"
    out_channel: int
    by_channel: tuple     # ((channel, subtotal), ...)
    total: float
    bias: float | None
    activation: str
    value: float          # what the output cell shows


@dataclass
class Frame:
    """What changes at one step."""

    step: int
    caption: str
    boxes: dict = field(default_factory=dict)     # role -> (x array, y array)
    covers: list = field(default_factory=list)    # (x0, y0, x1, y1) canvas cells, inclusive
    tints: list = field(default_factory=list)     # (x0, y0, x1, y1) already written
    texts: tuple = ((), (), ())                   # dynamic (x, y, text) in cells
    text_kind: str = "tap"                        # "tap" (small labels) or "value"
    terms: tuple = ()
    sums: tuple = ()
    arithmetic: tuple = ()                        # lines
    lines: tuple = ()                             # caption (wrapped) + arithmetic: as drawn


@dataclass
class Scene:
    """Everything one configuration draws (see the module docstring)."""

    sample: Sample
    view: str
    title: str
    panels: list
    steps: int
    frames_at: np.ndarray
    cell_px: int
    canvas: tuple          # (columns, rows)
    labels: list           # static texts: (x, y, text, kind, anchor)
    outlines: list         # static (x0, y0, x1, y1, role)
    legend: list           # (role, text) pairs of the key
    subtitle: str          # what the input panels show (padding, zeros inserted, groups)
    notices: list
    numbers: bool
    reveal: bool
    filter: int
    out_channels: int
    width_chars: int = 80
    type_px: int = CELL_PX
    min_width: int = MIN_WIDTH_PX
    _frame: object = field(repr=False, default=None)
    _boxes: object = field(repr=False, default=None)
    _reads: object = field(repr=False, default=None)
    _cache: dict = field(repr=False, default_factory=dict)
    #: What a painter derives from the whole scene and keeps with it (the player's payload).
    memo: dict = field(repr=False, default_factory=dict)

    def frame(self, i: int) -> Frame:
        i = int(i)
        if not 0 <= i < self.steps:
            raise ValueError(
                f"Step {i} is out of range: this animation has {self.steps} steps "
                f"(0..{self.steps - 1}).")
        if i not in self._cache:
            fr = self._frame(i)
            if not self.numbers:  # no values drawn: no sums of them either
                fr.arithmetic = ()
            if fr.text_kind == "tap" and not legible(
                    fr.texts[2], fonts_for(self.cell_px)["tap"], self.cell_px):
                fr.texts = (np.zeros(0), np.zeros(0), ())  # too long for these cells
            fr.lines = (*_wrap([fr.caption], self.width_chars), *fr.arithmetic)
            self._cache[i] = fr
        return self._cache[i]

    def drop_frames(self) -> None:
        """Forget the frames made so far (:meth:`frame` makes a step's again when asked).
        The player calls this once its payload is text: a scene kept in a server's view
        cache then holds that text, not every frame's arrays and strings too (about five
        times the text's size)."""
        self._cache.clear()

    def kept(self, name: str, key, make, limit: int):
        """``make()`` for ``key``, kept in :attr:`memo` under ``name`` (the ``limit`` most
        recently made; the oldest goes first): what a painter derives per step or option."""
        memo = self.memo.setdefault(name, {})
        if key not in memo:
            while len(memo) >= limit:
                memo.pop(next(iter(memo)))
            memo[key] = make()
        return memo[key]

    def boxes(self, i: int) -> dict:
        """Step ``i``'s outlines, ``{role: (x, y)}``, exactly :meth:`frame`'s ``boxes``
        (without the frame's arithmetic and text, unless the frame is already made)."""
        i = int(i)
        if i in self._cache or self._boxes is None:
            return self.frame(i).boxes
        if not 0 <= i < self.steps:
            self.frame(i)  # its ValueError
        return self._boxes(i)

    def reads(self) -> list:
        """Per step ``(written x, written y, read x, read y)``, canvas cells: what the
        step's frame outlines as written (``current``) and as read (``tap``, ``tap_pad``,
        ``patch``); from the trace's arrays at once where the view has that path."""
        if self._reads is not None:
            return self._reads()
        out = []
        for i in range(self.steps):
            b = self.boxes(i)
            read = [b[r] for r in ("tap", "tap_pad", "patch") if r in b]
            out.append((*b["current"], np.concatenate([x for x, _ in read]),
                        np.concatenate([y for _, y in read])))
        return out

    @property
    def width_px(self) -> int:
        """Width of every painter's picture: the canvas, at least ``min_width``, plus
        margins."""
        return int(max(self.canvas[0] * self.cell_px, self.min_width) + 20)

    @property
    def heading(self) -> dict:
        """What sits above the grids, in pixels from the top: the title and subtitle
        (wrapped to the picture's width), then the key in ``legend_cols`` columns.

        Keys: ``title``, ``sub`` (lists of lines), ``title_px``, ``sub_px`` (line
        heights), ``legend_y`` (top of the key), ``legend_cols``, ``legend_rows``,
        ``legend_px`` (row height), ``entry_px`` (column width), ``height`` (all of it).
        """
        f = self.fonts
        width = self.width_px - 20
        # a tuple such as (None, 5, 5, 1) is never broken over two lines
        unbroken = re.sub(r"\([^()=]*\)", lambda m: m[0].replace(", ", ",\u00a0"), self.title)
        title = textwrap.wrap(unbroken, max(40, int(width / (f["heading"] * 0.55)))) or [""]
        sub = (textwrap.wrap(self.subtitle, max(40, int(width / (f["legend"] * 0.52))))
               if self.subtitle else [])
        title_px, sub_px = f["heading"] * 1.3, f["legend"] * 1.3
        longest = max((len(label) for _, label in self.legend), default=10)
        entry_px = f["legend"] * (0.55 * longest + 3)  # the swatch, the label, a gap
        cols = max(1, int((width - 60) // entry_px))  # Plotly keeps a margin of its own
        rows = -(-len(self.legend) // cols)
        legend_y = 10 + title_px * len(title) + sub_px * len(sub) + 4
        legend_px = f["legend"] * 1.9  # a row of Plotly's key, padding included
        return {"title": title, "sub": sub, "title_px": title_px, "sub_px": sub_px,
                "legend_y": legend_y, "legend_cols": cols, "legend_rows": rows,
                "legend_px": legend_px, "entry_px": entry_px,
                "height": int(legend_y + rows * legend_px + 20)}

    @property
    def text_block(self) -> dict:
        """Where the caption and the arithmetic go: under the grids, in canvas rows.

        ``y0`` is the first line's centre, ``step`` the spacing of lines, ``rows`` the
        height to reserve below the last row of cells (the longest frame's lines and a
        10 px margin above and below them).
        """
        lines = max(len(self.frame(int(i)).lines) for i in self.frames_at)
        px = self.fonts["line_px"]
        return {"y0": self.canvas[1] - 0.5 + (10 + px / 2) / self.cell_px,
                "step": px / self.cell_px, "lines": lines,
                "rows": (20 + lines * px) / self.cell_px}

    @property
    def fonts(self) -> dict:
        """Font sizes in pixels, for every painter: cell values, tap labels, ticks, titles,
        the heading, the key and the caption/arithmetic lines (:func:`fonts_for`)."""
        return _fonts_of(self.panels, self.cell_px, self.type_px)

    def panel(self, key: str) -> Panel:
        return next(p for p in self.panels if p.key == key)

    @property
    def cells(self):
        """Every static cell: ``(x, y, fill, text, role, hover)`` arrays."""
        xs, ys, fill, text, role, hover = [], [], [], [], [], []
        for p in self.panels:
            x, y = p.xy(all_cells(p.shape))
            xs.append(x)
            ys.append(y)
            fill.append(p.fill)
            text.append(p.text)
            role.append(p.role)
            hover.extend(p.hover)
        return (np.concatenate(xs), np.concatenate(ys), np.concatenate(fill),
                np.concatenate(text), np.concatenate(role), hover)

    def explain_rows(self, i: int) -> list[dict]:
        """The explain table of step ``i`` (columns :data:`EXPLAIN_COLUMNS`): every term,
        then a subtotal row per channel, the bias and the output of every sum."""
        return [dict(zip(EXPLAIN_COLUMNS, r)) for r in self.explain_table(i)]

    def explain_table(self, i: int) -> list[tuple]:
        """:meth:`explain_rows` as tuples of texts in :data:`EXPLAIN_COLUMNS` order (what
        the player sends: a big window's step has thousands of rows)."""
        fr = self.frame(i)
        f = _fmt
        rows = [(t.stage, str(t.out_channel), str(t.channel), t.cell, f(t.value), t.kernel,
                 f(t.weight), f(t.product)) for t in fr.terms]
        for s in fr.sums:
            out = str(s.out_channel)
            rows += [("subtotal", out, str(c), "", "", "", "", fmt(sub))
                     for c, sub in s.by_channel]
            if s.bias is not None:
                rows.append(("bias", out, "", "", "", "", "", fmt(s.bias)))
            rows.append(("= output", out, "", s.label, "", "", "", fmt(s.value)))
        return rows


# ------------------------------------------------------------------ arithmetic text
def cells_read(real) -> str | None:
    """The input indices one axis of a window reads, as a hover says them: ``1..3``, a
    dilated ``0..4 every 2nd``, or a list; None when it reads only padding."""
    v = np.unique(np.asarray(real, dtype=int))
    if not v.size:
        return None
    if v.size == 1 or (np.diff(v) == 1).all():
        return f"{v[0]}..{v[-1]}" if v.size > 1 else f"{v[0]}"
    d = np.diff(v)
    if (d == d[0]).all():
        return f"{v[0]}..{v[-1]} every {d[0]}{'nd' if d[0] == 2 else 'rd' if d[0] == 3 else 'th'}"
    return ", ".join(str(int(x)) for x in v)


def _term_text(t: Term) -> str:
    """``value·weight`` as drawn; a negative weight (as written) goes in parentheses."""
    return _written(t)[0]


def _written(t: Term) -> tuple[str, float]:
    """:func:`_term_text` of ``t`` and the product of its two numbers as written (rounded),
    which the "≈" checks add up."""
    v, w = fmt(t.value), fmt(t.weight)
    return f"{v}·{'(' + w + ')' if w.startswith('-') else w}", float(v) * float(w)


def sum_lines(s: Sum, terms, width: int) -> list[str]:
    """The arithmetic of one output value, e.g. ``ch0: 4·0 + 3·1 = 3``, then its total.

    One channel: a single line ``label = terms + bias b = v``; several: one line per
    channel with its subtotal, then ``label = ch0 7 + ch1 11 + bias 0 = 18``.
    """
    mine = [t for t in terms if t.out_channel == s.out_channel]
    written = [_written(t) for t in mine]
    tail = f" + bias {fmt(s.bias)}" if s.bias is not None else ""
    result = fmt(s.total + (s.bias or 0.0))
    # "≈" when the numbers as written (rounded) do not add up to the result exactly
    shown = sum(p for _, p in written) + float(fmt(s.bias or 0.0))
    eq = "=" if fmt(shown) == result else "≈"
    act = f" → {s.activation} → {fmt(s.value)}" if s.activation != "linear" else ""
    pointwise = bool(mine) and mine[0].stage == "pointwise"
    if len(s.by_channel) <= 1 or pointwise:
        body = " + ".join(text for text, _ in written) or "0"
        return _wrap([f"{s.label} = {body}{tail} {eq} {result}{act}"], width)
    lines = []
    for c, sub in s.by_channel:
        part = [w for t, w in zip(mine, written) if t.channel == c]
        body = " + ".join(text for text, _ in part)
        ok = fmt(sum(p for _, p in part)) == fmt(sub)
        lines.append(f"ch{c}: {body} {'=' if ok else '≈'} {fmt(sub)}")
    subs = " + ".join(f"ch{c} {fmt(v)}" for c, v in s.by_channel)
    lines.append(f"{s.label} = {subs}{tail} = {result}{act}")
    return _wrap(lines, width)


def _wrap(lines, width):
    out = []
    width = max(30, width)
    for line in lines:
        if 0 < len(line) <= width and line.isprintable() and not line[-1].isspace():
            out.append(line)  # what textwrap would give back, without its cost
            continue
        out.extend(textwrap.wrap(line, width, subsequent_indent="    ",
                                 break_on_hyphens=False) or [""])
    return out


# ------------------------------------------------------------------ building
def _live(weight) -> np.ndarray:
    """Slots that really contribute: interpolation weights of float noise (~1e-17, from
    Lanczos kernels at their zeros) are drawn and counted as the zeros they are."""
    return np.abs(np.asarray(weight)) > 1e-12


def _channels_last(sample: Sample, array) -> np.ndarray:
    """Batch item 0 of ``array`` as ``spatial + (channels,)``."""
    return layout.to_last(array, sample.spec.data_format)[0]


def _head_px(cell: float, type_cell: float | None = None) -> float:
    """Pixels above a panel for its title and its column ticks."""
    f = fonts_for(cell, type_cell=type_cell)
    return f["title"] + f["tick"] + 14


class _Layout:
    """Places blocks of panels (one block per stage) on the canvas.

    Stages sit side by side in rows of stages; inside a stage the panels stack vertically
    in sub-columns of at most ``per_col`` panels. :meth:`place` tries every arrangement
    and keeps the one that gives the largest cells.
    """

    GAP_Y, GAP_X = 1, 2

    def __init__(self, type_cell: float | None = None):
        self.blocks: list[list[Panel]] = []
        self.type_cell = type_cell  # the cell size asked for: the type follows it

    def add(self, panels):
        if panels:
            self.blocks.append(list(panels))

    def _arrange(self, per_col: int, cell: float, per_row: int) -> tuple[int, int, list]:
        """Origins with at most ``per_col`` panels per sub-column and ``per_row`` stages
        per row of stages."""
        width = height = 0
        origins = []
        rows = [self.blocks[a:a + per_row] for a in range(0, len(self.blocks), per_row)]
        for stages in rows:
            x = 0
            row_h = 0
            for block in stages:
                k = max(1, min(per_col, len(block)))
                for a in range(0, len(block), k):
                    col = block[a:a + k]
                    # a title may run over the gap to the next column, not further
                    fonts = fonts_for(cell, type_cell=self.type_cell)  # 0.58 em per char
                    cw = max(3, *(max(p.size[0], math.ceil(len(p.title) * fonts["title"]
                                                           * 0.58 / cell) - self.GAP_X)
                                  for p in col))
                    y = height
                    for p in col:
                        y += max(1, math.ceil(_head_px(cell, self.type_cell) / cell))
                        origins.append((p, (x + 1, y)))
                        y += p.size[1] + self.GAP_Y
                    row_h = max(row_h, y - height)
                    x += cw + 1 + self.GAP_X
            width = max(width, x)
            height += row_h
        return width, height, origins

    def place(self, fit, cell: float) -> tuple[int, int]:
        """Set every panel's origin; ``fit(canvas)`` gives the cell size of a canvas.

        Tries every number of panels per sub-column and of stages per row and keeps the
        arrangement with the largest cells (then the most stages per row, then the shape
        nearest 16:10). Titles need more
        cells when cells shrink, so the search repeats with the size it found.
        """
        most = max((len(b) for b in self.blocks), default=1)
        for _ in range(4):
            best = None
            for per_row in range(1, len(self.blocks) + 1):
                for per_col in range(1, most + 1):
                    w, h, origins = self._arrange(per_col, cell, per_row)
                    # largest cells; then stages in as few rows as possible (screens are
                    # wide); then the shape nearest a 16:10 screen
                    key = (fit((w, h)), per_row, -abs(math.log(max(w, 1) / max(h, 1) / 1.6)))
                    if best is None or key > best[0]:
                        best = (key, w, h, origins)
            if best[0][0] >= cell:
                break
            cell = max(best[0][0], MIN_CELL_PX)
        _, w, h, origins = best
        for p, origin in origins:
            p.origin = origin
        return w, h


def _ticks(p: Panel, every: int, cell: float, type_cell: float | None = None) -> list:
    """Coordinate labels: above each column (or depth slice) and left of each row."""
    out = []
    shape = p.shape
    ox, oy = p.origin
    tick = fonts_for(cell, type_cell=type_cell)["tick"]
    top = oy - 0.5 - (tick / 2 + 3) / cell  # the tick row, above the grid
    if len(shape) == 3:
        per = slices_per_row(shape)
        for d in range(shape[0]):
            x = ox + (d % per) * (shape[2] + 1) + (shape[2] - 1) / 2
            y = oy + (d // per) * (shape[1] + 1)
            v = (shape[0] - 1 - d) if p.flip else d
            out.append((x, y - 0.5 - (tick / 2 + 3) / cell,
                        f"depth {v - p.offsets[0]}", "tick", "center"))
        for r in range(0, shape[1], every):  # rows: left of the first tile of each tile row
            v = (shape[1] - 1 - r) if p.flip else r
            for t in range(math.ceil(shape[0] / per)):
                out.append((ox - 0.5 - 4 / cell, oy + t * (shape[1] + 1) + r,
                            str(v - p.offsets[1]), "tick", "right"))
        return out
    cols = shape[-1]
    col_off = p.offsets[-1]
    for c in range(0, cols, every):
        v = (cols - 1 - c) if p.flip else c
        out.append((ox + c, top, str(v - col_off), "tick", "center"))
    rows, row_off = (shape[0], p.offsets[0]) if len(shape) == 2 else (0, 0)
    for r in range(0, rows, every):
        v = (rows - 1 - r) if p.flip else r
        out.append((ox - 0.5 - 4 / cell, oy + r, str(v - row_off), "tick", "right"))
    return out


def _real_roles(trace, grid_shape, grid_lo):
    """Roles of the cells of a gather trace's input grid (grid index - grid_lo = coord)."""
    cells = all_cells(grid_shape)
    c = cells - grid_lo
    space = np.array(trace.space_shape)
    lo = np.array([a.lo for a in trace.axes])
    hi = np.array([a.hi for a in trace.axes])
    steps_of = np.array([a.step for a in trace.axes])
    padding = ((c < 0) | (c >= space)).any(axis=1)
    cropped = ~padding & ((c < -lo) | (c >= space + hi)).any(axis=1)
    inserted = ~padding & ~cropped & (c % steps_of != 0).any(axis=1)
    role = np.where(padding, "padding", np.where(cropped, "cropped",
                                                 np.where(inserted, "inserted", "real")))
    return cells, c, role.astype(object), steps_of


def build(sample: Sample, *, view: str = "gather", numbers: bool = True,
          reveal: bool = False, filter: int = 0, cell_px: int = CELL_PX,
          max_frames: int | None = None, ring=None, title: str | None = None,
          canvas_px: tuple[int, int] = MAX_CANVAS_PX) -> Scene:
    """The scene of ``sample`` (see :func:`convviz.demo.run`) in ``view``.

    Parameters
    ----------
    view : {"gather", "scatter"}
        ``"scatter"`` only for transposed convolutions (one step per input cell).
    numbers : bool
        Write the values (inputs, weights, outputs) in the cells; otherwise kernel cells
        show their tap index and the window's taps are labelled with it.
    reveal : bool
        Show every output value from the start (otherwise a cell stays blank until
        written, so a student can predict it).
    filter : int
        The filter (output channel) whose kernel and arithmetic are shown (ValueError
        outside ``0..filters-1``, or non-zero for a layer with no filters to choose).
    ring : sequence of (lo, hi), optional
        Cells of the input that a ``ZeroPadding`` before the layer added (drawn as
        padding: the gallery's "arbitrary padding" case).
    title : str, optional
        Replaces the Keras call written above the picture.
    canvas_px : (width, height)
        The most pixels the grids may take (cells shrink to fit; the stages are arranged
        for the largest cells): :data:`MAX_CANVAS_PX`, or :data:`PRESENTER_CANVAS_PX`.
    """
    kind = sample.layer.trace_kind
    if view not in ("gather", "scatter"):
        raise ValueError(f"`view` must be 'gather' or 'scatter'. Received: view={view!r}")
    if view == "scatter" and kind != "transpose":
        raise ValueError(f"{sample.spec.name} has only the 'gather' view. Received: "
                         "view='scatter'")
    builder = _Builder(sample, view, numbers, reveal, filter, cell_px, max_frames, ring, title,
                       canvas_px)
    return builder.scene


class _Builder:
    def __init__(self, sample, view, numbers, reveal, filter_, cell_px, max_frames, ring=None,
                 title=None, canvas_px=MAX_CANVAS_PX):
        self.sample, self.view, self.numbers, self.reveal = sample, view, numbers, reveal
        self.canvas_px = tuple(canvas_px)
        self.ring, self.title_text = ring, title
        spec, layer, trace = sample.spec, sample.layer, sample.trace
        self.layer, self.trace, self.kind = layer, trace, layer.trace_kind
        self.rank = spec.rank
        self.x = _channels_last(sample, sample.x).astype(np.float64)
        self.y = _channels_last(sample, sample.y).astype(np.float64)
        self.cin = self.x.shape[-1]
        self.cout = self.y.shape[-1]
        self.notices = []
        self._slots = None  # the last gather step's shared term text (_tap_slots)
        choosable = self.kind in ("conv", "transpose", "separable")
        if not choosable and filter_ != 0:
            raise ValueError(f"{spec.name} draws every channel; there is no filter to choose. "
                             f"Received: filter={filter_}")
        if not 0 <= filter_ < self.cout:
            raise ValueError(f"`filter` must be in 0..{self.cout - 1} (the layer has "
                             f"{self.cout} filters). Received: filter={filter_}")
        self.f = int(filter_)
        self.bias = (np.asarray(layer.bias, dtype=np.float64)
                     if getattr(layer, "use_bias", False) and getattr(layer, "bias", None)
                     is not None else None)
        act = getattr(layer, "activation", None)
        self.activation = (activations.serialize(act) if act is not None else "linear")
        if not isinstance(self.activation, str):
            self.activation = getattr(act, "__name__", "custom")
        self.type_px = cell_px  # the cell size asked for (presenter mode: big type)
        self.layout = _Layout(cell_px)
        self.panels = []
        self.labels = []
        self.outlines = []
        self.legend = set()
        self.legend_text = {}
        if view == "scatter":
            self._scatter()
        else:
            self._gather()
        # long values (interpolated numbers) ask for cells wide enough for 13 px digits
        longest = max((len(t) for p in self.panels for t in p.text), default=1)
        cell_px = max(cell_px, min(64, math.ceil(longest * CHAR_EM * 13 / VALUE_FILL)))
        canvas = self.layout.place(lambda c: self._fit(cell_px, c, clamp=False), cell_px)
        self.cell_px = self._fit(cell_px, canvas)
        if not numbers:
            self._drop_illegible_labels()
        every = max(1, math.ceil(16 / self.cell_px))
        f = fonts_for(self.cell_px, type_cell=self.type_px)
        for p in self.panels:
            self.labels.append((p.origin[0] - 0.5, p.origin[1] - 0.5 - (
                f["tick"] + 8 + f["title"] / 2) / self.cell_px, p.title, "title", "left"))
            if p.kind == "pointwise" or (p.kind == "bias" and prod(p.shape) > 1):
                # which intermediate map (or output channel) each weight belongs to
                self.labels.extend(t for t in _ticks(p, every, self.cell_px, self.type_px)
                                   if t[4] == "center")
            elif p.kind != "bias":
                self.labels.extend(_ticks(p, every, self.cell_px, self.type_px))
        self._gap_legend()
        max_frames = max_frames or default_max_frames(self.rank)
        frames_at = frame_indices(self.steps, max_frames)
        if len(frames_at) < self.steps:
            self.notices.append(
                f"The animation shows {len(frames_at)} of {self.steps} steps, evenly "
                "spaced.")
        wide = min_width_px(self.canvas_px)
        self.width_chars = int((max(canvas[0] * self.cell_px, wide) - 10) / f["char_px"])
        order = ["tap", "tap_pad", "padding", "inserted", "cropped", "gap", "current",
                 "patch", "written", "kept", "overlap", *sorted(r for r in self.legend
                                                    if r.startswith("group"))]
        self.scene = Scene(
            sample=sample, view=view, title=self.title_text or self._title(), panels=self.panels,
            steps=self.steps, frames_at=frames_at, cell_px=self.cell_px, canvas=canvas,
            labels=self.labels,
            outlines=[(*p.box(b), role) for p, b, role in self.outlines],
            legend=[(r, self.legend_text.get(r, LEGEND_TEXT.get(r, r))) for r in order
                    if r in self.legend],
            subtitle=self._subtitle(), notices=self.notices,
            numbers=numbers, reveal=reveal, filter=self.f, out_channels=self.cout,
            width_chars=self.width_chars, type_px=self.type_px, min_width=wide,
            _frame=self._frame_scatter if view == "scatter" else self._frame_gather,
            _boxes=self._boxes_scatter if view == "scatter" else self._boxes_gather,
            _reads=None if view == "scatter" else self._reads_gather)

    # --- helpers ----------------------------------------------------------------
    def _drop_illegible_labels(self):
        """Without numbers the kernel cells carry their tap index (``0,0,1``) and the
        window's taps a label: where cells are too small for them (3-D layers shrink to
        fit), they are left out, and a notice says where to read them."""
        f = _fonts_of(self.panels, self.cell_px, self.type_px)  # the scene's fonts
        example = None
        for p in self.panels:
            if p.kind == "kernel" and not legible(p.text, f["value"], self.cell_px):
                example = example or max(p.text, key=len)
                p.text = np.full(len(p.text), "", dtype=object)
        if example is not None:
            self.notices.append(
                f"The cells ({self.cell_px} px) are too small to write the kernel's tap "
                f"indices (such as {example}) in the kernel and under the window: hover "
                "a kernel cell to read its index, or make the input smaller for bigger "
                "cells.")

    def _fit(self, cell_px, canvas, clamp=True):
        """Cell size for a canvas of ``(columns, rows)`` cells within ``canvas_px``."""
        w, h = self.canvas_px
        size = min(cell_px, w / max(canvas[0], 1), h / max(canvas[1], 1))
        return int(max(MIN_CELL_PX, size)) if clamp else size

    def _title(self):
        from ..catalog import format_shape, keras_call

        spec = self.sample.spec
        shape = format_shape((None, *spec.input_shape[1:]))
        return f"{keras_call(spec.name, spec.arguments)} on {shape}"

    def _cap(self, n, what):
        if n > MAX_PANELS:
            self.notices.append(f"{what} 0..{MAX_PANELS - 1} of {n} are drawn; the arithmetic "
                                "lists every channel.")
        return min(n, MAX_PANELS)

    def _panel(self, key, kind, title, channel, shape, offsets, role, fill, text, hover,
               **kw):
        p = Panel(key, kind, title, channel, tuple(shape), offsets=tuple(int(v) for v in offsets),
                  role=np.asarray(role, dtype=object), fill=np.asarray(fill, dtype=object),
                  text=np.asarray(text, dtype=object),
                  hover=list(hover), **kw)
        self.panels.append(p)
        return p

    def _value_panels(self, key, kind, name, values, channels, shape, fill_role, hover_fn):
        """Panels of an N-d array per channel (outputs, intermediate maps), values written."""
        cells = all_cells(shape)
        out = []
        n = values.shape[-1]
        for c in channels:
            v = values[(*cells.T, c)]
            text = [fmt(a) for a in v] if self.numbers else [""] * len(cells)
            out.append(self._panel(
                f"{key}{c}", kind, f"{name} {c} of {n}", c, shape, np.zeros(len(shape)),
                [fill_role] * len(cells), [FILLS[fill_role]] * len(cells), text,
                [hover_fn(cell, c, a) for cell, a in zip(cells, v)]))
        return out

    def _input_panels(self, grid_shape, grid_lo, roles, coords, steps_of, group_of=None):
        """One panel per input channel over the padded (or full, when cropping) grid."""
        n_draw = self._cap(self.cin, "Input channels")
        real = roles == "real"
        src = coords // steps_of
        panels = []
        for c in range(n_draw):
            text = np.full(len(roles), "", dtype=object)
            vals = np.zeros(len(roles))
            inside = (roles == "real") | (roles == "cropped")
            vals[inside] = self.x[(*src[inside].T, c)]
            if self.numbers:
                text[:] = [fmt(v) for v in vals]
            fill = np.array([FILLS[r] for r in roles], dtype=object)
            edge = None
            title = f"input channel {c} of {self.cin}"
            if group_of is not None:
                g = group_of(c)
                fill[real] = GROUP_FILLS[g % len(GROUP_FILLS)]
                edge = GROUP_EDGES[g % len(GROUP_EDGES)]
                title += f", group {g}"
            hover = []
            for r, cc, v in zip(roles, coords, vals):
                if r == "real":
                    at = ("" if (np.asarray(steps_of) == 1).all()
                          else f" (at {coord(cc)} of the zero-inserted grid)")
                    hover.append(f"input {coord(cc // steps_of)} ch {c} = {fmt(v)}{at}")
                elif r == "cropped":
                    hover.append(f"input {coord(cc)} ch {c} = {fmt(v)}: cropped away")
                else:
                    hover.append(f"{r} {coord(cc)}: 0")
            panels.append(self._panel(f"in{c}", "input", title, c, grid_shape, grid_lo, roles,
                                      fill, text, hover, edge=edge))
            self.legend.update(r for r in set(roles) if r != "real")
        return panels

    def _kernel_panel(self, key, title, channel, weights, flip=False):
        """A kernel slice ``weights`` (kernel_size) drawn in the orientation the window uses."""
        shape = weights.shape
        cells = all_cells(shape)
        drawn = weights[tuple(slice(None, None, -1) for _ in shape)] if flip else weights
        w = drawn[tuple(cells.T)]
        if self.numbers:
            text = [fmt(a) for a in w]
        else:
            text = [",".join(str(int((n - 1 - v) if flip else v)) for v, n in zip(cc, shape))
                    for cc in cells]
        hover = [f"kernel tap {coord(tuple((n - 1 - v) if flip else v for v, n in zip(cc, shape)))}"
                 f" = {fmt(a)}" for cc, a in zip(cells, w)]
        return self._panel(key, "kernel", title, channel, shape, np.zeros(len(shape)),
                           ["kernel"] * len(cells), [FILLS["kernel"]] * len(cells), text,
                           hover, flip=flip)

    def _bias_panel(self, f):
        if self.bias is None:
            return []
        return [self._panel("bias", "bias", f"bias, filter {f}", f, (1,) * self.rank,
                            np.zeros(self.rank), ["bias"], [FILLS["bias"]],
                            [fmt(self.bias[f]) if self.numbers else "b"],
                            [f"bias[{f}] = {fmt(self.bias[f])}"])]

    def _out_hover(self, name):
        """Hover text of an output cell: its value and the input cells it reads.

        A trace is separable, so what a cell reads is the product of what each axis reads.
        """
        per_axis = []
        if self.view == "gather":
            for a in self.trace.axes:
                rows = []
                for row in a.source:
                    rows.append(cells_read(row[row >= 0]))
                per_axis.append(rows)

        def hover(cell, c, v):
            # the value only when it is on show from the start: hovering must not give away
            # a cell the student is meant to work out
            text = f"{name} {c} {coord(cell)}" + (f" = {fmt(v)}" if self.reveal else "")
            if per_axis:
                parts = [per_axis[k][int(o)] for k, o in enumerate(cell)]
                text += (" · reads only zeros" if None in parts
                         else " · reads input " + " × ".join(parts))
            return text
        return hover

    # --- gather -----------------------------------------------------------------
    def _gather(self):
        tr, layer, kind = self.trace, self.layer, self.kind
        lo = np.array([a.lo for a in tr.axes])
        space = np.array(tr.space_shape)
        hi = np.array([a.hi for a in tr.axes])
        # Grid: the padded window space, grown to the whole input where cropping.
        g0 = np.minimum(-lo, 0)          # first grid coordinate (window space)
        g1 = np.maximum(space + hi, space)
        grid_shape = tuple(int(v) for v in g1 - g0)
        self.grid_lo = -g0               # grid index = coord + grid_lo
        cells, coords, roles, steps_of = _real_roles(tr, grid_shape, self.grid_lo)
        if self.ring is not None:
            rlo = np.array([a for a, _ in self.ring])
            rhi = space - np.array([b for _, b in self.ring])
            roles[(roles == "real") & ((coords < rlo) | (coords >= rhi)).any(axis=1)] = "padding"
        self.grid_shape = grid_shape
        group_of = None
        if kind == "conv" and layer.groups > 1:
            cg = self.cin // layer.groups

            def group_of(c):
                return c // cg
        inputs = self._input_panels(grid_shape, self.grid_lo, roles, coords, steps_of,
                                    group_of)
        self.in_panels = inputs
        self.layout.add(inputs)
        if "cropped" in set(roles):
            first = np.array([-a.lo for a in tr.axes]) + self.grid_lo
            last = first + np.array(tr.out_shape) - 1
            (x0, x1), (y0, y1) = plane(np.array([first, last]), grid_shape)
            for p in inputs:  # panel-local; placed on the canvas once the layout is known
                self.outlines.append((p, (int(x0), int(y0), int(x1), int(y1)), "kept"))
            self.legend.add("kept")
        self.stage_steps = len(tr)
        self.mids = None
        if kind in ("conv", "transpose"):
            f = self.f
            if kind == "conv":
                G = layer.groups
                cg = self.cin // G
                g = f // (self.cout // G)
                self.read = list(range(g * cg, (g + 1) * cg))
                kern = [layer.kernel[..., c - g * cg, f] for c in self.read]
            else:
                self.read = list(range(self.cin))
                kern = [layer.kernel[..., f, c] for c in self.read]
            ks = [self._kernel_panel(
                f"k{c}", f"filter {f}, ch {c}" + (", flipped" if kind == "transpose"
                                                   else ""), c,
                np.asarray(w, dtype=np.float64), flip=kind == "transpose")
                for c, w in zip(self.read[:MAX_PANELS], kern[:MAX_PANELS])]
            self.kernels = dict(zip(self.read, kern))
            self.layout.add(ks + self._bias_panel(f))
            self.out_panels = self._value_panels(
                "out", "output", "output filter", self.y, range(self._cap(self.cout, "Filters")),
                tr.out_shape, "output", self._out_hover("output filter"))
            if kind == "conv" and layer.groups > 1:  # filters coloured by their group
                per = self.cout // layer.groups
                for g in range(layer.groups):
                    self.legend.add(f"group{g}")
                    self.legend_text[f"group{g}"] = (
                        f"group {g}: channels {g * cg}..{(g + 1) * cg - 1}, "
                        f"filters {g * per}..{(g + 1) * per - 1}")
                for p in [*ks, *self.out_panels]:
                    g = (p.channel // cg) if p.kind == "kernel" else (p.channel // per)
                    p.edge = GROUP_EDGES[g % len(GROUP_EDGES)]
                    if p.kind == "output":
                        p.title += f", group {g}"
            self.layout.add(self.out_panels)
            self.steps = len(tr)
        elif kind in ("depthwise", "separable"):
            m = layer.depth_multiplier
            dw = layer.kernel if kind == "depthwise" else layer.depthwise_kernel
            n_mid = self.cin * m
            self.dw = dw
            self.m = m
            drawn = range(self._cap(n_mid, "Depthwise kernels"))
            ks = [self._kernel_panel(f"k{q}", f"kernel of ch {q // m}" + (f", #{q % m}" if m > 1
                                                                         else ""), q,
                                     np.asarray(dw[..., q // m, q % m], dtype=np.float64))
                  for q in drawn]
            if kind == "depthwise":
                biases = []
                if self.bias is not None:  # one bias per output channel, in a row
                    bshape = (n_mid,) if self.rank == 1 else (1, n_mid)
                    biases = [self._panel(
                        "bias", "bias", "bias per output channel", 0, bshape,
                        np.zeros(len(bshape)), ["bias"] * n_mid, [FILLS["bias"]] * n_mid,
                        [fmt(b) if self.numbers else f"b{q}" for q, b in enumerate(self.bias)],
                        [f"bias[{q}] = {fmt(b)}" for q, b in enumerate(self.bias)])]
                self.layout.add(ks + biases)
                self.out_panels = self._value_panels(
                    "out", "output", "output channel", self.y, drawn, tr.out_shape, "output",
                    self._out_hover("output channel"))
                self.layout.add(self.out_panels)
                self.steps = len(tr)
            else:
                self.mids = self._mid_values()
                self.layout.add(ks)
                self.mid_panels = self._value_panels(
                    "mid", "intermediate", "depthwise map", self.mids, drawn, tr.out_shape,
                    "intermediate", self._out_hover("depthwise map"))
                self.layout.add(self.mid_panels)
                pw = np.asarray(layer.pointwise_kernel, dtype=np.float64).reshape(n_mid, -1)
                self.pw = pw
                f = self.f
                pshape = (n_mid,) if self.rank == 1 else (1, n_mid)
                wv = pw[:, f]
                ppanel = self._panel(
                    "pw", "pointwise", f"pointwise, filter {f}", f, pshape,
                    np.zeros(len(pshape)), ["kernel"] * n_mid, [FILLS["kernel"]] * n_mid,
                    [fmt(a) if self.numbers else f"m{q}" for q, a in enumerate(wv)],
                    [f"pointwise weight mid {q} → filter {f} = {fmt(a)}"
                                     for q, a in enumerate(wv)])
                self.layout.add([ppanel] + self._bias_panel(f))
                self.out_panels = self._value_panels(
                    "out", "output", "output filter", self.y,
                    range(self._cap(self.cout, "Filters")), tr.out_shape, "output",
                    self._out_hover("output filter"))
                self.layout.add(self.out_panels)
                self.steps = 2 * len(tr)
        else:  # crop, pad, upsample: every channel copied or interpolated on its own
            n = self._cap(self.cout, "Channels")
            self.out_panels = self._value_panels(
                "out", "output", "output channel", self.y, range(n), tr.out_shape, "output",
                self._out_hover("output channel"))
            self.layout.add(self.out_panels)
            self.steps = len(tr)
        self.legend.update(("tap", "current", "written"))
        if any(r in set(roles) for r in ("padding", "inserted")):
            self.legend.add("tap_pad")

    def _subtitle(self) -> str:
        """One sentence on what the input panels show, with the numbers filled in."""
        tr, kind, layer = self.trace, self.kind, self.layer
        pads = [tuple(int(v) for v in p) for p in tr.pads]
        if self.view == "scatter" and not self.numbers:
            return ("Each input cell adds a kernel-sized patch to the output. The numbers count "
                    "the patches written so far; the shade, how many add to each cell in the "
                    "end (darker: more, the checkerboard).")
        if self.view == "scatter":
            return ("Each input cell adds input × kernel (over every input channel) to the "
                    "output patch it covers; every output cell starts at the bias.")
        if kind == "transpose":
            s = tuple(a.step for a in tr.axes)
            text = (f"Gather view: the input {tr.in_shape} with {tuple(v - 1 for v in s)} "
                    f"zero(s) inserted between cells (strides {s}) is {tr.space_shape}, padded "
                    f"by (lo, hi) {pads} to {tr.padded_shape}; the kernel slides over it "
                    "flipped.")
            return text
        if kind == "crop":
            crops = [(-a, -b) for a, b in pads]
            return f"Cropping removes (start, end) {crops} cells per axis; the dashed box is kept."
        if kind == "pad":
            return f"Zero padding adds (start, end) {pads} zero cells per axis."
        if kind == "upsample":
            how = getattr(layer, "interpolation", "nearest")
            if how == "nearest":
                return "Each output cell copies its nearest input cell (nearest: weight 1)."
            if not self.numbers:
                return (f"Each output cell is a weighted sum of input cells ({how}); each "
                        "weight other than 1 is written in its cell (to 4 decimals). Numbers "
                        "mode (in the app, or --numbers) adds the values and the sums.")
            return (f"Each output cell is a weighted sum of input cells ({how}); each weight "
                    "is written under its cell's value (rounded to 4 decimals: ≈ marks sums "
                    "that the rounded numbers do not reproduce exactly).")
        text = ""
        if any(p != (0, 0) for p in pads):
            text = f"The input {tr.in_shape} is padded by (lo, hi) {pads} to {tr.padded_shape}. "
        if kind == "conv" and layer.groups > 1:
            g = self.f // (self.cout // layer.groups)
            text += (f"groups={layer.groups}: filter {self.f} is in group {g} and reads only "
                     f"input channels {self.read[0]}..{self.read[-1]}. ")
        if kind in ("conv", "transpose", "separable") and self.cout > 1:
            text += (f"The kernel and arithmetic of filter {self.f} of {self.cout} are drawn "
                     "(another: Filter shown in the app, --filter on the command line). ")
        if kind == "separable":
            text += ("Stage 1 (depthwise): each channel has its own kernel(s) and makes "
                     "intermediate maps; stage 2 (pointwise): a 1x1 convolution mixes them.")
        elif kind == "depthwise":
            text += "Each input channel has its own kernel(s); channels are never mixed."
        return text.strip()

    def _mid_values(self):
        """The depthwise stage's output (no bias), computed by the engine's depthwise layer."""
        import convviz

        layer, spec = self.layer, self.sample.spec
        cls = getattr(convviz, f"DepthwiseConv{spec.rank}D")
        dw = cls(kernel_size=layer.kernel_size, strides=layer.strides, padding=layer.padding,
                 depth_multiplier=layer.depth_multiplier, data_format=layer.data_format,
                 dilation_rate=layer.dilation_rate, use_bias=False)
        dw.build(spec.input_shape)
        dw.set_weights([layer.depthwise_kernel])
        return _channels_last(self.sample, dw(self.sample.x)).astype(np.float64)

    def _gap_legend(self):
        """Legend entries that depend on the frames: dilation gaps."""
        tr = self.trace
        if self.view == "gather" and any(len(tr.step(int(i)).gaps)
                                         for i in frame_indices(len(tr), 6)):
            self.legend.add("gap")

    def _tap_slots(self, st):
        """What the terms of every channel of gather step ``st`` share: the live taps,
        their source cells, which are real input cells, and each tap's cell and
        kernel-tap text (made once per step, not once per channel)."""
        if self._slots is not None and self._slots[0] is st:
            return self._slots[1]
        taps = np.flatnonzero(_live(st.weight))
        src = st.source[taps]
        real = (src >= 0).all(axis=1)
        kidx = st.kernel_index[taps]
        kernel_ok = (kidx >= 0).all(axis=1)
        transpose = self.kind == "transpose"
        cells = []
        for is_real, s, at, pad in zip(real.tolist(), src.tolist(), st.coords[taps].tolist(),
                                       st.padding[taps].tolist()):
            if is_real and transpose:  # the figure's (zero-inserted) coordinates
                cells.append(f"{_coord(at)} = input {_coord(s)}")
            elif is_real:
                cells.append(_coord(s))
            elif pad:
                cells.append(f"padding {_coord(at)}")
            else:
                cells.append(f"inserted zero {_coord(at)}")
        kernels = [_coord(k) if ok else "" for k, ok in zip(kidx.tolist(), kernel_ok.tolist())]
        slots = (taps, src, real, cells, kernels)
        self._slots = (st, slots)
        return slots

    def _tap_terms(self, st, c, weights, stage, out_c):
        """Terms of channel ``c`` over the taps of gather step ``st``; ``weights`` is the
        weight of every slot of the step (its kernel's tap, or its interpolation weight)."""
        taps, src, real, cells, kernels = self._tap_slots(st)
        if not taps.size:
            return []
        values = np.zeros(len(taps))
        if real.any():
            values[real] = self.x[(*src[real].T, c)]
        return [Term(stage, c, out_c, cell, v, w, k, v * w)
                for cell, v, w, k in zip(cells, values.tolist(),
                                         np.asarray(weights, dtype=float)[taps].tolist(),
                                         kernels)]

    def _sum(self, label, out_c, terms, bias, value):
        chans = []
        for t in terms:
            if t.channel not in chans:
                chans.append(t.channel)
        by_channel = tuple((c, float(sum(t.product for t in terms if t.channel == c)))
                           for c in chans)
        total = float(sum(v for _, v in by_channel))
        return Sum(label, out_c, by_channel, total, bias, self.activation, float(value))

    def _gather_geometry(self, i):
        """Step ``i``'s trace step and what it outlines: ``(phase, st, keep, grid, on_pad,
        boxes)``. Everything a frame outlines, and nothing it writes (no terms, sums or
        text), so the player's hover links (:meth:`Scene.boxes`) cost no arithmetic."""
        tr = self.trace
        n = len(tr)
        phase = 0
        j = i
        if self.kind == "separable" and i >= n:
            phase, j = 1, i - n
        st = tr.step(j)
        o = st.out_index
        boxes = {k: ([], []) for k in ("tap", "tap_pad", "gap", "current")}
        keep = _live(st.weight)
        grid = st.coords[keep] + self.grid_lo
        on_pad = (st.padding | st.inserted)[keep]
        if self.ring is not None:  # cells a ZeroPadding before the layer added
            flat = np.ravel_multi_index(tuple(grid.T), self.grid_shape)
            on_pad = on_pad | (self.in_panels[0].role[flat] == "padding")

        def add(role, p, g):
            x, y = p.xy(np.asarray(g).reshape(-1, self.rank))
            boxes[role][0].extend(x.tolist())
            boxes[role][1].extend(y.tolist())

        def window_on(p):
            add("tap", p, grid[~on_pad])
            add("tap_pad", p, grid[on_pad])
            if len(st.gaps):
                add("gap", p, st.gaps + self.grid_lo)

        kind = self.kind
        if phase == 1:  # separable, pointwise stage: the mid cell in, the output cell out
            for p in self.mid_panels:
                add("tap", p, [o])
            target = self.out_panels
        else:
            for p in self.in_panels:
                if kind not in ("conv", "transpose") or p.channel in self.read:
                    window_on(p)
            target = self.mid_panels if kind == "separable" else self.out_panels
        for p in target:
            add("current", p, [o])
        return phase, st, keep, grid, on_pad, {
            k: (np.array(v[0]), np.array(v[1])) for k, v in boxes.items()}

    def _boxes_gather(self, i):
        return self._gather_geometry(i)[-1]

    def _reads_gather(self):
        """Every step's written and read cells as canvas ``(x, y)``: the cells a frame
        outlines ``current`` and ``tap``/``tap_pad`` (see :meth:`_gather_geometry`), for
        all steps at once from the trace's per-axis arrays, without making a step."""
        tr, r = self.trace, self.rank
        n = len(tr)
        flat, weight = np.zeros((), dtype=np.int64), np.ones(())
        strides = np.cumprod((*self.grid_shape[1:], 1)[::-1])[::-1]
        for k, a in enumerate(tr.axes):  # (out_0, .., out_r-1, taps_0, .., taps_r-1)
            shape = [1] * (2 * r)
            shape[k], shape[r + k] = a.coords.shape
            flat = flat + ((a.coords + self.grid_lo[k]) * strides[k]).reshape(shape)
            weight = weight * a.weight.reshape(shape)
        flat = np.broadcast_to(flat, weight.shape).reshape(n, -1)
        live = _live(weight).reshape(n, -1)
        kind = self.kind
        readers = [p for p in self.in_panels
                   if kind not in ("conv", "transpose") or p.channel in self.read]
        for p in readers:
            assert tuple(p.shape) == tuple(self.grid_shape), (p.shape, self.grid_shape)
        cells = all_cells(self.grid_shape)
        read_xy = [p.xy(cells) for p in readers]
        out_cells = all_cells(tr.out_shape)
        target = self.mid_panels if kind == "separable" else self.out_panels
        out_xy = [p.xy(out_cells) for p in target]
        steps = []
        for i in range(n):
            f = flat[i][live[i]]
            steps.append((np.concatenate([x[i:i + 1] for x, _ in out_xy]),
                          np.concatenate([y[i:i + 1] for _, y in out_xy]),
                          np.concatenate([x[f] for x, _ in read_xy]),
                          np.concatenate([y[f] for _, y in read_xy])))
        if kind == "separable":  # the pointwise stage reads the mid cell, writes the output
            mid = [p.xy(out_cells) for p in self.mid_panels]
            out = [p.xy(out_cells) for p in self.out_panels]
            for i in range(n):
                steps.append(tuple(np.concatenate([xy[j][i:i + 1] for xy in group])
                                   for group in (out, mid) for j in (0, 1)))
        return steps

    def _frame_gather(self, i):
        phase, st, keep, grid, on_pad, boxes = self._gather_geometry(i)
        o = st.out_index
        texts = ([], [], [])
        terms, sums = [], []
        kind = self.kind
        out_label = f"out{coord(o)}"

        if phase == 0:
            if kind in ("conv", "transpose"):
                read = self.read
                for c in read:
                    w = self.kernels[c]
                    terms += self._tap_terms(st, c, w[tuple(st.kernel_index.T)],
                                             "taps", self.f)
                b = None if self.bias is None else float(self.bias[self.f])
                sums.append(self._sum(f"{out_label} filter {self.f}", self.f, terms, b,
                                      self.y[(*o, self.f)]))
            elif kind in ("depthwise", "separable"):
                m = self.m
                values = self.y if kind == "depthwise" else self.mids
                for q in range(self.cin * m):
                    w = self.dw[..., q // m, q % m]
                    qt = self._tap_terms(st, q // m, w[tuple(st.kernel_index.T)],
                                         "taps" if kind == "depthwise" else "depthwise", q)
                    terms += qt
                    b = (float(self.bias[q]) if kind == "depthwise" and self.bias is not None
                         else None)
                    name = "ch" if kind == "depthwise" else "mid"
                    s = self._sum(f"{out_label} {name} {q}", q, qt, b, values[(*o, q)])
                    sums.append(Sum(s.label, q, s.by_channel, s.total, b,
                                    self.activation if kind == "depthwise" else "linear",
                                    s.value))
            else:
                stage = "interpolate" if kind == "upsample" else "copy"
                for c in range(self.cout):
                    ct = self._tap_terms(st, c, st.weight, stage, c)
                    terms += ct
                    sums.append(self._sum(f"{out_label} ch {c}", c, ct, None,
                                          self.y[(*o, c)]))
                if kind == "upsample" and (st.weight[keep] != 1).any():
                    for p in self.in_panels:  # the interpolation weights, under the values
                        x, y = p.xy(grid)
                        texts[0].extend(x.tolist())
                        texts[1].extend((y + TAP_LABEL_DY).tolist())
                        texts[2].extend(fmt(w) for w in st.weight[keep])
        else:  # separable, pointwise stage
            f = self.f
            for q in range(self.cin * self.m):
                w = float(self.pw[q, f])
                v = float(self.mids[(*o, q)])
                terms.append(Term("pointwise", q, f, f"mid {q} {coord(o)}", v, w, "", v * w))
            b = None if self.bias is None else float(self.bias[f])
            sums.append(self._sum(f"{out_label} filter {f}", f, terms, b, self.y[(*o, f)]))
        if not self.numbers and kind not in ("upsample",):
            # label the taps with their kernel index (the picture has no values to cover)
            read = getattr(self, "read", None)
            if phase == 0 and (st.kernel_index[keep] >= 0).all():
                for p in self.in_panels:
                    if read is not None and p.channel not in read:
                        continue
                    x, y = p.xy(grid)
                    texts[0].extend(x.tolist())
                    texts[1].extend(y.tolist())
                    texts[2].extend(",".join(str(int(v)) for v in k)
                                    for k in st.kernel_index[keep])

        covers, tints = self._progress(o, phase)
        caption = self._caption(i, st, phase, on_pad)
        arithmetic = []
        for s in sums[:MAX_PANELS]:
            arithmetic += sum_lines(s, terms, self.width_chars)
        if len(sums) > MAX_PANELS:
            arithmetic.append(f"... and {len(sums) - MAX_PANELS} more channels (explain table)")
        return Frame(i, caption, boxes,
                     covers, tints, tuple(np.array(t) if k < 2 else tuple(t)
                                          for k, t in enumerate(texts)),
                     "tap", tuple(terms), tuple(sums), tuple(arithmetic))

    def _progress(self, o, phase):
        """Covers over unwritten cells and tints over written ones, for the current stage."""
        covers, tints = [], []
        shape = self.trace.out_shape
        stages = [self.out_panels] if self.mids is None else [self.mid_panels, self.out_panels]
        for k, panels in enumerate(stages):
            if len(stages) == 2 and k != phase:
                if k > phase and not self.reveal:  # a later stage: nothing written yet
                    for p in panels:
                        cols, rows = p.size
                        covers.append(p.box((0, 0, cols - 1, rows - 1)))
                continue
            # the same local boxes on every panel of the stage, each at its own origin
            after = [] if self.reveal else _order_boxes(o, shape, after=True)
            before = _order_boxes(o, shape, after=False)
            for p in panels:
                covers += [p.box(b) for b in after]
                tints += [p.box(b) for b in before]
        return covers, tints

    def _caption(self, i, st, phase, on_pad):
        head = step_label(i, self.steps)
        n_real = int((~on_pad).sum()) if phase == 0 else self.cin * getattr(self, "m", 1)
        o = coord(st.out_index)
        if self.kind == "separable":
            stage = ("depthwise stage: each channel's window makes the intermediate maps"
                     if phase == 0 else "pointwise stage: a 1x1 mix of the intermediate maps")
            return f"{head}: {stage}; cell {o}"
        what = {"crop": "copies", "pad": "copies", "upsample": "interpolates"}.get(
            self.kind, "reads")
        return (f"{head}: output {o} {what} {n_real} input cell{'s' * (n_real != 1)} "
                "per channel")

    # --- scatter ----------------------------------------------------------------
    def _scatter(self):
        layer = self.layer
        sc = layer.trace(self.sample.spec.input_shape, view="scatter")
        self.sc = sc
        ishape = sc.in_shape
        cells = all_cells(ishape)
        roles = np.array(["real"] * len(cells), dtype=object)
        self.grid_lo = np.zeros(self.rank, dtype=int)
        self.in_panels = self._input_panels(ishape, np.zeros(self.rank), roles, cells,
                                            np.ones(self.rank, dtype=int))
        self.layout.add(self.in_panels)
        f = self.f
        self.read = list(range(self.cin))
        kern = {c: np.asarray(layer.kernel[..., f, c], dtype=np.float64) for c in self.read}
        self.kernels = kern
        ks = [self._kernel_panel(f"k{c}", f"filter {f}, ch {c}", c, kern[c])
              for c in self.read[:MAX_PANELS]]
        self.layout.add(ks + self._bias_panel(f))
        # Running values: the output starts at the bias and every input cell adds its patch.
        oshape = sc.out_shape
        n_out = self._cap(self.cout, "Filters")
        contrib = np.zeros((len(sc), prod(oshape), n_out))
        writes = np.zeros((len(sc), prod(oshape)), dtype=np.int64)  # patches per cell, per step
        for i in range(len(sc)):
            st = sc.step(i)
            xin = self.x[st.in_index]  # (Cin,)
            w = np.asarray(layer.kernel, dtype=np.float64)[tuple(st.kernel_index.T)]  # K,F,C
            vals = w[:, :n_out, :] @ xin  # (K, n_out)
            ok = st.inside
            flat = np.ravel_multi_index(tuple(st.out_coords[ok].T), oshape)
            np.add.at(contrib[i], flat, vals[ok])
            np.add.at(writes[i], flat, 1)
        start = (np.zeros(n_out) if self.bias is None else self.bias[:n_out])
        self.running = start[None, None, :] + np.cumsum(contrib, axis=0)
        self.writes = np.cumsum(writes, axis=0)
        self.start = start
        # Shade: how many patches add to each output cell in the end (the checkerboard when
        # the kernel size is not a multiple of the stride).
        count = sc.overlap_count().reshape(-1)
        shade = overlap_fills(count)
        outs = []
        ocells = all_cells(oshape)
        for c in range(n_out):
            outs.append(self._panel(
                f"out{c}", "output", f"output filter {c} of {self.cout}", c, oshape,
                np.zeros(self.rank), ["output"] * len(ocells), shade,
                [""] * len(ocells),
                [f"output {coord(cc)} filter {c}"
                 + (f" = {fmt(v)} at the end" if self.reveal else "")  # not the answer
                 + f"; {n} patch{'es add' if n != 1 else ' adds'} to it"
                 for cc, v, n in zip(ocells, self.y[(*ocells.T, c)], count)]))
        self.out_panels = outs
        self.layout.add(outs)
        self.steps = len(sc)
        self.legend.update(("current", "patch", "written", "overlap"))
        self.legend_text = {"current": "input cell being scattered",
                            "written": "input cells already scattered"}

    def _boxes_scatter(self, i, st=None):
        """What scatter step ``i`` outlines: the input cell, and the patch it paints."""
        st = self.sc.step(i) if st is None else st
        boxes = {k: ([], []) for k in ("current", "patch", "tap")}

        def add(role, p, g):
            x, y = p.xy(np.asarray(g).reshape(-1, self.rank))
            boxes[role][0].extend(x.tolist())
            boxes[role][1].extend(y.tolist())

        for p in self.in_panels:
            add("current", p, [st.in_index])
        for p in self.out_panels:
            if p.channel == self.f:
                add("patch", p, st.out_coords[st.inside])
        return {k: (np.array(v[0]), np.array(v[1])) for k, v in boxes.items()}

    def _frame_scatter(self, i):
        sc = self.sc
        st = sc.step(i)
        boxes = self._boxes_scatter(i, st)
        ok = st.inside
        # running values of every drawn output channel (final ones when revealed)
        tx, ty, tt = [], [], []
        ocells = all_cells(sc.out_shape)
        vals = self.running[i] if not self.reveal else self.running[-1]
        for p in self.out_panels:
            x, y = p.xy(ocells)
            tx += x.tolist()
            ty += y.tolist()
            if self.numbers:
                tt += [fmt(v) for v in vals[:, p.channel]]
            else:  # geometry only: how many patches have written each cell so far
                done = self.writes[i] if not self.reveal else self.writes[-1]
                tt += [str(int(n)) for n in done]
        # arithmetic: what this input cell adds to each patch cell of the shown filter
        terms, lines = [], []
        f = self.f
        xin = self.x[st.in_index]
        before = self.running[i - 1] if i else np.broadcast_to(self.start, self.running[0].shape)
        for kidx, oc, inside in zip(st.kernel_index, st.out_coords, st.inside):
            if not inside:
                continue
            parts = []
            for c in self.read:
                w = float(self.kernels[c][tuple(kidx)])
                v = float(xin[c])
                terms.append(Term("scatter", c, f, f"input {coord(st.in_index)} → out "
                                  f"{coord(oc)}", v, w, coord(kidx), v * w))
                parts.append(_term_text(terms[-1]))
            flat = int(np.ravel_multi_index(tuple(oc), sc.out_shape))
            if f < self.running.shape[-1]:
                lines.append(f"out{coord(oc)} = {fmt(before[flat, f])} + " + " + ".join(parts)
                             + f" = {fmt(self.running[i][flat, f])}")
        lines = _wrap(lines[:12], self.width_chars) + (
            [f"... {len(lines) - 12} more patch cells (explain table)"] if len(lines) > 12
            else [])
        if i == 0:
            lines.insert(0, "every output cell starts at the bias "
                         f"({fmt(self.start[f]) if f < len(self.start) else '0'})")
        cropped = int((~ok).sum())
        extra = f" ({cropped} more cropped away by the padding)" if cropped else ""
        n_in = int(ok.sum())
        caption = (f"{step_label(i, self.steps)}: input {coord(st.in_index)} adds to "
                   f"{n_in} output cell{'s' * (n_in != 1)} of filter {f}{extra}")
        covers, tints = [], []
        for p in self.in_panels:
            tints += [p.box(b) for b in _order_boxes(st.in_index, sc.in_shape, after=False)]
        return Frame(i, caption, boxes,
                     covers, tints, (np.array(tx), np.array(ty), tuple(tt)), "value",
                     tuple(terms), (), tuple(lines))

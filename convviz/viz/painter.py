"""The matplotlib painter of a scene: the frames of the GIF, PNG and MP4 exports.

What every frame shows is decided once, by :mod:`convviz.viz.scene`;
:class:`ScenePainter` only paints that scene, as the browser's step player
(:mod:`convviz.viz.player`) does in the app and in the HTML export. Figures are plain
:class:`matplotlib.figure.Figure` objects on a ``FigureCanvasAgg``: pyplot and its global
state are never touched. The encoders that turn its frames into files are
:mod:`convviz.export`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.transforms import IdentityTransform

from . import scene as sc
from .scene import BOX_ROLES

#: Resolution of the figures: small, so GIFs stay small.
DPI = 80


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


def _pt(px: float) -> float:
    """Pixels to points at :data:`DPI` (matplotlib sizes text in points)."""
    return px * 72 / DPI


class Stamps:
    """Short centred texts (the cells' numbers) as pixels, drawn by matplotlib once each.

    A big picture's GIF writes thousands of numbers per frame, and a matplotlib ``Text``
    costs about a millisecond to make, lay out and draw: nearly all of a GIF's time. Here
    each distinct text, size and sub-pixel position is drawn once, by the same Agg
    renderer and font as the rest of the figure (its glyphs are placed to 1/64 px, so the
    sub-pixel position is part of the key), as a coverage mask; painting it is a blend of
    the text's colour into the frame by that mask: what drawing the ``Text`` does.
    """

    def __init__(self, dpi: float = DPI):
        self.dpi = dpi
        self.masks: dict[tuple, tuple[int, int, np.ndarray] | None] = {}

    def mask(self, text: str, size: float, fx: float, fy: float):
        """``(dx, dy, coverage)``: the text centred at display point ``(fx, fy)`` (each in
        [0, 1)) covers ``coverage`` (float, 0-1) from pixel column ``dx``, row ``dy``
        (rows down from the point's row); None for a text that draws nothing."""
        key = (text, size, fx, fy)
        if key not in self.masks:
            self.masks[key] = self._draw(text, size, fx, fy)
        return self.masks[key]

    def _draw(self, text: str, size: float, fx: float, fy: float):
        px = size * self.dpi / 72
        w, h = int((len(text) + 2) * px) + 16, int(3 * px) + 16
        fig = Figure(figsize=(w / self.dpi, h / self.dpi), dpi=self.dpi, facecolor="none")
        canvas = FigureCanvasAgg(fig)
        ox, oy = w // 2, h // 2
        fig.text(ox + fx, oy + fy, text, transform=IdentityTransform(), ha="center",
                 va="center", fontsize=size, color="black")
        canvas.draw()
        cover = np.asarray(canvas.buffer_rgba())[..., 3]
        rows, cols = np.nonzero(cover)
        if not len(rows):
            return None
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        # the point (ox + fx, oy + fy) is in pixel row h - 1 - oy (rows count down)
        return (int(c0 - ox), int(r0 - (h - 1 - oy)),
                cover[r0:r1, c0:c1].astype(np.float32) / 255)

    def paint(self, image: np.ndarray, xy: np.ndarray, texts, size: float, color,
              clip: tuple[int, int, int, int]) -> None:
        """Blend ``texts`` centred at display points ``xy`` (``(N, 2)``, y up, as
        ``transData`` gives them) into ``image`` (RGB or RGBA ``uint8``, top row first),
        within pixel box ``clip`` ``(col0, row0, col1, row1)``, in ``color`` (RGB 0-1)."""
        height = image.shape[0]
        rgb = np.asarray(color[:3], dtype=np.float32) * 255
        ix, iy = np.floor(xy[:, 0]), np.floor(xy[:, 1])
        fxs, fys = xy[:, 0] - ix, xy[:, 1] - iy
        c0, r0, c1, r1 = clip
        for t, x, y, fx, fy in zip(texts, ix.astype(int), iy.astype(int), fxs, fys):
            if not t:
                continue
            m = self.mask(t, size, float(fx), float(fy))
            if m is None:
                continue
            dx, dy, cover = m
            top, left = height - 1 - y + dy, x + dx
            bottom, right = top + cover.shape[0], left + cover.shape[1]
            a, b = max(top, r0), min(bottom, r1)
            c, d = max(left, c0), min(right, c1)
            if a >= b or c >= d:
                continue
            alpha = cover[a - top:b - top, c - left:d - left, None]
            region = image[a:b, c:d, :3]
            region[...] = np.rint(region + (rgb - region) * alpha).astype(np.uint8)


class ScenePainter:
    """The matplotlib painter of a :class:`~convviz.viz.scene.Scene` (it decides nothing).

    The static part (cells, values, titles, ticks, outlines, key) is drawn once; each
    frame restores it and draws only the frame's tints, covers, boxes, labels and text.
    The cells' numbers (the static values and each frame's labels, thousands in a big
    picture) are painted as :class:`Stamps`: :meth:`values` and :meth:`labels` say what
    is written where, :meth:`artists` the rest of a frame.
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
        self.stamps = Stamps(DPI)
        self._stamp(np.asarray(self.canvas.buffer_rgba()), self.values())
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def __len__(self) -> int:
        return self.scene.steps

    def _static(self):
        ax, scene = self.ax, self.scene
        x, y, fill, text, _, _ = scene.cells
        ax.add_collection(PolyCollection(_boxes(x, y), facecolors=list(fill),
                                         edgecolors="white", linewidths=1.0))
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
        self._stamp(image, self.labels(int(i)))
        return image

    def values(self) -> tuple:
        """``(x, y, texts, size_pt, colour)``: the static cells' numbers."""
        x, y, _, text, _, _ = self.scene.cells
        return x, y, text, _pt(self.fonts["value"]), sc.TEXT

    def labels(self, i: int) -> tuple:
        """``(x, y, texts, size_pt, colour)``: the numbers step ``i`` writes on cells."""
        fr = self.scene.frame(i)
        small = fr.text_kind == "tap"
        tx, ty, tt = fr.texts
        return (tx, ty, tt, _pt(self.fonts["tap" if small else "value"]),
                sc.TAP_TEXT if small else sc.TEXT)

    def _stamp(self, image: np.ndarray, what: tuple) -> None:
        """Paint ``what`` (:meth:`values` or :meth:`labels`) into ``image``, centred on
        their cells as ``ax.text(x, y, t, ha="center", va="center")`` would, clipped to
        the axes as that ``Text`` is."""
        x, y, texts, size, color = what
        if not len(texts):
            return
        xy = self.ax.transData.transform(np.column_stack(
            [np.asarray(x, dtype=float), np.asarray(y, dtype=float)]))
        x0, y0, x1, y1 = self.ax.bbox.extents
        height = image.shape[0]
        clip = (int(np.floor(x0)), int(np.floor(height - y1)), int(np.ceil(x1)),
                int(np.ceil(height - y0)))
        self.stamps.paint(image, xy, texts, size, to_rgba(color), clip)


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

"""Plotly figure builders driven by a :class:`~convviz.trace.Trace` (no streamlit here).

Every N-d coordinate is drawn on a 2-D grid: rank 1 is one row, rank 2 is the
image plane, and rank 3 tiles the depth slices side by side (the depth-slice
view), so one builder serves every rank.  Frames only carry what changes (the
window, the gaps, the current output cell and the written/unwritten threshold),
never the whole grid.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..geometry import prod

#: Most animation frames a figure carries; longer traces are subsampled evenly.
MAX_FRAMES = 300

COLORS = {
    "cell": "#f4f6fb",
    "padding": "#c9ced6",
    "inserted": "#fff3c4",
    "window": "#f28e2b",
    "window_pad": "#b07aa1",
    "gap": "#e15759",
    "written": "#4e79a7",
    "unwritten": "#ffffff",
    "current": "#f28e2b",
    "grid": "#8a94a6",
}

LEGEND = [
    ("window tap on an input cell", COLORS["window"]),
    ("window tap on padding", COLORS["window_pad"]),
    ("padding cell (zero)", COLORS["padding"]),
    ("inserted zero (transposed conv)", COLORS["inserted"]),
    ("dilation gap (skipped)", COLORS["gap"]),
    ("output cell being written", COLORS["current"]),
    ("output already written", COLORS["written"]),
]


class AnimatedFigure(go.Figure):
    """A ``go.Figure`` whose animation frames stay plain dicts.

    Validating hundreds of frames through plotly's object model costs seconds; the
    frames built here are already valid JSON, so they are attached raw and only
    merged in by :meth:`to_dict` (which Streamlit, ``to_json`` and ``to_html`` use).
    """

    def __init__(self, *args, raw_frames=(), parts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._raw_frames = raw_frames if isinstance(raw_frames, list) else list(raw_frames)
        self._parts = parts

    def at_step(self, step: int) -> AnimatedFigure:
        """A copy showing ``step`` before playing (frames shared, not rebuilt)."""
        fig = AnimatedFigure(go.Figure.to_dict(self), raw_frames=self._raw_frames,
                             parts=self._parts)
        if self._parts is None:
            return fig
        label, shapes = self._parts(int(step))
        fig.data[2].update(x=label["x"], y=label["y"], text=label["text"])
        fig.layout.shapes = shapes
        names = np.array([int(f["name"]) for f in self._raw_frames])
        if len(names):
            fig.layout.sliders[0].active = int(np.abs(names - step).argmin())
        return fig

    @property
    def raw_frames(self) -> list[dict]:
        return self._raw_frames

    def to_dict(self):
        d = super().to_dict()
        if self._raw_frames:
            d["frames"] = self._raw_frames
        return d


def _raw_frame(i, label, shapes):
    data = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in label.items()}
    return {"name": str(int(i)), "traces": [2], "data": [dict(type="scatter", **data)],
            "layout": {"shapes": shapes}}


def frame_indices(steps: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Steps shown as frames: all of them, or ``max_frames`` evenly spaced.

    Frame ``k`` shows step ``round(k * (steps - 1) / (max_frames - 1))`` (half up, in exact
    integer arithmetic), so the first and last steps are always kept and the Plotly
    animation and the exported GIF show the same steps.

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
    # The spacing is >= 1, so the steps are distinct.
    return (2 * k * (n - 1) + (m - 1)) // (2 * (m - 1))


def plane(coords: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """Map ``(M, rank)`` grid coordinates (0-based in ``shape``) to plot ``(x, y)``.

    Rank 1: ``x = i, y = 0``; rank 2: ``x = col, y = row``; rank 3: depth slices side
    by side, ``x = d*(W+1) + w, y = h``.
    """
    coords = np.asarray(coords).reshape(-1, len(shape))
    if len(shape) == 1:
        return coords[:, 0], np.zeros(len(coords), dtype=int)
    if len(shape) == 2:
        return coords[:, 1], coords[:, 0]
    return coords[:, 0] * (shape[2] + 1) + coords[:, 2], coords[:, 1]


def _all_cells(shape) -> np.ndarray:
    return np.stack(np.unravel_index(np.arange(prod(shape)), shape), axis=-1)


def _fmt(v) -> str:
    if v is None or not np.isfinite(v):
        return ""
    return f"{v:.0f}" if float(v).is_integer() and abs(v) < 1e4 else f"{v:.2g}"


def _coord_text(c) -> str:
    return "(" + ", ".join(str(int(v)) for v in c) + ")"


def _canvas(shape) -> tuple[int, int]:
    """(rows, cols) of the 2-D plot plane of a grid of ``shape``."""
    x, y = plane(np.array([np.array(shape) - 1]), shape)
    return int(y[0]) + 1, int(x[0]) + 1


#: Widest figure (pixels of grid) before cells shrink below the requested size.
MAX_GRID_PX = 1100


def fit_cell(cell_px: int, *shapes) -> int:
    """Cell size in pixels: ``cell_px``, shrunk (not below 10) so the grids fit MAX_GRID_PX."""
    cols = sum(_canvas(s)[1] for s in shapes) + 2
    return int(max(10, min(cell_px, MAX_GRID_PX // cols)))


def _heatmap(cells, shape, z, text, hover, colorscale, *, zmin=None, zmax=None,
             showscale=False, colorbar=None, font=12) -> go.Heatmap:
    """A heatmap of per-cell values placed by :func:`plane` (tiles separated by gaps)."""
    rows, cols = _canvas(shape)
    Z = np.full((rows, cols), np.nan)
    T = np.full((rows, cols), "", dtype=object)
    H = np.full((rows, cols), "", dtype=object)
    x, y = plane(cells, shape)
    Z[y, x], T[y, x], H[y, x] = z, text, hover
    return go.Heatmap(z=Z, text=T, hovertext=H, hoverinfo="text", texttemplate="%{text}",
                      colorscale=colorscale, zmin=zmin, zmax=zmax, showscale=showscale,
                      colorbar=colorbar, xgap=1, ygap=1, textfont=dict(size=font))


def _rect(x, y, ref, color, width=3, fill="rgba(0,0,0,0)", dash=None):
    x, y = float(x), float(y)
    return dict(type="rect", xref=f"x{ref}", yref=f"y{ref}", x0=x - 0.5, x1=x + 0.5,
                y0=y - 0.5, y1=y + 0.5, line=dict(color=color, width=width, dash=dash),
                fillcolor=fill, layer="above")


def _written_shapes(i, oshape, ref):
    """Row-major cells before step ``i`` as at most ``rank`` filled rectangles."""
    o = np.unravel_index(i, oshape)
    fill = "rgba(78,121,167,0.45)"
    shapes = []
    for k in range(len(oshape)):
        # cells that agree with o on axes < k and are smaller on axis k
        if o[k] == 0:
            continue
        lo_cell = list(o[:k]) + [0] + [0] * (len(oshape) - k - 1)
        hi_cell = list(o[:k]) + [o[k] - 1] + [n - 1 for n in oshape[k + 1:]]
        (x0, x1), (y0, y1) = (plane(np.array([lo_cell, hi_cell]), oshape))
        shapes.append(dict(type="rect", xref=f"x{ref}", yref=f"y{ref}", x0=float(x0) - 0.5,
                           x1=float(x1) + 0.5, y0=float(y0) - 0.5, y1=float(y1) + 0.5,
                           line=dict(width=0),
                           fillcolor=fill, layer="above"))
    return shapes


def _tap_labels(st, lo, pshape, kernel_values=None):
    """Label of every tap: ``×w`` (numbers mode), ``k i,j`` (kernel tap) or the weight."""
    keep = st.weight != 0
    x, y = plane(st.coords[keep] + lo, pshape)
    labels = []
    for kidx, w in zip(st.kernel_index[keep], st.weight[keep]):
        if (kidx < 0).any():
            labels.append(f"×{w:.3g}")
        elif kernel_values is not None:
            labels.append("×" + _fmt(kernel_values[tuple(kidx)]))
        else:
            labels.append("k" + ",".join(str(int(v)) for v in kidx))
    return x, y, labels, keep


def _frame_parts(trace, i, lo, pshape, oshape, kernel_values=None, cell=36):
    """(label trace kwargs, shapes) of one gather step."""
    st = trace.step(i)
    x, y, labels, keep = _tap_labels(st, lo, pshape, kernel_values)
    on_pad = (st.padding | st.inserted)[keep]
    shapes = [_rect(xi, yi, "", COLORS["window_pad"] if p else COLORS["window"])
              for xi, yi, p in zip(x, y, on_pad)]
    if len(st.gaps):
        gx, gy = plane(st.gaps + lo, pshape)
        shapes += [_rect(a, b, "", COLORS["gap"], width=2, dash="dot",
                         fill="rgba(225,87,89,0.25)") for a, b in zip(gx, gy)]
    shapes += _written_shapes(i, oshape, "2")
    cx, cy = plane(np.array([st.out_index]), oshape)
    shapes.append(_rect(cx[0], cy[0], "2", COLORS["current"], width=4))
    label = dict(x=x, y=np.asarray(y) + 0.3, text=labels, mode="text",
                 textfont=dict(size=max(7, cell // 4), color="#7a3d00"), hoverinfo="skip")
    return label, shapes


def animation_figure(trace, in_values=None, out_values=None, *, kernel_values=None,
                     start: int = 0, max_frames: int = MAX_FRAMES, duration_ms: int = 500,
                     cell_px: int = 36, title: str | None = None) -> AnimatedFigure:
    """Animated input/output grids of a gather trace: one frame per (sampled) step.

    Parameters
    ----------
    trace : convviz.trace.Trace
    in_values : ndarray, shape ``trace.in_shape``, optional
        Numbers drawn in the real input cells (numbers mode).
    kernel_values : ndarray, shape ``kernel_size``, optional
        Kernel weights drawn as ``×w`` on the taps (numbers mode).
    out_values : ndarray, shape ``trace.out_shape``, optional
        Numbers drawn in the output cells.
    start : int
        Step shown before the animation plays (the current step).
    cell_px : int
        Size of one cell in pixels (presenter mode enlarges it).
    """
    pshape, oshape = trace.padded_shape, trace.out_shape
    cell = fit_cell(cell_px, pshape, oshape)
    font = max(7, cell // 3)
    lo = np.array([a.lo for a in trace.axes])
    space = np.array(trace.space_shape)
    steps_of = np.array([a.step for a in trace.axes])

    cells = _all_cells(pshape)
    wc = cells - lo
    padding = ((wc < 0) | (wc >= space)).any(axis=1)
    inserted = ~padding & (wc % steps_of != 0).any(axis=1)
    real = ~padding & ~inserted
    category = np.where(padding, 1, np.where(inserted, 2, 0))
    text_in = np.full(len(cells), "", dtype=object)
    if in_values is not None:
        src = wc[real] // steps_of
        text_in[real] = [_fmt(v) for v in np.asarray(in_values)[tuple(src.T)]]
        text_in[~real] = "0"
    hover_in = [
        f"input {_coord_text(c // steps_of)}" if r
        else ("padding " if p else "inserted zero ") + _coord_text(c)
        for c, r, p in zip(wc, real, padding)
    ]
    ocells = _all_cells(oshape)
    text_out = np.full(len(ocells), "", dtype=object)
    if out_values is not None:
        text_out[:] = [_fmt(v) for v in np.asarray(out_values).reshape(-1)]

    frames_at = frame_indices(len(trace), max_frames)
    start = int(np.clip(start, 0, len(trace) - 1))
    if start not in frames_at:
        frames_at = np.unique(np.append(frames_at, start))

    ic, ocol = _canvas(pshape)[1], _canvas(oshape)[1]
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.08, column_widths=[ic, ocol],
        subplot_titles=(_panel_title("input", trace, pshape), f"output {tuple(oshape)}"),
    )
    scale = [[0, COLORS["cell"]], [0.5, COLORS["padding"]], [1, COLORS["inserted"]]]
    fig.add_trace(_heatmap(cells, pshape, category, text_in, hover_in, scale, zmin=0, zmax=2,
                           font=font), row=1, col=1)
    fig.add_trace(_heatmap(ocells, oshape, np.zeros(len(ocells)), text_out,
                           _output_hover(trace, ocells),
                           [[0, COLORS["unwritten"]], [1, COLORS["unwritten"]]], font=font),
                  row=1, col=2)
    def parts(i):
        return _frame_parts(trace, i, lo, pshape, oshape, kernel_values, cell)

    label, shapes = parts(start)
    fig.add_trace(go.Scatter(**label, showlegend=False), row=1, col=1)
    fig.update_layout(shapes=shapes)
    fig = AnimatedFigure(fig, raw_frames=[_raw_frame(i, *parts(int(i))) for i in frames_at],
                         parts=parts)
    _animate_controls(fig, frames_at, start, duration_ms)
    _style_axes(fig, pshape, oshape, lo, cell, title)
    return fig


def _panel_title(name, trace, pshape):
    pads = trace.pads
    if any(p != (0, 0) for p in pads) and all(lo >= 0 and hi >= 0 for lo, hi in pads):
        return f"{name}, padded to {tuple(pshape)}; (lo, hi) pads {list(pads)}"
    return f"{name} {tuple(pshape)}"


def _ranges(values) -> str:
    """``[0, 1, 2, 5]`` -> ``"0..2, 5"``."""
    values = sorted(int(v) for v in values)
    if not values:
        return "-"
    parts, first, prev = [], values[0], values[0]
    for v in [*values[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(str(first) if first == prev else f"{first}..{prev}")
        if v is not None:
            first = prev = v
    return ", ".join(parts)


def _output_hover(trace, ocells) -> list[str]:
    """For every output cell: which real input cells it reads.

    A trace is separable, so the cells read are the product of what each axis reads;
    the text gives that product per axis (``rows 0..2 × cols 1..3``).
    """
    names = {1: ("steps",), 2: ("rows", "cols"), 3: ("depths", "rows", "cols")}[trace.rank]
    per_axis = [[_ranges(np.unique(row[row >= 0])) for row in a.source] for a in trace.axes]
    empty = [[not (row >= 0).any() for row in a.source] for a in trace.axes]
    out = []
    for c in ocells:
        head = f"output {_coord_text(c)}"
        if any(empty[k][v] for k, v in enumerate(c)):
            out.append(f"{head}<br>reads only zeros")
        else:
            out.append(head + "<br>reads input " + " × ".join(
                f"{n} {per_axis[k][v]}" for k, (n, v) in enumerate(zip(names, c))))
    return out


def _animate_controls(fig, frames_at, start, duration_ms):
    fig.update_layout(
        updatemenus=[dict(
            type="buttons", direction="left", x=0.0, y=-0.02, xanchor="left", yanchor="top",
            showactive=False,
            buttons=[
                dict(label="▶ play", method="animate",
                     args=[None, dict(frame=dict(duration=duration_ms, redraw=True),
                                      transition=dict(duration=0), fromcurrent=True,
                                      mode="immediate")]),
                dict(label="❚❚ pause", method="animate",
                     args=[[None], dict(frame=dict(duration=0, redraw=True),
                                        mode="immediate", transition=dict(duration=0))]),
            ],
        )],
        sliders=[dict(
            active=int(np.flatnonzero(frames_at == start)[0]),
            x=0.18, y=0.0, len=0.82, xanchor="left", yanchor="top",
            currentvalue=dict(prefix="step ", visible=True, xanchor="right"),
            steps=[dict(method="animate", label=str(int(i)),
                        args=[[str(int(i))], dict(mode="immediate",
                                                  frame=dict(duration=0, redraw=True),
                                                  transition=dict(duration=0))])
                   for i in frames_at],
        )],
    )


def _style_axes(fig, pshape, oshape, lo, size, title):
    for col, shape, offsets in ((1, pshape, lo), (2, oshape, np.zeros(len(oshape), int))):
        rows, cols = _canvas(shape)
        if len(shape) == 3:
            xt = dict(tickvals=[d * (shape[2] + 1) + (shape[2] - 1) / 2 for d in range(shape[0])],
                      ticktext=[f"depth {d - int(offsets[0])}" for d in range(shape[0])])
            yoff = int(offsets[1])
        else:
            xt = dict(tickvals=list(range(cols)),
                      ticktext=[str(v - int(offsets[-1])) for v in range(cols)])
            yoff = int(offsets[0]) if len(shape) == 2 else 0
        fig.update_xaxes(row=1, col=col, showgrid=False, zeroline=False, side="bottom",
                         range=[-0.5, cols - 0.5], constrain="domain", **xt)
        fig.update_yaxes(row=1, col=col, showgrid=False, zeroline=False,
                         range=[rows - 0.5, -0.5], scaleanchor="x" if col == 1 else "x2",
                         scaleratio=1, constrain="domain", tickvals=list(range(rows)),
                         ticktext=[str(v - yoff) for v in range(rows)] if len(shape) > 1
                         else [""])
    rows = max(_canvas(pshape)[0], _canvas(oshape)[0])
    cols = _canvas(pshape)[1] + _canvas(oshape)[1]
    plot_h = size * rows + 10
    fig.update_layout(title=title, height=int(plot_h + 200),
                      width=int(max(600, size * cols * 1.15 + 120)),
                      margin=dict(l=50, r=20, t=60, b=140), plot_bgcolor="white",
                      hovermode="closest", font=dict(size=max(11, size // 3)))
    below = -40 / plot_h  # controls sit 40 px under the tick labels, whatever the size
    if fig.layout.updatemenus:
        fig.layout.updatemenus[0].y = below
        fig.layout.sliders[0].y = below


def scatter_figure(scatter, in_values=None, *, start: int = 0, max_frames: int = MAX_FRAMES,
                   duration_ms: int = 500, cell_px: int = 36,
                   title: str | None = None) -> AnimatedFigure:
    """Scatter view of a transposed conv: each input cell paints a kernel-sized output patch.

    The output is coloured by the overlap count (how many input-tap pairs write each
    cell): the checkerboard when the kernel size is not divisible by the stride.
    """
    ishape, oshape = scatter.in_shape, scatter.out_shape
    cell = fit_cell(cell_px, ishape, oshape)
    font = max(7, cell // 3)
    icells, ocells = _all_cells(ishape), _all_cells(oshape)
    text_in = ([_fmt(v) for v in np.asarray(in_values).reshape(-1)]
               if in_values is not None else [""] * len(icells))
    count = scatter.overlap_count().reshape(-1)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        column_widths=[_canvas(ishape)[1], _canvas(oshape)[1]],
                        subplot_titles=(f"input {tuple(ishape)}",
                                        f"output {tuple(oshape)}: writes per cell"))
    fig.add_trace(_heatmap(icells, ishape, np.zeros(len(icells)), text_in,
                           [f"input {_coord_text(c)}" for c in icells],
                           [[0, COLORS["cell"]], [1, COLORS["cell"]]], font=font),
                  row=1, col=1)
    fig.add_trace(_heatmap(ocells, oshape, count, [str(int(c)) for c in count],
                           [f"output {_coord_text(c)}: written {int(n)} times"
                            for c, n in zip(ocells, count)],
                           "Blues", zmin=0, zmax=max(int(count.max()), 1), font=font),
                  row=1, col=2)

    def parts(i):
        st = scatter.step(i)
        cx, cy = plane(np.array([st.in_index]), ishape)
        px, py = plane(st.out_coords[st.inside], oshape)
        labels = ["k" + ",".join(str(int(v)) for v in k) for k in st.kernel_index[st.inside]]
        shapes = [_rect(cx[0], cy[0], "", COLORS["current"], width=4)]
        shapes += [_rect(a, b, "2", COLORS["window"]) for a, b in zip(px, py)]
        label = dict(x=px, y=np.asarray(py) + 0.3, text=labels, mode="text",
                     textfont=dict(size=max(7, cell // 4), color="#7a3d00"), hoverinfo="skip")
        return label, shapes

    start = int(np.clip(start, 0, len(scatter) - 1))
    label, shapes = parts(start)
    fig.add_trace(go.Scatter(**label, showlegend=False), row=1, col=2)
    fig.update_layout(shapes=shapes)
    frames_at = frame_indices(len(scatter), max_frames)
    if start not in frames_at:
        frames_at = np.unique(np.append(frames_at, start))
    fig = AnimatedFigure(fig, raw_frames=[_raw_frame(i, *parts(int(i))) for i in frames_at],
                         parts=parts)
    _animate_controls(fig, frames_at, start, duration_ms)
    _style_axes(fig, ishape, oshape, np.zeros(len(ishape), dtype=int), cell, title)
    return fig


def volume_figure(trace, step: int) -> go.Figure:
    """3-D view of a rank-3 input volume (padded) with the window of one step highlighted."""
    pshape = trace.padded_shape
    lo = np.array([a.lo for a in trace.axes])
    cells = _all_cells(pshape)
    wc = cells - lo
    padding = ((wc < 0) | (wc >= np.array(trace.space_shape))).any(axis=1)
    st = trace.step(step)
    taps = st.coords + lo
    fig = go.Figure()
    fig.add_trace(go.Scatter3d(
        x=cells[:, 2], y=cells[:, 1], z=cells[:, 0], mode="markers", name="input",
        marker=dict(size=3, color=np.where(padding, COLORS["padding"], "#9fb3d1"), opacity=0.35),
        hovertext=[_coord_text(c) for c in wc], hoverinfo="text",
    ))
    fig.add_trace(go.Scatter3d(
        x=taps[:, 2], y=taps[:, 1], z=taps[:, 0], mode="markers", name="window",
        marker=dict(size=7, symbol="square", color=np.where(
            st.padding, COLORS["window_pad"], COLORS["window"]).tolist()),
        hovertext=[f"tap {_coord_text(c)}" for c in st.coords], hoverinfo="text",
    ))
    fig.update_layout(
        height=420, margin=dict(l=0, r=0, t=30, b=0),
        title=f"volume view, step {step}: output {_coord_text(st.out_index)}",
        scene=dict(xaxis_title="width", yaxis_title="height", zaxis_title="depth",
                   aspectmode="data"),
    )
    return fig


def heatmap_figure(values: np.ndarray, title: str, colorscale: str = "Blues") -> go.Figure:
    """A labelled integer heatmap (rank 1 or 2), e.g. overlap counts or read counts."""
    values = np.atleast_2d(values)
    fig = go.Figure(go.Heatmap(z=values, colorscale=colorscale, text=values,
                               texttemplate="%{text}", showscale=False))
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    fig.update_layout(title=title, height=max(200, 26 * values.shape[0] + 80),
                      margin=dict(l=30, r=10, t=40, b=20))
    return fig

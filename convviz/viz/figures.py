"""The Plotly painter: it paints a :class:`~convviz.viz.scene.Scene` and decides nothing.

Every cell of every panel is one heatmap on one canvas (its fill colour and its value
text come from the scene); titles and tick labels are text traces; each frame carries
only what changes: the window's boxes (marker traces, one per role), the covers over
output cells not yet written and the tints over written ones (rectangles), the dynamic
labels, and the caption with the step's arithmetic. No geometry, labelling or colour is
chosen here: :mod:`convviz.viz.scene` holds them, shared with the matplotlib exports.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import scene as sc
from .scene import coord as _coord_text  # noqa: F401  (re-exported for the lab pages)
from .scene import fmt as _fmt  # noqa: F401
from .scene import frame_indices, plane  # noqa: F401

MAX_FRAMES = sc.MAX_FRAMES

COLORS = {
    "cell": sc.FILLS["real"],
    "padding": sc.FILLS["padding"],
    "inserted": sc.FILLS["inserted"],
    "window": sc.BOXES["tap"][0],
    "window_pad": sc.BOXES["tap_pad"][0],
    "gap": sc.BOXES["gap"][0],
    "written": "#4e79a7",
    "unwritten": sc.FILLS["output"],
    "current": sc.BOXES["current"][0],
    "grid": sc.GRID,
}

BOX_ROLES = sc.BOX_ROLES
#: Pixels under the text for the play button and the step slider.
CONTROLS_PX = 96


class AnimatedFigure(go.Figure):
    """A ``go.Figure`` whose animation frames stay plain dicts.

    Validating hundreds of frames through plotly's object model costs seconds; the
    frames built here are already valid JSON, so they are attached raw and only
    merged in by :meth:`to_dict` (which Streamlit, ``to_json`` and ``to_html`` use).
    """

    def __init__(self, *args, raw_frames=(), parts=None, dynamic=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._raw_frames = raw_frames if isinstance(raw_frames, list) else list(raw_frames)
        self._parts = parts
        self._dynamic = tuple(dynamic)

    def at_step(self, step: int) -> AnimatedFigure:
        """A copy showing ``step`` before playing (frames shared, not rebuilt)."""
        fig = AnimatedFigure(go.Figure.to_dict(self), raw_frames=self._raw_frames,
                             parts=self._parts, dynamic=self._dynamic)
        if self._parts is None:
            return fig
        data, shapes = self._parts(int(step))
        for index, update in zip(self._dynamic, data):
            fig.data[index].update(**{k: v for k, v in update.items() if k != "type"})
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


def _listify(d):
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}


def _rect(box, fill, line=None, width=0):
    x0, y0, x1, y1 = box
    return dict(type="rect", xref="x", yref="y", x0=x0 - 0.5, x1=x1 + 0.5, y0=y0 - 0.5,
                y1=y1 + 0.5, line=dict(color=line or "rgba(0,0,0,0)", width=width),
                fillcolor=fill, layer="above")


def _static_shapes(scene) -> list[dict]:
    shapes = []
    for x0, y0, x1, y1, role in scene.outlines:
        color, width, dash = sc.BOXES[role]
        shape = _rect((x0, y0, x1, y1), "rgba(0,0,0,0)", color, width)
        shape["line"]["dash"] = "dash" if dash else None
        shapes.append(shape)
    for p in scene.panels:
        if p.edge:
            cols, rows = p.size
            shape = _rect(p.box((0, 0, cols - 1, rows - 1)), "rgba(0,0,0,0)", p.edge, 3)
            shape["layer"] = "below"
            shapes.append(shape)
    return shapes


def _box_trace(role, x, y, cell):
    color, width, _ = sc.BOXES[role]
    if role == "gap":
        marker = dict(symbol="square", size=cell * 0.8, color=sc.GAP_FILL,
                      line=dict(color=color, width=width))
    else:
        marker = dict(symbol="square-open", size=cell * (0.92 if role == "current" else 0.84),
                      color=color, line=dict(width=width))
    return dict(type="scatter", x=x, y=y, mode="markers", marker=marker, hoverinfo="skip",
                showlegend=False)


def _frame_parts(scene, i, lines_y0, line_rows):
    """(trace updates in the order of the dynamic traces, shapes) of step ``i``."""
    fr = scene.frame(i)
    data = [_listify(dict(type="scatter", x=fr.boxes.get(r, ((), ()))[0],
                          y=fr.boxes.get(r, ((), ()))[1])) for r in BOX_ROLES]
    tx, ty, tt = fr.texts
    data.append(_listify(dict(type="scatter", x=tx, y=ty, text=list(tt))))
    lines = list(fr.lines)
    data.append(dict(type="scatter", x=[-0.5] * len(lines),
                     y=[lines_y0 + k * line_rows for k in range(len(lines))], text=lines))
    shapes = _static_shapes(scene)
    shapes += [_rect(b, sc.WRITTEN_TINT) for b in fr.tints]
    shapes += [_rect(b, sc.COVER) for b in fr.covers]
    return data, shapes


def scene_figure(scene, *, start: int = 0, duration_ms: int = 500) -> AnimatedFigure:
    """The animated Plotly figure of ``scene``: one frame per step in ``scene.frames_at``.

    Built as plain dicts and validated by plotly once (its object model deep-copies on
    every update, which cost more than the painting itself).
    """
    cell = scene.cell_px
    cols, rows = scene.canvas
    x, y, fill, text, _, hover = scene.cells
    colors = list(dict.fromkeys(fill.tolist())) or ["#ffffff"]
    code = {c: k for k, c in enumerate(colors)}
    Z = np.full((rows, cols), np.nan)
    T = np.full((rows, cols), "", dtype=object)
    H = np.full((rows, cols), "", dtype=object)
    Z[y, x] = [code[c] + 0.5 for c in fill]  # code k sits in the k-th band of the scale
    T[y, x] = text
    H[y, x] = hover
    n = len(colors)
    scale = [band for k, c in enumerate(colors) for band in ([k / n, c], [(k + 1) / n, c])]
    fonts = scene.fonts
    data = [dict(type="heatmap", z=Z, text=T, hovertext=H, hoverinfo="text",
                 texttemplate="%{text}", colorscale=scale, zmin=0, zmax=n, showscale=False,
                 xgap=1, ygap=1, textfont=dict(size=fonts["value"], color=sc.TEXT))]
    titles = [lab for lab in scene.labels if lab[3] == "title"]
    ticks = [lab for lab in scene.labels if lab[3] == "tick"]
    pos = {"left": "middle right", "center": "middle center", "right": "middle left"}
    data.append(dict(type="scatter", x=[t[0] for t in titles], y=[t[1] for t in titles],
                     text=[t[2] for t in titles], mode="text", hoverinfo="skip",
                     textposition="middle right", showlegend=False,
                     textfont=dict(size=fonts["title"], color=sc.TEXT)))
    data.append(dict(type="scatter", x=[t[0] for t in ticks], y=[t[1] for t in ticks],
                     text=[t[2] for t in ticks], mode="text", hoverinfo="skip",
                     textposition=[pos[t[4]] for t in ticks], showlegend=False,
                     textfont=dict(size=fonts["tick"], color="#44506a")))
    block = scene.text_block
    dynamic = list(range(len(data), len(data) + len(BOX_ROLES) + 2))
    data += [_box_trace(r, [], [], cell) for r in BOX_ROLES]
    small = scene.frame(0).text_kind == "tap"
    data.append(dict(type="scatter", x=[], y=[], text=[], mode="text", hoverinfo="skip",
                     showlegend=False, textfont=dict(size=fonts["tap" if small else "value"],
                                                     color=sc.TAP_TEXT if small else sc.TEXT)))
    data.append(dict(type="scatter", x=[], y=[], text=[], mode="text", hoverinfo="skip",
                     showlegend=False, textposition="middle right",
                     textfont=dict(size=fonts["line"], color="#111111",
                                   family="DejaVu Sans Mono, Menlo, monospace")))
    data += [_legend_trace(role, label, fonts["legend"]) for role, label in scene.legend]

    def parts(i):
        return _frame_parts(scene, i, block["y0"], block["step"])

    start = int(np.clip(start, 0, scene.steps - 1))
    frames_at = scene.frames_at
    if start not in frames_at:
        frames_at = np.unique(np.append(frames_at, start))
    now, shapes = parts(start)
    for index, update in zip(dynamic, now):
        data[index].update(update)
    raw = []
    for i in frames_at:
        d, s = parts(int(i))
        raw.append({"name": str(int(i)), "traces": dynamic, "data": d, "layout": {"shapes": s}})
    text_rows = block["rows"]
    width_px = scene.width_px
    head = scene.heading
    top = head["height"]
    plot_h = (rows + text_rows) * cell
    height = int(top + plot_h + CONTROLS_PX)
    # The heading as one annotation per line, placed in pixels from the top (a multi-line
    # Plotly title is anchored by its first line and gets clipped).
    heading, y = [], 10
    for lines, px, size in ((head["title"], head["title_px"], fonts["heading"]),
                            (head["sub"], head["sub_px"], fonts["legend"])):
        for line in lines:
            heading.append(dict(text=line, xref="paper", yref="paper", x=0, xanchor="left",
                                y=1 + (top - y) / plot_h, yanchor="top", showarrow=False,
                                font=dict(size=size, color=sc.TEXT), xshift=-10))
            y += px
    layout = dict(
        width=width_px, height=height, shapes=shapes,
        margin=dict(l=10, r=10, t=top, b=CONTROLS_PX), plot_bgcolor="white",
        hovermode="closest",
        annotations=heading,
        legend=dict(orientation="h", x=0, y=1 + (top - head["legend_y"]) / plot_h,
                    yanchor="top", xanchor="left", font=dict(size=fonts["legend"]),
                    itemclick=False, itemdoubleclick=False,
                    entrywidth=int(head["entry_px"]), entrywidthmode="pixels"),
        xaxis=dict(range=[-0.5, (width_px - 20) / cell - 0.5], visible=False, fixedrange=True),
        yaxis=dict(range=[rows - 0.5 + text_rows, -0.5], visible=False, fixedrange=True),
        **_animate_controls(frames_at, start, duration_ms),
    )
    return AnimatedFigure(dict(data=data, layout=layout), raw_frames=raw, parts=parts,
                          dynamic=dynamic)


def _legend_trace(role, label, size=13):
    style = sc.legend_style(role)
    marker = (dict(symbol="square-open", size=size, color=style["edge"],
                   line=dict(width=style["width"])) if style["fill"] is None else
              dict(symbol="square", size=size, color=style["fill"],
                   line=dict(color=style["edge"], width=style["width"])))
    return dict(type="scatter", x=[None], y=[None], mode="markers", marker=marker,
                name=label, showlegend=True, hoverinfo="skip")


def _animate_controls(frames_at, start, duration_ms) -> dict:
    """The play/pause buttons and the frame slider, as layout entries."""
    return dict(
        updatemenus=[dict(
            type="buttons", direction="left", x=0.0, y=0, xanchor="left", yanchor="top",
            showactive=False, pad=dict(t=30), font=dict(size=14),
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
            x=0.27, y=0, len=0.73, xanchor="left", yanchor="top", pad=dict(t=20),
            currentvalue=dict(prefix="step ", visible=True, xanchor="right"),
            steps=[dict(method="animate", label=str(int(i)),
                        args=[[str(int(i))], dict(mode="immediate",
                                                  frame=dict(duration=0, redraw=True),
                                                  transition=dict(duration=0))])
                   for i in frames_at],
        )],
    )


def volume_figure(trace, step: int) -> go.Figure:
    """3-D view of a rank-3 input volume (padded) with the window of one step highlighted."""
    pshape = trace.padded_shape
    lo = np.array([a.lo for a in trace.axes])
    cells = sc.all_cells(pshape)
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

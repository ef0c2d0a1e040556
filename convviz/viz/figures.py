"""Plotly figures besides the step player: the 3-D view of a volume, and the colours the
lab pages share with the scene.

The layer pages' animation is no Plotly figure: it is the scene painted by the browser's
step player (:mod:`convviz.viz.player`), and by matplotlib for the exports.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import scene as sc
from .scene import coord as _coord_text

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

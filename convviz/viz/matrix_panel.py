"""The layer page's convolution as a matrix: the weights grid, the step's row, the identity.

No streamlit here. :func:`matrix_panel` takes a layer view (the page's sample and scene)
and returns the matrix ``M`` of :func:`convviz.as_matrix` with the facts that check it on
the page's own numbers: the engine's output minus the bias equals ``M`` times the
flattened input, and the layer's partner (the transposed convolution with the same kernel,
or the convolution a transposed layer undoes) has exactly the matrix ``Mᵀ``.
:meth:`MatrixPanel.figure` draws ``M`` with the current step's row (gather) or input
column (scatter) outlined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from .. import layout, matrix
from ..layers import BaseConv, BaseConvTranspose
from .scene import BOXES, coord

#: The largest matrix the page draws (rows x columns); larger ones get a sentence.
MAX_DRAWN = (120, 160)
#: Up to this many entries, every weight is written in its cell.
MAX_WRITTEN = 900


def _labels(shape_wo_batch, data_format, what: str) -> list[str]:
    """One label per flattened position: ``"out (0, 1) f0"``."""
    idx = np.unravel_index(np.arange(int(np.prod(shape_wo_batch))), shape_wo_batch)
    out = []
    for flat in zip(*idx):
        _, spatial, ch = layout.split((0, *flat), data_format)
        out.append(f"{what} {coord(tuple(int(v) for v in spatial))} "
                   f"{'f' if what == 'out' else 'c'}{int(ch)}")
    return out


@dataclass
class MatrixPanel:
    """The matrix of one layer on the page's input, and what checks it.

    Attributes
    ----------
    matrix : ndarray of float64, ``(rows, cols)``
        ``layer(x).reshape(-1) - bias == matrix @ x.reshape(-1)`` (the sample's layout).
    rows, cols : list of str
        What each row (output cell and filter) and column (input cell and channel) is.
    lines : list of str
        The identities, with the page's numbers (markdown).
    view : str
        ``"gather"``: a step is an output cell (a row); ``"scatter"``: an input cell (its
        columns).
    step_rows : ndarray of int64, ``(steps, k)``
        The rows (gather) or columns (scatter) each step outlines.
    """

    matrix: np.ndarray
    rows: list
    cols: list
    lines: list
    view: str
    step_rows: np.ndarray

    def figure(self, step: int) -> go.Figure:
        """``M`` as a grid of weights (zeros left blank), step ``step``'s row or columns
        outlined in the colour of the written cell."""
        m = self.matrix
        z = np.where(m == 0, np.nan, m)
        lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
        text = None
        if m.size <= MAX_WRITTEN:
            text = np.where(m == 0, "", np.vectorize(lambda v: f"{v:.3g}")(m))
        heat = go.Heatmap(
            z=z, colorscale="RdBu_r", zmin=-lim, zmax=lim, showscale=False, xgap=1, ygap=1,
            text=text, texttemplate="%{text}" if text is not None else None,
            textfont=dict(size=10),
            customdata=np.stack(np.broadcast_arrays(np.array(self.rows)[:, None],
                                                    np.array(self.cols)[None, :]), axis=-1),
            hovertemplate="%{customdata[0]} ← %{customdata[1]}: weight %{z:.4g}"
                          "<extra></extra>")
        fig = go.Figure(heat)
        color = BOXES["current"][0]
        step = int(np.clip(step, 0, len(self.step_rows) - 1))
        for r in self.step_rows[step]:
            if self.view == "gather":
                fig.add_shape(type="rect", x0=-0.5, x1=m.shape[1] - 0.5, y0=r - 0.5,
                              y1=r + 0.5, line=dict(color=color, width=2))
            else:
                fig.add_shape(type="rect", y0=-0.5, y1=m.shape[0] - 0.5, x0=r - 0.5,
                              x1=r + 0.5, line=dict(color=color, width=2))
        ticks = dict(tickfont=dict(size=9), showgrid=False, zeroline=False)
        few_rows, few_cols = m.shape[0] <= 40, m.shape[1] <= 40
        fig.update_yaxes(autorange="reversed", title_text="output cell (row)",
                         tickvals=list(range(m.shape[0])) if few_rows else None,
                         ticktext=self.rows if few_rows else None, **ticks)
        fig.update_xaxes(title_text="input cell (column)", side="top",
                         tickvals=list(range(m.shape[1])) if few_cols else None,
                         ticktext=self.cols if few_cols else None, tickangle=-60, **ticks)
        # square cells: as large as 900 px across (and 1400 down) allow, 8 to 26 px
        cell = max(8, min(26, 900 // max(m.shape[1], 1), 1300 // max(m.shape[0], 1)))
        top = 110 if few_cols else 50
        fig.update_layout(height=top + 30 + cell * m.shape[0],
                          width=(150 if few_rows else 60) + 30 + cell * m.shape[1],
                          margin=dict(l=10, r=10, t=top, b=10), plot_bgcolor="white")
        return fig


def matrix_panel(view) -> MatrixPanel | str:
    """The :class:`MatrixPanel` of a convolution or transposed-convolution view, or why
    there is none (a sentence)."""
    sample, layer = view.sample, view.sample.layer
    if not isinstance(layer, (BaseConv, BaseConvTranspose)):
        return "The matrix view is drawn for convolutions and transposed convolutions."
    in_shape = tuple(sample.x.shape)
    out_shape = tuple(layer.compute_output_shape(in_shape))
    rows, cols = int(np.prod(out_shape[1:])), int(np.prod(in_shape[1:]))
    if rows > MAX_DRAWN[0] or cols > MAX_DRAWN[1]:
        return (f"The matrix would have {rows} rows (output cells x filters) and {cols} "
                f"columns (input cells x channels); the page draws at most "
                f"{MAX_DRAWN[0]} x {MAX_DRAWN[1]}. Lower the input size or the channels.")
    m = matrix.as_matrix(layer, in_shape)
    fmt = layer.data_format
    x = np.asarray(sample.x, dtype=np.float64).reshape(-1)
    y = np.asarray(sample.y, dtype=np.float64).reshape(-1)
    bias = np.zeros(rows) if not getattr(layer, "use_bias", False) else np.asarray(
        layout.from_last(np.broadcast_to(np.asarray(layer.bias, np.float64),
                                         (1, *layout.spatial(out_shape, fmt),
                                          len(layer.bias))), fmt)).reshape(-1)
    diff = float(np.abs(y - bias - m @ x).max())
    name, r = type(layer).__name__, layer.rank
    lines = [f"Each **row** is one output cell of one filter, each **column** one input cell "
             f"of one channel, so `layer(x) − bias = M · x` with `x` flattened "
             f"(**{rows} x {cols}**; blank: a zero, a weight that never meets that cell). On "
             f"this page's numbers the largest difference is **{diff:.1g}**."]
    try:
        if isinstance(layer, BaseConv):
            other = matrix.transpose_partner(layer, in_shape)
            o_in = out_shape
            what = (f"`Conv{r}DTranspose(padding={other.padding!r}, output_padding="
                    f"{other.output_padding})` with the same kernel array")
        else:
            other = matrix.conv_partner(layer, in_shape)
            o_in = out_shape
            what = f"`Conv{r}D(padding={other.padding!r})` with the same kernel array"
        gap = float(np.abs(matrix.as_matrix(other, o_in) - m.T).max())
        lines.append(f"Its transpose **Mᵀ** is exactly the matrix of {what} "
                     f"(largest difference **{gap:.1g}**): that is why {name} "
                     + ("undoes a strided convolution's shape" if isinstance(
                         layer, BaseConvTranspose) else "has a transposed convolution")
                     + ", and why a transposed convolution is the gradient of a convolution "
                     "with respect to its input.")
    except ValueError as exc:
        lines.append(f"No partner layer has the matrix Mᵀ here: {exc}")
    steps = view.scene.steps
    out_sp = layout.spatial(out_shape, fmt)
    in_sp, cin = layout.spatial(in_shape, fmt), layout.channels(in_shape, fmt)
    f = int(view.scene.filter)
    if view.view == "scatter":  # step i: input cell i, every channel's column
        cells = np.unravel_index(np.arange(steps), in_sp)
        flat = [np.ravel_multi_index(layout.join(0, tuple(c[i] for c in cells), ch, fmt)[1:],
                                     in_shape[1:]) for i in range(steps) for ch in range(cin)]
        step_rows = np.asarray(flat, dtype=np.int64).reshape(steps, cin)
    else:  # step i: output cell i of the filter drawn
        cells = np.unravel_index(np.arange(steps), out_sp)
        step_rows = np.asarray(
            [np.ravel_multi_index(layout.join(0, tuple(c[i] for c in cells), f, fmt)[1:],
                                  out_shape[1:]) for i in range(steps)],
            dtype=np.int64).reshape(steps, 1)
    return MatrixPanel(m, _labels(out_shape[1:], fmt, "out"), _labels(in_shape[1:], fmt, "in"),
                       lines, "scatter" if view.view == "scatter" else "gather", step_rows)


__all__ = ["MAX_DRAWN", "MAX_WRITTEN", "MatrixPanel", "matrix_panel"]

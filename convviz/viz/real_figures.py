"""Plotly figures of real inputs through real layers (the "On real data" page).

No streamlit here: each function takes the results of :mod:`convviz.realdata` and returns
a figure, so the page only draws widgets and shows what these return.

* :func:`image_view` runs one image through a layer and draws the input, every output
  channel (feature map) and the window of one chosen output pixel;
* :func:`checkerboard_figure`, :func:`signal_figure`, :func:`volume_figure` draw the
  transposed-convolution checkerboard, a WaveNet receptive field on a waveform and the
  slices of a Conv3D's input and output.

Every map is drawn with its own colour range, and that range is written in its title, so
a student can read a value from the colour and check it against the hover text.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import convviz

from .. import layout, realdata
from ..layers import argument_names
from .figures import COLORS
from .scene import cells_read

#: Feature maps drawn at the most (the rest are counted in the heading).
MAX_MAPS = 8
#: The checkerboard's overlap maps are drawn for their top-left corner of this many cells.
OVERLAP_CORNER = 32
#: Colours of the chosen window and pixel.
WINDOW_COLOR = "#e15759"
_GRAY = [[0.0, "#000000"], [1.0, "#ffffff"]]
_DIVERGING = "RdBu_r"


#: Page setting -> the Keras argument it sets (``amount`` is ``cropping`` or ``padding``).
_ARGUMENTS = (("filters", "filters"), ("kernel_size", "kernel_size"), ("strides", "strides"),
              ("dilation_rate", "dilation_rate"), ("depth_multiplier", "depth_multiplier"),
              ("groups", "groups"), ("padding", "padding"), ("amount", "cropping"),
              ("up", "size"), ("interpolation", "interpolation"))


def _settings(layer_name: str) -> tuple[tuple[str, str], ...]:
    """``(page setting, Keras argument)`` for each argument ``layer_name`` takes (the
    ``amount`` is a ZeroPadding layer's ``padding``, and its ``padding`` choice is not)."""
    params = argument_names(convviz.LAYERS[layer_name])
    pad_layer = convviz.LAYERS[layer_name].family == "zero padding"
    out = []
    for key, arg in _ARGUMENTS:
        if pad_layer and key in ("amount", "padding"):
            arg = "padding" if key == "amount" else ""
        if arg in params:
            out.append((key, arg))
    return tuple(out)


def image_settings(layer_name: str) -> tuple[str, ...]:
    """The page settings that are arguments of ``layer_name`` (what its sidebar shows)."""
    return tuple(key for key, _ in _settings(layer_name))


def image_arguments(layer_name: str, values) -> dict:
    """Keras arguments of ``layer_name`` from the page's ``values``, leaving out those at
    their Keras default (so the call reads as a person would write it)."""
    params = inspect.signature(convviz.LAYERS[layer_name]).parameters
    return {arg: values[key] for key, arg in _settings(layer_name)
            if arg in ("filters", "kernel_size", "cropping") or values[key] != params[arg].default}


def reads(trace) -> list[np.ndarray]:
    """Per spatial axis, the input cells each output cell reads there, as text.

    ``"3..5"``, ``"4"``, a dilated ``"6..14 every 4th"`` or ``"none"`` (only padding or
    inserted zeros), from the trace's per-axis ``source`` arrays (``(out, taps)``).
    """
    out = []
    for ax in trace.axes:  # the scene's wording: "1..3", a dilated "6..14 every 4th"
        out.append(np.array([cells_read(row[row >= 0]) or "none" for row in ax.source],
                            dtype=object))
    return out


def value_range(a) -> tuple[float, float]:
    """``(min, max)`` of the finite values (``(0, 1)`` if there are none)."""
    f = np.asarray(a, dtype=np.float64)
    f = f[np.isfinite(f)]
    return (float(f.min()), float(f.max())) if f.size else (0.0, 1.0)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def range_text(a) -> str:
    """The range written above a map: ``"min -4 · max 4"``."""
    lo, hi = value_range(a)
    return f"constant {_fmt(lo)}" if lo == hi else f"min {_fmt(lo)} · max {_fmt(hi)}"


def _colorscale(a):
    lo, hi = value_range(a)
    if lo < 0 < hi:  # signed responses (edges): white is zero
        m = max(-lo, hi)
        return _DIVERGING, -m, m
    return _GRAY, lo, hi if hi > lo else lo + 1


@dataclass
class ImageView:
    """One image through one layer, and the window of one output pixel.

    Attributes
    ----------
    result : realdata.Result
    window : realdata.Window
        The window of :attr:`out_index` (its explain rows for output channel 0).
    out_index : tuple of int
        The chosen output pixel (clipped to the output).
    figure : plotly Figure
    facts : list of (str, str)
        Keras call, shapes, wall time and MACs, for a small table.
    """

    result: realdata.Result
    window: realdata.Window
    out_index: tuple
    figure: go.Figure
    facts: list = field(default_factory=list)

    def explained(self) -> str:
        """One sentence under the explain table: the chosen pixel's value, as the sum of
        the products in the table and as the map shows it."""
        e = self.window.explanation
        shown = float(self.result.feature_maps[(0, *self.out_index)])
        where = f"Output pixel {self.out_index} of channel 0"
        if e is None or not len(e):
            return f"{where} = {shown:.4g}: this layer only moves or repeats cells."
        last = " of the pointwise stage" if "pointwise" in set(e.columns["stage"]) else ""
        # float32 round-off (1e-7 of the map's scale) is shown as the 0 it stands for
        scale = 1e-6 * max(1.0, float(np.abs(self.result.feature_maps[0]).max()))
        total, shown = (0.0 if abs(v) < scale else v for v in (e.total, shown))
        if abs(total - shown) <= 1e-5 * max(1.0, abs(shown)):  # float32 vs float64 sums:
            total = shown  # the same number, not two roundings of it
        return (f"{where} = sum of the products{last} = {total:.4g} (bias 0); the map "
                f"shows {shown:.4g}.")

    def rows(self) -> list[dict]:
        """The explain table of the chosen pixel (output channel 0), one row per tap:
        the input cell (or "padding"), its value, the kernel tap, its weight, the product."""
        out = []
        for r in self.window.rows():
            source = r.get("source")
            if r.get("stage") == "pointwise":
                cell = f"depthwise map {r.get('channel')}"
            elif r.get("padding"):
                cell = "padding"
            elif r.get("inserted"):
                cell = "inserted zero"
            elif source is None or min(source) < 0:
                cell = "outside (weight 0)"
            else:
                cell = str(source)
            tap = r.get("kernel_index")
            out.append({"input cell": cell, "channel": r.get("channel"),
                        "value": r.get("value"),
                        "kernel tap": "-" if tap is None or min(tap) < 0 else str(tap),
                        "weight": r.get("weight"), "product": r.get("product"),
                        "stage": r.get("stage")})
        return out


def image_view(image, layer_name: str, *, kernel: str = "sobel_x", channels: str = "diagonal",
               out_index=(0, 0), **keras_kwargs) -> ImageView:
    """Run ``image`` (``(H, W)`` or ``(H, W, C)``) through ``layer_name`` and draw it.

    Raises ValueError (the layer's, the kernel's or a size cap's message) for a setting
    that cannot run.
    """
    result = realdata.apply(layer_name, image, kernel=kernel, channels=channels,
                            **keras_kwargs)
    maps = result.feature_maps
    o = tuple(int(min(max(v, 0), n - 1)) for v, n in zip(out_index, maps.shape[1:]))
    window = realdata.window_of(result, out_index=o)
    return ImageView(result, window, o, _image_figure(result, window, o), _facts(result))


def _facts(result) -> list:
    return [("input shape", str(result.input_shape)),
            ("output shape", str(result.output_shape)),
            ("engine time", f"{result.seconds * 1000:.1f} ms"),
            ("multiply-adds", f"{result.macs:,}")]


def heading(result) -> str:
    """The line above the maps: how many output channels, and which are drawn."""
    n = result.feature_maps.shape[0]
    extra = n - min(n, MAX_MAPS)
    return (f"{n} output channel{'s' * (n != 1)}" + (f" (the first {MAX_MAPS} drawn)"
                                                       if extra else "")
            + "; red: the chosen output pixel and, on the input, the cells it reads")


def _grid(count: int, row_px: int = 280):
    """``(rows, cols, height, vertical spacing)`` of ``count`` square panels."""
    cols = min(count, 4)
    rows = -(-count // cols)
    height = row_px * rows + 30
    return rows, cols, height, min(0.3, 90 / height) if rows > 1 else 0.0


def _square_axes(fig, count: int, cols: int) -> None:
    for i in range(count):
        r, c = divmod(i, cols)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i + 1 if i else ''}",
                         showticklabels=False, showgrid=False, zeroline=False,
                         row=r + 1, col=c + 1)
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False,
                         constrain="domain", row=r + 1, col=c + 1)


def _image_figure(result, window, o) -> go.Figure:
    maps = result.feature_maps
    shown = maps[:MAX_MAPS]
    image = layout.to_last(result.input, result.data_format)[0]
    titles = ["input " + ("(RGB)" if image.shape[-1] == 3 else f"({range_text(image)})")]
    titles += [f"output channel {c}<br>{range_text(m)}" for c, m in enumerate(shown)]
    rows, cols, height, vspace = _grid(len(titles))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles,
                        horizontal_spacing=0.03, vertical_spacing=vspace)
    if image.shape[-1] == 3:
        fig.add_trace(go.Heatmap(z=image.mean(axis=-1), showscale=False, opacity=0,
                                 hoverinfo="skip"), 1, 1)  # same axes as a grey input
        fig.add_trace(go.Image(z=np.clip(image, 0, 1) * 255, name="input", customdata=image,
                               hovertemplate="input (%{y}, %{x}): R %{customdata[0]:.4f}, "
                               "G %{customdata[1]:.4f}, B %{customdata[2]:.4f}"
                               "<extra></extra>"), 1, 1)
    else:
        scale, lo, hi = _colorscale(image[..., 0])
        fig.add_trace(go.Heatmap(z=image[..., 0], colorscale=scale, zmin=lo, zmax=hi,
                                 showscale=False, name="input",
                                 hovertemplate="input (%{y}, %{x}) = %{z:.3f}<extra></extra>"),
                      1, 1)
    read_rows, read_cols = reads(window.trace)
    for c, m in enumerate(shown):
        r, col = divmod(c + 1, cols)
        scale, lo, hi = _colorscale(m)
        kw = {}
        if c == 0:  # the explained channel: its hover says which input cells each pixel reads
            kw["customdata"] = np.stack(np.broadcast_arrays(read_rows[:, None],
                                                            read_cols[None, :]), axis=-1)
            kw["hovertemplate"] = ("output (%{y}, %{x}) = %{z:.4g}<br>reads input rows "
                                   "%{customdata[0]}, cols %{customdata[1]}<extra></extra>")
        else:
            kw["hovertemplate"] = (f"channel {c}: output " "(%{y}, %{x}) = %{z:.4g}"
                                   "<extra></extra>")
        fig.add_trace(go.Heatmap(z=m, colorscale=scale, zmin=lo, zmax=hi, showscale=False,
                                 name=f"channel {c}", **kw), r + 1, col + 1)
        _mark_pixel(fig, o, r + 1, col + 1)
    cells = window.cells
    if len(cells) and len(cells) == np.prod([b - a for a, b in window.bounds]):
        (r0, r1), (c0, c1) = window.bounds  # a solid window: one box
        fig.add_shape(type="rect", x0=c0 - 0.5, x1=c1 - 0.5, y0=r0 - 0.5, y1=r1 - 0.5,
                      line=dict(color=WINDOW_COLOR, width=2), row=1, col=1)
    else:  # gaps (dilation, strided transposed reads): a box on every cell read
        for r, c in cells[:400]:
            fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                          line=dict(color=WINDOW_COLOR, width=1.5), row=1, col=1)
    _square_axes(fig, len(titles), cols)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=50, b=10),
                      plot_bgcolor="white")
    return fig


def _mark_pixel(fig, o, row, col) -> None:
    fig.add_shape(type="rect", x0=o[1] - 0.5, x1=o[1] + 0.5, y0=o[0] - 0.5, y1=o[0] + 0.5,
                  line=dict(color=WINDOW_COLOR, width=2), row=row, col=col)


def checkerboard_figure(cb: realdata.Checkerboard) -> go.Figure:
    """The two upsampled images and their overlap counts, side by side."""
    def gray(a):
        return a if a.ndim == 2 else a.mean(axis=-1)

    # the counts repeat with the stride: their top-left corner, cell by cell (a whole
    # 256-wide map drawn in fewer screen pixels would alias into a moire of its own)
    n = OVERLAP_CORNER
    corner = f" (top-left {min(n, cb.overlap_transposed.shape[0])} x " \
             f"{min(n, cb.overlap_transposed.shape[1])} cells)"
    pairs = [(gray(cb.transposed), "Conv2DTranspose output"),
             (gray(cb.resize_conv), "UpSampling2D + Conv2D output"),
             (cb.overlap_transposed[:n, :n], "Conv2DTranspose: products per cell" + corner),
             (cb.overlap_resize_conv[:n, :n], "UpSampling2D + Conv2D: products per cell"
              + corner)]
    titles = [f"{t}<br>{range_text(a)}" for a, t in pairs]
    fig = make_subplots(rows=2, cols=2, subplot_titles=titles, horizontal_spacing=0.04,
                        vertical_spacing=0.08)
    for i, (a, t) in enumerate(pairs):
        r, c = divmod(i, 2)
        lo, hi = value_range(a)
        fig.add_trace(go.Heatmap(
            z=a, colorscale=_GRAY if r == 0 else "Blues", zmin=lo, zmax=hi if hi > lo else lo + 1,
            showscale=False, name=t,
            hovertemplate=t.split(" (top-left")[0] + " (%{y}, %{x}) = %{z:.4g}"
            "<extra></extra>"), r + 1, c + 1)
    _square_axes(fig, 4, 2)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=900, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white")
    return fig


def signal_figure(signal, rate: int, rf: realdata.ReceptiveField1D) -> go.Figure:
    """The waveform with the receptive field of one output step, and a zoom on the field."""
    x = np.asarray(signal, dtype=np.float64)
    first, last = rf.span
    t = np.arange(x.size) / rate * 1000
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.16, subplot_titles=(
        f"the whole signal ({x.size:,} steps at {rate:,} Hz); shaded: the field of output "
        f"step {rf.out_index}",
        f"zoom: input steps {max(first - rf.size, 0)}..{min(last + rf.size, x.size - 1)}; "
        f"filled: the {rf.size} steps output {rf.out_index} reads"))
    fig.add_trace(go.Scattergl(x=t, y=x, mode="lines", line=dict(width=1, color=COLORS["grid"]),
                               name="signal", hovertemplate="%{x:.2f} ms: %{y:.3f}"
                               "<extra></extra>"), 1, 1)
    fig.add_vrect(x0=t[first], x1=t[last] + 1000 / rate, fillcolor=WINDOW_COLOR, opacity=0.3,
                  line=dict(color=WINDOW_COLOR, width=2), row=1, col=1)  # a line when thin
    lo, hi = max(first - rf.size, 0), min(last + rf.size, x.size - 1)
    idx = np.arange(lo, hi + 1)
    inside = rf.mask[idx]
    fig.add_trace(go.Scatter(x=idx, y=x[idx], mode="lines+markers", name="input steps",
                             line=dict(width=1, color=COLORS["grid"]),
                             marker=dict(size=7, color=np.where(inside, WINDOW_COLOR, "white"),
                                         line=dict(width=1, color="#555")),
                             customdata=rf.paths[idx],
                             hovertemplate="step %{x}: %{y:.3f}<br>%{customdata} path(s) to "
                             f"output {rf.out_index}<extra></extra>"), 2, 1)
    fig.update_xaxes(title_text="time (ms)", row=1, col=1)
    fig.update_xaxes(title_text="input step", row=2, col=1)
    fig.update_layout(height=560, margin=dict(l=10, r=10, t=50, b=10), showlegend=False,
                      plot_bgcolor="white")
    return fig


def volume_figure(result: realdata.Result, depth: int) -> go.Figure:
    """Depth slice ``depth`` of a 3-D layer's input and of its output channels."""
    vol = layout.to_last(result.input, result.data_format)[0, ..., 0]
    maps = result.feature_maps[:MAX_MAPS - 1]
    d_in = int(min(max(depth, 0), vol.shape[0] - 1))
    scale = maps.shape[1] / vol.shape[0]
    d_out = int(min(max(round(d_in * scale), 0), maps.shape[1] - 1))
    panels = [(vol[d_in], f"input, depth {d_in} of {vol.shape[0]}")]
    panels += [(m[d_out], f"output channel {c}, depth {d_out} of {m.shape[0]}")
               for c, m in enumerate(maps)]
    rows, cols, height, vspace = _grid(len(panels))
    fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.03,
                        vertical_spacing=vspace,
                        subplot_titles=[f"{t} ({range_text(a)})" for a, t in panels])
    for i, (a, t) in enumerate(panels):
        r, c = divmod(i, cols)
        s, lo, hi = _colorscale(a)
        fig.add_trace(go.Heatmap(z=a, colorscale=s, zmin=lo, zmax=hi, showscale=False, name=t,
                                 hovertemplate=t + ": (%{y}, %{x}) = %{z:.4g}<extra></extra>"),
                      r + 1, c + 1)
    _square_axes(fig, len(panels), cols)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=50, b=10),
                      plot_bgcolor="white")
    return fig


__all__ = ["ImageView", "MAX_MAPS", "checkerboard_figure", "heading", "image_arguments",
           "image_settings",
           "image_view", "range_text", "reads", "signal_figure", "value_range", "volume_figure"]

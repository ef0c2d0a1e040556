"""Everything a layer page shows, computed from a :class:`~convviz.demo.Spec` (no streamlit).

:func:`build` runs the layer on its integer sample, traces it once and returns a
:class:`LayerView`: the animated figure (frames for every step, or an even
subsample), the shape panel (per-axis formulas with numbers, the engine's real
output shape beside them, parameters, MACs, the Keras call), the data_format
panel, and :meth:`LayerView.explain` for any step. Invalid settings give a view
whose ``error`` holds Keras's ValueError message instead of raising.

>>> from convviz.demo import Spec
>>> v = build(Spec("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 2}, spatial=(5, 5)))
>>> v.error, v.steps, v.shape.engine_shape, v.shape.agree
(None, 4, (1, 2, 2, 1), True)
>>> build(Spec("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
...            spatial=(9, 9))).error.split(". ")[0]
'`strides > 1` not supported in conjunction with `dilation_rate > 1`'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import catalog, formulas
from ..demo import Sample, Spec, run
from . import figures
from .figures import _coord_text as _coord
from .schema import AXIS_NAMES

#: Frames per animation for a 3D layer (each frame draws a 3D window: more shapes per frame).
MAX_FRAMES_3D = 120
DEFAULT_CELL_PX = 48
PRESENTER_CELL_PX = 72


@dataclass(frozen=True)
class ShapePanel:
    """The shape arithmetic of one configuration, every number filled in."""

    keras_call: str
    input_shape: tuple
    output_shape: tuple
    engine_shape: tuple
    rows: list
    params: int
    macs: int
    layouts: list

    @property
    def formula_shape(self) -> tuple:
        return tuple(r["result"] for r in self.rows)

    @property
    def agree(self) -> bool:
        """The formulas' spatial lengths equal the engine's real output."""
        return self.formula_shape == self.spatial(self.engine_shape)

    def spatial(self, shape) -> tuple:
        r = len(self.rows)
        return tuple(shape[2:2 + r]) if self.layouts[0]["current"] == "channels_first" \
            else tuple(shape[1:1 + r])


@dataclass
class LayerView:
    """A page's content for one spec (``error`` set instead when the spec is invalid)."""

    spec: Spec
    error: str | None = None
    sample: Sample | None = None
    figure: Any = None
    shape: ShapePanel | None = None
    frames: np.ndarray = field(default_factory=lambda: np.arange(0))
    view: str = "gather"

    @property
    def steps(self) -> int:
        if self.sample is None:
            return 0
        if self.view == "scatter":
            return int(np.prod(self.sample.trace.in_shape))
        return len(self.sample.trace)

    @property
    def subsampled(self) -> bool:
        return 0 < len(self.frames) < self.steps

    def figure_at(self, step: int):
        return self.figure.at_step(int(np.clip(step, 0, self.steps - 1)))

    def out_index(self, step: int) -> tuple:
        """Output spatial index of gather step ``step``."""
        return tuple(int(v) for v in np.unravel_index(step, self.sample.trace.out_shape))

    def explain(self, step: int):
        """(rows, summary) for output cell ``step``, channel 0 of batch item 0."""
        o = self.out_index(step)
        full = (0, 0, *o) if self.spec.data_format == "channels_first" else (0, *o, 0)
        e = self.sample.layer.explain(self.sample.x, full)
        rows = []
        for r in e.rows():
            rows.append({
                "stage": r["stage"], "input cell": _coord(r["source"]) if min(r["source"]) >= 0
                else ("padding" if r["padding"] else "inserted zero") + f" {_coord(r['in_coord'])}",
                "channel": r["channel"], "value": r["value"],
                "kernel tap": _coord(r["kernel_index"]) if min(r["kernel_index"]) >= 0 else "",
                "weight": r["weight"], "product": r["product"],
            })
        summary = {"output": full, "sum": e.total, "bias": e.bias, "pre_activation":
                   e.pre_activation, "activation": e.activation, "value": e.value}
        return rows, summary

    def volume(self, step: int):
        """3-D view of the volume with the window of ``step`` (rank-3 gather views only)."""
        return figures.volume_figure(self.sample.trace, int(step))


def layouts(spec: Spec, output_spatial: tuple, out_channels: int) -> list:
    """The input/output shape in both data formats and the axes the window moves along."""
    r = spec.rank
    out = []
    for fmt in ("channels_last", "channels_first"):
        first = fmt == "channels_first"
        moving = tuple(range(2, 2 + r)) if first else tuple(range(1, 1 + r))
        out.append({
            "data_format": fmt,
            "current": spec.data_format,
            "input": (None, spec.channels, *spec.spatial) if first
            else (None, *spec.spatial, spec.channels),
            "output": (None, out_channels, *output_spatial) if first
            else (None, *output_spatial, out_channels),
            "window axes": moving,
            "channel axis": 1 if first else r + 1,
            "axis names": AXIS_NAMES[r],
        })
    return out


def shape_panel(sample: Sample) -> ShapePanel:
    spec, layer = sample.spec, sample.layer
    shape_in = (None, *spec.input_shape[1:])
    out_shape = tuple(layer.compute_output_shape(shape_in))
    rows = formulas.derivations(layer, shape_in)
    for row in rows:
        row["name"] = AXIS_NAMES[spec.rank][row["axis"]]
    spatial_out = tuple(r["result"] for r in rows)
    cout = out_shape[1] if spec.data_format == "channels_first" else out_shape[-1]
    return ShapePanel(
        keras_call=catalog.keras_call(spec.name, spec.arguments),
        input_shape=shape_in, output_shape=out_shape, engine_shape=tuple(sample.y.shape),
        rows=rows, params=int(layer.count_params()), macs=formulas.macs(layer, spec.input_shape),
        layouts=layouts(spec, spatial_out, cout))


def kernel_plane(layer) -> np.ndarray | None:
    """Spatial kernel of input channel 0 / output 0 (what numbers mode writes on the taps)."""
    kind = layer.trace_kind
    if kind in ("conv", "depthwise", "transpose"):
        return layer.kernel[..., 0, 0]  # (k.., Cin, F), (k.., C, M) and (k.., F, Cin)
    if kind == "separable":
        return layer.depthwise_kernel[..., 0, 0]
    return None


def build(spec: Spec, *, view: str = "gather", numbers: bool = True,
          duration_ms: int = 500, cell_px: int = DEFAULT_CELL_PX,
          max_frames: int | None = None) -> LayerView:
    """Run, trace and draw ``spec``; never raises ValueError (it lands in ``error``).

    ``max_frames`` defaults to :data:`figures.MAX_FRAMES` (:data:`MAX_FRAMES_3D` for 3D);
    longer animations are subsampled evenly and the view says so (``subsampled``).
    """
    if max_frames is None:
        max_frames = MAX_FRAMES_3D if spec.rank == 3 else figures.MAX_FRAMES
    try:
        sample = run(spec)
        if view == "scatter" and sample.layer.trace_kind != "transpose":
            raise ValueError(f"{spec.name} has only the 'gather' view. Received: view='scatter'")
        shape = shape_panel(sample)
    except ValueError as exc:
        return LayerView(spec, error=str(exc))
    in_values = sample.channel_plane(sample.x) if numbers else None
    out_values = sample.channel_plane(sample.y) if numbers else None
    title = None
    if view == "scatter":
        scatter = sample.layer.trace(spec.input_shape, view="scatter")
        fig = figures.scatter_figure(scatter, in_values, max_frames=max_frames,
                                     duration_ms=duration_ms, cell_px=cell_px, title=title)
        steps = len(scatter)
    else:
        kernel = kernel_plane(sample.layer) if numbers else None
        fig = figures.animation_figure(sample.trace, in_values, out_values,
                                       kernel_values=kernel, max_frames=max_frames,
                                       duration_ms=duration_ms, cell_px=cell_px, title=title)
        steps = len(sample.trace)
    frames = figures.frame_indices(steps, max_frames)
    return LayerView(spec, sample=sample, figure=fig, shape=shape, frames=frames, view=view)

"""Everything a layer page shows, computed from a :class:`~convviz.demo.Spec` (no streamlit).

:func:`build` runs the layer on its integer sample, traces it once and returns a
:class:`LayerView`: the scene (what every step shows; every step, or an even subsample,
is played), :meth:`LayerView.payload` for the browser's player, the shape panel
(per-axis formulas with numbers, the engine's real output shape beside them, parameters,
MACs, the Keras call), the data_format panel, and :meth:`LayerView.explain` for any
step. Invalid settings give a view whose ``error`` holds Keras's ValueError message
instead of raising.

>>> from convviz.demo import Spec
>>> v = build(Spec("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 2}, spatial=(5, 5)))
>>> v.error, v.steps, v.shape.engine_shape, v.shape.agree
(None, 4, (1, 2, 2, 1), True)
>>> build(Spec("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
...            spatial=(9, 9))).error.split(". ")[0]
'`strides > 1` not supported in conjunction with `dilation_rate > 1`'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import catalog, formulas, layout
from ..demo import Sample, Spec, run
from ..geometry import AXIS_NAMES
from ..torch_port import to_torch
from . import figures, player
from . import scene as scene_mod

DEFAULT_CELL_PX = scene_mod.CELL_PX
PRESENTER_CELL_PX = 72
PRESENTER_CANVAS_PX = scene_mod.PRESENTER_CANVAS_PX


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
    #: The same layer in PyTorch (:func:`convviz.to_torch`: code, exactness, notes), or
    #: the reason there is none.
    torch: object = None

    @property
    def formula_shape(self) -> tuple:
        return tuple(r["result"] for r in self.rows)

    @property
    def agree(self) -> bool:
        """The formulas' spatial lengths equal the engine's real output."""
        return self.formula_shape == self.spatial(self.engine_shape)

    def spatial(self, shape) -> tuple:
        return tuple(layout.spatial(shape, self.layouts[0]["current"]))


@dataclass
class LayerView:
    """A page's content for one spec (``error`` set instead when the spec is invalid)."""

    spec: Spec
    error: str | None = None
    sample: Sample | None = None
    scene: scene_mod.Scene | None = None
    shape: ShapePanel | None = None
    view: str = "gather"

    @property
    def steps(self) -> int:
        return 0 if self.scene is None else self.scene.steps

    @property
    def frames(self) -> np.ndarray:
        return np.arange(0) if self.scene is None else self.scene.frames_at

    @property
    def subsampled(self) -> bool:
        return 0 < len(self.frames) < self.steps

    def clip(self, step: int) -> int:
        return int(np.clip(step, 0, max(self.steps - 1, 0)))

    def payload(self, start: int = 0, **options) -> dict:
        """What the browser's player paints, starting at step ``start``
        (:func:`convviz.viz.player.payload`; its per-scene part is computed once)."""
        return player.payload(self.scene, start=self.clip(start), **options)

    def message(self, start: int = 0, **options) -> dict:
        """:meth:`payload` as the app's player component receives it
        (:func:`convviz.viz.player.message`: serialized once)."""
        return player.message(self.scene, start=self.clip(start), **options)

    def explain(self, step: int):
        """(rows, frame) of step ``step``: the scene's terms, subtotals and sums."""
        step = self.clip(step)
        return self.scene.explain_rows(step), self.scene.frame(step)

    def volume(self, step: int):
        """3-D view of the volume with the window of ``step`` (rank-3 gather views only);
        the last few steps' figures are kept (a rerun at the same step builds none)."""
        tr = self.sample.trace
        i = self.clip(step) % len(tr)
        return self.scene.kept("volume", i, lambda: figures.volume_figure(tr, i), 4)


def layouts(spec: Spec, output_spatial: tuple, out_channels: int) -> list:
    """The input/output shape in both data formats and the axes the window moves along."""
    r = spec.rank
    out = []
    for fmt in layout.DATA_FORMATS:
        _, moving, channel = layout.split(range(r + 2), fmt)
        out.append({
            "data_format": fmt,
            "current": spec.data_format,
            "input": layout.join(None, spec.spatial, spec.channels, fmt),
            "output": layout.join(None, output_spatial, out_channels, fmt),
            "window axes": tuple(moving),
            "channel axis": channel,
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
    cout = layout.channels(out_shape, spec.data_format)
    return ShapePanel(
        keras_call=catalog.keras_call(spec.name, spec.arguments),
        input_shape=shape_in, output_shape=out_shape, engine_shape=tuple(sample.y.shape),
        rows=rows, params=int(layer.count_params()), macs=formulas.macs(layer, spec.input_shape),
        layouts=layouts(spec, spatial_out, cout),
        torch=_torch_port(layer, spec.input_shape))


def _torch_port(layer, input_shape):
    """:func:`convviz.to_torch` of the layer, or the reason it has none (a str)."""
    try:
        return to_torch(layer, input_shape)
    except ValueError as exc:
        return str(exc)


def build(spec: Spec, *, view: str = "gather", numbers: bool = True, reveal: bool = False,
          filter: int = 0, cell_px: int = DEFAULT_CELL_PX,
          max_frames: int | None = None,
          canvas_px: tuple[int, int] = scene_mod.MAX_CANVAS_PX) -> LayerView:
    """Run, trace and draw ``spec``; never raises ValueError (it lands in ``error``).

    The picture is :func:`convviz.viz.scene.build` (what every frame shows), painted in
    the browser by :mod:`convviz.viz.player`; ``max_frames`` defaults to the scene's cap
    (:data:`~convviz.viz.scene.MAX_FRAMES`, fewer for 3D).
    """
    try:
        sample = run(spec)
        picture = scene_mod.build(sample, view=view, numbers=numbers, reveal=reveal,
                                  filter=filter, cell_px=cell_px, max_frames=max_frames,
                                  canvas_px=canvas_px)
        shape = shape_panel(sample)
    except ValueError as exc:
        return LayerView(spec, error=str(exc))
    return LayerView(spec, sample=sample, scene=picture, shape=shape, view=view)

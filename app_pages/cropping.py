"""Cropping: every layer of the family animated, with its shape arithmetic."""

from convviz.viz import controls

values = controls.widgets("cropping")
controls.header(
    values,
    "Cropping",
    'Cropping1D/2D/3D remove `(start, end)` cells from each spatial axis. Each output cell '
    'copies one input cell: the window is a single cell, shifted by the start crop.',
)
view = controls.layer_view(values, "cropping")
controls.show(view, values, "cropping")

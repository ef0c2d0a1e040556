"""Zero padding: every layer of the family animated, with its shape arithmetic."""

from convviz.viz import controls

values = controls.widgets("padding")
controls.header(
    values,
    "Zero padding",
    'ZeroPadding1D/2D/3D add `(start, end)` zeros to each spatial axis. Output cells over the'
    ' padding read nothing (they are zero); the others copy one input cell.',
)
view = controls.layer_view(values, "padding")
controls.show(view, values, "padding")

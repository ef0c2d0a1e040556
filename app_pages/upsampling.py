"""Upsampling: every layer of the family animated, with its shape arithmetic."""

from convviz.viz import controls

values = controls.widgets("upsampling")
controls.header(
    values,
    "Upsampling",
    'UpSampling1D/2D/3D repeat every cell `size` times per axis (nearest). UpSampling2D can '
    "also interpolate (bilinear, bicubic, lanczos3, lanczos5, as Keras's resize with half-"
    'pixel centres): then each output cell is a weighted sum of nearby input cells, and the '
    'weights are written under the values the window reads.',
)
view = controls.layer_view(values, "upsampling")
controls.show(view, values, "upsampling")

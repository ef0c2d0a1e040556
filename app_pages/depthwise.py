"""Depthwise and separable: every layer of the family animated, with its shape arithmetic."""

from convviz.viz import controls

values = controls.widgets("depthwise")
controls.header(
    values,
    "Depthwise and separable",
    'A depthwise convolution gives every input channel its own `depth_multiplier` kernels and'
    ' never mixes channels; the output has `channels x depth_multiplier` channels. A '
    'separable convolution follows it with a 1x1 (pointwise) convolution that mixes them into'
    ' `filters` channels. The animation shows the window of channel 0; the table lists both '
    'stages.',
)
view = controls.layer_view(values, "depthwise")
controls.show(view, values, "depthwise")

"""Depthwise and separable: every layer of the family animated, with its shape arithmetic."""

from convviz.viz import controls

values = controls.widgets("depthwise")
controls.header(
    values,
    "Depthwise and separable",
    'A depthwise convolution gives every input channel its own `depth_multiplier` kernels and'
    ' never mixes channels; the output has `channels x depth_multiplier` channels. A '
    'separable convolution follows it with a 1x1 (pointwise) convolution that mixes them into'
    ' `filters` channels. Every channel is drawn with its own kernel(s); a separable layer '
    'plays its depthwise stage (the intermediate maps), then its pointwise stage.',
)
view = controls.layer_view(values, "depthwise")
controls.show(view, values, "depthwise")

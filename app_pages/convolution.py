"""Convolution: every layer of the family animated, with its shape arithmetic."""

from convviz.viz import controls

values = controls.widgets("convolution")
controls.header(
    values,
    "Convolution",
    'Conv1D, Conv2D and Conv3D slide a kernel over the input. Every output cell is the sum of'
    " the window's cells times the kernel's weights (cross-correlation: Keras does not flip "
    'the kernel), plus a bias. `strides` moves the window further, `dilation_rate` spreads '
    'its taps apart (the skipped cells are drawn as gaps), `padding="same"` adds zeros so '
    'that the output has `ceil(n / strides)` cells, with the odd zero at the end, and '
    '`groups` splits the channels into independent blocks.',
)
view = controls.layer_view(values, "convolution")
controls.show(view, values, "convolution")

"""Transposed convolution: every layer of the family animated, with its shape arithmetic."""

from convviz.viz import controls

values = controls.widgets("transposed")
controls.header(
    values,
    "Transposed convolution",
    'Conv1DTranspose, Conv2DTranspose and Conv3DTranspose undo the *shape* change of a '
    'strided convolution. The **gather** view shows the same numbers as an ordinary '
    'convolution of a zero-inserted input (`strides - 1` zeros between cells, drawn pale '
    'yellow) with the kernel flipped; the **scatter** view shows each input cell painting a '
    'kernel-sized patch of the output, where overlapping patches add up: the running values '
    'show it, and where the kernel size is not a multiple of the stride some cells get more '
    'patches than others (the checkerboard; see Transposed, demystified).',
)
view = controls.layer_view(values, "transposed")
controls.show(view, values, "transposed")

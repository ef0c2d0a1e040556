"""Transposed convolution: every layer of the family animated, with its shape arithmetic."""

import streamlit as st

from convviz.viz import controls

st.title("Transposed convolution")
st.markdown(
    'Conv1DTranspose, Conv2DTranspose and Conv3DTranspose undo the *shape* change of a '
    'strided convolution. The **gather** view shows the same numbers as an ordinary '
    'convolution of a zero-inserted input (`strides - 1` zeros between cells, drawn pale '
    'yellow) with the kernel flipped; the **scatter** view shows each input cell painting a '
    'kernel-sized patch of the output, where overlapping patches add up (the checkerboard).'
)
values = controls.widgets("transposed")
view = controls.layer_view(values, "transposed")
controls.show(view, values, "transposed")

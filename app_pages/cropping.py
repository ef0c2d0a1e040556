"""Cropping: every layer of the family animated, with its shape arithmetic."""

import streamlit as st

from convviz.viz import controls

st.title("Cropping")
st.markdown(
    'Cropping1D/2D/3D remove `(start, end)` cells from each spatial axis. Each output cell '
    'copies one input cell: the window is a single cell, shifted by the start crop.'
)
values = controls.widgets("cropping")
view = controls.layer_view(values, "cropping")
controls.show(view, values, "cropping")

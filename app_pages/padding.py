"""Zero padding: every layer of the family animated, with its shape arithmetic."""

import streamlit as st

from convviz.viz import controls

st.title("Zero padding")
st.markdown(
    'ZeroPadding1D/2D/3D add `(start, end)` zeros to each spatial axis. Output cells over the'
    ' padding read nothing (they are zero); the others copy one input cell.'
)
values = controls.widgets("padding")
view = controls.layer_view(values, "padding")
controls.show(view, values, "padding")

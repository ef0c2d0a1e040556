"""Home: a live example, what convviz is, a map of every layer and how to read the colours."""

import streamlit as st

from convviz.viz import controls

st.title("convviz: convolution arithmetic, animated and exact to Keras")
example = controls.home_example()
controls.scene_player(example, "home", explain=True)
st.caption(
    f"`{example.shape.keras_call}` on a 5x5 input: press ▶ play, drag the scrubber or use "
    "← / →. The orange window reads 3x3 cells, the grey ring is the zero padding that "
    "`padding=\"same\"` adds, and each output cell appears once it is written, with the "
    "arithmetic under the grids. The key above the grids names every colour."
)
st.markdown(
    "convviz draws what each Keras 3 convolution-family layer does: every window position, "
    "every padding cell, every dilation gap, with real numbers and the output-shape formula "
    "filled in. The same NumPy engine computes full-size batched inputs exactly as Keras 3 "
    "does (same arguments, weights, shapes and error messages)."
)
st.subheader("Every layer, by page")
controls.layer_map()

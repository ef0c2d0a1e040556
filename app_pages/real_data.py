"""On real data: pictures, a sound and a volume through the real layers, and a whole batch."""

import streamlit as st

from convviz.viz import links, page_fields, real_page

P = page_fields.REAL_DATA
links.load("real", P, keep=True)  # the batch part runs the image part's settings
st.title("On real data")
st.markdown(
    "The same engine as the animated pages, on real inputs: pick a picture, a layer, its "
    "Keras arguments and the weights every filter gets (a named kernel such as Sobel or a "
    "Gaussian), and see every output channel. Stride shows aliasing on the zone plate, "
    "dilation and padding show at the borders, depthwise layers act per colour channel."
)
links.notices("real")
part = links.widget(P["part"], control="radio", label="Show")
real_page.show(part)
links.save(P)

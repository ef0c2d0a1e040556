"""Transposed convolution, demystified: Conv2DTranspose versus UpSampling2D + Conv2D."""

import streamlit as st

from convviz import catalog, stack
from convviz.viz import downloads, links, page_fields
from convviz.viz import lab_figures as lf
from convviz.viz.controls import PLOTLY_CONFIG, export_buttons, matrix_section, scene_player
from convviz.viz.view import build

P = page_fields.DEMYSTIFIED
links.load("demystified", P)

st.title("Transposed convolution, demystified")
st.markdown(
    "Two ways to make an image `strides` times larger: a **Conv2DTranspose**, or an "
    "**UpSampling2D** (repeat every cell) followed by an ordinary **Conv2D**. Same input, "
    "same output shape, but not the same arithmetic: count how many input-times-weight "
    "products land in each output cell."
)
links.notices("demystified")
with st.sidebar:
    n, k, s, layers = (links.widget(P[name]) for name in ("n", "k", "s", "layers"))
links.save(P)


@st.cache_resource(max_entries=32, show_spinner=False)
def views(n, k, s):
    spec = downloads.demystified_spec(n, k, s)
    return build(spec, view="gather"), build(spec, view="scatter")


try:
    c = stack.compare_upsampling(n, k, s, layers=layers)
except ValueError as exc:  # a setting Keras refuses, or too large for the page
    st.error(f"**These settings cannot be compared.** {exc}", icon=":material/block:")
    st.stop()

t, u = c["transposed"], c["upsample_conv"]
st.markdown(f"Input `{catalog.format_shape(c['input_shape'])}` → both outputs "
            f"`{catalog.format_shape(t['output_shape'])}`"
            + (" (equal ✓)" if c["same_output_shape"] else " (different ✗)"))
sides = [(t, "Conv2DTranspose", "Blues"), (u, "UpSampling2D + Conv2D", "Greens")]
for col, (side, title, scale) in zip(st.columns(2), sides):
    with col:
        st.subheader(title)
        st.code("import keras\n\n" + side["code"], language="python", wrap_lines=True)
        st.plotly_chart(lf.overlap_figure(side["overlap"], "products per output cell", scale),
                        key=f"demystified.overlap.{scale}", config=PLOTLY_CONFIG)
        kind, text = lf.overlap_message(side)
        box = {"checkerboard": st.warning, "even": st.success, "edges": st.info}[kind]
        box(text, icon=":material/grid_view:" if kind == "checkerboard" else
            ":material/check:")
st.info(f"**{c['rule']}** {c['explanation']}", icon=":material/lightbulb:")

st.header("The transposed convolution, two ways to read it")
st.caption(f"The first `Conv2DTranspose(1, {k}, strides={s}, padding=\"same\")` on a {n}x{n} "
           "input: the gather and the scatter view compute the same output.")
gather, scatter = views(n, k, s)
for v, title, key in (
        (gather, "gather: the window slides over the zero-inserted input (kernel flipped)",
         "gather"),
        (scatter, "scatter: each input cell paints its kernel-sized patch", "scatter")):
    st.subheader(title)
    if v.error:
        st.error(v.error, icon=":material/block:")
        continue
    st.caption("Left: the **input**, with zeros inserted between its cells (pale yellow) and "
               "padding (grey); right: the **output**, written cell by cell." if key == "gather"
               else "Left: the **input**; right: the **output**, with how many patches cover "
               "each cell (the overlap count).")
    at = f"demystified.{key}_step"
    reported = scene_player(v, f"demystified.{key}", step=st.session_state[at])
    st.session_state[at] = v.clip(reported.get("step", st.session_state[at]))
    export = downloads.Export("demystified", v.spec, v.view, step=st.session_state[at])
    export_buttons(export, downloads.demystified_query(st.session_state, key),
                   f"demystified.{key}", v.scene)
    matrix_section(v, "demystified", st.session_state[at])
links.save(P)  # again: with the steps the players reported

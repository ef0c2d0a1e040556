"""Shape calculator: every layer of one rank applied to one input shape."""

from __future__ import annotations

import re
import string

import streamlit as st

from convviz import catalog
from convviz.viz import links, page_fields
from convviz.viz.fields import AXIS_NAMES

_MARKDOWN_SPECIAL = re.compile(f"([{re.escape(string.punctuation)}])")
P = page_fields.SHAPE_CALCULATOR
links.load("shape_calculator", P)


def plain(text: str) -> str:
    """``text`` escaped so that Streamlit's markdown shows it verbatim."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


st.title("Shape calculator")
st.write(
    "Pick an input shape and see what every Keras layer of that rank makes of it: "
    "output shape, number of weights, or the rule the shape breaks."
)
links.notices("shape_calculator")

with st.sidebar:
    rank = links.widget(P["rank"])
    data_format = links.widget(P["data_format"])
    window = {}
    if links.widget(P["set_window"]):
        for name in ("kernel_size", "strides", "dilation_rate"):
            window[name] = int(links.widget(P[name], control="number"))
        window["padding"] = links.widget(P["padding"])

columns = st.columns(rank + 2)
spatial_shape = tuple(
    int(links.widget(P[f"n{axis}"], column, f"Input {name}", control="number"))
    for axis, (column, name) in enumerate(zip(columns, AXIS_NAMES[rank], strict=False))
)
channels = int(links.widget(P["channels"], columns[rank], control="number"))
with columns[rank + 1]:
    unknown_batch = links.widget(P["batch_none"], control="checkbox")
    batch_size = links.widget(P["batch"], control="number", disabled=unknown_batch)
batch = None if unknown_batch else int(batch_size)
links.save(links.per_axis(P, rank))

rows = catalog.shape_table(spatial_shape, channels, batch, data_format, window)

st.caption(f"Input shape ({data_format}): `{catalog.format_shape(rows[0]['input_shape'])}`")
if rank == 1 and data_format == "channels_first":
    st.info(
        "Cropping1D and UpSampling1D take no `data_format` in Keras: their input is always "
        "`(batch, steps, channels)`."
    )

st.dataframe(
    [
        {
            "layer": row["layer"],
            "Keras call": row["call"],
            "input shape": catalog.format_shape(row["input_shape"]),
            "output shape": catalog.format_shape(row["output_shape"]) or "error",
            "params": row["params"],
        }
        for row in rows
    ],
    hide_index=True,
    width="stretch",
    key="shape_table",
)

for row in rows:
    if row["error"] is not None:
        st.error(f"**{row['layer']}**: {plain(row['error'])}", icon=":material/block:")

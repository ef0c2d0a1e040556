"""Shape calculator: every layer of one rank applied to one input shape."""

from __future__ import annotations

import re
import string

import streamlit as st

from convviz import catalog
from convviz.viz import links

MAX_SIZE = 4096
AXIS_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_MARKDOWN_SPECIAL = re.compile(f"([{re.escape(string.punctuation)}])")
SIZE = links.integer(1, MAX_SIZE)
PADDINGS = ("valid", "same", "causal")
P = {"rank": links.Param("rank", links.choice((1, 2, 3)), 2),
     "data_format": links.Param("data_format", links.choice(catalog.DATA_FORMATS),
                                catalog.DATA_FORMATS[0]),
     **{f"n{a}": links.Param(f"size_{a}", SIZE, 8) for a in range(3)},
     "channels": links.Param("channels", SIZE, 3),
     "batch_none": links.Param("batch_none", links.boolean, True, links.encode_bool),
     "batch": links.Param("batch", SIZE, 1),
     "set_window": links.Param("set_window", links.boolean, False, links.encode_bool),
     "kernel_size": links.Param("kernel_size", links.integer(1, 64), 3),
     "strides": links.Param("strides", links.integer(1, 64), 1),
     "dilation_rate": links.Param("dilation_rate", links.integer(1, 64), 1),
     "padding": links.Param("padding", links.choice(PADDINGS), "valid")}
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
    rank = st.selectbox("Spatial rank", (1, 2, 3), key="rank")
    data_format = st.selectbox("data_format", catalog.DATA_FORMATS, key="data_format")
    window = {}
    if st.toggle("Set the window arguments", key="set_window",
                 help="Give every layer that takes them the same kernel_size, strides, "
                 "padding and dilation_rate (otherwise each uses its example values)."):
        for name in ("kernel_size", "strides", "dilation_rate"):
            window[name] = int(st.number_input(name, 1, 64, key=name))
        window["padding"] = st.selectbox("padding", PADDINGS, key="padding",
                                         help="'causal' exists only for Conv1D.")

columns = st.columns(rank + 2)
spatial_shape = tuple(
    int(
        column.number_input(
            f"Input {name}", min_value=1, max_value=MAX_SIZE, step=1, key=f"size_{axis}"
        )
    )
    for axis, (column, name) in enumerate(zip(columns, AXIS_NAMES[rank], strict=False))
)
channels = int(
    columns[rank].number_input(
        "Channels", min_value=1, max_value=MAX_SIZE, step=1, key="channels"
    )
)
with columns[rank + 1]:
    unknown_batch = st.checkbox("Batch unknown (None)", key="batch_none")
    batch_size = st.number_input(
        "Batch", min_value=1, max_value=MAX_SIZE, step=1, key="batch",
        disabled=unknown_batch,
    )
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

"""Stacks: a small Sequential model, its summary, its Keras code and a receptive field."""

import streamlit as st

from convviz import catalog, lab, layout, stack
from convviz.viz import lab_figures as lf
from convviz.viz import links, page_fields
from convviz.viz.controls import PLOTLY_CONFIG

DEFAULT = links.parse_layers("Conv2D(4,3);Conv2D(4,3,strides=2);Conv2D(4,3)")[0]
P = page_fields.STACKS
links.load("stacks", P, layers_key="stacks.entries")
S = st.session_state
S.setdefault("stacks.entries", list(DEFAULT))
st.title("Stacks")
st.markdown(
    "Compose layers like a small `keras.Sequential` model: the table follows the shape "
    "through every layer (like `model.summary()`), and the heatmap shows which input cells a "
    "chosen output cell depends on, and along how many paths (products of kernel taps)."
)
links.notices("stacks")


def edit(op, i=None):
    model = stack.Stack((), S["stacks.entries"])
    if op == "add":
        try:
            kwargs = lf.parse_kwargs(S.get("stacks.kwargs", ""), S["stacks.layer"])
        except ValueError as exc:
            S["stacks.add_error"] = str(exc)
            return
        model = model.add(S["stacks.layer"], kwargs)
    elif op == "remove":
        model = model.remove(i)
    elif op in ("up", "down"):
        model = model.move(i, i - 1 if op == "up" else i + 1)
    elif op == "reset":
        model = stack.Stack((), DEFAULT)
    S["stacks.entries"] = list(model.entries)
    S.pop("stacks.add_error", None)


def example_kwargs():
    S["stacks.kwargs"] = ", ".join(f"{k}={v!r}" for k, v in
                                   catalog.BY_NAME[S["stacks.layer"]].example.items())


entries = S["stacks.entries"]
st.subheader("Layers")
for i, (name, kw) in enumerate(entries):
    text, up, down, rm = st.columns([12, 1, 1, 1], vertical_alignment="center")
    text.markdown(f"`{i}` &nbsp; `{lab.short_call(name, kw)}`")
    up.button("↑", key=f"stacks.up.{i}", on_click=edit, args=("up", i), disabled=i == 0,
              help="Move up")
    down.button("↓", key=f"stacks.down.{i}", on_click=edit, args=("down", i),
                disabled=i == len(entries) - 1, help="Move down")
    rm.button("✕", key=f"stacks.remove.{i}", on_click=edit, args=("remove", i), help="Remove")
layer_col, args_col, add, reset = st.columns([3, 6, 1, 1], vertical_alignment="bottom")
S.setdefault("stacks.layer", "Conv2D")
layer_col.selectbox("Add a layer", [i.name for i in catalog.CATALOG], key="stacks.layer",
                    on_change=example_kwargs)
if "stacks.kwargs" not in S:
    example_kwargs()
args_col.text_input("Arguments (e.g. 4, 3, strides=2, padding='same')", key="stacks.kwargs")
add.button("Add", key="stacks.add", on_click=edit, args=("add",),
           disabled=len(entries) >= lf.MAX_LAYERS, help=f"At most {lf.MAX_LAYERS} layers")
reset.button("Reset", key="stacks.reset", on_click=edit, args=("reset",))
if "stacks.add_error" in S:
    st.error(f"**Not added.** {S['stacks.add_error']}", icon=":material/block:")
with st.sidebar:
    st.subheader("Input")
    rank = catalog.BY_NAME[entries[0][0]].rank if entries else 2
    spatial = tuple(links.widget(P[f"n{a}"]) for a in range(rank))
    channels = links.widget(P["channels"])
links.save(links.per_axis(P, rank), links.layers_param(entries, DEFAULT))
if not entries:
    st.info("The stack is empty: pick a layer under **Add a layer** above.", icon="ℹ️")
    st.stop()
shape = lf.input_shape_for(entries, spatial, channels)
too_big = lf.stack_limits(entries, shape)
if too_big:
    st.error(f"**Too large for this page.** {too_big}", icon=":material/block:")
    st.stop()
rows = stack.summary(entries, shape)
total = stack.totals(rows)
st.markdown(f"Input shape: `{catalog.format_shape(shape)}`")
st.dataframe(lf.summary_table(rows), hide_index=True, key="stacks.summary")
st.markdown(f"**Total params:** {total['params']:,} · **MACs per sample:** {total['macs']:,}"
            f" · **output shape:** `{catalog.format_shape(total['output_shape']) or '-'}`")
for row in rows:
    if row.status == "error":
        st.error(f"**Layer {row.index} (`{lab.short_call(row.name, row.kwargs)}`) does not fit "
                 f"its input `{catalog.format_shape(row.input_shape)}`.** {row.error}",
                 icon=":material/block:")
st.code("import keras\n\n" + stack.keras_code(entries, shape), language="python",
        wrap_lines=True)
if total["ok"]:
    st.subheader("Receptive field of one output cell")
    out = total["output_shape"]
    out_spatial = layout.spatial(out, dict(entries[-1][1]).get("data_format"))
    cols = st.columns(len(out_spatial))
    index = []
    for a, (col, size) in enumerate(zip(cols, out_spatial)):
        k = f"stacks.o{a}"
        S[k] = min(S.get(k, size // 2), size - 1)
        index.append(col.slider(f"Output cell, axis {a}", 0, size - 1, key=k)
                     if size > 1 else col.caption(f"axis {a}: one cell") or 0)
    try:
        counts = stack.path_counts(entries, shape, tuple(index))
    except ValueError as exc:
        st.error(f"**No receptive field.** {exc}", icon=":material/block:")
    else:
        st.plotly_chart(lf.receptive_field_figure(counts, out_spatial, tuple(index)),
                        key="stacks.rf", config=PLOTLY_CONFIG)
        st.caption("Each number is how many paths (chains of kernel taps on real cells) lead "
                   "from that input cell to the chosen output cell; 0 is outside the field.")

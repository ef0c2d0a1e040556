"""The "On real data" page's parts (streamlit): the page draws the part picker and calls
:func:`show`. Each part reads its own widgets (:data:`~convviz.viz.page_fields.REAL_DATA`),
runs :mod:`convviz.realdata` and draws its figure (:mod:`convviz.viz.real_figures`); bad
settings end the part with an inline message, never a traceback.
"""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from .. import catalog, layout, realdata
from . import downloads, links, page_fields
from . import real_figures as rf
from .controls import PLOTLY_CONFIG

P = page_fields.REAL_DATA
S = st.session_state


def _settings(title: str, *keys: str) -> list:
    """A part's widgets ``keys`` (fields of :data:`P`), in order, under ``title`` in the
    sidebar."""
    with st.sidebar:
        st.subheader(title)
        return [links.widget(P[k]) for k in keys]


def _refuse(what: str, exc: ValueError) -> NoReturn:
    """End the part with ``what`` and the rule it broke: an inline message, no traceback."""
    st.error(f"**{what}** {exc}", icon=":material/block:")
    st.stop()


@st.cache_data(max_entries=32, show_spinner=False)
def picture(name: str, size: int, rgb: bool, upload: bytes | None = None):
    """A sample picture (or the uploaded bytes), shrunk to ``size`` px."""
    mode = "rgb" if rgb else "gray"
    return realdata.fit(realdata.load_image(name if upload is None else upload, mode=mode),
                        size)


def input_widgets():
    """The picture: a sample, or an upload (checked before it is decoded)."""
    with st.sidebar:
        st.subheader("Input")
        name, size, rgb = (links.widget(P[k]) for k in ("image", "size", "rgb"))
        st.caption(realdata.REGISTRY[name].description)
        upload = st.file_uploader(
            f"Or your own picture ({', '.join(realdata.IMAGE_FORMATS)}; a still image of at "
            f"most {realdata.MAX_UPLOAD_BYTES >> 20} MB)",
            type=["png", "jpg", "jpeg", "gif", "bmp", "webp"], key="real.upload")
    if upload is not None:
        try:
            return picture(name, size, rgb, upload.getvalue()), f"your picture {upload.name}"
        except ValueError as exc:
            st.error(f"**That file cannot be used; the sample is shown instead.** {exc}",
                     icon=":material/block:")
    return picture(name, size, rgb), f"the sample {name}"


@st.cache_resource(max_entries=16, show_spinner=False)
def image_view(img, layer, kernel, channels, args, out_index):
    """The image part's :func:`~convviz.viz.real_figures.image_view`, kept per settings."""
    return rf.image_view(img, layer, kernel=kernel, channels=channels, out_index=out_index,
                         **dict(args))


def image_part() -> None:
    """Any 2-D layer on a picture: every output channel, and one output pixel's window explained."""
    img, source = input_widgets()
    with st.sidebar:
        st.subheader("Layer")
        layer, kernel, channels = (links.widget(P[k]) for k in ("layer", "kernel", "channels"))
        st.caption(realdata.KERNELS[kernel])
        values = {k: links.widget(P[k]) for k in rf.image_settings(layer)}
    args = tuple(rf.image_arguments(layer, {**{k: p.default for k, p in P.items()}, **values})
                 .items())
    try:
        v = image_view(img, layer, kernel, channels, args, (S["real.row"], S["real.col"]))
    except ValueError as exc:
        _refuse(f"This layer cannot run on {source}.", exc)
    st.markdown(f"`{v.result.call}` on {source}: {rf.heading(v.result)}.")
    st.plotly_chart(v.figure, key="real.maps", config=PLOTLY_CONFIG)
    out_shape = v.result.feature_maps.shape[1:]
    st.markdown("**The window of one output pixel** (hover an output channel to see what "
                "each pixel reads; red box: the input cells of the chosen one)")
    cols = st.columns(2)
    for col, key, n in zip(cols, ("row", "col"), out_shape):
        S[f"real.{key}"] = min(S[f"real.{key}"], n - 1)
        links.widget(P[key], col, disabled=n == 1, hi=max(n - 1, 1))
    facts, rows = st.columns([2, 3])
    facts.dataframe([{"": k, "value": val} for k, val in v.facts], hide_index=True,
                    key="real.facts")
    rows.caption(v.explained())
    rows.dataframe(v.rows(), hide_index=True, key="real.rows", height=260)
    st.link_button("Download the feature maps (PNG)",
                   downloads.real_link(v.result.feature_maps, f"{layer}_{kernel}", v.result),
                   icon=":material/image:", key="real.png")


def checkerboard_part() -> None:
    """Conv2DTranspose beside UpSampling2D + Conv2D on the picture, with the overlap counts."""
    img, source = input_widgets()
    k, s = _settings("Both recipes", "cb_k", "cb_s")
    try:
        cb = realdata.checkerboard_demo(img, k, s)
    except ValueError as exc:
        _refuse(f"These settings cannot run on {source}.", exc)
    (st.warning if cb.checkerboard else st.success)(cb.explanation, icon=":material/grid_view:")
    st.caption(f"Weights (bias 0): every tap of the Conv2D is 1/(k·k) = 1/{k * k}, a plain "
               f"blur; every tap of the Conv2DTranspose is s·s/(k·k) = {s * s}/{k * k}, so that "
               "on average a flat picture keeps its brightness. Each output is the picture's "
               "value times that weight times the products per cell: where the count is "
               "uneven, so is the output.")
    st.plotly_chart(rf.checkerboard_figure(cb), key="real.checkerboard", config=PLOTLY_CONFIG)
    left, right = st.columns(2)
    left.code("import keras\n\n" + cb.code_transposed, language="python", wrap_lines=True)
    right.code("import keras\n\n" + cb.code_resize_conv, language="python", wrap_lines=True)


def signal_part() -> None:
    """A WaveNet-style stack of dilated Conv1D layers: one output step's field on a chirp."""
    k, layers, padding, out = _settings("A WaveNet-style stack", "sig_k", "sig_layers",
                                        "sig_padding", "sig_out")
    signal, rate = realdata.load_signal("chirp", with_rate=True)
    if padding == "valid":  # the output is shorter by the field's width less one
        out = min(out, signal.size - sum(2 ** i * (k - 1) for i in range(layers)) - 1)
    try:
        field = realdata.receptive_field_1d(k, tuple(2 ** i for i in range(layers)),
                                            steps=signal.size, out_index=out, padding=padding)
    except ValueError as exc:
        _refuse("This stack cannot run on the signal.", exc)
    clipped = ("" if field.size == field.formula else
               f" Fewer than the formula's {field.formula}: the rest of this step's field "
               "lies before the start or past the end of the signal, in the zero padding.")
    st.markdown(f"Output step **{field.out_index}** reads **{field.size}** input steps "
                f"(steps {field.span[0]}..{field.span[1]}); a field is 1 + Σ d·(k − 1) = "
                f"**{field.formula}** steps wide; after each layer: "
                + " → ".join(map(str, field.growth)) + "." + clipped)
    st.plotly_chart(rf.signal_figure(signal, rate, field), key="real.signal",
                    config=PLOTLY_CONFIG)
    st.code("import keras\n\n" + field.code, language="python", wrap_lines=True)


def volume_part() -> None:
    """Conv3D on a volume, drawn slice by slice."""
    kernel, k, s, depth = _settings("Conv3D", "vol_kernel", "vol_k", "vol_s", "depth")
    try:
        result = realdata.apply("Conv3D", realdata.load_asset("sphere"), kernel=kernel,
                                filters=1, kernel_size=k, padding="same",
                                **({"strides": s} if s > 1 else {}))
    except ValueError as exc:
        _refuse("This Conv3D cannot run on the volume.", exc)
    st.markdown(f"`{result.call}`: input `{result.input_shape}` → output "
                f"`{result.output_shape}` in {result.seconds * 1000:.1f} ms.")
    st.plotly_chart(rf.volume_figure(result, depth), key="real.volume", config=PLOTLY_CONFIG)


def batch_part() -> None:
    """The image part's layer on a whole batch of full-size pictures, timed."""
    count, size, layer, kernel, channels = _settings(
        "The batch", "batch", "batch_size", "layer", "kernel", "channels")
    args = rf.image_arguments(layer, {k: S.get(p.state_key, p.default) for k, p in P.items()})
    st.markdown(f"**{count}** RGB pictures of **{size} x {size}** (the four samples, turned, "
                f"mirrored and shifted) through `{catalog.keras_call(layer, args)}` with the "
                f"**{kernel}** kernel: the layer and arguments of the image part, at full "
                "size, in the engine's batched path.")
    if st.button("Run the batch", key="real.run", type="primary"):
        bar = st.progress(0.0, text="running")
        try:
            batch = realdata.sample_batch(count, size)
            run = realdata.batch_run(layer, batch, kernel=kernel, channels=channels,
                                     progress=bar.progress, **args)
        except ValueError as exc:
            bar.empty()
            st.error(f"**This batch cannot run.** {exc}", icon=":material/block:")
        else:
            bar.empty()
            st.dataframe([{"input shape": str(batch.shape), "output shape":
                           str(run.output.shape), "wall time": f"{run.seconds:.3f} s",
                           "images / s": f"{run.images_per_second:.1f}",
                           "GFLOP/s": f"{run.gflops:.2f}"}], hide_index=True,
                         key="real.batch")
            first = layout.to_last(run.output[:4], run.layer.data_format)
            st.image(realdata.to_png(first[..., 0], titles=[f"picture {i}, output channel 0"
                                                            for i in range(len(first))]),
                     caption="The first pictures' outputs, channel 0.")


PARTS = {"image": image_part, "checkerboard": checkerboard_part, "signal": signal_part,
         "volume": volume_part, "batch": batch_part}


def show(part: str) -> None:
    """Draw the part ``part`` (one of :data:`~convviz.viz.page_fields.REAL_PARTS`)."""
    PARTS[part]()

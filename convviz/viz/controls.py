"""Streamlit widgets and panels shared by the layer pages (the only place that draws them).

A family page is three calls::

    values = controls.widgets(family)      # keyed sidebar widgets, synced with the URL
    view = controls.layer_view(values)     # cached call into convviz.viz.view.build
    controls.show(view, values)            # the player, exports, shape and layout panels

Nothing here computes geometry: that is :mod:`convviz.viz.view` and the package below it.
The picture is the browser's step player (:mod:`convviz.viz.player`, a bidirectional
component): it steps without the server and reports the step once stepping settles, so
the PNG button, the 3-D view and the link all show the player's step.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import streamlit as st

from . import downloads, links, player
from .scene import MAX_CANVAS_PX, step_label
from .schema import FAMILY_PAGES, PLAYER_FIELDS, SPEEDS, Family, decode, encode, spec_from_values
from .view import DEFAULT_CELL_PX, PRESENTER_CANVAS_PX, PRESENTER_CELL_PX, LayerView, build

PLOTLY_CONFIG = {"displaylogo": False, "scrollZoom": False}
#: The container whose contents follow the player's step (dimmed while it moves on).
STEP_DEPENDANTS = "convviz-step-deps"
_DIMMED = (f'body[data-convviz-stale="1"] .st-key-{STEP_DEPENDANTS} {{ opacity: 0.35; '
           "pointer-events: none; transition: opacity 0.15s; }")
#: The step player, registered once: its script and styles are the same on every page.
_PLAYER = st.components.v2.component("convviz.player", js=player.COMPONENT_JS,
                                     css=player.CSS + _DIMMED, isolate_styles=False)


def key(family: Family, name: str) -> str:
    """Session-state key of a field on a family's page (unique across pages)."""
    return f"{family.key}.{name}"


def _load_query(family: Family) -> None:
    """On a page's first run in a session, seed its widgets from the URL (with notices)."""
    flag = key(family, "_loaded")
    if st.session_state.get(flag):
        return
    st.session_state[flag] = True
    if not st.query_params:
        return
    params = {k: st.query_params.get_all(k) for k in st.query_params}
    values, notices = decode(family, params)
    for name, value in values.items():
        st.session_state[key(family, name)] = value
    st.session_state[key(family, "_notices")] = notices


def _widget(family: Family, f, layer: str, container, hi: int | None = None):
    """Draw field ``f``; ``hi`` narrows an int field's upper bound (the filter shown)."""
    k = key(family, f.key)
    if k not in st.session_state:
        st.session_state[k] = f.default
    label = f.label_for(layer)
    if f.kind == "int":
        top = f.hi_for(layer) if hi is None else min(f.hi_for(layer), hi)
        st.session_state[k] = int(np.clip(st.session_state[k], f.lo, max(top, f.lo)))
        if top <= f.lo:
            return f.lo  # one choice: nothing to pick (e.g. the filter of a 1-filter layer)
        return container.slider(label, f.lo, top, step=1, key=k, help=f.help or None)
    if f.kind == "bool":
        return container.toggle(label, key=k, help=f.help or None)
    choices = f.choices_for(layer)
    if st.session_state[k] not in choices:  # e.g. 'causal' after a switch to Conv2D
        st.session_state[k] = f.default
    return container.selectbox(label, choices, key=k, help=f.help or None)


def widgets(family: Family | str) -> dict:
    """Draw the family's widgets in the sidebar; return every field's current value."""
    family = _family({}, family)
    _load_query(family)
    values = family.defaults()
    sidebar = st.sidebar
    layer = _widget(family, family.field("layer"), family.field("layer").default, sidebar)
    values["layer"] = layer
    groups = (("Input", lambda f: f.key[0] == "n" or f.key in ("channels", "data_format")),
              ("Layer arguments", lambda f: f.arg),
              ("Display", lambda f: not f.arg))
    seen = {"layer"}
    for title, member in groups:
        box = sidebar.expander(title, expanded=title != "Display")
        for f in family.active(layer):
            if f.key in seen or not member(f):
                continue
            seen.add(f.key)
            if f.key in PLAYER_FIELDS:  # set in the player, kept in session and link
                values[f.key] = st.session_state.setdefault(key(family, f.key), f.default)
                continue
            hi = int(values.get("filters", 1)) - 1 if f.key == "filter" else None
            values[f.key] = _widget(family, f, layer, box, hi)
    step = st.session_state.get(key(family, "step"))
    if step is not None:
        values["step"] = step
    values["_family"] = family.key
    return values


#: Layer views kept per server process: the biggest (a 2601-step Conv2DTranspose) holds
#: ~15 MB, so at most ~250 MB; a class mostly shares the teacher's settings. (24 let a
#: 10-minute class's memory grow 24 % after its first minute, as bigger settings came in.)
VIEW_CACHE_ENTRIES = 16


@st.cache_resource(max_entries=VIEW_CACHE_ENTRIES, show_spinner=False)
def _cached_view(spec, view, numbers, cell_px, reveal=False, filter=0) -> LayerView:
    canvas = PRESENTER_CANVAS_PX if cell_px == PRESENTER_CELL_PX else MAX_CANVAS_PX
    return build(spec, view=view, numbers=numbers, reveal=reveal, filter=filter,
                 cell_px=cell_px, canvas_px=canvas)


def _family(values: dict, family: Family | str | None) -> Family:
    """``family`` as a Family; by default the one whose page shows ``values["layer"]``."""
    if family is None:
        return next(f for f in FAMILY_PAGES.values() if values["layer"] in f.layers)
    return FAMILY_PAGES[family] if isinstance(family, str) else family


def layer_view(values: dict, family: Family | str | None = None) -> LayerView:
    """The (cached) :class:`LayerView` for a page's values."""
    family = _family(values, family)
    try:
        spec = spec_from_values(family, values)
    except ValueError as exc:
        return LayerView(spec=None, error=str(exc))
    cell_px = PRESENTER_CELL_PX if values.get("presenter") else DEFAULT_CELL_PX
    return _cached_view(spec, values.get("view", "gather"), bool(values.get("numbers")),
                        cell_px, bool(values.get("reveal")), int(values.get("filter", 0)))


def scene_player(view: LayerView, page: str, *, step: int = 0, speed: str = "normal",
                 explain: bool = False, presenter: bool = False) -> dict:
    """Draw ``view``'s step player (keyed ``page``.player); return what it reported:
    ``{"step": ..., "speed": ...}`` once the user has stepped or changed the speed.

    The payload starts at ``step`` and stays the same while only the step changes (the
    player already shows the step it reported), so stepping never re-sends the picture:
    a new payload goes out for a new picture, or when the player was not on the page.
    """
    pkey = f"{page}.player"
    fresh = st.session_state.get(pkey) is None
    sig = player.picture_id(view.scene)
    skey = f"{page}._player_start"
    start = st.session_state.get(skey)
    if fresh or start is None or start[0] != sig:
        start = (sig, view.clip(step), speed if speed in SPEEDS else "normal")
        st.session_state[skey] = start
    data = view.message(start[1], speed=start[2], explain=explain, presenter=presenter)
    state = _PLAYER(key=pkey, data=data, on_step_change=lambda: None,
                    on_speed_change=lambda: None, width="stretch")
    return {k: v for k, v in dict(state or {}).items() if v is not None}


def _player_step(family: Family, view: LayerView, values: dict) -> int:
    """The page's one step: the player's last report, else the link's (clipped)."""
    reported = st.session_state.get(key(family, "player")) or {}
    if isinstance(reported.get("step"), int):
        st.session_state[key(family, "step")] = reported["step"]
    if reported.get("speed") in SPEEDS:
        st.session_state[key(family, "speed")] = values["speed"] = reported["speed"]
    step = view.clip(st.session_state.get(key(family, "step"), 0))
    st.session_state[key(family, "step")] = step
    return step


def show(view: LayerView, values: dict, family: Family | str | None = None) -> None:
    """Draw a layer view: error, or the player + exports + shape and layout panels."""
    family = _family(values, family)
    if view.error is not None:
        st.query_params.from_dict(encode(family, values))
        st.error(f"**This configuration is not allowed.** {view.error}  \n"
                 "Change any widget to continue.", icon=":material/block:")
        return
    presenter = bool(values.get("presenter"))
    numbers = bool(values.get("numbers"))
    step = values["step"] = _player_step(family, view, values)
    st.query_params.from_dict(encode(family, values))
    if not presenter:
        for notice in view.scene.notices:
            st.info(notice, icon=":material/info:")
    scene_player(view, family.key, step=step, speed=values.get("speed", "normal"),
                 explain=numbers and not presenter, presenter=presenter)
    with st.container(key=STEP_DEPENDANTS):
        if not presenter:
            export = downloads.Export(family.key, view.spec, view.view, numbers,
                                      view.scene.reveal, view.scene.filter, step)
            export_buttons(export, encode(family, values), f"{family.key}.{view.view}",
                           view.scene)
        if view.spec.rank == 3 and view.view == "gather":
            st.caption(f"The window of {step_label(step, view.steps)} in 3-D "
                       "(drag to turn):")
            st.plotly_chart(view.volume(step), key=key(family, "volume"),
                            config=PLOTLY_CONFIG)
        if not presenter and family.family in ("convolution", "transposed"):
            matrix_section(view, family.key, step)
    left, right = st.columns(2) if not presenter else (st.container(), None)
    with left:
        shape_panel(view)
    if right is not None:
        with right:
            layout_panel(view)


def matrix_section(view: LayerView, page: str, step: int) -> None:
    """The layer as a matrix (:mod:`convviz.viz.matrix_panel`), in an expander, with the
    rested step's row (or, in the scatter view, input column) outlined."""
    from .matrix_panel import matrix_panel

    # filled only while open (on_change="rerun" makes the expander report it), so a closed
    # one costs a rerun no matrix and no figure
    box = st.expander("The same layer as a matrix: y = M · x",
                      key=f"{page}.{view.view}.matrix_open", on_change="rerun")
    with box:
        if not box.open:
            return
        panel = matrix_panel(view)
        if isinstance(panel, str):
            st.info(panel, icon=":material/info:")
            return
        for line in panel.lines:
            st.markdown(line)
        st.caption(f"Outlined: {step_label(step, view.steps)}, "
                   + ("its input cell's column (every output it adds to)."
                      if panel.view == "scatter" else "its row (the weights it reads)."))
        st.plotly_chart(panel.figure(step), key=f"{page}.{view.view}.matrix",
                        config=PLOTLY_CONFIG, width="content")


def shape_panel(view: LayerView) -> None:
    """Per-axis formula with numbers, the engine's real shape beside it, params and MACs."""
    panel = view.shape
    st.subheader("Output shape")
    for general in dict.fromkeys(row["general"] for row in panel.rows):
        st.latex(f"\\text{{out}} = {general.latex()}")
    for row in panel.rows:
        st.latex(f"\\text{{{row['name']}: }}\\; {row['formula'].latex()}")
    engine = panel.spatial(panel.engine_shape)
    mark = "agree ✓" if panel.agree else "DISAGREE ✗"
    st.markdown(
        f"Formula: `{panel.formula_shape}` · engine's real output (batch 1): "
        f"`{panel.engine_shape}`, spatial `{engine}`: **{mark}**  \n"
        f"Keras output shape: **`{panel.output_shape}`** · parameters: **{panel.params:,}** · "
        f"multiply-accumulates per sample: **{panel.macs:,}**")
    keras_tab, torch_tab = st.tabs(["Keras", "PyTorch"])
    keras_tab.code(f"import keras\nlayer = {panel.keras_call}\n"
                   f"y = layer(keras.Input(shape={panel.input_shape[1:]}))  # "
                   f"{panel.output_shape}", language="python")
    port = panel.torch
    if isinstance(port, str):
        torch_tab.info(f"No PyTorch port of this setting: {port}")
        return
    torch_tab.markdown("The same function in PyTorch, "
                       + ("**exactly**" if port.exact else "**not exactly** (see below)")
                       + "; `convviz.to_torch(layer).state_dict()` gives these weights in "
                       "torch's layout:")
    torch_tab.code(port.code, language="python", wrap_lines=True)
    # the notes hold code such as full[i*s + j*d]: escape Markdown's emphasis marks
    torch_tab.markdown("\n".join("- " + note.replace("*", "\\*").replace("_", "\\_")
                                  for note in port.notes))


def layout_panel(view: LayerView) -> None:
    """The tensor shape in both data formats and the axes the window moves along."""
    st.subheader("data_format")
    lays = view.shape.layouts
    # one column per data_format (narrow enough for half the page at 1280 px), as Markdown:
    # a table this small needs no dataframe widget (a pandas and Arrow conversion a rerun)
    head = [lay["data_format"] + (" (this layer)" if lay["data_format"] == lay["current"]
                                  else "") for lay in lays]
    rows = [("input shape", [str(lay["input"]) for lay in lays]),
            ("output shape", [str(lay["output"]) for lay in lays]),
            ("window moves along axes", [", ".join(
                f"{a} ({n})" for a, n in zip(lay["window axes"], lay["axis names"]))
                for lay in lays]),
            ("channel axis", [str(lay["channel axis"]) for lay in lays])]
    st.markdown("\n".join(["| | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
                          + [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]))


HOME_SPEC = ("Conv2D", {"filters": 1, "kernel_size": 3, "strides": 1, "padding": "same"}, (5, 5))


def home_example() -> LayerView:
    """The home page's live example: Conv2D(1, 3, padding="same") on a 5x5 integer input."""
    from ..demo import Spec

    name, kwargs, spatial = HOME_SPEC
    return _cached_view(Spec(name, kwargs, spatial), "gather", True, DEFAULT_CELL_PX)


def layer_map() -> None:
    """Every layer in convviz, grouped by the page that animates it, with links."""
    import convviz

    from .schema import FAMILY_PAGES

    covered = set()
    for family in FAMILY_PAGES.values():
        covered.update(family.layers)
        with st.container(border=True):
            st.page_link(f"app_pages/{family.key}.py", label=f"**{family.title}**",
                         icon=":material/arrow_forward:")
            st.markdown(" · ".join(f"`{name}`" for name in family.layers))
    missing = sorted(set(convviz.LAYERS) - covered)
    if missing:  # pragma: no cover - guarded by a test
        st.error(f"Layers without a page: {missing}")
    st.caption("`Convolution1D`..`Convolution3DTranspose` and `SeparableConvolution1D/2D` are "
               "Keras's aliases of the same classes.")


PRESENTER_CSS = """<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
[data-testid="stSidebar"] { font-size: 20px; }
.stButton button { font-size: 1.2rem; }
[data-testid="stMainBlockContainer"] { padding-top: 4.2rem; padding-bottom: 1rem; }
</style>"""


def header(values: dict, title: str, intro: str) -> None:
    """The page title and its introduction; in presenter mode neither (the picture's own
    heading names the layer, and the player gets the screen) but bigger type."""
    family = values.get("_family")
    if values.get("presenter"):
        st.html(PRESENTER_CSS)  # styles only: takes no room on the page
    else:
        st.title(title)
    links.show_notices(st.session_state.pop(f"{family}._notices", []) if family else [])
    if not values.get("presenter"):
        st.markdown(intro)


def export_buttons(export: downloads.Export, query: Mapping[str, str], key: str,
                   scene) -> None:
    """Links to ``export`` as a GIF, a PNG of its step and an HTML player (:mod:`.downloads`:
    rendered by the server on the click, in the background, never lost to a rerun).

    ``query`` is the page's settings (the download URL carries them); ``key`` prefixes the
    buttons' keys, so several views on one page each get their own. The page's ``scene``
    says what the GIF shows (:func:`~.downloads.gif_note`), or why the server will not
    render it (a disabled button).
    """
    from .. import gallery

    url = {kind: downloads.link(export, query, kind) for kind in downloads.KINDS}
    cols = st.columns(3)
    refusal = downloads.animation_refusal(scene)
    cols[0].link_button(
        "Download GIF", url["gif"], key=f"{key}.gif", icon=":material/animated_images:",
        disabled=refusal is not None,
        help=f"No GIF: {refusal}." if refusal
        else f"{downloads.gif_note(scene)}: a big layer takes a while.")
    cols[1].link_button(
        f"Download step {export.step} as PNG", url["png"], key=f"{key}.png",
        icon=":material/image:")
    cols[2].link_button(
        "Download interactive HTML", url["html"], key=f"{key}.html", icon=":material/html:",
        help="This player in one file that plays offline: ←/→ step, space plays, hover a "
        "cell to light up what it reads. For slides or an LMS.")
    st.caption("The same from the shell:")
    st.code(gallery.animate_command(export.spec, view=export.view, numbers=export.numbers,
                                    reveal=export.reveal, filter=export.filter,
                                    output=export.filename("gif")), language="bash")

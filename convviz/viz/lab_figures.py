"""Figures and small pure helpers of the shape lab, stacks and demystified pages (no streamlit).

* :func:`sweep_figure`: the staircase of a :class:`~convviz.lab.Sweep`, the formula's
  prediction as a line and every point marked agree / disagree / invalid;
* :func:`receptive_field_figure`: a stack's path counts over its input beside the output grid
  with the chosen cell; :func:`overlap_figure`: one overlap-count heatmap;
* :func:`parse_kwargs`: layer arguments typed by a learner, read with ``ast.literal_eval``
  only (never ``eval``), and :func:`stack_limits`: the size caps checked *before* a stack
  allocates any weight;
* the widget tables of the shape lab (:data:`FIELDS`, :data:`SWEEP_BOUNDS`, :func:`lab_kwargs`).

>>> parse_kwargs("8, 3, strides=2, padding='same'", "Conv2D")
{'filters': 8, 'kernel_size': 3, 'strides': 2, 'padding': 'same'}
>>> parse_kwargs("{'size': (2, 2)}", "UpSampling2D")
{'size': (2, 2)}
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import convviz

from .. import catalog
from .figures import COLORS

# ----------------------------------------------------------------------------- shape-lab widgets
WINDOW_FAMILIES = ("convolution", "transposed", "depthwise/separable")


@dataclass(frozen=True)
class LabField:
    """One integer or choice widget of the shape lab's sweep tab."""

    key: str
    label: str
    families: tuple
    lo: int = 0
    hi: int = 0
    default: int | str | None = 0


#: The layer-argument widgets of the sweep tab; a field shows for the layers of its families.
FIELDS: tuple[LabField, ...] = (
    LabField("kernel", "kernel_size", WINDOW_FAMILIES, 1, 9, 3),
    LabField("strides", "strides", WINDOW_FAMILIES, 1, 4, 2),
    LabField("dilation", "dilation_rate", WINDOW_FAMILIES, 1, 4, 1),
    LabField("crop", "cropping (each side)", ("cropping",), 0, 8, 1),
    LabField("pad", "padding (each side)", ("zero padding",), 0, 8, 1),
    LabField("size", "size", ("upsampling",), 1, 4, 2),
)
#: (min, max) of the range slider per swept argument.
SWEEP_BOUNDS: Mapping[str, tuple[int, int]] = {
    "input": (1, 64), "kernel_size": (1, 16), "strides": (1, 8), "dilation_rate": (1, 8),
    "output_padding": (0, 6), "cropping": (0, 32), "padding": (0, 16), "size": (1, 8),
}
#: The default range of the range slider per swept argument.
SWEEP_DEFAULTS: Mapping[str, tuple[int, int]] = {
    "input": (1, 24), "kernel_size": (1, 9), "strides": (1, 6), "dilation_rate": (1, 6),
    "output_padding": (0, 3), "cropping": (0, 10), "padding": (0, 8), "size": (1, 6),
}


def fields_for(name: str) -> tuple[LabField, ...]:
    """The sweep-tab fields that apply to layer ``name``."""
    family = catalog.BY_NAME[name].family
    return tuple(f for f in FIELDS if family in f.families)


def paddings_for(name: str) -> tuple[str, ...]:
    """The ``padding`` choices of a window layer (``()`` for the reshaping layers)."""
    if catalog.BY_NAME[name].family not in WINDOW_FAMILIES:
        return ()
    return ("valid", "same", "causal") if name == "Conv1D" else ("valid", "same")


def link_keys(name: str, arg: str) -> set[str]:
    """The shape lab's link parameters that apply to layer ``name`` sweeping ``arg``.

    Only these go into the URL, so a link never carries a value of another layer.

    >>> sorted(link_keys("Cropping1D", "cropping"))[:4]
    ['arg', 'crop', 'difficulty', 'kind']
    """
    keys = {"layer", "n", "arg", f"range.{arg}", "difficulty", "kind", "question"}
    keys |= {f.key for f in fields_for(name)}
    if paddings_for(name):
        keys.add("padding")
    if catalog.BY_NAME[name].family == "transposed":
        keys.add("output_padding")
    return keys


def lab_kwargs(name: str, values: Mapping) -> dict:
    """Constructor arguments of ``name`` from the sweep tab's widget values.

    >>> lab_kwargs("Conv2DTranspose", {"kernel": 3, "strides": 2, "dilation": 1,
    ...                                "padding": "same", "output_padding": 1})
    {'filters': 4, 'kernel_size': 3, 'strides': 2, 'padding': 'same', 'output_padding': 1}
    >>> lab_kwargs("Cropping1D", {"crop": 2})
    {'cropping': (2, 2)}
    """
    info = catalog.BY_NAME[name]
    if info.family == "cropping":
        return {"cropping": (values["crop"], values["crop"])}
    if info.family == "zero padding":
        return {"padding": values["pad"]}
    if info.family == "upsampling":
        return {"size": values["size"]}
    kw = {} if name.startswith("Depthwise") else {"filters": 4}
    kw.update(kernel_size=values["kernel"], strides=values["strides"],
              padding=values.get("padding", "valid"))
    if values.get("dilation", 1) != 1:
        kw["dilation_rate"] = values["dilation"]
    if info.family == "transposed" and values.get("output_padding") not in (None, "None"):
        kw["output_padding"] = int(values["output_padding"])
    return kw


# ----------------------------------------------------------------------------- sweep figure
def point_marks(sw) -> np.ndarray:
    """Per point: ``"agree"``, ``"disagree"`` or ``"invalid"`` (refused by the engine)."""
    return np.where(~sw.agree, "disagree", np.where(sw.valid, "agree", "invalid"))


def sweep_verdict(sw) -> tuple[bool, str]:
    """``(all agree, message)`` for a sweep, counting the same points as its figure's key.

    A refused point agrees when Keras refuses it where the formula predicts it should (an
    empty output, or a rule the length formula does not encode); the message says so, so
    "all agree" never reads as "every point has an output".
    """
    marks = point_marks(sw)
    n, ok, refused = len(sw), int((marks == "agree").sum()), int((marks == "invalid").sum())
    if not sw.all_agree:
        return False, f"{int((~sw.agree).sum())} of {n} points disagree with the engine."
    text = f"All {n} points agree with the engine: {ok} output lengths equal the formula"
    if refused:
        text += (f", and Keras refuses the other {refused} setting{'s' * (refused != 1)} "
                 "exactly where the formulas predict (✗ at 0; hover one for the rule)")
    return True, text + "."


def sweep_figure(sw) -> go.Figure:
    """The staircase: predicted output length (line) and the engine's (markers), per value.

    One marker per swept value, in three traces (agree, disagree, invalid). Invalid points
    sit on the x axis (y = 0) and carry their error message in the hover text.
    """
    marks = point_marks(sw)
    x = sw.values
    fig = go.Figure()
    pred = np.where(np.isnan(sw.predicted), np.nan, sw.predicted)
    fig.add_trace(go.Scatter(
        x=x, y=pred, mode="lines", line=dict(shape="hv", color=COLORS["written"], width=2),
        name=f"formula: out = {sw.general.text()}" if sw.general else "formula",
        hoverinfo="skip"))
    style = {"agree": ("circle", "#59a14f", 10), "disagree": ("x", "#e15759", 13),
             "invalid": ("x-thin-open", COLORS["grid"], 11)}
    names = {"agree": "length agrees", "disagree": "disagrees",
             "invalid": "refused by Keras"}
    for mark, (symbol, color, size) in style.items():
        idx = np.flatnonzero(marks == mark)
        hover = []
        for i in idx:
            head = f"{sw.arg} = {int(x[i])}<br>{sw.calls[i]}"
            if sw.valid[i]:
                head += (f"<br>engine: {int(sw.actual[i])} · formula: "
                         f"{sw.derivations[i].text() if sw.derivations[i] else '-'}")
            else:
                head += "<br>refused: " + "<br>".join(_wrap(sw.errors[i]))
            hover.append(head)
        y = np.where(sw.valid[idx], sw.actual[idx], 0.0)
        fig.add_trace(go.Scatter(
            x=x[idx], y=y, mode="markers", name=f"{names[mark]} ({idx.size})",
            marker=dict(symbol=symbol, color=color, size=size, line=dict(width=2, color=color)),
            hovertext=hover, hoverinfo="text"))
    xlabel = "input length" if sw.arg == "input" else sw.arg
    axis_name = f" (axis {sw.axis})" if len(sw.spatial) > 1 else ""
    fig.update_layout(
        title=f"{sw.name}: output length{axis_name} as {xlabel} varies",
        xaxis_title=xlabel, yaxis_title="output length", height=420,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
        margin=dict(l=50, r=20, t=80, b=40), hovermode="closest")
    fig.update_xaxes(dtick=max(1, int(math.ceil(len(x) / 24))))
    return fig


def _wrap(text: str, width: int = 70) -> list[str]:
    words, lines, line = str(text).split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return lines + ([line] if line else [])


# ----------------------------------------------------------------------------- heatmaps
def tile(values: np.ndarray) -> np.ndarray:
    """A rank 1-3 array as 2-D: a row, the plane itself, or depth slices side by side
    (separated by one NaN column), as the animations draw them.

    >>> tile(np.arange(8).reshape(2, 2, 2)).tolist()
    [[0.0, 1.0, nan, 4.0, 5.0], [2.0, 3.0, nan, 6.0, 7.0]]
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        return values[None, :]
    if values.ndim == 2:
        return values
    d, h, w = values.shape
    out = np.full((h, d * (w + 1) - 1), np.nan)
    for k in range(d):
        out[:, k * (w + 1): k * (w + 1) + w] = values[k]
    return out


def _cell_text(z: np.ndarray, limit: int = 900) -> np.ndarray:
    text = np.where(np.isnan(z), "", np.nan_to_num(z).astype(np.int64).astype(str))
    return text if z.size <= limit else np.full(z.shape, "", dtype=object)


def _hm(z, colorscale, hover, zmax=None) -> go.Heatmap:
    return go.Heatmap(z=z, text=_cell_text(z), texttemplate="%{text}", hovertext=hover,
                      hoverinfo="text", colorscale=colorscale, zmin=0, showscale=False,
                      zmax=zmax if zmax is not None else max(1.0, float(np.nanmax(z))),
                      xgap=1, ygap=1)


def _grid_hover(shape, fmt) -> np.ndarray:
    cells = np.stack(np.unravel_index(np.arange(int(np.prod(shape))), shape), -1)
    coords = [("(" + ", ".join(str(int(v)) for v in c) + ")") for c in cells]
    flat = np.asarray(tile(np.arange(len(cells)).reshape(shape)))
    hover = np.full(flat.shape, "", dtype=object)
    ok = ~np.isnan(flat)
    hover[ok] = [fmt(coords[int(i)], int(i)) for i in flat[ok]]
    return hover


def _style(fig, grids, height=None):
    """Square cells, axes exactly around each grid (row 0 on top), integer ticks."""
    rows = max(g.shape[0] for g in grids)
    for i, z in enumerate(grids, start=1):
        where = {} if len(grids) == 1 else {"row": 1, "col": i}
        fig.update_yaxes(range=[z.shape[0] - 0.5, -0.5], scaleanchor=f"x{i if i > 1 else ''}",
                         constrain="domain", showgrid=False, zeroline=False, tick0=0,
                         dtick=max(1, -(-z.shape[0] // 12)), **where)
        fig.update_xaxes(range=[-0.5, z.shape[1] - 0.5], constrain="domain", showgrid=False,
                         zeroline=False, tick0=0, dtick=max(1, -(-z.shape[1] // 12)), **where)
    fig.update_layout(height=height or int(min(640, max(300, 26 * rows + 140))),
                      margin=dict(l=30, r=10, t=60, b=20), plot_bgcolor="white")
    return fig


def receptive_field_figure(counts: np.ndarray, out_spatial: Sequence[int],
                           out_index: Sequence[int]) -> go.Figure:
    """Input path counts (the receptive field of ``out_index``) beside the output grid.

    ``counts`` is :func:`convviz.stack.path_counts` (input spatial shape); the left heatmap
    shows it cell by cell (0 = outside the receptive field), the right one the output grid
    with the chosen cell marked. Rank 3 is drawn as depth slices side by side.
    """
    counts = np.asarray(counts)
    z_in = tile(counts)
    marked = np.zeros(tuple(out_spatial))
    marked[tuple(out_index)] = 1
    z_out = tile(marked)
    cells = int((counts > 0).sum())
    fig = make_subplots(rows=1, cols=2, column_widths=[z_in.shape[1], z_out.shape[1]],
                        horizontal_spacing=0.08, subplot_titles=(
                            f"input {tuple(counts.shape)}: paths to the output cell "
                            f"({cells} cells in the receptive field)",
                            f"output {tuple(out_spatial)}: cell {tuple(out_index)}"))
    hover_in = _grid_hover(counts.shape, lambda c, i: f"input {c}: "
                           f"{int(counts.reshape(-1)[i])} paths")
    fig.add_trace(_hm(z_in, "Blues", hover_in), row=1, col=1)
    hover_out = _grid_hover(tuple(out_spatial), lambda c, i: f"output {c}")
    fig.add_trace(_hm(z_out, [[0, COLORS["cell"]], [1, COLORS["current"]]], hover_out, 1.0)
                  .update(text=np.where(z_out == 1, "●", ""), ), row=1, col=2)
    return _style(fig, [z_in, z_out])


def overlap_figure(counts: np.ndarray, title: str, colorscale: str = "Blues") -> go.Figure:
    """One overlap-count heatmap: how many products are summed into each output cell."""
    z = tile(np.asarray(counts))
    hover = _grid_hover(np.asarray(counts).shape, lambda c, i: f"output {c}: "
                        f"{int(np.asarray(counts).reshape(-1)[i])} products")
    fig = go.Figure(_hm(z, colorscale, hover))
    fig.update_layout(title=title)
    return _style(fig, [z], height=int(min(600, max(360, 16 * z.shape[0] + 140))))


def overlap_message(side: dict) -> tuple[str, str]:
    """``(kind, text)`` about the overlap map ``side["overlap"]`` that the page draws.

    ``kind`` is ``"checkerboard"``, ``"even"`` or ``"edges"``; the text quotes the values in
    that map, so it never calls a map even when it visibly is not: on a small input every cell
    may be within reach of the zero padding, and those counts are lower than the interior's.

    >>> from convviz import stack
    >>> overlap_message(stack.compare_upsampling(4, 3, 2)["upsample_conv"])[0]
    'edges'
    """
    shown = sorted({int(v) for v in np.asarray(side["overlap"]).reshape(-1)})
    interior = ", ".join(map(str, side["interior_values"]))
    span = f"{shown[0]}..{shown[-1]}" if len(shown) > 1 else str(shown[0])
    if side["checkerboard"]:
        return "checkerboard", (f"Checkerboard: away from the borders, output cells sum "
                                f"{interior} products in a repeating pattern; this map shows "
                                f"{span}.")
    if len(shown) == 1:
        return "even", f"Even: every output cell sums {shown[0]} products."
    return "edges", (f"No checkerboard: away from the borders every output cell sums "
                     f"{interior} products. This map shows {span} because the zero padding "
                     "at the borders feeds fewer products into the cells near them, and on "
                     "this input every cell of the lower values is within reach of a border.")


# ----------------------------------------------------------------------------- stacks
#: Longest argument text :func:`parse_kwargs` reads.
MAX_KWARGS_TEXT = 240
#: Largest integer accepted in typed arguments.
MAX_INT_ARG = 64
#: Caps a stack must meet before any layer is built (weights are allocated on build).
MAX_LAYERS = 8
MAX_AXIS = 64
MAX_INTERMEDIATE_AXIS = 512
MAX_ELEMENTS = 1 << 20
MAX_PARAMS = 1 << 20

_POSITIONAL = {"convolution": ("filters", "kernel_size"), "transposed": ("filters", "kernel_size"),
               "cropping": ("cropping",), "zero padding": ("padding",), "upsampling": ("size",)}


def _positional(name: str) -> tuple[str, ...]:
    info = catalog.BY_NAME[name]
    if info.family == "depthwise/separable":
        return ("kernel_size",) if name.startswith("Depthwise") else ("filters", "kernel_size")
    return _POSITIONAL[info.family]


def _check_value(value, key):
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_INT_ARG:
            raise ValueError(f"`{key}`: numbers must be at most {MAX_INT_ARG} here. "
                             f"Received: {value}")
        return
    if isinstance(value, (tuple, list)):
        for v in value:
            _check_value(v, key)
        return
    raise ValueError(f"`{key}`: only numbers, strings, None, tuples and lists are allowed. "
                     f"Received: {type(value).__name__}")


def parse_kwargs(text: str, name: str) -> dict:
    """Layer arguments from text: a dict literal, or Keras-docs style ``8, 3, strides=2``.

    Only literals are read (``ast.literal_eval`` of each value; nothing is evaluated or
    called). Positional values fill the layer's leading arguments (``filters``,
    ``kernel_size``; ``cropping``, ``padding`` or ``size`` for the reshaping layers).
    Raises ValueError with the rule for anything else (names, calls, attributes,
    ``**`` unpacking, numbers above :data:`MAX_INT_ARG`, text over :data:`MAX_KWARGS_TEXT`).

    >>> parse_kwargs("", "Conv1D")
    {}
    >>> parse_kwargs("__import__('os').system('ls')", "Conv1D")
    Traceback (most recent call last):
    ...
    ValueError: Only literal values are allowed (numbers, strings, tuples, None), ...
    """
    if name not in catalog.BY_NAME:
        raise ValueError(f"Unknown layer {name!r}.")
    text = str(text or "").strip()
    if len(text) > MAX_KWARGS_TEXT:
        raise ValueError(f"At most {MAX_KWARGS_TEXT} characters of arguments. "
                         f"Received {len(text)}.")
    if not text:
        return {}
    bad = ("Only literal values are allowed (numbers, strings, tuples, None), written as "
           "`filters=4, kernel_size=3` or `{'filters': 4}`.")
    if text.startswith("{"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ValueError(bad) from None
        if not isinstance(value, dict) or not all(isinstance(k, str) and k.isidentifier()
                                                  for k in value):
            raise ValueError("A dict of arguments needs names as keys, e.g. {'filters': 4}.")
        kwargs = dict(value)
    else:
        try:
            call = ast.parse(f"f({text})", mode="eval").body
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            raise ValueError(bad) from None
        if not isinstance(call, ast.Call) or any(isinstance(a, ast.Starred) for a in call.args):
            raise ValueError(bad)
        if any(k.arg is None for k in call.keywords):
            raise ValueError("`**` unpacking is not allowed: write each argument as key=value.")
        names = _positional(name)
        if len(call.args) > len(names):
            raise ValueError(f"{name} takes at most {len(names)} positional arguments "
                             f"({', '.join(names)}); write the others as key=value.")
        kwargs = {}
        try:
            for key, node in [*zip(names, call.args), *((k.arg, k.value) for k in call.keywords)]:
                if key in kwargs:
                    raise ValueError(f"Argument `{key}` given twice.")
                kwargs[key] = ast.literal_eval(node)
        except (SyntaxError, TypeError, MemoryError, RecursionError):
            raise ValueError(bad) from None
        except ValueError as exc:
            raise ValueError(str(exc) if "twice" in str(exc) else bad) from None
    known = _argument_names(name)
    for key in kwargs:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
            hint = (f" Did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else "")
            raise ValueError(f"{name} has no argument `{key}`.{hint} Its arguments are: "
                             f"{', '.join(known)}.")
    for key, value in kwargs.items():
        _check_value(value, key)
    return kwargs


def _argument_names(name: str) -> list[str]:
    """The Keras argument names of layer ``name``, in the order of its signature."""
    import inspect

    params = inspect.signature(convviz.LAYERS[name].__init__).parameters
    own = [p for p, v in params.items() if p != "self" and v.kind is not v.VAR_KEYWORD]
    # every Keras layer also takes the base Layer's name, dtype and trainable
    return own + [p for p in ("name", "dtype", "trainable") if p not in own]


def _param_bound(layer, cin: int) -> int:
    k = int(np.prod(getattr(layer, "kernel_size", (1,))))
    f = int(getattr(layer, "filters", None) or 0)
    m = int(getattr(layer, "depth_multiplier", None) or 0)
    return k * cin * max(f, m) + cin * m * f + f + cin * m


def stack_limits(entries: Sequence, input_shape: Sequence[int | None]) -> str | None:
    """The first size cap a stack breaks (a sentence), or None; builds no weights.

    Checked from the constructors and ``compute_output_shape`` only: at most
    :data:`MAX_LAYERS` layers, :data:`MAX_AXIS` input cells per axis, and per layer at most
    :data:`MAX_INTERMEDIATE_AXIS` cells per axis, :data:`MAX_ELEMENTS` elements and about
    :data:`MAX_PARAMS` weights. Layers that do not fit their input are left to
    :func:`convviz.stack.summary` (which reports them).

    >>> stack_limits([("UpSampling1D", {"size": 64})] * 3, (None, 8, 1))
    'Layer 1 (UpSampling1D) would output 32768 cells along an axis; at most 512 here.'
    """
    if len(entries) > MAX_LAYERS:
        return f"At most {MAX_LAYERS} layers here. Received {len(entries)}."
    shape = tuple(input_shape)
    if any(v is not None and v > MAX_AXIS for v in shape[1:-1]):
        return f"At most {MAX_AXIS} input cells per axis here. Received {shape}."
    for i, (name, kwargs) in enumerate(entries):
        try:
            layer = convviz.LAYERS[name](**kwargs)
            out = tuple(layer.compute_output_shape(shape))
        except (KeyError, ValueError, TypeError):
            return None
        _, _, cin = layer.split_shape(shape)
        _, spatial, _ = layer.split_shape(out)
        if any(v is not None and v > MAX_INTERMEDIATE_AXIS for v in spatial):
            return (f"Layer {i} ({name}) would output {max(spatial)} cells along an axis; "
                    f"at most {MAX_INTERMEDIATE_AXIS} here.")
        if math.prod(v for v in out[1:] if v is not None) > MAX_ELEMENTS:
            return (f"Layer {i} ({name}) would output {catalog.format_shape(out)}: more than "
                    f"{MAX_ELEMENTS:,} values per sample, too large for this page.")
        if cin is not None and _param_bound(layer, int(cin)) > MAX_PARAMS:
            return (f"Layer {i} ({name}) would have about {_param_bound(layer, int(cin)):,} "
                    f"weights; at most {MAX_PARAMS:,} here.")
        shape = out
    return None


def summary_table(rows) -> list[dict]:
    """The rows of :func:`convviz.stack.summary` as a ``model.summary()``-like table."""
    return [{"#": r.index, "layer (type)": f"{r.layer_name} ({r.name})",
             "call": r.call.removeprefix("keras.layers."),
             "output shape": catalog.format_shape(r.output_shape) or "-",
             "params": r.params, "MACs": r.macs,
             "status": {"ok": "ok", "error": "✗ does not fit"}.get(r.status, r.status)}
            for r in rows]


def input_shape_for(entries: Sequence, spatial: Sequence[int], channels: int) -> tuple:
    """The stack's input shape: channels first if the first layer says so."""
    fmt = dict(entries[0][1]).get("data_format") if entries else None
    return catalog.input_shape(spatial, channels, None, fmt)


__all__ = [
    "FIELDS", "SWEEP_BOUNDS", "SWEEP_DEFAULTS", "LabField", "fields_for", "input_shape_for",
    "lab_kwargs", "link_keys", "sweep_verdict", "overlap_figure",
    "overlap_message", "paddings_for", "parse_kwargs",
    "point_marks", "receptive_field_figure", "stack_limits", "summary_table", "sweep_figure",
    "tile",
]

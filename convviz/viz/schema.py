"""What each family page lets the user set: fields, defaults, limits, and URL state.

Pure data and functions (no streamlit): a :class:`Family` lists its layers and its
:class:`Field` s; :func:`spec_from_values` turns widget values into a
:class:`~convviz.demo.Spec`; :func:`decode` / :func:`encode` move the same values
through a page's query parameters, falling back to defaults with a notice for
anything invalid or hostile.

>>> fam = FAMILY_PAGES["convolution"]
>>> values, notices = decode(fam, {"layer": "Conv1D", "k0": "5", "s0": "lots"})
>>> values["layer"], values["k0"], values["s0"], len(notices)
('Conv1D', 5, 1, 1)
>>> spec_from_values(fam, values).arguments["kernel_size"]
(5,)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import convviz

from .. import catalog, geometry, layout
from ..demo import MAX_ANIMATION_SIZE, Spec
from ..layers import argument_names
from . import fields as codec
from .fields import Field, rank_of

SPEEDS = {"slow": 1000, "normal": 500, "fast": 200}


def _per_axis(key, label, default, lo, hi, help="", layers=None, arg=True):
    return tuple(Field(f"{key}{a}", label, "int", default, lo, hi, axis=a, help=help,
                       layers=layers, arg=arg) for a in range(3))


@dataclass(frozen=True)
class Family:
    """A family page: its fields and the rule that makes layer arguments from field values.

    ``family`` names the family in :data:`convviz.catalog.FAMILIES` (the one registry of
    families); the page's layers are that family's, as the layer classes declare them.
    """

    key: str
    title: str
    family: str
    fields: tuple
    arguments: Callable[[str, Mapping[str, Any]], dict] = field(repr=False)

    @property
    def layers(self) -> tuple:
        return catalog.layers_in(self.family)

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def defaults(self) -> dict:
        return {f.key: f.default for f in self.fields}

    def active(self, layer: str) -> tuple:
        """The fields that apply to ``layer``."""
        return tuple(f for f in self.fields if f.applies(layer))


def _axes(values, key, rank):
    return tuple(int(values[f"{key}{a}"]) for a in range(rank))


def _data_format(layer, values) -> dict:
    if not catalog.BY_NAME[layer].has_data_format:
        return {}
    return {"data_format": values["data_format"]}


def _conv_args(layer, v):
    """The arguments of a windowed layer: those of the page's values its class accepts."""
    r = rank_of(layer)
    kw = {"filters": int(v["filters"]), "kernel_size": _axes(v, "k", r),
          "strides": _axes(v, "s", r), "padding": v["padding"]}
    if v.get("op_on"):
        kw["output_padding"] = _axes(v, "op", r)
    kw.update(_data_format(layer, v))
    kw["dilation_rate"] = _axes(v, "d", r)
    if "groups" in v:
        kw["groups"] = int(v["groups"])
    if "depth_multiplier" in v:
        kw["depth_multiplier"] = int(v["depth_multiplier"])
    accepted = argument_names(convviz.LAYERS[layer])
    return {key: value for key, value in kw.items() if key in accepted}


def _pair_args(name):
    def arguments(layer, v):
        r = rank_of(layer)
        pairs = tuple((int(v[f"lo{a}"]), int(v[f"hi{a}"])) for a in range(r))
        return {name: pairs[0] if r == 1 else pairs, **_data_format(layer, v)}
    return arguments


def _upsample_args(layer, v):
    r = rank_of(layer)
    size = _axes(v, "size", r)
    kw = {"size": size[0] if r == 1 else size, **_data_format(layer, v)}
    if layer == "UpSampling2D":
        kw["interpolation"] = v["interpolation"]
    return kw


DATA_FORMAT = Field("data_format", "data_format", "choice", "channels_last",
                    choices=layout.DATA_FORMATS,
                    help="Where the channel axis sits: (batch, *spatial, C) or "
                    "(batch, C, *spatial).")
CHANNELS = Field("channels", "Input channels", "int", 1, 1, 8)
SIZES = _per_axis("n", "Input {axis}", 5, 1, max(MAX_ANIMATION_SIZE.values()),
                  help="Spatial length of the input on this axis (at most what can be "
                  "animated: 64 for 1D, 32 for 2D, 12 for 3D).")


def _sizes(default):
    return tuple(Field(f.key, f.label, "int", default, 1, 32, axis=f.axis, help=f.help)
                 for f in SIZES)
#: Display fields the browser's player sets (not sidebar widgets); links still carry them.
PLAYER_FIELDS = ("speed",)
DISPLAY = (
    Field("numbers", "Numbers mode", "bool", True, arg=False,
          help="Draw small integer inputs, weights and outputs in the cells."),
    Field("reveal", "Reveal all outputs", "bool", False, arg=False,
          help="Show every output value from the start. Off: a cell stays blank until it "
          "is written, so you can work out the next one first."),
    Field("speed", "Speed", "choice", "normal", choices=tuple(SPEEDS), arg=False,
          help="How fast ▶ play steps (set in the player, kept in the link)."),
    Field("presenter", "Presenter mode", "bool", False, arg=False,
          help="Bigger cells and labels for a projector; hides everything but the animation "
          "and the shape panel."),
)
#: Which filter's kernel and arithmetic the picture shows (its bound is the layer's filters).
FILTER = Field("filter", "Filter shown", "int", 0, 0, 7, arg=False,
               help="The filter (output channel) whose kernel slices and arithmetic are drawn.")
CONV_WINDOW = (
    *_per_axis("k", "Kernel {axis}", 3, 1, 7),
    *_per_axis("s", "Stride {axis}", 1, 1, 4),
    *_per_axis("d", "Dilation {axis}", 1, 1, 4,
               help="Gap between kernel taps; Keras forbids strides > 1 with dilation > 1."),
)


def _layer(family, default):
    return Field("layer", "Layer", "choice", default, choices=catalog.layers_in(family))


def _accepting(family, argument) -> tuple:
    """The layers of ``family`` whose class takes ``argument``."""
    return tuple(name for name in catalog.layers_in(family)
                 if argument in argument_names(convviz.LAYERS[name]))


def _conv_padding(layers):
    return Field("padding", "padding", "choice", "valid", choices=("valid", "same", "causal"),
                 layers=layers, help="'causal' (Conv1D only) pads the start, so no output "
                 "reads a later input.")


#: The family pages, by page key.
FAMILY_PAGES: dict[str, Family] = {
    "convolution": Family(
        "convolution", "Convolution", "convolution",
        (_layer("convolution", "Conv2D"),
         *SIZES, CHANNELS, DATA_FORMAT,
         Field("filters", "filters", "int", 1, 1, 8),
         Field("groups", "groups", "int", 1, 1, 8,
               help="Input channels and filters must both be divisible by groups."),
         *CONV_WINDOW, _conv_padding(None), FILTER, *DISPLAY),
        _conv_args),
    "transposed": Family(
        "transposed", "Transposed convolution", "transposed",
        (_layer("transposed", "Conv2DTranspose"),
         *_sizes(3), CHANNELS, DATA_FORMAT,
         Field("filters", "filters", "int", 1, 1, 8),
         *(f if f.key[0] != "s" else Field(f.key, f.label, "int", 2, 1, 4, axis=f.axis)
           for f in CONV_WINDOW),
         Field("padding", "padding", "choice", "valid", choices=("valid", "same")),
         Field("op_on", "Set output_padding", "bool", False,
               help="Without it Keras infers the output length (output_padding=None)."),
         *_per_axis("op", "output_padding {axis}", 0, 0, 3,
                    help="Must be smaller than the stride on the same axis."),
         Field("view", "View", "choice", "gather", choices=("gather", "scatter"), arg=False,
               help="gather: a window slides over the zero-inserted input (kernel flipped). "
               "scatter: each input cell paints a kernel-sized patch of the output."),
         FILTER, *DISPLAY),
        _conv_args),
    "depthwise": Family(
        "depthwise", "Depthwise and separable", "depthwise/separable",
        (_layer("depthwise/separable", "DepthwiseConv2D"),
         *SIZES[:2], Field("channels", "Input channels", "int", 2, 1, 8), DATA_FORMAT,
         Field("depth_multiplier", "depth_multiplier", "int", 1, 1, 4),
         Field("filters", "filters", "int", 1, 1, 8,
               layers=_accepting("depthwise/separable", "filters")),
         *(f for f in CONV_WINDOW if f.axis < 2),
         Field("padding", "padding", "choice", "valid", choices=("valid", "same")),
         replace(FILTER, layers=_accepting("depthwise/separable", "filters")),
         *DISPLAY),
        _conv_args),
    "cropping": Family(
        "cropping", "Cropping", "cropping",
        (_layer("cropping", "Cropping2D"),
         *SIZES, CHANNELS,
         Field("data_format", DATA_FORMAT.label, "choice", DATA_FORMAT.default,
               choices=DATA_FORMAT.choices, layers=_accepting("cropping", "data_format")),
         *_per_axis("lo", "Crop {axis}: start", 1, 0, 31),
         *_per_axis("hi", "Crop {axis}: end", 1, 0, 31),
         *DISPLAY),
        _pair_args("cropping")),
    "padding": Family(
        "padding", "Zero padding", "zero padding",
        (_layer("zero padding", "ZeroPadding2D"),
         *_sizes(4), CHANNELS, DATA_FORMAT,
         *_per_axis("lo", "Pad {axis}: start", 1, 0, 4),
         *_per_axis("hi", "Pad {axis}: end", 1, 0, 4),
         *DISPLAY),
        _pair_args("padding")),
    "upsampling": Family(
        "upsampling", "Upsampling", "upsampling",
        (_layer("upsampling", "UpSampling2D"),
         *_sizes(3), CHANNELS,
         Field("data_format", DATA_FORMAT.label, "choice", DATA_FORMAT.default,
               choices=DATA_FORMAT.choices, layers=_accepting("upsampling", "data_format")),
         *_per_axis("size", "size {axis}", 2, 1, 4),
         Field("interpolation", "interpolation", "choice", "nearest",
               choices=geometry.INTERPOLATIONS, layers=_accepting("upsampling", "interpolation")),
         *DISPLAY),
        _upsample_args),
}


def spec_from_values(family: Family, values: Mapping[str, Any]) -> Spec:
    """The :class:`Spec` for a page's current values (missing keys take defaults)."""
    v = {**family.defaults(), **values}
    layer = v["layer"]
    r = rank_of(layer)
    return Spec(layer, family.arguments(layer, v), spatial=_axes(v, "n", r),
                channels=int(v["channels"]))


#: The animation step a link may carry (0-based; the page clips it to the animation).
STEP = Field("step", "Step", "int", 0, 0, 10**9, arg=False)


def decode(family: Family, params: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """Values from query parameters: defaults for anything missing, invalid or unknown.

    Never raises. Returns ``(values, notices)``; each notice says what was ignored (the
    one codec: :mod:`convviz.viz.fields`). ``step`` (the animation step) is read too.
    """
    values, notices = codec.decode((*family.fields, STEP), params)
    if "step" not in params:
        values.pop("step")
    layer = values["layer"]
    for f in family.active(layer):  # what this layer accepts, not only the family
        value = values[f.key]
        if (f.kind == "choice" and value not in f.choices_for(layer)) or (
                f.kind == "int" and value > f.hi_for(layer)):
            allowed = (", ".join(f.choices_for(layer)) if f.kind == "choice"
                       else f"{f.lo}..{f.hi_for(layer)}")
            notices.append(f"`{f.key}` = {codec.shown(value)}: not allowed for {layer} "
                           f"(allowed: {allowed}); the default is used")
            values[f.key] = f.default
    return values, notices


def encode(family: Family, values: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters for ``values``: the layer, plus every applicable non-default field
    (and a non-zero step)."""
    layer = values.get("layer", family.field("layer").default)
    return {"layer": str(layer),
            **codec.encode([f for f in family.active(layer) if f.key != "layer"], values),
            **codec.encode([STEP], values)}

"""A data-driven description of every convviz layer, for the user interface.

No numerics live here: this module only names the layers, sorts them into families, gives
each one small example arguments, and asks the layers themselves for shapes and parameter
counts. It must not import streamlit (pages import it, not the other way round).

>>> keras_call("Conv2D", {"filters": 4, "kernel_size": 3})
'keras.layers.Conv2D(filters=4, kernel_size=3)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import convviz

from . import layout
from .layers import snake_name

#: Families in display order, each with one sentence a newcomer can read.
FAMILIES: Mapping[str, str] = MappingProxyType(
    {
        "convolution": "Slide a kernel over the input; every output cell is a weighted sum "
        "of one window (cross-correlation, the kernel is not flipped).",
        "transposed": "Scatter every input cell through the kernel into a larger output; "
        "it undoes the shape change of a strided convolution, not its values.",
        "depthwise/separable": "Depthwise: each input channel gets its own kernels. "
        "Separable: a depthwise convolution followed by a 1x1 convolution.",
        "cropping": "Remove cells from the start and end of each spatial axis.",
        "zero padding": "Add zeros at the start and end of each spatial axis.",
        "upsampling": "Repeat (or interpolate) cells to enlarge each spatial axis.",
    }
)


@dataclass(frozen=True)
class LayerInfo:
    """What the interface needs to know about one layer class.

    Attributes
    ----------
    name : str
        The Keras 3 class name, also the attribute of ``convviz``.
    family : str
        One of the keys of ``FAMILIES``.
    rank : int
        Number of spatial axes (1, 2 or 3).
    example : Mapping[str, Any]
        Constructor arguments that suit a small teaching input (about 8 cells per axis).
    has_data_format : bool
        False for Cropping1D and UpSampling1D, which take no ``data_format`` in Keras
        and always read ``(batch, steps, channels)``.
    """

    name: str
    family: str
    rank: int
    example: Mapping[str, Any] = field(default_factory=dict)
    has_data_format: bool = True

    @property
    def kwargs(self) -> dict[str, Any]:
        """A fresh, mutable copy of the example arguments."""
        return dict(self.example)

    @property
    def default_name(self) -> str:
        """The name Keras gives the first such layer, e.g. ``"conv2d_transpose"``."""
        return snake_name(self.name)


def _build_catalog() -> tuple[LayerInfo, ...]:
    """One entry per layer, grouped by family, then by rank (rank is data, not a branch).

    The family, rank and ``data_format`` support are the layer classes' own
    (``cls.family``, ``cls.rank``, ``cls.has_data_format``); only the examples live here.
    """
    examples = {
        "Conv": dict(filters=4, kernel_size=3),
        "ConvTranspose": dict(filters=4, kernel_size=3, strides=2),
        "DepthwiseConv": dict(kernel_size=3, depth_multiplier=2),
        "SeparableConv": dict(filters=4, kernel_size=3),
        "Cropping": dict(cropping=(1, 1)),
        "ZeroPadding": dict(padding=1),
        "UpSampling": dict(size=2),
    }
    order = ("Conv{r}D", "Conv{r}DTranspose", "DepthwiseConv{r}D", "SeparableConv{r}D",
             "Cropping{r}D", "ZeroPadding{r}D", "UpSampling{r}D")
    entries: list[LayerInfo] = []
    for pattern in order:
        key = pattern.replace("{r}D", "")
        for r in (1, 2, 3):
            cls = convviz.LAYERS.get(pattern.format(r=r))
            if cls is None:
                continue
            example = dict(examples[key])
            for arg in ("cropping", "size"):  # per-axis tuples beyond 1-D, as Keras writes them
                if arg in example and r > 1:
                    example[arg] = (example[arg],) * r
            entries.append(LayerInfo(cls.__name__, cls.family, cls.rank,
                                     MappingProxyType(example), cls.has_data_format))
    return tuple(entries)


#: Every layer, in display order.
CATALOG: tuple[LayerInfo, ...] = _build_catalog()
#: The same entries, by class name.
BY_NAME: Mapping[str, LayerInfo] = MappingProxyType({info.name: info for info in CATALOG})
#: The data formats a user can choose.
DATA_FORMATS: tuple[str, ...] = layout.DATA_FORMATS


def layers_in(family: str) -> tuple[str, ...]:
    """The class names of a family (a key of :data:`FAMILIES`), by rank."""
    if family not in FAMILIES:
        raise KeyError(f"Unknown family {family!r}; the families are {', '.join(FAMILIES)}.")
    return tuple(info.name for info in CATALOG if info.family == family)


def layers_of_rank(rank: int) -> tuple[LayerInfo, ...]:
    """The catalogue entries with ``rank`` spatial axes, in display order."""
    return tuple(info for info in CATALOG if info.rank == rank)


def literal(value: Any) -> str:
    """Python source for ``value``, with strings in double quotes as in Keras docs."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return repr(value)


def keras_call(name: str, kwargs: Mapping[str, Any]) -> str:
    """The Keras constructor call that builds layer ``name`` with ``kwargs``.

    >>> keras_call("Cropping2D", {"cropping": ((1, 1), (2, 0))})
    'keras.layers.Cropping2D(cropping=((1, 1), (2, 0)))'
    """
    args = ", ".join(f"{key}={literal(value)}" for key, value in kwargs.items())
    return f"keras.layers.{name}({args})"


def input_shape(
    spatial_shape: Sequence[int], channels: int, batch: int | None, data_format: str | None
) -> tuple[int | None, ...]:
    """The full input shape: ``(batch, *spatial, channels)`` or ``(batch, channels, *spatial)``."""
    return layout.join(batch, (int(n) for n in spatial_shape), int(channels), data_format)


def format_shape(shape: Sequence[int | None] | None) -> str:
    """A shape as Keras prints it, e.g. ``(None, 8, 8, 4)``; ``""`` for no shape."""
    return "" if shape is None else literal(tuple(shape))


#: Window arguments the shape calculator sets for the whole table at once.
WINDOW_ARGUMENTS = ("kernel_size", "strides", "padding", "dilation_rate")


def _accepts(name: str) -> set[str]:
    import inspect

    return set(inspect.signature(getattr(convviz, name).__init__).parameters)


def shape_table(
    spatial_shape: tuple[int, ...], channels: int, batch: int | None, data_format: str,
    arguments: dict | None = None,
) -> list[dict[str, Any]]:
    """Output shape and parameter count of every layer whose rank is ``len(spatial_shape)``.

    Each layer is built from its catalogue example plus ``data_format`` (except Cropping1D
    and UpSampling1D, which have no such argument and always use channels_last). Layers get
    Keras's default name for a first instance (``conv2d``), so messages do not depend on how
    many layers were built before.

    Parameters
    ----------
    spatial_shape : tuple of int
        The input's spatial lengths, e.g. ``(10, 10)`` for a 2D input.
    channels : int
        Number of input channels.
    batch : int or None
        The batch size, or None for "unknown" as in a Keras summary.
    data_format : str
        ``"channels_last"`` or ``"channels_first"``.
    arguments : dict, optional
        Values of :data:`WINDOW_ARGUMENTS` (``kernel_size``, ``strides``, ``padding``,
        ``dilation_rate``) given to every layer that takes them, replacing its example
        values; a layer they make invalid gets Keras's error in its row.

    Returns
    -------
    list of dict
        One row per layer with keys ``layer``, ``family``, ``call`` (the Keras constructor),
        ``input_shape``, ``output_shape`` (None on error), ``params`` (None on error) and
        ``error`` (None, or the ValueError's message). ValueErrors never escape.
    """
    rows = []
    given = {k: v for k, v in (arguments or {}).items() if k in WINDOW_ARGUMENTS}
    for info in layers_of_rank(len(spatial_shape)):
        kwargs = info.kwargs
        accepts = _accepts(info.name)
        kwargs.update({k: v for k, v in given.items() if k in accepts})
        fmt = data_format if info.has_data_format else "channels_last"
        call_kwargs = dict(kwargs)
        if info.has_data_format:
            kwargs["data_format"] = data_format
            if data_format != "channels_last":
                call_kwargs["data_format"] = data_format
        shape_in = input_shape(spatial_shape, channels, batch, fmt)
        row: dict[str, Any] = {
            "layer": info.name,
            "family": info.family,
            "call": keras_call(info.name, call_kwargs),
            "input_shape": shape_in,
            "output_shape": None,
            "params": None,
            "error": None,
        }
        try:
            layer = getattr(convviz, info.name)(**kwargs, name=info.default_name)
            shape_out = tuple(layer.compute_output_shape(shape_in))
            layer.build(shape_in)
            row["params"] = int(layer.count_params())
            row["output_shape"] = shape_out
        except ValueError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows

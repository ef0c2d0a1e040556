"""Sweep one argument against the engine: the formula's prediction next to a real forward pass.

:func:`sweep` varies one argument (the input length on one axis, ``kernel_size``,
``strides``, ...) over a range of values and, for every value, puts the formula's
prediction next to the output length of a *real* forward pass of the engine. Invalid
settings become flagged points carrying Keras's error message; they never raise.

>>> s = sweep("Conv1D", {"filters": 2, "kernel_size": 3, "strides": 2}, (10,), 1,
...           "channels_last", "input", range(1, 8))
>>> s.actual.tolist()
[nan, nan, 1.0, 1.0, 2.0, 2.0, 3.0]
>>> bool(s.agree.all()), s.valid.tolist()[:3]
(True, [False, False, True])
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

import convviz

from .. import catalog, formulas, geometry, layout
from ..layers import snake_name, standardize_pairs, standardize_tuple

# ----------------------------------------------------------------------------- sweep
_WINDOW_ARGS = ("input", "kernel_size", "strides", "dilation_rate")
_ARGS_BY_FAMILY = {
    "convolution": _WINDOW_ARGS,
    "depthwise/separable": _WINDOW_ARGS,
    "transposed": _WINDOW_ARGS + ("output_padding",),
    "cropping": ("input", "cropping"),
    "zero padding": ("input", "padding"),
    "upsampling": ("input", "size"),
}

#: Arguments :func:`sweep` can vary, per layer name. ``"input"`` is the input length on the
#: swept axis; ``"cropping"`` / ``"padding"`` (reshaping layers) set a symmetric ``(v, v)``
#: pair on that axis; every other argument sets its per-axis value on that axis.
SWEEPABLE: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {info.name: _ARGS_BY_FAMILY[info.family] for info in catalog.CATALOG}
)
#: Most points one sweep accepts.
MAX_SWEEP_POINTS = 256
#: Largest tensor (elements, batch 1) a sweep point runs through the engine.
MAX_FORWARD_ELEMENTS = 1 << 21
#: Largest multiply-accumulate count a sweep point runs through the engine.
MAX_FORWARD_MACS = 20_000_000

_NAN = float("nan")


@dataclass(frozen=True, eq=False)
class Sweep:
    """One argument swept over values: formula versus engine, point by point.

    All arrays have one entry per swept value.

    Attributes
    ----------
    name, kwargs, spatial, channels, data_format, arg, axis
        The request (``kwargs`` are the base arguments before the swept one is set).
    values : ndarray of int64
        The swept values.
    predicted : ndarray of float64
        The formula's output length on ``axis`` (``formulas.derivations``); may be ``<= 0``
        for a setting the layer refuses; NaN where no formula applies (e.g. a kernel of 0).
    actual : ndarray of float64
        Output length on ``axis`` of a real forward pass (batch 1, zeros input); NaN where
        the engine refused the point. Points too large to run (see
        :data:`MAX_FORWARD_ELEMENTS`, :data:`MAX_FORWARD_MACS`) use ``compute_output_shape``.
    forward : ndarray of bool
        The point was checked by a real forward pass (not only ``compute_output_shape``).
    valid : ndarray of bool
        The engine accepted the point.
    agree : ndarray of bool
        Formula and engine agree. A valid point agrees when ``predicted == actual`` and
        ``compute_output_shape`` equals the forward pass's shape. An invalid point agrees
        when it was refused for a rule the length formula does not encode (stage
        ``"input"``, ``"arguments"`` or ``"channels"``), or, refused for its shape
        (stage ``"shape"``), when the formulas predict an empty output on some axis.
    stages : tuple of str
        ``"ok"``, or where the point failed: ``"input"`` (input length < 1),
        ``"arguments"`` (the constructor refused: e.g. strides > 1 with dilation > 1,
        output_padding >= strides), ``"shape"`` (empty output), ``"channels"``
        (e.g. channels not divisible by groups) or ``"forward"`` (an unexpected engine error).
    errors : tuple of str
        The error message of each invalid point (``""`` for valid points).
    derivations : tuple of Formula or None
        The derivation with the numbers of each point (None where no formula applies).
    general : Formula or None
        The general formula of the swept axis (the commonest among the points).
    calls : tuple of str
        The Keras constructor call of each point.
    point_kwargs : tuple of dict
        The constructor arguments of each point (``kwargs`` with the swept value set).
    input_shapes, output_shapes : tuple
        Full shapes per point (batch ``None``); ``output_shapes`` holds None where invalid.
    """

    name: str
    kwargs: dict
    spatial: tuple
    channels: int
    data_format: str
    arg: str
    axis: int
    values: np.ndarray
    predicted: np.ndarray
    actual: np.ndarray
    forward: np.ndarray
    valid: np.ndarray
    agree: np.ndarray
    stages: tuple
    errors: tuple
    derivations: tuple
    general: formulas.Formula | None
    calls: tuple
    point_kwargs: tuple
    input_shapes: tuple
    output_shapes: tuple

    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def all_agree(self) -> bool:
        """True when every point (valid or not) agrees with the engine."""
        return bool(self.agree.all())

    def samples(self, count: int = 3) -> list[dict]:
        """Up to ``count`` valid points spread over the sweep, with their derivations.

        Returns
        -------
        list of dict
            Keys ``value``, ``call``, ``formula`` (with the numbers) and ``result``.
        """
        idx = np.flatnonzero(self.valid & np.array([f is not None for f in self.derivations],
                                                    dtype=bool))
        if idx.size == 0 or count <= 0:
            return []
        picks = sorted({int(idx[int(round(p))]) for p in np.linspace(0, idx.size - 1, count)})
        return [{"value": int(self.values[i]), "call": self.calls[i],
                 "formula": self.derivations[i],
                 "result": int(self.actual[i])} for i in picks]

    def rows(self) -> list[dict]:
        """One dict per point (for a table): value, predicted, actual, valid, agree, error..."""
        out = []
        for i in range(len(self)):
            out.append({
                "value": int(self.values[i]),
                "predicted": None if math.isnan(self.predicted[i]) else int(self.predicted[i]),
                "actual": None if math.isnan(self.actual[i]) else int(self.actual[i]),
                "valid": bool(self.valid[i]),
                "agree": bool(self.agree[i]),
                "forward": bool(self.forward[i]),
                "stage": self.stages[i],
                "error": self.errors[i],
                "call": self.calls[i],
                "input_shape": self.input_shapes[i],
                "output_shape": self.output_shapes[i],
                "formula": self.derivations[i],
            })
        return out


def _default(name: str, arg: str):
    """The constructor default of ``arg`` for layer ``name`` (``inspect.Parameter.empty``)."""
    cls = convviz.LAYERS[name]
    for klass in cls.__mro__:
        params = inspect.signature(klass.__init__).parameters
        if arg in params:
            return params[arg].default
    return inspect.Parameter.empty


def _set_axis(name: str, kwargs: Mapping, rank: int, arg: str, value: int, axis: int) -> dict:
    """``kwargs`` with ``arg`` set to ``value`` on ``axis`` (other axes keep their value)."""
    kw = dict(kwargs)
    if arg == "input":
        return kw
    base = kw.get(arg, _default(name, arg))
    if arg in ("cropping", "padding"):
        try:
            pairs = list(standardize_pairs(base, rank, arg))
        except (ValueError, TypeError):
            pairs = [(0, 0)] * rank
        pairs[axis] = (value, value)
        kw[arg] = pairs[0] if rank == 1 else tuple(pairs)
        return kw
    try:
        per_axis = list(standardize_tuple(base, rank, arg, allow_zero=True))
    except (ValueError, TypeError):
        # No usable base value (required argument absent, output_padding=None, ...).
        fill = 0 if arg == "output_padding" else value
        per_axis = [fill] * rank
    per_axis[axis] = value
    kw[arg] = per_axis[0] if rank == 1 else tuple(per_axis)
    return kw


def _layout(name: str, kwargs: Mapping, data_format: str | None) -> tuple[dict, str]:
    """Kwargs with the data_format applied, and the layout the input uses."""
    kw = dict(kwargs)
    if not catalog.BY_NAME[name].has_data_format:
        return kw, "channels_last"
    fmt = data_format or kw.get("data_format") or "channels_last"
    if fmt != "channels_last" or "data_format" in kw:
        kw["data_format"] = fmt
    return kw, fmt


def _fallback_formula(name: str, kw: Mapping, rank: int, n: int, axis: int):
    """The :class:`~convviz.formulas.AxisFormula` of a window layer whose constructor refused
    the arguments.

    The formula still exists for, e.g., strides > 1 with dilation > 1 or output_padding >=
    strides (Keras refuses the combination, not the arithmetic). None if it does not apply.
    """
    family = catalog.BY_NAME[name].family
    if family not in ("convolution", "depthwise/separable", "transposed"):
        return None
    try:
        k = standardize_tuple(kw.get("kernel_size"), rank, "kernel_size")[axis]
        s = standardize_tuple(kw.get("strides", 1), rank, "strides")[axis]
        d = standardize_tuple(kw.get("dilation_rate", 1), rank, "dilation_rate")[axis]
        padding = str(kw.get("padding", "valid")).lower()
        if padding not in geometry.PADDINGS:
            return None
        if family == "transposed":
            op = kw.get("output_padding")
            op = None if op is None else standardize_tuple(op, rank, "output_padding",
                                                           allow_zero=True)[axis]
            found = formulas.transpose_axis(n, k, s, d, padding, op)
        else:
            found = formulas.conv_axis(n, k, s, d, padding)
    except (ValueError, TypeError):
        return None
    return found


def _run_point(name, kw, fmt, spatial, channels, axis) -> dict:
    """Everything :class:`Sweep` records for one point; never raises for a bad setting."""
    rank = len(spatial)
    shape_none = catalog.input_shape(spatial, channels, None, fmt)
    point = {"predicted": _NAN, "actual": _NAN, "forward": False, "valid": False,
             "agree": False, "stage": "ok", "error": "", "formula": None, "general": None,
             "call": catalog.keras_call(name, kw), "kwargs": kw, "input_shape": shape_none,
             "output_shape": None}
    if any(n < 1 for n in spatial):
        point.update(stage="input", agree=True,
                     error=f"The input length must be at least 1 along every axis. "
                           f"Received: input spatial shape={tuple(spatial)}")
        return point
    try:
        layer = convviz.LAYERS[name](**kw, name=snake_name(name))
    except (ValueError, TypeError) as exc:
        point.update(stage="arguments", error=str(exc), agree=True)
        found = _fallback_formula(name, kw, rank, spatial[axis], axis)
        if found is not None:
            point.update(predicted=float(found.out), formula=found.formula,
                         general=found.general)
        return point
    rows = formulas.derivations(layer, shape_none)
    point.update(predicted=float(rows[axis]["result"]), formula=rows[axis]["formula"],
                 general=rows[axis]["general"])
    empty = any(r["result"] <= 0 for r in rows)
    try:
        out_shape = tuple(layer.compute_output_shape(shape_none))
    except ValueError as exc:
        point.update(stage="shape", error=str(exc), agree=empty)
        return point
    try:
        layer.build(shape_none)
    except ValueError as exc:
        point.update(stage="channels", error=str(exc), agree=True)
        return point
    sizes = (math.prod(spatial) * channels, math.prod(v for v in out_shape if v is not None))
    run = max(sizes) <= MAX_FORWARD_ELEMENTS
    if run:
        try:
            run = formulas.macs(layer, shape_none) <= MAX_FORWARD_MACS
        except ValueError:  # pragma: no cover - compute_output_shape succeeded above
            run = False
    real = (1, *out_shape[1:])
    if run:
        try:
            real = tuple(layer(np.zeros(catalog.input_shape(spatial, channels, 1, fmt),
                                        dtype=np.float32)).shape)
        except Exception as exc:  # noqa: BLE001 - report, never raise
            point.update(stage="forward", error=f"{type(exc).__name__}: {exc}")
            return point
    actual = layout.spatial(real, fmt)[axis]
    same = tuple(real[1:]) == tuple(out_shape[1:])
    point.update(actual=float(actual), forward=run, valid=True, output_shape=out_shape,
                 agree=bool(same and actual == point["predicted"] and not empty))
    return point


def sweep(name: str, kwargs: Mapping[str, Any], spatial: Sequence[int], channels: int,
          data_format: str | None, arg: str, values: Iterable[int], axis: int = 0) -> Sweep:
    """Sweep one argument of a layer and check every point against the engine.

    Parameters
    ----------
    name : str
        A layer name of :data:`SWEEPABLE`, e.g. ``"Conv2DTranspose"``.
    kwargs : mapping
        Base constructor arguments (``filters``, ``kernel_size``, ``padding``, ...).
    spatial : sequence of int
        Input length per spatial axis (its length must be the layer's rank).
    channels : int
        Input channels (>= 1).
    data_format : str or None
        ``"channels_last"``/``"channels_first"``; None takes ``kwargs["data_format"]`` or
        channels_last. Ignored by Cropping1D and UpSampling1D (always channels_last).
    arg : str
        The argument to sweep, one of ``SWEEPABLE[name]``.
    values : iterable of int
        The values (at most :data:`MAX_SWEEP_POINTS`). ``"input"`` values replace
        ``spatial[axis]``; other values replace ``arg`` on ``axis`` only.
    axis : int
        The spatial axis swept and reported.

    Returns
    -------
    Sweep
        Formula and engine side by side. Invalid points are flagged, never raised.

    Raises
    ------
    ValueError
        Only for a malformed request (unknown layer or argument, wrong rank, bad axis,
        non-integer values, too many points).

    Examples
    --------
    >>> s = sweep("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2},
    ...           (4, 4), 1, None, "output_padding", [0, 1, 2])
    >>> s.actual.tolist(), s.valid.tolist(), s.stages[2]
    ([9.0, 10.0, nan], [True, True, False], 'arguments')
    >>> s.derivations[1].text()
    '(4-1) * 2 + 3 + 1 = 10'
    """
    if name not in SWEEPABLE:
        raise ValueError(f"Unknown layer {name!r}. Expected one of: {', '.join(SWEEPABLE)}")
    if arg not in SWEEPABLE[name]:
        raise ValueError(f"{name} cannot sweep {arg!r}. Expected one of: {SWEEPABLE[name]}")
    rank = catalog.BY_NAME[name].rank
    spatial = tuple(int(n) for n in spatial)
    if len(spatial) != rank:
        raise ValueError(f"{name} takes {rank} spatial axes. Received: spatial={spatial}")
    if not 0 <= int(axis) < rank:
        raise ValueError(f"`axis` must be in [0, {rank}). Received: axis={axis}")
    if int(channels) < 1:
        raise ValueError(f"`channels` must be >= 1. Received: channels={channels}")
    vals = list(values)
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
        raise ValueError(f"Sweep values must be integers. Received: {vals!r}")
    if len(vals) > MAX_SWEEP_POINTS:
        raise ValueError(f"At most {MAX_SWEEP_POINTS} points per sweep. Received {len(vals)}.")
    axis, channels = int(axis), int(channels)
    base, fmt = _layout(name, kwargs, data_format)
    points = []
    for v in vals:
        v = int(v)
        kw = _set_axis(name, base, rank, arg, v, axis)
        sp = spatial[:axis] + (v,) + spatial[axis + 1:] if arg == "input" else spatial
        points.append(_run_point(name, kw, fmt, sp, channels, axis))
    generals = [p["general"] for p in points if p["general"] is not None]

    def col(key, dtype):
        return np.array([p[key] for p in points], dtype=dtype)

    return Sweep(
        name=name, kwargs=dict(kwargs), spatial=spatial, channels=channels, data_format=fmt,
        arg=arg, axis=axis, values=np.array(vals, dtype=np.int64),
        predicted=col("predicted", np.float64), actual=col("actual", np.float64),
        forward=col("forward", bool), valid=col("valid", bool), agree=col("agree", bool),
        stages=tuple(p["stage"] for p in points), errors=tuple(p["error"] for p in points),
        derivations=tuple(p["formula"] for p in points),
        general=max(set(generals), key=generals.count) if generals else None,
        calls=tuple(p["call"] for p in points),
        point_kwargs=tuple(p["kwargs"] for p in points),
        input_shapes=tuple(p["input_shape"] for p in points),
        output_shapes=tuple(p["output_shape"] for p in points),
    )

"""Shape lab: sweep one argument against the engine, and generated shape questions.

Two pure-Python tools for the shape-lab page (no streamlit here):

* :func:`sweep` varies one argument (the input length on one axis, ``kernel_size``,
  ``strides``, ...) over a range of values and, for every value, puts the formula's
  prediction next to the output length of a *real* forward pass of the engine.
  Invalid settings become flagged points carrying Keras's error message; they never raise.
* :func:`generate` makes a deterministic question from a seed and a difficulty
  (output shape, which input cells an output cell reads, or the parameter count);
  :func:`check` grades free-text answers leniently; :class:`Score` keeps a running score.

>>> s = sweep("Conv1D", {"filters": 2, "kernel_size": 3, "strides": 2}, (10,), 1,
...           "channels_last", "input", range(1, 8))
>>> s.actual.tolist()
[nan, nan, 1.0, 1.0, 2.0, 2.0, 3.0]
>>> bool(s.agree.all()), s.valid.tolist()[:3]
(True, [False, False, True])
>>> q = generate(seed=7, difficulty=1, kind="output_shape")
>>> check(q, catalog.format_shape(q.answer)).correct
True
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

import convviz

from . import catalog, formulas, geometry, layout
from .layers import standardize_pairs, standardize_tuple

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
    latex : tuple of str
        The derivation with the numbers of each point (``""`` where no formula applies).
    general : str
        The general formula (LaTeX) of the swept axis.
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
    latex: tuple
    general: str
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
            Keys ``value``, ``call``, ``latex`` (the formula with the numbers) and ``result``.
        """
        idx = np.flatnonzero(self.valid & (np.array([bool(t) for t in self.latex],
                                                     dtype=bool)))
        if idx.size == 0 or count <= 0:
            return []
        picks = sorted({int(idx[int(round(p))]) for p in np.linspace(0, idx.size - 1, count)})
        return [{"value": int(self.values[i]), "call": self.calls[i], "latex": self.latex[i],
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
                "latex": self.latex[i],
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


def _layer_name(name: str) -> str:
    return catalog.BY_NAME[name].default_name


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
    """(result, latex, general) for a window layer whose constructor refused the arguments.

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
            out, latex, general, _ = formulas.transpose_axis(n, k, s, d, padding, op)
        else:
            out, latex, general, _ = formulas.conv_axis(n, k, s, d, padding)
    except (ValueError, TypeError):
        return None
    return out, latex, general


def _run_point(name, kw, fmt, spatial, channels, axis) -> dict:
    """Everything :class:`Sweep` records for one point; never raises for a bad setting."""
    rank = len(spatial)
    shape_none = catalog.input_shape(spatial, channels, None, fmt)
    point = {"predicted": _NAN, "actual": _NAN, "forward": False, "valid": False,
             "agree": False, "stage": "ok", "error": "", "latex": "", "general": "",
             "call": catalog.keras_call(name, kw), "kwargs": kw, "input_shape": shape_none,
             "output_shape": None}
    if any(n < 1 for n in spatial):
        point.update(stage="input", agree=True,
                     error=f"The input length must be at least 1 along every axis. "
                           f"Received: input spatial shape={tuple(spatial)}")
        return point
    try:
        layer = convviz.LAYERS[name](**kw, name=_layer_name(name))
    except (ValueError, TypeError) as exc:
        point.update(stage="arguments", error=str(exc), agree=True)
        found = _fallback_formula(name, kw, rank, spatial[axis], axis)
        if found is not None:
            point.update(predicted=float(found[0]), latex=found[1], general=found[2])
        return point
    rows = formulas.derivations(layer, shape_none)
    point.update(predicted=float(rows[axis]["result"]), latex=rows[axis]["latex"],
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
    >>> s.latex[1]
    '(4-1)\\\\cdot 2 + 3 + 1 = 10'
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
    generals = [p["general"] for p in points if p["general"]]

    def col(key, dtype):
        return np.array([p[key] for p in points], dtype=dtype)

    return Sweep(
        name=name, kwargs=dict(kwargs), spatial=spatial, channels=channels, data_format=fmt,
        arg=arg, axis=axis, values=np.array(vals, dtype=np.int64),
        predicted=col("predicted", np.float64), actual=col("actual", np.float64),
        forward=col("forward", bool), valid=col("valid", bool), agree=col("agree", bool),
        stages=tuple(p["stage"] for p in points), errors=tuple(p["error"] for p in points),
        latex=tuple(p["latex"] for p in points),
        general=max(set(generals), key=generals.count) if generals else "",
        calls=tuple(p["call"] for p in points),
        point_kwargs=tuple(p["kwargs"] for p in points),
        input_shapes=tuple(p["input_shape"] for p in points),
        output_shapes=tuple(p["output_shape"] for p in points),
    )


# ----------------------------------------------------------------------------- questions
KINDS = ("output_shape", "reads", "params")
DIFFICULTIES = (1, 2, 3)


@dataclass(frozen=True)
class Question:
    """A generated question with its answer and the derivation that explains it.

    Attributes
    ----------
    kind : str
        ``"output_shape"`` (the full output shape, batch None), ``"reads"`` (the input
        spatial cells one output cell reads) or ``"params"`` (trainable parameter count).
    text : str
        The question as shown to the learner.
    entries : tuple of (str, dict)
        The layers, applied in order (one, or two for some difficulty-3 shape questions).
    input_shape : tuple
        The input shape, batch None.
    call : str
        The Keras code: one ``keras.layers.X(...)`` call per line.
    answer : tuple or int
        Output shape tuple; sorted tuple of spatial coordinate tuples; or an int.
    derivation : tuple of str
        LaTeX lines with the numbers filled in.
    difficulty : int
    seed : int
    out_index : tuple of int or None
        The output spatial cell of a ``"reads"`` question.
    """

    kind: str
    text: str
    entries: tuple
    input_shape: tuple
    call: str
    answer: Any
    derivation: tuple
    difficulty: int
    seed: int
    out_index: tuple | None = None

    @property
    def rank(self) -> int:
        return len(self.input_shape) - 2

    @property
    def expected(self) -> str:
        """The answer written the way :func:`check` would accept it."""
        return _format_answer(self.kind, self.answer, self.rank)


@dataclass(frozen=True)
class Feedback:
    """The grade of one answer: ``correct``, the expected answer as text, and a message."""

    correct: bool
    expected: str
    message: str
    given: str | None = None


@dataclass(frozen=True)
class Score:
    """A running score; :meth:`record` returns a new Score (nothing is mutated).

    >>> Score().record(True).record(True).record(False).record(True)
    Score(asked=4, correct=3, streak=1, best_streak=2)
    """

    asked: int = 0
    correct: int = 0
    streak: int = 0
    best_streak: int = 0

    def record(self, correct: bool) -> Score:
        streak = self.streak + 1 if correct else 0
        return Score(self.asked + 1, self.correct + int(bool(correct)), streak,
                     max(self.best_streak, streak))

    @property
    def accuracy(self) -> float:
        """Fraction answered correctly (0.0 before any question)."""
        return self.correct / self.asked if self.asked else 0.0


def _short_arg(value) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return catalog.literal(tuple(value))
    return repr(value)


def short_call(name: str, kwargs: Mapping[str, Any]) -> str:
    """Keras-docs style call: ``filters`` and ``kernel_size`` positional, the rest by keyword.

    >>> short_call("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"})
    "Conv2D(8, 3, strides=2, padding='same')"
    """
    kw = dict(kwargs)
    positional = []
    family = catalog.BY_NAME[name].family if name in catalog.BY_NAME else ""
    first = {"convolution": ("filters", "kernel_size"), "transposed": ("filters", "kernel_size"),
             "cropping": ("cropping",), "zero padding": ("padding",), "upsampling": ("size",)}
    if family == "depthwise/separable":
        keys = ("kernel_size",) if name.startswith("Depthwise") else ("filters", "kernel_size")
    else:
        keys = first.get(family, ())
    for key in keys:
        if key not in kw:
            break
        positional.append(_short_arg(kw.pop(key)))
    rest = [f"{k}={_short_arg(v)}" for k, v in kw.items()]
    return f"{name}({', '.join(positional + rest)})"


def _build(entries, input_shape):
    """Built layers and the shapes between them (ValueError from the first bad layer)."""
    layers, shapes = [], [tuple(input_shape)]
    counts: dict[str, int] = {}
    for name, kwargs in entries:
        base = _layer_name(name)
        n = counts.get(base, 0)
        counts[base] = n + 1
        layer = convviz.LAYERS[name](**kwargs, name=base if n == 0 else f"{base}_{n}")
        layer.build(shapes[-1])
        layers.append(layer)
        shapes.append(tuple(layer.compute_output_shape(shapes[-1])))
    return layers, shapes


def _forward_shape(layers, input_shape) -> tuple:
    x = np.zeros((1, *input_shape[1:]), dtype=np.float32)
    for layer in layers:
        x = layer(x)
    return (None, *x.shape[1:])


# --- samplers: rng -> (entries, spatial, channels, data_format) ------------------------------
def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _kw(**kwargs) -> dict:
    """Drop arguments left at their Keras default, so calls read like hand-written code."""
    defaults = {"strides": 1, "padding": "valid", "dilation_rate": 1, "depth_multiplier": 1,
                "groups": 1, "output_padding": None, "data_format": "channels_last"}
    return {k: v for k, v in kwargs.items() if k not in defaults or defaults[k] != v}


def _per_axis(rng, options, rank, uniform):
    vals = tuple(int(_pick(rng, options)) for _ in range(rank))
    return vals[0] if uniform or rank == 1 else vals


def _spatial(rng, rank, lo, hi, square):
    n = int(rng.integers(lo, hi + 1))
    if square:
        return (n,) * rank
    return tuple(int(rng.integers(lo, hi + 1)) for _ in range(rank))


def _sample_d1(rng, kind):
    rank = 1 if kind == "reads" and rng.random() < 0.5 else int(_pick(rng, (1, 2)))
    k = int(_pick(rng, (1, 2, 3, 3, 5) if kind != "reads" or rank == 1 else (1, 2, 3)))
    s = int(_pick(rng, (1, 2)))
    pad = _pick(rng, ("valid", "same"))
    hi = 10 if kind == "reads" else 16
    kwargs = _kw(filters=int(_pick(rng, (1, 2, 4, 8, 16, 32))), kernel_size=k, strides=s,
                 padding=pad)
    return [(f"Conv{rank}D", kwargs)], _spatial(rng, rank, 4, hi, True), \
        int(_pick(rng, (1, 3, 8))), "channels_last"


def _sample_d2(rng, kind):
    rank = int(_pick(rng, (1, 2)))
    family = _pick(rng, ("conv", "conv", "causal", "transpose", "transpose", "depthwise",
                         "separable"))
    reads = kind == "reads"
    ks = (1, 2, 3, 5) if not reads or rank == 1 else (1, 2, 3)
    k = _per_axis(rng, ks, rank, rng.random() < 0.6)
    s = _per_axis(rng, (1, 2, 3) if family == "transpose" else (1, 2), rank, True)
    d = 1
    if family in ("conv", "causal", "depthwise") and s == 1 and rng.random() < 0.6:
        d = int(_pick(rng, (2, 3)))
    pad = _pick(rng, ("valid", "same"))
    f = int(_pick(rng, (1, 2, 4, 8, 16)))
    if family == "causal":
        name, kwargs = "Conv1D", _kw(filters=f, kernel_size=_first(k), strides=s,
                                     padding="causal", dilation_rate=d)
        rank = 1
    elif family == "conv":
        name, kwargs = f"Conv{rank}D", _kw(filters=f, kernel_size=k, strides=s, padding=pad,
                                           dilation_rate=d)
    elif family == "transpose":
        name, kwargs = f"Conv{rank}DTranspose", _kw(filters=f, kernel_size=k, strides=s,
                                                    padding=pad)
    elif family == "depthwise":
        name, kwargs = f"DepthwiseConv{rank}D", _kw(kernel_size=k, strides=s, padding=pad,
                                                    dilation_rate=d,
                                                    depth_multiplier=int(_pick(rng, (1, 2, 3))))
    else:
        name, kwargs = f"SeparableConv{rank}D", _kw(filters=f, kernel_size=k, strides=s,
                                                    padding=pad,
                                                    depth_multiplier=int(_pick(rng, (1, 2))))
    lo, hi = (3, 8) if reads or family == "transpose" else (4, 16)
    return [(name, kwargs)], _spatial(rng, rank, lo, hi, rng.random() < 0.5), \
        int(_pick(rng, (1, 2, 3, 4))), "channels_last"


def _first(v):
    return v if isinstance(v, int) else v[0]


def _sample_reshape(rng, rank):
    family = _pick(rng, ("up", "crop", "pad"))
    if family == "up":
        return f"UpSampling{rank}D", {"size": _per_axis(rng, (1, 2, 3), rank,
                                                        rng.random() < 0.5)}
    pair = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    if rank == 1:
        value = pair
    elif rng.random() < 0.5:
        value = pair[0] + 1
    else:
        value = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(rank))
    if family == "crop":
        return f"Cropping{rank}D", {"cropping": value}
    return f"ZeroPadding{rank}D", {"padding": value}


def _sample_d3(rng, kind):
    reads = kind == "reads"
    rank = int(_pick(rng, (1, 2) if reads else (1, 2, 3, 3)))
    fmt = "channels_first" if rng.random() < 0.4 else "channels_last"
    if kind == "output_shape":
        families = ("conv", "groups", "transpose", "reshape", "mix")
    elif reads:
        families = ("conv", "groups", "transpose", "reshape")
    else:
        families = ("conv", "groups", "transpose")
    family = _pick(rng, families)
    small = reads or rank == 3
    k = _per_axis(rng, (1, 2, 3) if small else (1, 2, 3, 4, 5), rank, rng.random() < 0.5)
    channels = int(_pick(rng, (2, 3, 4, 6)))
    f = int(_pick(rng, (2, 4, 6, 8, 12)))
    spatial = _spatial(rng, rank, 3 if small else 4, 7 if small else 14, rng.random() < 0.4)
    pad = _pick(rng, ("valid", "same"))
    if family == "conv":
        s = _per_axis(rng, (1, 2, 3), rank, rng.random() < 0.5)
        entries = [(f"Conv{rank}D", _kw(filters=f, kernel_size=k, strides=s, padding=pad,
                                        data_format=fmt))]
    elif family == "groups":
        g = int(_pick(rng, (2, 3)))
        channels, f = g * int(_pick(rng, (1, 2))), g * int(_pick(rng, (1, 2, 4)))
        entries = [(f"Conv{rank}D", _kw(filters=f, kernel_size=k, groups=g, padding=pad,
                                        data_format=fmt))]
    elif family == "transpose":
        s = _per_axis(rng, (2, 3), rank, True)
        op = int(rng.integers(0, s)) if rng.random() < 0.7 else None
        entries = [(f"Conv{rank}DTranspose", _kw(filters=f, kernel_size=k, strides=s,
                                                 padding=pad, output_padding=op,
                                                 data_format=fmt))]
        spatial = _spatial(rng, rank, 2, 5, rng.random() < 0.5)
    else:
        if rank == 1:
            fmt = "channels_last"  # Cropping1D and UpSampling1D have no data_format
        name, kwargs = _sample_reshape(rng, rank)
        entries = [(name, _kw(**kwargs, data_format=fmt))]
        if family == "mix":
            s = int(_pick(rng, (1, 2)))
            conv = (f"Conv{rank}D", _kw(filters=f, kernel_size=k, strides=s, padding=pad,
                                        data_format=fmt))
            entries = [entries[0], conv] if rng.random() < 0.5 else [conv, entries[0]]
    return entries, spatial, channels, fmt


_SAMPLERS = {1: _sample_d1, 2: _sample_d2, 3: _sample_d3}
_KIND_WEIGHTS = (0.5, 0.3, 0.2)
_FALLBACK = ([("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"})],
             (15, 15), 3, "channels_last")


def _fmt_set(values) -> str:
    vals = sorted({int(v) for v in values})
    return "\\{" + ", ".join(str(v) for v in vals) + "\\}" if vals else "\\varnothing"


def _channel_line(layer, c_in: int, c_out: int) -> str:
    kind = layer.trace_kind
    if kind in ("conv", "transpose", "separable"):
        return f"C_{{out}} = \\text{{filters}} = {c_out}"
    if kind == "depthwise":
        return (f"C_{{out}} = C_{{in}} \\cdot \\text{{depth\\_multiplier}} = {c_in} \\cdot "
                f"{layer.depth_multiplier} = {c_out}")
    return f"C_{{out}} = C_{{in}} = {c_out}"


def _shape_latex(shape) -> str:
    return "(" + ", ".join("\\text{None}" if v is None else str(v) for v in shape) + ")"


def _shape_lines(layers, shapes) -> list[str]:
    lines = []
    for i, layer in enumerate(layers):
        prefix = f"\\text{{{type(layer).__name__}}}" + (f"_{{{i + 1}}}" if len(layers) > 1
                                                        else "")
        for row in formulas.derivations(layer, shapes[i]):
            lines.append(f"{prefix}\\ \\text{{axis {row['axis']}}}:\\; {row['general']} = "
                         f"{row['latex']}")
        c_in = layer.split_shape(shapes[i])[2]
        c_out = layer.split_shape(shapes[i + 1])[2]
        lines.append(f"{prefix}:\\; {_channel_line(layer, c_in, c_out)}")
    lines.append(f"\\text{{output shape}} = {_shape_latex(shapes[-1])}")
    return lines


def _param_lines(layer, shape) -> list[str]:
    c = layer.split_shape(shape)[2]
    k = "\\cdot ".join(str(v) for v in layer.kernel_size)
    kind = layer.trace_kind
    bias = layer.use_bias
    total = layer.count_params()
    if kind == "conv":
        g = layer.groups
        cin = f"({c}/{g})" if g > 1 else f"{c}"
        general = "\\prod k \\cdot C_{in}/g \\cdot F + F"
        terms = f"{k} \\cdot {cin} \\cdot {layer.filters}" + (f" + {layer.filters}" if bias
                                                             else "")
    elif kind == "transpose":
        general = "\\prod k \\cdot F \\cdot C_{in} + F"
        terms = f"{k} \\cdot {layer.filters} \\cdot {c}" + (f" + {layer.filters}" if bias else "")
    elif kind == "depthwise":
        m = layer.depth_multiplier
        general = "\\prod k \\cdot C_{in} \\cdot M + C_{in} M"
        terms = f"{k} \\cdot {c} \\cdot {m}" + (f" + {c * m}" if bias else "")
    else:
        m = layer.depth_multiplier
        general = "\\prod k \\cdot C_{in} M + C_{in} M \\cdot F + F"
        terms = (f"{k} \\cdot {c} \\cdot {m} + {c * m} \\cdot {layer.filters}"
                 + (f" + {layer.filters}" if bias else ""))
    return [f"\\text{{params}} = {general} = {terms} = {total}"]


def _reads_lines(layer, shape, out_index) -> list[str]:
    trace = layer.trace(shape)
    lines = []
    for ax, (a, o) in enumerate(zip(trace.axes, out_index)):
        real = a.source[o][a.source[o] >= 0]
        label = f"\\text{{axis {ax}}}:\\;"
        if trace.kind in ("conv", "depthwise", "separable"):
            s, d = layer.strides[ax], layer.dilation_rate[ax]
            lo = a.lo
            lines.append(f"{label} i = o\\cdot s + j\\cdot d - p_{{lo}} = {o}\\cdot {s} + "
                         f"j\\cdot {d} - {lo},\\ j = 0..{layer.kernel_size[ax] - 1} "
                         f"\\Rightarrow {_fmt_set(a.coords[o])};\\ \\text{{inside }} "
                         f"[0, {a.n}): {_fmt_set(real)}")
        elif trace.kind == "transpose":
            s, d = layer.strides[ax], layer.dilation_rate[ax]
            lines.append(f"{label} \\text{{gather: }} o - p_{{lo}} + j\\cdot d = {o} - {a.lo} + "
                         f"j\\cdot {d} \\Rightarrow {_fmt_set(a.coords[o])}\\ "
                         f"\\text{{in the zero-inserted input (length }}({a.n}-1)\\cdot {s}+1 = "
                         f"{a.space});\\ \\text{{real cells are the multiples of }} {s} "
                         f"\\text{{ inside: }} i = \\text{{pos}}/{s} \\in {_fmt_set(real)}")
        elif trace.kind == "crop":
            lines.append(f"{label} i = o + c_{{lo}} = {o} + {-a.lo} = {_fmt_set(real)}")
        elif trace.kind == "pad":
            lines.append(f"{label} i = o - p_{{lo}} = {o} - {a.lo} = {o - a.lo}"
                         + ("" if real.size else " \\text{ (a padding cell: no input)}")
                         + f" \\Rightarrow {_fmt_set(real)}")
        else:
            size = layer.size[ax]
            lines.append(f"{label} i = \\lfloor o / \\text{{size}} \\rfloor = "
                         f"\\lfloor {o} / {size} \\rfloor \\Rightarrow {_fmt_set(real)}")
    lines.append("\\text{cells read} = \\text{every combination of the per-axis sets}")
    return lines


def _format_cells(cells, rank: int) -> str:
    if not cells:
        return "none"
    if rank == 1:
        return " ".join(str(c[0]) for c in cells)
    return " ".join("(" + ", ".join(str(v) for v in c) + ")" for c in cells)


def _format_answer(kind: str, answer, rank: int) -> str:
    if kind == "output_shape":
        return catalog.format_shape(answer)
    if kind == "reads":
        return _format_cells(answer, rank)
    return str(answer)


def _format_index(index) -> str:
    return str(index[0]) if len(index) == 1 else catalog.format_shape(index)


def _make(rng, seed, difficulty, kind, sampled) -> Question:
    entries, spatial, channels, fmt = sampled
    shape = catalog.input_shape(spatial, channels, None, fmt)
    layers, shapes = _build(entries, shape)
    real = _forward_shape(layers, shape)
    if real != shapes[-1]:  # pragma: no cover - the engine and its shapes disagree
        raise ValueError(f"engine shape {real} != computed {shapes[-1]}")
    if any(layer.trace_kind == "upsample" and layer.interpolation != "nearest"
           for layer in layers):  # pragma: no cover - samplers use nearest only
        raise ValueError("only nearest upsampling in questions")
    calls = " then ".join(short_call(n, kw) for n, kw in entries)
    code = "\n".join(catalog.keras_call(n, kw) for n, kw in entries)
    on = f"on {catalog.format_shape(shape)}"
    out_index = None
    if kind == "output_shape":
        text, answer = f"{calls} {on}: output shape?", shapes[-1]
        lines = _shape_lines(layers, shapes)
    elif kind == "params":
        layer = layers[0]
        if not layer.weights:
            raise ValueError("no parameters to count")
        text, answer = f"{calls} {on}: how many parameters?", int(layer.count_params())
        lines = _param_lines(layer, shape)
    else:
        layer = layers[0]
        trace = layer.trace(shape)
        out_index = tuple(int(rng.integers(n)) for n in trace.out_shape)
        cells = np.argwhere(trace.receptive_field(out_index))
        answer = tuple(tuple(int(v) for v in c) for c in cells)
        if len(answer) > 12:
            raise ValueError("too many cells to type")
        word = "position" if len(out_index) == 1 else "cell"
        text = (f"{calls} {on}: which input {word}s does output {word} "
                f"{_format_index(out_index)} read?")
        lines = _reads_lines(layer, shape, out_index)
    return Question(kind, text, tuple((n, dict(kw)) for n, kw in entries), shape, code, answer,
                    tuple(lines), difficulty, seed, out_index)


def generate(seed: int, difficulty: int = 1, kind: str | None = None) -> Question:
    """A question, the same for the same ``(seed, difficulty, kind)``.

    Parameters
    ----------
    seed : int
        Seeds ``numpy.random.default_rng``; nothing else is random.
    difficulty : {1, 2, 3}
        1: Conv1D/Conv2D, valid/same, strides 1-2. 2: adds dilation, causal, transposed,
        depthwise and separable layers, non-square inputs and per-axis kernels.
        3: adds Conv3D/Conv3DTranspose, output_padding, channels_first, groups, and
        upsampling/cropping/zero padding, alone or before/after a convolution.
    kind : {"output_shape", "reads", "params"} or None
        None draws one (half shape questions, 30 % reads, 20 % params).

    Returns
    -------
    Question
        Always a valid configuration: candidates the engine refuses are redrawn.

    Examples
    --------
    >>> q = generate(3, 1, "params")
    >>> q == generate(3, 1, "params"), q.kind, isinstance(q.answer, int)
    (True, 'params', True)
    """
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"`difficulty` must be 1, 2 or 3. Received: {difficulty!r}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS} or None. Received: {kind!r}")
    rng = np.random.default_rng(seed)
    if kind is None:
        kind = KINDS[int(rng.choice(len(KINDS), p=_KIND_WEIGHTS))]
    for _ in range(200):
        try:
            return _make(rng, seed, difficulty, kind, _SAMPLERS[difficulty](rng, kind))
        except (ValueError, TypeError):
            continue
    return _make(rng, seed, difficulty, kind, _FALLBACK)  # pragma: no cover


# ----------------------------------------------------------------------------- answers
_NONE_WORDS = {"none", "null", "nil", "?", "batch"}
_MAX_DIGITS = 12
_BAD = object()


def _int(token: str):
    return int(token) if len(token) <= _MAX_DIGITS else _BAD


def _shape_tokens(text: str) -> list:
    """Integers and None markers of a free-text shape, in order; words are ignored.

    ``"(None, 8, 8, 4)"``, ``"None,8,8,4"``, ``"[?, 8, 8, 4]"``, ``"8x8x4"`` all read.
    """
    text = str(text).replace("×", "x")
    tokens: list = []
    for word in re.findall(r"[A-Za-z0-9_?]+", text):
        low = word.lower()
        if word.isdigit():
            tokens.append(_int(word))
        elif re.fullmatch(r"\d+(?:[xX]\d+)+", word):
            tokens.extend(_int(t) for t in re.split(r"[xX]", word))
        elif low in _NONE_WORDS:
            tokens.append(None)
    return tokens


def parse_shape(text: str) -> tuple | None:
    """A shape read leniently from free text (None when nothing readable; never raises).

    >>> parse_shape("(None, 8, 8, 4)"), parse_shape("None,8,8,4"), parse_shape("8 x 8 x 4")
    ((None, 8, 8, 4), (None, 8, 8, 4), (8, 8, 4))
    >>> parse_shape("no idea") is None
    True
    """
    try:
        tokens = _shape_tokens(text)
    except Exception:  # noqa: BLE001 - free text must never raise
        return None
    if not tokens or any(t is _BAD for t in tokens):
        return None
    return tuple(tokens)


def _ints(text: str) -> list:
    return [_int(t) for t in re.findall(r"\d+", text)]


def parse_cells(text: str, rank: int) -> frozenset | None:
    """Spatial coordinates read leniently from free text (None when unreadable; never raises).

    Accepted: groups in brackets ``"(0,0) (0,1)"`` / ``"[(0, 0), (0, 1)]"``; groups split by
    ``;`` or new lines ``"0,0; 0,1"``; bare integers taken ``rank`` at a time
    ``"0 0 0 1"`` (for 1D simply ``"3 4 5"``); ``"none"`` / ``"nothing"`` for no cell.

    >>> sorted(parse_cells("(0,0) (0,1)", 2)) == sorted(parse_cells("0,0; 0,1", 2))
    True
    >>> sorted(parse_cells("[3, 4, 5]", 1))
    [(3,), (4,), (5,)]
    """
    try:
        return _parse_cells(str(text), int(rank))
    except Exception:  # noqa: BLE001 - free text must never raise
        return None


def _parse_cells(text: str, rank: int) -> frozenset | None:
    groups = re.findall(r"[(\[{]([^()\[\]{}]*)[)\]}]", text)
    if not [g for g in groups if re.search(r"\d", g)]:
        groups = [g for g in re.split(r"[;\n|]+", text) if re.search(r"\d", g)]
        if len(groups) <= 1:
            groups = [text]
    cells = []
    for group in groups:
        values = _ints(group)
        if not values:
            continue
        if any(v is _BAD for v in values) or len(values) % rank:
            return None
        cells.extend(tuple(values[i:i + rank]) for i in range(0, len(values), rank))
    if not cells:
        words = set(re.findall(r"[a-z]+", text.lower()))
        empty = {"none", "nothing", "empty", "no"} & words or text.strip() in ("{}", "[]", "()",
                                                                             "∅")
        return frozenset() if empty else None
    return frozenset(cells)


def parse_int(text: str) -> int | None:
    """One integer from free text, thousands separators allowed (None if not exactly one).

    >>> parse_int("1,792 params"), parse_int("1 792"), parse_int("1792"), parse_int("12 or 13")
    (1792, 1792, 1792, None)
    """
    try:
        joined = re.sub(r"(?<=\d)[,_' ](?=\d{3}(?!\d))", "", str(text))
        values = _ints(joined)
    except Exception:  # noqa: BLE001 - free text must never raise
        return None
    if len(values) != 1 or values[0] is _BAD:
        return None
    return values[0]


def _check_shape(q: Question, text: str) -> Feedback:
    expected = q.expected
    given = parse_shape(text)
    if given is None:
        return Feedback(False, expected, "Could not read a shape. Write it like "
                        f"{catalog.format_shape((None, 8, 8, 4))}.")
    answer = tuple(q.answer)
    shown = catalog.format_shape(given)
    if given == answer or (None not in given and given == answer[1:]):
        return Feedback(True, expected, f"Correct: {expected}.", shown)
    fmt = "channels_first" if any(kw.get("data_format") == "channels_first"
                                  for _, kw in q.entries) else "channels_last"
    spatial = layout.spatial(answer, fmt)
    if tuple(v for v in given if v is not None) == spatial:
        msg = "The spatial lengths are right, but the shape also has the batch and channel axes."
    elif len(given) == len(answer) and given[1:] == answer[1:]:
        msg = "The batch axis stays None: the layer does not fix the batch size."
    elif len(given) == len(answer) and sorted(map(str, given)) == sorted(map(str, answer)):
        msg = f"Right numbers, wrong order: this layer uses {fmt}."
    elif len(given) not in (len(answer), len(answer) - 1):
        msg = (f"The output has {len(answer)} axes (batch, {len(spatial)} spatial, channels); "
               f"you gave {len(given)}.")
    else:
        msg = "Not quite."
    return Feedback(False, expected, f"{msg} The output shape is {expected}.", shown)


def _check_reads(q: Question, text: str) -> Feedback:
    expected = q.expected
    given = parse_cells(text, q.rank)
    example = "3 4 5" if q.rank == 1 else "(0, 0) (0, 1)"
    if given is None:
        return Feedback(False, expected, f"Could not read the cells. Write them like {example}, "
                        "or 'none'.")
    answer = frozenset(q.answer)
    shown = _format_cells(sorted(given), q.rank)
    if given == answer:
        return Feedback(True, expected, f"Correct: {len(answer)} input cells.", shown)
    missing, extra = sorted(answer - given), sorted(given - answer)
    parts = []

    def cells(found):  # "cell 3", "cells (0, 1) (2, 2)": never a bare number
        return f"cell{'s' * (len(found) != 1)} {_format_cells(found, q.rank)}"

    if missing:
        parts.append(f"you missed {cells(missing)}")
    if extra:
        parts.append(f"{cells(extra)} {'is' if len(extra) == 1 else 'are'} not read")
    return Feedback(False, expected, f"Not quite: {'; '.join(parts)}. Output "
                    f"{_format_index(q.out_index)} reads {expected}.", shown)


def _check_params(q: Question, text: str) -> Feedback:
    expected = q.expected
    given = parse_int(text)
    if given is None:
        return Feedback(False, expected, "Could not read one whole number, e.g. 1792.")
    if given == q.answer:
        return Feedback(True, expected, f"Correct: {expected} parameters.", str(given))
    return Feedback(False, expected, f"Not quite: the layer has {expected} parameters.",
                    str(given))


def check(question: Question, answer_text: str) -> Feedback:
    """Grade a free-text answer; never raises, whatever the text.

    Accepted spellings
    ------------------
    ``output_shape``: the full shape, batch written ``None`` (or ``?``/``null``/``batch``),
    any brackets and separators (``"(None, 8, 8, 4)"``, ``"None,8,8,4"``, ``"[?, 8, 8, 4]"``),
    or the shape without the batch axis (``"8, 8, 4"``, ``"8x8x4"``). Spatial lengths alone
    are *not* accepted: where the channels go is part of the answer (channels_first).
    ``reads``: see :func:`parse_cells`; order and repetitions do not matter.
    ``params``: one integer, thousands separators allowed (``"1,792"``).

    >>> q = generate(0, 1, "output_shape")
    >>> [check(q, t).correct for t in (str(q.answer), q.expected.replace(" ", ""), "1 2 3")]
    [True, True, False]
    """
    text = "" if answer_text is None else str(answer_text)
    grader = {"output_shape": _check_shape, "reads": _check_reads, "params": _check_params}
    return grader[question.kind](question, text)


__all__ = [
    "DIFFICULTIES", "KINDS", "MAX_FORWARD_ELEMENTS", "MAX_FORWARD_MACS", "MAX_SWEEP_POINTS",
    "SWEEPABLE", "Feedback", "Question", "Score", "Sweep", "check", "generate", "parse_cells",
    "parse_int", "parse_shape", "short_call", "sweep",
]

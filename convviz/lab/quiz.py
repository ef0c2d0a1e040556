"""Generated shape questions: a seed and a difficulty make one deterministic question.

:func:`generate` asks for an output shape, the input cells an output cell reads, or a
parameter count, with the derivation that answers it; :func:`short_call` writes a layer
the way the Keras docs do. Grading lives in :mod:`convviz.lab.answers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import convviz

from .. import catalog, formulas
from ..layers import next_name

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
        layer = convviz.LAYERS[name](**kwargs, name=next_name(name, counts))
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


def shape_latex(shape) -> str:
    return "(" + ", ".join("\\text{None}" if v is None else str(v) for v in shape) + ")"


def _shape_lines(layers, shapes) -> list[str]:
    lines = []
    for i, layer in enumerate(layers):
        prefix = f"\\text{{{type(layer).__name__}}}" + (f"_{{{i + 1}}}" if len(layers) > 1
                                                        else "")
        for row in formulas.derivations(layer, shapes[i]):
            lines.append(f"{prefix}\\ \\text{{axis {row['axis']}}}:\\; "
                         f"{row['general'].latex()} = {row['formula'].latex()}")
        c_in = layer.split_shape(shapes[i])[2]
        c_out = layer.split_shape(shapes[i + 1])[2]
        lines.append(f"{prefix}:\\; {layer.channel_formula(c_in, c_out).latex()}")
    lines.append(f"\\text{{output shape}} = {shape_latex(shapes[-1])}")
    return lines


def _param_lines(layer, shape) -> list[str]:
    terms = layer.params_formula(layer.split_shape(shape)[2]).latex()
    return [f"\\text{{params}} = {terms} = {layer.count_params()}"]


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


def format_cells(cells, rank: int) -> str:
    if not cells:
        return "none"
    if rank == 1:
        return " ".join(str(c[0]) for c in cells)
    return " ".join("(" + ", ".join(str(v) for v in c) + ")" for c in cells)


def _format_answer(kind: str, answer, rank: int) -> str:
    if kind == "output_shape":
        return catalog.format_shape(answer)
    if kind == "reads":
        return format_cells(answer, rank)
    return str(answer)


def format_index(index) -> str:
    return str(index[0]) if len(index) == 1 else catalog.format_shape(index)


def _make(rng, seed, difficulty, kind, sampled) -> Question:
    entries, spatial, channels, fmt = sampled
    shape = catalog.input_shape(spatial, channels, None, fmt)
    layers, shapes = _build(entries, shape)
    real = _forward_shape(layers, shape)
    if real != shapes[-1]:  # pragma: no cover - the engine and its shapes disagree
        raise ValueError(f"engine shape {real} != computed {shapes[-1]}")
    resized = [lay for lay in layers if getattr(lay, "interpolation", "nearest") != "nearest"]
    if resized:  # pragma: no cover - samplers use nearest only
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
                f"{format_index(out_index)} read?")
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

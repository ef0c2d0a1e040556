"""Traces: the geometry of a layer recorded as compact integer arrays per axis.

A trace does not depend on batch size or channel count.  For every spatial axis
it keeps an :class:`AxisTrace`: for each output coordinate ``o`` a row of ``T``
slots, each slot a coordinate the window reads (``coords``), the kernel tap it
uses (``kernel``), its weight and the real input cell behind it (``source``,
``-1`` for a padding cell, an inserted zero, or a zero-weight tap).  Every view
(the window at step ``i``, padding cells, dilation gaps, dependency matrix,
overlap counts, explain tables) is derived from those arrays on demand.

Coordinates live in the *window space* of the axis: the input itself for a
forward convolution, cropping, padding and upsampling; the zero-inserted input
(length ``(n-1)*s + 1``) for the gather view of a transposed convolution.
Padding cells are the coordinates outside ``[0, space)``.

>>> import convviz
>>> t = convviz.Conv1D(1, 3, padding="same", strides=2).trace((None, 6, 1))
>>> t.pads, t.axes[0].coords.tolist()
(((0, 1),), [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import geometry, layout
from .geometry import prod

#: Refuse dense dependency matrices larger than this many cells.
MAX_DEPENDENCY_CELLS = 64 * 2**20


@dataclass(frozen=True)
class AxisTrace:
    """One spatial axis of a trace.

    Attributes
    ----------
    n : int
        Real input length.
    space : int
        Length of the window space (``n``, or ``(n-1)*s + 1`` for a transposed gather).
    step : int
        Spacing of real input cells in the window space (``s`` for a transposed gather,
        else 1); other in-range coordinates are inserted zeros.
    lo, hi : int
        Padding of the window space (negative: cropping).
    coords, kernel, source : ndarray of int64, shape ``(out, T)``
        Window-space coordinate, kernel tap (-1: no kernel), real input cell (-1: none).
    weight : ndarray of float64, shape ``(out, T)``
        Interpolation weight of each slot (1 for convolution taps).
    """

    n: int
    space: int
    step: int
    lo: int
    hi: int
    coords: np.ndarray
    kernel: np.ndarray
    source: np.ndarray
    weight: np.ndarray

    @property
    def out(self) -> int:
        return self.coords.shape[0]

    def dependency(self) -> np.ndarray:
        """Boolean ``(out, n)``: output ``o`` reads input ``i`` through a real slot."""
        dep = np.zeros((self.out, self.n), dtype=bool)
        rows = np.broadcast_to(np.arange(self.out)[:, None], self.source.shape)
        real = self.source >= 0
        dep[rows[real], self.source[real]] = True
        return dep

    def real_count(self) -> np.ndarray:
        """Int ``(out,)``: number of real slots per output coordinate."""
        return (self.source >= 0).sum(axis=1)


def _axis(n, space, step, lo, hi, coords, kernel, weight=None) -> AxisTrace:
    coords = np.asarray(coords, dtype=np.int64)
    kernel = np.broadcast_to(np.asarray(kernel, dtype=np.int64), coords.shape).copy()
    weight = np.ones(coords.shape) if weight is None else np.asarray(weight, dtype=np.float64)
    inside = (coords >= 0) & (coords < space) & (coords % step == 0) & (weight != 0)
    source = np.where(inside, coords // step, -1)
    return AxisTrace(n, space, step, lo, hi, coords, kernel, source, weight)


@dataclass(frozen=True)
class Step:
    """One animation step: an output cell and every slot of its window (flattened, row-major).

    Attributes
    ----------
    index : int
    out_index : tuple of int
    coords : ndarray (T, rank)    window-space coordinate of each slot (padding included)
    kernel_index : ndarray (T, rank)  kernel tap of each slot (-1: none)
    padding : ndarray (T,)        slot lands on a padding cell
    inserted : ndarray (T,)       slot lands on an inserted zero (transposed gather view)
    source : ndarray (T, rank)    real input cell (-1 where none)
    weight : ndarray (T,)         product of the per-axis weights
    gaps : ndarray (G, rank)      cells inside the window's span that no slot reads
    """

    index: int
    out_index: tuple
    coords: np.ndarray
    kernel_index: np.ndarray
    padding: np.ndarray
    inserted: np.ndarray
    source: np.ndarray
    weight: np.ndarray
    gaps: np.ndarray


def _step_index(i: int, steps: int, shape) -> tuple:
    """``i`` as a row-major index into ``shape``; IndexError outside ``[0, steps)``."""
    if not 0 <= i < steps:
        raise IndexError(f"step {i} out of range for a trace of {steps} steps")
    return np.unravel_index(i, shape)


def _grid(per_axis):
    """Cartesian product of per-axis 1-D arrays -> ``(prod, rank)`` row-major.

    >>> _grid([np.array([0, 1]), np.array([5, 6, 7])]).tolist()
    [[0, 5], [0, 6], [0, 7], [1, 5], [1, 6], [1, 7]]
    """
    if not per_axis:
        return np.zeros((1, 0))
    sizes = [len(a) for a in per_axis]
    out = np.empty((*sizes, len(sizes)), dtype=np.result_type(*per_axis))
    for k, a in enumerate(per_axis):  # one broadcast copy per axis (a step has few cells)
        out[..., k] = np.reshape(a, [-1 if j == k else 1 for j in range(len(sizes))])
    return out.reshape(-1, len(sizes))


@dataclass(frozen=True)
class Trace:
    """Geometry of one layer on one spatial input shape (gather view: one step per output cell).

    Attributes
    ----------
    kind : str
        ``"conv"``, ``"depthwise"``, ``"separable"``, ``"transpose"``, ``"crop"``, ``"pad"``
        or ``"upsample"``.
    axes : tuple of AxisTrace
    channels : dict
        Channel rule: ``{"groups": G}``, ``{"depth_multiplier": M}``, ``{"mix": True}``
        or ``{"identity": True}``; see :meth:`channel_map`.
    """

    kind: str
    axes: tuple
    channels: dict = field(default_factory=dict)

    # --- shapes -----------------------------------------------------------------
    @property
    def rank(self) -> int:
        return len(self.axes)

    @property
    def in_shape(self) -> tuple:
        return tuple(a.n for a in self.axes)

    @property
    def out_shape(self) -> tuple:
        return tuple(a.out for a in self.axes)

    @property
    def space_shape(self) -> tuple:
        """Shape of the window space before padding (zero-inserted input for transposed)."""
        return tuple(a.space for a in self.axes)

    @property
    def pads(self) -> tuple:
        """``((lo, hi), ...)`` of the window space; negative values crop."""
        return tuple((a.lo, a.hi) for a in self.axes)

    @property
    def padded_shape(self) -> tuple:
        return tuple(a.space + a.lo + a.hi for a in self.axes)

    def __len__(self) -> int:
        return prod(self.out_shape)

    # --- steps ------------------------------------------------------------------
    def step(self, i: int) -> Step:
        """The window of output cell number ``i`` (row-major output order)."""
        o = _step_index(i, len(self), self.out_shape)
        rows = [(a.coords[oi], a.kernel[oi], a.source[oi], a.weight[oi])
                for a, oi in zip(self.axes, o)]
        coords = _grid([r[0] for r in rows])
        kernel = _grid([r[1] for r in rows])
        src = _grid([r[2] for r in rows])
        weight = np.prod(_grid([r[3] for r in rows]), axis=1)
        space = np.array(self.space_shape)
        steps = np.array([a.step for a in self.axes])
        padding = ((coords < 0) | (coords >= space)).any(axis=1)
        inserted = ~padding & (coords % steps != 0).any(axis=1)
        real = (src >= 0).all(axis=1)
        source = np.where(real[:, None], src, -1)
        return Step(i, tuple(int(v) for v in o), coords, kernel, padding, inserted, source,
                    weight, self._gaps(o))

    def _gaps(self, o) -> np.ndarray:
        """Cells inside the span of the window's kernel taps that no tap reads (dilation).

        The window is a product of per-axis tap rows, so a cell of the spanned box is
        a gap exactly when one of its coordinates is missing from that axis's row.
        """
        spans, members = [], []
        for a, oi in zip(self.axes, o):
            row = a.coords[oi][a.kernel[oi] >= 0]
            if row.size == 0:
                return np.zeros((0, self.rank), dtype=np.int64)
            lo = row.min()
            span = np.arange(lo, row.max() + 1)
            member = np.zeros(span.size, dtype=bool)
            member[row - lo] = True  # every tap lies in its span
            spans.append(span)
            members.append(member)
        box = _grid(spans)
        hit = _grid(members).astype(bool).all(axis=1)
        return box[~hit]

    # --- derived views ----------------------------------------------------------
    def dependency(self) -> np.ndarray:
        """Boolean ``out_shape + in_shape``: True where output o reads input i for real."""
        cells = len(self) * prod(self.in_shape)
        if cells > MAX_DEPENDENCY_CELLS:
            raise ValueError(
                f"The dependency matrix would have {cells} cells (out {self.out_shape} x in "
                f"{self.in_shape}); the limit is {MAX_DEPENDENCY_CELLS}. Use "
                "`trace.axes[k].dependency()` per axis, or a smaller input."
            )
        dep = np.ones((), dtype=bool)
        r = self.rank
        for k, a in enumerate(self.axes):
            shape = [1] * (2 * r)
            shape[k], shape[r + k] = a.out, a.n
            dep = dep & a.dependency().reshape(shape)
        return np.broadcast_to(dep, self.out_shape + self.in_shape).copy()

    def receptive_field(self, out_index) -> np.ndarray:
        """Boolean ``in_shape``: the input cells output ``out_index`` reads."""
        field_ = np.ones((), dtype=bool)
        for k, (a, oi) in enumerate(zip(self.axes, out_index)):
            shape = [1] * self.rank
            shape[k] = a.n
            field_ = field_ & a.dependency()[oi].reshape(shape)
        return np.broadcast_to(field_, self.in_shape).copy()

    def overlap_count(self) -> np.ndarray:
        """Int ``out_shape``: how many (input cell, kernel tap) pairs write each output cell.

        For a transposed convolution this is the checkerboard: uneven when the
        kernel size is not divisible by the stride.
        """
        count = np.ones((), dtype=np.int64)
        for k, a in enumerate(self.axes):
            shape = [1] * self.rank
            shape[k] = a.out
            count = count * a.real_count().reshape(shape)
        return np.broadcast_to(count, self.out_shape).copy()

    def padding_mask(self) -> np.ndarray:
        """Boolean ``padded_shape``: True on padding cells of the padded window space."""
        mask = np.zeros((), dtype=bool)
        for k, a in enumerate(self.axes):
            shape = [1] * self.rank
            shape[k] = a.space + a.lo + a.hi
            c = np.arange(shape[k]) - a.lo
            mask = mask | ((c < 0) | (c >= a.space)).reshape(shape)
        return np.broadcast_to(mask, self.padded_shape).copy()

    def inserted_mask(self) -> np.ndarray:
        """Boolean ``space_shape``: inserted zeros of the window space (transposed gather)."""
        mask = np.zeros((), dtype=bool)
        for k, a in enumerate(self.axes):
            shape = [1] * self.rank
            shape[k] = a.space
            mask = mask | (np.arange(a.space) % a.step != 0).reshape(shape)
        return np.broadcast_to(mask, self.space_shape).copy()

    def read_count(self) -> np.ndarray:
        """Int ``padded_shape``: how many windows read each cell of the padded space."""
        count = np.ones((), dtype=np.int64)
        for k, a in enumerate(self.axes):
            shape = [1] * self.rank
            shape[k] = a.space + a.lo + a.hi
            valid = a.kernel >= 0 if (a.kernel >= 0).any() else a.weight != 0
            hits = np.bincount((a.coords + a.lo)[valid], minlength=shape[k])[: shape[k]]
            count = count * hits.reshape(shape)
        return np.broadcast_to(count, self.padded_shape).copy()

    def channel_map(self, in_channels: int, out_channels: int | None = None) -> np.ndarray:
        """Boolean ``(out_channels, in_channels)``: which input channels feed each output one."""
        c = np.arange(in_channels)
        if "groups" in self.channels:
            g = self.channels["groups"]
            out_channels = out_channels or self.channels.get("filters") or in_channels
            f = np.arange(out_channels)
            return (f[:, None] // (out_channels // g)) == (c[None, :] // (in_channels // g))
        if "depth_multiplier" in self.channels:
            m = self.channels["depth_multiplier"]
            return (np.arange(in_channels * m)[:, None] // m) == c[None, :]
        if self.channels.get("mix"):
            out_channels = out_channels or self.channels.get("filters") or in_channels
            return np.ones((out_channels, in_channels), dtype=bool)
        return np.eye(in_channels, dtype=bool)


@dataclass(frozen=True)
class ScatterStep:
    """One input cell of a transposed convolution painting its patch of the output.

    Attributes
    ----------
    index : int
    in_index : tuple of int
    out_coords : ndarray (K, rank)   output cell written by each kernel tap (may be cropped away)
    full_coords : ndarray (K, rank)  the same in the uncropped scatter result ``full``
    kernel_index : ndarray (K, rank)
    inside : ndarray (K,)            the written cell is inside the output
    """

    index: int
    in_index: tuple
    out_coords: np.ndarray
    full_coords: np.ndarray
    kernel_index: np.ndarray
    inside: np.ndarray


@dataclass(frozen=True)
class ScatterTrace:
    """Scatter view of a transposed convolution: one step per input cell.

    ``full[i*s + j*d] += x[i] * W[j]``, then ``y[o] = full[o + crop]``.
    """

    gather: Trace
    kernel_size: tuple
    strides: tuple
    dilation_rate: tuple
    crops: tuple

    kind = "transpose-scatter"

    @property
    def in_shape(self):
        return self.gather.in_shape

    @property
    def out_shape(self):
        return self.gather.out_shape

    @property
    def full_shape(self) -> tuple:
        """Length of the uncropped scatter result per axis: ``(n-1)*s + ke``."""
        return tuple((n - 1) * s + geometry.effective_kernel(k, d)
                     for n, k, s, d in zip(self.in_shape, self.kernel_size, self.strides,
                                           self.dilation_rate))

    def __len__(self) -> int:
        return prod(self.in_shape)

    def step(self, i: int) -> ScatterStep:
        idx = _step_index(i, len(self), self.in_shape)
        full = [ii * s + np.arange(k) * d
                for ii, k, s, d in zip(idx, self.kernel_size, self.strides, self.dilation_rate)]
        full_coords = _grid(full)
        kernel = _grid([np.arange(k) for k in self.kernel_size])
        out_coords = full_coords - np.array(self.crops)
        inside = ((out_coords >= 0) & (out_coords < np.array(self.out_shape))).all(axis=1)
        return ScatterStep(i, tuple(int(v) for v in idx), out_coords, full_coords, kernel,
                           inside)

    def dependency(self) -> np.ndarray:
        return self.gather.dependency()

    def overlap_count(self) -> np.ndarray:
        return self.gather.overlap_count()


# ----------------------------------------------------------------------------- builders
def conv_axes(spatial, kernel_size, strides, dilation_rate, padding) -> tuple:
    """Forward-convolution axis traces (Conv, Depthwise, Separable)."""
    axes = []
    for n, k, s, d in zip(spatial, kernel_size, strides, dilation_rate):
        lo, hi = geometry.conv_pads(n, k, s, d, padding)
        coords = geometry.conv_taps(n, k, s, d, padding)
        axes.append(_axis(n, n, 1, lo, hi, coords, np.arange(k)[None, :]))
    return tuple(axes)


def transpose_axes(spatial, kernel_size, strides, dilation_rate, padding, output_padding):
    """Gather-view axis traces of a transposed convolution (zero-inserted input, flipped kernel)."""
    ops = output_padding or (None,) * len(spatial)
    axes = []
    for n, k, s, d, op in zip(spatial, kernel_size, strides, dilation_rate, ops):
        out = geometry.transpose_output_length(n, k, s, d, padding, op)
        lo, hi = geometry.transpose_gather_pads(n, k, s, d, padding, op)
        j = np.arange(k)
        coords = np.arange(out)[:, None] + j[None, :] * d - lo
        axes.append(_axis(n, (n - 1) * s + 1, s, lo, hi, coords, (k - 1 - j)[None, :]))
    return tuple(axes)


def crop_axes(spatial, cropping) -> tuple:
    axes = []
    for n, (lo, hi) in zip(spatial, cropping):
        coords = (np.arange(n - lo - hi) + lo)[:, None]
        axes.append(_axis(n, n, 1, -lo, -hi, coords, -1))
    return tuple(axes)


def pad_axes(spatial, padding) -> tuple:
    axes = []
    for n, (lo, hi) in zip(spatial, padding):
        coords = (np.arange(n + lo + hi) - lo)[:, None]
        axes.append(_axis(n, n, 1, lo, hi, coords, -1))
    return tuple(axes)


def upsample_axes(spatial, size, interpolation) -> tuple:
    axes = []
    for n, s in zip(spatial, size):
        idx, w = geometry.resize_taps(n, n * s, interpolation)
        axes.append(_axis(n, n, 1, 0, 0, idx, -1, w))
    return tuple(axes)


# ----------------------------------------------------------------------------- explain
@dataclass(frozen=True)
class Explanation:
    """Every multiply-add behind one output cell of ``layer(x)``.

    ``columns`` holds one array per column, one entry per row (tap x input channel):
    ``stage`` (``"taps"``, or ``"depthwise"``/``"pointwise"`` for separable),
    ``in_coord`` (rows, rank) window-space coordinate, ``source`` (rows, rank) real input
    cell or -1, ``padding``, ``inserted``, ``channel`` (input channel; the depthwise output
    channel for the pointwise stage), ``value`` (0 on padding and inserted zeros),
    ``kernel_index`` (rows, rank; -1 where no kernel), ``weight``, ``product``.
    ``value == activation(total + bias)`` equals ``layer(x)[out_index]``.
    """

    out_index: tuple
    columns: dict
    total: float
    bias: float
    pre_activation: float
    activation: str
    value: float

    def __len__(self):
        return len(self.columns["product"])

    def rows(self) -> list[dict]:
        """The table as a list of dicts (for display)."""
        out = []
        for r in range(len(self)):
            row = {}
            for name, col in self.columns.items():
                v = col[r]
                if np.ndim(v):
                    row[name] = tuple(int(t) for t in v)
                else:
                    row[name] = v.item() if isinstance(v, np.generic) else v
            out.append(row)
        return out


def taps_table(step, xb, channels, weight_fn, stage="taps"):
    """Rows for every (slot, channel): values from ``xb`` (spatial..., C), weights by weight_fn."""
    T = step.coords.shape[0]
    chans = np.asarray(channels)
    real = (step.source >= 0).all(axis=1)
    t_idx = np.repeat(np.arange(T), chans.size)
    c_idx = np.tile(chans, T)
    values = np.zeros(t_idx.size)
    ok = real[t_idx]
    if ok.any():
        src = step.source[t_idx[ok]]
        values[ok] = xb[(*src.T, c_idx[ok])]
    weights = weight_fn(t_idx, c_idx)
    return {
        "stage": np.full(t_idx.size, stage, dtype=object),
        "in_coord": step.coords[t_idx],
        "source": step.source[t_idx],
        "padding": step.padding[t_idx],
        "inserted": step.inserted[t_idx],
        "channel": c_idx,
        "value": values,
        "kernel_index": step.kernel_index[t_idx],
        "weight": weights,
        "product": values * weights,
    }


def concat_tables(tables):
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


def explain(layer, x, out_index) -> Explanation:
    """Explain ``layer(x)[out_index]`` tap by tap (``out_index`` indexes the full output)."""
    from . import activations

    x = np.asarray(x, dtype=np.float64)
    if not layer.built:
        layer.build(x.shape)
    out_shape = layer.compute_output_shape(x.shape)
    out_index = tuple(int(v) for v in out_index)
    if len(out_index) != len(out_shape) or not all(
        0 <= v < n for v, n in zip(out_index, out_shape)
    ):
        raise ValueError(
            f"`out_index` must index the output of shape {out_shape}. Received: {out_index}"
        )
    trace = layer.trace(x.shape)
    last = layout.to_last(x, layer.data_format)

    def pre(index):
        b, o, f = layout.split(index, layer.data_format)
        step = trace.step(int(np.ravel_multi_index(o, trace.out_shape)))
        table = layer.explain_rows(step, last[b], f)
        total = float(table["product"][table["stage"] != "depthwise"].sum())
        bias = float(layer.bias[f]) if getattr(layer, "use_bias", False) else 0.0
        return table, total, bias

    table, total, bias = pre(out_index)
    act = getattr(layer, "activation", activations.linear)
    name = activations.serialize(act)
    if act is activations.linear:
        value = total + bias
    elif name in ("softmax", "log_softmax") or not isinstance(name, str):
        # Not elementwise: gather the pre-activations along the last output axis.
        along = []
        for v in range(out_shape[-1]):
            _, t2, b2 = pre(out_index[:-1] + (v,))
            along.append(t2 + b2)
        value = float(np.asarray(act(np.array([along])))[0, out_index[-1]])
    else:
        value = float(np.asarray(act(np.array([total + bias])))[0])
    return Explanation(out_index, table, total, bias, total + bias,
                       name if isinstance(name, str) else getattr(act, "__name__", "custom"),
                       value)

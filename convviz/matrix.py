"""Convolution as a matrix: every convviz layer is a linear map on the flattened sample.

Leave out the bias and the activation and each of the 19 layers is a matrix ``M`` of shape
``(prod(out_shape[1:]), prod(in_shape[1:]))``: ``layer(x).reshape(b, -1) == x.reshape(b, -1)
@ M.T``, each sample flattened in C order in the layer's own layout (channels included).
``M`` is built from the layer's trace: every output cell's real taps (padding cells and
inserted zeros have no entry) times the channel weights of that tap.  The transposed
convolution with the same kernel is ``M.T`` (:func:`transpose_partner`), which is also the
gradient of a convolution with respect to its input.

>>> import numpy as np, convviz
>>> conv = convviz.Conv1D(1, 2, use_bias=False)
>>> conv.build((None, 3, 1))
>>> conv.set_weights([np.array([[[1.0]], [[2.0]]])])   # weights [a, b] = [1, 2]
>>> as_matrix(conv, (None, 3, 1)).tolist()
[[1.0, 2.0, 0.0], [0.0, 1.0, 2.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import geometry, layout
from . import layers as _layers
from .geometry import prod

#: Refuse dense matrices with more entries (rows x columns) than this (128 MiB of float64).
MAX_DENSE_ENTRIES = 16 * 2**20

#: Refuse sparse matrices with more (row, column, value) entries than this: 24 bytes each,
#: 768 MiB in all (building them peaks at about 1.5 times that).
MAX_SPARSE_ENTRIES = 2**25


# ----------------------------------------------------------------------------- the sparse form
@dataclass(frozen=True)
class SparseMatrix:
    """A matrix as coordinate entries; repeated ``(row, column)`` entries add up.

    Attributes
    ----------
    rows, cols : ndarray of int64, shape ``(E,)``
        Row (output cell) and column (input cell) of each entry, C-order flat indices of
        one sample in the layer's layout.
    values : ndarray of float64, shape ``(E,)``
    shape : tuple of int
        ``(prod(out_shape[1:]), prod(in_shape[1:]))``.
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: tuple

    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def T(self) -> SparseMatrix:
        """The transpose (rows and columns swapped; no copy of the arrays)."""
        return SparseMatrix(self.cols, self.rows, self.values, self.shape[::-1])

    def dense(self) -> np.ndarray:
        """The dense float64 matrix of shape ``shape`` (refused over :data:`MAX_DENSE_ENTRIES`)."""
        n_rows, n_cols = self.shape
        _check_dense(n_rows, n_cols, "this sparse matrix")
        flat = np.bincount(self.rows * n_cols + self.cols, weights=self.values,
                           minlength=n_rows * n_cols)
        return flat.astype(np.float64, copy=False).reshape(self.shape)  # int64 if empty

    def matvec(self, x_flat) -> np.ndarray:
        """``M @ x`` for ``x_flat`` of shape ``(columns,)``, or ``x @ M.T`` for ``(b, columns)``.

        Returns
        -------
        ndarray of float64, shape ``(rows,)`` or ``(b, rows)``
        """
        x = np.asarray(x_flat, dtype=np.float64)
        n_rows, n_cols = self.shape
        if x.ndim not in (1, 2) or x.shape[-1] != n_cols:
            raise ValueError(
                f"`x_flat` must have shape ({n_cols},) or (batch, {n_cols}) for a "
                f"{n_rows} x {n_cols} matrix. Received: shape {x.shape}"
            )
        xb = x.reshape(-1, n_cols)
        b = xb.shape[0]
        index = (np.arange(b, dtype=np.int64)[:, None] * n_rows + self.rows[None, :]).ravel()
        y = np.bincount(index, weights=(xb[:, self.cols] * self.values).ravel(),
                        minlength=b * n_rows).astype(np.float64, copy=False).reshape(b, n_rows)
        return y[0] if x.ndim == 1 else y


def _check_dense(n_rows: int, n_cols: int, what: str) -> None:
    entries = n_rows * n_cols
    if entries > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"The dense matrix of {what} would be {n_rows} x {n_cols} = {entries} entries, "
            f"over the limit MAX_DENSE_ENTRIES = {MAX_DENSE_ENTRIES}. Use "
            "`sparse_matrix(layer, input_shape)`, or a smaller input."
        )


# ----------------------------------------------------------------------------- building
@dataclass(frozen=True)
class _Spec:
    """A layer on one concrete input shape: its trace and the flat sizes of a sample."""

    layer: object
    input_shape: tuple
    trace: object
    in_spatial: tuple
    in_channels: int
    out_spatial: tuple
    out_channels: int

    @property
    def shape(self) -> tuple:
        return (prod(self.out_spatial) * self.out_channels,
                prod(self.in_spatial) * self.in_channels)

    def describe(self) -> str:
        return f"{type(self.layer).__name__} on input_shape={self.input_shape}"


def _prepare(layer, input_shape) -> _Spec:
    """Validate ``input_shape`` for ``layer``, build the layer if needed, trace it."""
    if not isinstance(layer, _layers.Layer):
        raise TypeError(f"Expected a convviz layer. Received: {layer!r}")
    shape = tuple(input_shape)
    _, spatial, channels = layer.split_shape(shape)
    if channels is None or any(n is None for n in spatial):
        raise ValueError(
            "A matrix needs concrete spatial sizes and channels (only the batch may be "
            f"None). Received: input_shape={shape}"
        )
    if not layer.built:
        layer.build(shape)
    elif layer.weights and channels != layer.input_channels:
        raise ValueError(
            f"Layer '{layer.name}' was built for {layer.input_channels} input channels; "
            f"input_shape={shape} has {channels}."
        )
    _, out_spatial, out_channels = layout.split(layer.compute_output_shape(shape),
                                                layer.data_format)
    return _Spec(layer, shape, layer.trace(shape), tuple(spatial), int(channels),
                 tuple(out_spatial), int(out_channels))


def _real_slots(trace):
    """Per axis, the real slots of the trace: ``(out, source, kernel tap, weight)``, 1-D."""
    slots = []
    for a in trace.axes:
        o, t = np.nonzero(a.source >= 0)
        slots.append((o, a.source[o, t], np.maximum(a.kernel[o, t], 0), a.weight[o, t]))
    return slots


def _spatial_pattern(trace, slots, kernel_size):
    """Every combination of real per-axis slots (the window is their product).

    Returns
    -------
    out, inp, tap : ndarray of int64, shape ``(P,)``
        Flat output cell, flat input cell and flat kernel tap (0 without a kernel).
    weight : ndarray of float64, shape ``(P,)``
        Product of the per-axis weights (resize interpolation; 1 for convolutions).
    """
    grids = np.meshgrid(*[np.arange(s[0].size) for s in slots], indexing="ij")
    pick = [g.ravel() for g in grids]
    out = np.ravel_multi_index([s[0][p] for s, p in zip(slots, pick)], trace.out_shape)
    inp = np.ravel_multi_index([s[1][p] for s, p in zip(slots, pick)], trace.in_shape)
    tap = np.ravel_multi_index([s[2][p] for s, p in zip(slots, pick)], kernel_size)
    weight = np.ones(out.size)
    for s, p in zip(slots, pick):
        weight = weight * s[3][p]
    return out.astype(np.int64), inp.astype(np.int64), tap.astype(np.int64), weight


def _channel_pairs(layer, kind: str, c_in: int):
    """Which input channel feeds which output channel, with what weight per kernel tap.

    Returns
    -------
    f, c : ndarray of int64, shape ``(Q,)``
        Output and input channel of each pair.
    value : ndarray of float64, shape ``(K, Q)``
        The kernel entry of each pair at each flat kernel tap (``K = 1`` without a kernel).
    """
    if kind == "conv":  # kernel (*k, Cin/G, F); group g: channels g*cg.. to filters g*fg..
        kernel = layer.kernel.reshape(-1, *layer.kernel.shape[-2:])
        cg, filters = kernel.shape[1:]
        f = np.repeat(np.arange(filters), cg)
        local = np.tile(np.arange(cg), filters)
        c = f // (filters // layer.groups) * cg + local
        return f, c, kernel[:, local, f].astype(np.float64)
    if kind in ("depthwise", "separable"):  # kernel (*k, Cin, M); output channel c*M + m
        kernel = layer.depthwise_kernel if kind == "separable" else layer.kernel
        kernel = kernel.reshape(-1, *kernel.shape[-2:])
        m = kernel.shape[-1]
        c = np.repeat(np.arange(c_in), m)
        mm = np.tile(np.arange(m), c_in)
        return c * m + mm, c, kernel[:, c, mm].astype(np.float64)
    if kind == "transpose":  # kernel (*k, F, Cin)
        kernel = layer.kernel.reshape(-1, *layer.kernel.shape[-2:])
        filters = kernel.shape[1]
        f = np.repeat(np.arange(filters), c_in)
        c = np.tile(np.arange(c_in), filters)
        return f, c, kernel[:, f, c].astype(np.float64)
    if kind in ("crop", "pad", "upsample"):  # every channel to itself
        c = np.arange(c_in)
        return c, c, np.ones((1, c_in))
    raise ValueError(f"No matrix for a trace of kind {kind!r} ({type(layer).__name__}).")


def _layout_positions(spatial, channels: int, data_format) -> np.ndarray:
    """Int64 ``(prod(spatial) * channels,)``: the flat index, in ``data_format``'s layout, of
    each cell of the channels-last flattening (``cell * channels + channel``)."""
    shape = layout.join(1, spatial, channels, data_format)
    flat = np.arange(prod(shape), dtype=np.int64).reshape(shape)
    return layout.to_last(flat, data_format).reshape(-1)


def _pointwise_times(rows, cols, values, pointwise, mid_channels: int):
    """Entries of ``P @ D`` where ``D`` is given by channels-last entries (rows
    ``cell * mid_channels + q``) and ``P`` is the 1x1 convolution with ``pointwise``
    ``(mid_channels, F)``: the identity on cells times ``pointwise.T`` on channels."""
    filters = pointwise.shape[1]
    cell, q = np.divmod(rows, mid_channels)
    new_rows = (cell[:, None] * filters + np.arange(filters)[None, :]).ravel()
    new_values = (values[:, None] * pointwise[q]).ravel()
    return new_rows, np.repeat(cols, filters), new_values


def _build(spec: _Spec) -> SparseMatrix:
    layer, trace = spec.layer, spec.trace
    rank = len(spec.in_spatial)
    kernel_size = getattr(layer, "kernel_size", (1,) * rank)
    f, c, value = _channel_pairs(layer, trace.kind, spec.in_channels)
    slots = _real_slots(trace)
    pointwise = None
    if trace.kind == "separable":
        pointwise = layer.pointwise_kernel.reshape(layer.pointwise_kernel.shape[-2:])
    entries = prod(s[0].size for s in slots) * f.size * (
        1 if pointwise is None else pointwise.shape[1])
    if entries > MAX_SPARSE_ENTRIES:
        n_rows, n_cols = spec.shape
        raise ValueError(
            f"The sparse matrix of {spec.describe()} ({n_rows} x {n_cols}) would have "
            f"{entries} entries, over the limit MAX_SPARSE_ENTRIES = {MAX_SPARSE_ENTRIES}. "
            "Use a smaller input or fewer channels."
        )
    out, inp, tap, weight = _spatial_pattern(trace, slots, kernel_size)
    # channels-last flat indices first: cell * channels + channel
    row_channels = spec.out_channels if pointwise is None else f.size
    rows = (out[:, None] * row_channels + f).ravel()
    cols = (inp[:, None] * spec.in_channels + c).ravel()
    values = (weight[:, None] * value[tap]).ravel()
    if pointwise is not None:
        rows, cols, values = _pointwise_times(rows, cols, values,
                                              pointwise.astype(np.float64), f.size)
    fmt = layer.data_format
    if layout.is_first(fmt):
        rows = _layout_positions(spec.out_spatial, spec.out_channels, fmt)[rows]
        cols = _layout_positions(spec.in_spatial, spec.in_channels, fmt)[cols]
    return SparseMatrix(rows, cols, values, spec.shape)


def sparse_matrix(layer, input_shape) -> SparseMatrix:
    """The layer (bias and activation left out) as coordinate entries.

    Parameters
    ----------
    layer : convviz layer
        Any of the 19 layers, any rank and data_format; built on ``input_shape`` if it is
        not built yet.
    input_shape : tuple of int
        The full input shape in the layer's layout; the batch may be None.

    Returns
    -------
    SparseMatrix
        ``shape == (prod(out_shape[1:]), prod(in_shape[1:]))``. Windowed convolutions give
        one entry per (output cell, real tap, channel pair) (groups and depth_multiplier
        respected; separable is the pointwise matrix times the depthwise matrix, so its
        ``depth_multiplier`` entries of one cell pair repeat and add); cropping, padding
        and nearest upsampling give 0/1 entries, resizing the interpolation weights.

    Raises
    ------
    ValueError
        Over :data:`MAX_SPARSE_ENTRIES` entries (the message names the count and the cap).
    """
    return _build(_prepare(layer, input_shape))


def as_matrix(layer, input_shape) -> np.ndarray:
    """The dense matrix ``M`` of ``layer`` on ``input_shape`` (bias and activation left out).

    ``layer(x).reshape(b, -1) == x.reshape(b, -1) @ M.T`` for a linear, bias-free layer:
    each sample flattened in C order in the layer's own layout, channels included.

    Parameters
    ----------
    layer : convviz layer
        Any of the 19 layers; built on ``input_shape`` if it is not built yet.
    input_shape : tuple of int
        The full input shape in the layer's layout; the batch may be None.

    Returns
    -------
    ndarray of float64, shape ``(prod(out_shape[1:]), prod(in_shape[1:]))``

    Raises
    ------
    ValueError
        When the matrix would have more than :data:`MAX_DENSE_ENTRIES` entries; the
        message names ``rows x columns = entries`` and the cap.
    """
    spec = _prepare(layer, input_shape)
    _check_dense(*spec.shape, spec.describe())
    return _build(spec).dense()


# ----------------------------------------------------------------------------- transposes
def _dense_kernel(layer) -> np.ndarray:
    """The ``(*k, Cin, F)`` kernel of an ordinary (groups=1) convolution equal to ``layer``.

    A grouped kernel becomes block diagonal; a depthwise kernel puts ``kernel[..., c, m]``
    at ``[..., c, c*M + m]``; separable multiplies that by the pointwise kernel.
    """
    if isinstance(layer, _layers.BaseConv):
        kernel = layer.kernel
        groups = layer.groups
        if groups == 1:
            return kernel.copy()
        cg, filters = kernel.shape[-2:]
        fg = filters // groups
        full = np.zeros(kernel.shape[:-2] + (cg * groups, filters), dtype=kernel.dtype)
        for g in range(groups):
            block = (..., slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg))
            full[block] = kernel[..., g * fg:(g + 1) * fg]
        return full
    depthwise = layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel
    c_in, m = depthwise.shape[-2:]
    full = np.zeros(depthwise.shape[:-2] + (c_in, c_in, m), dtype=np.float64)
    full[..., np.arange(c_in), np.arange(c_in), :] = depthwise
    full = full.reshape(depthwise.shape[:-2] + (c_in, c_in * m))
    if isinstance(layer, _layers.BaseSeparableConv):
        pointwise = layer.pointwise_kernel.reshape(layer.pointwise_kernel.shape[-2:])
        full = full @ pointwise.astype(np.float64)
    return full


def _partner_geometry(spatial, out_spatial, lows, kernel_size, strides, dilation, padding):
    """``(padding, output_padding)`` of a transposed conv on ``out_spatial`` whose output is
    ``spatial`` and whose crop is the conv's front padding ``lows``, per axis.

    Tries the conv's own padding first, with ``output_padding=None`` and then with the
    ``output_padding`` the length asks for; then the other padding. Returns the first that
    fits every axis, or ``(None, tried)`` with a description of each attempt.
    """
    axes = list(zip(out_spatial, kernel_size, strides, dilation))
    order = ("valid", "same") if padding != "same" else ("same", "valid")
    tried = []
    for pad in order:
        for explicit in (False, True):
            ops = ([n - geometry.transpose_output_length(o, k, s, d, pad, 0)
                    for n, (o, k, s, d) in zip(spatial, axes)]
                   if explicit else [None] * len(axes))
            op_text = tuple(ops) if explicit else None
            if explicit and not all(0 <= op < s for op, s in zip(ops, strides)):
                tried.append(f"padding={pad!r}, output_padding={op_text}: not within "
                             f"0 <= output_padding < strides={tuple(strides)}")
                continue
            lengths = tuple(geometry.transpose_output_length(o, k, s, d, pad, op)
                            for (o, k, s, d), op in zip(axes, ops))
            crops = tuple(geometry.transpose_crop(k, s, d, pad, op)
                          for (_, k, s, d), op in zip(axes, ops))
            if lengths == tuple(spatial) and crops == tuple(lows):
                return pad, op_text
            tried.append(f"padding={pad!r}, output_padding={op_text}: output {lengths}, "
                         f"crop {crops}")
    return None, tried


def transpose_partner(conv_layer, input_shape):
    """The transposed convolution whose matrix is the transpose of ``conv_layer``'s.

    For a convolution ``(*k, Cin, F)`` kernel ``W`` (padding front ``lo``), the partner is
    ``Conv{rank}DTranspose(filters=Cin)`` with the same kernel array, read as Keras's
    transposed layout ``(*k, filters, in) = (*k, Cin, F)``, and the same strides, dilation
    and data_format: with ``i = o*s + j*d - lo`` the conv reads ``x[i]`` for output ``o``,
    the partner's scatter ``full[o*s + j*d] += g[o] * W[j]`` writes it back to ``i`` once its
    crop equals ``lo``.  So ``as_matrix(partner, out_shape) == as_matrix(conv, in_shape).T``
    and ``partner(g)`` is the gradient of ``sum(conv(x) * g)`` with respect to ``x``.

    The padding and output_padding are chosen so that the partner's output shape is the
    conv's input shape and its crop is ``lo``: the conv's own padding with
    ``output_padding=None`` when that fits, else with the ``output_padding`` the input
    length needs (e.g. a 'valid' conv whose last ``(n - ke) % s`` cells no window reaches,
    or a 'same' conv with ``n % s != 0``), else the other padding.  The partner has no bias
    (``use_bias=False``) and a linear activation.

    Parameters
    ----------
    conv_layer : Conv1D/2D/3D, DepthwiseConv1D/2D or SeparableConv1D/2D
        A grouped kernel is expanded block-diagonally; depthwise and separable kernels are
        expanded to the ordinary ``(*k, Cin, F)`` kernel they equal (separable: rounded to
        the layer's dtype).  Built on ``input_shape`` if needed.
    input_shape : tuple of int
        The conv's input shape, in its layout.

    Returns
    -------
    BaseConvTranspose
        Built on the conv's output shape; ``partner.output_padding`` and
        ``partner.padding`` say what was chosen.

    Raises
    ------
    ValueError
        When no Keras transposed convolution has that geometry: 'causal' padding with
        ``d*(k-1) > 0`` (no transposed conv crops ``ke - 1`` cells), strides together with
        dilation (depthwise/separable), or axes that need different paddings (e.g. a 'same'
        conv with an even kernel on one axis where ``s`` divides ``n`` and another where it
        does not).
    """
    if not isinstance(conv_layer, (_layers.BaseConv, _layers.BaseDepthwiseConv,
                                   _layers.BaseSeparableConv)):
        raise TypeError(
            "transpose_partner needs a Conv1D/2D/3D, DepthwiseConv1D/2D or SeparableConv1D/2D "
            f"layer. Received: {conv_layer!r}"
        )
    spec = _prepare(conv_layer, input_shape)
    name = type(conv_layer).__name__
    strides, dilation = conv_layer.strides, conv_layer.dilation_rate
    if max(strides) > 1 and max(dilation) > 1:
        raise ValueError(
            f"{name} has strides={strides} and dilation_rate={dilation}; Keras's transposed "
            "convolutions do not take both, so it has no transpose partner."
        )
    lows = tuple(lo for lo, _ in conv_layer.pads(spec.in_spatial))
    padding, output_padding = _partner_geometry(
        spec.in_spatial, spec.out_spatial, lows, conv_layer.kernel_size, strides, dilation,
        conv_layer.padding)
    if padding is None:
        hint = (" ('causal' pads d*(k-1) cells at the front; a transposed conv crops at most "
                "about half its window)" if conv_layer.padding == "causal" else "")
        raise ValueError(
            f"No Conv{conv_layer.rank}DTranspose reproduces {name}(padding="
            f"{conv_layer.padding!r}, kernel_size={conv_layer.kernel_size}, strides={strides}, "
            f"dilation_rate={dilation}) on input spatial shape {spec.in_spatial}: it must "
            f"output {spec.in_spatial} from {spec.out_spatial} and crop {lows} cells at the "
            f"front{hint}. Tried " + "; ".join(output_padding) + "."
        )
    partner = _layers.LAYERS[f"Conv{conv_layer.rank}DTranspose"](
        filters=spec.in_channels, kernel_size=conv_layer.kernel_size, strides=strides,
        padding=padding, output_padding=output_padding, data_format=conv_layer.data_format,
        dilation_rate=dilation, use_bias=False, dtype=conv_layer.dtype,
        name=f"{conv_layer.name}_transpose_partner",
    )
    out_shape = layout.join(spec.input_shape[0], spec.out_spatial, spec.out_channels,
                            conv_layer.data_format)
    partner.build(out_shape)
    partner.set_weights([_dense_kernel(conv_layer)])
    return partner


def conv_partner(transposed_layer, input_shape):
    """The convolution whose matrix is the transpose of ``transposed_layer``'s: the converse
    of :func:`transpose_partner`.

    A ``Conv{rank}DTranspose`` with kernel ``(*k, F, Cin)`` (Keras's transposed layout) is
    the transpose of ``Conv{rank}D(filters=Cin)`` run on its output, with the same kernel
    array read as ``(*k, in=F, out=Cin)``, strides, dilation and data_format, and the
    padding (its own first, then the other) for which that conv maps the transposed
    layer's output shape back to its input shape and ``as_matrix(conv, out_shape) ==
    as_matrix(transposed_layer, input_shape).T``. No bias, linear activation.

    Raises
    ------
    ValueError
        When neither padding gives the transpose (e.g. an ``output_padding`` that adds
        cells no window of a convolution would skip).
    """
    if not isinstance(transposed_layer, _layers.BaseConvTranspose):
        raise TypeError("conv_partner needs a Conv1D/2D/3DTranspose layer. Received: "
                        f"{transposed_layer!r}")
    spec = _prepare(transposed_layer, input_shape)
    m = as_matrix(transposed_layer, input_shape)
    out_shape = layout.join(spec.input_shape[0], spec.out_spatial, spec.out_channels,
                            transposed_layer.data_format)
    tried = []
    own = transposed_layer.padding
    for padding in (own, "same" if own == "valid" else "valid"):
        conv = _layers.LAYERS[f"Conv{transposed_layer.rank}D"](
            filters=spec.in_channels, kernel_size=transposed_layer.kernel_size,
            strides=transposed_layer.strides, padding=padding,
            dilation_rate=transposed_layer.dilation_rate,
            data_format=transposed_layer.data_format, use_bias=False,
            dtype=transposed_layer.dtype, name=f"{transposed_layer.name}_conv_partner")
        got = layout.spatial(conv.compute_output_shape(out_shape), conv.data_format)
        if tuple(got) != spec.in_spatial:
            tried.append(f"padding={padding!r} gives {tuple(got)}")
            continue
        conv.build(out_shape)
        conv.set_weights([np.asarray(transposed_layer.kernel)])
        if np.allclose(as_matrix(conv, out_shape), m.T, rtol=1e-6, atol=1e-7):
            return conv
        tried.append(f"padding={padding!r} reads other cells")
    raise ValueError(
        f"No Conv{transposed_layer.rank}D has the transposed matrix of "
        f"{type(transposed_layer).__name__}(padding={own!r}, output_padding="
        f"{transposed_layer.output_padding}) on input spatial shape {spec.in_spatial}: it "
        f"must map {spec.out_spatial} back to {spec.in_spatial}. Tried " + "; ".join(tried)
        + ".")


__all__ = ["MAX_DENSE_ENTRIES", "MAX_SPARSE_ENTRIES", "SparseMatrix", "as_matrix",
           "conv_partner", "sparse_matrix", "transpose_partner"]

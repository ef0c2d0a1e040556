"""Stacks of layers: a ``model.summary()`` table and receptive fields composed from traces.

A stack is a sequence of entries ``(name, kwargs)`` applied in order to an input shape, like
a small ``keras.Sequential``. Everything here is pure Python and NumPy (no streamlit):

* :func:`summary`: per layer the Keras call, input and output shape, parameters and MACs,
  or the error of the first layer whose arguments do not fit its input;
* :func:`receptive_field`, :func:`path_counts`, :func:`overlap_counts`: composed from the
  layers' traces. Traces are separable per spatial axis (a layer's dependency is the outer
  product of per-axis matrices), so a stack composes by one small matrix product per axis;
* :func:`compare_upsampling`: ``Conv2DTranspose`` versus ``UpSampling2D`` + ``Conv2D``, the
  checkerboard and how it compounds over stacked layers.

Definitions
-----------
A *path* from input cell ``i`` to output cell ``o`` is a chain of cells, one per layer
boundary, each read by the next through a real slot of that layer's trace (a kernel tap on
a real cell, never on padding or an inserted zero; for upsampling, a source cell).
Per axis a layer is an integer matrix ``D[o, i]`` (1 where ``o`` reads ``i``), and the number
of paths through a stack is the product ``D_L @ ... @ D_1``. For one convolution or
transposed convolution the count is the number of (input cell, kernel tap) products summed
into the output cell, so :func:`overlap_counts` of one ``Conv2DTranspose`` equals
``trace.overlap_count()``. The receptive field is where the path count is non-zero.

>>> entries = [("Conv2D", {"filters": 4, "kernel_size": 3})] * 2
>>> [row.output_shape for row in summary(entries, (None, 9, 9, 3))]
[(None, 7, 7, 4), (None, 5, 5, 4)]
>>> int(receptive_field(entries, (None, 9, 9, 3), (0, 0)).sum())
25
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

import convviz

from . import catalog, formulas, layout
from .layers import next_name, standardize_tuple


# ----------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class Row:
    """One line of :func:`summary`.

    Attributes
    ----------
    index : int
        Position in the stack (0-based).
    name : str
        The layer class, e.g. ``"Conv2D"``.
    layer_name : str
        The name Keras would give it in this model (``"conv2d"``, ``"conv2d_1"``, ...).
    kwargs : dict
        The constructor arguments.
    call : str
        The ``keras.layers.X(...)`` call.
    status : str
        ``"ok"``, ``"error"`` (this layer does not fit its input; ``error`` says why) or
        ``"not reached"`` (a layer before it failed).
    input_shape, output_shape : tuple or None
        Shapes with the batch as given (None where unknown / not reached / failed).
    params : int or None
        Trainable and non-trainable weights (``layer.count_params()``).
    macs : int or None
        Multiply-accumulates for one batch item (``formulas.macs`` with batch 1).
    error : str or None
        The ValueError (or TypeError) message of a failed layer.
    """

    index: int
    name: str
    layer_name: str
    kwargs: dict
    call: str
    status: str
    input_shape: tuple | None = None
    output_shape: tuple | None = None
    params: int | None = None
    macs: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _norm_entries(entries) -> tuple:
    out = []
    for entry in entries:
        name, kwargs = entry
        out.append((str(name), dict(kwargs or {})))
    return tuple(out)


def _keras_names(entries) -> list[str]:
    counts: dict[str, int] = {}
    return [next_name(name, counts) if name in catalog.BY_NAME else "" for name, _ in entries]


def _walk(entries, input_shape):
    """Rows, and the built layers up to the first failure."""
    entries = _norm_entries(entries)
    shape = tuple(None if v is None else int(v) for v in input_shape)
    rows, layers = [], []
    failed = False
    for i, ((name, kwargs), lname) in enumerate(zip(entries, _keras_names(entries))):
        call = catalog.keras_call(name, kwargs)
        if failed:
            rows.append(Row(i, name, lname, kwargs, call, "not reached"))
            continue
        try:
            cls = convviz.LAYERS.get(name)
            if cls is None:
                raise ValueError(f"Unknown layer {name!r}. Expected one of: "
                                 f"{', '.join(sorted(convviz.LAYERS))}")
            layer = cls(**kwargs, name=lname)
            out = tuple(layer.compute_output_shape(shape))
            layer.build(shape)
            params = int(layer.count_params())
            macs = int(formulas.macs(layer, (None, *shape[1:])))
        except (ValueError, TypeError) as exc:
            failed = True
            rows.append(Row(i, name, lname, kwargs, call, "error", shape, error=str(exc)))
            continue
        rows.append(Row(i, name, lname, kwargs, call, "ok", shape, out, params, macs))
        layers.append(layer)
        shape = out
    return rows, layers


def summary(entries: Sequence, input_shape: Sequence[int | None]) -> list[Row]:
    """Shapes, parameters and MACs through a stack, like ``model.summary()``.

    Parameters
    ----------
    entries : sequence of (str, mapping)
        Layer class names and constructor arguments, applied in order. Each layer reads the
        previous output with its own ``data_format``.
    input_shape : sequence of int or None
        The full input shape, e.g. ``(None, 28, 28, 1)``.

    Returns
    -------
    list of Row
        One row per entry. Errors never escape: the first layer whose arguments do not fit
        its input (wrong rank, empty output, channels not divisible by groups, unknown
        layer, bad argument) gets ``status="error"``, the rows after it ``"not reached"``.

    Examples
    --------
    >>> rows = summary([("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2}),
    ...                 ("Conv1D", {"filters": 2, "kernel_size": 3}),
    ...                 ("Conv2D", {"filters": 2, "kernel_size": 3})], (None, 9, 9, 3))
    >>> [(r.status, r.output_shape, r.params) for r in rows]
    [('ok', (None, 4, 4, 8), 224), ('error', None, None), ('not reached', None, None)]
    """
    return _walk(entries, input_shape)[0]


def totals(rows: Sequence[Row]) -> dict:
    """Totals of a summary: ``params`` and ``macs`` of the layers that ran, the final
    ``output_shape`` (None if a layer failed) and ``ok`` (every layer ran)."""
    ok = all(r.ok for r in rows)
    return {
        "params": int(sum(r.params for r in rows if r.ok)),
        "macs": int(sum(r.macs for r in rows if r.ok)),
        "output_shape": rows[-1].output_shape if rows and ok else None,
        "ok": ok,
    }


def keras_code(entries: Sequence, input_shape: Sequence[int | None]) -> str:
    """The stack as ``keras.Sequential`` code, ready to copy.

    >>> print(keras_code([("Conv2D", {"filters": 4, "kernel_size": 3})], (None, 8, 8, 1)))
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(filters=4, kernel_size=3),
    ])
    """
    lines = ["model = keras.Sequential([",
             f"    keras.Input(shape={catalog.format_shape(tuple(input_shape)[1:])}),"]
    lines += [f"    {catalog.keras_call(name, kw)}," for name, kw in _norm_entries(entries)]
    return "\n".join(lines + ["])"])


# ----------------------------------------------------------------------------- composition
def _chain(entries, input_shape):
    """Built layers and the concrete shapes between them; ValueError at the first bad layer."""
    rows, layers = _walk(entries, input_shape)
    if not rows:
        raise ValueError("The stack is empty: add a layer first.")
    for row in rows:
        if row.status == "error":
            raise ValueError(f"Layer {row.index} ({row.name}) does not fit its input "
                             f"{catalog.format_shape(row.input_shape)}: {row.error}")
    shapes = [rows[0].input_shape] + [r.output_shape for r in rows]
    if any(v is None for s in shapes for v in s[1:]):
        raise ValueError(f"Receptive fields need concrete sizes. Received: {input_shape}")
    return layers, shapes


def _axes_of(layer, ndim: int) -> tuple[list[int], int]:
    """Positions (among the non-batch axes) of the layer's spatial axes and channel axis."""
    _, spatial, channel = layout.split(range(ndim), layer.data_format)
    return [p - 1 for p in spatial], channel - 1


def _ops(layers, shapes) -> list[dict]:
    """Per layer, per non-batch tensor position: its AxisTrace, or its int64 channel map."""
    ndim = len(shapes[0])
    out = []
    for layer, shape_in, shape_out in zip(layers, shapes[:-1], shapes[1:]):
        spatial, chan = _axes_of(layer, ndim)
        trace = layer.trace(shape_in)
        ops = dict(zip(spatial, trace.axes))
        ops[chan] = trace.channel_map(shape_in[1 + chan], shape_out[1 + chan]).astype(np.int64)
        out.append(ops)
    return out


def _slots(axis):
    real = axis.source >= 0
    rows = np.broadcast_to(np.arange(axis.out)[:, None], axis.source.shape)
    return rows[real], axis.source[real]


def _pull(op, r: np.ndarray) -> np.ndarray:
    """Paths counted backwards: ``r`` over a layer's outputs -> over its inputs (``r @ D``)."""
    if isinstance(op, np.ndarray):
        return r @ op
    rows, src = _slots(op)
    out = np.zeros(op.n, dtype=np.int64)
    np.add.at(out, src, r[rows])
    return out


def _push(op, v: np.ndarray) -> np.ndarray:
    """Paths counted forwards: ``v`` over a layer's inputs -> over its outputs (``D @ v``)."""
    if isinstance(op, np.ndarray):
        return op @ v
    rows, src = _slots(op)
    out = np.zeros(op.out, dtype=np.int64)
    np.add.at(out, rows, v[src])
    return out


def _check_index(out_index, out_spatial) -> tuple:
    try:
        idx = tuple(int(v) for v in out_index)
    except (TypeError, ValueError):
        raise ValueError(f"`out_index` must be a tuple of ints. Received: {out_index!r}") from None
    if len(idx) != len(out_spatial) or not all(0 <= v < n for v, n in zip(idx, out_spatial)):
        raise ValueError(f"`out_index` must index the output spatial shape {tuple(out_spatial)}. "
                         f"Received: {out_index!r}")
    return idx


def _spatial_chain(entries, input_shape):
    """Layers, shapes, per-layer ops and the spatial positions; one data_format required."""
    layers, shapes = _chain(entries, input_shape)
    ndim = len(shapes[0])
    layouts = {_axes_of(layer, ndim)[1] for layer in layers}
    if len(layouts) > 1:
        raise ValueError("Path counts follow the spatial axes of one data_format; this stack "
                         "mixes channels_first and channels_last layers.")
    spatial = _axes_of(layers[0], ndim)[0]
    return shapes, _ops(layers, shapes), spatial


def axis_matrices(entries: Sequence, input_shape: Sequence[int | None]) -> list[np.ndarray]:
    """Per spatial axis, the dense int64 path-count matrix ``(out_len, in_len)`` of the stack.

    The path count from input cell ``i`` to output cell ``o`` is the product over axes of
    ``M[k][o[k], i[k]]``. All layers must share one data_format (ValueError otherwise).
    Dense: meant for small inputs and for checking; the other functions never build it.

    >>> m = axis_matrices([("Conv1D", {"filters": 1, "kernel_size": 2})] * 2, (None, 4, 1))
    >>> m[0].tolist()
    [[1, 2, 1, 0], [0, 1, 2, 1]]
    """
    shapes, ops, spatial = _spatial_chain(entries, input_shape)
    mats = []
    for pos in spatial:
        m = np.eye(shapes[0][1 + pos], dtype=np.int64)
        for layer_ops in ops:
            m = np.stack([_push(layer_ops[pos], col) for col in m.T], axis=1)
        mats.append(m)
    return mats


def _outer(vectors) -> np.ndarray:
    out = np.ones((), dtype=np.int64)
    for v in vectors:
        out = np.multiply.outer(out, v)
    return out


def receptive_field(entries: Sequence, input_shape: Sequence[int | None],
                    out_index: Sequence[int]) -> np.ndarray:
    """Boolean ``input spatial shape``: the input cells output cell ``out_index`` depends on.

    Parameters
    ----------
    entries : sequence of (str, mapping)
    input_shape : sequence
        Full input shape with concrete spatial sizes and channels.
    out_index : sequence of int
        A spatial cell of the last layer's output.

    Notes
    -----
    Any output channel and any input channel count; channel rules (groups, depthwise) never
    disconnect a spatial cell. Stacks that mix data formats are followed axis by axis (an
    axis that is spatial for one layer and channels for another goes through the channel
    map there). Raises ValueError if a layer does not fit (see :func:`summary`) or
    ``out_index`` is outside the output.

    Examples
    --------
    >>> rf = receptive_field([("Conv1D", {"filters": 1, "kernel_size": 3, "dilation_rate": 2})],
    ...                      (None, 7, 1), (1,))
    >>> rf.astype(int).tolist()
    [0, 1, 0, 1, 0, 1, 0]
    """
    layers, shapes = _chain(entries, input_shape)
    ndim = len(shapes[0])
    ops = _ops(layers, shapes)
    in_sp, _ = _axes_of(layers[0], ndim)
    out_sp, _ = _axes_of(layers[-1], ndim)
    idx = _check_index(out_index, [shapes[-1][1 + p] for p in out_sp])
    where = dict(zip(out_sp, idx))
    vectors, reachable = {}, True
    for pos in range(ndim - 1):
        r = np.zeros(shapes[-1][1 + pos], dtype=np.int64)
        if pos in where:
            r[where[pos]] = 1
        else:
            r[:] = 1  # any output channel
        for layer_ops in reversed(ops):
            r = (_pull(layer_ops[pos], r) > 0).astype(np.int64)
        if pos in in_sp:
            vectors[pos] = r
        else:
            reachable = reachable and bool(r.any())  # any input channel
    return (_outer([vectors[p] for p in in_sp]) > 0) & reachable


def path_counts(entries: Sequence, input_shape: Sequence[int | None],
                out_index: Sequence[int]) -> np.ndarray:
    """Int64 ``input spatial shape``: how many paths lead from each input cell to ``out_index``.

    Non-zero exactly on :func:`receptive_field`. For a plain convolution it is the number of
    kernel taps that reach each input cell through the stack (so two 3-tap Conv1D give
    ``1 2 3 2 1``). All layers must share one data_format.

    >>> path_counts([("Conv1D", {"filters": 1, "kernel_size": 3})] * 2, (None, 5, 1), (0,))
    array([1, 2, 3, 2, 1])
    """
    shapes, ops, spatial = _spatial_chain(entries, input_shape)
    idx = _check_index(out_index, [shapes[-1][1 + p] for p in spatial])
    vectors = []
    for pos, o in zip(spatial, idx):
        r = np.zeros(shapes[-1][1 + pos], dtype=np.int64)
        r[o] = 1
        for layer_ops in reversed(ops):
            r = _pull(layer_ops[pos], r)
        vectors.append(r)
    return _outer(vectors)


def _axis_overlaps(entries, input_shape) -> list[np.ndarray]:
    shapes, ops, spatial = _spatial_chain(entries, input_shape)
    vectors = []
    for pos in spatial:
        v = np.ones(shapes[0][1 + pos], dtype=np.int64)
        for layer_ops in ops:
            v = _push(layer_ops[pos], v)
        vectors.append(v)
    return vectors


def overlap_counts(entries: Sequence, input_shape: Sequence[int | None]) -> np.ndarray:
    """Int64 ``output spatial shape``: the number of paths from all input cells to each output.

    For one convolution or transposed convolution this is ``trace.overlap_count()``: how many
    (input cell, kernel tap) products are summed into each output cell; uneven values are
    the checkerboard of a transposed convolution whose kernel is not divisible by its stride.
    Stacked, the counts multiply along paths (the compounding checkerboard). All layers must
    share one data_format.

    >>> t = [("Conv1DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2})]
    >>> overlap_counts(t, (None, 3, 1)).tolist()
    [1, 1, 2, 1, 2, 1, 1]
    """
    return _outer(_axis_overlaps(entries, input_shape))


# ----------------------------------------------------------------------------- Stack object
@dataclass(frozen=True)
class Stack:
    """An immutable stack: edit it with :meth:`add`, :meth:`remove`, :meth:`move`,
    :meth:`replace` (each returns a new Stack), query it with the module functions.

    >>> s = Stack((None, 8, 8, 3)).add("Conv2D", {"filters": 4, "kernel_size": 3})
    >>> s = s.add("UpSampling2D", {"size": 2}).move(1, 0)
    >>> [e[0] for e in s.entries], s.output_shape
    (['UpSampling2D', 'Conv2D'], (None, 14, 14, 4))
    """

    input_shape: tuple
    entries: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "input_shape",
                           tuple(None if v is None else int(v) for v in self.input_shape))
        object.__setattr__(self, "entries", _norm_entries(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, name: str, kwargs: Mapping[str, Any] | None = None,
            index: int | None = None) -> Stack:
        """A new stack with the layer inserted at ``index`` (default: at the end)."""
        entries = list(self.entries)
        entries.insert(len(entries) if index is None else index, (name, dict(kwargs or {})))
        return replace(self, entries=tuple(entries))

    def remove(self, index: int) -> Stack:
        entries = list(self.entries)
        del entries[index]
        return replace(self, entries=tuple(entries))

    def move(self, index: int, new_index: int) -> Stack:
        """A new stack with entry ``index`` moved to position ``new_index``."""
        entries = list(self.entries)
        entries.insert(new_index, entries.pop(index))
        return replace(self, entries=tuple(entries))

    def replace(self, index: int, name: str, kwargs: Mapping[str, Any] | None = None) -> Stack:
        entries = list(self.entries)
        entries[index] = (name, dict(kwargs or {}))
        return replace(self, entries=tuple(entries))

    def with_input(self, input_shape: Sequence[int | None]) -> Stack:
        return replace(self, input_shape=tuple(input_shape))

    def summary(self) -> list[Row]:
        return summary(self.entries, self.input_shape)

    @property
    def output_shape(self) -> tuple | None:
        """The final output shape (None if a layer does not fit, or the stack is empty)."""
        rows = self.summary()
        return totals(rows)["output_shape"] if rows else None

    def receptive_field(self, out_index: Sequence[int]) -> np.ndarray:
        return receptive_field(self.entries, self.input_shape, out_index)

    def path_counts(self, out_index: Sequence[int]) -> np.ndarray:
        return path_counts(self.entries, self.input_shape, out_index)

    def overlap_counts(self) -> np.ndarray:
        return overlap_counts(self.entries, self.input_shape)

    def keras_code(self) -> str:
        return keras_code(self.entries, self.input_shape)


# ----------------------------------------------------------------------------- demystify
def _pair(value, name) -> tuple[int, int]:
    return standardize_tuple(value, 2, name)


def _interior(entries, kernel, strides, layers) -> tuple[tuple[int, ...], ...]:
    """Per axis, the overlap values far from every border (from a long input)."""
    # Borders reach at most about 2k + 4 input cells in: the middle third of a long input's
    # output is free of them (and longer than one period, s**layers output cells).
    n = 3 * (2 * max(kernel) + 6)
    counts = _axis_overlaps(entries, (None, n, n, 1))
    return tuple(tuple(sorted({int(v) for v in c[c.size // 3: 2 * c.size // 3]}))
                 for c in counts)


def _side(entries, shape, kernel, strides, layers) -> dict:
    rows = summary(entries, shape)
    per_axis = _interior(entries, kernel, strides, layers)
    values = tuple(sorted({a * b for a in per_axis[0] for b in per_axis[1]}))
    return {
        "entries": entries,
        "code": keras_code(entries, shape),
        "rows": rows,
        "output_shape": rows[-1].output_shape,
        "overlap": overlap_counts(entries, shape),
        "interior_values": values,
        "checkerboard": len(values) > 1,
    }


#: The most output cells per axis :func:`compare_upsampling` builds (a page's heatmaps).
MAX_COMPARE_OUTPUT = 96


def compare_upsampling(input_size, kernel_size, strides, filters: int = 1,
                       layers: int = 1) -> dict:
    """Conv2DTranspose versus UpSampling2D + Conv2D, for the same input and output size.

    (a) ``layers`` x ``Conv2DTranspose(filters, k, strides=s, padding="same")``;
    (b) ``layers`` x [``UpSampling2D(s)``, ``Conv2D(filters, k, padding="same")``].
    Both map ``n`` to ``n * s`` per layer, so their output shapes are equal.

    Parameters
    ----------
    input_size : int or (int, int)
        Input height and width (one channel).
    kernel_size, strides : int or (int, int)
    filters : int
    layers : int
        How many times each recipe is stacked (1 to 3).

    Returns
    -------
    dict
        ``"transposed"`` and ``"upsample_conv"``, each a dict with ``entries``, ``code``
        (``keras.Sequential``), ``rows`` (:func:`summary`), ``output_shape``, ``overlap``
        (int64 heatmap over the output: :func:`overlap_counts`, the number of
        input-times-weight products summed into each output cell, counted along paths
        through the stack), ``interior_values`` (the overlap values away from the borders,
        taken from a long input: where 'same' padding and cropping do not matter) and
        ``checkerboard`` (more than one interior value). Also ``input_shape``,
        ``kernel_size``, ``strides``, ``layers``, ``divisible`` (``k % s == 0`` on both
        axes: the transposed conv has no checkerboard), ``same_output_shape`` (always
        True), ``gather`` and ``scatter`` (the first transposed layer's traces, for the
        gather and scatter views), ``rule`` (the ``k mod s`` test with the numbers) and
        ``explanation`` (a few sentences with the numbers).

    Raises
    ------
    ValueError
        For a setting Keras refuses, ``layers`` outside 1..3, or an output of more than
        :data:`MAX_COMPARE_OUTPUT` cells per axis.

    Notes
    -----
    (b) has no checkerboard: every output cell of its Conv2D reads ``k*k`` cells of the
    upsampled image, each a copy of exactly one input cell, so away from the borders every
    output cell sums ``k*k`` products per layer, whatever ``k`` and ``s``. In (a) input cell
    ``i`` writes output ``i*s + j - crop`` for tap ``j``, so along an axis output ``o``
    receives ``floor(k/s)`` or ``ceil(k/s)`` taps, depending on ``o mod s``.

    Examples
    --------
    >>> c = compare_upsampling(4, 3, 2)
    >>> c["transposed"]["interior_values"], c["upsample_conv"]["interior_values"]
    ((1, 2, 4), (9,))
    >>> c["transposed"]["output_shape"] == c["upsample_conv"]["output_shape"] == (None, 8, 8, 1)
    True
    """
    size, k, s = _pair(input_size, "input_size"), _pair(kernel_size, "kernel_size"), \
        _pair(strides, "strides")
    if not 1 <= int(layers) <= 3:
        raise ValueError(f"`layers` must be 1, 2 or 3. Received: layers={layers!r}")
    layers = int(layers)
    out = max(n * sv ** layers for n, sv in zip(size, s))
    if out > MAX_COMPARE_OUTPUT:
        raise ValueError(
            f"The output would have {max(size)} x {max(s)}^{layers} = {out} cells per axis; "
            f"at most {MAX_COMPARE_OUTPUT} here. Lower the input size, the strides or the "
            "number of layers.")
    kk = k[0] if k[0] == k[1] else k
    ss = s[0] if s[0] == s[1] else s
    shape = (None, *size, 1)
    a = [("Conv2DTranspose", {"filters": filters, "kernel_size": kk, "strides": ss,
                              "padding": "same"})]
    b = [("UpSampling2D", {"size": ss}),
         ("Conv2D", {"filters": filters, "kernel_size": kk, "padding": "same"})]
    for entries in (a * layers, b * layers):
        bad = [r for r in summary(entries, shape) if r.status == "error"]
        if bad:
            raise ValueError(f"{bad[0].name}: {bad[0].error}")
    transposed = _side(a * layers, shape, k, s, layers)
    upsample = _side(b * layers, shape, k, s, layers)
    same = transposed["output_shape"] == upsample["output_shape"]
    if not same:  # pragma: no cover - n*s both ways, by construction
        raise AssertionError(f"{transposed['output_shape']} != {upsample['output_shape']}")
    layer = convviz.Conv2DTranspose(**a[0][1])
    divisible = all(kv % sv == 0 for kv, sv in zip(k, s))
    per_axis = [(kv // sv, -(-kv // sv)) for kv, sv in zip(k, s)]
    if divisible:
        why = (f"The kernel size {kk} is divisible by the stride {ss}: every output cell of "
               f"the transposed convolution receives the same number of kernel taps "
               f"({transposed['interior_values'][0]} away from the borders), so no checkerboard.")
    else:
        taps = " and ".join(f"{lo} or {hi}" for lo, hi in per_axis[:1 if k[0] == k[1]
                                                                   and s[0] == s[1] else 2])
        why = (f"The kernel size {kk} is not divisible by the stride {ss}: along an axis an "
               f"output cell receives {taps} kernel taps depending on its position modulo the "
               f"stride, so the transposed convolution sums "
               f"{', '.join(map(str, transposed['interior_values']))} products in a "
               f"repeating checkerboard")
        why += (", and stacking multiplies the pattern." if layers > 1 else ".")
    rule = "; ".join(dict.fromkeys(
        f"k mod s = {kv} mod {sv} = {kv % sv}" for kv, sv in zip(k, s)))
    rule += ": no checkerboard." if divisible else " ≠ 0: the checkerboard appears."
    why += (f" UpSampling2D followed by Conv2D sums "
            f"{', '.join(map(str, upsample['interior_values']))} products in every interior "
            f"cell: every tap reads a copy of exactly one input cell.")
    return {
        "input_shape": shape,
        "kernel_size": k,
        "strides": s,
        "layers": layers,
        "divisible": divisible,
        "same_output_shape": same,
        "transposed": transposed,
        "upsample_conv": upsample,
        "gather": layer.trace(shape),
        "scatter": layer.trace(shape, view="scatter"),
        "rule": rule,
        "explanation": why,
    }


__all__ = [
    "Row", "Stack", "axis_matrices", "compare_upsampling", "keras_code", "overlap_counts",
    "path_counts", "receptive_field", "summary", "totals",
]

"""N-dimensional numeric kernels on channels-last arrays.

Every function takes ``x`` of shape ``(batch, *spatial, channels)``; the rank is
``len(strides)`` (or of the kernel's spatial part), never a parameter.  Layers in
:mod:`convviz.layers` handle ``data_format``, weights, bias and activation and
call into here.

Memory is bounded by working in chunks of the batch (and, for a single huge
sample, of the first output axis): the im2col buffer of one chunk stays under
:data:`CHUNK_BYTES`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .geometry import effective_kernel, prod

#: Upper bound for the temporary buffers of one chunk (im2col columns, scatter cols).
CHUNK_BYTES = 48 * 2**20


# ----------------------------------------------------------------------------- padding
def pad(x: np.ndarray, pads) -> np.ndarray:
    """Zero-pad (positive) or crop (negative) the spatial axes of ``x``.

    Parameters
    ----------
    x : ndarray, shape ``(B, *spatial, C)``
    pads : sequence of ``(lo, hi)`` per spatial axis; negative values crop.
    """
    pads = [tuple(int(v) for v in p) for p in pads]
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return x
    crop = tuple(
        slice(max(-lo, 0), x.shape[1 + i] - max(-hi, 0)) for i, (lo, hi) in enumerate(pads)
    )
    x = x[(slice(None), *crop)]
    widths = [(0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in pads] + [(0, 0)]
    if any(w != (0, 0) for w in widths):
        x = np.pad(x, widths)
    return x


def _windows(xp: np.ndarray, kernel_size, strides, dilation, out_shape) -> np.ndarray:
    """Strided view of every window: shape ``(B, *out, *kernel_size, C)``, no copy.

    ``view[b, o..., j..., c] = xp[b, o*s + j*d ..., c]``.
    """
    sb, *sp, sc = xp.strides
    shape = (xp.shape[0], *out_shape, *kernel_size, xp.shape[-1])
    strides = (
        sb,
        *(st * s for st, s in zip(sp, strides)),
        *(st * d for st, d in zip(sp, dilation)),
        sc,
    )
    return as_strided(xp, shape=shape, strides=strides, writeable=False)


def _chunks(total: int, per_item_bytes: int):
    """Yield ``slice``s over ``range(total)`` with about CHUNK_BYTES of work each."""
    step = max(1, CHUNK_BYTES // max(per_item_bytes, 1))
    for start in range(0, total, step):
        yield slice(start, min(start + step, total))


def _row_chunks(batch: int, rows: int, per_row_bytes: int):
    """Chunks over (batch, first output axis): whole samples when they fit, else rows."""
    if rows * per_row_bytes <= CHUNK_BYTES:
        for sl in _chunks(batch, rows * per_row_bytes):
            yield sl, slice(None)
    else:
        for b in range(batch):
            for rs in _chunks(rows, per_row_bytes):
                yield slice(b, b + 1), rs


# ----------------------------------------------------------------------------- conv
def conv(x, kernel, strides, pads, dilation, groups=1) -> np.ndarray:
    """Grouped N-d cross-correlation (no kernel flip), im2col + one matmul per chunk.

    Parameters
    ----------
    x : ndarray, shape ``(B, *n, Cin)``
    kernel : ndarray, shape ``(*k, Cin // groups, F)`` (Keras layout)
    strides, dilation : tuple of ints per axis
    pads : ``((lo, hi), ...)`` per axis

    Returns
    -------
    ndarray, shape ``(B, *out, F)`` with ``out = (n + lo + hi - ke) // s + 1``.
    """
    ksize = kernel.shape[:-2]
    cg, filters = kernel.shape[-2:]
    xp = pad(x, pads)
    out_shape = tuple(
        (n - effective_kernel(k, d)) // s + 1
        for n, k, s, d in zip(xp.shape[1:-1], ksize, strides, dilation)
    )
    B = x.shape[0]
    y = np.empty((B, *out_shape, filters), dtype=x.dtype)
    if prod(out_shape) == 0 or B == 0:
        return y
    win = _windows(xp, ksize, strides, dilation, out_shape)
    K = prod(ksize)
    fg = filters // groups
    # (K*cg, F) per group, rows ordered (taps..., channel) like the window view.
    w = kernel.reshape(K * cg, groups, fg).astype(x.dtype, copy=False)
    per_row = prod(out_shape[1:]) * K * cg * groups * x.itemsize
    for bs, rs in _row_chunks(B, out_shape[0], per_row):
        sub = win[bs, rs]
        rows = prod(sub.shape[: 1 + len(out_shape)])
        ysub = y[bs, rs].reshape(rows, filters)
        if groups == 1:
            cols = np.ascontiguousarray(sub).reshape(rows, K * cg)
            np.matmul(cols, w[:, 0, :], out=ysub)
            continue
        for g in range(groups):
            cols = np.ascontiguousarray(sub[..., g * cg : (g + 1) * cg]).reshape(rows, K * cg)
            ysub[:, g * fg : (g + 1) * fg] = cols @ w[:, g, :]
    return y


def depthwise_conv(x, kernel, strides, pads, dilation) -> np.ndarray:
    """Depthwise N-d convolution as a shift-multiply-add over kernel taps.

    Parameters
    ----------
    x : ndarray, shape ``(B, *n, C)``
    kernel : ndarray, shape ``(*k, C, M)``

    Returns
    -------
    ndarray, shape ``(B, *out, C*M)``; output channel ``c*M + m``.
    """
    ksize = kernel.shape[:-2]
    C, M = kernel.shape[-2:]
    xp = pad(x, pads)
    out_shape = tuple(
        (n - effective_kernel(k, d)) // s + 1
        for n, k, s, d in zip(xp.shape[1:-1], ksize, strides, dilation)
    )
    B = x.shape[0]
    y = np.zeros((B, *out_shape, C, M), dtype=x.dtype)
    if prod(out_shape) == 0 or B == 0:
        return y.reshape(B, *out_shape, C * M)
    win = _windows(xp, ksize, strides, dilation, out_shape)
    w = kernel.astype(x.dtype, copy=False)
    rank = len(ksize)
    per_row = prod(out_shape[1:]) * C * M * x.itemsize
    for bs, rs in _row_chunks(B, out_shape[0], per_row):
        ysub = y[bs, rs]
        tmp = np.empty_like(ysub)
        for tap in np.ndindex(*ksize):
            src = win[(bs, rs) + (slice(None),) * (rank - 1) + tap]
            np.multiply(src[..., None], w[tap], out=tmp)
            ysub += tmp
    return y.reshape(B, *out_shape, C * M)


def conv_transpose(x, kernel, strides, dilation, crops, out_shape) -> np.ndarray:
    """N-d transposed convolution: one matmul, then a scatter-add (col2im) per tap.

    ``full[i*s + j*d] += x[i] @ W[j]`` over input cells ``i`` and taps ``j``
    (kernel not flipped), then ``y[o] = full[o + crop]`` with zeros past the end.

    Parameters
    ----------
    x : ndarray, shape ``(B, *n, Cin)``
    kernel : ndarray, shape ``(*k, F, Cin)`` (Keras transpose layout)
    crops : int per axis
    out_shape : int per axis (may exceed the scatter length: trailing zeros)

    Returns
    -------
    ndarray, shape ``(B, *out_shape, F)``
    """
    ksize = kernel.shape[:-2]
    filters, cin = kernel.shape[-2:]
    B, *n = x.shape[:-1]
    rank = len(ksize)
    K = prod(ksize)
    full_shape = tuple(
        (ni - 1) * s + effective_kernel(k, d) for ni, k, s, d in zip(n, ksize, strides, dilation)
    )
    # The region of `full` the output sees, in `full` coordinates; extended by zeros.
    need = tuple(max(f, c + o) for f, c, o in zip(full_shape, crops, out_shape))
    y = np.empty((B, *out_shape, filters), dtype=x.dtype)
    # (Cin, K*F): columns ordered (taps..., filter).
    w = np.moveaxis(kernel.reshape(K, filters, cin), -1, 0).reshape(cin, K * filters)
    w = w.astype(x.dtype, copy=False)
    per_sample = prod(n) * K * filters * x.itemsize + prod(need) * filters * x.itemsize
    for bs in _chunks(B, per_sample):
        nb = bs.stop - bs.start
        cols = (x[bs].reshape(-1, cin) @ w).reshape(nb, *n, *ksize, filters)
        full = np.zeros((nb, *need, filters), dtype=x.dtype)
        for tap in np.ndindex(*ksize):
            dst = tuple(
                slice(j * d, j * d + (ni - 1) * s + 1, s)
                for j, d, ni, s in zip(tap, dilation, n, strides)
            )
            full[(slice(None), *dst)] += cols[(slice(None),) * (1 + rank) + tap]
        keep = tuple(slice(c, c + o) for c, o in zip(crops, out_shape))
        y[bs] = full[(slice(None), *keep)]
    return y


# ----------------------------------------------------------------------------- resize
def repeat(x, sizes) -> np.ndarray:
    """Nearest-neighbour upsampling: repeat every spatial cell ``size`` times per axis."""
    for axis, size in enumerate(sizes, start=1):
        if size != 1:
            x = np.repeat(x, size, axis=axis)
    return x


def resize_axis(x, axis, idx, w) -> np.ndarray:
    """Resample one spatial axis with per-output source cells and weights.

    Parameters
    ----------
    x : ndarray, shape ``(B, ..., n, ..., C)``
    axis : int, the array axis (1-based spatial axes)
    idx, w : ndarrays of shape ``(out, T)`` from :func:`geometry.resize_taps`
    """
    w = w.astype(x.dtype)
    shape = [1] * x.ndim
    shape[axis] = idx.shape[0]
    y = None
    for t in range(idx.shape[1]):
        term = np.take(x, idx[:, t], axis=axis)
        term *= w[:, t].reshape(shape)
        y = term if y is None else np.add(y, term, out=y)
    return y

"""N-dimensional numeric kernels on channels-last arrays.

Every function takes ``x`` of shape ``(batch, *spatial, channels)``; the rank is
``len(strides)`` (or of the kernel's spatial part), never a parameter.  Layers in
:mod:`convviz.layers` handle ``data_format``, weights, bias and activation and
call into here.  For channels_first data, :func:`conv` reads the channels-last *view* of
the input (each chunk's padded slab is copied from it anyway) and multiplies its columns
into a channels_first output (``out_first``), and :func:`depthwise_conv` works on the
planes as they lie (``first``), so neither transposes a whole array.

Memory is bounded by working in chunks of the batch (and, for a single huge
sample, of the first output axis): the im2col buffer of one chunk stays under
:data:`CHUNK_BYTES` (unless one row of the first output axis alone is larger; each
worker thread has its own), and zero padding is written per chunk, never as a padded
copy of the whole input.  The chunks of a convolution run on
:data:`convviz.parallel.THREADS` worker threads, each calling a single-threaded BLAS,
when NumPy's OpenBLAS can be told so (:data:`convviz.parallel.BLAS_SPLIT`); which
thread runs which chunk, and the BLAS thread count meanwhile, is
:mod:`convviz.parallel`'s business.  There, on OpenBLAS's AVX-512 kernel sets, a chunk's
matmul is a stack of small matmuls that OpenBLAS runs without packing its operands
(:data:`SMALL_MACS`, :func:`convviz.parallel.small_gemm`).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import parallel
from .geometry import effective_kernel, prod

#: Upper bound for the temporary buffers of one chunk (im2col columns, scatter cols).
CHUNK_BYTES = 48 * 2**20

#: Preferred rows (output cells) per matmul when chunks run one after another with BLAS
#: on all its threads (im2col without :data:`parallel.BLAS_SPLIT`, tiled transposed
#: convs), and per chunk of a 1x1 convolution in either mode: the columns of one chunk
#: then stay in L2/L3 and OpenBLAS still runs near its peak (measured on a 2-core Zen 4).
GEMM_ROWS = 4096

#: Groups with fewer filters are merged into block-diagonal matmuls of at least this many
#: (0: never merge).  Measured with single-threaded matmuls on worker threads, 64
#: channels in and out on 56x56: 16 beats 32 and 8 for 4, 8, 16 and 32 groups (groups=4,
#: 16 filters each, unmerged: 20 ms vs 27 ms merged in pairs); tiny groups (2 filters)
#: unmerged are 7x slower.  Without :data:`parallel.BLAS_SPLIT` (MKL, Accelerate) 32
#: measured best in session 3; 16 is kept there too, untuned.
MIN_GROUP_FILTERS = 16

#: When a kernel row's taps are not adjacent in memory (dilation along the last axis, or
#: one group's slice of the channels), gather im2col columns with ``np.take`` of whole
#: channel vectors if one vector is at least this long (bytes); shorter vectors, and
#: whole kernel rows of adjacent taps, are copied as runs from a window view.
TAKE_BYTES = 64

#: Target bytes of one chunk of the memory-bound kernels (depthwise taps, resize): small
#: enough to stay in a core's L2 while every tap streams over it, large enough that the
#: Python overhead per chunk is negligible (measured: 0.5 to 2 MiB alike within noise,
#: 128 KiB 2x slower).
CACHE_BYTES = 2 * 2**20

#: Target bytes (GEMM columns + scatter buffer) of one batch chunk of a transposed conv
#: whose chunks run one after another (without :data:`parallel.BLAS_SPLIT`).
TRANSPOSE_BYTES = 16 * 2**20

#: Target bytes of the im2col columns of one chunk when chunks run on worker threads
#: (:data:`parallel.BLAS_SPLIT`): small enough to stay in the core's L2 cache between the
#: gather and the single-threaded matmul that reads them.
SPLIT_BYTES = 4 * 2**20

#: Multiply-adds of the largest matmul that OpenBLAS runs with its "small matrix" kernels
#: (:func:`parallel.small_gemm`): 100^3.  When the chunks of a convolution run on worker
#: threads, each chunk's ``(rows, K*Cin) x (K*Cin, F)`` matmul is then a stack of matmuls
#: of up to ``SMALL_MACS // (K*Cin*F)`` rows each (:func:`_small_rows`): they read the
#: columns where they lie instead of packing them first.  Measured on a 2-core Zen 4
#: (OpenBLAS 0.3.31, one thread): 1.2-1.5x the GFLOP/s of one large matmul for 16 to 64
#: filters (288 x 64: 98 against 74; 144 x 16: 102 against 71), and 1.1-1.3x on the whole
#: convolution.
SMALL_MACS = 100**3

#: Output cells per small matmul of a channels_first chunk (``W^T @ cols^T``: OpenBLAS
#: takes its small-matrix kernels for a transposed operand only while the product has
#: about 1200 cells or fewer).  Measured: 16 cells 1.3-2.5x one large matmul for 16 to 64
#: filters; 24 cells already falls back to packing for 64 filters.
SMALL_ROWS_FIRST = 16

#: Rows per small matmul are a multiple of this (and a chunk stays one packed matmul
#: when not even this many fit): OpenBLAS's small kernels work on 8 rows at a time and
#: handle the rest slowly (64 channels into 512 taps x filters, 1024 cells: 8 rows 77-90
#: GFLOP/s, 15 rows 53-55, one matmul 66).
SMALL_ROW_STEP = 8

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


def _runs(xp, kernel_size, strides, dilation, out_shape, first, run) -> np.ndarray:
    """Every window of ``xp`` as a view of contiguous runs of ``run`` bytes, no copy.

    Like :func:`_windows`, from channel ``first`` on, but each element is one run of
    bytes (a ``void`` item): the channels of one tap (``run`` = channels), or of a whole
    kernel row when its taps are adjacent (``run`` = ``k[-1]`` * channels; the last
    kernel axis is then folded into the item).  Copying whole runs as single items
    costs one ``memcpy`` each instead of one iteration of NumPy's inner loop per run,
    2x faster for the 12-byte pixels of an RGB stem.  ``xp`` must be C-contiguous.
    """
    sb, *sp, sc = xp.strides
    k, ds = list(kernel_size), [st * d for st, d in zip(sp, dilation)]
    if run > (xp.shape[-1] - first) * xp.itemsize:  # the run spans the last kernel axis
        k, ds = k[:-1], ds[:-1]
    shape = (xp.shape[0], *out_shape, *k)
    step = (sb, *(st * s for st, s in zip(sp, strides)), *ds)
    return np.ndarray(shape, dtype=np.dtype((np.void, run)), buffer=xp,
                      offset=first * sc, strides=step)


def _chunks(total: int, per_item_bytes: int, target: int = CHUNK_BYTES):
    """Yield ``slice``s over ``range(total)`` with at most ``target`` bytes of work each
    (at least one item), as few as that allows and of equal length but for the last."""
    step = max(1, min(target, CHUNK_BYTES) // max(per_item_bytes, 1))
    step = -(-total // -(-total // step)) if total else step  # even out the lengths
    for start in range(0, total, step):
        yield slice(start, min(start + step, total))


def _row_chunks(batch: int, rows: int, per_row_bytes: int, target: int = CHUNK_BYTES):
    """Chunks over (batch, first output axis): whole samples when they fit, else rows.

    ``target`` is capped at :data:`CHUNK_BYTES`, so a chunk exceeds it only when one row
    of the first output axis alone does.
    """
    target = min(target, CHUNK_BYTES)
    if rows * per_row_bytes <= target:
        for sl in _chunks(batch, rows * per_row_bytes, target):
            yield sl, slice(None)
    else:
        for b in range(batch):
            for rs in _chunks(rows, per_row_bytes, target):
                yield slice(b, b + 1), rs


def _out_shape(xp_spatial, ksize, strides, dilation):
    return tuple(
        (n - effective_kernel(k, d)) // s + 1
        for n, k, s, d in zip(xp_spatial, ksize, strides, dilation)
    )


def _finite(x) -> bool:
    """Cheap test that ``x`` holds no inf/nan (a sum of finite values may overflow: False)."""
    with np.errstate(all="ignore"):
        return bool(np.isfinite(np.add.reduce(x, axis=None)))


# ----------------------------------------------------------------------------- conv
def _cell_offsets(spatial, ksize, strides, dilation, out_shape):
    """Flat cell offsets in a ``(*spatial)`` grid: of each output cell's window origin
    (``o * s``, shape ``prod(out)``) and of each kernel tap (``j * d``, shape ``K``)."""
    cell = [prod(spatial[a + 1:]) for a in range(len(spatial))]
    origin = np.zeros((), dtype=np.intp)
    taps = np.zeros((), dtype=np.intp)
    for a in range(len(spatial)):
        step_o, step_t = strides[a] * cell[a], dilation[a] * cell[a]
        origin = np.add.outer(origin, np.arange(out_shape[a], dtype=np.intp) * step_o)
        taps = np.add.outer(taps, np.arange(ksize[a], dtype=np.intp) * step_t)
    return origin.ravel(), taps.ravel()


def _split_crops(x, pads, contiguous=True):
    """Apply the negative (crop) part of ``pads`` to ``x``; return ``(x, zero pads)``.

    The pads returned are ``(lo, hi) >= 0`` per axis.  The returned ``x`` is C-contiguous
    (a copy if need be), or with ``contiguous=False`` a view of ``x`` whenever there are
    pads to write (every chunk's padded slab is then copied from it, whatever its strides).
    """
    pads = [tuple(int(v) for v in p) for p in pads]
    if any(v < 0 for p in pads for v in p):
        x = pad(x, [(min(lo, 0), min(hi, 0)) for lo, hi in pads])
        pads = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    if contiguous or all(p == (0, 0) for p in pads):
        x = np.ascontiguousarray(x)
    return x, pads


def _fill_slab(dst, x, pads, first) -> None:
    """Write rows ``first, first + 1, ...`` of the zero-padded ``x`` into ``dst``.

    ``dst`` has shape ``(B, rows, *padded[1:], C)`` and ``x`` shape ``(B, *n, C)``;
    ``pads`` are the ``(lo, hi)`` zero pads per spatial axis.  Only the border cells are
    zeroed: the interior is copied from ``x`` once.
    """
    lo0 = pads[0][0]
    rows = dst.shape[1]
    zero = np.zeros((), dst.dtype)  # also for items of several channels (a void dtype)
    i0, i1 = max(first - lo0, 0), min(first + rows - lo0, x.shape[1])
    if i1 <= i0:
        dst.fill(zero)
        return
    r0, r1 = i0 + lo0 - first, i1 + lo0 - first
    dst[:, :r0] = zero
    dst[:, r1:] = zero
    inner = tuple(slice(lo, lo + ni) for (lo, _), ni in zip(pads[1:], x.shape[2:-1]))
    for axis, (lo, _) in enumerate(pads[1:], start=2):
        edge = [slice(None), slice(r0, r1)] + [slice(None)] * (dst.ndim - 2)
        edge[axis] = slice(0, lo)
        dst[tuple(edge)] = zero
        edge[axis] = slice(lo + x.shape[axis], None)
        dst[tuple(edge)] = zero
    dst[(slice(None), slice(r0, r1), *inner)] = x[:, i0:i1]


def _group_items(gs, x):
    """``(dst, src)`` for :func:`_fill_slab` to write ``x`` (B, *n, C) into the group-major
    slab ``gs`` (groups, B, rows, *padded[1:], cg): both as ``(..., groups)`` arrays whose
    items are a group's channels of one cell (copied as one ``void`` item each, 1.8x
    faster than copying 16 floats at a time), or, when a group's channels are not
    contiguous in ``x`` (a channels_first input), as ``(..., groups, cg)`` float views."""
    groups, cg = gs.shape[0], gs.shape[-1]
    xg = x.reshape(*x.shape[:-1], groups, cg)
    dst = np.moveaxis(gs, 0, -2)
    if xg.strides[-1] != x.itemsize:
        return dst, xg
    item = np.dtype((np.void, cg * x.itemsize))
    return dst.view(item)[..., 0], xg.view(item)[..., 0]


def _slab(x, pads, spatial, first, count, buf=None) -> np.ndarray:
    """Rows ``first`` to ``first + count`` of the zero-padded ``x``: a chunk's *slab*.

    A view of ``x`` when ``pads`` are all zero, else written (zero borders included) into
    the front of the flat ``buf``, or into a new array when ``buf`` is None.  ``spatial``
    is the padded spatial shape; ``x`` is ``(B, *n, C)``, C-contiguous.
    """
    if all(p == (0, 0) for p in pads):
        return x[:, first:first + count]
    shape = (x.shape[0], count, *spatial[1:], x.shape[-1])
    dst = np.empty(shape, x.dtype) if buf is None else buf[: prod(shape)].reshape(shape)
    _fill_slab(dst, x, pads, first)
    return dst


def _planes(a, *shape) -> np.ndarray:
    """``a`` reshaped to ``shape`` as a view (a matmul writes into it), never a copy."""
    view = a.view()
    view.shape = shape  # raises rather than copy
    return view


def _small_rows(macs_per_row, small, cap=None) -> int:
    """Rows per small matmul of a matmul of ``macs_per_row`` multiply-adds per row of its
    left operand: the most that keep it within :data:`SMALL_MACS` multiply-adds and
    ``cap`` rows, a multiple of :data:`SMALL_ROW_STEP`; 0 (one matmul) unless ``small``."""
    per = SMALL_MACS // max(macs_per_row, 1) if small else 0
    per = per if cap is None else min(per, cap)
    return per - per % SMALL_ROW_STEP


def _matmul_rows(a, b, out, per) -> None:
    """``out = a @ b`` for 2-D ``a`` (rows, K) and ``b`` (..., K, N): a stack of matmuls of
    ``per`` rows of ``a`` each (and one of the rows left over) when ``0 < per < rows``,
    else one matmul.  ``out`` (..., rows, N) may be a column slice of a wider array."""
    rows = a.shape[0]
    full = rows - rows % per if 0 < per < rows else 0
    if full:
        lead = out.shape[:-2]
        np.matmul(_planes(a[:full], full // per, per, a.shape[1]),
                  b if b.ndim == 2 else b[..., None, :, :],
                  out=_planes(out[..., :full, :], *lead, full // per, per, out.shape[-1]))
    if full < rows:
        np.matmul(a[full:], b, out=out[..., full:, :])


def _matmul_first(wt, cols, planes, per) -> None:
    """``planes[s] = wt @ cols[s]^T`` per sample ``s``: ``wt`` (F, KC), ``cols``
    (nb, cells, KC), ``planes`` (nb, F, cells); as small matmuls of ``per`` cells each
    (and one of the cells left over) when ``0 < per < cells``."""
    nb, cells, kc = cols.shape
    full = cells - cells % per if 0 < per < cells else 0
    if full:
        a = _planes(cols[:, :full], nb, full // per, per, kc).transpose(0, 1, 3, 2)
        o = _planes(planes[:, :, :full], nb, planes.shape[1], full // per, per)
        np.matmul(wt, a, out=o.transpose(0, 2, 1, 3))
    if full < cells:
        np.matmul(wt, cols[:, full:].transpose(0, 2, 1), out=planes[:, :, full:])


def _pointwise_first(x, w, bias) -> np.ndarray:
    """A 1x1 convolution of channels_first data, as channels_first: ``W^T @ x[b]`` per
    sample, ``(F, C) x (C, cells)``; ``x`` is the channels-last view of ``(B, C, *n)``."""
    xf = np.moveaxis(x, -1, 1)
    if not xf.flags.c_contiguous:
        xf = np.ascontiguousarray(xf)
    B, C = xf.shape[:2]
    F = w.shape[1]
    y = np.empty((B, F, *xf.shape[2:]), dtype=xf.dtype)
    x3, y3, wt = xf.reshape(B, C, -1), y.reshape(B, F, -1), np.ascontiguousarray(w.T)

    def samples(bs):
        np.matmul(wt, x3[bs], out=y3[bs])
        if bias is not None:
            y3[bs] += bias[:, None]

    per_sample = x3.shape[2] * C * x.itemsize
    chunks = _chunks(B, per_sample, GEMM_ROWS * C * x.itemsize)
    parallel.matmul_chunks(samples, [(bs,) for bs in chunks])
    return y


def conv(x, kernel, strides, pads, dilation, groups=1, bias=None, *,
         out_first=False) -> np.ndarray:
    """Grouped N-d cross-correlation (no kernel flip), im2col + one matmul per chunk.

    The output is computed in chunks of about :data:`SPLIT_BYTES` of im2col columns on
    :data:`parallel.THREADS` worker threads, each with a single-threaded BLAS
    (:data:`parallel.BLAS_SPLIT`; else one chunk of about :data:`GEMM_ROWS` output cells
    after another, each matmul on all of BLAS's threads).  Chunks are whole samples when they
    fit, else rows of the first output axis.  Per chunk, the padded input rows it reads (its
    *slab*) are written into a small reusable buffer, zero borders included, so the whole
    input is never copied to pad it; then its im2col columns are gathered into one
    preallocated contiguous buffer and multiplied straight into the output with
    ``np.matmul(out=)``; the bias is added while the chunk is in cache.  The gather copies
    contiguous runs as single items from a window view (:func:`_runs`): a whole kernel row
    of channels when its taps are adjacent; when they are not (dilation along the last axis)
    and one channel vector is at least :data:`TAKE_BYTES` long, it is a single ``np.take`` of
    channel vectors (one index per output cell and tap) instead.  Each group is gathered
    from its own channel slice and multiplied into its own filters, so grouped convolutions
    cost no more than their own FLOPs (groups narrower than :data:`MIN_GROUP_FILTERS` are
    merged into block-diagonal matmuls at least that wide); when a group's taps along the
    last axis are adjacent, the chunk's slab is written group-major (every group's channels
    contiguous, even for an unpadded input), so that its kernel rows are runs too (measured
    1.0-1.6x for 2 to 8 groups).  On worker threads with OpenBLAS's small-matrix kernels
    (:func:`parallel.small_gemm`) each matmul is a stack of matmuls of at most
    :data:`SMALL_MACS` multiply-adds (:data:`SMALL_ROWS_FIRST` cells for ``out_first``).
    A 1x1 convolution needs no columns at all: it is chunked by :data:`GEMM_ROWS` cells in
    either mode.

    Parameters
    ----------
    x : ndarray, shape ``(B, *n, Cin)``, of any strides (the channels-last view of a
        channels_first array, say)
    kernel : ndarray, shape ``(*k, Cin // groups, F)`` (Keras layout)
    strides, dilation : tuple of ints per axis
    pads : ``((lo, hi), ...)`` per axis (negative values crop)
    bias : ndarray of shape ``(F,)`` or None
    out_first : return ``(B, F, *out)``: per sample of a chunk, ``W^T @ cols^T`` is
        written straight into its output planes' rows (a 1x1 convolution is
        ``W^T @ x[b]``)

    Returns
    -------
    ndarray, shape ``(B, *out, F)`` with ``out = (n + lo + hi - ke) // s + 1``.
    """
    ksize = tuple(kernel.shape[:-2])
    cg, filters = kernel.shape[-2:]
    dtype, item = x.dtype, x.dtype.itemsize
    bias = None if bias is None else np.asarray(bias).astype(dtype, copy=False)
    B = x.shape[0]
    K = prod(ksize)
    fg = filters // groups
    x, pads = _split_crops(x, pads, contiguous=False)
    padded = any(p != (0, 0) for p in pads)
    if K == 1 and groups == 1 and all(s == 1 for s in strides) and not padded:
        # 1x1 (pointwise): the input itself is the column matrix.
        if out_first:
            return _pointwise_first(x, kernel.reshape(cg, filters).astype(dtype, copy=False),
                                    bias)
        x2 = x.reshape(-1, cg)
        y = np.empty((B, *x.shape[1:-1], filters), dtype=dtype)
        y2 = y.reshape(-1, filters)
        w = kernel.reshape(cg, filters).astype(dtype, copy=False)

        def pointwise(sl):
            np.matmul(x2[sl], w, out=y2[sl])
            if bias is not None:
                y2[sl] += bias

        chunks = _chunks(x2.shape[0], cg * item, GEMM_ROWS * cg * item)
        parallel.matmul_chunks(pointwise, [(sl,) for sl in chunks])
        return y
    spatial = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], pads))
    out_shape = _out_shape(spatial, ksize, strides, dilation)
    y_out = np.empty((B, filters, *out_shape) if out_first else (B, *out_shape, filters), dtype)
    if prod(out_shape) == 0 or B == 0:
        return y_out
    y = np.moveaxis(y_out, 1, -1) if out_first else y_out  # channels last, maybe a view
    # (groups, K*cg, fg): columns ordered (taps..., channel) like the gathered rows.
    w = kernel.reshape(K, cg, groups, fg).astype(dtype, copy=False)
    # Merge m neighbouring groups into one block-diagonal matmul of m*fg filters (zeros
    # off the diagonal; exact while x is finite, as 0 * x == 0): fewer, wider matmuls.
    m = 1
    if groups > 1 and fg < MIN_GROUP_FILTERS and _finite(x):
        m = next(d for d in range(1, groups + 1)
                 if groups % d == 0 and (d * fg >= MIN_GROUP_FILTERS or d == groups))
    if m == 1:
        wg = np.ascontiguousarray(np.moveaxis(w, 2, 0)).reshape(groups, K * cg, fg)
    else:
        wg = np.zeros((groups // m, K, m, cg, m, fg), dtype=dtype)
        for g in range(groups):
            wg[g // m, :, g % m, :, g % m, :] = w[:, :, g, :]
        wg = wg.reshape(groups // m, K * m * cg, m * fg)
        groups, cg, fg = groups // m, cg * m, fg * m
    KC = K * cg
    inner = prod(out_shape[1:])  # output cells per row of the first output axis
    per_row = inner * KC * item
    # On workers only while THREADS rows of columns fit CHUNK_BYTES: every worker has a
    # column buffer of its own, and THREADS chunks of huge rows would multiply the peak.
    split = parallel.can_split() and parallel.THREADS * per_row <= CHUNK_BYTES
    target = SPLIT_BYTES if split else GEMM_ROWS * KC * item
    chunks = list(_row_chunks(B, out_shape[0], per_row, max(target, per_row)))
    span = [len(range(*rs.indices(out_shape[0]))) for _, rs in chunks]
    # Rows (cells) per small matmul when the chunks will run on single-threaded BLAS
    # calls with small-matrix kernels; 0: one matmul per chunk and group.
    small = parallel.on_workers(split, len(chunks)) and parallel.small_gemm()
    per = _small_rows(KC * fg, small, SMALL_ROWS_FIRST if out_first else None)
    nb_max = max(bs.stop - bs.start for bs, _ in chunks)
    rows_max = max((bs.stop - bs.start) * r for (bs, _), r in zip(chunks, span)) * inner
    # The slab of a chunk: the padded input rows [r0 * s, (r1 - 1) * s + ke) it reads.
    ke0 = effective_kernel(ksize[0], dilation[0])
    row_cells = prod(spatial[1:]) * x.shape[-1]
    whole = chunks[0][1] == slice(None)
    slab_rows = spatial[0] if whole else (max(span) - 1) * strides[0] + ke0
    # Contiguous bytes per copied run: a channel vector, or a kernel row of channel
    # vectors when the taps along the last axis are adjacent.  Runs of a kernel row are
    # copied from a view (measured 1.5x faster than the take for Conv3D, 16 channels);
    # single channel vectors with a take when long enough, else from a view.
    # Groups whose kernel rows are runs of adjacent taps: the chunk's slab is written
    # group-major, each group's channels contiguous, so that its windows copy whole kernel
    # rows (k[-1] * cg channels) instead of one short channel vector per tap.
    gmajor = groups > 1 and dilation[-1] == 1 and ksize[-1] > 1
    run_view = cg * item * (ksize[-1] if dilation[-1] == 1 and (groups == 1 or gmajor) else 1)
    use_take = cg * item >= TAKE_BYTES and run_view == cg * item
    if use_take:
        # idx[r*K + t] = flat cell of output cell r's tap t, relative to the slab's first
        # cell; in units of one group's channel vector.
        origin, taps = _cell_offsets(spatial, ksize, strides, dilation, out_shape)
        idx = np.add.outer(
            np.add.outer(np.arange(nb_max, dtype=np.intp) * prod(spatial),
                         origin[: span[0] * inner]),
            taps,
        ).ravel()
        if groups > 1:
            idx *= groups
    if out_first:  # (fg, K*cg) filters, each group's multiplied into its output planes
        wg_t = np.ascontiguousarray(wg.transpose(0, 2, 1))
        bias_planes = None if bias is None else bias.reshape(filters, *(1,) * len(out_shape))

    def work(bs, rs, nrow, buf, slab_buf):
        ysub = y[bs, rs]
        nb, rows = bs.stop - bs.start, prod(ysub.shape[:-1])
        cols = buf[: rows * KC]
        first = (rs.start or 0) * strides[0]
        count = spatial[0] if whole else (nrow - 1) * strides[0] + ke0
        if gmajor:
            gs = slab_buf[: nb * count * row_cells].reshape(groups, nb, count, *spatial[1:], cg)
            _fill_slab(*_group_items(gs, x[bs]), pads, first)
        else:
            slab = _slab(x[bs], pads, spatial, first, count, slab_buf)
        for g in range(groups):
            if gmajor:
                slab = gs[g]
            if use_take:
                src = slab.reshape(-1, cg)[g:]
                np.take(src, idx[: rows * K], axis=0, out=cols.reshape(rows * K, cg),
                        mode="clip")
            else:
                src = _runs(slab, ksize, strides, dilation, (nrow, *out_shape[1:]),
                            0 if gmajor else g * cg, run_view)
                np.copyto(cols.view(src.dtype).reshape(src.shape), src)
            if out_first:  # W^T (fg, KC) x cols^T (KC, cells) per sample: its planes' rows
                planes = _planes(y_out[bs, g * fg:(g + 1) * fg, rs], nb, fg, rows // nb)
                _matmul_first(wg_t[g], cols.reshape(nb, rows // nb, KC), planes, per)
            else:
                _matmul_rows(cols.reshape(rows, KC), wg[g],
                             ysub.reshape(rows, filters)[:, g * fg:(g + 1) * fg], per)
        if bias is not None:
            if out_first:
                y_out[bs, :, rs] += bias_planes
            else:
                ysub.reshape(rows, filters)[...] += bias

    def buffers():
        return (np.empty(rows_max * KC, dtype=dtype),
                np.empty(nb_max * slab_rows * row_cells, dtype=dtype)
                if padded or gmajor else None)

    parallel.matmul_chunks(work, [(bs, rs, nrow) for (bs, rs), nrow in zip(chunks, span)],
                           buffers, split)
    return y_out


def depthwise_conv(x, kernel, strides, pads, dilation, bias=None, first=False) -> np.ndarray:
    """Depthwise N-d convolution as a shift-multiply-add over kernel taps.

    Works on cache-sized chunks of (batch, first output axis), on
    :data:`parallel.THREADS` threads; taps are summed in ``np.ndindex`` order, then the
    bias is added.  With ``first`` the input and output are channels_first and stay so:
    each (sample, channel) plane is then a sample of one channel (``(B*C, *n, 1)``, a view)
    with its own weight per tap, so neither array is transposed; with stride 1 the outputs
    are computed over the padded width (the extra cells dropped), so that each tap reads
    one run per plane of the chunk's slab instead of one short run per row.

    Parameters
    ----------
    x : ndarray, shape ``(B, *n, C)`` (``(B, C, *n)`` with ``first``)
    kernel : ndarray, shape ``(*k, C, M)``
    bias : ndarray of shape ``(C*M,)`` or None

    Returns
    -------
    ndarray, shape ``(B, *out, C*M)`` (``(B, C*M, *out)`` with ``first``); output channel
    ``c*M + m``.
    """
    ksize = kernel.shape[:-2]
    C, M = kernel.shape[-2:]
    B = x.shape[0]
    w = kernel.astype(x.dtype, copy=False)
    b = None if bias is None else np.asarray(bias).astype(x.dtype).reshape(C, M)
    if first:  # planes as samples of one channel
        x = np.ascontiguousarray(x)
        x = x.reshape(B * C, *x.shape[2:], 1)
    x, pads = _split_crops(x, pads)
    spatial = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[1:-1], pads))
    out_shape = _out_shape(spatial, ksize, strides, dilation)
    y = np.empty((B, C, M, *out_shape) if first else (B, *out_shape, C, M), dtype=x.dtype)
    if prod(out_shape) == 0 or B == 0:
        return y.reshape((B, C * M, *out_shape) if first else (B, *out_shape, C * M))
    ke0 = effective_kernel(ksize[0], dilation[0])
    rank = len(ksize)
    taps = list(np.ndindex(*ksize))
    if first:
        # per m: the output planes of every (sample, channel) as samples of one channel,
        # and each plane's weight per tap (and bias) as a column broadcast over its cells
        planes = [y[:, :, m].reshape(B * C, *out_shape, 1) for m in range(M)]
        col = (-1,) + (1,) * (rank + 1)
        w_at = {(tap, m): np.tile(w[tap + (slice(None), m)], B).reshape(col)
                for tap in taps for m in range(M)}
        b_at = None if b is None else [np.tile(b[:, m], B).reshape(col) for m in range(M)]
        # Stride 1: a tap's inputs for a chunk's rows are one run of its planes' flat slab
        # at the tap's offset, if the outputs are computed over the padded width (the
        # extra cells are dropped at the end): long runs, not one short run per row.
        flat = all(s == 1 for s in strides)
        cell = [prod(spatial[a + 1:]) for a in range(rank)]
        offsets = [sum(j * d * c for j, d, c in zip(tap, dilation, cell)) for tap in taps]
        slack = offsets[-1] - (ksize[0] - 1) * dilation[0] * cell[0]  # past the last row
        per_row = (cell[0] if flat else prod(out_shape[1:])) * M * x.itemsize
    else:
        per_row = prod(out_shape[1:]) * C * M * x.itemsize
        flat = False

    def flat_work(bs, rs):
        """``work`` for stride 1 and channels_first: per tap, a run of every plane."""
        with np.errstate(all="ignore"):  # inf/nan reach the dropped cells too: no warnings
            flat_rows(bs, rs)

    def flat_rows(bs, rs):
        nb, nrow = bs.stop - bs.start, len(range(*rs.indices(out_shape[0])))
        P = cell[0]  # padded cells per row of a plane
        count = nrow - 1 + ke0
        buf = np.empty(nb * count * P + slack, dtype=x.dtype)
        buf[nb * count * P:] = 0
        _fill_slab(buf[: nb * count * P].reshape(nb, count, *spatial[1:], 1), x[bs], pads,
                   rs.start or 0)
        item = buf.itemsize
        acc, tmp = np.empty((nb, nrow * P), x.dtype), np.empty((nb, nrow * P), x.dtype)
        valid = (slice(None), slice(None), *(slice(0, o) for o in out_shape[1:]))
        for m in range(M):
            for i, (tap, off) in enumerate(zip(taps, offsets)):
                src = as_strided(buf[off:], shape=(nb, nrow * P), strides=(count * P * item,
                                                                          item))
                wt = w_at[tap, m][bs].reshape(nb, 1)
                if i == 0:
                    np.multiply(src, wt, out=acc)
                else:
                    np.multiply(src, wt, out=tmp)
                    acc += tmp
            if b is not None:
                acc += b_at[m][bs].reshape(nb, 1)
            planes[m][bs, rs][..., 0] = acc.reshape(nb, nrow, *spatial[1:])[valid]

    def work(bs, rs):
        nrow = len(range(*rs.indices(out_shape[0])))
        first_row = (rs.start or 0) * strides[0]
        count = (nrow - 1) * strides[0] + ke0
        slab = _slab(x[bs], pads, spatial, first_row, count)
        win = _windows(slab, ksize, strides, dilation, (nrow, *out_shape[1:]))
        tmp = None
        for m in range(M):
            dst = planes[m][bs, rs] if first else y[bs, rs][..., m]
            for i, tap in enumerate(taps):
                src = win[(slice(None),) * (rank + 1) + tap]
                wt = w_at[tap, m][bs] if first else w[tap + (slice(None), m)]
                if i == 0:
                    np.multiply(src, wt, out=dst)
                else:
                    tmp = np.empty(dst.shape, dtype=y.dtype) if tmp is None else tmp
                    np.multiply(src, wt, out=tmp)
                    dst += tmp
            if b is not None:
                dst += b_at[m][bs] if first else b[:, m]

    parallel.run(flat_work if flat else work,
                 _row_chunks(x.shape[0], out_shape[0], per_row, CACHE_BYTES))
    return y.reshape((B, C * M, *out_shape) if first else (B, *out_shape, C * M))


def conv_transpose(x, kernel, strides, dilation, crops, out_shape, bias=None,
                   first=False) -> np.ndarray:
    """N-d transposed convolution: one matmul, then a scatter-add (col2im) per tap.

    ``full[i*s + j*d] += x[i] @ W[j]`` over input cells ``i`` and taps ``j``
    (kernel not flipped), then ``y[o] = full[o + crop]`` with zeros past the end.
    Each chunk of the batch is one matmul of all taps into a preallocated buffer; when
    the taps do not overlap (stride == kernel, no crop) the scatter is a plain
    transposed copy, else a scatter-add straight into the output initialised with the
    bias: cropped cells are never computed into a buffer and copied.  Chunks of about
    :data:`SPLIT_BYTES` run on :data:`parallel.THREADS` worker threads with a
    single-threaded BLAS (:data:`parallel.BLAS_SPLIT`); else one larger chunk after
    another, its matmul on all of BLAS's threads and its scatter-add on
    :data:`parallel.THREADS` threads.  With ``first``, input and output are channels_first
    and stay so: a sample's matmul is ``W^T @ x[b]`` (columns ``(*k, F, *n)``) and the
    scatter adds whole planes; on worker threads with OpenBLAS's small-matrix kernels
    (:func:`parallel.small_gemm`), ``W^T``'s rows are multiplied in stacks of small
    matmuls (:func:`_small_rows`).

    Parameters
    ----------
    x : ndarray, shape ``(B, *n, Cin)`` (``(B, Cin, *n)`` with ``first``)
    kernel : ndarray, shape ``(*k, F, Cin)`` (Keras transpose layout)
    crops : int per axis
    out_shape : int per axis (may exceed the scatter length: trailing zeros)
    bias : ndarray of shape ``(F,)`` or None, added per chunk

    Returns
    -------
    ndarray, shape ``(B, *out_shape, F)`` (``(B, F, *out_shape)`` with ``first``)
    """
    ksize = kernel.shape[:-2]
    filters, cin = kernel.shape[-2:]
    B, *n = (x.shape[0], *x.shape[2:]) if first else x.shape[:-1]
    rank = len(ksize)
    K = prod(ksize)
    item = x.dtype.itemsize
    out_shape = tuple(int(o) for o in out_shape)
    full_shape = tuple(
        (ni - 1) * s + effective_kernel(k, d) for ni, k, s, d in zip(n, ksize, strides, dilation)
    )
    y = np.empty((B, filters, *out_shape) if first else (B, *out_shape, filters), x.dtype)
    if B == 0 or prod(out_shape) == 0:
        return y
    bias = None if bias is None else np.asarray(bias).astype(x.dtype, copy=False)
    if bias is not None and first:
        bias = bias.reshape(filters, *(1,) * rank)  # one value per output plane
    # (Cin, K*F): columns ordered (taps..., filter); channels_first: (K*F, Cin).
    w = np.moveaxis(kernel.reshape(K, filters, cin), -1, 0).reshape(cin, K * filters)
    w = np.ascontiguousarray((w.T if first else w).astype(x.dtype, copy=False))
    x = np.ascontiguousarray(x)
    n_cells = prod(n)
    tiled = (
        all(s == k for s, k in zip(strides, ksize))
        and all(c == 0 for c in crops)
        and out_shape == full_shape
        and prod(n) > 0
    )
    moves = []
    if not tiled:
        # Scatter straight into the output: per tap, the input cells whose target
        # o = i*s + j*d - crop falls inside [0, out) (cropped and past-the-end cells are
        # skipped, cells the scatter never reaches keep the initial bias or zero).
        for tap in np.ndindex(*ksize):
            src, dst = [], []
            for j, d, ni, s, c, o in zip(tap, dilation, n, strides, crops, out_shape):
                off = j * d - c
                lo = max(0, -(off // s))  # first i with i*s + off >= 0
                hi = min(ni - 1, (o - 1 - off) // s)  # last i with i*s + off <= o - 1
                if hi < lo:
                    break
                src.append(slice(lo, hi + 1))
                dst.append(slice(lo * s + off, hi * s + off + 1, s))
            else:
                moves.append((tuple(dst), tap, tuple(src)))
    # Tiled (no overlap): out[i*k + j] = (x[i] @ W)[j], a transposed copy per chunk; the
    # columns' axes (nb, *n, *k, F) go to (nb, n0, k0, n1, k1, ..., F), or channels_first
    # (nb, *k, F, *n) to (nb, F, n0, k0, ...).
    if first:
        perm = [0, 1 + rank]
        for a in range(rank):
            perm += [2 + rank + a, 1 + a]
    else:
        perm = [0]
        for a in range(rank):
            perm += [1 + a, 1 + rank + a]
        perm.append(1 + 2 * rank)
    inter = [v for ni, k in zip(n, ksize) for v in (ni, k)]
    cols_per_sample = n_cells * K * filters

    def scatter(out, cols):
        """Add every tap's columns ``cols`` (nb, *n, *k, F) into ``out`` (nb, *out, F);
        channels_first: (nb, *k, F, *n) into (nb, F, *out)."""
        if bias is None:
            out.fill(0)
        else:
            out[...] = bias
        for dst, tap, src in moves:
            if first:
                out[(slice(None), slice(None), *dst)] += cols[(slice(None), *tap, slice(None),
                                                               *src)]
            else:
                out[(slice(None), *dst)] += cols[(slice(None), *src, *tap)]

    def chunk(bs, cols_buf, threads=False):
        nb = bs.stop - bs.start
        if first:
            cols = cols_buf[: nb * cols_per_sample].reshape(nb, K * filters, n_cells)
            _matmul_rows(w, x[bs].reshape(nb, cin, n_cells), cols, per)
            cols = cols.reshape(nb, *ksize, filters, *n)
        else:
            cols = cols_buf[: nb * cols_per_sample].reshape(nb * n_cells, K * filters)
            np.matmul(x[bs].reshape(-1, cin), w, out=cols)
            cols = cols.reshape(nb, *n, *ksize, filters)
        if tiled:
            shape = (nb, filters, *inter) if first else (nb, *inter, filters)
            np.copyto(y[bs].reshape(shape), cols.transpose(perm))
            if bias is not None:
                y[bs] += bias
        elif threads:  # the scatter on THREADS threads, over parts of the chunk
            step = max(1, -(-nb // parallel.THREADS))
            parallel.run(lambda b0, b1: scatter(y[bs][b0:b1], cols[b0:b1]),
                         [(b, min(b + step, nb)) for b in range(0, nb, step)])
        else:
            scatter(y[bs], cols)

    # Columns of one chunk (plus its share of the output, when scattered) of about
    # SPLIT_BYTES when chunks run on worker threads, else of GEMM_ROWS input cells
    # (tiled) or TRANSPOSE_BYTES (scattered, THREADS samples at least).
    per_sample = cols_per_sample * item + (0 if tiled else prod(out_shape) * filters * item)
    # On workers only while THREADS samples of columns fit CHUNK_BYTES: every worker has
    # a buffer of its own, at least a sample (never split), and THREADS huge samples
    # would multiply the peak memory.
    split = (parallel.can_split() and B > 1
             and parallel.THREADS * cols_per_sample * item <= CHUNK_BYTES)
    if split:
        target = SPLIT_BYTES
    elif tiled:
        target = max(GEMM_ROWS * K * filters * item, 1)
    else:
        target = max(TRANSPOSE_BYTES, parallel.THREADS * per_sample)
    tasks = [(bs,) for bs in _chunks(B, per_sample, target)]
    nb_max = tasks[0][0].stop - tasks[0][0].start
    # channels_first on worker threads: W^T's rows in small matmuls when enough of them
    # fit (Conv2DTranspose, 64 channels of 32x32, 8 rows: 1.14-1.16x); channels_last
    # (x[b] @ W, many rows of few channels) measured no gain and stays one matmul.
    per = _small_rows(cin * n_cells, first and parallel.on_workers(split, len(tasks))
                      and parallel.small_gemm())

    def buffers():
        return (np.empty(nb_max * cols_per_sample, dtype=x.dtype),)

    parallel.matmul_chunks(chunk, tasks, buffers, split, threads=True)
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

    Taps are gathered (``np.take``), weighted and summed in order, on cache-sized chunks
    of the batch (or of the axis before ``axis``) on :data:`parallel.THREADS` threads.

    Parameters
    ----------
    x : ndarray, shape ``(B, ..., n, ..., C)``
    axis : int, the array axis (1-based spatial axes)
    idx, w : ndarrays of shape ``(out, T)`` from :func:`geometry.resize_taps`
    """
    w = w.astype(x.dtype)
    out = idx.shape[0]
    shape = [1] * x.ndim
    shape[axis] = out
    y_shape = list(x.shape)
    y_shape[axis] = out
    y = np.empty(y_shape, dtype=x.dtype)
    if y.size == 0:
        return y
    T = idx.shape[1]
    wcols = [np.ascontiguousarray(w[:, t]).reshape(shape) for t in range(T)]
    # Chunk along axis 0, or along axis 1 when resampling a later axis of few samples.
    cax = 1 if (axis > 1 and x.shape[0] < 4 * parallel.THREADS) else 0
    per_item = y.nbytes // max(y.shape[cax], 1)
    lead = (slice(None),) * cax

    def work(sl):
        xs, ys = x[lead + (sl,)], y[lead + (sl,)]
        tmp = np.empty(ys.shape, dtype=y.dtype) if T > 1 else None
        for t in range(T):
            term = ys if t == 0 else tmp
            np.take(xs, idx[:, t], axis=axis, out=term, mode="clip")
            term *= wcols[t]
            if t:
                ys += tmp

    parallel.run(work, [(sl,) for sl in _chunks(y.shape[cax], per_item, CACHE_BYTES)])
    return y

"""The chunked, threaded and gathered code paths of ``convviz.engine`` vs the loop reference.

The engine sizes its chunks from module constants (``CHUNK_BYTES``, ``GEMM_ROWS``,
``SPLIT_BYTES``, ``TAKE_BYTES``, ``MIN_GROUP_FILTERS``, ``CACHE_BYTES``, and
``parallel.THREADS``).  With the small inputs of ``test_numeric.py`` every call is a single
chunk, so this file shrinks those constants with ``monkeypatch`` and checks, against the
independent loops of ``tests/reference.py``:

* ``conv``: several whole samples per chunk, row chunks of one sample (the last one
  shorter), the zero-padded slab of each chunk (``_fill_slab``, also on its own) and the
  unpadded slab that is a view of ``x``, the ``np.take`` gather and the window-view copy,
  grouped convolutions with and without block-diagonal merging (never merged when ``x``
  holds inf/nan), the 1x1 pointwise path, the bias added per chunk, negative pads (crops);
* ``depthwise_conv`` (and ``SeparableConv*``) chunked over batch and rows on 1 or 2 threads;
* ``conv_transpose``: the tiled path (stride == kernel) chunked over the batch, and the
  scatter-add path with crops and with trailing zeros (also any crop and output length
  passed to ``engine.conv_transpose``), chunked and threaded;
* ``resize_axis`` (``UpSampling2D`` interpolations) chunked along axis 0 or axis 1;
* float32 and float64 through each path.

The matmul-heavy paths (im2col and 1x1 ``conv``, ``conv_transpose``) have two modes.  The
chunk tests listed above run the sequential one (``parallel.BLAS_SPLIT`` False, the
:func:`spy` fixture): chunks of about ``GEMM_ROWS`` cells (``TRANSPOSE_BYTES`` for the
scatter) one after another, each matmul on all of BLAS's threads.  The *split* tests at the
end of the file (:func:`split_spy`) run the other: when ``parallel.BLAS_SPLIT``,
``parallel.THREADS > 1`` and NumPy's OpenBLAS is found (``parallel.blas_api``), chunks of
about ``SPLIT_BYTES`` run on the pool's worker threads, each with its own scratch buffers,
while OpenBLAS is set to one thread (``parallel.blas_split``, which restores the count when
its last concurrent user leaves, also on an exception).  They check the chunks, the threads,
the per-worker buffers, the BLAS thread count seen by every matmul and restored afterwards,
and that without ``BLAS_SPLIT``, with one thread or without OpenBLAS nothing of it happens.
On a NumPy without a bundled OpenBLAS they are skipped (the :func:`blas` fixture is in
``conftest.py``).  The runner on its own (``parallel.run``, ``parallel.blas_split``) is
tested in ``test_parallel.py``.

A :class:`Spy` records which chunks, gathers and matmuls actually ran (and the BLAS thread
count of each matmul), so that no test can pass on a single chunk or on a different path
than the one it claims to cover.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from reference import (
    as_tuple,
    conv_out_len,
    conv_pads,
    conv_ref,
    conv_transpose_crop,
    conv_transpose_out_len,
    conv_transpose_ref,
    depthwise_ref,
    effective_kernel,
    resize_ref,
    separable_ref,
)

import convviz
from convviz import engine, parallel

DTYPES = [np.float32, np.float64]
TOL = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-12)}  # rtol, atol


# ============================================================================ helpers


class _NumpySpy:
    """Stands in for ``engine.np``: reports the calls of a few NumPy functions to the spy."""

    COUNTED = ("matmul", "take", "copyto")

    def __init__(self, spy):
        self._spy = spy

    def __getattr__(self, name):
        attr = getattr(np, name)
        if name not in self.COUNTED:
            return attr
        spy = self._spy

        def counted(*args, **kwargs):
            spy.called(name, args, kwargs)
            return attr(*args, **kwargs)

        return counted


class ForcedError(RuntimeError):
    """Raised by the spied ``np.matmul`` on the call ``Spy.fail_matmul`` asks for."""


class Spy:
    """Records what the engine does: chunks, slab fills, window views, tasks, threads,
    per-worker states and the BLAS thread count during every matmul."""

    def __init__(self, monkeypatch):
        self.calls = Counter()  # np.matmul / np.take / np.copyto made by the engine
        self.row_chunks = []  # the (batch, rows) chunk list of every _row_chunks call
        self.chunks = []  # (total, slices) of every _chunks call (also inside _row_chunks)
        self.fills = []  # (first, rows) of every _fill_slab call
        self.window_bases = []  # the array every window view (_windows, _runs) is of
        self.tasks = []  # number of tasks of every parallel.run call
        self.threads = set()  # names of the threads that ran engine tasks
        self.states = []  # (thread name, value) of every state() call of a parallel.run worker
        self.blas_threads = []  # OpenBLAS thread count when each np.matmul was called
        self.matmul_shapes = []  # (left, right, out) operand shapes of every np.matmul
        self.fail_matmul = None  # raise ForcedError on this (1-based) np.matmul call
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        api = parallel.blas_api()
        self._blas_get = api[0] if api else None
        orig_row_chunks, orig_chunks = engine._row_chunks, engine._chunks
        orig_fill, orig_run = engine._fill_slab, parallel.run

        def row_chunks(*args, **kwargs):
            out = list(orig_row_chunks(*args, **kwargs))
            self.row_chunks.append(out)
            return iter(out)

        def chunks(total, *args, **kwargs):
            out = list(orig_chunks(total, *args, **kwargs))
            self.chunks.append((total, out))
            return iter(out)

        def fill_slab(dst, x, pads, first):
            self.fills.append((first, dst.shape[1]))
            return orig_fill(dst, x, pads, first)

        def viewer(orig):
            def view(xp, *args, **kwargs):
                self.window_bases.append(xp)
                return orig(xp, *args, **kwargs)

            return view

        def run(fn, tasks, state=None):
            tasks = list(tasks)
            self.tasks.append(len(tasks))
            call = SimpleNamespace(failed=False, running=0)

            def recorded(*args):  # the task, then the worker's state values if any
                with self._lock:
                    if call.failed:  # the call raised: skip what other workers have left
                        return
                    call.running += 1
                    self.threads.add(threading.current_thread().name)
                try:
                    fn(*args)
                finally:
                    with self._lock:
                        call.running -= 1
                        self._idle.notify_all()

            def recorded_state():
                value = tuple(state())
                with self._lock:
                    self.states.append((threading.current_thread().name, value))
                return value

            try:
                if state is None:
                    return orig_run(recorded, tasks)
                return orig_run(recorded, tasks, recorded_state)
            except BaseException:
                # parallel.run may raise while other workers still run tasks: let none start
                # any more, and wait for those running, so that no engine call of this one
                # reaches the spy of the next test.
                with self._lock:
                    call.failed = True
                    assert self._idle.wait_for(lambda: call.running == 0, timeout=30)
                raise

        monkeypatch.setattr(engine, "np", _NumpySpy(self))
        monkeypatch.setattr(engine, "_row_chunks", row_chunks)
        monkeypatch.setattr(engine, "_chunks", chunks)
        monkeypatch.setattr(engine, "_fill_slab", fill_slab)
        for name in ("_windows", "_runs"):  # the window views of a slab (_runs: as bytes)
            if hasattr(engine, name):
                monkeypatch.setattr(engine, name, viewer(getattr(engine, name)))
        monkeypatch.setattr(parallel, "run", run)

    def called(self, name, args=(), kwargs=None):
        with self._lock:
            self.calls[name] += 1
            if name != "matmul":
                return
            self.matmul_shapes.append(tuple(np.shape(a) for a in args[:2])
                                      + (np.shape((kwargs or {}).get("out")),))
            if self._blas_get is not None:
                self.blas_threads.append(self._blas_get())
            if self.calls[name] == self.fail_matmul:
                raise ForcedError(f"forced failure in matmul {self.fail_matmul}")

    @property
    def pool_used(self):
        return any(name.startswith("convviz") for name in self.threads)

    def assert_split(self, tasks):
        """One ``parallel.run`` call ran ``tasks`` (> 1) chunks on the pool's threads, each
        worker with its own scratch buffers, every matmul with a single-threaded BLAS."""
        assert tasks > 1
        assert self.tasks == [tasks]
        assert self.threads and all(n.startswith("convviz") for n in self.threads)
        assert len(self.states) == min(parallel.THREADS, tasks)
        buffers = [b for _, value in self.states for b in value if b is not None]
        assert len(buffers) >= len(self.states)
        for i, a in enumerate(buffers):  # no two workers (or buffers) share memory
            assert not any(np.shares_memory(a, b) for b in buffers[i + 1:])
        assert self.calls["matmul"] > 1
        assert self.blas_threads == [1] * self.calls["matmul"]


@pytest.fixture
def spy(monkeypatch):
    """A :class:`Spy` on the sequential path: ``BLAS_SPLIT`` off, so chunks follow
    ``GEMM_ROWS`` / ``TRANSPOSE_BYTES`` (``SPLIT_BYTES`` is set tiny to show it is unused)."""
    monkeypatch.setattr(parallel, "BLAS_SPLIT", False)
    monkeypatch.setattr(engine, "SPLIT_BYTES", 1)
    return Spy(monkeypatch)


@pytest.fixture
def split_spy(monkeypatch, blas):
    """A :class:`Spy` on the split path: ``BLAS_SPLIT`` on, 2 threads (even on one CPU),
    ``GEMM_ROWS`` and ``TRANSPOSE_BYTES`` set tiny to show they do not size the chunks."""
    monkeypatch.setattr(parallel, "BLAS_SPLIT", True)
    monkeypatch.setattr(parallel, "THREADS", 2)
    monkeypatch.setattr(engine, "GEMM_ROWS", 1)
    monkeypatch.setattr(engine, "TRANSPOSE_BYTES", 1)
    assert parallel.can_split()
    return Spy(monkeypatch)


def randn(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def check(got, want, dtype):
    rtol, atol = TOL[dtype]
    assert got.dtype == dtype
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def run(layer, x, weights, data_format="channels_last"):
    """Build ``layer`` for ``x`` (channels_last), load ``weights``, return channels_last."""
    cf = data_format == "channels_first"
    xin = np.ascontiguousarray(np.moveaxis(x, -1, 1)) if cf else x
    layer.build(xin.shape)
    layer.set_weights(weights)
    y = np.asarray(layer(xin))
    return np.moveaxis(y, 1, -1) if cf else y


def pad_or_crop(x, pads):
    """Zero-pad (positive) or crop (negative) the spatial axes of a channels_last array."""
    x = np.pad(x, [(0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in pads] + [(0, 0)])
    index = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pads, x.shape[1:]))
    return x[(slice(None), *index)]


def assert_tiles(chunk_list, batch, rows):
    """Every (sample, first-axis row) of the output is covered by exactly one chunk."""
    seen = np.zeros((batch, rows), dtype=int)
    for bs, rs in chunk_list:
        seen[bs, rs] += 1
    assert (seen == 1).all(), seen


def expected_row_chunks(batch, rows, per_chunk, whole):
    """``per_chunk`` whole samples per chunk, or ``per_chunk`` rows of one sample."""
    if whole:
        return [(slice(b, min(b + per_chunk, batch)), slice(None))
                for b in range(0, batch, per_chunk)]
    return [(slice(b, b + 1), slice(r, min(r + per_chunk, rows)))
            for b in range(batch) for r in range(0, rows, per_chunk)]


def merged_groups(groups, fg, min_filters):
    """Matmuls per chunk after merging neighbouring groups into block-diagonal ones."""
    if groups == 1 or fg >= min_filters:
        return groups
    m = next(d for d in range(1, groups + 1)
             if groups % d == 0 and (d * fg >= min_filters or d == groups))
    return groups // m


def group_major(groups, ks, d):
    """Whether the engine writes a chunk's slab group-major (each of the ``groups`` groups
    left after merging with its channels contiguous, even when unpadded): for groups whose
    taps along the last axis are adjacent, so that each window copies whole kernel rows."""
    return groups > 1 and d[-1] == 1 and ks[-1] > 1


def assert_gather(spy, matmuls, take, single_vector_runs):
    """One gather per matmul: ``np.take`` or a copy from a window view, as configured.

    ``take``: ``TAKE_BYTES`` was 1, so every window whose contiguous runs are single channel
    vectors (groups, a dilated or length-1 last kernel axis) must be gathered by
    ``np.take``; windows with longer runs (a kernel row of channels) may use either.
    Otherwise ``TAKE_BYTES`` was huge and every gather copies from a window view.
    """
    took, copied = spy.calls["take"], spy.calls["copyto"]
    if take and single_vector_runs:
        assert (took, copied) == (matmuls, 0)
    elif take:
        assert (took, copied) in {(matmuls, 0), (0, matmuls)}
    else:
        assert (took, copied) == (0, matmuls)
    return copied > 0


# =============================================================== chunk helpers alone


@pytest.mark.parametrize("batch", [1, 3, 4])
@pytest.mark.parametrize("rows", [1, 5, 6])
@pytest.mark.parametrize("target", [1, 10, 25, 60, 10**6])
def test_row_chunks_tile_the_output(batch, rows, target):
    per_row = 10
    chunk_list = list(engine._row_chunks(batch, rows, per_row, target))
    assert_tiles(chunk_list, batch, rows)
    for bs, rs in chunk_list:
        nrow = len(range(*rs.indices(rows)))
        assert (bs.stop - bs.start) * nrow * per_row <= max(target, per_row)
    if rows * per_row > target:
        assert all(rs != slice(None) for _, rs in chunk_list)


def test_chunks_are_capped_by_chunk_bytes(monkeypatch):
    monkeypatch.setattr(engine, "CHUNK_BYTES", 30)
    assert list(engine._chunks(7, 10, 10**6)) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert list(engine._chunks(2, 100, 10**6)) == [slice(0, 1), slice(1, 2)]


FILL_PADS = [
    ((1, 2),),
    ((3, 0),),  # the first rows of the slab may be all padding
    ((0, 4),),  # ... or the last ones
    ((1, 2), (0, 1)),
    ((2, 2), (2, 0)),
    ((0, 0), (1, 3)),
    ((1, 1), (0, 2), (3, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pads", FILL_PADS)
def test_fill_slab_every_row_window(pads, dtype):
    """Every run of rows of the padded input, written over NaN garbage, equals np.pad."""
    rng = np.random.default_rng(0)
    x = randn(rng, (2, *(5, 3, 2)[: len(pads)], 3), dtype)
    full = np.pad(x, [(0, 0), *pads, (0, 0)])
    n0 = full.shape[1]
    for rows in range(1, n0 + 1):
        for first in range(n0 - rows + 1):
            dst = np.full((2, rows, *full.shape[2:]), np.nan, dtype=dtype)
            engine._fill_slab(dst, x, pads, first)
            np.testing.assert_array_equal(dst, full[:, first:first + rows])


# ============================================================================== conv

CONV_CASES = [
    # spatial, cin, filters, kernel_size, strides, padding, dilation, groups
    pytest.param((7, 6), 3, 4, 3, 1, "same", 1, 1, id="2d-same"),
    pytest.param((9, 7), 2, 3, (3, 2), (2, 1), "same", 1, 1, id="2d-same-strided"),
    pytest.param((10, 6), 2, 3, 3, 1, "valid", (2, 1), 1, id="2d-valid-dilated"),
    pytest.param((11, 7), 3, 2, 2, 2, "valid", 1, 1, id="2d-valid-strided"),
    pytest.param((7, 6), 3, 4, 1, 2, "valid", 1, 1, id="2d-1x1-strided"),
    pytest.param((12,), 3, 2, 3, 1, "causal", 2, 1, id="1d-causal-dilated"),
    pytest.param((11,), 2, 3, 3, 2, "same", 1, 1, id="1d-same-strided"),
    pytest.param((9,), 2, 3, 3, 3, "causal", 1, 1, id="1d-causal-strided"),
    pytest.param((12,), 3, 2, 4, 1, "same", 1, 1, id="1d-k4-view-runs"),
    pytest.param((10,), 4, 6, 2, 1, "same", 2, 2, id="1d-grouped"),
    pytest.param((7, 6), 6, 3, 3, 1, "same", 1, 3, id="2d-grouped-same"),
    pytest.param((7, 5), 8, 8, (2, 3), 1, "valid", 1, 4, id="2d-grouped-valid"),
    pytest.param((7, 9), 3, 2, 3, 1, "same", (1, 2), 1, id="2d-same-dilated-last"),
    pytest.param((5, 4, 3), 2, 3, 2, 1, "same", (1, 2, 1), 1, id="3d-same-dilated"),
    pytest.param((6, 4, 5), 2, 3, (2, 3, 1), 1, "same", 1, 1, id="3d-same-k1-last"),
    pytest.param((6, 5, 4), 2, 3, (3, 1, 2), (2, 1, 2), "same", 1, 1, id="3d-same-strided"),
    pytest.param((5, 4, 4), 4, 2, 2, 1, "same", (1, 2, 1), 2, id="3d-grouped"),
]

#: mode -> (constant overrides as a function of the geometry, chunks per sample-or-rows,
#: whole samples?).  cells: output cells of one sample; inner: cells of one output row.
CONV_MODES = {
    "two-samples": lambda cells, inner: ({"GEMM_ROWS": 2 * cells}, 2, True),
    "one-sample": lambda cells, inner: ({"GEMM_ROWS": cells}, 1, True),
    "two-rows": lambda cells, inner: ({"GEMM_ROWS": 2 * inner}, 2, False),
    "one-row": lambda cells, inner: ({"GEMM_ROWS": 1}, 1, False),
}


def conv_geometry(spatial, ks, s, padding, d):
    rank = len(spatial)
    ks, s, d = as_tuple(ks, rank), as_tuple(s, rank), as_tuple(d, rank)
    out = tuple(conv_out_len(*a, padding) for a in zip(spatial, ks, s, d))
    pads = [conv_pads(*a, padding) for a in zip(spatial, ks, s, d)]
    return ks, s, d, out, pads


def check_conv_layer(batch, spatial, cin, filters, ks, s, padding, d, groups, dtype, seed):
    """Run ``Conv{rank}D`` with bias on random data, compare with the loop reference;
    return the input."""
    rng = np.random.default_rng(seed)
    x = randn(rng, (batch, *spatial, cin), dtype)
    weights = [randn(rng, ks + (cin // groups, filters), dtype), randn(rng, (filters,), dtype)]
    layer = getattr(convviz, f"Conv{len(spatial)}D")(
        filters, ks, strides=s, padding=padding, dilation_rate=d, groups=groups,
        dtype=np.dtype(dtype).name,
    )
    check(run(layer, x, weights), conv_ref(x, *weights, s, padding, d, groups), dtype)
    return x


def assert_conv_gather(spy, x, matmuls, take, single_vector_runs, chunks, padded):
    """The gather that was asked for ran once per matmul (see :func:`assert_gather`);
    window views are of the padded slab buffer, or of ``x`` itself (handed on uncopied)."""
    if assert_gather(spy, matmuls, take, single_vector_runs):
        assert len(spy.window_bases) >= chunks
        assert all(np.shares_memory(base, x) != padded for base in spy.window_bases)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("take", [True, False], ids=["take", "view"])
@pytest.mark.parametrize("mode", list(CONV_MODES))
@pytest.mark.parametrize("spatial,cin,filters,ks,s,padding,d,groups", CONV_CASES)
def test_conv_layer_chunked(spatial, cin, filters, ks, s, padding, d, groups, mode, take,
                            dtype, monkeypatch, spy):
    batch = 3
    ks, s, d, out, pads = conv_geometry(spatial, ks, s, padding, d)
    consts, step, whole = CONV_MODES[mode](math.prod(out), math.prod(out[1:]))
    if take:  # groups stay unmerged: one gather of channel vectors per group
        consts.update(TAKE_BYTES=1, MIN_GROUP_FILTERS=0)
    else:  # groups merged into one block-diagonal matmul (fg < 32 in every case)
        consts.update(TAKE_BYTES=10**9)
    for name, value in consts.items():
        monkeypatch.setattr(engine, name, value)
    x = check_conv_layer(batch, spatial, cin, filters, ks, s, padding, d, groups, dtype, 10)

    # the chunks really are the ones this mode asks for
    [chunk_list] = spy.row_chunks
    assert chunk_list == expected_row_chunks(batch, out[0], step, whole)
    assert_tiles(chunk_list, batch, out[0])
    assert len(chunk_list) > 1
    if not whole and out[0] % step:
        spans = {len(range(*rs.indices(out[0]))) for _, rs in chunk_list}
        assert spans == {step, out[0] % step}  # the last chunk of a sample is shorter
    # one slab fill per chunk when padded or group-major; otherwise the windows view x
    per_chunk = merged_groups(groups, filters // groups, engine.MIN_GROUP_FILTERS)
    filled = any(p != (0, 0) for p in pads) or group_major(per_chunk, ks, d)
    assert len(spy.fills) == (len(chunk_list) if filled else 0)
    # the gather that was asked for, and one matmul per chunk and (merged) group
    matmuls = len(chunk_list) * per_chunk
    assert spy.calls["matmul"] == matmuls
    assert_conv_gather(spy, x, matmuls, take, d[-1] > 1 or ks[-1] == 1, len(chunk_list),
                       filled)


@pytest.mark.parametrize("take", [True, False], ids=["take", "view"])
@pytest.mark.parametrize(
    "spatial,cin,filters,ks,s,padding,d,groups",
    [case for case in CONV_CASES if case.id in
     {"2d-same", "2d-valid-dilated", "1d-same-strided", "2d-grouped-same", "3d-same-dilated"}],
)
def test_conv_layer_chunked_channels_first(spatial, cin, filters, ks, s, padding, d, groups,
                                           take, monkeypatch, spy):
    rank, batch = len(spatial), 4
    ks, s, d, out, _ = conv_geometry(spatial, ks, s, padding, d)
    monkeypatch.setattr(engine, "GEMM_ROWS", 2 * math.prod(out[1:]))
    monkeypatch.setattr(engine, "TAKE_BYTES", 1 if take else 10**9)
    rng = np.random.default_rng(11)
    x = randn(rng, (batch, *spatial, cin))
    weights = [randn(rng, ks + (cin // groups, filters)), randn(rng, (filters,))]
    layer = getattr(convviz, f"Conv{rank}D")(
        filters, ks, strides=s, padding=padding, dilation_rate=d, groups=groups,
        data_format="channels_first", activation="relu",
    )
    got = run(layer, x, weights, "channels_first")
    check(got, conv_ref(x, *weights, s, padding, d, groups, "relu"), np.float32)
    [chunk_list] = spy.row_chunks
    assert len(chunk_list) == batch * -(-out[0] // 2)


MIN_FILTERS = (0, 2, 4, 10**6)
GROUP_CASES = [
    # spatial, cin, filters, kernel_size, padding, dilation, groups,
    # matmuls per chunk for each MIN_GROUP_FILTERS in MIN_FILTERS
    pytest.param((7, 5), 8, 4, (3, 2), "same", 1, 4, (4, 2, 1, 1), id="2d-fg1"),
    pytest.param((9,), 6, 12, 3, "causal", 2, 6, (6, 6, 3, 1), id="1d-fg2"),
    pytest.param((5, 4, 3), 4, 8, 2, "valid", 1, 4, (4, 4, 2, 1), id="3d-fg2"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("take", [True, False], ids=["take", "view"])
@pytest.mark.parametrize("which", range(len(MIN_FILTERS)),
                         ids=[f"min{v}" for v in MIN_FILTERS])
@pytest.mark.parametrize("spatial,cin,filters,ks,padding,d,groups,expect", GROUP_CASES)
def test_grouped_conv_merging(spatial, cin, filters, ks, padding, d, groups, expect, which,
                              take, dtype, monkeypatch, spy):
    """Per-group matmuls, partial block-diagonal merges and a single merged matmul agree."""
    rank, batch = len(spatial), 3
    ks, s, d, out, _ = conv_geometry(spatial, ks, 1, padding, d)
    monkeypatch.setattr(engine, "MIN_GROUP_FILTERS", MIN_FILTERS[which])
    monkeypatch.setattr(engine, "GEMM_ROWS", 2 * math.prod(out[1:]))
    monkeypatch.setattr(engine, "TAKE_BYTES", 1 if take else 10**9)
    rng = np.random.default_rng(12)
    x = randn(rng, (batch, *spatial, cin), dtype)
    weights = [randn(rng, ks + (cin // groups, filters), dtype), randn(rng, (filters,), dtype)]
    layer = getattr(convviz, f"Conv{rank}D")(
        filters, ks, padding=padding, dilation_rate=d, groups=groups, dtype=np.dtype(dtype).name
    )
    check(run(layer, x, weights), conv_ref(x, *weights, s, padding, d, groups), dtype)
    [chunk_list] = spy.row_chunks
    assert len(chunk_list) > batch
    per_chunk = expect[which]
    assert merged_groups(groups, filters // groups, MIN_FILTERS[which]) == per_chunk
    assert spy.calls["matmul"] == len(chunk_list) * per_chunk
    assert_gather(spy, len(chunk_list) * per_chunk, take, d[-1] > 1 or ks[-1] == 1)


@pytest.mark.parametrize("take", [True, False], ids=["take", "view"])
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "inf-and-nan"])
def test_grouped_conv_nonfinite_input_is_not_merged(bad, take, monkeypatch, spy):
    """inf/nan stay inside their own group: 0 * inf in a merged matmul would leak NaN."""
    monkeypatch.setattr(engine, "MIN_GROUP_FILTERS", 10**6)  # would merge all 4 groups
    monkeypatch.setattr(engine, "GEMM_ROWS", 6)  # one output row per chunk
    monkeypatch.setattr(engine, "TAKE_BYTES", 1 if take else 10**9)
    rng = np.random.default_rng(13)
    x = randn(rng, (3, 7, 6, 8))
    values = {"nan": [np.nan], "inf": [np.inf], "-inf": [-np.inf], "inf-and-nan": [np.inf, np.nan]}
    for i, v in enumerate(values[bad]):
        x[1, 3 + i, 2, 2 + 3 * i] = v  # group 1 (channels 2, 3), then group 2 (5)
    kernel = randn(rng, (3, 3, 2, 4))
    pads = ((1, 1), (1, 1))
    got = engine.conv(x, kernel, (1, 1), pads, (1, 1), groups=4)
    want = conv_ref(x, kernel, None, 1, "same", 1, 4)
    assert got.shape == want.shape == (3, 7, 6, 4)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)  # NaN/inf where want has them
    assert spy.calls["matmul"] == 4 * len(spy.row_chunks[0])  # never merged
    # the bad value really reached some outputs, and only those of its own group(s)
    bad_out = ~np.isfinite(got)
    assert bad_out[1, 2:5, 1:4, 1].all()
    assert not bad_out[..., 0].any() and not bad_out[..., 3].any()
    assert not bad_out[[0, 2]].any()


def test_grouped_conv_huge_finite_input(monkeypatch, spy):
    """Finite values whose sum overflows (``_finite`` says no) still give finite outputs."""
    monkeypatch.setattr(engine, "MIN_GROUP_FILTERS", 10**6)
    x = np.zeros((3, 6, 4), dtype=np.float32)
    x[:, :, 0] = 3e38  # each finite, the sum overflows
    kernel = np.full((2, 1, 4), 0.25, dtype=np.float32)
    got = engine.conv(x, kernel, (1,), ((0, 1),), (1,), groups=4)
    want = conv_ref(x, kernel, None, 1, "same", 1, 4)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.isfinite(got).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("take", [True, False], ids=["take", "view"])
@pytest.mark.parametrize(
    "pads,expect_fill",
    [
        (((-1, 2), (2, -3)), True),  # crop one side, pad the other
        (((-2, -1), (-1, 0)), False),  # crops only: no padding left, slab is a view
        (((0, 0), (0, 0)), False),  # unpadded call
        (((4, 3), (0, 2)), True),  # the first and last slabs are all padding rows
        (((2, -2), (-1, 1)), True),
    ],
)
@pytest.mark.parametrize("dilation", [(1, 1), (1, 2)], ids=["group-major", "interleaved"])
def test_conv_direct_pads_and_crops(pads, expect_fill, take, dilation, dtype, monkeypatch,
                                    spy):
    """Two groups: with adjacent taps along the last axis the slab is always written
    (group-major); with a dilated last axis only when padded, else the windows view x."""
    monkeypatch.setattr(engine, "GEMM_ROWS", 2)  # one output row per chunk
    monkeypatch.setattr(engine, "TAKE_BYTES", 1 if take else 10**9)
    monkeypatch.setattr(engine, "MIN_GROUP_FILTERS", 0)
    rng = np.random.default_rng(14)
    x = randn(rng, (3, 9, 8, 4), dtype)
    kernel = randn(rng, (2, 3, 2, 4), dtype)
    bias = randn(rng, (4,), dtype)
    strides = (1, 2)
    got = engine.conv(x, kernel, strides, pads, dilation, groups=2, bias=bias)
    want = conv_ref(pad_or_crop(x, pads), kernel, bias, strides, "valid", dilation, 2)
    check(got, want, dtype)
    [chunk_list] = spy.row_chunks
    assert len(chunk_list) == 3 * want.shape[1] > 3
    major = group_major(2, kernel.shape[:2], dilation)
    assert major == (dilation == (1, 1))
    assert len(spy.fills) == (len(chunk_list) if expect_fill or major else 0)
    assert spy.calls["matmul"] == 2 * len(chunk_list)
    if assert_gather(spy, 2 * len(chunk_list), take, not major):
        # windows over the slab buffer, or over x itself if it needs no pad (or only crops)
        viewed = all(p == (0, 0) for p in pads) and not major
        assert len(spy.window_bases) >= len(chunk_list)
        for base in spy.window_bases:
            assert np.shares_memory(base, x) == viewed
    if pads[0][0] == 4:
        assert (0, 2) in spy.fills  # rows 0..1 of the padded input: only zeros


def test_conv_direct_noncontiguous_input(monkeypatch, spy):
    monkeypatch.setattr(engine, "GEMM_ROWS", 3)
    rng = np.random.default_rng(15)
    x = randn(rng, (3, 6, 7, 5))[:, ::-1, :, 1:4]  # reversed rows, channel slice
    kernel = randn(rng, (2, 2, 3, 2))
    got = engine.conv(x, kernel, (1, 1), ((0, 1), (1, 0)), (1, 1))
    check(got, conv_ref(pad_or_crop(x, ((0, 1), (1, 0))), kernel), np.float32)
    assert len(spy.row_chunks[0]) > 3


POINTWISE_CASES = [
    pytest.param("Conv1D", (11,), 4, 3, "valid", id="1d"),
    pytest.param("Conv2D", (7, 6), 5, 3, "same", id="2d"),
    pytest.param("Conv3D", (5, 3, 2), 3, 4, "valid", id="3d"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gemm_rows", [1, 5, 7])
@pytest.mark.parametrize("cls,spatial,cin,filters,padding", POINTWISE_CASES)
def test_pointwise_conv_chunked(cls, spatial, cin, filters, padding, gemm_rows, dtype,
                                monkeypatch, spy):
    monkeypatch.setattr(engine, "GEMM_ROWS", gemm_rows)
    rng = np.random.default_rng(16)
    x = randn(rng, (3, *spatial, cin), dtype)
    weights = [randn(rng, (1,) * len(spatial) + (cin, filters), dtype),
               randn(rng, (filters,), dtype)]
    layer = getattr(convviz, cls)(filters, 1, padding=padding, dtype=np.dtype(dtype).name)
    check(run(layer, x, weights), conv_ref(x, *weights, 1, padding), dtype)
    cells = 3 * math.prod(spatial)
    assert spy.row_chunks == []  # the pointwise path, not im2col
    assert spy.calls["matmul"] == -(-cells // gemm_rows) > 1
    assert spy.tasks == []  # one chunk after another
    assert spy.calls["take"] == spy.calls["copyto"] == 0


# ========================================================================= depthwise

DW_CASES = [
    # class, spatial, channels, multiplier, kernel_size, strides, padding, dilation
    pytest.param("DepthwiseConv2D", (7, 6), 3, 2, 3, 1, "same", 1, id="2d-same"),
    pytest.param("DepthwiseConv2D", (9, 7), 2, 3, (3, 2), (2, 1), "valid", 1, id="2d-valid"),
    pytest.param("DepthwiseConv2D", (8, 7), 3, 1, 2, (1, 2), "same", 2,
                 id="2d-strided-dilated"),
    pytest.param("DepthwiseConv1D", (11,), 3, 2, 3, 1, "same", 2, id="1d-same"),
    pytest.param("DepthwiseConv1D", (12,), 2, 2, 3, 3, "valid", 1, id="1d-valid"),
]

#: mode -> (CACHE_BYTES from the bytes of one output row / sample, per chunk, whole?)
DW_MODES = {
    "two-samples": lambda row, sample: (2 * sample, 2, True),
    "two-rows": lambda row, sample: (2 * row, 2, False),
    "one-row": lambda row, sample: (1, 1, False),
}


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mode", list(DW_MODES))
@pytest.mark.parametrize("cls,spatial,c,m,ks,s,padding,d", DW_CASES)
def test_depthwise_layer_chunked(cls, spatial, c, m, ks, s, padding, d, mode, threads, dtype,
                                 data_format, monkeypatch, spy):
    """Chunks of (batch, rows) on 1 or 2 threads.  channels_first stays so: every (sample,
    channel) plane is a sample of one channel with its own weights, and x is never
    transposed; with stride 1 a tap's inputs are one run of the chunk's flat slab (the
    outputs computed over the padded width, the extra cells dropped), else windows."""
    first = data_format == "channels_first"
    flat = first and all(si == 1 for si in as_tuple(s, len(spatial)))
    batch = 3
    ks, s, d, out, pads = conv_geometry(spatial, ks, s, padding, d)
    padded_shape = [n + lo + hi for n, (lo, hi) in zip(spatial, pads)]
    cells = padded_shape[1:] if flat else out[1:]  # of a row, as computed
    row = math.prod(cells) * (1 if first else c) * m * np.dtype(dtype).itemsize
    cache, per_chunk, whole = DW_MODES[mode](row, row * out[0])
    monkeypatch.setattr(engine, "CACHE_BYTES", cache)
    monkeypatch.setattr(parallel, "THREADS", threads)
    rng = np.random.default_rng(20)
    x = randn(rng, (batch, *spatial, c), dtype)
    weights = [randn(rng, ks + (c, m), dtype), randn(rng, (c * m,), dtype)]
    layer = getattr(convviz, cls)(ks, strides=s, padding=padding, depth_multiplier=m,
                                  dilation_rate=d, dtype=np.dtype(dtype).name,
                                  data_format=data_format)
    xin = np.ascontiguousarray(np.moveaxis(x, -1, 1)) if first else x
    layer.build(xin.shape)
    layer.set_weights(weights)
    got = np.asarray(layer(xin))
    assert got.flags.c_contiguous
    got = np.moveaxis(got, 1, -1) if first else got
    check(got, depthwise_ref(x, *weights, s, padding, d), dtype)
    [chunk_list] = spy.row_chunks
    assert chunk_list == expected_row_chunks(batch * (c if first else 1), out[0], per_chunk,
                                             whole)
    assert len(chunk_list) > 1
    assert spy.tasks == [len(chunk_list)]
    assert spy.pool_used == (threads > 1)
    padded = any(p != (0, 0) for p in pads)
    if flat:  # every chunk's slab written (with room for the last runs), no windows
        assert len(spy.fills) == len(chunk_list) and not spy.window_bases
    else:  # windows of the padded slab, or of the input's own memory (no transposed copy)
        assert len(spy.fills) == (len(chunk_list) if padded else 0)
        assert len(spy.window_bases) == len(chunk_list)
        assert all(np.shares_memory(base, xin) != padded for base in spy.window_bases)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gemm_rows", [1, 40, 10**6])
@pytest.mark.parametrize("use_bias", [True, False])
def test_pointwise_conv_channels_first(gemm_rows, use_bias, dtype, monkeypatch, spy):
    """A 1x1 Conv2D (and SeparableConv2D's pointwise step) on channels_first data:
    ``W^T @ x[b]`` per chunk of samples, straight into a channels_first output."""
    monkeypatch.setattr(engine, "GEMM_ROWS", gemm_rows)
    rng = np.random.default_rng(22)
    x = randn(rng, (5, 4, 3, 6), dtype)
    weights = [randn(rng, (1, 1, 6, 7), dtype)] + ([randn(rng, (7,), dtype)] if use_bias else [])
    layer = convviz.Conv2D(7, 1, use_bias=use_bias, data_format="channels_first",
                           dtype=np.dtype(dtype).name)
    got = run(layer, x, weights, "channels_first")
    check(got, conv_ref(x, weights[0], weights[1] if use_bias else None), dtype)
    per = {1: 5, 40: 2, 10**6: 1}[gemm_rows]  # samples of 12 cells: 1 each, 3 + 2, all 5
    assert spy.calls["matmul"] == per


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("pads", [((4, 3), (0, 2)), ((0, 1), (3, 0)), ((0, 0), (0, 0))])
def test_depthwise_direct_pads(pads, threads, monkeypatch, spy):
    """Explicit pads, wider than the kernel: whole chunks of padding rows."""
    monkeypatch.setattr(engine, "CACHE_BYTES", 1)
    monkeypatch.setattr(parallel, "THREADS", threads)
    rng = np.random.default_rng(22)
    x = randn(rng, (3, 6, 5, 2))
    kernel, bias = randn(rng, (2, 3, 2, 3)), randn(rng, (6,))
    got = engine.depthwise_conv(x, kernel, (1, 1), pads, (1, 1), bias=bias)
    check(got, depthwise_ref(pad_or_crop(x, pads), kernel, bias), np.float32)
    [chunk_list] = spy.row_chunks
    assert len(chunk_list) == 3 * got.shape[1]
    assert len(spy.fills) == (0 if pads == ((0, 0), (0, 0)) else len(chunk_list))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "cls,spatial,ks,s,padding,d",
    [
        pytest.param("SeparableConv1D", (12,), 3, 1, "same", 2, id="1d"),
        pytest.param("SeparableConv1D", (11,), 2, 2, "valid", 1, id="1d-strided"),
        pytest.param("SeparableConv2D", (7, 6), 3, (2, 1), "same", 1, id="2d"),
    ],
)
def test_separable_layer_chunked(cls, spatial, ks, s, padding, d, threads, dtype,
                                 monkeypatch, spy):
    """Depthwise one row per chunk on threads, then the pointwise matmul in 5-cell chunks."""
    rank, batch, c, m, filters = len(spatial), 3, 3, 2, 4
    ks, s, d, out, _ = conv_geometry(spatial, ks, s, padding, d)
    monkeypatch.setattr(engine, "CACHE_BYTES", 1)
    monkeypatch.setattr(engine, "GEMM_ROWS", 5)
    monkeypatch.setattr(parallel, "THREADS", threads)
    rng = np.random.default_rng(21)
    x = randn(rng, (batch, *spatial, c), dtype)
    weights = [randn(rng, ks + (c, m), dtype), randn(rng, (1,) * rank + (c * m, filters), dtype),
               randn(rng, (filters,), dtype)]
    layer = getattr(convviz, cls)(filters, ks, strides=s, padding=padding, dilation_rate=d,
                                  depth_multiplier=m, dtype=np.dtype(dtype).name)
    check(run(layer, x, weights), separable_ref(x, *weights, s, padding, d), dtype)
    [chunk_list] = spy.row_chunks
    assert len(chunk_list) == batch * out[0]
    assert spy.tasks == [len(chunk_list)]
    assert spy.calls["matmul"] == -(-batch * math.prod(out) // 5)
    assert spy.pool_used == (threads > 1)


# ========================================================================= transpose

TRANSPOSE_CASES = [
    # class, spatial, cin, filters, kernel_size, strides, padding, output_padding, dilation,
    # path: "tiled" (stride == kernel, the output is the whole scatter) or "scatter"
    pytest.param("Conv2DTranspose", (5, 4), 3, 2, 2, 2, "valid", None, 1, "tiled",
                 id="2d-tiled"),
    pytest.param("Conv1DTranspose", (6,), 2, 3, 3, 3, "valid", None, 1, "tiled",
                 id="1d-tiled"),
    pytest.param("Conv3DTranspose", (5, 3, 2), 2, 3, (2, 1, 3), (2, 1, 3), "valid", None, 1,
                 "tiled", id="3d-tiled"),
    pytest.param("Conv2DTranspose", (5, 4), 3, 2, 3, 2, "same", None, 1, "scatter",
                 id="2d-same-cut-end"),
    pytest.param("Conv2DTranspose", (5, 4), 2, 3, (3, 1), (1, 3), "same", None, 1, "scatter",
                 id="2d-crop-and-trailing-zeros"),
    pytest.param("Conv2DTranspose", (5, 4), 2, 2, 4, 2, "same", 1, 1, "scatter",
                 id="2d-same-op-crop"),
    pytest.param("Conv2DTranspose", (5, 4), 3, 2, 2, 3, "valid", None, 1, "scatter",
                 id="2d-trailing-zeros"),
    pytest.param("Conv1DTranspose", (6,), 2, 3, 2, 3, "valid", 2, 1, "scatter",
                 id="1d-trailing-zeros-op"),
    pytest.param("Conv1DTranspose", (7,), 2, 3, 3, 1, "valid", None, 2, "scatter",
                 id="1d-dilated"),
    pytest.param("Conv3DTranspose", (5, 3, 2), 2, 2, 2, (1, 2, 1), "same", None, 1, "scatter",
                 id="3d-same"),
]


def check_conv_transpose_layer(cls, batch, spatial, cin, filters, ks, s, padding, op, d, out,
                               dtype, seed, data_format="channels_last"):
    """Run the transposed layer ``cls`` with bias on random data, compare with the loop
    reference, and check its output size is ``out``."""
    rng = np.random.default_rng(seed)
    x = randn(rng, (batch, *spatial, cin), dtype)
    weights = [randn(rng, ks + (filters, cin), dtype), randn(rng, (filters,), dtype)]
    layer = getattr(convviz, cls)(filters, ks, strides=s, padding=padding, output_padding=op,
                                  dilation_rate=d, dtype=np.dtype(dtype).name,
                                  data_format=data_format)
    got = run(layer, x, weights, data_format)
    check(got, conv_transpose_ref(x, *weights, s, padding, op, d), dtype)
    assert got.shape[1:-1] == out


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("per_chunk", [1, 2])
@pytest.mark.parametrize("cls,spatial,cin,filters,ks,s,padding,op,d,path", TRANSPOSE_CASES)
def test_conv_transpose_layer_chunked(cls, spatial, cin, filters, ks, s, padding, op, d, path,
                                      per_chunk, threads, dtype, data_format, monkeypatch, spy):
    """Chunks of the batch, tiled or scattered; channels_first data stays so (columns
    ``W^T @ x[b]``, planes scattered)."""
    rank, batch = len(spatial), 3
    ks, s, d = as_tuple(ks, rank), as_tuple(s, rank), as_tuple(d, rank)
    ops = (None,) * rank if op is None else as_tuple(op, rank)
    out = tuple(conv_transpose_out_len(*a, padding, o) for a, o in zip(zip(spatial, ks, s, d), ops))
    crops = tuple(conv_transpose_crop(*a, padding, o) for a, o in zip(zip(ks, s, d), ops))
    full = tuple((n - 1) * si + effective_kernel(k, di) for n, k, si, di in zip(spatial, ks, s, d))
    assert (path == "tiled") == (s == ks and not any(crops) and out == full)
    item = np.dtype(dtype).itemsize
    n_cells, K = math.prod(spatial), math.prod(ks)
    if path == "tiled":  # about GEMM_ROWS input cells per chunk
        monkeypatch.setattr(engine, "GEMM_ROWS", per_chunk * n_cells)
    else:  # the matmul columns plus the output of a sample
        per_sample = (n_cells * K + math.prod(out)) * filters * item
        monkeypatch.setattr(engine, "CHUNK_BYTES", per_chunk * per_sample)
    monkeypatch.setattr(parallel, "THREADS", threads)
    check_conv_transpose_layer(cls, batch, spatial, cin, filters, ks, s, padding, op, d, out,
                               dtype, 30, data_format)
    [(total, batch_chunks)] = spy.chunks
    assert total == batch
    assert batch_chunks == [slice(b, min(b + per_chunk, batch)) for b in range(0, batch, per_chunk)]
    assert spy.calls["matmul"] == len(batch_chunks) > 1
    if path == "tiled":
        assert spy.tasks == []  # a transposed copy per chunk, no scatter-add
        assert spy.calls["copyto"] == len(batch_chunks)
    else:
        assert spy.tasks == [min(bs.stop - bs.start, threads) for bs in batch_chunks]
        assert spy.pool_used == (threads > 1 and per_chunk > 1)


TRANSPOSE_CROPS = [
    ((0, 0), (9, 8)),  # exactly the scatter
    ((0, 0), (12, 9)),  # trailing zeros on both axes
    ((2, 0), (5, 10)),  # crop one axis, extend the other
    ((8, 7), (1, 1)),  # only the last cell: most taps miss the output entirely
    ((3, 6), (7, 4)),  # cropped into the trailing zeros
]


def crops_case(crops, out_shape, use_bias, dtype, batch=5):
    """``x``, kernel, bias (or None) and the expected output of a (4, 3) -> scatter (9, 8)
    transposed conv (strides (2, 3)) cropped by ``crops`` to ``out_shape``."""
    rng = np.random.default_rng(31)
    x = randn(rng, (batch, 4, 3, 3), dtype)
    kernel, bias = randn(rng, (3, 2, 2, 3), dtype), randn(rng, (2,), dtype)
    if not use_bias:
        bias = np.zeros_like(bias)
    full = conv_transpose_ref(x, kernel, None, (2, 3), "valid", (0, 0), (1, 1))
    assert full.shape == (batch, 9, 8, 2)
    ext = np.pad(full, [(0, 0), (0, 3), (0, 3), (0, 0)])
    want = ext[:, crops[0]:crops[0] + out_shape[0], crops[1]:crops[1] + out_shape[1]] + bias
    return x, kernel, bias if use_bias else None, want


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("threads,per_chunk", [(1, 1), (2, 2), (3, 3)])
@pytest.mark.parametrize("crops,out_shape", TRANSPOSE_CROPS)
def test_conv_transpose_direct_crops(crops, out_shape, threads, per_chunk, use_bias, dtype,
                                     monkeypatch, spy):
    """``engine.conv_transpose`` with any crop and output length: ``full[crop:crop + out]``
    of the zero-extended scatter, plus the bias."""
    batch = 5
    x, kernel, bias, want = crops_case(crops, out_shape, use_bias, dtype, batch)
    per_sample = (12 * 6 + math.prod(out_shape)) * 2 * np.dtype(dtype).itemsize
    monkeypatch.setattr(engine, "CHUNK_BYTES", per_chunk * per_sample)
    monkeypatch.setattr(parallel, "THREADS", threads)
    got = engine.conv_transpose(x, kernel, (2, 3), (1, 1), crops, out_shape, bias=bias)
    check(got, want, dtype)
    [(_, batch_chunks)] = spy.chunks
    assert batch_chunks == [slice(b, min(b + per_chunk, batch))
                            for b in range(0, batch, per_chunk)]
    assert spy.tasks == [min(bs.stop - bs.start, threads) for bs in batch_chunks]
    assert spy.pool_used == (threads > 1)


# ============================================================================ resize


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "lanczos3", "lanczos5"])
@pytest.mark.parametrize("batch,threads", [(3, 1), (3, 2), (9, 1), (9, 3)])
def test_upsampling_resize_chunked(batch, threads, interpolation, dtype, monkeypatch, spy):
    """Axis 1 in chunks of one sample; axis 2 in chunks of one sample, or of one row of
    axis 1 when there are fewer than 4 samples per thread."""
    monkeypatch.setattr(engine, "CACHE_BYTES", 1)
    monkeypatch.setattr(parallel, "THREADS", threads)
    rng = np.random.default_rng(40)
    x = randn(rng, (batch, 5, 4, 2), dtype)
    size = (2, 3)
    layer = convviz.UpSampling2D(size, interpolation=interpolation, dtype=np.dtype(dtype).name)
    got = run(layer, x, [])
    check(got, resize_ref(x, size, interpolation), dtype)
    second = 5 * 2 if batch < 4 * threads else batch  # chunked along axis 1, else axis 0
    assert spy.tasks == [batch, second]
    assert [total for total, _ in spy.chunks] == [batch, second]
    assert spy.pool_used == (threads > 1)


def test_upsampling_resize_chunked_channels_first(monkeypatch, spy):
    monkeypatch.setattr(engine, "CACHE_BYTES", 200)
    monkeypatch.setattr(parallel, "THREADS", 2)
    rng = np.random.default_rng(41)
    x = randn(rng, (3, 6, 5, 3))
    layer = convviz.UpSampling2D((3, 2), data_format="channels_first", interpolation="bilinear")
    check(run(layer, x, [], "channels_first"), resize_ref(x, (3, 2), "bilinear"), np.float32)
    assert all(n > 1 for n in spy.tasks) and len(spy.tasks) == 2


# ============================================================================ memory


def test_row_chunks_cap_the_target_at_chunk_bytes():
    """A GEMM_ROWS-sized target larger than CHUNK_BYTES is capped: wide kernels (3x3x512)
    split one sample into row chunks instead of one column buffer past CHUNK_BYTES."""
    per_row = 56 * 3 * 3 * 512 * 4
    target = max(engine.GEMM_ROWS * 3 * 3 * 512 * 4, per_row)
    chunks = list(engine._row_chunks(1, 56, per_row, target))
    assert len(chunks) > 1
    assert all(len(range(*rs.indices(56))) * per_row <= engine.CHUNK_BYTES for _, rs in chunks)
    # one row alone larger than CHUNK_BYTES: chunks of one row
    assert len(list(engine._row_chunks(1, 3, engine.CHUNK_BYTES + 1, 10**12))) == 3


@pytest.mark.parametrize("split_bytes", [None, 4 * 2**20, 128 * 2**10],
                         ids=["sequential", "split-capped", "split"])
def test_conv_column_buffer_stays_under_chunk_bytes(split_bytes, monkeypatch, request):
    """One column buffer and slab of at most CHUNK_BYTES (sequential), or of at most
    min(SPLIT_BYTES, CHUNK_BYTES) per worker thread (split)."""
    import tracemalloc

    monkeypatch.setattr(engine, "CHUNK_BYTES", 256 * 2**10)
    if split_bytes is None:
        monkeypatch.setattr(parallel, "BLAS_SPLIT", False)
        workers, target = 1, engine.CHUNK_BYTES
    else:
        request.getfixturevalue("blas")  # skips without OpenBLAS
        monkeypatch.setattr(parallel, "BLAS_SPLIT", True)
        monkeypatch.setattr(parallel, "THREADS", 2)
        monkeypatch.setattr(engine, "SPLIT_BYTES", split_bytes)
        workers, target = 2, min(split_bytes, engine.CHUNK_BYTES)
    rng = np.random.default_rng(50)
    x = randn(rng, (1, 20, 20, 64))
    k = randn(rng, (3, 3, 64, 4))
    tracemalloc.start()
    try:
        y = engine.conv(x, k, (1, 1), [(1, 1), (1, 1)], (1, 1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows = target // (20 * 576 * 4)  # output rows per chunk (3x3x64 columns per cell)
    assert 0 < rows < 20
    columns, slab = rows * 20 * 576 * 4, (rows + 2) * 22 * 64 * 4
    assert peak <= workers * (columns + slab) + y.nbytes + 64 * 2**10
    check(y, conv_ref(x, k, padding="same"), np.float32)


# ================================================= split: chunks on the pool, BLAS on 1 thread


def assert_even_chunks(sizes, total, unit, target):
    """Chunk lengths ``sizes`` over ``total`` items of ``unit`` bytes each, as ``target``
    bytes say: at most ``max(target, unit)`` bytes per chunk, as few chunks as that
    allows, of equal length but for the last (no longer than the others)."""
    per = max(target, unit) // unit
    assert sum(sizes) == total
    assert all(0 < n <= per for n in sizes)
    assert len(sizes) == -(-total // per)
    assert len(set(sizes[:-1])) <= 1 and sizes[-1] <= sizes[0]


SPLIT_BATCH = 5

#: mode -> (SPLIT_BYTES from the im2col bytes of one output row and the rows of a sample,
#: chunk length, whole samples?) for SPLIT_BATCH samples.
SPLIT_MODES = {
    "two-samples": lambda row, rows: (2 * rows * row, 2, True),  # 2 + 2 + 1
    "four-samples": lambda row, rows: (4 * rows * row + row, 3, True),  # evened: 3 + 2
    "half-sample": lambda row, rows: ((rows - 1) * row, -(-rows // 2), False),  # 2 per sample
    "one-row": lambda row, rows: (row, 1, False),  # exactly one row per chunk
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("take", [True, False], ids=["take", "view"])
@pytest.mark.parametrize("mode", list(SPLIT_MODES))
@pytest.mark.parametrize("spatial,cin,filters,ks,s,padding,d,groups", CONV_CASES)
def test_conv_layer_split(spatial, cin, filters, ks, s, padding, d, groups, mode, take, dtype,
                          monkeypatch, split_spy, blas):
    """Chunks of about SPLIT_BYTES of columns (GEMM_ROWS is 1 and plays no part) on the
    pool's threads, each worker with its own buffers and BLAS on one thread."""
    spy, batch = split_spy, SPLIT_BATCH
    ks, s, d, out, pads = conv_geometry(spatial, ks, s, padding, d)
    if take:  # groups stay unmerged: one gather of channel vectors per group
        monkeypatch.setattr(engine, "TAKE_BYTES", 1)
        monkeypatch.setattr(engine, "MIN_GROUP_FILTERS", 0)
    else:  # groups merged into one block-diagonal matmul
        monkeypatch.setattr(engine, "TAKE_BYTES", 10**9)
    per_chunk = merged_groups(groups, filters // groups, engine.MIN_GROUP_FILTERS)
    item = np.dtype(dtype).itemsize
    row = math.prod(out[1:]) * math.prod(ks) * (cin // per_chunk) * item  # merged columns
    split_bytes, step, whole = SPLIT_MODES[mode](row, out[0])
    assert out[0] >= 3 and split_bytes < engine.CHUNK_BYTES
    monkeypatch.setattr(engine, "SPLIT_BYTES", split_bytes)
    x = check_conv_layer(batch, spatial, cin, filters, ks, s, padding, d, groups, dtype, 60)

    [chunk_list] = spy.row_chunks
    assert chunk_list == expected_row_chunks(batch, out[0], step, whole)
    assert_tiles(chunk_list, batch, out[0])
    if whole:
        assert_even_chunks([bs.stop - bs.start for bs, _ in chunk_list], batch,
                           out[0] * row, split_bytes)
    else:
        for b in range(batch):
            assert_even_chunks([len(range(*rs.indices(out[0])))
                                for bs, rs in chunk_list if bs.start == b],
                               out[0], row, split_bytes)
    spy.assert_split(len(chunk_list))
    assert spy.calls["matmul"] == len(chunk_list) * per_chunk
    filled = any(p != (0, 0) for p in pads) or group_major(per_chunk, ks, d)
    assert len(spy.fills) == (len(chunk_list) if filled else 0)
    if filled:  # each worker fills its own slab buffer
        assert all(len(value) == 2 and value[1] is not None for _, value in spy.states)
    assert_conv_gather(spy, x, spy.calls["matmul"], take, d[-1] > 1 or ks[-1] == 1,
                       len(chunk_list), filled)
    blas.assert_restored()


SMALL_PER = (1, 2, 3, 10**6)  # rows (cells) per small matmul; 10**6: more than any chunk


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("per", SMALL_PER)
@pytest.mark.parametrize("spatial,cin,filters,ks,s,padding,d,groups", CONV_CASES)
def test_conv_small_matmul_stacks(spatial, cin, filters, ks, s, padding, d, groups, per,
                                  data_format, dtype, monkeypatch, split_spy, blas):
    """On worker threads with small-matrix kernels (forced on here, whatever this CPU's
    OpenBLAS core), each chunk's matmul is a stack of matmuls of ``per`` rows (channels_last)
    or output cells (channels_first) plus one of the rows left over, groups unmerged
    (each written into its slice of the filters): the same numbers as the loop reference."""
    spy, batch, rank = split_spy, SPLIT_BATCH, len(spatial)
    ks, s, d, out, _ = conv_geometry(spatial, ks, s, padding, d)
    first = data_format == "channels_first"
    monkeypatch.setattr(parallel, "small_gemm", lambda: True)
    monkeypatch.setattr(engine, "MIN_GROUP_FILTERS", 0)
    fg, kc = filters // groups, math.prod(ks) * (cin // groups)
    # SMALL_MACS // (KC * fg) == per; channels_first: at most SMALL_ROWS_FIRST cells
    monkeypatch.setattr(engine, "SMALL_MACS", per * kc * fg + kc * fg - 1)
    monkeypatch.setattr(engine, "SMALL_ROWS_FIRST", per if first else 1)
    monkeypatch.setattr(engine, "SMALL_ROW_STEP", 1)
    item = np.dtype(dtype).itemsize
    row = math.prod(out[1:]) * kc * item
    monkeypatch.setattr(engine, "SPLIT_BYTES", 2 * out[0] * row)  # two samples per chunk
    rng = np.random.default_rng(63)
    x = randn(rng, (batch, *spatial, cin), dtype)
    weights = [randn(rng, ks + (cin // groups, filters), dtype), randn(rng, (filters,), dtype)]
    layer = getattr(convviz, f"Conv{rank}D")(
        filters, ks, strides=s, padding=padding, dilation_rate=d, groups=groups,
        data_format=data_format, dtype=np.dtype(dtype).name,
    )
    got = run(layer, x, weights, data_format)
    check(got, conv_ref(x, *weights, s, padding, d, groups), dtype)

    [chunk_list] = spy.row_chunks
    spy.assert_split(len(chunk_list))
    cells = math.prod(out)  # per sample
    expect = []  # the operand shapes of every chunk's matmuls, in the engine's order
    for bs, _ in chunk_list:
        nb = bs.stop - bs.start
        rows = cells if first else nb * cells
        full = rows - rows % per if per < rows else 0
        for _ in range(groups):
            if first and full:
                expect.append(((fg, kc), (nb, full // per, kc, per), (nb, full // per, fg, per)))
            elif full:
                expect.append(((full // per, per, kc), (kc, fg), (full // per, per, fg)))
            if first and full < rows:
                expect.append(((fg, kc), (nb, kc, rows - full), (nb, fg, rows - full)))
            elif full < rows:
                expect.append(((rows - full, kc), (kc, fg), (rows - full, fg)))
    assert sorted(spy.matmul_shapes) == sorted(expect)  # workers interleave their chunks
    blas.assert_restored()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per", SMALL_PER)
@pytest.mark.parametrize("cls,spatial,cin,filters,ks,s,padding,op,d,path", TRANSPOSE_CASES)
def test_conv_transpose_small_matmul_stacks(cls, spatial, cin, filters, ks, s, padding, op, d,
                                            path, per, dtype, monkeypatch, split_spy, blas):
    """channels_first on worker threads with small-matrix kernels (forced on): ``W^T``'s
    rows (taps x filters) in stacks of ``per`` plus one of the rows left over, multiplied
    by every sample of the chunk; channels_last keeps one matmul per chunk."""
    spy, rank, batch = split_spy, len(spatial), SPLIT_BATCH
    ks, s, d = as_tuple(ks, rank), as_tuple(s, rank), as_tuple(d, rank)
    ops = (None,) * rank if op is None else as_tuple(op, rank)
    out = tuple(conv_transpose_out_len(*a, padding, o) for a, o in zip(zip(spatial, ks, s, d), ops))
    monkeypatch.setattr(parallel, "small_gemm", lambda: True)
    n_cells, rows = math.prod(spatial), math.prod(ks) * filters
    monkeypatch.setattr(engine, "SMALL_MACS", per * cin * n_cells + cin * n_cells - 1)
    monkeypatch.setattr(engine, "SMALL_ROW_STEP", 1)
    per_sample = (n_cells * math.prod(ks) + (0 if path == "tiled" else math.prod(out)))
    monkeypatch.setattr(engine, "SPLIT_BYTES", 2 * per_sample * filters
                        * np.dtype(dtype).itemsize)  # two samples per chunk
    check_conv_transpose_layer(cls, batch, spatial, cin, filters, ks, s, padding, op, d, out,
                               dtype, 65, "channels_first")
    [(_, batch_chunks)] = spy.chunks
    spy.assert_split(len(batch_chunks))
    full = rows - rows % per if per < rows else 0
    expect = []
    for bs in batch_chunks:
        nb = bs.stop - bs.start
        if full:
            expect.append(((full // per, per, cin), (nb, 1, cin, n_cells),
                           (nb, full // per, per, n_cells)))
        if full < rows:
            expect.append(((rows - full, cin), (nb, cin, n_cells), (nb, rows - full, n_cells)))
    assert sorted(spy.matmul_shapes) == sorted(expect)
    blas.assert_restored()


def test_small_rows_are_whole_steps_within_the_limits(monkeypatch):
    """The most rows within SMALL_MACS multiply-adds and the cap, in steps of
    SMALL_ROW_STEP; 0 (one matmul) when not small or when not even one step fits."""
    monkeypatch.setattr(engine, "SMALL_MACS", 1000)
    monkeypatch.setattr(engine, "SMALL_ROW_STEP", 8)
    assert engine._small_rows(10, True) == 96  # 100 rows fit: 12 steps of 8
    assert engine._small_rows(10, True, 20) == 16
    assert engine._small_rows(10, True, 7) == 0
    assert engine._small_rows(126, True) == 0  # 7 rows fit
    assert engine._small_rows(125, True) == 8
    assert engine._small_rows(10, False) == 0
    assert engine._small_rows(0, True) == 1000  # no multiply-adds: SMALL_MACS rows


def test_conv_small_matmuls_need_worker_threads(monkeypatch, spy):
    """Small matmuls are single-threaded: on the sequential path (BLAS on all its threads)
    every chunk stays one matmul, even where ``small_gemm`` holds."""
    monkeypatch.setattr(parallel, "small_gemm", lambda: True)
    monkeypatch.setattr(engine, "SMALL_MACS", 1)
    monkeypatch.setattr(engine, "GEMM_ROWS", 8)
    check_conv_layer(3, (7, 6), 3, 4, (3, 3), (1, 1), "same", (1, 1), 1, np.float32, 64)
    [chunk_list] = spy.row_chunks
    assert len(chunk_list) > 1
    assert all(len(left) == 2 for left, _, _ in spy.matmul_shapes)
    assert len(spy.matmul_shapes) == len(chunk_list)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("pads", [((-1, 2), (2, -3)), ((0, 0), (0, 0)), ((4, 3), (0, 2))])
def test_conv_direct_split_pads_and_crops(pads, threads, monkeypatch, split_spy, blas):
    """Crops, no pads, slabs of padding only; one output row per chunk on 2 or 3 threads."""
    monkeypatch.setattr(parallel, "THREADS", threads)
    monkeypatch.setattr(engine, "SPLIT_BYTES", 1)
    monkeypatch.setattr(engine, "MIN_GROUP_FILTERS", 0)
    rng = np.random.default_rng(61)
    x = randn(rng, (3, 9, 8, 4), np.float64)
    kernel, bias = randn(rng, (2, 3, 2, 4), np.float64), randn(rng, (4,), np.float64)
    got = engine.conv(x, kernel, (1, 2), pads, (1, 1), groups=2, bias=bias)
    want = conv_ref(pad_or_crop(x, pads), kernel, bias, (1, 2), "valid", 1, 2)
    check(got, want, np.float64)
    [chunk_list] = split_spy.row_chunks
    assert chunk_list == expected_row_chunks(3, want.shape[1], 1, False)
    split_spy.assert_split(len(chunk_list))
    assert split_spy.calls["matmul"] == 2 * len(chunk_list)
    blas.assert_restored()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gemm_rows", [1, 5, 7])
@pytest.mark.parametrize("cls,spatial,cin,filters,padding", POINTWISE_CASES)
def test_pointwise_conv_split(cls, spatial, cin, filters, padding, gemm_rows, dtype,
                              monkeypatch, split_spy, blas):
    """The 1x1 path still chunks by GEMM_ROWS, but runs the chunks on the pool."""
    monkeypatch.setattr(engine, "GEMM_ROWS", gemm_rows)
    monkeypatch.setattr(engine, "SPLIT_BYTES", 10**9)  # plays no part here
    rng = np.random.default_rng(62)
    x = randn(rng, (3, *spatial, cin), dtype)
    weights = [randn(rng, (1,) * len(spatial) + (cin, filters), dtype),
               randn(rng, (filters,), dtype)]
    layer = getattr(convviz, cls)(filters, 1, padding=padding, dtype=np.dtype(dtype).name)
    check(run(layer, x, weights), conv_ref(x, *weights, 1, padding), dtype)
    cells = 3 * math.prod(spatial)
    assert split_spy.row_chunks == []  # the pointwise path, not im2col
    [(total, slices)] = split_spy.chunks
    assert total == cells
    assert_even_chunks([sl.stop - sl.start for sl in slices], cells, 1, gemm_rows)
    assert split_spy.tasks == [len(slices)] and len(slices) > 1
    assert split_spy.states == []  # no scratch buffers to allocate
    assert split_spy.threads and all(n.startswith("convviz") for n in split_spy.threads)
    assert split_spy.calls["matmul"] == len(slices)
    assert split_spy.blas_threads == [1] * len(slices)
    blas.assert_restored()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_chunk,step", [(1, 1), (2, 2), (4, 3)])  # 4 of 5: 3 + 2
@pytest.mark.parametrize("cls,spatial,cin,filters,ks,s,padding,op,d,path", TRANSPOSE_CASES)
def test_conv_transpose_layer_split(cls, spatial, cin, filters, ks, s, padding, op, d, path,
                                    per_chunk, step, dtype, monkeypatch, split_spy, blas):
    """Batch chunks of about SPLIT_BYTES (columns, plus the output when scattered) on the
    pool; the scatter-add runs inside each worker, not on a parallel.run of its own."""
    spy, rank, batch = split_spy, len(spatial), SPLIT_BATCH
    ks, s, d = as_tuple(ks, rank), as_tuple(s, rank), as_tuple(d, rank)
    ops = (None,) * rank if op is None else as_tuple(op, rank)
    out = tuple(conv_transpose_out_len(*a, padding, o) for a, o in zip(zip(spatial, ks, s, d), ops))
    n_cells, K = math.prod(spatial), math.prod(ks)
    per_sample = (n_cells * K + (0 if path == "tiled" else math.prod(out))) * filters
    per_sample *= np.dtype(dtype).itemsize
    monkeypatch.setattr(engine, "SPLIT_BYTES", per_chunk * per_sample)
    check_conv_transpose_layer(cls, batch, spatial, cin, filters, ks, s, padding, op, d, out,
                               dtype, 63)
    [(total, batch_chunks)] = spy.chunks
    assert total == batch
    assert batch_chunks == [slice(b, min(b + step, batch)) for b in range(0, batch, step)]
    assert_even_chunks([bs.stop - bs.start for bs in batch_chunks], batch, per_sample,
                       per_chunk * per_sample)
    spy.assert_split(len(batch_chunks))
    assert spy.calls["matmul"] == len(batch_chunks)
    if path == "tiled":
        assert spy.calls["copyto"] == len(batch_chunks)
    blas.assert_restored()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("crops,out_shape", TRANSPOSE_CROPS)
def test_conv_transpose_direct_crops_split(crops, out_shape, use_bias, dtype, monkeypatch,
                                           split_spy, blas):
    batch = 5
    x, kernel, bias, want = crops_case(crops, out_shape, use_bias, dtype, batch)
    per_sample = (12 * 6 + math.prod(out_shape)) * 2 * np.dtype(dtype).itemsize
    monkeypatch.setattr(engine, "SPLIT_BYTES", 2 * per_sample)
    got = engine.conv_transpose(x, kernel, (2, 3), (1, 1), crops, out_shape, bias=bias)
    check(got, want, dtype)
    [(_, batch_chunks)] = split_spy.chunks
    assert batch_chunks == [slice(0, 2), slice(2, 4), slice(4, 5)]
    split_spy.assert_split(3)
    blas.assert_restored()


# ---------------------------------------- one call of each matmul path, several chunks

MATMUL_PATHS = ["conv", "pointwise", "transpose-tiled", "transpose-scatter"]


def matmul_case(name, dtype=np.float32, batch=3):
    """``(call, want)``: a call of one matmul path of the engine on ``batch`` samples, and its
    reference.  With ``GEMM_ROWS = 12`` and ``TRANSPOSE_BYTES = 1``, the sequential path
    takes chunks of 2 output rows (conv), 12 cells (pointwise), 1 sample (tiled) or THREADS
    samples (scatter); with ``SPLIT_BYTES = 1`` the split path takes chunks of 1 output
    row (conv), 12 cells (pointwise) or 1 sample (transposes)."""
    rng = np.random.default_rng(64)
    if name in ("conv", "pointwise"):
        k = (3, 3) if name == "conv" else (1, 1)
        x, kernel = randn(rng, (batch, 7, 6, 3), dtype), randn(rng, (*k, 3, 4), dtype)
        bias = randn(rng, (4,), dtype)
        pads = ((1, 1), (1, 1)) if name == "conv" else ((0, 0), (0, 0))
        want = conv_ref(x, kernel, bias, 1, "same")
        return lambda: engine.conv(x, kernel, (1, 1), pads, (1, 1), bias=bias), want
    x, bias = randn(rng, (batch, 5, 4, 3), dtype), randn(rng, (2,), dtype)
    if name == "transpose-tiled":
        kernel = randn(rng, (2, 2, 2, 3), dtype)
        want = conv_transpose_ref(x, kernel, bias, 2, "valid")
        return lambda: engine.conv_transpose(x, kernel, (2, 2), (1, 1), (0, 0), (10, 8),
                                             bias=bias), want
    kernel = randn(rng, (3, 3, 2, 3), dtype)
    want = conv_transpose_ref(x, kernel, bias, 2, "valid", (0, 0))[:, 1:11, 1:9]
    return lambda: engine.conv_transpose(x, kernel, (2, 2), (1, 1), (1, 1), (10, 8),
                                         bias=bias), want


#: path -> number of chunks in split mode (constants of matmul_case)
SPLIT_TASKS = {"conv": 21, "pointwise": 11, "transpose-tiled": 3, "transpose-scatter": 3}


@pytest.mark.parametrize("path", MATMUL_PATHS)
@pytest.mark.parametrize("reason", ["BLAS_SPLIT-off", "one-thread", "no-openblas"])
def test_no_split_leaves_blas_alone(reason, path, monkeypatch, blas):
    """Without BLAS_SPLIT, with THREADS == 1 or without OpenBLAS: the sequential path
    (chunks as GEMM_ROWS / TRANSPOSE_BYTES say, not SPLIT_BYTES), every matmul with the
    thread count found, which nothing sets."""
    threads = 1 if reason == "one-thread" else 2
    monkeypatch.setattr(parallel, "BLAS_SPLIT", reason != "BLAS_SPLIT-off")
    monkeypatch.setattr(parallel, "THREADS", threads)
    monkeypatch.setattr(engine, "GEMM_ROWS", 12)
    monkeypatch.setattr(engine, "TRANSPOSE_BYTES", 1)
    monkeypatch.setattr(engine, "SPLIT_BYTES", 1)
    spy = Spy(monkeypatch)  # made before _BLAS is hidden: it still reads the real count
    if reason == "no-openblas":
        monkeypatch.setattr(parallel, "_BLAS", False)  # as if parallel.blas_api() had found nothing
    assert not parallel.can_split()
    call, want = matmul_case(path)
    check(call(), want, np.float32)
    assert blas.sets == [] and blas.get() == blas.start
    assert spy.calls["matmul"] > 1
    assert spy.blas_threads == [blas.start] * spy.calls["matmul"]
    assert spy.states == []  # no worker allocated chunk buffers
    if path == "conv":
        assert spy.row_chunks == [expected_row_chunks(3, 7, 2, False)]
    elif path == "pointwise":
        assert spy.calls["matmul"] == 11
    else:
        per = 1 if path == "transpose-tiled" else threads
        [(_, batch_chunks)] = spy.chunks
        assert batch_chunks == [slice(b, min(b + per, 3)) for b in range(0, 3, per)]
    if path == "transpose-scatter":  # the scatter-add of each chunk on THREADS threads
        assert spy.tasks == [min(bs.stop - bs.start, threads) for bs in batch_chunks]
    else:
        assert spy.tasks == []


@pytest.mark.parametrize("path", MATMUL_PATHS)
def test_split_single_chunk_leaves_blas_alone(path, monkeypatch, split_spy, blas):
    """A call that is one chunk (SPLIT_BYTES and GEMM_ROWS huge), or a transposed conv of one
    sample, runs on the calling thread with BLAS's threads untouched."""
    monkeypatch.setattr(engine, "SPLIT_BYTES", 10**9)
    monkeypatch.setattr(engine, "GEMM_ROWS", 10**6)
    call, want = matmul_case(path)
    check(call(), want, np.float32)
    assert split_spy.calls["matmul"] == 1
    if path.startswith("transpose"):  # B == 1: never split, however small SPLIT_BYTES
        monkeypatch.setattr(engine, "SPLIT_BYTES", 1)
        call, want = matmul_case(path, batch=1)
        check(call(), want, np.float32)
        assert split_spy.calls["matmul"] == 2
    assert split_spy.states == []  # no chunks on workers
    if path == "transpose-scatter":  # the old path: the scatter-add on THREADS threads
        assert split_spy.tasks == [2, 1]
    else:
        assert split_spy.tasks == [] and not split_spy.pool_used
    assert split_spy.blas_threads == [blas.start] * split_spy.calls["matmul"]
    assert blas.sets == [] and blas.get() == blas.start


@pytest.mark.parametrize("fail", [1, 2, "last"])
@pytest.mark.parametrize("path", MATMUL_PATHS)
def test_split_restores_blas_threads_on_error(path, fail, monkeypatch, split_spy, blas):
    """A task raising inside the pool: the error reaches the caller, BLAS's thread count is
    back to what it was, and the next call splits (and restores) again."""
    monkeypatch.setattr(engine, "GEMM_ROWS", 12)
    monkeypatch.setattr(engine, "SPLIT_BYTES", 1)
    call, want = matmul_case(path)
    split_spy.fail_matmul = SPLIT_TASKS[path] if fail == "last" else fail
    with pytest.raises(ForcedError):
        call()
    blas.assert_restored()
    split_spy.fail_matmul = None
    split_spy.blas_threads.clear()
    split_spy.calls.clear()
    check(call(), want, np.float32)
    assert split_spy.calls["matmul"] == SPLIT_TASKS[path]
    assert split_spy.blas_threads == [1] * SPLIT_TASKS[path]
    blas.assert_restored(splits=2)


def test_split_concurrent_calls(monkeypatch, blas):
    """Two Python threads making split calls at the same time: right results, and BLAS's
    thread count back when both are done."""
    monkeypatch.setattr(parallel, "BLAS_SPLIT", True)
    monkeypatch.setattr(parallel, "THREADS", 2)
    monkeypatch.setattr(engine, "GEMM_ROWS", 12)
    monkeypatch.setattr(engine, "SPLIT_BYTES", 1)
    cases = {path: matmul_case(path) for path in MATMUL_PATHS}
    barrier, errors = threading.Barrier(2), []

    def caller(paths):
        try:
            barrier.wait(10)
            for _ in range(3):
                for path in paths:
                    call, want = cases[path]
                    check(call(), want, np.float32)
        except BaseException as e:  # noqa: BLE001 - reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=caller, args=(MATMUL_PATHS[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    assert blas.get() == blas.start and parallel._BLAS_USERS == 0
    assert blas.sets and blas.sets[-1] == blas.start
    assert blas.sets[::2] == [1] * len(blas.sets[::2])  # set to 1, restored, set to 1, ...
    assert blas.sets[1::2] == [blas.start] * len(blas.sets[1::2])


@pytest.mark.parametrize("path", ["conv", "transpose-tiled", "transpose-scatter"])
def test_split_declined_when_worker_buffers_would_exceed_chunk_bytes(path, monkeypatch,
                                                                      split_spy, blas):
    """Every worker has a column buffer of its own of at least one output row (conv) or one
    sample (transposed): when THREADS of those exceed CHUNK_BYTES the call runs its chunks
    in turn instead, so the peak memory stays what the sequential path needs."""
    monkeypatch.setattr(engine, "SPLIT_BYTES", 1)
    call, want = matmul_case(path)
    # conv: a row is 6 cells x 27 columns; transposed: a sample is 20 cells x (4 taps, or
    # 9) x 2 filters; all float32.  One byte less than THREADS of them:
    unit = {"conv": 6 * 27, "transpose-tiled": 20 * 4 * 2, "transpose-scatter": 20 * 9 * 2}
    monkeypatch.setattr(engine, "CHUNK_BYTES", 2 * unit[path] * 4 - 1)
    check(call(), want, np.float32)
    assert split_spy.states == [] and blas.sets == []  # in turn, BLAS untouched
    assert split_spy.blas_threads == [blas.start] * split_spy.calls["matmul"]
    monkeypatch.setattr(engine, "CHUNK_BYTES", 2 * unit[path] * 4)  # exactly fits: split
    check(call(), want, np.float32)
    assert split_spy.states and blas.sets


FUSED_FIRST = [
    # layer, its weights' shapes (for 4 channels in), the engine function, its flag
    (lambda: convviz.Conv2D(5, 3, padding="same", data_format="channels_first"),
     [(3, 3, 4, 5), (5,)], "conv", "out_first"),
    (lambda: convviz.Conv2D(5, 1, data_format="channels_first"),
     [(1, 1, 4, 5), (5,)], "conv", "out_first"),
    (lambda: convviz.DepthwiseConv2D(3, depth_multiplier=2, data_format="channels_first"),
     [(3, 3, 4, 2), (8,)], "depthwise_conv", "first"),
    (lambda: convviz.SeparableConv2D(3, 2, padding="same", data_format="channels_first"),
     [(2, 2, 4, 1), (1, 1, 4, 3), (3,)], "depthwise_conv", "first"),
    (lambda: convviz.Conv2DTranspose(3, 3, strides=2, padding="same",
                                     data_format="channels_first"),
     [(3, 3, 3, 4), (3,)], "conv_transpose", "first"),
]


@pytest.mark.parametrize("make,shapes,fn,flag", FUSED_FIRST)
def test_channels_first_input_is_never_transposed(make, shapes, fn, flag, monkeypatch):
    """The layers hand the engine the channels_first input's own memory (no transposed
    copy) and take its channels_first output as it is; the numbers are channels_last's."""
    seen = []
    real = getattr(engine, fn)

    def spy(x, *args, **kwargs):
        seen.append((x, kwargs.get(flag)))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(engine, fn, spy)
    rng = np.random.default_rng(23)
    x = randn(rng, (2, 4, 7, 6))  # (B, C, H, W)
    weights = [randn(rng, s) for s in shapes]
    layer = make()
    layer.build(x.shape)
    layer.set_weights(weights)
    got = np.asarray(layer(x))
    assert seen and seen[0][1] is True and np.shares_memory(seen[0][0], x)
    config = {**layer.get_config(), "data_format": "channels_last", "name": "cl"}
    twin = type(layer).from_config(config)
    x_last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    twin.build(x_last.shape)
    twin.set_weights(weights)
    want = np.moveaxis(np.asarray(twin(x_last)), -1, 1)
    assert got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

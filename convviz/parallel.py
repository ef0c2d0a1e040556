"""The worker threads of the engine's kernels, and the BLAS thread count while they run.

:func:`run` runs a list of tasks on a shared pool of :data:`THREADS` threads (NumPy ufuncs,
copies and BLAS calls release the GIL), each worker taking the next task when it is free.
:func:`matmul_chunks` runs the chunks of a matmul-bound kernel either there, each worker
calling a single-threaded BLAS (:data:`BLAS_SPLIT`, :func:`blas_split`), or one after
another on the calling thread with BLAS on all its threads. Only NumPy's bundled OpenBLAS
can be told its thread count (:func:`blas_api`); with other builds (MKL, Accelerate, a
system OpenBLAS) :func:`can_split` is False and the chunks run in turn.  Which kernel set
that OpenBLAS chose for this CPU (:func:`blas_core`) decides whether the engine stacks
its single-threaded matmuls as small ones (:func:`small_gemm`).
The numeric kernels themselves are :mod:`convviz.engine`.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

#: Worker threads for the memory-bound kernels and, with :data:`BLAS_SPLIT`, for the
#: chunks of the matmul-bound ones (NumPy ufuncs, copies and BLAS calls release the GIL).
THREADS = max(1, min(os.cpu_count() or 1, 8))

_POOL: ThreadPoolExecutor | None = None


def run(fn, tasks, state=None) -> None:
    """Run ``fn(*task)`` for every task, on :data:`THREADS` threads when worth it.

    With ``state``, each worker first calls ``state()`` once (e.g. to allocate its own
    scratch buffers) and then runs ``fn(*task, *state_value)``.  If a task raises, no
    new task starts, the running ones finish, and the error of the first worker (in
    submission order) that failed is raised here.
    """
    global _POOL
    tasks = list(tasks)
    n = min(THREADS, len(tasks))
    pending, lock, failed = iter(tasks), threading.Lock(), []

    def worker():
        # Each worker takes the next task when it is free: a worker slowed down (by a
        # longer task, or by the host taking its core away) gets fewer of them.  After
        # a task fails, no worker starts another one.
        try:
            extra = () if state is None else tuple(state())
            while True:
                with lock:
                    task = None if failed else next(pending, None)
                if task is None:
                    return
                fn(*task, *extra)
        except BaseException:
            failed.append(True)
            raise

    if n < 2:
        if tasks:
            worker()
        return
    with _BLAS_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(THREADS, thread_name_prefix="convviz")
    futures = [_POOL.submit(worker) for _ in range(n)]
    try:
        wait(futures)  # every worker has stopped before the first error is raised
    except BaseException:  # e.g. KeyboardInterrupt: start no further task
        failed.append(True)
        raise
    for f in futures:
        f.result()


# ----------------------------------------------------------------------------- BLAS threads
#: Run the chunks of a convolution on :data:`THREADS` worker threads, each calling a
#: single-threaded BLAS, instead of one chunk after another with a multi-threaded BLAS.
#: The im2col gathers then run in parallel too, and no BLAS thread is woken (or left
#: spinning) per chunk; measured on the 2-vCPU benchmark VM, a multi-threaded OpenBLAS
#: on these narrow (about 4096 x 432 x 32) matmuls sometimes ran at half the speed of a
#: single thread.  Only possible when NumPy's OpenBLAS is found (see :func:`blas_api`).
BLAS_SPLIT = True

_BLAS: tuple | bool | None = None  # (get, set) thread-count functions, False: not found
_BLAS_LOCK = threading.Lock()
_BLAS_USERS = 0  # calls currently running with BLAS set to one thread
_BLAS_SAVED = 1  # the thread count to restore when the last of them finishes


def blas_api():
    """The ``(get_num_threads, set_num_threads)`` functions of NumPy's OpenBLAS, or False.

    NumPy's wheels bundle OpenBLAS (``numpy.libs/libscipy_openblas*``, symbols with a
    ``scipy_`` prefix and ``64_`` suffix); other builds (MKL, Accelerate, a system
    OpenBLAS) are left alone: the convolutions then use BLAS's own threads.
    """
    global _BLAS
    with _BLAS_LOCK:
        if _BLAS is None:
            _BLAS = _find_blas()
    return _BLAS


def _openblas(function: str):
    """NumPy's OpenBLAS's ``openblas_<function>`` (whatever its symbol prefix), or None."""
    # Only a library this process has already loaded (RTLD_NOLOAD): a stray copy in
    # numpy.libs would have its own thread pool, and setting it would not affect NumPy.
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 0)
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path, mode=mode) if mode else ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_{}64_", "openblas_{}64_", "openblas_{}"):
            fn = getattr(lib, name.format(function), None)
            if fn is not None:
                return fn
    return None


def _find_blas():
    get, put = _openblas("get_num_threads"), _openblas("set_num_threads")
    if get is None or put is None:
        return False
    get.restype, get.argtypes = ctypes.c_int, []
    put.restype, put.argtypes = None, [ctypes.c_int]
    return (get, put)


#: Stack the narrow matmuls of a convolution as many small ones (:func:`small_gemm`).
SMALL_GEMM = True

#: The OpenBLAS kernel sets (``openblas_get_corename``, lower case) with "small matrix"
#: kernels for float32 and float64: AVX-512 ones, which OpenBLAS also picks for AMD Zen 4.
#: A matmul of at most 100^3 multiply-adds then reads its operands where they lie instead
#: of packing them into buffers first (``SMALL_MATRIX_OPT``, on in NumPy's x86-64 wheels).
SMALL_GEMM_CORES = ("skylakex", "cooperlake", "sapphirerapids")

_CORE: str | None = None


def blas_core() -> str:
    """The kernel set NumPy's OpenBLAS chose for this CPU, lower case ("" if unknown)."""
    global _CORE
    if _CORE is None:
        fn = _openblas("get_corename")
        if fn is None:
            _CORE = ""
        else:
            fn.restype, fn.argtypes = ctypes.c_char_p, []
            _CORE = (fn() or b"").decode("ascii", "replace").strip().lower()
    return _CORE


def small_gemm() -> bool:
    """Whether a stack of small single-threaded matmuls (at most
    :data:`convviz.engine.SMALL_MACS` multiply-adds each) beats one large one: with
    :data:`SMALL_GEMM` on, on an OpenBLAS core of :data:`SMALL_GEMM_CORES`."""
    return bool(SMALL_GEMM and blas_core() in SMALL_GEMM_CORES)


def can_split() -> bool:
    """Whether chunks of matmuls can run on worker threads with a single-threaded BLAS."""
    return bool(BLAS_SPLIT and THREADS > 1 and blas_api())


@contextlib.contextmanager
def blas_split(wanted: bool):
    """Yield True, with BLAS set to one thread until the block ends, when ``wanted`` and
    :func:`can_split`; else yield False and change nothing.  Nested and concurrent
    calls are counted: the last one to finish restores the count the first one found."""
    global _BLAS_USERS, _BLAS_SAVED
    api = blas_api() if wanted and can_split() else False
    if not api:
        yield False
        return
    get, put = api
    with _BLAS_LOCK:
        if _BLAS_USERS == 0:
            _BLAS_SAVED = get()
            put(1)
        _BLAS_USERS += 1
    try:
        yield True
    finally:
        with _BLAS_LOCK:
            _BLAS_USERS -= 1
            if _BLAS_USERS == 0:
                put(_BLAS_SAVED)


def on_workers(split: bool, chunks: int) -> bool:
    """Whether :func:`matmul_chunks` runs ``chunks`` chunks on worker threads, each with a
    single-threaded BLAS (else one after another, BLAS on all its threads)."""
    return bool(split and chunks > 1 and can_split())


def matmul_chunks(fn, tasks, state=None, split=True, **serial) -> None:
    """Run ``fn(*task, *state())`` for every chunk of a matmul-bound kernel.

    On :data:`THREADS` worker threads with BLAS on one thread (:func:`blas_split`) when
    ``split`` and :func:`can_split` allow it and there are several chunks; else one
    chunk after another on this thread, with one ``state()`` and the keyword arguments
    ``serial`` (e.g. to let the chunk use threads of its own).
    """
    tasks = list(tasks)
    with blas_split(on_workers(split, len(tasks))) as split_now:
        if split_now:
            run(fn, tasks, state)
        else:
            extra = () if state is None else tuple(state())
            for task in tasks:
                fn(*task, *extra, **serial)

"""The engine's runner (``convviz.parallel``): the worker pool and the BLAS thread count.

``blas_split`` sets NumPy's OpenBLAS to one thread while any caller is inside it, counting
nested and concurrent callers and restoring the count the first one found when the last
leaves, also on an exception; it declines (and changes nothing) when not wanted, without
``BLAS_SPLIT``, with one thread or without OpenBLAS.  ``run`` gives each worker its own
``state()``, raises a task's error, and starts no task after one failed.  The kernels that
run on them are tested in ``test_engine_paths.py``; the :func:`blas` fixture is in
``conftest.py`` (the tests that need OpenBLAS skip without it).
"""

from __future__ import annotations

import threading

import pytest

from convviz import parallel


class TaskError(RuntimeError):
    """Raised by the tasks (and blocks) of these tests."""


@pytest.fixture
def can_split(monkeypatch, blas):
    monkeypatch.setattr(parallel, "BLAS_SPLIT", True)
    monkeypatch.setattr(parallel, "THREADS", 2)
    assert parallel.can_split()
    return blas


@pytest.mark.parametrize("leaves_first", ["first-in", "second-in"])
def test_blas_split_overlapping_threads(leaves_first, can_split):
    """Two threads inside ``blas_split`` at once: BLAS goes to one thread when the first
    enters and back to the count it found only when the last one leaves."""
    blas = can_split
    names = ("a", "b")
    entered = {n: threading.Event() for n in names}
    go = {n: threading.Event() for n in names}
    left = {n: threading.Event() for n in names}
    seen = {}

    def user(name, after=None):
        if after is not None:
            after.wait(10)
        with parallel.blas_split(True) as split:
            seen[name] = (split, blas.get())
            entered[name].set()
            go[name].wait(10)
        seen[name + "-left"] = blas.get()
        left[name].set()

    a = threading.Thread(target=user, args=("a",))
    b = threading.Thread(target=user, args=("b", entered["a"]))  # enters after a
    a.start()
    b.start()
    try:
        assert entered["a"].wait(10) and entered["b"].wait(10)
        assert seen["a"] == seen["b"] == (True, 1)
        assert blas.sets == [1] and parallel._BLAS_USERS == 2  # set once, by the first
        first, last = ("a", "b") if leaves_first == "first-in" else ("b", "a")
        go[first].set()
        assert left[first].wait(10)
        assert seen[first + "-left"] == 1  # the other one is still inside
        assert blas.get() == 1 and blas.sets == [1] and parallel._BLAS_USERS == 1
        go[last].set()
        assert left[last].wait(10)
        assert seen[last + "-left"] == blas.start
    finally:
        for n in names:
            go[n].set()
        a.join(10)
        b.join(10)
    blas.assert_restored()


def test_blas_split_nested_and_raising(can_split):
    """Nested in one thread, the inner block raising: the count stays at one thread until
    the outer block ends, then is restored; the counter of users is back to zero."""
    blas = can_split
    with parallel.blas_split(True) as outer:
        assert outer and blas.get() == 1
        with pytest.raises(TaskError), parallel.blas_split(True) as inner:
            assert inner and blas.get() == 1 and parallel._BLAS_USERS == 2
            raise TaskError
        assert blas.get() == 1 and parallel._BLAS_USERS == 1
    blas.assert_restored()
    with pytest.raises(TaskError), parallel.blas_split(True):
        raise TaskError
    blas.assert_restored(splits=2)


@pytest.mark.parametrize("reason", ["not-wanted", "BLAS_SPLIT-off", "one-thread", "no-openblas"])
def test_blas_split_declined(reason, monkeypatch, can_split):
    blas = can_split
    wanted = reason != "not-wanted"
    if reason == "BLAS_SPLIT-off":
        monkeypatch.setattr(parallel, "BLAS_SPLIT", False)
    elif reason == "one-thread":
        monkeypatch.setattr(parallel, "THREADS", 1)
    elif reason == "no-openblas":
        monkeypatch.setattr(parallel, "_BLAS", False)
    with parallel.blas_split(wanted) as split:
        assert split is False
        assert blas.get() == blas.start and parallel._BLAS_USERS == 0
    assert blas.sets == [] and blas.get() == blas.start


@pytest.mark.parametrize("threads,ntasks", [(1, 5), (2, 1), (2, 0), (2, 7), (3, 8)])
def test_parallel_state_per_worker(threads, ntasks, monkeypatch):
    """Each worker calls ``state()`` once and gets its values after every task's own
    arguments; every task runs once; one worker runs on the calling thread."""
    monkeypatch.setattr(parallel, "THREADS", threads)
    lock, states, ran = threading.Lock(), [], []

    def state():
        mine = []
        with lock:
            states.append((threading.current_thread().name, mine))
        return mine, "tag"

    def fn(i, square, mine, tag):
        assert tag == "tag" and square == i * i
        mine.append(i)
        with lock:
            ran.append(i)

    parallel.run(fn, [(i, i * i) for i in range(ntasks)], state)
    assert sorted(ran) == list(range(ntasks))
    workers = min(threads, ntasks)
    assert len(states) == workers
    assert sorted(i for _, mine in states for i in mine) == list(range(ntasks))
    here = threading.current_thread().name
    if workers == 1:
        assert states[0][0] == here
    else:
        assert all(name.startswith("convviz") for name, _ in states)


def test_parallel_raises_the_task_error(monkeypatch):
    monkeypatch.setattr(parallel, "THREADS", 2)

    def fn(i):
        if i == 3:
            raise TaskError(i)

    with pytest.raises(TaskError):
        parallel.run(fn, [(i,) for i in range(6)])


@pytest.mark.parametrize("trial", range(3))
@pytest.mark.parametrize("threads", [2, 3])
def test_parallel_stops_starting_tasks_after_a_failure(threads, trial, monkeypatch):
    """After a task raises, no worker starts another one, and ``run`` returns only
    when every running task has finished: no task of a failed call runs after it
    returns (it would write into an output the caller has dropped, with the BLAS
    threads already restored)."""
    monkeypatch.setattr(parallel, "THREADS", threads)
    started, finished = [], []
    other, lock = threading.Event(), threading.Lock()

    def fn(i):
        with lock:
            started.append(i)
        try:
            if i == 0:  # fails while another worker runs its first task
                other.wait(2)
                raise TaskError(i)
            other.set()
            threading.Event().wait(0.2)
        finally:
            with lock:
                finished.append(i)

    with pytest.raises(TaskError):
        parallel.run(fn, [(i,) for i in range(50)])
    done = sorted(started)
    assert sorted(finished) == done  # every task that started has finished
    threading.Event().wait(0.3)
    assert sorted(started) == done  # and nothing started after the call returned
    assert set(done) <= set(range(threads))  # only the workers' first tasks ever ran


@pytest.mark.parametrize("core,switch,expect", [
    ("skylakex", True, True), ("cooperlake", True, True), ("sapphirerapids", True, True),
    ("skylakex", False, False), ("haswell", True, False), ("zen", True, False),
    ("", True, False),
])
def test_small_gemm_only_on_small_matrix_cores(core, switch, expect, monkeypatch):
    monkeypatch.setattr(parallel, "_CORE", core)
    monkeypatch.setattr(parallel, "SMALL_GEMM", switch)
    assert parallel.small_gemm() is expect


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].split() for line in f
                         if line.startswith("flags")), [])
    except OSError:
        return []


@pytest.mark.skipif("avx2" not in _cpu_flags(), reason="needs an x86-64 CPU with AVX2")
def test_blas_core_reads_the_core_openblas_runs(blas):
    """OpenBLAS takes the kernel set named by OPENBLAS_CORETYPE when the CPU can run it:
    in a fresh interpreter told to use Haswell's (AVX2), ``blas_core`` reports it and the
    small-matrix stacks are off."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OPENBLAS_CORETYPE="Haswell")
    out = subprocess.run(
        [sys.executable, "-c", "from convviz import parallel; "
         "print(parallel.blas_core(), parallel.small_gemm())"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()
    assert out == ["haswell", "False"]

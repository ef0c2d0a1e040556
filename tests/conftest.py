"""Fixtures shared by the tests: the pictures' window cells (tests/ and tests/app), NumPy's
OpenBLAS with its thread count recorded (the engine's and the runner's tests), and the
real-browser tests' chromium and ``streamlit run app.py`` server.

The browser fixtures need Debian's ``chromium`` (``apt-get install chromium``) at
/usr/bin/chromium; Playwright's own browser download is not used. Without it the browser
tests skip, unless CONVVIZ_REQUIRE_BROWSER=1 (as in CI), where a missing browser is a
failure. (One conftest for all: with ``--doctest-modules`` two files named conftest.py in
plain test folders would clash.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from convviz import parallel
from convviz.viz import scene as sc


@pytest.fixture
def window_cells():
    """``cells(scene, i)``: canvas cells ``(x, y)`` of gather step ``i``'s window on every
    input panel of ``scene``, computed from the trace alone (not from the scene's frames)."""

    def cells(scene, i):
        trace = scene.sample.trace
        st_ = trace.step(i)
        keep = st_.weight != 0
        # the input grid starts at the lowest coordinate drawn: padding (lo > 0) or 0 (crop)
        grid = st_.coords[keep] + np.maximum(np.array([a.lo for a in trace.axes]), 0)
        out = set()
        for p in scene.panels:
            if p.kind == "input":
                x, y = sc.plane(grid, p.shape)
                out |= set(zip((x + p.origin[0]).tolist(), (y + p.origin[1]).tolist()))
        return out

    return cells


# ------------------------------------------------------------------ NumPy's OpenBLAS
#: OpenBLAS thread count set before every split test: neither 1 nor the usual default, so
#: the count a matmul sees and the count restored afterwards can only be what they should.
START_THREADS = 3


@pytest.fixture
def blas(monkeypatch):
    """NumPy's OpenBLAS, set to :data:`START_THREADS` threads for the test (the count found
    is put back afterwards), with every ``set_num_threads`` the engine makes recorded in
    ``blas.sets``; ``blas.assert_restored(splits)`` checks that ``splits`` split calls each
    set it to one thread and back, and that it is back now.  Skips the test when
    ``parallel.blas_api()`` finds no OpenBLAS."""
    api = parallel.blas_api()
    if not api:
        pytest.skip("parallel.blas_api() found no bundled OpenBLAS in this NumPy: "
                    "the split (single-threaded BLAS) path cannot run here")
    get, put = api
    found = get()
    sets = []

    def recording_put(n):
        sets.append(n)
        put(n)

    monkeypatch.setattr(parallel, "_BLAS", (get, recording_put))
    put(START_THREADS)
    start = get()

    def assert_restored(splits=1):
        assert get() == start
        assert sets == [1, start] * splits
        assert parallel._BLAS_USERS == 0

    try:
        yield SimpleNamespace(get=get, sets=sets, start=start, assert_restored=assert_restored)
    finally:
        put(found)


# ------------------------------------------------------------------ the browser tests
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 90  # seconds


def _skip_or_fail(reason: str):
    if os.environ.get("CONVVIZ_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (and CONVVIZ_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        _skip_or_fail(f"{CHROMIUM} not found: install Debian's browser with "
                      "`apt-get install chromium` to run the browser smoke test")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        _skip_or_fail(f"the playwright package is not importable: {exc}")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def server(request, tmp_path_factory, chromium_path) -> str:
    """Base URL of a fresh ``streamlit run app.py`` on 127.0.0.1; always terminated."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    log = open(log_path, "wb")  # closed by the finalizer
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true",
            "--server.address", "127.0.0.1",
            "--server.port", str(port),
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def stop():
        if proc.poll() is None:  # the whole process group: the server and its workers
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()

    request.addfinalizer(stop)

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                if response.status == 200:
                    return url
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"streamlit did not serve within {SERVER_START_TIMEOUT}s:\n"
                        f"{log_path.read_text()}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()

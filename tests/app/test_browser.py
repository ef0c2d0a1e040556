"""Real-browser smoke test: ``streamlit run app.py`` in a subprocess, every page in Chromium.

Needs Debian's ``chromium`` (``apt-get install chromium``) at /usr/bin/chromium; Playwright's
own browser download is not used. Without it the test skips, unless CONVVIZ_REQUIRE_BROWSER=1
(as in CI), where a missing browser is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
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
PAGE_TIMEOUT_MS = 60_000


def _page_specs():
    """``PAGE_SPECS`` from app.py, read without running the app."""
    spec = importlib.util.spec_from_file_location("convviz_app_entry", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PAGE_SPECS


# Every page answers at its own url path, Home (``/home``) included.
PAGES = [pytest.param(url_path, title, id=url_path) for _, title, url_path, _ in _page_specs()]


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
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
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


#: Pages whose charts are not grid heatmaps (a table, or the shape lab's staircase plot).
NO_CHART = {"shape-calculator", "shape-lab"}


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    page.locator("h1").first.wait_for(state="visible")
    return page


def _assert_clean(page, where):
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, (where, exceptions.all_inner_texts())
    assert page.get_by_text("Page not found").count() == 0, f"no page at {where}"


@pytest.mark.parametrize(("url_path", "title"), PAGES)
def test_page_renders_without_exception(server, browser, url_path, title, tmp_path):
    page = _open(browser, f"{server}/{url_path}")
    try:
        if url_path in NO_CHART:
            page.wait_for_selector('[data-testid="stDataFrame"]', state="visible")
        else:
            # A Plotly chart with its grid heatmap drawn (every panel is one heatmap).
            page.wait_for_selector(".js-plotly-plot .main-svg", state="visible")
            page.wait_for_function("document.querySelectorAll('.hm image').length >= 1")
        screenshot = tmp_path / f"{url_path or 'default'}.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 0
        _assert_clean(page, url_path)
    finally:
        page.close()


def test_deep_link_opens_the_same_state_through_the_router(server, browser):
    """A shared link (layer, arguments, step) works, and keeps the app's navigation."""
    page = _open(browser, f"{server}/convolution?layer=Conv1D&n0=9&padding=causal&step=4")
    try:
        page.wait_for_selector(".js-plotly-plot .main-svg", state="visible")
        _assert_clean(page, "deep link")
        nav = page.locator('[data-testid="stSidebarNav"]')
        assert nav.get_by_text("Transposed convolution").count() == 1  # router ran
        # the explain table's heading names the linked step (0-based, as in the URL)
        heading = page.locator("h3").filter(has_text="step 4 of 0..8: output (4)")
        assert heading.count() == 1
    finally:
        page.close()


def test_play_animates_and_keeps_the_grids(server, browser):
    page = _open(browser, f"{server}/convolution")
    try:
        page.wait_for_selector(".js-plotly-plot .main-svg", state="visible")
        active = "document.querySelector('.js-plotly-plot')._fullLayout.sliders[0].active"
        before = page.evaluate(active)
        page.get_by_text("▶ play").click()
        page.wait_for_timeout(2500)
        after = page.evaluate(active)
        assert after > before, (before, after)
        assert page.locator(".hm image").count() >= 1
        _assert_clean(page, "play")
    finally:
        page.close()


def test_the_root_leads_to_home_and_home_keeps_its_path(server, browser):
    page = _open(browser, f"{server}/")
    try:
        page.wait_for_url(f"{server}/home")
        assert page.locator("h1").first.inner_text().startswith("convviz")
        _assert_clean(page, "/")
        nav = page.locator('[data-testid="stSidebarNav"]')
        assert nav.get_by_text("Home", exact=True).count() == 1
        assert nav.get_by_text("start", exact=True).count() == 0
    finally:
        page.close()

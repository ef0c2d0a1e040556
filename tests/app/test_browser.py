"""Real-browser smoke test: ``streamlit run app.py`` in a subprocess, every page in Chromium.

The server and browser fixtures are in ``conftest.py`` (Debian's chromium; see there).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PAGE_TIMEOUT_MS = 60_000

ROOT = Path(__file__).resolve().parents[2]


def _page_specs():
    """``PAGE_SPECS`` from app.py, read without running the app."""
    spec = importlib.util.spec_from_file_location("convviz_app_entry", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PAGE_SPECS


# Every page answers at its own url path, Home (``/home``) included.
PAGES = [pytest.param(url_path, title, id=url_path) for _, title, url_path, _ in _page_specs()]


#: Pages without a step player (a table, the shape lab's staircase plot, a stack's shapes,
#: the real-data page's feature maps).
NO_PLAYER = {"shape-calculator", "shape-lab", "stacks", "real-data"}
#: Pages whose pictures are tables.
TABLES = {"shape-calculator", "shape-lab"}
#: A step player with its picture drawn.
PLAYER = ".convviz-player svg.cv-svg"


def _open(browser, url, viewport=(1400, 1000), heading=True):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    if heading:  # (presenter mode has none: the picture names the layer)
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
        if url_path in TABLES:
            page.wait_for_selector('[data-testid="stDataFrame"]', state="visible")
        elif url_path in NO_PLAYER:
            page.wait_for_selector(".js-plotly-plot .main-svg", state="visible")
        else:
            # the step player with its cells drawn
            page.wait_for_selector(PLAYER, state="visible")
            page.wait_for_function(
                "document.querySelectorAll('.convviz-player .cv-cells rect').length >= 9")
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
        page.wait_for_selector(PLAYER, state="visible")
        _assert_clean(page, "deep link")
        nav = page.locator('[data-testid="stSidebarNav"]')
        assert nav.get_by_text("Transposed convolution").count() == 1  # router ran
        # the player opens at the linked step (0-based, as in the URL), its table too
        assert page.get_attribute(".convviz-player", "data-step") == "4"
        assert page.inner_text(".convviz-player .cv-step") == "step 4 of 0..8"
        assert page.inner_text(".cv-explain .cv-caption").startswith(
            "step 4 of 0..8: output (4)")
    finally:
        page.close()


def test_play_animates_and_keeps_the_grids(server, browser):
    page = _open(browser, f"{server}/convolution")
    try:
        page.wait_for_selector(PLAYER, state="visible")
        step = "+document.querySelector('.convviz-player').getAttribute('data-step')"
        before = page.evaluate(step)
        cells = page.locator(".convviz-player .cv-cells rect").count()
        page.get_by_role("button", name="▶ play").click()
        page.wait_for_function(f"{step} >= {before + 2}", timeout=10_000)
        assert page.locator(".convviz-player .cv-cells rect").count() == cells
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

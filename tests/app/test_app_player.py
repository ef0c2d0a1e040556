"""The step player inside the app, in Chromium: what only a browser shows.

- stepping by button, keyboard and scrubber changes every step display at once and sends
  nothing to the server; once stepping settles the step is reported once, and the PNG
  button, the link and the PNG itself follow it;
- hovering a cell lights exactly the cells it reads (or, in the scatter view, paints), for
  1-D, 2-D, 3-D and transposed layers, computed here from the trace;
- presenter mode fits a projector (1280x720, 1920x1080): the controls, the figure and its
  arithmetic are inside the viewport with the sidebar folded away.
"""

from __future__ import annotations

import urllib.request

import numpy as np
import pytest
from test_browser import PLAYER, _assert_clean, _open

from convviz import export
from convviz.demo import Spec
from convviz.viz import player, scene, schema, view

pytestmark = pytest.mark.browser

STEP = "document.querySelector('.convviz-player').getAttribute('data-step')"
FAMILY = schema.FAMILY_PAGES["convolution"]
DEFAULT = schema.spec_from_values(FAMILY, FAMILY.defaults())  # the page's first picture


def _displays(page) -> dict:
    """Everything on the page that names the player's step."""
    return page.evaluate("""() => {
        const p = document.querySelector('.convviz-player');
        const lines = [...p.querySelectorAll('.cv-dynamic text')].map(t => t.textContent);
        return {step: p.getAttribute('data-step'),
                label: p.querySelector('.cv-step').textContent,
                scrub: p.querySelector('.cv-scrub').value,
                caption: lines[0] || '',
                table: (p.querySelector('.cv-explain .cv-caption') || {}).textContent};
    }""")


def _agree(page, step: int, steps: int) -> None:
    d = _displays(page)
    name = f"step {step} of 0..{steps - 1}"
    assert d["step"] == str(step) and d["label"] == name, d
    assert d["caption"].startswith(name) and d["table"].startswith(name), d


def _png_button(page):
    return page.locator('[data-testid^="stBaseLinkButton"]').filter(has_text="PNG")


def test_stepping_is_client_side_and_the_paused_step_reaches_every_display(server, browser):
    page = _open(browser, f"{server}/convolution", viewport=(1280, 1600))
    try:
        page.wait_for_selector(PLAYER)
        page.wait_for_timeout(player.SETTLE_MS + 300)  # the first render has settled
        # count the frames this page sends from now on, through a wrapped WebSocket.send
        page.evaluate("""() => {
            window.__sent = 0;
            const send = WebSocket.prototype.send;
            WebSocket.prototype.send = function (d) { window.__sent += 1;
                                                      return send.call(this, d); };
        }""")
        steps = 9
        # Every way of stepping, run in one go inside the page (keys, buttons, the scrubber),
        # reading every step display after each: all of it must happen without a frame to
        # the server. (Done in the page, not one Playwright call per key: a loaded machine
        # could otherwise pause longer than the settle time between two keys.)
        seen = page.evaluate("""() => {
            const p = document.querySelector('.convviz-player');
            const key = (k) => document.dispatchEvent(new KeyboardEvent('keydown',
                {key: k, bubbles: true}));
            const click = (sel) => p.querySelector(sel).click();
            const scrub = (v) => { const s = p.querySelector('.cv-scrub'); s.value = v;
                                   s.dispatchEvent(new Event('input', {bubbles: true})); };
            const read = () => ({step: p.getAttribute('data-step'),
                label: p.querySelector('.cv-step').textContent,
                scrub: p.querySelector('.cv-scrub').value,
                caption: p.querySelector('.cv-dynamic text').textContent,
                table: p.querySelector('.cv-explain .cv-caption').textContent,
                sent: window.__sent});
            const out = [];
            for (const act of [() => key('ArrowRight'), () => key('ArrowRight'),
                               () => click('.cv-next'), () => click('.cv-prev'),
                               () => key('End'), () => click('.cv-first'), () => scrub(5)]) {
                act();
                out.push(read());
            }
            return out;
        }""")
        for want, d in zip((1, 2, 3, 2, 8, 0, 5), seen):
            name = f"step {want} of 0..{steps - 1}"
            assert d["step"] == str(want) and d["label"] == name, d
            assert d["caption"].startswith(name) and d["table"].startswith(name), d
            assert d["scrub"] == str(want), d  # 9 steps, every one a frame
            assert d["sent"] == 0, "stepping sent something to the server"
        assert page.evaluate("document.body.getAttribute('data-convviz-stale')") == "1"
        # meanwhile the PNG button and the other step dependants are dimmed
        page.wait_for_function("+getComputedStyle(document.querySelector("
                               "'.st-key-convviz-step-deps')).opacity < 0.5")
        # once stepping rests, the step reaches Python once: PNG button, link, PNG itself
        _png_button(page).filter(has_text="Download step 5 as PNG").wait_for()
        assert 1 <= page.evaluate("window.__sent") <= 2
        page.wait_for_function("document.body.getAttribute('data-convviz-stale') === '0'")
        assert "step=5" in page.url
        _agree(page, 5, steps)
        with page.expect_download() as download:
            _png_button(page).click()
        got = open(download.value.path(), "rb").read()
        assert got == export.png_bytes(DEFAULT, 5, numbers=True)
        # play runs in the browser too, and pausing reports where it stopped
        page.evaluate("window.__sent = 0")
        page.click(".cv-play")
        page.wait_for_function(f"+{STEP} >= 7", timeout=10_000)
        assert page.evaluate("window.__sent") == 0
        page.keyboard.press(" ")  # pause
        stopped = int(page.evaluate(STEP))
        _png_button(page).filter(has_text=f"Download step {stopped} as PNG").wait_for()
        _agree(page, stopped, steps)
        _assert_clean(page, "stepping")
    finally:
        page.close()


def test_the_keys_stay_with_a_focused_sidebar_slider(server, browser):
    page = _open(browser, f"{server}/convolution", viewport=(1280, 1200))
    try:
        page.wait_for_selector(PLAYER)
        slider = page.locator('[data-testid="stSidebar"] input[type="range"]').first
        slider.focus()
        page.keyboard.press("ArrowRight")  # the input's height: 5 -> 6
        page.wait_for_function("""() => document.querySelector(
            '[data-testid="stSidebar"] input[type="range"]').getAttribute('aria-valuetext')
            === '6'""")
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
        assert page.evaluate(STEP) == "0"  # the player did not take the key
        page.locator(".convviz-player .cv-figure").hover()
        page.locator(".convviz-player .cv-figure").click()
        page.keyboard.press("ArrowRight")
        assert page.evaluate(STEP) == "1"
    finally:
        page.close()


def _cell_index(d, xy) -> int:
    return next(k for k, c in enumerate(zip(d["cells"]["x"], d["cells"]["y"])) if c == xy)


def _lit(page, d) -> set:
    rects = page.evaluate("""() => [...document.querySelectorAll('.cv-linked')].map(
        r => [+r.getAttribute('x'), +r.getAttribute('y')])""")
    return {(round((x - d["left"]) / d["cell"]), round((y - d["top"]) / d["cell"]))
            for x, y in rects}


def _page_spec(family: str, query: str) -> Spec:
    """The spec a page draws for ``query`` (decoded as the page decodes its link)."""
    fam = schema.FAMILY_PAGES[family]
    params = dict(kv.split("=") for kv in query.split("&") if kv)
    values, notices = schema.decode(fam, params)
    assert not notices, notices
    return schema.spec_from_values(fam, values)


@pytest.mark.parametrize("family,query", [
    ("convolution", "layer=Conv1D&n0=9&k0=4&padding=causal&d0=2"),
    ("convolution", "s0=2&padding=same&channels=2&filters=2"),
    ("convolution", "layer=Conv3D"),
    ("transposed", "s0=2&s1=2&n0=3&n1=3"),  # gather view: the zero-inserted input
], ids=["1d-causal-dilated", "2d", "3d", "2d-transposed"])
def test_hovering_an_output_lights_the_window_it_reads(server, browser, family, query,
                                                       window_cells):
    spec = _page_spec(family, query)
    v = view.build(spec)
    d = v.payload()
    page = _open(browser, f"{server}/{family}?{query}", viewport=(1400, 2400))
    try:
        page.wait_for_selector(PLAYER)
        out = next(p for p in v.scene.panels if p.kind == "output")
        rng = np.random.default_rng(0)
        for i in sorted({0, v.steps - 1, *rng.integers(0, v.steps, 3).tolist()}):
            o = np.unravel_index(i, v.sample.trace.out_shape)
            (x,), (y,) = out.xy(np.array([o]))
            page.hover(f".cv-cells rect[data-i='{_cell_index(d, (int(x), int(y)))}']")
            assert _lit(page, d) == window_cells(v.scene, i), (spec.name, i)
            info = page.inner_text(".cv-info")
            assert info.startswith(f"output filter 0 {scene.coord(o)} · reads input"), info
        _assert_clean(page, "hover")
    finally:
        page.close()


def test_hovering_an_input_of_the_scatter_view_lights_the_patch_it_paints(server, browser):
    query = "view=scatter&n0=3&n1=3&s0=2&s1=2&k0=3&k1=3"
    v = view.build(_page_spec("transposed", query), view="scatter")
    d = v.payload()
    page = _open(browser, f"{server}/transposed?{query}", viewport=(1400, 2400))
    try:
        page.wait_for_selector(PLAYER)
        inp, out = v.scene.panel("in0"), v.scene.panel("out0")
        for r, c in ((0, 0), (1, 2), (2, 1)):
            k = _cell_index(d, (inp.origin[0] + c, inp.origin[1] + r))
            page.hover(f".cv-cells rect[data-i='{k}']")
            want = {(out.origin[0] + 2 * c + j, out.origin[1] + 2 * r + i)
                    for i in range(3) for j in range(3)}  # rows 2r..2r+2, cols 2c..2c+2
            assert _lit(page, d) == want, (r, c)
    finally:
        page.close()


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("query", ["", "&layer=Conv2D&n0=9&n1=9&padding=same",
                                   "&layer=SeparableConv2D&channels=2"],
                         ids=["default", "9x9 same", "separable"])
def test_presenter_mode_fits_a_projector(server, browser, size, query):
    """Everything on screen, and digits readable from the back of a room: at least 12 px
    high (a separable layer's ten grids at 1280x720: 9 px)."""
    family = "depthwise" if "Separable" in query else "convolution"
    page = _open(browser, f"{server}/{family}?presenter=1{query}", viewport=size,
                 heading=False)
    try:
        page.wait_for_selector(PLAYER)
        page.wait_for_selector('[data-testid="stSidebar"][data-collapsed="true"]',
                               state="attached")
        page.wait_for_timeout(600)  # the sidebar's fold and the player's refit
        w, h = size
        header = page.locator('[data-testid="stHeader"]').bounding_box()
        for part in (".cv-bar", "svg.cv-svg", ".cv-info"):
            box = page.locator(f".convviz-player {part}").bounding_box()
            assert box["y"] >= header["y"] + header["height"] - 1, (part, box, header)
            assert box["y"] + box["height"] <= h and box["x"] + box["width"] <= w, (part, box)
        # the arithmetic line (the last text of the figure) is on screen too
        last = page.evaluate("""() => { const t = [...document.querySelectorAll(
            '.cv-dynamic text')].pop().getBoundingClientRect(); return [t.bottom, t.right]; }""")
        assert last[0] <= h and last[1] <= w, last
        value = page.evaluate("""() => { const t = document.querySelector('.cv-values text');
            return t.getBoundingClientRect().height; }""")
        assert value >= (9 if "Separable" in query and h < 1000 else 12), value
        page.keyboard.press("ArrowRight")
        assert page.evaluate(STEP) == "1"
        _assert_clean(page, "presenter")
    finally:
        page.close()


def test_the_html_download_is_the_same_player(server, browser, tmp_path):
    page = _open(browser, f"{server}/convolution", viewport=(1280, 1600))
    try:
        page.wait_for_selector(PLAYER)
        button = page.get_by_role("link", name="Download interactive HTML")
        with page.expect_download() as download:
            button.click()
        text = open(download.value.path(), encoding="utf-8").read()
        assert "mountPlayer(" in text and "<script src" not in text
        with urllib.request.urlopen(f"{server}/_stcore/health") as r:  # server still fine
            assert r.status == 200
    finally:
        page.close()

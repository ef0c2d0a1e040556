"""The offline HTML player: self-contained, steps by keyboard and buttons, links cells on hover.

The file is opened from ``file://`` in Debian's chromium with every non-file request
aborted, so it must carry plotly.js and everything else itself.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_browser import CHROMIUM_ARGS, chromium_path  # noqa: F401  (fixture)

from convviz import export
from convviz.demo import Spec, run
from convviz.viz import figures, player, scene

CONV = Spec("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same"}, (5, 5), channels=2)
SCATTER = Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, (3, 3))


def _keys(cells):
    return {f"{x},{y}" for x, y in cells}


def test_html_is_self_contained_and_links_every_output_to_its_window(window_cells):
    sc_ = scene.build(run(CONV))
    text = player.html(sc_)
    assert not re.search(r"<script[^>]+src=", text)  # plotly.js is inlined, nothing fetched
    assert len(text) > 3_000_000
    links = player.hover_links(sc_)
    for i in range(sc_.steps):
        o = np.unravel_index(i, sc_.sample.trace.out_shape)
        for p in sc_.panels:
            if p.kind == "output":
                (x,), (y,) = p.xy(np.array([o]))
                assert set(links[f"{x},{y}"]) == _keys(window_cells(sc_, i)), (i, p.key)


def test_scatter_links_an_input_cell_to_the_patch_it_paints():
    sc_ = scene.build(run(SCATTER), view="scatter")
    links = player.hover_links(sc_)
    inp, out = sc_.panel("in0"), sc_.panel("out0")
    # input (1, 1) paints output rows 2..4 x cols 2..4 (i*s + j, kernel 3, stride 2)
    want = {f"{out.origin[0] + c},{out.origin[1] + r}" for r in range(2, 5) for c in range(2, 5)}
    assert set(links[f"{inp.origin[0] + 1},{inp.origin[1] + 1}"]) == want


def test_animate_writes_an_html_player(tmp_path):
    path = export.save(CONV, tmp_path / "lesson.html", numbers=True, step=3)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '"start": 3' in text
    with pytest.raises(ValueError, match="out of range"):
        export.save(CONV, tmp_path / "bad.html", step=99)


@pytest.mark.browser
def test_the_html_player_steps_and_links_offline(tmp_path, chromium_path,  # noqa: F811
                                                 window_cells):
    from playwright.sync_api import sync_playwright

    path = export.save(CONV, tmp_path / "lesson.html", numbers=True)
    sc_ = scene.build(run(CONV))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 2400})
            blocked = []

            def route(r):
                if r.request.url.startswith("file://"):
                    return r.continue_()
                blocked.append(r.request.url)
                return r.abort()

            context.route("**/*", route)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg")
            page.wait_for_function("document.body.getAttribute('data-step') === '0'")
            for key, want in (("ArrowRight", "1"), ("ArrowRight", "2"), ("ArrowLeft", "1"),
                              ("End", str(sc_.steps - 1)), ("Home", "0")):
                page.keyboard.press(key)
                page.wait_for_function(
                    f"document.body.getAttribute('data-step') === '{want}'", timeout=5000)
            assert page.inner_text("#convviz-step") == f"step 0 of 0..{sc_.steps - 1}"
            # the figure moved too: its caption line names the step
            index = figures.scene_figure(sc_)._dynamic[-1]  # the caption/arithmetic trace
            lines = page.evaluate(
                f"document.querySelector('.js-plotly-plot').data[{index}].text")
            assert lines[0].startswith("step 0 of 0..")
            page.click("#convviz-next")
            page.wait_for_function("document.body.getAttribute('data-step') === '1'")
            # hover output cell (2, 3) of filter 0: its window lights up, its text shows
            out = sc_.panel("out0")
            x, y = out.origin[0] + 3, out.origin[1] + 2
            px = page.evaluate(
                """([x, y]) => { const gd = document.querySelector('.js-plotly-plot');
                   const L = gd._fullLayout, r = gd.getBoundingClientRect();
                   return [r.left + L._size.l + L.xaxis.d2p(x),
                           r.top + L._size.t + L.yaxis.d2p(y)]; }""", [x, y])
            page.mouse.move(*px)
            page.wait_for_function("document.getElementById('convviz-info').textContent !== ''")
            text = page.inner_text("#convviz-info")
            assert text.startswith("output filter 0 (2, 3) · reads input 1..3 × 2..4"), text
            assert "=" not in text  # a blank output's value is not given away by hovering
            lit = page.evaluate("""() => { const gd = document.querySelector('.js-plotly-plot');
                const t = gd.data[gd.data.length - 1];
                return t.x.map((v, k) => v + ',' + t.y[k]); }""")
            i = int(np.ravel_multi_index((2, 3), sc_.sample.trace.out_shape))
            assert set(lit) == _keys(window_cells(sc_, i)) | {f"{x},{y}"}
            assert not errors and not blocked, (errors, blocked)
        finally:
            browser.close()

"""The step player outside the app: the payload's hover links, and the offline HTML file.

The file is opened from ``file://`` in Debian's chromium with every non-file request
aborted, so it must carry the player and everything else itself.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from convviz import export
from convviz.demo import Spec, run
from convviz.viz import player, scene

CONV = Spec("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same"}, (5, 5), channels=2)
SCATTER = Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2}, (3, 3))


def _linked(d, cell) -> set:
    """Canvas cells the player lights when ``cell`` (canvas x, y) is hovered."""
    c = d["cells"]
    at = {(x, y): k for k, (x, y) in enumerate(zip(c["x"], c["y"]))}
    k, out = at[cell], set()
    for anchors, linked in d["links"]:
        if k in anchors:
            out |= set(linked)
        if k in linked:
            out |= set(anchors)
    return {(c["x"][j], c["y"][j]) for j in out}


def test_every_output_links_to_its_window_and_back(window_cells):
    sc_ = scene.build(run(CONV))
    d = player.payload(sc_)
    for i in range(sc_.steps):
        o = np.unravel_index(i, sc_.sample.trace.out_shape)
        for p in sc_.panels:
            if p.kind == "output":
                (x,), (y,) = p.xy(np.array([o]))
                assert _linked(d, (int(x), int(y))) == window_cells(sc_, i), (i, p.key)
    # input (0, 0) of channel 1 feeds the outputs whose windows cover it: (0..1, 0..1)
    inp = sc_.panel("in1")
    feeds = _linked(d, (inp.origin[0] + 1, inp.origin[1] + 1))  # +1: the padding ring
    want = {(p.origin[0] + c, p.origin[1] + r) for p in sc_.panels if p.kind == "output"
            for r in range(2) for c in range(2)}
    assert feeds == want


def test_scatter_links_an_input_cell_to_the_patch_it_paints():
    sc_ = scene.build(run(SCATTER), view="scatter")
    d = player.payload(sc_)
    inp, out = sc_.panel("in0"), sc_.panel("out0")
    # input (1, 1) paints output rows 2..4 x cols 2..4 (i*s + j, kernel 3, stride 2)
    want = {(out.origin[0] + c, out.origin[1] + r) for r in range(2, 5) for c in range(2, 5)}
    assert _linked(d, (inp.origin[0] + 1, inp.origin[1] + 1)) == want


def test_html_is_self_contained_and_small():
    text = player.html(scene.build(run(CONV), numbers=True))
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)  # nothing fetched
    assert "mountPlayer(" in text and len(text) < 200_000  # no plotly.js: the player is SVG


def test_animate_writes_an_html_player(tmp_path):
    path = export.save(CONV, tmp_path / "lesson.html", numbers=True, step=3)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '"start":3' in text
    with pytest.raises(ValueError, match="out of range"):
        export.save(CONV, tmp_path / "bad.html", step=99)


@pytest.mark.browser
def test_the_html_player_steps_and_links_offline(tmp_path, browser, window_cells):
    path = export.save(CONV, tmp_path / "lesson.html", numbers=True)
    sc_ = scene.build(run(CONV))
    d = player.payload(sc_)
    context = browser.new_context(viewport={"width": 1280, "height": 2400})
    try:
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
        page.wait_for_selector(".convviz-player svg.cv-svg")
        step = "document.querySelector('.convviz-player').getAttribute('data-step')"
        assert page.evaluate(step) == "0"
        for key, want in (("ArrowRight", "1"), ("ArrowRight", "2"), ("ArrowLeft", "1"),
                          ("End", str(sc_.steps - 1)), ("Home", "0")):
            page.keyboard.press(key)
            assert page.evaluate(step) == want, key  # at once: no server, no waiting
        assert page.inner_text(".cv-step") == f"step 0 of 0..{sc_.steps - 1}"
        page.click(".cv-next")
        assert page.evaluate(step) == "1"
        # the figure moved too: its caption line and the explain table name the step
        lines = page.evaluate(
            "[...document.querySelectorAll('.cv-dynamic text')].map(t => t.textContent)")
        assert any(t.startswith("step 1 of 0..24: output (0, 1)") for t in lines), lines
        assert page.inner_text(".cv-explain .cv-caption").startswith("step 1 of 0..24")
        # hover output cell (2, 3) of filter 0: its window lights up, its text shows
        out = sc_.panel("out0")
        x, y = out.origin[0] + 3, out.origin[1] + 2
        k = next(j for j, (a, b) in enumerate(zip(d["cells"]["x"], d["cells"]["y"]))
                 if (a, b) == (x, y))
        page.hover(f".cv-cells rect[data-i='{k}']")
        text = page.inner_text(".cv-info")
        assert text.startswith("output filter 0 (2, 3) · reads input 1..3 × 2..4"), text
        assert "= " not in text.split("·")[1]  # a blank output's value is not given away
        lit = page.evaluate("""() => [...document.querySelectorAll('.cv-linked')].map(
            r => [+r.getAttribute('x'), +r.getAttribute('y')])""")
        cells = {(round((a - d["left"]) / d["cell"]), round((b - d["top"]) / d["cell"]))
                 for a, b in lit}
        i = int(np.ravel_multi_index((2, 3), sc_.sample.trace.out_shape))
        assert cells == window_cells(sc_, i)
        assert not errors and not blocked, (errors, blocked)
    finally:
        context.close()

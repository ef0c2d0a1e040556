"""The "On real data" page in Chromium (``streamlit run app.py``, see conftest.py): the
Plotly maps render, hovering an output map says which input cells each pixel reads, and
uploads are checked before they are decoded: each bad file is refused with a message that
says why, the sample stays on screen, and a good picture replaces it."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path
from urllib.parse import urljoin

import pytest
from PIL import Image
from test_browser import _assert_clean, _open

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHART = ".js-plotly-plot .main-svg"
ALERT = '[data-testid="stAlertContentError"]'
UPLOADER = '[data-testid="stFileUploader"] input[type="file"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
#: Generous: a loaded machine can take seconds for a rerun with a new picture.
WAIT_MS = 60_000


def _real_data(browser, server, query="", viewport=(1400, 1400)):
    page = _open(browser, f"{server}/real-data{query}", viewport=viewport)
    page.wait_for_selector(CHART, state="visible", timeout=WAIT_MS)
    return page


def _code_line(page) -> str:
    """The line above the maps: ``keras.layers.Conv2D(...)` on <the input>: ...``."""
    return page.locator('[data-testid="stMarkdownContainer"]').filter(
        has_text=re.compile(r"^keras\.layers\.")).first.inner_text()


# ---------------------------------------------------------------------- uploads
def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` (8-bit grey), a few IDAT bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _chunk(b"IEND", b""))


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100,
                   loop=0)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).n_frames == 2
    return data


def _small_png() -> bytes:
    """A 40 x 30 colour ramp."""
    img = Image.new("RGB", (40, 30))
    img.putdata([(6 * x, 8 * y, 128) for y in range(30) for x in range(40)])
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


#: name -> (file name, bytes, words the refusal must contain). The messages are those of
#: convviz/realdata/inputs.py; each bad file comes as a .png (the GIF too: its content,
#: not its name, is what gets refused; a .gif name is tested on its own below).
BAD_UPLOADS = {
    "text": ("notes.png", b"Shopping list:\n- eggs\n- milk\n",
             ("is not an image convviz can read", "looks like text", "Shopping list")),
    "truncated": ("truncated.png",
                  (ROOT / "assets" / "images" / "zone_plate.png").read_bytes()[:100],
                  ("truncated or corrupt", "PNG", "(100 bytes)")),
    "bomb": ("huge.png", _png_claiming(20000, 20000),
             ("refused before decoding", "20000 x 20000", "MAX_UPLOAD_PIXELS")),
    "animated": ("animation.png", _animated_gif(),
                 ("animated GIF with 2 frames", "refused")),
}


def _upload(page, name: str, data: bytes, mime: str = "image/png") -> None:
    page.locator(UPLOADER).set_input_files({"name": name, "mimeType": mime, "buffer": data})


# ---------------------------------------------------------------------- tests
def test_the_page_renders_its_maps(server, browser):
    page = _real_data(browser, server)
    try:
        page.wait_for_selector(IDLE)
        assert page.locator("h1").first.inner_text() == "On real data"
        # the input and output channel 0, each a heatmap
        page.wait_for_function(
            "document.querySelectorAll('.js-plotly-plot .heatmaplayer .hm').length >= 2",
            timeout=WAIT_MS)
        titles = page.locator(".js-plotly-plot .annotation-text").all_text_contents()
        assert any(t.startswith("input (") for t in titles), titles
        # the map's name, then its range on a line of its own (the text joins them)
        assert any(t.startswith("output channel 0min ") for t in titles), titles
        assert "on the sample zone_plate" in _code_line(page)
        assert page.locator(ALERT).count() == 0
        _assert_clean(page, "real-data")
    finally:
        page.close()


def _hover_label(page, subplot: str, fx: float, fy: float) -> str:
    """Move the mouse to ``(fx, fy)`` (fractions) of ``subplot``'s plot area and return the
    hover label Plotly draws there."""
    drag = page.locator(f".js-plotly-plot .draglayer .{subplot} .nsewdrag").first
    box = drag.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=5)
    label = page.locator(".js-plotly-plot .hoverlayer .hovertext")
    label.first.wait_for(state="visible", timeout=WAIT_MS)
    return " ".join(label.first.locator("text.nums tspan, text.nums").all_text_contents())


_READS = re.compile(r"output \((\d+), (\d+)\) = (\S+)\s*reads input rows (\S+), cols (\S+)")


def _span(a: int, b: int) -> str:
    return str(a) if a == b else f"{a}..{b}"


@pytest.mark.parametrize(("query", "n", "reach"), [
    ("", 128, lambda o, n: (max(o - 1, 0), min(o + 1, n - 1))),  # 3x3 "same"
    ("?strides=2&padding=valid&kernel_size=4", 128, lambda o, n: (2 * o, 2 * o + 3)),
], ids=["same", "strided-valid"])
def test_hovering_an_output_map_says_which_input_cells_it_reads(server, browser, query, n,
                                                                reach):
    page = _real_data(browser, server, query)
    try:
        page.wait_for_selector(IDLE)
        for fx, fy in ((0.5, 0.5), (0.02, 0.02), (0.8, 0.3)):
            text = _hover_label(page, "x2y2", fx, fy)  # output channel 0, beside the input
            assert "reads input rows" in text, text
            m = _READS.search(text.replace("\n", " "))
            assert m, text
            row, col = int(m[1]), int(m[2])
            assert m[4] == _span(*reach(row, n)), text  # worked out here from the window
            assert m[5] == _span(*reach(col, n)), text
        # the input's own hover has no window
        assert "reads" not in _hover_label(page, "xy", 0.5, 0.5)
        _assert_clean(page, "hover")
    finally:
        page.close()


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_a_bad_upload_is_refused_with_a_reason_and_the_sample_stays(server, browser, case):
    name, data, words = BAD_UPLOADS[case]
    page = _real_data(browser, server)
    try:
        page.wait_for_selector(IDLE)
        _upload(page, name, data)
        alert = page.locator(ALERT).first
        alert.wait_for(state="visible", timeout=WAIT_MS)
        page.wait_for_selector(IDLE, timeout=WAIT_MS)
        text = alert.inner_text()
        assert "That file cannot be used; the sample is shown instead." in text, text
        for word in words:
            assert word in text, (case, word, text)
        _assert_clean(page, case)
        page.wait_for_selector(CHART, state="visible", timeout=WAIT_MS)
        assert "on the sample zone_plate" in _code_line(page)
        assert page.locator('[data-testid="stFileChipName"]').first.inner_text() == name
    finally:
        page.close()


def _upload_ramp(page) -> None:
    """Upload the small ramp picture and wait until the page has run on it."""
    page.wait_for_selector(IDLE)
    _upload(page, "ramp.png", _small_png())
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
                 .some(e => e.innerText.includes('on your picture ramp.png'))""",
        timeout=WAIT_MS)
    page.wait_for_selector(IDLE, timeout=WAIT_MS)


def test_a_good_upload_replaces_the_input(server, browser):
    page = _real_data(browser, server)
    try:
        _upload_ramp(page)
        assert page.locator(ALERT).count() == 0
        assert "on your picture ramp.png" in _code_line(page)
        page.wait_for_selector(CHART, state="visible")
        # the facts table (its text is in the grid's accessible table): the 30 x 40 picture
        # in grey, not the 128 x 128 sample
        page.wait_for_function(
            """() => { const t = document.querySelector('[data-testid="stDataFrame"] table');
                       return t && t.textContent.includes('input shape(1, 30, 40, 1)'); }""",
            timeout=WAIT_MS)
        _assert_clean(page, "good upload")
    finally:
        page.close()


def test_an_animated_gif_by_its_own_name_is_refused_by_the_page(server, browser):
    """The uploader takes every format the page reads (GIF among them): an animated .gif
    reaches the page, whose own check refuses it with the frame count."""
    page = _real_data(browser, server)
    try:
        page.wait_for_selector(IDLE)
        _upload(page, "animation.gif", BAD_UPLOADS["animated"][1], mime="image/gif")
        page.locator(ALERT).filter(has_text="animated GIF with 2 frames").first.wait_for(
            timeout=WAIT_MS)
        page.wait_for_selector(IDLE, timeout=WAIT_MS)
        assert "on the sample zone_plate" in _code_line(page)
        _assert_clean(page, "gif")
    finally:
        page.close()


def test_the_png_download_of_an_upload_arrives_after_other_sessions_rerun(server, browser):
    """The maps of an uploaded picture (no URL can carry it) are downloaded through the
    server's route: the link the page shows still delivers their PNG after three other
    sessions have each rerun several times (Streamlit's own deferred download kept the
    file for two other reruns only, then answered 404)."""
    page = _real_data(browser, server)
    others = []
    try:
        _upload_ramp(page)
        link = page.locator('[data-testid="stLinkButton"] a',
                            has_text="Download the feature maps (PNG)")
        href = link.get_attribute("href")
        assert "download/real-data/" in href and "id=" in href
        for _ in range(3):  # other students, each rerunning its page
            other = _real_data(browser, server)
            others.append(other)
            for size in ("64", "96", "128"):
                other.goto(f"{server}/real-data?size={size}", wait_until="domcontentloaded")
                other.wait_for_selector(IDLE, timeout=WAIT_MS)
        got = page.request.get(urljoin(page.url, href))
        assert got.status == 200 and got.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(got.body()))
        assert image.format == "PNG" and image.width > 100
        gone = page.request.get(urljoin(page.url, href.rpartition("id=")[0] + "id=" + "0" * 20))
        assert gone.status == 410 and "download button" in gone.text()
        _assert_clean(page, "download after other reruns")
    finally:
        for p in (page, *others):
            p.close()

"""The pages' download links against a real ``streamlit run app.py`` (its ``st.App`` mounts
the download route): what a link shows is what the GET delivers, from any server process,
however many other sessions rerun in between."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from convviz import export
from convviz.viz.downloads import demystified_spec
from convviz.viz.schema import FAMILY_PAGES, spec_from_values

ROOT = Path(__file__).resolve().parents[2]


def _links(page: str, query: dict) -> dict[str, str]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception
    return {b.proto.label: b.proto.url for b in at.get("link_button")}


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_the_gif_link_a_page_shows_delivers_that_pages_gif(server):
    query = {"layer": "Conv1D", "n0": "7", "k0": "2", "d0": "2", "numbers": "0"}
    links = _links("convolution", query)
    assert set(links) == {"Download GIF", "Download step 0 as PNG",
                          "Download interactive HTML"}
    status, headers, body = _get(f"{server}/{links['Download GIF']}")
    assert status == 200 and headers["Content-Type"] == "image/gif"
    name = "Conv1D_7x1_f1_k2_s1_valid_d2_g1.gif"
    assert headers["Content-Disposition"] == f'attachment; filename="{name}"'
    family = FAMILY_PAGES["convolution"]
    spec = spec_from_values(family, {**family.defaults(), "layer": "Conv1D", "n0": 7,
                                     "k0": 2, "d0": 2})
    assert spec.spatial == (7,) and dict(spec.kwargs)["dilation_rate"] in (2, (2,))
    assert body == export.gif_bytes(spec, numbers=False)


def _buttons(page: str, query: dict) -> dict:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=60)
    at.query_params.update(query)
    at.run()
    return {b.proto.label: b.proto for b in at.get("link_button")}


def test_a_gif_too_big_for_the_server_is_a_disabled_button_saying_why():
    buttons = _buttons("convolution", {"layer": "Conv3D", "n0": "12", "n1": "12", "n2": "12",
                                       "channels": "7", "filters": "8"})
    gif = buttons["Download GIF"]
    assert gif.disabled and gif.help.startswith("No GIF: this picture has 20,286 cells")
    assert not buttons["Download interactive HTML"].disabled


def test_a_big_gif_button_says_how_many_steps_its_file_shows():
    buttons = _buttons("transposed", {"layer": "Conv3DTranspose", "n0": "7", "filters": "3",
                                      "view": "scatter", "reveal": "1"})
    gif = buttons["Download GIF"]
    assert not gif.disabled and gif.help.startswith("43 of the 63 steps, evenly spaced")
    small = _buttons("convolution", {"layer": "Conv1D", "n0": "6"})["Download GIF"]
    assert small.help.startswith("Every step (4), rendered with matplotlib")


def test_the_demystified_scatter_png_is_that_views_step(server):
    links = _links("demystified", {"n": "3", "k": "2", "scatter_step": "4"})
    pngs = [url for label, url in links.items() if "PNG" in label]
    assert len(links) == 4  # the GIF, PNG and HTML of two views, two labels shared
    scatter = next(u for u in pngs if "view=scatter" in u)
    status, headers, body = _get(f"{server}/{scatter}")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert body == export.png_bytes(demystified_spec(3, 2, 2), 4, view="scatter")


def test_ten_students_asking_at_once_all_get_their_file(server):
    """Ten distinct GIFs at once (a class pressing the button together): all ten arrive,
    each complete, while the server keeps answering."""
    urls = [f"{server}/download/convolution/a.gif?layer=Conv1D&n0={n}&k0=2" for n in
            range(4, 14)]
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        got = list(pool.map(_get, urls))
    assert [status for status, _, _ in got] == [200] * 10
    assert all(body.startswith(b"GIF8") and body.endswith(b";") for _, _, body in got)
    assert _get(f"{server}/_stcore/health")[0] == 200


def test_a_link_with_a_refused_setting_says_why_instead_of_a_file(server):
    status, headers, body = _get(f"{server}/download/convolution/x.gif?layer=Conv2D&s0=2&d0=2")
    assert status == 400 and headers["Content-Type"].startswith("text/plain")
    assert "dilation_rate" in body.decode()
    status, _, body = _get(f"{server}/download/stacks/x.gif")
    assert status == 400 and "not a page with downloads" in body.decode()


def test_the_render_worker_does_not_outlive_its_server(tmp_path):
    """A plain SIGTERM to the server process alone (as `kill PID`, or systemd's
    KillMode=process) leaves no render worker behind."""
    from conftest import _free_port

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(f"http://127.0.0.1:{port}/download/convolution/a.png")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("the server did not answer")
        workers = _children(proc.pid)
        assert workers, "no render worker was started"
        os.kill(proc.pid, signal.SIGTERM)  # the server only, not its process group
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert not [w for w in workers if _alive(w)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    from convviz.serve import process_table

    return [child for child, (ppid, *_) in process_table().items() if ppid == pid]


def _alive(pid: int) -> bool:
    from convviz.serve import process_table

    entry = process_table().get(pid)
    return entry is not None and entry[2] != "Z"

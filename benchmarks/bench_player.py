"""How fast the step player steps in Chromium, and how many bytes its pages receive.

Run ``python benchmarks/bench_player.py [--steps N]`` (needs Debian's chromium at
/usr/bin/chromium and the playwright package). Two parts:

* **offline**: for the default picture and for each size cap (Conv2D 32x32, Conv3D 12^3,
  Conv1D 64, Conv2DTranspose scatter 16x16), the HTML export is opened from ``file://``
  and ``--steps`` key presses are timed, each from the key event to the end of the
  player's repaint (the browser's own clock; target: under 50 ms per step);
* **app**: ``streamlit run app.py`` is started, each page URL is opened and the bytes the
  browser receives over the websocket are counted for the first load, for a widget change
  that needs a new picture, and for ten steps (which must be 0: stepping is local) plus
  the one report after they settle.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convviz import export  # noqa: E402
from convviz.demo import Spec  # noqa: E402
from convviz.viz import player  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
CASES = [
    ("Conv2D 5x5 (default)", Spec("Conv2D", {"filters": 1, "kernel_size": 3}, (5, 5)), "gather"),
    ("Conv2D 32x32 same", Spec("Conv2D", {"filters": 1, "kernel_size": 3, "padding": "same"},
                               (32, 32)), "gather"),
    ("Conv3D 12^3 same", Spec("Conv3D", {"filters": 1, "kernel_size": 3, "padding": "same"},
                              (12, 12, 12)), "gather"),
    ("Conv1D 64 k7 same", Spec("Conv1D", {"filters": 1, "kernel_size": 7, "padding": "same"},
                               (64,)), "gather"),
    ("Conv2DTranspose 16x16 s2", Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3,
                                                          "strides": 2}, (16, 16)), "scatter"),
]
TIMER = """(n) => new Promise((done) => {
    const times = [];
    let k = 0;
    function one() {
        const t0 = performance.now();
        document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight',
                                                              bubbles: true}));
        // the repaint is synchronous in the handler; the frame after it is on screen
        requestAnimationFrame(() => { times.push(performance.now() - t0);
            if (++k < n) setTimeout(one, 5); else done(times); });
    }
    one();
})"""


def offline(steps: int) -> None:
    from playwright.sync_api import sync_playwright

    print(f"{'offline player':<26} {'steps':>6} {'HTML bytes':>11} {'median ms':>10} "
          f"{'max ms':>8}")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, spec, kind in CASES:
            path = Path(tmp) / "p.html"
            path.write_bytes(export.html_bytes(spec, view=kind, numbers=True))
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(path.as_uri())
            page.wait_for_selector(".convviz-player svg")
            times = sorted(page.evaluate(TIMER, steps))
            print(f"{name:<26} {len(times):6d} {path.stat().st_size:11d} "
                  f"{times[len(times) // 2]:10.1f} {times[-1]:8.1f}")
            page.close()
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app() -> None:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.headless", "true", "--server.port", str(port),
                             "--server.fileWatcherType", "none",
                             "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        pages = ["/convolution", "/convolution?layer=Conv2D&n0=32&n1=32&padding=same",
                 "/convolution?layer=Conv3D&n0=12&n1=12&n2=12&padding=same",
                 "/transposed?view=scatter&n0=16&n1=16"]
        print(f"\n{'page':<44} {'first load':>11} {'widget':>9} {'10 steps':>9} "
              f"{'report':>8}  (bytes received)")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            got: list[int] = []
            for path in pages:
                got.clear()
                page = browser.new_page(viewport={"width": 1400, "height": 1200})
                page.on("websocket", lambda ws: ws.on("framereceived", lambda f: got.append(
                    len(f) if isinstance(f, (bytes, str)) else 0)))
                page.goto(url + path)
                page.wait_for_selector(".convviz-player svg", timeout=120_000)
                page.wait_for_selector('[data-testid="stApp"][data-test-script-state='
                                       '"notRunning"]')
                page.wait_for_timeout(player.SETTLE_MS + 500)
                first = sum(got)
                got.clear()
                # a widget change: the first sidebar slider (the input's height) one down
                page.locator('[data-testid="stSidebar"] input[type="range"]').first.focus()
                page.keyboard.press("ArrowLeft")
                page.wait_for_timeout(300)
                page.wait_for_selector('[data-testid="stApp"][data-test-script-state='
                                       '"notRunning"]', timeout=120_000)
                page.wait_for_timeout(player.SETTLE_MS + 500)
                widget = sum(got)
                got.clear()
                page.locator(".convviz-player .cv-figure").click()  # the keys go to it
                page.wait_for_timeout(player.SETTLE_MS + 500)
                got.clear()
                for _ in range(10):
                    page.keyboard.press("ArrowRight")
                stepping = sum(got)
                page.wait_for_timeout(player.SETTLE_MS + 1500)
                report = sum(got) - stepping
                print(f"{path:<44} {first:11d} {widget:9d} {stepping:9d} {report:8d}")
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    offline(args.steps)
    app()


if __name__ == "__main__":
    main()

"""A self-contained HTML player of a scene: plotly.js inlined, no server, no network.

:func:`html` writes the scene's Plotly figure into one HTML file with a small player
script: play/pause, previous/next/first/last step, scrubbing (the figure's slider), the
keyboard (←/→ step, space play/pause, Home/End first/last), and hover linking both ways:
hovering an output cell highlights every input cell it reads (padding included), hovering
an input cell every output cell it feeds (for a transposed convolution's scatter view: the
patch it paints). The hovered cell's text is written under the figure, never in a tooltip
over the values. A teacher can put the file in slides or an LMS.

The links come from the scene's own frames (the boxes each step draws), so the player
highlights exactly what the animation shows.

>>> from convviz.demo import Spec, run
>>> from convviz.viz import scene
>>> s = scene.build(run(Spec("Conv1D", {"filters": 1, "kernel_size": 3}, (5,))))
>>> links = hover_links(s)
>>> out = s.panel("out0").origin  # output cell 0 reads input cells 0, 1, 2 (canvas x 1..3)
>>> sorted(links[f"{out[0]},{out[1]}"])
['1,1', '2,1', '3,1']
"""

from __future__ import annotations

import json

import plotly.io as pio

from . import figures
from . import scene as sc

#: Most steps whose links an HTML file carries (beyond, hover linking is left out).
MAX_LINKED_STEPS = 4096

_SCRIPT = """
(function () {
  var gd = document.getElementById('{plot_id}');
  var data = JSON.parse(document.getElementById('convviz-data').textContent);
  var names = data.frames, at = data.start, playing = false, timer = null;
  var info = document.getElementById('convviz-info');
  var stepText = document.getElementById('convviz-step');
  function show(k) {
    at = Math.max(0, Math.min(names.length - 1, k));
    Plotly.animate(gd, [names[at]], {mode: 'immediate', frame: {duration: 0, redraw: true},
                                     transition: {duration: 0}});
    stepText.textContent = 'step ' + names[at] + ' of 0..' + (data.steps - 1);
    document.body.setAttribute('data-step', names[at]);
  }
  function tick() { if (at >= names.length - 1) { stop(); return; } show(at + 1); }
  function play() {
    if (playing) return; playing = true;
    if (at >= names.length - 1) show(0);
    timer = setInterval(tick, data.duration);
  }
  function stop() { playing = false; if (timer) clearInterval(timer); timer = null; }
  gd.on('plotly_sliderchange', function (e) { stop(); at = e.slider.active;
    stepText.textContent = 'step ' + names[at] + ' of 0..' + (data.steps - 1);
    document.body.setAttribute('data-step', names[at]); });
  document.getElementById('convviz-prev').onclick = function () { stop(); show(at - 1); };
  document.getElementById('convviz-next').onclick = function () { stop(); show(at + 1); };
  document.getElementById('convviz-play').onclick = function () { playing ? stop() : play(); };
  document.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowRight') { stop(); show(at + 1); }
    else if (e.key === 'ArrowLeft') { stop(); show(at - 1); }
    else if (e.key === 'Home') { stop(); show(0); }
    else if (e.key === 'End') { stop(); show(names.length - 1); }
    else if (e.key === ' ') { playing ? stop() : play(); }
    else return;
    e.preventDefault();
  });
  var hi = data.highlight;
  function light(cells) {
    var xs = [], ys = [];
    cells.forEach(function (c) { var p = c.split(','); xs.push(+p[0]); ys.push(+p[1]); });
    Plotly.restyle(gd, {x: [xs], y: [ys]}, [hi]);
  }
  gd.on('plotly_hover', function (e) {
    var p = e.points[0]; if (p.curveNumber !== 0) return;
    var key = p.x + ',' + p.y;
    info.textContent = (data.hover[key] || '');
    light((data.links[key] || []).concat([key]));
  });
  gd.on('plotly_unhover', function () { info.textContent = ''; light([]); });
  show(at);
})();
"""

_PAGE_CSS = """<style>
body { font-family: sans-serif; margin: 12px; }
#convviz-controls button { font-size: 16px; margin-right: 6px; }
#convviz-info { min-height: 1.4em; font-family: monospace; font-size: 15px; margin: 6px 0; }
#convviz-help { color: #555; font-size: 13px; }
</style>"""


def hover_links(scene: sc.Scene, max_steps: int = MAX_LINKED_STEPS) -> dict[str, list[str]]:
    """``{"x,y": ["x,y", ...]}``: for every cell a step writes (or scatters), the cells that
    step's window reads (or paints), and the reverse; canvas coordinates. Empty past
    ``max_steps`` steps."""
    if scene.steps > max_steps:
        return {}
    links: dict[str, set] = {}
    for i in range(scene.steps):
        fr = scene.frame(i)
        anchors = list(zip(*fr.boxes.get("current", ((), ()))))
        linked = []
        for role in ("tap", "tap_pad", "patch"):
            linked += list(zip(*fr.boxes.get(role, ((), ()))))
        for a in anchors:
            ka = f"{int(a[0])},{int(a[1])}"
            for b in linked:
                kb = f"{int(b[0])},{int(b[1])}"
                links.setdefault(ka, set()).add(kb)
                links.setdefault(kb, set()).add(ka)
    return {k: sorted(v) for k, v in links.items()}


def html(scene: sc.Scene, *, duration_ms: int = 500, start: int = 0) -> str:
    """One self-contained HTML page playing ``scene`` (plotly.js inlined)."""
    fig = figures.scene_figure(scene, start=start, duration_ms=duration_ms)
    d = fig.to_dict()
    d["data"][0]["hoverinfo"] = "none"  # the hovered cell's text goes under the figure
    highlight = len(d["data"])
    d["data"].append(dict(type="scatter", x=[], y=[], mode="markers", hoverinfo="skip",
                          showlegend=False, marker=dict(
                              symbol="square", size=scene.cell_px * 0.9,
                              color="rgba(255,215,0,0.35)",
                              line=dict(color="#b8860b", width=2))))
    x, y, _, _, _, hover = scene.cells
    payload = {
        "frames": [f["name"] for f in d["frames"]], "steps": scene.steps,
        "start": int(start), "duration": int(duration_ms), "highlight": highlight,
        "links": hover_links(scene),
        "hover": {f"{int(a)},{int(b)}": h for a, b, h in zip(x, y, hover)},
    }
    body = pio.to_html(d, include_plotlyjs=True, full_html=False, auto_play=False,
                       post_script=_SCRIPT, config={"displaylogo": False},
                       validate=False)
    data = json.dumps(payload).replace("</", "<\\/")
    controls = ("<div id='convviz-controls'><button id='convviz-prev'>◀ previous</button>"
                "<button id='convviz-play'>▶ play / ❚❚ pause</button>"
                "<button id='convviz-next'>next ▶</button> <b id='convviz-step'></b></div>")
    help_text = ("<p id='convviz-help'>Keyboard: ← / → step, space play or pause, Home / End "
                 "first or last step. Hover a cell: the cells it reads (or feeds) light up "
                 "and its value is written above.</p>")
    title = scene.title.replace("<", "&lt;")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"{_PAGE_CSS}</head><body>"
            f"<script type='application/json' id='convviz-data'>{data}</script>"
            f"{controls}<div id='convviz-info'></div>{body}{help_text}</body></html>")

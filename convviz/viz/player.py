"""The step player: a scene painted as SVG and stepped in the browser, in the app and offline.

:func:`payload` turns a :class:`~convviz.viz.scene.Scene` into the JSON that
``player.js`` paints: every cell once (fill, value, hover text), then per frame only what
changes (the window's boxes, the covers and tints, the dynamic labels, the caption and
arithmetic lines, the explain rows), plus, for hover linking, which cells each step links.
The player decides nothing: positions, colours, font sizes and texts all come from the
scene, as they do for the matplotlib exports.

The same script serves two places:

- the layer pages, as a Streamlit bidirectional component (:data:`COMPONENT_JS`): play,
  pause, step, scrub, speed, the keyboard and hover linking all run in the browser; once
  stepping settles (or on pause) the step is reported to Python once, so the PNG button,
  the 3-D view and the shareable link follow the same step;
- :func:`html`, one self-contained HTML file with the same player (no plotly.js, no
  network): for slides, an LMS, or a class without a server.

>>> from convviz.demo import Spec, run
>>> from convviz.viz import scene
>>> s = scene.build(run(Spec("Conv1D", {"filters": 1, "kernel_size": 3}, (5,))))
>>> d = payload(s)
>>> d["frames"], d["labels_step"][0]
([0, 1, 2], 'step 0 of 0..2')
>>> out, reads = d["links"][0]  # step 0 writes output cell 0 and reads input cells 0, 1, 2
>>> [d["cells"]["h"][i] for i in out], len(reads)
(['output filter 0 (0) · reads input 0..2'], 3)
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np

from . import scene as sc
from .schema import SPEEDS

#: The player script (the painter and the controls), shared by the app and the exports.
JS = Path(__file__).with_name("player.js").read_text(encoding="utf-8")
#: How long stepping must rest before the step is reported to Python (one report, not one
#: per key press).
SETTLE_MS = 450
#: Most steps whose hover links a payload carries (beyond, hover shows text only).
MAX_LINKED_STEPS = 4096
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
HELP = ("Keyboard: ← / → step, space plays or pauses, Home / End jump to the first or last "
        "step. Hover (or tap) a cell: every cell it reads, or that it feeds, lights up.")
INFO_IDLE = ("Hover or tap a cell: the cells it reads (or feeds) light up, and it is named "
             "here (an output's value once it is revealed).")
#: Presenter mode has no room for the help line: the keys are named where hover text goes.
PRESENTER_IDLE = "Keys: ← / → step · space play / pause · Home / End · hover a cell to light it."

#: The player's styles (the app injects them once; the HTML export inlines them).
CSS = Path(__file__).with_name("player.css").read_text(encoding="utf-8")

#: The Streamlit component: ``player.js`` plus the module entry point Streamlit calls with
#: each new payload (the same payload is not sent, nor the player rebuilt, twice).
COMPONENT_JS = JS + """
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let holder = parentElement.querySelector(".convviz-holder");
  if (!holder) {
    holder = document.createElement("div");
    holder.className = "convviz-holder";
    parentElement.appendChild(holder);
  }
  if (holder.__player) {
    if (holder.__id === data.id) return;  // the same picture: nothing to parse or redraw
    holder.__player.destroy();
  }
  holder.__id = data.id;
  const d = JSON.parse(data.json);
  d.start = data.start;  // one text serves every start on the animation's frames
  holder.__player = mountPlayer(holder, d, (name, value) => setStateValue(name, value));
  if (d.presenter) {  // a projector needs the whole width: fold the sidebar away
    const open = document.querySelector('[data-testid="stSidebar"][data-collapsed="false"]');
    const fold = open && open.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (fold) fold.click();
  }
}
"""


def links(scene: sc.Scene, max_steps: int = MAX_LINKED_STEPS) -> list[list[list[int]]]:
    """Per step, ``[anchors, linked]`` as indices into the payload's cells: the cell(s) the
    step writes (gather) or reads (scatter) and every cell its window reads (padding and
    inserted zeros included) or its patch paints. Empty past ``max_steps`` steps.

    Taken from the scene's own frames, so hovering lights exactly what the animation draws.
    """
    if scene.steps > max_steps:
        return []
    x, y, *_ = scene.cells
    x, y = x.astype(int), y.astype(int)
    lut = np.full((int(y.max()) + 2, int(x.max()) + 2), -1)  # canvas cell -> payload cell
    lut[y, x] = np.arange(len(x))
    reads = scene.reads()
    written, read = (_pick(lut, [r[k] for r in reads], [r[k + 1] for r in reads])
                     for k in (0, 2))
    return [list(pair) for pair in zip(written, read)]


def _pick(lut, xs, ys) -> list[list[int]]:
    """Per step, the sorted distinct payload cells (``lut``: canvas cell -> payload cell,
    -1 for none) under the canvas cells ``xs[i], ys[i]``: all steps in one pass."""
    lens = [len(v) for v in xs]
    if not sum(lens):
        return [[] for _ in xs]
    step = np.repeat(np.arange(len(xs)), lens)
    px = np.concatenate(xs).astype(int)
    py = np.concatenate(ys).astype(int)
    inside = (px >= 0) & (py >= 0) & (px < lut.shape[1]) & (py < lut.shape[0])
    k, step = lut[py[inside], px[inside]], step[inside]
    n = lut.size
    key = np.sort(step[k >= 0] * n + k[k >= 0])  # by step, then by cell
    key = key[np.r_[True, key[1:] != key[:-1]]] if key.size else key  # distinct
    at, cell = np.divmod(key, n)
    cuts = np.searchsorted(at, np.arange(len(xs) + 1)).tolist()
    cell = cell.tolist()
    return [cell[a:b] for a, b in zip(cuts, cuts[1:])]


def _heading(scene: sc.Scene) -> tuple[list, list]:
    """The title/subtitle lines ``[y centre, text, size]`` and the key's entries
    ``[x, y centre, fill, edge, width, dash, label]``, in pixels from the top left."""
    head, fonts = scene.heading, scene.fonts
    lines, y = [], 10.0
    for texts, step, size in ((head["title"], head["title_px"], fonts["heading"]),
                              (head["sub"], head["sub_px"], fonts["legend"])):
        for t in texts:
            lines.append([round(y + step / 2, 1), t, size])
            y += step
    key = []
    for k, (role, label) in enumerate(scene.legend):
        row, col = divmod(k, head["legend_cols"])
        style = sc.legend_style(role)
        key.append([round(10 + col * head["entry_px"], 1),
                    round(head["legend_y"] + (row + 0.5) * head["legend_px"], 1),
                    style["fill"], style["edge"], style["width"], style["dash"], label])
    return lines, key


def _frame(scene: sc.Scene, i: int, table: dict) -> dict:
    """Step ``i``'s changes; its explain rows as indices into ``table`` (text -> index,
    extended here): the rows repeat the same few texts from step to step."""
    fr = scene.frame(i)
    boxes = {r: [np.asarray(xy[0]).astype(int).tolist(), np.asarray(xy[1]).astype(int).tolist()]
             for r, xy in fr.boxes.items() if len(xy[0])}
    tx, ty, tt = fr.texts
    rows = scene.explain_table(i)
    new = [v for v in dict.fromkeys(itertools.chain.from_iterable(rows)) if v not in table]
    table.update(zip(new, range(len(table), len(table) + len(new))))  # first seen, first
    index = table.__getitem__
    rows = [list(map(index, r)) for r in rows]
    return {"b": boxes, "c": [list(map(int, b)) for b in fr.covers],
            "t": [list(map(int, b)) for b in fr.tints],
            "x": [np.asarray(tx, dtype=float).tolist(), np.asarray(ty, dtype=float).tolist(),
                  list(tt)],
            "l": list(fr.lines), "caption": fr.caption, "e": rows}


def _chain(frames: list[dict]) -> None:
    """Replace each frame's dynamic labels ``x`` by ``dx``, the labels that changed since the
    frame before (``""``: gone). A scatter view's running sums relabel the whole output at
    every step but change only one patch: this sends the patch, not the grid, per frame.
    ``player.js`` (and :func:`labels`) rebuild the full labels."""
    prev: dict = {}
    for fr in frames:
        xs, ys, ts = fr.pop("x")
        cur = {(a, b): t for a, b, t in zip(xs, ys, ts)}
        changed = [(a, b, t) for (a, b), t in cur.items() if prev.get((a, b)) != t]
        changed += [(a, b, "") for (a, b) in prev if (a, b) not in cur]
        fr["dx"] = [list(v) for v in zip(*changed)] if changed else [[], [], []]
        prev = cur


def labels(d: dict) -> list[list]:
    """The full dynamic labels ``[xs, ys, texts]`` of every frame of payload ``d``, as the
    player rebuilds them from ``dx`` (a frame with ``x`` carries its own)."""
    state: dict = {}
    out = []
    for fr in d["steps_data"]:
        if "x" in fr:
            out.append(fr["x"])
            continue
        for a, b, t in zip(*fr["dx"]):
            if t:
                state[(a, b)] = t
            else:
                state.pop((a, b), None)
        out.append([[k[0] for k in state], [k[1] for k in state], list(state.values())])
    return out


def _base(scene: sc.Scene) -> dict:
    """Everything of a payload that does not depend on the start step or the page, kept
    with the scene as JSON text (:func:`_serialize`)."""
    if "player" in scene.memo:
        return scene.memo["player"]
    x, y, fill, text, _, hover = scene.cells
    palette = list(dict.fromkeys(fill.tolist()))
    code = {c: k for k, c in enumerate(palette)}
    cell = scene.cell_px
    head = scene.heading
    block = scene.text_block
    top = head["height"]
    heading, legend = _heading(scene)
    outlines = [[x0, y0, x1, y1, *sc.BOXES[r][:2], sc.BOXES[r][2]]
                for x0, y0, x1, y1, r in scene.outlines]
    for p in scene.panels:
        if p.edge:
            cols, rows = p.size
            outlines.append([*p.box((0, 0, cols - 1, rows - 1)), p.edge, 3.0, False])
    frames = [int(i) for i in scene.frames_at]
    table: dict = {}
    base = {
        "cell": cell, "left": 10, "top": top, "width": scene.width_px,
        "height": int(round(top + (scene.canvas[1] + block["rows"]) * cell + 14)),
        "font": FONT, "mono": MONO, "fonts": scene.fonts, "heading": heading,
        "legend": legend, "palette": palette,
        "cells": {"x": x.astype(int).tolist(), "y": y.astype(int).tolist(),
                  "f": [code[c] for c in fill.tolist()], "t": list(text), "h": list(hover)},
        "labels": [[float(a), float(b), t, kind, anchor]
                   for a, b, t, kind, anchor in scene.labels],
        "outlines": [[int(v) for v in o[:4]] + o[4:] for o in outlines],
        "roles": list(sc.BOX_ROLES),
        "boxes": {r: {"edge": sc.BOXES[r][0], "width": sc.BOXES[r][1], "dash": sc.BOXES[r][2],
                      "inset": (1 - (0.92 if r == "current" else 0.84)) / 2,
                      "fill": sc.GAP_FILL if r == "gap" else None} for r in sc.BOX_ROLES},
        "colors": {"text": sc.TEXT, "tick": sc.TICK_TEXT, "tap": sc.TAP_TEXT,
                   "cover": sc.COVER, "tint": sc.WRITTEN_TINT, "link": sc.LINK_FILL,
                   "link_edge": sc.LINK_EDGE},
        "text_kind": scene.frame(frames[0]).text_kind,
        "lines_y0": round(top + (block["y0"] + 0.5) * cell, 2),
        "line_px": round(block["step"] * cell, 2),
        "columns": list(sc.EXPLAIN_COLUMNS), "steps": scene.steps,
        "links": links(scene), "help": HELP, "info_idle": INFO_IDLE, "settle_ms": SETTLE_MS,
    }
    made = {i: _frame(scene, i, table) for i in frames}
    _chain([made[i] for i in frames])
    scene.memo["player"] = _serialize(base, made, table)
    scene.drop_frames()  # the text is what is kept
    return scene.memo["player"]


#: A frame's keys drawn only with the explain table (left out of a payload without it).
_EXPLAIN_KEYS = ("caption", "e")


def _serialize(base: dict, frames: dict, table: dict) -> dict:
    """``base``, the ``frames`` and the explain ``table`` as JSON texts, each made once: the
    picture's id digests them, and every message of the scene (any start, speed or mode)
    is put together from them (:func:`_message_text`). Text is also what a picture keeps
    in memory: a third of the lists and dicts it was made from."""
    texts = {k: _dumps(v) for k, v in base.items()}
    parts = {}
    for i, f in frames.items():  # {geometry..., caption, e, dx}: three texts to join
        explain = {k: f.pop(k) for k in _EXPLAIN_KEYS}
        tail = {"dx": f.pop("dx")}
        parts[i] = (_dumps(f)[1:-1], _dumps(explain)[1:-1], _dumps(tail)[1:-1])
    table_text = _dumps(list(table))
    digest = hashlib.sha1()
    for part in (*texts, *texts.values(), _dumps(list(parts)),
                 *(t for p in parts.values() for t in p), table_text):
        data = part.encode()
        digest.update(b"%d:" % len(data) + data)  # each part delimited by its length
    return {"texts": texts, "frames": parts, "table": table_text, "table_size": len(table),
            "id": digest.hexdigest()[:12]}


def _frame_text(parts: tuple, explain: bool) -> str:
    geometry, rows, tail = parts
    return "{" + ",".join((geometry, rows, tail) if explain else (geometry, tail)) + "}"


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def picture_id(scene: sc.Scene) -> str:
    """A digest of everything ``scene``'s player draws (equal pictures, equal ids)."""
    return _base(scene)["id"]


def _speeds(speed: str, duration_ms: int | None) -> tuple[str, dict]:
    """``(name, speeds)``: the player's speed (``duration_ms``, the exports' ``fps``, adds
    one of its own to :data:`~convviz.viz.schema.SPEEDS`) and every speed it offers."""
    speeds = dict(SPEEDS)
    if duration_ms is not None:
        speed = next((k for k, v in SPEEDS.items() if v == duration_ms), f"{duration_ms} ms")
        speeds[speed] = int(duration_ms)
    if speed not in speeds:
        raise ValueError(f"speed={speed!r} is not one of {', '.join(speeds)}")
    return speed, speeds


def _message_id(base: dict, start: int, speed: str, ms: int, explain: bool,
                presenter: bool) -> str:
    return f"{base['id']}-{start}-{speed}-{ms}-{int(explain)}{int(presenter)}"


def _message_text(scene: sc.Scene, *, start: int = 0, speed: str = "normal",
                  duration_ms: int | None = None, explain: bool = True,
                  presenter: bool = False) -> str:
    """The JSON text of :func:`payload` (see there), put together from the texts
    :func:`_serialize` keeps."""
    base = _base(scene)
    start = int(np.clip(start, 0, scene.steps - 1))
    frames = sorted(set(base["frames"]) | {start})
    speed, speeds = _speeds(speed, duration_ms)
    texts = dict(base["texts"])
    steps_data = []
    table_text = base["table"] if explain else "[]"
    for i in frames:
        if i in base["frames"]:
            steps_data.append(_frame_text(base["frames"][i], explain))
            continue
        # a start between the animation's frames: its own frame, full labels, new texts
        table = {t: k for k, t in enumerate(json.loads(base["table"]))}
        fr = _frame(scene, i, table)
        if not explain:
            fr = {k: v for k, v in fr.items() if k not in _EXPLAIN_KEYS}
        elif len(table) > base["table_size"]:
            table_text = _dumps(list(table))
        steps_data.append(_dumps(fr))
    id_ = _message_id(base, start, speed, speeds[speed], explain, presenter)
    texts.update(texts=table_text, frames=_dumps(frames), start=_dumps(start),
                 speed=_dumps(speed), speeds=_dumps(speeds), explain=_dumps(bool(explain)),
                 presenter=_dumps(bool(presenter)),
                 info_idle=_dumps(PRESENTER_IDLE if presenter else INFO_IDLE),
                 labels_step=_dumps([sc.step_label(i, scene.steps) for i in frames]),
                 steps_data="[" + ",".join(steps_data) + "]", id=_dumps(id_))
    return "{" + ",".join(f"{_dumps(k)}:{t}" for k, t in texts.items()) + "}"


def payload(scene: sc.Scene, *, start: int = 0, speed: str = "normal",
            duration_ms: int | None = None, explain: bool = True,
            presenter: bool = False) -> dict:
    """The JSON ``player.js`` paints: ``scene`` starting at step ``start``.

    ``speed`` names one of :data:`~convviz.viz.schema.SPEEDS` (``duration_ms`` adds a
    speed of its own, the exports' ``fps``); ``explain`` adds the explain table under
    the picture; ``presenter`` scales the picture to the screen's height. ``id`` changes
    with anything drawn, so the app rebuilds a player only for a new picture.
    """
    return json.loads(_message_text(scene, start=start, speed=speed, duration_ms=duration_ms,
                                    explain=explain, presenter=presenter))


#: Component messages kept per scene (one per start step, speed and mode a page asked for).
MAX_MESSAGES = 8


def message(scene: sc.Scene, *, start: int = 0, **options) -> dict:
    """What the app sends its player component: ``{"id", "json", "start"}``, the payload
    as text and the step the player starts on (it replaces the text's ``start``).

    The text is made once per scene and options (:data:`MAX_MESSAGES` kept), from parts
    serialized once per scene, so a rerun that shows the same picture sends the same
    bytes without building or serializing the payload again (and Streamlit checks two
    short strings for dataframes, not every key of the payload). A start on one of the
    animation's frames does not change the text (a class on one picture at thirty
    different steps shares one text); only a start between frames, which adds its own
    frame, has a text of its own. ``id`` changes with the picture, the start and the
    options: the player is rebuilt for a new one only.
    """
    base = _base(scene)
    start = int(np.clip(start, 0, scene.steps - 1))
    text_start = min(base["frames"]) if start in base["frames"] else start

    def make():
        return _message_text(scene, start=text_start, **options)

    text = scene.kept("messages", (text_start, *sorted(options.items())), make, MAX_MESSAGES)
    speed, speeds = _speeds(options.get("speed", "normal"), options.get("duration_ms"))
    id_ = _message_id(base, start, speed, speeds[speed], options.get("explain", True),
                      options.get("presenter", False))
    return {"id": id_, "json": text, "start": start}


def read_message(data: dict) -> dict:
    """The payload a :func:`message` gives the player: its text with its ``start`` (what
    the component's JS does with it)."""
    return {**json.loads(data["json"]), "start": data["start"]}


def html(scene: sc.Scene, *, start: int = 0, duration_ms: int | None = None) -> str:
    """One self-contained HTML page playing ``scene``: the app's player, no network."""
    data = _message_text(scene, start=start, duration_ms=duration_ms, explain=scene.numbers)
    data = data.replace("</", "<\\/")
    title = scene.title.replace("&", "&amp;").replace("<", "&lt;")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{title}</title><style>body {{ margin: 12px; }}{CSS}</style></head><body>"
            "<div id='convviz-player'></div>"
            f"<script type='application/json' id='convviz-data'>{data}</script>"
            f"<script>{JS}\nvar convvizPlayer = mountPlayer(document.getElementById("
            "'convviz-player'), JSON.parse(document.getElementById('convviz-data')"
            ".textContent), null);</script></body></html>")

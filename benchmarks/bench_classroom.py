"""A class of students against a real server: rerun latency, lost state, errors, downloads.

Run::

    python benchmarks/bench_classroom.py                        # 10 students, 60 s, own server
    python benchmarks/bench_classroom.py --students 10,30 --downloads 10 --json out.json
    python benchmarks/bench_classroom.py --processes 4          # behind `convviz serve`
    python benchmarks/bench_classroom.py --url http://127.0.0.1:8501 --students 5

Without ``--url`` the benchmark starts its own server on a free port in 8700-8799 from the
repository root (``streamlit run app.py``, or ``python -m convviz serve --processes N`` for
``--processes N`` > 1: HAProxy on P, the Streamlit processes on P+1..P+N), fresh for every
class size, and stops it afterwards. With ``--url`` it samples the process listening on
the URL's port (or ``--server-pid``) and its children.

Every student is what a Chromium tab is to the server (its frames were recorded and are
mirrored): it GETs its page, ``/_stcore/health`` (which sets the XSRF cookie) and
``/_stcore/host-config`` with one cookie jar, opens the websocket ``/_stcore/stream`` with
the subprotocols ``streamlit, <XSRF cookie>``, an Origin and the jar's cookies (behind the
proxy its cookie keeps the student on one backend), and sends ``rerun_script`` BackMsgs:
the first with the page's url path as ``page_name`` and empty widget states, the others
with the page's ``page_script_hash`` (the ``navigation`` message's, not ``new_session``'s,
which is app.py's), the query string the page last wrote, the full WidgetStates of every
widget of the last run (sliders as a one-value double array, selectboxes as the option's
text, toggles as a bool; the changed one replaced), the hashes of the large messages it
keeps (which the server then sends as references, as to a browser; kept for the two runs a
browser keeps them) and the browser's context info.

Students are spread over the six layer pages (student i on the i-th page, round robin).
Each opens its page within the first 3 s, learns its sidebar widgets from each run's
deltas, and about every ``--interval`` seconds (+-25 %) changes one of them to another
valid value: a slider mostly by a step or two, an option, a toggle; after "not allowed" it
mostly undoes its last change or puts a setting back to its default. Changes fall due on a
fixed schedule; one that falls due while the previous run is still going waits for it (a
student looks at the result first), and its latency counts from the moment it was due.
After a failure (below) the student reloads its page (with the URL the page last wrote)
and carries on. The figures:

- **changes sent/due**: changes sent over those that fell due within ``--duration``
  (fewer sent: the server could not keep up with the class);
- **latency p50/p95/max**: from a change being due to the ``script_finished`` of its run,
  in ms (failed runs are counted under errors, not here); **the run alone**: from sending
  the rerun to its ``script_finished`` (the rest is the wait for the student's previous
  run); the slowest changes are listed with their settings; **first load**: opening the
  page, from the first GET to its run's end;
- **errors**: websocket disconnects and refused connections, runs not finished within
  ``--timeout`` s, Streamlit exception elements (a traceback on a student's screen),
  compile errors, red boxes other than the one below, and runs that showed another page;
- **not allowed**: runs answered "This configuration is not allowed" (a Keras rule the
  random walk broke: a legitimate answer, not an error);
- **lost state**: students who, after some run, did not find in the widgets and in the
  page's URL (``page_info_changed``: the page writes every setting there; a setting left
  out is at its default) a value they set, now or before, although the app had no reason
  to change it. Reasons: a slider clamped to a new range, an option the new layer lacks
  (the student then goes on from what the widget shows), a widget the layer does not have
  (the student forgets that setting);
- **downloads** (``--downloads K``): from about 8 s before mid-run K students (spread over
  the pages) give themselves distinct settings (an input size no other downloading student
  of their page has, presenter mode off, a rule-breaking setting back to its default), and
  at mid-run all GET their page's "Download GIF" link at once (the link_button's relative
  ``url`` against the page URL, same cookie jar) while the class goes on. Delivered: 200
  with a body that starts with ``GIF8``; otherwise the status and the server's reason.
  "not found": the page draws no such link;
- **server memory**: resident memory (VmRSS) of the server's process tree (the launcher,
  HAProxy, the Streamlit processes, their render workers), sampled every 5 s: idle before
  the class, after 1 minute of load ("-" for a shorter run), at the end, and end / 1 min;
- **server CPU** / **client CPU**: % of one core over the run (the client's of its busiest
  process; near 100 % means the client, not the server, set the pace: ``--client-procs``
  splits the class over more processes, one per 50 students by default).

``--json FILE`` writes each class's summary and its details (every latency, the first
error and lost-state examples with the student's URL, every download, the memory samples).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import http.cookiejar
import json
import math
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convviz.viz.schema import FAMILY_PAGES  # noqa: E402

PAGES = ("convolution", "transposed", "depthwise", "upsampling", "cropping", "padding")
PORTS = range(8700, 8800)
NOT_ALLOWED = "This configuration is not allowed"
GIF_LABEL = "Download GIF"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) bench_classroom (like HeadlessChrome)"
SAMPLE_SECONDS = 5.0
#: A change slower than this (ms) is kept with its details (``--json``: "slow").
SLOW_MS = 2000
#: Students per client process by default (one process drives 30 at about 5 % of a core).
STUDENTS_PER_CLIENT = 50
FINISHED = ForwardMsg.ScriptFinishedStatus


# --- what the server sends: one run's deltas, digested ---------------------------------

@dataclass
class Widget:
    """A sidebar widget as the last run drew it; ``name`` is its field (``k0``, ``layer``)."""

    id: str
    name: str
    kind: str  # "slider", "select" or "toggle"
    value: object
    lo: int = 0
    hi: int = 0
    step: int = 1
    options: tuple = ()

    def accepts(self, value) -> bool:
        if self.kind == "slider":
            return isinstance(value, int) and self.lo <= value <= self.hi
        if self.kind == "select":
            return value in self.options
        return isinstance(value, bool)

    def state(self, value=None) -> WidgetState:
        """The WidgetState a browser sends for this widget (at ``value``, or its own)."""
        value = self.value if value is None else value
        ws = WidgetState(id=self.id)
        if self.kind == "slider":
            ws.double_array_value.data.append(float(value))
        elif self.kind == "select":
            ws.string_value = str(value)
        else:
            ws.bool_value = bool(value)
        return ws


@dataclass
class Run:
    """What one script run showed."""

    finished: bool = False
    status: int = -1
    widgets: dict = field(default_factory=dict)  # name -> Widget
    query: str | None = None  # page_info_changed, if the run set the URL
    page: str | None = None  # the url path of the page the run showed (navigation)
    exceptions: list = field(default_factory=list)
    error_alerts: list = field(default_factory=list)
    not_allowed: bool = False
    gif_url: str | None = None
    download_buttons: int = 0  # st.download_button elements (the pre-link exports)
    bytes: int = 0
    cache_misses: int = 0
    seconds: float = 0.0  # from sending the rerun to its script_finished


def _number(x: float):
    return int(x) if float(x).is_integer() else x


def widget_of(element, page: str, stored: dict) -> Widget | None:
    """The :class:`Widget` of a delta's element, if it is one of ``page``'s keyed widgets.

    Its value is the one the server set (``set_value``), else the one this client holds
    for the id, else the widget's default: what the browser shows.
    """
    kind = element.WhichOneof("type")
    if kind not in ("slider", "selectbox", "checkbox"):
        return None
    proto = getattr(element, kind)
    key = proto.id.split("-", 2)[2] if proto.id.startswith("$$ID-") else proto.id
    if not key.startswith(page + "."):
        return None
    name = key[len(page) + 1:]
    if kind == "slider":
        if proto.set_value and len(proto.value):
            value = _number(proto.value[0])
        else:
            value = stored.get(proto.id, _number(proto.default[0]) if proto.default else 0)
        return Widget(proto.id, name, "slider", value, _number(proto.min), _number(proto.max),
                      _number(proto.step) or 1)
    if kind == "selectbox":
        options = tuple(proto.options)
        if proto.set_value and proto.HasField("raw_value"):
            value = proto.raw_value
        else:
            default = options[proto.default] if proto.HasField("default") and options else None
            value = stored.get(proto.id, default)
        return Widget(proto.id, name, "select", value, options=options)
    value = proto.value if proto.set_value else stored.get(proto.id, proto.default)
    return Widget(proto.id, name, "toggle", bool(value))


def digest(messages, page: str, stored: dict | None = None) -> Run:
    """A :class:`Run` from the ForwardMsgs of one run (references already resolved)."""
    run, stored = Run(), stored or {}
    for msg in messages:
        kind = msg.WhichOneof("type")
        if kind == "page_info_changed":
            run.query = msg.page_info_changed.query_string
        elif kind == "navigation":
            nav = msg.navigation
            run.page = next((p.url_pathname for p in nav.app_pages
                             if p.page_script_hash == nav.page_script_hash), None)
        elif kind == "script_finished":
            run.finished, run.status = True, msg.script_finished
            if msg.script_finished == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                run.exceptions.append("compile error")
        elif kind == "session_event" and msg.session_event.HasField(
                "script_compilation_exception"):
            exc = msg.session_event.script_compilation_exception
            run.exceptions.append(f"{exc.type}: {exc.message}"[:300])
        elif kind == "page_not_found":
            run.exceptions.append(f"page not found: {msg.page_not_found.page_name}")
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            etype = element.WhichOneof("type")
            widget = widget_of(element, page, stored)
            if widget is not None:
                run.widgets[widget.name] = widget
            elif etype == "exception":
                exc = element.exception
                run.exceptions.append(f"{exc.type}: {exc.message}"[:300])
            elif etype == "alert" and element.alert.format == element.alert.ERROR:
                if NOT_ALLOWED in element.alert.body:
                    run.not_allowed = True
                else:
                    run.error_alerts.append(element.alert.body[:300])
            elif etype == "link_button" and element.link_button.label.startswith(GIF_LABEL):
                run.gif_url = element.link_button.url
            elif etype == "download_button":
                run.download_buttons += 1
    return run


# --- what a browser sends ---------------------------------------------------------------

def rerun_message(page_url: str, query: str, *, page_name: str = "", page_script_hash: str = "",
                  widgets=None, cached=()) -> bytes:
    """The ``rerun_script`` BackMsg a browser sends (first run: ``page_name``, no widgets)."""
    msg = BackMsg()
    rs = msg.rerun_script
    rs.query_string = query
    if page_script_hash:
        rs.page_script_hash = page_script_hash
    else:
        rs.page_name = page_name
    rs.widget_states.SetInParent()
    for state in widgets or ():
        rs.widget_states.widgets.append(state)
    rs.cached_message_hashes.extend(cached)
    ci = rs.context_info
    ci.timezone, ci.timezone_offset, ci.locale = "UTC", 0, "en-US"
    ci.url, ci.is_embedded, ci.color_scheme = page_url, False, "light"
    return msg.SerializeToString()


def widget_states(widgets: dict, changed: dict | None = None) -> list:
    """Every widget's state, as the browser sends them, with ``changed`` ({name: value})."""
    changed = changed or {}
    return [w.state(changed.get(name)) for name, w in widgets.items()]


#: How students move (``--walk``): ``anywhere``, sliders nudged by a step or two 70 % of
#: the time and dragged anywhere in their range otherwise (a random walk that drifts to
#: the largest settings); ``lesson``, sliders moved one notch, and one change in six puts a
#: setting back to its default (a class following a teacher's example).
WALKS = ("anywhere", "lesson")


def pick_change(widgets: dict, rng: random.Random,
                walk: str = "anywhere") -> tuple[str, object] | None:
    """One widget and another valid value for it, as a student would pick (see
    :data:`WALKS`): a slider moved, another option, a flip."""
    names = [n for n, w in widgets.items()
             if w.kind != "slider" or w.hi > w.lo]
    if not names:
        return None
    w = widgets[rng.choice(sorted(names))]
    if w.kind == "toggle":
        return w.name, not w.value
    if w.kind == "select":
        others = [o for o in w.options if o != w.value]
        return (w.name, rng.choice(others)) if others else None
    values = [v for v in range(w.lo, w.hi + 1, w.step) if v != w.value]
    if walk == "lesson":
        near = [v for v in values if abs(v - w.value) <= w.step]
        return w.name, rng.choice(near or values)
    near = [v for v in values if abs(v - w.value) <= 2 * w.step]
    return w.name, rng.choice(near if near and rng.random() < 0.7 else values)


def url_text(value) -> str:
    """A value as the page writes it into its URL."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@dataclass
class Loss:
    field: str
    wanted: object
    widget: object
    url: str | None


def check_state(wanted: dict, run: Run, query: str, defaults: dict) -> tuple[list, dict]:
    """Which of the values a student set (``wanted``) the run lost, and what it keeps.

    A value counts as kept when its widget shows it and the URL carries it (a missing URL
    setting is its default). A widget gone (the layer has no such argument) or showing
    another value because the set one is no longer valid (a new range, an option the layer
    lacks) is the app's legitimate doing: the student then keeps what the widget shows.
    """
    params = urllib.parse.parse_qs(query or "", keep_blank_values=True)
    losses, keep = [], {}
    for name, value in wanted.items():
        w = run.widgets.get(name)
        if w is None:
            continue
        if not w.accepts(value):
            keep[name] = w.value
            continue
        in_url = params.get(name, [url_text(defaults.get(name))])[0]
        if w.value != value or in_url != url_text(value):
            losses.append(Loss(name, value, w.value, in_url))
        keep[name] = w.value
    return losses, keep


def percentile(values, q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


# --- one student ------------------------------------------------------------------------

class Disconnected(Exception):
    """The websocket closed during a run."""


class ConnectFailed(Exception):
    """The page, or its websocket, could not be opened."""


class Student:
    """One browser tab on one layer page."""

    def __init__(self, index: int, page: str, cfg: dict, stats: dict):
        self.index, self.page, self.cfg, self.stats = index, page, cfg, stats
        self.rng = random.Random(f"{cfg['seed']}-{index}")
        self.base = cfg["url"].rstrip("/")
        self.page_url = f"{self.base}/{page}"
        self.jar = http.cookiejar.CookieJar()
        self.http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.http.addheaders = [("User-Agent", USER_AGENT)]
        self.defaults = FAMILY_PAGES[page].defaults()
        self.ws = None
        self.query = ""  # the URL's query string, as the page last wrote it
        self.script_hash = ""
        self.widgets: dict = {}
        self.stored: dict = {}  # widget id -> the value this tab holds
        self.cache: dict = {}  # hash -> [ForwardMsg, run count at last use]
        self.runs = 0
        self.max_age = 2
        self.wanted: dict = {}
        self.lost = False
        self.last: Run | None = None
        self.undo: tuple | None = None
        self.t0 = time.monotonic()

    # connection ------------------------------------------------------------------
    def _get(self, path: str) -> None:
        with self.http.open(self.base + path, timeout=self.cfg["timeout"]) as r:
            r.read()

    async def connect(self) -> None:
        """GET the page like a browser (cookies), then open the websocket with them."""
        loop = asyncio.get_running_loop()
        path = f"/{self.page}" + (f"?{self.query}" if self.query else "")
        try:
            for p in (path, "/_stcore/health", "/_stcore/host-config"):
                await loop.run_in_executor(None, self._get, p)
            await self._open_websocket()
        except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from None
        self.script_hash, self.widgets, self.stored, self.cache = "", {}, {}, {}

    async def _open_websocket(self) -> None:
        req = urllib.request.Request(self.base + "/_stcore/stream")
        self.jar.add_cookie_header(req)
        xsrf = next((c.value for c in self.jar if c.name == "_streamlit_xsrf"), None)
        headers = {"Cookie": req.get_header("Cookie")} if req.get_header("Cookie") else {}
        ws_url = "ws" + self.base[4:] + "/_stcore/stream"
        self.ws = await websockets.connect(
            ws_url, subprotocols=["streamlit", xsrf] if xsrf else ["streamlit"],
            origin=self.base, additional_headers=headers, user_agent_header=USER_AGENT,
            max_size=None, open_timeout=self.cfg["timeout"])

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception:  # a close that fails is a close all the same
                pass
            self.ws = None

    def _resolve(self, raw: bytes, run: Run) -> ForwardMsg | None:
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        if msg.WhichOneof("type") == "ref_hash":
            hit = self.cache.get(msg.ref_hash)
            if hit is None:
                run.cache_misses += 1
                return None
            hit[1] = self.runs
            return hit[0]
        if msg.metadata.cacheable and msg.hash:
            self.cache.setdefault(msg.hash, [msg, self.runs])[1] = self.runs
        kind = msg.WhichOneof("type")
        if kind == "new_session":  # its page_script_hash is app.py's (the router's)
            self.max_age = msg.new_session.config.max_cached_message_age or 2
        elif kind == "navigation":  # the page's own, which a browser's reruns name
            self.script_hash = msg.navigation.page_script_hash
        return msg

    async def rerun(self, changed: dict | None = None) -> Run:
        """Send a rerun (the first one if there is no widget yet), wait for its end."""
        first = not self.script_hash
        payload = rerun_message(
            self.page_url, self.query, page_name=self.page if first else "",
            page_script_hash=self.script_hash,
            widgets=None if first else widget_states(self.widgets, changed),
            cached=sorted(self.cache))
        for name, value in (changed or {}).items():
            self.stored[self.widgets[name].id] = value
        messages, run = [], Run()
        sent = time.monotonic()
        deadline = sent + self.cfg["timeout"]
        try:
            await self.ws.send(payload)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                raw = await asyncio.wait_for(self.ws.recv(), left)
                run.bytes += len(raw)
                msg = self._resolve(raw, run)
                if msg is None:
                    continue
                messages.append(msg)
                if (msg.WhichOneof("type") == "script_finished" and msg.script_finished
                        != FINISHED.FINISHED_EARLY_FOR_RERUN):
                    break
        except websockets.ConnectionClosed as exc:
            raise Disconnected(f"websocket closed ({exc.rcvd.code if exc.rcvd else '-'})") \
                from None
        done = digest(messages, self.page, self.stored)
        done.bytes, done.cache_misses = run.bytes, run.cache_misses
        done.seconds = time.monotonic() - sent
        if done.status != FINISHED.FINISHED_EARLY_FOR_RERUN:
            self.runs += 1
            self.cache = {h: v for h, v in self.cache.items()
                          if self.runs - v[1] <= self.max_age}
        self.widgets = done.widgets
        for w in self.widgets.values():
            self.stored[w.id] = w.value
        if done.query is not None:
            self.query = done.query
        self.last = done
        return done

    # accounting ----------------------------------------------------------------------
    def _error(self, kind: str, detail: str) -> None:
        self.stats["errors"][kind] += 1
        if len(self.stats["error_examples"]) < 12:
            self.stats["error_examples"].append(
                {"student": self.index, "page": self.page, "kind": kind,
                 "detail": detail[:300], "query": self.query})

    def _account(self, run: Run) -> None:
        self.stats["runs"] += 1
        self.stats["bytes"] += run.bytes
        self.stats["not_allowed"] += run.not_allowed
        for text in run.exceptions:
            self._error("exception", text)
        for text in run.error_alerts:
            self._error("error box", text)
        if run.page is not None and run.page != self.page:
            self._error("wrong page", f"the run showed page {run.page!r}")
        if run.cache_misses:
            self._error("cache miss", f"{run.cache_misses} unresolved message references")
        losses, self.wanted = check_state(self.wanted, run, self.query, self.defaults)
        for loss in losses:
            self.stats["lost_events"] += 1
            self.lost = True
            if len(self.stats["losses"]) < 20:
                self.stats["losses"].append(
                    {"student": self.index, "page": self.page, "field": loss.field,
                     "set": loss.wanted, "widget": loss.widget, "url": loss.url,
                     "query": self.query})

    async def attempt(self, changed: dict | None) -> Run | None:
        """One run (a change, or the page's first load), reloading the page after a
        failure; None if it failed (counted as an error)."""
        try:
            if self.ws is None:
                await self.connect()
                if changed:  # a reload shows the URL's settings: change after it
                    self._account(await self.rerun())
                    changed = {k: v for k, v in changed.items() if k in self.widgets}
            for name, value in (changed or {}).items():
                self.undo = (name, self.widgets[name].value)
                self.wanted[name] = value
            run = await self.rerun(changed)
        except TimeoutError:
            self._error("timeout", f"no script_finished within {self.cfg['timeout']} s")
        except Disconnected as exc:
            self._error("disconnect", str(exc))
        except ConnectFailed as exc:
            self._error("connect", str(exc))
            await asyncio.sleep(1)
        else:
            self._account(run)
            return run
        await self.close()
        return None

    # the class -------------------------------------------------------------------------
    async def live(self, t0: float, plan: dict | None) -> None:
        """Open the page at a staggered moment, then change a widget every interval;
        a downloading student (``plan``) takes its turn at mid-run."""
        cfg, rng = self.cfg, self.rng
        self.t0, end = t0, t0 + cfg["duration"]
        await _sleep_until(t0 + rng.uniform(0, min(3.0, cfg["duration"] / 10)))
        opened = time.monotonic()
        while self.last is None and time.monotonic() < end:
            if await self.attempt(None) is not None:
                self.stats["first_load_ms"].append((time.monotonic() - opened) * 1e3)
        download = None
        due = time.monotonic() + cfg["interval"] * rng.uniform(0.25, 1.0)
        while True:
            now = time.monotonic()
            waiting = plan is not None and download is None
            if waiting and now >= plan["prepare_at"]:
                download = await self.prepare_download(plan)
                due = max(due, time.monotonic() + cfg["interval"] * rng.uniform(0.1, 0.5))
                continue
            if due >= end:
                break
            if now >= end:  # due while the last run went on: never sent
                while due < end:
                    self.stats["due"] += 1
                    due += cfg["interval"] * rng.uniform(0.75, 1.25)
                break
            wake = min(due, plan["prepare_at"]) if waiting else due
            if now < wake:
                await _sleep_until(wake)
                continue
            self.stats["due"] += 1
            self.stats["sent"] += 1
            change = self.next_change()
            if (run := await self.attempt(change)) is not None:
                self._latency(due, run, change)
            due += cfg["interval"] * rng.uniform(0.75, 1.25)
        if download is not None and not isinstance(download, dict):
            self.stats["downloads"].append(await download)
        await self.close()
        self.stats["lost_students"] += self.lost

    def next_change(self) -> dict | None:
        """The student's next change. After "not allowed" a student mostly undoes the last
        change, or else puts a setting back to its default; otherwise (or then) it sets a
        random widget to another value."""
        rng, undo = self.rng, self.undo
        if self.last is not None and self.last.not_allowed:
            w = self.widgets.get(undo[0]) if undo else None
            if w is not None and w.accepts(undo[1]) and w.value != undo[1] \
                    and rng.random() < 0.7:
                return dict([undo])
            back = self.back_to_default(keep=("layer",))
            if back and rng.random() < 0.6:
                return dict([rng.choice(back)])
        if self.cfg.get("walk") == "lesson" and rng.random() < 1 / 6:
            back = self.back_to_default(keep=("layer",))
            if back:
                return dict([rng.choice(back)])
        change = pick_change(self.widgets, rng, self.cfg.get("walk", "anywhere")) \
            if self.widgets else None
        return None if change is None else dict([change])

    def back_to_default(self, keep=()) -> list:
        """(name, default) of every widget not at its page default (but those in ``keep``)."""
        return [(w.name, self.defaults[w.name]) for w in self.widgets.values()
                if w.name not in keep and w.name in self.defaults
                and w.value != self.defaults[w.name] and w.accepts(self.defaults[w.name])]

    async def prepare_download(self, plan: dict):
        """Give this student its own settings (a distinct input size), wait for mid-run,
        then GET its GIF link (a task, so the class goes on); a dict if there is no link."""
        result = {"student": self.index, "page": self.page, "status": None, "bytes": 0,
                  "seconds": None, "gif": False, "note": ""}
        if self.widgets.get("presenter") and self.widgets["presenter"].value:
            await self._timed_change({"presenter": False})
        for attempt in range(12):
            n0 = self.widgets.get("n0")
            if n0 is None:
                break
            size = min(n0.hi, max(n0.lo, plan["size"] + attempt // 4 * plan["spread"]))
            if n0.value != size:
                await self._timed_change({"n0": size})
            elif self.last is not None and self.last.not_allowed:
                # a setting of the random walk breaks a rule: back to its default
                back = self.back_to_default(keep=("layer", "n0"))
                if back:
                    await self._timed_change(dict([self.rng.choice(back)]))
            if self.last is not None and self.last.gif_url and not self.last.not_allowed:
                break
        await _sleep_until(plan["at"])
        run = self.last
        if run is None or not run.gif_url:
            result["note"] = ("not found" if run is None or not run.not_allowed
                              else "no link (configuration not allowed)")
            if run is not None and run.download_buttons and not run.gif_url:
                result["note"] = "not found (the page has st.download_button, no link)"
            self.stats["downloads"].append(result)
            return result
        url = urllib.parse.urljoin(self.page_url, run.gif_url)
        result["url"] = url
        loop = asyncio.get_running_loop()
        return asyncio.ensure_future(loop.run_in_executor(None, self._download, url, result))

    async def _timed_change(self, changed: dict) -> None:
        start = time.monotonic()
        self.stats["due"] += 1
        self.stats["sent"] += 1
        if (run := await self.attempt(changed)) is not None:
            self._latency(start, run, changed)

    def _latency(self, due: float, run: Run, change: dict | None) -> None:
        """Record a change's latency, when it fell due (seconds into the class) and its
        run's own time; keep the details of a slow one."""
        ms = (time.monotonic() - due) * 1e3
        self.stats["latency_ms"].append(ms)
        self.stats["latency_at"].append(due - self.t0)
        self.stats["run_ms"].append(run.seconds * 1e3)
        if ms > SLOW_MS:
            self.stats["slow"].append(
                {"ms": round(ms), "run_ms": round(run.seconds * 1e3),
                 "at": round(due - self.t0, 1), "student": self.index, "page": self.page,
                 "change": change, "query": self.query, "kb": round(run.bytes / 1024)})

    def _download(self, url: str, result: dict) -> dict:
        start = time.monotonic()
        result["start"] = start - self.t0
        req = urllib.request.Request(url, headers={"Referer": self.page_url})
        try:
            with self.http.open(req, timeout=self.cfg["download_timeout"]) as r:
                body = r.read()
                result["status"] = r.status
                result["attachment"] = "attachment" in (r.headers.get("Content-Disposition")
                                                        or "")
        except urllib.error.HTTPError as exc:
            body = exc.read()
            result["status"] = exc.code
            result["retry_after"] = exc.headers.get("Retry-After")
            result["note"] = f"HTTP {exc.code}: " + body[:200].decode("utf-8", "replace")
            if result["retry_after"]:
                result["note"] += f" (Retry-After {result['retry_after']})"
        except (OSError, urllib.error.URLError) as exc:
            body = b""
            result["note"] = f"{type(exc).__name__}: {exc}"
        result["seconds"] = time.monotonic() - start
        result["bytes"] = len(body)
        result["gif"] = body[:4] == b"GIF8"
        if result["status"] == 200 and not result["gif"]:
            result["note"] = f"HTTP 200 but not a GIF: {body[:40]!r}"
        return result


async def _sleep_until(t: float) -> None:
    left = t - time.monotonic()
    if left > 0:
        await asyncio.sleep(left)


def new_stats() -> dict:
    return {"sent": 0, "due": 0, "runs": 0, "bytes": 0, "latency_ms": [], "latency_at": [],
            "run_ms": [], "slow": [], "first_load_ms": [],
            "errors": Counter(), "error_examples": [], "not_allowed": 0, "lost_students": 0,
            "lost_events": 0, "losses": [], "downloads": [], "students": 0}


def download_plans(cfg: dict, pages: list) -> dict:
    """{student index: plan} for the ``--downloads`` students: spread over the pages, each
    with an input size no other downloading student of its page has."""
    k = min(cfg["downloads"], len(pages))
    if not k:
        return {}
    t_mid = cfg["duration"] / 2
    chosen = sorted(random.Random(cfg["seed"]).sample(range(len(pages)), k),
                    key=lambda i: (PAGES.index(pages[i]), i))
    per_page = Counter(pages[i] for i in chosen)
    plans, seen = {}, Counter()
    for i in chosen:
        j = seen[pages[i]]
        seen[pages[i]] += 1
        plans[i] = {"at": t_mid, "prepare_at": max(0.0, t_mid - min(8.0, t_mid / 2)),
                    "size": 4 + j, "spread": per_page[pages[i]]}
    return plans


def client_process(cfg: dict, indices: list) -> dict:
    """Run some of the class's students in this process; return their raw figures."""
    pages = [PAGES[i % len(PAGES)] for i in range(cfg["students"])]
    plans = download_plans(cfg, pages)
    stats = new_stats()
    cpu0, wall0 = time.process_time(), time.monotonic()

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(
            max_workers=len(indices) + cfg["downloads"] + 4))
        t0 = time.monotonic() + (cfg["t0"] - time.time())

        def own(plan):  # the plan's moments on this process's clock
            return plan and {**plan, "at": t0 + plan["at"],
                             "prepare_at": t0 + plan["prepare_at"]}

        await asyncio.gather(*(Student(i, pages[i], cfg, stats).live(t0, own(plans.get(i)))
                               for i in indices))

    asyncio.run(main())
    stats["students"] = len(indices)
    stats["client_cpu"] = [(time.process_time() - cpu0) / (time.monotonic() - wall0) * 100]
    stats["errors"] = dict(stats["errors"])
    return stats


def merge(parts: list) -> dict:
    """The figures of several client processes as one class."""
    out = new_stats()
    out["client_cpu"] = []
    for p in parts:
        for k, v in p.items():
            if isinstance(v, list):
                out[k] = out.get(k, []) + v
            elif isinstance(v, dict):
                out[k] = Counter(out[k]) + Counter(v)
            else:
                out[k] += v
    out["errors"] = dict(out["errors"])
    out["error_examples"] = out["error_examples"][:12]
    out["losses"] = out["losses"][:20]
    out["slow"] = sorted(out["slow"], key=lambda x: -x["ms"])[:20]
    out["downloads"].sort(key=lambda d: d["student"])
    return out


# --- the server -------------------------------------------------------------------------

def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime + stime ticks) of ``pid``, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])


def _start_time(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2:].split()[19])


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree(roots) -> dict:
    """{pid: cpu ticks} of ``roots`` and all their descendants."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _proc_stat(int(entry))) is not None:
            stats[int(entry)] = st
    tree, todo = {}, [r for r in roots if r in stats]
    while todo:
        pid = todo.pop()
        tree[pid] = stats[pid][1]
        todo += [p for p, (ppid, _) in stats.items() if ppid == pid and p not in tree]
    return tree


def listener_pids(port: int) -> list:
    """The processes listening on TCP ``port`` (for ``--url``), as far as /proc shows."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in inodes
                   for fd in os.listdir(f"/proc/{entry}/fd")):
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def _is_render_worker(pid: int) -> bool:
    """A download render worker (a ``multiprocessing`` spawn child of a Streamlit process):
    it holds a picture's frames while it renders and is replaced after each file."""
    try:
        return b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Sampler:
    """Memory and CPU of a server's process tree, sampled every :data:`SAMPLE_SECONDS`;
    the render workers' share of the memory is sampled as well (a render under way holds
    its frames: memory that goes when the worker is replaced, not a cache that grows)."""

    def __init__(self, roots):
        self.roots, self.samples, self.first, self.last = list(roots), [], {}, {}
        self.t0 = time.monotonic()

    def sample(self) -> None:
        tree = process_tree(self.roots)
        for pid, ticks in tree.items():
            self.first.setdefault(pid, 0 if self.samples else ticks)
            self.last[pid] = ticks
        rss = {pid: _rss_kb(pid) for pid in tree}
        workers = sum(kb for pid, kb in rss.items() if _is_render_worker(pid))
        self.samples.append((time.monotonic() - self.t0, sum(rss.values()) / 1024, len(tree),
                             workers / 1024))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
            except TimeoutError:
                pass
        self.sample()

    def figures(self) -> dict:
        wall = self.samples[-1][0] if self.samples else 0
        ticks = sum(self.last[p] - self.first[p] for p in self.last)
        at_min = next((s for s in self.samples if s[0] >= 60 - SAMPLE_SECONDS / 2), None)
        end = self.samples[-1] if self.samples else None
        out = {"idle_mb": self.samples[0][1] if self.samples else None,
               "mem_1min_mb": at_min[1] if at_min else None,
               "mem_end_mb": end[1] if end else None,
               "workers_1min_mb": at_min[3] if at_min else None,
               "workers_end_mb": end[3] if end else None,
               "processes": max((s[2] for s in self.samples), default=0),
               "cpu_pct": ticks / os.sysconf("SC_CLK_TCK") / wall * 100 if wall else None,
               "samples": [(round(t, 1), round(m, 1), round(w, 1))
                           for t, m, _, w in self.samples]}
        if out["mem_1min_mb"] and out["mem_end_mb"]:
            out["mem_ratio"] = out["mem_end_mb"] / out["mem_1min_mb"]
            rest = out["mem_1min_mb"] - out["workers_1min_mb"]
            if rest > 0:  # the server less its render workers
                out["mem_ratio_no_workers"] = (out["mem_end_mb"] - out["workers_end_mb"]) / rest
        return out


def _free_port(span: int) -> int:
    for port in PORTS:
        if port + span > PORTS.stop:
            break
        try:
            for p in range(port, port + span):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port in 8700-8799")


class Server:
    """A server this benchmark starts (and stops) for one class."""

    def __init__(self, processes: int, launcher_flags: tuple = ()):
        self.processes = processes
        self.port = _free_port(1 if processes == 1 else processes + 1)
        self.url = f"http://127.0.0.1:{self.port}"
        if processes > 1:
            cmd = [sys.executable, "-m", "convviz", "serve", "--processes", str(processes),
                   "--port", str(self.port), *launcher_flags]
        else:
            cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless",
                   "true", "--server.address", "127.0.0.1", "--server.port", str(self.port),
                   "--browser.gatherUsageStats", "false"]
        self.log = open(os.devnull, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the server did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        """SIGTERM to the server's process group (the launcher stops its own processes),
        then SIGKILL to whatever of the tree it started is still there."""
        started = {pid: _start_time(pid) for pid in process_tree([self.proc.pid])}
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        for pid, start in started.items():
            if start is not None and _start_time(pid) == start:  # the same process
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc.poll() is None:
            self.proc.wait(5)
        self.log.close()


def launcher_flags() -> tuple | str:
    """Extra flags for ``python -m convviz serve`` (listen on 127.0.0.1 only, if it can be
    told so), or why it cannot be used."""
    probe = subprocess.run([sys.executable, "-m", "convviz", "serve", "--help"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`python -m convviz serve` is not available yet ({last})"
    return ("--address", "127.0.0.1") if "--address" in probe.stdout else ()


# --- one class ----------------------------------------------------------------------------

def run_class(args, students: int) -> dict:
    """Start a server (unless ``--url``), run ``students`` against it, return the figures."""
    server = None
    if args.url:
        url = args.url.rstrip("/")
        port = urllib.parse.urlsplit(url).port or 80
        roots = args.server_pid or listener_pids(port)
    else:
        server = Server(args.processes, args.launcher_flags)
        url, roots = server.url, [server.proc.pid]
    try:
        if server is not None:
            server.wait_ready()
        nproc = args.client_procs or max(1, math.ceil(students / STUDENTS_PER_CLIENT))
        nproc = min(nproc, students)
        cfg = {"url": url, "students": students, "duration": args.duration,
               "interval": args.interval, "timeout": args.timeout, "seed": args.seed,
               "walk": args.walk,
               "downloads": args.downloads, "download_timeout": args.download_timeout,
               "t0": time.time() + 1.0 + (2.0 if nproc > 1 else 0)}
        chunks = [list(range(p, students, nproc)) for p in range(nproc)]
        sampler = Sampler(roots)

        async def drive():
            stop = asyncio.Event()
            watch = asyncio.ensure_future(sampler.run(stop))
            loop = asyncio.get_running_loop()
            if nproc == 1:
                parts = [await loop.run_in_executor(None, client_process, cfg, chunks[0])]
            else:
                ctx = multiprocessing.get_context("spawn")
                with concurrent.futures.ProcessPoolExecutor(nproc, mp_context=ctx) as pool:
                    parts = await asyncio.gather(*(loop.run_in_executor(
                        pool, client_process, cfg, chunk) for chunk in chunks))
            stop.set()
            await watch
            return parts

        started = time.monotonic()
        parts = asyncio.run(drive())
        figures = merge(parts)
        figures.update(students=students, processes=args.processes, url=url,
                       duration=args.duration, interval=args.interval, walk=args.walk,
                       wall_s=time.monotonic() - started, client_procs=nproc,
                       server=sampler.figures() if roots else {})
        return figures
    finally:
        if server is not None:
            server.stop()


# --- the report ---------------------------------------------------------------------------

def _ms(x) -> str:
    return "-" if x is None else f"{x:.0f}"


def latency_timeline(lat: list, at: list, step: float = 10) -> list:
    """[(from s, changes, p50 ms, max ms)] per ``step`` seconds of the run, by due time."""
    buckets: dict = {}
    for ms, t in zip(lat, at):
        buckets.setdefault(int(t // step), []).append(ms)
    return [(k * step, len(v), round(percentile(v, 50)), round(max(v)))
            for k, v in sorted(buckets.items())]


def summary(f: dict) -> dict:
    """The report's figures of one class (also what ``--json`` writes, with the details)."""
    lat, first = f["latency_ms"], f["first_load_ms"]
    downloads = f["downloads"]
    ran = [(d["start"], d["start"] + d["seconds"]) for d in downloads if "start" in d]
    during = ([ms for ms, at in zip(lat, f["latency_at"])
               if min(a for a, _ in ran) <= at <= max(b for _, b in ran)] if ran else [])
    delivered = [d for d in downloads if d.get("status") == 200 and d.get("gif")]
    srv = f.get("server") or {}
    return {
        "students": f["students"], "processes": f["processes"], "duration_s": f["duration"],
        "walk": f.get("walk", "anywhere"),
        "changes_sent": f["sent"], "changes_due": f["due"],
        "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95),
        "max_ms": max(lat, default=None),
        "run_p50_ms": percentile(f["run_ms"], 50), "run_p95_ms": percentile(f["run_ms"], 95),
        "run_max_ms": max(f["run_ms"], default=None),
        "first_load_p50_ms": percentile(first, 50), "first_load_max_ms": max(first, default=None),
        "errors": sum(f["errors"].values()), "errors_by_kind": f["errors"],
        "not_allowed": f["not_allowed"], "lost_state_students": f["lost_students"],
        "lost_state_events": f["lost_events"], "runs": f["runs"],
        "kb_per_run": f["bytes"] / 1024 / f["runs"] if f["runs"] else None,
        "downloads_delivered": len(delivered), "downloads_asked": len(downloads),
        "download_seconds": [round(d["seconds"], 2) for d in delivered],
        "during_downloads_p50_ms": percentile(during, 50),
        "during_downloads_p95_ms": percentile(during, 95),
        "during_downloads_max_ms": max(during, default=None),
        "during_downloads_changes": len(during),
        "latency_by_10s": latency_timeline(lat, f["latency_at"]),
        "server_idle_mb": srv.get("idle_mb"), "server_mem_1min_mb": srv.get("mem_1min_mb"),
        "server_mem_end_mb": srv.get("mem_end_mb"), "server_mem_ratio": srv.get("mem_ratio"),
        "workers_mem_1min_mb": srv.get("workers_1min_mb"),
        "workers_mem_end_mb": srv.get("workers_end_mb"),
        "server_mem_ratio_no_workers": srv.get("mem_ratio_no_workers"),
        "server_processes": srv.get("processes"), "server_cpu_pct": srv.get("cpu_pct"),
        "client_procs": f["client_procs"],
        "client_cpu_pct_max": max(f["client_cpu"], default=None),
    }


def table(f: dict) -> str:
    s = summary(f)

    def mb(x):
        return "-" if x is None else f"{x:.0f}"

    lines = [
        ("students / server processes", f"{s['students']} / {s['processes']}"),
        ("duration", f"{s['duration_s']:.0f} s (interval {f['interval']} s +-25 %, "
                     f"walk {f.get('walk', 'anywhere')})"),
        ("changes sent / due", f"{s['changes_sent']} / {s['changes_due']}"),
        ("latency p50 / p95 / max", f"{_ms(s['p50_ms'])} / {_ms(s['p95_ms'])} / "
                                    f"{_ms(s['max_ms'])} ms"),
        ("  the run alone p50/p95/max", f"{_ms(s['run_p50_ms'])} / {_ms(s['run_p95_ms'])} / "
                                        f"{_ms(s['run_max_ms'])} ms (send to script_finished)"),
        ("first load p50 / max", f"{_ms(s['first_load_p50_ms'])} / "
                                 f"{_ms(s['first_load_max_ms'])} ms"),
        ("errors", f"{s['errors']}" + (" (" + ", ".join(
            f"{k} {v}" for k, v in sorted(s["errors_by_kind"].items())) + ")"
            if s["errors"] else "")),
        ("not allowed (legitimate)", str(s["not_allowed"])),
        ("students with lost state", f"{s['lost_state_students']} "
                                     f"({s['lost_state_events']} lost values)"),
        ("runs / KB per run", f"{s['runs']} / "
                              + ("-" if s["kb_per_run"] is None else f"{s['kb_per_run']:.0f}")),
    ]
    downloads = f["downloads"]
    if downloads:
        times = ", ".join(f"{t:.1f}" for t in s["download_seconds"]) or "-"
        lines.append(("downloads delivered / asked",
                      f"{s['downloads_delivered']} / {s['downloads_asked']} (s: {times})"))
        others = Counter(d["note"] or f"HTTP {d['status']}" for d in downloads
                         if not (d.get("status") == 200 and d.get("gif")))
        for note, n in others.items():
            lines.append(("  not delivered", f"{n} x {note[:70]}"))
        if s["during_downloads_changes"]:
            lines.append(("  latency meanwhile p50/p95/max",
                          f"{_ms(s['during_downloads_p50_ms'])} / "
                          f"{_ms(s['during_downloads_p95_ms'])} / "
                          f"{_ms(s['during_downloads_max_ms'])} ms "
                          f"({s['during_downloads_changes']} changes)"))
    else:
        lines.append(("downloads", "none asked"))
    ratio = s["server_mem_ratio"]
    lines += [
        ("server memory idle / 1 min / end",
         f"{mb(s['server_idle_mb'])} / {mb(s['server_mem_1min_mb'])} / "
         f"{mb(s['server_mem_end_mb'])} MB"
         + (f" (end/1min {ratio:.2f})" if ratio else "")
         + (f", {s['server_processes']} processes" if s["server_processes"] else "")),
        ("  of which render workers", "-" if s["workers_mem_end_mb"] is None else
         f"{mb(s['workers_mem_1min_mb'])} / {mb(s['workers_mem_end_mb'])} MB at 1 min / end"
         + (f" (the rest: end/1min {s['server_mem_ratio_no_workers']:.2f})"
            if s["server_mem_ratio_no_workers"] else "")),
        ("server CPU", "-" if s["server_cpu_pct"] is None
         else f"{s['server_cpu_pct']:.0f} % of one core"),
        ("client CPU", f"{s['client_cpu_pct_max']:.0f} % of one core"
         + (f" (the busiest of {s['client_procs']} client processes)"
            if s["client_procs"] > 1 else "")
         + (": the client set the pace, use more --client-procs"
            if s["client_cpu_pct_max"] > 80 else "")),
    ]
    width = max(len(k) for k, _ in lines)
    out = [f"  {k.ljust(width)}  {v}" for k, v in lines]
    for e in f["error_examples"][:5]:
        out.append(f"  ! {e['kind']} (student {e['student']}, {e['page']}): {e['detail'][:150]}")
    for x in f["slow"][:3]:
        out.append(f"  ! slow: {x['ms']} ms ({x['run_ms']} ms run, {x['kb']} KB) at "
                   f"{x['at']:.0f} s, student {x['student']} set {x['change']} -> "
                   f"{x['page']}?{x['query']}"[:200])
    for loss in f["losses"][:5]:
        out.append(f"  ! lost {loss['field']}={loss['set']!r} (student {loss['student']}, "
                   f"{loss['page']}): widget {loss['widget']!r}, URL {loss['url']!r}")
    return "\n".join(out)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See the module docstring for what each figure means.")
    p.add_argument("--students", default="10",
                   help="class size(s), comma-separated: one run each (default 10)")
    p.add_argument("--duration", type=float, default=60,
                   help="seconds of load per run (default 60)")
    p.add_argument("--interval", type=float, default=2.0,
                   help="seconds between a student's changes (+-25 %%; default 2.0)")
    p.add_argument("--walk", choices=WALKS, default="anywhere",
                   help="how students change settings: anywhere (default: the demanding "
                   "random walk) or lesson (one notch at a time, back to defaults now and "
                   "then); see WALKS")
    p.add_argument("--timeout", type=float, default=30,
                   help="seconds a run may take before it is an error (default 30)")
    p.add_argument("--downloads", type=int, default=0,
                   help="students that GET their page's GIF link at mid-run, together")
    p.add_argument("--download-timeout", type=float, default=180,
                   help="seconds a download may take (default 180)")
    p.add_argument("--processes", type=int, default=1,
                   help="server processes: 1 = streamlit run app.py, N > 1 = convviz serve")
    p.add_argument("--url", help="use this running server instead of starting one")
    p.add_argument("--server-pid", type=int, action="append",
                   help="with --url: a server process to sample (default: the listener)")
    p.add_argument("--client-procs", type=int, default=0,
                   help=f"client processes (default: one per {STUDENTS_PER_CLIENT} students)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(x) for x in args.students.split(",") if x.strip()]
    except ValueError:
        p.error("--students takes whole numbers, e.g. 10,30")
    if not args.sizes or min(args.sizes) < 1:
        p.error("--students needs at least one class size of 1 or more")
    if args.processes < 1:
        p.error("--processes must be 1 or more")
    return args


def where(args) -> str:
    if args.url:
        return args.url
    return "a fresh " + ("`streamlit run app.py`" if args.processes == 1
                         else f"`convviz serve --processes {args.processes}`")


def run_all(args, results: list) -> None:
    """One class per ``--students`` size, its table printed as soon as it is done."""
    for n in args.sizes:
        print(f"\n{n} students for {args.duration:.0f} s against {where(args)} ...", flush=True)
        try:
            figures = run_class(args, n)
        except RuntimeError as exc:
            print(f"  could not run: {exc}")
            continue
        results.append(figures)
        print(table(figures), flush=True)


def overview(results: list) -> str:
    """One line per class, for ``--students 10,30``."""
    lines = ["students  sent/due    p50    p95    max  errors  not-allowed  lost  downloads"
             "  mem 1min/end MB  server CPU"]
    for f in results:
        s = summary(f)
        lines.append(
            f"{s['students']:>8}  {s['changes_sent']:>4}/{s['changes_due']:<4} "
            f"{_ms(s['p50_ms']):>6} {_ms(s['p95_ms']):>6} {_ms(s['max_ms']):>6}  "
            f"{s['errors']:>6}  {s['not_allowed']:>11}  {s['lost_state_students']:>4}  "
            f"{s['downloads_delivered']:>4}/{s['downloads_asked']:<4}  "
            f"{_ms(s['server_mem_1min_mb']):>7}/{_ms(s['server_mem_end_mb']):<7}  "
            f"{_ms(s['server_cpu_pct']):>6} %")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.launcher_flags = ()
    if args.processes > 1 and not args.url:
        flags = launcher_flags()
        if isinstance(flags, str):
            print(f"Skipped: --processes {args.processes} needs the multi-process launcher; "
                  f"{flags}.")
            return 0
        args.launcher_flags = flags
    results: list = []
    try:
        run_all(args, results)
    except KeyboardInterrupt:
        print("\ninterrupted: the figures of the classes that finished follow")
    if len(results) > 1:
        print("\n" + overview(results))
    if args.json and results:
        out = [{"summary": summary(f), "details": f} for f in results]
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
        print(f"\nwrote {args.json}")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())

"""Downloads as plain URLs that always arrive: ``download/<page>/<file>?<settings>``.

A layer page's "Download GIF / PNG / HTML" buttons are links to this route, which
``app.py`` mounts on Streamlit's own server (``st.App``). The URL carries everything the
file is made from (the page's link, :func:`link`), so

- any server process can answer it (behind the class proxy of :mod:`convviz.serve` the
  GET need not reach the student's own backend), and a shared download link keeps working;
- nothing the server clears between the page and the browser's GET can make it a 404
  (Streamlit's own deferred downloads keep the rendered file for two other sessions'
  reruns only, which a busy class gets through in milliseconds);
- the answer is the file (``200``, ``Content-Disposition: attachment``) or a sentence that
  says why not: ``400`` for settings the page would refuse, ``503`` with ``Retry-After``
  while :data:`MAX_WAITING` other renders wait.

The real-data page's PNG is made from a picture the student may have uploaded, which no
URL can carry: the page keeps its feature maps in the server process (:class:`Results`,
bounded) and links to ``download/real-data/<name>.png?id=<their digest>``; a link whose
maps the process no longer keeps is answered ``410`` with the way to a new one.

Rendering runs in :class:`RenderPool`: :data:`RENDER_WORKERS` worker process(es), started
with the server (:func:`lifespan`), at the lowest CPU priority (``nice`` +:data:`WORKER_NICE`:
they get the CPU the reruns leave), so a class pressing "Download GIF"
together slows nobody's reruns; the same file asked twice while it renders is rendered
once; finished files are kept in a cache of at most :data:`MAX_CACHE_BYTES`.

>>> export = Export("convolution", Spec("Conv2D", {"filters": 1, "kernel_size": 3}, (5, 5)))
>>> export.filename("gif")
'Conv2D_5x5x1_f1_k3.gif'
>>> parse("convolution", "conv2d.gif", {"layer": ["Conv2D"], "n0": ["6"]}).spec.spatial
(6, 5)
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import hashlib
import heapq
import itertools
import multiprocessing
import os
import re
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..demo import Spec, check_animation_size
from . import fields as codec
from . import page_fields
from .schema import FAMILY_PAGES, decode, spec_from_values

#: What each download is, by the file name's extension.
KINDS = {"gif": "image/gif", "png": "image/png", "html": "text/html; charset=utf-8"}
#: The route's path under the app's root (the page links are relative to the page's URL).
ROUTE = "download"
#: Render processes per server process (``CONVVIZ_RENDER_WORKERS`` overrides).
RENDER_WORKERS = max(1, int(os.environ.get("CONVVIZ_RENDER_WORKERS", "1")))
#: How much lower a render worker's CPU priority is than the server's (Linux ``nice``).
WORKER_NICE = 19
#: Distinct renders that may wait for a worker; one more is answered 503.
MAX_WAITING = 24
#: Finished files kept per server process (least recently asked dropped first).
MAX_CACHE_BYTES = 64 * 2**20
#: A worker process is replaced after this many renders: one, so the memory a big GIF's
#: frames took goes back to the system at once (a fresh worker loads while nobody waits).
MAX_TASKS_PER_WORKER = 1
#: Seconds a 503 asks the browser to wait per render ahead of it (a rough GIF time).
SECONDS_PER_RENDER = 2
#: Most cells x frames a GIF the server renders may draw: it bounds a render's time and a
#: worker's memory (every frame is held until the GIF is written). With the cells' numbers
#: painted as stamps (:class:`~convviz.viz.painter.Stamps`) a render takes 0.03-0.3 ms per
#: cell and frame on one idle core (measured: a 3-filter Conv3DTranspose scatter view,
#: 99,540 in 7 s, 93 s when every number was a matplotlib Text; Conv3D(padding="same"),
#: 98,544 in 3 s). A bigger animation's GIF shows fewer of its steps (:func:`gif_frames`).
MAX_CELL_FRAMES = 100_000
#: Fewest frames a GIF with fewer steps than its animation keeps; a picture so big that
#: not even these fit is refused, with the HTML player (every frame) as the way out.
MIN_GIF_FRAMES = 24


def gif_frames(scene) -> int:
    """How many frames the server's GIF of ``scene`` has: its animation's, or as many
    evenly spaced steps (first and last kept, as the animation spaces its own) as fit in
    :data:`MAX_CELL_FRAMES`; 0 when not even :data:`MIN_GIF_FRAMES` fit (refused)."""
    frames, cells = len(scene.frames_at), len(scene.cells[0])
    fit = min(frames, MAX_CELL_FRAMES // max(cells, 1))
    return fit if fit >= min(frames, MIN_GIF_FRAMES) else 0


def animation_refusal(scene) -> str | None:
    """Why the server will not render ``scene`` as a GIF (None: it will)."""
    if gif_frames(scene):
        return None
    cells = len(scene.cells[0])
    return (f"this picture has {cells:,} cells, and a GIF rendered on the shared server "
            f"draws at most {MAX_CELL_FRAMES:,} cell frames: fewer than {MIN_GIF_FRAMES} "
            f"frames. The interactive HTML player has all {len(scene.frames_at)} of the "
            "animation's frames; or run the shell command on your own machine")


def gif_note(scene) -> str:
    """What the GIF button says its file shows."""
    frames, steps = gif_frames(scene), scene.steps
    if frames == steps:
        return f"Every step ({steps}), rendered with matplotlib on the server"
    why = ("" if frames == len(scene.frames_at) else
           f" (a GIF rendered on the shared server draws at most {MAX_CELL_FRAMES:,} cell "
           f"frames; the player and the HTML file have {len(scene.frames_at)})")
    return (f"{frames} of the {steps} steps, evenly spaced{why}, rendered with matplotlib "
            "on the server")


@dataclass(frozen=True)
class Export:
    """One picture the pages export: the layer, how it is drawn, and the step shown."""

    page: str
    spec: Spec
    view: str = "gather"
    numbers: bool = False
    reveal: bool = False
    filter: int = 0
    step: int = 0
    #: cells x frames of the GIF (what :class:`RenderPool` renders the smallest of first)
    cost: int = field(default=0, compare=False)
    #: the GIF's frames (:func:`gif_frames`; None: the animation's own)
    gif_frames: int | None = field(default=None, compare=False)

    def key(self, kind: str) -> tuple:
        """What the file ``kind`` depends on (a GIF shows every step: not ``step``)."""
        step = None if kind == "gif" else self.step
        return (kind, self.spec, self.view, self.numbers, self.reveal, self.filter, step)

    def filename(self, kind: str) -> str:
        from ..gallery import file_stem

        stem = file_stem(self.spec, view=self.view, filter=self.filter)
        return f"{stem}_step{self.step}.png" if kind == "png" else f"{stem}.{kind}"

    def render(self, kind: str) -> bytes:
        """The file's bytes (runs in a render worker)."""
        from .. import export

        common = dict(view=self.view, numbers=self.numbers, reveal=self.reveal,
                      filter=self.filter)
        if kind == "gif":
            return export.gif_bytes(self.spec, max_frames=self.gif_frames, **common)
        if kind == "png":
            return export.png_bytes(self.spec, self.step, **common)
        return export.html_bytes(self.spec, step=self.step, **common)


#: The real-data page's download: its feature maps are made from a picture the student may
#: have uploaded, which no URL can carry, so the page keeps them in this server process
#: (:class:`Results`) and its link names them by a digest (the proxy keeps a browser on
#: its own process, as it does for the page's websocket and uploads).
REAL_PAGE = "real-data"
#: Feature maps kept for real-data download links per server process (the oldest dropped
#: first), and the most bytes of them.
MAX_RESULTS = 64
MAX_RESULT_BYTES = 256 * 2**20


class Gone(ValueError):
    """A real-data download link whose feature maps this server process no longer keeps."""


class Results:
    """Feature maps a real-data page shows, kept for their download link (a bounded,
    thread-safe store, newest last). :meth:`add` gives the token the link names: the
    digest of the maps and their name, so the same result keeps the same link."""

    def __init__(self, max_items: int = MAX_RESULTS, max_bytes: int = MAX_RESULT_BYTES):
        self.max_items, self.max_bytes = max_items, max_bytes
        # token -> (maps, name, memo key)
        self._items: collections.OrderedDict[str, tuple] = collections.OrderedDict()
        self._memo: dict[tuple, tuple] = {}  # (id(owner), name) -> (owner, token)
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, maps: np.ndarray, name: str, owner=None) -> str:
        """Keep ``maps`` named ``name``; their token. ``owner`` (default: ``maps``) is the
        object they come from: while it is kept, asking again costs a look-up, not a
        digest (a page's rerun with the same cached result)."""
        owner = maps if owner is None else owner
        memo_key = (id(owner), name)
        with self._lock:
            known = self._memo.get(memo_key)
            token = known[1] if known is not None and known[0] is owner else None
        if token is None:
            digest = hashlib.sha1(repr((maps.shape, str(maps.dtype), name)).encode())
            digest.update(np.ascontiguousarray(maps))
            token = digest.hexdigest()[:20]
        with self._lock:
            if token in self._items:
                self._items.move_to_end(token)
                return token
            self._items[token] = (maps, name, memo_key)
            self._memo[memo_key] = (owner, token)
            self._bytes += maps.nbytes
            while len(self._items) > 1 and (len(self._items) > self.max_items
                                            or self._bytes > self.max_bytes):
                _, (old, _, old_key) = self._items.popitem(last=False)
                self._bytes -= old.nbytes
                self._memo.pop(old_key, None)
            return token

    def get(self, token: str) -> tuple[np.ndarray, str] | None:
        """``(maps, name)`` of ``token``, or None when not kept."""
        with self._lock:
            item = self._items.get(token)
            if item is None:
                return None
            self._items.move_to_end(token)
            return item[0], item[1]


#: This server process's real-data results.
RESULTS = Results()


@dataclass(frozen=True)
class RealExport:
    """The real-data page's PNG of feature maps (:func:`convviz.realdata.to_png`)."""

    token: str
    name: str
    maps: np.ndarray = field(compare=False, repr=False)
    cost: int = field(default=0, compare=False)

    def key(self, kind: str) -> tuple:
        return (kind, REAL_PAGE, self.token)

    def filename(self, kind: str) -> str:
        return f"{self.name}.png"

    def render(self, kind: str) -> bytes:
        from ..realdata.pictures import to_png

        return to_png(self.maps)


def real_link(maps: np.ndarray, name: str, owner=None, results: Results = RESULTS) -> str:
    """The relative URL of the PNG of ``maps`` (kept in ``results``; ``owner`` as in
    :meth:`Results.add`), named ``name``.png (letters, digits, ``_``, ``-`` and ``.``)."""
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"a download's name is letters, digits, _, - and .; got {name!r}")
    token = results.add(maps, name, owner)
    return f"{ROUTE}/{REAL_PAGE}/{name}.png?id={token}"


def _real(filename: str, params: Mapping[str, Sequence[str]], results: Results) -> RealExport:
    if not filename.endswith(".png"):
        raise ValueError(f"{filename!r}: the real-data page's download is a .png file")
    token = params.get("id") or []
    if len(token) != 1 or not re.fullmatch(r"[0-9a-f]{20}", token[0]):
        raise ValueError("a real-data download link ends in ?id= and the 20 hex digits the "
                         "page wrote; open the page and press its download button")
    item = results.get(token[0])
    if item is None:
        raise Gone(f"this link named feature maps the server no longer keeps (it keeps the "
                   f"newest {results.max_items}, at most {results.max_bytes // 2**20} MB, per "
                   "process, and none after a restart). Open the real-data page again and "
                   "press its download button: a new link is made for what the page shows")
    maps, name = item
    # cost 0: a PNG, rendered before any waiting GIF (as the layer pages' PNGs)
    return RealExport(token[0], name, maps)


def demystified_spec(n: int, k: int, s: int) -> Spec:
    """The demystified page's transposed convolution: ``Conv2DTranspose(1, k, strides=s,
    padding="same")`` on an ``n`` x ``n`` input."""
    return Spec("Conv2DTranspose", {"filters": 1, "kernel_size": k, "strides": s,
                                    "padding": "same"}, spatial=(n, n))


#: The demystified page's download settings: its own fields, and which of its two views.
_DEMYSTIFIED_VIEW = codec.Field("view", "View", "choice", "gather", choices=("gather", "scatter"))


def _refuse(notices: Sequence[str]) -> None:
    if notices:
        raise ValueError("; ".join(n.replace("; the default is used", "") for n in notices))


def parse(page: str, filename: str, params: Mapping[str, Sequence[str]]) -> Export:
    """The :class:`Export` a download URL names; ValueError saying what is wrong with it.

    Unlike a page link (which falls back to defaults with a notice), a download with a
    setting the page would not accept is refused: a file of other settings than the
    student's would be a quiet lie.
    """
    kind = filename.rpartition(".")[2]
    if kind not in KINDS:
        raise ValueError(f"{filename!r}: a download is a .gif, .png or .html file")
    if page == "demystified":
        fields = {**page_fields.DEMYSTIFIED, "view": _DEMYSTIFIED_VIEW}
        values, notices = codec.decode(fields, params)
        _refuse(notices)
        export = Export(page, demystified_spec(values["n"], values["k"], values["s"]),
                        view=values["view"], step=values[f"{values['view']}_step"])
        return _costed(export) if kind == "gif" else export
    if page not in FAMILY_PAGES:
        raise ValueError(f"{page!r} is not a page with downloads; pages: "
                         + ", ".join([*FAMILY_PAGES, "demystified"]))
    family = FAMILY_PAGES[page]
    values, notices = decode(family, params)
    _refuse(notices)
    spec = spec_from_values(family, values)
    spec.build()  # the ValueError Keras raises for this combination, before any render
    check_animation_size(spec)
    export = Export(page, spec, view=values.get("view", "gather"),
                    numbers=bool(values.get("numbers")), reveal=bool(values.get("reveal")),
                    filter=int(values.get("filter", 0)), step=int(values.get("step", 0)))
    return _costed(export) if kind == "gif" else export


def _costed(export: Export) -> Export:
    """``export`` with its GIF's cost; ValueError when the server will not render it."""
    from .view import build

    view = build(export.spec, view=export.view, numbers=export.numbers,
                 reveal=export.reveal, filter=export.filter)
    if view.error is not None:
        raise ValueError(view.error)
    why = animation_refusal(view.scene)
    if why:
        raise ValueError(why)
    frames = gif_frames(view.scene)
    return replace(export, cost=frames * len(view.scene.cells[0]), gif_frames=frames)


def demystified_query(state: Mapping, view: str) -> dict[str, str]:
    """The demystified page's settings (``n``, ``k``, ``s`` and the view's step, read from
    the widgets' session ``state``) as the query of that view's downloads."""
    keep = [page_fields.DEMYSTIFIED[name] for name in ("n", "k", "s", f"{view}_step")]
    return {**codec.encode(keep, {f.key: state[f.state_key] for f in keep}), "view": view}


def link(export: Export, query: Mapping[str, str], kind: str) -> str:
    """The relative URL of ``export``'s file ``kind``, with the page's ``query``.

    A GIF's link leaves the step out (the GIF shows every step), so stepping the player
    does not change it.
    """
    if kind == "gif":
        query = {k: v for k, v in query.items() if not k.endswith("step")}
    text = urllib.parse.urlencode(dict(query))
    return f"{ROUTE}/{export.page}/{export.filename(kind)}" + (f"?{text}" if text else "")


class Busy(Exception):
    """More renders wait than :data:`MAX_WAITING`; ``retry_after`` seconds is a fair wait."""

    def __init__(self, waiting: int):
        self.retry_after = max(5, waiting * SECONDS_PER_RENDER)
        super().__init__(f"{waiting} downloads are being rendered on this server; "
                         f"try again in about {self.retry_after} s")


def _follow_parent(parent: int) -> None:  # pragma: no cover - runs in the worker process
    """Exit when the server process is gone, however it was stopped (a plain SIGTERM to
    the server alone skips the pool's own shutdown): Linux's parent-death signal, and a
    watch of the parent's pid everywhere else."""
    import signal

    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(0)

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(0)
            threading.Event().wait(2)

    threading.Thread(target=watch, daemon=True, name="convviz-parent-watch").start()


def _start_worker(parent: int) -> None:  # pragma: no cover - runs in the worker process
    _follow_parent(parent)
    try:
        os.nice(WORKER_NICE)
    except OSError:
        pass
    from .. import export  # noqa: F401  (matplotlib: loaded before any render is asked)


def _ready() -> bool:  # runs in the worker process (its initializer loaded matplotlib)
    return True


def _render(export: Export, kind: str) -> bytes:  # runs in the worker process
    return export.render(kind)


class RenderPool:
    """A bounded pool of render processes with one cache of finished files.

    ``await pool.fetch(export, kind)`` gives the bytes: from the cache, from a render already
    under way for the same file, or from a new render (:class:`Busy` when
    :data:`MAX_WAITING` renders are waiting). Waiting renders start smallest first (by
    :attr:`Export.cost`), so a PNG or a small GIF does not wait behind a minute-long one.
    A worker process renders one file and is replaced (its memory goes back to the
    system; the replacement loads matplotlib while nobody waits). A render's ValueError
    (a setting the export refuses) reaches the caller as ValueError.
    """

    def __init__(self, workers: int = RENDER_WORKERS, max_waiting: int = MAX_WAITING,
                 max_cache_bytes: int = MAX_CACHE_BYTES):
        self.workers, self.max_waiting, self.max_cache_bytes = workers, max_waiting, \
            max_cache_bytes
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._running: dict[tuple, asyncio.Future] = {}  # asked, not yet done
        self._queue: list = []  # (cost, order, key, export, kind) not yet started
        self._order = itertools.count()
        self._busy = 0
        self._cache: collections.OrderedDict[tuple, bytes] = collections.OrderedDict()
        self._cache_bytes = 0
        self._lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self.renders = 0  # renders started (repeated asks for one file count once)

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._pool_lock:  # start() runs in a thread beside the first downloads
            if self._executor is None:
                # spawn: the server process runs threads, which fork would copy mid-lock
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker, initargs=(os.getpid(),),
                    max_tasks_per_child=MAX_TASKS_PER_WORKER)
            return self._executor

    @property
    def cache_bytes(self) -> int:
        return self._cache_bytes

    def cached(self, export: Export, kind: str) -> bytes | None:
        with self._lock:
            data = self._cache.get(export.key(kind))
            if data is not None:
                self._cache.move_to_end(export.key(kind))
            return data

    def _keep(self, key: tuple, data: bytes) -> None:
        if len(data) > self.max_cache_bytes:
            return
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = data
            self._cache_bytes += len(data)
            while self._cache_bytes > self.max_cache_bytes:
                _, old = self._cache.popitem(last=False)
                self._cache_bytes -= len(old)

    async def fetch(self, export: Export, kind: str) -> tuple[bytes, str]:
        """``(bytes, how)``: ``how`` is ``"cached"``, ``"shared"`` (joined a render under
        way) or ``"rendered"``."""
        key = export.key(kind)
        data = self.cached(export, kind)
        if data is not None:
            return data, "cached"
        future, how = self._running.get(key), "shared"
        if future is None:
            how = "rendered"
            waiting = len(self._running) - self.workers
            if waiting >= self.max_waiting:
                raise Busy(waiting)
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
            self._running[key] = future
            self.renders += 1
            heapq.heappush(self._queue, (export.cost, next(self._order), key, export, kind))
            self._dispatch()
        # shield: a student who closes the tab does not cancel the others' render
        return await asyncio.shield(future), how

    def _dispatch(self) -> None:
        while self._busy < self.workers and self._queue:
            *_, key, export, kind = heapq.heappop(self._queue)
            try:
                done = self._pool().submit(_render, export, kind)
            except concurrent.futures.process.BrokenProcessPool:
                self._executor = None  # a worker died (e.g. out of memory): start afresh
                done = self._pool().submit(_render, export, kind)
            self._busy += 1
            asyncio.wrap_future(done).add_done_callback(
                lambda f, key=key: self._done(key, f))

    def _done(self, key: tuple, done: asyncio.Future) -> None:
        self._busy -= 1
        future = self._running.pop(key, None)
        error = (asyncio.CancelledError() if done.cancelled() else done.exception())
        if isinstance(error, concurrent.futures.process.BrokenProcessPool):
            self._executor = None
        if error is None:
            self._keep(key, done.result())
        if future is not None and not future.done():
            if error is None:
                future.set_result(done.result())
            else:
                future.set_exception(error)
        self._dispatch()

    def start(self) -> None:
        """Start the worker processes now (the server's start, not the first download:
        so the first GIF does not wait for Python and matplotlib to load, and the memory
        a class sees does not jump mid-lesson)."""
        # one trivial task per worker: each then exits (one task per worker) and its
        # replacement loads matplotlib at once, so a warm worker waits for the first GIF
        for future in [self._pool().submit(_ready) for _ in range(self.workers)]:
            future.result(timeout=120)

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


#: The server process's pool (made on the first download).
POOL = RenderPool()


async def respond(page: str, filename: str, params: Mapping[str, Sequence[str]],
                  pool: RenderPool = POOL,
                  results: Results = RESULTS) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a download request: the file, or why not.

    A file's ``X-Convviz-Download`` header says how it was made (see
    :meth:`RenderPool.fetch`).
    """
    text = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    try:
        export = (_real(filename, params, results) if page == REAL_PAGE
                  else parse(page, filename, params))
        kind = filename.rpartition(".")[2]
        data, how = await pool.fetch(export, kind)
    except Gone as exc:
        return 410, text, f"convviz cannot make this download: {exc}.\n".encode()
    except Busy as exc:
        return 503, {**text, "Retry-After": str(exc.retry_after)}, (
            f"convviz is busy: {exc}.\n").encode()
    except ValueError as exc:
        return 400, text, f"convviz cannot make this download: {exc}\n".encode()
    except concurrent.futures.process.BrokenProcessPool:
        return 503, {**text, "Retry-After": "5"}, (
            b"convviz's renderer stopped (and restarts now); try again in a few seconds.\n")
    name = export.filename(kind)
    return 200, {"Content-Type": KINDS[kind], "Cache-Control": "private, max-age=3600",
                 "Content-Disposition": f'attachment; filename="{name}"',
                 "X-Convviz-Download": how}, data


@contextlib.asynccontextmanager
async def lifespan(app):
    """The server's life (``st.App(lifespan=...)``): render workers started with it (in a
    thread, so the server answers meanwhile) and stopped with it."""
    loop = asyncio.get_running_loop()
    starting = loop.run_in_executor(None, POOL.start)
    try:
        yield None
    finally:
        starting.cancel()
        POOL.shutdown()


def routes() -> list:
    """The Starlette route ``app.py`` hands to ``st.App``."""
    from starlette.responses import Response
    from starlette.routing import Route

    async def download(request):
        params: dict[str, list[str]] = {}
        for name, value in request.query_params.multi_items():
            params.setdefault(name, []).append(value)
        status, headers, body = await respond(request.path_params["page"],
                                              request.path_params["filename"], params)
        return Response(body, status_code=status, headers=headers)

    return [Route(f"/{ROUTE}/{{page}}/{{filename}}", download, methods=["GET", "HEAD"])]

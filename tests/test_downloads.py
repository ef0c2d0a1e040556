"""Download URLs (:mod:`convviz.viz.downloads`): what a link names, what is refused, and the
bounded render pool (real worker processes: the pool's job is to run them)."""

from __future__ import annotations

import asyncio
import io
import urllib.parse

import numpy as np
import pytest

from convviz import export
from convviz.demo import Spec
from convviz.viz import downloads as dl
from convviz.viz import view
from convviz.viz.schema import FAMILY_PAGES, encode, spec_from_values


def _query(url: str) -> tuple[str, str, dict]:
    path, _, text = url.partition("?")
    route, page, filename = path.split("/")
    assert route == dl.ROUTE
    return page, filename, urllib.parse.parse_qs(text)


@pytest.mark.parametrize("page", sorted(FAMILY_PAGES))
def test_every_family_pages_default_link_names_its_default_layer(page):
    family = FAMILY_PAGES[page]
    values = family.defaults()
    want = dl.Export(page, spec_from_values(family, values), values.get("view", "gather"),
                     bool(values.get("numbers")), bool(values.get("reveal")), 0, 0)
    for kind in dl.KINDS:
        got = dl.parse(*_query(dl.link(want, encode(FAMILY_PAGES[page], values), kind)))
        assert got == want


def test_a_link_carries_the_settings_and_the_png_its_step():
    family = FAMILY_PAGES["convolution"]
    values = {**family.defaults(), "layer": "Conv1D", "n0": 9, "k0": 2, "d0": 3, "step": 4,
              "numbers": False}
    export_ = dl.Export("convolution", spec_from_values(family, values), step=4)
    query = encode(family, values)
    gif, png = (dl.link(export_, query, kind) for kind in ("gif", "png"))
    assert "step" not in _query(gif)[2]  # a GIF shows every step: stepping keeps its link
    assert _query(png)[2]["step"] == ["4"] and _query(png)[1].endswith("_step4.png")
    got = dl.parse(*_query(png))
    assert got.spec.name == "Conv1D" and got.spec.spatial == (9,)
    kwargs = dict(got.spec.kwargs)
    assert kwargs["kernel_size"] in (2, (2,)) and kwargs["dilation_rate"] in (3, (3,))
    assert got.step == 4 and got.numbers is False


def test_the_demystified_link_names_its_transposed_convolution_and_view():
    state = {"demystified.n": 6, "demystified.k": 4, "demystified.s": 2,
             "demystified.gather_step": 0, "demystified.scatter_step": 7}
    query = dl.demystified_query(state, "scatter")
    assert query == {"n": "6", "k": "4", "scatter_step": "7", "view": "scatter"}
    got = dl.parse("demystified", "x.png", {k: [v] for k, v in query.items()})
    assert got.spec == Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 4, "strides": 2,
                                                "padding": "same"}, (6, 6))
    assert got.view == "scatter" and got.step == 7


@pytest.mark.parametrize("page, filename, params, words", [
    ("convolution", "x.gif", {"k0": ["0"]}, ["`k0` = `0`", "from 1 to"]),
    ("convolution", "x.gif", {"layer": ["Conv2DTranspose"]}, ["`layer`", "Conv1D, Conv2D"]),
    ("convolution", "x.gif", {"s0": ["2"], "d0": ["2"]}, ["dilation_rate"]),  # Keras's rule
    ("convolution", "x.gif", {"junk": ["1"]}, ["`junk` is not a setting"]),
    ("convolution", "x.mp4", {}, ["x.mp4", ".gif, .png or .html"]),
    ("shape-lab", "x.gif", {}, ["'shape-lab' is not a page with downloads", "demystified"]),
    ("demystified", "x.gif", {"view": ["sideways"]}, ["`view`", "gather, scatter"]),
])
def test_a_link_with_a_setting_the_page_refuses_is_refused_with_the_rule(
        page, filename, params, words):
    with pytest.raises(ValueError) as info:
        dl.parse(page, filename, params)
    message = str(info.value)
    assert all(w in message for w in words), message
    assert "the default is used" not in message  # nothing is quietly replaced


def test_respond_gives_the_file_or_a_sentence():
    status, headers, body = asyncio.run(dl.respond("convolution", "a.gif", {"k0": ["9"]}))
    assert status == 400 and headers["Content-Type"].startswith("text/plain")
    assert body.decode().startswith("convviz cannot make this download: `k0` = `9`")


@pytest.fixture(scope="module")
def pool():
    pool = dl.RenderPool(workers=1, max_waiting=1, max_cache_bytes=100_000)
    yield pool
    pool.shutdown()


def test_the_pool_renders_the_same_bytes_as_the_export_module(pool):
    status, headers, body = asyncio.run(dl.respond(
        "convolution", "f.png", {"layer": ["Conv2D"], "step": ["3"]}, pool=pool))
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"] == (
        'attachment; filename="Conv2D_5x5x1_f1_k3x3_s1x1_valid_d1x1_g1_step3.png"')
    page_spec = spec_from_values(FAMILY_PAGES["convolution"],
                                 FAMILY_PAGES["convolution"].defaults())
    assert body == export.png_bytes(page_spec, 3, numbers=True)


def test_one_file_asked_many_times_at_once_is_rendered_once(pool):
    ex = dl.Export("convolution", Spec("Conv1D", {"filters": 1, "kernel_size": 2}, (6,)))

    async def ten():
        return await asyncio.gather(*(pool.fetch(ex, "gif") for _ in range(10)))

    before = pool.renders
    got = asyncio.run(ten())
    assert pool.renders == before + 1
    assert {how for _, how in got} == {"rendered", "shared"}
    assert len({data for data, _ in got}) == 1 and got[0][0][:4] == b"GIF8"
    assert asyncio.run(pool.fetch(ex, "gif"))[1] == "cached"


def test_more_waiting_renders_than_allowed_are_answered_busy(pool):
    exports = [dl.Export("convolution", Spec("Conv1D", {"filters": 1, "kernel_size": 2},
                                             (n,))) for n in (7, 8, 9)]

    async def three():
        return await asyncio.gather(*(pool.fetch(e, "png") for e in exports),
                                    return_exceptions=True)

    got = asyncio.run(three())
    # one renders, one may wait (max_waiting=1), the third is told to come back
    busy = [g for g in got if isinstance(g, dl.Busy)]
    assert len(busy) == 1 and busy[0].retry_after >= 5
    assert "try again in about" in str(busy[0])
    assert sum(isinstance(g, tuple) for g in got) == 2


def test_the_cache_stays_within_its_bound(pool):
    for n in range(10, 16):
        asyncio.run(pool.fetch(dl.Export("convolution", Spec(
            "Conv1D", {"filters": 1, "kernel_size": 2}, (n,))), "gif"))
    assert 0 < pool.cache_bytes <= pool.max_cache_bytes


def test_a_render_error_reaches_the_caller_as_the_rule(pool):
    # step 99 of a 5-step trace: the export refuses it, the worker survives
    ex = dl.Export("convolution", Spec("Conv1D", {"filters": 1, "kernel_size": 2}, (6,)),
                   step=99)
    with pytest.raises(ValueError, match="99"):
        asyncio.run(pool.fetch(ex, "png"))
    assert asyncio.run(pool.fetch(dl.Export("convolution", ex.spec, step=1), "png"))[0][:4] \
        == b"\x89PNG"


def test_waiting_renders_start_smallest_first():
    """One worker busy with a GIF; a big and a small file then wait: the small one starts
    (and so arrives) first, whatever the order they were asked in."""
    busy = dl.Export("convolution", Spec("Conv1D", {"filters": 1, "kernel_size": 2}, (9,)))
    big = dl.Export("convolution", Spec("Conv1D", {"filters": 1, "kernel_size": 3}, (9,)),
                    cost=50_000)
    small = dl.Export("convolution", Spec("Conv1D", {"filters": 1, "kernel_size": 4}, (9,)),
                      cost=10)
    done = []

    async def ask(export, name):
        await pool.fetch(export, "gif")
        done.append(name)

    async def class_():
        first = asyncio.create_task(ask(busy, "busy"))
        await asyncio.sleep(0.05)  # the worker has it
        await asyncio.gather(first, ask(big, "big"), ask(small, "small"))

    pool = dl.RenderPool(workers=1, max_waiting=5)
    try:
        asyncio.run(class_())
    finally:
        pool.shutdown()
    assert done == ["busy", "small", "big"]


def test_a_big_animations_gif_shows_fewer_steps_within_the_servers_budget():
    """63 frames of 2296 cells (144,648 cell frames) do not fit: the GIF shows the 43 evenly
    spaced steps that do (100,000 // 2296), first and last kept, and the button says so."""
    params = {"layer": ["Conv3DTranspose"], "n0": ["7"], "filters": ["3"], "view": ["scatter"],
              "reveal": ["1"]}
    ex = dl.parse("transposed", "x.gif", params)
    assert ex.gif_frames == 43 and ex.cost == 43 * 2296 <= dl.MAX_CELL_FRAMES
    v = view.build(ex.spec, view="scatter", reveal=True)
    assert (len(v.scene.frames_at), len(v.scene.cells[0])) == (63, 2296)
    note = dl.gif_note(v.scene)
    assert note.startswith("43 of the 63 steps, evenly spaced") and "100,000" in note
    small = view.build(Spec("Conv1D", {"filters": 1, "kernel_size": 3}, (6,)))
    assert dl.gif_note(small.scene).startswith("Every step (4)")
    # what the worker renders: 43 frames, the scene's own spacing
    steps = export.frame_steps(v.steps, ex.gif_frames)
    assert len(steps) == 43 and steps[0] == 0 and steps[-1] == v.steps - 1


def test_a_gif_too_big_for_even_a_few_frames_is_refused_with_the_way_out():
    params = {"layer": ["Conv3D"], "n0": ["12"], "n1": ["12"], "n2": ["12"],
              "channels": ["7"], "filters": ["8"]}
    with pytest.raises(ValueError) as info:
        dl.parse("convolution", "x.gif", params)
    message = str(info.value)
    assert "20,286 cells" in message and f"at most {dl.MAX_CELL_FRAMES:,}" in message
    assert f"fewer than {dl.MIN_GIF_FRAMES} frames" in message and "HTML player" in message
    # the same settings' PNG and HTML player are made as usual
    assert dl.parse("convolution", "x.png", params).spec.spatial == (12, 12, 12)
    assert dl.parse("convolution", "x.html", params).cost == 0
    ok = dl.parse("convolution", "x.gif", {"layer": ["Conv3D"], "padding": ["same"]})
    assert 0 < ok.cost <= dl.MAX_CELL_FRAMES and ok.gif_frames == 120


def test_the_rendered_gif_has_the_frames_its_button_names(monkeypatch):
    """A budget of 5 frames of a 12-step Conv1D: the file the worker
    makes has exactly the frames :func:`gif_frames` promised, and the full one all 12."""
    import io

    from PIL import Image

    params = {"layer": ["Conv1D"], "n0": ["14"], "k0": ["3"]}
    full = dl.parse("convolution", "x.gif", params)
    cells = full.cost // full.gif_frames
    monkeypatch.setattr(dl, "MIN_GIF_FRAMES", 4)
    monkeypatch.setattr(dl, "MAX_CELL_FRAMES", 5 * cells + 1)
    small = dl.parse("convolution", "x.gif", params)
    assert (full.gif_frames, small.gif_frames) == (12, 5)
    for ex, n in ((full, 12), (small, 5)):
        assert Image.open(io.BytesIO(ex.render("gif"))).n_frames == n


# ------------------------------------------------------------------ real-data downloads
def _maps(seed: int, shape=(2, 6, 5)) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_real_data_results_keep_the_newest_within_their_bounds():
    results = dl.Results(max_items=3, max_bytes=10**9)
    a, b = _maps(0), _maps(1)
    ta = results.add(a, "Conv2D_sobel_x")
    assert results.add(a, "Conv2D_sobel_x") == ta  # a rerun showing the same maps
    assert results.add(a.copy(), "Conv2D_sobel_x") == ta  # the same numbers: the same link
    assert results.add(a, "Conv2D_box_blur") != ta  # another name is another file
    tb = results.add(b, "x")
    assert results.get(ta)[0] is a and len(results) == 3
    results.add(_maps(2), "y")  # a fourth: the one asked least recently goes
    assert results.get(ta) is not None and len(results) == 3
    assert results.get(results.add(_maps(3), "z")) is not None and results.get(tb) is None
    small = dl.Results(max_items=10, max_bytes=2 * a.nbytes)
    tokens = [small.add(_maps(s), "m") for s in range(3)]
    assert small.get(tokens[0]) is None and all(small.get(t) for t in tokens[1:])
    huge = dl.Results(max_items=10, max_bytes=1)  # bigger than the bound: still the newest
    assert huge.get(huge.add(a, "a")) is not None


def test_a_real_data_link_delivers_its_maps_png_or_says_why_it_cannot():
    from PIL import Image

    from convviz.realdata.pictures import to_png

    results = dl.Results()
    maps = _maps(4, (3, 8, 8))
    url = dl.real_link(maps, "Conv2D_sobel_x", results=results)
    path, _, query = url.partition("?")
    assert path == f"{dl.ROUTE}/real-data/Conv2D_sobel_x.png"
    params = urllib.parse.parse_qs(query)
    pool = dl.RenderPool(workers=1)
    try:
        status, headers, body = asyncio.run(
            dl.respond("real-data", "Conv2D_sobel_x.png", params, pool, results))
        assert status == 200 and headers["Content-Type"] == "image/png"
        assert headers["Content-Disposition"] == 'attachment; filename="Conv2D_sobel_x.png"'
        assert body == to_png(maps) and Image.open(io.BytesIO(body)).format == "PNG"
        status, _, body = asyncio.run(
            dl.respond("real-data", "x.png", {"id": ["0" * 20]}, pool, results))
        assert status == 410 and b"no longer keeps" in body and b"press its download" in body
        status, _, body = asyncio.run(dl.respond("real-data", "x.gif", params, pool, results))
        assert status == 400 and b".png" in body
        for bad in ({}, {"id": ["../etc"]}, {"id": ["0" * 21]}, {"id": ["0" * 20] * 2}):
            status, _, body = asyncio.run(dl.respond("real-data", "x.png", bad, pool, results))
            assert status == 400 and b"20 hex digits" in body, bad
    finally:
        pool.shutdown()
    with pytest.raises(ValueError, match="letters, digits"):
        dl.real_link(maps, "a/b", results=results)


def test_a_rerun_with_the_same_result_finds_its_link_without_a_digest(monkeypatch):
    """The page's maps are a fresh view of its cached result at every rerun: the result
    (the owner) keys the link, so only a new result is digested."""
    class Result:
        def __init__(self, maps):
            self.data = maps

        @property
        def maps(self):  # a new (non-contiguous) view at each call, as RunResult's
            return np.moveaxis(self.data, -1, 0)

    results, digests = dl.Results(), []
    sha1 = dl.hashlib.sha1

    def counting(*args):
        digests.append(1)
        return sha1(*args)

    monkeypatch.setattr(dl.hashlib, "sha1", counting)
    r = Result(_maps(5, (6, 5, 3)))
    links = {dl.real_link(r.maps, "m", r, results) for _ in range(5)}
    assert len(links) == 1 and len(digests) == 1
    other = Result(r.data.copy())  # another result, the same numbers: the same link
    assert dl.real_link(other.maps, "m", other, results) in links and len(digests) == 2
    maps, _ = results.get(links.pop().rpartition("=")[2])
    assert np.array_equal(maps, r.maps)

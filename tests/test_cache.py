"""convviz.viz.cache: the byte-bounded view cache a server process shares."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from convviz.demo import Spec
from convviz.viz import cache, controls, player
from convviz.viz.view import build

MB = 2**20


def test_deep_nbytes_counts_data_once_and_not_code():
    a = np.zeros(MB // 8)  # 1 MiB of float64
    assert MB <= cache.deep_nbytes(a) < MB + 1024
    both = cache.deep_nbytes([a, a, {"again": a}])
    assert MB <= both < MB + 2048  # one array, however often it is referred to
    assert cache.deep_nbytes([np, build, Spec]) < 200  # modules, functions, classes: 0
    text = "x" * 100_000
    assert 100_000 <= cache.deep_nbytes({"t": text}) < 101_000


def test_a_drawn_view_is_measured_with_what_drawing_kept():
    v = build(Spec("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2},
                   spatial=(5, 5), channels=2))
    before = cache.deep_nbytes(v)
    text = v.message(0, explain=True)["json"]
    after = cache.deep_nbytes(v)
    assert after - before >= len(text)  # at least the player's text it now keeps
    assert player.read_message(v.message(0, explain=True))["steps"] == v.steps


def _sized(made, size):
    def make(key):
        made.append(key)
        return {"key": key, "data": np.zeros(size // 8)}
    return make


def test_entries_are_kept_and_shared():
    made = []
    c = cache.SizedCache(_sized(made, MB), max_entries=4, max_bytes=100 * MB)
    first = c.get("a")
    assert c.get("a") is first and made == ["a"]
    c.get("b")
    assert len(c) == 2 and 2 * MB <= c.nbytes < 2 * MB + 4096


def test_the_count_bound_drops_the_least_recently_used():
    made = []
    c = cache.SizedCache(_sized(made, 1024), max_entries=3, max_bytes=100 * MB)
    for k in "abc":
        c.get(k)
    c.get("a")  # a is now the most recently used
    c.get("d")  # b goes
    assert len(c) == 3
    c.get("b")
    assert made == ["a", "b", "c", "d", "b"]  # b made again; c went in its place
    c.get("a")
    assert made[-1] == "b"


def test_the_byte_bound_drops_the_oldest_but_keeps_the_newest():
    made = []
    c = cache.SizedCache(_sized(made, 4 * MB), max_entries=16, max_bytes=10 * MB)
    for k in "abc":
        c.get(k)
    assert len(c) == 2 and c.nbytes <= 10 * MB  # a went: 12 MB would not fit
    c.get("b")
    assert made == ["a", "b", "c"]
    big = cache.SizedCache(_sized([], 20 * MB), max_entries=16, max_bytes=10 * MB)
    value = big.get("huge")
    assert len(big) == 1 and big.get("huge") is value  # bigger than the bound, still kept


def test_an_entry_that_grew_is_measured_again_at_the_next_miss():
    made = []
    c = cache.SizedCache(_sized(made, 1024), max_entries=16, max_bytes=4 * MB)
    c.get("a")["more"] = np.zeros(MB // 8)  # drawing it kept 1 MiB more
    assert c.nbytes < MB
    c.get("b")
    assert c.nbytes >= MB
    for k in "cdefg":
        c.get(k)["more"] = np.zeros(MB // 8)
    c.get("h")  # the grown ones are 6 MiB: the oldest go
    assert c.nbytes <= 4 * MB and len(c) < 8
    c.get("a")
    assert made[-1] == "a"  # it had gone, and is made again


def test_threads_share_one_cache():
    made = []
    c = cache.SizedCache(_sized(made, 1024), max_entries=8, max_bytes=MB)
    got = []

    def work():
        got.extend(c.get(k)["key"] for k in "abcabc")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(got)) == ["a", "b", "c"] and len(got) == 24
    assert len(c) == 3 and set(made) == {"a", "b", "c"}


@pytest.mark.parametrize("bound", ["VIEW_CACHE_ENTRIES", "VIEW_CACHE_BYTES"])
def test_the_pages_views_are_in_a_bounded_cache(bound):
    assert controls.VIEWS.max_entries == controls.VIEW_CACHE_ENTRIES
    assert controls.VIEWS.max_bytes == controls.VIEW_CACHE_BYTES
    assert getattr(controls, bound) > 0
    spec = Spec("Conv1D", {"filters": 1, "kernel_size": 3}, spatial=(6,))
    v = controls._cached_view(spec, "gather", True, controls.DEFAULT_CELL_PX)
    assert controls._cached_view(spec, "gather", True, controls.DEFAULT_CELL_PX) is v
    assert v.steps == 4

"""``convviz.viz.memory.tune``: glibc's thresholds fixed, so big freed blocks go back.

The behaviour is checked in fresh interpreters (the allocator is per process): after a
20 MB block is freed, glibc on its own serves 1 MB blocks from its heap and keeps them when
they are freed; after :func:`tune` it maps each one apart and unmaps it when freed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from convviz.viz import memory

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import ctypes, json, sys
sys.path.insert(0, {root!r})
from convviz.viz import memory
class MI2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MI2
tuned = memory.tune() if {tune} else None
big = bytearray(20 * 2**20); del big  # glibc now raises its mmap threshold to 20 MB
blocks = [bytearray(2**20) for _ in range(64)]
during = libc.mallinfo2()
del blocks
after = libc.mallinfo2()
print(json.dumps({{"tuned": tuned, "mapped_during": during.hblkhd, "heap_free_after":
                   after.fordblks, "heap_after": after.arena}}))
"""


def probe(tune: bool) -> dict:
    code = PROBE.format(root=str(ROOT), tune=tune)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    return json.loads(out.stdout)


glibc = pytest.mark.skipif(memory._libc() is None, reason="not glibc: tune() does nothing")


@glibc
def test_untuned_glibc_keeps_freed_megabytes_in_its_heap():
    """The problem :func:`memory.tune` is for (if glibc changes, this says so)."""
    got = probe(tune=False)
    assert got["mapped_during"] < 8 * 2**20  # the 1 MB blocks came from the heap
    assert got["heap_free_after"] >= 16 * 2**20  # and up to 2x 20 MB of them stay, free


@glibc
def test_tuned_glibc_maps_and_returns_megabyte_blocks():
    got = probe(tune=True)
    assert got["tuned"] is True
    assert got["mapped_during"] >= 64 * 2**20  # each 1 MB block mapped on its own
    assert got["heap_free_after"] < 8 * 2**20  # nothing kept after they are freed
    assert got["heap_after"] < 16 * 2**20


class FakeLibc:
    def __init__(self, answer=1):
        self.calls, self.answer = [], answer

    def mallopt(self, param, value):
        self.calls.append((param.value, value.value))
        return self.answer


def test_tune_sets_the_three_parameters():
    libc = FakeLibc()
    assert memory.tune(libc) is True
    assert libc.calls == [(-3, 128 * 1024), (-1, 128 * 1024), (-8, 2)]


def test_tune_reports_a_refusal():
    assert memory.tune(FakeLibc(answer=0)) is False


def test_tune_without_glibc_does_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_libc", lambda: None)
    assert memory.tune() is False


def test_the_app_tunes_its_process():
    """``app.py``, imported by ``streamlit run`` (not run as a page script), calls tune."""
    source = (ROOT / "app.py").read_text()
    served = source.split('if __name__ == "__main__":', 1)[1].split("else:", 1)[1]
    assert "memory.tune()" in served

"""The 3-D volume figure (convviz/viz/figures.py)."""

from __future__ import annotations

from convviz.demo import Spec, run
from convviz.viz import figures


def test_volume_figure_marks_the_window_taps():
    sample = run(Spec("Conv3D", {"filters": 1, "kernel_size": 2}, (3, 3, 3)))
    fig = figures.volume_figure(sample.trace, 0)
    assert len(fig.data[1].x) == 8

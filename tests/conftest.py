"""Fixtures shared by the tests of the pictures (tests/ and tests/app)."""

from __future__ import annotations

import numpy as np
import pytest

from convviz.viz import scene as sc


@pytest.fixture
def window_cells():
    """``cells(scene, i)``: canvas cells ``(x, y)`` of gather step ``i``'s window on every
    input panel of ``scene``, computed from the trace alone (not from the scene's frames)."""

    def cells(scene, i):
        trace = scene.sample.trace
        st_ = trace.step(i)
        keep = st_.weight != 0
        # the input grid starts at the lowest coordinate drawn: padding (lo > 0) or 0 (crop)
        grid = st_.coords[keep] + np.maximum(np.array([a.lo for a in trace.axes]), 0)
        out = set()
        for p in scene.panels:
            if p.kind == "input":
                x, y = sc.plane(grid, p.shape)
                out |= set(zip((x + p.origin[0]).tolist(), (y + p.origin[1]).tolist()))
        return out

    return cells

"""The layer pages' matrix view: which rows a step outlines, and the identities it states."""

from __future__ import annotations

import numpy as np

from convviz.demo import Spec
from convviz.viz import matrix_panel as mp
from convviz.viz.view import build


def test_a_conv_step_outlines_its_output_row_and_the_identities_hold():
    v = build(Spec("Conv2D", {"filters": 2, "kernel_size": 3}, spatial=(5, 5), channels=2,
                   ), filter=1)
    p = mp.matrix_panel(v)
    # 3x3 outputs x 2 filters (channels_last: filter fastest) by 5x5 inputs x 2 channels
    assert p.matrix.shape == (18, 50)
    # step 4 is output (1, 1); of filter 1 that is flat row (1*3 + 1)*2 + 1 = 9
    assert p.step_rows[4].tolist() == [9] and p.rows[9] == "out (1, 1) f1"
    assert "largest difference is **0**" in p.lines[0]
    assert "Conv2DTranspose(padding='valid', output_padding=None)" in p.lines[1]
    fig = p.figure(4)
    assert fig.layout.shapes[0].y0 == 8.5 and fig.layout.shapes[0].y1 == 9.5


def test_channels_first_rows_and_the_scatter_views_columns():
    v = build(Spec("Conv1D", {"filters": 2, "kernel_size": 3, "data_format": "channels_first"},
                   spatial=(6,), channels=1), filter=1)
    p = mp.matrix_panel(v)
    # channels_first: the 4 outputs of filter 0, then filter 1: step 2 of filter 1 is 4 + 2
    assert p.step_rows[2].tolist() == [6]
    t = build(Spec("Conv2DTranspose", {"filters": 1, "kernel_size": 3, "strides": 2},
                   spatial=(3, 3), channels=2), view="scatter")
    q = mp.matrix_panel(t)
    assert q.view == "scatter" and q.matrix.shape == (49, 18)
    # step 4 is input (1, 1): its columns, one per channel, (1*3 + 1)*2 + c
    assert q.step_rows[4].tolist() == [8, 9]
    assert "`Conv2D(padding='valid')` with the same kernel array" in q.lines[1]


def test_the_matrix_is_the_engines_arithmetic_on_the_page_numbers():
    v = build(Spec("Conv2D", {"filters": 1, "kernel_size": 2, "strides": 2,
                              "padding": "same"}, spatial=(5, 5)))
    p = mp.matrix_panel(v)
    x = np.asarray(v.sample.x, float).reshape(-1)
    y = np.asarray(v.sample.y, float).reshape(-1) - float(v.sample.layer.bias[0])
    assert np.allclose(p.matrix @ x, y)
    # 'same', k=2, s=2 on 5: pads (0, 1); output (2, 2) reads only input (4, 4) of its
    # window, with kernel tap (0, 0): row 8 holds that one weight (blank if it is 0)
    row = p.matrix[8]
    assert set(np.flatnonzero(row)) <= {24}
    assert row[24] == float(v.sample.layer.kernel[0, 0, 0, 0])


def test_what_is_not_drawn_says_why():
    big = build(Spec("Conv2D", {"filters": 8, "kernel_size": 3}, spatial=(12, 12), channels=2))
    assert "at most 120 x 160" in mp.matrix_panel(big)
    depthwise = build(Spec("DepthwiseConv2D", {"kernel_size": 3}, spatial=(5, 5)))
    assert "convolutions and transposed convolutions" in mp.matrix_panel(depthwise)
    causal = build(Spec("Conv1D", {"filters": 1, "kernel_size": 3, "padding": "causal"},
                        spatial=(6,)))
    assert mp.matrix_panel(causal).lines[1].startswith("No partner layer has the matrix")

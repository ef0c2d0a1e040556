"""The per-axis integer maths, against values worked out by hand (the formula in each
comment), independent of the layers that use them."""

from __future__ import annotations

import numpy as np
import pytest

from convviz import geometry as g


@pytest.mark.parametrize("n,k,s,d,padding,want", [
    (7, 3, 2, 1, "valid", 3),    # floor((7 - 3) / 2) + 1
    (7, 3, 1, 2, "valid", 3),    # dilated span 2*(3-1)+1 = 5: 7 - 5 + 1
    (4, 5, 1, 1, "valid", 0),    # the window does not fit: <= 0, the layer raises
    (7, 3, 2, 1, "same", 4),     # ceil(7 / 2)
    (5, 3, 1, 2, "causal", 5),   # ceil(5 / 1)
])
def test_conv_output_length(n, k, s, d, padding, want):
    assert g.conv_output_length(n, k, s, d, padding) == want


@pytest.mark.parametrize("n,k,s,d,padding,want", [
    (7, 3, 2, 1, "same", (1, 1)),   # out 4: p = 3*2 + 3 - 7 = 2
    (6, 3, 2, 1, "same", (0, 1)),   # out 3: p = 2*2 + 3 - 6 = 1, the odd cell at the end
    (5, 4, 1, 1, "same", (1, 2)),   # out 5: p = 4 + 4 - 5 = 3
    (8, 1, 4, 1, "same", (0, 0)),   # a 1-tap kernel never pads
    (5, 3, 1, 2, "causal", (4, 0)),  # span 5: all of it before the first cell
    (5, 3, 1, 1, "valid", (0, 0)),
])
def test_conv_pads(n, k, s, d, padding, want):
    assert g.conv_pads(n, k, s, d, padding) == want


def test_conv_taps_read_o_times_s_plus_j_times_d_minus_the_left_pad():
    assert g.conv_taps(5, 3, 2, 1, "valid").tolist() == [[0, 1, 2], [2, 3, 4]]
    assert g.conv_taps(5, 3, 1, 1, "same")[0].tolist() == [-1, 0, 1]   # lo = 1
    assert g.conv_taps(6, 2, 1, 3, "causal")[0].tolist() == [-3, 0]    # lo = 3, gap of 3


@pytest.mark.parametrize("n,k,s,d,padding,op,want", [
    (3, 3, 2, 1, "valid", None, 7),   # (3-1)*2 + 3 + max(3, 2) - 3
    (3, 2, 3, 1, "valid", None, 9),   # (3-1)*3 + 2 + max(2, 3) - 2 = 6 + 2 + 1
    (3, 3, 2, 1, "valid", 1, 8),      # (3-1)*2 + 3 + 1
    (3, 3, 2, 1, "same", None, 6),    # 3 * 2
    (3, 3, 2, 1, "same", 1, 6),       # (3-1)*2 + 3 % 2 + 1
    (4, 3, 1, 2, "valid", None, 8),   # span 5: (4-1)*1 + 5
])
def test_transpose_output_length(n, k, s, d, padding, op, want):
    assert g.transpose_output_length(n, k, s, d, padding, op) == want


@pytest.mark.parametrize("k,s,d,padding,op,want", [
    (3, 2, 1, "valid", None, 0),
    (3, 2, 1, "same", None, 0),   # (3 - 2) // 2
    (4, 2, 1, "same", None, 1),   # (4 - 2) // 2
    (5, 1, 1, "same", None, 2),   # (5 - 1) // 2
    (3, 2, 1, "same", 1, 0),      # (3 - 1 - 1) // 2
])
def test_transpose_crop(k, s, d, padding, op, want):
    assert g.transpose_crop(k, s, d, padding, op) == want


def test_the_gather_view_of_a_transposed_conv_pads_the_zero_inserted_input():
    # n=3, s=2: zero-inserted length 5; k=3 valid: pad 2 each side, 5 + 4 - 3 + 1 = 7
    assert g.transpose_gather_pads(3, 3, 2, 1, "valid", None) == (2, 2)
    lo, hi = g.transpose_gather_pads(3, 3, 2, 1, "same", None)  # out 6, crop 0
    assert (lo, hi) == (2, 1) and 5 + lo + hi - 3 + 1 == 6


def test_resize_taps_by_hand():
    # nearest 3 -> 6: output o reads input floor(o / 2)
    idx, w = g.resize_taps(3, 6, "nearest")
    assert idx[:, 0].tolist() == [0, 0, 1, 1, 2, 2] and (w == 1).all()
    # bilinear 2 -> 4, half-pixel centres (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25
    # (clamped at the borders): weights 1 | 0.75, 0.25 | 0.25, 0.75 | 1
    idx, w = g.resize_taps(2, 4, "bilinear")
    dense = np.zeros((4, 2))
    for o in range(4):
        for i, wt in zip(idx[o], w[o]):
            dense[o, i] += wt
    assert dense.tolist() == [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]]


@pytest.mark.parametrize("method", ["bilinear", "bicubic", "lanczos3", "lanczos5"])
def test_resize_weights_sum_to_one(method):
    _, w = g.resize_taps(5, 12, method)
    assert np.allclose(w.sum(axis=1), 1.0)


def test_effective_kernel_and_prod():
    assert g.effective_kernel(3, 1) == 3 and g.effective_kernel(3, 4) == 9
    assert g.prod([]) == 1 and g.prod((2, 3, 4)) == 24

"""convviz.realdata.window: the input cells one output cell reads, and its arithmetic.

Expected values come from outside the code under test: the window by hand for a strided
'same' convolution, and perturbing one input cell to see which outputs move.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from convviz import realdata as rd


# ----------------------------------------------------------------------------- window
def test_window_of_a_strided_same_conv():
    x = rd.fit(rd.load_asset("text"), 8)
    r = rd.apply("Conv2D", x, kernel="random", filters=2, strides=2, padding="same")
    w = rd.window_of(r, out_index=(3, 3), channel=1)
    # n=8, k=3, s=2, 'same': pads (0, 1); out 3 reads rows 6, 7 and one padding row
    assert w.cells.tolist() == [[6, 6], [6, 7], [7, 6], [7, 7]]
    assert w.bounds == ((6, 8), (6, 8)) and w.padding_taps == 5
    assert w.mask.sum() == 4 and w.mask[6:, 6:].all()
    rows = w.rows()
    assert len(rows) == 9 and sum(row["product"] for row in rows) == pytest.approx(
        float(r.output[0, 3, 3, 1]), rel=1e-5, abs=1e-6)
    plain = rd.window_of(r.layer, (8, 8), (0, 0))
    assert plain.explanation is None and plain.rows() == [] and len(plain.cells) == 9
    with pytest.raises(ValueError, match=r"output's spatial shape \(4, 4\)"):
        rd.window_of(r, out_index=(4, 0))
    with pytest.raises(ValueError, match="spatial shape"):
        rd.window_of(r, out_index=(1,))
    with pytest.raises(ValueError, match="`spatial`"):
        rd.window_of(r.layer, None, (0, 0))


_WINDOW_CASES = [
    ("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2}),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}),
    ("DepthwiseConv2D", {"kernel_size": (2, 3), "strides": (2, 1)}),
    ("SeparableConv2D", {"filters": 2, "kernel_size": 3, "padding": "same"}),
    ("Cropping2D", {"cropping": ((1, 0), (2, 1))}),
    ("ZeroPadding2D", {"padding": 1}),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}),
]


@pytest.mark.parametrize("name, kw", _WINDOW_CASES, ids=[c[0] for c in _WINDOW_CASES])
def test_window_is_what_moves_the_output(name, kw):
    """The window's cells are exactly the input cells whose change changes the output."""
    x = np.random.default_rng(5).random((7, 6, 2)).astype(np.float32) + 0.5
    r = rd.apply(name, x, kernel="random", seed=2, **kw)
    out_spatial = r.output_shape[1:-1]
    for o in [(0, 0), tuple(n // 2 for n in out_spatial), tuple(n - 1 for n in out_spatial)]:
        w = rd.window_of(r, out_index=o)
        moved = np.zeros(x.shape[:2], dtype=bool)
        for i in itertools.product(range(7), range(6)):
            x2 = x.copy()
            x2[i] += 1.0
            y2 = r.layer(x2[None])
            moved[i] = not np.allclose(y2[0][o], r.output[0][o], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(w.mask, moved, err_msg=f"{name} at {o}")
        assert sorted(map(tuple, w.cells.tolist())) == sorted(zip(*np.nonzero(moved)))

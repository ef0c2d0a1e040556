"""convviz.realdata.pictures: PNG grids of feature maps and their scale labels.

Expected values: PNGs that Pillow decodes, grids that grow the way the columns say, and
scale labels written by hand.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from convviz import realdata as rd


# ----------------------------------------------------------------------------- png
def _decode(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(png))
    img.load()
    return img


def test_to_png_grids_of_every_rank():
    r = rd.apply("Conv2D", rd.fit(rd.load_asset("photo"), 32), filters=6, padding="same")
    one_row = _decode(r.to_png(columns=6))
    two_rows = _decode(rd.to_png(r.feature_maps, columns=3))
    assert one_row.width > two_rows.width and two_rows.height > one_row.height
    _decode(rd.to_png(rd.apply("Conv1D", rd.load_asset("chirp")[:300], filters=2).feature_maps))
    _decode(rd.to_png(rd.apply("Conv3D", rd.load_asset("sphere"), filters=1,
                               kernel="laplacian").feature_maps))
    mixed = [np.zeros((4, 4)), np.full((3, 5), np.nan), np.arange(6.0), np.ones((2, 3, 3))]
    _decode(rd.to_png(mixed, titles=["zeros", "nan", "line", "cube"], max_maps=3))
    with pytest.raises(ValueError, match="empty"):
        rd.to_png([])
    with pytest.raises(ValueError, match="1-D, 2-D or 3-D"):
        rd.to_png(np.zeros((1, 2, 2, 2, 2)))
    with pytest.raises(ValueError, match="`titles` has 1 entries for 2 maps"):
        rd.to_png(np.zeros((2, 3, 3)), titles=["a"])


def test_scale_label_states_the_range():
    assert rd.scale_label(np.array([[-1.5, 0.0], [2.0, 0.25]])) == "min -1.5  max 2"
    assert rd.scale_label(np.full((3, 3), 0.125)) == "constant 0.125"
    assert rd.scale_label(np.array([np.nan, 1.0, 3.0])) == "min 1  max 3"
    assert rd.scale_label(np.full(3, np.nan)) == "no finite values"

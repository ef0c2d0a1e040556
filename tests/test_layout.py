"""convviz.layout: where the channel axis goes, against hand-written shapes."""

import numpy as np
import pytest

from convviz import layout


@pytest.mark.parametrize("fmt, shape, expected", [
    ("channels_last", (2, 5, 7, 3), (2, (5, 7), 3)),
    ("channels_first", (2, 3, 5, 7), (2, (5, 7), 3)),
    (None, (None, 9, 1), (None, (9,), 1)),
    ("channels_first", (None, 4, 6, 6, 6), (None, (6, 6, 6), 4)),
])
def test_split_and_join_are_inverse(fmt, shape, expected):
    assert layout.split(shape, fmt) == expected
    assert layout.join(*expected, fmt) == shape
    assert layout.spatial(shape, fmt) == expected[1]
    assert layout.channels(shape, fmt) == expected[2]


def test_channel_axis_and_spatial_index():
    assert layout.channel_axis("channels_first") == 1
    assert layout.channel_axis("channels_last") == layout.channel_axis(None) == -1
    a = np.zeros((1, 2, 4, 4))  # channels_first
    a[layout.spatial_index((slice(1, 3), 0), "channels_first")] = 1
    assert a.sum() == 2 * 2  # two channels, rows 1..2 of column 0
    assert a[0, 1, 1:3, 0].tolist() == [1, 1]


def test_to_last_and_back():
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # (batch, C=3, steps=4)
    last = layout.to_last(x, "channels_first")
    assert last.shape == (2, 4, 3)
    assert last[1, 2, 0] == x[1, 0, 2]
    assert np.array_equal(layout.from_last(last, "channels_first"), x)
    assert layout.to_last(x, "channels_last") is not None
    assert np.shares_memory(layout.to_last(x, "channels_last"), x)

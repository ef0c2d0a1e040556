"""Where the channels go: the one module that knows ``channels_last`` from ``channels_first``.

A Keras shape is ``(batch, *spatial, channels)`` (``channels_last``, the default) or
``(batch, channels, *spatial)`` (``channels_first``). Everything else in convviz asks here.

>>> split((None, 3, 8, 8), "channels_first")
(None, (8, 8), 3)
>>> join(2, (8, 8), 3, "channels_last")
(2, 8, 8, 3)
"""

from __future__ import annotations

import numpy as np

#: The data formats Keras accepts, the default first.
DATA_FORMATS: tuple[str, ...] = ("channels_last", "channels_first")


def is_first(data_format: str | None) -> bool:
    """True for ``"channels_first"``; None (Keras's default) is ``channels_last``."""
    return data_format == "channels_first"


def channel_axis(data_format: str | None) -> int:
    """The channel axis of a full (batched) shape: 1 or -1."""
    return 1 if is_first(data_format) else -1


def split(shape, data_format: str | None) -> tuple:
    """``(batch, spatial, channels)`` of a full shape (no validation of its rank)."""
    shape = tuple(shape)
    if is_first(data_format):
        return shape[0], shape[2:], shape[1]
    return shape[0], shape[1:-1], shape[-1]


def spatial(shape, data_format: str | None) -> tuple:
    """The spatial lengths of a full shape."""
    return split(shape, data_format)[1]


def channels(shape, data_format: str | None):
    """The channel count of a full shape."""
    return split(shape, data_format)[2]


def join(batch, spatial_shape, channels_, data_format: str | None) -> tuple:
    """The full shape with ``batch``, ``spatial_shape`` and ``channels_`` in their places."""
    spatial_shape = tuple(spatial_shape)
    if is_first(data_format):
        return (batch, channels_, *spatial_shape)
    return (batch, *spatial_shape, channels_)


def spatial_index(index, data_format: str | None) -> tuple:
    """An index of a full array that applies ``index`` (one entry per spatial axis) to every
    batch item and channel."""
    index = tuple(index)
    if is_first(data_format):
        return (slice(None), slice(None), *index)
    return (slice(None), *index, slice(None))


def to_last(array, data_format: str | None) -> np.ndarray:
    """``array`` (full, batched) with its channel axis moved last (a view when it can be)."""
    a = np.asarray(array)
    return np.moveaxis(a, 1, -1) if is_first(data_format) else a


def from_last(array, data_format: str | None) -> np.ndarray:
    """The inverse of :func:`to_last`: a channels-last array in ``data_format``'s order."""
    a = np.asarray(array)
    return np.moveaxis(a, -1, 1) if is_first(data_format) else a


__all__ = ["DATA_FORMATS", "channel_axis", "channels", "from_last", "is_first", "join", "spatial",
           "spatial_index", "split", "to_last"]

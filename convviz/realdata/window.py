"""The window of one output cell: which input cells it reads, and (given an input) its sums.

:func:`window_of` -> :class:`Window`, from the layer's own trace (:mod:`convviz.trace`) and
``layer.explain``; it takes a layer or a :class:`~convviz.realdata.runs.Result`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import layout
from ..layers import Layer
from .runs import Result


@dataclass(frozen=True, eq=False)
class Window:
    """The input cells one output cell reads (:func:`window_of`).

    Attributes
    ----------
    out_index : tuple of int
        The spatial output cell.
    cells : ndarray of int64, ``(R, rank)``
        Real input cells read, sorted (no padding cells, inserted zeros or zero-weight
        interpolation taps): ``np.argwhere(mask)``.
    mask : ndarray of bool, ``in_spatial``
        The same cells as a mask (``trace.receptive_field``).
    step : convviz.trace.Step
        Every slot of the window: coordinates (padding included), kernel taps, flags.
    trace : convviz.trace.Trace
        The layer's gather trace on this input.
    explanation : convviz.trace.Explanation or None
        Every multiply-add behind the value (``layer.explain``), when an input was given.
    """

    out_index: tuple
    cells: np.ndarray
    mask: np.ndarray
    step: Any
    trace: Any
    explanation: Any = None

    @property
    def padding_taps(self) -> int:
        """Slots of the window on padding cells."""
        return int(self.step.padding.sum())

    @property
    def bounds(self) -> tuple:
        """``((start, stop), ...)`` per axis: the box around :attr:`cells` (empty: ())."""
        if not len(self.cells):
            return ()
        return tuple((int(lo), int(hi) + 1)
                     for lo, hi in zip(self.cells.min(axis=0), self.cells.max(axis=0)))

    def rows(self) -> list[dict]:
        """The explain table (``Explanation.rows()``); [] without an input."""
        return [] if self.explanation is None else self.explanation.rows()


def window_of(layer, spatial=None, out_index=(), *, x=None, channel: int = 0) -> Window:
    """Which input cells output cell ``out_index`` reads, and (given ``x``) its arithmetic.

    Parameters
    ----------
    layer : Layer or Result
        A convviz layer, or a :class:`Result` of :func:`apply` (its layer, input spatial
        shape and, unless ``x`` is given, its input).
    spatial : tuple of int
        The input's spatial shape (taken from a Result when None).
    out_index : tuple of int
        A cell of the output's spatial shape.
    x : ndarray, optional
        A full batched input in the layer's ``data_format``: adds ``layer.explain`` for
        batch item 0, output channel ``channel``.
    channel : int
        The output channel explained.

    Returns
    -------
    Window
        From ``layer.trace`` (the gather view: for a transposed convolution the window
        slides over the zero-inserted input and only real cells are listed).
    """
    if isinstance(layer, Result):
        result = layer
        layer = result.layer
        spatial = layout.spatial(result.input_shape, result.data_format) \
            if spatial is None else spatial
        x = result.input if x is None else x
    if not isinstance(layer, Layer):
        raise ValueError(f"`layer` must be a convviz layer or a Result. Received "
                         f"{type(layer).__name__}.")
    if spatial is None:
        raise ValueError("`spatial` (the input's spatial shape) is required for a layer.")
    spatial = tuple(int(n) for n in spatial)
    c = layer.input_channels or 1
    trace = layer.trace(layout.join(None, spatial, c, layer.data_format))
    try:
        o = tuple(int(v) for v in out_index)
    except (TypeError, ValueError):
        raise ValueError(f"`out_index` must be a tuple of ints. Received: {out_index!r}") \
            from None
    if len(o) != trace.rank or not all(0 <= v < n for v, n in zip(o, trace.out_shape)):
        raise ValueError(f"`out_index` must index the output's spatial shape "
                         f"{trace.out_shape}. Received: {out_index!r}")
    step = trace.step(int(np.ravel_multi_index(o, trace.out_shape)))
    mask = trace.receptive_field(o)
    cells = np.argwhere(mask).astype(np.int64)  # row-major: sorted, as the step's real cells
    explanation = None
    if x is not None:
        explanation = layer.explain(x, layout.join(0, o, int(channel), layer.data_format))
    return Window(o, cells, mask, step, trace, explanation)


__all__ = ["Window", "window_of"]

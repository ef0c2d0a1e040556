"""Runs of real inputs through the convviz layers themselves, weights from a named kernel.

* :func:`apply`: one input in its natural layout (an image ``(H, W)`` / ``(H, W, 3)``, a
  signal ``(steps,)``, a volume ``(D, H, W)``) -> a :class:`Result` (output, feature maps,
  the Keras call, time, MACs);
* :func:`batch_run`: a batch in chunks, with progress and timing -> a :class:`BatchResult`;
* the caps every run is checked against before it starts: :data:`MAX_BATCH_ELEMENTS`,
  :data:`MAX_OUTPUT_ELEMENTS`, :data:`MAX_MACS`;
* the steps both are made of, which the demos use too: :func:`make_layer` (a built layer
  with named-kernel weights), :func:`check_sizes` (the caps) and :func:`as_batch` (natural
  layout -> the layer's ``data_format``, through :mod:`convviz.layout`).

Every number is the engine's; the bias is zero, so the maps are the pure response of the
kernel.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import convviz

from .. import catalog, formulas, layout
from ..geometry import prod
from ..layers import Layer, argument_names
from .kernels import layer_weights
from .pictures import to_png

#: Largest input a run accepts, in elements over the whole batch: 2**22 = 4,194,304, which
#: admits 16 RGB images of 256 x 256 (3,145,728) and refuses 22 of them.
MAX_BATCH_ELEMENTS = 2**22
#: Largest output a run accepts, in elements over the whole batch (128 MiB of float32).
MAX_OUTPUT_ELEMENTS = 2**25
#: Most multiply-accumulates a run accepts over the whole batch (a few seconds of the
#: engine on two cores; Conv2D(8, 3) on 16 x 256 x 256 x 3 is 0.23e9).
MAX_MACS = 4 * 10**9


def _layer_class(name: str):
    cls = convviz.LAYERS.get(name)
    if cls is None:
        raise ValueError(f"Unknown layer {name!r}. Expected one of: "
                         f"{', '.join(convviz.LAYERS)}.")
    return cls


def _constructor_args(cls, kwargs: Mapping, channels: int) -> dict:
    """``kwargs`` plus the required arguments the caller left out: ``filters`` = the input
    channels (so ``identity`` with ``"diagonal"`` channels copies the input) and
    ``kernel_size`` = 3."""
    kw = dict(kwargs)
    params = inspect.signature(cls).parameters
    for arg, value in (("filters", channels), ("kernel_size", 3)):
        p = params.get(arg)
        if p is not None and p.default is inspect.Parameter.empty and arg not in kw:
            kw[arg] = value
    # in the constructor's order, so the Keras call reads as usual
    return {**{k: kw[k] for k in argument_names(cls) if k in kw}, **kw}


def _check_elements(n: int, shape: tuple, what: str, advice: str) -> None:
    """Refuse an input of more than :data:`MAX_BATCH_ELEMENTS` elements."""
    if n > MAX_BATCH_ELEMENTS:
        raise ValueError(
            f"{what} has {n:,} elements (shape {shape}): at most MAX_BATCH_ELEMENTS = "
            f"{MAX_BATCH_ELEMENTS:,} are run (16 RGB images of 256 x 256 are "
            f"{16 * 256 * 256 * 3:,}). {advice}"
        )


def check_sizes(layer: Layer, shape: tuple, what: str) -> tuple[tuple, int]:
    """Refuse a run above the caps, before it starts.

    Parameters
    ----------
    layer : Layer
        The convviz layer to run.
    shape : tuple of int
        Its full input shape (batch included), in its ``data_format``.
    what : str
        The input, for the message (``"The input"``, ``"The batch"``).

    Returns
    -------
    (tuple, int)
        The output shape and the multiply-accumulates of the run.

    Raises
    ------
    ValueError
        Over :data:`MAX_BATCH_ELEMENTS`, :data:`MAX_OUTPUT_ELEMENTS` or :data:`MAX_MACS`,
        or Keras's own message for a configuration it refuses.
    """
    _check_elements(prod(shape), shape, what, "Use fewer or smaller inputs (see fit).")
    out = tuple(layer.compute_output_shape(shape))  # Keras's ValueError for bad settings
    if prod(out) > MAX_OUTPUT_ELEMENTS:
        raise ValueError(
            f"The output would have {prod(out):,} elements (shape {out}): at most "
            f"MAX_OUTPUT_ELEMENTS = {MAX_OUTPUT_ELEMENTS:,}. Use a smaller input or fewer "
            "filters, or less upsampling."
        )
    macs = int(formulas.macs(layer, shape))
    if macs > MAX_MACS:
        raise ValueError(
            f"The run would take {macs:,} multiply-accumulates: at most MAX_MACS = "
            f"{MAX_MACS:,}. Use a smaller input, kernel or fewer filters."
        )
    return out, macs


def as_batch(x: np.ndarray, rank: int, batched: bool, fmt: str) -> np.ndarray:
    """A natural-layout input in a layer's full layout (``data_format`` via layout).

    ``x`` is ``(*spatial)`` or ``(*spatial, channels)`` with ``rank`` spatial axes, with a
    leading batch axis when ``batched``; the result is ``(batch, *spatial, channels)`` or
    ``(batch, channels, *spatial)`` for ``fmt``, contiguous (one channel and batch 1 added
    where missing).
    """
    if x.ndim == rank + int(batched):
        x = x[..., None]  # one channel
    if not batched:
        x = x[None]
    return np.ascontiguousarray(layout.from_last(x, fmt))


@dataclass(frozen=True, eq=False)
class Result:
    """One run of :func:`apply`.

    Attributes
    ----------
    layer_name : str
    kwargs : dict
        The constructor arguments used (with any filled-in ``filters`` / ``kernel_size``).
    call : str
        The Keras call, e.g. ``keras.layers.Conv2D(filters=1, kernel_size=3)``.
    kernel : str or None
        The named kernel (None for a layer without weights).
    channels : str
        The channel rule of the named kernel.
    layer : Layer
        The built convviz layer, weights set (bias zero).
    input, output : ndarray of float32
        The batch (batch 1) fed to the layer and its output, both in ``data_format``.
    seconds : float
        Wall time of the layer call.
    macs : int
        Multiply-accumulates of the call.
    """

    layer_name: str
    kwargs: dict
    call: str
    kernel: str | None
    channels: str
    layer: Layer
    input: np.ndarray
    output: np.ndarray
    seconds: float
    macs: int

    @property
    def data_format(self) -> str:
        return self.layer.data_format

    @property
    def input_shape(self) -> tuple:
        return tuple(self.input.shape)

    @property
    def output_shape(self) -> tuple:
        return tuple(self.output.shape)

    @property
    def feature_maps(self) -> np.ndarray:
        """float32 ``(channels, *out_spatial)``: one 1-D, 2-D or 3-D map per output channel."""
        return np.moveaxis(layout.to_last(self.output, self.data_format)[0], -1, 0)

    @property
    def input_maps(self) -> np.ndarray:
        """float32 ``(channels, *in_spatial)``: the input, channel by channel."""
        return np.moveaxis(layout.to_last(self.input, self.data_format)[0], -1, 0)

    def to_png(self, **kwargs) -> bytes:
        """:func:`to_png` of the feature maps."""
        return to_png(self.feature_maps, **kwargs)


def make_layer(layer_name: str, shape_last: tuple, kernel_name: str, channels: str, seed: int,
               keras_kwargs: Mapping) -> tuple[Layer, dict, tuple]:
    """A built layer whose weights are a named kernel (:func:`layer_weights`), bias zero.

    Parameters
    ----------
    layer_name : str
        A key of ``convviz.LAYERS``.
    shape_last : tuple of int
        The input shape channels last, ``(batch, *spatial, channels)``, whatever the
        layer's ``data_format``.
    kernel_name, channels, seed
        The named kernel, its channel rule and the ``"random"`` seed.
    keras_kwargs : mapping
        The layer's Keras arguments; ``filters`` (the input channels) and ``kernel_size``
        (3) are filled in where the layer requires them and they are missing.

    Returns
    -------
    (Layer, dict, tuple)
        The layer, the constructor arguments used, and the full input shape it was built
        for (in its ``data_format``).
    """
    cls = _layer_class(layer_name)
    kw = _constructor_args(cls, keras_kwargs, shape_last[-1])
    layer = cls(**kw)
    shape = layout.join(shape_last[0], shape_last[1:-1], shape_last[-1], layer.data_format)
    layer.build(shape)
    weights = layer_weights(layer, kernel_name, channels=channels, seed=seed)
    if weights:
        layer.set_weights(weights)
    return layer, kw, shape


def _natural(x, rank: int, batched: bool, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be a real numeric array. Received dtype {a.dtype}.")
    lo = rank + int(batched)
    if a.ndim not in (lo, lo + 1):
        b = "(batch, " if batched else "("
        raise ValueError(
            f"{what} must be {b}*spatial) or {b}*spatial, channels) with {rank} spatial "
            f"axes for this layer. Received shape {a.shape}."
        )
    if not np.isfinite(a).all():
        raise ValueError(f"{what} contains NaN or infinite values.")
    return a.astype(np.float32, copy=False)


def apply(layer_name: str, x, *, kernel: str = "sobel_x", channels: str = "diagonal",
          seed: int = 0, **keras_kwargs) -> Result:
    """Run one input through a convviz layer whose weights are a named kernel.

    Parameters
    ----------
    layer_name : str
        A key of ``convviz.LAYERS`` (every conv-family, cropping, padding and upsampling
        layer).
    x : array_like
        The input in its natural layout: ``(*spatial)`` (one channel) or
        ``(*spatial, channels)``, with the layer's rank of spatial axes (an image
        ``(H, W)`` / ``(H, W, 3)`` for 2-D layers, a signal ``(steps,)`` for 1-D, a volume
        ``(D, H, W)`` for 3-D). It is batched (batch 1) and laid out for the layer's
        ``data_format`` here, through :mod:`convviz.layout`.
    kernel : str
        A key of :data:`KERNELS`; ignored by layers without weights (cropping, padding,
        upsampling).
    channels : {"diagonal", "mean"}
        How the named kernel maps channels (:func:`kernel`).
    seed : int
        Seed of the ``"random"`` kernel.
    **keras_kwargs
        The layer's Keras arguments (``strides``, ``padding``, ``data_format`` ...).
        ``filters`` defaults to the input's channel count and ``kernel_size`` to 3 where
        the layer requires them.

    Returns
    -------
    Result
        ``feature_maps`` is ``(channels, *out_spatial)``; ``output`` the layer's own
        batched output. Bias zero, so the maps are the pure response of the kernel.

    Raises
    ------
    ValueError
        Unknown layer or kernel, an input of the wrong rank, a configuration Keras refuses
        (its own message), or a run over :data:`MAX_BATCH_ELEMENTS`,
        :data:`MAX_OUTPUT_ELEMENTS` or :data:`MAX_MACS`.
    """
    rank = _layer_class(layer_name).rank
    a = _natural(x, rank, False, "`x`")
    shape_last = (1, *a.shape[:rank], a.shape[rank] if a.ndim > rank else 1)
    layer, kw, shape = make_layer(layer_name, shape_last, kernel, channels, seed,
                                  keras_kwargs)
    _, macs = check_sizes(layer, shape, "The input")
    xb = as_batch(a, rank, False, layer.data_format)
    t0 = time.perf_counter()
    y = layer(xb)
    seconds = time.perf_counter() - t0
    return Result(layer_name, kw, catalog.keras_call(layer_name, kw),
                  kernel if layer.weights else None, channels, layer, xb, y, seconds, macs)


@dataclass(frozen=True, eq=False)
class BatchResult:
    """One run of :func:`batch_run`.

    Attributes
    ----------
    layer_name, kwargs, call, layer
        As in :class:`Result`.
    output : ndarray of float32
        The layer's output for the whole batch, in its ``data_format``.
    seconds : float
        Wall time of all the layer calls (chunks included).
    chunk_seconds : tuple of float
        Wall time of each chunk.
    chunk : int
        Images per chunk.
    macs : int
        Multiply-accumulates of the whole batch.
    """

    layer_name: str
    kwargs: dict
    call: str
    layer: Layer
    output: np.ndarray
    seconds: float
    chunk_seconds: tuple
    chunk: int
    macs: int

    @property
    def batch(self) -> int:
        return int(self.output.shape[0])

    @property
    def images_per_second(self) -> float:
        return self.batch / self.seconds if self.seconds > 0 else math.inf

    @property
    def gflops(self) -> float:
        """``2 * macs / seconds / 1e9`` (0 for layers that only copy)."""
        return 2 * self.macs / self.seconds / 1e9 if self.seconds > 0 else math.inf


#: About this many multiply-adds per layer call of :func:`batch_run` (about a second for
#: the slowest layers per multiply-add, depthwise ones, on two cores).
CHUNK_MACS = 500_000_000


def batch_run(layer_name: str, images, *, kernel: str = "sobel_x", channels: str = "diagonal",
              seed: int = 0, chunk: int | None = None,
              progress: Callable[[float], Any] | None = None, **keras_kwargs) -> BatchResult:
    """Run a batch of inputs through one layer, in chunks, timing it.

    Parameters
    ----------
    layer_name, kernel, channels, seed, **keras_kwargs
        As in :func:`apply`.
    images : array_like or sequence of arrays
        ``(batch, *spatial)`` or ``(batch, *spatial, channels)`` in the natural
        (channels-last) layout, e.g. ``(16, 256, 256, 3)``; or a sequence of same-shape
        arrays. At most :data:`MAX_BATCH_ELEMENTS` elements in all (checked before any
        copy is made).
    chunk : int, optional
        Images per layer call. Default: calls of about :data:`CHUNK_MACS` multiply-adds
        each, so a light batch (16 RGB pictures of 256 x 256 through a 3x3 Conv2D with 8
        filters: 223M) is one call and a heavy one reports progress as it goes. Smaller
        chunks report progress more often but cost time: the engine parallelises within a
        call, and that Conv2D took 45 ms in calls of 4 pictures against 23 ms in one
        (``benchmarks/bench_realdata.py``).
    progress : callable, optional
        Called with the fraction done (``0 < f <= 1``, the last call is 1.0) after each
        chunk, e.g. a Streamlit progress bar's ``progress``.

    Returns
    -------
    BatchResult
    """
    cls = _layer_class(layer_name)
    rank = cls.rank
    if isinstance(images, np.ndarray) or not isinstance(images, Sequence):
        total = int(np.size(images))
        shape = np.shape(images)
    else:
        if not images:
            raise ValueError("`images` is empty: give at least one input.")
        shapes = {np.shape(a) for a in images}
        if len(shapes) > 1:
            raise ValueError(f"All inputs of a batch must have one shape. Received shapes "
                             f"{sorted(shapes)}.")
        shape = (len(images), *shapes.pop())
        total = prod(shape)
    _check_elements(total, tuple(shape), "The batch", "Send fewer or smaller inputs.")
    a = _natural(images if isinstance(images, np.ndarray) else np.asarray(images), rank,
                 True, "`images`")
    batch = a.shape[0]
    if batch < 1:
        raise ValueError("`images` is empty: give at least one input.")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(
            chunk, (int, np.integer)) or chunk < 1):
        raise ValueError(f"`chunk` must be an int >= 1. Received: chunk={chunk!r}")
    if progress is not None and not callable(progress):
        raise ValueError(f"`progress` must be callable. Received: {progress!r}")
    shape_last = (batch, *a.shape[1:rank + 1], a.shape[rank + 1] if a.ndim > rank + 1 else 1)
    layer, kw, full = make_layer(layer_name, shape_last, kernel, channels, seed, keras_kwargs)
    out_shape, macs = check_sizes(layer, full, "The batch")
    if chunk is None:  # calls of about CHUNK_MACS each: one call for a light batch
        chunk = -(-batch // min(batch, max(1, -(-macs // CHUNK_MACS))))
    chunk = min(int(chunk), batch)
    xb = as_batch(a, rank, True, layer.data_format)
    out = np.empty(out_shape, dtype=np.float32)
    times = []
    t0 = time.perf_counter()
    for start in range(0, batch, chunk):
        t1 = time.perf_counter()
        out[start:start + chunk] = layer(xb[start:start + chunk])
        times.append(time.perf_counter() - t1)
        if progress is not None:
            progress(min(start + chunk, batch) / batch)
    seconds = time.perf_counter() - t0
    return BatchResult(layer_name, kw, catalog.keras_call(layer_name, kw), layer, out,
                       seconds, tuple(times), chunk, macs)


__all__ = [
    "MAX_BATCH_ELEMENTS", "MAX_MACS", "MAX_OUTPUT_ELEMENTS", "BatchResult", "Result", "apply",
    "as_batch", "batch_run", "check_sizes", "make_layer",
]

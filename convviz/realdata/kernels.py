"""Named kernels (Sobel, Laplacian, blurs, ...) in the Keras weight layout of each layer family.

* :data:`KERNELS`: the names, one line each; :func:`taps`: the spatial stencil of a name
  for any rank (``len(kernel_size)``);
* :func:`kernel`: the stencil in a family's weight layout (:data:`LAYOUTS`), channels
  mapped by one of :data:`CHANNEL_RULES`;
* :func:`layer_weights`: every weight of a built convviz layer, in ``get_weights()`` order.

Named kernels are cross-correlations (Keras does not flip kernels), so ``sobel_x`` is
positive where the image gets brighter to the right:

>>> taps("sobel_x", (3, 3)).astype(int).tolist()
[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from .. import initializers
from ..geometry import prod
from ..layers import (
    BaseConv,
    BaseConvTranspose,
    BaseDepthwiseConv,
    BaseSeparableConv,
    Layer,
    standardize_tuple,
)

#: How a named kernel maps input channels to output channels (see :func:`kernel`).
CHANNEL_RULES = ("diagonal", "mean")
#: The weight layouts :func:`kernel` builds: Conv, Conv*Transpose and Depthwise kernels.
LAYOUTS = ("conv", "transpose", "depthwise")

#: The named kernels, one line each (exact definitions: :func:`taps`).
KERNELS: Mapping[str, str] = MappingProxyType({
    "identity": "1 at the centre cell: the output copies the input (with 'same' padding).",
    "box_blur": "Every tap 1/K (K cells): each output is the mean of its window.",
    "gaussian": "Binomial weights (1 2 1 per axis for size 3), summing to 1: a smooth blur.",
    "sobel_x": "Derivative along x (the last spatial axis) times a binomial smoothing across "
               "(1 2 1 for size 3): "
               "vertical edges.",
    "sobel_y": "Derivative along y (rows) times a binomial smoothing across (1 2 1 for size "
               "3): horizontal edges.",
    "laplacian": "Sum of second differences 1 -2 1 along every axis: zero on ramps, marks "
                 "edges and spots.",
    "sharpen": "Identity minus the Laplacian: boosts edges, keeps flat areas.",
    "random": "Glorot-uniform random weights (Keras's default initializer), seeded.",
})


def _binomial(n: int) -> np.ndarray:
    row = np.ones(1)
    for _ in range(n - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


def _derivative(k: int, name: str, axis: int) -> np.ndarray:
    """Sobel's derivative of length ``k``: ``-1 0 1`` smoothed by binomial weights."""
    if k < 2:
        raise ValueError(f"{name!r} needs kernel_size >= 2 along the axis it differentiates "
                         f"(spatial axis {axis}). Received kernel_size {k} there.")
    if k % 2:
        return np.convolve(_binomial(k - 2), [-1.0, 0.0, 1.0])
    return np.convolve(_binomial(k - 1), [-1.0, 1.0])


def _outer(vectors) -> np.ndarray:
    out = np.ones(())
    for v in vectors:
        out = np.multiply.outer(out, v)
    return out


def _centre(kernel_size) -> tuple:
    # 'same' padding puts lo = (k-1)//2 cells before the input, so this tap reads cell o.
    return tuple((k - 1) // 2 for k in kernel_size)


def _laplacian(kernel_size, name) -> np.ndarray:
    small = [k for k in kernel_size if k < 3]
    if small:
        raise ValueError(f"{name!r} needs kernel_size >= 3 on every axis (the stencil "
                         f"1 -2 1 spans 3 cells). Received kernel_size={tuple(kernel_size)}.")
    out = np.zeros(kernel_size)
    c = _centre(kernel_size)
    for axis in range(len(kernel_size)):
        for offset, w in ((-1, 1.0), (0, -2.0), (1, 1.0)):
            idx = list(c)
            idx[axis] += offset
            out[tuple(idx)] += w
    return out


def taps(name: str, kernel_size: Sequence[int], *, seed: int = 0) -> np.ndarray:
    """The spatial stencil of a named kernel; the rank is ``len(kernel_size)``.

    Parameters
    ----------
    name : str
        A key of :data:`KERNELS`.
    kernel_size : tuple of int
        Per spatial axis (1 to 3 axes; axis order as in Keras: ``(depth,) height, width``).
    seed : int
        For ``"random"`` only.

    Returns
    -------
    ndarray of float64, shape ``kernel_size``

    Notes
    -----
    * ``identity``: 1 at index ``(k-1)//2`` per axis (the cell 'same' padding aligns with
      the output, also for even ``k``).
    * ``box_blur``: ``1 / prod(kernel_size)``; ``gaussian``: the outer product of binomial
      rows (Pascal's triangle, variance ``(k-1)/4``) normalised to sum 1.
    * ``sobel_x`` / ``sobel_y``: the outer product of a derivative along x (the last axis)
      or y (the second to last) with unnormalised binomial smoothing along every other
      axis, as in the classic integer Sobel (3 x 3: ``[[-1,0,1],[-2,0,2],[-1,0,1]]``). In
      1-D ``sobel_x`` is the derivative ``[-1, 0, 1]`` alone; ``sobel_y`` needs a row
      axis, so 1-D refuses it; in 3-D both are the separable 3-D Sobel (smoothing along
      depth too). The derivative of length ``k`` is ``binomial(k-2) * [-1, 0, 1]`` for odd
      ``k`` (5: ``-1 -2 0 2 1``) and ``binomial(k-1) * [-1, 1]`` for even ``k``.
    * ``laplacian``: ``1 -2 1`` along every axis through the centre (2-D:
      ``[[0,1,0],[1,-4,1],[0,1,0]]``; 3-D: the 7-point stencil, centre -6); needs ``k >= 3``;
      a larger window only adds zeros. ``sharpen`` = ``identity - laplacian``.
    * ``random``: Glorot uniform of shape ``kernel_size + (1, 1)`` (:func:`kernel` draws
      it in the layer's full shape instead, so the fans are the layer's).
    """
    ks = tuple(int(k) for k in kernel_size)
    rank = len(ks)
    if not 1 <= rank <= 3 or min(ks) < 1:
        raise ValueError(f"`kernel_size` must have 1 to 3 positive sizes. Received: {ks}")
    if name not in KERNELS:
        raise ValueError(f"Unknown kernel {name!r}. Expected one of: {', '.join(KERNELS)}.")
    if name == "identity":
        out = np.zeros(ks)
        out[_centre(ks)] = 1.0
        return out
    if name == "box_blur":
        return np.full(ks, 1.0 / prod(ks))
    if name == "gaussian":
        return _outer([_binomial(k) / 2.0 ** (k - 1) for k in ks])
    if name in ("sobel_x", "sobel_y"):
        axis = rank - 1 if name == "sobel_x" else rank - 2
        if axis < 0:
            raise ValueError("'sobel_y' differentiates along rows (y), the second to last "
                             "spatial axis; a 1-D signal has only one axis. Use 'sobel_x' "
                             "(the derivative [-1, 0, 1]) in 1-D.")
        return _outer([_derivative(k, name, a) if a == axis else _binomial(k)
                       for a, k in enumerate(ks)])
    if name == "laplacian":
        return _laplacian(ks, name)
    if name == "sharpen":
        return taps("identity", ks) - _laplacian(ks, name)
    return initializers.GlorotUniform(seed=seed)(ks + (1, 1), dtype="float64")[..., 0, 0]


def _mix(rows: int, cols: int, channels: str, diagonal: Callable) -> np.ndarray:
    """``(rows, cols)`` channel weights: ``diagonal(r, c)`` 1/0, or ``1/rows`` ("mean")."""
    if channels == "mean":
        return np.full((rows, cols), 1.0 / rows)
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return diagonal(r, c).astype(np.float64)


def kernel(name: str, kernel_size, rank: int | None = None, in_channels: int = 1,
           filters: int = 1, *, groups: int = 1, layout: str = "conv",
           channels: str = "diagonal", seed: int = 0) -> np.ndarray:
    """A named kernel in the Keras weight layout of a layer family.

    Parameters
    ----------
    name : str
        A key of :data:`KERNELS`.
    kernel_size : int or tuple of int
        An int needs ``rank``; a tuple gives it (and must agree with ``rank`` if both).
    rank : int, optional
        Spatial axes, 1 to 3.
    in_channels : int
        Input channels ``C`` of the layer.
    filters : int
        Output filters ``F`` (``layout="conv"`` / ``"transpose"``), or the depth multiplier
        ``M`` for ``layout="depthwise"``.
    groups : int
        ``layout="conv"`` only: Conv's ``groups``.
    layout : {"conv", "transpose", "depthwise"}
        ``"conv"``: ``kernel_size + (C // groups, F)``; ``"transpose"`` (Conv*Transpose):
        ``kernel_size + (F, C)``; ``"depthwise"`` (DepthwiseConv, and the depthwise half of
        SeparableConv): ``kernel_size + (C, M)``.
    channels : {"diagonal", "mean"}
        How the named stencil maps channels (``"random"`` ignores it: every weight is
        drawn). ``"diagonal"``: output ``f`` applies the stencil to one input channel,
        ``f mod C`` (within its group for grouped convolutions), and ignores the others,
        so with ``filters == C`` each channel is filtered on its own (an RGB photo keeps
        its colours under ``identity``). ``"mean"``: every output applies the stencil to
        the mean of the input channels (of its group). Depthwise kernels are per channel
        already: every ``(c, m)`` gets the stencil.
    seed : int
        ``"random"`` only: the GlorotUniform seed (same seed, same weights).

    Returns
    -------
    ndarray of float32

    >>> kernel("identity", 3, rank=2, in_channels=3, filters=3)[1, 1].astype(int).tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    if channels not in CHANNEL_RULES:
        raise ValueError(f"`channels` must be one of {CHANNEL_RULES}. "
                         f"Received: channels={channels!r}")
    if rank is None:
        if isinstance(kernel_size, (int, np.integer)):
            raise ValueError(f"An int kernel_size needs `rank`. Received: kernel_size="
                             f"{kernel_size!r}, rank=None")
        rank = len(tuple(kernel_size))
    if rank not in (1, 2, 3):
        raise ValueError(f"`rank` must be 1, 2 or 3. Received: rank={rank!r}")
    ks = standardize_tuple(kernel_size, rank, "kernel_size")
    cin, f, g = (int(v) for v in (in_channels, filters, groups))
    if min(cin, f, g) < 1:
        raise ValueError(f"`in_channels`, `filters` and `groups` must be >= 1. Received: "
                         f"in_channels={in_channels}, filters={filters}, groups={groups}")
    if layout == "conv":
        if cin % g or f % g:
            raise ValueError(f"`in_channels` and `filters` must divide by `groups`. Received: "
                             f"in_channels={cin}, filters={f}, groups={g}")
        cg, fg = cin // g, f // g
        shape = (cg, f)
        diagonal = lambda c, o: c == (o % fg) % cg  # noqa: E731
    elif layout == "transpose":
        shape = (f, cin)
        diagonal = lambda o, c: c == o % cin  # noqa: E731
    elif layout == "depthwise":
        shape = (cin, f)
        diagonal = lambda c, m: np.ones_like(c, dtype=bool)  # noqa: E731
    else:
        raise ValueError(f"`layout` must be one of {LAYOUTS}. Received: layout={layout!r}")
    if layout != "conv" and g != 1:
        raise ValueError(f"`groups` applies to layout='conv' only. Received: groups={g}, "
                         f"layout={layout!r}")
    if name == "random":
        return initializers.GlorotUniform(seed=seed)(ks + shape, dtype="float32")
    stencil = taps(name, ks)
    mix = _mix(*shape, channels, diagonal) if layout != "depthwise" else np.ones(shape)
    return (stencil[..., None, None] * mix).astype(np.float32)


def layer_weights(layer: Layer, kernel_name: str = "sobel_x", *, channels: str = "diagonal",
                  seed: int = 0) -> list[np.ndarray]:
    """Weights for a built convviz layer, in ``get_weights()`` order, from a named kernel.

    Conv, Conv*Transpose and DepthwiseConv get :func:`kernel` in their layout; a
    SeparableConv gets the stencil in its depthwise kernel and a pointwise ``1 x 1`` kernel
    ``(C*M, F)`` following ``channels`` (``"diagonal"``: filter ``f`` takes depthwise
    channel ``f mod (C*M)``; ``"mean"``: ``1/(C*M)``; ``"random"``: Glorot with
    ``seed + 1``). Biases are zero. A layer without weights gets ``[]``.
    """
    if not layer.built:
        raise ValueError(f"Layer '{layer.name}' is not built: call layer.build(input_shape) "
                         "first.")
    current = layer.get_weights()
    if not current:
        return []
    new = [np.zeros_like(w) for w in current]
    c, ks = layer.input_channels, layer.kernel_size
    common = {"channels": channels, "seed": seed}
    if isinstance(layer, BaseConv):
        new[0] = kernel(kernel_name, ks, in_channels=c, filters=layer.filters,
                        groups=layer.groups, **common)
    elif isinstance(layer, BaseConvTranspose):
        new[0] = kernel(kernel_name, ks, in_channels=c, filters=layer.filters,
                        layout="transpose", **common)
    elif isinstance(layer, (BaseDepthwiseConv, BaseSeparableConv)):
        new[0] = kernel(kernel_name, ks, in_channels=c, filters=layer.depth_multiplier,
                        layout="depthwise", **common)
        if isinstance(layer, BaseSeparableConv):
            q = c * layer.depth_multiplier
            if kernel_name == "random":
                pw = kernel("random", (1,) * layer.rank, in_channels=q, filters=layer.filters,
                            channels=channels, seed=seed + 1)
            else:
                pw = kernel("identity", (1,) * layer.rank, in_channels=q,
                            filters=layer.filters, channels=channels)
            new[1] = pw
    else:  # pragma: no cover - every weighted convviz layer is one of the above
        raise ValueError(f"No named kernels for {type(layer).__name__}.")
    for w, old in zip(new, current):
        if w.shape != old.shape:  # pragma: no cover - a layout bug, not a user error
            raise AssertionError(f"{type(layer).__name__}: built {w.shape}, "
                                 f"layer has {old.shape}")
    return [w.astype(old.dtype) for w, old in zip(new, current)]


__all__ = ["CHANNEL_RULES", "KERNELS", "LAYOUTS", "kernel", "layer_weights", "taps"]

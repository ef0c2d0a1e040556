"""Two classic effects on real inputs, composed from :mod:`convviz.stack`.

* :func:`checkerboard_demo` -> :class:`Checkerboard`: the checkerboard of a transposed
  convolution on an image, beside UpSampling2D + Conv2D (Odena et al., 2016);
* :func:`receptive_field_1d` -> :class:`ReceptiveField1D`: the receptive field of one
  output step of a dilated Conv1D stack (WaveNet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import stack
from ..geometry import effective_kernel, prod
from ..layers import standardize_tuple
from .runs import as_batch, check_sizes, make_layer


@dataclass(frozen=True, eq=False)
class Checkerboard:
    """Conv2DTranspose versus UpSampling2D + Conv2D on one image (:func:`checkerboard_demo`).

    Attributes
    ----------
    image : ndarray of float32, ``(H, W)`` or ``(H, W, C)``
    transposed, resize_conv : ndarray of float32, ``(H*s, W*s)`` or ``(H*s, W*s, C)``
        The two outputs, in the image's layout (channels last).
    overlap_transposed, overlap_resize_conv : ndarray of int64, ``(H*s, W*s)``
        Products summed into each output cell (``stack.overlap_counts``; for the
        transposed convolution equal to its trace's ``overlap_count()``).
    interior_transposed, interior_resize_conv : tuple of int
        The overlap values away from the borders (``stack.compare_upsampling``).
    checkerboard : bool
        The transposed convolution's interior overlaps are uneven.
    explanation : str
        Sentences with the numbers (from ``stack.compare_upsampling``).
    code_transposed, code_resize_conv : str
        ``keras.Sequential`` code of each recipe.
    kernel_size, strides : tuple of int
    layers : tuple of Layer
        ``(Conv2DTranspose, UpSampling2D, Conv2D)``, built, weights set.
    """

    image: np.ndarray
    transposed: np.ndarray
    resize_conv: np.ndarray
    overlap_transposed: np.ndarray
    overlap_resize_conv: np.ndarray
    interior_transposed: tuple
    interior_resize_conv: tuple
    checkerboard: bool
    explanation: str
    code_transposed: str
    code_resize_conv: str
    kernel_size: tuple
    strides: tuple
    layers: tuple


def checkerboard_demo(image, kernel_size=3, strides=2) -> Checkerboard:
    """The checkerboard of a transposed convolution on a real image (Odena et al., 2016).

    (a) ``Conv2DTranspose(C, k, strides=s, padding="same")`` and (b)
    ``UpSampling2D(s)`` then ``Conv2D(C, k, padding="same")``, both with uniform (box)
    weights and zero bias, map ``(H, W)`` to the same ``(H*s, W*s)``.

    Parameters
    ----------
    image : array_like, ``(H, W)`` or ``(H, W, C)``
    kernel_size, strides : int or (int, int)

    Returns
    -------
    Checkerboard

    Notes
    -----
    Weights: (b)'s Conv2D has ``1 / (kh*kw)`` per tap (a plain blur, a flat image stays
    flat away from the borders); (a) has ``(sh*sw) / (kh*kw)``: an input cell spreads
    ``kh*kw`` taps over ``sh*sw`` output cells, so on average a flat image keeps its
    brightness, but an output cell receives ``floor(k/s)`` or ``ceil(k/s)`` taps per axis
    depending on its position modulo the stride; when ``k`` is not divisible by ``s`` the
    output is that uneven overlap pattern times the image: the checkerboard. Each channel
    is filtered on its own (``"diagonal"`` channels). The overlap maps are
    ``stack.overlap_counts`` of ``stack.compare_upsampling``'s two recipes, its interior
    values and explanation are the same function's (on an input no larger than its
    ``MAX_COMPARE_OUTPUT`` allows: they do not depend on the input size).
    """
    a = np.asarray(image, dtype=np.float32)
    if a.ndim not in (2, 3):
        raise ValueError(f"`image` must be (H, W) or (H, W, C). Received shape {a.shape}.")
    k = standardize_tuple(kernel_size, 2, "kernel_size")
    s = standardize_tuple(strides, 2, "strides")
    c = a.shape[2] if a.ndim == 3 else 1
    ks = k[0] if k[0] == k[1] else k
    ss = s[0] if s[0] == s[1] else s
    shape_last = (1, *a.shape[:2], c)
    transposed, _, _ = make_layer("Conv2DTranspose", shape_last, "box_blur", "diagonal", 0,
                                  {"filters": c, "kernel_size": ks, "strides": ss,
                                   "padding": "same"})
    transposed.set_weights([w * np.float32(prod(s)) if w.ndim > 1 else w
                            for w in transposed.get_weights()])
    upsample, _, _ = make_layer("UpSampling2D", shape_last, "box_blur", "diagonal", 0,
                                {"size": ss})
    mid = (1, *upsample.compute_output_shape(shape_last)[1:])
    conv, _, _ = make_layer("Conv2D", mid, "box_blur", "diagonal", 0,
                            {"filters": c, "kernel_size": ks, "padding": "same"})
    check_sizes(transposed, shape_last, "The image")
    check_sizes(conv, mid, "The upsampled image")
    # The interior values and the explanation do not depend on the input size (stack
    # takes them from a long input of its own); compare_upsampling caps its output for
    # the page's heatmaps, so it gets a small stand-in and the overlap maps of the real
    # size come from stack.overlap_counts on its own entries.
    small = tuple(max(1, min(n, stack.MAX_COMPARE_OUTPUT // sv))
                  for n, sv in zip(a.shape[:2], s))
    compare = stack.compare_upsampling(small, ks, ss, filters=c)
    full = (None, *a.shape[:2], c)
    xb = as_batch(a, 2, False, "channels_last")
    y_t = transposed(xb)[0]
    y_r = conv(upsample(xb))[0]
    if a.ndim == 2:
        y_t, y_r = y_t[..., 0], y_r[..., 0]
    side_t, side_r = compare["transposed"], compare["upsample_conv"]
    return Checkerboard(
        a, y_t, y_r,
        stack.overlap_counts(side_t["entries"], full),
        stack.overlap_counts(side_r["entries"], full),
        side_t["interior_values"], side_r["interior_values"], side_t["checkerboard"],
        compare["explanation"], stack.keras_code(side_t["entries"], full),
        stack.keras_code(side_r["entries"], full), k, s, (transposed, upsample, conv))


@dataclass(frozen=True, eq=False)
class ReceptiveField1D:
    """The receptive field of one output step of a Conv1D stack (:func:`receptive_field_1d`).

    Attributes
    ----------
    entries : tuple of (str, dict)
        The stack, one Conv1D per dilation.
    code : str
        ``keras.Sequential`` code.
    steps, out_index : int
        Input length and the output step looked at.
    mask : ndarray of bool, ``(steps,)``
        Input steps the output step depends on (``stack.receptive_field``).
    paths : ndarray of int64, ``(steps,)``
        Paths from each input step to it (``stack.path_counts``; all 1 for WaveNet's
        kernel 2 and doubling dilations: every input reaches it once).
    size : int
        ``mask.sum()``.
    formula : int
        ``1 + sum(d * (k - 1))``.
    growth : tuple of int
        The field size after each layer (measured on the first layers of the stack).
    """

    entries: tuple
    code: str
    steps: int
    out_index: int
    mask: np.ndarray
    paths: np.ndarray
    size: int
    formula: int
    growth: tuple

    @property
    def span(self) -> tuple[int, int]:
        """``(first, last)`` input step of the field."""
        idx = np.flatnonzero(self.mask)
        return int(idx[0]), int(idx[-1])


def receptive_field_1d(kernel_size: int = 2, dilations: Sequence[int] = (1, 2, 4, 8), *,
                       steps: int | None = None, out_index: int | None = None,
                       padding: str = "causal") -> ReceptiveField1D:
    """Receptive field of a dilated Conv1D stack (WaveNet: kernel 2, dilations 1 2 4 8).

    Parameters
    ----------
    kernel_size : int
    dilations : sequence of int
        One ``Conv1D(1, kernel_size, dilation_rate=d, padding=padding)`` per entry.
    steps : int, optional
        Input length; default twice the formula's field size, so the field fits.
    out_index : int, optional
        The output step; default the last one for causal padding (the newest, which sees
        the most recent ``size`` inputs), else the middle one (away from the borders).
    padding : str
        ``"causal"`` (default), ``"same"`` or ``"valid"``.

    Returns
    -------
    ReceptiveField1D
        Composed from the layers' traces by :mod:`convviz.stack`.

    >>> rf = receptive_field_1d()
    >>> rf.size, rf.formula, rf.growth, rf.span
    (16, 16, (2, 4, 8, 16), (16, 31))
    """
    dil = tuple(int(d) for d in dilations)
    if not dil:
        raise ValueError("`dilations` is empty: give one dilation per layer.")
    entries = tuple(("Conv1D", {"filters": 1, "kernel_size": kernel_size,
                                "dilation_rate": d, "padding": padding}) for d in dil)
    k = standardize_tuple(kernel_size, 1, "kernel_size")[0]
    formula = 1 + sum(effective_kernel(k, d) - 1 for d in dil)
    steps = 2 * formula if steps is None else int(steps)
    shape = (None, steps, 1)
    rows = stack.summary(entries, shape)
    out_len = stack.totals(rows)["output_shape"]
    if out_len is None:
        bad = next(r for r in rows if r.status == "error")
        raise ValueError(f"Layer {bad.index} (Conv1D, dilation_rate={dil[bad.index]}) does "
                         f"not fit its input {bad.input_shape}: {bad.error}")
    n_out = out_len[1]
    if out_index is None:
        o = n_out - 1 if padding == "causal" else n_out // 2
    else:
        o = int(out_index)
    if not 0 <= o < n_out:
        raise ValueError(f"`out_index` must be in [0, {n_out}) (the output has {n_out} "
                         f"steps). Received: out_index={out_index!r}")
    mask = stack.receptive_field(entries, shape, (o,))
    paths = stack.path_counts(entries, shape, (o,))
    # Output step o of the first i layers: the same step for causal and 'same' stacks
    # (lengths agree), and for 'valid' the step whose field starts where the full stack's
    # does (every layer's window of output j starts at input j).
    growth = tuple(int(stack.receptive_field(entries[:i], shape, (o,)).sum())
                   for i in range(1, len(entries) + 1))
    return ReceptiveField1D(entries, stack.keras_code(entries, shape), steps, o, mask, paths,
                            int(mask.sum()), formula, growth)


__all__ = ["Checkerboard", "ReceptiveField1D", "checkerboard_demo", "receptive_field_1d"]

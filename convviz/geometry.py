"""Pure integer maths per spatial axis: output lengths, padding splits, transpose crops.

Notation per axis (as in Keras's ``operation_utils``): input length ``n``, kernel
``k``, stride ``s``, dilation ``d``, effective kernel ``ke = d*(k-1) + 1``, output
length ``out``, padding ``(lo, hi)``.

Every function here works on plain Python ints for one axis; the layers map them
over the axes (rank is data, not a branch).

>>> conv_pads(5, 2, 2, 1, "same")   # p = 1: the extra cell goes at the END
(0, 1)
"""

from __future__ import annotations

import math

import numpy as np

PADDINGS = ("valid", "same", "causal")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")

#: What each spatial axis is called (Keras's names: Conv1D reads ``(batch, steps, channels)``).
AXIS_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def effective_kernel(k: int, d: int) -> int:
    """Span of a dilated kernel: ``d*(k-1) + 1``."""
    return d * (k - 1) + 1


def conv_output_length(n: int, k: int, s: int, d: int, padding: str) -> int:
    """Output length of a forward convolution along one axis.

    ``valid``: ``(n - ke) // s + 1`` (floor, may be <= 0: the caller raises);
    ``same`` and ``causal``: ``ceil(n / s)``.
    """
    if padding == "valid":
        return (n - effective_kernel(k, d)) // s + 1
    return -(-n // s)


def conv_pads(n: int, k: int, s: int, d: int, padding: str) -> tuple[int, int]:
    """``(lo, hi)`` zero padding the window slides over.

    ``same`` pads ``p = max((out-1)*s + ke - n, 0)`` with ``lo = p // 2`` and the odd
    cell at the end; ``causal`` pads ``d*(k-1)`` on the left only.
    """
    ke = effective_kernel(k, d)
    if padding == "valid":
        return (0, 0)
    if padding == "causal":
        return (ke - 1, 0)
    out = conv_output_length(n, k, s, d, "same")
    p = max((out - 1) * s + ke - n, 0)
    return (p // 2, p - p // 2)


def conv_taps(n: int, k: int, s: int, d: int, padding: str) -> np.ndarray:
    """Input coordinate read by every kernel tap at every output position.

    Returns
    -------
    ndarray of int64, shape ``(out, k)``
        ``taps[o, j] = o*s + j*d - lo``; values outside ``[0, n)`` are padding cells.
    """
    out = conv_output_length(n, k, s, d, padding)
    lo, _ = conv_pads(n, k, s, d, padding)
    o = np.arange(max(out, 0), dtype=np.int64)[:, None]
    j = np.arange(k, dtype=np.int64)[None, :]
    return o * s + j * d - lo


def transpose_output_length(
    n: int, k: int, s: int, d: int, padding: str, op: int | None
) -> int:
    """Output length of a transposed convolution (Keras ``deconv_output_length``)."""
    ke = effective_kernel(k, d)
    if padding == "valid":
        return (n - 1) * s + ke + (max(ke, s) - ke if op is None else op)
    if op is None:
        return n * s
    return (n - 1) * s + ke % 2 + op


def transpose_crop(k: int, s: int, d: int, padding: str, op: int | None) -> int:
    """Cells cut from the start of the scatter result ``full`` (length ``(n-1)*s + ke``)."""
    ke = effective_kernel(k, d)
    if padding == "valid":
        return 0
    if op is None:
        return max(0, (ke - s) // 2)
    return max(0, (ke - ke % 2 - op) // 2)


def transpose_gather_pads(n: int, k: int, s: int, d: int, padding: str,
                          op: int | None) -> tuple[int, int]:
    """Padding of the zero-inserted input in the "gather" view of a transposed conv.

    The zero-inserted input has length ``(n-1)*s + 1``; padding it by ``(lo, hi)``
    and running an ordinary stride-1 convolution with the flipped kernel gives the
    transposed convolution.  ``hi`` may exceed ``ke - 1`` (output_padding or
    ``s > ke`` adds trailing zeros) and ``lo`` is ``ke - 1 - crop``.
    """
    ke = effective_kernel(k, d)
    out = transpose_output_length(n, k, s, d, padding, op)
    lo = ke - 1 - transpose_crop(k, s, d, padding, op)
    hi = out + ke - 1 - lo - ((n - 1) * s + 1)
    return (lo, hi)


# ----------------------------------------------------------------------------- resize
def _triangle(x: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - x)


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    # Keys (1981) cubic with a = -0.5, as in jax.image / Keras ops.image.resize.
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return np.where(x >= 2.0, 0.0, np.where(x >= 1.0, far, near))


def _lanczos(radius: int):
    def kernel(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            y = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius)
            out = np.where(x > 1e-3, y / (np.pi**2 * x**2), 1.0)
        return np.where(x > radius, 0.0, out)

    return kernel


_RESIZE_KERNELS = {
    "bilinear": (_triangle, 1),
    "bicubic": (_keys_cubic, 2),
    "lanczos3": (_lanczos(3), 3),
    "lanczos5": (_lanczos(5), 5),
}


def resize_taps(n: int, out: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Source cells and weights of every output cell of a 1-D resize (no antialiasing).

    Half-pixel sampling: output cell ``o`` samples the input at
    ``(o + 0.5) * n / out - 0.5``; kernel weights over the input cells in range are
    renormalised to sum to 1 (so the edges use fewer taps).  ``nearest`` (used by
    UpSampling as a plain repeat) gives one tap ``o * n // out`` of weight 1.

    Returns
    -------
    idx : ndarray of int64, shape ``(out, T)``
        Source input cells, ``0 <= idx < n``.
    w : ndarray of float64, shape ``(out, T)``
        Their weights (0 for unused slots; rows sum to 1).
    """
    if method == "nearest":
        idx = (np.arange(out, dtype=np.int64) * n // out)[:, None]
        return idx, np.ones((out, 1))
    kernel, radius = _RESIZE_KERNELS[method]
    scale = out / n
    sample = (np.arange(out) + 0.5) / scale - 0.5
    base = np.floor(sample).astype(np.int64)
    offsets = np.arange(-radius + 1, radius + 1, dtype=np.int64)
    idx = base[:, None] + offsets[None, :]
    w = kernel(np.abs(sample[:, None] - idx))
    valid = (idx >= 0) & (idx < n)
    w = np.where(valid, w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    eps = 1000.0 * float(np.finfo(np.float32).eps)
    w = np.where(np.abs(total) > eps, w / np.where(total != 0, total, 1.0), 0.0)
    return np.clip(idx, 0, n - 1), w


def prod(values) -> int:
    """Product of ints (1 for an empty tuple)."""
    return int(math.prod(values))

"""Slow, loop-based reference implementations of the convviz layers.

Written only from ``/work/shared/KERAS_SEMANTICS.md`` and deliberately independent of
``convviz``: plain functions on ``channels_last`` NumPy arrays with Keras-layout weights,
computed in float64 with explicit Python loops over output positions and kernel taps.
Readability beats speed here; keep the inputs small.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

# ----------------------------------------------------------------------------- helpers


def as_tuple(value, rank):
    """An int or a sequence of ``rank`` ints -> tuple of ``rank`` ints."""
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise ValueError(f"expected {rank} values, got {value}")
    return value


def activate(y, activation):
    if activation is None or activation == "linear":
        return y
    if activation == "relu":
        return np.maximum(y, 0.0)
    if callable(activation):
        return activation(y)
    raise ValueError(f"unknown activation {activation!r}")


def effective_kernel(k, d):
    return d * (k - 1) + 1


def conv_out_len(n, k, s, d, padding):
    """Output length of a forward convolution along one axis (spec formulas)."""
    ke = effective_kernel(k, d)
    padding = padding.lower()
    if padding == "valid":
        return (n - ke) // s + 1
    if padding in ("same", "causal"):
        return math.ceil(n / s)
    raise ValueError(padding)


def conv_pads(n, k, s, d, padding):
    """(lo, hi) zero padding of a forward convolution along one axis."""
    ke = effective_kernel(k, d)
    padding = padding.lower()
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = math.ceil(n / s)
        p = max((out - 1) * s + ke - n, 0)
        lo = p // 2
        return lo, p - lo  # the odd extra cell goes at the END
    if padding == "causal":
        return d * (k - 1), 0
    raise ValueError(padding)


def conv_transpose_out_len(n, k, s, d, padding, output_padding):
    ke = effective_kernel(k, d)
    op = output_padding
    padding = padding.lower()
    if padding == "valid":
        return (n - 1) * s + ke + (max(ke, s) - ke if op is None else op)
    if padding == "same":
        return n * s if op is None else (n - 1) * s + ke % 2 + op
    raise ValueError(padding)


def conv_transpose_crop(k, s, d, padding, output_padding):
    ke = effective_kernel(k, d)
    if padding.lower() == "valid":
        return 0
    if output_padding is None:
        return max(0, (ke - s) // 2)
    return max(0, (ke - ke % 2 - output_padding) // 2)


def _zero_pad_spatial(x, pads):
    """Zero-pad the spatial axes (1..rank) of a channels_last array; pads = [(lo, hi), ...]."""
    return np.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])


def _pad_or_crop_spatial(x, pads):
    """Like _zero_pad_spatial, but negative amounts crop instead."""
    x = _zero_pad_spatial(x, [(max(lo, 0), max(hi, 0)) for lo, hi in pads])
    index = [slice(None)]
    for axis, (lo, hi) in enumerate(pads, start=1):
        start = -lo if lo < 0 else 0
        stop = x.shape[axis] + hi if hi < 0 else x.shape[axis]
        index.append(slice(start, stop))
    index.append(slice(None))
    return x[tuple(index)]


# ------------------------------------------------------------------ forward convolution


def conv_ref(
    x,
    kernel,
    bias=None,
    strides=1,
    padding="valid",
    dilation_rate=1,
    groups=1,
    activation=None,
):
    """Conv1D/2D/3D. x: (N, *spatial, Cin); kernel: kernel_size + (Cin // groups, F)."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kernel_size = kernel.shape[:-2]
    rank = len(kernel_size)
    strides = as_tuple(strides, rank)
    dilation = as_tuple(dilation_rate, rank)
    batch, spatial, cin = x.shape[0], x.shape[1:-1], x.shape[-1]
    cin_g, filters = kernel.shape[-2], kernel.shape[-1]
    assert cin == cin_g * groups and filters % groups == 0
    f_g = filters // groups

    out_shape = tuple(
        conv_out_len(n, k, s, d, padding)
        for n, k, s, d in zip(spatial, kernel_size, strides, dilation, strict=True)
    )
    if any(o <= 0 for o in out_shape):
        raise ValueError(f"Computed output size would be zero or negative: {out_shape}")
    pads = [
        conv_pads(n, k, s, d, padding)
        for n, k, s, d in zip(spatial, kernel_size, strides, dilation, strict=True)
    ]
    xp = _zero_pad_spatial(x, pads)

    y = np.zeros((batch,) + out_shape + (filters,))
    for o in itertools.product(*(range(n) for n in out_shape)):
        for j in itertools.product(*(range(k) for k in kernel_size)):
            pos = tuple(
                oi * s + ji * d for oi, ji, s, d in zip(o, j, strides, dilation, strict=True)
            )
            for g in range(groups):
                xin = xp[(slice(None),) + pos + (slice(g * cin_g, (g + 1) * cin_g),)]
                w = kernel[j + (slice(None), slice(g * f_g, (g + 1) * f_g))]
                y[(slice(None),) + o + (slice(g * f_g, (g + 1) * f_g),)] += xin @ w
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return activate(y, activation)


def depthwise_ref(
    x,
    kernel,
    bias=None,
    strides=1,
    padding="valid",
    dilation_rate=1,
    activation=None,
):
    """DepthwiseConv1D/2D. kernel: kernel_size + (Cin, M); output channel c*M + m."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kernel_size = kernel.shape[:-2]
    rank = len(kernel_size)
    strides = as_tuple(strides, rank)
    dilation = as_tuple(dilation_rate, rank)
    batch, spatial, cin = x.shape[0], x.shape[1:-1], x.shape[-1]
    assert kernel.shape[-2] == cin
    mult = kernel.shape[-1]
    if padding.lower() == "causal":
        raise ValueError("causal padding is only for Conv1D")

    out_shape = tuple(
        conv_out_len(n, k, s, d, padding)
        for n, k, s, d in zip(spatial, kernel_size, strides, dilation, strict=True)
    )
    if any(o <= 0 for o in out_shape):
        raise ValueError(f"Computed output size would be zero or negative: {out_shape}")
    pads = [
        conv_pads(n, k, s, d, padding)
        for n, k, s, d in zip(spatial, kernel_size, strides, dilation, strict=True)
    ]
    xp = _zero_pad_spatial(x, pads)

    y = np.zeros((batch,) + out_shape + (cin * mult,))
    for o in itertools.product(*(range(n) for n in out_shape)):
        for j in itertools.product(*(range(k) for k in kernel_size)):
            pos = tuple(
                oi * s + ji * d for oi, ji, s, d in zip(o, j, strides, dilation, strict=True)
            )
            for c in range(cin):
                for m in range(mult):
                    y[(slice(None),) + o + (c * mult + m,)] += (
                        xp[(slice(None),) + pos + (c,)] * kernel[j + (c, m)]
                    )
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return activate(y, activation)


def separable_ref(
    x,
    depthwise_kernel,
    pointwise_kernel,
    bias=None,
    strides=1,
    padding="valid",
    dilation_rate=1,
    activation=None,
):
    """SeparableConv1D/2D: depthwise (no bias) -> 1x1 valid conv -> bias -> activation."""
    mid = depthwise_ref(x, depthwise_kernel, None, strides, padding, dilation_rate)
    pointwise = np.asarray(pointwise_kernel, dtype=np.float64)
    rank = mid.ndim - 2
    assert pointwise.shape[:rank] == (1,) * rank
    pw = pointwise.reshape(pointwise.shape[-2:])  # (Cin*M, filters)
    y = np.zeros(mid.shape[:-1] + (pw.shape[-1],))
    for o in itertools.product(*(range(n) for n in mid.shape[1:-1])):
        y[(slice(None),) + o] = mid[(slice(None),) + o] @ pw
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return activate(y, activation)


# --------------------------------------------------------------- transposed convolution


def conv_transpose_ref(
    x,
    kernel,
    bias=None,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation_rate=1,
    activation=None,
):
    """Conv*Transpose as the scatter ``full[i*s + j*d] += x[i] * W[j]`` then crop/extend.

    kernel: kernel_size + (filters, Cin). output_padding: None or an int / tuple per axis.
    """
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kernel_size = kernel.shape[:-2]
    rank = len(kernel_size)
    strides = as_tuple(strides, rank)
    dilation = as_tuple(dilation_rate, rank)
    ops = (None,) * rank if output_padding is None else as_tuple(output_padding, rank)
    batch, spatial, cin = x.shape[0], x.shape[1:-1], x.shape[-1]
    filters = kernel.shape[-2]
    assert kernel.shape[-1] == cin

    full_shape = tuple(
        (n - 1) * s + effective_kernel(k, d)
        for n, k, s, d in zip(spatial, kernel_size, strides, dilation, strict=True)
    )
    full = np.zeros((batch,) + full_shape + (filters,))
    for i in itertools.product(*(range(n) for n in spatial)):
        xi = x[(slice(None),) + i]  # (N, Cin)
        for j in itertools.product(*(range(k) for k in kernel_size)):
            pos = tuple(
                ii * s + jj * d for ii, jj, s, d in zip(i, j, strides, dilation, strict=True)
            )
            full[(slice(None),) + pos] += xi @ kernel[j].T  # (N, Cin) @ (Cin, F)

    out_shape = tuple(
        conv_transpose_out_len(n, k, s, d, padding, op)
        for n, k, s, d, op in zip(spatial, kernel_size, strides, dilation, ops, strict=True)
    )
    if any(o <= 0 for o in out_shape):
        raise ValueError(f"Transposed convolution output would be empty: {out_shape}")
    crops = tuple(
        conv_transpose_crop(k, s, d, padding, op)
        for k, s, d, op in zip(kernel_size, strides, dilation, ops, strict=True)
    )
    y = np.zeros((batch,) + out_shape + (filters,))
    for o in itertools.product(*(range(n) for n in out_shape)):
        src = tuple(oi + c for oi, c in zip(o, crops, strict=True))
        if all(p < n for p, n in zip(src, full_shape, strict=True)):
            y[(slice(None),) + o] = full[(slice(None),) + src]
        # positions past the end of `full` stay 0
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return activate(y, activation)


def conv_transpose_gather_ref(
    x,
    kernel,
    bias=None,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation_rate=1,
    activation=None,
):
    """The 'gather' view: insert s-1 zeros between inputs, pad, ordinary conv, flipped kernel."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kernel_size = kernel.shape[:-2]
    rank = len(kernel_size)
    strides = as_tuple(strides, rank)
    dilation = as_tuple(dilation_rate, rank)
    ops = (None,) * rank if output_padding is None else as_tuple(output_padding, rank)
    spatial = x.shape[1:-1]

    # 1. insert s-1 zeros between neighbouring input cells
    stretched_shape = tuple((n - 1) * s + 1 for n, s in zip(spatial, strides, strict=True))
    u = np.zeros((x.shape[0],) + stretched_shape + (x.shape[-1],))
    u[(slice(None),) + tuple(slice(None, None, s) for s in strides)] = x

    # 2. pad: ke-1-crop in front, whatever makes the output the right length at the back
    pads = []
    for n, k, s, d, op, m in zip(
        spatial, kernel_size, strides, dilation, ops, stretched_shape, strict=True
    ):
        ke = effective_kernel(k, d)
        out = conv_transpose_out_len(n, k, s, d, padding, op)
        if out <= 0:
            raise ValueError("Transposed convolution output would be empty")
        lo = ke - 1 - conv_transpose_crop(k, s, d, padding, op)
        hi = out + ke - 1 - m - lo
        pads.append((lo, hi))
    z = _pad_or_crop_spatial(u, pads)

    # 3. ordinary (cross-correlation) conv with the spatially flipped, channel-swapped kernel
    flipped = kernel[tuple(slice(None, None, -1) for _ in range(rank))]
    flipped = np.swapaxes(flipped, -1, -2)  # kernel_size + (Cin, F)
    return conv_ref(z, flipped, bias, 1, "valid", dilation, 1, activation)


# ------------------------------------------------------------------- reshaping layers


def crop_ref(x, cropping):
    """x channels_last; cropping = [(lo, hi), ...] per spatial axis."""
    x = np.asarray(x)
    spatial = x.shape[1:-1]
    out_shape = tuple(n - lo - hi for n, (lo, hi) in zip(spatial, cropping, strict=True))
    if any(o <= 0 for o in out_shape):
        raise ValueError("cropping removes the whole axis")
    y = np.zeros(x.shape[:1] + out_shape + x.shape[-1:], dtype=x.dtype)
    for o in itertools.product(*(range(n) for n in out_shape)):
        src = tuple(oi + lo for oi, (lo, _) in zip(o, cropping, strict=True))
        y[(slice(None),) + o] = x[(slice(None),) + src]
    return y


def zero_pad_ref(x, padding):
    """x channels_last; padding = [(lo, hi), ...] per spatial axis."""
    x = np.asarray(x)
    spatial = x.shape[1:-1]
    out_shape = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, padding, strict=True))
    y = np.zeros(x.shape[:1] + out_shape + x.shape[-1:], dtype=x.dtype)
    for i in itertools.product(*(range(n) for n in spatial)):
        dst = tuple(ii + lo for ii, (lo, _) in zip(i, padding, strict=True))
        y[(slice(None),) + dst] = x[(slice(None),) + i]
    return y


def upsample_nearest_ref(x, size):
    """Repeat each cell ``size[a]`` times along spatial axis a (channels_last)."""
    x = np.asarray(x)
    spatial = x.shape[1:-1]
    size = as_tuple(size, len(spatial))
    out_shape = tuple(n * f for n, f in zip(spatial, size, strict=True))
    y = np.zeros(x.shape[:1] + out_shape + x.shape[-1:], dtype=x.dtype)
    for o in itertools.product(*(range(n) for n in out_shape)):
        src = tuple(oi // f for oi, f in zip(o, size, strict=True))
        y[(slice(None),) + o] = x[(slice(None),) + src]
    return y


def triangle_kernel(x):
    return max(0.0, 1.0 - abs(x))


def keys_cubic_kernel(x):
    """Keys cubic convolution kernel, a = -0.5."""
    x = abs(x)
    if x >= 2.0:
        return 0.0
    if x >= 1.0:
        return ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return ((1.5 * x - 2.5) * x) * x + 1.0


def lanczos_kernel(x, radius):
    x = abs(x)
    if x > radius:
        return 0.0
    if x <= 1e-3:
        return 1.0
    return radius * math.sin(math.pi * x) * math.sin(math.pi * x / radius) / (math.pi**2 * x**2)


RESIZE_KERNELS = {
    "bilinear": triangle_kernel,
    "bicubic": keys_cubic_kernel,
    "lanczos3": lambda x: lanczos_kernel(x, 3),
    "lanczos5": lambda x: lanczos_kernel(x, 5),
}


def resize_weights(n, scale, interpolation):
    """(n*scale, n) matrix: row o holds the normalised weights of input cells for output o."""
    kernel = RESIZE_KERNELS[interpolation]
    out = n * scale
    w = np.zeros((out, n))
    for o in range(out):
        sample_f = (o + 0.5) / scale - 0.5
        for i in range(n):
            w[o, i] = kernel(sample_f - i)
        total = w[o].sum()
        w[o] = w[o] / total if abs(total) > 1000 * np.finfo(np.float32).eps else 0.0
    return w


def resize_ref(x, size, interpolation):
    """UpSampling with bilinear/bicubic/lanczos3/lanczos5 (jax scale_and_translate style)."""
    if interpolation == "nearest":
        return upsample_nearest_ref(x, size)
    x = np.asarray(x, dtype=np.float64)
    spatial = x.shape[1:-1]
    size = as_tuple(size, len(spatial))
    mats = [resize_weights(n, f, interpolation) for n, f in zip(spatial, size, strict=True)]
    out_shape = tuple(m.shape[0] for m in mats)
    y = np.zeros(x.shape[:1] + out_shape + x.shape[-1:])
    for o in itertools.product(*(range(n) for n in out_shape)):
        for i in itertools.product(*(range(n) for n in spatial)):
            weight = 1.0
            for m, oi, ii in zip(mats, o, i, strict=True):
                weight *= m[oi, ii]
            if weight != 0.0:
                y[(slice(None),) + o] += weight * x[(slice(None),) + i]
    return y

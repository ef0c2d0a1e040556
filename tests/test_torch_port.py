"""convviz.to_torch: the generated PyTorch code computes the Keras layer.

Without torch: ``port.code`` is executed with fake ``torch`` / ``torch.nn`` modules whose
few classes are a small NumPy interpreter of exactly the torch ops the code emits, written
from torch's documentation (ConvNd, ConvTransposeNd, ZeroPadNd, Upsample, the
activations) and independent of convviz's engine.  The fake ``load_state_dict`` is strict
(the keys and the torch-layout shapes must be exactly the module's), and the outputs must
equal the convviz layer's.  With torch installed, the same cases also run on real torch.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import subprocess
import sys
import types

import numpy as np
import pytest

import convviz
from convviz import activations
from convviz.torch_port import TorchPort, render_code, to_torch

# ----------------------------------------------------------------------------- the fake torch


def _tuple(value, rank):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank


class Module:
    """``nn.Module``: children in ``_modules``, parameters in ``_parameters``."""

    def __init__(self):
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_parameters", {})

    def __call__(self, x):
        return self.forward(x)

    def state_dict(self):
        out = {k: v for k, v in self._parameters.items() if v is not None}
        for name, child in self._modules.items():
            out.update({f"{name}.{k}": v for k, v in child.state_dict().items()})
        return out

    def load_state_dict(self, state):
        mine = self.state_dict()
        if set(state) != set(mine):
            raise RuntimeError(f"keys differ: missing {set(mine) - set(state)}, "
                               f"unexpected {set(state) - set(mine)}")
        for key, value in state.items():
            if np.shape(value) != mine[key].shape:
                raise RuntimeError(f"{key}: shape {np.shape(value)} != {mine[key].shape}")
            *path, leaf = key.split(".")
            owner = self
            for name in path:
                owner = owner._modules[name]
            owner._parameters[leaf] = np.asarray(value, dtype=np.float64)


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


def _pad_spatial(x, pads):
    return np.pad(x, [(0, 0), (0, 0), *pads])


class _ConvNd(Module):
    """torch ``ConvNd``: cross-correlation, symmetric zero ``padding``, ``groups``,
    weight ``(out, in/groups, *k)``; ``out = floor((n + 2p - d(k-1) - 1)/s) + 1``."""

    rank = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True):
        super().__init__()
        r = self.rank
        assert in_channels % groups == 0 and out_channels % groups == 0
        assert not isinstance(padding, str)
        self.k, self.s = _tuple(kernel_size, r), _tuple(stride, r)
        self.p, self.d, self.groups = _tuple(padding, r), _tuple(dilation, r), groups
        self._parameters["weight"] = np.zeros((out_channels, in_channels // groups, *self.k))
        self._parameters["bias"] = np.zeros(out_channels) if bias else None

    def forward(self, x):
        w, b, g = self._parameters["weight"], self._parameters["bias"], self.groups
        x = _pad_spatial(x, [(p, p) for p in self.p])
        out = [(n - d * (k - 1) - 1) // s + 1
               for n, k, s, d in zip(x.shape[2:], self.k, self.s, self.d)]
        cg, fg = x.shape[1] // g, w.shape[0] // g
        y = np.zeros((x.shape[0], w.shape[0], *out))
        for j in itertools.product(*(range(k) for k in self.k)):
            window = tuple(slice(jj * d, jj * d + (o - 1) * s + 1, s)
                           for jj, d, o, s in zip(j, self.d, out, self.s))
            patch = x[(slice(None), slice(None), *window)]
            for gi in range(g):
                y[:, gi * fg:(gi + 1) * fg] += np.einsum(
                    "nc...,fc->nf...", patch[:, gi * cg:(gi + 1) * cg],
                    w[(slice(gi * fg, (gi + 1) * fg), slice(None), *j)])
        if b is not None:
            y += b.reshape(1, -1, *(1,) * self.rank)
        return y


class _ConvTransposeNd(Module):
    """torch ``ConvTransposeNd``: ``full[i*s + j*d] += x[i] W[j]``, then
    ``full[p : p + L]`` with ``L = (n-1)s - 2p + d(k-1) + output_padding + 1`` (cells past
    the scatter are 0); weight ``(in, out/groups, *k)``; ``output_padding`` must be
    smaller than the stride or the dilation."""

    rank = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1):
        super().__init__()
        r = self.rank
        self.k, self.s, self.p = _tuple(kernel_size, r), _tuple(stride, r), _tuple(padding, r)
        self.op, self.d, self.groups = _tuple(output_padding, r), _tuple(dilation, r), groups
        for op, s, d in zip(self.op, self.s, self.d):
            if not (op < s or op < d):
                raise ValueError("output padding must be smaller than either stride or "
                                 f"dilation, got output_padding={self.op}")
        self._parameters["weight"] = np.zeros((in_channels, out_channels // groups, *self.k))
        self._parameters["bias"] = np.zeros(out_channels) if bias else None

    def forward(self, x):
        w, b, g = self._parameters["weight"], self._parameters["bias"], self.groups
        n = x.shape[2:]
        full_len = [(ni - 1) * s + d * (k - 1) + 1 + op
                    for ni, k, s, d, op in zip(n, self.k, self.s, self.d, self.op)]
        lengths = [fl - 2 * p for fl, p in zip(full_len, self.p)]
        assert all(v > 0 for v in lengths)
        cg, fg = x.shape[1] // g, w.shape[1]
        full = np.zeros((x.shape[0], fg * g, *full_len))
        for j in itertools.product(*(range(k) for k in self.k)):
            cells = tuple(slice(jj * d, jj * d + (ni - 1) * s + 1, s)
                          for jj, d, ni, s in zip(j, self.d, n, self.s))
            for gi in range(g):
                full[(slice(None), slice(gi * fg, (gi + 1) * fg), *cells)] += np.einsum(
                    "nc...,cf->nf...", x[:, gi * cg:(gi + 1) * cg],
                    w[(slice(gi * cg, (gi + 1) * cg), slice(None), *j)])
        y = full[(slice(None), slice(None),
                  *(slice(p, p + L) for p, L in zip(self.p, lengths)))]
        if b is not None:
            y = y + b.reshape(1, -1, *(1,) * self.rank)
        return y


class _ZeroPadNd(Module):
    """torch ``ZeroPadNd(padding)``: an int (all sides) or ``2*rank`` values, last axis
    first: ``(left, right, top, bottom, front, back)``."""

    rank = 0

    def __init__(self, padding):
        super().__init__()
        pad = _tuple(padding, 2 * self.rank)
        assert len(pad) == 2 * self.rank and all(v >= 0 for v in pad)
        self.pads = [(pad[2 * i], pad[2 * i + 1]) for i in range(self.rank)][::-1]

    def forward(self, x):
        assert x.ndim == self.rank + 2
        return _pad_spatial(x, self.pads)


def _cubic_torch(t, a=-0.75):
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _resize_matrix(n, scale, mode):
    """``(n*scale, n)`` weights of one axis of torch's ``Upsample(scale_factor=scale)``."""
    out = int(math.floor(n * scale))
    m = np.zeros((out, n))
    for o in range(out):
        if mode == "nearest-exact":  # floor((o + 0.5) / scale), clamped
            m[o, min(int(math.floor((o + 0.5) / scale)), n - 1)] = 1.0
        elif mode == "bilinear":  # align_corners=False: half-pixel, negative source -> 0
            src = max((o + 0.5) / scale - 0.5, 0.0)
            i0 = int(math.floor(src))
            i1 = min(i0 + 1, n - 1)
            lam = src - i0
            m[o, i0] += 1 - lam
            m[o, i1] += lam
        elif mode == "bicubic":  # a = -0.75, indices clamped to the border
            src = (o + 0.5) / scale - 0.5
            i = int(math.floor(src))
            t = src - i
            for tap, weight in zip((i - 1, i, i + 1, i + 2),
                                   _cubic_torch(np.array([t + 1, t, 1 - t, 2 - t]))):
                m[o, min(max(tap, 0), n - 1)] += weight
        else:
            raise ValueError(mode)
    return m


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        assert size is None and scale_factor is not None
        assert mode in ("nearest-exact", "bilinear", "bicubic"), mode
        if mode in ("bilinear", "bicubic"):
            assert align_corners is False
        self.scale, self.mode = scale_factor, mode

    def forward(self, x):
        r = x.ndim - 2
        if self.mode in ("bilinear", "bicubic"):
            assert r == 2, "torch's bilinear/bicubic take 4-D input"
        for axis, scale in enumerate(_tuple(self.scale, r), start=2):
            m = _resize_matrix(x.shape[axis], scale, self.mode)
            x = np.moveaxis(np.tensordot(m, np.moveaxis(x, axis, 0), axes=1), 0, axis)
        return x


def _elementwise(name, fn):
    def forward(self, x):
        return fn(self, x)

    def init(self, **kwargs):
        Module.__init__(self)
        self.kw = kwargs

    return type(name, (Module,), {"__init__": init, "forward": forward})


def _softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


def _softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


_SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)
_FAKE_ACTIVATIONS = {
    "ReLU": lambda m, x: np.maximum(x, 0),
    "ReLU6": lambda m, x: np.minimum(np.maximum(x, 0), 6),
    "LeakyReLU": lambda m, x: np.where(x >= 0, x, m.kw.get("negative_slope", 0.01) * x),
    "Sigmoid": lambda m, x: 1 / (1 + np.exp(-x)),
    "Hardsigmoid": lambda m, x: np.where(x <= -3, 0, np.where(x >= 3, 1, x / 6 + 0.5)),
    "Hardswish": lambda m, x: np.where(x <= -3, 0, np.where(x >= 3, x, x * (x + 3) / 6)),
    "Tanh": lambda m, x: np.tanh(x),
    "Softplus": lambda m, x: _softplus(x),
    "Softsign": lambda m, x: x / (1 + np.abs(x)),
    "SiLU": lambda m, x: x / (1 + np.exp(-x)),
    "ELU": lambda m, x: np.where(x > 0, x, m.kw.get("alpha", 1.0) * np.expm1(np.minimum(x, 0))),
    "SELU": lambda m, x: _SELU[1] * np.where(x > 0, x, _SELU[0] * np.expm1(np.minimum(x, 0))),
    "GELU": lambda m, x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    "Mish": lambda m, x: x * np.tanh(_softplus(x)),
    "LogSigmoid": lambda m, x: -np.logaddexp(0, -x),
    "Softmax": lambda m, x: _softmax(x, m.kw["dim"]),
    "LogSoftmax": lambda m, x: np.log(_softmax(x, m.kw["dim"])),
}


def fake_torch_modules():
    """``{"torch": ..., "torch.nn": ..., "torch.nn.functional": ...}`` backed by NumPy."""
    nn = types.ModuleType("torch.nn")
    nn.Module, nn.Sequential, nn.Upsample = Module, Sequential, Upsample
    for r in (1, 2, 3):
        for base, name in ((_ConvNd, f"Conv{r}d"), (_ConvTransposeNd, f"ConvTranspose{r}d"),
                           (_ZeroPadNd, f"ZeroPad{r}d")):
            setattr(nn, name, type(name, (base,), {"rank": r}))
    for name, fn in _FAKE_ACTIVATIONS.items():
        setattr(nn, name, _elementwise(name, fn))
    functional = types.ModuleType("torch.nn.functional")
    nn.functional = functional
    torch = types.ModuleType("torch")
    torch.nn, torch.exp = nn, np.exp
    return {"torch": torch, "torch.nn": nn, "torch.nn.functional": functional}


@pytest.fixture
def fake_torch(monkeypatch):
    for name, module in fake_torch_modules().items():
        monkeypatch.setitem(sys.modules, name, module)


def build_module(port: TorchPort):
    """Run ``port.code`` (with whatever ``torch`` is importable) and return ``module``."""
    namespace: dict = {}
    exec(compile(port.code, f"<torch port of {port.layer}>", "exec"), namespace)
    return namespace["module"]


def run_fake(port: TorchPort, x_first):
    module = build_module(port)
    assert [type(m).__name__ for m in module] == [op.kind for op in port.ops]
    assert set(module.state_dict()) == set(port.state_dict())
    module.load_state_dict(port.state_dict())  # strict: keys and shapes
    return module(np.asarray(x_first, dtype=np.float64))


# ----------------------------------------------------------------------------- cases
C = convviz
CF = {"data_format": "channels_first"}

#: (id, layer factory, Keras input shape in the layer's data_format)
CASES = [
    # Conv1D: valid, odd/even 'same' totals, strides, dilation, causal, groups, format
    ("conv1d-valid", lambda: C.Conv1D(3, 3), (2, 7, 4)),
    ("conv1d-same-odd-total", lambda: C.Conv1D(4, 2, padding="same"), (2, 6, 3)),
    ("conv1d-same-even-total", lambda: C.Conv1D(4, 3, padding="same"), (2, 6, 3)),
    ("conv1d-same-stride2-n8", lambda: C.Conv1D(4, 3, strides=2, padding="same"), (2, 8, 3)),
    ("conv1d-same-stride2-n7", lambda: C.Conv1D(4, 3, strides=2, padding="same"), (2, 7, 3)),
    ("conv1d-same-stride3", lambda: C.Conv1D(2, 4, strides=3, padding="same"), (1, 10, 3)),
    ("conv1d-same-dilation2", lambda: C.Conv1D(4, 3, dilation_rate=2, padding="same"),
     (2, 7, 3)),
    ("conv1d-same-dilation3-even-k", lambda: C.Conv1D(4, 2, dilation_rate=3, padding="same"),
     (2, 7, 3)),
    ("conv1d-causal-groups", lambda: C.Conv1D(6, 2, padding="causal", dilation_rate=2,
                                              groups=2), (3, 4, 4)),
    ("conv1d-causal-stride2", lambda: C.Conv1D(3, 3, strides=2, padding="causal"), (2, 7, 2)),
    ("conv1d-strided-groups", lambda: C.Conv1D(6, 2, strides=2, groups=2), (3, 5, 4)),
    ("conv1d-first-relu", lambda: C.Conv1D(3, 3, padding="same", activation="relu", **CF),
     (2, 4, 6)),
    ("conv1d-no-bias", lambda: C.Conv1D(3, 2, use_bias=False), (2, 5, 2)),
    # Conv2D
    ("conv2d-valid", lambda: C.Conv2D(3, 3), (2, 6, 5, 4)),
    ("conv2d-same-mixed", lambda: C.Conv2D(5, (2, 3), strides=(2, 1), padding="same"),
     (2, 7, 6, 4)),
    ("conv2d-same-even", lambda: C.Conv2D(3, 3, padding="same"), (1, 5, 6, 2)),
    ("conv2d-groups-first-softmax", lambda: C.Conv2D(6, 3, groups=2, activation="softmax",
                                                     **CF), (2, 4, 6, 5)),
    ("conv2d-groups-last-softmax", lambda: C.Conv2D(6, 3, groups=2, activation="softmax"),
     (2, 6, 5, 4)),
    ("conv2d-dilation-same", lambda: C.Conv2D(4, 3, dilation_rate=(2, 1), padding="same"),
     (1, 7, 6, 3)),
    ("conv2d-stride2-valid", lambda: C.Conv2D(4, 3, strides=2), (2, 7, 8, 3)),
    ("conv2d-stride2-same-first", lambda: C.Conv2D(2, 4, strides=2, padding="same", **CF),
     (1, 3, 7, 6)),
    # Conv3D
    ("conv3d-same-odd", lambda: C.Conv3D(3, 2, padding="same"), (1, 4, 3, 4, 2)),
    ("conv3d-first-strides", lambda: C.Conv3D(4, (3, 1, 2), strides=(1, 2, 1), padding="same",
                                              activation="tanh", **CF), (2, 3, 4, 5, 4)),
    ("conv3d-dilation", lambda: C.Conv3D(2, 3, dilation_rate=(1, 2, 1)), (1, 4, 6, 4, 2)),
    # Conv1DTranspose
    ("conv1dT-valid", lambda: C.Conv1DTranspose(3, 3), (2, 5, 4)),
    ("conv1dT-valid-s-gt-ke", lambda: C.Conv1DTranspose(3, 2, strides=3), (2, 4, 2)),
    ("conv1dT-valid-op", lambda: C.Conv1DTranspose(2, 3, strides=2, output_padding=1),
     (1, 4, 3)),
    ("conv1dT-same-table", lambda: C.Conv1DTranspose(6, 2, strides=3, padding="same",
                                                     output_padding=2), (2, 8, 4)),
    ("conv1dT-same-even-k", lambda: C.Conv1DTranspose(3, 4, strides=2, padding="same"),
     (2, 5, 2)),
    ("conv1dT-same-crop-end", lambda: C.Conv1DTranspose(3, 3, strides=2, padding="same"),
     (2, 5, 2)),
    ("conv1dT-same-op-crop-end", lambda: C.Conv1DTranspose(3, 5, strides=2, padding="same",
                                                           output_padding=1), (2, 4, 2)),
    ("conv1dT-same-dilation", lambda: C.Conv1DTranspose(3, 3, dilation_rate=2,
                                                        padding="same"), (2, 5, 2)),
    ("conv1dT-valid-dilation", lambda: C.Conv1DTranspose(2, 2, dilation_rate=3), (1, 4, 3)),
    ("conv1dT-first-relu", lambda: C.Conv1DTranspose(2, 3, strides=2, padding="same",
                                                     activation="relu", **CF), (2, 3, 4)),
    # Conv2DTranspose / Conv3DTranspose
    ("conv2dT-first-table", lambda: C.Conv2DTranspose(6, (2, 3), strides=(2, 1), **CF),
     (2, 4, 4, 4)),
    ("conv2dT-same-crop-end", lambda: C.Conv2DTranspose(2, 3, strides=2, padding="same"),
     (1, 3, 4, 2)),
    ("conv2dT-same-op", lambda: C.Conv2DTranspose(3, (4, 3), strides=(2, 3), padding="same",
                                                  output_padding=(1, 2)), (1, 3, 3, 2)),
    ("conv3dT-valid", lambda: C.Conv3DTranspose(2, 2, 2), (1, 2, 3, 2, 3)),
    ("conv3dT-first-same-op", lambda: C.Conv3DTranspose(3, (3, 2, 2), strides=(2, 1, 2),
                                                        padding="same",
                                                        output_padding=(1, 0, 0), **CF),
     (1, 2, 3, 2, 3)),
    # DepthwiseConv1D/2D
    ("dw1d-valid-m5", lambda: C.DepthwiseConv1D(2, depth_multiplier=5), (3, 5, 4)),
    ("dw1d-first-table", lambda: C.DepthwiseConv1D(2, depth_multiplier=6, padding="same",
                                                   dilation_rate=2, **CF), (3, 4, 10)),
    ("dw1d-stride-and-dilation", lambda: C.DepthwiseConv1D(3, strides=2, padding="same",
                                                           depth_multiplier=2,
                                                           dilation_rate=2), (2, 8, 3)),
    ("dw2d-strided-m3", lambda: C.DepthwiseConv2D((2, 2), strides=(2, 2), depth_multiplier=3),
     (2, 5, 5, 2)),
    ("dw2d-first-same-relu6", lambda: C.DepthwiseConv2D(3, padding="same", activation="relu6",
                                                        **CF), (2, 3, 5, 4)),
    ("dw2d-same-even-dilated", lambda: C.DepthwiseConv2D(2, padding="same", dilation_rate=2,
                                                         depth_multiplier=2), (1, 5, 6, 3)),
    # SeparableConv1D/2D
    ("sep1d-same-m2", lambda: C.SeparableConv1D(4, 3, padding="same", depth_multiplier=2),
     (2, 6, 3)),
    ("sep1d-first-strided-nobias", lambda: C.SeparableConv1D(5, 2, strides=2, padding="same",
                                                             use_bias=False, **CF), (2, 3, 7)),
    ("sep2d-same-elu", lambda: C.SeparableConv2D(4, (3, 2), padding="same", depth_multiplier=2,
                                                 activation="elu"), (2, 5, 6, 3)),
    ("sep2d-strided-dilated", lambda: C.SeparableConv2D(3, 3, strides=2, dilation_rate=2),
     (1, 9, 8, 2)),
    # Cropping / ZeroPadding / UpSampling
    ("crop1d", lambda: C.Cropping1D((1, 2)), (2, 7, 3)),
    ("crop2d-last", lambda: C.Cropping2D(((1, 0), (2, 1))), (2, 5, 6, 3)),
    ("crop2d-first", lambda: C.Cropping2D(((1, 0), (2, 1)), **CF), (2, 3, 5, 6)),
    ("crop3d", lambda: C.Cropping3D(), (1, 4, 5, 3, 2)),
    ("zpad1d", lambda: C.ZeroPadding1D((2, 0)), (2, 4, 3)),
    ("zpad2d-first", lambda: C.ZeroPadding2D(((1, 2), (0, 3)), **CF), (2, 3, 4, 5)),
    ("zpad2d-last", lambda: C.ZeroPadding2D(((1, 2), (0, 3))), (2, 4, 5, 3)),
    ("zpad3d", lambda: C.ZeroPadding3D(((1, 0), (0, 2), (1, 1))), (1, 2, 3, 4, 2)),
    ("up1d", lambda: C.UpSampling1D(3), (2, 4, 3)),
    ("up1d-41", lambda: C.UpSampling1D(41), (1, 5, 2)),
    ("up2d-nearest-first", lambda: C.UpSampling2D((2, 3), **CF), (2, 3, 4, 5)),
    ("up2d-bilinear-table", lambda: C.UpSampling2D((2, 3), interpolation="bilinear"),
     (1, 4, 5, 2)),
    ("up2d-bilinear-first", lambda: C.UpSampling2D(2, interpolation="bilinear", **CF),
     (2, 3, 5, 4)),
    ("up2d-bilinear-4x", lambda: C.UpSampling2D((4, 1), interpolation="bilinear"),
     (1, 3, 4, 1)),
    ("up3d", lambda: C.UpSampling3D((1, 2, 3)), (1, 2, 3, 2, 2)),
    ("up3d-first", lambda: C.UpSampling3D(2, **CF), (1, 2, 2, 3, 2)),
]
INEXACT = [
    (f"up2d-{m}", (lambda m=m: C.UpSampling2D((2, 3), interpolation=m)), (1, 6, 5, 2))
    for m in ("bicubic", "lanczos3", "lanczos5")
]
ACTIVATION_CASES = [
    (f"act-{name}-{fmt}",
     (lambda name=name, fmt=fmt: C.Conv2D(3, 2, activation=name, data_format=fmt)),
     (2, 3, 4, 5) if fmt == "channels_first" else (2, 4, 5, 3))
    for name in sorted(activations.ALL) for fmt in ("channels_last", "channels_first")
]


def _ids(cases):
    return [c[0] for c in cases]


def _layer_and_input(factory, shape, seed=0):
    layer = factory()
    rng = np.random.default_rng(seed)
    layer.build(shape)
    # random biases too, so a missing or misplaced bias shows
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    x = rng.standard_normal(shape)
    return layer, x


def _first(y, layer):
    """A layer output in torch's channels-first order."""
    return np.moveaxis(y, -1, 1) if layer.data_format == "channels_last" else y


# ----------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("case", CASES + ACTIVATION_CASES, ids=_ids(CASES + ACTIVATION_CASES))
def test_code_computes_the_layer(case, fake_torch):
    _, factory, shape = case
    layer, x = _layer_and_input(factory, shape)
    port = to_torch(layer, shape)
    assert port.exact
    expected = _first(layer(x), layer)  # float64 input: convviz computes in float64
    got = run_fake(port, _first(x, layer))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("case", INEXACT, ids=_ids(INEXACT))
def test_bicubic_and_lanczos_are_flagged_not_exact(case, fake_torch):
    _, factory, shape = case
    layer, x = _layer_and_input(factory, shape)
    port = to_torch(layer, shape)
    assert not port.exact
    assert any(n.startswith("NOT exact") and layer.interpolation in n for n in port.notes)
    expected = _first(layer(x), layer)
    got = run_fake(port, _first(x, layer))
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() > 1e-3  # truly other numbers, not rounding


def test_transposed_mapping_for_every_small_setting(fake_torch):
    """Every 1-D kernel/stride/dilation/padding/output_padding with n = 1..4: the torch
    padding/output_padding (and the end crop) give Keras's numbers."""
    checked = 0
    rng = np.random.default_rng(1)
    for k, s, d, padding in itertools.product((1, 2, 3, 4), (1, 2, 3), (1, 2, 3),
                                              ("valid", "same")):
        if s > 1 and d > 1:
            continue
        for op in (None, *range(s)):
            layer = C.Conv1DTranspose(2, k, strides=s, dilation_rate=d, padding=padding,
                                      output_padding=op)
            for n in (1, 2, 3, 4):
                shape = (1, n, 2)
                try:
                    layer.compute_output_shape(shape)
                except ValueError:
                    continue  # a zero-length output (Keras would return an empty tensor)
                layer.build(shape)
                layer.set_weights([rng.standard_normal(w.shape) for w in layer.weights])
                x = rng.standard_normal(shape)
                got = run_fake(to_torch(layer, shape), _first(x, layer))
                np.testing.assert_allclose(got, _first(layer(x), layer), atol=1e-9)
                checked += 1
    assert checked > 300


def test_same_forward_pads_for_every_small_setting(fake_torch):
    """Forward 'same' over k, s, d and n (depthwise allows strides with dilation)."""
    rng = np.random.default_rng(2)
    for k, s, d, n in itertools.product((1, 2, 3, 4), (1, 2, 3), (1, 2), range(1, 8)):
        layer = C.DepthwiseConv1D(k, strides=s, dilation_rate=d, padding="same",
                                  depth_multiplier=2)
        shape = (1, n, 2)
        layer.build(shape)
        layer.set_weights([rng.standard_normal(w.shape) for w in layer.weights])
        x = rng.standard_normal(shape)
        got = run_fake(to_torch(layer, shape), _first(x, layer))
        np.testing.assert_allclose(got, _first(layer(x), layer), atol=1e-9)


# ----------------------------------------------------------------------------- structure
def test_every_layer_is_covered():
    names = {type(f()).__name__ for _, f, _ in CASES}
    assert names == set(convviz.LAYERS)


@pytest.mark.parametrize("case", CASES + INEXACT, ids=_ids(CASES + INEXACT))
def test_code_is_the_rendering_of_ops_and_needs_no_torch(case):
    _, factory, shape = case
    port = to_torch(factory(), shape)
    assert port.code == render_code(port.ops)
    compile(port.code, "<port>", "exec")
    assert port.code.startswith("import torch\nimport torch.nn as nn\n")
    for op in port.ops:
        assert op.render() in port.code
    assert isinstance(port.notes, tuple) and all(isinstance(n, str) for n in port.notes)
    assert port.code in port.summary() and all(n in port.summary() for n in port.notes)


def test_state_dict_keys_are_the_sequential_positions():
    port = to_torch(C.SeparableConv2D(3, 2, padding="same"), (1, 5, 5, 4))
    kinds = [op.kind for op in port.ops]
    assert kinds == ["ZeroPad2d", "Conv2d", "Conv2d"]
    assert list(port.state_dict()) == ["1.weight", "2.weight", "2.bias"]
    no_bias = to_torch(C.Conv1D(2, 3, use_bias=False, activation="relu"), (1, 5, 2))
    assert list(no_bias.state_dict()) == ["0.weight"]
    assert "bias=False" in no_bias.code


def test_weight_layouts_elementwise():
    conv = C.Conv2D(6, (2, 3), groups=2)
    conv.build((1, 5, 5, 4))
    w = to_torch(conv).state_dict()["0.weight"]
    assert w.shape == (6, 2, 2, 3)
    assert w[5, 1, 1, 2] == conv.kernel[1, 2, 1, 5]

    tconv = C.Conv2DTranspose(3, (2, 3))
    tconv.build((1, 4, 4, 5))
    w = to_torch(tconv).state_dict()["0.weight"]
    assert w.shape == (5, 3, 2, 3)  # (Cin, filters, *k)
    assert w[4, 2, 1, 0] == tconv.kernel[1, 0, 2, 4]

    dw = C.DepthwiseConv1D(3, depth_multiplier=4)
    dw.build((1, 6, 5))
    w = to_torch(dw).state_dict()["0.weight"]
    assert w.shape == (20, 1, 3)
    for c, m, j in itertools.product(range(5), range(4), range(3)):
        assert w[c * 4 + m, 0, j] == dw.kernel[j, c, m]

    sep = C.SeparableConv1D(7, 3, depth_multiplier=2)
    sep.build((1, 6, 3))
    state = to_torch(sep).state_dict()
    assert state["0.weight"].shape == (6, 1, 3) and state["1.weight"].shape == (7, 6, 1)
    assert state["1.weight"][5, 4, 0] == sep.pointwise_kernel[0, 4, 5]
    np.testing.assert_array_equal(state["1.bias"], sep.bias)


def test_state_dict_is_a_snapshot_of_copies():
    layer = C.Conv1D(2, 2)
    layer.build((1, 4, 3))
    port = to_torch(layer)
    first = port.state_dict()
    first["0.weight"][...] = 0
    assert np.any(port.state_dict()["0.weight"] != 0)
    layer.set_weights([np.ones_like(w) for w in layer.weights])  # later changes: not seen
    assert np.any(port.state_dict()["0.weight"] != 1)
    assert to_torch(layer).state_dict()["0.weight"].min() == 1
    assert port.state_dict()["0.weight"].dtype == np.float32
    with pytest.raises(dataclasses.FrozenInstanceError):
        port.exact = False


def test_symmetric_padding_uses_torch_padding_and_uneven_an_explicit_pad():
    even = to_torch(C.Conv2D(2, 3, padding="same"), (1, 6, 6, 2))
    assert [op.kind for op in even.ops] == ["Conv2d"]
    assert dict(even.ops[0].args)["padding"] == (1, 1)
    odd = to_torch(C.Conv2D(2, 2, padding="same"), (1, 6, 6, 2))
    assert [op.kind for op in odd.ops] == ["ZeroPad2d", "Conv2d"]
    assert odd.ops[0].args == ((None, (0, 1, 0, 1)),)
    assert dict(odd.ops[1].args)["padding"] == (0, 0)
    assert any("odd padding cell at the END" in n for n in odd.notes)
    assert any("odd padding cell at the END" in n for n in even.notes)
    causal = to_torch(C.Conv1D(2, 3, padding="causal", dilation_rate=2), (1, 6, 2))
    assert causal.ops[0].args == ((None, (4, 0)),)
    assert any("'causal'" in n for n in causal.notes)


def test_transposed_torch_arguments():
    table = to_torch(C.Conv1DTranspose(6, 2, strides=3, padding="same", output_padding=2),
                     (2, 8, 4))
    args = dict(table.ops[0].args)  # 23 = (8-1)*3 + 2: the whole scatter result
    assert (args["padding"], args["output_padding"]) == ((0,), (0,))
    short_k = to_torch(C.Conv1DTranspose(2, 2, strides=3), (1, 4, 2))
    args = dict(short_k.ops[0].args)  # Keras's valid length adds s - ke = 1 at the end
    assert (args["padding"], args["output_padding"]) == ((0,), (1,))
    crop_end = to_torch(C.Conv1DTranspose(3, 3, strides=2, padding="same"), (2, 5, 2))
    assert [op.kind for op in crop_end.ops] == ["ConvTranspose1d", "Crop"]
    assert crop_end.ops[1].args == ((None, ((0, 1),)),)
    even_k = to_torch(C.Conv1DTranspose(3, 4, strides=2, padding="same"), (2, 5, 2))
    args = dict(even_k.ops[0].args)
    assert (args["padding"], args["output_padding"]) == ((1,), (0,))
    assert [op.kind for op in even_k.ops] == ["ConvTranspose1d"]


def test_layout_notes_in_both_data_formats():
    last = to_torch(C.Conv2D(2, 3), (1, 5, 5, 3))
    assert any("x.permute(0, 3, 1, 2)" in n and "y.permute(0, 2, 3, 1)" in n
               for n in last.notes)
    first = to_torch(C.Conv2D(2, 3, **CF), (1, 3, 5, 5))
    assert any("no permute needed" in n for n in first.notes)
    assert not any("x.permute" in n for n in first.notes)
    crop = to_torch(C.Cropping1D())
    assert any("x.permute(0, 2, 1)" in n for n in crop.notes)
    up3 = to_torch(C.UpSampling3D())
    assert any("x.permute(0, 4, 1, 2, 3)" in n for n in up3.notes)


def test_kernel_layout_notes():
    conv = to_torch(C.Conv2D(4, 3), (1, 5, 5, 2))
    assert any("np.transpose(kernel, (3, 2, 0, 1))" in n and "(filters, Cin/groups" in n
               for n in conv.notes)
    tconv = to_torch(C.Conv1DTranspose(4, 3), (1, 5, 2))
    assert any("(Cin, filters, *kernel_size)" in n for n in tconv.notes)
    dw = to_torch(C.DepthwiseConv2D(3, depth_multiplier=2), (1, 5, 5, 2))
    assert any("c*M + m" in n for n in dw.notes)


def test_input_shape_is_needed_only_for_same_with_strides():
    strided = C.Conv1D(2, 3, strides=2, padding="same")
    strided.build((1, 8, 3))
    with pytest.raises(ValueError, match="input_shape"):
        to_torch(strided)
    notes = to_torch(strided, (None, 8, 3)).notes
    assert any("depend on the input length" in n for n in notes)
    # n = 7 and n = 8 pad differently
    assert to_torch(strided, (1, 7, 3)).ops != to_torch(strided, (1, 8, 3)).ops
    for layer in (C.Conv1D(2, 2, padding="same"), C.Conv2D(2, 3, strides=2),
                  C.Conv1D(2, 3, padding="causal", strides=2),
                  C.Conv2DTranspose(2, 3, strides=2, padding="same"),
                  C.DepthwiseConv1D(2, padding="same", dilation_rate=3)):
        shape = (1,) + (9,) * layer.rank + (2,)
        layer.build(shape)
        assert to_torch(layer).ops == to_torch(layer, shape).ops
        assert to_torch(layer).ops == to_torch(layer, (1,) + (4,) * layer.rank + (2,)).ops


def test_unbuilt_layers_and_bad_shapes():
    with pytest.raises(ValueError, match="not built"):
        to_torch(C.Conv2D(2, 3))
    layer = C.Conv2D(2, 3)
    port = to_torch(layer, (1, 5, 5, 3))  # builds it, as a call would
    assert layer.built and port.state_dict()["0.weight"].shape == (2, 3, 3, 3)
    with pytest.raises(ValueError, match="built for 3 input channels"):
        to_torch(layer, (1, 5, 5, 4))
    with pytest.raises(ValueError, match="ndim"):
        to_torch(layer, (1, 5, 3))
    with pytest.raises(ValueError, match="zero or negative"):
        to_torch(layer, (1, 2, 5, 3))
    assert to_torch(C.ZeroPadding2D()).state_dict() == {}  # no weights, nothing to build


def test_custom_activation_is_left_out_and_flagged(fake_torch):
    layer = C.Conv1D(2, 2, activation=lambda v: v * 2)
    shape = (1, 5, 3)
    layer, x = _layer_and_input(lambda: layer, shape)
    port = to_torch(layer, shape)
    assert not port.exact
    assert any("not a Keras activation name" in n for n in port.notes)
    got = run_fake(port, _first(x, layer))
    np.testing.assert_allclose(2 * got, _first(layer(x), layer), atol=1e-9)


def test_float64_layers_say_double():
    port = to_torch(C.Conv1D(2, 2, dtype="float64"), (1, 4, 2))
    assert any("module.double()" in n for n in port.notes)
    assert port.state_dict()["0.weight"].dtype == np.float64


def test_summary_is_code_weights_and_notes():
    port = to_torch(C.Conv2D(3, 2, padding="same"), (1, 5, 5, 2))
    text = port.summary()
    assert text.startswith("PyTorch port of Conv2D: exact")
    assert "1.weight: (3, 2, 2, 2)" in text and "load_state_dict" in text
    assert "NOT exact" in to_torch(C.UpSampling2D(interpolation="bicubic")).summary()


def test_torch_is_not_imported():
    code = "import sys, convviz, convviz.torch_port; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert convviz.to_torch is to_torch


# ----------------------------------------------------------------------------- real torch
@pytest.mark.parametrize("case", CASES + ACTIVATION_CASES + INEXACT,
                         ids=_ids(CASES + ACTIVATION_CASES + INEXACT))
def test_real_torch(case, monkeypatch):
    """With torch importable: the code runs on real torch and gives Keras's numbers (1e-4
    relative), or, when not exact, at least the fake interpreter's numbers (which checks
    the interpreter itself against torch)."""
    torch = pytest.importorskip("torch")
    _, factory, shape = case
    layer, x = _layer_and_input(factory, shape)
    layer.set_weights([w.astype(np.float32) for w in layer.get_weights()])
    x = x.astype(np.float32)
    port = to_torch(layer, shape)
    module = build_module(port)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in port.state_dict().items()})
    with torch.no_grad():
        got = module(torch.from_numpy(np.ascontiguousarray(_first(x, layer)))).numpy()
    expected = _first(layer(x), layer)
    assert got.shape == expected.shape
    scale = float(np.abs(expected).max()) or 1.0
    if port.exact:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * scale)
    for name, module_ in fake_torch_modules().items():
        monkeypatch.setitem(sys.modules, name, module_)
    fake = run_fake(port, _first(x.astype(np.float64), layer))
    np.testing.assert_allclose(got, fake, rtol=1e-4, atol=1e-5 * scale)

"""Shared by the tests of the layers, initializers, activations and regularizers: Keras's
19 layer names, the classes, and small factories of layers and inputs."""

from __future__ import annotations

import numpy as np

import convviz

KERAS_NAMES = [
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
    "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
]
CLASSES = [getattr(convviz, n) for n in KERAS_NAMES]
WEIGHTED = CLASSES[:10]
RESHAPING = CLASSES[10:]


def rnd(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def ids(classes):
    return [c.__name__ for c in classes]


def family(cls):
    name = cls.__name__
    for prefix in ("SeparableConv", "DepthwiseConv", "Cropping", "UpSampling", "ZeroPadding"):
        if name.startswith(prefix):
            return prefix
    return "ConvTranspose" if name.endswith("Transpose") else "Conv"


def make(cls, **kwargs):
    fam = family(cls)
    if fam in ("Conv", "ConvTranspose", "SeparableConv"):
        kwargs.setdefault("filters", 3)
    if fam in ("Conv", "ConvTranspose", "SeparableConv", "DepthwiseConv"):
        kwargs.setdefault("kernel_size", 2)
    return cls(**kwargs)


def sample(cls, channels=4, n=5, batch=2, seed=0, channels_first=False, dtype=np.float32):
    spatial = (n,) * cls.rank
    shape = (batch, channels, *spatial) if channels_first else (batch, *spatial, channels)
    return rnd(shape, seed, dtype)

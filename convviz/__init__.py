"""convviz: Keras-exact convolution arithmetic in NumPy.

Every Keras 3 convolution-family layer is importable as ``convviz.<KerasName>``::

    >>> import numpy as np, convviz
    >>> convviz.Conv3DTranspose(32, 2, 2, activation="relu")(np.zeros((4, 10, 8, 12, 128))).shape
    (4, 20, 16, 24, 32)
"""

from . import activations, engine, geometry, initializers, regularizers
from .initializers import set_random_seed
from .layers import (
    LAYERS,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    Convolution1D,
    Convolution1DTranspose,
    Convolution2D,
    Convolution2DTranspose,
    Convolution3D,
    Convolution3DTranspose,
    Cropping1D,
    Cropping2D,
    Cropping3D,
    DepthwiseConv1D,
    DepthwiseConv2D,
    Layer,
    SeparableConv1D,
    SeparableConv2D,
    SeparableConvolution1D,
    SeparableConvolution2D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from .matrix import as_matrix, sparse_matrix, transpose_partner
from .torch_port import to_torch

__version__ = "0.1.0"

__all__ = [
    "activations",
    "engine",
    "geometry",
    "initializers",
    "regularizers",
    "set_random_seed",
    "LAYERS",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "Convolution1D",
    "Convolution1DTranspose",
    "Convolution2D",
    "Convolution2DTranspose",
    "Convolution3D",
    "Convolution3DTranspose",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "Layer",
    "SeparableConv1D",
    "SeparableConv2D",
    "SeparableConvolution1D",
    "SeparableConvolution2D",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "to_torch",
    "as_matrix",
    "sparse_matrix",
    "transpose_partner",
]

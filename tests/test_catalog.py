"""The layer catalogue: every entry is a real layer of its rank, named as Keras names it."""

from __future__ import annotations

import re

import pytest

import convviz
from convviz import catalog

#: The names Keras 3 gives a first instance of each layer (``keras.layers.X().name``).
KERAS_NAMES = {
    "Conv1D": "conv1d", "Conv2D": "conv2d", "Conv3D": "conv3d",
    "Conv1DTranspose": "conv1d_transpose", "Conv2DTranspose": "conv2d_transpose",
    "Conv3DTranspose": "conv3d_transpose", "DepthwiseConv1D": "depthwise_conv1d",
    "DepthwiseConv2D": "depthwise_conv2d", "SeparableConv1D": "separable_conv1d",
    "SeparableConv2D": "separable_conv2d", "Cropping1D": "cropping1d",
    "Cropping2D": "cropping2d", "Cropping3D": "cropping3d",
    "ZeroPadding1D": "zero_padding1d", "ZeroPadding2D": "zero_padding2d",
    "ZeroPadding3D": "zero_padding3d", "UpSampling1D": "up_sampling1d",
    "UpSampling2D": "up_sampling2d", "UpSampling3D": "up_sampling3d",
}


def test_the_catalogue_lists_the_19_layers_once_each():
    assert [i.name for i in catalog.CATALOG] == list(KERAS_NAMES)
    assert set(catalog.BY_NAME) == set(KERAS_NAMES)


@pytest.mark.parametrize("info", catalog.CATALOG, ids=lambda i: i.name)
def test_each_entry_is_a_real_layer_of_its_rank(info):
    layer = getattr(convviz, info.name)(**info.kwargs)
    assert layer.rank == info.rank == int(re.search(r"(\d)D", info.name)[1])
    assert info.family in catalog.FAMILIES
    assert info.default_name == KERAS_NAMES[info.name]
    # its example builds on a small input and gives an output of the same rank
    shape = catalog.input_shape((8,) * info.rank, 2, None, "channels_last")
    assert len(layer.compute_output_shape(shape)) == info.rank + 2


def test_keras_call_and_shapes_print_as_keras_docs_do():
    assert catalog.keras_call("Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"}) \
        == 'keras.layers.Conv2D(filters=4, kernel_size=3, padding="same")'
    assert catalog.keras_call("Cropping1D", {"cropping": (1,)}) \
        == "keras.layers.Cropping1D(cropping=(1,))"
    assert catalog.format_shape((None, 8, 8, 4)) == "(None, 8, 8, 4)"
    assert catalog.format_shape(None) == ""
    assert catalog.input_shape((5, 6), 3, None, "channels_first") == (None, 3, 5, 6)
    assert catalog.input_shape((5, 6), 3, 2, "channels_last") == (2, 5, 6, 3)


def test_layers_of_rank():
    assert [i.name for i in catalog.layers_of_rank(3)] == [
        "Conv3D", "Conv3DTranspose", "Cropping3D", "ZeroPadding3D", "UpSampling3D"]

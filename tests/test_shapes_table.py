"""The public acceptance table at the end of KERAS_SEMANTICS.md, row by row.

Each row is checked twice: ``compute_output_shape`` (also with batch None) and the shape of an
actual forward pass on zeros. Rows whose output is ValueError must raise it both ways.
"""

from __future__ import annotations

import numpy as np
import pytest

import convviz


def _with_none_batch(shape):
    return (None,) + tuple(shape[1:])


def check_row(layer_factory, input_shape, output_shape):
    layer = layer_factory()
    assert tuple(layer.compute_output_shape(tuple(input_shape))) == tuple(output_shape)
    assert tuple(layer.compute_output_shape(_with_none_batch(input_shape))) == _with_none_batch(
        output_shape
    )
    y = np.asarray(layer_factory()(np.zeros(input_shape, dtype=np.float32)))
    assert y.shape == tuple(output_shape)


ROWS = [
    pytest.param(
        lambda: convviz.Conv2D(32, 3, activation="relu"), (4, 10, 10, 128), (4, 8, 8, 32),
        id="Conv2D(32,3,relu)",
    ),
    pytest.param(
        lambda: convviz.Conv3DTranspose(32, 2, 2, activation="relu"),
        (4, 10, 8, 12, 128), (4, 20, 16, 24, 32),
        id="Conv3DTranspose(32,2,2,relu)",
    ),
    pytest.param(lambda: convviz.Conv1D(5, 2), (3, 5, 4), (3, 4, 5), id="Conv1D(5,2)"),
    pytest.param(
        lambda: convviz.Conv1D(6, 2, padding="same", dilation_rate=2, groups=2),
        (3, 4, 4), (3, 4, 6),
        id="Conv1D(6,2,same,d2,g2)",
    ),
    pytest.param(
        lambda: convviz.Conv1D(6, 2, padding="causal", dilation_rate=2, groups=2),
        (3, 4, 4), (3, 4, 6),
        id="Conv1D(6,2,causal,d2,g2)",
    ),
    pytest.param(
        lambda: convviz.Conv1D(6, 2, strides=2, groups=2), (3, 5, 4), (3, 2, 6),
        id="Conv1D(6,2,s2,g2)",
    ),
    pytest.param(
        lambda: convviz.Conv2D(6, (2, 2), strides=(2, 1), groups=2), (3, 5, 5, 4), (3, 2, 4, 6),
        id="Conv2D(6,(2,2),s(2,1),g2)",
    ),
    pytest.param(
        lambda: convviz.Conv1DTranspose(6, 2, strides=3, padding="same", output_padding=2),
        (2, 8, 4), (2, 23, 6),
        id="Conv1DTranspose(6,2,s3,same,op2)",
    ),
    pytest.param(
        lambda: convviz.Conv2DTranspose(6, (2, 3), strides=(2, 1), data_format="channels_first"),
        (2, 4, 8, 8), (2, 6, 16, 10),
        id="Conv2DTranspose(6,(2,3),s(2,1),cf)",
    ),
    pytest.param(
        lambda: convviz.Conv2DTranspose(2, 7, strides=16), (1, 14, 14, 2), (1, 224, 224, 2),
        id="Conv2DTranspose(2,7,s16)",
    ),
    pytest.param(
        lambda: convviz.Conv3DTranspose(6, (2, 2, 3), strides=(2, 1, 2)),
        (2, 8, 8, 8, 4), (2, 16, 9, 17, 6),
        id="Conv3DTranspose(6,(2,2,3),s(2,1,2))",
    ),
    pytest.param(
        lambda: convviz.DepthwiseConv1D(2, depth_multiplier=5), (3, 5, 4), (3, 4, 20),
        id="DepthwiseConv1D(2,M5)",
    ),
    pytest.param(
        lambda: convviz.DepthwiseConv1D(
            2, depth_multiplier=6, padding="same", dilation_rate=2, data_format="channels_first"
        ),
        (3, 4, 10), (3, 24, 10),
        id="DepthwiseConv1D(2,M6,same,d2,cf)",
    ),
    pytest.param(
        lambda: convviz.DepthwiseConv2D((2, 2), strides=(2, 2), depth_multiplier=6),
        (3, 5, 5, 4), (3, 2, 2, 24),
        id="DepthwiseConv2D((2,2),s2,M6)",
    ),
    pytest.param(
        lambda: convviz.UpSampling2D((2, 3), interpolation="bilinear"),
        (1, 4, 5, 2), (1, 8, 15, 2),
        id="UpSampling2D((2,3),bilinear)",
    ),
]


@pytest.mark.parametrize("factory,input_shape,output_shape", ROWS)
def test_shape_row(factory, input_shape, output_shape):
    check_row(factory, input_shape, output_shape)


def test_crop_conv_crop_chain():
    """Cropping2D(((2,2),(4,4))) -> Conv2D(64,(3,3),same) -> Cropping2D(((2,2),(2,2)))."""
    layers = [
        convviz.Cropping2D(((2, 2), (4, 4))),
        convviz.Conv2D(64, (3, 3), padding="same"),
        convviz.Cropping2D(((2, 2), (2, 2))),
    ]
    expected = [(None, 24, 20, 3), (None, 24, 20, 64), (None, 20, 16, 64)]
    shape = (None, 28, 28, 3)
    for layer, want in zip(layers, expected, strict=True):
        shape = tuple(layer.compute_output_shape(shape))
        assert shape == want
    y = np.zeros((2, 28, 28, 3), dtype=np.float32)
    for layer, want in zip(layers, expected, strict=True):
        y = np.asarray(layer(y))
        assert y.shape == (2,) + want[1:]


ERROR_ROWS = [
    pytest.param(lambda: convviz.DepthwiseConv2D(5, strides=2), (2, 4, 4, 3),
                 id="DepthwiseConv2D(5,s2)"),
    pytest.param(lambda: convviz.SeparableConv1D(64, 11, strides=5), (4, 10, 12),
                 id="SeparableConv1D(64,11,s5)"),
    pytest.param(lambda: convviz.Conv1D(4, 11), (2, 10, 3), id="Conv1D(4,11)"),
    pytest.param(
        lambda: convviz.Conv1DTranspose(
            3, 4, dilation_rate=3, padding="same", output_padding=0
        ),
        (2, 1, 4),
        id="Conv1DTranspose-zero-length",
    ),
]


@pytest.mark.parametrize("factory,input_shape", ERROR_ROWS)
def test_error_row_compute_output_shape(factory, input_shape):
    with pytest.raises(ValueError):
        factory().compute_output_shape(input_shape)


@pytest.mark.parametrize("factory,input_shape", ERROR_ROWS)
def test_error_row_call(factory, input_shape):
    with pytest.raises(ValueError):
        factory()(np.zeros(input_shape, dtype=np.float32))


# ---------------------------------------------------------- validation from the spec text

INVALID_CONSTRUCTIONS = [
    pytest.param(lambda: convviz.Conv2D(4, 3, strides=2, dilation_rate=2), id="conv-s2-d2"),
    pytest.param(lambda: convviz.Conv2D(4, 3, strides=(2, 2), dilation_rate=(2, 1)),
                 id="conv-s2-d(2,1)"),
    pytest.param(lambda: convviz.Conv1DTranspose(4, 3, strides=2, dilation_rate=2),
                 id="convT-s2-d2"),
    pytest.param(lambda: convviz.Conv2D(4, 3, padding="causal"), id="conv2d-causal"),
    pytest.param(lambda: convviz.DepthwiseConv1D(3, padding="causal"), id="depthwise-causal"),
    pytest.param(lambda: convviz.Conv1DTranspose(4, 3, padding="causal"), id="convT-causal"),
    pytest.param(lambda: convviz.Conv2D(4, 3, padding="full"), id="padding-full"),
    pytest.param(lambda: convviz.Conv2D(4, 3, data_format="channels_middle"), id="data_format"),
    pytest.param(lambda: convviz.Conv2D(0, 3), id="filters-0"),
    pytest.param(lambda: convviz.Conv2D(4, 0), id="kernel-0"),
    pytest.param(lambda: convviz.Conv2D(4, (3, 3, 3)), id="kernel-wrong-rank"),
    pytest.param(lambda: convviz.Conv2D(4, 3, strides=0), id="strides-0"),
    pytest.param(lambda: convviz.Conv2D(6, 3, groups=4), id="filters-not-divisible-by-groups"),
    pytest.param(lambda: convviz.Conv1DTranspose(4, 3, strides=2, output_padding=2),
                 id="op-equals-stride"),
    pytest.param(lambda: convviz.Conv1DTranspose(4, 3, strides=2, output_padding=-1),
                 id="op-negative"),
    pytest.param(lambda: convviz.DepthwiseConv2D(3, depth_multiplier=0), id="multiplier-0"),
    pytest.param(lambda: convviz.UpSampling2D(interpolation="area"), id="interpolation"),
    pytest.param(lambda: convviz.Cropping2D(-1), id="crop-negative"),
    pytest.param(lambda: convviz.Cropping2D((1, 2, 3)), id="crop-wrong-length"),
    pytest.param(lambda: convviz.Cropping2D(1.5), id="crop-non-int"),
    pytest.param(lambda: convviz.ZeroPadding2D((1, 2, 3)), id="pad-wrong-length"),
    pytest.param(lambda: convviz.ZeroPadding3D(-1), id="pad-negative"),
]


@pytest.mark.parametrize("factory", INVALID_CONSTRUCTIONS)
def test_invalid_arguments_raise(factory):
    with pytest.raises(ValueError):
        factory()


def test_padding_is_case_insensitive():
    layer = convviz.Conv1D(2, 3, padding="Same")
    assert tuple(layer.compute_output_shape((1, 7, 1))) == (1, 7, 2)
    layer = convviz.Conv1D(2, 3, padding="CAUSAL")
    assert tuple(layer.compute_output_shape((1, 7, 1))) == (1, 7, 2)


def test_strides_and_dilation_allowed_for_depthwise_and_separable():
    assert tuple(
        convviz.DepthwiseConv1D(3, strides=2, dilation_rate=2).compute_output_shape((1, 9, 2))
    ) == (1, 3, 2)
    assert tuple(
        convviz.SeparableConv1D(4, 3, strides=2, dilation_rate=2).compute_output_shape((1, 9, 2))
    ) == (1, 3, 4)


def test_error_message_repeats_received_values():
    with pytest.raises(ValueError, match=r"strides=\(2, 2\).*dilation_rate=\(2, 1\)"):
        convviz.Conv2D(4, 3, strides=(2, 2), dilation_rate=(2, 1))


@pytest.mark.parametrize(
    "factory,input_shape",
    [
        pytest.param(lambda: convviz.Cropping1D((3, 3)), (1, 6, 2), id="crop1d-all"),
        pytest.param(lambda: convviz.Cropping2D(((0, 0), (2, 3))), (1, 4, 5, 2), id="crop2d-all"),
        pytest.param(lambda: convviz.Cropping3D(2), (1, 5, 5, 4, 2), id="crop3d-all"),
        pytest.param(lambda: convviz.Conv2D(6, 3, groups=2), (1, 5, 5, 3),
                     id="channels-not-divisible-by-groups"),
    ],
)
def test_invalid_for_input_raises(factory, input_shape):
    with pytest.raises(ValueError):
        factory()(np.zeros(input_shape, dtype=np.float32))
